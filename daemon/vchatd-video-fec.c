/* vchatd-video-fec.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-video-fec.h"

#include <math.h>

#define HIGH_LOSS_PCT 3.0
#define LOW_LOSS_PCT 1.0
#define ON_AFTER_US (2 * G_USEC_PER_SEC)
#define OFF_AFTER_US (5 * G_USEC_PER_SEC)
#define PER_LOSS_PCT 4.0
#define MIN_PERCENTAGE 10
#define MAX_PERCENTAGE 50

static guint
percentage_for (gdouble loss_pct)
{
  return (guint) CLAMP (ceil (loss_pct * PER_LOSS_PCT - 1e-6), MIN_PERCENTAGE, MAX_PERCENTAGE);
}

guint
vchatd_video_fec_update (VchatdVideoFec *fec, gint64 now_us, gdouble loss_pct, gboolean random)
{
  g_return_val_if_fail (fec != NULL, 0);

  if (!isfinite (loss_pct) || loss_pct < 0)
    loss_pct = 0;
  if (!random && loss_pct >= LOW_LOSS_PCT) {
    fec->high_since = 0;
    fec->low_since = 0;
    fec->percentage = 0;
  } else if (loss_pct >= HIGH_LOSS_PCT) {
    fec->low_since = 0;
    if (!fec->high_since)
      fec->high_since = now_us;
    if (fec->percentage || now_us - fec->high_since >= ON_AFTER_US)
      fec->percentage = percentage_for (loss_pct);
  } else if (loss_pct < LOW_LOSS_PCT) {
    fec->high_since = 0;
    if (!fec->low_since)
      fec->low_since = now_us;
    if (now_us - fec->low_since >= OFF_AFTER_US)
      fec->percentage = 0;
  } else {
    /* Between the two: what is on stays on, at the amount this loss
     * calls for; what is off stays off. */
    fec->high_since = 0;
    fec->low_since = 0;
    if (fec->percentage)
      fec->percentage = percentage_for (loss_pct);
  }
  return fec->percentage;
}

guint
vchatd_video_fec_encoder_kbps (guint video_kbps, guint percentage)
{
  return (guint) ((guint64) video_kbps * 100 / (100 + percentage));
}
