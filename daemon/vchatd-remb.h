/* vchatd-remb.h: REMB, the bandwidth feedback of peers without TWCC
 *
 * Some WebRTC stacks (aiortc, older browsers) give no transport-wide
 * congestion control feedback: the receiver estimates the link itself from
 * when packets were sent (the abs-send-time header extension) and when
 * they arrived, and tells the sender the bitrate it allows in a REMB
 * message (draft-alvestrand-rmcat-remb: an RTCP payload-specific feedback
 * packet, application layer feedback, whose FCI starts with "REMB").
 *
 * vchatd offers goog-remb next to transport-cc. Toward such a peer it
 * writes abs-send-time on its video packets (vchatd-abs-send-time.c) and
 * follows the REMB that comes back (vchatd_rate_control_on_remb()). From
 * such a peer it reads abs-send-time on what arrives, estimates the link
 * with the same delay-based controller it uses for TWCC feedback
 * (vchatd-rate-control.h, fed with each packet's send and arrival time),
 * and sends REMB: at the first estimate, once a second, and at once when
 * the estimate falls by 3 % or more.
 *
 * Pure logic over GLib, no GStreamer, no locking: the media code owns the
 * lock.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VCHATD_ABS_SEND_TIME_URI "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"

/* The REMB FCI: "REMB", the SSRC count, the bitrate as a 6-bit exponent and
 * an 18-bit mantissa, then the SSRCs. */
#define VCHATD_REMB_FCI_SIZE(n_ssrcs) (8 + 4 * (n_ssrcs))

/**
 * vchatd_remb_parse_fci:
 * @fci: (array length=size): the FCI of a PSFB/AFB packet
 * @bps: (out): the bitrate it allows
 *
 * Returns: FALSE if @fci is no REMB (another AFB message, or too short
 *   for the SSRCs it announces)
 */
gboolean vchatd_remb_parse_fci (const guint8 *fci, gsize size, guint64 *bps);

/* Writes a REMB FCI for @bps (rounded down to what 18 bits of mantissa can
 * say) and @ssrcs into @fci, which holds VCHATD_REMB_FCI_SIZE (@n_ssrcs)
 * bytes; @n_ssrcs is at most 255. */
void vchatd_remb_write_fci (guint8 *fci, guint64 bps, const guint32 *ssrcs, guint n_ssrcs);

/* abs-send-time: 24 bits, seconds in 6.18 fixed point (wraps every 64 s). */
guint32 vchatd_abs_send_time_from_us (guint64 us);

typedef struct _VchatdRembEstimator VchatdRembEstimator;

/* An estimator that never says less than @min_kbps nor more than
 * @max_kbps, starting at @start_kbps. */
VchatdRembEstimator *vchatd_remb_estimator_new (guint min_kbps, guint start_kbps,
                                                guint max_kbps);
void vchatd_remb_estimator_free (VchatdRembEstimator *estimator);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VchatdRembEstimator, vchatd_remb_estimator_free)

/* One packet that arrived at @arrival_us (the caller's monotonic clock)
 * carrying @abs_send_time (24 bits) and @size bytes of RTP. */
void vchatd_remb_estimator_on_packet (VchatdRembEstimator *estimator, gint64 arrival_us,
                                      guint32 abs_send_time, guint size);

/* A round trip measured by RTCP, as vchatd_rate_control_on_rtt(). */
void vchatd_remb_estimator_on_rtt (VchatdRembEstimator *estimator, gint64 now_us, gint64 rtt_us);

/**
 * vchatd_remb_estimator_tick:
 * @now_us: the time (every 100–200 ms)
 * @bps: (out): the bitrate to send in a REMB, when one is due
 *
 * Hands the packets since the last tick to the estimate.
 *
 * Returns: TRUE when a REMB is due: the first estimate, a second after the
 *   last one, or an estimate 3 % or more under the last one sent
 */
gboolean vchatd_remb_estimator_tick (VchatdRembEstimator *estimator, gint64 now_us,
                                     guint64 *bps);

/* The latest estimate, kbit/s; 0 before any packet with abs-send-time. */
guint vchatd_remb_estimator_get_kbps (const VchatdRembEstimator *estimator);

G_END_DECLS
