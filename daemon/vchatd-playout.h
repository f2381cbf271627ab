/* vchatd-playout.h: how long a receiver waits for a missing packet
 *
 * webrtcbin's jitter buffers (one per received stream) hold back what
 * follows a missing packet until it arrives, as a retransmission asked
 * for with a NACK, or until their latency has passed since it was due;
 * then it counts as lost, the stream goes on, and our receiver asks for a
 * keyframe. vchatd's sinks do not wait on timestamps, so packets that
 * arrive in order are not held at all: the latency is the longest stall
 * one lost packet causes. webrtcbin's default is a fixed 200 ms: a stall
 * four times longer than needed on a LAN, and too short for a
 * retransmission to come back over a path with a 300 ms round trip.
 *
 * The rule: one round trip and a half (a retransmission, with room for
 * the request or the resent packet to queue), three times the path's
 * jitter, and 40 ms to notice the gap (a frame interval at 25 fps):
 *
 *   latency = 1.5 × RTT + 3 × jitter + 40 ms,   within 60 … 400 ms
 *
 * with RTT and jitter the highest of the last 10 s. It starts at 200 ms
 * (nothing is known yet), follows a rise at once, and follows a fall only
 * once the rule has stayed 20 % or more below it for 5 s. Changes under
 * 10 ms are not made.
 *
 * Pure logic over GLib, no GStreamer: the tests drive it with traces.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VCHATD_PLAYOUT_START_MS 200
#define VCHATD_PLAYOUT_MIN_MS   60
#define VCHATD_PLAYOUT_MAX_MS   400

typedef struct _VchatdPlayout VchatdPlayout;

VchatdPlayout *vchatd_playout_new (void);
void vchatd_playout_free (VchatdPlayout *playout);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VchatdPlayout, vchatd_playout_free)

/**
 * vchatd_playout_update:
 * @now_us: a monotonic time
 * @rtt_ms: the round-trip time now; < 0 when unknown
 * @jitter_ms: the received streams' interarrival jitter now (RFC 3550,
 *   the worst stream); < 0 when unknown
 *
 * Takes one sample (about one a second).
 *
 * Returns: TRUE when the latency changed (read it with
 *   vchatd_playout_get_latency_ms())
 */
gboolean vchatd_playout_update (VchatdPlayout *playout, gint64 now_us, gdouble rtt_ms,
                                gdouble jitter_ms);

/* The latency the jitter buffers should have, in ms. */
guint vchatd_playout_get_latency_ms (const VchatdPlayout *playout);

/* What the rule asks for on the last 10 s, before hysteresis; 0 before
 * any round trip is known. */
guint vchatd_playout_get_wanted_ms (const VchatdPlayout *playout);

G_END_DECLS
