/* vchat-client.c: the connection to vchatd
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One manager proxy and one object manager client on the well-known name.
 * Both follow the name's owner, so a daemon that restarts is picked up
 * again: the manager proxy reloads its properties (and says so with
 * notify::g-name-owner), and the object manager drops the old daemon's calls
 * and announces the new one's.
 */
#include <glib/gi18n-lib.h>
#include <string.h>

#include "vchat-private.h"

/**
 * VChatClient:
 *
 * The connection to vchatd, the vchat session daemon, over D-Bus.
 *
 * Make one with vchat_client_new_async(): it starts the daemon through D-Bus
 * activation when it is not running yet. The client then follows the daemon
 * for as long as it lives: #VChatClient:connected goes %FALSE when the
 * daemon leaves the bus (its calls end) and %TRUE when it is back.
 *
 * A random call with a stranger:
 *
 * ```c
 * static void
 * on_started (GObject *source, GAsyncResult *result, gpointer user_data)
 * {
 *   g_autoptr (GError) error = NULL;
 *   g_autoptr (VChatCall) call =
 *     vchat_client_start_random_finish (VCHAT_CLIENT (source), result, &error);
 *   if (call)
 *     g_signal_connect (call, "notify::state", G_CALLBACK (on_state), NULL);
 * }
 *
 *   vchat_client_start_random_async (client, NULL, NULL, FALSE, NULL, on_started, NULL);
 * ```
 */
struct _VChatClient {
  GObject parent_instance;

  GDBusConnection *connection;
  VchatDBusManager *manager;
  GDBusObjectManager *object_manager;

  guint start_attempts;
  gboolean connected;
  VChatSignalingState signaling_state;
  char *server;
  char *version;
  char *camera;
  GVariant *cameras_value;
  GListStore *cameras;
  GListStore *calls;
  GHashTable *calls_by_path; /* object path → VChatCall */
};

static void vchat_client_async_initable_iface_init (GAsyncInitableIface *iface);
static void vchat_client_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (VChatClient, vchat_client, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      vchat_client_initable_iface_init)
                                 G_IMPLEMENT_INTERFACE (G_TYPE_ASYNC_INITABLE,
                                                        vchat_client_async_initable_iface_init))

enum {
  PROP_0,
  PROP_CONNECTION,
  PROP_CONNECTED,
  PROP_SIGNALING_STATE,
  PROP_SERVER,
  PROP_VERSION,
  PROP_CAMERAS,
  PROP_CAMERA,
  PROP_CALLS,
  N_PROPS
};

enum { SIGNAL_CALL_ADDED, SIGNAL_INCOMING_CALL, N_SIGNALS };

static GParamSpec *props[N_PROPS];
static guint signals[N_SIGNALS];


/* Properties of the manager */

static void
set_string (VChatClient *self, char **field, const char *value, int prop)
{
  if (g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), props[prop]);
}

static void
sync_cameras (VChatClient *self)
{
  GVariant *value = vchat_dbus_manager_get_cameras (self->manager);
  g_autoptr (GPtrArray) cameras = g_ptr_array_new_with_free_func (g_object_unref);
  GVariantIter iter;
  GVariant *dict;

  if (!value && self->connected)
    return;
  if (value && self->cameras_value && g_variant_equal (value, self->cameras_value))
    return;
  g_clear_pointer (&self->cameras_value, g_variant_unref);
  if (value && g_variant_is_of_type (value, G_VARIANT_TYPE ("aa{sv}"))) {
    self->cameras_value = g_variant_ref (value);
    g_variant_iter_init (&iter, value);
    while ((dict = g_variant_iter_next_value (&iter))) {
      const char *id = "", *name = "";
      gboolean is_default = FALSE;

      g_variant_lookup (dict, "id", "&s", &id);
      g_variant_lookup (dict, "name", "&s", &name);
      g_variant_lookup (dict, "default", "b", &is_default);
      g_ptr_array_add (cameras, _vchat_camera_new (id, name, is_default));
      g_variant_unref (dict);
    }
  }
  g_list_store_splice (self->cameras, 0, g_list_model_get_n_items (G_LIST_MODEL (self->cameras)),
                       cameras->pdata, cameras->len);
}

static void
sync_manager (VChatClient *self)
{
  VchatDBusManager *m = self->manager;
  VChatSignalingState state = VCHAT_SIGNALING_STATE_OFFLINE;

  g_object_freeze_notify (G_OBJECT (self));
  if (self->connected)
    state = _vchat_enum_from_nick (VCHAT_TYPE_SIGNALING_STATE,
                                   vchat_dbus_manager_get_signaling_state (m),
                                   VCHAT_SIGNALING_STATE_OFFLINE);
  if (state != self->signaling_state) {
    self->signaling_state = state;
    g_object_notify_by_pspec (G_OBJECT (self), props[PROP_SIGNALING_STATE]);
  }
  if (self->connected) {
    const char *s;

    if ((s = vchat_dbus_manager_get_server (m)))
      set_string (self, &self->server, s, PROP_SERVER);
    if ((s = vchat_dbus_manager_get_version (m)))
      set_string (self, &self->version, s, PROP_VERSION);
    if ((s = vchat_dbus_manager_get_camera (m)))
      set_string (self, &self->camera, s, PROP_CAMERA);
  }
  sync_cameras (self);
  g_object_thaw_notify (G_OBJECT (self));
}

static void
on_manager_properties_changed (GDBusProxy *proxy, GVariant *changed, GStrv invalidated,
                               VChatClient *self)
{
  sync_manager (self);
}

/* Calls */

static guint
call_number (const char *path)
{
  const char *slash = strrchr (path, '/');

  return slash ? (guint) g_ascii_strtoull (slash + 1, NULL, 10) : 0;
}

static void
add_call (VChatClient *self, VChatCall *call)
{
  g_hash_table_insert (self->calls_by_path, g_strdup (vchat_call_get_object_path (call)),
                       g_object_ref (call));
  g_list_store_append (self->calls, call);
  g_signal_emit (self, signals[SIGNAL_CALL_ADDED], 0, call);
}

static void
remove_call (VChatClient *self, const char *path)
{
  g_autoptr (VChatCall) call = NULL;
  guint position;

  if (!g_hash_table_steal_extended (self->calls_by_path, path, NULL, (gpointer *) &call))
    return;
  /* Ended before the object went: keeps its end reason; otherwise the
   * daemon went away under it. */
  _vchat_call_mark_gone (call);
  _vchat_call_detach_client (call);
  if (g_list_store_find (self->calls, call, &position))
    g_list_store_remove (self->calls, position);
}

static void
add_object (VChatClient *self, GDBusObject *object)
{
  g_autoptr (VchatDBusCall) proxy = vchat_dbus_object_get_call (VCHAT_DBUS_OBJECT (object));
  g_autoptr (VChatCall) call = NULL;

  if (!proxy)
    return;
  if (g_hash_table_contains (self->calls_by_path, g_dbus_object_get_object_path (object)))
    return;
  call = _vchat_call_new (self, proxy);
  add_call (self, call);
}

static void
on_object_added (GDBusObjectManager *om, GDBusObject *object, VChatClient *self)
{
  add_object (self, object);
}

static void
on_object_removed (GDBusObjectManager *om, GDBusObject *object, VChatClient *self)
{
  remove_call (self, g_dbus_object_get_object_path (object));
}

static int
compare_objects (gconstpointer a, gconstpointer b)
{
  guint na = call_number (g_dbus_object_get_object_path ((GDBusObject *) a));
  guint nb = call_number (g_dbus_object_get_object_path ((GDBusObject *) b));

  return na < nb ? -1 : na > nb;
}

static void
add_all_objects (VChatClient *self)
{
  GList *objects = g_dbus_object_manager_get_objects (self->object_manager);

  objects = g_list_sort (objects, compare_objects);
  for (GList *l = objects; l; l = l->next)
    add_object (self, l->data);
  g_list_free_full (objects, g_object_unref);
}

static void
remove_all_calls (VChatClient *self)
{
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, self->calls_by_path);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (paths, g_strdup (key));
  for (guint i = 0; i < paths->len; i++)
    remove_call (self, paths->pdata[i]);
}

static void
on_name_owner (GObject *proxy, GParamSpec *pspec, VChatClient *self)
{
  g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (self->manager));
  gboolean connected = owner != NULL;

  if (connected == self->connected)
    return;
  g_debug ("vchatd %s the bus", connected ? "is back on" : "left");
  self->connected = connected;
  if (!connected)
    remove_all_calls (self);
  sync_manager (self);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_CONNECTED]);
}

static void
incoming_resolved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  VChatClient *self = VCHAT_CLIENT (source);
  g_autoptr (GError) error = NULL;
  g_autoptr (VChatCall) call = _vchat_client_resolve_call_finish (self, result, &error);

  if (!call) {
    g_debug ("an incoming call vanished before it could be shown: %s", error->message);
    return;
  }
  g_signal_emit (self, signals[SIGNAL_INCOMING_CALL], 0, call);
}

static void
on_incoming_call (VchatDBusManager *manager, const char *path, GVariant *peer, VChatClient *self)
{
  _vchat_client_resolve_call_async (self, path, NULL, incoming_resolved, NULL);
}

/* Construction */

/* Called once both proxies are there and the daemon owns its name. */
static void
setup (VChatClient *self)
{
  g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (self->manager));

  self->connected = owner != NULL;
  g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (self->manager), 60 * 1000);
  g_signal_connect_object (self->manager, "g-properties-changed",
                           G_CALLBACK (on_manager_properties_changed), self, 0);
  g_signal_connect_object (self->manager, "notify::g-name-owner", G_CALLBACK (on_name_owner), self,
                           0);
  g_signal_connect_object (self->manager, "incoming-call", G_CALLBACK (on_incoming_call), self, 0);
  g_signal_connect_object (self->object_manager, "object-added", G_CALLBACK (on_object_added), self,
                           0);
  g_signal_connect_object (self->object_manager, "object-removed", G_CALLBACK (on_object_removed),
                           self, 0);
  sync_manager (self);
  add_all_objects (self);
}

static GError *
no_daemon_error (GError *start_error)
{
  GError *error;

  if (start_error)
    g_dbus_error_strip_remote_error (start_error);
  error = g_error_new (VCHAT_ERROR, VCHAT_ERROR_NO_DAEMON,
                       _("vchatd is not running and D-Bus could not start it (%s). Start it with: "
                         "systemctl --user start vchatd"),
                       start_error ? start_error->message : _("no reason given"));
  g_clear_error (&start_error);
  return error;
}

static gboolean
vchat_client_initable_init (GInitable *initable, GCancellable *cancellable, GError **error)
{
  VChatClient *self = VCHAT_CLIENT (initable);
  g_autoptr (GError) local = NULL;

  _vchat_error_ensure_registered ();
  if (!self->connection) {
    self->connection = g_bus_get_sync (G_BUS_TYPE_SESSION, cancellable, &local);
    if (!self->connection) {
      g_set_error (error, VCHAT_ERROR, VCHAT_ERROR_NO_DAEMON,
                   _("Cannot reach the session bus, so cannot reach vchatd: %s"), local->message);
      return FALSE;
    }
  }
  /* The proxy tries D-Bus activation itself; when the name has no owner
   * after that, ask the bus once more, for the reason or for a daemon that
   * took its time, and make the proxy again so that it has the owner. */
  for (int attempt = 0; attempt < 2; attempt++) {
    g_autofree char *owner = NULL;
    g_autoptr (GVariant) reply = NULL;

    g_clear_object (&self->manager);
    self->manager = vchat_dbus_manager_proxy_new_sync (self->connection, G_DBUS_PROXY_FLAGS_NONE,
                                                       VCHAT_BUS_NAME, VCHAT_MANAGER_PATH,
                                                       cancellable, &local);
    if (!self->manager) {
      g_propagate_error (error, _vchat_error_from_dbus (g_steal_pointer (&local)));
      return FALSE;
    }
    owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (self->manager));
    if (owner)
      break;
    if (attempt == 1) {
      g_set_error (error, VCHAT_ERROR, VCHAT_ERROR_NO_DAEMON,
                   _("vchatd started but left the bus at once; see: journalctl --user -u vchatd"));
      return FALSE;
    }
    reply = g_dbus_connection_call_sync (
      self->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      "StartServiceByName", g_variant_new ("(su)", VCHAT_BUS_NAME, 0), G_VARIANT_TYPE ("(u)"),
      G_DBUS_CALL_FLAGS_NONE, -1, cancellable, &local);
    if (!reply) {
      *error = no_daemon_error (g_steal_pointer (&local));
      return FALSE;
    }
  }
  self->object_manager = vchat_dbus_object_manager_client_new_sync (
    self->connection, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_NONE, VCHAT_BUS_NAME, VCHAT_MANAGER_PATH,
    cancellable, &local);
  if (!self->object_manager) {
    g_propagate_error (error, _vchat_error_from_dbus (g_steal_pointer (&local)));
    return FALSE;
  }
  setup (self);
  return TRUE;
}

static void
vchat_client_initable_iface_init (GInitableIface *iface)
{
  iface->init = vchat_client_initable_init;
}

static void
om_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  GDBusObjectManager *om;
  VChatClient *self;

  om = vchat_dbus_object_manager_client_new_finish (result, &error);
  if (!om) {
    g_task_return_error (task, _vchat_error_from_dbus (g_steal_pointer (&error)));
    return;
  }
  self = g_task_get_source_object (task);
  self->object_manager = om;
  setup (self);
  g_task_return_boolean (task, TRUE);
}

static void
create_object_manager (GTask *task)
{
  VChatClient *self = g_task_get_source_object (task);

  vchat_dbus_object_manager_client_new (self->connection, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_NONE,
                                        VCHAT_BUS_NAME, VCHAT_MANAGER_PATH,
                                        g_task_get_cancellable (task), om_ready, task);
}

static void create_manager (GTask *task);

static void
started (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (!reply) {
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      g_task_return_error (task, g_steal_pointer (&error));
    else
      g_task_return_error (task, no_daemon_error (g_steal_pointer (&error)));
    return;
  }
  /* Make the proxy again, now that the daemon owns its name. */
  create_manager (g_steal_pointer (&task));
}

static void
manager_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *owner = NULL;
  VchatDBusManager *manager;
  VChatClient *self;

  manager = vchat_dbus_manager_proxy_new_finish (result, &error);
  if (!manager) {
    g_task_return_error (task, _vchat_error_from_dbus (g_steal_pointer (&error)));
    return;
  }
  self = g_task_get_source_object (task);
  g_clear_object (&self->manager);
  self->manager = manager;
  owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (manager));
  if (!owner && self->start_attempts++ > 0) {
    g_task_return_new_error (
      task, VCHAT_ERROR, VCHAT_ERROR_NO_DAEMON,
      _("vchatd started but left the bus at once; see: journalctl --user -u vchatd"));
    return;
  }
  if (!owner) {
    /* The cancellable is read before the task is handed over: the order in
     * which C evaluates the arguments is unspecified, and GCC stole the
     * task first (a critical, and no client, without a daemon). */
    GCancellable *cancellable = g_task_get_cancellable (task);

    /* The proxy tried D-Bus activation already; ask again for the reason. */
    g_dbus_connection_call (
      self->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      "StartServiceByName", g_variant_new ("(su)", VCHAT_BUS_NAME, 0), G_VARIANT_TYPE ("(u)"),
      G_DBUS_CALL_FLAGS_NONE, -1, cancellable, started, g_steal_pointer (&task));
    return;
  }
  create_object_manager (g_steal_pointer (&task));
}

static void
create_manager (GTask *task)
{
  VChatClient *self = g_task_get_source_object (task);

  vchat_dbus_manager_proxy_new (self->connection, G_DBUS_PROXY_FLAGS_NONE, VCHAT_BUS_NAME,
                                VCHAT_MANAGER_PATH, g_task_get_cancellable (task), manager_ready,
                                task);
}

static void
bus_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  GDBusConnection *connection;
  VChatClient *self;

  connection = g_bus_get_finish (result, &error);
  if (!connection) {
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      g_task_return_error (task, g_steal_pointer (&error));
    else
      g_task_return_new_error (task, VCHAT_ERROR, VCHAT_ERROR_NO_DAEMON,
                               _("Cannot reach the session bus, so cannot reach vchatd: %s"),
                               error->message);
    return;
  }
  self = g_task_get_source_object (task);
  self->connection = connection;
  create_manager (g_steal_pointer (&task));
}

static void
vchat_client_init_async (GAsyncInitable *initable, int io_priority, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  VChatClient *self = VCHAT_CLIENT (initable);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, vchat_client_init_async);
  _vchat_error_ensure_registered ();
  if (self->connection)
    create_manager (task);
  else
    g_bus_get (G_BUS_TYPE_SESSION, cancellable, bus_ready, task);
}

static gboolean
vchat_client_init_finish (GAsyncInitable *initable, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
vchat_client_async_initable_iface_init (GAsyncInitableIface *iface)
{
  iface->init_async = vchat_client_init_async;
  iface->init_finish = vchat_client_init_finish;
}

/* GObject */

static void
vchat_client_dispose (GObject *object)
{
  VChatClient *self = VCHAT_CLIENT (object);

  if (self->calls_by_path) {
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init (&iter, self->calls_by_path);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      _vchat_call_detach_client (value);
    g_hash_table_remove_all (self->calls_by_path);
  }
  if (self->calls)
    g_list_store_remove_all (self->calls);
  if (self->manager)
    g_signal_handlers_disconnect_by_data (self->manager, self);
  if (self->object_manager)
    g_signal_handlers_disconnect_by_data (self->object_manager, self);
  g_clear_object (&self->manager);
  g_clear_object (&self->object_manager);
  g_clear_object (&self->connection);
  G_OBJECT_CLASS (vchat_client_parent_class)->dispose (object);
}

static void
vchat_client_finalize (GObject *object)
{
  VChatClient *self = VCHAT_CLIENT (object);

  g_free (self->server);
  g_free (self->version);
  g_free (self->camera);
  g_clear_pointer (&self->cameras_value, g_variant_unref);
  g_clear_object (&self->cameras);
  g_clear_object (&self->calls);
  g_clear_pointer (&self->calls_by_path, g_hash_table_unref);
  G_OBJECT_CLASS (vchat_client_parent_class)->finalize (object);
}

static void
vchat_client_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  VChatClient *self = VCHAT_CLIENT (object);

  switch (prop_id) {
  case PROP_CONNECTION:
    g_value_set_object (value, self->connection);
    break;
  case PROP_CONNECTED:
    g_value_set_boolean (value, self->connected);
    break;
  case PROP_SIGNALING_STATE:
    g_value_set_enum (value, self->signaling_state);
    break;
  case PROP_SERVER:
    g_value_set_string (value, self->server);
    break;
  case PROP_VERSION:
    g_value_set_string (value, self->version);
    break;
  case PROP_CAMERAS:
    g_value_set_object (value, self->cameras);
    break;
  case PROP_CAMERA:
    g_value_set_string (value, self->camera);
    break;
  case PROP_CALLS:
    g_value_set_object (value, self->calls);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
vchat_client_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  VChatClient *self = VCHAT_CLIENT (object);

  switch (prop_id) {
  case PROP_CONNECTION:
    self->connection = g_value_dup_object (value);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

#define RO (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS)

static void
vchat_client_class_init (VChatClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  /* The library's messages are in the domain "vchat", the app's and
   * vchatctl's. VCHAT_LOCALEDIR: an uninstalled build's (the tests). */
  bindtextdomain (GETTEXT_PACKAGE,
                  g_getenv ("VCHAT_LOCALEDIR") ? g_getenv ("VCHAT_LOCALEDIR") : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");

  object_class->dispose = vchat_client_dispose;
  object_class->finalize = vchat_client_finalize;
  object_class->get_property = vchat_client_get_property;
  object_class->set_property = vchat_client_set_property;

  /**
   * VChatClient:connection:
   *
   * The D-Bus connection to the daemon's bus; %NULL at construction for the
   * session bus.
   */
  props[PROP_CONNECTION] = g_param_spec_object ("connection", NULL, NULL, G_TYPE_DBUS_CONNECTION,
                                                G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                                                  G_PARAM_STATIC_STRINGS);
  /**
   * VChatClient:connected:
   *
   * Whether the daemon is on the bus. It goes %FALSE when the daemon stops
   * or crashes (its calls end) and %TRUE again when it is back.
   */
  props[PROP_CONNECTED] = g_param_spec_boolean ("connected", NULL, NULL, FALSE, RO);
  /**
   * VChatClient:signaling-state:
   *
   * How the daemon is connected to its signaling server; calls can be made
   * when it is %VCHAT_SIGNALING_STATE_ONLINE.
   */
  props[PROP_SIGNALING_STATE] = g_param_spec_enum (
    "signaling-state", NULL, NULL, VCHAT_TYPE_SIGNALING_STATE, VCHAT_SIGNALING_STATE_OFFLINE, RO);
  /**
   * VChatClient:server:
   *
   * The WebSocket URL of the daemon's signaling server.
   */
  props[PROP_SERVER] = g_param_spec_string ("server", NULL, NULL, NULL, RO);
  /**
   * VChatClient:version:
   *
   * The daemon's version, e.g. "0.1.0".
   */
  props[PROP_VERSION] = g_param_spec_string ("version", NULL, NULL, NULL, RO);
  /**
   * VChatClient:cameras:
   *
   * The cameras the daemon can use, a #GListModel of #VChatCamera, kept up
   * to date as cameras come and go.
   */
  props[PROP_CAMERAS] = g_param_spec_object ("cameras", NULL, NULL, G_TYPE_LIST_MODEL, RO);
  /**
   * VChatClient:camera:
   *
   * The #VChatCamera:id of the camera calls use, "" when there is none.
   */
  props[PROP_CAMERA] = g_param_spec_string ("camera", NULL, NULL, "", RO);
  /**
   * VChatClient:calls:
   *
   * The daemon's calls, a #GListModel of #VChatCall, newest last. Ended
   * calls stay a minute, as on the bus.
   */
  props[PROP_CALLS] = g_param_spec_object ("calls", NULL, NULL, G_TYPE_LIST_MODEL, RO);
  g_object_class_install_properties (object_class, N_PROPS, props);

  /**
   * VChatClient::call-added:
   * @self: the client
   * @call: the new call
   *
   * A call appeared: started here or by another program, or someone joined
   * one of this user's invites.
   */
  signals[SIGNAL_CALL_ADDED] = g_signal_new ("call-added", G_TYPE_FROM_CLASS (klass),
                                             G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                                             VCHAT_TYPE_CALL);
  /**
   * VChatClient::incoming-call:
   * @self: the client
   * @call: the call that rings, in state %VCHAT_CALL_STATE_INCOMING
   *
   * Someone joined one of this user's invites: answer with
   * vchat_call_accept_async() or vchat_call_reject_async().
   */
  signals[SIGNAL_INCOMING_CALL] = g_signal_new ("incoming-call", G_TYPE_FROM_CLASS (klass),
                                                G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                                1, VCHAT_TYPE_CALL);
}

static void
vchat_client_init (VChatClient *self)
{
  self->camera = g_strdup ("");
  self->cameras = g_list_store_new (VCHAT_TYPE_CAMERA);
  self->calls = g_list_store_new (VCHAT_TYPE_CALL);
  self->calls_by_path = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
}

/* Public API */

/**
 * vchat_client_new_async:
 * @connection: (nullable): the bus of the daemon, or %NULL for the session bus
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the client is ready
 * @user_data: data for @callback
 *
 * Connects to vchatd, starting it through D-Bus activation when it is not
 * running. Finish with vchat_client_new_finish().
 */
void
vchat_client_new_async (GDBusConnection *connection, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (connection == NULL || G_IS_DBUS_CONNECTION (connection));
  g_async_initable_new_async (VCHAT_TYPE_CLIENT, G_PRIORITY_DEFAULT, cancellable, callback,
                              user_data, "connection", connection, NULL);
}

/**
 * vchat_client_new_finish:
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes vchat_client_new_async(). Fails with %VCHAT_ERROR_NO_DAEMON when
 * the daemon is not running and could not be started.
 *
 * Returns: (transfer full): the client, or %NULL on error
 */
VChatClient *
vchat_client_new_finish (GAsyncResult *result, GError **error)
{
  g_autoptr (GObject) source = g_async_result_get_source_object (result);
  GObject *object = g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, error);

  return object ? VCHAT_CLIENT (object) : NULL;
}

/**
 * vchat_client_new_sync:
 * @connection: (nullable): the bus of the daemon, or %NULL for the session bus
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Connects to vchatd like vchat_client_new_async(), blocking. For tests and
 * command line tools; applications use the asynchronous version.
 *
 * Returns: (transfer full): the client, or %NULL on error
 */
VChatClient *
vchat_client_new_sync (GDBusConnection *connection, GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (connection == NULL || G_IS_DBUS_CONNECTION (connection), NULL);
  return g_initable_new (VCHAT_TYPE_CLIENT, cancellable, error, "connection", connection, NULL);
}

/**
 * vchat_client_get_connected:
 * @self: a #VChatClient
 *
 * Gets #VChatClient:connected.
 *
 * Returns: whether the daemon is on the bus
 */
gboolean
vchat_client_get_connected (VChatClient *self)
{
  g_return_val_if_fail (VCHAT_IS_CLIENT (self), FALSE);
  return self->connected;
}

/**
 * vchat_client_get_signaling_state:
 * @self: a #VChatClient
 *
 * Gets #VChatClient:signaling-state.
 *
 * Returns: how the daemon is connected to its signaling server
 */
VChatSignalingState
vchat_client_get_signaling_state (VChatClient *self)
{
  g_return_val_if_fail (VCHAT_IS_CLIENT (self), VCHAT_SIGNALING_STATE_OFFLINE);
  return self->signaling_state;
}

/**
 * vchat_client_get_server:
 * @self: a #VChatClient
 *
 * Gets #VChatClient:server.
 *
 * Returns: (transfer none) (nullable): the signaling server's URL
 */
const char *
vchat_client_get_server (VChatClient *self)
{
  g_return_val_if_fail (VCHAT_IS_CLIENT (self), NULL);
  return self->server;
}

/**
 * vchat_client_get_version:
 * @self: a #VChatClient
 *
 * Gets #VChatClient:version.
 *
 * Returns: (transfer none) (nullable): the daemon's version
 */
const char *
vchat_client_get_version (VChatClient *self)
{
  g_return_val_if_fail (VCHAT_IS_CLIENT (self), NULL);
  return self->version;
}

/**
 * vchat_client_get_cameras:
 * @self: a #VChatClient
 *
 * Gets #VChatClient:cameras.
 *
 * Returns: (transfer none): a #GListModel of #VChatCamera
 */
GListModel *
vchat_client_get_cameras (VChatClient *self)
{
  g_return_val_if_fail (VCHAT_IS_CLIENT (self), NULL);
  return G_LIST_MODEL (self->cameras);
}

/**
 * vchat_client_get_camera:
 * @self: a #VChatClient
 *
 * Gets #VChatClient:camera.
 *
 * Returns: (transfer none): the id of the camera in use, "" for none
 */
const char *
vchat_client_get_camera (VChatClient *self)
{
  g_return_val_if_fail (VCHAT_IS_CLIENT (self), NULL);
  return self->camera;
}

/**
 * vchat_client_get_calls:
 * @self: a #VChatClient
 *
 * Gets the daemon's calls (#VChatClient:calls), newest last. Ended calls
 * stay a minute, as on the bus; when the daemon goes away its calls end and
 * leave the list.
 *
 * Returns: (transfer none): a #GListModel of #VChatCall
 */
GListModel *
vchat_client_get_calls (VChatClient *self)
{
  g_return_val_if_fail (VCHAT_IS_CLIENT (self), NULL);
  return G_LIST_MODEL (self->calls);
}

GDBusConnection *
_vchat_client_get_dbus_connection (VChatClient *self)
{
  return self->connection;
}

/* Resolving object paths to calls */

static void
call_proxy_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (VchatDBusCall) proxy = NULL;
  g_autoptr (VChatCall) call = NULL;
  VChatClient *self;
  const char *path;

  proxy = vchat_dbus_call_proxy_new_finish (result, &error);
  if (!proxy) {
    g_task_return_error (task, _vchat_error_from_dbus (g_steal_pointer (&error)));
    return;
  }
  self = g_task_get_source_object (task);
  path = g_task_get_task_data (task);
  /* The object manager may have announced it meanwhile. */
  call = g_hash_table_lookup (self->calls_by_path, path);
  if (call) {
    g_task_return_pointer (task, g_object_ref (call), g_object_unref);
    call = NULL;
    return;
  }
  call = _vchat_call_new (self, proxy);
  add_call (self, call);
  g_task_return_pointer (task, g_steal_pointer (&call), g_object_unref);
}

void
_vchat_client_resolve_call_async (VChatClient *self, const char *path, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  VChatCall *call;

  g_task_set_source_tag (task, _vchat_client_resolve_call_async);
  call = g_hash_table_lookup (self->calls_by_path, path);
  if (call) {
    g_task_return_pointer (task, g_object_ref (call), g_object_unref);
    return;
  }
  g_task_set_task_data (task, g_strdup (path), g_free);
  vchat_dbus_call_proxy_new (self->connection, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START, VCHAT_BUS_NAME,
                             path, cancellable, call_proxy_ready, g_steal_pointer (&task));
}

VChatCall *
_vchat_client_resolve_call_finish (VChatClient *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Methods of the manager */

typedef gpointer (*ReplyFunc) (VChatClient *self, GVariant *reply, GTask *task);

static void
manager_method_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  ReplyFunc func = g_object_get_data (G_OBJECT (task), "vchat-reply-func");

  reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);
  if (!reply) {
    g_task_return_error (task, _vchat_error_from_dbus (g_steal_pointer (&error)));
    return;
  }
  if (func)
    func (g_task_get_source_object (task), reply, task);
  else
    g_task_return_boolean (task, TRUE);
}

static void
manager_method (VChatClient *self, const char *method, GVariant *params, ReplyFunc func,
                GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data,
                gpointer source_tag)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_object_set_data (G_OBJECT (task), "vchat-reply-func", func);
  /* Without DO_NOT_AUTO_START: a daemon that is gone is started again. */
  g_dbus_proxy_call (G_DBUS_PROXY (self->manager), method, params, G_DBUS_CALL_FLAGS_NONE, -1,
                     cancellable, manager_method_done, task);
}

static gboolean
check_task (VChatClient *self, GAsyncResult *result, gpointer source_tag)
{
  return g_task_is_valid (result, self) && g_task_get_source_tag (G_TASK (result)) == source_tag;
}

static void
call_resolved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  VChatCall *call;

  call = _vchat_client_resolve_call_finish (VCHAT_CLIENT (source), result, &error);
  if (!call) {
    g_task_return_error (task, g_steal_pointer (&error));
    return;
  }
  g_task_return_pointer (task, call, g_object_unref);
}

static gpointer
reply_call (VChatClient *self, GVariant *reply, GTask *task)
{
  const char *path = NULL;

  g_variant_get_child (reply, 0, "&o", &path);
  _vchat_client_resolve_call_async (self, path, g_task_get_cancellable (task), call_resolved,
                                    g_object_ref (task));
  return NULL;
}

/**
 * vchat_client_start_random_async:
 * @self: a #VChatClient
 * @interests: (nullable) (array zero-terminated=1): tags to meet someone who
 *   shares one, e.g. "music" (at most 16, each 1 to 32 bytes)
 * @language: (nullable): the preferred language, e.g. "en"
 * @relay_only: %TRUE to send media only through the TURN relay, so the
 *   stranger never learns this computer's address; %FALSE leaves it to the
 *   user's setting
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the new call
 * @user_data: data for @callback
 *
 * Looks for a random stranger to talk to. The call is searching at first,
 * then connecting and connected. Fails with %VCHAT_ERROR_BUSY when a call is
 * in progress and %VCHAT_ERROR_OFFLINE when the signaling server cannot be
 * reached.
 */
void
vchat_client_start_random_async (VChatClient *self, const char *const *interests,
                                 const char *language, gboolean relay_only,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  GVariantBuilder options;

  g_return_if_fail (VCHAT_IS_CLIENT (self));

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  if (interests && interests[0])
    g_variant_builder_add (&options, "{sv}", "interests", g_variant_new_strv (interests, -1));
  if (language && *language)
    g_variant_builder_add (&options, "{sv}", "language", g_variant_new_string (language));
  if (relay_only)
    g_variant_builder_add (&options, "{sv}", "relay_only", g_variant_new_boolean (TRUE));
  manager_method (self, "StartRandom", g_variant_new ("(a{sv})", &options), reply_call, cancellable,
                  callback, user_data, vchat_client_start_random_async);
}

/**
 * vchat_client_start_random_finish:
 * @self: a #VChatClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes vchat_client_start_random_async().
 *
 * Returns: (transfer full): the new call, or %NULL on error
 */
VChatCall *
vchat_client_start_random_finish (VChatClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (check_task (self, result, vchat_client_start_random_async), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct {
  char *code;
  char *link;
} InviteData;

static void
invite_data_free (InviteData *data)
{
  g_free (data->code);
  g_free (data->link);
  g_free (data);
}

static void
invite_resolved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  InviteData *data = g_task_get_task_data (task);
  VChatCall *call;

  call = _vchat_client_resolve_call_finish (VCHAT_CLIENT (source), result, &error);
  if (!call) {
    g_task_return_error (task, g_steal_pointer (&error));
    return;
  }
  _vchat_call_set_invite_code (call, data->code);
  g_task_return_pointer (task, call, g_object_unref);
}

static gpointer
reply_invite (VChatClient *self, GVariant *reply, GTask *task)
{
  InviteData *data = g_new0 (InviteData, 1);
  const char *path = NULL;

  g_variant_get (reply, "(&oss)", &path, &data->code, &data->link);
  g_task_set_task_data (task, data, (GDestroyNotify) invite_data_free);
  _vchat_client_resolve_call_async (self, path, g_task_get_cancellable (task), invite_resolved,
                                    g_object_ref (task));
  return NULL;
}

/**
 * vchat_client_create_invite_async:
 * @self: a #VChatClient
 * @ttl_seconds: seconds until the invite expires (at least 10), 0 for the
 *   server's default
 * @display_name: (nullable): the name the friend sees when joining
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the invite's call
 * @user_data: data for @callback
 *
 * Creates an invite for a friend. Its call stays searching until someone
 * joins, then rings (#VChatClient::incoming-call). Its code is the call's
 * #VChatCall:invite-code; the link to send comes with
 * vchat_client_create_invite_finish().
 */
void
vchat_client_create_invite_async (VChatClient *self, guint ttl_seconds, const char *display_name,
                                  GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  GVariantBuilder options;

  g_return_if_fail (VCHAT_IS_CLIENT (self));

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  if (ttl_seconds)
    g_variant_builder_add (&options, "{sv}", "ttl", g_variant_new_uint32 (ttl_seconds));
  if (display_name && *display_name)
    g_variant_builder_add (&options, "{sv}", "display_name", g_variant_new_string (display_name));
  manager_method (self, "CreateInvite", g_variant_new ("(a{sv})", &options), reply_invite,
                  cancellable, callback, user_data, vchat_client_create_invite_async);
}

/**
 * vchat_client_create_invite_finish:
 * @self: a #VChatClient
 * @result: the #GAsyncResult
 * @link: (out) (optional) (transfer full): the link to send to the friend
 *   (vchat://join/CODE)
 * @error: return location for a #GError
 *
 * Finishes vchat_client_create_invite_async().
 *
 * Returns: (transfer full): the invite's call, or %NULL on error
 */
VChatCall *
vchat_client_create_invite_finish (VChatClient *self, GAsyncResult *result, char **link,
                                   GError **error)
{
  VChatCall *call;

  g_return_val_if_fail (check_task (self, result, vchat_client_create_invite_async), NULL);
  call = g_task_propagate_pointer (G_TASK (result), error);
  if (link) {
    InviteData *data = g_task_get_task_data (G_TASK (result));
    *link = call && data ? g_strdup (data->link) : NULL;
  }
  return call;
}

/**
 * vchat_client_join_invite_async:
 * @self: a #VChatClient
 * @code_or_link: an invite code, or a link that ends in /join/CODE
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the new call
 * @user_data: data for @callback
 *
 * Joins a friend's invite; the call rings until the friend answers. Fails
 * with %VCHAT_ERROR_INVALID_ARGS when the text holds no invite code,
 * %VCHAT_ERROR_NOT_FOUND when there is no such invite,
 * %VCHAT_ERROR_INVITE_EXPIRED when it ran out and %VCHAT_ERROR_BUSY when the
 * friend cannot answer now.
 */
void
vchat_client_join_invite_async (VChatClient *self, const char *code_or_link,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_return_if_fail (VCHAT_IS_CLIENT (self));
  g_return_if_fail (code_or_link != NULL);
  manager_method (self, "JoinInvite",
                  g_variant_new ("(s@a{sv})", code_or_link,
                                 g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0)),
                  reply_call, cancellable, callback, user_data, vchat_client_join_invite_async);
}

/**
 * vchat_client_join_invite_finish:
 * @self: a #VChatClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes vchat_client_join_invite_async().
 *
 * Returns: (transfer full): the new call, or %NULL on error
 */
VChatCall *
vchat_client_join_invite_finish (VChatClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (check_task (self, result, vchat_client_join_invite_async), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * vchat_client_select_camera_async:
 * @self: a #VChatClient
 * @id: the #VChatCamera:id of one of #VChatClient:cameras, or "" for the
 *   first one
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the camera is chosen
 * @user_data: data for @callback
 *
 * Chooses the camera for new calls and switches the calls in progress to
 * it. Fails with %VCHAT_ERROR_NO_CAMERA when there is no such camera.
 */
void
vchat_client_select_camera_async (VChatClient *self, const char *id, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (VCHAT_IS_CLIENT (self));
  g_return_if_fail (id != NULL);
  manager_method (self, "SelectCamera", g_variant_new ("(s)", id), NULL, cancellable, callback,
                  user_data, vchat_client_select_camera_async);
}

/**
 * vchat_client_select_camera_finish:
 * @self: a #VChatClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes vchat_client_select_camera_async().
 *
 * Returns: %TRUE when the camera is in use
 */
gboolean
vchat_client_select_camera_finish (VChatClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (check_task (self, result, vchat_client_select_camera_async), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gpointer
reply_history (VChatClient *self, GVariant *reply, GTask *task)
{
  GPtrArray *entries = g_ptr_array_new_with_free_func ((GDestroyNotify) vchat_history_entry_free);
  g_autoptr (GVariant) list = g_variant_get_child_value (reply, 0);
  GVariantIter iter;
  GVariant *dict;

  g_variant_iter_init (&iter, list);
  while ((dict = g_variant_iter_next_value (&iter))) {
    g_ptr_array_add (entries, _vchat_history_entry_new_from_variant (dict));
    g_variant_unref (dict);
  }
  g_task_return_pointer (task, entries, (GDestroyNotify) g_ptr_array_unref);
  return NULL;
}

/**
 * vchat_client_get_history_async:
 * @self: a #VChatClient
 * @limit: the most entries to return, 0 for all
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the history
 * @user_data: data for @callback
 *
 * Gets the calls that ended, newest first, as far as the user's history
 * settings keep them.
 */
void
vchat_client_get_history_async (VChatClient *self, guint limit, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (VCHAT_IS_CLIENT (self));
  manager_method (self, "GetHistory", g_variant_new ("(u)", limit), reply_history, cancellable,
                  callback, user_data, vchat_client_get_history_async);
}

/**
 * vchat_client_get_history_finish:
 * @self: a #VChatClient
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes vchat_client_get_history_async().
 *
 * Returns: (transfer container) (element-type VChatHistoryEntry): the ended
 *   calls, newest first, or %NULL on error
 */
GPtrArray *
vchat_client_get_history_finish (VChatClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (check_task (self, result, vchat_client_get_history_async), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
