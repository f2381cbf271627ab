/* vchatctl-monitor.c: a line for every event of vchatd, until interrupted
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Listens to the raw signals rather than to proxies, so that each line is
 * exactly one signal: a PropertiesChanged of the manager or of a call (Stats
 * only with --stats: they change every second; Quality, which changes with
 * them, is shown without), IncomingCall,
 * MessageReceived, a call added or removed (the ObjectManager's
 * InterfacesAdded/InterfacesRemoved), and vchatd itself leaving or coming
 * back on the bus.
 */
#include <stdio.h>
#include <string.h>

#include <glib-unix.h>

#include "vchatctl.h"

#include <glib/gi18n.h>

static int opt_count;
static gboolean opt_stats;
static double opt_timeout;

typedef struct {
  Vchatctl *ctl;
  GMainLoop *loop;
  int seen;
  gboolean timed_out;
  char *owner;
} Monitor;

/* Signals queued in one main loop iteration are dispatched together, so
 * quitting the loop alone would not stop at -n N. */
static gboolean
enough (Monitor *m)
{
  return opt_count > 0 && m->seen >= opt_count;
}

static void
event_done (Monitor *m)
{
  fflush (stdout);
  m->seen++;
  if (enough (m))
    g_main_loop_quit (m->loop);
}

/* The start of a JSON event: its time, its kind, its object. */
static JsonObject *
json_event (const char *event, const char *path)
{
  JsonObject *object = json_object_new ();
  g_autofree char *now = vchatctl_format_iso_time ((guint64) g_get_real_time ());

  json_object_set_string_member (object, "time", now);
  json_object_set_string_member (object, "event", event);
  if (path) {
    guint n = vchatctl_call_number (path);
    json_object_set_string_member (object, "object", n ? "call" : "manager");
    if (n)
      json_object_set_int_member (object, "id", n);
    json_object_set_string_member (object, "path", path);
  }
  return object;
}

static void
print_json_event (JsonObject *object)
{
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL, *escaped = NULL;

  json_node_take_object (node, object);
  json_generator_set_root (gen, node);
  text = json_generator_to_data (gen, NULL);
  escaped = vchatctl_escape_json (text);
  puts (escaped);
}

/* "manager" or "call 3": who a plain line is about. The event lines stay
 * English in every locale, like the property names and values they carry:
 * scripts match them; only the messages around them are translated. */
static char *
source_label (const char *path)
{
  guint n = vchatctl_call_number (path);

  if (n)
    return g_strdup_printf ("call %u", n);
  if (g_str_equal (path, VCHAT_MANAGER_PATH))
    return g_strdup ("manager");
  return g_strdup (path);
}

/* Changes of Stats without --stats: the daemon sends them in the same
 * signal as properties that change with them (Quality), which are shown
 * alone. */
static gboolean
skipped (const char *name)
{
  return !opt_stats && g_str_equal (name, "Stats");
}

/* @changes: of a PropertiesChanged (rather than all of a new call's). */
static JsonObject *
properties_to_json (GVariant *props, gboolean changes)
{
  JsonObject *object = json_object_new ();
  GVariantIter iter;
  const char *name;
  GVariant *value;

  g_variant_iter_init (&iter, props);
  while (g_variant_iter_loop (&iter, "{&sv}", &name, &value)) {
    g_autofree char *key = NULL;
    if (changes && skipped (name))
      continue;
    key = vchatctl_snake_case (name);
    json_object_set_member (object, key, vchatctl_property_to_json (name, value));
  }
  return object;
}

static gboolean
only_stats (GVariant *changed)
{
  g_autoptr (GVariant) stats = g_variant_lookup_value (changed, "Stats", NULL);

  return stats && g_variant_n_children (changed) == 1;
}

static void
on_properties_changed (GDBusConnection *bus, const char *sender, const char *path,
                       const char *iface, const char *member, GVariant *params, gpointer data)
{
  Monitor *m = data;
  const char *changed_iface;
  g_autoptr (GVariant) changed = NULL;
  g_autofree const char **invalidated = NULL;

  if (enough (m))
    return;

  if (!g_str_has_prefix (path, VCHAT_MANAGER_PATH))
    return;
  g_variant_get (params, "(&s@a{sv}^a&s)", &changed_iface, &changed, &invalidated);
  if (!g_str_equal (changed_iface, VCHAT_MANAGER_IFACE) &&
      !g_str_equal (changed_iface, VCHAT_CALL_IFACE))
    return;
  if (!opt_stats && !invalidated[0] && only_stats (changed))
    return;

  if (m->ctl->json) {
    JsonObject *object = json_event ("changed", path);
    json_object_set_object_member (object, "properties", properties_to_json (changed, TRUE));
    if (invalidated[0]) {
      JsonArray *names = json_array_new ();
      for (const char **n = invalidated; *n; n++)
        json_array_add_string_element (names, *n);
      json_object_set_array_member (object, "invalidated", names);
    }
    print_json_event (object);
  } else {
    g_autofree char *who = source_label (path);
    g_autoptr (GString) line = g_string_new (NULL);
    GVariantIter iter;
    const char *name;
    GVariant *value;

    g_string_printf (line, "%s changed:", who);
    g_variant_iter_init (&iter, changed);
    while (g_variant_iter_loop (&iter, "{&sv}", &name, &value)) {
      g_autofree char *text = NULL;
      if (skipped (name))
        continue;
      text = vchatctl_format_value (name, value);
      g_string_append_printf (line, " %s=%s", name, text);
    }
    for (const char **n = invalidated; *n; n++)
      g_string_append_printf (line, " %s=?", *n);
    puts (line->str);
  }
  event_done (m);
}

static void
on_interfaces_added (GDBusConnection *bus, const char *sender, const char *path, const char *iface,
                     const char *member, GVariant *params, gpointer data)
{
  Monitor *m = data;
  const char *object_path;
  g_autoptr (GVariant) ifaces = NULL;
  g_autoptr (GVariant) props = NULL;

  if (enough (m))
    return;

  g_variant_get (params, "(&o@a{sa{sv}})", &object_path, &ifaces);
  props = g_variant_lookup_value (ifaces, VCHAT_CALL_IFACE, G_VARIANT_TYPE_VARDICT);
  if (!props)
    return;

  if (m->ctl->json) {
    JsonObject *object = json_event ("added", object_path);
    json_object_set_object_member (object, "properties", properties_to_json (props, FALSE));
    print_json_event (object);
  } else {
    g_autofree char *who = source_label (object_path);
    const char *kind = "?", *direction = "?", *state = "?";
    vchatctl_lookup_string (props, "Kind", &kind);
    vchatctl_lookup_string (props, "Direction", &direction);
    vchatctl_lookup_string (props, "State", &state);
    printf ("%s added: %s, %s, %s\n", who, kind, direction, state);
  }
  event_done (m);
}

static void
on_interfaces_removed (GDBusConnection *bus, const char *sender, const char *path,
                       const char *iface, const char *member, GVariant *params, gpointer data)
{
  Monitor *m = data;
  const char *object_path;
  g_autofree const char **ifaces = NULL;

  if (enough (m))
    return;

  g_variant_get (params, "(&o^a&s)", &object_path, &ifaces);
  if (!g_strv_contains (ifaces, VCHAT_CALL_IFACE))
    return;

  if (m->ctl->json) {
    print_json_event (json_event ("removed", object_path));
  } else {
    g_autofree char *who = source_label (object_path);
    printf ("%s removed\n", who);
  }
  event_done (m);
}

static void
on_incoming_call (GDBusConnection *bus, const char *sender, const char *path, const char *iface,
                  const char *member, GVariant *params, gpointer data)
{
  Monitor *m = data;
  const char *call;
  g_autoptr (GVariant) peer = NULL;

  if (enough (m))
    return;

  g_variant_get (params, "(&o@a{sv})", &call, &peer);
  if (m->ctl->json) {
    JsonObject *object = json_event ("incoming_call", path);
    JsonObject *c = json_object_new ();
    json_object_set_int_member (c, "id", vchatctl_call_number (call));
    json_object_set_string_member (c, "path", call);
    json_object_set_object_member (object, "call", c);
    json_object_set_member (object, "peer", vchatctl_variant_to_json (peer));
    print_json_event (object);
  } else {
    g_autofree char *who = source_label (path);
    g_autofree char *label = vchatctl_call_label (call);
    const char *name = vchatctl_peer_name (peer), *client = NULL;
    g_autoptr (GVariant)
      name_value = g_variant_ref_sink (g_variant_new_string (name ? name : "someone"));
    g_autofree char *quoted = vchatctl_format_value (NULL, name_value);
    if (vchatctl_lookup_string (peer, "client", &client) && *client) {
      g_autofree char *escaped = vchatctl_escape_untrusted (client, 0);
      printf ("%s incoming: call %s from %s (%s)\n", who, label, quoted, escaped);
    } else
      printf ("%s incoming: call %s from %s\n", who, label, quoted);
  }
  event_done (m);
}

static void
on_message_received (GDBusConnection *bus, const char *sender, const char *path, const char *iface,
                     const char *member, GVariant *params, gpointer data)
{
  Monitor *m = data;
  const char *text;
  guint64 time;

  if (enough (m))
    return;

  g_variant_get (params, "(&st)", &text, &time);
  if (m->ctl->json) {
    JsonObject *object = json_event ("message", path);
    g_autofree char *when = vchatctl_format_iso_time (time);
    json_object_set_string_member (object, "text", text);
    if (when)
      json_object_set_string_member (object, "sent", when);
    else
      json_object_set_null_member (object, "sent");
    print_json_event (object);
  } else {
    g_autofree char *who = source_label (path);
    /* One message, one line: a line break in it shows as \n. */
    g_autofree char *escaped = vchatctl_escape_untrusted (text, VCHATCTL_ESCAPE_QUOTES);
    printf ("%s message: \"%s\"\n", who, escaped);
  }
  event_done (m);
}

static void
on_owner_changed (GDBusConnection *bus, const char *sender, const char *path, const char *iface,
                  const char *member, GVariant *params, gpointer data)
{
  Monitor *m = data;
  const char *name, *old_owner, *new_owner;

  if (enough (m))
    return;

  g_variant_get (params, "(&s&s&s)", &name, &old_owner, &new_owner);
  if (!g_str_equal (name, VCHAT_BUS_NAME))
    return;

  if (*old_owner) {
    if (m->ctl->json) {
      JsonObject *object = json_event ("daemon_stopped", NULL);
      json_object_set_string_member (object, "owner", old_owner);
      print_json_event (object);
    } else {
      printf ("daemon stopped (%s)\n", old_owner);
    }
    event_done (m);
  }
  if (*new_owner && !enough (m)) {
    if (m->ctl->json) {
      JsonObject *object = json_event ("daemon_started", NULL);
      json_object_set_string_member (object, "owner", new_owner);
      print_json_event (object);
    } else {
      printf ("daemon started (%s)\n", new_owner);
    }
    event_done (m);
  }
}

static gboolean
on_signal (gpointer data)
{
  Monitor *m = data;

  g_main_loop_quit (m->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_timeout (gpointer data)
{
  Monitor *m = data;

  m->timed_out = TRUE;
  g_main_loop_quit (m->loop);
  return G_SOURCE_REMOVE;
}

static const GOptionEntry monitor_options[] = {
  { "count", 'n', 0, G_OPTION_ARG_INT, &opt_count, N_ ("Stop after N events"), "N" },
  { "stats", 's', 0, G_OPTION_ARG_NONE, &opt_stats,
    N_ ("Also print Stats changes (every second while connected)"), NULL },
  { "timeout", 't', 0, G_OPTION_ARG_DOUBLE, &opt_timeout,
    N_ ("Stop after S seconds; with -n, exit 3 if fewer than N events came"), "S" },
  { NULL }
};

static gboolean
monitor_run (Vchatctl *ctl, char **args, GError **error)
{
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (GVariant) reply = NULL;
  Monitor m = { .ctl = ctl, .loop = loop };
  guint subs[6], sigint, sigterm, timeout_id = 0;
  int n = 0;

  if (opt_count < 0 || opt_timeout < 0) {
    g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE,
                 _ ("monitor: --count and --timeout must be above 0"));
    return FALSE;
  }
  /* Start the daemon first (this is also how "not running" is found out), so
   * its own start is not the first event. */
  if (!vchatctl_get_manager (ctl, error))
    return FALSE;

  subs[n++] = g_dbus_connection_signal_subscribe (
    ctl->bus, VCHAT_BUS_NAME, "org.freedesktop.DBus.Properties", "PropertiesChanged", NULL, NULL,
    G_DBUS_SIGNAL_FLAGS_NONE, on_properties_changed, &m, NULL);
  subs[n++] = g_dbus_connection_signal_subscribe (
    ctl->bus, VCHAT_BUS_NAME, "org.freedesktop.DBus.ObjectManager", "InterfacesAdded",
    VCHAT_MANAGER_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_interfaces_added, &m, NULL);
  subs[n++] = g_dbus_connection_signal_subscribe (
    ctl->bus, VCHAT_BUS_NAME, "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved",
    VCHAT_MANAGER_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_interfaces_removed, &m, NULL);
  subs[n++] = g_dbus_connection_signal_subscribe (
    ctl->bus, VCHAT_BUS_NAME, VCHAT_MANAGER_IFACE, "IncomingCall", VCHAT_MANAGER_PATH, NULL,
    G_DBUS_SIGNAL_FLAGS_NONE, on_incoming_call, &m, NULL);
  subs[n++] = g_dbus_connection_signal_subscribe (
    ctl->bus, VCHAT_BUS_NAME, VCHAT_CALL_IFACE, "MessageReceived", NULL, NULL,
    G_DBUS_SIGNAL_FLAGS_NONE, on_message_received, &m, NULL);
  subs[n++] = g_dbus_connection_signal_subscribe (
    ctl->bus, "org.freedesktop.DBus", "org.freedesktop.DBus", "NameOwnerChanged",
    "/org/freedesktop/DBus", VCHAT_BUS_NAME, G_DBUS_SIGNAL_FLAGS_NONE, on_owner_changed, &m, NULL);

  /* The bus handles a connection's messages in order: once this reply is
   * here, every AddMatch above is in force and no event can slip by. */
  reply = g_dbus_connection_call_sync (ctl->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetId", NULL, NULL,
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
  if (!reply)
    return FALSE;
  fputs (_ ("Monitoring vchatd; press Ctrl+C to stop.\n"), stderr);

  sigint = g_unix_signal_add (SIGINT, on_signal, &m);
  sigterm = g_unix_signal_add (SIGTERM, on_signal, &m);
  if (opt_timeout > 0)
    timeout_id = g_timeout_add ((guint) (opt_timeout * 1000), on_timeout, &m);

  g_main_loop_run (loop);

  for (int i = 0; i < n; i++)
    g_dbus_connection_signal_unsubscribe (ctl->bus, subs[i]);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  if (timeout_id && !m.timed_out)
    g_source_remove (timeout_id);

  if (m.timed_out && opt_count > 0) {
    g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_TIMEOUT,
                 _ ("monitor: %d of %d events in %g s"), m.seen, opt_count, opt_timeout);
    return FALSE;
  }
  return TRUE;
}

const VchatctlCommand vchatctl_monitor_commands[] = {
  { "monitor", NULL, N_ ("Print events as they happen"),
    N_ ("Prints a line for each event of vchatd until interrupted: changed properties\n"
        "of the manager and of calls, calls added and removed, incoming calls, chat\n"
        "messages, and the daemon leaving or coming back. With --json, each event is\n"
        "one JSON object on a line of its own.\n"),
    monitor_options, 0, 0, monitor_run },
  { NULL }
};
