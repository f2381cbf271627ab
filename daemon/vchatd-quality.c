/* vchatd-quality.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-quality.h"

#define POOR_LOSS_PCT 10.0
#define POOR_RTT_MS 1000
#define POOR_FPS 8.0
#define POOR_FREEZE_MS 1000
#define POOR_TARGET_KBPS 100

#define GOOD_LOSS_PCT 2.0
#define GOOD_RTT_MS 300
#define GOOD_FPS 20.0
#define GOOD_TARGET_KBPS 250

static const char *const quality_names[] = {
  [VCHATD_QUALITY_GOOD] = "good",
  [VCHATD_QUALITY_FAIR] = "fair",
  [VCHATD_QUALITY_POOR] = "poor",
};

const char *
vchatd_quality_to_string (VchatdQuality quality)
{
  g_return_val_if_fail ((guint) quality < G_N_ELEMENTS (quality_names), NULL);
  return quality_names[quality];
}

VchatdQuality
vchatd_quality_from_stats (gdouble loss_pct, guint rtt_ms, gdouble fps_received,
                           guint freeze_ms_last_10s, guint target_kbps)
{
  gboolean video = fps_received >= 0;
  gboolean controlled = target_kbps > 0;

  if (loss_pct > POOR_LOSS_PCT || rtt_ms > POOR_RTT_MS || (video && fps_received < POOR_FPS) ||
      freeze_ms_last_10s >= POOR_FREEZE_MS || (controlled && target_kbps < POOR_TARGET_KBPS))
    return VCHATD_QUALITY_POOR;

  if (loss_pct < GOOD_LOSS_PCT && rtt_ms < GOOD_RTT_MS && (!video || fps_received >= GOOD_FPS) &&
      freeze_ms_last_10s == 0 && (!controlled || target_kbps >= GOOD_TARGET_KBPS))
    return VCHATD_QUALITY_GOOD;

  return VCHATD_QUALITY_FAIR;
}
