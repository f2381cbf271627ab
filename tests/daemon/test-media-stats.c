/* Unit tests of the stats extraction: a get-stats reply made by hand, the
 * way webrtcbin 1.22.0 answers (candidate types swapped between the local
 * and remote candidate structures, several RTP streams).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/webrtc/webrtc.h>

#include "vchatd-media-stats.h"

static GstStructure *
stat (GstWebRTCStatsType type, const char *first_field, ...)
{
  GstStructure *s = gst_structure_new ("stats", "type", GST_TYPE_WEBRTC_STATS_TYPE, type, NULL);
  va_list args;

  va_start (args, first_field);
  if (first_field)
    gst_structure_set_valist (s, first_field, args);
  va_end (args);
  return s;
}

static void
add (GstStructure *reply, const char *id, GstStructure *s)
{
  gst_structure_set (reply, id, GST_TYPE_STRUCTURE, s, NULL);
  gst_structure_free (s);
}

static void
test_full_reply (void)
{
  g_autoptr (GstStructure) reply = gst_structure_new_empty ("application/x-webrtc-stats");
  VchatdStatsScan scan;

  add (reply, "out-video",
       stat (GST_WEBRTC_STATS_OUTBOUND_RTP, "bytes-sent", G_TYPE_UINT64, (guint64) 1000, NULL));
  add (reply, "out-audio",
       stat (GST_WEBRTC_STATS_OUTBOUND_RTP, "bytes-sent", G_TYPE_UINT64, (guint64) 500, NULL));
  add (reply, "in-video",
       stat (GST_WEBRTC_STATS_INBOUND_RTP, "bytes-received", G_TYPE_UINT64, (guint64) 2000,
             "jitter", G_TYPE_DOUBLE, 0.004, NULL));
  add (reply, "in-audio",
       stat (GST_WEBRTC_STATS_INBOUND_RTP, "jitter", G_TYPE_DOUBLE, 0.012, NULL));
  add (reply, "remote-in-video",
       stat (GST_WEBRTC_STATS_REMOTE_INBOUND_RTP, "round-trip-time", G_TYPE_DOUBLE, 0.05,
             "fraction-lost", G_TYPE_DOUBLE, 0.1, NULL));
  add (reply, "remote-in-audio",
       stat (GST_WEBRTC_STATS_REMOTE_INBOUND_RTP, "round-trip-time", G_TYPE_DOUBLE, 0.02,
             "fraction-lost", G_TYPE_DOUBLE, 0.3, NULL));
  add (
    reply, "transport",
    stat (GST_WEBRTC_STATS_TRANSPORT, "selected-candidate-pair-id", G_TYPE_STRING, "pair", NULL));
  add (reply, "pair",
       stat (GST_WEBRTC_STATS_CANDIDATE_PAIR, "local-candidate-id", G_TYPE_STRING, "cand-l",
             "remote-candidate-id", G_TYPE_STRING, "cand-r", NULL));
  /* 1.22.0 labels these the wrong way round; only the pair's ids are right. */
  add (reply, "cand-l",
       stat (GST_WEBRTC_STATS_REMOTE_CANDIDATE, "candidate-type", G_TYPE_STRING, "relay", NULL));
  add (reply, "cand-r",
       stat (GST_WEBRTC_STATS_LOCAL_CANDIDATE, "candidate-type", G_TYPE_STRING, "srflx", NULL));
  /* A candidate not in the selected pair changes nothing. */
  add (reply, "cand-other",
       stat (GST_WEBRTC_STATS_LOCAL_CANDIDATE, "candidate-type", G_TYPE_STRING, "host", NULL));

  vchatd_stats_scan (reply, &scan);
  g_assert_cmpuint (scan.bytes_sent, ==, 1500);
  g_assert_cmpuint (scan.bytes_received, ==, 2000);
  /* The worst stream is what a person feels. */
  g_assert_cmpfloat_with_epsilon (scan.rtt, 0.05, 1e-9);
  g_assert_cmpfloat_with_epsilon (scan.fraction_lost, 0.3, 1e-9);
  /* The worst inbound stream's jitter. */
  g_assert_cmpfloat_with_epsilon (scan.jitter, 0.012, 1e-9);
  g_assert_cmpstr (scan.local_candidate, ==, "relay");
  g_assert_cmpstr (scan.remote_candidate, ==, "srflx");
}

static void
test_empty_reply (void)
{
  g_autoptr (GstStructure) reply = gst_structure_new_empty ("application/x-webrtc-stats");
  VchatdStatsScan scan;

  /* Before anything flows: everything unknown, nothing made up. */
  add (reply, "junk", gst_structure_new ("x", "no-type", G_TYPE_INT, 1, NULL));
  add (reply, "transport",
       stat (GST_WEBRTC_STATS_TRANSPORT, "selected-candidate-pair-id", G_TYPE_STRING, "missing",
             NULL));
  vchatd_stats_scan (reply, &scan);
  g_assert_cmpuint (scan.bytes_sent, ==, 0);
  g_assert_cmpuint (scan.bytes_received, ==, 0);
  g_assert_cmpfloat (scan.rtt, <, 0);
  g_assert_cmpfloat (scan.fraction_lost, <, 0);
  g_assert_cmpfloat (scan.jitter, <, 0);
  g_assert_null (scan.local_candidate);
  g_assert_null (scan.remote_candidate);
}

static void
test_candidate_type_names (void)
{
  static const struct {
    const char *in, *out;
  } names[] = {
    { "host", "host" },   { "srflx", "srflx" }, { "serflx", "srflx" },
    { "prflx", "prflx" }, { "relay", "relay" }, { "bogus", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autoptr (GstStructure) reply = gst_structure_new_empty ("application/x-webrtc-stats");
    VchatdStatsScan scan;

    add (reply, "t",
         stat (GST_WEBRTC_STATS_TRANSPORT, "selected-candidate-pair-id", G_TYPE_STRING, "p", NULL));
    add (reply, "p",
         stat (GST_WEBRTC_STATS_CANDIDATE_PAIR, "local-candidate-id", G_TYPE_STRING, "c",
               "remote-candidate-id", G_TYPE_STRING, "c", NULL));
    add (
      reply, "c",
      stat (GST_WEBRTC_STATS_LOCAL_CANDIDATE, "candidate-type", G_TYPE_STRING, names[i].in, NULL));
    vchatd_stats_scan (reply, &scan);
    g_assert_cmpstr (scan.local_candidate, ==, names[i].out);
  }
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/media-stats/full-reply", test_full_reply);
  g_test_add_func ("/media-stats/empty-reply", test_empty_reply);
  g_test_add_func ("/media-stats/candidate-types", test_candidate_type_names);
  return g_test_run ();
}
