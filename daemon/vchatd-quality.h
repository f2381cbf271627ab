/* vchatd-quality.h: one word for how a call is going
 *
 * The rule, on what the last seconds' statistics say:
 *
 *   poor  loss > 10 %, or RTT > 1000 ms, or fewer than 8 frames a second
 *         received, or a freeze of 1 s or more in the last 10 s, or a
 *         target under 100 kbit/s (no picture worth the name fits)
 *   good  loss < 2 %, and RTT < 300 ms, and at least 20 frames a second,
 *         and no freeze in the last 10 s, and a target of at least
 *         250 kbit/s (270p at 20 frames a second or better)
 *   fair  anything else
 *
 * The first match of poor wins over good. No hysteresis: the inputs are
 * already averaged over seconds, and a word that lags behind what a person
 * sees would be wrong twice. Frame rate and target can be left out when
 * they do not apply (no video expected, no rate controller).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  VCHATD_QUALITY_GOOD,
  VCHATD_QUALITY_FAIR,
  VCHATD_QUALITY_POOR,
} VchatdQuality;

/* "good", "fair", "poor". */
const char *vchatd_quality_to_string (VchatdQuality quality);

/**
 * vchatd_quality_from_stats:
 * @loss_pct: packets lost, percent (0–100)
 * @rtt_ms: the round-trip time
 * @fps_received: frames a second decoded from the peer; < 0 when no video
 *   is expected (the peer's camera is off)
 * @freeze_ms_last_10s: the longest freeze of the received video in the
 *   last 10 s, in ms; 0 if none
 * @target_kbps: the rate controller's target; 0 if there is none
 *
 * Returns: the word for the call, by the rule above
 */
VchatdQuality vchatd_quality_from_stats (gdouble loss_pct, guint rtt_ms, gdouble fps_received,
                                         guint freeze_ms_last_10s, guint target_kbps);

G_END_DECLS
