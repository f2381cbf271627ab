/* vchat-qr.c: a QR code of a link, as a texture
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchat-app-config.h"

#include "vchat-qr.h"

#ifdef HAVE_QRENCODE
#include <qrencode.h>
#include <string.h>
#endif

/* Pixels per module: GtkPicture scales smoothly, so the modules are drawn
 * big enough that a phone camera sees sharp edges. */
#define MODULE_PX 8
#define QUIET_ZONE 4

GdkTexture *
vchat_qr_texture_new (const char *text)
{
#ifdef HAVE_QRENCODE
  g_autoptr (GBytes) bytes = NULL;
  QRcode *qr;
  guint8 *pixels;
  int side, stride;

  qr = QRcode_encodeString (text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (!qr)
    return NULL;
  side = (qr->width + 2 * QUIET_ZONE) * MODULE_PX;
  stride = side * 3;
  pixels = g_malloc (stride * side);
  memset (pixels, 0xff, stride * side);
  for (int y = 0; y < qr->width; y++)
    for (int x = 0; x < qr->width; x++) {
      if (!(qr->data[y * qr->width + x] & 1))
        continue;
      for (int dy = 0; dy < MODULE_PX; dy++) {
        guint8 *row = pixels + ((y + QUIET_ZONE) * MODULE_PX + dy) * stride;
        memset (row + (x + QUIET_ZONE) * MODULE_PX * 3, 0, MODULE_PX * 3);
      }
    }
  QRcode_free (qr);
  bytes = g_bytes_new_take (pixels, stride * side);
  return gdk_memory_texture_new (side, side, GDK_MEMORY_R8G8B8, bytes, stride);
#else
  return NULL;
#endif
}
