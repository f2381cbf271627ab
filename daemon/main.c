/* main.c: vchatd, the vchat session daemon
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <sys/resource.h>
#include <gst/gst.h>
#include <locale.h>
#include <string.h>
#include <sys/prctl.h>

#include "vchatd-error.h"
#include "vchatd-manager.h"
#include "vchatd-media.h"

#define BUS_NAME "io.github.vchat.VChat1"
#define SCHEMA_ID "io.github.vchat.VChat1"
#define DEFAULT_SERVER "ws://127.0.0.1:8080/ws"

typedef struct {
  GMainLoop *loop;
  VchatdManager *manager;
  VchatdManagerConfig config;
  gboolean acquired;
  int status;
} Daemon;

static gboolean
quit_cb (gpointer data)
{
  Daemon *d = data;

  g_debug ("signal received, shutting down");
  g_main_loop_quit (d->loop);
  return G_SOURCE_REMOVE;
}

static void
name_acquired_cb (GDBusConnection *connection, const char *name, gpointer data)
{
  Daemon *d = data;

  d->acquired = TRUE;
  g_debug ("owning %s", name);
}

static void
name_lost_cb (GDBusConnection *connection, const char *name, gpointer data)
{
  Daemon *d = data;

  if (!d->acquired) {
    g_printerr ("vchatd: another vchatd owns %s on this bus; stop it, or start this one with "
                "--replace.\n",
                name);
    d->status = 1;
  } else {
    g_message ("replaced by another vchatd; exiting");
  }
  g_main_loop_quit (d->loop);
}

/* GSettings, when the schema is installed; command-line options win. */
static void
load_settings (VchatdManagerConfig *config)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr (GSettingsSchema)
    schema = source ? g_settings_schema_source_lookup (source, SCHEMA_ID, TRUE) : NULL;
  GSettings *settings;
  g_autofree char *camera = NULL;
  g_autofree char *microphone = NULL;
  g_autofree char *name = NULL;
  g_autofree char *speaker = NULL;

  if (!schema) {
    g_debug ("GSettings schema %s not installed; using defaults", SCHEMA_ID);
    config->media.private_addresses_invite = TRUE;
    return;
  }
  settings = config->settings = g_settings_new (SCHEMA_ID);
  if (!config->server_url)
    config->server_url = g_settings_get_string (settings, "server-url");
  camera = g_settings_get_string (settings, "camera");
  if (!config->media.camera_target && *camera)
    config->media.camera_target = g_steal_pointer (&camera);
  microphone = g_settings_get_string (settings, "microphone");
  if (!config->media.microphone_target && *microphone)
    config->media.microphone_target = g_steal_pointer (&microphone);
  speaker = g_settings_get_string (settings, "speaker");
  if (!config->media.speaker_target && *speaker)
    config->media.speaker_target = g_steal_pointer (&speaker);
  name = g_settings_get_string (settings, "display-name");
  if (!config->display_name && *name)
    config->display_name = g_steal_pointer (&name);
  if (!config->media.relay_only)
    config->media.relay_only = g_settings_get_boolean (settings, "relay-only");
  config->media.private_addresses_random =
    g_settings_get_boolean (settings, "private-addresses-random");
  config->media.private_addresses_invite =
    g_settings_get_boolean (settings, "private-addresses-invite");
  if (!config->media.max_bitrate_kbps)
    config->media.max_bitrate_kbps = g_settings_get_uint (settings, "max-bitrate");
  config->media.turn_server = g_settings_get_string (settings, "turn-server");
  config->media.reconnect_seconds = g_settings_get_uint (settings, "reconnect-timeout");
}

/* libpipewire 0.3.65 leaks an eventfd now and then when a call ends while
 * something reads its remote video (about 8 in 100 calls): with the soft
 * limit of 1024, a long-running daemon would run out. */
static void
raise_fd_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit (RLIMIT_NOFILE, &limit) != 0)
      g_debug ("cannot raise the file descriptor limit: %s", g_strerror (errno));
  }
}

/* Makes the process non-dumpable, first thing in main(), before any
 * thread exists and before the keyring (TURN credentials) is read: another
 * process of the same user can then neither ptrace it nor read its memory,
 * environment or file descriptors through /proc/PID (those entries belong
 * to root), and a crash writes no core file with secrets or with the peer's
 * pictures in it (fs.suid_dumpable=0, the usual setting). vchatd decodes
 * VP8 and Opus from strangers; this keeps what it holds from the rest of
 * the session.
 *
 * What it costs: no core dumps, and gdb -p, strace -p and pidfd_getfd need
 * root (CAP_SYS_PTRACE). For debugging, VCHATD_DUMPABLE=1 in the
 * environment leaves the process dumpable; the tests that read the core
 * file of a crashed daemon set it.
 *
 * PipeWire's module-access opens /proc/PID/root of every client to tell a
 * Flatpak app; for a non-dumpable client of a PipeWire of the same,
 * unprivileged user that open fails with EACCES, and PipeWire 0.3.65
 * grants such a client "unrestricted" access (module-access.c,
 * context_check_access), which WirePlumber 0.4.13 leaves alone: the camera
 * keeps working. tests/daemon/test_dumpable.py checks a call that way.
 *
 * Returns TRUE when the process was left dumpable on request; sets
 * *errno_out when prctl() failed (0 otherwise). The caller logs either
 * once logging is set up. */
static gboolean
make_undumpable (int *errno_out)
{
  const char *keep = getenv ("VCHATD_DUMPABLE");

  *errno_out = 0;
  if (keep && strcmp (keep, "1") == 0)
    return TRUE;
  if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    *errno_out = errno;
  return FALSE;
}

int
main (int argc, char **argv)
{
  Daemon d = { 0 };
  gboolean replace = FALSE, verbose = FALSE, version = FALSE, no_nodes = FALSE;
  int watchdog = 0;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusConnection) bus = NULL;
  guint owner_id;
  GOptionEntry entries[] = {
    { "server", 's', 0, G_OPTION_ARG_STRING, &d.config.server_url,
      "Signaling server, e.g. wss://chat.example.org/ws (default: the GSettings key server-url, "
      "else " DEFAULT_SERVER ")",
      "URL" },
    { "camera", 0, 0, G_OPTION_ARG_STRING, &d.config.media.camera_target,
      "Camera to use: a PipeWire node name as `vchatctl devices` lists (default: the first)",
      "ID" },
    { "microphone", 0, 0, G_OPTION_ARG_STRING, &d.config.media.microphone_target,
      "Microphone to use: a PipeWire node name (default: the default source)", "ID" },
    { "speaker", 0, 0, G_OPTION_ARG_STRING, &d.config.media.speaker_target,
      "Where the other person's voice plays: a PipeWire node name (default: the default output)",
      "ID" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &d.config.display_name,
      "Display name shown to the people you call", "NAME" },
    { "relay-only", 0, 0, G_OPTION_ARG_NONE, &d.config.media.relay_only,
      "Send media only through TURN, so strangers never learn your address", NULL },
    { "video-source", 0, 0, G_OPTION_ARG_STRING, &d.config.media.video_source,
      "A GStreamer source description to send instead of a camera (for testing)", "PIPELINE" },
    { "audio-source", 0, 0, G_OPTION_ARG_STRING, &d.config.media.audio_source,
      "A GStreamer source description to send instead of a microphone (for testing)", "PIPELINE" },
    { "audio-sink", 0, 0, G_OPTION_ARG_STRING, &d.config.media.audio_sink,
      "Where the peer's sound goes instead of the default output (for testing)", "PIPELINE" },
    { "ice-address", 0, 0, G_OPTION_ARG_STRING_ARRAY, &d.config.media.ice_addresses,
      "Gather ICE candidates only on this local address (repeatable; for testing: libnice "
      "leaves out the loopback otherwise)",
      "ADDRESS" },
    { "no-pipewire-nodes", 0, 0, G_OPTION_ARG_NONE, &no_nodes,
      "Do not publish remote video and preview as PipeWire nodes", NULL },
    { "watchdog", 0, 0, G_OPTION_ARG_INT, &watchdog,
      "Seconds without media from the peer before the call counts as lost (default 5)", "S" },
    { "replace", 'r', 0, G_OPTION_ARG_NONE, &replace, "Replace a running vchatd", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log what happens (no message contents)",
      NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL }
  };

  int dumpable_errno;
  gboolean dumpable = make_undumpable (&dumpable_errno);

  setlocale (LC_ALL, "");
  /* Notifications and the error messages of the D-Bus API are in the
   * session's language. VCHAT_LOCALEDIR: an uninstalled build's (tests). */
  bindtextdomain (GETTEXT_PACKAGE,
                  g_getenv ("VCHAT_LOCALEDIR") ? g_getenv ("VCHAT_LOCALEDIR") : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  raise_fd_limit ();
  ctx = g_option_context_new (NULL);
  g_option_context_set_summary (
    ctx, "The vchat session daemon: owns the camera, the microphone and every call,\n"
         "and offers them on the session bus as io.github.vchat.VChat1. Usually\n"
         "started by D-Bus activation or `systemctl --user start vchatd`; driven\n"
         "with vchatctl.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("vchatd: %s\nTry “vchatd --help”.\n", error->message);
    return 2;
  }
  if (version) {
    g_print ("vchatd %s\n", VCHAT_VERSION);
    return 0;
  }
  if (verbose && !g_getenv ("G_MESSAGES_DEBUG"))
    g_setenv ("G_MESSAGES_DEBUG", "vchatd", TRUE);
  vchatd_media_install_log_filters ();
  if (dumpable)
    g_debug ("VCHATD_DUMPABLE=1: staying dumpable (core dumps, ptrace and /proc/PID/mem "
             "are open to this user)");
  else if (dumpable_errno)
    g_warning ("cannot make the process non-dumpable: %s", g_strerror (dumpable_errno));

  load_settings (&d.config);
  if (!d.config.server_url || !*d.config.server_url) {
    g_free (d.config.server_url);
    d.config.server_url = g_strdup (DEFAULT_SERVER);
  }
  d.config.media.publish_nodes = !no_nodes;
  d.config.media.watchdog_seconds = watchdog > 0 ? watchdog : 5;

  /* Registers the D-Bus error names before anything can fail with them. */
  (void) VCHATD_ERROR;

  bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (!bus) {
    g_printerr ("vchatd: cannot reach the session bus: %s\n", error->message);
    return 1;
  }
  g_dbus_connection_set_exit_on_close (bus, FALSE);

  d.loop = g_main_loop_new (NULL, FALSE);
  vchatd_media_hold_pipewire ();
  vchatd_media_warm_up ();
  d.manager = vchatd_manager_new (bus, &d.config);
  owner_id = g_bus_own_name_on_connection (bus, BUS_NAME,
                                           G_BUS_NAME_OWNER_FLAGS_ALLOW_REPLACEMENT |
                                             (replace ? G_BUS_NAME_OWNER_FLAGS_REPLACE : 0),
                                           name_acquired_cb, name_lost_cb, &d, NULL);
  g_unix_signal_add (SIGINT, quit_cb, &d);
  g_unix_signal_add (SIGTERM, quit_cb, &d);

  g_main_loop_run (d.loop);

  g_bus_unown_name (owner_id);
  vchatd_manager_shutdown (d.manager);
  /* Let the goodbye reach the server. */
  for (int i = 0; i < 20 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  g_clear_object (&d.manager);
  /* Calls stop their pipelines on other threads; give them a moment, but
   * never hang on one stuck in PipeWire. */
  if (!vchatd_media_wait_stopped (2000))
    g_warning ("a call's media did not stop in time; exiting anyway");
  else
    vchatd_media_release_pipewire ();
  vchatd_media_warm_up_join ();
  g_dbus_connection_flush_sync (bus, NULL, NULL);
  g_main_loop_unref (d.loop);
  g_clear_object (&d.config.settings);
  g_free (d.config.server_url);
  g_free (d.config.display_name);
  g_free (d.config.media.camera_target);
  g_free (d.config.media.microphone_target);
  g_free (d.config.media.speaker_target);
  g_free (d.config.media.video_source);
  g_free (d.config.media.audio_source);
  g_free (d.config.media.audio_sink);
  g_free (d.config.media.turn_server);
  g_strfreev (d.config.media.ice_addresses);
  g_free (d.config.media.turn_username);
  g_free (d.config.media.turn_password);
  return d.status;
}
