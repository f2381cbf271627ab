/* vchatd-video-fec.h: when the video gets forward error correction
 *
 * NACK and retransmission repair a lost video packet in one round trip;
 * with steady random loss (a bad radio link) that is a round trip of
 * waiting on many frames. ULPFEC (RFC 5109, sent inside RED, RFC 2198)
 * adds XOR parity packets that let the receiver rebuild a lost packet at
 * once. It costs bitrate, so it is on only while the loss the peer reports
 * stays high, and only for random loss (the rate controller found that it
 * survives a cut of the rate): loss from a full queue is the rate's to
 * fix, and parity on top of it would only fill the queue more.
 *
 *   on        once the loss has been random and at or above 3 % for 2 s
 *   amount    rtpulpfecenc's percentage (parity packets per 100 media
 *             packets): 4 × the loss, from 10 to 50, so 5 % loss gets 20
 *   off       once the loss has been under 1 % for 5 s, or at once when it
 *             is no longer random
 *
 * The parity is paid for out of the video's share: the encoder's target is
 * video_kbps × 100 / (100 + percentage), so the total stays within what
 * the rate controller allows.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint percentage;  /* 0: off */
  gint64 high_since; /* µs; 0: the loss is not high */
  gint64 low_since;  /* µs; 0: the loss is not low */
} VchatdVideoFec;

/* Feeds the loss measured at @now_us (percent, 0–100) and whether the rate
 * controller takes it as random; returns the percentage to use from now on
 * (also in @fec->percentage). */
guint vchatd_video_fec_update (VchatdVideoFec *fec, gint64 now_us, gdouble loss_pct,
                               gboolean random);

/* The encoder's share of @video_kbps once @percentage of parity is paid. */
guint vchatd_video_fec_encoder_kbps (guint video_kbps, guint percentage);

G_END_DECLS
