/* Unit tests of the protocol library: every malformed input has its error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchat-protocol.h"

#include <string.h>

typedef struct {
  const char *name;
  const char *json;
  VchatProtoError code;
  const char *ref;        /* expected ref type, or NULL */
  const char *in_message; /* a word the sentence must contain */
} BadCase;

static const BadCase bad_cases[] = {
  { "not-json", "hello", VCHAT_PROTO_ERROR_BAD_JSON, NULL, "JSON" },
  { "truncated", "{\"type\":\"ping\"", VCHAT_PROTO_ERROR_BAD_JSON, NULL, "JSON" },
  { "array", "[1,2]", VCHAT_PROTO_ERROR_BAD_JSON, NULL, "object" },
  { "string", "\"ping\"", VCHAT_PROTO_ERROR_BAD_JSON, NULL, "object" },
  { "number", "42", VCHAT_PROTO_ERROR_BAD_JSON, NULL, "object" },
  { "null", "null", VCHAT_PROTO_ERROR_BAD_JSON, NULL, "object" },
  { "deep", "{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}", VCHAT_PROTO_ERROR_BAD_JSON, NULL,
    "deeper" },
  { "no-type", "{\"call\":\"x\"}", VCHAT_PROTO_ERROR_UNKNOWN_TYPE, NULL, "type" },
  { "type-number", "{\"type\":3}", VCHAT_PROTO_ERROR_UNKNOWN_TYPE, NULL, "type" },
  { "unknown-type", "{\"type\":\"teleport\"}", VCHAT_PROTO_ERROR_UNKNOWN_TYPE, NULL, "teleport" },
  { "server-type-from-client",
    "{\"type\":\"welcome\",\"session\":\"a\",\"resume\":\"b\",\"ice_servers\":[]}",
    VCHAT_PROTO_ERROR_UNKNOWN_TYPE, NULL, "welcome" },
  { "hello-no-version", "{\"type\":\"hello\",\"client\":\"t\"}", VCHAT_PROTO_ERROR_MISSING_FIELD,
    "hello", "version" },
  { "hello-version-string", "{\"type\":\"hello\",\"version\":\"1\",\"client\":\"t\"}",
    VCHAT_PROTO_ERROR_BAD_FIELD, "hello", "integer" },
  { "hello-version-float", "{\"type\":\"hello\",\"version\":1.5,\"client\":\"t\"}",
    VCHAT_PROTO_ERROR_BAD_FIELD, "hello", "integer" },
  { "hello-no-client", "{\"type\":\"hello\",\"version\":1}", VCHAT_PROTO_ERROR_MISSING_FIELD,
    "hello", "client" },
  { "hello-client-empty", "{\"type\":\"hello\",\"version\":1,\"client\":\"\"}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "hello", "empty" },
  { "hello-name-long",
    "{\"type\":\"hello\",\"version\":1,\"client\":\"t\",\"name\":\""
    "0123456789012345678901234567890123456789012345678901234567890123456789\"}",
    VCHAT_PROTO_ERROR_TOO_LONG, "hello", "name" },
  { "hello-name-object", "{\"type\":\"hello\",\"version\":1,\"client\":\"t\",\"name\":{}}",
    VCHAT_PROTO_ERROR_BAD_FIELD, "hello", "string" },
  { "hello-token-number", "{\"type\":\"hello\",\"version\":1,\"client\":\"t\",\"token\":5}",
    VCHAT_PROTO_ERROR_BAD_FIELD, "hello", "token" },
  { "hello-token-empty", "{\"type\":\"hello\",\"version\":1,\"client\":\"t\",\"token\":\"\"}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "hello", "token" },
  { "hello-token-long",
    "{\"type\":\"hello\",\"version\":1,\"client\":\"t\",\"token\":\"" /* 257 bytes */
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
    VCHAT_PROTO_ERROR_TOO_LONG, "hello", "token" },
  { "queue-interests-string", "{\"type\":\"queue\",\"interests\":\"music\"}",
    VCHAT_PROTO_ERROR_BAD_FIELD, "queue", "array" },
  { "queue-interests-number", "{\"type\":\"queue\",\"interests\":[\"a\",2]}",
    VCHAT_PROTO_ERROR_BAD_FIELD, "queue", "interests[1]" },
  { "queue-interests-many",
    "{\"type\":\"queue\",\"interests\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\","
    "\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]}",
    VCHAT_PROTO_ERROR_TOO_LONG, "queue", "17" },
  { "queue-interest-long",
    "{\"type\":\"queue\",\"interests\":[\"abcdefghijklmnopqrstuvwxyzabcdefghij\"]}",
    VCHAT_PROTO_ERROR_TOO_LONG, "queue", "32" },
  { "invite-ttl-zero", "{\"type\":\"invite_create\",\"ttl\":0}", VCHAT_PROTO_ERROR_BAD_VALUE,
    "invite_create", "ttl" },
  { "invite-ttl-bool", "{\"type\":\"invite_create\",\"ttl\":true}", VCHAT_PROTO_ERROR_BAD_FIELD,
    "invite_create", "integer" },
  { "join-no-code", "{\"type\":\"invite_join\"}", VCHAT_PROTO_ERROR_MISSING_FIELD, "invite_join",
    "code" },
  { "reclaim-no-claim", "{\"type\":\"invite_reclaim\",\"code\":\"abcd-efgh-ijkl-mnop\"}",
    VCHAT_PROTO_ERROR_MISSING_FIELD, "invite_reclaim", "claim" },
  { "reclaim-no-code", "{\"type\":\"invite_reclaim\",\"claim\":\"00ff\"}",
    VCHAT_PROTO_ERROR_MISSING_FIELD, "invite_reclaim", "code" },
  { "reclaim-claim-number", "{\"type\":\"invite_reclaim\",\"code\":\"c\",\"claim\":5}",
    VCHAT_PROTO_ERROR_BAD_FIELD, "invite_reclaim", "string" },
  { "reclaim-claim-empty", "{\"type\":\"invite_reclaim\",\"code\":\"c\",\"claim\":\"\"}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "invite_reclaim", "empty" },
  { "reclaim-claim-long",
    "{\"type\":\"invite_reclaim\",\"code\":\"c\",\"claim\":\""
    "0123456789012345678901234567890123456789012345678901234567890123"
    "01234567890123456789012345678901234567890123456789012345678901234\"}",
    VCHAT_PROTO_ERROR_TOO_LONG, "invite_reclaim", "claim" },
  { "accept-no-call", "{\"type\":\"accept\"}", VCHAT_PROTO_ERROR_MISSING_FIELD, "accept", "call" },
  { "accept-call-null", "{\"type\":\"accept\",\"call\":null}", VCHAT_PROTO_ERROR_BAD_FIELD,
    "accept", "string" },
  { "signal-none", "{\"type\":\"signal\",\"call\":\"c\"}", VCHAT_PROTO_ERROR_MISSING_FIELD,
    "signal", "exactly one" },
  { "signal-both",
    "{\"type\":\"signal\",\"call\":\"c\",\"sdp\":{\"type\":\"offer\",\"sdp\":\"v=0\"},"
    "\"ice\":{\"candidate\":\"\",\"sdpMLineIndex\":0}}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "signal", "exactly one" },
  { "signal-restart-and-ice",
    "{\"type\":\"signal\",\"call\":\"c\",\"restart\":true,\"attempt\":1,"
    "\"ice\":{\"candidate\":\"\",\"sdpMLineIndex\":0}}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "signal", "exactly one" },
  { "signal-restart-no-attempt", "{\"type\":\"signal\",\"call\":\"c\",\"restart\":true}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "signal", "attempt" },
  { "signal-restart-false",
    "{\"type\":\"signal\",\"call\":\"c\",\"restart\":false,\"attempt\":2}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "signal", "true" },
  { "signal-attempt-negative",
    "{\"type\":\"signal\",\"call\":\"c\",\"restart\":true,\"attempt\":-1}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "signal", "attempt" },
  { "signal-attempt-string",
    "{\"type\":\"signal\",\"call\":\"c\",\"restart\":true,\"attempt\":\"1\"}",
    VCHAT_PROTO_ERROR_BAD_FIELD, "signal", "attempt" },
  { "signal-sdp-string", "{\"type\":\"signal\",\"call\":\"c\",\"sdp\":\"v=0\"}",
    VCHAT_PROTO_ERROR_BAD_FIELD, "signal", "object" },
  { "signal-sdp-type",
    "{\"type\":\"signal\",\"call\":\"c\",\"sdp\":{\"type\":\"pranswer\",\"sdp\":\"v=0\"}}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "signal", "offer" },
  { "signal-sdp-missing", "{\"type\":\"signal\",\"call\":\"c\",\"sdp\":{\"type\":\"offer\"}}",
    VCHAT_PROTO_ERROR_MISSING_FIELD, "signal", "sdp.sdp" },
  { "signal-ice-index",
    "{\"type\":\"signal\",\"call\":\"c\",\"ice\":{\"candidate\":\"x\",\"sdpMLineIndex\":-1}}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "signal", "sdpMLineIndex" },
  { "signal-ice-index-string",
    "{\"type\":\"signal\",\"call\":\"c\",\"ice\":{\"candidate\":\"x\",\"sdpMLineIndex\":\"0\"}}",
    VCHAT_PROTO_ERROR_BAD_FIELD, "signal", "integer" },
  { "signal-ice-no-candidate", "{\"type\":\"signal\",\"call\":\"c\",\"ice\":{\"sdpMLineIndex\":0}}",
    VCHAT_PROTO_ERROR_MISSING_FIELD, "signal", "ice.candidate" },
  { "octal-escape-type", "{\"type\":\"\\222\"}", VCHAT_PROTO_ERROR_UNKNOWN_TYPE, NULL, "UTF-8" },
  /* json-glib takes "\222" as an octal escape: byte 0x92, not UTF-8. */
  { "octal-escape", "{\"type\":\"report\",\"call\":\"c\",\"reason\":\"a\\222b\"}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "report", "UTF-8" },
  { "report-empty-reason", "{\"type\":\"report\",\"call\":\"c\",\"reason\":\"\"}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "report", "reason" },
  /* Strings shown to people: no terminal controls, no bidi tricks (issue 13). */
  { "hello-name-osc",
    "{\"type\":\"hello\",\"version\":1,\"client\":\"t\",\"name\":"
    "\"Bob\\u001b]0;title\\u0007\\u001b]52;c;eA==\\u0007\\u001b[2K\\rAlice\"}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "hello", "“name” contains a control character (U+001B)" },
  { "hello-name-cr", "{\"type\":\"hello\",\"version\":1,\"client\":\"t\",\"name\":\"a\\rb\"}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "hello", "(U+000D)" },
  { "hello-name-del", "{\"type\":\"hello\",\"version\":1,\"client\":\"t\",\"name\":\"a\\u007f\"}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "hello", "control character (U+007F)" },
  { "hello-name-c1-csi",
    "{\"type\":\"hello\",\"version\":1,\"client\":\"t\",\"name\":\"a\\u009b2J\"}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "hello", "control character (U+009B)" },
  { "hello-name-rlo",
    "{\"type\":\"hello\",\"version\":1,\"client\":\"t\",\"name\":\"\\u202eecilA\"}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "hello", "bidirectional formatting character (U+202E)" },
  { "hello-name-lri",
    "{\"type\":\"hello\",\"version\":1,\"client\":\"t\",\"name\":\"a\\u2066b\\u2069\"}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "hello", "(U+2066)" },
  { "hello-name-rlm", "{\"type\":\"hello\",\"version\":1,\"client\":\"t\",\"name\":\"a\\u200f\"}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "hello", "(U+200F)" },
  { "hello-name-alm", "{\"type\":\"hello\",\"version\":1,\"client\":\"t\",\"name\":\"a\\u061c\"}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "hello", "(U+061C)" },
  { "hello-name-line-separator",
    "{\"type\":\"hello\",\"version\":1,\"client\":\"t\",\"name\":\"a\\u2028b\"}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "hello", "line or paragraph separator (U+2028)" },
  { "hello-client-bel", "{\"type\":\"hello\",\"version\":1,\"client\":\"web/1\\u0007\"}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "hello", "“client” contains a control character (U+0007)" },
  { "queue-interest-newline", "{\"type\":\"queue\",\"interests\":[\"music\",\"a\\nb\"]}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "queue", "“interests[1]” contains a control character (U+000A)" },
  { "queue-interest-pdf", "{\"type\":\"queue\",\"interests\":[\"\\u202c\"]}",
    VCHAT_PROTO_ERROR_BAD_VALUE, "queue", "“interests[0]”" },
};

static void
test_bad (gconstpointer data)
{
  const BadCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *ref = NULL;
  g_autoptr (VchatMsg)
    msg = vchat_msg_parse (c->json, strlen (c->json), 65536, VCHAT_MSG_FROM_CLIENT, &ref, &error);

  g_assert_null (msg);
  g_assert_error (error, VCHAT_PROTO_ERROR, (gint) c->code);
  g_assert_cmpstr (ref, ==, c->ref);
  g_assert_nonnull (strstr (error->message, c->in_message));
  /* A sentence: starts with a capital or a quote, ends with a full stop. */
  g_assert_true (g_str_has_suffix (error->message, "."));
}

static void
test_binary_and_utf8 (void)
{
  static const char bad_utf8[] = "{\"type\":\"hello\",\"client\":\"\xff\xfe\"}";
  static const char with_nul[] = "{\"type\":\"ping\"}\0{}";
  g_autoptr (GError) error = NULL;

  g_assert_null (
    vchat_msg_parse (bad_utf8, sizeof bad_utf8 - 1, 0, VCHAT_MSG_FROM_CLIENT, NULL, &error));
  g_assert_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_FRAME);
  g_clear_error (&error);
  g_assert_null (
    vchat_msg_parse (with_nul, sizeof with_nul - 1, 0, VCHAT_MSG_FROM_CLIENT, NULL, &error));
  g_assert_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_FRAME);
  g_clear_error (&error);
  g_assert_null (vchat_msg_parse ("", 0, 0, VCHAT_MSG_FROM_CLIENT, NULL, &error));
  g_assert_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_JSON);
}

static void
test_too_big (void)
{
  g_autoptr (GString) big = g_string_new ("{\"type\":\"report\",\"call\":\"c\",\"reason\":\"");
  g_autoptr (GError) error = NULL;

  while (big->len < 70000)
    g_string_append (big, "xxxxxxxxxx");
  g_string_append (big, "\"}");
  g_assert_null (vchat_msg_parse (big->str, big->len, 65536, VCHAT_MSG_FROM_CLIENT, NULL, &error));
  g_assert_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_TOO_BIG);
  g_assert_nonnull (strstr (error->message, "65536"));
  g_clear_error (&error);
  /* Under a larger limit the same frame is only an over-long reason. */
  g_assert_null (vchat_msg_parse (big->str, big->len, 0, VCHAT_MSG_FROM_CLIENT, NULL, &error));
  g_assert_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_TOO_LONG);
}

static void
test_good_messages (void)
{
  static const char *const good[] = {
    "{\"type\":\"hello\",\"version\":1,\"client\":\"vchatd/"
    "0.1\",\"name\":\"Ada\",\"resume\":\"abc\"}",
    "{\"type\":\"hello\",\"version\":1,\"client\":\"vchatd/0.1\",\"token\":\"s3cr3t:with/"
    "odd+chars\"}",
    "{\"type\":\"hello\",\"version\":2,\"client\":\"future/9\"}", /* the server refuses the version
                                                                   */
    "{\"type\":\"queue\"}",
    "{\"type\":\"queue\",\"interests\":[\"Music\",\"films\"],\"language\":\"en\",\"future\":{\"x\":"
    "1}}",
    "{\"type\":\"invite_create\",\"ttl\":600}",
    "{\"type\":\"invite_join\",\"code\":\"vchat://join/abcd-efgh-ijkl-mnop\"}",
    "{\"type\":\"invite_reclaim\",\"code\":\"abcd-efgh-ijkl-mnop\",\"claim\":"
    "\"0123456789abcdef0123456789abcdef\"}",
    "{\"type\":\"signal\",\"call\":\"c1\",\"sdp\":{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}}",
    "{\"type\":\"signal\",\"call\":\"c1\",\"ice\":{\"candidate\":\"candidate:1 1 UDP 1 127.0.0.1 "
    "5000 typ host\",\"sdpMLineIndex\":0,\"sdpMid\":\"video0\"}}",
    "{\"type\":\"leave\"}",
    "{\"type\":\"next\",\"call\":\"c1\"}",
    "{\"type\":\"report\",\"call\":\"c1\",\"reason\":\"rude\"}",
    "{\"type\":\"ping\"}",
    /* Names in any script, emoji with joiners: only controls are refused. */
    "{\"type\":\"hello\",\"version\":1,\"client\":\"web/0.1\",\"name\":\"Zoë 李 "
    "\xd7\xa2\xd7\x93\xd7\x94 \xd8\xb9\xd9\x84\xd9\x8a "
    "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb\"}",
    "{\"type\":\"queue\",\"interests\":[\"café\",\"\\u00a0jazz\",\"\\u00a9\"]}",
    /* Strings nobody shows as a name keep their own rules. */
    "{\"type\":\"report\",\"call\":\"c1\",\"reason\":\"said \\u001b[2J\\nthen left\"}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (VchatMsg)
      msg = vchat_msg_parse (good[i], strlen (good[i]), 65536, VCHAT_MSG_FROM_CLIENT, NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (msg);
  }
}

static void
test_accessors (void)
{
  const char *json =
    "{\"type\":\"queue\",\"interests\":[\"Music\",\" music \",\"\",\"Films\"],\"language\":\"de\"}";
  g_autoptr (VchatMsg)
    msg = vchat_msg_parse (json, strlen (json), 0, VCHAT_MSG_FROM_CLIENT, NULL, NULL);
  g_auto (GStrv) raw = NULL;
  g_auto (GStrv) norm = NULL;

  g_assert_nonnull (msg);
  g_assert_cmpint (msg->type, ==, VCHAT_MSG_QUEUE);
  g_assert_cmpstr (vchat_msg_get_string (msg, "language"), ==, "de");
  g_assert_null (vchat_msg_get_string (msg, "missing"));
  raw = vchat_msg_dup_strv (msg, "interests");
  g_assert_cmpuint (g_strv_length (raw), ==, 4);
  norm = vchat_interests_normalize ((const char *const *) raw);
  g_assert_cmpuint (g_strv_length (norm), ==, 2);
  g_assert_cmpstr (norm[0], ==, "music");
  g_assert_cmpstr (norm[1], ==, "films");
}

static void
test_signal_copy_drops_unknown (void)
{
  const char *json = "{\"type\":\"signal\",\"call\":\"c1\",\"secret\":\"x\","
                     "\"ice\":{\"candidate\":\"cand\",\"sdpMLineIndex\":1,\"extra\":2}}";
  g_autoptr (VchatMsg)
    msg = vchat_msg_parse (json, strlen (json), 0, VCHAT_MSG_FROM_CLIENT, NULL, NULL);
  g_autoptr (JsonObject) copy = vchat_msg_signal_copy (msg);
  g_autofree char *text = vchat_msg_object_to_string (copy);

  g_assert_cmpstr (
    text, ==,
    "{\"type\":\"signal\",\"call\":\"c1\",\"ice\":{\"candidate\":\"cand\",\"sdpMLineIndex\":1}}");
}

static void
test_server_messages (void)
{
  const char *welcome =
    "{\"type\":\"welcome\",\"session\":\"s\",\"resume\":\"r\",\"resumed\":false,"
    "\"ice_servers\":[{\"urls\":[\"stun:127.0.0.1:3478\"]}]}";
  const char *bad_servers =
    "{\"type\":\"welcome\",\"session\":\"s\",\"resume\":\"r\",\"ice_servers\":[{}]}";
  const char *bad_reason = "{\"type\":\"peer_left\",\"call\":\"c\",\"reason\":\"bored\"}";
  g_autoptr (GError) error = NULL;
  g_autoptr (VchatMsg)
    msg = vchat_msg_parse (welcome, strlen (welcome), 0, VCHAT_MSG_FROM_SERVER, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (msg->type, ==, VCHAT_MSG_WELCOME);
  /* A client does not accept client messages from the server. */
  g_assert_null (vchat_msg_parse ("{\"type\":\"hello\",\"version\":1,\"client\":\"x\"}", 41, 0,
                                  VCHAT_MSG_FROM_SERVER, NULL, &error));
  g_assert_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_UNKNOWN_TYPE);
  g_clear_error (&error);
  g_assert_null (
    vchat_msg_parse (bad_servers, strlen (bad_servers), 0, VCHAT_MSG_FROM_SERVER, NULL, &error));
  g_assert_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_MISSING_FIELD);
  g_clear_error (&error);
  g_assert_null (
    vchat_msg_parse (bad_reason, strlen (bad_reason), 0, VCHAT_MSG_FROM_SERVER, NULL, &error));
  g_assert_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_VALUE);
}

/* `invite` carries the claim that invite_reclaim needs; a server message
 * without it is refused, and a client may not send `invite` itself. */
static void
test_invite_claim (void)
{
  const char *good = "{\"type\":\"invite\",\"code\":\"abcd-efgh-ijkl-mnop\",\"link\":"
                     "\"vchat://join/abcd-efgh-ijkl-mnop\",\"web_link\":\"http://x/join/"
                     "abcd-efgh-ijkl-mnop\",\"expires\":1700000000,\"claim\":\"00ff\"}";
  const char *no_claim = "{\"type\":\"invite\",\"code\":\"abcd-efgh-ijkl-mnop\",\"link\":"
                         "\"vchat://join/abcd-efgh-ijkl-mnop\",\"web_link\":\"http://x/join/"
                         "abcd-efgh-ijkl-mnop\",\"expires\":1700000000}";
  g_autoptr (GError) error = NULL;
  g_autoptr (VchatMsg) msg = NULL;
  VchatProtoError code;

  msg = vchat_msg_parse (good, strlen (good), 0, VCHAT_MSG_FROM_SERVER, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vchat_msg_get_string (msg, "claim"), ==, "00ff");
  g_assert_null (
    vchat_msg_parse (no_claim, strlen (no_claim), 0, VCHAT_MSG_FROM_SERVER, NULL, &error));
  g_assert_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_MISSING_FIELD);
  g_clear_error (&error);
  g_assert_null (vchat_msg_parse (good, strlen (good), 0, VCHAT_MSG_FROM_CLIENT, NULL, &error));
  g_assert_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_UNKNOWN_TYPE);
  g_assert_true (vchat_proto_error_from_string ("inviter-away", &code));
  g_assert_cmpint (code, ==, VCHAT_PROTO_ERROR_INVITER_AWAY);
  g_assert_cmpstr (vchat_msg_type_to_string (VCHAT_MSG_INVITE_RECLAIM), ==, "invite_reclaim");
}

/* What a server sends about the peer (a server that does not check could
 * pass on a hostile name) is cleaned, not refused: what may not be shown
 * becomes U+FFFD, and the message, with the call it starts, still goes
 * through. */
static const char *
peer_text (VchatMsg *msg, const char *field)
{
  JsonObject *obj = msg->object;
  JsonArray *arr;

  if (g_str_has_prefix (field, "peer."))
    return json_object_get_string_member (json_object_get_object_member (obj, "peer"), field + 5);
  arr = json_object_get_array_member (obj, field);
  return json_array_get_string_element (arr, json_array_get_length (arr) - 1);
}

static void
test_server_peer_text (void)
{
  static const struct {
    const char *json, *field, *shown;
  } hostile[] = {
    { "{\"type\":\"matched\",\"call\":\"c\",\"role\":\"offerer\",\"peer\":{\"client\":\"w\","
      "\"name\":\"Bob\\u001b]52;c;eA==\\u0007\"}}",
      "peer.name", "Bob\xef\xbf\xbd]52;c;eA==\xef\xbf\xbd" },
    { "{\"type\":\"incoming\",\"call\":\"c\",\"peer\":{\"client\":\"w\\u202e\"}}", "peer.client",
      "w\xef\xbf\xbd" },
    { "{\"type\":\"ringing\",\"call\":\"c\",\"peer\":{\"client\":\"w\",\"name\":\"a\\u0085\"}}",
      "peer.name", "a\xef\xbf\xbd" },
    { "{\"type\":\"matched\",\"call\":\"c\",\"role\":\"offerer\",\"peer\":{\"client\":\"w\"},"
      "\"common_interests\":[\"jazz\",\"\\u2067x\"]}",
      "common_interests", "\xef\xbf\xbdx" },
    { "{\"type\":\"queued\",\"interests\":[\"\\t\"]}", "interests", "\xef\xbf\xbd" },
  };
  const char *good = "{\"type\":\"matched\",\"call\":\"c\",\"role\":\"offerer\",\"peer\":{"
                     "\"client\":\"web/0.1\",\"name\":\"Zoë 🎻\"},\"common_interests\":[\"jazz\"]}";
  const char *hello = "{\"type\":\"hello\",\"version\":1,\"client\":\"w\",\"name\":\"B\\u001b\"}";
  g_autoptr (GError) error = NULL;
  g_autoptr (VchatMsg) msg = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (hostile); i++) {
    g_autoptr (VchatMsg) cleaned = vchat_msg_parse (hostile[i].json, strlen (hostile[i].json), 0,
                                                    VCHAT_MSG_FROM_SERVER, NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (peer_text (cleaned, hostile[i].field), ==, hostile[i].shown);
  }
  msg = vchat_msg_parse (good, strlen (good), 0, VCHAT_MSG_FROM_SERVER, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (peer_text (msg, "peer.name"), ==, "Zoë 🎻");
  /* A client's own strings are still refused by the server. */
  g_assert_null (vchat_msg_parse (hello, strlen (hello), 0, VCHAT_MSG_FROM_CLIENT, NULL, &error));
  g_assert_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_VALUE);
}

static void
test_display_chars (void)
{
  static const gunichar refused[] = { 0x00,   0x07,   0x09,   0x0a,   0x0d,   0x1b,   0x1f,
                                      0x7f,   0x80,   0x85,   0x9b,   0x9f,   0x061c, 0x200e,
                                      0x200f, 0x202a, 0x202e, 0x2066, 0x2069, 0x2028, 0x2029 };
  /* Printable neighbours, and the joiners emoji and Indic scripts need. */
  static const gunichar allowed[] = { 0x20,   0x7e,   0xa0,   0xe9,   0x061b,
                                      0x061d, 0x200c, 0x200d, 0x2027, 0x202f,
                                      0x2065, 0x206a, 0x4e2d, 0xfeff, 0x1f3bb };

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    g_assert_false (vchat_display_char_ok (refused[i]));
  for (guint i = 0; i < G_N_ELEMENTS (allowed); i++)
    g_assert_true (vchat_display_char_ok (allowed[i]));
}

static void
test_error_roundtrip (void)
{
  for (guint i = 0; i < VCHAT_PROTO_N_ERRORS; i++) {
    g_autofree char *text = vchat_msg_error_to_string (i, "Something went wrong.", "hello");
    g_autoptr (VchatMsg)
      msg = vchat_msg_parse (text, strlen (text), 0, VCHAT_MSG_FROM_SERVER, NULL, NULL);
    VchatProtoError code;

    g_assert_nonnull (vchat_proto_error_to_string (i));
    g_assert_nonnull (msg);
    g_assert_true (vchat_proto_error_from_string (vchat_msg_get_string (msg, "code"), &code));
    g_assert_cmpint (code, ==, i);
    g_assert_cmpstr (vchat_msg_get_string (msg, "ref"), ==, "hello");
  }
  g_assert_false (vchat_proto_error_from_string ("nope", NULL));
  g_assert_null (vchat_proto_error_to_string (VCHAT_PROTO_N_ERRORS));
}

static void
test_invite_codes (void)
{
  const guint8 zero[VCHAT_INVITE_CODE_BYTES] = { 0 };
  const guint8 ones[VCHAT_INVITE_CODE_BYTES] = { 0xff, 0xff, 0xff, 0xff, 0xff,
                                                 0xff, 0xff, 0xff, 0xff, 0xff };
  const guint8 seq[VCHAT_INVITE_CODE_BYTES] = { 0x00, 0x44, 0x32, 0x14, 0xc7,
                                                0x42, 0x54, 0xb6, 0x35, 0xcf };
  g_autofree char *a = vchat_invite_code_format (zero);
  g_autofree char *b = vchat_invite_code_format (ones);
  g_autofree char *c = vchat_invite_code_format (seq);
  static const struct {
    const char *in, *out;
  } norm[] = {
    { "abcd-efgh-ijkl-mnop", "abcd-efgh-ijkl-mnop" },
    { "ABCDEFGHIJKLMNOP", "abcd-efgh-ijkl-mnop" },
    { " abcd efgh ijkl mnop", "abcd-efgh-ijkl-mnop" },
    { "vchat://join/abcd-efgh-ijkl-mnop", "abcd-efgh-ijkl-mnop" },
    { "https://chat.example.org/join/ABCD-EFGH-IJKL-MNOP?x=1#y", "abcd-efgh-ijkl-mnop" },
    { "abcd-efgh-ijkl-mno", NULL },         /* too short */
    { "abcd-efgh-ijkl-mnopq", NULL },       /* too long */
    { "abcd-efgh-ijkl-mn01", NULL },        /* 0 and 1 are not base32 */
    { "abcd-efgh-ijkl-mn\xc3\xa9p", NULL }, /* not ASCII */
    { "", NULL },
  };

  g_assert_cmpstr (a, ==, "aaaa-aaaa-aaaa-aaaa");
  g_assert_cmpstr (b, ==, "7777-7777-7777-7777");
  /* 5-bit groups 0,1,2,...,15 of the bytes above. */
  g_assert_cmpstr (c, ==, "abcd-efgh-ijkl-mnop");
  for (guint i = 0; i < G_N_ELEMENTS (norm); i++) {
    g_autofree char *got = vchat_invite_code_normalize (norm[i].in);
    g_assert_cmpstr (got, ==, norm[i].out);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (bad_cases); i++) {
    g_autofree char *path = g_strdup_printf ("/protocol/bad/%s", bad_cases[i].name);
    g_test_add_data_func (path, &bad_cases[i], test_bad);
  }
  g_test_add_func ("/protocol/bad/binary-and-utf8", test_binary_and_utf8);
  g_test_add_func ("/protocol/bad/too-big", test_too_big);
  g_test_add_func ("/protocol/good", test_good_messages);
  g_test_add_func ("/protocol/accessors", test_accessors);
  g_test_add_func ("/protocol/signal-copy", test_signal_copy_drops_unknown);
  g_test_add_func ("/protocol/server-messages", test_server_messages);
  g_test_add_func ("/protocol/server-peer-text", test_server_peer_text);
  g_test_add_func ("/protocol/display-chars", test_display_chars);
  g_test_add_func ("/protocol/errors", test_error_roundtrip);
  g_test_add_func ("/protocol/invite-claim", test_invite_claim);
  g_test_add_func ("/protocol/invite-codes", test_invite_codes);
  return g_test_run ();
}
