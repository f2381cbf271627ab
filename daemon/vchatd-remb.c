/* vchatd-remb.c: REMB, the bandwidth feedback of peers without TWCC (see the header)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-remb.h"

#include "vchatd-rate-control.h"

#include <string.h>

#define REMB_EVERY_US   G_USEC_PER_SEC
#define REMB_FALL       0.97
/* abs-send-time counts 64 s in 24 bits. */
#define ABS_WRAP        (1 << 24)
#define ABS_TO_US(v)    ((gint64) (v) * G_USEC_PER_SEC / (1 << 18))

gboolean
vchatd_remb_parse_fci (const guint8 *fci, gsize size, guint64 *bps)
{
  guint n_ssrcs, exponent;
  guint64 mantissa;

  if (!fci || size < 8 || memcmp (fci, "REMB", 4) != 0)
    return FALSE;
  n_ssrcs = fci[4];
  if (size < VCHATD_REMB_FCI_SIZE (n_ssrcs))
    return FALSE;
  exponent = fci[5] >> 2;
  mantissa = ((guint64) (fci[5] & 3) << 16) | ((guint64) fci[6] << 8) | fci[7];
  /* 2^63 and more do not fit: nobody means that much. */
  *bps = mantissa && exponent + 18 > 63 ? G_MAXUINT64 : mantissa << exponent;
  return TRUE;
}

void
vchatd_remb_write_fci (guint8 *fci, guint64 bps, const guint32 *ssrcs, guint n_ssrcs)
{
  guint exponent = 0, i;

  g_return_if_fail (n_ssrcs <= 255);
  while (bps >> exponent >= (1 << 18))
    exponent++;
  memcpy (fci, "REMB", 4);
  fci[4] = (guint8) n_ssrcs;
  fci[5] = (guint8) ((exponent << 2) | ((bps >> exponent >> 16) & 3));
  fci[6] = (guint8) (bps >> exponent >> 8);
  fci[7] = (guint8) (bps >> exponent);
  for (i = 0; i < n_ssrcs; i++) {
    fci[8 + 4 * i] = (guint8) (ssrcs[i] >> 24);
    fci[9 + 4 * i] = (guint8) (ssrcs[i] >> 16);
    fci[10 + 4 * i] = (guint8) (ssrcs[i] >> 8);
    fci[11 + 4 * i] = (guint8) ssrcs[i];
  }
}

guint32
vchatd_abs_send_time_from_us (guint64 us)
{
  return (guint32) ((us * (1 << 18) / G_USEC_PER_SEC) & (ABS_WRAP - 1));
}

struct _VchatdRembEstimator {
  VchatdRateControl *rc;
  GArray *pending; /* VchatdPacketFeedback since the last tick */
  guint16 seqnum;  /* ours, in arrival order: REMB packets carry none */
  gboolean have_abs;
  guint32 last_abs;
  gint64 abs_us;   /* the unwrapped send time of the last packet */
  gint64 last_remb_us;
  guint64 last_remb_bps;
  guint kbps;
};

VchatdRembEstimator *
vchatd_remb_estimator_new (guint min_kbps, guint start_kbps, guint max_kbps)
{
  VchatdRembEstimator *e = g_new0 (VchatdRembEstimator, 1);
  VchatdRateControlConfig config = { min_kbps, start_kbps, max_kbps };

  e->rc = vchatd_rate_control_new (&config);
  e->pending = g_array_new (FALSE, FALSE, sizeof (VchatdPacketFeedback));
  e->last_remb_us = G_MININT64;
  return e;
}

void
vchatd_remb_estimator_free (VchatdRembEstimator *e)
{
  if (!e)
    return;
  vchatd_rate_control_free (e->rc);
  g_array_unref (e->pending);
  g_free (e);
}

void
vchatd_remb_estimator_on_packet (VchatdRembEstimator *e, gint64 arrival_us, guint32 abs_send_time,
                                 guint size)
{
  VchatdPacketFeedback packet;

  abs_send_time &= ABS_WRAP - 1;
  if (!e->have_abs) {
    /* Any start: only differences count. 64 s in, so that a packet sent a
     * little before the first one stays positive. */
    e->abs_us = 64 * G_USEC_PER_SEC;
    e->have_abs = TRUE;
  } else {
    /* The step since the last packet, taken the short way round the 64 s
     * circle: packets are never 32 s apart in sending. */
    gint32 step = (gint32) ((abs_send_time - e->last_abs) & (ABS_WRAP - 1));

    if (step >= ABS_WRAP / 2)
      step -= ABS_WRAP;
    e->abs_us += ABS_TO_US (step);
  }
  e->last_abs = abs_send_time;
  packet.seqnum = e->seqnum++;
  packet.send_time_us = e->abs_us;
  packet.arrival_time_us = MAX (arrival_us, 0);
  packet.size = size;
  g_array_append_val (e->pending, packet);
}

void
vchatd_remb_estimator_on_rtt (VchatdRembEstimator *e, gint64 now_us, gint64 rtt_us)
{
  vchatd_rate_control_on_rtt (e->rc, now_us, rtt_us);
}

gboolean
vchatd_remb_estimator_tick (VchatdRembEstimator *e, gint64 now_us, guint64 *bps)
{
  guint64 estimate;

  if (e->pending->len) {
    vchatd_rate_control_on_feedback (e->rc, now_us, (VchatdPacketFeedback *) e->pending->data,
                                     e->pending->len);
    g_array_set_size (e->pending, 0);
  }
  if (!e->have_abs)
    return FALSE;
  e->kbps = vchatd_rate_control_tick (e->rc, now_us);
  estimate = (guint64) e->kbps * 1000;
  if (e->last_remb_us != G_MININT64 && now_us - e->last_remb_us < REMB_EVERY_US &&
      estimate > e->last_remb_bps * REMB_FALL)
    return FALSE;
  e->last_remb_us = now_us;
  e->last_remb_bps = estimate;
  *bps = estimate;
  return TRUE;
}

guint
vchatd_remb_estimator_get_kbps (const VchatdRembEstimator *e)
{
  return e->kbps;
}
