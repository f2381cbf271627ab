/* vchatd-media-stats.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-media-stats.h"

#ifndef GST_USE_UNSTABLE_API
#define GST_USE_UNSTABLE_API
#endif
#include <gst/webrtc/webrtc.h>

typedef struct {
  VchatdStatsScan *out;
  const char *pair_id;
} StatsScan;

static gboolean
scan_stats_field (GQuark field, const GValue *value, gpointer data)
{
  StatsScan *scan = data;
  const GstStructure *s;
  GstWebRTCStatsType type;
  guint64 bytes;
  gdouble d;

  if (!GST_VALUE_HOLDS_STRUCTURE (value))
    return TRUE;
  s = gst_value_get_structure (value);
  if (!gst_structure_get_enum (s, "type", GST_TYPE_WEBRTC_STATS_TYPE, (gint *) &type))
    return TRUE;
  switch (type) {
  case GST_WEBRTC_STATS_OUTBOUND_RTP:
    if (gst_structure_get_uint64 (s, "bytes-sent", &bytes))
      scan->out->bytes_sent += bytes;
    break;
  case GST_WEBRTC_STATS_INBOUND_RTP:
    if (gst_structure_get_uint64 (s, "bytes-received", &bytes))
      scan->out->bytes_received += bytes;
    if (gst_structure_get_uint64 (s, "packets-received", &bytes))
      scan->out->packets_received += bytes;
    {
      gint64 lost = 0;

      /* Signed: duplicates can make it negative. */
      if (gst_structure_get_int64 (s, "packets-lost", &lost) && lost > 0)
        scan->out->packets_lost += (guint64) lost;
    }
    if (gst_structure_get_double (s, "jitter", &d) && d > scan->out->jitter)
      scan->out->jitter = d;
    break;
  case GST_WEBRTC_STATS_REMOTE_INBOUND_RTP:
    if (gst_structure_get_double (s, "round-trip-time", &d) && d > scan->out->rtt)
      scan->out->rtt = d;
    if (gst_structure_get_double (s, "fraction-lost", &d) && d > scan->out->fraction_lost)
      scan->out->fraction_lost = d;
    break;
  case GST_WEBRTC_STATS_TRANSPORT:
    if (!scan->pair_id)
      scan->pair_id = gst_structure_get_string (s, "selected-candidate-pair-id");
    break;
  default:
    break;
  }
  return TRUE;
}

static const GstStructure *
stats_lookup (const GstStructure *reply, const char *id)
{
  const GValue *value = id ? gst_structure_get_value (reply, id) : NULL;

  return value && GST_VALUE_HOLDS_STRUCTURE (value) ? gst_value_get_structure (value) : NULL;
}

/* 1.22 swaps the type (local/remote) of candidate stats: follow the ids from
 * the selected pair instead. */
static const char *
candidate_type (const GstStructure *reply, const GstStructure *pair, const char *which)
{
  const GstStructure *candidate = stats_lookup (reply, gst_structure_get_string (pair, which));
  const char *type = candidate ? gst_structure_get_string (candidate, "candidate-type") : NULL;

  if (!type)
    return NULL;
  if (g_str_has_prefix (type, "host"))
    return "host";
  if (g_str_has_prefix (type, "srflx") || g_str_has_prefix (type, "serflx") ||
      g_str_has_prefix (type, "server"))
    return "srflx";
  if (g_str_has_prefix (type, "prflx") || g_str_has_prefix (type, "peer"))
    return "prflx";
  if (g_str_has_prefix (type, "relay"))
    return "relay";
  return NULL;
}

void
vchatd_stats_scan (const GstStructure *reply, VchatdStatsScan *out)
{
  StatsScan scan = { out, NULL };
  const GstStructure *pair;

  out->bytes_sent = 0;
  out->bytes_received = 0;
  out->packets_received = 0;
  out->packets_lost = 0;
  out->rtt = -1.0;
  out->fraction_lost = -1.0;
  out->jitter = -1.0;
  out->local_candidate = NULL;
  out->remote_candidate = NULL;
  gst_structure_foreach (reply, scan_stats_field, &scan);
  pair = stats_lookup (reply, scan.pair_id);
  if (pair) {
    out->local_candidate = candidate_type (reply, pair, "local-candidate-id");
    out->remote_candidate = candidate_type (reply, pair, "remote-candidate-id");
  }
}
