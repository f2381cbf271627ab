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
    puts (_ ("No calls."));
    return TRUE;
  }
  /* Translators: column headings of `vchatctl list`, in capitals. */
  table = vchatctl_table_new (9, "", _ ("ID"), _ ("STATE"), _ ("KIND"), _ ("DIRECTION"), _ ("PEER"),
                              _ ("STARTED"), _ ("DURATION"), _ ("END"));
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

/* One line under "Stats:", its label indented. */
static void print_stat (const char *label, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
print_stat (const char *label, const char *format, ...)
{
  g_autofree char *indented = g_strconcat ("  ", label, NULL);
  g_autofree char *value = NULL;
  va_list ap;

  va_start (ap, format);
  value = g_strdup_vprintf (format, ap);
  va_end (ap);
  vchatctl_print_field (STAT_WIDTH, indented, "%s", value);
}

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
    /* Translators: the labels of `vchatctl show`, each followed by a colon. */
    vchatctl_print_field (FIELD_WIDTH, _ ("Stats"), "%s", _ ("none yet"));
    return;
  }
  printf ("%s:\n", _ ("Stats"));

  if (lookup_number (stats, "rtt-ms", &v))
    /* Translators: the statistics of `vchatctl show`, each followed by a colon. */
    print_stat (_ ("Round trip"), "%.0f ms", v);
  g_string_truncate (line, 0);
  if (lookup_number (stats, "jitter-ms", &v))
    append_part (line, "%.1f ms", v);
  if (lookup_number (stats, "jitter-buffer-ms", &v))
    append_part (line, _ ("a lost packet waited for up to %.0f ms"), v);
  if (line->len)
    print_stat (_ ("Jitter"), "%s", line->str);

  g_string_truncate (line, 0);
  if (lookup_number (stats, "send-kbps", &v))
    append_part (line, "%.0f kbit/s", v);
  if (lookup_number (stats, "target-kbps", &v)) {
    /* The target counts the sound too; the ceiling is the picture's alone. */
    if (lookup_number (stats, "max-kbps", &w))
      append_part (line, _ ("target %.0f kbit/s (video max %.0f kbit/s)"), v, w);
    else
      append_part (line, _ ("target %.0f kbit/s"), v);
  }
  if (line->len)
    print_stat (_ ("Sending"), "%s", line->str);

  if (lookup_number (stats, "available-kbps", &v))
    print_stat (_ ("Available"), _ ("%.0f kbit/s (estimated)"), v);

  if (vchatctl_lookup_string (stats, "rung", &s)) {
    g_variant_lookup (stats, "cpu-limited", "b", &cpu_limited);
    /* Translators: %s is the picture size and rate sent, such as "720p30". */
    print_stat (_ ("Video sent"), cpu_limited ? _ ("%s (CPU-limited)") : "%s", s);
  }

  g_string_truncate (line, 0);
  if (lookup_number (stats, "recv-kbps", &v))
    append_part (line, "%.0f kbit/s", v);
  if (lookup_number (stats, "recv-fps", &v))
    append_part (line, "%.0f fps", v);
  if (lookup_number (stats, "recv-width", &w) && lookup_number (stats, "recv-height", &h))
    append_part (line, "%.0fx%.0f", w, h);
  if (lookup_number (stats, "frames-decoded", &v))
    append_part (line, _ ("%.0f frames decoded"), v);
  if (lookup_number (stats, "freezes", &v))
    append_part (line, ngettext ("%.0f freeze", "%.0f freezes", v == 1 ? 1 : 2), v);
  if (line->len)
    print_stat (_ ("Receiving"), "%s", line->str);

  g_string_truncate (line, 0);
  if (lookup_number (stats, "loss-pct", &v))
    append_part (line, _ ("%.1f %% to the peer"), v);
  if (lookup_number (stats, "recv-loss-pct", &v))
    append_part (line, _ ("%.1f %% from the peer"), v);
  if (line->len)
    print_stat (_ ("Loss"), "%s", line->str);

  s = NULL;
  if (vchatctl_lookup_string (stats, "video-codec", &s) |
      vchatctl_lookup_string (stats, "audio-codec", &t))
    print_stat (_ ("Codecs"), _ ("video %s, audio %s"), s ? s : "-", t ? t : "-");
  s = t = NULL;
  if (vchatctl_lookup_string (stats, "local-candidate", &s) |
      vchatctl_lookup_string (stats, "remote-candidate", &t))
    /* Translators: the local and the remote ICE candidate. */
    print_stat (_ ("Route"), _ ("%s to %s"), s ? s : "?", t ? t : "?");

  /* Keys this vchatctl does not know yet, as they come. */
  g_variant_iter_init (&iter, stats);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value)) {
    g_autofree char *text = NULL;
    if (g_strv_contains (known_stats, key))
      continue;
    text = vchatctl_format_value (key, value);
    print_stat (key, "%s", text);
  }
}

/* Only while media flows: before and after, there is nothing to judge. */
static void
print_quality (VchatDBusCall *call)
{
  const char *quality = vchat_dbus_call_get_quality (call);

  if (quality && *quality)
    vchatctl_print_field (FIELD_WIDTH, _ ("Quality"), "%s", quality);
  else if (g_strcmp0 (vchat_dbus_call_get_state (call), "connected") == 0)
    vchatctl_print_field (FIELD_WIDTH, _ ("Quality"), "%s", _ ("not known yet"));
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
    printf (_ ("Call %s\n"), path);
  else
    /* Translators: the call's number and its D-Bus object path. */
    printf (_ ("Call %s (%s)\n"), label, path);
  vchatctl_print_field (FIELD_WIDTH, _ ("State"), "%s", vchat_dbus_call_get_state (call));
  print_quality (call);
  vchatctl_print_field (FIELD_WIDTH, _ ("Kind"), "%s, %s", vchat_dbus_call_get_kind (call),
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
      g_string_append (text, _ ("; interests in common: "));
      for (guint i = 0; common[i]; i++) {
        g_autofree char *escaped = vchatctl_escape_untrusted (common[i], 0);
        g_string_append_printf (text, "%s%s", i ? ", " : "", escaped);
      }
    }
    vchatctl_print_field (FIELD_WIDTH, _ ("Peer"), "%s", text->str);
  } else {
    vchatctl_print_field (FIELD_WIDTH, _ ("Peer"), "%s", _ ("not known yet"));
  }

  if (code && *code) {
    if (web && *web)
      vchatctl_print_field (FIELD_WIDTH, _ ("Invite"), "%s (%s)", code, web);
    else
      vchatctl_print_field (FIELD_WIDTH, _ ("Invite"), "%s", code);
  }

  vchatctl_print_field (FIELD_WIDTH, _ ("Created"), "%s", created_text);
  if (connected) {
    g_autofree char *when = vchatctl_format_time (connected);
    g_autofree char *duration = call_duration (call);
    /* Translators: when the call connected, and how long it lasts or lasted. */
    vchatctl_print_field (FIELD_WIDTH, _ ("Connected"), _ ("%s (for %s)"), when, duration);
  } else {
    vchatctl_print_field (FIELD_WIDTH, _ ("Connected"), "%s", _ ("not yet"));
  }
  if (ended) {
    g_autofree char *when = vchatctl_format_time (ended);
    const char *reason = vchat_dbus_call_get_end_reason (call);
    g_autofree char *reason_code = vchatctl_escape_untrusted (reason, 0);
    g_autofree char *text = vchatctl_end_reason_text (reason);
    vchatctl_print_field (FIELD_WIDTH, _ ("Ended"), "%s (%s: %s)", when, reason_code, text);
  }

  if (!vchat_dbus_call_get_has_microphone (call))
    vchatctl_print_field (FIELD_WIDTH, _ ("Sound"), "%s", _ ("none (no microphone)"));
  else
    vchatctl_print_field (FIELD_WIDTH, _ ("Sound"), "%s",
                          vchat_dbus_call_get_muted (call) ? _ ("muted") : _ ("sending"));
  if (!vchat_dbus_call_get_has_camera (call))
    vchatctl_print_field (FIELD_WIDTH, _ ("Picture"), "%s", _ ("none (no camera)"));
  else
    vchatctl_print_field (FIELD_WIDTH, _ ("Picture"), "%s",
                          vchat_dbus_call_get_camera_enabled (call) ? _ ("sending") : _ ("off"));
  /* What the peer says over the control channel; a peer that says nothing
   * (an older client) reads as sending both. */
  if (vchat_dbus_call_get_peer_muted (call) || !vchat_dbus_call_get_peer_camera_enabled (call))
    vchatctl_print_field (FIELD_WIDTH, _ ("Their side"), "%s%s%s",
                          vchat_dbus_call_get_peer_muted (call) ? _ ("muted") : "",
                          vchat_dbus_call_get_peer_muted (call) &&
                              !vchat_dbus_call_get_peer_camera_enabled (call)
                            ? ", "
                            : "",
                          vchat_dbus_call_get_peer_camera_enabled (call) ? "" : _ ("camera off"));
  /* Translators: the PipeWire nodes of the other person's video and of the preview. */
  vchatctl_print_field (FIELD_WIDTH, _ ("Video"), _ ("remote %s, preview %s"),
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
  { "list", NULL, N_ ("List the calls"),
    N_ ("Lists the calls that have not ended and those that ended in the last minute;\n"
        "the current call is marked with *.\n"),
    NULL, 0, 0, list_run },
  { "show", "[CALL]", N_ ("Show a call's properties and statistics"),
    N_ ("Shows everything about a call: its state and, while connected, its quality\n"
        "(good, fair or poor), the other person, its times, what is being sent, the\n"
        "PipeWire nodes of its video, and the statistics of its connection (refreshed\n"
        "every second while connected).\n"),
    NULL, 0, 1, show_run },
  { NULL }
};
