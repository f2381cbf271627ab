/* vchatctl-calls.c: the verbs that start, answer, steer and end calls
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include "vchat-link.h"
#include "vchatctl.h"

#include <glib/gi18n.h>

static char **opt_interests;
static char *opt_lang;
static gboolean opt_relay_only;
static gboolean opt_wait;
static double opt_timeout;
static int opt_ttl;
static char *opt_name;
static char *opt_call;

#define WAIT_ENTRY                                                                                 \
  {                                                                                                \
    "wait", 'w', 0, G_OPTION_ARG_NONE, &opt_wait,                                                  \
      N_ ("Wait until connected; exit 1 if the call ends instead"), NULL                           \
  }
#define TIMEOUT_ENTRY                                                                              \
  {                                                                                                \
    "timeout", 't', 0, G_OPTION_ARG_DOUBLE, &opt_timeout,                                          \
      N_ ("Wait at most S seconds (exit 3 then; implies --wait)"), "S"                             \
  }
#define CALL_ENTRY                                                                                 \
  {                                                                                                \
    "call", 'c', 0, G_OPTION_ARG_FILENAME, &opt_call,                                              \
      N_ ("The call, by number or path (default: the current one)"), "CALL"                        \
  }

static gboolean
check_text (const char *what, const char *text, GError **error)
{
  if (text && !g_utf8_validate (text, -1, NULL)) {
    g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE, _ ("%s is not valid UTF-8"), what);
    return FALSE;
  }
  return TRUE;
}

/* --timeout implies --wait; returns FALSE on a bad value. */
static gboolean
check_wait (Vchatctl *ctl, GError **error)
{
  if (opt_timeout < 0) {
    g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE,
                 _ ("%s: --timeout must be a number of seconds above 0"), ctl->command->name);
    return FALSE;
  }
  if (opt_timeout > 0)
    opt_wait = TRUE;
  return TRUE;
}

/* Prints a call a method returned: its path, or {"id", "path"} as JSON. */
static void
print_new_call (Vchatctl *ctl, const char *path)
{
  if (ctl->json) {
    g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);
    JsonObject *object = json_object_new ();
    json_object_set_int_member (object, "id", vchatctl_call_number (path));
    json_object_set_string_member (object, "path", path);
    json_node_take_object (root, object);
    vchatctl_print_json (root);
  } else {
    puts (path);
    fflush (stdout);
  }
}

static gboolean
wait_for_path (Vchatctl *ctl, const char *path, GError **error)
{
  g_autoptr (VchatDBusCall) call = NULL;

  if (!opt_wait)
    return TRUE;
  call = vchatctl_call_proxy (ctl, path, error);
  if (!call)
    return FALSE;
  return vchatctl_wait_connected (ctl, call, opt_timeout, error);
}

static const GOptionEntry random_options[] = {
  { "interest", 'i', 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_interests,
    N_ ("Prefer someone who shares this interest (repeat it, or separate tags with commas)"),
    "TAG" },
  { "lang", 'l', 0, G_OPTION_ARG_FILENAME, &opt_lang,
    N_ ("Prefer someone who speaks this language, e.g. en"), "CODE" },
  { "relay-only", 'r', 0, G_OPTION_ARG_NONE, &opt_relay_only,
    N_ ("Send media only through the TURN relay, so the stranger never learns your address"),
    NULL },
  WAIT_ENTRY,
  TIMEOUT_ENTRY,
  { NULL }
};

static gboolean
random_run (Vchatctl *ctl, char **args, GError **error)
{
  g_autoptr (GVariantBuilder) options = g_variant_builder_new (G_VARIANT_TYPE_VARDICT);
  g_autoptr (GPtrArray) tags = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *path = NULL;
  VchatDBusManager *manager;

  if (!check_wait (ctl, error) || !check_text ("--lang", opt_lang, error))
    return FALSE;
  for (char **i = opt_interests; i && *i; i++) {
    g_auto (GStrv) parts = g_strsplit (*i, ",", -1);
    if (!check_text ("--interest", *i, error))
      return FALSE;
    for (char **p = parts; *p; p++) {
      g_strstrip (*p);
      if (!vchatctl_check_display_text ("--interest", *p, error))
        return FALSE;
      if (**p)
        g_ptr_array_add (tags, g_strdup (*p));
    }
  }
  if (tags->len)
    g_variant_builder_add (options, "{sv}", "interests",
                           g_variant_new_strv ((const char *const *) tags->pdata, tags->len));
  if (opt_lang)
    g_variant_builder_add (options, "{sv}", "language", g_variant_new_string (opt_lang));
  if (opt_relay_only)
    g_variant_builder_add (options, "{sv}", "relay_only", g_variant_new_boolean (TRUE));

  manager = vchatctl_get_manager (ctl, error);
  if (!manager)
    return FALSE;
  if (!vchat_dbus_manager_call_start_random_sync (manager, g_variant_builder_end (options), &path,
                                                  NULL, error))
    return FALSE;
  print_new_call (ctl, path);
  return wait_for_path (ctl, path, error);
}

static const GOptionEntry invite_options[] = {
  { "ttl", 0, 0, G_OPTION_ARG_INT, &opt_ttl,
    N_ ("Seconds until the invite expires (default 600, at least 10)"), "S" },
  { "name", 'n', 0, G_OPTION_ARG_FILENAME, &opt_name, N_ ("The name your friend sees when joining"),
    "NAME" },
  { NULL }
};

static gboolean
invite_run (Vchatctl *ctl, char **args, GError **error)
{
  g_autoptr (GVariantBuilder) options = g_variant_builder_new (G_VARIANT_TYPE_VARDICT);
  g_autofree char *path = NULL, *code = NULL, *link = NULL;
  g_autoptr (VchatDBusCall) call = NULL;
  const char *web = NULL;
  VchatDBusManager *manager;

  if (opt_ttl < 0) {
    g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE,
                 _ ("invite: --ttl must be a number of seconds above 0"));
    return FALSE;
  }
  if (!vchatctl_check_display_text ("--name", opt_name, error))
    return FALSE;
  if (opt_ttl > 0)
    g_variant_builder_add (options, "{sv}", "ttl", g_variant_new_uint32 ((guint32) opt_ttl));
  if (opt_name)
    g_variant_builder_add (options, "{sv}", "display_name", g_variant_new_string (opt_name));

  manager = vchatctl_get_manager (ctl, error);
  if (!manager)
    return FALSE;
  if (!vchat_dbus_manager_call_create_invite_sync (manager, g_variant_builder_end (options), &path,
                                                   &code, &link, NULL, error))
    return FALSE;
  /* The web link is a property of the call; an invite is still useful
   * without it, so a failure here is not one of the command. */
  call = vchatctl_call_proxy (ctl, path, NULL);
  if (call)
    web = vchat_dbus_call_get_invite_web_link (call);

  if (ctl->json) {
    g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);
    JsonObject *object = json_object_new ();
    json_object_set_int_member (object, "id", vchatctl_call_number (path));
    json_object_set_string_member (object, "path", path);
    json_object_set_string_member (object, "code", code);
    json_object_set_string_member (object, "link", link);
    json_object_set_string_member (object, "web_link", web ? web : "");
    json_node_take_object (root, object);
    vchatctl_print_json (root);
    return TRUE;
  }
  /* Translators: the labels of `vchatctl invite`, each followed by a colon. */
  vchatctl_print_field (5, _ ("Code"), "%s", code);
  vchatctl_print_field (5, _ ("Link"), "%s", link);
  if (web && *web)
    vchatctl_print_field (5, _ ("Web"), "%s", web);
  vchatctl_print_field (5, _ ("Call"), "%s", path);
  return TRUE;
}

static const GOptionEntry join_options[] = {
  { "name", 'n', 0, G_OPTION_ARG_FILENAME, &opt_name, N_ ("The name your friend sees"), "NAME" },
  { "relay-only", 'r', 0, G_OPTION_ARG_NONE, &opt_relay_only,
    N_ ("Send media only through the TURN relay"), NULL },
  WAIT_ENTRY,
  TIMEOUT_ENTRY,
  { NULL }
};

static gboolean
join_run (Vchatctl *ctl, char **args, GError **error)
{
  g_autoptr (GVariantBuilder) options = g_variant_builder_new (G_VARIANT_TYPE_VARDICT);
  g_autofree char *path = NULL;
  g_autofree char *code = NULL;
  g_autofree char *server = NULL;
  const char *target = args[0];
  VchatDBusManager *manager;

  if (!check_wait (ctl, error) || !vchatctl_check_display_text ("--name", opt_name, error))
    return FALSE;
  if (opt_name)
    g_variant_builder_add (options, "{sv}", "display_name", g_variant_new_string (opt_name));
  if (opt_relay_only)
    g_variant_builder_add (options, "{sv}", "relay_only", g_variant_new_boolean (TRUE));

  manager = vchatctl_get_manager (ctl, error);
  if (!manager)
    return FALSE;
  /* vchat://join/CODE?server=URL: the code means something only on that
   * server, and vchatd keeps one server connection. Text that is no link
   * goes to vchatd as it is, which says what is wrong with it. */
  if (vchat_link_parse (args[0], &code, &server, NULL)) {
    const char *current = vchat_dbus_manager_get_server (manager);

    if (server && !vchat_link_same_server (server, current)) {
      g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_FAILED,
                   _ ("This invite belongs to the server %s, but vchatd is connected to %s. vchatd "
                      "keeps one server connection: to join, switch with 'vchatctl config set "
                      "server-url %s' (calls on the current server end), then join again."),
                   server, current && *current ? current : _ ("no server"), server);
      return FALSE;
    }
    target = code;
  }
  if (!vchat_dbus_manager_call_join_invite_sync (manager, target, g_variant_builder_end (options),
                                                 &path, NULL, error))
    return FALSE;
  print_new_call (ctl, path);
  return wait_for_path (ctl, path, error);
}

static const GOptionEntry wait_options[] = { WAIT_ENTRY, TIMEOUT_ENTRY, { NULL } };

static gboolean
accept_run (Vchatctl *ctl, char **args, GError **error)
{
  g_autoptr (VchatDBusCall) call = NULL;

  if (!check_wait (ctl, error))
    return FALSE;
  call = vchatctl_resolve_call (ctl, args[0], "incoming", error);
  if (!call || !vchat_dbus_call_call_accept_sync (call, NULL, error))
    return FALSE;
  if (!opt_wait)
    return TRUE;
  return vchatctl_wait_connected (ctl, call, opt_timeout, error);
}

static gboolean
reject_run (Vchatctl *ctl, char **args, GError **error)
{
  g_autoptr (VchatDBusCall) call = vchatctl_resolve_call (ctl, args[0], "incoming", error);

  return call && vchat_dbus_call_call_reject_sync (call, NULL, error);
}

static gboolean
hangup_run (Vchatctl *ctl, char **args, GError **error)
{
  g_autoptr (VchatDBusCall) call = vchatctl_resolve_call (ctl, args[0], NULL, error);

  return call && vchat_dbus_call_call_hangup_sync (call, NULL, error);
}

static gboolean
next_run (Vchatctl *ctl, char **args, GError **error)
{
  g_autoptr (VchatDBusCall) call = NULL;
  g_autofree char *path = NULL;

  if (!check_wait (ctl, error))
    return FALSE;
  call = vchatctl_resolve_call (ctl, args[0], NULL, error);
  if (!call || !vchat_dbus_call_call_next_sync (call, &path, NULL, error))
    return FALSE;
  print_new_call (ctl, path);
  return wait_for_path (ctl, path, error);
}

static gboolean
parse_on_off (Vchatctl *ctl, const char *arg, gboolean *on, GError **error)
{
  if (g_str_equal (arg, "on")) {
    *on = TRUE;
    return TRUE;
  }
  if (g_str_equal (arg, "off")) {
    *on = FALSE;
    return TRUE;
  }
  g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE,
               _ ("%s: expected 'on' or 'off', not '%s'"), ctl->command->name, arg);
  return FALSE;
}

static const GOptionEntry call_options[] = { CALL_ENTRY, { NULL } };

static gboolean
mute_run (Vchatctl *ctl, char **args, GError **error)
{
  g_autoptr (VchatDBusCall) call = NULL;
  gboolean on;

  if (!parse_on_off (ctl, args[0], &on, error))
    return FALSE;
  call = vchatctl_resolve_call (ctl, opt_call, NULL, error);
  return call && vchat_dbus_call_call_set_muted_sync (call, on, NULL, error);
}

static gboolean
video_run (Vchatctl *ctl, char **args, GError **error)
{
  g_autoptr (VchatDBusCall) call = NULL;
  gboolean on;

  if (!parse_on_off (ctl, args[0], &on, error))
    return FALSE;
  call = vchatctl_resolve_call (ctl, opt_call, NULL, error);
  return call && vchat_dbus_call_call_set_camera_enabled_sync (call, on, NULL, error);
}

/* The words of TEXT, as the shell split them, joined again. */
static char *
join_words (Vchatctl *ctl, char **args, GError **error)
{
  g_autofree char *text = g_strjoinv (" ", args);
  g_autofree char *stripped = g_strstrip (g_strdup (text));

  if (!*stripped) {
    g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE, _ ("%s: the text is empty"),
                 ctl->command->name);
    return NULL;
  }
  return g_steal_pointer (&text);
}

static gboolean
say_run (Vchatctl *ctl, char **args, GError **error)
{
  g_autofree char *text = join_words (ctl, args, error);
  g_autoptr (VchatDBusCall) call = NULL;

  if (!text)
    return FALSE;
  call = vchatctl_resolve_call (ctl, opt_call, NULL, error);
  return call && vchat_dbus_call_call_send_message_sync (call, text, NULL, error);
}

static gboolean
report_run (Vchatctl *ctl, char **args, GError **error)
{
  g_autofree char *reason = join_words (ctl, args, error);
  g_autoptr (VchatDBusCall) call = NULL;

  if (!reason)
    return FALSE;
  if (opt_call) {
    call = vchatctl_resolve_call (ctl, opt_call, NULL, error);
  } else {
    /* Reporting is what one does right after a bad call, so without a
     * current call it is about the newest one that ended. */
    if (!vchatctl_get_object_manager (ctl, error))
      return FALSE;
    call = vchatctl_find_current_call (ctl, NULL);
    if (!call) {
      g_autolist (VchatDBusCall) calls = vchatctl_list_calls (ctl, NULL);
      if (calls)
        call = g_object_ref (g_list_last (calls)->data);
    }
    if (!call)
      g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_NOT_FOUND,
                   _ ("there is no call to report"));
  }
  return call && vchat_dbus_call_call_report_sync (call, reason, NULL, error);
}

const VchatctlCommand vchatctl_call_commands[] = {
  { "random", NULL, N_ ("Call a random stranger"),
    N_ ("Looks for a random partner, preferring one who shares an interest or the\n"
        "language, and prints the new call's object path. The call goes from\n"
        "'searching' to 'connecting' to 'connected'.\n"),
    random_options, 0, 0, random_run },
  { "invite", NULL, N_ ("Create an invite for a friend"),
    N_ ("Creates an invite and prints its code, its vchat:// link, its web link (for\n"
        "a friend without vchat) and the call, which rings ('incoming') when the\n"
        "friend joins: answer with 'vchatctl accept'.\n"),
    invite_options, 0, 0, invite_run },
  { "join", "CODE|LINK", N_ ("Join a friend's invite"),
    N_ ("Joins the invite with this code, or the link that ends in /join/CODE, and\n"
        "prints the new call's object path. The call is 'ringing' until the friend\n"
        "answers. Exits with 5 when there is no such invite. A link\n"
        "vchat://join/CODE?server=URL must name vchatd's server (else exit 1 says how\n"
        "to switch).\n"),
    join_options, 1, 1, join_run },
  { "accept", "[CALL]", N_ ("Answer an incoming call"),
    N_ ("Answers a call that rings. Without CALL: the newest incoming call, else the\n"
        "current call.\n"),
    wait_options, 0, 1, accept_run },
  { "reject", "[CALL]", N_ ("Decline an incoming call"),
    N_ ("Declines a call that rings; it ends with 'rejected'. Without CALL: the\n"
        "newest incoming call, else the current call.\n"),
    NULL, 0, 1, reject_run },
  { "hangup", "[CALL]", N_ ("End a call"),
    N_ ("Ends a call in any state: a search stops, an open invite is cancelled.\n"), NULL, 0, 1,
    hangup_run },
  { "next", "[CALL]", N_ ("End a random call and meet the next stranger"),
    N_ ("Ends a random call and at once looks for another partner with the same\n"
        "interests and language; prints the new call's object path.\n"),
    wait_options, 0, 1, next_run },
  { "mute", "on|off", N_ ("Stop or resume sending sound"),
    N_ ("'mute on' stops sending sound in the call, 'mute off' sends it again.\n"), call_options, 1,
    1, mute_run },
  { "video", "on|off", N_ ("Stop or resume sending the picture"),
    N_ ("'video off' stops sending the camera picture (the other side sees black),\n"
        "'video on' sends it again.\n"),
    call_options, 1, 1, video_run },
  { "say", "TEXT", N_ ("Send a chat message"),
    N_ ("Sends TEXT (all the words that follow, up to 4096 bytes) as a chat message\n"
        "in a connected call. Use -- before text that starts with a dash.\n"),
    call_options, 1, -1, say_run },
  { "report", "REASON", N_ ("Report the other person to the server"),
    N_ ("Reports the other person of a call, during the call or after it ended,\n"
        "with REASON in a few words. Without --call: the current call, else the\n"
        "newest call that ended.\n"),
    call_options, 1, -1, report_run },
  { NULL }
};
