/* vchat-enums.h: the states and reasons of libvchat
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VCHAT_INSIDE) && !defined(VCHAT_COMPILATION)
#error "Only <vchat/vchat.h> can be included directly."
#endif

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * VChatSignalingState:
 * @VCHAT_SIGNALING_STATE_OFFLINE: not connected to the signaling server
 * @VCHAT_SIGNALING_STATE_CONNECTING: connecting for the first time
 * @VCHAT_SIGNALING_STATE_ONLINE: connected: calls can be made
 * @VCHAT_SIGNALING_STATE_RECONNECTING: the connection dropped; the daemon retries
 *
 * How the daemon is connected to its signaling server.
 */
typedef enum /*< underscore_name=vchat_signaling_state >*/ {
  VCHAT_SIGNALING_STATE_OFFLINE,
  VCHAT_SIGNALING_STATE_CONNECTING,
  VCHAT_SIGNALING_STATE_ONLINE,
  VCHAT_SIGNALING_STATE_RECONNECTING,
} VChatSignalingState;

/**
 * VChatCallState:
 * @VCHAT_CALL_STATE_SEARCHING: waiting for a random partner, or for a friend to join an invite
 * @VCHAT_CALL_STATE_INCOMING: someone joined this user's invite: accept or reject
 * @VCHAT_CALL_STATE_RINGING: this user joined an invite; the friend has not answered yet
 * @VCHAT_CALL_STATE_CONNECTING: both sides agreed; media is being set up
 * @VCHAT_CALL_STATE_CONNECTED: media flows
 * @VCHAT_CALL_STATE_RECONNECTING: the connection was lost and is being rebuilt
 * @VCHAT_CALL_STATE_ENDED: over; #VChatCall:end-reason says why
 *
 * The life of a call.
 */
typedef enum /*< underscore_name=vchat_call_state >*/ {
  VCHAT_CALL_STATE_SEARCHING,
  VCHAT_CALL_STATE_INCOMING,
  VCHAT_CALL_STATE_RINGING,
  VCHAT_CALL_STATE_CONNECTING,
  VCHAT_CALL_STATE_CONNECTED,
  VCHAT_CALL_STATE_RECONNECTING,
  VCHAT_CALL_STATE_ENDED,
} VChatCallState;

/**
 * VChatEndReason:
 * @VCHAT_END_REASON_NONE: the call has not ended
 * @VCHAT_END_REASON_HANGUP: this user hung up
 * @VCHAT_END_REASON_PEER_HANGUP: the other person hung up
 * @VCHAT_END_REASON_REJECTED: the call was declined (by either side)
 * @VCHAT_END_REASON_NEXT: this user moved on to the next stranger
 * @VCHAT_END_REASON_PEER_NEXT: the other person moved on
 * @VCHAT_END_REASON_PEER_LOST: the other person vanished
 * @VCHAT_END_REASON_NETWORK: the connection failed
 * @VCHAT_END_REASON_EXPIRED: the invite or the ringing timed out
 * @VCHAT_END_REASON_ERROR: something broke; the daemon's log says what
 *
 * Why a call ended.
 */
typedef enum /*< underscore_name=vchat_end_reason >*/ {
  VCHAT_END_REASON_NONE,
  VCHAT_END_REASON_HANGUP,
  VCHAT_END_REASON_PEER_HANGUP,
  VCHAT_END_REASON_REJECTED,
  VCHAT_END_REASON_NEXT,
  VCHAT_END_REASON_PEER_NEXT,
  VCHAT_END_REASON_PEER_LOST,
  VCHAT_END_REASON_NETWORK,
  VCHAT_END_REASON_EXPIRED,
  VCHAT_END_REASON_ERROR,
} VChatEndReason;

/**
 * VChatCallKind:
 * @VCHAT_CALL_KIND_RANDOM: a random stranger
 * @VCHAT_CALL_KIND_INVITE: an invited friend
 *
 * How the two people met.
 */
typedef enum /*< underscore_name=vchat_call_kind >*/ {
  VCHAT_CALL_KIND_RANDOM,
  VCHAT_CALL_KIND_INVITE,
} VChatCallKind;

/**
 * VChatCallDirection:
 * @VCHAT_CALL_DIRECTION_OUTGOING: this user started it (a random search, joining an invite)
 * @VCHAT_CALL_DIRECTION_INCOMING: someone joined this user's invite
 *
 * Who called whom.
 */
typedef enum /*< underscore_name=vchat_call_direction >*/ {
  VCHAT_CALL_DIRECTION_OUTGOING,
  VCHAT_CALL_DIRECTION_INCOMING,
} VChatCallDirection;

/**
 * VChatVideoKind:
 * @VCHAT_VIDEO_REMOTE: the other person's picture
 * @VCHAT_VIDEO_PREVIEW: this user's own camera, as sent
 *
 * Which picture of a call vchat_call_create_video_source() shows.
 */
typedef enum /*< underscore_name=vchat_video_kind >*/ {
  VCHAT_VIDEO_REMOTE,
  VCHAT_VIDEO_PREVIEW,
} VChatVideoKind;

G_END_DECLS
