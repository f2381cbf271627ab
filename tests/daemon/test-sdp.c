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

/* An H.264-only peer, as Safari or a device with a hardware encoder offers
 * it: the format vchat takes is constrained baseline in packetization-mode
 * 1, and nothing else. */
/* What an answerer to vchatd's offer (VP8 first, H.264 second) chose: its
 * first format that is a codec, whatever RTX or RED come before it. */
static void
test_answer_video_format (void)
{
  static const struct {
    const char *mline;
    const char *rtpmaps;
    guint pt;
    VchatdSdpVideoCodec codec;
  } cases[] = {
    /* A browser: VP8 first, as offered; H.264 still listed. */
    { "96 97 102 103", "a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n"
      "a=rtpmap:102 H264/90000\r\na=rtpmap:103 rtx/90000\r\n", 96, VCHATD_SDP_VIDEO_VP8 },
    /* An H.264-only answerer (aiortc configured so, some Safari versions). */
    { "102 103", "a=rtpmap:102 H264/90000\r\na=rtpmap:103 rtx/90000\r\n", 102,
      VCHATD_SDP_VIDEO_H264 },
    /* One that prefers H.264 and puts RTX and RED first. */
    { "103 98 102 96", "a=rtpmap:103 rtx/90000\r\na=rtpmap:98 red/90000\r\n"
      "a=rtpmap:102 h264/90000\r\na=rtpmap:96 VP8/90000\r\n", 102, VCHATD_SDP_VIDEO_H264 },
    /* Another vchatd, given VP9 first. */
    { "98 99 96", "a=rtpmap:98 VP9/90000\r\na=rtpmap:99 rtx/90000\r\n"
      "a=rtpmap:96 VP8/90000\r\n", 98, VCHATD_SDP_VIDEO_VP9 },
    /* Nothing of ours: an AV1 format, and a format without an rtpmap. */
    { "45 35", "a=rtpmap:45 AV1/90000\r\n", G_MAXUINT, VCHATD_SDP_VIDEO_VP8 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *mline = g_strdup_printf ("m=video 9 UDP/TLS/RTP/SAVPF %s\r\n", cases[i].mline);
    g_autofree char *step = replace (OFFER, "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n", mline);
    g_autofree char *text = replace (step, "a=rtpmap:96 VP8/90000\r\n", cases[i].rtpmaps);
    g_autoptr (GError) error = NULL;
    g_autoptr (GstSDPMessage) msg = NULL;
    VchatdSdpVideoCodec codec = VCHATD_SDP_VIDEO_VP8;

    /* The rtx fmtp of the template names 96; irrelevant here. */
    g_assert_cmpint (gst_sdp_message_new_from_text (text, &msg), ==, GST_SDP_OK);
    g_assert_cmpuint (vchatd_sdp_answer_video_format (gst_sdp_message_get_media (msg, 1), &codec),
                      ==, cases[i].pt);
    if (cases[i].pt != G_MAXUINT)
      g_assert_cmpint (codec, ==, cases[i].codec);
  }
}

/* VP9 is taken only where it comes first (what a vchatd offers another
 * vchatd), in profile 0: browsers list VP8 first, and keep it. */
static void
test_vp9_first (void)
{
  static const struct {
    const char *mline;
    const char *rtpmaps;
    guint pt;
  } cases[] = {
    /* vchatd to vchatd: VP9 profile 0, then VP8 and H.264. */
    { "98 99 96 97 102", "a=rtpmap:98 VP9/90000\r\na=fmtp:98 profile-id=0\r\n"
      "a=rtpmap:99 rtx/90000\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:102 H264/90000\r\n", 98 },
    /* No profile-id is profile 0; RTX and RED before it are passed over. */
    { "97 100 98", "a=rtpmap:97 rtx/90000\r\na=rtpmap:100 red/90000\r\n"
      "a=rtpmap:98 vp9/90000\r\n", 98 },
    /* A browser: VP8 first, VP9 after it. */
    { "96 97 98 99", "a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n"
      "a=rtpmap:98 VP9/90000\r\na=rtpmap:99 rtx/90000\r\n", G_MAXUINT },
    /* Profile 2 (10-bit): not what vp9enc makes from the camera. */
    { "100 96", "a=rtpmap:100 VP9/90000\r\na=fmtp:100 profile-id=2\r\n"
      "a=rtpmap:96 VP8/90000\r\n", G_MAXUINT },
    /* An rtpmap the m= line does not list is no format. */
    { "96", "a=rtpmap:98 VP9/90000\r\na=rtpmap:96 VP8/90000\r\n", G_MAXUINT },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *mline = g_strdup_printf ("m=video 9 UDP/TLS/RTP/SAVPF %s\r\n", cases[i].mline);
    g_autofree char *step = replace (OFFER, "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n", mline);
    g_autofree char *text = replace (step, "a=rtpmap:96 VP8/90000\r\n", cases[i].rtpmaps);
    g_autoptr (GstSDPMessage) msg = NULL;

    g_assert_cmpint (gst_sdp_message_new_from_text (text, &msg), ==, GST_SDP_OK);
    g_assert_cmpuint (vchatd_sdp_find_vp9_first (gst_sdp_message_get_media (msg, 1)), ==,
                      cases[i].pt);
  }
}

static void
test_h264 (void)
{
  static const char *const h264_lines =
    "m=video 9 UDP/TLS/RTP/SAVPF 102 103 108 123 127 96\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:Ab3d\r\n"
    "a=ice-pwd:0123456789abcdefghijkl\r\n"
    "a=fingerprint:sha-256 "
    "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\n"
    "a=setup:actpass\r\n"
    "a=mid:1\r\n"
    "a=sendrecv\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:102 H264/90000\r\n"
    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n"
    "a=rtpmap:103 rtx/90000\r\n"
    "a=fmtp:103 apt=102\r\n"
    "a=rtpmap:108 H264/90000\r\n"
    "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f\r\n"
    "a=rtpmap:123 H264/90000\r\n"
    "a=fmtp:123 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640032\r\n"
    "a=rtpmap:127 H264/90000\r\n"
    "a=fmtp:127 level-asymmetry-allowed=1; packetization-mode=1; profile-level-id=42E01F\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=fmtp:200 packetization-mode=1;profile-level-id=42e01f\r\n";
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) halves = g_strsplit (OFFER, "m=video", 2);
  g_auto (GStrv) tail = g_strsplit (halves[1], "m=application", 2);
  g_autofree char *text = g_strconcat (halves[0], h264_lines, "m=application", tail[1], NULL);
  g_autoptr (GstSDPMessage) msg = vchatd_sdp_parse_remote (text, &error);
  g_autofree char *profile = NULL;
  const GstSDPMedia *video;

  g_assert_no_error (error);
  video = gst_sdp_message_get_media (msg, 1);
  /* 127 (constrained baseline, mode 1; parameters spaced, in capitals)
   * before 102 (baseline, mode 1); not 108 (mode 0), 123 (high), or 96
   * (its fmtp names another payload type). */
  g_assert_cmpuint (vchatd_sdp_find_h264 (video, &profile), ==, 127);
  g_assert_cmpstr (profile, ==, "42e01f");
  g_assert_true (vchatd_sdp_check_codecs (msg, &error));
  g_assert_no_error (error);
  {
    g_autofree char *baseline_text = replace (text, "a=rtpmap:127 H264", "a=rtpmap:127 H265");
    g_autoptr (GstSDPMessage) baseline = vchatd_sdp_parse_remote (baseline_text, &error);
    g_autofree char *baseline_profile = NULL;

    g_assert_no_error (error);
    g_assert_cmpuint (vchatd_sdp_find_h264 (gst_sdp_message_get_media (baseline, 1),
                                            &baseline_profile),
                      ==, 102);
    g_assert_cmpstr (baseline_profile, ==, "42001f");
  }
  {
    g_autofree char *step = replace (text, "profile-level-id=42001f", "profile-level-id=4d001f");
    g_autofree char *none_text = replace (step, "42E01F", "640c1f");
    g_autoptr (GstSDPMessage) none = vchatd_sdp_parse_remote (none_text, &error);
    g_autofree char *none_profile = NULL;

    g_assert_no_error (error);
    g_assert_cmpuint (vchatd_sdp_find_h264 (gst_sdp_message_get_media (none, 1), &none_profile),
                      ==, G_MAXUINT);
    g_assert_null (none_profile);
    g_assert_false (vchatd_sdp_check_codecs (none, &error));
    g_assert_nonnull (strstr (error->message, "is H264, and vchat needs VP8 or H.264"));
  }
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
  g_autoptr (GstSDPMessage) normalised = NULL;

  /* Bundled: the second media takes the first's credentials (aiortc writes
   * its own in each; webrtcbin 1.22 would refuse them). */
  normalised = vchatd_sdp_parse_remote (mixed, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (gst_sdp_media_get_attribute_val (gst_sdp_message_get_media (normalised, 1),
                                                    "ice-ufrag"),
                   ==, "Ab3d");
  g_assert_null (gst_sdp_media_get_attribute_val_n (gst_sdp_message_get_media (normalised, 1),
                                                   "ice-ufrag", 1));
  /* Not bundled together: each media keeps its own. */
  msg = vchatd_sdp_parse_remote (unbundled, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (
    gst_sdp_media_get_attribute_val (gst_sdp_message_get_media (msg, 1), "ice-ufrag"), ==, "Zz9y");
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
    /* mDNS: well-formed, resolved (vchatd_sdp_candidate_mdns_name()) */
    { "candidate:5 1 udp 2122252543 0f6b1f4e-4d6b-4c1d-9a0e-3f0f1b2c3d4e.local 40000 typ host",
      TRUE, FALSE },
    /* Other names: well-formed, not looked up for a stranger */
    { "candidate:5 1 udp 2122252543 peer.example.org 40000 typ host", TRUE, TRUE },
    { "candidate:5 1 udp 2122252543 a.b.local 40000 typ host", TRUE, TRUE },
    { "candidate:5 1 udp 1686052607 0f6b1f4e.local 40000 typ srflx raddr 0.0.0.0 rport 0", TRUE,
      TRUE },
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

/* A host candidate's mDNS name, and the candidate once it is resolved:
 * only the one-label ".local" names browsers write are looked up. */
static void
test_mdns_candidates (void)
{
  static const struct {
    const char *candidate;
    const char *name;
  } cases[] = {
    { "candidate:0 1 UDP 2122187007 c304875e-a649-4cd5-a3ea-d10e20344aa9.local 53069 typ host",
      "c304875e-a649-4cd5-a3ea-d10e20344aa9.local" },
    { "a=candidate:2 1 TCP 2105458943 Peer-1.LOCAL 9 typ host tcptype active", "Peer-1.LOCAL" },
    { "candidate:0 1 UDP 2122187007 192.0.2.2 53069 typ host", NULL },
    { "candidate:0 1 UDP 2122187007 peer.example.org 53069 typ host", NULL },
    { "candidate:0 1 UDP 2122187007 a.b.local 53069 typ host", NULL },
    { "candidate:0 1 UDP 2122187007 .local 53069 typ host", NULL },
    { "candidate:0 1 UDP 2122187007 -x.local 53069 typ host", NULL },
    { "candidate:0 1 UDP 2122187007 a_b.local 53069 typ host", NULL },
    { "candidate:0 1 UDP 2122187007 peer.local. 53069 typ host", NULL },
    /* mDNS names are for host candidates only. */
    { "candidate:3 1 UDP 1686052607 peer.local 50000 typ srflx raddr 0.0.0.0 rport 0", NULL },
    { "candidate:0 1 UDP", NULL },
  };
  g_autofree char *label = g_strnfill (64, 'a');
  g_autofree char *too_long = g_strdup_printf ("candidate:0 1 UDP 1 %s.local 5000 typ host", label);
  g_autoptr (GInetAddress) v4 = g_inet_address_new_from_string ("192.0.2.9");
  g_autoptr (GInetAddress) v6 = g_inet_address_new_from_string ("2001:db8::9");
  g_autofree char *resolved = NULL;
  g_autofree char *resolved6 = NULL;
  const char *why = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *name = vchatd_sdp_candidate_mdns_name (cases[i].candidate);

    g_test_message ("%s: %s", cases[i].candidate, name ? name : "(none)");
    g_assert_cmpstr (name, ==, cases[i].name);
  }
  g_assert_null (vchatd_sdp_candidate_mdns_name (too_long));

  /* Resolved, the candidate is an ordinary one and gets the same checks. */
  resolved = vchatd_sdp_candidate_with_address (cases[1].candidate, v4);
  g_assert_cmpstr (resolved, ==, "a=candidate:2 1 TCP 2105458943 192.0.2.9 9 typ host tcptype active");
  resolved6 = vchatd_sdp_candidate_with_address (cases[0].candidate, v6);
  g_assert_cmpstr (resolved6, ==, "candidate:0 1 UDP 2122187007 2001:db8::9 53069 typ host");
  g_assert_true (vchatd_sdp_candidate_target_allowed (resolved6, &why));
  g_assert_false (vchatd_sdp_candidate_target_allowed (cases[0].candidate, &why));
  {
    /* A name that resolves to a multicast address is refused as the
     * address would be. */
    g_autoptr (GInetAddress) multicast = g_inet_address_new_from_string ("224.0.0.251");
    g_autofree char *aimed = vchatd_sdp_candidate_with_address (cases[0].candidate, multicast);

    g_assert_false (vchatd_sdp_candidate_target_allowed (aimed, &why));
    g_assert_cmpstr (why, ==, "its address is a multicast or broadcast one");
  }
  g_assert_null (vchatd_sdp_candidate_with_address ("candidate:0 1 UDP", v4));
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

/* A real Firefox offer, verbatim: tests/fuzz/corpus-sdp/firefox-offer-datachannel.sdp,
 * captured from Firefox ESR 153 (headless, audio and video transceivers and
 * a data channel, read after ICE gathering) by tests/fuzz/make-firefox-corpus.py.
 * Not trimmed: a trimmed offer could leave out the very line that breaks. */
static const char FIREFOX_OFFER[] =
  "v=0\r\n"
  "o=mozilla...THIS_IS_SDPARTA-99.0 31319136603862550 0 IN IP4 0.0.0.0\r\n"
  "s=-\r\n"
  "t=0 0\r\n"
  "a=sendrecv\r\n"
  "a=fingerprint:sha-256 "
  "AB:A8:23:D2:C8:04:B4:6A:3C:96:FF:55:4A:C0:CF:7C:D3:EE:76:E7:CD:4C:67:69:BD:B6:E2:2A:D2:90:78:73\r\n"
  "a=group:BUNDLE 0 1 2\r\n"
  "a=ice-options:trickle\r\n"
  "a=msid-semantic:WMS *\r\n"
  "m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8 101\r\n"
  "c=IN IP4 0.0.0.0\r\n"
  "a=candidate:0 1 UDP 2122187007 03524104-a4e3-4ff9-b1e9-6aadc1b4ef1f.local 39345 typ host\r\n"
  "a=candidate:1 1 UDP 2122252543 d7c6409b-4718-41a4-953d-a3b01955889b.local 40235 typ host\r\n"
  "a=candidate:2 1 TCP 2105458943 03524104-a4e3-4ff9-b1e9-6aadc1b4ef1f.local 9 typ "
  "host tcptype active\r\n"
  "a=candidate:3 1 TCP 2105524479 d7c6409b-4718-41a4-953d-a3b01955889b.local 9 typ "
  "host tcptype active\r\n"
  "a=candidate:0 2 UDP 2122187006 03524104-a4e3-4ff9-b1e9-6aadc1b4ef1f.local 59010 typ host\r\n"
  "a=candidate:1 2 UDP 2122252542 d7c6409b-4718-41a4-953d-a3b01955889b.local 46045 typ host\r\n"
  "a=candidate:2 2 TCP 2105458942 03524104-a4e3-4ff9-b1e9-6aadc1b4ef1f.local 9 typ "
  "host tcptype active\r\n"
  "a=candidate:3 2 TCP 2105524478 d7c6409b-4718-41a4-953d-a3b01955889b.local 9 typ "
  "host tcptype active\r\n"
  "a=sendrecv\r\n"
  "a=end-of-candidates\r\n"
  "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
  "a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level\r\n"
  "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
  "a=extmap:7 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
  "a=extmap-allow-mixed\r\n"
  "a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1\r\n"
  "a=fmtp:101 0-15\r\n"
  "a=ice-pwd:9dc337244cb0b450bdaa45e9df6fa46f\r\n"
  "a=ice-ufrag:f55fb0e8\r\n"
  "a=mid:0\r\n"
  "a=msid:- {e8deded2-f4e4-4b8c-bf62-e7cc5fd9e6a9}\r\n"
  "a=rtcp:59010 IN IP4 03524104-a4e3-4ff9-b1e9-6aadc1b4ef1f.local\r\n"
  "a=rtcp-fb:109 transport-cc\r\n"
  "a=rtcp-fb:9 transport-cc\r\n"
  "a=rtcp-fb:0 transport-cc\r\n"
  "a=rtcp-fb:8 transport-cc\r\n"
  "a=rtcp-mux\r\n"
  "a=rtpmap:109 opus/48000/2\r\n"
  "a=rtpmap:9 G722/8000/1\r\n"
  "a=rtpmap:0 PCMU/8000\r\n"
  "a=rtpmap:8 PCMA/8000\r\n"
  "a=rtpmap:101 telephone-event/8000\r\n"
  "a=setup:actpass\r\n"
  "a=ssrc:3247249158 cname:{3d50d395-8994-4afc-a478-16a4d56779ab}\r\n"
  "m=video 9 UDP/TLS/RTP/SAVPF 120 124 121 125 99 100 123 122 119\r\n"
  "c=IN IP4 0.0.0.0\r\n"
  "a=candidate:0 1 UDP 2122187007 03524104-a4e3-4ff9-b1e9-6aadc1b4ef1f.local 37808 typ host\r\n"
  "a=candidate:1 1 UDP 2122252543 d7c6409b-4718-41a4-953d-a3b01955889b.local 55011 typ host\r\n"
  "a=candidate:2 1 TCP 2105458943 03524104-a4e3-4ff9-b1e9-6aadc1b4ef1f.local 9 typ "
  "host tcptype active\r\n"
  "a=candidate:3 1 TCP 2105524479 d7c6409b-4718-41a4-953d-a3b01955889b.local 9 typ "
  "host tcptype active\r\n"
  "a=candidate:0 2 UDP 2122187006 03524104-a4e3-4ff9-b1e9-6aadc1b4ef1f.local 46250 typ host\r\n"
  "a=candidate:1 2 UDP 2122252542 d7c6409b-4718-41a4-953d-a3b01955889b.local 37222 typ host\r\n"
  "a=candidate:2 2 TCP 2105458942 03524104-a4e3-4ff9-b1e9-6aadc1b4ef1f.local 9 typ "
  "host tcptype active\r\n"
  "a=candidate:3 2 TCP 2105524478 d7c6409b-4718-41a4-953d-a3b01955889b.local 9 typ "
  "host tcptype active\r\n"
  "a=sendrecv\r\n"
  "a=end-of-candidates\r\n"
  "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
  "a=extmap:4 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
  "a=extmap:5 urn:ietf:params:rtp-hdrext:toffset\r\n"
  "a=extmap:6/recvonly http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n"
  "a=extmap:7 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
  "a=extmap-allow-mixed\r\n"
  "a=fmtp:120 max-fs=12288;max-fr=60\r\n"
  "a=fmtp:124 apt=120\r\n"
  "a=fmtp:121 max-fs=12288;max-fr=60\r\n"
  "a=fmtp:125 apt=121\r\n"
  "a=fmtp:100 apt=99\r\n"
  "a=fmtp:119 apt=122\r\n"
  "a=ice-pwd:9dc337244cb0b450bdaa45e9df6fa46f\r\n"
  "a=ice-ufrag:f55fb0e8\r\n"
  "a=mid:1\r\n"
  "a=msid:- {b5f61fea-97af-4f34-8be1-d62f23ecbe50}\r\n"
  "a=rtcp:46250 IN IP4 03524104-a4e3-4ff9-b1e9-6aadc1b4ef1f.local\r\n"
  "a=rtcp-fb:120 nack\r\n"
  "a=rtcp-fb:120 nack pli\r\n"
  "a=rtcp-fb:120 ccm fir\r\n"
  "a=rtcp-fb:120 goog-remb\r\n"
  "a=rtcp-fb:120 transport-cc\r\n"
  "a=rtcp-fb:121 nack\r\n"
  "a=rtcp-fb:121 nack pli\r\n"
  "a=rtcp-fb:121 ccm fir\r\n"
  "a=rtcp-fb:121 goog-remb\r\n"
  "a=rtcp-fb:121 transport-cc\r\n"
  "a=rtcp-fb:99 nack\r\n"
  "a=rtcp-fb:99 nack pli\r\n"
  "a=rtcp-fb:99 ccm fir\r\n"
  "a=rtcp-fb:99 goog-remb\r\n"
  "a=rtcp-fb:99 transport-cc\r\n"
  "a=rtcp-fb:123 nack\r\n"
  "a=rtcp-fb:123 nack pli\r\n"
  "a=rtcp-fb:123 ccm fir\r\n"
  "a=rtcp-fb:123 goog-remb\r\n"
  "a=rtcp-fb:123 transport-cc\r\n"
  "a=rtcp-fb:122 nack\r\n"
  "a=rtcp-fb:122 nack pli\r\n"
  "a=rtcp-fb:122 ccm fir\r\n"
  "a=rtcp-fb:122 goog-remb\r\n"
  "a=rtcp-fb:122 transport-cc\r\n"
  "a=rtcp-mux\r\n"
  "a=rtcp-rsize\r\n"
  "a=rtpmap:120 VP8/90000\r\n"
  "a=rtpmap:124 rtx/90000\r\n"
  "a=rtpmap:121 VP9/90000\r\n"
  "a=rtpmap:125 rtx/90000\r\n"
  "a=rtpmap:99 AV1/90000\r\n"
  "a=rtpmap:100 rtx/90000\r\n"
  "a=rtpmap:123 ulpfec/90000\r\n"
  "a=rtpmap:122 red/90000\r\n"
  "a=rtpmap:119 rtx/90000\r\n"
  "a=setup:actpass\r\n"
  "a=ssrc:2637858600 cname:{3d50d395-8994-4afc-a478-16a4d56779ab}\r\n"
  "a=ssrc:3919775341 cname:{3d50d395-8994-4afc-a478-16a4d56779ab}\r\n"
  "a=ssrc-group:FID 2637858600 3919775341\r\n"
  "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
  "c=IN IP4 0.0.0.0\r\n"
  "a=candidate:0 1 UDP 2122187007 03524104-a4e3-4ff9-b1e9-6aadc1b4ef1f.local 34139 typ host\r\n"
  "a=candidate:1 1 UDP 2122252543 d7c6409b-4718-41a4-953d-a3b01955889b.local 49945 typ host\r\n"
  "a=candidate:2 1 TCP 2105458943 03524104-a4e3-4ff9-b1e9-6aadc1b4ef1f.local 9 typ "
  "host tcptype active\r\n"
  "a=candidate:3 1 TCP 2105524479 d7c6409b-4718-41a4-953d-a3b01955889b.local 9 typ "
  "host tcptype active\r\n"
  "a=sendrecv\r\n"
  "a=end-of-candidates\r\n"
  "a=ice-pwd:9dc337244cb0b450bdaa45e9df6fa46f\r\n"
  "a=ice-ufrag:f55fb0e8\r\n"
  "a=mid:2\r\n"
  "a=setup:actpass\r\n"
  "a=sctp-port:5000\r\n"
  "a=max-message-size:1073741823\r\n";

static void
test_firefox_offer (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstSDPMessage) msg = vchatd_sdp_parse_remote (FIREFOX_OFFER, &error);
  g_autofree char *av_text = g_strndup (FIREFOX_OFFER,
                                        strstr (FIREFOX_OFFER, "m=application") - FIREFOX_OFFER);
  g_autofree char *av_bundle = replace (av_text, "BUNDLE 0 1 2", "BUNDLE 0 1");
  g_autoptr (GstSDPMessage) av = NULL;
  const GstSDPMedia *audio, *video, *data;

  g_assert_no_error (error);
  g_assert_nonnull (msg);
  g_assert_cmpuint (gst_sdp_message_medias_len (msg), ==, 3);
  g_assert_cmpstr (gst_sdp_message_get_attribute_val (msg, "group"), ==, "BUNDLE 0 1 2");
  audio = gst_sdp_message_get_media (msg, 0);
  video = gst_sdp_message_get_media (msg, 1);
  data = gst_sdp_message_get_media (msg, 2);

  /* Firefox gives the DTLS fingerprint once, at session level, and the ICE
   * credentials in each media. */
  g_assert_nonnull (gst_sdp_message_get_attribute_val (msg, "fingerprint"));
  g_assert_null (gst_sdp_media_get_attribute_val (audio, "fingerprint"));
  g_assert_cmpstr (gst_sdp_media_get_attribute_val (audio, "ice-ufrag"), ==,
                   gst_sdp_media_get_attribute_val (data, "ice-ufrag"));

  /* What vchatd answers with: Opus 109, VP8 120 (not VP9 121, AV1 99 or the
   * rtx/red/ulpfec ones), transport-wide CC at extmap 7 in both. */
  g_assert_cmpstr (gst_sdp_media_get_media (audio), ==, "audio");
  g_assert_cmpuint (vchatd_sdp_find_payload_type (audio, "OPUS"), ==, 109);
  g_assert_cmpuint (vchatd_sdp_find_payload_type (audio, "VP8"), ==, G_MAXUINT);
  g_assert_cmpuint (vchatd_sdp_find_twcc_id (audio), ==, 7);
  g_assert_cmpstr (gst_sdp_media_get_media (video), ==, "video");
  g_assert_cmpuint (vchatd_sdp_find_payload_type (video, "VP8"), ==, 120);
  g_assert_cmpuint (vchatd_sdp_find_payload_type (video, "VP9"), ==, 121);
  g_assert_cmpuint (vchatd_sdp_find_payload_type (video, "H264"), ==, G_MAXUINT);
  g_assert_cmpuint (vchatd_sdp_find_payload_type (video, "OPUS"), ==, G_MAXUINT);
  g_assert_cmpuint (vchatd_sdp_find_twcc_id (video), ==, 7);

  /* The data channel. */
  g_assert_cmpstr (gst_sdp_media_get_media (data), ==, "application");
  g_assert_cmpstr (gst_sdp_media_get_proto (data), ==, "UDP/DTLS/SCTP");
  g_assert_cmpuint (gst_sdp_media_formats_len (data), ==, 1);
  g_assert_cmpstr (gst_sdp_media_get_format (data, 0), ==, "webrtc-datachannel");
  g_assert_cmpstr (gst_sdp_media_get_attribute_val (data, "mid"), ==, "2");
  g_assert_cmpstr (gst_sdp_media_get_attribute_val (data, "sctp-port"), ==, "5000");
  g_assert_cmpstr (gst_sdp_media_get_attribute_val (data, "max-message-size"), ==, "1073741823");
  g_assert_cmpuint (vchatd_sdp_find_twcc_id (data), ==, 0);

  g_assert_true (vchatd_sdp_check_answer (msg, msg, &error));
  g_assert_no_error (error);

  /* Cut before the data channel: the shape of firefox-offer.sdp. */
  av = vchatd_sdp_parse_remote (av_bundle, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (gst_sdp_message_medias_len (av), ==, 2);
  g_assert_false (vchatd_sdp_check_answer (msg, av, &error));
  g_assert_nonnull (strstr (error->message, "2 media sections for our 3"));
}

/* An offer vchat cannot answer with its codecs is refused at once, with
 * what the peer offers; an answer that rejects what we offered too. */
static void
test_codecs (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstSDPMessage) chromium = vchatd_sdp_parse_remote (OFFER, NULL);
  g_autoptr (GstSDPMessage) firefox = vchatd_sdp_parse_remote (FIREFOX_OFFER, NULL);
  g_autofree char *h264_text = replace (OFFER, "VP8/90000", "H264/90000");
  g_autoptr (GstSDPMessage) h264 = vchatd_sdp_parse_remote (h264_text, &error);
  g_autofree char *no_opus_text = replace (OFFER, "opus/48000/2", "PCMU/8000");
  g_autoptr (GstSDPMessage) no_opus = vchatd_sdp_parse_remote (no_opus_text, &error);
  g_autofree char *rejected_text = replace (OFFER, "m=video 9 ", "m=video 0 ");
  g_autoptr (GstSDPMessage) rejected = vchatd_sdp_parse_remote (rejected_text, &error);

  g_assert_no_error (error);
  g_assert_true (vchatd_sdp_check_codecs (chromium, &error));
  g_assert_true (vchatd_sdp_check_codecs (firefox, &error));
  g_assert_no_error (error);

  /* H.264 without packetization-mode 1 and a baseline profile: refused. */
  g_assert_false (vchatd_sdp_check_codecs (h264, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==,
                   "The peer's video (media 1) is H264, and vchat needs VP8 or H.264 "
                   "(constrained baseline, packetization-mode 1): this peer cannot have a call "
                   "with vchat");
  g_clear_error (&error);
  g_assert_false (vchatd_sdp_check_codecs (no_opus, &error));
  g_assert_nonnull (strstr (error->message, "audio (media 0) is PCMU, and vchat needs Opus"));
  g_clear_error (&error);
  /* A rejected section needs nothing. */
  g_assert_true (vchatd_sdp_check_codecs (rejected, &error));

  g_assert_true (vchatd_sdp_check_nothing_rejected (chromium, chromium, &error));
  g_assert_false (vchatd_sdp_check_nothing_rejected (chromium, rejected, &error));
  g_assert_cmpstr (error->message, ==,
                   "The peer rejected our video (media 1): it cannot take VP8 or H.264 video, so "
                   "this peer cannot have a call with vchat");
}

/* A description's own candidates are taken out, to be trickled (and
 * checked) one by one: a Firefox offer read after gathering has 20. */
static void
test_take_candidates (void)
{
  g_autoptr (GArray) candidates = vchatd_sdp_candidates_new ();
  g_autofree char *bare = vchatd_sdp_take_candidates (FIREFOX_OFFER, candidates);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstSDPMessage) msg = NULL;
  guint per_mline[3] = { 0 };
  VchatdSdpCandidate *first;
  g_autoptr (GArray) lf = vchatd_sdp_candidates_new ();
  g_autofree char *lf_bare = NULL;

  g_assert_cmpuint (candidates->len, ==, 20);
  for (guint i = 0; i < candidates->len; i++) {
    VchatdSdpCandidate *c = &g_array_index (candidates, VchatdSdpCandidate, i);

    g_assert_cmpuint (c->mline, <, 3);
    per_mline[c->mline]++;
    g_assert_true (g_str_has_prefix (c->candidate, "candidate:"));
    g_assert_null (strchr (c->candidate, '\r'));
  }
  g_assert_cmpuint (per_mline[0], ==, 8);
  g_assert_cmpuint (per_mline[1], ==, 8);
  g_assert_cmpuint (per_mline[2], ==, 4);
  first = &g_array_index (candidates, VchatdSdpCandidate, 0);
  g_assert_cmpstr (first->candidate, ==,
                   "candidate:0 1 UDP 2122187007 03524104-a4e3-4ff9-b1e9-6aadc1b4ef1f.local 39345 "
                   "typ host");
  /* The rest is untouched, and still a valid offer. */
  g_assert_null (strstr (bare, "a=candidate"));
  g_assert_null (strstr (bare, "end-of-candidates"));
  g_assert_nonnull (strstr (bare, "a=mid:2\r\na=setup:actpass\r\n"));
  msg = vchatd_sdp_parse_remote (bare, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (gst_sdp_message_medias_len (msg), ==, 3);

  /* LF endings, a candidate before any m= line (dropped: it belongs to no
   * media), and a last line without an ending. */
  lf_bare = vchatd_sdp_take_candidates ("v=0\na=candidate:9 1 UDP 1 192.0.2.9 5000 typ host\n"
                                        "m=audio 9 X 0\na=candidate:1 1 UDP 1 192.0.2.1 5001 "
                                        "typ host\na=end-of-candidates\na=mid:0",
                                        lf);
  g_assert_cmpstr (lf_bare, ==, "v=0\nm=audio 9 X 0\na=mid:0");
  g_assert_cmpuint (lf->len, ==, 1);
  g_assert_cmpuint (g_array_index (lf, VchatdSdpCandidate, 0).mline, ==, 0);
  g_assert_cmpstr (g_array_index (lf, VchatdSdpCandidate, 0).candidate, ==,
                   "candidate:1 1 UDP 1 192.0.2.1 5001 typ host");
}

/* The candidates Firefox ESR 153 gathers, from tests/fuzz/corpus-sdp/
 * firefox-candidates.txt: host ones only (no STUN server), for RTP and
 * RTCP, UDP and TCP active; behind mDNS names by default, the addresses
 * themselves once the page may use the camera (here: with
 * media.peerconnection.ice.obfuscate_host_addresses off). */
static void
test_firefox_candidates (void)
{
  static const struct {
    const char *candidate;
    gboolean mdns;    /* an mDNS name: resolved before ICE gets it */
    gboolean allowed; /* vchatd_sdp_candidate_target_allowed() */
    gboolean private; /* dropped in a random call (private-addresses-random) */
  } cases[] = {
    { "candidate:0 1 UDP 2122187007 "
      "c304875e-a649-4cd5-a3ea-d10e20344aa9.local 53069 typ host",
      TRUE, FALSE, FALSE },
    { "candidate:1 1 UDP 2122252543 "
      "3f91b92f-9573-42a4-bdcf-ea12fa29fe62.local 55883 typ host",
      TRUE, FALSE, FALSE },
    { "candidate:2 1 TCP 2105458943 "
      "c304875e-a649-4cd5-a3ea-d10e20344aa9.local 9 typ host tcptype active",
      TRUE, FALSE, FALSE },
    { "candidate:3 1 TCP 2105524479 "
      "3f91b92f-9573-42a4-bdcf-ea12fa29fe62.local 9 typ host tcptype active",
      TRUE, FALSE, FALSE },
    { "candidate:0 2 UDP 2122187006 "
      "c304875e-a649-4cd5-a3ea-d10e20344aa9.local 47886 typ host",
      TRUE, FALSE, FALSE },
    { "candidate:1 2 UDP 2122252542 "
      "3f91b92f-9573-42a4-bdcf-ea12fa29fe62.local 48140 typ host",
      TRUE, FALSE, FALSE },
    { "candidate:2 2 TCP 2105458942 "
      "c304875e-a649-4cd5-a3ea-d10e20344aa9.local 9 typ host tcptype active",
      TRUE, FALSE, FALSE },
    { "candidate:3 2 TCP 2105524478 "
      "3f91b92f-9573-42a4-bdcf-ea12fa29fe62.local 9 typ host tcptype active",
      TRUE, FALSE, FALSE },
    { "candidate:0 1 UDP 2122187007 192.0.2.2 48975 typ host", FALSE, TRUE, FALSE },
    { "candidate:1 1 UDP 2122252543 fd00::2 51557 typ host", FALSE, TRUE, TRUE },
    { "candidate:2 1 TCP 2105458943 192.0.2.2 9 typ host tcptype active", FALSE, TRUE, FALSE },
    { "candidate:3 1 TCP 2105524479 fd00::2 9 typ host tcptype active", FALSE, TRUE, TRUE },
    { "candidate:0 2 UDP 2122187006 192.0.2.2 42123 typ host", FALSE, TRUE, FALSE },
    { "candidate:1 2 UDP 2122252542 fd00::2 55248 typ host", FALSE, TRUE, TRUE },
    { "candidate:2 2 TCP 2105458942 192.0.2.2 9 typ host tcptype active", FALSE, TRUE, FALSE },
    { "candidate:3 2 TCP 2105524478 fd00::2 9 typ host tcptype active", FALSE, TRUE, TRUE },
  };
  g_autoptr (GstSDPMessage) offer = vchatd_sdp_parse_remote (FIREFOX_OFFER, NULL);
  guint in_offer = 0;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    gboolean skip = TRUE;
    const char *why = NULL;
    g_autofree char *name = vchatd_sdp_candidate_mdns_name (cases[i].candidate);

    g_assert_true (vchatd_sdp_check_candidate (cases[i].candidate, &skip, &error));
    g_assert_no_error (error);
    g_assert_false (skip);
    g_assert_cmpint (name != NULL, ==, cases[i].mdns);
    g_assert_cmpint (vchatd_sdp_candidate_target_allowed (cases[i].candidate, &why), ==,
                     cases[i].allowed);
    g_test_message ("%s: %s", cases[i].candidate, name ? name : (why ? why : "allowed"));
    if (!name) {
      g_autoptr (GInetAddress) address = vchatd_sdp_candidate_address (cases[i].candidate);

      g_assert_nonnull (address);
      g_assert_cmpint (vchatd_sdp_address_is_private (address), ==, cases[i].private);
    } else {
      g_assert_null (vchatd_sdp_candidate_address (cases[i].candidate));
    }
  }

  /* The offer read after gathering carries its candidates as a=candidate
   * lines, all mDNS ones: each passes the trickle checks and is resolved.
   * (vchatd_sdp_take_candidates() takes them out of the description.) */
  g_assert_nonnull (offer);
  for (guint m = 0; m < gst_sdp_message_medias_len (offer); m++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (offer, m);
    const char *value;

    for (guint i = 0; (value = gst_sdp_media_get_attribute_val_n (media, "candidate", i)); i++) {
      g_autofree char *line = g_strconcat ("a=candidate:", value, NULL);
      g_autofree char *name = vchatd_sdp_candidate_mdns_name (line);
      gboolean skip = TRUE;

      g_assert_true (vchatd_sdp_check_candidate (line, &skip, NULL));
      g_assert_false (skip);
      g_assert_nonnull (name);
      in_offer++;
    }
  }
  g_assert_cmpuint (in_offer, ==, 8 + 8 + 4);
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
  g_test_add_func ("/sdp/mdns-candidates", test_mdns_candidates);
  g_test_add_func ("/sdp/candidates-for-strangers", test_candidates_for_strangers);
  g_test_add_func ("/sdp/firefox-offer", test_firefox_offer);
  g_test_add_func ("/sdp/firefox-candidates", test_firefox_candidates);
  g_test_add_func ("/sdp/take-candidates", test_take_candidates);
  g_test_add_func ("/sdp/codecs", test_codecs);
  g_test_add_func ("/sdp/h264", test_h264);
  g_test_add_func ("/sdp/answer-video-format", test_answer_video_format);
  g_test_add_func ("/sdp/vp9-first", test_vp9_first);
  return g_test_run ();
}
