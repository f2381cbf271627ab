/* vchatctl-show.c: list and show, the calls and one call in detail
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include "vchatctl.h"

#include <glib/gi18n.h>

#define FIELD_WIDTH 11
#define STAT_WIDTH 13 /* "  Round trip:" */

static gboolean
is_current (VchatDBusCall *call, VchatDBusCall *current)
{
  return current && g_strcmp0 (g_dbus_proxy_get_object_path (G_DBUS_PROXY (call)),
                               g_dbus_proxy_get_object_path (G_DBUS_PROXY (current))) == 0;
}

static JsonNode *
call_to_json (VchatDBusCall *call, gboolean current)
{
  const char *path = g_dbus_proxy_get_object_path (G_DBUS_PROXY (call));
  g_autoptr (JsonObject) props = vchatctl_proxy_to_json (G_DBUS_PROXY (call));
  JsonObject *object = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  g_autoptr (GList) members = json_object_get_members (props);

  json_object_set_int_member (object, "id", vchatctl_call_number (path));
  json_object_set_string_member (object, "path", path);
  json_object_set_boolean_member (object, "current", current);
  for (GList *l = members; l; l = l->next)
    json_object_set_member (object, l->data, json_object_dup_member (props, l->data));
  json_node_take_object (node, object);
  return node;
}

/* How long media flowed: until the end, or until now. */
static char *
call_duration (VchatDBusCall *call)
{
  guint64 connected = vchat_dbus_call_get_connected_at (call);
  guint64 ended = vchat_dbus_call_get_ended_at (call);
  guint64 until = ended ? ended : (guint64) g_get_real_time ();

  if (!connected)
    return g_strdup ("-");
  return vchatctl_format_duration (until > connected ? until - connected : 0);
}

static char *
clock_time (guint64 usec)
{
  g_autofree char *full = vchatctl_format_time (usec);
  const char *space = strchr (full, ' ');

  return g_strdup (space ? space + 1 : full);
}

static gboolean
list_run (Vchatctl *ctl, char **args, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autolist (VchatDBusCall) calls = vchatctl_list_calls (ctl, &local);
  g_autoptr (VchatDBusCall) current = NULL;
  g_autoptr (VchatctlTable) table = NULL;

  if (local) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  current = vchatctl_find_current_call (ctl, NULL);

  if (ctl->json) {
    g_autoptr (JsonNode) root = json_node_new (JSON_NODE_ARRAY);
    JsonArray *array = json_array_new ();
    for (GList *l = calls; l; l = l->next)
      json_array_add_element (array, call_to_json (l->data, is_current (l->data, current)));
    json_node_take_array (root, array);
    vchatctl_print_json (root);
    return TRUE;
  }

  if (!calls) {
    puts ("No calls.");
    return TRUE;
  }
  table = vchatctl_table_new (9, "", "ID", "STATE", "KIND", "DIRECTION", "PEER", "STARTED",
                              "DURATION", "END");
  for (GList *l = calls; l; l = l->next) {
    VchatDBusCall *call = l->data;
    g_autofree char *label = vchatctl_call_label (
      g_dbus_proxy_get_object_path (G_DBUS_PROXY (call)));
    g_autofree char *started = clock_time (vchat_dbus_call_get_created_at (call));
    g_autofree char *duration = call_duration (call);
    const char *name = vchatctl_peer_name (vchat_dbus_call_get_peer (call));
    g_autofree char *peer = name ? vchatctl_escape_untrusted (name, 0) : g_strdup ("-");
    g_autofree char *end = vchatctl_escape_untrusted (vchat_dbus_call_get_end_reason (call), 0);
    vchatctl_table_add (table, is_current (call, current) ? "*" : "", label,
                        vchat_dbus_call_get_state (call), vchat_dbus_call_get_kind (call),
                        vchat_dbus_call_get_direction (call), peer, started, duration, end);
  }
  vchatctl_table_print (table, "");
  return TRUE;
}

static gboolean
lookup_number (GVariant *dict, const char *key, double *out)
{
  g_autoptr (GVariant) v = dict ? g_variant_lookup_value (dict, key, NULL) : NULL;

  if (!v)
    return FALSE;
  switch (g_variant_classify (v)) {
  case G_VARIANT_CLASS_DOUBLE:
    *out = g_variant_get_double (v);
    return TRUE;
  case G_VARIANT_CLASS_BYTE:
    *out = g_variant_get_byte (v);
    return TRUE;
  case G_VARIANT_CLASS_INT16:
    *out = g_variant_get_int16 (v);
    return TRUE;
  case G_VARIANT_CLASS_UINT16:
    *out = g_variant_get_uint16 (v);
    return TRUE;
  case G_VARIANT_CLASS_INT32:
    *out = g_variant_get_int32 (v);
    return TRUE;
  case G_VARIANT_CLASS_UINT32:
    *out = g_variant_get_uint32 (v);
    return TRUE;
  case G_VARIANT_CLASS_INT64:
    *out = g_variant_get_int64 (v);
    return TRUE;
  case G_VARIANT_CLASS_UINT64:
    *out = g_variant_get_uint64 (v);
    return TRUE;
  default:
    return FALSE;
  }
}

/* Appends ", " between parts of a line built piece by piece. */
static void append_part (GString *line, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
append_part (GString *line, const char *format, ...)
{
  va_list ap;

  if (line->len)
    g_string_append (line, ", ");
  va_start (ap, format);
  g_string_append_vprintf (line, format, ap);
  va_end (ap);
}

/* "quality" is shown from the Quality property, with the call's state. */
static const char *const known_stats[] = {
  "rtt-ms",      "send-kbps",      "target-kbps",     "max-kbps",         "available-kbps",
  "rung",        "cpu-limited",    "recv-kbps",       "recv-fps",         "recv-width",
  "recv-height", "frames-decoded", "freezes",         "loss-pct",         "recv-loss-pct",
  "video-codec", "audio-codec",    "local-candidate", "remote-candidate", "quality",
  "jitter-ms",   "jitter-buffer-ms",
  NULL,
};

static void
print_stats (GVariant *stats)
{
  g_autoptr (GString) line = g_string_new (NULL);
  const char *s = NULL, *t = NULL;
  gboolean cpu_limited = FALSE;
  double v, w, h;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  if (!stats || g_variant_n_children (stats) == 0) {
    vchatctl_print_field (FIELD_WIDTH, "Stats", "none yet");
    return;
  }
  puts ("Stats:");

  if (lookup_number (stats, "rtt-ms", &v))
    vchatctl_print_field (STAT_WIDTH, "  Round trip", "%.0f ms", v);
  g_string_truncate (line, 0);
  if (lookup_number (stats, "jitter-ms", &v))
    append_part (line, "%.1f ms", v);
  if (lookup_number (stats, "jitter-buffer-ms", &v))
    append_part (line, "a lost packet waited for up to %.0f ms", v);
  if (line->len)
    vchatctl_print_field (STAT_WIDTH, "  Jitter", "%s", line->str);

  if (lookup_number (stats, "send-kbps", &v))
    append_part (line, "%.0f kbit/s", v);
  if (lookup_number (stats, "target-kbps", &v)) {
    /* The target counts the sound too; the ceiling is the picture's alone. */
    if (lookup_number (stats, "max-kbps", &w))
      append_part (line, "target %.0f kbit/s (video max %.0f kbit/s)", v, w);
    else
      append_part (line, "target %.0f kbit/s", v);
  }
  if (line->len)
    vchatctl_print_field (STAT_WIDTH, "  Sending", "%s", line->str);

  if (lookup_number (stats, "available-kbps", &v))
    vchatctl_print_field (STAT_WIDTH, "  Available", "%.0f kbit/s (estimated)", v);

  if (vchatctl_lookup_string (stats, "rung", &s)) {
    g_variant_lookup (stats, "cpu-limited", "b", &cpu_limited);
    vchatctl_print_field (STAT_WIDTH, "  Video sent", "%s%s", s,
                          cpu_limited ? " (CPU-limited)" : "");
  }

  g_string_truncate (line, 0);
  if (lookup_number (stats, "recv-kbps", &v))
    append_part (line, "%.0f kbit/s", v);
  if (lookup_number (stats, "recv-fps", &v))
    append_part (line, "%.0f fps", v);
  if (lookup_number (stats, "recv-width", &w) && lookup_number (stats, "recv-height", &h))
    append_part (line, "%.0fx%.0f", w, h);
  if (lookup_number (stats, "frames-decoded", &v))
    append_part (line, "%.0f frames decoded", v);
  if (lookup_number (stats, "freezes", &v))
    append_part (line, "%.0f %s", v, v == 1 ? "freeze" : "freezes");
  if (line->len)
    vchatctl_print_field (STAT_WIDTH, "  Receiving", "%s", line->str);

  g_string_truncate (line, 0);
  if (lookup_number (stats, "loss-pct", &v))
    append_part (line, "%.1f %% to the peer", v);
  if (lookup_number (stats, "recv-loss-pct", &v))
    append_part (line, "%.1f %% from the peer", v);
  if (line->len)
    vchatctl_print_field (STAT_WIDTH, "  Loss", "%s", line->str);

  s = NULL;
  if (vchatctl_lookup_string (stats, "video-codec", &s) |
      vchatctl_lookup_string (stats, "audio-codec", &t))
    vchatctl_print_field (STAT_WIDTH, "  Codecs", "video %s, audio %s", s ? s : "-", t ? t : "-");
  s = t = NULL;
  if (vchatctl_lookup_string (stats, "local-candidate", &s) |
      vchatctl_lookup_string (stats, "remote-candidate", &t))
    vchatctl_print_field (STAT_WIDTH, "  Route", "%s to %s", s ? s : "?", t ? t : "?");

  /* Keys this vchatctl does not know yet, as they come. */
  g_variant_iter_init (&iter, stats);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value)) {
    g_autofree char *label = NULL, *text = NULL;
    if (g_strv_contains (known_stats, key))
      continue;
    label = g_strconcat ("  ", key, NULL);
    text = vchatctl_format_value (key, value);
    vchatctl_print_field (STAT_WIDTH, label, "%s", text);
  }
}

/* Only while media flows: before and after, there is nothing to judge. */
static void
print_quality (VchatDBusCall *call)
{
  const char *quality = vchat_dbus_call_get_quality (call);

  if (quality && *quality)
    vchatctl_print_field (FIELD_WIDTH, "Quality", "%s", quality);
  else if (g_strcmp0 (vchat_dbus_call_get_state (call), "connected") == 0)
    vchatctl_print_field (FIELD_WIDTH, "Quality", "not known yet");
}

static void
print_call (VchatDBusCall *call)
{
  const char *path = g_dbus_proxy_get_object_path (G_DBUS_PROXY (call));
  g_autofree char *label = vchatctl_call_label (path);
  GVariant *peer = vchat_dbus_call_get_peer (call);
  const char *peer_name = vchatctl_peer_name (peer);
  const char *code = vchat_dbus_call_get_invite_code (call);
  const char *web = vchat_dbus_call_get_invite_web_link (call);
  const char *remote = vchat_dbus_call_get_remote_video_node (call);
  const char *preview = vchat_dbus_call_get_preview_node (call);
  guint64 connected = vchat_dbus_call_get_connected_at (call);
  guint64 ended = vchat_dbus_call_get_ended_at (call);
  g_autofree char *created_text = vchatctl_format_time (vchat_dbus_call_get_created_at (call));

  if (g_strcmp0 (label, path) == 0)
    printf ("Call %s\n", path);
  else
    printf ("Call %s (%s)\n", label, path);
  vchatctl_print_field (FIELD_WIDTH, "State", "%s", vchat_dbus_call_get_state (call));
  print_quality (call);
  vchatctl_print_field (FIELD_WIDTH, "Kind", "%s, %s", vchat_dbus_call_get_kind (call),
                        vchat_dbus_call_get_direction (call));

  if (peer_name) {
    g_autofree char *name = vchatctl_escape_untrusted (peer_name, 0);
    g_autoptr (GString) text = g_string_new (name);
    const char *client = NULL;
    g_autofree const char **common = NULL;
    if (vchatctl_lookup_string (peer, "client", &client) && *client) {
      g_autofree char *escaped = vchatctl_escape_untrusted (client, 0);
      g_string_append_printf (text, " (%s)", escaped);
    }
    if (g_variant_lookup (peer, "common-interests", "^a&s", &common) && common && common[0]) {
      g_string_append (text, "; interests in common: ");
      for (guint i = 0; common[i]; i++) {
        g_autofree char *escaped = vchatctl_escape_untrusted (common[i], 0);
        g_string_append_printf (text, "%s%s", i ? ", " : "", escaped);
      }
    }
    vchatctl_print_field (FIELD_WIDTH, "Peer", "%s", text->str);
  } else {
    vchatctl_print_field (FIELD_WIDTH, "Peer", "not known yet");
  }

  if (code && *code) {
    if (web && *web)
      vchatctl_print_field (FIELD_WIDTH, "Invite", "%s (%s)", code, web);
    else
      vchatctl_print_field (FIELD_WIDTH, "Invite", "%s", code);
  }

  vchatctl_print_field (FIELD_WIDTH, "Created", "%s", created_text);
  if (connected) {
    g_autofree char *when = vchatctl_format_time (connected);
    g_autofree char *duration = call_duration (call);
    vchatctl_print_field (FIELD_WIDTH, "Connected", "%s (for %s)", when, duration);
  } else {
    vchatctl_print_field (FIELD_WIDTH, "Connected", "not yet");
  }
  if (ended) {
    g_autofree char *when = vchatctl_format_time (ended);
    const char *reason = vchat_dbus_call_get_end_reason (call);
    g_autofree char *reason_code = vchatctl_escape_untrusted (reason, 0);
    g_autofree char *text = vchatctl_end_reason_text (reason);
    vchatctl_print_field (FIELD_WIDTH, "Ended", "%s (%s: %s)", when, reason_code, text);
  }

  if (!vchat_dbus_call_get_has_microphone (call))
    vchatctl_print_field (FIELD_WIDTH, "Sound", "none (no microphone)");
  else
    vchatctl_print_field (FIELD_WIDTH, "Sound", "%s",
                          vchat_dbus_call_get_muted (call) ? "muted" : "sending");
  if (!vchat_dbus_call_get_has_camera (call))
    vchatctl_print_field (FIELD_WIDTH, "Picture", "none (no camera)");
  else
    vchatctl_print_field (FIELD_WIDTH, "Picture", "%s",
                          vchat_dbus_call_get_camera_enabled (call) ? "sending" : "off");
  /* What the peer says over the control channel; a peer that says nothing
   * (an older client) reads as sending both. */
  if (vchat_dbus_call_get_peer_muted (call) || !vchat_dbus_call_get_peer_camera_enabled (call))
    vchatctl_print_field (FIELD_WIDTH, "Their side", "%s%s%s",
                          vchat_dbus_call_get_peer_muted (call) ? "muted" : "",
                          vchat_dbus_call_get_peer_muted (call) &&
                              !vchat_dbus_call_get_peer_camera_enabled (call)
                            ? ", "
                            : "",
                          vchat_dbus_call_get_peer_camera_enabled (call) ? "" : "camera off");
  vchatctl_print_field (FIELD_WIDTH, "Video", "remote %s, preview %s",
                        remote && *remote ? remote : "-", preview && *preview ? preview : "-");
  print_stats (vchat_dbus_call_get_stats (call));
}

static gboolean
show_run (Vchatctl *ctl, char **args, GError **error)
{
  g_autoptr (VchatDBusCall) call = vchatctl_resolve_call (ctl, args[0], NULL, error);
  g_autoptr (VchatDBusCall) current = NULL;

  if (!call)
    return FALSE;
  if (ctl->json) {
    g_autoptr (JsonNode) root = NULL;
    current = vchatctl_find_current_call (ctl, NULL);
    root = call_to_json (call, is_current (call, current));
    vchatctl_print_json (root);
    return TRUE;
  }
  print_call (call);
  return TRUE;
}

const VchatctlCommand vchatctl_show_commands[] = {
  { "list", NULL, N_("List the calls"),
    "Lists the calls that have not ended and those that ended in the last minute;\n"
    "the current call is marked with *.\n",
    NULL, 0, 0, list_run },
  { "show", "[CALL]", N_("Show a call's properties and statistics"),
    "Shows everything about a call: its state and, while connected, its quality\n"
    "(good, fair or poor), the other person, its times, what is being sent, the\n"
    "PipeWire nodes of its video, and the statistics of its connection (refreshed\n"
    "every second while connected).\n",
    NULL, 0, 1, show_run },
  { NULL }
};
