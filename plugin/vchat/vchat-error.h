/* vchat-error.h: the errors of libvchat
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VCHAT_INSIDE) && !defined(VCHAT_COMPILATION)
#error "Only <vchat/vchat.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

/**
 * VCHAT_ERROR:
 *
 * The error domain of libvchat. The daemon's D-Bus errors
 * (`io.github.vchat.VChat1.Error.*`) arrive as these codes, with the
 * daemon's message (which says what went wrong and what to do).
 */
#define VCHAT_ERROR (vchat_error_quark ())

/**
 * VChatError:
 * @VCHAT_ERROR_FAILED: something else went wrong; the message says what
 * @VCHAT_ERROR_INVALID_ARGS: a bad argument (an invite code that is not one, an unknown option)
 * @VCHAT_ERROR_INVALID_STATE: the call is not in a state where this can be done
 * @VCHAT_ERROR_NOT_FOUND: no such invite, call or camera
 * @VCHAT_ERROR_INVITE_EXPIRED: the invite expired or was cancelled
 * @VCHAT_ERROR_OFFLINE: the daemon is not connected to its signaling server
 * @VCHAT_ERROR_NO_CAMERA: there is no such camera
 * @VCHAT_ERROR_BUSY: a call is in progress, or the friend is busy
 * @VCHAT_ERROR_PERMISSION_DENIED: the daemon belongs to another user
 * @VCHAT_ERROR_NO_DAEMON: the daemon is not running and could not be started
 *
 * Error codes in the %VCHAT_ERROR domain.
 */
typedef enum /*< underscore_name=vchat_error >*/ {
  VCHAT_ERROR_FAILED,
  VCHAT_ERROR_INVALID_ARGS,
  VCHAT_ERROR_INVALID_STATE,
  VCHAT_ERROR_NOT_FOUND,
  VCHAT_ERROR_INVITE_EXPIRED,
  VCHAT_ERROR_OFFLINE,
  VCHAT_ERROR_NO_CAMERA,
  VCHAT_ERROR_BUSY,
  VCHAT_ERROR_PERMISSION_DENIED,
  VCHAT_ERROR_NO_DAEMON,
} VChatError;

GQuark vchat_error_quark (void);

G_END_DECLS
