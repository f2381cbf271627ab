/* vchatd-devices.c: the cameras and microphones PipeWire offers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-devices.h"

#include <errno.h>
#include <string.h>

#include <json-glib/json-glib.h>
#include <pipewire/pipewire.h>
#include <pipewire/extensions/metadata.h>


typedef enum {
  KIND_CAMERA,
  KIND_MICROPHONE,
  N_KINDS,
} Kind;

static const char *const kind_class[N_KINDS] = { "Video/Source", "Audio/Source" };
static const char *const kind_metadata_key[N_KINDS] = { "default.video.source",
                                                        "default.audio.source" };

/* One listed device: its PipeWire global, and what we tell about it. */
typedef struct {
  guint32 global_id;
  char *id;
  char *name;
  guint64 serial;
} Entry;

/* A node that may be a camera or microphone (its media.class says so), bound
 * until PipeWire has told its properties (vchat.hidden is not among those
 * of the global), and until it goes. */
typedef struct {
  VchatdDevices *self;
  guint32 global_id;
  struct pw_node *proxy;
  struct spa_hook node_listener;
  struct spa_hook proxy_listener;
  gboolean has_info;
} NodeWatch;

/* A GSource that runs a pw_loop on a GLib main context, so the metadata
 * listener runs on our main context and needs no locking. */
typedef struct {
  GSource base;
  struct pw_loop *loop;
} PwLoopSource;

struct _VchatdDevices {
  GObject parent_instance;

  GMainContext *context;
  gboolean started;

  GPtrArray *entries[N_KINDS]; /* of Entry, in order of appearance */
  GHashTable *nodes;            /* global id → NodeWatch */

  /* WirePlumber's defaults, from the "default" metadata. */
  GSource *pw_source;
  struct pw_context *pw_context;
  struct pw_core *pw_core;
  struct spa_hook core_listener;
  struct pw_registry *registry;
  struct spa_hook registry_listener;
  struct pw_metadata *metadata;
  struct spa_hook metadata_listener;
  guint32 metadata_id;
  char *default_id[N_KINDS];

  int sync_seq;
  gboolean sync_done;
  /* See refresh_metadata(). */
  GSource *refresh_source;
  guint refreshes_left;
  gboolean refreshing;
  int refresh_seq;
  char *refresh_old_id[N_KINDS];

  gboolean pipewire_gone;
  gboolean starting;
  GSource *changed_source;
};

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (VchatdDevices, vchatd_devices, G_TYPE_OBJECT)

static void schedule_metadata_refresh (VchatdDevices *self);

/* VchatdDevice */

VchatdDevice *
vchatd_device_copy (const VchatdDevice *device)
{
  VchatdDevice *copy;

  g_return_val_if_fail (device != NULL, NULL);

  copy = g_new0 (VchatdDevice, 1);
  copy->id = g_strdup (device->id);
  copy->name = g_strdup (device->name);
  copy->serial = device->serial;
  copy->is_default = device->is_default;
  return copy;
}

void
vchatd_device_free (VchatdDevice *device)
{
  if (!device)
    return;
  g_free (device->id);
  g_free (device->name);
  g_free (device);
}

G_DEFINE_BOXED_TYPE (VchatdDevice, vchatd_device, vchatd_device_copy, vchatd_device_free)

static void
entry_free (gpointer data)
{
  Entry *entry = data;

  g_free (entry->id);
  g_free (entry->name);
  g_free (entry);
}

/* "changed", from the main loop */

static gboolean
emit_changed (gpointer data)
{
  g_autoptr (VchatdDevices) self = g_object_ref (data); /* a handler may drop it */

  g_clear_pointer (&self->changed_source, g_source_unref);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  return G_SOURCE_REMOVE;
}

/* Several changes in a row (a device and the default moving to it) make one
 * "changed"; and a handler never runs inside a PipeWire or bus callback, so
 * it may stop or drop us. */
static void
queue_changed (VchatdDevices *self)
{
  if (self->changed_source || self->starting)
    return;
  self->changed_source = g_idle_source_new ();
  g_source_set_priority (self->changed_source, G_PRIORITY_DEFAULT);
  g_source_set_callback (self->changed_source, emit_changed, self, NULL);
  g_source_set_static_name (self->changed_source, "[vchatd] devices changed");
  g_source_attach (self->changed_source, self->context);
}

/* Devices from PipeWire's registry
 *
 * Our own registry on our main context, not GStreamer's PipeWire device
 * provider: that one (PipeWire 0.3.65) binds every node and port of the
 * graph on the thread loop it shares with every pipewiresrc and pipewiresink
 * of the process, keeps ports pointing at their node's data after the node
 * is gone, and corrupts the heap when stopped. With the nodes each call
 * publishes coming and going, vchatd crashed in that loop after a few dozen
 * calls. */

static gboolean
prop_is_true (const struct spa_dict *props, const char *key)
{
  const char *value = spa_dict_lookup (props, key);

  return value && (g_ascii_strcasecmp (value, "true") == 0 || strcmp (value, "1") == 0);
}

static int
kind_of_class (const char *media_class)
{
  for (int kind = 0; kind < N_KINDS; kind++)
    if (g_strcmp0 (media_class, kind_class[kind]) == 0)
      return kind;
  return N_KINDS;
}

static Entry *
entry_new (guint32 global_id, const struct spa_dict *props, Kind *kind_out)
{
  const char *node_name, *name, *serial;
  Entry *entry;
  int kind = kind_of_class (spa_dict_lookup (props, PW_KEY_MEDIA_CLASS));

  if (kind == N_KINDS)
    return NULL;
  node_name = spa_dict_lookup (props, PW_KEY_NODE_NAME);
  if (!node_name || prop_is_true (props, VCHATD_DEVICES_HIDDEN_PROPERTY))
    return NULL;

  name = spa_dict_lookup (props, PW_KEY_NODE_DESCRIPTION);
  if (!name || !*name)
    name = spa_dict_lookup (props, PW_KEY_NODE_NICK);
  if (!name || !*name)
    name = node_name;
  serial = spa_dict_lookup (props, PW_KEY_OBJECT_SERIAL);

  entry = g_new0 (Entry, 1);
  entry->global_id = global_id;
  entry->id = g_strdup (node_name);
  entry->name = g_strdup (name);
  entry->serial = serial ? g_ascii_strtoull (serial, NULL, 10) : 0;
  *kind_out = kind;
  return entry;
}

static gboolean
find_entry (VchatdDevices *self, guint32 global_id, Kind *kind_out, guint *index_out)
{
  for (int kind = 0; kind < N_KINDS; kind++) {
    GPtrArray *entries = self->entries[kind];

    for (guint i = 0; i < entries->len; i++) {
      Entry *entry = g_ptr_array_index (entries, i);

      if (entry->global_id == global_id) {
        *kind_out = kind;
        *index_out = i;
        return TRUE;
      }
    }
  }
  return FALSE;
}

static gboolean
remove_entry (VchatdDevices *self, guint32 global_id)
{
  Kind kind;
  guint index;

  if (!find_entry (self, global_id, &kind, &index))
    return FALSE;
  g_debug ("devices: %s gone", ((Entry *) g_ptr_array_index (self->entries[kind], index))->id);
  g_ptr_array_remove_index (self->entries[kind], index);
  return TRUE;
}

/* Adds the node, or updates it if it is there (a changed device keeps its
 * place in the list). Whether the lists changed. */
static gboolean
add_entry (VchatdDevices *self, guint32 global_id, const struct spa_dict *props)
{
  Kind kind, old_kind;
  guint index;
  Entry *entry = entry_new (global_id, props, &kind);

  if (find_entry (self, global_id, &old_kind, &index)) {
    Entry *old = g_ptr_array_index (self->entries[old_kind], index);

    if (entry && kind == old_kind && g_strcmp0 (entry->id, old->id) == 0 &&
        g_strcmp0 (entry->name, old->name) == 0 && entry->serial == old->serial) {
      entry_free (entry);
      return FALSE;
    }
    if (entry && kind == old_kind) {
      g_debug ("devices: %s changed", entry->id);
      self->entries[kind]->pdata[index] = entry;
      entry_free (old);
      return TRUE;
    }
    g_ptr_array_remove_index (self->entries[old_kind], index);
    if (!entry)
      return TRUE;
  }
  if (!entry)
    return FALSE;
  g_debug ("devices: %s \"%s\" (serial %" G_GUINT64_FORMAT ") is a %s", entry->id, entry->name,
           entry->serial, kind == KIND_CAMERA ? "camera" : "microphone");
  g_ptr_array_add (self->entries[kind], entry);
  return TRUE;
}

static void
devices_changed (VchatdDevices *self)
{
  queue_changed (self);
  schedule_metadata_refresh (self);
}

static void
on_node_info (void *data, const struct pw_node_info *info)
{
  NodeWatch *watch = data;

  if (!info->props || !(info->change_mask & PW_NODE_CHANGE_MASK_PROPS))
    return;
  watch->has_info = TRUE;
  if (add_entry (watch->self, watch->global_id, info->props))
    devices_changed (watch->self);
}

static const struct pw_node_events node_events = {
  PW_VERSION_NODE_EVENTS,
  .info = on_node_info,
};

/* The proxy is gone (we destroyed it, or the connection went). */
static void
on_node_proxy_destroy (void *data)
{
  NodeWatch *watch = data;

  spa_hook_remove (&watch->node_listener);
  spa_hook_remove (&watch->proxy_listener);
  watch->proxy = NULL;
}

static const struct pw_proxy_events node_proxy_events = {
  PW_VERSION_PROXY_EVENTS,
  .destroy = on_node_proxy_destroy,
};

static void
node_watch_free (gpointer data)
{
  NodeWatch *watch = data;

  if (watch->proxy)
    pw_proxy_destroy ((struct pw_proxy *) watch->proxy);
  g_free (watch);
}

static void
watch_node (VchatdDevices *self, guint32 id, const struct spa_dict *props)
{
  NodeWatch *watch;

  if (!props || kind_of_class (spa_dict_lookup (props, PW_KEY_MEDIA_CLASS)) == N_KINDS ||
      g_hash_table_contains (self->nodes, GUINT_TO_POINTER (id)))
    return;
  watch = g_new0 (NodeWatch, 1);
  watch->self = self;
  watch->global_id = id;
  watch->proxy = pw_registry_bind (self->registry, id, PW_TYPE_INTERFACE_Node, PW_VERSION_NODE, 0);
  if (!watch->proxy) {
    g_warning ("devices: cannot watch PipeWire node %u", id);
    g_free (watch);
    return;
  }
  pw_node_add_listener (watch->proxy, &watch->node_listener, &node_events, watch);
  pw_proxy_add_listener ((struct pw_proxy *) watch->proxy, &watch->proxy_listener,
                         &node_proxy_events, watch);
  g_hash_table_insert (self->nodes, GUINT_TO_POINTER (id), watch);
}

/* Whether every watched node has told its properties. */
static gboolean
nodes_known (VchatdDevices *self)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, self->nodes);
  while (g_hash_table_iter_next (&it, NULL, &value))
    if (!((NodeWatch *) value)->has_info)
      return FALSE;
  return TRUE;
}

/* WirePlumber's defaults */

static gboolean
pw_loop_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  PwLoopSource *s = (PwLoopSource *) source;
  int res = pw_loop_iterate (s->loop, 0);

  if (res < 0 && res != -EINTR)
    g_warning ("PipeWire: loop iteration failed: %s", g_strerror (-res));
  return G_SOURCE_CONTINUE;
}

static void
pw_loop_source_finalize (GSource *source)
{
  PwLoopSource *s = (PwLoopSource *) source;

  pw_loop_leave (s->loop);
  pw_loop_destroy (s->loop);
}

static GSourceFuncs pw_loop_source_funcs = {
  .dispatch = pw_loop_source_dispatch,
  .finalize = pw_loop_source_finalize,
};

static GSource *
pw_loop_source_new (void)
{
  struct pw_loop *loop = pw_loop_new (NULL);
  PwLoopSource *s;

  if (!loop)
    return NULL;
  s = (PwLoopSource *) g_source_new (&pw_loop_source_funcs, sizeof (PwLoopSource));
  s->loop = loop;
  g_source_set_static_name (&s->base, "[vchatd] PipeWire");
  g_source_add_unix_fd (&s->base, pw_loop_get_fd (loop), G_IO_IN | G_IO_ERR | G_IO_HUP);
  pw_loop_enter (loop);
  return &s->base;
}

/* {"name":"node.name"} -> node.name */
static char *
parse_default_value (const char *type, const char *value)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonNode *root;
  JsonObject *object;

  if (!value)
    return NULL;
  if (type && strcmp (type, "Spa:String:JSON") != 0)
    return g_strdup (value);
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, value, -1, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  object = json_node_get_object (root);
  return g_strdup (json_object_get_string_member_with_default (object, "name", NULL));
}

static void
set_default (VchatdDevices *self, Kind kind, char *id /* transfer full */)
{
  if (g_strcmp0 (self->default_id[kind], id) == 0) {
    g_free (id);
    return;
  }
  g_free (self->default_id[kind]);
  self->default_id[kind] = id;
  if (self->refreshing)
    return; /* compared when the refresh is complete */
  g_debug ("devices: default %s: %s", kind == KIND_CAMERA ? "camera" : "microphone",
           id ? id : "(none)");
  queue_changed (self);
}

static int
on_metadata_property (void *data, uint32_t subject, const char *key, const char *type,
                      const char *value)
{
  VchatdDevices *self = data;

  if (subject != PW_ID_CORE)
    return 0;
  for (int kind = 0; kind < N_KINDS; kind++) {
    if (key == NULL)
      set_default (self, kind, NULL); /* everything was cleared */
    else if (strcmp (key, kind_metadata_key[kind]) == 0)
      set_default (self, kind, parse_default_value (type, value));
  }
  return 0;
}

static const struct pw_metadata_events metadata_events = {
  PW_VERSION_METADATA_EVENTS,
  .property = on_metadata_property,
};

static void
end_refresh (VchatdDevices *self)
{
  if (!self->refreshing)
    return;
  self->refreshing = FALSE;
  for (int kind = 0; kind < N_KINDS; kind++) {
    if (g_strcmp0 (self->refresh_old_id[kind], self->default_id[kind]) != 0) {
      g_debug ("devices: default %s: %s (on refresh)",
               kind == KIND_CAMERA ? "camera" : "microphone",
               self->default_id[kind] ? self->default_id[kind] : "(none)");
      queue_changed (self);
    }
    g_clear_pointer (&self->refresh_old_id[kind], g_free);
  }
}

static void
unbind_metadata (VchatdDevices *self)
{
  if (!self->metadata)
    return;
  spa_hook_remove (&self->metadata_listener);
  pw_proxy_destroy ((struct pw_proxy *) self->metadata);
  self->metadata = NULL;
}

static gboolean
bind_metadata (VchatdDevices *self, uint32_t id)
{
  self->metadata = pw_registry_bind (self->registry, id, PW_TYPE_INTERFACE_Metadata,
                                     PW_VERSION_METADATA, 0);
  if (!self->metadata) {
    g_warning ("PipeWire: cannot bind the default metadata; default devices are unknown");
    return FALSE;
  }
  self->metadata_id = id;
  pw_metadata_add_listener (self->metadata, &self->metadata_listener, &metadata_events, self);
  return TRUE;
}

static void
drop_metadata (VchatdDevices *self)
{
  if (self->refresh_source) {
    g_source_destroy (self->refresh_source);
    g_clear_pointer (&self->refresh_source, g_source_unref);
  }
  self->refreshes_left = 0;
  end_refresh (self);
  if (!self->metadata)
    return;
  unbind_metadata (self);
  self->metadata_id = SPA_ID_INVALID;
  for (int kind = 0; kind < N_KINDS; kind++)
    set_default (self, kind, NULL);
}

/* With WirePlumber 0.4.13 and PipeWire 0.3.65, a bound "default" metadata
 * sometimes never receives a change made after the bind (about one session
 * in ten here: the new default camera reaches a pw-metadata started
 * afterwards, never the proxy bound before, nor a "pw-metadata -m" running
 * before), so is_default would go stale for good. A fresh bind always
 * brings the current values. Defaults change when devices come and go, so
 * shortly after every change of the lists the metadata is bound anew, twice
 * (WirePlumber decides within milliseconds; the second time is for a busy
 * machine). Live updates, when they come, are used as well. */
static gboolean
refresh_metadata (gpointer data)
{
  VchatdDevices *self = data;
  uint32_t id = self->metadata_id;

  g_clear_pointer (&self->refresh_source, g_source_unref);
  if (!self->metadata || !self->pw_core || self->refreshing)
    return G_SOURCE_REMOVE;

  unbind_metadata (self);
  self->refreshing = TRUE;
  for (int kind = 0; kind < N_KINDS; kind++)
    self->refresh_old_id[kind] = g_steal_pointer (&self->default_id[kind]);
  if (!bind_metadata (self, id)) {
    self->metadata_id = SPA_ID_INVALID;
    end_refresh (self);
    return G_SOURCE_REMOVE;
  }
  /* Everything the bind sends comes before the answer to this. */
  self->refresh_seq = pw_core_sync (self->pw_core, PW_ID_CORE, 0);

  if (self->refreshes_left > 0 && --self->refreshes_left > 0) {
    self->refresh_source = g_timeout_source_new (1700);
    g_source_set_callback (self->refresh_source, refresh_metadata, self, NULL);
    g_source_set_static_name (self->refresh_source, "[vchatd] default devices refresh");
    g_source_attach (self->refresh_source, self->context);
  }
  return G_SOURCE_REMOVE;
}

static void
schedule_metadata_refresh (VchatdDevices *self)
{
  if (!self->metadata)
    return;
  if (self->refresh_source) {
    g_source_destroy (self->refresh_source);
    g_clear_pointer (&self->refresh_source, g_source_unref);
  }
  self->refreshes_left = 2;
  self->refresh_source = g_timeout_source_new (300);
  g_source_set_callback (self->refresh_source, refresh_metadata, self, NULL);
  g_source_set_static_name (self->refresh_source, "[vchatd] default devices refresh");
  g_source_attach (self->refresh_source, self->context);
}

static void
on_registry_global (void *data, uint32_t id, uint32_t permissions, const char *type,
                    uint32_t version, const struct spa_dict *props)
{
  VchatdDevices *self = data;
  const char *name;

  if (strcmp (type, PW_TYPE_INTERFACE_Node) == 0) {
    watch_node (self, id, props);
    return;
  }
  if (self->metadata || strcmp (type, PW_TYPE_INTERFACE_Metadata) != 0 || !props)
    return;
  name = spa_dict_lookup (props, PW_KEY_METADATA_NAME);
  if (g_strcmp0 (name, "default") != 0)
    return;
  bind_metadata (self, id);
}

static void
on_registry_global_remove (void *data, uint32_t id)
{
  VchatdDevices *self = data;

  if (self->metadata && id == self->metadata_id)
    drop_metadata (self);
  if (g_hash_table_remove (self->nodes, GUINT_TO_POINTER (id)) && remove_entry (self, id))
    devices_changed (self);
}

static const struct pw_registry_events registry_events = {
  PW_VERSION_REGISTRY_EVENTS,
  .global = on_registry_global,
  .global_remove = on_registry_global_remove,
};

static void
on_core_error (void *data, uint32_t id, int seq, int res, const char *message)
{
  VchatdDevices *self = data;

  if (id == PW_ID_CORE && res == -EPIPE) {
    /* PipeWire went away (and we do not reconnect): the lists are
     * emptied. */
    g_warning ("PipeWire: disconnected (%s); no cameras or microphones until vchatd restarts",
               message);
    self->pipewire_gone = TRUE;
    drop_metadata (self);
    for (int kind = 0; kind < N_KINDS; kind++)
      g_ptr_array_set_size (self->entries[kind], 0);
    queue_changed (self);
  }
}

static void
on_core_done (void *data, uint32_t id, int seq)
{
  VchatdDevices *self = data;

  if (id != PW_ID_CORE)
    return;
  if (seq == self->sync_seq)
    self->sync_done = TRUE;
  if (self->refreshing && seq == self->refresh_seq)
    end_refresh (self);
}

static const struct pw_core_events core_events = {
  PW_VERSION_CORE_EVENTS,
  .done = on_core_done,
  .error = on_core_error,
};

/* Runs the PipeWire loop until PipeWire has answered everything sent so far
 * (bounded: it answers in milliseconds when it is there at all). */
static void
roundtrip (VchatdDevices *self)
{
  struct pw_loop *loop = ((PwLoopSource *) self->pw_source)->loop;
  gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;

  self->sync_done = FALSE;
  self->sync_seq = pw_core_sync (self->pw_core, PW_ID_CORE, self->sync_seq);
  while (!self->sync_done && self->pw_core && g_get_monotonic_time () < deadline)
    if (pw_loop_iterate (loop, 50) < 0)
      break;
  if (!self->sync_done)
    g_warning ("PipeWire did not answer within 2 s; default devices may be unknown for now");
}

static void
disconnect_pipewire (VchatdDevices *self)
{
  drop_metadata (self);
  g_hash_table_remove_all (self->nodes);
  if (self->registry) {
    spa_hook_remove (&self->registry_listener);
    pw_proxy_destroy ((struct pw_proxy *) self->registry);
    self->registry = NULL;
  }
  if (self->pw_core) {
    spa_hook_remove (&self->core_listener);
    pw_core_disconnect (self->pw_core);
    self->pw_core = NULL;
  }
  g_clear_pointer (&self->pw_context, pw_context_destroy);
  if (self->pw_source) {
    g_source_destroy (self->pw_source);
    g_clear_pointer (&self->pw_source, g_source_unref);
  }
}

static gboolean
connect_pipewire (VchatdDevices *self, GError **error)
{
  struct pw_loop *loop;

  pw_init (NULL, NULL);
  self->pw_source = pw_loop_source_new ();
  if (!self->pw_source) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot create a PipeWire main loop");
    return FALSE;
  }
  loop = ((PwLoopSource *) self->pw_source)->loop;
  g_source_attach (self->pw_source, self->context);

  self->pw_context = pw_context_new (loop, NULL, 0);
  if (!self->pw_context) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot create a PipeWire context: %s",
                 g_strerror (errno));
    return FALSE;
  }
  self->pw_core = pw_context_connect (
    self->pw_context, pw_properties_new (PW_KEY_APP_NAME, "vchatd device list", NULL), 0);
  if (!self->pw_core) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                 "Cannot connect to PipeWire (%s): is the pipewire service running "
                 "for this user (XDG_RUNTIME_DIR=%s)?",
                 g_strerror (errno), g_getenv ("XDG_RUNTIME_DIR"));
    return FALSE;
  }
  pw_core_add_listener (self->pw_core, &self->core_listener, &core_events, self);
  self->registry = pw_core_get_registry (self->pw_core, PW_VERSION_REGISTRY, 0);
  pw_registry_add_listener (self->registry, &self->registry_listener, &registry_events, self);
  return TRUE;
}

/* Public API */

VchatdDevices *
vchatd_devices_new (void)
{
  return g_object_new (VCHATD_TYPE_DEVICES, NULL);
}

gboolean
vchatd_devices_start (VchatdDevices *self, GError **error)
{
  g_return_val_if_fail (VCHATD_IS_DEVICES (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->started)
    return TRUE;

  /* No "changed" for what is there at the start. */
  self->starting = TRUE;
  g_clear_pointer (&self->context, g_main_context_unref);
  self->context = g_main_context_ref_thread_default ();

  if (!connect_pipewire (self, error)) {
    disconnect_pipewire (self);
    self->starting = FALSE;
    return FALSE;
  }
  self->started = TRUE;

  /* Round trips with PipeWire: the first lists the globals (binding the
   * possible devices and the default metadata), the next brings their
   * properties. So the lists and is_default are right from the start. */
  roundtrip (self);
  for (int i = 0; i < 3 && self->pw_core && (self->metadata || !nodes_known (self)); i++) {
    roundtrip (self);
    if (nodes_known (self))
      break;
  }
  self->starting = FALSE;

  g_debug ("devices: started with %u camera(s), %u microphone(s)", self->entries[KIND_CAMERA]->len,
           self->entries[KIND_MICROPHONE]->len);
  return TRUE;
}

void
vchatd_devices_stop (VchatdDevices *self)
{
  g_return_if_fail (VCHATD_IS_DEVICES (self));

  disconnect_pipewire (self);
  for (int kind = 0; kind < N_KINDS; kind++) {
    g_ptr_array_set_size (self->entries[kind], 0);
    g_clear_pointer (&self->default_id[kind], g_free);
  }
  if (self->changed_source) {
    g_source_destroy (self->changed_source);
    g_clear_pointer (&self->changed_source, g_source_unref);
  }
  self->pipewire_gone = FALSE;
  self->started = FALSE;
}

static VchatdDevice *
entry_to_device (VchatdDevices *self, Kind kind, const Entry *entry)
{
  VchatdDevice *device = g_new0 (VchatdDevice, 1);

  device->id = g_strdup (entry->id);
  device->name = g_strdup (entry->name);
  device->serial = entry->serial;
  device->is_default = g_strcmp0 (entry->id, self->default_id[kind]) == 0;
  return device;
}

static GPtrArray *
get_devices (VchatdDevices *self, Kind kind)
{
  GPtrArray *entries = self->entries[kind];
  GPtrArray *devices = g_ptr_array_new_full (entries->len, (GDestroyNotify) vchatd_device_free);

  for (guint i = 0; i < entries->len; i++)
    g_ptr_array_add (devices, entry_to_device (self, kind, g_ptr_array_index (entries, i)));
  return devices;
}

GPtrArray *
vchatd_devices_get_cameras (VchatdDevices *self)
{
  g_return_val_if_fail (VCHATD_IS_DEVICES (self), NULL);
  return get_devices (self, KIND_CAMERA);
}

GPtrArray *
vchatd_devices_get_microphones (VchatdDevices *self)
{
  g_return_val_if_fail (VCHATD_IS_DEVICES (self), NULL);
  return get_devices (self, KIND_MICROPHONE);
}

static VchatdDevice *
lookup (VchatdDevices *self, Kind kind, const char *id)
{
  GPtrArray *entries = self->entries[kind];
  guint64 serial = 0;
  gboolean is_serial = g_ascii_string_to_unsigned (id, 10, 0, G_MAXUINT64, &serial, NULL);

  for (guint i = 0; i < entries->len; i++) {
    Entry *entry = g_ptr_array_index (entries, i);

    if (strcmp (entry->id, id) == 0)
      return entry_to_device (self, kind, entry);
  }
  /* A node.name that looks like a number wins over a serial. */
  for (guint i = 0; is_serial && i < entries->len; i++) {
    Entry *entry = g_ptr_array_index (entries, i);

    if (entry->serial == serial)
      return entry_to_device (self, kind, entry);
  }
  return NULL;
}

VchatdDevice *
vchatd_devices_lookup_camera (VchatdDevices *self, const char *id)
{
  g_return_val_if_fail (VCHATD_IS_DEVICES (self), NULL);
  g_return_val_if_fail (id != NULL, NULL);
  return lookup (self, KIND_CAMERA, id);
}

VchatdDevice *
vchatd_devices_lookup_microphone (VchatdDevices *self, const char *id)
{
  g_return_val_if_fail (VCHATD_IS_DEVICES (self), NULL);
  g_return_val_if_fail (id != NULL, NULL);
  return lookup (self, KIND_MICROPHONE, id);
}

static VchatdDevice *
get_default (VchatdDevices *self, Kind kind)
{
  GPtrArray *entries = self->entries[kind];
  VchatdDevice *device = NULL;

  if (self->default_id[kind])
    device = lookup (self, kind, self->default_id[kind]);
  if (!device && entries->len > 0)
    device = entry_to_device (self, kind, g_ptr_array_index (entries, 0));
  return device;
}

VchatdDevice *
vchatd_devices_get_default_camera (VchatdDevices *self)
{
  g_return_val_if_fail (VCHATD_IS_DEVICES (self), NULL);
  return get_default (self, KIND_CAMERA);
}

VchatdDevice *
vchatd_devices_get_default_microphone (VchatdDevices *self)
{
  g_return_val_if_fail (VCHATD_IS_DEVICES (self), NULL);
  return get_default (self, KIND_MICROPHONE);
}

/* GObject */

static void
vchatd_devices_dispose (GObject *object)
{
  VchatdDevices *self = VCHATD_DEVICES (object);

  vchatd_devices_stop (self);
  G_OBJECT_CLASS (vchatd_devices_parent_class)->dispose (object);
}

static void
vchatd_devices_finalize (GObject *object)
{
  VchatdDevices *self = VCHATD_DEVICES (object);

  for (int kind = 0; kind < N_KINDS; kind++)
    g_ptr_array_unref (self->entries[kind]);
  g_hash_table_unref (self->nodes);
  g_clear_pointer (&self->context, g_main_context_unref);
  G_OBJECT_CLASS (vchatd_devices_parent_class)->finalize (object);
}

static void
vchatd_devices_class_init (VchatdDevicesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vchatd_devices_dispose;
  object_class->finalize = vchatd_devices_finalize;

  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
vchatd_devices_init (VchatdDevices *self)
{
  for (int kind = 0; kind < N_KINDS; kind++)
    self->entries[kind] = g_ptr_array_new_with_free_func (entry_free);
  self->nodes = g_hash_table_new_full (NULL, NULL, NULL, node_watch_free);
  self->metadata_id = SPA_ID_INVALID;
}
