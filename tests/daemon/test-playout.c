/* Unit tests of the receivers' latency rule (vchatd-playout.h), driven by
 * traces of one RTT and jitter sample a second.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-playout.h"

#define S G_USEC_PER_SEC

/* Feeds @seconds samples from @t (in s); returns the time after them. */
static gint64
feed (VchatdPlayout *p, gint64 t, guint seconds, gdouble rtt, gdouble jitter)
{
  guint i;

  for (i = 0; i < seconds; i++, t += S)
    vchatd_playout_update (p, t, rtt, jitter);
  return t;
}

/* Before any round trip is known, webrtcbin's 200 ms stays. */
static void
test_unknown_keeps_start (void)
{
  g_autoptr (VchatdPlayout) p = vchatd_playout_new ();

  g_assert_false (vchatd_playout_update (p, S, -1, -1));
  g_assert_cmpuint (vchatd_playout_get_latency_ms (p), ==, 200);
  g_assert_cmpuint (vchatd_playout_get_wanted_ms (p), ==, 0);
  /* Jitter alone is no round trip. */
  feed (p, 2 * S, 10, -1, 5);
  g_assert_cmpuint (vchatd_playout_get_latency_ms (p), ==, 200);
}

/* A LAN (2 ms, 3 ms jitter) comes down to the floor, but only after the
 * rule has asked for less for 5 s. */
static void
test_lan_falls_to_floor_after_5s (void)
{
  g_autoptr (VchatdPlayout) p = vchatd_playout_new ();
  gint64 t;

  t = feed (p, S, 5, 2, 3);
  g_assert_cmpuint (vchatd_playout_get_latency_ms (p), ==, 200);
  g_assert_cmpuint (vchatd_playout_get_wanted_ms (p), ==, 60);
  t = feed (p, t, 2, 2, 3);
  g_assert_cmpuint (vchatd_playout_get_latency_ms (p), ==, 60);
}

/* A long path: 300 ms RTT, 10 ms jitter → 1.5 × 300 + 30 + 40 = 520, capped
 * at 400; followed at the first sample, upwards. */
static void
test_long_path_rises_at_once_to_cap (void)
{
  g_autoptr (VchatdPlayout) p = vchatd_playout_new ();

  g_assert_true (vchatd_playout_update (p, S, 300, 10));
  g_assert_cmpuint (vchatd_playout_get_latency_ms (p), ==, 400);
}

/* A queue building on a capped link: the RTT climbs 50 → 150 ms, the
 * latency climbs with it every sample; when the queue drains, the worst
 * of the last 10 s holds it, and it falls 5 s after that. */
static void
test_queue_builds_and_drains (void)
{
  g_autoptr (VchatdPlayout) p = vchatd_playout_new ();
  gint64 t = S;
  guint rtt, before, rose = 0;

  t = feed (p, t, 8, 50, 5); /* 75 + 15 + 40 = 130 */
  g_assert_cmpuint (vchatd_playout_get_latency_ms (p), ==, 130);
  before = vchatd_playout_get_latency_ms (p);
  for (rtt = 60; rtt <= 150; rtt += 10, t += S) {
    if (vchatd_playout_update (p, t, rtt, 5))
      rose++;
    g_assert_cmpuint (vchatd_playout_get_latency_ms (p), >=, before);
    before = vchatd_playout_get_latency_ms (p);
  }
  g_assert_cmpuint (rose, >=, 9);
  g_assert_cmpuint (vchatd_playout_get_latency_ms (p), ==, 280); /* 225 + 15 + 40 */
  /* Drained: the window still holds 150 ms for 10 s, then 5 s more. */
  t = feed (p, t, 9, 20, 5);
  g_assert_cmpuint (vchatd_playout_get_latency_ms (p), ==, 280);
  t = feed (p, t, 7, 20, 5);
  g_assert_cmpuint (vchatd_playout_get_latency_ms (p), ==, 85); /* 30 + 15 + 40 */
}

/* A rule that wobbles just above the latency does not move it: rises
 * under 10 ms are not made. */
static void
test_small_changes_hold (void)
{
  g_autoptr (VchatdPlayout) p = vchatd_playout_new ();
  gint64 t;
  guint i, changes = 0;

  t = feed (p, S, 20, 100, 10); /* 150 + 30 + 40 = 220 */
  g_assert_cmpuint (vchatd_playout_get_latency_ms (p), ==, 220);
  for (i = 0; i < 60; i++, t += S)
    changes += vchatd_playout_update (p, t, i % 2 ? 104 : 90, 10); /* 226, 205 */
  g_assert_cmpuint (changes, ==, 0);
  g_assert_cmpuint (vchatd_playout_get_latency_ms (p), ==, 220);
}

/* A jittery path (Wi-Fi: 20 ms RTT, 40 ms jitter) keeps room for it. */
static void
test_jitter_counts (void)
{
  g_autoptr (VchatdPlayout) p = vchatd_playout_new ();

  feed (p, S, 12, 20, 40); /* 30 + 120 + 40 = 190 */
  g_assert_cmpuint (vchatd_playout_get_latency_ms (p), ==, 200);
  g_assert_cmpuint (vchatd_playout_get_wanted_ms (p), ==, 190);
  /* 190 is within 20 % of 200: no change for so little. */
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/playout/unknown-keeps-start", test_unknown_keeps_start);
  g_test_add_func ("/playout/lan-falls-to-floor-after-5s", test_lan_falls_to_floor_after_5s);
  g_test_add_func ("/playout/long-path-rises-at-once-to-cap", test_long_path_rises_at_once_to_cap);
  g_test_add_func ("/playout/queue-builds-and-drains", test_queue_builds_and_drains);
  g_test_add_func ("/playout/small-changes-hold", test_small_changes_hold);
  g_test_add_func ("/playout/jitter-counts", test_jitter_counts);
  return g_test_run ();
}
