/* vchat-error.c: the error domain and the D-Bus error names of the daemon
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchat-private.h"

#include <glib/gi18n-lib.h>

static const GDBusErrorEntry vchat_error_entries[] = {
  { VCHAT_ERROR_FAILED, "io.github.vchat.VChat1.Error.Failed" },
  { VCHAT_ERROR_INVALID_ARGS, "io.github.vchat.VChat1.Error.InvalidArgs" },
  { VCHAT_ERROR_INVALID_STATE, "io.github.vchat.VChat1.Error.InvalidState" },
  { VCHAT_ERROR_NOT_FOUND, "io.github.vchat.VChat1.Error.NotFound" },
  { VCHAT_ERROR_INVITE_EXPIRED, "io.github.vchat.VChat1.Error.InviteExpired" },
  { VCHAT_ERROR_OFFLINE, "io.github.vchat.VChat1.Error.Offline" },
  { VCHAT_ERROR_NO_CAMERA, "io.github.vchat.VChat1.Error.NoCamera" },
  { VCHAT_ERROR_BUSY, "io.github.vchat.VChat1.Error.Busy" },
  { VCHAT_ERROR_PERMISSION_DENIED, "io.github.vchat.VChat1.Error.PermissionDenied" },
  { VCHAT_ERROR_NO_DAEMON, "io.github.vchat.VChat1.Error.NoDaemon" },
};

/**
 * vchat_error_quark:
 *
 * The quark of the %VCHAT_ERROR domain. Its codes are registered with GDBus,
 * so the daemon's `io.github.vchat.VChat1.Error.*` errors arrive as
 * #VChatError codes.
 *
 * Returns: the error quark
 */
GQuark
vchat_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("vchat-error-quark", &quark, vchat_error_entries,
                                      G_N_ELEMENTS (vchat_error_entries));
  return (GQuark) quark;
}

void
_vchat_error_ensure_registered (void)
{
  (void) vchat_error_quark ();
}

int
_vchat_enum_from_nick (GType type, const char *nick, int fallback)
{
  g_autoptr (GEnumClass) klass = g_type_class_ref (type);
  GEnumValue *value;

  if (!nick || !*nick)
    return fallback;
  value = g_enum_get_value_by_nick (klass, nick);
  if (!value) {
    g_debug ("unknown %s from the daemon: '%s'", g_type_name (type), nick);
    return fallback;
  }
  return value->value;
}

static gboolean
is_daemon_missing (const GError *error)
{
  return g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_DISCONNECTED) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED) ||
         (error->domain == G_DBUS_ERROR && error->code >= G_DBUS_ERROR_SPAWN_EXEC_FAILED &&
          error->code <= G_DBUS_ERROR_SPAWN_FAILED);
}

GError *
_vchat_error_from_dbus (GError *error)
{
  GError *out;

  if (!error || error->domain == VCHAT_ERROR ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    if (error)
      g_dbus_error_strip_remote_error (error);
    return error;
  }
  g_dbus_error_strip_remote_error (error);
  if (is_daemon_missing (error))
    out = g_error_new (VCHAT_ERROR, VCHAT_ERROR_NO_DAEMON,
                       _("vchatd is not running and D-Bus could not start it (%s). Start it with: "
                         "systemctl --user start vchatd"),
                       error->message);
  else if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY))
    out = g_error_new (VCHAT_ERROR, VCHAT_ERROR_NO_DAEMON,
                       _("vchatd did not answer (%s); see: journalctl --user -u vchatd"),
                       error->message);
  else if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT) ||
           g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD))
    out = g_error_new (VCHAT_ERROR, VCHAT_ERROR_NOT_FOUND, _("the call is gone (%s)"),
                       error->message);
  else if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED))
    out = g_error_new_literal (VCHAT_ERROR, VCHAT_ERROR_PERMISSION_DENIED, error->message);
  else
    out = g_error_new_literal (VCHAT_ERROR, VCHAT_ERROR_FAILED, error->message);
  g_error_free (error);
  return out;
}
