/* vchatd-history.c: the calls that ended, kept on disk
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-history.h"

#include "vchatd-state-file.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#define FILE_VERSION 1
/* Longer strings in a file someone edited by hand are cut, not trusted. */
#define MAX_STRING 200

typedef struct {
  char *kind;
  char *direction;
  char *peer_name;
  char *end_reason;
  gint64 started;  /* µs since the epoch */
  gint64 duration; /* µs */
} Entry;

struct _VchatdHistory {
  GObject parent_instance;

  char *path;
  guint max_entries;
  GQueue entries; /* Entry*, newest first */
};

G_DEFINE_FINAL_TYPE (VchatdHistory, vchatd_history, G_TYPE_OBJECT)

static void
entry_free (Entry *e)
{
  g_free (e->kind);
  g_free (e->direction);
  g_free (e->peer_name);
  g_free (e->end_reason);
  g_free (e);
}

static char *
clean_string (const char *s)
{
  if (!s || !g_utf8_validate (s, -1, NULL))
    return g_strdup ("");
  return g_utf8_substring (s, 0, MIN (g_utf8_strlen (s, -1), MAX_STRING));
}

static const char *
lookup_string (GVariant *dict, const char *key)
{
  const char *s = NULL;

  return g_variant_lookup (dict, key, "&s", &s) ? s : "";
}

static Entry *
entry_from_variant (GVariant *dict)
{
  Entry *e = g_new0 (Entry, 1);
  guint64 t = 0;

  e->kind = clean_string (lookup_string (dict, "kind"));
  e->direction = clean_string (lookup_string (dict, "direction"));
  e->peer_name = clean_string (lookup_string (dict, "peer-name"));
  e->end_reason = clean_string (lookup_string (dict, "end-reason"));
  if (g_variant_lookup (dict, "started", "t", &t))
    e->started = (gint64) MIN (t, (guint64) G_MAXINT64);
  t = 0;
  if (g_variant_lookup (dict, "duration", "t", &t))
    e->duration = (gint64) MIN (t, (guint64) G_MAXINT64);
  return e;
}

static GVariant *
entry_to_variant (const Entry *e)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "kind", g_variant_new_string (e->kind));
  g_variant_builder_add (&b, "{sv}", "direction", g_variant_new_string (e->direction));
  g_variant_builder_add (&b, "{sv}", "peer-name", g_variant_new_string (e->peer_name));
  g_variant_builder_add (&b, "{sv}", "started", g_variant_new_uint64 ((guint64) e->started));
  g_variant_builder_add (&b, "{sv}", "duration", g_variant_new_uint64 ((guint64) e->duration));
  g_variant_builder_add (&b, "{sv}", "end-reason", g_variant_new_string (e->end_reason));
  return g_variant_builder_end (&b);
}

static Entry *
entry_from_json (JsonNode *node)
{
  JsonObject *o;
  Entry *e;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  o = json_node_get_object (node);
  e = g_new0 (Entry, 1);
  e->kind = clean_string (json_object_get_string_member_with_default (o, "kind", ""));
  e->direction = clean_string (json_object_get_string_member_with_default (o, "direction", ""));
  e->peer_name = clean_string (json_object_get_string_member_with_default (o, "peer_name", ""));
  e->end_reason = clean_string (json_object_get_string_member_with_default (o, "end_reason", ""));
  e->started = MAX (0, json_object_get_int_member_with_default (o, "started_us", 0));
  e->duration = MAX (0, json_object_get_int_member_with_default (o, "duration_us", 0));
  return e;
}

static void
trim (VchatdHistory *self)
{
  while (self->entries.length > self->max_entries)
    entry_free (g_queue_pop_tail (&self->entries));
}

static gboolean
save (VchatdHistory *self, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, FILE_VERSION);
  json_builder_set_member_name (b, "calls");
  json_builder_begin_array (b);
  for (GList *l = self->entries.head; l; l = l->next) {
    const Entry *e = l->data;
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "kind");
    json_builder_add_string_value (b, e->kind);
    json_builder_set_member_name (b, "direction");
    json_builder_add_string_value (b, e->direction);
    json_builder_set_member_name (b, "peer_name");
    json_builder_add_string_value (b, e->peer_name);
    json_builder_set_member_name (b, "started_us");
    json_builder_add_int_value (b, e->started);
    json_builder_set_member_name (b, "duration_us");
    json_builder_add_int_value (b, e->duration);
    json_builder_set_member_name (b, "end_reason");
    json_builder_add_string_value (b, e->end_reason);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  if (!vchatd_state_file_save (self->path, root, error)) {
    g_prefix_error (error, "cannot save the call history: ");
    return FALSE;
  }
  return TRUE;
}

static void
load (VchatdHistory *self)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonNode *root;
  JsonArray *calls = NULL;

  if (!json_parser_load_from_file (parser, self->path, &error)) {
    if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      goto bad;
    return;
  }
  root = json_parser_get_root (parser);
  if (root && JSON_NODE_HOLDS_OBJECT (root)) {
    JsonNode *node = json_object_get_member (json_node_get_object (root), "calls");
    if (node && JSON_NODE_HOLDS_ARRAY (node))
      calls = json_node_get_array (node);
  }
  if (!calls) {
    g_set_error (&error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "not a vchat history");
    goto bad;
  }
  for (guint i = 0; i < json_array_get_length (calls); i++) {
    Entry *e = entry_from_json (json_array_get_element (calls, i));
    if (e)
      g_queue_push_tail (&self->entries, e);
  }
  trim (self);
  g_debug ("history: %u calls from %s", self->entries.length, self->path);
  return;

bad : {
  g_autofree char *aside = g_strconcat (self->path, ".unreadable", NULL);
  g_warning ("the call history %s cannot be read (%s); moved it to %s and starting a new one",
             self->path, error->message, aside);
  if (g_rename (self->path, aside) < 0)
    g_warning ("cannot move %s aside: %s", self->path, g_strerror (errno));
}
}

const char *
vchatd_history_get_path (VchatdHistory *self)
{
  return self->path;
}

void
vchatd_history_set_max_entries (VchatdHistory *self, guint max_entries)
{
  g_autoptr (GError) error = NULL;
  guint before = self->entries.length;

  self->max_entries = max_entries;
  trim (self);
  if (self->entries.length != before && !save (self, &error))
    g_warning ("%s", error->message);
}

gboolean
vchatd_history_add (VchatdHistory *self, GVariant *entry, GError **error)
{
  g_return_val_if_fail (g_variant_is_of_type (entry, G_VARIANT_TYPE_VARDICT), FALSE);

  if (self->max_entries == 0)
    return TRUE;
  g_queue_push_head (&self->entries, entry_from_variant (entry));
  trim (self);
  return save (self, error);
}

GVariant *
vchatd_history_list (VchatdHistory *self, guint limit)
{
  GVariantBuilder b;
  guint n = 0;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (GList *l = self->entries.head; l && (limit == 0 || n < limit); l = l->next, n++)
    g_variant_builder_add_value (&b, entry_to_variant (l->data));
  return g_variant_builder_end (&b);
}

guint
vchatd_history_get_length (VchatdHistory *self)
{
  return self->entries.length;
}

gboolean
vchatd_history_clear (VchatdHistory *self, GError **error)
{
  g_queue_clear_full (&self->entries, (GDestroyNotify) entry_free);
  if (g_unlink (self->path) < 0 && errno != ENOENT) {
    int saved = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                 "cannot remove the call history %s: %s", self->path, g_strerror (saved));
    return FALSE;
  }
  return TRUE;
}

static void
vchatd_history_finalize (GObject *object)
{
  VchatdHistory *self = VCHATD_HISTORY (object);

  g_queue_clear_full (&self->entries, (GDestroyNotify) entry_free);
  g_free (self->path);
  G_OBJECT_CLASS (vchatd_history_parent_class)->finalize (object);
}

static void
vchatd_history_class_init (VchatdHistoryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vchatd_history_finalize;
}

static void
vchatd_history_init (VchatdHistory *self)
{
}

VchatdHistory *
vchatd_history_new (const char *path, guint max_entries)
{
  VchatdHistory *self = g_object_new (VCHATD_TYPE_HISTORY, NULL);

  self->path = path ? g_strdup (path) : vchatd_state_file_path ("history.json");
  self->max_entries = max_entries;
  vchatd_state_file_remove_stale (self->path);
  load (self);
  return self;
}
