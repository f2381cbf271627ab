/* vchatctl-format.c: the shapes of vchatctl's output
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Plain output is for people: aligned labels and tables, local times. JSON is
 * for programs and mirrors the D-Bus properties: names in snake_case (also the
 * keys of dictionaries such as Stats: rtt-ms becomes rtt_ms), times as
 * ISO 8601 in UTC or null for "not yet".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vchat-protocol.h"
#include "vchatctl.h"

#include <glib/gi18n.h>

guint
vchatctl_call_number (const char *path)
{
  const char *rest;
  guint64 n;

  if (!path || !g_str_has_prefix (path, VCHAT_CALLS_PATH))
    return 0;
  rest = path + strlen (VCHAT_CALLS_PATH);
  if (!g_ascii_string_to_unsigned (rest, 10, 1, G_MAXUINT, &n, NULL))
    return 0;
  return (guint) n;
}

/* The short name of a call for people: its number, or its path. */
char *
vchatctl_call_label (const char *path)
{
  guint n = vchatctl_call_number (path);

  return n ? g_strdup_printf ("%u", n) : g_strdup (path);
}

static GDateTime *
date_time_from_usec (guint64 usec, gboolean utc)
{
  g_autoptr (GDateTime) secs = NULL;

  secs = utc ? g_date_time_new_from_unix_utc ((gint64) (usec / G_USEC_PER_SEC))
             : g_date_time_new_from_unix_local ((gint64) (usec / G_USEC_PER_SEC));
  if (!secs)
    return NULL;
  return g_date_time_add (secs, usec % G_USEC_PER_SEC);
}

/* Local time, "2024-11-24 14:43:05"; "-" for 0 (not yet). */
char *
vchatctl_format_time (guint64 usec)
{
  g_autoptr (GDateTime) dt = NULL;

  if (usec == 0)
    return g_strdup ("-");
  dt = date_time_from_usec (usec, FALSE);
  return dt ? g_date_time_format (dt, "%Y-%m-%d %H:%M:%S") : g_strdup ("-");
}

/* UTC, "2024-11-24T14:43:05.123Z"; NULL for 0 (not yet). */
char *
vchatctl_format_iso_time (guint64 usec)
{
  g_autoptr (GDateTime) dt = NULL;
  g_autofree char *secs = NULL;

  if (usec == 0)
    return NULL;
  dt = date_time_from_usec (usec, TRUE);
  if (!dt)
    return NULL;
  secs = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%S");
  return g_strdup_printf ("%s.%03uZ", secs, (guint) (usec % G_USEC_PER_SEC / 1000));
}

/* "0:07", "12:03", "1:02:03" */
char *
vchatctl_format_duration (guint64 usec)
{
  guint64 s = usec / G_USEC_PER_SEC;

  if (s >= 3600)
    return g_strdup_printf ("%u:%02u:%02u", (guint) (s / 3600), (guint) (s / 60 % 60),
                            (guint) (s % 60));
  return g_strdup_printf ("%u:%02u", (guint) (s / 60), (guint) (s % 60));
}

/* "RemoteVideoNode" -> "remote_video_node", "rtt-ms" -> "rtt_ms" */
char *
vchatctl_snake_case (const char *name)
{
  GString *s = g_string_new (NULL);

  for (const char *p = name; *p; p++) {
    if (*p == '-' || *p == ' ') {
      g_string_append_c (s, '_');
    } else if (g_ascii_isupper (*p)) {
      gboolean after_word = p > name && (g_ascii_islower (p[-1]) || g_ascii_isdigit (p[-1]));
      gboolean acronym_end = p > name && g_ascii_isupper (p[-1]) && g_ascii_islower (p[1]);
      if (after_word || acronym_end)
        g_string_append_c (s, '_');
      g_string_append_c (s, g_ascii_tolower (*p));
    } else {
      g_string_append_c (s, *p);
    }
  }
  return g_string_free (s, FALSE);
}

static gboolean
is_time_property (const char *name, GVariant *value)
{
  return g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64) && g_str_has_suffix (name, "At");
}

/* Empty, or holding a separator of monitor's lines or anything that shows
 * escaped. */
static gboolean
needs_quotes (const char *s)
{
  if (!*s || !g_utf8_validate (s, -1, NULL))
    return TRUE;
  for (const char *p = s; *p; p = g_utf8_next_char (p))
    if (g_ascii_isspace (*p) || *p == '"' || *p == '\\' || *p == ',' || *p == '=' ||
        !vchat_display_char_ok (g_utf8_get_char (p)))
      return TRUE;
  return FALSE;
}

static void
append_value (GString *out, GVariant *value)
{
  const GVariantType *type = g_variant_get_type (value);

  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT)) {
    g_autoptr (GVariant) inner = g_variant_get_variant (value);
    append_value (out, inner);
  } else if (g_variant_is_of_type (value, G_VARIANT_TYPE_OBJECT_PATH)) {
    g_autofree char *label = vchatctl_call_label (g_variant_get_string (value, NULL));
    g_string_append (out, label);
  } else if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING)) {
    const char *s = g_variant_get_string (value, NULL);
    if (needs_quotes (s)) {
      g_autofree char *escaped = vchatctl_escape_untrusted (s, VCHATCTL_ESCAPE_QUOTES);
      g_string_append_printf (out, "\"%s\"", escaped);
    } else {
      g_string_append (out, s);
    }
  } else if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN)) {
    g_string_append (out, g_variant_get_boolean (value) ? "yes" : "no");
  } else if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE)) {
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.6g", g_variant_get_double (value)));
  } else if (g_variant_type_is_dict_entry (type)) {
    g_autoptr (GVariant) k = g_variant_get_child_value (value, 0);
    g_autoptr (GVariant) v = g_variant_get_child_value (value, 1);
    if (g_variant_is_of_type (k, G_VARIANT_TYPE_STRING)) {
      g_autofree char *key = vchatctl_escape_untrusted (g_variant_get_string (k, NULL), 0);
      g_string_append (out, key);
    } else
      append_value (out, k);
    g_string_append_c (out, '=');
    append_value (out, v);
  } else if (g_variant_is_container (value)) {
    gboolean dict = g_variant_type_is_array (type) &&
                    g_variant_type_is_dict_entry (g_variant_type_element (type));
    gsize n = g_variant_n_children (value);
    g_string_append_c (out, dict ? '{' : '[');
    for (gsize i = 0; i < n; i++) {
      g_autoptr (GVariant) child = g_variant_get_child_value (value, i);
      if (i)
        g_string_append (out, ", ");
      append_value (out, child);
    }
    g_string_append_c (out, dict ? '}' : ']');
  } else {
    g_autofree char *printed = g_variant_print (value, FALSE);
    g_string_append (out, printed);
  }
}

/* One property's value for a line of `monitor`: strings bare unless they
 * need quotes (then escaped), times local, calls by number. */
char *
vchatctl_format_value (const char *name, GVariant *value)
{
  GString *out = g_string_new (NULL);

  if (name && is_time_property (name, value)) {
    guint64 t = g_variant_get_uint64 (value);
    g_autoptr (GDateTime) dt = t ? date_time_from_usec (t, FALSE) : NULL;
    g_autofree char *clock = dt ? g_date_time_format (dt, "%H:%M:%S") : NULL;
    g_string_append (out, clock ? clock : "-");
  } else {
    append_value (out, value);
  }
  return g_string_free (out, FALSE);
}

JsonNode *
vchatctl_variant_to_json (GVariant *value)
{
  const GVariantType *type = g_variant_get_type (value);
  JsonNode *node = NULL;

  switch (g_variant_classify (value)) {
  case G_VARIANT_CLASS_BOOLEAN:
    node = json_node_new (JSON_NODE_VALUE);
    json_node_set_boolean (node, g_variant_get_boolean (value));
    return node;
  case G_VARIANT_CLASS_BYTE:
    node = json_node_new (JSON_NODE_VALUE);
    json_node_set_int (node, g_variant_get_byte (value));
    return node;
  case G_VARIANT_CLASS_INT16:
    node = json_node_new (JSON_NODE_VALUE);
    json_node_set_int (node, g_variant_get_int16 (value));
    return node;
  case G_VARIANT_CLASS_UINT16:
    node = json_node_new (JSON_NODE_VALUE);
    json_node_set_int (node, g_variant_get_uint16 (value));
    return node;
  case G_VARIANT_CLASS_INT32:
  case G_VARIANT_CLASS_HANDLE:
    node = json_node_new (JSON_NODE_VALUE);
    json_node_set_int (node, g_variant_get_int32 (value));
    return node;
  case G_VARIANT_CLASS_UINT32:
    node = json_node_new (JSON_NODE_VALUE);
    json_node_set_int (node, g_variant_get_uint32 (value));
    return node;
  case G_VARIANT_CLASS_INT64:
    node = json_node_new (JSON_NODE_VALUE);
    json_node_set_int (node, g_variant_get_int64 (value));
    return node;
  case G_VARIANT_CLASS_UINT64:
    node = json_node_new (JSON_NODE_VALUE);
    json_node_set_int (node, (gint64) g_variant_get_uint64 (value));
    return node;
  case G_VARIANT_CLASS_DOUBLE:
    node = json_node_new (JSON_NODE_VALUE);
    json_node_set_double (node, g_variant_get_double (value));
    return node;
  case G_VARIANT_CLASS_STRING:
  case G_VARIANT_CLASS_OBJECT_PATH:
  case G_VARIANT_CLASS_SIGNATURE:
    node = json_node_new (JSON_NODE_VALUE);
    json_node_set_string (node, g_variant_get_string (value, NULL));
    return node;
  case G_VARIANT_CLASS_VARIANT: {
    g_autoptr (GVariant) inner = g_variant_get_variant (value);
    return vchatctl_variant_to_json (inner);
  }
  case G_VARIANT_CLASS_MAYBE: {
    g_autoptr (GVariant) inner = g_variant_get_maybe (value);
    return inner ? vchatctl_variant_to_json (inner) : json_node_new (JSON_NODE_NULL);
  }
  case G_VARIANT_CLASS_ARRAY:
    if (g_variant_type_is_dict_entry (g_variant_type_element (type))) {
      JsonObject *object = json_object_new ();
      gsize n = g_variant_n_children (value);
      for (gsize i = 0; i < n; i++) {
        g_autoptr (GVariant) entry = g_variant_get_child_value (value, i);
        g_autoptr (GVariant) k = g_variant_get_child_value (entry, 0);
        g_autoptr (GVariant) v = g_variant_get_child_value (entry, 1);
        g_autofree char *key = NULL;
        if (g_variant_is_of_type (k, G_VARIANT_TYPE_STRING))
          key = vchatctl_snake_case (g_variant_get_string (k, NULL));
        else if (g_variant_is_of_type (k, G_VARIANT_TYPE_OBJECT_PATH))
          key = g_variant_dup_string (k, NULL);
        else
          key = g_variant_print (k, FALSE);
        json_object_set_member (object, key, vchatctl_variant_to_json (v));
      }
      node = json_node_new (JSON_NODE_OBJECT);
      json_node_take_object (node, object);
      return node;
    }
    G_GNUC_FALLTHROUGH;
  case G_VARIANT_CLASS_TUPLE:
  case G_VARIANT_CLASS_DICT_ENTRY: {
    JsonArray *array = json_array_new ();
    gsize n = g_variant_n_children (value);
    for (gsize i = 0; i < n; i++) {
      g_autoptr (GVariant) child = g_variant_get_child_value (value, i);
      json_array_add_element (array, vchatctl_variant_to_json (child));
    }
    node = json_node_new (JSON_NODE_ARRAY);
    json_node_take_array (node, array);
    return node;
  }
  }
  return json_node_new (JSON_NODE_NULL);
}

JsonNode *
vchatctl_property_to_json (const char *name, GVariant *value)
{
  if (is_time_property (name, value)) {
    g_autofree char *iso = vchatctl_format_iso_time (g_variant_get_uint64 (value));
    JsonNode *node = json_node_new (iso ? JSON_NODE_VALUE : JSON_NODE_NULL);
    if (iso)
      json_node_set_string (node, iso);
    return node;
  }
  return vchatctl_variant_to_json (value);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Every cached property of @proxy, in the order of the interface XML, then
 * any the XML does not know (a newer daemon), sorted. */
JsonObject *
vchatctl_proxy_to_json (GDBusProxy *proxy)
{
  JsonObject *object = json_object_new ();
  GDBusInterfaceInfo *info = g_dbus_proxy_get_interface_info (proxy);
  g_auto (GStrv) names = g_dbus_proxy_get_cached_property_names (proxy);
  g_autoptr (GHashTable) done = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; info && info->properties && info->properties[i]; i++) {
    const char *name = info->properties[i]->name;
    g_autoptr (GVariant) value = g_dbus_proxy_get_cached_property (proxy, name);
    g_autofree char *key = vchatctl_snake_case (name);
    g_hash_table_add (done, (gpointer) name);
    if (value)
      json_object_set_member (object, key, vchatctl_property_to_json (name, value));
  }
  if (names) {
    qsort (names, g_strv_length (names), sizeof (char *), compare_strings);
    for (char **n = names; *n; n++) {
      g_autoptr (GVariant) value = NULL;
      g_autofree char *key = NULL;
      if (g_hash_table_contains (done, *n))
        continue;
      value = g_dbus_proxy_get_cached_property (proxy, *n);
      key = vchatctl_snake_case (*n);
      json_object_set_member (object, key, vchatctl_property_to_json (*n, value));
    }
  }
  return object;
}

/* Pretty on a terminal, one line otherwise (for pipes, files and tests);
 * strings escaped as vchatctl_escape_json() says. */
void
vchatctl_print_json (JsonNode *node)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL, *escaped = NULL;

  json_generator_set_root (gen, node);
  if (isatty (STDOUT_FILENO)) {
    json_generator_set_pretty (gen, TRUE);
    json_generator_set_indent (gen, 2);
  }
  text = json_generator_to_data (gen, NULL);
  escaped = vchatctl_escape_json (text);
  fputs (escaped, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
}

gboolean
vchatctl_lookup_string (GVariant *dict, const char *key, const char **out)
{
  if (!dict || !g_variant_is_of_type (dict, G_VARIANT_TYPE_VARDICT))
    return FALSE;
  return g_variant_lookup (dict, key, "&s", out);
}

/* The peer's display name, or NULL when not known (yet). */
const char *
vchatctl_peer_name (GVariant *peer)
{
  const char *name = NULL;

  if (vchatctl_lookup_string (peer, "name", &name) && *name)
    return name;
  return NULL;
}

struct _VchatctlTable {
  guint n_columns;
  GPtrArray *cells; /* rows * n_columns strings, the first row the header */
};

/* The column titles follow @n_columns; a NULL first title: no header row. */
VchatctlTable *
vchatctl_table_new (guint n_columns, ...)
{
  VchatctlTable *table = g_new0 (VchatctlTable, 1);
  va_list ap;

  table->n_columns = n_columns;
  table->cells = g_ptr_array_new_with_free_func (g_free);
  va_start (ap, n_columns);
  for (guint i = 0; i < n_columns; i++) {
    const char *title = va_arg (ap, const char *);
    if (!title && i == 0)
      break; /* no header row */
    g_ptr_array_add (table->cells, g_strdup (title ? title : ""));
  }
  va_end (ap);
  return table;
}

/* Adds a row of @n_columns strings (NULL prints as empty). */
void
vchatctl_table_add (VchatctlTable *table, ...)
{
  va_list ap;

  va_start (ap, table);
  for (guint i = 0; i < table->n_columns; i++) {
    const char *cell = va_arg (ap, const char *);
    g_ptr_array_add (table->cells, g_strdup (cell ? cell : ""));
  }
  va_end (ap);
}

void
vchatctl_table_print (VchatctlTable *table, const char *indent)
{
  g_autofree glong *width = g_new0 (glong, table->n_columns);
  guint n_rows = table->cells->len / table->n_columns;

  for (guint i = 0; i < table->cells->len; i++)
    width[i % table->n_columns] = MAX (width[i % table->n_columns],
                                       g_utf8_strlen (table->cells->pdata[i], -1));

  for (guint r = 0; r < n_rows; r++) {
    g_autoptr (GString) line = g_string_new (indent);
    for (guint c = 0; c < table->n_columns; c++) {
      const char *cell = table->cells->pdata[r * table->n_columns + c];
      g_string_append (line, cell);
      if (c + 1 < table->n_columns)
        for (glong pad = g_utf8_strlen (cell, -1); pad < width[c] + 2; pad++)
          g_string_append_c (line, ' ');
    }
    while (line->len && line->str[line->len - 1] == ' ')
      g_string_truncate (line, line->len - 1);
    puts (line->str);
  }
}

void
vchatctl_table_free (VchatctlTable *table)
{
  g_ptr_array_unref (table->cells);
  g_free (table);
}

void
vchatctl_print_field (int width, const char *label, const char *format, ...)
{
  g_autofree char *value = NULL;
  g_autofree char *colon = g_strconcat (label, ":", NULL);
  /* Padded by characters, not bytes: a translated label may have umlauts. */
  int pad = width - (int) g_utf8_strlen (colon, -1);
  va_list ap;

  va_start (ap, format);
  value = g_strdup_vprintf (format, ap);
  va_end (ap);
  printf ("%s%*s %s\n", colon, MAX (pad, 0), "", value);
}

/* EndReason as a person reads it; one this vchatctl does not know as it
 * is, escaped. */
char *
vchatctl_end_reason_text (const char *reason)
{
  static const struct {
    const char *reason, *text;
  } texts[] = {
    /* Translators: how a call ended. */
    { "hangup", N_ ("hung up") },
    { "peer-hangup", N_ ("the other person hung up") },
    /* Translators: how a call ended: the person called declined it. */
    { "rejected", N_ ("rejected") },
    { "next", N_ ("moved on to the next person") },
    { "peer-next", N_ ("the other person moved on to someone else") },
    { "peer-lost", N_ ("the other person vanished (no media, no signaling)") },
    { "network", N_ ("the connection broke and could not be restored") },
    { "expired", N_ ("the invite or the ringing timed out") },
    { "error", N_ ("something broke (see: journalctl --user -u vchatd)") },
  };

  if (!reason || !*reason)
    return g_strdup (_ ("no reason given"));
  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    if (g_str_equal (texts[i].reason, reason))
      return g_strdup (_ (texts[i].text));
  return vchatctl_escape_untrusted (reason, 0);
}
