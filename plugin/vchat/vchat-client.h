/* vchat-client.h: the connection to vchatd
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VCHAT_INSIDE) && !defined(VCHAT_COMPILATION)
#error "Only <vchat/vchat.h> can be included directly."
#endif

#include <gio/gio.h>

#include "vchat-call.h"
#include "vchat-camera.h"
#include "vchat-enums.h"

G_BEGIN_DECLS

#define VCHAT_TYPE_CLIENT (vchat_client_get_type ())
G_DECLARE_FINAL_TYPE (VChatClient, vchat_client, VCHAT, CLIENT, GObject)

/* Properties (read-only, notify on change):
 *   "connection" (GDBusConnection, construct-only; NULL: the session bus),
 *   "connected" (b: the daemon is on the bus; follows it across restarts,
 *   starting it through D-Bus activation at first), "signaling-state"
 *   (VChatSignalingState), "server" (s), "version" (s), "cameras"
 *   (GListModel of VChatCamera), "camera" (s: the id in use, "" for none).
 * Signals:
 *   "call-added" (VChatCall *call): a call appeared (started here, by
 *   another program, or someone joined an invite);
 *   "incoming-call" (VChatCall *call): someone joined one of this user's
 *   invites: accept or reject it.
 */
void vchat_client_new_async (GDBusConnection *connection, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
VChatClient *vchat_client_new_finish (GAsyncResult *result, GError **error);
VChatClient *vchat_client_new_sync (GDBusConnection *connection, GCancellable *cancellable,
                                    GError **error);

gboolean vchat_client_get_connected (VChatClient *self);
VChatSignalingState vchat_client_get_signaling_state (VChatClient *self);
const char *vchat_client_get_server (VChatClient *self);
const char *vchat_client_get_version (VChatClient *self);
GListModel *vchat_client_get_cameras (VChatClient *self);
const char *vchat_client_get_camera (VChatClient *self);
/* The calls the daemon has (a GListModel of VChatCall), newest last; ended
 * calls stay a minute, as on the bus. */
GListModel *vchat_client_get_calls (VChatClient *self);

/* @interests: (nullable) (array zero-terminated=1); @language: (nullable). */
void vchat_client_start_random_async (VChatClient *self, const char *const *interests,
                                      const char *language, gboolean relay_only,
                                      GCancellable *cancellable, GAsyncReadyCallback callback,
                                      gpointer user_data);
VChatCall *vchat_client_start_random_finish (VChatClient *self, GAsyncResult *result,
                                             GError **error);
/* @ttl_seconds: 0 for the server's default; @display_name: (nullable). The
 * call is searching until a friend joins; its code and link come with it. */
void vchat_client_create_invite_async (VChatClient *self, guint ttl_seconds,
                                       const char *display_name, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data);
VChatCall *vchat_client_create_invite_finish (VChatClient *self, GAsyncResult *result,
                                              char **link, GError **error);
void vchat_client_join_invite_async (VChatClient *self, const char *code_or_link,
                                     GCancellable *cancellable, GAsyncReadyCallback callback,
                                     gpointer user_data);
VChatCall *vchat_client_join_invite_finish (VChatClient *self, GAsyncResult *result,
                                            GError **error);
void vchat_client_select_camera_async (VChatClient *self, const char *id,
                                       GCancellable *cancellable, GAsyncReadyCallback callback,
                                       gpointer user_data);
gboolean vchat_client_select_camera_finish (VChatClient *self, GAsyncResult *result,
                                            GError **error);
/* Finishes with a GPtrArray of VChatHistoryEntry, newest first. */
void vchat_client_get_history_async (VChatClient *self, guint limit, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *vchat_client_get_history_finish (VChatClient *self, GAsyncResult *result,
                                            GError **error);

G_END_DECLS
