/* vchat-qr.h: a QR code of a link, as a texture
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Dark modules on white, with the quiet zone around; NULL when vchat was
 * built without libqrencode or the text does not fit. (transfer full) */
GdkTexture *vchat_qr_texture_new (const char *text);

G_END_DECLS
