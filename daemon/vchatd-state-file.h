/* vchatd-state-file.h: the daemon's files in $XDG_STATE_HOME/vchat/
 *
 * What vchatd keeps between runs (the call history, the open invites) is
 * one small JSON file each, replaced whole on every change: written to a
 * temporary file beside it, synced, and renamed over it, so that a crash at
 * any moment leaves the old file or the new one. Private to the user.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* $XDG_STATE_HOME/vchat/@name. */
char *vchatd_state_file_path (const char *name);

/* Saves @root at @path (mode 0600; missing folders are made 0700). */
gboolean vchatd_state_file_save (const char *path, JsonNode *root, GError **error);

/* Removes the temporary files a crash in the middle of a save left beside
 * @path (its name and a dot and six more characters). */
void vchatd_state_file_remove_stale (const char *path);

G_END_DECLS
