/* Unit tests of REMB (vchatd-remb.h): the FCI both ways, abs-send-time,
 * and the receiver's estimate on a simulated bottleneck, closed loop (the
 * sender sends what the last REMB allowed).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-remb.h"

#define MS 1000
#define S  G_USEC_PER_SEC

static void
test_fci_round_trip (void)
{
  static const guint64 rates[] = { 0, 1, 50000, 262143, 262144, 300000, 1500000, 2500000,
                                   123456789, G_GUINT64_CONSTANT (1) << 40 };
  guint32 ssrcs[] = { 0x11223344, 0xdeadbeef };
  guint8 fci[VCHATD_REMB_FCI_SIZE (2)];
  guint i;

  for (i = 0; i < G_N_ELEMENTS (rates); i++) {
    guint64 got = 0;

    vchatd_remb_write_fci (fci, rates[i], ssrcs, 2);
    g_assert_true (vchatd_remb_parse_fci (fci, sizeof fci, &got));
    /* 18 bits of mantissa: rounded down by less than 1 part in 2^17. */
    g_assert_cmpuint (got, <=, rates[i]);
    g_assert_cmpuint (rates[i] - got, <=, rates[i] >> 17);
  }
  /* The layout: "REMB", 2 SSRCs, 1,500,000 = 366 × 2^12, then the SSRCs. */
  vchatd_remb_write_fci (fci, 1500000, ssrcs, 2);
  g_assert_cmpmem (fci, 4, "REMB", 4);
  g_assert_cmpuint (fci[4], ==, 2);
  g_assert_cmpuint (fci[5] >> 2, ==, 3);
  g_assert_cmpuint (((fci[5] & 3) << 16) | (fci[6] << 8) | fci[7], ==, 187500);
  g_assert_cmpuint (fci[8], ==, 0x11);
  g_assert_cmpuint (fci[15], ==, 0xef);
}

static void
test_fci_refused (void)
{
  guint8 fci[VCHATD_REMB_FCI_SIZE (1)];
  guint32 ssrc = 1;
  guint64 bps = 42;

  vchatd_remb_write_fci (fci, 1000000, &ssrc, 1);
  /* Too short for its header, or for the SSRCs it announces. */
  g_assert_false (vchatd_remb_parse_fci (fci, 7, &bps));
  g_assert_false (vchatd_remb_parse_fci (fci, 11, &bps));
  fci[4] = 3;
  g_assert_false (vchatd_remb_parse_fci (fci, sizeof fci, &bps));
  /* Another application's feedback. */
  fci[4] = 1;
  fci[0] = 'X';
  g_assert_false (vchatd_remb_parse_fci (fci, sizeof fci, &bps));
  g_assert_false (vchatd_remb_parse_fci (NULL, 0, &bps));
  g_assert_cmpuint (bps, ==, 42);
}

static void
test_abs_send_time (void)
{
  g_assert_cmpuint (vchatd_abs_send_time_from_us (0), ==, 0);
  g_assert_cmpuint (vchatd_abs_send_time_from_us (S), ==, 1 << 18);
  g_assert_cmpuint (vchatd_abs_send_time_from_us (S / 4), ==, 1 << 16);
  /* 64 s wrap round to 0. */
  g_assert_cmpuint (vchatd_abs_send_time_from_us (64 * S), ==, 0);
  g_assert_cmpuint (vchatd_abs_send_time_from_us (65 * S), ==, 1 << 18);
}

static gint
compare_u64 (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return x < y ? -1 : x > y;
}

/* A sender at the rate the last REMB allowed, through a bottleneck of
 * @capacity_kbps with 300 ms of queue and 20 ms of propagation, to the
 * estimator, from @start_us of the sender's clock; @seconds of it. Returns
 * the median REMB of the last 10 s. */
static guint64
closed_loop (guint capacity_kbps, gint64 start_us, guint seconds, guint64 *max_queue_ms)
{
  g_autoptr (VchatdRembEstimator) e = vchatd_remb_estimator_new (50, 300, 4000);
  g_autoptr (GArray) inflight = g_array_new (FALSE, FALSE, sizeof (gint64) * 2);
  g_autoptr (GArray) late = g_array_new (FALSE, FALSE, sizeof (guint64));
  guint64 rate_bps = 300000, remb;
  gint64 t, next_send = 0, link_free = 0, next_tick = 100 * MS;
  const guint size = 1200;
  guint i;

  *max_queue_ms = 0;
  for (t = 0; t < (gint64) seconds * S; t += MS) {
    /* Sends what is due. */
    while (next_send <= t) {
      gint64 departs = MAX (next_send, link_free) + (gint64) size * 8 * 1000 / capacity_kbps;
      gint64 packet[2] = { next_send, departs + 20 * MS };

      if (departs - next_send <= 300 * MS) {
        link_free = departs;
        *max_queue_ms = MAX (*max_queue_ms, (guint64) (departs - next_send) / MS);
        g_array_append_val (inflight, packet);
      }
      next_send += (gint64) size * 8 * S / rate_bps;
    }
    /* What arrived. */
    for (i = 0; i < inflight->len; i++) {
      gint64 *packet = &g_array_index (inflight, gint64, 2 * i);

      if (packet[1] > t)
        break;
      vchatd_remb_estimator_on_packet (
        e, packet[1], vchatd_abs_send_time_from_us ((guint64) (start_us + packet[0])), size);
    }
    g_array_remove_range (inflight, 0, i);
    if (t >= next_tick) {
      next_tick += 100 * MS;
      if (vchatd_remb_estimator_tick (e, t, &remb)) {
        rate_bps = MAX (remb, 10000);
        if (t >= (gint64) (seconds - 10) * S)
          g_array_append_val (late, remb);
      }
    }
  }
  g_assert_cmpuint (late->len, >=, 9);
  g_array_sort (late, compare_u64);
  return g_array_index (late, guint64, late->len / 2);
}

/* A 1 Mbit/s bottleneck: the REMB settles under it (the queue does not stay
 * full) and near it (the link is used). */
static void
test_estimate_on_bottleneck (void)
{
  guint64 queue_ms;
  guint64 median = closed_loop (1000, 0, 40, &queue_ms);

  g_test_message ("1 Mbit/s: median REMB %" G_GUINT64_FORMAT " bit/s, worst queue %" G_GUINT64_FORMAT
                  " ms", median, queue_ms);
  g_assert_cmpuint (median, >=, 600000);
  g_assert_cmpuint (median, <=, 1100000);
}

/* The same across abs-send-time's 64 s wrap: starting 50 s in, the wrap
 * comes 14 s into the call and is no 64 s jump. */
static void
test_estimate_across_wrap (void)
{
  guint64 queue_ms;
  guint64 median = closed_loop (1000, 50 * S, 40, &queue_ms);

  g_assert_cmpuint (median, >=, 600000);
  g_assert_cmpuint (median, <=, 1100000);
}

/* An open link: the REMB climbs to the ceiling. */
static void
test_estimate_open_link (void)
{
  guint64 queue_ms;
  guint64 median = closed_loop (20000, 0, 40, &queue_ms);

  g_assert_cmpuint (median, >=, 3000000);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/remb/fci-round-trip", test_fci_round_trip);
  g_test_add_func ("/remb/fci-refused", test_fci_refused);
  g_test_add_func ("/remb/abs-send-time", test_abs_send_time);
  g_test_add_func ("/remb/estimate-on-bottleneck", test_estimate_on_bottleneck);
  g_test_add_func ("/remb/estimate-across-wrap", test_estimate_across_wrap);
  g_test_add_func ("/remb/estimate-open-link", test_estimate_open_link);
  return g_test_run ();
}
