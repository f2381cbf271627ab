/* vchatd-error.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-error.h"

static const GDBusErrorEntry entries[] = {
  { VCHATD_ERROR_INVALID_ARGS, "io.github.vchat.VChat1.Error.InvalidArgs" },
  { VCHATD_ERROR_INVALID_STATE, "io.github.vchat.VChat1.Error.InvalidState" },
  { VCHATD_ERROR_NOT_FOUND, "io.github.vchat.VChat1.Error.NotFound" },
  { VCHATD_ERROR_INVITE_EXPIRED, "io.github.vchat.VChat1.Error.InviteExpired" },
  { VCHATD_ERROR_OFFLINE, "io.github.vchat.VChat1.Error.Offline" },
  { VCHATD_ERROR_NO_CAMERA, "io.github.vchat.VChat1.Error.NoCamera" },
  { VCHATD_ERROR_BUSY, "io.github.vchat.VChat1.Error.Busy" },
  { VCHATD_ERROR_PERMISSION_DENIED, "io.github.vchat.VChat1.Error.PermissionDenied" },
  { VCHATD_ERROR_FAILED, "io.github.vchat.VChat1.Error.Failed" },
};

GQuark
vchatd_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("vchatd-error-quark", &quark, entries,
                                      G_N_ELEMENTS (entries));
  return (GQuark) quark;
}
