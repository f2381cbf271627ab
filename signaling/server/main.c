/* main.c: vchat-signald
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "sigd-server.h"

static gboolean
reload_cb (gpointer data)
{
  sigd_server_reload (data);
  return G_SOURCE_CONTINUE;
}

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  SigdConfig config;
  g_autoptr (GError) error = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autofree char *url = NULL;
  SigdServer *server;

  setlocale (LC_ALL, "");

  if (!sigd_config_load (&config, &argc, &argv, &error)) {
    g_printerr ("vchat-signald: %s\nTry “vchat-signald --help”.\n", error->message);
    sigd_config_clear (&config);
    return 2;
  }
  /* Our own debug output only: libsoup's is about frames, not people. */
  if (config.verbose && !g_getenv ("G_MESSAGES_DEBUG"))
    g_setenv ("G_MESSAGES_DEBUG", "vchat-signald vchat-protocol", TRUE);

  server = sigd_server_new (&config, &error);
  if (!server) {
    g_printerr ("vchat-signald: %s\n", error->message);
    sigd_config_clear (&config);
    return 1;
  }

  /* The first line of output, which scripts (and the tests) read for the
   * port when --port is 0. */
  url = sigd_server_get_url (server);
  if (url && g_str_has_suffix (url, "/"))
    url[strlen (url) - 1] = '\0';
  printf ("vchat-signald: listening on %s\n", url);
  fflush (stdout);
  sigd_server_log_limits (server);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, quit_cb, loop);
  g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_unix_signal_add (SIGHUP, reload_cb, server);
  g_main_loop_run (loop);

  g_message ("shutting down");
  sigd_server_shutdown (server);
  /* Let the close frames go out. */
  for (int i = 0; i < 10 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  sigd_server_free (server);
  sigd_config_clear (&config);
  return 0;
}
