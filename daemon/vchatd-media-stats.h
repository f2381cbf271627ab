/* vchatd-media-stats.h: what a call's numbers are, read from webrtcbin's get-stats
 *
 * Kept apart from the media session so it can be tested on a reply made by
 * hand, with the quirks of GStreamer 1.22.0 (see WEBRTCBIN-1.22 notes in
 * vchatd-media.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct {
  guint64 bytes_sent;     /* all outbound RTP streams */
  guint64 bytes_received; /* all inbound RTP streams */
  guint64 packets_received; /* all inbound RTP streams */
  guint64 packets_lost;     /* all inbound RTP streams (never negative) */
  gdouble rtt;            /* seconds, the worst stream; < 0: unknown */
  gdouble fraction_lost;  /* 0..1, the worst stream; < 0: unknown */
  gdouble jitter;         /* seconds, the worst inbound stream; < 0: unknown */
  /* host, srflx, prflx or relay for the selected pair; NULL: unknown.
   * Static strings. */
  const char *local_candidate;
  const char *remote_candidate;
} VchatdStatsScan;

/* Reads @reply, the structure webrtcbin's get-stats promise answers. */
void vchatd_stats_scan (const GstStructure *reply, VchatdStatsScan *scan);

G_END_DECLS
