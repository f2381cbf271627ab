/* vchatd-manager.h: the daemon: io.github.vchat.VChat1.Manager and its calls
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "vchatd-call.h"

G_BEGIN_DECLS

typedef struct {
  char *server_url;
  char *display_name;
  VchatdMediaSettings media;
  GSettings *settings; /* NULL when the schema is not installed */
} VchatdManagerConfig;

#define VCHATD_TYPE_MANAGER (vchatd_manager_get_type ())
G_DECLARE_FINAL_TYPE (VchatdManager, vchatd_manager, VCHATD, MANAGER, GObject)

/* Exports the manager on @connection (the name is owned by the caller) and
 * connects to the signaling server. @config must outlive the manager. */
VchatdManager *vchatd_manager_new (GDBusConnection *connection, VchatdManagerConfig *config);
/* Ends every call (telling the server) and goes offline. */
void vchatd_manager_shutdown (VchatdManager *self);

G_END_DECLS
