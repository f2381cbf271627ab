/* vchatd-state-file.c: the daemon's files in $XDG_STATE_HOME/vchat/
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-state-file.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

char *
vchatd_state_file_path (const char *name)
{
  return g_build_filename (g_get_user_state_dir (), "vchat", name, NULL);
}

gboolean
vchatd_state_file_save (const char *path, JsonNode *root, GError **error)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *text = NULL;
  gsize len;

  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  text = json_generator_to_data (gen, &len);

  if (g_mkdir_with_parents (dir, 0700) < 0) {
    int saved = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                 "cannot make the folder %s: %s", dir, g_strerror (saved));
    return FALSE;
  }
  /* g_file_set_contents_full writes a temporary file beside @path, syncs it
   * (CONSISTENT) and renames it over @path. */
  return g_file_set_contents_full (
    path, text, len, G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_ONLY_EXISTING, 0600,
    error);
}

void
vchatd_state_file_remove_stale (const char *path)
{
  g_autofree char *dir_name = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autoptr (GDir) dir = g_dir_open (dir_name, 0, NULL);
  gsize base_len = strlen (base);
  const char *name;

  while (dir && (name = g_dir_read_name (dir))) {
    if (strlen (name) == base_len + 7 && g_str_has_prefix (name, base) && name[base_len] == '.') {
      g_autofree char *stale = g_build_filename (dir_name, name, NULL);
      g_debug ("removing %s, left by a crash during a save", stale);
      g_unlink (stale);
    }
  }
}
