/* vchatd-rate-control.h: how fast a call may send, from what the network says
 *
 * The congestion controller of a call's senders, in the shape of Google
 * Congestion Control (draft-ietf-rmcat-gcc-02 and libwebrtc's trendline
 * estimator), written for vchatd. It knows no GStreamer: the media code
 * feeds it transport-wide congestion control (TWCC) feedback, round-trip
 * times and optionally what it sent, calls vchatd_rate_control_tick() every
 * 100–200 ms and applies the target it returns (split by the audio policy,
 * vchatd-audio-policy.h, and shaped by the ladder, vchatd-ladder.h).
 *
 * Two estimates, the target is the smaller one, clamped to [min, max]:
 *
 * - delay-based: packets are grouped into 5 ms send bursts; the growth of
 *   the one-way delay between groups is fitted by a trendline over the last
 *   20 groups and compared with an adaptive threshold, giving overuse,
 *   normal or underuse. Overuse cuts the estimate to 0.85 × the rate that
 *   actually arrived; normal lets it grow, multiplicatively while the link's
 *   capacity is unknown and additively (about one packet per round trip)
 *   near the rate where it last congested; underuse holds it while queues
 *   drain. It never grows past 1.5 × the arrived rate.
 * - loss-based: over the last second of feedback (longer, up to 5 s, until
 *   it holds 100 packets), more than 10 % loss cuts
 *   by half the loss fraction, 2–10 % holds, less than 2 % lets it grow.
 *
 * There are no probe packets (the senders cannot pad in GStreamer 1.22).
 * Probing is modelled as faster growth instead: 50 %/s until the first
 * congestion of the call (slow start), 25 %/s once the estimate has gone
 * 5 s without a decrease, 8 %/s otherwise. Loss that stays in the 2–10 %
 * band for 2 s is tested with a cut by the loss fraction: if it goes, it
 * was ours (a shallow buffer, a policer) and the rate stays under that
 * knee for 10 s; if it stays, it is random (a bad Wi-Fi link, not a queue)
 * and no longer holds the estimate.
 *
 * All times are microseconds on the caller's monotonic clock, except the
 * send and arrival times of packets, of which only differences are used:
 * arrivals are in the remote clock, sends in any clock of the same pace. A @now_us going backwards
 * is treated as no time passing.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _VchatdRateControl VchatdRateControl;

/**
 * VchatdRateControlConfig:
 * @min_kbps: the target never goes below this (e.g. 50)
 * @start_kbps: the target before any feedback (e.g. 300)
 * @max_kbps: the target never goes above this: the max-bitrate setting (a
 *   video ceiling) plus the audio's share, see vchatd-audio-policy.h
 *
 * Out-of-order values are repaired: max is at least min, start lies
 * between them.
 */
typedef struct {
  guint min_kbps;
  guint start_kbps;
  guint max_kbps;
} VchatdRateControlConfig;

/**
 * VchatdPacketFeedback:
 * @seqnum: the transport-wide sequence number
 * @send_time_us: when the packet was sent, in µs on a clock that runs at
 *   the pace of the caller's (GStreamer's system clock is fine; only
 *   differences of send times are used)
 * @arrival_time_us: when it arrived, in the remote clock (any offset but
 *   not negative), or -1 (any negative value) if it was reported lost
 * @size: bytes on the wire (RTP header and payload is enough)
 */
typedef struct {
  guint16 seqnum;
  gint64 send_time_us;
  gint64 arrival_time_us;
  guint size;
} VchatdPacketFeedback;

/* What the delay trend says about the path. */
typedef enum {
  VCHATD_BW_NORMAL,
  VCHATD_BW_OVERUSE,  /* queues are growing: send less */
  VCHATD_BW_UNDERUSE, /* queues are draining: hold */
} VchatdBandwidthUsage;

const char *vchatd_bandwidth_usage_to_string (VchatdBandwidthUsage usage);

/**
 * vchatd_rate_control_new:
 * @config: the bounds and the starting point
 *
 * Returns: (transfer full): a controller whose target is @config's start
 */
VchatdRateControl *vchatd_rate_control_new (const VchatdRateControlConfig *config);

void vchatd_rate_control_free (VchatdRateControl *rc);

/**
 * vchatd_rate_control_on_feedback:
 * @rc: the controller
 * @now_us: when the report arrived
 * @packets: (array length=n_packets): one TWCC report, in seqnum order
 * @n_packets: the number of entries; 0 is allowed and ignored
 *
 * Takes one feedback report. Send times may be out of seqnum order (several
 * streams share the seqnums); a packet may be reported again (a duplicate is
 * ignored, one reported lost and then received counts as received); the
 * arrival clock may jump (the delay detector starts over).
 */
void vchatd_rate_control_on_feedback (VchatdRateControl *rc, gint64 now_us,
                                      const VchatdPacketFeedback *packets, guint n_packets);

/* A round-trip time measurement (RTCP); values <= 0 or above a minute are
 * ignored. Until the first one, 100 ms is assumed. */
void vchatd_rate_control_on_rtt (VchatdRateControl *rc, gint64 now_us, gint64 rtt_us);

/**
 * vchatd_rate_control_on_sent:
 * @rc: the controller
 * @now_us: the time
 * @bytes: what left since the last call (one packet or a tick's worth),
 *   counted as the feedback counts sizes
 *
 * Optional. With it the controller knows the sent rate
 * (vchatd_rate_control_get_sent_kbps()) and notices when 2 s of sending
 * bring no feedback (the whole path is probably gone); then it cuts the
 * target by 20 % a second until feedback comes back. Without it, missing
 * feedback only holds the target.
 */
void vchatd_rate_control_on_sent (VchatdRateControl *rc, gint64 now_us, guint bytes);

/**
 * vchatd_rate_control_tick:
 * @rc: the controller
 * @now_us: the time of the tick
 *
 * Runs the rate control on what the feedback said since the last tick.
 * Call it every 100–200 ms; longer gaps are fine (growth is bounded to what
 * one second allows).
 *
 * Returns: the target in kbit/s, audio and video together, RTP headers
 *   included
 */
guint vchatd_rate_control_tick (VchatdRateControl *rc, gint64 now_us);

/**
 * vchatd_rate_control_on_remb:
 * @rc: the controller
 * @now_us: when it arrived
 * @bps: the bitrate a peer's REMB (receiver estimated maximum bitrate) allows
 *
 * For peers that send no transport-wide feedback (aiortc, older stacks):
 * while no TWCC report has ever come, the target follows the latest REMB
 * (within min and max) as long as it is under 3 s old, except downwards
 * while the sender uses less than half the target (vchatd_rate_control_on_sent():
 * a REMB follows what arrives, and a still picture needs little). Once TWCC
 * feedback comes, REMB is ignored.
 */
void vchatd_rate_control_on_remb (VchatdRateControl *rc, gint64 now_us, guint64 bps);

/* The last tick's target, kbit/s. */
guint vchatd_rate_control_get_target_kbps (VchatdRateControl *rc);

/* The delay-based estimate ("available-kbps"): what the path seems to
 * carry without queueing, before the loss bound (within [min, max]). It
 * only falls on overuse, so after heavy random loss it can stay well above
 * the target, which the loss bound holds down. */
guint vchatd_rate_control_get_estimate_kbps (VchatdRateControl *rc);

/* The rate at which packets arrived at the peer over the last 500 ms,
 * kbit/s; 0 until known. */
guint vchatd_rate_control_get_acked_kbps (VchatdRateControl *rc);

/* The rate reported through vchatd_rate_control_on_sent() over the last
 * second, kbit/s; 0 without it. */
guint vchatd_rate_control_get_sent_kbps (VchatdRateControl *rc);

/* Packets reported lost over the last second of feedback (or the last
 * 100 packets, up to 5 s), percent (0–100, fractional); 0 until known. */
gdouble vchatd_rate_control_get_loss_pct (VchatdRateControl *rc);

VchatdBandwidthUsage vchatd_rate_control_get_usage (VchatdRateControl *rc);

/* A new ceiling (the max-bitrate setting changed): the target is clamped
 * at once; a higher ceiling lets it grow again. Raised to min if lower. */
void vchatd_rate_control_set_max_kbps (VchatdRateControl *rc, guint max_kbps);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VchatdRateControl, vchatd_rate_control_free)

G_END_DECLS
