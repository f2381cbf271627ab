/* vchat-private.h: what the parts of libvchat share, not installed
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vchat-dbus.h"
#include "vchat/vchat.h"

G_BEGIN_DECLS

#define VCHAT_BUS_NAME "io.github.vchat.VChat1"
#define VCHAT_MANAGER_PATH "/io/github/vchat/VChat1"

/* The value of @nick in the enum @type, or @fallback (with a g_debug) when the
 * daemon sent a string this library does not know. */
int _vchat_enum_from_nick (GType type, const char *nick, int fallback);

/* Turns a GDBus error into a VCHAT_ERROR with a readable message: the
 * daemon's own errors already arrive in the domain; a vanished daemon
 * becomes VCHAT_ERROR_NO_DAEMON. Cancellation stays G_IO_ERROR_CANCELLED. */
GError *_vchat_error_from_dbus (GError *error);
void _vchat_error_ensure_registered (void);

VChatStats *_vchat_stats_new_from_variant (GVariant *dict);
VChatHistoryEntry *_vchat_history_entry_new_from_variant (GVariant *dict);

VChatCamera *_vchat_camera_new (const char *id, const char *name, gboolean is_default);

VChatCall *_vchat_call_new (VChatClient *client, VchatDBusCall *proxy);
/* The daemon that had this call is gone: the call is over. */
void _vchat_call_mark_gone (VChatCall *self);
void _vchat_call_detach_client (VChatCall *self);
/* The invite code as CreateInvite returned it, until the property says so. */
void _vchat_call_set_invite_code (VChatCall *self, const char *code);

/* Resolves an object path the daemon returned to its VChatCall, creating it
 * when the object manager has not announced it yet. */
void _vchat_client_resolve_call_async (VChatClient *self, const char *path,
                                       GCancellable *cancellable, GAsyncReadyCallback callback,
                                       gpointer user_data);
VChatCall *_vchat_client_resolve_call_finish (VChatClient *self, GAsyncResult *result,
                                              GError **error);
GDBusConnection *_vchat_client_get_dbus_connection (VChatClient *self);

G_END_DECLS
