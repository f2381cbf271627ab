/* vchat-camera.h: a camera the daemon can use
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VCHAT_INSIDE) && !defined(VCHAT_COMPILATION)
#error "Only <vchat/vchat.h> can be included directly."
#endif

#include <glib-object.h>

G_BEGIN_DECLS

#define VCHAT_TYPE_CAMERA (vchat_camera_get_type ())
G_DECLARE_FINAL_TYPE (VChatCamera, vchat_camera, VCHAT, CAMERA, GObject)

/* Properties: "id" (s), "name" (s), "is-default" (b); read-only. */
const char *vchat_camera_get_id (VChatCamera *self);
const char *vchat_camera_get_name (VChatCamera *self);
gboolean vchat_camera_get_is_default (VChatCamera *self);

G_END_DECLS
