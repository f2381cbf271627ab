/* vchatd-playout.c: how long a receiver waits for a missing packet (see the header)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-playout.h"

#define WINDOW_US     (10 * G_USEC_PER_SEC)
#define FALL_AFTER_US (5 * G_USEC_PER_SEC)
#define N_SAMPLES     32 /* more than one a second for 10 s */

typedef struct {
  gint64 at_us;
  gdouble rtt_ms;
  gdouble jitter_ms;
} Sample;

struct _VchatdPlayout {
  Sample samples[N_SAMPLES];
  guint next;
  guint latency_ms;
  guint wanted_ms;
  gint64 below_since_us; /* the rule has asked for less since; 0: it has not */
};

VchatdPlayout *
vchatd_playout_new (void)
{
  VchatdPlayout *playout = g_new0 (VchatdPlayout, 1);

  playout->latency_ms = VCHATD_PLAYOUT_START_MS;
  return playout;
}

void
vchatd_playout_free (VchatdPlayout *playout)
{
  g_free (playout);
}

/* The rule on the worst RTT and jitter of the window; 0 without an RTT. */
static guint
wanted_ms (const VchatdPlayout *playout, gint64 now_us)
{
  gdouble rtt = -1, jitter = 0, ms;
  guint i;

  for (i = 0; i < N_SAMPLES; i++) {
    const Sample *s = &playout->samples[i];

    if (!s->at_us || now_us - s->at_us > WINDOW_US)
      continue;
    rtt = MAX (rtt, s->rtt_ms);
    jitter = MAX (jitter, s->jitter_ms);
  }
  if (rtt < 0)
    return 0;
  ms = 1.5 * rtt + 3.0 * jitter + 40.0;
  return (guint) CLAMP (ms, VCHATD_PLAYOUT_MIN_MS, VCHATD_PLAYOUT_MAX_MS);
}

gboolean
vchatd_playout_update (VchatdPlayout *playout, gint64 now_us, gdouble rtt_ms, gdouble jitter_ms)
{
  guint want, old = playout->latency_ms;

  if (rtt_ms >= 0 || jitter_ms >= 0) {
    Sample *s = &playout->samples[playout->next];

    s->at_us = now_us;
    s->rtt_ms = rtt_ms;
    s->jitter_ms = MAX (jitter_ms, 0.0);
    playout->next = (playout->next + 1) % N_SAMPLES;
  }
  want = wanted_ms (playout, now_us);
  playout->wanted_ms = want;
  if (!want)
    return FALSE;
  if (want > old) {
    playout->below_since_us = 0;
    if (want - old >= 10)
      playout->latency_ms = want;
  } else if (want <= old * 0.8) {
    if (!playout->below_since_us)
      playout->below_since_us = now_us;
    else if (now_us - playout->below_since_us >= FALL_AFTER_US) {
      playout->latency_ms = want;
      playout->below_since_us = 0;
    }
  } else {
    playout->below_since_us = 0;
  }
  return playout->latency_ms != old;
}

guint
vchatd_playout_get_latency_ms (const VchatdPlayout *playout)
{
  return playout->latency_ms;
}

guint
vchatd_playout_get_wanted_ms (const VchatdPlayout *playout)
{
  return playout->wanted_ms;
}
