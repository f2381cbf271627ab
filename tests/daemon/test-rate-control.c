/* Unit tests of the rate controller, driven through a simulated link, of
 * the quality ladder and the audio policy it drives, and of the quality
 * rule.
 *
 * The link is a FIFO bottleneck of a given capacity with a tail-drop queue
 * of a given length in time, a propagation delay each way and optional
 * random loss (fixed seed). The sender sends a frame every 33 ms at the
 * controller's target, in 1200-byte packets leaving back to back; the
 * receiver reports what arrived every 100 ms (TWCC), the report reaches
 * the sender one propagation delay later; the RTT (propagation and queue)
 * is reported every second; the controller ticks every 100 ms. Time is
 * simulated in microseconds: minutes of call take milliseconds.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-audio-policy.h"
#include "vchatd-ladder.h"
#include "vchatd-quality.h"
#include "vchatd-rate-control.h"

#include <math.h>

#define MS (G_GINT64_CONSTANT (1000))
#define S (G_GINT64_CONSTANT (1000000))

#define PACKET_SIZE 1200
#define FRAME_INTERVAL_US (S / 30)
#define FEEDBACK_INTERVAL_US (100 * MS)
#define TICK_INTERVAL_US (100 * MS)

static const VchatdRateControlConfig default_config = { 50, 300, 2500 };

typedef struct {
  guint16 seq;
  gint64 send_us;
  gint64 arrival_us; /* local clock; -1: dropped */
  guint size;
} SimPacket;

typedef struct {
  gint64 deliver_us;
  GArray *packets; /* VchatdPacketFeedback */
} SimReport;

typedef struct {
  /* The link. */
  double capacity_kbps;
  gint64 queue_limit_us;
  double loss;
  gint64 one_way_us;
  gint64 busy_until_us;
  GRand *rand;

  /* Mischief, for the robustness test. */
  gint64 remote_offset_us;
  gint64 send_offset_us; /* the send times' clock is not the caller's */
  gboolean jitter;       /* arrivals out of order, send times out of order */
  gboolean duplicate;    /* every report delivered twice */
  gboolean clock_slips;  /* now going back a little now and then */

  VchatdRateControl *rc;
  gint64 now_us;
  guint target_kbps;
  double credit_bytes;
  guint16 next_seq;
  GArray *unreported; /* SimPacket, in seq order */
  GArray *late;       /* SimPacket reported lost that will still arrive */
  GQueue reports;     /* SimReport, on the way back */
  gint64 next_frame_us;
  gint64 next_feedback_us;
  gint64 next_tick_us;
  gint64 next_rtt_us;

  /* Figures since sim_measure(). */
  double queue_sum_ms;
  guint64 queue_n;
  guint64 packets_sent;
  guint64 packets_dropped; /* by the queue, not the random loss */
  double target_sum;
  guint64 target_n;
  guint target_min;
  guint target_max;
  guint band_low; /* ticks with the target in [band_low, band_high] */
  guint band_high;
  guint64 in_band;

  double send_cap_kbps; /* an encoder that makes no more than this; 0: none */
  gint64 peer_ready_us; /* packets sent before it reach a peer not ready: lost */
} Sim;

static void
sim_measure (Sim *sim)
{
  sim->queue_sum_ms = 0;
  sim->queue_n = 0;
  sim->packets_sent = 0;
  sim->packets_dropped = 0;
  sim->target_sum = 0;
  sim->target_n = 0;
  sim->target_min = G_MAXUINT;
  sim->target_max = 0;
  sim->in_band = 0;
}

static Sim *
sim_new (const VchatdRateControlConfig *config, double capacity_kbps)
{
  Sim *sim = g_new0 (Sim, 1);

  sim->capacity_kbps = capacity_kbps;
  sim->queue_limit_us = 500 * MS; /* a home router's buffer */
  sim->one_way_us = 25 * MS;
  sim->rand = g_rand_new_with_seed (20240611);
  sim->rc = vchatd_rate_control_new (config);
  /* Arbitrary, but not small: a monotonic clock a few days up. */
  sim->now_us = 3 * 24 * 3600 * S;
  sim->busy_until_us = sim->now_us;
  sim->target_kbps = vchatd_rate_control_get_target_kbps (sim->rc);
  sim->next_seq = 65000; /* wraps early */
  sim->unreported = g_array_new (FALSE, FALSE, sizeof (SimPacket));
  sim->late = g_array_new (FALSE, FALSE, sizeof (SimPacket));
  g_queue_init (&sim->reports);
  sim->next_frame_us = sim->now_us;
  sim->next_feedback_us = sim->now_us + FEEDBACK_INTERVAL_US;
  sim->next_tick_us = sim->now_us + TICK_INTERVAL_US / 2;
  sim->next_rtt_us = sim->now_us + S;
  sim_measure (sim);
  return sim;
}

static void
sim_report_free (gpointer data)
{
  SimReport *report = data;

  g_array_unref (report->packets);
  g_free (report);
}

static void
sim_free (Sim *sim)
{
  vchatd_rate_control_free (sim->rc);
  g_rand_free (sim->rand);
  g_array_unref (sim->unreported);
  g_array_unref (sim->late);
  g_queue_clear_full (&sim->reports, sim_report_free);
  g_free (sim);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Sim, sim_free)

static gint64
sim_queue_us (Sim *sim, gint64 at_us)
{
  return MAX (sim->busy_until_us - at_us, 0);
}

static void
sim_send_packet (Sim *sim, gint64 send_us, guint size)
{
  SimPacket packet = { sim->next_seq++, send_us, -1, size };
  gint64 queue_us = sim_queue_us (sim, send_us);

  vchatd_rate_control_on_sent (sim->rc, send_us, size);
  sim->packets_sent++;
  sim->packets_dropped += queue_us > sim->queue_limit_us;
  if (queue_us <= sim->queue_limit_us) {
    sim->busy_until_us = MAX (send_us, sim->busy_until_us) +
                         (gint64) (size * 8 * 1000.0 / sim->capacity_kbps);
    if (g_rand_double (sim->rand) >= sim->loss && send_us >= sim->peer_ready_us)
      packet.arrival_us = sim->busy_until_us + sim->one_way_us;
    if (sim->jitter && packet.arrival_us >= 0 && g_rand_int_range (sim->rand, 0, 10) == 0)
      packet.arrival_us += g_rand_int_range (sim->rand, 0, 4 * MS);
    sim->queue_sum_ms += queue_us / 1000.0;
    sim->queue_n++;
  }
  g_array_append_val (sim->unreported, packet);
}

static void
sim_send_frame (Sim *sim)
{
  guint i = 0;

  double kbps = sim->target_kbps;

  if (sim->send_cap_kbps > 0)
    kbps = MIN (kbps, sim->send_cap_kbps);
  sim->credit_bytes += kbps * 1000.0 / 8 / 30;
  for (; sim->credit_bytes >= PACKET_SIZE; sim->credit_bytes -= PACKET_SIZE)
    sim_send_packet (sim, sim->now_us + 20 * i++, PACKET_SIZE);
}

static void
feedback_append (Sim *sim, GArray *packets, const SimPacket *packet, gboolean arrived)
{
  VchatdPacketFeedback fb = {
    packet->seq,
    packet->send_us + sim->send_offset_us,
    arrived ? packet->arrival_us + sim->remote_offset_us : -1,
    packet->size,
  };

  /* Two streams sharing the seqnums are sent out of seqnum order. */
  if (sim->jitter && g_rand_int_range (sim->rand, 0, 10) == 0)
    fb.send_time_us += g_rand_int_range (sim->rand, -2 * MS, 2 * MS);
  g_array_append_val (packets, fb);
}

/* The receiver's report at sim->now_us: every packet up to the last one
 * that arrived; those before it still missing are reported lost (and
 * again when they arrive late). */
static void
sim_make_report (Sim *sim)
{
  gint last = -1;
  SimReport *report;

  for (guint i = 0; i < sim->unreported->len; i++) {
    const SimPacket *p = &g_array_index (sim->unreported, SimPacket, i);

    if (p->arrival_us >= 0 && p->arrival_us <= sim->now_us)
      last = i;
  }

  report = g_new0 (SimReport, 1);
  report->deliver_us = sim->now_us + sim->one_way_us;
  report->packets = g_array_new (FALSE, FALSE, sizeof (VchatdPacketFeedback));

  for (guint i = 0; i < sim->late->len;) {
    const SimPacket *p = &g_array_index (sim->late, SimPacket, i);

    if (p->arrival_us <= sim->now_us) {
      feedback_append (sim, report->packets, p, TRUE);
      g_array_remove_index (sim->late, i);
    } else {
      i++;
    }
  }
  for (gint i = 0; i <= last; i++) {
    const SimPacket *p = &g_array_index (sim->unreported, SimPacket, i);
    gboolean arrived = p->arrival_us >= 0 && p->arrival_us <= sim->now_us;

    feedback_append (sim, report->packets, p, arrived);
    if (!arrived && p->arrival_us >= 0)
      g_array_append_val (sim->late, *p);
  }
  if (last >= 0)
    g_array_remove_range (sim->unreported, 0, last + 1);

  if (report->packets->len == 0) {
    sim_report_free (report);
    return;
  }
  g_queue_push_tail (&sim->reports, report);
}

static gint64
sim_now_for_controller (Sim *sim)
{
  if (sim->clock_slips && g_rand_int_range (sim->rand, 0, 7) == 0)
    return sim->now_us - 3 * MS;
  return sim->now_us;
}

static void
sim_deliver_reports (Sim *sim)
{
  SimReport *report;

  while ((report = g_queue_peek_head (&sim->reports)) && report->deliver_us <= sim->now_us) {
    g_queue_pop_head (&sim->reports);
    vchatd_rate_control_on_feedback (sim->rc, sim_now_for_controller (sim),
                                     (VchatdPacketFeedback *) report->packets->data,
                                     report->packets->len);
    if (sim->duplicate)
      vchatd_rate_control_on_feedback (
        sim->rc, sim->now_us, (VchatdPacketFeedback *) report->packets->data, report->packets->len);
    sim_report_free (report);
  }
}

static void
assert_sane (Sim *sim)
{
  guint target = vchatd_rate_control_get_target_kbps (sim->rc);
  gdouble loss = vchatd_rate_control_get_loss_pct (sim->rc);

  g_assert_cmpuint (target, >=, 50);
  g_assert_cmpuint (target, <=, 2500);
  g_assert_true (isfinite (loss));
  g_assert_cmpfloat (loss, >=, 0);
  g_assert_cmpfloat (loss, <=, 100);
}

static void
sim_tick (Sim *sim)
{
  static int trace = -1;

  sim->target_kbps = vchatd_rate_control_tick (sim->rc, sim_now_for_controller (sim));
  /* RATE_TRACE=1 prints every tick, to look at a run by eye. */
  if (trace < 0)
    trace = g_getenv ("RATE_TRACE") != NULL;
  if (trace)
    g_printerr ("%8.1f target %5u estimate %5u acked %5u usage %-8s queue %4" G_GINT64_FORMAT
                " ms loss %4.1f %%\n",
                (sim->now_us % (1000 * S)) / 1e6, sim->target_kbps,
                vchatd_rate_control_get_estimate_kbps (sim->rc),
                vchatd_rate_control_get_acked_kbps (sim->rc),
                vchatd_bandwidth_usage_to_string (vchatd_rate_control_get_usage (sim->rc)),
                sim_queue_us (sim, sim->now_us) / 1000, vchatd_rate_control_get_loss_pct (sim->rc));
  sim->target_sum += sim->target_kbps;
  sim->target_n++;
  sim->target_min = MIN (sim->target_min, sim->target_kbps);
  sim->target_max = MAX (sim->target_max, sim->target_kbps);
  sim->in_band += sim->target_kbps >= sim->band_low && sim->target_kbps <= sim->band_high;
  assert_sane (sim);
}

/* Runs the call for @duration_us, 1 ms at a time. */
static void
sim_run (Sim *sim, gint64 duration_us)
{
  gint64 end_us = sim->now_us + duration_us;

  for (; sim->now_us < end_us; sim->now_us += MS) {
    if (sim->now_us >= sim->next_frame_us) {
      sim_send_frame (sim);
      sim->next_frame_us += FRAME_INTERVAL_US;
    }
    if (sim->now_us >= sim->next_feedback_us) {
      sim_make_report (sim);
      sim->next_feedback_us += FEEDBACK_INTERVAL_US;
    }
    sim_deliver_reports (sim);
    if (sim->now_us >= sim->next_rtt_us) {
      vchatd_rate_control_on_rtt (sim->rc, sim->now_us,
                                  2 * sim->one_way_us + sim_queue_us (sim, sim->now_us));
      sim->next_rtt_us += S;
    }
    if (sim->now_us >= sim->next_tick_us) {
      sim_tick (sim);
      sim->next_tick_us += TICK_INTERVAL_US;
    }
  }
}

/* Runs until the target meets @done, at most @limit_us; returns the time
 * it took, or -1. */
static gint64
sim_run_until (Sim *sim, gint64 limit_us, gboolean (*done) (guint target, guint arg), guint arg)
{
  gint64 start_us = sim->now_us;

  while (sim->now_us - start_us < limit_us) {
    sim_run (sim, TICK_INTERVAL_US);
    if (done (sim->target_kbps, arg))
      return sim->now_us - start_us;
  }
  return -1;
}

static gboolean
at_least (guint target, guint kbps)
{
  return target >= kbps;
}

static gboolean
at_most (guint target, guint kbps)
{
  return target <= kbps;
}

static double
mean_target (Sim *sim)
{
  return sim->target_n ? sim->target_sum / sim->target_n : 0;
}

static double
mean_queue_ms (Sim *sim)
{
  return sim->queue_n ? sim->queue_sum_ms / sim->queue_n : 0;
}

static double
queue_drops (Sim *sim)
{
  return sim->packets_sent ? (double) sim->packets_dropped / sim->packets_sent : 0;
}

static void
report_figures (Sim *sim, const char *what)
{
  g_test_message ("%s: target mean %.0f min %u max %u kbit/s, queue mean %.0f ms, "
                  "%.1f %% dropped by the queue, loss now %.1f %%",
                  what, mean_target (sim), sim->target_min, sim->target_max, mean_queue_ms (sim),
                  queue_drops (sim) * 100, vchatd_rate_control_get_loss_pct (sim->rc));
}

/* A peer without transport-wide feedback (aiortc) tells its estimate in
 * REMB: the target follows it while it is fresh, within min and max; TWCC
 * feedback, once it comes, takes over for good. */
static void
test_remb_without_twcc (void)
{
  VchatdRateControl *rc = vchatd_rate_control_new (&default_config);
  VchatdPacketFeedback packet = { 0 };
  gint64 t = 10 * S;

  g_assert_cmpuint (vchatd_rate_control_tick (rc, t), ==, 300);
  vchatd_rate_control_on_remb (rc, t, 820000);
  g_assert_cmpuint (vchatd_rate_control_tick (rc, t + 100 * MS), ==, 820);
  vchatd_rate_control_on_remb (rc, t + 200 * MS, 90000000);
  g_assert_cmpuint (vchatd_rate_control_tick (rc, t + 300 * MS), ==, 2500);
  vchatd_rate_control_on_remb (rc, t + 400 * MS, 10000);
  g_assert_cmpuint (vchatd_rate_control_tick (rc, t + 500 * MS), ==, 50);
  vchatd_rate_control_on_remb (rc, t + 600 * MS, 640000);
  g_assert_cmpuint (vchatd_rate_control_tick (rc, t + 700 * MS), ==, 640);
  /* Stale after 3 s: the controller's own estimate (where REMB left it). */
  g_assert_cmpuint (vchatd_rate_control_tick (rc, t + 4 * S), <=, 640);

  /* TWCC feedback: REMB is ignored from then on. */
  packet.seqnum = 1;
  packet.send_time_us = t + 4 * S;
  packet.arrival_time_us = t + 4 * S + 20 * MS;
  packet.size = 1200;
  vchatd_rate_control_on_feedback (rc, t + 4 * S + 50 * MS, &packet, 1);
  vchatd_rate_control_on_remb (rc, t + 4 * S + 60 * MS, 2000000);
  g_assert_cmpuint (vchatd_rate_control_tick (rc, t + 4 * S + 100 * MS), <, 2000);
  vchatd_rate_control_free (rc);
}

/* A still picture sends far under the target; the peer's REMB, which
 * follows what arrives, then says little about the link: it does not pull
 * the target down. Once the sender fills the target, it does again. */
static void
test_remb_while_app_limited (void)
{
  VchatdRateControl *rc = vchatd_rate_control_new (&default_config);
  gint64 t = 10 * S;
  guint i;

  g_assert_cmpuint (vchatd_rate_control_tick (rc, t), ==, 300);
  /* 20 kbit/s sent for 3 s: 250 bytes every 100 ms. */
  for (i = 0; i < 30; i++, t += 100 * MS) {
    vchatd_rate_control_on_sent (rc, t, 250);
    vchatd_rate_control_on_remb (rc, t, 18000);
    g_assert_cmpuint (vchatd_rate_control_tick (rc, t), ==, 300);
  }
  /* Now 280 kbit/s sent: the same REMB is a real limit. */
  for (i = 0; i < 30; i++, t += 100 * MS) {
    vchatd_rate_control_on_sent (rc, t, 3500);
    vchatd_rate_control_on_remb (rc, t, 180000);
    vchatd_rate_control_tick (rc, t);
  }
  g_assert_cmpuint (vchatd_rate_control_get_target_kbps (rc), ==, 180);
  vchatd_rate_control_free (rc);
}

/* Settles near the capacity of a steady link, without filling its queue.
 * GCC's sawtooth: up slowly to a little past the capacity (the queue must
 * grow to be noticed), down to 0.85 × what arrives. */
static void
test_steady_link (void)
{
  g_autoptr (Sim) sim = sim_new (&default_config, 1000);
  double in_band;

  sim_run (sim, 15 * S);
  sim_measure (sim);
  sim->band_low = 600;
  sim->band_high = 1050;
  sim_run (sim, 105 * S);
  report_figures (sim, "1 Mbit/s, 15–120 s");
  in_band = (double) sim->in_band / sim->target_n;
  g_test_message ("1 Mbit/s: %.0f %% of ticks within 60–105 %% of the capacity", in_band * 100);

  g_assert_cmpfloat (mean_target (sim), >=, 600);
  g_assert_cmpfloat (mean_target (sim), <=, 1050);
  g_assert_cmpfloat (in_band, >=, 0.9);
  g_assert_cmpuint (sim->target_min, >=, 500);
  g_assert_cmpuint (sim->target_max, <=, 1100);
  g_assert_cmpfloat (mean_queue_ms (sim), <, 200);
}

/* A shallow buffer (or a policer) drops before any delay builds up: only
 * the loss says the rate is too high, and the rate must come under it
 * rather than hold at a few percent loss, as plain GCC would. */
static void
test_shallow_buffer (void)
{
  static const gint64 limits_us[] = { 50 * MS, 20 * MS };

  for (guint i = 0; i < G_N_ELEMENTS (limits_us); i++) {
    g_autoptr (Sim) sim = sim_new (&default_config, 1000);
    g_autofree char *what = NULL;

    sim->queue_limit_us = limits_us[i];
    sim_run (sim, 20 * S);
    sim_measure (sim);
    sim_run (sim, 100 * S);
    what = g_strdup_printf ("1 Mbit/s, %" G_GINT64_FORMAT " ms of buffer, 20–120 s",
                            limits_us[i] / MS);
    report_figures (sim, what);
    g_assert_cmpfloat (mean_target (sim), >=, 800);
    g_assert_cmpfloat (mean_target (sim), <=, 1100);
    g_assert_cmpfloat (queue_drops (sim), <, 0.02);
  }
}

/* Send times on another clock than the caller's (GStreamer's system
 * clock set to real time, say) change nothing: the loss decisions, which
 * tell packets sent before a cut from those after, still work. */
static void
test_send_clock (void)
{
  static const gint64 offsets_us[] = { G_GINT64_CONSTANT (1700000000000000), -200 * S };

  for (guint i = 0; i < G_N_ELEMENTS (offsets_us); i++) {
    g_autoptr (Sim) sim = sim_new (&default_config, 1000);

    sim->send_offset_us = offsets_us[i];
    sim->queue_limit_us = 50 * MS;
    sim_run (sim, 20 * S);
    sim_measure (sim);
    sim_run (sim, 100 * S);
    report_figures (sim, "1 Mbit/s, 50 ms of buffer, send times on another clock, 20–120 s");
    g_assert_cmpfloat (mean_target (sim), >=, 800);
    g_assert_cmpfloat (mean_target (sim), <=, 1100);
    g_assert_cmpfloat (queue_drops (sim), <, 0.02);
  }
}

/* A sender that makes less than it may (a still picture) does not let the
 * target run away from what it actually sends. */
static void
test_app_limited (void)
{
  g_autoptr (Sim) sim = sim_new (&default_config, 2500);

  sim->send_cap_kbps = 300;
  sim_run (sim, 10 * S);
  sim_measure (sim);
  sim_run (sim, 20 * S);
  report_figures (sim, "2.5 Mbit/s, sending 300 kbit/s at most, 10–30 s");
  g_assert_cmpuint (sim->target_max, <=, 1.5 * 300 + 10 + 20);

  /* And when the picture moves again, it climbs from there. */
  sim->send_cap_kbps = 0;
  g_assert_cmpint (sim_run_until (sim, 10 * S, at_least, 1500), >=, 0);
}

/* Starts low and finds a good link within seconds. */
static void
test_startup (void)
{
  g_autoptr (Sim) sim = sim_new (&default_config, 2500);
  gint64 took;

  sim_run (sim, TICK_INTERVAL_US);
  g_assert_cmpuint (sim->target_kbps, <=, 400);

  took = sim_run_until (sim, 10 * S, at_least, 800);
  g_test_message ("2.5 Mbit/s: 800 kbit/s after %.1f s", took / 1e6);
  g_assert_cmpint (took, >=, 0);

  took = sim_run_until (sim, 30 * S, at_least, 2000);
  g_test_message ("2.5 Mbit/s: 2000 kbit/s after %.1f s more", took / 1e6);
}

/* The first packets reach a peer whose transport is not up yet (a browser
 * answering finishes DTLS after the offerer starts sending) and are
 * reported lost: that is no loss on the path, and the start holds. */
static void
test_startup_peer_not_ready (void)
{
  g_autoptr (Sim) sim = sim_new (&default_config, 2500);

  sim->peer_ready_us = sim->now_us + 400 * MS;
  sim_run (sim, 3 * S);
  g_test_message ("the first 400 ms lost: target %u kbit/s after 3 s, loss %.1f %%",
                  sim->target_kbps, vchatd_rate_control_get_loss_pct (sim->rc));
  g_assert_cmpuint (sim->target_kbps, >=, 300);
  g_assert_cmpfloat (vchatd_rate_control_get_loss_pct (sim->rc), <, 2);
}

/* The capacity drops under the call (another user starts a download). */
static void
test_capacity_drop (void)
{
  g_autoptr (Sim) sim = sim_new (&default_config, 2500);
  gint64 took;

  sim_run (sim, 30 * S);
  g_test_message ("before the drop: target %u kbit/s", sim->target_kbps);
  g_assert_cmpuint (sim->target_kbps, >=, 1500);

  sim->capacity_kbps = 500;
  took = sim_run_until (sim, 3 * S, at_most, 600);
  g_test_message ("2500 → 500 kbit/s: target ≤ 600 after %.1f s", took / 1e6);
  g_assert_cmpint (took, >=, 0);

  /* The queue built in the meantime drains, and stays short. */
  sim_run (sim, 10 * S);
  sim_measure (sim);
  sim_run (sim, 30 * S);
  report_figures (sim, "500 kbit/s, 10–40 s after the drop");
  g_assert_cmpfloat (mean_queue_ms (sim), <, 150);
  g_assert_cmpfloat (mean_target (sim), >=, 300);
  g_assert_cmpuint (sim->target_max, <=, 600);
}

/* The capacity comes back: found again within seconds. */
static void
test_capacity_lift (void)
{
  g_autoptr (Sim) sim = sim_new (&default_config, 500);
  gint64 took;

  sim_run (sim, 30 * S);
  g_test_message ("before the lift: target %u kbit/s", sim->target_kbps);
  g_assert_cmpuint (sim->target_kbps, <=, 600);

  sim->capacity_kbps = 2500;
  took = sim_run_until (sim, 15 * S, at_least, 1500);
  g_test_message ("500 → 2500 kbit/s: target ≥ 1500 after %.1f s", took / 1e6);
  g_assert_cmpint (took, >=, 0);
}

/* Random loss that a queue did not cause (Wi-Fi) does not starve the call. */
static void
test_random_loss (void)
{
  g_autoptr (Sim) sim = sim_new (&default_config, 10000);

  sim->loss = 0.05;
  sim_run (sim, 20 * S);
  sim_measure (sim);
  sim_run (sim, 100 * S);
  report_figures (sim, "10 Mbit/s, 5 % loss, 20–120 s");
  g_assert_cmpfloat (mean_target (sim), >=, 1250);
  g_assert_cmpuint (sim->target_min, >=, 200);
}

/* Heavy loss brings the rate down. */
static void
test_heavy_loss (void)
{
  g_autoptr (Sim) sim = sim_new (&default_config, 10000);

  sim_run (sim, 20 * S);
  g_assert_cmpuint (sim->target_kbps, >=, 2000);

  sim->loss = 0.20;
  sim_run (sim, 10 * S);
  sim_measure (sim);
  sim_run (sim, 20 * S);
  report_figures (sim, "10 Mbit/s, 20 % loss, 10–30 s after");
  g_assert_cmpfloat (mean_target (sim), <, 500);
  /* Read over 100 packets at these rates: ± 4 points. */
  g_assert_cmpfloat (vchatd_rate_control_get_loss_pct (sim->rc), >, 8);
}

/* A new ceiling applies at once, and lifting it lets the rate grow. */
static void
test_max_change (void)
{
  g_autoptr (Sim) sim = sim_new (&default_config, 2500);
  gint64 took;

  sim_run (sim, 20 * S);
  g_assert_cmpuint (sim->target_kbps, >, 800);

  vchatd_rate_control_set_max_kbps (sim->rc, 800);
  g_assert_cmpuint (vchatd_rate_control_get_target_kbps (sim->rc), <=, 800);
  g_assert_cmpuint (vchatd_rate_control_get_estimate_kbps (sim->rc), <=, 800);
  sim_measure (sim);
  sim_run (sim, 10 * S);
  g_assert_cmpuint (sim->target_max, <=, 800);
  g_assert_cmpuint (sim->target_min, >=, 700);

  vchatd_rate_control_set_max_kbps (sim->rc, 2500);
  took = sim_run_until (sim, 20 * S, at_least, 1500);
  g_test_message ("max 800 → 2500: target ≥ 1500 after %.1f s", took / 1e6);
  g_assert_cmpint (took, >=, 0);

  /* Never below min, whatever is asked. */
  vchatd_rate_control_set_max_kbps (sim->rc, 10);
  g_assert_cmpuint (vchatd_rate_control_get_target_kbps (sim->rc), ==, 50);
}

static void
feed_all_lost (VchatdRateControl *rc, gint64 now_us, guint16 first_seq, guint n)
{
  g_autofree VchatdPacketFeedback *packets = g_new0 (VchatdPacketFeedback, n);

  for (guint i = 0; i < n; i++) {
    packets[i].seqnum = first_seq + i;
    packets[i].send_time_us = now_us - 200 * MS;
    packets[i].arrival_time_us = -1;
    packets[i].size = PACKET_SIZE;
  }
  vchatd_rate_control_on_feedback (rc, now_us, packets, n);
}

/* Whatever the feedback looks like, the controller stays within its
 * bounds and still works afterwards. */
static void
test_robustness (void)
{
  g_autoptr (Sim) sim = sim_new (&default_config, 1500);
  VchatdPacketFeedback garbage[3] = {
    { 7, G_MININT64 / 2, G_MAXINT64 / 2, G_MAXUINT },
    { 7, 0, 0, 0 },
    { 6, G_MAXINT64 / 2, G_MININT64 / 2, 1 },
  };

  sim->remote_offset_us = G_GINT64_CONSTANT (1000000000000);
  sim->jitter = TRUE;
  sim->duplicate = TRUE;
  sim->clock_slips = TRUE;
  sim_run (sim, 30 * S);
  report_figures (sim, "1.5 Mbit/s, jitter, duplicates, slips, 0–30 s");
  g_assert_cmpuint (sim->target_kbps, >=, 600);

  /* Empty and all-lost reports, and nonsense. */
  for (guint i = 0; i < 20; i++) {
    vchatd_rate_control_on_feedback (sim->rc, sim->now_us, NULL, 0);
    vchatd_rate_control_on_feedback (sim->rc, sim->now_us, garbage, 0);
    feed_all_lost (sim->rc, sim->now_us, sim->next_seq + 30000 + 50 * i, 50);
    sim_run (sim, 100 * MS);
  }
  vchatd_rate_control_on_feedback (sim->rc, sim->now_us, garbage, G_N_ELEMENTS (garbage));
  vchatd_rate_control_on_rtt (sim->rc, sim->now_us, -5);
  vchatd_rate_control_on_rtt (sim->rc, sim->now_us, G_MAXINT64);
  sim_run (sim, S);
  assert_sane (sim);

  /* The remote clock wraps (or the peer restarts it). */
  sim->remote_offset_us = -G_GINT64_CONSTANT (5000000000);
  sim_run (sim, 10 * S);

  /* The machine sleeps for a minute: nothing sent, nothing heard. */
  sim->now_us += 60 * S;
  sim->busy_until_us = sim->now_us;
  sim->next_frame_us = sim->next_feedback_us = sim->next_tick_us = sim->next_rtt_us = sim->now_us;
  g_queue_clear_full (&sim->reports, sim_report_free);
  sim_run (sim, 5 * S);

  /* And it still follows the link, with the mischief over: a controller
   * that merely held its rate would fill the queue of a smaller link. */
  sim->jitter = sim->duplicate = sim->clock_slips = FALSE;
  sim->capacity_kbps = 1000;
  sim_run (sim, 20 * S);
  sim_measure (sim);
  sim_run (sim, 30 * S);
  report_figures (sim, "1.5 → 1 Mbit/s after all that, 25–55 s after the sleep");
  g_assert_cmpfloat (mean_target (sim), >=, 600);
  g_assert_cmpuint (sim->target_max, <=, 1100);
  g_assert_cmpfloat (mean_queue_ms (sim), <, 200);
}

/* Feeds @rc a report of 10 packets from @seq on, sent 1 ms apart 50 ms
 * before @now_us, every other one lost if @half_lost. */
static void
feed_report (VchatdRateControl *rc, gint64 now_us, guint16 seq, gboolean half_lost)
{
  VchatdPacketFeedback packets[10];

  for (guint i = 0; i < G_N_ELEMENTS (packets); i++) {
    packets[i].seqnum = seq + i;
    packets[i].send_time_us = now_us - 50 * MS + i * MS;
    packets[i].arrival_time_us = half_lost && i % 2 ? -1 : packets[i].send_time_us + 30 * MS;
    packets[i].size = PACKET_SIZE;
  }
  vchatd_rate_control_on_feedback (rc, now_us, packets, G_N_ELEMENTS (packets));
}

/* One report of seqnums far ahead (nonsense, or a peer that restarted
 * its numbering) does not make every later report look like old news. */
static void
test_seqnum_jump (void)
{
  g_autoptr (VchatdRateControl) rc = vchatd_rate_control_new (&default_config);
  gint64 now = 1000 * S;
  guint16 seq = 100;

  for (guint i = 0; i < 30; i++, now += 100 * MS, seq += 10) {
    feed_report (rc, now, seq, FALSE);
    vchatd_rate_control_tick (rc, now);
  }
  g_assert_cmpfloat (vchatd_rate_control_get_loss_pct (rc), ==, 0);

  feed_all_lost (rc, now, seq + 30000, 50);
  for (guint i = 0; i < 50; i++, now += 100 * MS, seq += 10) {
    feed_report (rc, now, seq, TRUE);
    vchatd_rate_control_tick (rc, now);
  }
  g_test_message ("loss after the jump: %.1f %%", vchatd_rate_control_get_loss_pct (rc));
  g_assert_cmpfloat (vchatd_rate_control_get_loss_pct (rc), ==, 50);
}

/* Feedback stops while packets go out: the rate comes down. */
static void
test_feedback_timeout (void)
{
  g_autoptr (VchatdRateControl) rc = vchatd_rate_control_new (&default_config);
  gint64 now = 1000 * S;
  VchatdPacketFeedback one = { 1, now - 50 * MS, 5 * S, PACKET_SIZE };
  guint target;

  /* Without any feedback ever (no TWCC), nothing changes. */
  for (guint i = 0; i < 100; i++, now += 100 * MS) {
    vchatd_rate_control_on_sent (rc, now, PACKET_SIZE);
    g_assert_cmpuint (vchatd_rate_control_tick (rc, now), ==, 300);
  }

  vchatd_rate_control_on_feedback (rc, now, &one, 1);
  for (guint i = 0; i < 20; i++, now += 100 * MS) {
    vchatd_rate_control_on_sent (rc, now, PACKET_SIZE);
    vchatd_rate_control_tick (rc, now);
  }
  g_assert_cmpuint (vchatd_rate_control_get_target_kbps (rc), ==, 300);
  for (guint i = 0; i < 30; i++, now += 100 * MS) {
    vchatd_rate_control_on_sent (rc, now, PACKET_SIZE);
    vchatd_rate_control_tick (rc, now);
  }
  target = vchatd_rate_control_get_target_kbps (rc);
  g_test_message ("5 s without feedback: %u kbit/s", target);
  g_assert_cmpuint (target, <, 300);
  g_assert_cmpuint (vchatd_rate_control_get_sent_kbps (rc), ==, 96);

  /* After a silence (a machine asleep), sending again is not yet a
   * timeout: there was nothing to hear about. */
  now += 60 * S;
  for (guint i = 0; i < 20; i++, now += 100 * MS) {
    vchatd_rate_control_on_sent (rc, now, PACKET_SIZE);
    g_assert_cmpuint (vchatd_rate_control_tick (rc, now), ==, target);
  }
  for (guint i = 0; i < 10; i++, now += 100 * MS) {
    vchatd_rate_control_on_sent (rc, now, PACKET_SIZE);
    vchatd_rate_control_tick (rc, now);
  }
  g_assert_cmpuint (vchatd_rate_control_get_target_kbps (rc), <, target);
}

/* The ladder. */

static void
assert_rung (const VchatdLadderRung *rung, const char *expected)
{
  g_autofree char *text = vchatd_ladder_rung_to_string (rung);

  g_assert_cmpstr (text, ==, expected);
}

static void
test_ladder_rates (void)
{
  static const struct {
    guint kbps;
    const char *rung;
  } cases[] = {
    { 5000, "1280x720@30" }, { 1200, "1280x720@30" }, { 1199, "960x540@30" },
    { 700, "960x540@30" },   { 400, "640x360@30" },   { 399, "480x270@20" },
    { 200, "480x270@20" },   { 199, "320x180@15" },   { 0, "320x180@15" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (VchatdLadder) ladder = vchatd_ladder_new (1280, 720, 30);
    VchatdLadderRung rung;

    /* The first update always reports a change. */
    g_assert_true (vchatd_ladder_update (ladder, 0, cases[i].kbps, &rung));
    assert_rung (&rung, cases[i].rung);
    g_assert_false (vchatd_ladder_update (ladder, 100 * MS, cases[i].kbps, NULL));
  }
}

/* Runs @ladder from @start_us for @duration_us with a tick every 100 ms,
 * the rate alternating between @low and @high every @period_us; returns
 * the number of changes and asserts none came within 3 s of the last. */
static guint
ladder_oscillate (VchatdLadder *ladder, gint64 start_us, gint64 duration_us, guint low, guint high,
                  gint64 period_us)
{
  gint64 last_change_us = G_MININT64;
  guint changes = 0;

  for (gint64 t = start_us; t < start_us + duration_us; t += TICK_INTERVAL_US) {
    guint kbps = ((t - start_us) / period_us) % 2 ? low : high;

    if (vchatd_ladder_update (ladder, t, kbps, NULL)) {
      if (last_change_us != G_MININT64)
        g_assert_cmpint (t - last_change_us, >=, 3 * S);
      last_change_us = t;
      changes++;
    }
  }
  return changes;
}

/* A rate wandering around a threshold does not flap the picture. */
static void
test_ladder_hysteresis (void)
{
  g_autoptr (VchatdLadder) ladder = vchatd_ladder_new (1280, 720, 30);
  VchatdLadderRung rung;
  guint changes;

  g_assert_true (vchatd_ladder_update (ladder, 0, 600, &rung));
  assert_rung (&rung, "640x360@30");

  /* Around 540p's 700: not above it long enough to go up. */
  changes = ladder_oscillate (ladder, 100 * MS, 60 * S, 650, 750, 500 * MS);
  g_assert_cmpuint (changes, ==, 0);

  /* Above it for 3 s: up; then anything over its 525 keeps it there. */
  changes = ladder_oscillate (ladder, 61 * S, 3500 * MS, 750, 750, S);
  g_assert_cmpuint (changes, ==, 1);
  changes = ladder_oscillate (ladder, 64500 * MS, 56500 * MS, 550, 750, 500 * MS);
  g_assert_cmpuint (changes, ==, 0);
  assert_rung ((rung = vchatd_ladder_get_rung (ladder), &rung), "960x540@30");

  /* Across both of 720p's thresholds (up 1200, down 900) every second:
   * never long enough above to go up. */
  changes = ladder_oscillate (ladder, 121 * S, 60 * S, 850, 1300, 1 * S);
  g_assert_cmpuint (changes, ==, 0);

  /* Every 5 s: up after 3 s above, down when below (at least 3 s after). */
  changes = ladder_oscillate (ladder, 181 * S, 60 * S, 850, 1300, 5 * S);
  g_test_message ("850 ↔ 1300 kbit/s every 5 s for 60 s: %u changes", changes);
  g_assert_cmpuint (changes, >=, 2);
  g_assert_cmpuint (changes, <=, 12);
}

/* A rate that falls past a whole rung does not wait for the 3 s. */
static void
test_ladder_big_drop (void)
{
  g_autoptr (VchatdLadder) ladder = vchatd_ladder_new (1280, 720, 30);
  VchatdLadderRung rung;

  vchatd_ladder_update (ladder, 0, 1500, &rung);
  assert_rung (&rung, "1280x720@30");

  /* One rung down waits... */
  g_assert_false (vchatd_ladder_update (ladder, 1 * S, 800, &rung));
  g_assert_true (vchatd_ladder_update (ladder, 3 * S, 800, &rung));
  assert_rung (&rung, "960x540@30");

  /* ...a fall past several does not. */
  g_assert_true (vchatd_ladder_update (ladder, 3 * S + 100 * MS, 100, &rung));
  assert_rung (&rung, "320x180@15");
}

/* Never larger than the camera, nor faster; the camera's shape kept. */
static void
test_ladder_camera (void)
{
  static const struct {
    guint width, height, fps;
    guint kbps;
    const char *rung;
  } cases[] = {
    { 1920, 1080, 30, 5000, "1280x720@30" }, { 1280, 720, 15, 5000, "1280x720@15" },
    { 640, 480, 30, 5000, "640x480@30" },    { 640, 480, 30, 300, "360x270@20" },
    { 640, 360, 30, 5000, "640x360@30" },    { 320, 240, 30, 5000, "320x240@30" },
    { 320, 240, 30, 300, "320x240@20" },     { 160, 120, 30, 5000, "160x120@30" },    { 0, 0, 0, 5000, "1280x720@30" },
    { 1280, 720, 0, 300, "480x270@20" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (VchatdLadder)
      ladder = vchatd_ladder_new (cases[i].width, cases[i].height, cases[i].fps);
    VchatdLadderRung rung;

    vchatd_ladder_update (ladder, 0, cases[i].kbps, &rung);
    assert_rung (&rung, cases[i].rung);
    g_assert_false (vchatd_ladder_is_cpu_limited (ladder));
  }
}

/* Another camera, mid-call. */
static void
test_ladder_camera_change (void)
{
  g_autoptr (VchatdLadder) ladder = vchatd_ladder_new (1280, 720, 30);
  VchatdLadderRung rung;

  vchatd_ladder_update (ladder, 0, 2000, &rung);
  assert_rung (&rung, "1280x720@30");

  vchatd_ladder_set_input (ladder, 640, 480, 30);
  g_assert_true (vchatd_ladder_update (ladder, 100 * MS, 2000, &rung));
  assert_rung (&rung, "640x480@30");

  /* Back to the big one: at once. */
  vchatd_ladder_set_input (ladder, 1280, 720, 30);
  g_assert_true (vchatd_ladder_update (ladder, 200 * MS, 2000, &rung));
  assert_rung (&rung, "1280x720@30");

  /* The same camera again changes nothing. */
  vchatd_ladder_set_input (ladder, 1280, 720, 30);
  g_assert_false (vchatd_ladder_update (ladder, 300 * MS, 2000, &rung));
}

/* Ticks the ladder at 2000 kbit/s, reporting the encoder's load each
 * second, for @seconds; returns the rung at the end. */
static VchatdLadderRung
ladder_load (VchatdLadder *ladder, gint64 *now_us, guint seconds, guint dropped, gint64 encode_us)
{
  for (guint i = 0; i < seconds * 10; i++) {
    *now_us += TICK_INTERVAL_US;
    if (i % 10 == 9) {
      VchatdLadderRung rung = vchatd_ladder_get_rung (ladder);

      vchatd_ladder_on_encoder_load (ladder, *now_us, rung.fps, dropped, encode_us, S / rung.fps);
    }
    vchatd_ladder_update (ladder, *now_us, 2000, NULL);
  }
  return vchatd_ladder_get_rung (ladder);
}

/* An encoder that cannot keep up steps the picture down; headroom brings
 * it back, slowly. */
static void
test_ladder_cpu (void)
{
  g_autoptr (VchatdLadder) ladder = vchatd_ladder_new (1280, 720, 30);
  gint64 now = 0;
  VchatdLadderRung rung;

  vchatd_ladder_update (ladder, now, 2000, &rung);
  assert_rung (&rung, "1280x720@30");

  /* 85 % of the frame interval is the limit, not an overload yet. */
  rung = ladder_load (ladder, &now, 10, 0, S / 30 * 80 / 100);
  assert_rung (&rung, "1280x720@30");

  /* 30 ms of 33: a rung down after 3 s of it, another after 3 more. */
  rung = ladder_load (ladder, &now, 2, 0, 30 * MS);
  assert_rung (&rung, "1280x720@30");
  rung = ladder_load (ladder, &now, 3, 0, 30 * MS);
  assert_rung (&rung, "960x540@30");
  g_assert_true (vchatd_ladder_is_cpu_limited (ladder));
  rung = ladder_load (ladder, &now, 3, 0, 30 * MS);
  assert_rung (&rung, "640x360@30");

  /* Between 50 and 85 %: stays. */
  rung = ladder_load (ladder, &now, 30, 0, 20 * MS);
  assert_rung (&rung, "640x360@30");

  /* Under half: one rung back per 10 s. */
  rung = ladder_load (ladder, &now, 9, 0, 10 * MS);
  assert_rung (&rung, "640x360@30");
  rung = ladder_load (ladder, &now, 2, 0, 10 * MS);
  assert_rung (&rung, "960x540@30");
  rung = ladder_load (ladder, &now, 11, 0, 10 * MS);
  assert_rung (&rung, "1280x720@30");
  g_assert_false (vchatd_ladder_is_cpu_limited (ladder));

  /* Frames dropped before the encoder count as overload too. */
  rung = ladder_load (ladder, &now, 5, 6, 10 * MS);
  assert_rung (&rung, "960x540@30");

  /* No frames (camera off) says nothing. */
  vchatd_ladder_on_encoder_load (ladder, now, 0, 0, 0, 0);
  g_assert_true (vchatd_ladder_is_cpu_limited (ladder));

  /* The CPU cap never lifts the picture above what the network allows. */
  for (guint i = 0; i < 300; i++) {
    now += TICK_INTERVAL_US;
    if (i % 10 == 9)
      vchatd_ladder_on_encoder_load (ladder, now, 30, 0, 1 * MS, S / 30);
    vchatd_ladder_update (ladder, now, 450, &rung);
  }
  assert_rung (&rung, "640x360@30");
  g_assert_false (vchatd_ladder_is_cpu_limited (ladder));
}

/* The audio policy. */

static void
test_audio_policy (void)
{
  static const struct {
    guint target_kbps;
    gdouble loss_pct;
    guint bitrate_kbps;
    gboolean fec;
    guint loss_setting;
    guint video_kbps;
  } cases[] = {
    { 2500, 0, 32, FALSE, 0, 2460 },
    { 300, 0, 32, FALSE, 0, 260 },
    { 299, 0, 24, FALSE, 0, 267 },
    { 120, 0, 24, FALSE, 0, 88 },
    { 119, 0, 16, FALSE, 0, 95 },
    { 50, 0, 16, FALSE, 0, 26 },
    { 20, 0, 16, FALSE, 0, 0 },
    { 1000, 0.5, 32, FALSE, 1, 960 },
    { 1000, 1.0, 32, TRUE, 1, 960 },
    { 1000, 2.0, 32, TRUE, 2, 960 },
    { 1000, 2.0000001, 32, TRUE, 2, 960 },
    { 1000, 7.2, 32, TRUE, 8, 960 },
    { 1000, 30, 32, TRUE, 30, 960 },
    { 1000, 80, 32, TRUE, 30, 960 },
    { 1000, -1, 32, FALSE, 0, 960 },
    { 1000, NAN, 32, FALSE, 0, 960 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    VchatdAudioPolicy policy = vchatd_audio_policy_for (cases[i].target_kbps, cases[i].loss_pct);

    g_test_message ("%u kbit/s, %.7f %% loss", cases[i].target_kbps, cases[i].loss_pct);
    g_assert_cmpuint (policy.bitrate_kbps, ==, cases[i].bitrate_kbps);
    g_assert_cmpint (policy.inband_fec, ==, cases[i].fec);
    g_assert_cmpuint (policy.packet_loss_pct, ==, cases[i].loss_setting);
    g_assert_cmpuint (vchatd_audio_policy_video_kbps (&policy, cases[i].target_kbps), ==,
                      cases[i].video_kbps);
  }
  g_assert_cmpuint (VCHATD_AUDIO_MAX_KBPS, ==, 40);
}

/* Followed step by step, the audio settings do not flap at a threshold. */
static void
test_audio_policy_hysteresis (void)
{
  VchatdAudioPolicy p = vchatd_audio_policy_for (1000, 0);
  gint64 t = 1000 * G_USEC_PER_SEC;
  guint changes = 0, i;

  /* Loss that comes and goes each second: FEC comes on and stays. */
  for (i = 0; i < 20; i++) {
    VchatdAudioPolicy next =
      vchatd_audio_policy_next (&p, t + i * G_USEC_PER_SEC, 1000, i % 2 ? 0.0 : 1.5);

    changes += next.inband_fec != p.inband_fec;
    p = next;
  }
  g_assert_true (p.inband_fec);
  g_assert_cmpuint (changes, ==, 1);
  g_assert_cmpuint (p.packet_loss_pct, >=, 1);
  /* 5 s without loss: off. */
  t += 20 * G_USEC_PER_SEC;
  for (i = 0; i <= 5; i++)
    p = vchatd_audio_policy_next (&p, t + i * G_USEC_PER_SEC, 1000, 0.0);
  g_assert_false (p.inband_fec);
  g_assert_cmpuint (p.packet_loss_pct, ==, 0);

  /* A target that hovers around 300: down once, and back up only at 340. */
  changes = 0;
  for (i = 0; i < 20; i++) {
    VchatdAudioPolicy next = vchatd_audio_policy_next (&p, t, i % 2 ? 290 : 320, 0.0);

    changes += next.bitrate_kbps != p.bitrate_kbps;
    p = next;
  }
  g_assert_cmpuint (changes, ==, 1);
  g_assert_cmpuint (p.bitrate_kbps, ==, 24);
  p = vchatd_audio_policy_next (&p, t, 339, 0.0);
  g_assert_cmpuint (p.bitrate_kbps, ==, 24);
  p = vchatd_audio_policy_next (&p, t, 340, 0.0);
  g_assert_cmpuint (p.bitrate_kbps, ==, 32);
  /* And around 120 the same, at 140; from 16 straight to 32 when the
   * target jumps. */
  p = vchatd_audio_policy_next (&p, t, 110, 0.0);
  g_assert_cmpuint (p.bitrate_kbps, ==, 16);
  p = vchatd_audio_policy_next (&p, t, 130, 0.0);
  g_assert_cmpuint (p.bitrate_kbps, ==, 16);
  p = vchatd_audio_policy_next (&p, t, 140, 0.0);
  g_assert_cmpuint (p.bitrate_kbps, ==, 24);
  p = vchatd_audio_policy_next (&p, t, 110, 0.0);
  p = vchatd_audio_policy_next (&p, t, 800, 0.0);
  g_assert_cmpuint (p.bitrate_kbps, ==, 32);
  /* Going down is at once. */
  p = vchatd_audio_policy_next (&p, t, 100, 0.0);
  g_assert_cmpuint (p.bitrate_kbps, ==, 16);
}

/* The quality rule. */

static void
test_quality_rule (void)
{
  static const struct {
    gdouble loss_pct;
    guint rtt_ms;
    gdouble fps;
    guint freeze_ms;
    guint target_kbps;
    VchatdQuality quality;
  } cases[] = {
    /* good, and each of its limits */
    { 0, 50, 30, 0, 1500, VCHATD_QUALITY_GOOD },
    { 1.9, 299, 20, 0, 250, VCHATD_QUALITY_GOOD },
    { 2, 50, 30, 0, 1500, VCHATD_QUALITY_FAIR },
    { 0, 300, 30, 0, 1500, VCHATD_QUALITY_FAIR },
    { 0, 50, 19.9, 0, 1500, VCHATD_QUALITY_FAIR },
    { 0, 50, 30, 200, 1500, VCHATD_QUALITY_FAIR },
    { 0, 50, 30, 0, 249, VCHATD_QUALITY_FAIR },
    /* poor, and each of its limits */
    { 10, 1000, 8, 999, 100, VCHATD_QUALITY_FAIR },
    { 10.1, 50, 30, 0, 1500, VCHATD_QUALITY_POOR },
    { 0, 1001, 30, 0, 1500, VCHATD_QUALITY_POOR },
    { 0, 50, 7.9, 0, 1500, VCHATD_QUALITY_POOR },
    { 0, 50, 30, 1000, 1500, VCHATD_QUALITY_POOR },
    { 0, 50, 30, 0, 99, VCHATD_QUALITY_POOR },
    /* poor wins */
    { 50, 2000, 0, 5000, 50, VCHATD_QUALITY_POOR },
    /* no video expected, no controller: left out */
    { 0, 50, -1, 0, 0, VCHATD_QUALITY_GOOD },
    { 5, 50, -1, 0, 0, VCHATD_QUALITY_FAIR },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    VchatdQuality quality = vchatd_quality_from_stats (
      cases[i].loss_pct, cases[i].rtt_ms, cases[i].fps, cases[i].freeze_ms, cases[i].target_kbps);

    g_test_message ("case %u", i);
    g_assert_cmpstr (vchatd_quality_to_string (quality), ==,
                     vchatd_quality_to_string (cases[i].quality));
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/rate-control/steady-link", test_steady_link);
  g_test_add_func ("/rate-control/remb-without-twcc", test_remb_without_twcc);
  g_test_add_func ("/rate-control/remb-while-app-limited", test_remb_while_app_limited);
  g_test_add_func ("/rate-control/shallow-buffer", test_shallow_buffer);
  g_test_add_func ("/rate-control/send-clock", test_send_clock);
  g_test_add_func ("/rate-control/app-limited", test_app_limited);
  g_test_add_func ("/rate-control/startup", test_startup);
  g_test_add_func ("/rate-control/startup-peer-not-ready", test_startup_peer_not_ready);
  g_test_add_func ("/rate-control/capacity-drop", test_capacity_drop);
  g_test_add_func ("/rate-control/capacity-lift", test_capacity_lift);
  g_test_add_func ("/rate-control/random-loss", test_random_loss);
  g_test_add_func ("/rate-control/heavy-loss", test_heavy_loss);
  g_test_add_func ("/rate-control/max-change", test_max_change);
  g_test_add_func ("/rate-control/robustness", test_robustness);
  g_test_add_func ("/rate-control/seqnum-jump", test_seqnum_jump);
  g_test_add_func ("/rate-control/feedback-timeout", test_feedback_timeout);
  g_test_add_func ("/ladder/rates", test_ladder_rates);
  g_test_add_func ("/ladder/hysteresis", test_ladder_hysteresis);
  g_test_add_func ("/ladder/big-drop", test_ladder_big_drop);
  g_test_add_func ("/ladder/camera", test_ladder_camera);
  g_test_add_func ("/ladder/camera-change", test_ladder_camera_change);
  g_test_add_func ("/ladder/cpu", test_ladder_cpu);
  g_test_add_func ("/audio-policy", test_audio_policy);
  g_test_add_func ("/audio-policy/hysteresis", test_audio_policy_hysteresis);
  g_test_add_func ("/quality-rule", test_quality_rule);
  return g_test_run ();
}
