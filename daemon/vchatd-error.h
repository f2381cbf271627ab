/* vchatd-error.h: the daemon's error domain, one code per D-Bus error name
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* io.github.vchat.VChat1.Error.<Name>, in the order of the D-Bus XML. */
typedef enum {
  VCHATD_ERROR_INVALID_ARGS,
  VCHATD_ERROR_INVALID_STATE,
  VCHATD_ERROR_NOT_FOUND,
  VCHATD_ERROR_INVITE_EXPIRED,
  VCHATD_ERROR_OFFLINE,
  VCHATD_ERROR_NO_CAMERA,
  VCHATD_ERROR_BUSY,
  VCHATD_ERROR_PERMISSION_DENIED,
  VCHATD_ERROR_FAILED,
} VchatdError;

#define VCHATD_ERROR (vchatd_error_quark ())
/* Registered with GDBus, so a GError in this domain crosses the bus as its
 * D-Bus name and comes back as the same domain and code. */
GQuark vchatd_error_quark (void);

G_END_DECLS
