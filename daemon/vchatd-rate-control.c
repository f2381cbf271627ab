/* vchatd-rate-control.c
 *
 * The constants follow GCC (draft-ietf-rmcat-gcc-02) and libwebrtc's
 * trendline estimator where those have settled values; where we differ
 * (probing, random loss, the feedback timeout) the reason is given.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-rate-control.h"

#include <math.h>
#include <stdlib.h>

#define MS (G_GINT64_CONSTANT (1000))
#define S (G_GINT64_CONSTANT (1000000))

/* Inter-arrival grouping: packets sent within 5 ms are one group (a video
 * frame leaves in one burst). A packet that arrives within 5 ms of the
 * group's last one and earlier than its send spacing predicts was queued
 * behind it: same group, as long as the group lasts under 100 ms. */
#define GROUP_SPAN_US (5 * MS)
#define BURST_ARRIVAL_US (5 * MS)
#define BURST_MAX_US (100 * MS)
/* The remote clock jumped (or wrapped): arrival and send spacing disagree
 * by more than this. The detector starts over. */
#define CLOCK_JUMP_US (3 * S)
/* Groups arriving in reverse order this many times in a row: start over. */
#define MAX_REORDERED 3
/* No packet for this long (a suspended machine, a mute sender): the old
 * groups say nothing about the path any more. */
#define STREAM_TIMEOUT_US (2 * S)

/* Trendline: least-squares slope of the smoothed accumulated delay over the
 * last 20 groups. The slope is scaled by the number of deltas seen (up to
 * 60) and a gain of 4 before being compared with the threshold. */
#define TREND_WINDOW 20
#define TREND_SMOOTHING 0.9
#define TREND_GAIN 4.0
#define TREND_MAX_DELTAS 60
#define TREND_DELTA_COUNT_MAX 1000

/* Adaptive threshold γ (ms): follows |modified trend| up slowly (k_up) and
 * down quickly (k_down), so that a competing TCP flow, whose queue
 * variation raises the trend, does not starve us; jumps of more than 15
 * above it are outliers and do not move it. */
#define THRESHOLD_INITIAL 12.5
#define THRESHOLD_MIN 6.0
#define THRESHOLD_MAX 600.0
#define THRESHOLD_K_UP 0.0087
#define THRESHOLD_K_DOWN 0.039
#define THRESHOLD_MAX_OUTLIER 15.0
#define THRESHOLD_MAX_STEP_MS 100.0
/* Overuse is signalled once the trend has been above γ for 10 ms, in at
 * least two groups, and is not falling. */
#define OVERUSE_TIME_MS 10.0

/* Rate control. */
#define BETA 0.85
#define GROWTH_NORMAL 1.08 /* per second, the GCC value */
/* Probing stand-ins, see the header: slow start before the first
 * congestion, and a faster climb after a long clean stretch so that a
 * link that got better (a cap lifted) is found within seconds, not a
 * minute. Only multiplicative growth uses them: near the capacity found
 * at the last overuse the increase is additive, so a steady link's
 * sawtooth (a decrease every 5–6 s at 1 Mbit/s) does not probe. */
#define GROWTH_STARTUP 1.5
#define GROWTH_PROBE 1.25
#define PROBE_AFTER_US (5 * S)
#define MIN_MULT_INCREASE_KBPS_PER_S 10.0
/* Additive increase: about one packet per response time (RTT + 100 ms),
 * at least 4 kbit/s per second. */
#define ASSUMED_FPS 30.0
#define PACKET_BITS (1200.0 * 8.0)
#define MIN_ADD_INCREASE_KBPS_PER_S 4.0
#define RESPONSE_EXTRA_MS 100.0
/* The estimate does not grow past what arrives, times this, plus 10. */
#define ACKED_HEADROOM 1.5
#define ACKED_HEADROOM_KBPS 10.0
#define DEFAULT_RTT_US (100 * MS)
/* Link capacity: an average of the arrived rate at each overuse, with a
 * normalised variance; within 3 deviations of it the increase is
 * additive. */
#define LINK_ALPHA 0.05
#define LINK_DEV_MIN 0.4
#define LINK_DEV_MAX 2.5
#define LINK_DEV_INITIAL 0.4

/* Arrived ("acked") rate: bytes over the last 500 ms of arrival time. */
#define ACKED_WINDOW_US (500 * MS)
#define ACKED_MIN_SPAN_US (100 * MS)
#define ACKED_RING 2048

/* Loss: over the reports of the last second, or of as many more (up to
 * 5 s) as it takes to hold 100 packets: at 300 kbit/s a second is 30
 * packets, and 5 % random loss over 30 packets reads above 10 % one time
 * in ten. Nothing is judged on fewer than 5 packets. */
#define LOSS_WINDOW_US (1 * S)
#define LOSS_WINDOW_PACKETS 100
#define LOSS_MAX_WINDOW_US (5 * S)
#define LOSS_RING 128
#define LOSS_MIN_PACKETS 5
/* Decisions count only packets sent since the last decrease: the ones
 * before it were lost to the rate it already answered (a queue overflowing
 * in the second it took to notice). 50 of them before deciding: 5 % random
 * loss over 20 packets reads above 10 % one time in six, over 50 one time
 * in twenty. At the lowest rates 5 s may not hold 50: then whatever 5 s
 * hold (at least 5) will do, or the bound could never move again. */
#define LOSS_MIN_DECISION_PACKETS 50
#define LOSS_HIGH 0.10
#define LOSS_LOW 0.02
/* Cut at most once per 300 ms + RTT: a cut needs time to show. */
#define LOSS_CUT_INTERVAL_US (300 * MS)
/* Loss in the 2–10 % band is held for 2 s, then tested: a cut by the loss
 * fraction (what a full shallow buffer or a policer drops is what we send
 * beyond its rate). Gone at the lower rate (judged 1 s + RTT later): the
 * loss was ours, and the bound stays under that knee for 10 s before it
 * grows again. Still there: random loss (a radio link), and the bound
 * grows through it while the loss stays within 2 points (plus twice the
 * sampling noise: 5 % over 100 packets is ± 2.2) of that level, which
 * follows the readings slowly.
 * Near a knee found so, the bound grows additively, like the delay-based
 * estimate near the link's capacity; 10 % past it, the knee is forgotten.
 * GCC would hold in the band for good: at 6 % loss on a shallow buffer, or
 * at 300 kbit/s on a Wi-Fi link losing 5 %. */
#define LOSS_BAND_HOLD_US (2 * S)
#define LOSS_TEST_JUDGE_US (1 * S)
#define LOSS_KNEE_HOLD_US (10 * S)
#define LOSS_RANDOM_SLACK 0.02
#define LOSS_RANDOM_FOLLOW 0.1
#define LOSS_KNEE_MARGIN 1.1

/* No feedback for 2 s of sending without a break of a second: cut by
 * 20 % each second, like libwebrtc's feedback timeout. (Not at once after
 * a silence: a machine waking from sleep has heard nothing because it sent
 * nothing.) */
#define FEEDBACK_TIMEOUT_US (2 * S)
#define FEEDBACK_TIMEOUT_CUT 0.8
#define SENT_WINDOW_US (1 * S)

/* Packets larger than a datagram, or sent or arriving at absurd times,
 * are nonsense (and would overflow the arithmetic): ignored. Send times
 * are not compared with now: only their differences are used, so their
 * clock (GStreamer's system clock) need not be the caller's. */
#define MAX_PACKET_SIZE 65535
#define MAX_TIME_US (G_GINT64_CONSTANT (1) << 60)

/* Increases never account for more than a second at once (a suspended
 * machine, a late tick). */
#define MAX_STEP_US (1 * S)

/* Which packets were already reported, keyed by unwrapped seqnum. */
#define SEQ_HISTORY 4096

typedef enum {
  SEQ_UNKNOWN,
  SEQ_LOST,
  SEQ_RECEIVED,
} SeqState;

typedef enum {
  RC_HOLD,
  RC_INCREASE,
  RC_DECREASE,
} RcState;

typedef struct {
  gboolean valid;
  gint64 first_send_us;
  gint64 last_send_us;
  gint64 first_arrival_us;
  gint64 last_arrival_us;
} PacketGroup;

typedef struct {
  gint64 arrival_us;
  guint bytes;
} AckedSample;

typedef struct {
  gint64 at_us;
  gint lost; /* may be negative: packets first reported lost, then received */
  guint total;
  gint lost_since_cut; /* the same, of packets sent since the last decrease */
  guint total_since_cut;
} LossReport;

typedef struct {
  gint64 seq;
  gint64 send_time_us;
  gint64 arrival_time_us;
  guint size;
} Received;

/* A REMB estimate older than this is no longer followed. */
#define REMB_FRESH_US (3 * G_USEC_PER_SEC)

struct _VchatdRateControl {
  double min_kbps;
  double max_kbps;
  gint64 now_us; /* the latest time seen; G_MININT64 before any */
  gint64 rtt_us;

  /* Seqnum bookkeeping. */
  gboolean have_seq;
  /* The send time of the first packet the peer reported as arrived
   * (G_MAXINT64: none yet). Packets sent before it that it reports lost
   * reached a transport not up yet (the peer still finishing DTLS, as a
   * browser answering does): not loss on the path. */
  gint64 first_arrival_send_us;
  gint64 highest_seq;
  gint64 seq_owner[SEQ_HISTORY];
  guint8 seq_state[SEQ_HISTORY];
  GArray *scratch; /* Received, one report's new arrivals */

  /* Inter-arrival groups. */
  PacketGroup current;
  PacketGroup previous;
  guint reordered;
  gint64 last_packet_at_us; /* local time of the last report with arrivals */

  /* Trendline and overuse detector. */
  gint64 first_arrival_us;
  double accumulated_ms;
  double smoothed_ms;
  double window_x[TREND_WINDOW];
  double window_y[TREND_WINDOW];
  guint window_len;
  guint window_head;
  guint num_deltas;
  double trend;
  double prev_trend;
  double threshold;
  gint64 threshold_at_us; /* remote clock; G_MININT64: not yet */
  double time_over_ms;    /* < 0: not over */
  guint overuse_count;
  VchatdBandwidthUsage usage;
  gboolean overuse_latched; /* overuse seen since the last tick */
  gboolean fresh_feedback;  /* arrivals seen since the last tick */

  /* Arrived rate. */
  AckedSample acked[ACKED_RING];
  guint acked_head;
  guint acked_len;
  guint64 acked_bytes;
  gint64 acked_latest_us;
  gint64 acked_start_us; /* first arrival since the window last restarted */
  double acked_kbps;     /* < 0: unknown */

  /* Loss. */
  LossReport losses[LOSS_RING];
  guint loss_head;
  guint loss_len;
  double loss_fraction; /* < 0: unknown */
  double loss_decision; /* the same, since the last decrease */
  guint64 loss_decision_packets;
  gint64 loss_epoch_us;      /* the last decrease */
  gint64 loss_epoch_send_us; /* the same on the send times' clock */
  /* The latest report's newest send time, and when it came: where the
   * send times' clock stands now, give or take a round trip. */
  gint64 report_newest_send_us;
  gint64 report_at_us;
  gint64 last_feedback_us;
  gboolean had_feedback;

  /* Sent rate. */
  gint64 sent_window_start_us;
  guint64 sent_window_bytes;
  gint64 last_sent_us;
  gint64 sending_since_us;
  double sent_kbps;

  /* Link capacity (kbit/s); < 0: unknown. */
  double link_kbps;
  double link_dev;

  /* Delay-based rate control. */
  RcState state;
  double delay_kbps;
  gint64 last_change_us;
  gint64 last_decrease_us;
  gboolean had_decrease;

  /* Loss-based bound; < 0: none. */
  double loss_kbps;
  gint64 last_loss_update_us;
  gint64 last_loss_cut_us;
  gint64 loss_band_since_us; /* G_MININT64: not in the 2–10 % band */
  gint64 loss_test_at_us;    /* the test cut being judged; G_MININT64: none */
  double loss_random;        /* the level of loss found random; < 0: none */
  double loss_before_test;
  gint64 loss_knee_until_us; /* no growth until then */
  double loss_knee_kbps;     /* where our own loss began; < 0: none */
  double loss_test_from_kbps;
  gint64 last_timeout_cut_us;

  double target_kbps;
  /* REMB from a peer that sends no transport-wide feedback (see
   * vchatd_rate_control_on_remb()). */
  double remb_kbps;
  gint64 remb_at_us;
};

static const char *const usage_names[] = {
  [VCHATD_BW_NORMAL] = "normal",
  [VCHATD_BW_OVERUSE] = "overuse",
  [VCHATD_BW_UNDERUSE] = "underuse",
};

const char *
vchatd_bandwidth_usage_to_string (VchatdBandwidthUsage usage)
{
  g_return_val_if_fail ((guint) usage < G_N_ELEMENTS (usage_names), NULL);
  return usage_names[usage];
}

static gint64
advance_clock (VchatdRateControl *rc, gint64 now_us)
{
  /* Time that goes backwards (two clocks read in a different order) means
   * no time passed. */
  if (now_us > rc->now_us)
    rc->now_us = now_us;
  return rc->now_us;
}

/* Time from @since_us to @now_us; "forever" if @since_us never happened. */
static gint64
elapsed (gint64 since_us, gint64 now_us)
{
  return since_us == G_MININT64 ? G_MAXINT64 : now_us - since_us;
}

static gint64
rtt_us (VchatdRateControl *rc)
{
  return rc->rtt_us > 0 ? rc->rtt_us : DEFAULT_RTT_US;
}

/* The delay detector. */

static void
detector_reset (VchatdRateControl *rc)
{
  rc->current.valid = FALSE;
  rc->previous.valid = FALSE;
  rc->reordered = 0;
  rc->first_arrival_us = G_MININT64;
  rc->accumulated_ms = 0;
  rc->smoothed_ms = 0;
  rc->window_len = 0;
  rc->window_head = 0;
  rc->num_deltas = 0;
  rc->trend = 0;
  rc->prev_trend = 0;
  rc->threshold = THRESHOLD_INITIAL;
  rc->threshold_at_us = G_MININT64;
  rc->time_over_ms = -1;
  rc->overuse_count = 0;
  rc->usage = VCHATD_BW_NORMAL;
}

static void
update_threshold (VchatdRateControl *rc, double modified_trend, gint64 at_us)
{
  double magnitude = fabs (modified_trend);
  double k, step_ms;

  if (rc->threshold_at_us == G_MININT64)
    rc->threshold_at_us = at_us;

  if (magnitude > rc->threshold + THRESHOLD_MAX_OUTLIER) {
    rc->threshold_at_us = at_us;
    return;
  }

  k = magnitude < rc->threshold ? THRESHOLD_K_DOWN : THRESHOLD_K_UP;
  step_ms = CLAMP ((at_us - rc->threshold_at_us) / 1000.0, 0.0, THRESHOLD_MAX_STEP_MS);
  rc->threshold += k * (magnitude - rc->threshold) * step_ms;
  rc->threshold = CLAMP (rc->threshold, THRESHOLD_MIN, THRESHOLD_MAX);
  rc->threshold_at_us = at_us;
}

static void
detect (VchatdRateControl *rc, double send_delta_ms, gint64 at_us)
{
  double modified;

  if (rc->num_deltas < 2) {
    rc->usage = VCHATD_BW_NORMAL;
    return;
  }

  modified = MIN (rc->num_deltas, TREND_MAX_DELTAS) * rc->trend * TREND_GAIN;
  if (modified > rc->threshold) {
    if (rc->time_over_ms < 0)
      rc->time_over_ms = send_delta_ms / 2;
    else
      rc->time_over_ms += send_delta_ms;
    rc->overuse_count++;
    /* A trend that is already falling means the last cut is working. */
    if (rc->time_over_ms > OVERUSE_TIME_MS && rc->overuse_count > 1 &&
        rc->trend >= rc->prev_trend) {
      rc->time_over_ms = 0;
      rc->overuse_count = 0;
      rc->usage = VCHATD_BW_OVERUSE;
      rc->overuse_latched = TRUE;
    }
  } else if (modified < -rc->threshold) {
    rc->time_over_ms = -1;
    rc->overuse_count = 0;
    rc->usage = VCHATD_BW_UNDERUSE;
  } else {
    rc->time_over_ms = -1;
    rc->overuse_count = 0;
    rc->usage = VCHATD_BW_NORMAL;
  }
  rc->prev_trend = rc->trend;
  update_threshold (rc, modified, at_us);
}

static void
update_trendline (VchatdRateControl *rc, double send_delta_ms, double arrival_delta_ms,
                  gint64 arrival_us)
{
  guint slot;

  rc->num_deltas = MIN (rc->num_deltas + 1, TREND_DELTA_COUNT_MAX);
  rc->accumulated_ms += arrival_delta_ms - send_delta_ms;
  rc->smoothed_ms = TREND_SMOOTHING * rc->smoothed_ms + (1 - TREND_SMOOTHING) * rc->accumulated_ms;
  if (rc->first_arrival_us == G_MININT64)
    rc->first_arrival_us = arrival_us;

  slot = (rc->window_head + rc->window_len) % TREND_WINDOW;
  if (rc->window_len == TREND_WINDOW) {
    slot = rc->window_head;
    rc->window_head = (rc->window_head + 1) % TREND_WINDOW;
  } else {
    rc->window_len++;
  }
  rc->window_x[slot] = (arrival_us - rc->first_arrival_us) / 1000.0;
  rc->window_y[slot] = rc->smoothed_ms;

  if (rc->window_len == TREND_WINDOW) {
    double mean_x = 0, mean_y = 0, num = 0, den = 0;

    for (guint i = 0; i < TREND_WINDOW; i++) {
      mean_x += rc->window_x[i];
      mean_y += rc->window_y[i];
    }
    mean_x /= TREND_WINDOW;
    mean_y /= TREND_WINDOW;
    for (guint i = 0; i < TREND_WINDOW; i++) {
      num += (rc->window_x[i] - mean_x) * (rc->window_y[i] - mean_y);
      den += (rc->window_x[i] - mean_x) * (rc->window_x[i] - mean_x);
    }
    /* All groups arriving at the same instant give no slope: keep the last. */
    if (den > 0)
      rc->trend = num / den;
  }

  detect (rc, send_delta_ms, arrival_us);
}

static gboolean
in_burst (const PacketGroup *group, const Received *packet)
{
  gint64 arrival_delta = packet->arrival_time_us - group->last_arrival_us;
  gint64 send_delta = packet->send_time_us - group->last_send_us;

  if (send_delta == 0)
    return TRUE;
  return arrival_delta - send_delta < 0 && arrival_delta <= BURST_ARRIVAL_US &&
         packet->arrival_time_us - group->first_arrival_us < BURST_MAX_US;
}

static void
group_start (PacketGroup *group, const Received *packet)
{
  group->valid = TRUE;
  group->first_send_us = group->last_send_us = packet->send_time_us;
  group->first_arrival_us = group->last_arrival_us = packet->arrival_time_us;
}

static void
on_group_complete (VchatdRateControl *rc, gint64 now_us)
{
  gint64 send_delta, arrival_delta;

  if (!rc->previous.valid)
    return;

  send_delta = rc->current.last_send_us - rc->previous.last_send_us;
  arrival_delta = rc->current.last_arrival_us - rc->previous.last_arrival_us;

  if (ABS (arrival_delta - send_delta) > CLOCK_JUMP_US) {
    g_debug ("rate control: the arrival clock jumped by %" G_GINT64_FORMAT " µs; detector reset",
             arrival_delta - send_delta);
    detector_reset (rc);
    return;
  }
  if (arrival_delta < 0) {
    /* Reordered in the network; a few in a row mean the clock moved. */
    if (++rc->reordered >= MAX_REORDERED)
      detector_reset (rc);
    return;
  }
  rc->reordered = 0;
  update_trendline (rc, send_delta / 1000.0, arrival_delta / 1000.0, rc->current.last_arrival_us);
}

static void
detector_add (VchatdRateControl *rc, const Received *packet, gint64 now_us)
{
  PacketGroup *cur = &rc->current;

  if (!cur->valid) {
    group_start (cur, packet);
    return;
  }
  /* Sent before the group being built: late, its delay is not comparable. */
  if (packet->send_time_us < cur->first_send_us)
    return;

  if (!in_burst (cur, packet) && packet->send_time_us - cur->first_send_us > GROUP_SPAN_US) {
    on_group_complete (rc, now_us);
    if (!rc->current.valid) {
      /* Reset: this packet starts afresh. */
      group_start (&rc->current, packet);
      return;
    }
    rc->previous = rc->current;
    group_start (&rc->current, packet);
    return;
  }

  cur->last_send_us = MAX (cur->last_send_us, packet->send_time_us);
  cur->last_arrival_us = MAX (cur->last_arrival_us, packet->arrival_time_us);
}

/* The arrived rate. */

static void
acked_reset (VchatdRateControl *rc)
{
  rc->acked_head = 0;
  rc->acked_len = 0;
  rc->acked_bytes = 0;
  rc->acked_latest_us = G_MININT64;
  rc->acked_start_us = G_MININT64;
}

static void
acked_pop (VchatdRateControl *rc)
{
  rc->acked_bytes -= rc->acked[rc->acked_head].bytes;
  rc->acked_head = (rc->acked_head + 1) % ACKED_RING;
  rc->acked_len--;
}

static void
acked_add (VchatdRateControl *rc, gint64 arrival_us, guint bytes)
{
  AckedSample *sample;

  if (rc->acked_latest_us != G_MININT64) {
    if (arrival_us < rc->acked_latest_us - CLOCK_JUMP_US) {
      acked_reset (rc); /* the remote clock went back */
    } else if (arrival_us < rc->acked_latest_us - ACKED_WINDOW_US) {
      return; /* too late to count */
    } else if (arrival_us > rc->acked_latest_us + ACKED_WINDOW_US) {
      /* A silence longer than the window: measure afresh. */
      while (rc->acked_len)
        acked_pop (rc);
      rc->acked_start_us = arrival_us;
    }
  }
  if (rc->acked_start_us == G_MININT64)
    rc->acked_start_us = arrival_us;
  rc->acked_latest_us = MAX (rc->acked_latest_us, arrival_us);

  if (rc->acked_len == ACKED_RING)
    acked_pop (rc);
  sample = &rc->acked[(rc->acked_head + rc->acked_len) % ACKED_RING];
  sample->arrival_us = arrival_us;
  sample->bytes = bytes;
  rc->acked_len++;
  rc->acked_bytes += bytes;

  while (rc->acked_len &&
         rc->acked[rc->acked_head].arrival_us <= rc->acked_latest_us - ACKED_WINDOW_US)
    acked_pop (rc);
}

static void
acked_update (VchatdRateControl *rc)
{
  gint64 span;

  if (rc->acked_latest_us == G_MININT64)
    return;
  span = MIN (rc->acked_latest_us - rc->acked_start_us, ACKED_WINDOW_US);
  /* Too short to tell a rate from a burst: keep what we had. */
  if (span < ACKED_MIN_SPAN_US)
    return;
  rc->acked_kbps = rc->acked_bytes * 8.0 * 1000.0 / span;
}

/* Loss. */

static void
loss_update (VchatdRateControl *rc, gint64 now_us)
{
  gint64 lost = 0, lost_since_cut = 0;
  guint64 total = 0, total_since_cut = 0;

  for (guint i = 0; i < rc->loss_len; i++) {
    const LossReport *report = &rc->losses[(rc->loss_head + i) % LOSS_RING];

    lost += report->lost;
    total += report->total;
    lost_since_cut += report->lost_since_cut;
    total_since_cut += report->total_since_cut;
  }
  /* Forget the oldest reports while what remains is enough. */
  while (rc->loss_len) {
    const LossReport *oldest = &rc->losses[rc->loss_head];

    if (oldest->at_us >= now_us - LOSS_WINDOW_US)
      break;
    if (oldest->at_us >= now_us - LOSS_MAX_WINDOW_US && total - oldest->total < LOSS_WINDOW_PACKETS)
      break;
    lost -= oldest->lost;
    total -= oldest->total;
    lost_since_cut -= oldest->lost_since_cut;
    total_since_cut -= oldest->total_since_cut;
    rc->loss_head = (rc->loss_head + 1) % LOSS_RING;
    rc->loss_len--;
  }
  rc->loss_decision_packets = total_since_cut;
  if (total_since_cut >= LOSS_MIN_DECISION_PACKETS ||
      (total_since_cut >= LOSS_MIN_PACKETS &&
       elapsed (rc->loss_epoch_us, now_us) >= LOSS_MAX_WINDOW_US))
    rc->loss_decision = CLAMP ((double) lost_since_cut / total_since_cut, 0.0, 1.0);
  else
    rc->loss_decision = -1;
  if (total < LOSS_MIN_PACKETS) {
    /* Nothing recent enough to judge by. */
    if (rc->loss_len == 0)
      rc->loss_fraction = -1;
    return;
  }
  rc->loss_fraction = CLAMP ((double) lost / total, 0.0, 1.0);
}

static void
loss_add (VchatdRateControl *rc, gint64 now_us, const LossReport *counts)
{
  LossReport *report;

  if (counts->lost == 0 && counts->total == 0)
    return;
  if (rc->loss_len == LOSS_RING) {
    rc->loss_head = (rc->loss_head + 1) % LOSS_RING;
    rc->loss_len--;
  }
  report = &rc->losses[(rc->loss_head + rc->loss_len) % LOSS_RING];
  *report = *counts;
  report->at_us = now_us;
  rc->loss_len++;
}

/* Feedback. */

static gint64
unwrap_seq (VchatdRateControl *rc, guint16 seq)
{
  gint64 unwrapped;

  if (!rc->have_seq) {
    rc->have_seq = TRUE;
    rc->highest_seq = seq;
    return seq;
  }
  unwrapped = rc->highest_seq + (gint16) (guint16) (seq - (guint16) rc->highest_seq);
  rc->highest_seq = MAX (rc->highest_seq, unwrapped);
  return unwrapped;
}

static int
compare_arrival (gconstpointer a, gconstpointer b)
{
  const Received *ra = a, *rb = b;

  if (ra->arrival_time_us != rb->arrival_time_us)
    return ra->arrival_time_us < rb->arrival_time_us ? -1 : 1;
  return ra->seq < rb->seq ? -1 : ra->seq > rb->seq;
}

static void
seq_reset (VchatdRateControl *rc)
{
  rc->have_seq = FALSE;
  for (guint i = 0; i < SEQ_HISTORY; i++)
    rc->seq_owner[i] = -1;
}

/* Takes the packets of one report into @counts and rc->scratch; returns
 * FALSE if all of them lay behind what the seqnum history can tell. */
static gboolean
take_report (VchatdRateControl *rc, gint64 now_us, const VchatdPacketFeedback *packets,
             guint n_packets, LossReport *counts)
{
  guint behind = 0, sane = 0;
  gint64 newest_send_us = G_MININT64;

  *counts = (LossReport){ 0 };
  g_array_set_size (rc->scratch, 0);
  if (rc->first_arrival_send_us == G_MAXINT64) {
    for (guint i = 0; i < n_packets; i++)
      if (packets[i].arrival_time_us >= 0 && packets[i].send_time_us <= MAX_TIME_US &&
          packets[i].send_time_us >= -MAX_TIME_US)
        rc->first_arrival_send_us = MIN (rc->first_arrival_send_us, packets[i].send_time_us);
  }
  for (guint i = 0; i < n_packets; i++) {
    const VchatdPacketFeedback *p = &packets[i];
    gint64 seq;
    guint slot;
    SeqState known;
    gboolean arrived = p->arrival_time_us >= 0;
    gboolean since_cut = p->send_time_us >= rc->loss_epoch_send_us;

    if (p->send_time_us > MAX_TIME_US || p->send_time_us < -MAX_TIME_US ||
        p->size > MAX_PACKET_SIZE || p->arrival_time_us > MAX_TIME_US)
      continue;
    sane++;
    newest_send_us = MAX (newest_send_us, p->send_time_us);

    seq = unwrap_seq (rc, p->seqnum);
    if (seq <= rc->highest_seq - SEQ_HISTORY) {
      behind++; /* too old to know whether it was reported already */
      continue;
    }
    slot = seq & (SEQ_HISTORY - 1);
    known = rc->seq_owner[slot] == seq ? rc->seq_state[slot] : SEQ_UNKNOWN;

    if (known == SEQ_RECEIVED || (known == SEQ_LOST && !arrived))
      continue; /* a duplicate */
    if (!arrived && p->send_time_us < rc->first_arrival_send_us)
      continue; /* the peer's transport was not up yet */
    if (known == SEQ_UNKNOWN) {
      counts->total++;
      counts->lost += !arrived;
      counts->total_since_cut += since_cut;
      counts->lost_since_cut += since_cut && !arrived;
    } else {
      /* Reported lost before, arrived after all. */
      counts->lost--;
      counts->lost_since_cut -= since_cut;
    }
    rc->seq_owner[slot] = seq;
    rc->seq_state[slot] = arrived ? SEQ_RECEIVED : SEQ_LOST;

    if (arrived) {
      Received r = { seq, p->send_time_us, p->arrival_time_us, p->size };

      g_array_append_val (rc->scratch, r);
    }
  }
  if (newest_send_us != G_MININT64) {
    rc->report_newest_send_us = newest_send_us;
    rc->report_at_us = now_us;
  }
  return behind == 0 || behind < sane;
}

void
vchatd_rate_control_on_feedback (VchatdRateControl *rc, gint64 now_us,
                                 const VchatdPacketFeedback *packets, guint n_packets)
{
  LossReport counts;

  g_return_if_fail (rc != NULL);
  g_return_if_fail (packets != NULL || n_packets == 0);

  now_us = advance_clock (rc, now_us);
  if (n_packets == 0)
    return;

  if (!take_report (rc, now_us, packets, n_packets, &counts)) {
    /* A whole report behind the history: the numbering moved under us (the
     * peer restarted, or we took nonsense for the newest seqnum before).
     * Start the numbering over from this report. */
    g_debug ("rate control: a report far behind the seqnums seen; starting them over");
    seq_reset (rc);
    take_report (rc, now_us, packets, n_packets, &counts);
  }
  /* Only news counts as feedback: a repeated report says nothing about
   * whether the path still carries anything. */
  if (counts.total == 0 && rc->scratch->len == 0)
    return;

  loss_add (rc, now_us, &counts);
  rc->had_feedback = TRUE;
  rc->last_feedback_us = now_us;
  if (rc->scratch->len == 0)
    return;

  if (rc->last_packet_at_us != G_MININT64 &&
      elapsed (rc->last_packet_at_us, now_us) > STREAM_TIMEOUT_US)
    detector_reset (rc);
  rc->last_packet_at_us = now_us;

  /* In the order they arrived: that is the order the bottleneck served
   * them, and the order the groups must be built in. */
  g_array_sort (rc->scratch, compare_arrival);
  for (guint i = 0; i < rc->scratch->len; i++) {
    const Received *r = &g_array_index (rc->scratch, Received, i);

    detector_add (rc, r, now_us);
    acked_add (rc, r->arrival_time_us, r->size);
  }
  acked_update (rc);
  rc->fresh_feedback = TRUE;
}

void
vchatd_rate_control_on_rtt (VchatdRateControl *rc, gint64 now_us, gint64 rtt)
{
  g_return_if_fail (rc != NULL);

  advance_clock (rc, now_us);
  if (rtt <= 0 || rtt > 60 * S)
    return;
  rc->rtt_us = rtt;
}

void
vchatd_rate_control_on_sent (VchatdRateControl *rc, gint64 now_us, guint bytes)
{
  g_return_if_fail (rc != NULL);

  now_us = advance_clock (rc, now_us);
  if (rc->sent_window_start_us == G_MININT64 || now_us - rc->last_sent_us > SENT_WINDOW_US) {
    /* First packet, or after a silence: a new window. */
    rc->sending_since_us = now_us;
    rc->sent_window_start_us = now_us;
    rc->sent_window_bytes = 0;
    rc->sent_kbps = 0;
  } else if (now_us - rc->sent_window_start_us >= SENT_WINDOW_US) {
    rc->sent_kbps = rc->sent_window_bytes * 8.0 * 1000.0 / (now_us - rc->sent_window_start_us);
    rc->sent_window_start_us = now_us;
    rc->sent_window_bytes = 0;
  }
  rc->sent_window_bytes += bytes;
  rc->last_sent_us = now_us;
}

/* Link capacity. */

static double
link_deviation_kbps (VchatdRateControl *rc)
{
  return sqrt (rc->link_dev * MAX (rc->link_kbps, 1.0));
}

static void
link_update (VchatdRateControl *rc, double sample_kbps)
{
  double error;

  if (rc->link_kbps < 0)
    rc->link_kbps = sample_kbps;
  else
    rc->link_kbps = (1 - LINK_ALPHA) * rc->link_kbps + LINK_ALPHA * sample_kbps;
  error = rc->link_kbps - sample_kbps;
  rc->link_dev = (1 - LINK_ALPHA) * rc->link_dev +
                 LINK_ALPHA * error * error / MAX (rc->link_kbps, 1.0);
  rc->link_dev = CLAMP (rc->link_dev, LINK_DEV_MIN, LINK_DEV_MAX);
}

static void
link_reset (VchatdRateControl *rc)
{
  rc->link_kbps = -1;
  rc->link_dev = LINK_DEV_INITIAL;
}

/* Rate control. */

static double
growth_per_second (VchatdRateControl *rc, gint64 now_us)
{
  if (!rc->had_decrease)
    return GROWTH_STARTUP;
  if (now_us - rc->last_decrease_us >= PROBE_AFTER_US)
    return GROWTH_PROBE;
  return GROWTH_NORMAL;
}

/* Seconds from @from_us to @to_us for a rate of growth, at most one. */
static double
step_seconds (gint64 from_us, gint64 to_us)
{
  if (from_us == G_MININT64)
    return 0;
  return CLAMP (to_us - from_us, 0, MAX_STEP_US) / 1e6;
}

/* About one packet per response time, in kbit/s per second, at @kbps. */
static double
additive_rate (VchatdRateControl *rc, double kbps)
{
  double bits_per_frame = kbps * 1000.0 / ASSUMED_FPS;
  double packets_per_frame = ceil (bits_per_frame / PACKET_BITS);
  double packet_bits = bits_per_frame / MAX (packets_per_frame, 1.0);
  double response_s = (rtt_us (rc) / 1000.0 + RESPONSE_EXTRA_MS) / 1000.0;

  return MAX (MIN_ADD_INCREASE_KBPS_PER_S, packet_bits / 1000.0 / response_s);
}

static double
additive_increase (VchatdRateControl *rc, gint64 now_us)
{
  return additive_rate (rc, rc->delay_kbps) * step_seconds (rc->last_change_us, now_us);
}

static double
multiplicative_increase (VchatdRateControl *rc, gint64 now_us)
{
  double factor = pow (growth_per_second (rc, now_us), step_seconds (rc->last_change_us, now_us));

  return MAX (rc->delay_kbps * (factor - 1),
              MIN_MULT_INCREASE_KBPS_PER_S * step_seconds (rc->last_change_us, now_us));
}

static void
note_decrease (VchatdRateControl *rc, gint64 now_us)
{
  rc->had_decrease = TRUE;
  rc->last_decrease_us = now_us;

  /* Losses from before are answered. On the send times' clock, now is
   * about a round trip after the newest packet reported (a little later
   * only costs a few packets to judge by). */
  rc->loss_epoch_us = now_us;
  if (rc->report_newest_send_us != G_MININT64)
    rc->loss_epoch_send_us = rc->report_newest_send_us + (now_us - rc->report_at_us) + rtt_us (rc);
  rc->loss_decision = -1;
  for (guint i = 0; i < rc->loss_len; i++) {
    LossReport *report = &rc->losses[(rc->loss_head + i) % LOSS_RING];

    report->lost_since_cut = 0;
    report->total_since_cut = 0;
  }
}

static gboolean
time_to_reduce_further (VchatdRateControl *rc, gint64 now_us)
{
  gint64 interval = CLAMP (rtt_us (rc), 10 * MS, 200 * MS);

  if (elapsed (rc->last_change_us, now_us) >= interval)
    return TRUE;
  /* Far above what arrives: no need to wait for the last cut to show. */
  return rc->acked_kbps >= 0 && rc->acked_kbps < 0.5 * rc->delay_kbps;
}

static void
update_delay_based (VchatdRateControl *rc, gint64 now_us)
{
  VchatdBandwidthUsage usage;

  /* Only feedback moves the estimate: without it there is nothing to go
   * by, and growing blind is how queues fill. */
  if (!rc->fresh_feedback)
    return;
  usage = rc->overuse_latched ? VCHATD_BW_OVERUSE : rc->usage;
  rc->fresh_feedback = FALSE;
  rc->overuse_latched = FALSE;

  switch (usage) {
  case VCHATD_BW_OVERUSE:
    rc->state = RC_DECREASE;
    break;
  case VCHATD_BW_NORMAL:
    if (rc->state == RC_HOLD) {
      rc->state = RC_INCREASE;
      rc->last_change_us = now_us;
    }
    break;
  case VCHATD_BW_UNDERUSE:
    rc->state = RC_HOLD;
    break;
  }

  switch (rc->state) {
  case RC_HOLD:
    break;

  case RC_INCREASE: {
    double limit = rc->acked_kbps >= 0 ? ACKED_HEADROOM * rc->acked_kbps + ACKED_HEADROOM_KBPS
                                       : G_MAXDOUBLE;

    if (rc->link_kbps >= 0 && rc->acked_kbps > rc->link_kbps + 3 * link_deviation_kbps (rc))
      link_reset (rc); /* more passes than the link took before: it changed */

    if (rc->delay_kbps < limit) {
      double increase = rc->link_kbps >= 0 ? additive_increase (rc, now_us)
                                           : multiplicative_increase (rc, now_us);

      rc->delay_kbps = MIN (rc->delay_kbps + increase, limit);
    }
    rc->last_change_us = now_us;
    break;
  }

  case RC_DECREASE:
    if (time_to_reduce_further (rc, now_us)) {
      double base = rc->acked_kbps >= 0 ? rc->acked_kbps : rc->delay_kbps;
      double decreased = BETA * base;

      /* The arrived rate lags behind: fall back on what the link took
       * before rather than not decreasing at all. */
      if (decreased > rc->delay_kbps && rc->link_kbps >= 0)
        decreased = BETA * rc->link_kbps;
      if (decreased < rc->delay_kbps)
        rc->delay_kbps = decreased;

      if (rc->acked_kbps >= 0) {
        if (rc->link_kbps >= 0 && rc->acked_kbps < rc->link_kbps - 3 * link_deviation_kbps (rc))
          link_reset (rc); /* far less passes than before: the link changed */
        link_update (rc, rc->acked_kbps);
      }
      note_decrease (rc, now_us);
      rc->last_change_us = now_us;
    }
    rc->state = RC_HOLD;
    break;
  }

  rc->delay_kbps = CLAMP (rc->delay_kbps, rc->min_kbps, rc->max_kbps);
}

/* What a loss-based decision starts from: the bound, if it binds. */
static double
loss_base (VchatdRateControl *rc, double current)
{
  return rc->loss_kbps >= 0 ? MIN (rc->loss_kbps, current) : current;
}

/* Whether the loss now is the random loss found before, give or take the
 * noise of a sample that size; following it if so. */
static gboolean
loss_is_random (VchatdRateControl *rc)
{
  double p = rc->loss_random, noise;

  if (p < 0)
    return FALSE;
  noise = sqrt (MAX (p * (1 - p), 0.0) / MAX (rc->loss_decision_packets, 1));
  if (rc->loss_decision > p + LOSS_RANDOM_SLACK + 2 * noise)
    return FALSE;
  rc->loss_random += LOSS_RANDOM_FOLLOW * (rc->loss_decision - p);
  return TRUE;
}

static void
update_loss_based (VchatdRateControl *rc, gint64 now_us)
{
  double step = step_seconds (rc->last_loss_update_us, now_us);
  double current = rc->target_kbps;

  rc->last_loss_update_us = now_us;
  loss_update (rc, now_us);

  /* Feedback stopped although we keep sending: the path is probably gone
   * (or the far end is), and holding the rate would flood it when it comes
   * back. */
  if (rc->had_feedback && rc->last_sent_us != G_MININT64 &&
      now_us - rc->last_sent_us < SENT_WINDOW_US &&
      now_us - MAX (rc->last_feedback_us, rc->sending_since_us) > FEEDBACK_TIMEOUT_US) {
    if (elapsed (rc->last_timeout_cut_us, now_us) >= 1 * S) {
      g_debug ("rate control: no feedback for %" G_GINT64_FORMAT " ms; cutting",
               (now_us - rc->last_feedback_us) / 1000);
      rc->loss_kbps = FEEDBACK_TIMEOUT_CUT * loss_base (rc, current);
      rc->last_timeout_cut_us = now_us;
      note_decrease (rc, now_us);
    }
    return;
  }

  if (rc->loss_decision < 0 || now_us - rc->last_feedback_us > LOSS_WINDOW_US)
    return; /* nothing recent: hold */

  if (rc->loss_decision > LOSS_HIGH) {
    /* A random level found before stays: one bad second does not make a
     * radio link a queue. */
    rc->loss_band_since_us = G_MININT64;
    rc->loss_test_at_us = G_MININT64;
    if (elapsed (rc->last_loss_cut_us, now_us) >= LOSS_CUT_INTERVAL_US + rtt_us (rc)) {
      rc->loss_kbps = loss_base (rc, current) * (1 - 0.5 * rc->loss_decision);
      rc->last_loss_cut_us = now_us;
      note_decrease (rc, now_us);
    }
    return;
  }

  if (rc->loss_decision >= LOSS_LOW && !loss_is_random (rc)) {
    if (rc->loss_band_since_us == G_MININT64)
      rc->loss_band_since_us = now_us;

    if (rc->loss_test_at_us != G_MININT64) {
      if (now_us - rc->loss_test_at_us < LOSS_TEST_JUDGE_US + rtt_us (rc))
        return; /* judging */
      g_debug ("rate control: %.1f %% loss survives a cut; taking it as random",
               rc->loss_decision * 100);
      rc->loss_test_at_us = G_MININT64;
      /* The higher of the readings before and after the cut: the level
       * is a ceiling for noise, better generous than tight. */
      rc->loss_random = MAX (rc->loss_decision, rc->loss_before_test);
      /* And grow, below. */
    } else if (now_us - rc->loss_band_since_us >= LOSS_BAND_HOLD_US) {
      rc->loss_test_from_kbps = loss_base (rc, current);
      rc->loss_before_test = rc->loss_decision;
      rc->loss_kbps = rc->loss_test_from_kbps * (1 - rc->loss_decision);
      rc->loss_test_at_us = now_us;
      rc->last_loss_cut_us = now_us;
      note_decrease (rc, now_us);
      return;
    } else {
      /* Hold where we are. */
      rc->loss_kbps = loss_base (rc, current);
      return;
    }
  } else if (rc->loss_decision < LOSS_LOW) {
    rc->loss_band_since_us = G_MININT64;
    if (rc->loss_test_at_us != G_MININT64) {
      g_debug ("rate control: the loss went with a cut; staying under %.0f kbit/s", rc->loss_kbps);
      rc->loss_test_at_us = G_MININT64;
      rc->loss_random = -1;
      rc->loss_knee_until_us = now_us + LOSS_KNEE_HOLD_US;
      rc->loss_knee_kbps = rc->loss_test_from_kbps;
    }
  }

  if (rc->loss_knee_until_us != G_MININT64 && now_us < rc->loss_knee_until_us)
    return;

  if (rc->loss_kbps >= 0) {
    if (rc->loss_knee_kbps >= 0 && rc->loss_kbps < LOSS_KNEE_MARGIN * rc->loss_knee_kbps) {
      rc->loss_kbps += additive_rate (rc, rc->loss_kbps) * step;
    } else {
      rc->loss_knee_kbps = -1;
      rc->loss_kbps *= pow (growth_per_second (rc, now_us), step);
      rc->loss_kbps += step;
    }
    /* Once it no longer binds, the delay-based estimate leads alone. */
    if (rc->loss_kbps >= rc->delay_kbps)
      rc->loss_kbps = -1;
  }
}

void
vchatd_rate_control_on_remb (VchatdRateControl *rc, gint64 now_us, guint64 bps)
{
  g_return_if_fail (rc != NULL);

  now_us = advance_clock (rc, now_us);
  rc->remb_kbps = bps / 1000.0;
  rc->remb_at_us = now_us;
}

guint
vchatd_rate_control_tick (VchatdRateControl *rc, gint64 now_us)
{
  double target;

  g_return_val_if_fail (rc != NULL, 0);

  now_us = advance_clock (rc, now_us);
  if (rc->last_loss_update_us == G_MININT64)
    rc->last_loss_update_us = now_us;

  update_delay_based (rc, now_us);
  update_loss_based (rc, now_us);

  if (rc->loss_kbps >= 0)
    rc->loss_kbps = MAX (rc->loss_kbps, rc->min_kbps);
  target = rc->delay_kbps;
  if (rc->loss_kbps >= 0)
    target = MIN (target, rc->loss_kbps);
  target = CLAMP (target, rc->min_kbps, rc->max_kbps);
  /* A peer that gives no transport-wide feedback but estimates the link
   * itself (REMB): its estimate is the target, while it is fresh. A REMB
   * is at most 1.5 times what arrived, so while the picture needs far less
   * than the target (a still scene: we send under half of it), a REMB
   * below the target says only that, and the target holds. */
  if (!rc->had_feedback && rc->remb_at_us != G_MININT64 &&
      now_us - rc->remb_at_us <= REMB_FRESH_US) {
    /* (Until the first window of what was sent is complete, as if so.) */
    gboolean app_limited =
      rc->sent_window_start_us != G_MININT64 && rc->sent_kbps < 0.5 * rc->target_kbps;

    if (rc->remb_kbps >= rc->target_kbps || !app_limited)
      target = CLAMP (rc->remb_kbps, rc->min_kbps, rc->max_kbps);
    else
      target = rc->target_kbps;
    rc->delay_kbps = target;
  }

  if (G_UNLIKELY (!isfinite (target) || !isfinite (rc->delay_kbps) || !isfinite (rc->trend))) {
    g_critical ("rate control: the estimate is not a number (delay %f, trend %f); restarting",
                rc->delay_kbps, rc->trend);
    detector_reset (rc);
    rc->delay_kbps = target = rc->min_kbps;
    rc->loss_kbps = -1;
  }
  rc->target_kbps = target;
  return (guint) (target + 0.5);
}

VchatdRateControl *
vchatd_rate_control_new (const VchatdRateControlConfig *config)
{
  VchatdRateControl *rc;

  g_return_val_if_fail (config != NULL, NULL);

  rc = g_new0 (VchatdRateControl, 1);
  rc->min_kbps = MAX (config->min_kbps, 1);
  rc->max_kbps = MAX (config->max_kbps, rc->min_kbps);
  rc->delay_kbps = CLAMP (config->start_kbps, rc->min_kbps, rc->max_kbps);
  rc->target_kbps = rc->delay_kbps;
  rc->now_us = G_MININT64;
  rc->scratch = g_array_new (FALSE, FALSE, sizeof (Received));
  seq_reset (rc);
  rc->last_packet_at_us = G_MININT64;
  detector_reset (rc);
  acked_reset (rc);
  rc->acked_kbps = -1;
  rc->loss_fraction = -1;
  rc->loss_decision = -1;
  rc->loss_epoch_us = G_MININT64;
  rc->loss_epoch_send_us = G_MININT64;
  rc->first_arrival_send_us = G_MAXINT64;
  rc->report_newest_send_us = G_MININT64;
  rc->sent_window_start_us = G_MININT64;
  rc->last_sent_us = G_MININT64;
  link_reset (rc);
  rc->state = RC_INCREASE;
  rc->last_change_us = G_MININT64;
  rc->remb_at_us = G_MININT64;
  rc->loss_kbps = -1;
  rc->last_loss_update_us = G_MININT64;
  rc->last_loss_cut_us = G_MININT64;
  rc->loss_band_since_us = G_MININT64;
  rc->loss_test_at_us = G_MININT64;
  rc->loss_random = -1;
  rc->loss_knee_until_us = G_MININT64;
  rc->loss_knee_kbps = -1;
  rc->last_timeout_cut_us = G_MININT64;
  return rc;
}

void
vchatd_rate_control_free (VchatdRateControl *rc)
{
  if (!rc)
    return;
  g_array_unref (rc->scratch);
  g_free (rc);
}

guint
vchatd_rate_control_get_target_kbps (VchatdRateControl *rc)
{
  g_return_val_if_fail (rc != NULL, 0);
  return (guint) (rc->target_kbps + 0.5);
}

guint
vchatd_rate_control_get_estimate_kbps (VchatdRateControl *rc)
{
  g_return_val_if_fail (rc != NULL, 0);
  return (guint) (rc->delay_kbps + 0.5);
}

guint
vchatd_rate_control_get_acked_kbps (VchatdRateControl *rc)
{
  g_return_val_if_fail (rc != NULL, 0);
  return rc->acked_kbps >= 0 ? (guint) (rc->acked_kbps + 0.5) : 0;
}

guint
vchatd_rate_control_get_sent_kbps (VchatdRateControl *rc)
{
  g_return_val_if_fail (rc != NULL, 0);
  return (guint) (rc->sent_kbps + 0.5);
}

gdouble
vchatd_rate_control_get_loss_pct (VchatdRateControl *rc)
{
  g_return_val_if_fail (rc != NULL, 0);
  return rc->loss_fraction >= 0 ? rc->loss_fraction * 100 : 0;
}

VchatdBandwidthUsage
vchatd_rate_control_get_usage (VchatdRateControl *rc)
{
  g_return_val_if_fail (rc != NULL, VCHATD_BW_NORMAL);
  return rc->usage;
}

void
vchatd_rate_control_set_max_kbps (VchatdRateControl *rc, guint max_kbps)
{
  g_return_if_fail (rc != NULL);

  rc->max_kbps = MAX (max_kbps, rc->min_kbps);
  rc->delay_kbps = MIN (rc->delay_kbps, rc->max_kbps);
  rc->target_kbps = MIN (rc->target_kbps, rc->max_kbps);
}
