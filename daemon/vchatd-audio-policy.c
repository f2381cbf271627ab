/* vchatd-audio-policy.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-audio-policy.h"

#include <math.h>

#define FEC_FROM_PCT 1.0
#define MAX_LOSS_PCT 30

VchatdAudioPolicy
vchatd_audio_policy_for (guint target_kbps, gdouble loss_pct)
{
  VchatdAudioPolicy policy = { 32, FALSE, 0 };

  if (target_kbps < 120)
    policy.bitrate_kbps = 16;
  else if (target_kbps < 300)
    policy.bitrate_kbps = 24;

  if (!isfinite (loss_pct) || loss_pct < 0)
    loss_pct = 0;
  policy.inband_fec = loss_pct >= FEC_FROM_PCT;
  /* Rounded up, but 2.0000001 (a fraction times 100) is still 2. */
  policy.packet_loss_pct = (guint) MIN (ceil (loss_pct - 1e-6), MAX_LOSS_PCT);
  return policy;
}

guint
vchatd_audio_policy_video_kbps (const VchatdAudioPolicy *audio, guint target_kbps)
{
  guint cost;

  g_return_val_if_fail (audio != NULL, 0);

  cost = audio->bitrate_kbps + VCHATD_AUDIO_OVERHEAD_KBPS;
  return target_kbps > cost ? target_kbps - cost : 0;
}
