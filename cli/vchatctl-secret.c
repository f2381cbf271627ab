/* vchatctl-secret.c: secret set|clear|list, the credentials in the keyring
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Values come from standard input, never from the command line: argv is
 * readable by every user in /proc. After a change a running vchatd is told
 * to reload (without starting one: a daemon that starts reads the keyring
 * anyway).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "vchat-secret.h"
#include "vchatctl.h"

#include <glib/gi18n.h>

/* Longest value taken; the server's token is at most 256 bytes. */
#define MAX_VALUE 4096

static gboolean
unknown_name (const char *name, GError **error)
{
  g_autofree char *names = vchat_secret_names_joined (", ");

  g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE,
               _ ("secret: unknown name '%s'; the names are: %s"), name, names);
  return FALSE;
}

static gboolean
parse_name (const char *name, VchatSecret *secret, GError **error)
{
  if (!name) {
    g_autofree char *names = vchat_secret_names_joined (", ");
    g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE,
                 _ ("secret: missing NAME (one of: %s)"), names);
    return FALSE;
  }
  if (!vchat_secret_from_name (name, secret))
    return unknown_name (name, error);
  return TRUE;
}

/* Keyring errors become vchatctl failures (exit 1): their D-Bus error names
 * must not read as "vchatd is not running". */
static gboolean
keyring_failed (GError *local, GError **error)
{
  g_dbus_error_strip_remote_error (local);
  g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_FAILED, "%s", local->message);
  g_error_free (local);
  return FALSE;
}

/* Reads the value: typed without echo at a terminal, else all of standard
 * input; one trailing newline is not part of it. */
static char *
read_value (const char *name, GError **error)
{
  g_autoptr (GString) value = g_string_new (NULL);
  gboolean tty = isatty (STDIN_FILENO);
  struct termios saved, quiet;
  gboolean echo_off = FALSE;
  char buf[512];
  size_t n;

  if (tty) {
    fprintf (stderr, _ ("Value for %s (not shown): "), name);
    fflush (stderr);
    if (tcgetattr (STDIN_FILENO, &saved) == 0) {
      quiet = saved;
      quiet.c_lflag &= ~(ECHO);
      quiet.c_lflag |= ECHONL;
      echo_off = tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
    }
    if (fgets (buf, sizeof buf, stdin))
      g_string_append (value, buf);
    if (echo_off)
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved);
    explicit_bzero (buf, sizeof buf);
  } else {
    while ((n = fread (buf, 1, sizeof buf, stdin)) > 0 && value->len <= MAX_VALUE)
      g_string_append_len (value, buf, n);
    explicit_bzero (buf, sizeof buf);
    if (ferror (stdin)) {
      explicit_bzero (value->str, value->len);
      g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_FAILED,
                   _ ("cannot read the value from standard input: %s"), g_strerror (errno));
      return NULL;
    }
  }

  if (value->len && value->str[value->len - 1] == '\n') {
    g_string_truncate (value, value->len - 1);
    if (value->len && value->str[value->len - 1] == '\r')
      g_string_truncate (value, value->len - 1);
  }
  if (value->len == 0 || value->len > MAX_VALUE || strlen (value->str) != value->len ||
      !g_utf8_validate (value->str, value->len, NULL)) {
    explicit_bzero (value->str, value->len);
    if (value->len == 0)
      g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE,
                   _ ("secret: the value for %s is empty; to remove it, use: vchatctl secret "
                      "clear %s"),
                   name, name);
    else if (value->len > MAX_VALUE)
      g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE,
                   _ ("secret: the value for %s is too long"), name);
    else
      g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE,
                   _ ("secret: the value for %s is not UTF-8 text"), name);
    return NULL;
  }
  return g_string_free (g_steal_pointer (&value), FALSE);
}

/* Tells a running vchatd; one that is not running is not started. */
static void
tell_daemon (Vchatctl *ctl)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;

  if (!vchatctl_get_bus (ctl, NULL))
    return;
  reply = g_dbus_connection_call_sync (ctl->bus, VCHAT_BUS_NAME, VCHAT_MANAGER_PATH,
                                       VCHAT_MANAGER_IFACE, "ReloadSecrets", NULL, NULL,
                                       G_DBUS_CALL_FLAGS_NO_AUTO_START, 30 * 1000, NULL, &error);
  if (reply || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER))
    return;
  g_dbus_error_strip_remote_error (error);
  fprintf (stderr, _ ("vchatctl: the keyring was changed, but vchatd could not reload it: %s\n"),
           error->message);
}

static gboolean
secret_set (Vchatctl *ctl, VchatSecret secret, GError **error)
{
  GError *local = NULL;
  char *value = read_value (vchat_secret_name (secret), error);
  gboolean ok;

  if (!value)
    return FALSE;
  ok = vchat_secret_store_sync (secret, value, NULL, &local);
  explicit_bzero (value, strlen (value));
  g_free (value);
  if (!ok)
    return keyring_failed (local, error);
  if (!ctl->json)
    printf (_ ("%s is set.\n"), vchat_secret_name (secret));
  else
    printf ("{\"name\": \"%s\", \"set\": true}\n", vchat_secret_name (secret));
  tell_daemon (ctl);
  return TRUE;
}

static gboolean
secret_clear (Vchatctl *ctl, VchatSecret secret, GError **error)
{
  GError *local = NULL;
  gboolean removed = FALSE;

  if (!vchat_secret_clear_sync (secret, &removed, NULL, &local))
    return keyring_failed (local, error);
  if (!ctl->json)
    printf (removed ? _ ("%s is cleared.\n") : _ ("%s was not set.\n"), vchat_secret_name (secret));
  else
    printf ("{\"name\": \"%s\", \"set\": false}\n", vchat_secret_name (secret));
  if (removed)
    tell_daemon (ctl);
  return TRUE;
}

static gboolean
secret_list (Vchatctl *ctl, GError **error)
{
  g_autoptr (JsonObject) json = json_object_new ();
  g_autoptr (VchatctlTable) table = vchatctl_table_new (2, _ ("NAME"), _ ("STATE"));

  for (guint i = 0; i < VCHAT_SECRET_N; i++) {
    GError *local = NULL;
    char *value = vchat_secret_lookup_sync (i, NULL, &local);
    gboolean set = value != NULL;

    vchat_secret_free (value);
    if (local)
      return keyring_failed (local, error);
    json_object_set_boolean_member (json, vchat_secret_name (i), set);
    /* Translators: whether a credential is in the keyring. */
    vchatctl_table_add (table, vchat_secret_name (i), set ? _ ("set") : _ ("not set"));
  }
  if (ctl->json) {
    g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), json);
    vchatctl_print_json (node);
  } else {
    vchatctl_table_print (table, "");
  }
  return TRUE;
}

static gboolean
secret_run (Vchatctl *ctl, char **args, GError **error)
{
  VchatSecret secret;

  if (g_str_equal (args[0], "list")) {
    if (args[1]) {
      g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE,
                   _ ("secret: unexpected argument '%s'"), args[1]);
      return FALSE;
    }
    return secret_list (ctl, error);
  }
  if (g_str_equal (args[0], "set"))
    return parse_name (args[1], &secret, error) && secret_set (ctl, secret, error);
  if (g_str_equal (args[0], "clear"))
    return parse_name (args[1], &secret, error) && secret_clear (ctl, secret, error);
  g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE,
               _ ("secret: unknown action '%s'; use set, clear or list"), args[0]);
  return FALSE;
}

const VchatctlCommand vchatctl_secret_commands[] = {
  { "secret", "ACTION", N_ ("Set, clear or list the credentials in the keyring"),
    /* xgettext:no-c-format */
    N_ ("ACTION is one of: set NAME, clear NAME, list.\n"
        "\n"
        "set NAME reads the value from standard input (typed without echo at a\n"
        "terminal; one trailing newline is dropped) and keeps it in the keyring, where\n"
        "vchatd finds it; clear NAME removes it; list shows which names are set, never\n"
        "their values. A running vchatd is told to reload them.\n"
        "\n"
        "Names:\n"
        "  server-token   access token of a private signaling server\n"
        "  turn-username  user name for the TURN server of the setting turn-server\n"
        "  turn-password  password for that TURN server\n"
        "\n"
        "Example: printf %s TOKEN | vchatctl secret set server-token\n"),
    NULL, 1, 2, secret_run },
  { NULL }
};
