/* vchatd-call-state.h: the rules of a call's life, apart from its plumbing
 *
 * What a person may do in which state, and where each event leads. Kept
 * free of D-Bus, signaling and media so it can be tested on its own.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  VCHATD_CALL_SEARCHING,
  VCHATD_CALL_INCOMING,
  VCHATD_CALL_RINGING,
  VCHATD_CALL_CONNECTING,
  VCHATD_CALL_CONNECTED,
  VCHATD_CALL_RECONNECTING,
  VCHATD_CALL_ENDED,
} VchatdCallState;

typedef enum {
  VCHATD_CALL_KIND_RANDOM,
  VCHATD_CALL_KIND_INVITE,
} VchatdCallKind;

typedef enum {
  VCHATD_END_NONE,
  VCHATD_END_HANGUP,
  VCHATD_END_PEER_HANGUP,
  VCHATD_END_REJECTED,
  VCHATD_END_NEXT,
  VCHATD_END_PEER_NEXT,
  VCHATD_END_PEER_LOST,
  VCHATD_END_NETWORK,
  VCHATD_END_EXPIRED,
  VCHATD_END_ERROR,
} VchatdEndReason;

/* What a person (or frontend) asks of a call. */
typedef enum {
  VCHATD_ACTION_ACCEPT,
  VCHATD_ACTION_REJECT,
  VCHATD_ACTION_HANGUP,
  VCHATD_ACTION_NEXT,
  VCHATD_ACTION_SEND_MESSAGE,
  VCHATD_ACTION_SET_MEDIA, /* mute, camera on/off */
  VCHATD_ACTION_REPORT,
} VchatdCallAction;

const char *vchatd_call_state_to_string (VchatdCallState state);
const char *vchatd_end_reason_to_string (VchatdEndReason reason);

/* Whether @action is allowed now; if not, a VCHATD_ERROR_INVALID_STATE
 * saying why and what can be done instead. */
gboolean vchatd_call_action_allowed (VchatdCallState state, VchatdCallKind kind,
                                     VchatdCallAction action, GError **error);

/* The end reason for the server's peer_left / call_ended reasons. */
VchatdEndReason vchatd_end_reason_from_peer_left (const char *reason);

/* Whether an event that moves the call to @to is legal from @from. */
gboolean vchatd_call_transition_valid (VchatdCallState from, VchatdCallState to);

G_END_DECLS
