/* vchatd-signaling.h: the daemon's connection to vchat-signald
 *
 * One WebSocket to the signaling server, kept up: it says hello, resumes its
 * session with the server's token after a drop, and reconnects with growing
 * pauses (1 s, 2 s, 4 s … 30 s). Messages from the server are parsed and
 * validated by the protocol library before anyone sees them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "vchat-protocol.h"

G_BEGIN_DECLS

typedef enum {
  VCHATD_SIGNALING_OFFLINE,
  VCHATD_SIGNALING_CONNECTING,
  VCHATD_SIGNALING_ONLINE,
  VCHATD_SIGNALING_RECONNECTING,
} VchatdSignalingState;

const char *vchatd_signaling_state_to_string (VchatdSignalingState state);

#define VCHATD_TYPE_SIGNALING (vchatd_signaling_get_type ())
G_DECLARE_FINAL_TYPE (VchatdSignaling, vchatd_signaling, VCHATD, SIGNALING, GObject)

/* @url: ws:// or wss:// URL of the server's /ws (a http(s):// base URL is
 * turned into its /ws). @client_name: the display name sent in hello. */
VchatdSignaling *vchatd_signaling_new (const char *url, const char *display_name);
void vchatd_signaling_start (VchatdSignaling *self);
void vchatd_signaling_stop (VchatdSignaling *self);
/* Connects anew to another server (the session starts over). */
void vchatd_signaling_set_url (VchatdSignaling *self, const char *url);
/* The name sent in the next hello (a session keeps the name it began with). */
void vchatd_signaling_set_display_name (VchatdSignaling *self, const char *display_name);

/* The access token for hello (from the keyring), or NULL. A change
 * connects again at once (resuming the session). */
void vchatd_signaling_set_token (VchatdSignaling *self, const char *token);
/* The server's message when it refused our token (or its absence), else
 * NULL. The state is then offline; retries are slow until the token
 * changes. */
const char *vchatd_signaling_get_unauthorized (VchatdSignaling *self);
gboolean vchatd_signaling_has_token (VchatdSignaling *self);

VchatdSignalingState vchatd_signaling_get_state (VchatdSignaling *self);
const char *vchatd_signaling_get_url (VchatdSignaling *self);
/* The ice_servers of the last welcome, matched or incoming (the TURN
 * servers come with the last two), or NULL before any. */
JsonArray *vchatd_signaling_get_ice_servers (VchatdSignaling *self);

/* Sends @msg (a protocol object) when online; FALSE with
 * G_IO_ERROR_NOT_CONNECTED otherwise. */
gboolean vchatd_signaling_send (VchatdSignaling *self, JsonObject *msg, GError **error);
/* Asks the server for a sign of life now (a call's media broke: the
 * signaling connection may have gone with it); without an answer within a
 * few seconds the connection is made again and the session resumed, and
 * what was sent meanwhile goes out on it. @reason (a static string) is
 * logged. */
void vchatd_signaling_check (VchatdSignaling *self, const char *reason);

/* Signals:
 *   "message" (VchatMsg *msg): a valid message from the server, other than
 *     welcome/ping/pong, which are handled here.
 *   "session-lost" (): the server did not resume our session (it expired):
 *     every call and queue place of the old session is gone.
 *   "notify::state"
 */

G_END_DECLS
