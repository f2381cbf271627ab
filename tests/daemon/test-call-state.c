/* Unit tests of the call state machine and the Manager's option parsing.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-call-state.h"
#include "vchatd-error.h"
#include "vchatd-options.h"

#include <string.h>

static const VchatdCallState all_states[] = {
  VCHATD_CALL_SEARCHING, VCHATD_CALL_INCOMING,     VCHATD_CALL_RINGING, VCHATD_CALL_CONNECTING,
  VCHATD_CALL_CONNECTED, VCHATD_CALL_RECONNECTING, VCHATD_CALL_ENDED,
};

static void
test_accept_only_incoming (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (all_states); i++) {
    g_autoptr (GError) error = NULL;
    gboolean ok = vchatd_call_action_allowed (all_states[i], VCHATD_CALL_KIND_INVITE,
                                              VCHATD_ACTION_ACCEPT, &error);

    g_assert_cmpint (ok, ==, all_states[i] == VCHATD_CALL_INCOMING);
    if (!ok) {
      g_assert_error (error, VCHATD_ERROR, VCHATD_ERROR_INVALID_STATE);
      /* The message names the state the call is in, or says it ended. */
      if (all_states[i] != VCHATD_CALL_ENDED)
        g_assert_nonnull (strstr (error->message, vchatd_call_state_to_string (all_states[i])));
      else
        g_assert_nonnull (strstr (error->message, "ended"));
    }
  }
}

static void
test_first_answer_wins (void)
{
  g_autoptr (GError) error = NULL;
  VchatdCallState state = VCHATD_CALL_INCOMING;

  /* Accept moves the call on to connecting; a racing Reject then fails. */
  g_assert_true (
    vchatd_call_action_allowed (state, VCHATD_CALL_KIND_INVITE, VCHATD_ACTION_ACCEPT, NULL));
  g_assert_true (vchatd_call_transition_valid (state, VCHATD_CALL_CONNECTING));
  state = VCHATD_CALL_CONNECTING;
  g_assert_false (
    vchatd_call_action_allowed (state, VCHATD_CALL_KIND_INVITE, VCHATD_ACTION_REJECT, &error));
  g_assert_error (error, VCHATD_ERROR, VCHATD_ERROR_INVALID_STATE);
}

static void
test_next_rules (void)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (vchatd_call_action_allowed (VCHATD_CALL_CONNECTED, VCHATD_CALL_KIND_RANDOM,
                                             VCHATD_ACTION_NEXT, NULL));
  g_assert_false (vchatd_call_action_allowed (VCHATD_CALL_CONNECTED, VCHATD_CALL_KIND_INVITE,
                                              VCHATD_ACTION_NEXT, &error));
  g_assert_nonnull (strstr (error->message, "hang up"));
  g_clear_error (&error);
  g_assert_false (vchatd_call_action_allowed (VCHATD_CALL_SEARCHING, VCHATD_CALL_KIND_RANDOM,
                                              VCHATD_ACTION_NEXT, &error));
  g_assert_error (error, VCHATD_ERROR, VCHATD_ERROR_INVALID_STATE);
}

static void
test_messages_only_when_connected (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (all_states); i++)
    g_assert_cmpint (vchatd_call_action_allowed (all_states[i], VCHATD_CALL_KIND_RANDOM,
                                                 VCHATD_ACTION_SEND_MESSAGE, NULL),
                     ==, all_states[i] == VCHATD_CALL_CONNECTED);
}

static void
test_hangup_and_report (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (all_states); i++) {
    gboolean ended = all_states[i] == VCHATD_CALL_ENDED;
    g_assert_cmpint (vchatd_call_action_allowed (all_states[i], VCHATD_CALL_KIND_RANDOM,
                                                 VCHATD_ACTION_HANGUP, NULL),
                     ==, !ended);
  }
  /* A stranger can be reported after the call, not before there is one. */
  g_assert_true (vchatd_call_action_allowed (VCHATD_CALL_ENDED, VCHATD_CALL_KIND_RANDOM,
                                             VCHATD_ACTION_REPORT, NULL));
  g_assert_false (vchatd_call_action_allowed (VCHATD_CALL_SEARCHING, VCHATD_CALL_KIND_RANDOM,
                                              VCHATD_ACTION_REPORT, NULL));
}

static void
test_transitions (void)
{
  /* Ended is final. */
  for (guint i = 0; i < G_N_ELEMENTS (all_states); i++)
    g_assert_false (vchatd_call_transition_valid (VCHATD_CALL_ENDED, all_states[i]));
  /* Anything else can end. */
  for (guint i = 0; i + 1 < G_N_ELEMENTS (all_states); i++)
    g_assert_true (vchatd_call_transition_valid (all_states[i], VCHATD_CALL_ENDED));
  g_assert_true (vchatd_call_transition_valid (VCHATD_CALL_SEARCHING, VCHATD_CALL_CONNECTING));
  g_assert_true (vchatd_call_transition_valid (VCHATD_CALL_SEARCHING, VCHATD_CALL_INCOMING));
  g_assert_true (vchatd_call_transition_valid (VCHATD_CALL_RINGING, VCHATD_CALL_CONNECTING));
  g_assert_true (vchatd_call_transition_valid (VCHATD_CALL_CONNECTED, VCHATD_CALL_RECONNECTING));
  g_assert_true (vchatd_call_transition_valid (VCHATD_CALL_RECONNECTING, VCHATD_CALL_CONNECTED));
  g_assert_false (vchatd_call_transition_valid (VCHATD_CALL_SEARCHING, VCHATD_CALL_CONNECTED));
  g_assert_false (vchatd_call_transition_valid (VCHATD_CALL_RINGING, VCHATD_CALL_INCOMING));
  g_assert_false (vchatd_call_transition_valid (VCHATD_CALL_CONNECTING, VCHATD_CALL_SEARCHING));
}

static void
test_end_reasons (void)
{
  g_assert_cmpstr (vchatd_end_reason_to_string (vchatd_end_reason_from_peer_left ("hangup")), ==,
                   "peer-hangup");
  g_assert_cmpstr (vchatd_end_reason_to_string (vchatd_end_reason_from_peer_left ("next")), ==,
                   "peer-next");
  g_assert_cmpstr (vchatd_end_reason_to_string (vchatd_end_reason_from_peer_left ("rejected")), ==,
                   "rejected");
  g_assert_cmpstr (vchatd_end_reason_to_string (vchatd_end_reason_from_peer_left ("lost")), ==,
                   "peer-lost");
  g_assert_cmpstr (vchatd_end_reason_to_string (vchatd_end_reason_from_peer_left ("timeout")), ==,
                   "expired");
  g_assert_cmpstr (vchatd_end_reason_to_string (vchatd_end_reason_from_peer_left ("???")), ==,
                   "error");
}

static GVariant *
opts (const char *text)
{
  return g_variant_parse (G_VARIANT_TYPE_VARDICT, text, NULL, NULL, NULL);
}

static void
test_options_good (void)
{
  g_auto (VchatdCallOptions) o = { 0 };
  g_autoptr (GVariant) v = opts (
    "{'interests': <['Music', ' music', 'Linux']>, 'language': <'EN'>, 'relay_only': <true>}");
  g_autoptr (GError) error = NULL;

  g_assert_true (vchatd_call_options_parse (v, VCHATD_OPTIONS_RANDOM, &o, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (o.interests), ==, 2);
  g_assert_cmpstr (o.interests[0], ==, "music");
  g_assert_cmpstr (o.interests[1], ==, "linux");
  g_assert_cmpstr (o.language, ==, "en");
  g_assert_true (o.relay_only && o.relay_only_set);
}

static void
test_options_bad (void)
{
  static const struct {
    const char *options;
    VchatdOptionsKind kind;
    const char *in_message;
  } cases[] = {
    { "{'interests': <'music'>}", VCHATD_OPTIONS_RANDOM, "type as" },
    { "{'relay_only': <1>}", VCHATD_OPTIONS_RANDOM, "relay_only" },
    { "{'ttl': <uint32 600>}", VCHATD_OPTIONS_RANDOM, "Unknown option “ttl”" },
    { "{'colour': <'red'>}", VCHATD_OPTIONS_INVITE, "Unknown option “colour”" },
    { "{'ttl': <uint32 5>}", VCHATD_OPTIONS_INVITE, "at least 10" },
    { "{'ttl': <'600'>}", VCHATD_OPTIONS_INVITE, "type u" },
    { "{'language': <'abcdefghijklmnopq'>}", VCHATD_OPTIONS_RANDOM, "language" },
    { "{'interests': <['a','b','c','d','e','f','g','h','i','j','k','l','m','n','o','p','q']>}",
      VCHATD_OPTIONS_RANDOM, "At most 16" },
    { "{'interests': <['abcdefghijklmnopqrstuvwxyz0123456789']>}", VCHATD_OPTIONS_RANDOM,
      "too long" },
    { "{'display_name': <'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'>}",
      VCHATD_OPTIONS_JOIN, "display_name" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_auto (VchatdCallOptions) o = { 0 };
    g_autoptr (GVariant) v = opts (cases[i].options);
    g_autoptr (GError) error = NULL;

    g_assert_nonnull (v);
    g_assert_false (vchatd_call_options_parse (v, cases[i].kind, &o, &error));
    g_assert_error (error, VCHATD_ERROR, VCHATD_ERROR_INVALID_ARGS);
    if (!strstr (error->message, cases[i].in_message))
      g_error ("case %u: “%s” does not contain “%s”", i, error->message, cases[i].in_message);
  }
}

static void
test_ice_servers (void)
{
  const char *json =
    "[{\"urls\":[\"stun:127.0.0.1:3478\"]},"
    "{\"urls\":[\"turn:127.0.0.1:3478?transport=udp\",\"turn:127.0.0.1:3478?transport=tcp\"],"
    "\"username\":\"1700000000:abc\",\"credential\":\"a+b/c=\"}]";
  g_autoptr (JsonNode) node = json_from_string (json, NULL);
  g_autofree char *stun = NULL;
  g_auto (GStrv) turns = NULL;

  vchatd_ice_servers_to_webrtc (json_node_get_array (node), &stun, &turns);
  g_assert_cmpstr (stun, ==, "stun://127.0.0.1:3478");
  g_assert_cmpuint (g_strv_length (turns), ==, 2);
  /* ':' in the TURN REST user name and '+/=' in the password are escaped. */
  g_assert_cmpstr (turns[0], ==,
                   "turn://1700000000%3Aabc:a%2Bb%2Fc%3D@127.0.0.1:3478?transport=udp");
  g_assert_cmpstr (turns[1], ==,
                   "turn://1700000000%3Aabc:a%2Bb%2Fc%3D@127.0.0.1:3478?transport=tcp");
}

static void
test_dbus_error_names (void)
{
  g_autoptr (GError)
    error = g_error_new_literal (VCHATD_ERROR, VCHATD_ERROR_BUSY, "A call is in progress.");
  g_autofree char *name = g_dbus_error_encode_gerror (error);

  g_assert_cmpstr (name, ==, "io.github.vchat.VChat1.Error.Busy");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/call-state/accept-only-incoming", test_accept_only_incoming);
  g_test_add_func ("/call-state/first-answer-wins", test_first_answer_wins);
  g_test_add_func ("/call-state/next", test_next_rules);
  g_test_add_func ("/call-state/messages", test_messages_only_when_connected);
  g_test_add_func ("/call-state/hangup-and-report", test_hangup_and_report);
  g_test_add_func ("/call-state/transitions", test_transitions);
  g_test_add_func ("/call-state/end-reasons", test_end_reasons);
  g_test_add_func ("/options/good", test_options_good);
  g_test_add_func ("/options/bad", test_options_bad);
  g_test_add_func ("/options/ice-servers", test_ice_servers);
  g_test_add_func ("/errors/dbus-names", test_dbus_error_names);
  return g_test_run ();
}
