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
  VchatdAudioPolicy policy = { 32, FALSE, 0, 0 };

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

#define FEC_HOLD_US (5 * G_USEC_PER_SEC)
#define STEP_UP_MARGIN_KBPS 40
#define LOW_STEP_UP_MARGIN_KBPS 20

VchatdAudioPolicy
vchatd_audio_policy_next (const VchatdAudioPolicy *previous, gint64 now_us, guint target_kbps,
                          gdouble loss_pct)
{
  VchatdAudioPolicy policy = vchatd_audio_policy_for (target_kbps, loss_pct);

  g_return_val_if_fail (previous != NULL, policy);

  /* Up a step only well above where it came down. */
  if (policy.bitrate_kbps > previous->bitrate_kbps) {
    if (previous->bitrate_kbps == 16 && target_kbps < 120 + LOW_STEP_UP_MARGIN_KBPS)
      policy.bitrate_kbps = 16;
    else if (previous->bitrate_kbps <= 24 && target_kbps < 300 + STEP_UP_MARGIN_KBPS)
      policy.bitrate_kbps = MAX (previous->bitrate_kbps, 24);
  }
  /* FEC stays until the loss has been gone for a while. */
  if (!policy.inband_fec && previous->inband_fec) {
    policy.clean_since_us = previous->clean_since_us ? previous->clean_since_us : now_us;
    if (now_us - policy.clean_since_us < FEC_HOLD_US) {
      policy.inband_fec = TRUE;
      policy.packet_loss_pct = MAX (policy.packet_loss_pct, 1);
    } else {
      policy.clean_since_us = 0;
    }
  }
  return policy;
}

gboolean
vchatd_audio_policy_differs (const VchatdAudioPolicy *a, const VchatdAudioPolicy *b)
{
  return a->bitrate_kbps != b->bitrate_kbps || a->inband_fec != b->inband_fec ||
         a->packet_loss_pct != b->packet_loss_pct;
}

guint
vchatd_audio_policy_video_kbps (const VchatdAudioPolicy *audio, guint target_kbps)
{
  guint cost;

  g_return_val_if_fail (audio != NULL, 0);

  cost = audio->bitrate_kbps + VCHATD_AUDIO_OVERHEAD_KBPS;
  return target_kbps > cost ? target_kbps - cost : 0;
}
