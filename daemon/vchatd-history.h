/* vchatd-history.h: the calls that ended, kept on disk
 *
 * One JSON file ($XDG_STATE_HOME/vchat/history.json), newest call first,
 * at most max_entries calls. Every change rewrites the whole file through a
 * temporary file and a rename, so a crash at any moment leaves either the
 * old file or the new one, never a torn one. Entries hold what a person
 * wants to see again (kind, direction, the peer's display name, start,
 * duration, end reason), never addresses or invite codes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define VCHATD_HISTORY_DEFAULT_MAX 200

#define VCHATD_TYPE_HISTORY (vchatd_history_get_type ())
G_DECLARE_FINAL_TYPE (VchatdHistory, vchatd_history, VCHATD, HISTORY, GObject)

/* @path: the file, or NULL for $XDG_STATE_HOME/vchat/history.json. Loads
 * what is there; a file that cannot be read is moved aside (warning) and
 * the history starts empty. */
VchatdHistory *vchatd_history_new (const char *path, guint max_entries);

const char *vchatd_history_get_path (VchatdHistory *self);

/* Drops the oldest entries beyond @max_entries (and rewrites the file). */
void vchatd_history_set_max_entries (VchatdHistory *self, guint max_entries);

/* @entry: a{sv} with kind, direction, peer-name (s), started, duration (t,
 * µs), end-reason (s); other keys are dropped. Saved at once. */
gboolean vchatd_history_add (VchatdHistory *self, GVariant *entry, GError **error);

/* aa{sv}, newest first; @limit 0 for all. Floating. */
GVariant *vchatd_history_list (VchatdHistory *self, guint limit);
guint vchatd_history_get_length (VchatdHistory *self);

/* Forgets every entry and removes the file. */
gboolean vchatd_history_clear (VchatdHistory *self, GError **error);

G_END_DECLS
