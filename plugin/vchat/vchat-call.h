/* vchat-call.h: one call of the daemon
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VCHAT_INSIDE) && !defined(VCHAT_COMPILATION)
#error "Only <vchat/vchat.h> can be included directly."
#endif

#include <gio/gio.h>
#include <gst/gst.h>

#include "vchat-enums.h"
#include "vchat-stats.h"

G_BEGIN_DECLS

#define VCHAT_TYPE_CALL (vchat_call_get_type ())
G_DECLARE_FINAL_TYPE (VChatCall, vchat_call, VCHAT, CALL, GObject)

/* Properties (read-only, each with notify when the daemon changes it):
 *   "state" (VChatCallState), "end-reason" (VChatEndReason), "kind"
 *   (VChatCallKind), "direction" (VChatCallDirection), "peer-name" (s,
 *   "" when anonymous), "common-interests" (GStrv), "invite-code" (s or
 *   NULL), "stats" (VChatStats, NULL before any), "quality" (s: "good",
 *   "fair" or "poor"; NULL while not connected or not known), "muted" (b),
 *   "camera-enabled" (b), "peer-muted" (b), "peer-camera-enabled" (b),
 *   "remote-video-node" (s or NULL),
 *   "preview-node" (s or NULL), "object-path" (s).
 * Signals:
 *   "message-received" (const char *text, gint64 time): a chat message from
 *   the peer; time in microseconds since the epoch. "peer-typing" (): the
 *   peer is typing, at most once a second.
 */
const char *vchat_call_get_object_path (VChatCall *self);
VChatCallState vchat_call_get_state (VChatCall *self);
VChatEndReason vchat_call_get_end_reason (VChatCall *self);
VChatCallKind vchat_call_get_kind (VChatCall *self);
VChatCallDirection vchat_call_get_direction (VChatCall *self);
const char *vchat_call_get_peer_name (VChatCall *self);
const char *const *vchat_call_get_common_interests (VChatCall *self);
const char *vchat_call_get_invite_code (VChatCall *self);
VChatStats *vchat_call_dup_stats (VChatCall *self);
const char *vchat_call_get_quality (VChatCall *self);
gboolean vchat_call_get_muted (VChatCall *self);
gboolean vchat_call_get_camera_enabled (VChatCall *self);
gboolean vchat_call_get_peer_muted (VChatCall *self);
gboolean vchat_call_get_peer_camera_enabled (VChatCall *self);
const char *vchat_call_get_remote_video_node (VChatCall *self);
const char *vchat_call_get_preview_node (VChatCall *self);

void vchat_call_accept_async (VChatCall *self, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
gboolean vchat_call_accept_finish (VChatCall *self, GAsyncResult *result, GError **error);
void vchat_call_reject_async (VChatCall *self, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
gboolean vchat_call_reject_finish (VChatCall *self, GAsyncResult *result, GError **error);
void vchat_call_hangup_async (VChatCall *self, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
gboolean vchat_call_hangup_finish (VChatCall *self, GAsyncResult *result, GError **error);
/* Finishes with the new call, searching for the next stranger. */
void vchat_call_next_async (VChatCall *self, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);
VChatCall *vchat_call_next_finish (VChatCall *self, GAsyncResult *result, GError **error);
void vchat_call_set_muted_async (VChatCall *self, gboolean muted, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
gboolean vchat_call_set_muted_finish (VChatCall *self, GAsyncResult *result, GError **error);
void vchat_call_set_camera_enabled_async (VChatCall *self, gboolean enabled,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data);
gboolean vchat_call_set_camera_enabled_finish (VChatCall *self, GAsyncResult *result,
                                               GError **error);
void vchat_call_send_message_async (VChatCall *self, const char *text, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data);
gboolean vchat_call_send_message_finish (VChatCall *self, GAsyncResult *result, GError **error);
void vchat_call_send_typing_async (VChatCall *self, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data);
gboolean vchat_call_send_typing_finish (VChatCall *self, GAsyncResult *result, GError **error);
void vchat_call_report_async (VChatCall *self, const char *reason, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
gboolean vchat_call_report_finish (VChatCall *self, GAsyncResult *result, GError **error);

/* A ready GStreamer source bin (transfer floating) with one "src" pad of
 * raw video that shows the call's remote picture or the local preview
 * (pipewiresrc on the node, videoconvert); NULL with an error when the call
 * has no such node (yet). */
GstElement *vchat_call_create_video_source (VChatCall *self, VChatVideoKind kind,
                                            GError **error);

G_END_DECLS
