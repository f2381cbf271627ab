/* vchatd-audio-policy.h: the Opus encoder's share of a call's bitrate
 *
 * From the rate controller's target and the measured loss:
 *
 *   bitrate   32 kbit/s; 24 when the target is under 300; 16 under 120
 *   FEC       Opus in-band forward error correction from 1 % loss up
 *   loss %    packet-loss-percentage (how much redundancy FEC spends): the
 *             measured loss rounded up, at most 30
 *
 * Followed call after call (vchatd_audio_policy_next()), the settings do
 * not flap on a link that hovers at a threshold: FEC, once on, stays on
 * until the loss has stayed under 1 % for 5 s, and the bitrate steps back
 * up only 40 kbit/s (32 at the lower step) above where it stepped down
 * (340 and 140 kbit/s).
 *
 * Speech stays intelligible at 16 kbit/s, and audio matters more than
 * video on a bad link, so it shrinks last and by little. The video gets the
 * rest: the target minus the audio bitrate minus its packets' RTP headers
 * (50 packets a second of 12 bytes of header and 8 of extensions,
 * VCHATD_AUDIO_OVERHEAD_KBPS), because the controller counts headers too.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VCHATD_AUDIO_OVERHEAD_KBPS 8
/* The most audio takes: add it to the max-bitrate setting (a video
 * ceiling) to get the rate controller's max_kbps. */
#define VCHATD_AUDIO_MAX_KBPS (32 + VCHATD_AUDIO_OVERHEAD_KBPS)

typedef struct {
  guint bitrate_kbps;    /* opusenc bitrate, in kbit/s (the property is bit/s) */
  gboolean inband_fec;   /* opusenc inband-fec */
  guint packet_loss_pct; /* opusenc packet-loss-percentage */
  gint64 clean_since_us; /* FEC on: since when the loss has been under 1 %; 0: it is not */
} VchatdAudioPolicy;

/* The audio settings for a total @target_kbps and a loss of @loss_pct
 * percent (0–100). */
VchatdAudioPolicy vchatd_audio_policy_for (guint target_kbps, gdouble loss_pct);

/* The same, as the next step after @previous at @now_us (monotonic), with
 * the hysteresis described above. */
VchatdAudioPolicy vchatd_audio_policy_next (const VchatdAudioPolicy *previous, gint64 now_us,
                                           guint target_kbps, gdouble loss_pct);

/* What the encoder is told differs (bitrate, FEC, expected loss). */
gboolean vchatd_audio_policy_differs (const VchatdAudioPolicy *a, const VchatdAudioPolicy *b);

/* What is left of @target_kbps for video once @audio is paid for; 0 if
 * nothing is. */
guint vchatd_audio_policy_video_kbps (const VchatdAudioPolicy *audio, guint target_kbps);

G_END_DECLS
