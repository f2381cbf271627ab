/* vchatd-call.h: one call, as the D-Bus object io.github.vchat.VChat1.Call
 *
 * A call follows the rules of vchatd-call-state.h, speaks for itself to the
 * signaling server (through the manager's VchatdSignaling) and owns its
 * media session while it has one.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "vchat-dbus.h"
#include "vchat-protocol.h"
#include "vchatd-call-state.h"
#include "vchatd-options.h"
#include "vchatd-signaling.h"

G_BEGIN_DECLS

/* What a call needs to know to build its media session; owned by the
 * manager, read when the call connects. */
typedef struct {
  char *camera_target;     /* PipeWire node, or NULL: no camera */
  char *microphone_target; /* PipeWire node, or NULL: none */
  char *video_source;      /* a bin description instead of the camera (tests) */
  char *audio_source;
  char *speaker_target; /* PipeWire node the peer's voice plays on, or NULL: the default */
  char *audio_sink;    /* a bin description instead of the speaker (tests) */
  gboolean relay_only; /* random calls through TURN, when there is one */
  /* Host candidates with private, link-local or unique-local addresses go
   * to the peer (random calls, invited calls). */
  gboolean private_addresses_random;
  gboolean private_addresses_invite;
  guint max_bitrate_kbps;
  gboolean publish_nodes; /* remote video and preview as PipeWire nodes */
  guint watchdog_seconds;
  guint reconnect_seconds; /* a broken call ends after this long without media */
  /* The user's own TURN server (GSettings turn-server, "" for none) and its
   * credentials from the keyring (NULL when not set), used in addition to
   * the servers of welcome. The credentials are never logged. */
  char *turn_server;
  char *turn_username;
  char *turn_password;
  GStrv ice_addresses; /* --ice-address (tests), or NULL */
} VchatdMediaSettings;

#define VCHATD_TYPE_CALL (vchatd_call_get_type ())
G_DECLARE_FINAL_TYPE (VchatdCall, vchatd_call, VCHATD, CALL, GObject)

VchatdCall *vchatd_call_new (GDBusObjectManagerServer *object_manager, guint number,
                             VchatdSignaling *signaling, const VchatdMediaSettings *media,
                             VchatdCallKind kind, VchatdCallState initial,
                             const VchatdCallOptions *options);

const char *vchatd_call_get_path (VchatdCall *self);
VchatdCallState vchatd_call_get_state (VchatdCall *self);
VchatdCallKind vchatd_call_get_kind (VchatdCall *self);
const char *vchatd_call_get_server_id (VchatdCall *self);
const char *vchatd_call_get_invite_code (VchatdCall *self);
const VchatdCallOptions *vchatd_call_get_options (VchatdCall *self);
/* VCHATD_END_NONE until the call has ended. */
VchatdEndReason vchatd_call_get_end_reason (VchatdCall *self);
/* The Peer property: a{sv} with "name", "client", "common-interests". */
GVariant *vchatd_call_get_peer (VchatdCall *self);

/* Answering an incoming call, from D-Bus or a notification: the first answer
 * wins, later ones fail with VCHATD_ERROR_INVALID_STATE. */
gboolean vchatd_call_accept (VchatdCall *self, GError **error);
gboolean vchatd_call_reject (VchatdCall *self, GError **error);

/* From the manager's routing of server messages. */
void vchatd_call_set_invite (VchatdCall *self, const char *code, const char *web_link);
void vchatd_call_handle_message (VchatdCall *self, VchatMsg *msg);
/* The user chose another camera, or another bitrate: a running media
 * session follows (a call not yet connected reads the settings when it
 * does). */
void vchatd_call_set_camera (VchatdCall *self, const char *target);
void vchatd_call_set_max_bitrate (VchatdCall *self, guint kbps);
/* Ends the call now (the session with the server is gone, or shutdown). */
/* The signaling server forgot the call (it restarted) while its media may
 * still flow: asks it to pair this side with the peer again (the call's
 * secret). FALSE if the call cannot be rejoined (not in a call, or a
 * server that gave no secret): end it. */
gboolean vchatd_call_rejoin (VchatdCall *self);
void vchatd_call_end (VchatdCall *self, VchatdEndReason reason, gboolean tell_server);

/* Signals:
 *   "ended" (): the call reached ENDED.
 *   "next-requested" (): the user pressed Next: the manager makes the new
 *     call (and answers the D-Bus method through vchatd_call_complete_next).
 *   "incoming" (GVariant *peer): someone joined this invite.
 *   "state-changed" (guint old_state): State changed; the new one is
 *     vchatd_call_get_state(), and when it is ENDED the end reason is set.
 *   "device-failed" (const char *device, const char *message): the camera,
 *     microphone or a published node failed; the call goes on without it.
 */
void vchatd_call_complete_next (VchatdCall *self, GDBusMethodInvocation *invocation,
                                const char *new_path);

G_END_DECLS
