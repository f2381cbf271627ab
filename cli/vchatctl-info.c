/* vchatctl-info.c: status, devices, camera, history
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>

#include "vchatctl.h"

#include <glib/gi18n.h>

#define FIELD_WIDTH 11 /* "Microphone:" */
#define NO_CAMERA N_ ("none \u2014 calls go on without a picture")
#define NO_MICROPHONE N_ ("none \u2014 calls go on without sound")

/* The width of the status labels with their colon: at least FIELD_WIDTH, more
 * when a translation is longer. */
static int
status_width (void)
{
  /* Translators: the labels of `vchatctl status`, each followed by a colon. */
  const char *const labels[] = { _ ("Daemon"), _ ("Signaling"), _ ("Camera"), _ ("Microphone"),
                                 _ ("Calls") };
  int width = FIELD_WIDTH;

  for (gsize i = 0; i < G_N_ELEMENTS (labels); i++)
    width = MAX (width, (int) g_utf8_strlen (labels[i], -1) + 1);
  return width;
}

static const char *
camera_name (VchatDBusManager *manager, const char *id)
{
  GVariant *cameras = vchat_dbus_manager_get_cameras (manager);
  const char *name = NULL;

  if (!cameras || !id)
    return NULL;
  for (gsize i = 0; i < g_variant_n_children (cameras); i++) {
    g_autoptr (GVariant) cam = g_variant_get_child_value (cameras, i);
    const char *cam_id = NULL;
    if (vchatctl_lookup_string (cam, "id", &cam_id) && g_str_equal (cam_id, id)) {
      vchatctl_lookup_string (cam, "name", &name);
      break;
    }
  }
  return name;
}

static gboolean
status_run (Vchatctl *ctl, char **args, GError **error)
{
  VchatDBusManager *manager = vchatctl_get_manager (ctl, error);
  g_autolist (VchatDBusCall) calls = NULL;
  g_autoptr (VchatDBusCall) current = NULL;
  g_autoptr (GError) calls_error = NULL;
  const char *state, *server, *camera, *mic;
  guint active = 0, ended = 0;
  int width = status_width ();

  if (!manager)
    return FALSE;
  calls = vchatctl_list_calls (ctl, &calls_error);
  if (calls_error) {
    g_propagate_error (error, g_steal_pointer (&calls_error));
    return FALSE;
  }
  for (GList *l = calls; l; l = l->next) {
    if (vchatctl_call_ended (l->data))
      ended++;
    else
      active++;
  }
  current = vchatctl_find_current_call (ctl, NULL);

  if (ctl->json) {
    JsonObject *object = vchatctl_proxy_to_json (G_DBUS_PROXY (manager));
    g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);
    if (current) {
      const char *path = g_dbus_proxy_get_object_path (G_DBUS_PROXY (current));
      JsonObject *cur = json_object_new ();
      json_object_set_int_member (cur, "id", vchatctl_call_number (path));
      json_object_set_string_member (cur, "path", path);
      json_object_set_string_member (cur, "state", vchat_dbus_call_get_state (current));
      json_object_set_object_member (object, "current_call", cur);
    } else {
      json_object_set_null_member (object, "current_call");
    }
    json_node_take_object (root, object);
    vchatctl_print_json (root);
    return TRUE;
  }

  state = vchat_dbus_manager_get_signaling_state (manager);
  server = vchat_dbus_manager_get_server (manager);
  camera = vchat_dbus_manager_get_camera (manager);
  mic = vchat_dbus_manager_get_microphone (manager);

  vchatctl_print_field (width, _ ("Daemon"), "vchatd %s", vchat_dbus_manager_get_version (manager));
  if (server && *server)
    vchatctl_print_field (width, _ ("Signaling"), "%s (%s)", state, server);
  else
    /* Translators: %s is the signaling state, such as "connected". */
    vchatctl_print_field (width, _ ("Signaling"), _ ("%s (no server configured)"), state);
  if (camera && *camera) {
    const char *name = camera_name (manager, camera);
    if (name)
      vchatctl_print_field (width, _ ("Camera"), "%s (%s)", name, camera);
    else
      vchatctl_print_field (width, _ ("Camera"), "%s", camera);
  } else {
    vchatctl_print_field (width, _ ("Camera"), "%s", _ (NO_CAMERA));
  }
  vchatctl_print_field (width, _ ("Microphone"), "%s", mic && *mic ? mic : _ (NO_MICROPHONE));

  if (current) {
    g_autofree char *label = vchatctl_call_label (
      g_dbus_proxy_get_object_path (G_DBUS_PROXY (current)));
    /* Translators: appended to the "Calls:" line of `vchatctl status`. */
    g_autofree char *more = ended ? g_strdup_printf (ngettext ("; %u ended", "; %u ended", ended),
                                                     ended)
                                  : g_strdup ("");
    /* Translators: the number of calls, then the current call's number and
     * state (such as "connected"), then maybe "; N ended". */
    vchatctl_print_field (width, _ ("Calls"), _ ("%u (current: %s, %s%s)"), active, label,
                          vchat_dbus_call_get_state (current), more);
  } else if (ended) {
    vchatctl_print_field (
      width, _ ("Calls"),
      ngettext ("none (%u ended in the last minute)", "none (%u ended in the last minute)", ended),
      ended);
  } else {
    /* Translators: "Calls: none": there are no calls at all. */
    vchatctl_print_field (width, _ ("Calls"), "%s", C_ ("calls", "none"));
  }
  return TRUE;
}

static gboolean
devices_run (Vchatctl *ctl, char **args, GError **error)
{
  VchatDBusManager *manager = vchatctl_get_manager (ctl, error);
  GVariant *cameras;
  const char *selected, *mic;
  gsize n;

  if (!manager)
    return FALSE;
  cameras = vchat_dbus_manager_get_cameras (manager);
  n = cameras ? g_variant_n_children (cameras) : 0;
  selected = vchat_dbus_manager_get_camera (manager);
  mic = vchat_dbus_manager_get_microphone (manager);

  if (ctl->json) {
    g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);
    JsonObject *object = json_object_new ();
    JsonArray *array = json_array_new ();
    for (gsize i = 0; i < n; i++) {
      g_autoptr (GVariant) cam = g_variant_get_child_value (cameras, i);
      JsonNode *node = vchatctl_variant_to_json (cam);
      const char *id = NULL;
      vchatctl_lookup_string (cam, "id", &id);
      json_object_set_boolean_member (json_node_get_object (node), "selected",
                                      id && g_strcmp0 (id, selected) == 0);
      json_array_add_element (array, node);
    }
    json_object_set_array_member (object, "cameras", array);
    json_object_set_string_member (object, "camera", selected ? selected : "");
    json_object_set_string_member (object, "microphone", mic ? mic : "");
    json_node_take_object (root, object);
    vchatctl_print_json (root);
    return TRUE;
  }

  puts (_ ("Cameras (* in use):"));
  if (n == 0) {
    printf ("    %s\n", _ (NO_CAMERA));
  } else {
    g_autoptr (VchatctlTable) table = vchatctl_table_new (4, NULL);
    for (gsize i = 0; i < n; i++) {
      g_autoptr (GVariant) cam = g_variant_get_child_value (cameras, i);
      const char *id = "", *name = "";
      gboolean is_default = FALSE;
      vchatctl_lookup_string (cam, "id", &id);
      vchatctl_lookup_string (cam, "name", &name);
      g_variant_lookup (cam, "default", "b", &is_default);
      vchatctl_table_add (table, g_strcmp0 (id, selected) == 0 ? "*" : " ", name, id,
                          is_default ? _ ("(default)") : "");
    }
    vchatctl_table_print (table, "  ");
  }
  printf ("%s:\n", _ ("Microphone"));
  printf ("    %s\n", mic && *mic ? mic : _ (NO_MICROPHONE));
  return TRUE;
}

static gboolean
camera_run (Vchatctl *ctl, char **args, GError **error)
{
  VchatDBusManager *manager = vchatctl_get_manager (ctl, error);

  if (!manager)
    return FALSE;
  return vchat_dbus_manager_call_select_camera_sync (manager, args[0], NULL, error);
}

static int opt_limit = 20;

static const GOptionEntry history_options[] = { { "limit", 'n', 0, G_OPTION_ARG_INT, &opt_limit,
                                                  N_ ("Show at most N calls (default 20; 0: all)"),
                                                  "N" },
                                                { NULL } };

static gboolean
history_run (Vchatctl *ctl, char **args, GError **error)
{
  VchatDBusManager *manager;
  g_autoptr (GVariant) entries = NULL;
  gsize n;

  if (opt_limit < 0) {
    g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE,
                 _ ("history: --limit must be 0 or more"));
    return FALSE;
  }
  if (args[0] && !g_str_equal (args[0], "clear")) {
    g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE,
                 _ ("history: unknown action “%s”; the only one is clear"), args[0]);
    return FALSE;
  }
  manager = vchatctl_get_manager (ctl, error);
  if (!manager)
    return FALSE;
  if (args[0])
    return vchat_dbus_manager_call_clear_history_sync (manager, NULL, error);
  if (!vchat_dbus_manager_call_get_history_sync (manager, (guint) opt_limit, &entries, NULL, error))
    return FALSE;
  n = g_variant_n_children (entries);

  if (ctl->json) {
    g_autoptr (JsonNode) root = json_node_new (JSON_NODE_ARRAY);
    JsonArray *array = json_array_new ();
    for (gsize i = 0; i < n; i++) {
      g_autoptr (GVariant) entry = g_variant_get_child_value (entries, i);
      JsonNode *node = vchatctl_variant_to_json (entry);
      JsonObject *object = json_node_get_object (node);
      guint64 started = 0, duration = 0;
      if (g_variant_lookup (entry, "started", "t", &started)) {
        g_autofree char *iso = vchatctl_format_iso_time (started);
        json_object_set_string_member (object, "started", iso ? iso : "");
      }
      if (g_variant_lookup (entry, "duration", "t", &duration)) {
        json_object_remove_member (object, "duration");
        json_object_set_double_member (object, "duration_s", duration / (double) G_USEC_PER_SEC);
      }
      json_array_add_element (array, node);
    }
    json_node_take_array (root, array);
    vchatctl_print_json (root);
    return TRUE;
  }

  if (n == 0) {
    puts (_ ("No calls in the history."));
    return TRUE;
  }
  {
    /* Translators: column headings of `vchatctl history`, in capitals. */
    g_autoptr (VchatctlTable) table = vchatctl_table_new (
      6, _ ("STARTED"), _ ("KIND"), _ ("DIRECTION"), _ ("PEER"), _ ("DURATION"), _ ("END"));
    for (gsize i = 0; i < n; i++) {
      g_autoptr (GVariant) entry = g_variant_get_child_value (entries, i);
      const char *kind = "", *direction = "", *peer = "", *reason = "";
      guint64 started = 0, duration = 0;
      g_autofree char *when = NULL, *length = NULL;
      g_autofree char *kind_text = NULL, *direction_text = NULL, *peer_text = NULL;
      g_autofree char *reason_text = NULL;
      vchatctl_lookup_string (entry, "kind", &kind);
      vchatctl_lookup_string (entry, "direction", &direction);
      vchatctl_lookup_string (entry, "peer-name", &peer);
      vchatctl_lookup_string (entry, "end-reason", &reason);
      g_variant_lookup (entry, "started", "t", &started);
      g_variant_lookup (entry, "duration", "t", &duration);
      when = vchatctl_format_time (started);
      length = vchatctl_format_duration (duration);
      /* All of it comes from a file: the peer's name as the server sent it
       * back then, and the rest as anyone may have edited it since. */
      kind_text = vchatctl_escape_untrusted (kind, 0);
      direction_text = vchatctl_escape_untrusted (direction, 0);
      peer_text = *peer ? vchatctl_escape_untrusted (peer, 0) : g_strdup ("-");
      reason_text = vchatctl_escape_untrusted (reason, 0);
      vchatctl_table_add (table, when, kind_text, direction_text, peer_text, length, reason_text);
    }
    vchatctl_table_print (table, "");
  }
  return TRUE;
}

const VchatctlCommand vchatctl_info_commands[] = {
  { "status", NULL, N_ ("Show the daemon, its connection, the devices and the calls"),
    N_ ("Shows vchatd's version, whether it is connected to the signaling server, the\n"
        "camera and microphone calls use, and how many calls there are.\n"),
    NULL, 0, 0, status_run },
  { "devices", NULL, N_ ("List the cameras and the microphone"),
    N_ ("Lists the cameras PipeWire offers (the one calls use is marked with *) and the\n"
        "microphone. A call goes on without either when there is none.\n"),
    NULL, 0, 0, devices_run },
  { "camera", "ID", N_ ("Choose the camera for calls"),
    N_ ("Chooses the camera for new calls and switches the current call to it. ID is\n"
        "one of the ids 'vchatctl devices' lists, or \"\" for the first camera. Exits\n"
        "with 5 when there is no such camera.\n"),
    NULL, 1, 1, camera_run },
  { "history", "[clear]", N_ ("List the calls that ended, newest first; or forget them"),
    N_ ("Lists the calls that ended, newest first: when, random or invited, who called\n"
        "whom, the other person's display name, how long and how it ended. vchatd keeps\n"
        "them in $XDG_STATE_HOME/vchat/history.json (never addresses or invite codes),\n"
        "at most history-size calls; 'vchatctl config set history false' stops it and\n"
        "forgets them. 'history clear' forgets them now.\n"),
    history_options, 0, 1, history_run },
  { NULL }
};
