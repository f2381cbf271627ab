/* vchat-protocol.c: strict parsing and validation of protocol v1 messages
 *
 * Each message type has a table of fields; parsing checks every known field
 * against it, so the server and daemon code that follows can rely on types,
 * lengths and ranges without checking again.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchat-protocol.h"

#include <string.h>

/* clang-format off */
G_DEFINE_QUARK (vchat-proto-error-quark, vchat_proto_error)
/* clang-format on */

/* Nesting deeper than any valid message is refused before json-glib sees it,
 * so hostile input cannot make the recursive parser run out of stack. */
#define MAX_JSON_DEPTH 16

static const char *const error_names[VCHAT_PROTO_N_ERRORS] = {
  [VCHAT_PROTO_ERROR_BAD_FRAME] = "bad-frame",
  [VCHAT_PROTO_ERROR_BAD_JSON] = "bad-json",
  [VCHAT_PROTO_ERROR_TOO_BIG] = "too-big",
  [VCHAT_PROTO_ERROR_UNKNOWN_TYPE] = "unknown-type",
  [VCHAT_PROTO_ERROR_MISSING_FIELD] = "missing-field",
  [VCHAT_PROTO_ERROR_BAD_FIELD] = "bad-field",
  [VCHAT_PROTO_ERROR_TOO_LONG] = "too-long",
  [VCHAT_PROTO_ERROR_BAD_VALUE] = "bad-value",
  [VCHAT_PROTO_ERROR_BAD_VERSION] = "bad-version",
  [VCHAT_PROTO_ERROR_NOT_WELCOMED] = "not-welcomed",
  [VCHAT_PROTO_ERROR_BAD_STATE] = "bad-state",
  [VCHAT_PROTO_ERROR_UNKNOWN_CALL] = "unknown-call",
  [VCHAT_PROTO_ERROR_INVITE_NOT_FOUND] = "invite-not-found",
  [VCHAT_PROTO_ERROR_INVITE_EXPIRED] = "invite-expired",
  [VCHAT_PROTO_ERROR_OWN_INVITE] = "own-invite",
  [VCHAT_PROTO_ERROR_BUSY] = "busy",
  [VCHAT_PROTO_ERROR_INVITER_AWAY] = "inviter-away",
  [VCHAT_PROTO_ERROR_TOO_MANY_ATTEMPTS] = "too-many-attempts",
  [VCHAT_PROTO_ERROR_RATE_LIMITED] = "rate-limited",
  [VCHAT_PROTO_ERROR_TOO_MANY_SESSIONS] = "too-many-sessions",
  [VCHAT_PROTO_ERROR_REFUSED] = "refused",
  [VCHAT_PROTO_ERROR_REPLACED] = "replaced",
  [VCHAT_PROTO_ERROR_TIMEOUT] = "timeout",
  [VCHAT_PROTO_ERROR_UNAUTHORIZED] = "unauthorized",
  [VCHAT_PROTO_ERROR_INTERNAL] = "internal",
};

const char *
vchat_proto_error_to_string (VchatProtoError code)
{
  if ((guint) code >= VCHAT_PROTO_N_ERRORS)
    return NULL;
  return error_names[code];
}

gboolean
vchat_proto_error_from_string (const char *str, VchatProtoError *code)
{
  for (guint i = 0; i < VCHAT_PROTO_N_ERRORS; i++) {
    if (g_strcmp0 (str, error_names[i]) == 0) {
      if (code)
        *code = i;
      return TRUE;
    }
  }
  return FALSE;
}

typedef enum {
  F_STRING, /* min..max bytes */
  F_INT,    /* min..max */
  F_BOOL,
  F_STRV,    /* at most `max_items` strings of min..max bytes */
  F_ENUM,    /* a string from `values` */
  F_SDP,     /* {type: offer|answer, sdp} */
  F_ICE,     /* {candidate, sdpMLineIndex, sdpMid?} */
  F_PEER,    /* {name?, client} */
  F_SERVERS, /* [{urls: [..], username?, credential?}] */
  F_OBJECT,  /* any object (server-side informational fields) */
} FieldKind;

typedef struct {
  const char *name;
  FieldKind kind;
  gboolean required;
  gint64 min;
  gint64 max;
  guint max_items;
  const char *const *values;
  gboolean display; /* F_STRING, F_STRV: shown to people, see check_text_node() */
} Field;

typedef struct {
  const char *name;
  VchatMsgOrigin origin;
  Field fields[8];
} MsgSpec;

/* The message table reads best one field to a line. */
/* clang-format off */
#define STR(n, req, lo, hi) { n, F_STRING, req, lo, hi, 0, NULL, FALSE }
#define TEXT(n, req, lo, hi) { n, F_STRING, req, lo, hi, 0, NULL, TRUE }
#define TAGS(n) { n, F_STRV, FALSE, 0, 32, 16, NULL, TRUE }
#define CALL STR ("call", TRUE, 1, 64)

static const char *const sdp_types[] = { "offer", "answer", NULL };
static const char *const roles[] = { "offerer", "answerer", NULL };
static const char *const kinds[] = { "random", "invite", NULL };
static const char *const peer_reasons[] = { "hangup", "next", "rejected", "lost", "timeout", NULL };
static const char *const own_reasons[] = { "hangup", "next", "rejected", NULL };

static const MsgSpec specs[VCHAT_MSG_N_TYPES] = {
  [VCHAT_MSG_HELLO] = { "hello", VCHAT_MSG_FROM_CLIENT, {
    { "version", F_INT, TRUE, 0, G_MAXINT32, 0, NULL },
    TEXT ("client", TRUE, 1, 64),
    TEXT ("name", FALSE, 0, 64),
    STR ("resume", FALSE, 1, 128),
    STR ("token", FALSE, 1, 256),
  } },
  [VCHAT_MSG_QUEUE] = { "queue", VCHAT_MSG_FROM_CLIENT, {
    TAGS ("interests"),
    STR ("language", FALSE, 0, 16),
  } },
  [VCHAT_MSG_INVITE_CREATE] = { "invite_create", VCHAT_MSG_FROM_CLIENT, {
    { "ttl", F_INT, FALSE, 1, G_MAXINT32, 0, NULL },
  } },
  [VCHAT_MSG_INVITE_CANCEL] = { "invite_cancel", VCHAT_MSG_FROM_CLIENT, { STR ("code", TRUE, 1, 64) } },
  [VCHAT_MSG_INVITE_JOIN] = { "invite_join", VCHAT_MSG_FROM_CLIENT, { STR ("code", TRUE, 1, 256) } },
  [VCHAT_MSG_INVITE_RECLAIM] = { "invite_reclaim", VCHAT_MSG_FROM_CLIENT, {
    STR ("code", TRUE, 1, 64),
    STR ("claim", TRUE, 1, 128),
  } },
  [VCHAT_MSG_REJOIN] = { "rejoin", VCHAT_MSG_FROM_CLIENT, {
    CALL,
    STR ("secret", TRUE, 16, 128),
    { "kind", F_ENUM, FALSE, 0, 0, 0, kinds },
  } },
  [VCHAT_MSG_ACCEPT] = { "accept", VCHAT_MSG_FROM_CLIENT, { CALL } },
  [VCHAT_MSG_REJECT] = { "reject", VCHAT_MSG_FROM_CLIENT, { CALL } },
  [VCHAT_MSG_NEXT] = { "next", VCHAT_MSG_FROM_CLIENT, { CALL } },
  [VCHAT_MSG_LEAVE] = { "leave", VCHAT_MSG_FROM_CLIENT, { STR ("call", FALSE, 1, 64) } },
  [VCHAT_MSG_REPORT] = { "report", VCHAT_MSG_FROM_CLIENT, { CALL, STR ("reason", TRUE, 1, 200) } },
  [VCHAT_MSG_SIGNAL] = { "signal", VCHAT_MSG_FROM_CLIENT | VCHAT_MSG_FROM_SERVER, {
    CALL,
    { "sdp", F_SDP, FALSE, 0, 0, 0, NULL },
    { "ice", F_ICE, FALSE, 0, 0, 0, NULL },
    { "restart", F_BOOL, FALSE, 0, 0, 0, NULL },
    { "attempt", F_INT, FALSE, 0, VCHAT_MAX_ATTEMPT, 0, NULL },
  } },
  [VCHAT_MSG_PING] = { "ping", VCHAT_MSG_FROM_CLIENT | VCHAT_MSG_FROM_SERVER, { { NULL } } },
  [VCHAT_MSG_PONG] = { "pong", VCHAT_MSG_FROM_CLIENT | VCHAT_MSG_FROM_SERVER, { { NULL } } },
  [VCHAT_MSG_WELCOME] = { "welcome", VCHAT_MSG_FROM_SERVER, {
    STR ("session", TRUE, 1, 128),
    STR ("resume", TRUE, 1, 128),
    { "resumed", F_BOOL, FALSE, 0, 0, 0, NULL },
    { "ice_servers", F_SERVERS, TRUE, 0, 0, 16, NULL },
    { "limits", F_OBJECT, FALSE, 0, 0, 0, NULL },
  } },
  [VCHAT_MSG_QUEUED] = { "queued", VCHAT_MSG_FROM_SERVER, {
    TAGS ("interests"),
    STR ("language", FALSE, 0, 16),
  } },
  [VCHAT_MSG_LEFT_QUEUE] = { "left_queue", VCHAT_MSG_FROM_SERVER, { { NULL } } },
  [VCHAT_MSG_MATCHED] = { "matched", VCHAT_MSG_FROM_SERVER, {
    CALL,
    { "role", F_ENUM, TRUE, 0, 0, 0, roles },
    { "peer", F_PEER, TRUE, 0, 0, 0, NULL },
    TAGS ("common_interests"),
    { "kind", F_ENUM, FALSE, 0, 0, 0, kinds },
    { "ice_servers", F_SERVERS, FALSE, 0, 0, 16, NULL },
    STR ("secret", FALSE, 16, 128),
  } },
  [VCHAT_MSG_INVITE] = { "invite", VCHAT_MSG_FROM_SERVER, {
    STR ("code", TRUE, 1, 64),
    STR ("link", TRUE, 1, 512),
    STR ("web_link", TRUE, 1, 512),
    { "expires", F_INT, TRUE, 0, G_MAXINT64, 0, NULL },
    STR ("claim", TRUE, 1, 128),
  } },
  [VCHAT_MSG_INVITE_CANCELLED] = { "invite_cancelled", VCHAT_MSG_FROM_SERVER, { STR ("code", TRUE, 1, 64) } },
  [VCHAT_MSG_INVITE_EXPIRED] = { "invite_expired", VCHAT_MSG_FROM_SERVER, { STR ("code", TRUE, 1, 64) } },
  [VCHAT_MSG_INCOMING] = { "incoming", VCHAT_MSG_FROM_SERVER, {
    CALL,
    { "peer", F_PEER, TRUE, 0, 0, 0, NULL },
    STR ("code", FALSE, 1, 64),
    { "ice_servers", F_SERVERS, FALSE, 0, 0, 16, NULL },
  } },
  [VCHAT_MSG_RINGING] = { "ringing", VCHAT_MSG_FROM_SERVER, {
    CALL,
    { "peer", F_PEER, TRUE, 0, 0, 0, NULL },
  } },
  [VCHAT_MSG_PEER_LEFT] = { "peer_left", VCHAT_MSG_FROM_SERVER, {
    CALL,
    { "reason", F_ENUM, TRUE, 0, 0, 0, peer_reasons },
  } },
  [VCHAT_MSG_CALL_ENDED] = { "call_ended", VCHAT_MSG_FROM_SERVER, {
    CALL,
    { "reason", F_ENUM, TRUE, 0, 0, 0, own_reasons },
  } },
  [VCHAT_MSG_REPORTED] = { "reported", VCHAT_MSG_FROM_SERVER, { CALL } },
  [VCHAT_MSG_REJOINED] = { "rejoined", VCHAT_MSG_FROM_SERVER, { CALL } },
  [VCHAT_MSG_PEER_AWAY] = { "peer_away", VCHAT_MSG_FROM_SERVER, {
    CALL,
    { "away", F_BOOL, TRUE, 0, 0, 0, NULL },
  } },
  [VCHAT_MSG_ERROR] = { "error", VCHAT_MSG_FROM_SERVER, {
    STR ("code", TRUE, 1, 64),
    STR ("message", TRUE, 1, 1024),
    STR ("ref", FALSE, 1, 64),
  } },
};

/* clang-format on */

const char *
vchat_msg_type_to_string (VchatMsgType type)
{
  g_return_val_if_fail ((guint) type < VCHAT_MSG_N_TYPES, NULL);
  return specs[type].name;
}

/* Counts nesting outside strings; FALSE if deeper than MAX_JSON_DEPTH. */
static gboolean
depth_ok (const char *data, gsize len)
{
  int depth = 0;
  gboolean in_string = FALSE;

  for (gsize i = 0; i < len; i++) {
    char c = data[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = FALSE;
    } else if (c == '"') {
      in_string = TRUE;
    } else if (c == '{' || c == '[') {
      if (++depth > MAX_JSON_DEPTH)
        return FALSE;
    } else if (c == '}' || c == ']') {
      depth--;
    }
  }
  return TRUE;
}

static gboolean
check_string_node (JsonNode *node, const char *what, gint64 min, gint64 max, GError **error)
{
  const char *s;
  gsize len;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING) {
    g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_FIELD, "“%s” must be a string.",
                 what);
    return FALSE;
  }
  s = json_node_get_string (node);
  len = strlen (s);
  /* json-glib accepts escapes JSON has not (GScanner's octal "\222"), which
   * can make bytes that are not UTF-8: such a string could be relayed but
   * not parsed at the other end. */
  if (!g_utf8_validate (s, len, NULL)) {
    g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_VALUE,
                 "“%s” is not valid UTF-8 text; check its escapes.", what);
    return FALSE;
  }
  if ((gint64) len > max) {
    g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_TOO_LONG,
                 "“%s” is %" G_GSIZE_FORMAT " bytes long; at most %" G_GINT64_FORMAT
                 " are allowed.",
                 what, len, max);
    return FALSE;
  }
  if ((gint64) len < min) {
    g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_VALUE, "“%s” must not be empty.",
                 what);
    return FALSE;
  }
  return TRUE;
}

gboolean
vchat_display_char_ok (gunichar c)
{
  return !(c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
           (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0x2028 ||
           c == 0x2029);
}

/* Nothing that a terminal would obey (escape sequences that set the title
 * or write the clipboard), nothing that reorders or breaks the text around
 * it: a name cannot pass for another or spill over the rest of a line. */
gboolean
vchat_display_text_validate (const char *text, const char *what, GError **error)
{
  g_return_val_if_fail (text != NULL, FALSE);

  for (const char *p = text; *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    const char *kind;

    if (vchat_display_char_ok (c))
      continue;
    if (c == 0x2028 || c == 0x2029)
      kind = "a line or paragraph separator";
    else if (c < 0xa0)
      kind = "a control character";
    else
      kind = "a bidirectional formatting character";
    g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_VALUE,
                 "“%s” contains %s (U+%04X); names, clients and interests must be plain text.",
                 what, kind, c);
    return FALSE;
  }
  return TRUE;
}

/* A string clients show to people, from a client: refused unless plain. */
static gboolean
check_text_node (JsonNode *node, const char *what, gint64 min, gint64 max, GError **error)
{
  return check_string_node (node, what, min, max, error) &&
         vchat_display_text_validate (json_node_get_string (node), what, error);
}

/* The same from a server (a peer's name, client or interests, which a
 * server that checks nothing could pass on): what may not be shown becomes
 * U+FFFD, so the message, and the call it starts, still goes through. */
static gboolean
clean_text_node (JsonNode *node, const char *what, gint64 min, gint64 max, GError **error)
{
  const char *text;
  GString *clean;

  if (!check_string_node (node, what, min, max, error))
    return FALSE;
  text = json_node_get_string (node);
  if (vchat_display_text_validate (text, what, NULL))
    return TRUE;
  clean = g_string_sized_new (strlen (text) + 8);
  for (const char *p = text; *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);

    g_string_append_unichar (clean, vchat_display_char_ok (c) ? c : 0xfffd);
  }
  json_node_set_string (node, clean->str);
  g_string_free (clean, TRUE);
  return TRUE;
}

static gboolean
check_int_node (JsonNode *node, const char *what, gint64 min, gint64 max, GError **error)
{
  gint64 v;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64) {
    g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_FIELD, "“%s” must be an integer.",
                 what);
    return FALSE;
  }
  v = json_node_get_int (node);
  if (v < min || v > max) {
    g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_VALUE,
                 "“%s” is %" G_GINT64_FORMAT "; it must be between %" G_GINT64_FORMAT
                 " and %" G_GINT64_FORMAT ".",
                 what, v, min, max);
    return FALSE;
  }
  return TRUE;
}

static JsonObject *
check_object_node (JsonNode *node, const char *what, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_FIELD, "“%s” must be an object.",
                 what);
    return NULL;
  }
  return json_node_get_object (node);
}

/* Checks member @name of @obj; a missing optional member is fine. */
static gboolean
check_member (JsonObject *obj, const char *parent, const char *name, gboolean required,
              gboolean (*check) (JsonNode *, const char *, gint64, gint64, GError **), gint64 min,
              gint64 max, GError **error)
{
  g_autofree char *what = parent ? g_strdup_printf ("%s.%s", parent, name) : g_strdup (name);
  JsonNode *node = json_object_get_member (obj, name);

  if (!node) {
    if (required)
      g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_MISSING_FIELD,
                   "The field “%s” is missing.", what);
    return !required;
  }
  return check (node, what, min, max, error);
}

/* @from_server: display strings are cleaned rather than refused (see
 * clean_text_node()). */
static gboolean
check_field (JsonNode *node, const Field *f, gboolean from_server, GError **error)
{
  gboolean (*check_text) (JsonNode *, const char *, gint64, gint64, GError **) =
    from_server ? clean_text_node : check_text_node;
  JsonObject *obj;
  JsonArray *arr;

  switch (f->kind) {
  case F_STRING:
    return (f->display ? check_text : check_string_node) (node, f->name, f->min, f->max, error);

  case F_INT:
    return check_int_node (node, f->name, f->min, f->max, error);

  case F_BOOL:
    if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN) {
      g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_FIELD,
                   "“%s” must be true or false.", f->name);
      return FALSE;
    }
    return TRUE;

  case F_ENUM:
    if (!check_string_node (node, f->name, 1, 64, error))
      return FALSE;
    if (!g_strv_contains (f->values, json_node_get_string (node))) {
      g_autofree char *allowed = g_strjoinv (", ", (char **) f->values);
      g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_VALUE,
                   "“%s” must be one of: %s.", f->name, allowed);
      return FALSE;
    }
    return TRUE;

  case F_STRV:
    if (!JSON_NODE_HOLDS_ARRAY (node)) {
      g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_FIELD,
                   "“%s” must be an array of strings.", f->name);
      return FALSE;
    }
    arr = json_node_get_array (node);
    if (json_array_get_length (arr) > f->max_items) {
      g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_TOO_LONG,
                   "“%s” has %u entries; at most %u are allowed.", f->name,
                   json_array_get_length (arr), f->max_items);
      return FALSE;
    }
    for (guint i = 0; i < json_array_get_length (arr); i++) {
      g_autofree char *what = g_strdup_printf ("%s[%u]", f->name, i);
      if (!(f->display ? check_text : check_string_node) (json_array_get_element (arr, i), what,
                                                          f->min, f->max, error))
        return FALSE;
    }
    return TRUE;

  case F_SDP:
    if (!(obj = check_object_node (node, f->name, error)))
      return FALSE;
    if (!check_member (obj, "sdp", "type", TRUE, check_string_node, 1, 16, error))
      return FALSE;
    if (!g_strv_contains (sdp_types, json_object_get_string_member (obj, "type"))) {
      g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_VALUE,
                   "“sdp.type” must be “offer” or “answer”.");
      return FALSE;
    }
    return check_member (obj, "sdp", "sdp", TRUE, check_string_node, 1, 60000, error);

  case F_ICE:
    if (!(obj = check_object_node (node, f->name, error)))
      return FALSE;
    return check_member (obj, "ice", "candidate", TRUE, check_string_node, 0, 1024, error) &&
           check_member (obj, "ice", "sdpMLineIndex", TRUE, check_int_node, 0, 255, error) &&
           check_member (obj, "ice", "sdpMid", FALSE, check_string_node, 0, 32, error);

  case F_PEER:
    if (!(obj = check_object_node (node, f->name, error)))
      return FALSE;
    return check_member (obj, "peer", "client", TRUE, check_text, 1, 64, error) &&
           check_member (obj, "peer", "name", FALSE, check_text, 0, 64, error);

  case F_SERVERS:
    if (!JSON_NODE_HOLDS_ARRAY (node)) {
      g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_FIELD, "“%s” must be an array.",
                   f->name);
      return FALSE;
    }
    arr = json_node_get_array (node);
    if (json_array_get_length (arr) > f->max_items) {
      g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_TOO_LONG,
                   "“%s” has too many entries.", f->name);
      return FALSE;
    }
    for (guint i = 0; i < json_array_get_length (arr); i++) {
      static const Field urls = { "urls", F_STRV, TRUE, 1, 1024, 16, NULL };
      JsonNode *urls_node;

      if (!(obj = check_object_node (json_array_get_element (arr, i), f->name, error)))
        return FALSE;
      urls_node = json_object_get_member (obj, "urls");
      if (!urls_node) {
        g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_MISSING_FIELD,
                     "An entry of “%s” has no “urls”.", f->name);
        return FALSE;
      }
      if (!check_field (urls_node, &urls, FALSE, error) ||
          !check_member (obj, "ice_servers", "username", FALSE, check_string_node, 0, 512, error) ||
          !check_member (obj, "ice_servers", "credential", FALSE, check_string_node, 0, 512, error))
        return FALSE;
    }
    return TRUE;

  case F_OBJECT:
    return check_object_node (node, f->name, error) != NULL;
  }
  g_assert_not_reached ();
}

static gboolean
lookup_type (const char *name, VchatMsgType *type)
{
  for (guint i = 0; i < VCHAT_MSG_N_TYPES; i++) {
    if (strcmp (specs[i].name, name) == 0) {
      *type = i;
      return TRUE;
    }
  }
  return FALSE;
}

VchatMsg *
vchat_msg_parse (const char *data, gsize len, gsize max_frame, VchatMsgOrigin origin,
                 char **ref_type, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) local_error = NULL;
  JsonNode *root, *type_node;
  JsonObject *obj;
  VchatMsgType type;
  const char *type_name;
  const MsgSpec *spec;
  VchatMsg *msg;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  if (ref_type)
    *ref_type = NULL;

  if (max_frame > 0 && len > max_frame) {
    g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_TOO_BIG,
                 "The message is %" G_GSIZE_FORMAT " bytes; at most %" G_GSIZE_FORMAT
                 " are allowed.",
                 len, max_frame);
    return NULL;
  }
  if (len == 0) {
    g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_JSON,
                 "The message is empty; send one JSON object per text frame.");
    return NULL;
  }
  if (!g_utf8_validate_len (data, len, NULL)) {
    g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_FRAME,
                 "The message is not UTF-8 text; send one JSON object per text frame.");
    return NULL;
  }
  if (!depth_ok (data, len)) {
    g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_JSON,
                 "The message nests deeper than %d levels; no valid message does.", MAX_JSON_DEPTH);
    return NULL;
  }

  /* A server's messages may have their display strings cleaned in place
   * (clean_text_node()). */
  parser = origin == VCHAT_MSG_FROM_SERVER ? json_parser_new () : json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, len, &local_error)) {
    const char *detail = local_error->message;
    /* json-glib names the input "<data>"; the position is what helps. */
    if (g_str_has_prefix (detail, "<data>:"))
      detail += strlen ("<data>:");
    g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_JSON,
                 "The message is not valid JSON (at %s).", detail);
    return NULL;
  }
  root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_JSON,
                 "The message must be a JSON object with a “type” field.");
    return NULL;
  }
  obj = json_node_get_object (root);

  type_node = json_object_get_member (obj, "type");
  if (!type_node || !JSON_NODE_HOLDS_VALUE (type_node) ||
      json_node_get_value_type (type_node) != G_TYPE_STRING) {
    g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_UNKNOWN_TYPE,
                 "The message has no “type” string.");
    return NULL;
  }
  type_name = json_node_get_string (type_node);
  if (!g_utf8_validate (type_name, -1, NULL)) {
    /* See check_string_node(): json-glib's octal escapes. */
    g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_UNKNOWN_TYPE,
                 "The message's “type” is not valid UTF-8 text.");
    return NULL;
  }
  if (!lookup_type (type_name, &type) || !(specs[type].origin & origin)) {
    /* Echo at most 32 characters of what the client sent. */
    glong n_chars = g_utf8_strlen (type_name, -1);
    g_autofree char *shown = g_utf8_substring (type_name, 0, MIN (n_chars, 32));
    g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_UNKNOWN_TYPE,
                 "“%s” is not a message type of protocol version %d.", shown,
                 VCHAT_PROTOCOL_VERSION);
    return NULL;
  }
  if (ref_type)
    *ref_type = g_strdup (specs[type].name);

  spec = &specs[type];
  for (const Field *f = spec->fields; f->name; f++) {
    JsonNode *node = json_object_get_member (obj, f->name);

    if (!node) {
      if (f->required) {
        g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_MISSING_FIELD,
                     "“%s” needs the field “%s”.", spec->name, f->name);
        return NULL;
      }
      continue;
    }
    if (!check_field (node, f, origin == VCHAT_MSG_FROM_SERVER, error))
      return NULL;
  }

  /* Rules that span fields. */
  if (type == VCHAT_MSG_SIGNAL) {
    guint n = (json_object_has_member (obj, "sdp") ? 1 : 0) +
              (json_object_has_member (obj, "ice") ? 1 : 0) +
              (json_object_has_member (obj, "restart") ? 1 : 0);

    if (n != 1) {
      g_set_error (error, VCHAT_PROTO_ERROR,
                   n ? VCHAT_PROTO_ERROR_BAD_VALUE : VCHAT_PROTO_ERROR_MISSING_FIELD,
                   "“signal” needs exactly one of “sdp”, “ice” and “restart”.");
      return NULL;
    }
    if (json_object_has_member (obj, "restart") &&
        (!json_object_get_boolean_member (obj, "restart") ||
         json_object_get_int_member_with_default (obj, "attempt", 0) < 1)) {
      g_set_error (error, VCHAT_PROTO_ERROR, VCHAT_PROTO_ERROR_BAD_VALUE,
                   "“restart” must be true and come with an “attempt” of 1 or more.");
      return NULL;
    }
  }

  msg = g_new0 (VchatMsg, 1);
  msg->type = type;
  msg->object = json_object_ref (obj);
  return msg;
}

void
vchat_msg_free (VchatMsg *msg)
{
  if (!msg)
    return;
  json_object_unref (msg->object);
  g_free (msg);
}

const char *
vchat_msg_get_string (const VchatMsg *msg, const char *field)
{
  JsonNode *node = json_object_get_member (msg->object, field);

  if (!node || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

gint64
vchat_msg_get_int (const VchatMsg *msg, const char *field, gint64 default_value)
{
  JsonNode *node = json_object_get_member (msg->object, field);

  if (!node || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return default_value;
  return json_node_get_int (node);
}

gboolean
vchat_msg_get_bool (const VchatMsg *msg, const char *field)
{
  JsonNode *node = json_object_get_member (msg->object, field);

  if (!node || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return FALSE;
  return json_node_get_boolean (node);
}

gboolean
vchat_msg_has (const VchatMsg *msg, const char *field)
{
  return json_object_has_member (msg->object, field);
}

GStrv
vchat_msg_dup_strv (const VchatMsg *msg, const char *field)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  JsonNode *node = json_object_get_member (msg->object, field);

  if (node && JSON_NODE_HOLDS_ARRAY (node)) {
    JsonArray *arr = json_node_get_array (node);
    for (guint i = 0; i < json_array_get_length (arr); i++)
      g_strv_builder_add (builder, json_array_get_string_element (arr, i));
  }
  return g_strv_builder_end (builder);
}

JsonObject *
vchat_msg_get_object (const VchatMsg *msg, const char *field)
{
  JsonNode *node = json_object_get_member (msg->object, field);

  if (!node || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_node_get_object (node);
}

JsonObject *
vchat_msg_object_new (VchatMsgType type)
{
  JsonObject *obj = json_object_new ();

  json_object_set_string_member (obj, "type", vchat_msg_type_to_string (type));
  return obj;
}

char *
vchat_msg_object_to_string (JsonObject *object)
{
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), object);

  return json_to_string (node, FALSE);
}

char *
vchat_msg_error_to_string (VchatProtoError code, const char *message, const char *ref)
{
  g_autoptr (JsonObject) obj = vchat_msg_object_new (VCHAT_MSG_ERROR);

  json_object_set_string_member (obj, "code", vchat_proto_error_to_string (code));
  json_object_set_string_member (obj, "message", message);
  if (ref)
    json_object_set_string_member (obj, "ref", ref);
  return vchat_msg_object_to_string (obj);
}

JsonObject *
vchat_msg_signal_copy (const VchatMsg *msg)
{
  JsonObject *out;
  JsonObject *in;

  g_return_val_if_fail (msg->type == VCHAT_MSG_SIGNAL, NULL);

  out = vchat_msg_object_new (VCHAT_MSG_SIGNAL);
  json_object_set_string_member (out, "call", vchat_msg_get_string (msg, "call"));
  if ((in = vchat_msg_get_object (msg, "sdp"))) {
    JsonObject *sdp = json_object_new ();
    json_object_set_string_member (sdp, "type", json_object_get_string_member (in, "type"));
    json_object_set_string_member (sdp, "sdp", json_object_get_string_member (in, "sdp"));
    json_object_set_object_member (out, "sdp", sdp);
  } else if ((in = vchat_msg_get_object (msg, "ice"))) {
    JsonObject *ice = json_object_new ();
    json_object_set_string_member (ice, "candidate",
                                   json_object_get_string_member (in, "candidate"));
    json_object_set_int_member (ice, "sdpMLineIndex",
                                json_object_get_int_member (in, "sdpMLineIndex"));
    if (json_object_has_member (in, "sdpMid"))
      json_object_set_string_member (ice, "sdpMid", json_object_get_string_member (in, "sdpMid"));
    json_object_set_object_member (out, "ice", ice);
  } else {
    json_object_set_boolean_member (out, "restart", TRUE);
  }
  if (json_object_has_member (msg->object, "attempt"))
    json_object_set_int_member (out, "attempt", vchat_msg_get_int (msg, "attempt", 0));
  return out;
}

/* RFC 4648 base32, lower case. */
static const char base32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
#define INVITE_CODE_LETTERS 16

char *
vchat_invite_code_format (const guint8 bytes[VCHAT_INVITE_CODE_BYTES])
{
  GString *out = g_string_sized_new (INVITE_CODE_LETTERS + 4);
  guint bits = 0, nbits = 0, letters = 0;

  for (guint i = 0; i < VCHAT_INVITE_CODE_BYTES; i++) {
    bits = (bits << 8) | bytes[i];
    nbits += 8;
    while (nbits >= 5) {
      if (letters > 0 && letters % 4 == 0)
        g_string_append_c (out, '-');
      g_string_append_c (out, base32_alphabet[(bits >> (nbits - 5)) & 31]);
      nbits -= 5;
      letters++;
    }
  }
  return g_string_free (out, FALSE);
}

char *
vchat_invite_code_normalize (const char *code_or_link)
{
  g_autoptr (GString) out = g_string_new (NULL);
  const char *p = code_or_link;
  const char *slash;

  g_return_val_if_fail (code_or_link != NULL, NULL);

  /* vchat://join/CODE or https://host/join/CODE: take what follows the last
   * "/join/" (ignoring a query or fragment). */
  if ((slash = g_strrstr (code_or_link, "/join/")))
    p = slash + strlen ("/join/");

  for (; *p && *p != '?' && *p != '#' && *p != '/'; p++) {
    char c = g_ascii_tolower (*p);

    if (c == '-' || c == ' ')
      continue;
    if (!strchr (base32_alphabet, c) || c == '\0')
      return NULL;
    g_string_append_c (out, c);
  }
  if (out->len != INVITE_CODE_LETTERS)
    return NULL;

  /* Back to the canonical grouped form. */
  for (gsize pos = 4; pos < out->len; pos += 5)
    g_string_insert_c (out, pos, '-');
  return g_string_free (g_steal_pointer (&out), FALSE);
}

GStrv
vchat_interests_normalize (const char *const *interests)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; interests && interests[i]; i++) {
    g_autofree char *trimmed = g_strstrip (g_strdup (interests[i]));
    char *folded;

    if (!*trimmed)
      continue;
    folded = g_utf8_strdown (trimmed, -1);
    if (!g_hash_table_add (seen, folded))
      continue;
    g_strv_builder_add (builder, folded);
  }
  return g_strv_builder_end (builder);
}
