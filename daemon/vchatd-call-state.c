/* vchatd-call-state.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-call-state.h"

#include <glib/gi18n.h>
#include "vchatd-error.h"

static const char *const state_names[] = {
  [VCHATD_CALL_SEARCHING] = "searching", [VCHATD_CALL_INCOMING] = "incoming",
  [VCHATD_CALL_RINGING] = "ringing",     [VCHATD_CALL_CONNECTING] = "connecting",
  [VCHATD_CALL_CONNECTED] = "connected", [VCHATD_CALL_RECONNECTING] = "reconnecting",
  [VCHATD_CALL_ENDED] = "ended",
};

static const char *const reason_names[] = {
  [VCHATD_END_NONE] = "",
  [VCHATD_END_HANGUP] = "hangup",
  [VCHATD_END_PEER_HANGUP] = "peer-hangup",
  [VCHATD_END_REJECTED] = "rejected",
  [VCHATD_END_NEXT] = "next",
  [VCHATD_END_PEER_NEXT] = "peer-next",
  [VCHATD_END_PEER_LOST] = "peer-lost",
  [VCHATD_END_NETWORK] = "network",
  [VCHATD_END_EXPIRED] = "expired",
  [VCHATD_END_ERROR] = "error",
};

const char *
vchatd_call_state_to_string (VchatdCallState state)
{
  g_return_val_if_fail ((guint) state < G_N_ELEMENTS (state_names), NULL);
  return state_names[state];
}

const char *
vchatd_end_reason_to_string (VchatdEndReason reason)
{
  g_return_val_if_fail ((guint) reason < G_N_ELEMENTS (reason_names), NULL);
  return reason_names[reason];
}

static gboolean
in_call (VchatdCallState state)
{
  return state == VCHATD_CALL_CONNECTING || state == VCHATD_CALL_CONNECTED ||
         state == VCHATD_CALL_RECONNECTING;
}

gboolean
vchatd_call_action_allowed (VchatdCallState state, VchatdCallKind kind, VchatdCallAction action,
                            GError **error)
{
  const char *now = vchatd_call_state_to_string (state);

  if (state == VCHATD_CALL_ENDED && action != VCHATD_ACTION_REPORT) {
    g_set_error (error, VCHATD_ERROR, VCHATD_ERROR_INVALID_STATE,
                 _("The call has ended; start a new one."));
    return FALSE;
  }

  switch (action) {
  case VCHATD_ACTION_ACCEPT:
  case VCHATD_ACTION_REJECT:
    if (state == VCHATD_CALL_INCOMING)
      return TRUE;
    /* Translators: %s is the call's state as vchatctl shows it (ringing,
     * connected, …) */
    g_set_error (error, VCHATD_ERROR, VCHATD_ERROR_INVALID_STATE,
                 action == VCHATD_ACTION_ACCEPT
                   ? _("Only a ringing incoming call can be accepted; this call is %s.")
                   : _("Only a ringing incoming call can be rejected; this call is %s."),
                 now);
    return FALSE;

  case VCHATD_ACTION_HANGUP:
  case VCHATD_ACTION_SET_MEDIA:
    return TRUE;

  case VCHATD_ACTION_NEXT:
    if (kind != VCHATD_CALL_KIND_RANDOM) {
      g_set_error (error, VCHATD_ERROR, VCHATD_ERROR_INVALID_STATE,
                   _("“Next” is for random calls; hang up an invited call instead."));
      return FALSE;
    }
    if (in_call (state))
      return TRUE;
    g_set_error (error, VCHATD_ERROR, VCHATD_ERROR_INVALID_STATE,
                 _("There is no partner to leave yet (the call is %s); hang up to stop searching."),
                 now);
    return FALSE;

  case VCHATD_ACTION_SEND_MESSAGE:
    if (state == VCHATD_CALL_CONNECTED)
      return TRUE;
    g_set_error (error, VCHATD_ERROR, VCHATD_ERROR_INVALID_STATE,
                 _("Messages can be sent once the call is connected; it is %s."), now);
    return FALSE;

  case VCHATD_ACTION_REPORT:
    if (in_call (state) || state == VCHATD_CALL_ENDED)
      return TRUE;
    g_set_error (error, VCHATD_ERROR, VCHATD_ERROR_INVALID_STATE,
                 _("There is nobody to report yet (the call is %s)."), now);
    return FALSE;
  }
  g_assert_not_reached ();
}

VchatdEndReason
vchatd_end_reason_from_peer_left (const char *reason)
{
  if (g_strcmp0 (reason, "hangup") == 0)
    return VCHATD_END_PEER_HANGUP;
  if (g_strcmp0 (reason, "next") == 0)
    return VCHATD_END_PEER_NEXT;
  if (g_strcmp0 (reason, "rejected") == 0)
    return VCHATD_END_REJECTED;
  if (g_strcmp0 (reason, "lost") == 0)
    return VCHATD_END_PEER_LOST;
  if (g_strcmp0 (reason, "timeout") == 0)
    return VCHATD_END_EXPIRED;
  return VCHATD_END_ERROR;
}

gboolean
vchatd_call_transition_valid (VchatdCallState from, VchatdCallState to)
{
  if (from == VCHATD_CALL_ENDED)
    return FALSE;
  if (to == VCHATD_CALL_ENDED)
    return TRUE;

  switch (to) {
  case VCHATD_CALL_SEARCHING:
    return FALSE;
  case VCHATD_CALL_INCOMING:
    return from == VCHATD_CALL_SEARCHING; /* someone joined our invite */
  case VCHATD_CALL_RINGING:
    return FALSE; /* joining starts there */
  case VCHATD_CALL_CONNECTING:
    return from == VCHATD_CALL_SEARCHING || from == VCHATD_CALL_INCOMING ||
           from == VCHATD_CALL_RINGING;
  case VCHATD_CALL_CONNECTED:
    return from == VCHATD_CALL_CONNECTING || from == VCHATD_CALL_RECONNECTING;
  case VCHATD_CALL_RECONNECTING:
    return from == VCHATD_CALL_CONNECTED;
  case VCHATD_CALL_ENDED:
    break;
  }
  g_assert_not_reached ();
}
