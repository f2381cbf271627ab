/* test-history.c: the call history file
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vchatd-history.h"

/* Warnings are part of what the history promises: collect them instead of
 * failing (vchatd logs structured, which g_test_expect_message misses). */
static GPtrArray *warnings;

static GLogWriterOutput
writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  if (level & G_LOG_LEVEL_WARNING) {
    for (gsize i = 0; i < n_fields; i++)
      if (g_str_equal (fields[i].key, "MESSAGE"))
        g_ptr_array_add (warnings, g_strdup (fields[i].value));
    return G_LOG_WRITER_HANDLED;
  }
  return g_log_writer_default (level, fields, n_fields, data);
}

static GVariant *
make_entry (const char *peer, guint64 started)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "kind", g_variant_new_string ("random"));
  g_variant_builder_add (&b, "{sv}", "direction", g_variant_new_string ("outgoing"));
  g_variant_builder_add (&b, "{sv}", "peer-name", g_variant_new_string (peer));
  g_variant_builder_add (&b, "{sv}", "started", g_variant_new_uint64 (started));
  g_variant_builder_add (&b, "{sv}", "duration", g_variant_new_uint64 (5 * G_USEC_PER_SEC));
  g_variant_builder_add (&b, "{sv}", "end-reason", g_variant_new_string ("peer-hangup"));
  /* Not for the history: must not reach the file. */
  g_variant_builder_add (&b, "{sv}", "invite-code", g_variant_new_string ("abcd-efgh-ijkl-mnop"));
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

/* VCHAT_TIMEOUT_MULTIPLIER: how many times slower than a plain build this
 * one runs (3 under `meson test --setup asan`). */
static double
timeout_multiplier (void)
{
  const char *m = g_getenv ("VCHAT_TIMEOUT_MULTIPLIER");
  double n = m ? g_ascii_strtod (m, NULL) : 1.0;

  return n >= 1.0 ? n : 1.0;
}

static char *
make_dir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("vchat-history-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static const char *
peer_of (GVariant *list, gsize i)
{
  g_autoptr (GVariant) entry = g_variant_get_child_value (list, i);
  const char *name = NULL;

  g_assert_true (g_variant_lookup (entry, "peer-name", "&s", &name));
  return g_intern_string (name);
}

static void
test_add_reload_bound (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *path = g_build_filename (dir, "sub", "history.json", NULL);
  g_autoptr (VchatdHistory) h = vchatd_history_new (path, 3);
  g_autoptr (VchatdHistory) again = NULL;
  g_autoptr (GVariant) list = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  GStatBuf st;

  g_assert_cmpuint (vchatd_history_get_length (h), ==, 0);
  for (guint i = 0; i < 5; i++) {
    g_autofree char *peer = g_strdup_printf ("Peer %u", i);
    g_autoptr (GVariant) e = make_entry (peer, 1000 + i);
    g_assert_true (vchatd_history_add (h, e, &error));
    g_assert_no_error (error);
  }
  /* Bounded: the newest three, newest first. */
  list = g_variant_ref_sink (vchatd_history_list (h, 0));
  g_assert_cmpuint (g_variant_n_children (list), ==, 3);
  g_assert_cmpstr (peer_of (list, 0), ==, "Peer 4");
  g_assert_cmpstr (peer_of (list, 2), ==, "Peer 2");
  g_clear_pointer (&list, g_variant_unref);
  list = g_variant_ref_sink (vchatd_history_list (h, 1));
  g_assert_cmpuint (g_variant_n_children (list), ==, 1);

  /* Private, and without what does not belong there. */
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_assert_null (strstr (text, "abcd-efgh"));

  /* A new daemon finds the same history. */
  again = vchatd_history_new (path, 3);
  g_clear_pointer (&list, g_variant_unref);
  list = g_variant_ref_sink (vchatd_history_list (again, 0));
  g_assert_cmpuint (g_variant_n_children (list), ==, 3);
  g_assert_cmpstr (peer_of (list, 0), ==, "Peer 4");

  /* A smaller bound drops the oldest at once, on disk too. */
  vchatd_history_set_max_entries (again, 1);
  g_clear_object (&again);
  again = vchatd_history_new (path, 100);
  g_assert_cmpuint (vchatd_history_get_length (again), ==, 1);

  g_assert_true (vchatd_history_clear (again, &error));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (vchatd_history_get_length (again), ==, 0);
  {
    g_autofree char *sub = g_path_get_dirname (path);
    g_rmdir (sub);
  }
  g_rmdir (dir);
}

static void
test_unreadable_moved_aside (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *path = g_build_filename (dir, "history.json", NULL);
  g_autofree char *aside = g_strconcat (path, ".unreadable", NULL);
  g_autofree char *stale = g_strconcat (path, ".AbC123", NULL);
  g_autoptr (VchatdHistory) h = NULL;

  g_assert_true (g_file_set_contents (path, "{\"calls\": [ {\"kind\": ", -1, NULL));
  g_assert_true (g_file_set_contents (stale, "half a write", -1, NULL));
  g_ptr_array_set_size (warnings, 0);
  h = vchatd_history_new (path, 10);
  g_assert_cmpuint (warnings->len, ==, 1);
  g_assert_true (g_pattern_match_simple ("*cannot be read*moved it to*", warnings->pdata[0]));
  g_assert_cmpuint (vchatd_history_get_length (h), ==, 0);
  g_assert_true (g_file_test (aside, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (stale, G_FILE_TEST_EXISTS));
  g_unlink (aside);
  g_rmdir (dir);
}

/* Kills a process that saves the history again and again, at random
 * moments, many times: whatever moment the kill hits, the file on disk is
 * a complete history. */
static void
test_kill_during_writes (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *path = g_build_filename (dir, "history.json", NULL);
  guint rounds = g_test_slow () ? 500 : 100;
  /* A sanitized child spends less of its time in the write a kill must
   * land in: it goes on, within bounds, until one has. */
  guint max_rounds = rounds * timeout_multiplier ();
  guint round;
  guint entries_seen = 0;
  guint torn_writes = 0; /* kills that left a save half done */

  for (round = 0; round < rounds || (torn_writes == 0 && round < max_rounds); round++) {
    pid_t pid = fork ();
    int status;

    g_assert_cmpint (pid, >=, 0);
    if (pid == 0) {
      VchatdHistory *h = vchatd_history_new (path, 500);
      for (guint64 i = 0;; i++) {
        g_autoptr (GVariant) e = make_entry ("A peer with a rather long display name", i);
        vchatd_history_add (h, e, NULL);
      }
    }
    /* A sanitized child takes longer to load the history before its first
     * save. */
    g_usleep (g_random_int_range (2000, 30000) * timeout_multiplier ());
    kill (pid, SIGKILL);
    g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
    {
      g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
      const char *name;
      while ((name = g_dir_read_name (d)))
        if (g_str_has_prefix (name, "history.json."))
          torn_writes++;
    }

    if (g_file_test (path, G_FILE_TEST_EXISTS)) {
      g_autoptr (JsonParser) parser = json_parser_new ();
      g_autoptr (GError) error = NULL;
      JsonObject *root;

      json_parser_load_from_file (parser, path, &error);
      g_assert_no_error (error);
      root = json_node_get_object (json_parser_get_root (parser));
      entries_seen = json_array_get_length (json_object_get_array_member (root, "calls"));
      g_assert_cmpuint (entries_seen, <=, 500);
    }
  }
  /* The kills did land in the middle of saves, and the bound held. */
  g_test_message ("%u of %u kills interrupted a save", torn_writes, round);
  g_assert_cmpuint (torn_writes, >, 0);
  g_assert_cmpuint (entries_seen, >, 0);
  {
    g_autoptr (VchatdHistory) h = vchatd_history_new (path, 500);
    g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
    g_assert_cmpuint (vchatd_history_get_length (h), ==, entries_seen);
    /* No temporary file survives the next start. */
    g_assert_cmpstr (g_dir_read_name (d), ==, "history.json");
    g_assert_null (g_dir_read_name (d));
    vchatd_history_clear (h, NULL);
  }
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  warnings = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (writer, NULL, NULL);
  g_test_add_func ("/history/add-reload-bound", test_add_reload_bound);
  g_test_add_func ("/history/unreadable-moved-aside", test_unreadable_moved_aside);
  g_test_add_func ("/history/kill-during-writes", test_kill_during_writes);
  return g_test_run ();
}
