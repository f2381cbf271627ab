/* vchatctl-connect.c: reaching vchatd, finding calls, and what errors mean
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every proxy is made without G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START, so the
 * first command of a session starts vchatd through D-Bus activation. Only when
 * the name still has no owner after that is the daemon "not running" (exit 4),
 * and the bus is asked once more, with StartServiceByName, for the reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vchatctl.h"

#include <glib/gi18n.h>

#define START_HINT N_ ("Start it with: systemctl --user start vchatd")

gboolean
vchatctl_get_bus (Vchatctl *ctl, GError **error)
{
  g_autoptr (GError) local = NULL;

  if (ctl->bus)
    return TRUE;
  ctl->bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &local);
  if (!ctl->bus) {
    g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_NO_DAEMON,
                 _ ("cannot connect to the session bus, so cannot reach vchatd: %s"),
                 local->message);
    return FALSE;
  }
  return TRUE;
}

/* Called when a proxy came up without an owner for the name: activation was
 * tried and failed. Returns TRUE when the daemon is there after all (it
 * started in the meantime), FALSE with the reason otherwise. */
static gboolean
check_started (Vchatctl *ctl, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GVariant) reply = NULL;

  reply = g_dbus_connection_call_sync (
    ctl->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
    "StartServiceByName", g_variant_new ("(su)", VCHAT_BUS_NAME, 0), G_VARIANT_TYPE ("(u)"),
    G_DBUS_CALL_FLAGS_NONE, -1, NULL, &local);
  if (reply)
    return TRUE;

  g_dbus_error_strip_remote_error (local);
  g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_NO_DAEMON,
               _ ("vchatd is not running and D-Bus could not start it (%s).\n%s"), local->message,
               _ (START_HINT));
  return FALSE;
}

VchatDBusManager *
vchatctl_get_manager (Vchatctl *ctl, GError **error)
{
  if (ctl->manager)
    return ctl->manager;
  if (!vchatctl_get_bus (ctl, error))
    return NULL;

  for (int attempt = 0; attempt < 2; attempt++) {
    g_autoptr (VchatDBusManager) manager = NULL;
    g_autofree char *owner = NULL;

    manager = vchat_dbus_manager_proxy_new_sync (ctl->bus, G_DBUS_PROXY_FLAGS_NONE, VCHAT_BUS_NAME,
                                                 VCHAT_MANAGER_PATH, NULL, error);
    if (!manager)
      return NULL;
    /* A long call (a wait, a monitor) should not time out on a slow reply. */
    g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (manager), 60 * 1000);
    owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (manager));
    if (owner) {
      ctl->manager = g_steal_pointer (&manager);
      return ctl->manager;
    }
    if (!check_started (ctl, error))
      return NULL;
  }
  g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_NO_DAEMON,
               _ ("vchatd started but left the bus at once; see: journalctl --user -u vchatd"));
  return NULL;
}

GDBusObjectManager *
vchatctl_get_object_manager (Vchatctl *ctl, GError **error)
{
  if (ctl->object_manager)
    return ctl->object_manager;
  if (!vchatctl_get_bus (ctl, error))
    return NULL;

  for (int attempt = 0; attempt < 2; attempt++) {
    g_autoptr (GDBusObjectManager) om = NULL;
    g_autofree char *owner = NULL;

    om = vchat_dbus_object_manager_client_new_sync (
      ctl->bus, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_NONE, VCHAT_BUS_NAME, VCHAT_MANAGER_PATH, NULL,
      error);
    if (!om)
      return NULL;
    owner = g_dbus_object_manager_client_get_name_owner (G_DBUS_OBJECT_MANAGER_CLIENT (om));
    if (owner) {
      ctl->object_manager = g_steal_pointer (&om);
      return ctl->object_manager;
    }
    if (!check_started (ctl, error))
      return NULL;
  }
  g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_NO_DAEMON,
               _ ("vchatd started but left the bus at once; see: journalctl --user -u vchatd"));
  return NULL;
}

static int
compare_calls (gconstpointer a, gconstpointer b)
{
  const char *pa = g_dbus_proxy_get_object_path (G_DBUS_PROXY (a));
  const char *pb = g_dbus_proxy_get_object_path (G_DBUS_PROXY (b));
  guint na = vchatctl_call_number (pa), nb = vchatctl_call_number (pb);

  if (na != nb)
    return na < nb ? -1 : 1;
  return g_strcmp0 (pa, pb);
}

/* Returns: (transfer full) (element-type VchatDBusCall): the calls, oldest first */
GList *
vchatctl_list_calls (Vchatctl *ctl, GError **error)
{
  GDBusObjectManager *om = vchatctl_get_object_manager (ctl, error);
  GList *objects, *calls = NULL;

  if (!om)
    return NULL;
  objects = g_dbus_object_manager_get_objects (om);
  for (GList *l = objects; l; l = l->next) {
    VchatDBusCall *call = vchat_dbus_object_get_call (VCHAT_DBUS_OBJECT (l->data));
    if (call)
      calls = g_list_prepend (calls, call);
  }
  g_list_free_full (objects, g_object_unref);
  return g_list_sort (calls, compare_calls);
}

gboolean
vchatctl_call_ended (VchatDBusCall *call)
{
  return g_strcmp0 (vchat_dbus_call_get_state (call), "ended") == 0;
}

/* The newer of two calls: the later CreatedAt, then the higher number. */
static gboolean
is_newer (VchatDBusCall *a, VchatDBusCall *b)
{
  guint64 ta = vchat_dbus_call_get_created_at (a), tb = vchat_dbus_call_get_created_at (b);

  if (ta != tb)
    return ta > tb;
  return compare_calls (a, b) > 0;
}

/* Returns: (transfer full) (nullable): the newest call that has not ended;
 * with @prefer_state, the newest in that state if there is one. */
VchatDBusCall *
vchatctl_find_current_call (Vchatctl *ctl, const char *prefer_state)
{
  GList *calls = vchatctl_list_calls (ctl, NULL);
  VchatDBusCall *best = NULL, *preferred = NULL;

  for (GList *l = calls; l; l = l->next) {
    VchatDBusCall *call = l->data;
    if (vchatctl_call_ended (call))
      continue;
    if (!best || is_newer (call, best))
      best = call;
    if (prefer_state && g_strcmp0 (vchat_dbus_call_get_state (call), prefer_state) == 0 &&
        (!preferred || is_newer (call, preferred)))
      preferred = call;
  }
  if (preferred)
    best = preferred;
  if (best)
    g_object_ref (best);
  g_list_free_full (calls, g_object_unref);
  return best;
}

/* Returns: (transfer full): the call named by @arg (a path or a number), or
 * the current call when @arg is NULL. */
VchatDBusCall *
vchatctl_resolve_call (Vchatctl *ctl, const char *arg, const char *prefer_state, GError **error)
{
  g_autofree char *path = NULL;
  g_autoptr (GDBusObject) object = NULL;
  GDBusObjectManager *om;
  VchatDBusCall *call;

  /* A malformed CALL is a usage error, whether or not the daemon runs. */
  if (arg) {
    if (arg[0] && strspn (arg, "0123456789") == strlen (arg))
      path = g_strconcat (VCHAT_CALLS_PATH, arg, NULL);
    else if (g_variant_is_object_path (arg))
      path = g_strdup (arg);
    else {
      g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE,
                   _ ("'%s' is not a call: give its number or its object path"), arg);
      return NULL;
    }
  }

  om = vchatctl_get_object_manager (ctl, error);
  if (!om)
    return NULL;

  if (!arg) {
    call = vchatctl_find_current_call (ctl, prefer_state);
    if (!call)
      g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_NOT_FOUND,
                   _ ("there is no call in progress (see 'vchatctl list')"));
    return call;
  }

  object = g_dbus_object_manager_get_object (om, path);
  call = object ? vchat_dbus_object_get_call (VCHAT_DBUS_OBJECT (object)) : NULL;
  if (!call)
    g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_NOT_FOUND,
                 _ ("there is no call %s (see 'vchatctl list')"), arg);
  return call;
}

/* A proxy of its own for a call a method just returned; the object manager
 * would learn of it only once the main loop runs. */
VchatDBusCall *
vchatctl_call_proxy (Vchatctl *ctl, const char *path, GError **error)
{
  if (!vchatctl_get_bus (ctl, error))
    return NULL;
  return vchat_dbus_call_proxy_new_sync (ctl->bus, G_DBUS_PROXY_FLAGS_NONE, VCHAT_BUS_NAME, path,
                                         NULL, error);
}

static gboolean
is_vchat_error (const GError *error, const char *name)
{
  g_autofree char *remote = NULL;

  if (!g_dbus_error_is_remote_error (error))
    return FALSE;
  remote = g_dbus_error_get_remote_error (error);
  return g_str_has_prefix (remote, VCHAT_ERROR_PREFIX) &&
         g_str_equal (remote + strlen (VCHAT_ERROR_PREFIX), name);
}

static gboolean
is_daemon_missing (const GError *error)
{
  return g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
         (error->domain == G_DBUS_ERROR && error->code >= G_DBUS_ERROR_SPAWN_EXEC_FAILED &&
          error->code <= G_DBUS_ERROR_SPAWN_FAILED);
}

int
vchatctl_exit_status (const GError *error)
{
  if (error->domain == VCHATCTL_ERROR)
    return error->code;
  if (error->domain == G_OPTION_ERROR)
    return VCHATCTL_EXIT_USAGE;
  if (is_daemon_missing (error))
    return VCHATCTL_EXIT_NO_DAEMON;
  /* A call that went away between finding it and using it. */
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT))
    return VCHATCTL_EXIT_NOT_FOUND;
  if (is_vchat_error (error, "NotFound") || is_vchat_error (error, "NoCamera"))
    return VCHATCTL_EXIT_NOT_FOUND;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_TIMEOUT) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_TIMED_OUT))
    return VCHATCTL_EXIT_TIMEOUT;
  return VCHATCTL_EXIT_FAILED;
}

void
vchatctl_print_error (const GError *error)
{
  g_autoptr (GError) copy = g_error_copy (error);
  g_autofree char *message = NULL;

  g_dbus_error_strip_remote_error (copy);
  /* vchatd's errors may quote the server, or name a call's end reason. */
  message = vchatctl_escape_untrusted (copy->message, VCHATCTL_ESCAPE_SENTENCE);
  if (is_daemon_missing (error))
    fprintf (stderr, _ ("vchatctl: vchatd is not running and D-Bus could not start it (%s).\n%s\n"),
             message, _ (START_HINT));
  else if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY))
    fprintf (stderr, _ ("vchatctl: vchatd did not answer (%s); see: journalctl --user -u vchatd\n"),
             message);
  else
    /* Translators: %s is an error message. */
    fprintf (stderr, _ ("vchatctl: %s\n"), message);
}
