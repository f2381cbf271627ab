/* Unit tests of the checks on what the peer sends (daemon/vchatd-sdp.c):
 * a browser's offer passes; each thing a broken or hostile peer could get
 * wrong is refused with a message that names it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "vchatd-sdp.h"

/* What Chromium offers, trimmed to what matters here. */
static const char OFFER[] =
  "v=0\r\n"
  "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
  "s=-\r\n"
  "t=0 0\r\n"
  "a=group:BUNDLE 0 1 2\r\n"
  "a=msid-semantic: WMS\r\n"
  "m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\n"
  "c=IN IP4 0.0.0.0\r\n"
  "a=ice-ufrag:Ab3d\r\n"
  "a=ice-pwd:0123456789abcdefghijkl\r\n"
  "a=fingerprint:sha-256 "
  "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\n"
  "a=setup:actpass\r\n"
  "a=mid:0\r\n"
  "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
  "a=sendrecv\r\n"
  "a=rtcp-mux\r\n"
  "a=rtpmap:111 opus/48000/2\r\n"
  "a=rtpmap:63 red/48000/2\r\n"
  "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n"
  "c=IN IP4 0.0.0.0\r\n"
  "a=ice-ufrag:Ab3d\r\n"
  "a=ice-pwd:0123456789abcdefghijkl\r\n"
  "a=fingerprint:sha-256 "
  "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\n"
  "a=setup:actpass\r\n"
  "a=mid:1\r\n"
  "a=extmap:5 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
  "a=sendrecv\r\n"
  "a=rtcp-mux\r\n"
  "a=rtpmap:96 VP8/90000\r\n"
  "a=rtcp-fb:96 transport-cc\r\n"
  "a=rtcp-fb:96 nack\r\n"
  "a=rtpmap:97 rtx/90000\r\n"
  "a=fmtp:97 apt=96\r\n"
  "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
  "c=IN IP4 0.0.0.0\r\n"
  "a=ice-ufrag:Ab3d\r\n"
  "a=ice-pwd:0123456789abcdefghijkl\r\n"
  "a=fingerprint:sha-256 "
  "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\n"
  "a=setup:actpass\r\n"
  "a=mid:2\r\n"
  "a=sctp-port:5000\r\n";

static char *
replace (const char *text, const char *from, const char *to)
{
  g_auto (GStrv) parts = g_strsplit (text, from, -1);

  g_assert_cmpuint (g_strv_length (parts), >=, 2); /* @from is in the text */
  return g_strjoinv (to, parts);
}

/* Replaces only the first @from. */
static char *
replace_first (const char *text, const char *from, const char *to)
{
  const char *at = strstr (text, from);

  g_assert_nonnull (at);
  return g_strdup_printf ("%.*s%s%s", (int) (at - text), text, to, at + strlen (from));
}

static void
assert_refused (const char *sdp, const char *expect)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstSDPMessage) msg = vchatd_sdp_parse_remote (sdp, &error);

  g_assert_null (msg);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_test_message ("refused: %s", error->message);
  g_assert_nonnull (strstr (error->message, expect));
}

static void
test_browser_offer (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstSDPMessage) msg = vchatd_sdp_parse_remote (OFFER, &error);

  g_assert_no_error (error);
  g_assert_nonnull (msg);
  g_assert_cmpuint (gst_sdp_message_medias_len (msg), ==, 3);
  g_assert_cmpuint (vchatd_sdp_find_payload_type (gst_sdp_message_get_media (msg, 0), "OPUS"), ==,
                    111);
  g_assert_cmpuint (vchatd_sdp_find_payload_type (gst_sdp_message_get_media (msg, 1), "vp8"), ==,
                    96);
  g_assert_cmpuint (vchatd_sdp_find_payload_type (gst_sdp_message_get_media (msg, 1), "H264"), ==,
                    G_MAXUINT);
  g_assert_cmpuint (vchatd_sdp_find_twcc_id (gst_sdp_message_get_media (msg, 0)), ==, 3);
  g_assert_cmpuint (vchatd_sdp_find_twcc_id (gst_sdp_message_get_media (msg, 1)), ==, 5);
  g_assert_cmpuint (vchatd_sdp_find_twcc_id (gst_sdp_message_get_media (msg, 2)), ==, 0);
}

/* Found by fuzz-sdp: an rtpmap line names a payload type the m= line does
 * not list, or one out of range, and an extmap id out of range. */
static void
test_lookups_trust_nothing (void)
{
  GstSDPMedia *media = NULL;

  gst_sdp_media_new (&media);
  gst_sdp_media_set_media (media, "video");
  gst_sdp_media_add_format (media, "96");
  gst_sdp_media_add_attribute (media, "rtpmap", "300 VP8/90000");
  gst_sdp_media_add_attribute (media, "rtpmap", "97 VP8/90000");
  gst_sdp_media_add_attribute (media, "extmap", "0 " VCHATD_SDP_TWCC_URI);
  gst_sdp_media_add_attribute (media, "extmap", "256 " VCHATD_SDP_TWCC_URI);
  g_assert_cmpuint (vchatd_sdp_find_payload_type (media, "VP8"), ==, G_MAXUINT);
  g_assert_cmpuint (vchatd_sdp_find_twcc_id (media), ==, 0);
  gst_sdp_media_add_attribute (media, "rtpmap", "96 VP8/90000");
  gst_sdp_media_add_attribute (media, "extmap", "7/sendrecv " VCHATD_SDP_TWCC_URI);
  g_assert_cmpuint (vchatd_sdp_find_payload_type (media, "VP8"), ==, 96);
  g_assert_cmpuint (vchatd_sdp_find_twcc_id (media), ==, 7);
  gst_sdp_media_free (media);
}

static void
test_refused (void)
{
  struct {
    const char *from, *to, *expect;
    gboolean first_only;
  } cases[] = {
    { "a=fingerprint:", "a=x-fingerprint:", "fingerprint", FALSE },
    { "sha-256 AA:BB", "sha-256 AA:BBB", "fingerprint", TRUE },
    { "a=ice-pwd:0123456789abcdefghijkl", "a=ice-pwd:short", "ice-pwd", FALSE },
    { "a=ice-ufrag:Ab3d", "a=ice-ufrag:A", "ice-ufrag", FALSE },
    { "a=mid:1\r\n", "", "a=mid", FALSE },
    { "RTP/SAVPF 96 97", "RTP/SAVPF 96 9999", "payload type", FALSE },
    { "a=rtpmap:96 VP8/90000", "a=rtpmap:96 VP8", "rtpmap", FALSE },
    { "a=rtpmap:96 VP8/90000", "a=rtpmap:abc VP8/90000", "rtpmap", FALSE },
    { "a=extmap:5 ", "a=extmap:x ", "extmap", FALSE },
    { "m=video 9 UDP/TLS/RTP/SAVPF", "m=video 9 RTP/AVP", "transport", FALSE },
    { "m=application 9 UDP/DTLS/SCTP", "m=application 9 UDP/TLS/RTP/SAVPF", "SCTP", FALSE },
    { "m=video", "m=text", "unsupported media", FALSE },
    { "a=setup:actpass", "a=setup:sideways", "a=setup", TRUE },
    { "a=group:BUNDLE 0 1 2", "a=group:BUNDLE 0 1 2 9", "unknown media", FALSE },
    { "v=0", "v=1", "does not parse", FALSE },
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *sdp = cases[i].first_only
                             ? replace_first (OFFER, cases[i].from, cases[i].to)
                             : replace (OFFER, cases[i].from, cases[i].to);

    assert_refused (sdp, cases[i].expect);
  }
}

/* webrtcbin would refuse bundled media with other ICE credentials later, on
 * its own thread; refused at once here. */
static void
test_bundle_credentials (void)
{
  const char *second = strstr (strstr (OFFER, "a=ice-ufrag:") + 1, "a=ice-ufrag:");
  g_autofree char *head = g_strndup (OFFER, second - OFFER);
  g_autofree char *mixed = g_strconcat (head, "a=ice-ufrag:Zz9y", second + strlen ("a=ice-ufrag:Ab3d"), NULL);
  g_autofree char *unbundled = replace (mixed, "a=group:BUNDLE 0 1 2", "a=group:BUNDLE 0 2");
  g_autoptr (GError) error = NULL;
  g_autoptr (GstSDPMessage) msg = NULL;

  assert_refused (mixed, "other ICE credentials");
  /* Not bundled together: each media may have its own. */
  msg = vchatd_sdp_parse_remote (unbundled, &error);
  g_assert_no_error (error);
}

static void
test_sizes (void)
{
  GString *big = g_string_new (OFFER);
  GString *many = g_string_new ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n");
  const char *video = strstr (OFFER, "m=video");
  const char *application = strstr (OFFER, "m=application");
  guint i;

  assert_refused ("", "empty");
  assert_refused ("v=0\r\n", "media sections");
  assert_refused ("\xff\xfe binary", "not text");
  while (big->len <= VCHATD_SDP_MAX_LENGTH)
    g_string_append (big, "a=x-padding:0123456789012345678901234567890123456789\r\n");
  assert_refused (big->str, "too long");
  for (i = 0; i <= VCHATD_SDP_MAX_MEDIA; i++)
    g_string_append_len (many, video, application - video);
  assert_refused (many->str, "media sections");
  g_string_free (big, TRUE);
  g_string_free (many, TRUE);
}

static void
test_answer_matches_offer (void)
{
  g_autoptr (GstSDPMessage) offer = vchatd_sdp_parse_remote (OFFER, NULL);
  g_autofree char *fewer_text = g_strndup (OFFER, strstr (OFFER, "m=application") - OFFER);
  g_autofree char *fewer_bundle = replace (fewer_text, "BUNDLE 0 1 2", "BUNDLE 0 1");
  g_autoptr (GstSDPMessage) fewer = vchatd_sdp_parse_remote (fewer_bundle, NULL);
  g_autofree char *swapped_first = replace_first (OFFER, "m=audio", "m=TMP");
  g_autofree char *swapped_text = replace (swapped_first, "m=video", "m=audio");
  g_autofree char *swapped_final = replace (swapped_text, "m=TMP", "m=video");
  g_autoptr (GstSDPMessage) swapped = vchatd_sdp_parse_remote (swapped_final, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (offer);
  g_assert_nonnull (fewer);
  g_assert_nonnull (swapped);
  g_assert_true (vchatd_sdp_check_answer (offer, offer, &error));
  g_assert_no_error (error);
  g_assert_false (vchatd_sdp_check_answer (NULL, offer, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (vchatd_sdp_check_answer (offer, fewer, &error));
  g_assert_nonnull (strstr (error->message, "2 media sections for our 3"));
  g_clear_error (&error);
  g_assert_false (vchatd_sdp_check_answer (offer, swapped, &error));
  g_assert_nonnull (strstr (error->message, "has video where our offer has audio"));
}

static void
test_candidates (void)
{
  struct {
    const char *candidate;
    gboolean ok, skip;
  } cases[] = {
    { "candidate:1 1 UDP 2122252543 192.0.2.7 40000 typ host", TRUE, FALSE },
    { "a=candidate:1 1 udp 2122252543 2001:db8::7 40000 typ host", TRUE, FALSE },
    { "candidate:2 1 TCP 1518280447 192.0.2.7 9 typ host tcptype active", TRUE, FALSE },
    { "candidate:3 1 UDP 1686052607 198.51.100.1 5000 typ srflx raddr 0.0.0.0 rport 0", TRUE,
      FALSE },
    { "candidate:4 1 UDP 41885439 203.0.113.5 3478 typ relay", TRUE, FALSE },
    /* mDNS: well-formed, skipped */
    { "candidate:5 1 udp 2122252543 0f6b1f4e-4d6b-4c1d-9a0e-3f0f1b2c3d4e.local 40000 typ host",
      TRUE, TRUE },
    { "garbage", FALSE, FALSE },
    { "candidate:1 1 UDP 2122252543 192.0.2.7 99999 typ host", FALSE, FALSE },
    { "candidate:1 1 SCTP 2122252543 192.0.2.7 4000 typ host", FALSE, FALSE },
    { "candidate:1 1 UDP 2122252543 192.0.2.7 4000 typ sideways", FALSE, FALSE },
    { "candidate:1 1 UDP 2122252543 192.0.2.7 4000 type host", FALSE, FALSE },
    { "candidate:1 1 UDP 99999999999 192.0.2.7 4000 typ host", FALSE, FALSE },
    { "candidate:1 1 UDP 2122252543 192.0.2.7 4000 typ host\x1b[2K", FALSE, FALSE },
    { "candidate:1 1 UDP", FALSE, FALSE },
  };
  g_autofree char *long_one = NULL;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    gboolean skip = !cases[i].skip;
    gboolean ok = vchatd_sdp_check_candidate (cases[i].candidate, &skip, &error);

    g_test_message ("%s: %s", cases[i].candidate, ok ? (skip ? "skip" : "ok") : error->message);
    g_assert_cmpint (ok, ==, cases[i].ok);
    if (ok) {
      g_assert_no_error (error);
      g_assert_cmpint (skip, ==, cases[i].skip);
    } else {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    }
  }
  long_one = g_strdup_printf ("candidate:1 1 UDP 2122252543 192.0.2.7 4000 typ host %*s",
                              VCHATD_SDP_MAX_CANDIDATE_LENGTH, "x");
  g_assert_false (vchatd_sdp_check_candidate (long_one, &(gboolean){ FALSE }, NULL));
}

/* Where a peer may aim our connectivity checks. */
static void
test_candidate_targets (void)
{
  static const struct {
    const char *candidate;
    gboolean allowed;
  } cases[] = {
    { "candidate:1 1 UDP 2122252543 192.0.2.7 40000 typ host", TRUE },
    { "a=candidate:1 1 UDP 2122252543 2001:db8::7 40000 typ host", TRUE },
    { "candidate:2 1 UDP 1686052607 198.51.100.3 50000 typ srflx raddr 0.0.0.0 rport 0", TRUE },
    /* TCP active: never sent to, its port is 9 by convention. */
    { "candidate:3 1 TCP 1015021823 192.0.2.7 9 typ host tcptype active", TRUE },
    { "candidate:3 1 TCP 1010827519 192.0.2.7 80 typ host tcptype passive", FALSE },
    { "candidate:1 1 UDP 2122252543 192.0.2.7 53 typ host", FALSE },
    { "candidate:1 1 UDP 2122252543 192.0.2.7 0 typ host", FALSE },
    { "candidate:1 1 UDP 2122252543 0.0.0.0 40000 typ host", FALSE },
    { "candidate:1 1 UDP 2122252543 :: 40000 typ host", FALSE },
    { "candidate:1 1 UDP 2122252543 224.0.0.251 5353 typ host", FALSE },
    { "candidate:1 1 UDP 2122252543 ff02::1 40000 typ host", FALSE },
    { "candidate:1 1 UDP 2122252543 255.255.255.255 40000 typ host", FALSE },
    { "candidate:1 1 UDP 2122252543 peer.local 40000 typ host", FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    const char *why = NULL;
    gboolean allowed = vchatd_sdp_candidate_target_allowed (cases[i].candidate, &why);

    g_test_message ("%s: %s", cases[i].candidate, allowed ? "allowed" : why);
    g_assert_cmpint (allowed, ==, cases[i].allowed);
    if (!allowed)
      g_assert_nonnull (why);
  }
}

/* What of our own candidates a stranger gets. */
static void
test_candidates_for_strangers (void)
{
  static const struct {
    const char *candidate;
    const char *shown; /* NULL: not given */
  } cases[] = {
    /* Host candidates on the local network stay at home. */
    { "candidate:1 1 UDP 2015363327 192.168.1.20 40000 typ host", NULL },
    { "candidate:1 1 UDP 2015363327 10.77.1.2 40000 typ host", NULL },
    { "candidate:1 1 UDP 2015363327 172.20.0.5 40000 typ host", NULL },
    { "candidate:1 1 UDP 2015363327 100.90.1.1 40000 typ host", NULL },
    { "candidate:1 1 UDP 2015363327 169.254.3.4 40000 typ host", NULL },
    { "candidate:1 1 UDP 2015363327 fe80::fc:ff:fe00:1 40000 typ host", NULL },
    { "candidate:1 1 UDP 2015363327 fd00::2 40000 typ host", NULL },
    { "candidate:1 1 UDP 2015363327 ::ffff:192.168.1.20 40000 typ host", NULL },
    { "candidate:2 1 TCP 1015021823 10.0.0.3 9 typ host tcptype active", NULL },
    /* Public ones go as they are. */
    { "candidate:1 1 UDP 2015363327 192.0.2.2 40000 typ host",
      "candidate:1 1 UDP 2015363327 192.0.2.2 40000 typ host" },
    { "a=candidate:1 1 UDP 2015363327 2001:db8::2 40000 typ host",
      "a=candidate:1 1 UDP 2015363327 2001:db8::2 40000 typ host" },
    /* Reflexive and relay ones lose the host address behind them. */
    { "candidate:3 1 UDP 1686052607 198.51.100.7 51000 typ srflx raddr 192.168.1.20 rport 40000",
      "candidate:3 1 UDP 1686052607 198.51.100.7 51000 typ srflx raddr 0.0.0.0 rport 0" },
    { "candidate:4 1 UDP 41885439 2001:db8::9 52000 typ relay raddr fd00::2 rport 40000 "
      "generation 0",
      "candidate:4 1 UDP 41885439 2001:db8::9 52000 typ relay raddr :: rport 0 generation 0" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *shown = vchatd_sdp_candidate_for_stranger (cases[i].candidate);

    g_test_message ("%s → %s", cases[i].candidate, shown ? shown : "(not given)");
    g_assert_cmpstr (shown, ==, cases[i].shown);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sdp/browser-offer", test_browser_offer);
  g_test_add_func ("/sdp/lookups-trust-nothing", test_lookups_trust_nothing);
  g_test_add_func ("/sdp/refused", test_refused);
  g_test_add_func ("/sdp/bundle-credentials", test_bundle_credentials);
  g_test_add_func ("/sdp/sizes", test_sizes);
  g_test_add_func ("/sdp/answer-matches-offer", test_answer_matches_offer);
  g_test_add_func ("/sdp/candidates", test_candidates);
  g_test_add_func ("/sdp/candidate-targets", test_candidate_targets);
  g_test_add_func ("/sdp/candidates-for-strangers", test_candidates_for_strangers);
  return g_test_run ();
}
