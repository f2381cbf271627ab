/* vchatd-sdp.c: what the peer sends, checked before webrtcbin sees it
 *
 * webrtcbin 1.22 trusts the SDP and candidates it is given; a hostile peer
 * must not be able to crash the daemon or steer it. These are pure
 * functions over GstSDPMessage and strings: unit-tested (tests/daemon/
 * test-sdp.c) and fuzzed (tests/fuzz/fuzz-sdp.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-sdp.h"

#include <string.h>

static gboolean
is_number (const char *s, guint64 max)
{
  guint64 value;

  return s && g_ascii_string_to_unsigned (s, 10, 0, max, &value, NULL);
}

static const char *
media_or_session_attribute (const GstSDPMessage *msg, const GstSDPMedia *media, const char *key)
{
  const char *value = gst_sdp_media_get_attribute_val (media, key);

  return value ? value : gst_sdp_message_get_attribute_val (msg, key);
}

static gboolean
check_fingerprint (const char *value)
{
  g_auto (GStrv) parts = NULL;
  g_auto (GStrv) bytes = NULL;
  guint i;

  if (!value)
    return FALSE;
  parts = g_strsplit (value, " ", -1);
  if (g_strv_length (parts) != 2 || strlen (parts[0]) > 16)
    return FALSE;
  bytes = g_strsplit (parts[1], ":", -1);
  if (g_strv_length (bytes) < 16 || g_strv_length (bytes) > 64)
    return FALSE;
  for (i = 0; bytes[i]; i++)
    if (strlen (bytes[i]) != 2 || !g_ascii_isxdigit (bytes[i][0]) ||
        !g_ascii_isxdigit (bytes[i][1]))
      return FALSE;
  return TRUE;
}

static gboolean
check_media (const GstSDPMessage *msg, const GstSDPMedia *media, guint index, GError **error)
{
  const char *kind = gst_sdp_media_get_media (media);
  const char *proto = gst_sdp_media_get_proto (media);
  const char *value;
  guint i;

#define FAIL(...)                                                                                  \
  G_STMT_START                                                                                     \
  {                                                                                                \
    g_autofree char *detail_ = g_strdup_printf (__VA_ARGS__);                                      \
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,                                   \
                 "The peer's session description is not usable: media %u: %s", index, detail_);    \
    return FALSE;                                                                                  \
  }                                                                                                \
  G_STMT_END

  if (!kind || !proto)
    FAIL ("no m= line");
  if (gst_sdp_media_formats_len (media) == 0)
    FAIL ("no formats");
  if (g_str_equal (kind, "audio") || g_str_equal (kind, "video")) {
    if (!g_str_equal (proto, "UDP/TLS/RTP/SAVPF"))
      FAIL ("transport “%s” is not UDP/TLS/RTP/SAVPF", proto);
    for (i = 0; i < gst_sdp_media_formats_len (media); i++)
      if (!is_number (gst_sdp_media_get_format (media, i), 127))
        FAIL ("payload type “%s” is not a number up to 127", gst_sdp_media_get_format (media, i));
    for (i = 0; (value = gst_sdp_media_get_attribute_val_n (media, "rtpmap", i)); i++) {
      g_auto (GStrv) parts = g_strsplit (value, " ", 2);
      g_auto (GStrv) codec = NULL;

      if (g_strv_length (parts) != 2 || !is_number (parts[0], 127))
        FAIL ("bad rtpmap “%s”", value);
      codec = g_strsplit (parts[1], "/", -1);
      if (g_strv_length (codec) < 2 || g_strv_length (codec) > 3 || !*codec[0] ||
          !is_number (codec[1], G_MAXINT) || (codec[2] && !is_number (codec[2], 255)))
        FAIL ("bad rtpmap “%s”", value);
    }
    for (i = 0; (value = gst_sdp_media_get_attribute_val_n (media, "extmap", i)); i++) {
      g_auto (GStrv) parts = g_strsplit_set (value, " /", -1);

      if (g_strv_length (parts) < 2 || !is_number (parts[0], 255))
        FAIL ("bad extmap “%s”", value);
    }
  } else if (g_str_equal (kind, "application")) {
    if (!strstr (proto, "SCTP"))
      FAIL ("application transport “%s” is not SCTP", proto);
  } else {
    FAIL ("unsupported media “%s”", kind);
  }
  value = gst_sdp_media_get_attribute_val (media, "mid");
  if (!value || !*value || strlen (value) > 32)
    FAIL ("missing or bad a=mid");
  value = media_or_session_attribute (msg, media, "ice-ufrag");
  if (!value || strlen (value) < 4 || strlen (value) > 256)
    FAIL ("missing or bad a=ice-ufrag");
  value = media_or_session_attribute (msg, media, "ice-pwd");
  if (!value || strlen (value) < 22 || strlen (value) > 256)
    FAIL ("missing or bad a=ice-pwd");
  if (!check_fingerprint (media_or_session_attribute (msg, media, "fingerprint")))
    FAIL ("missing or bad a=fingerprint");
  value = media_or_session_attribute (msg, media, "setup");
  if (value && !g_str_equal (value, "actpass") && !g_str_equal (value, "active") &&
      !g_str_equal (value, "passive"))
    FAIL ("bad a=setup “%s”", value);
  return TRUE;
#undef FAIL
}

/* @media's @key (ice-ufrag, ice-pwd) becomes @first's. */
static void
use_credentials_of (const GstSDPMessage *msg, GstSDPMedia *media, const GstSDPMedia *first,
                    const char *key)
{
  const char *want = media_or_session_attribute (msg, first, key);

  if (g_strcmp0 (media_or_session_attribute (msg, media, key), want) == 0)
    return;
  for (guint i = gst_sdp_media_attributes_len (media); i > 0; i--)
    if (g_strcmp0 (gst_sdp_media_get_attribute (media, i - 1)->key, key) == 0)
      gst_sdp_media_remove_attribute (media, i - 1);
  gst_sdp_media_add_attribute (media, key, want);
}

GstSDPMessage *
vchatd_sdp_parse_remote (const char *text, GError **error)
{
  g_autoptr (GstSDPMessage) msg = NULL;
  guint i, n;

  if (!text || !*text) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                         "The peer's session description is empty");
    return NULL;
  }
  if (strlen (text) > VCHATD_SDP_MAX_LENGTH || !g_utf8_validate (text, -1, NULL)) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                         "The peer's session description is too long or not text");
    return NULL;
  }
  if (gst_sdp_message_new_from_text (text, &msg) != GST_SDP_OK ||
      g_strcmp0 (gst_sdp_message_get_version (msg), "0") != 0) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                         "The peer's session description does not parse as SDP (no “v=0” line)");
    return NULL;
  }
  n = gst_sdp_message_medias_len (msg);
  if (n == 0 || n > VCHATD_SDP_MAX_MEDIA) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "The peer's session description has %u media sections (1 to %d expected)", n,
                 VCHATD_SDP_MAX_MEDIA);
    return NULL;
  }
  for (i = 0; i < n; i++)
    if (!check_media (msg, gst_sdp_message_get_media (msg, i), i, error))
      return NULL;
  /* A BUNDLE group must name media that exist. Media bundled on one
   * transport use its ICE credentials; a peer may still write others in
   * each section (aiortc does: RFC 8843 lets them be ignored), which
   * webrtcbin 1.22 refuses ("media 1 has different ice-ufrag values in
   * bundle"), so they are made the first one's. */
  for (i = 0; i < gst_sdp_message_attributes_len (msg); i++) {
    const GstSDPAttribute *attr = gst_sdp_message_get_attribute (msg, i);
    const GstSDPMedia *first = NULL;
    g_auto (GStrv) mids = NULL;
    guint j, k;

    if (g_strcmp0 (attr->key, "group") != 0 || !attr->value ||
        !g_str_has_prefix (attr->value, "BUNDLE"))
      continue;
    mids = g_strsplit (attr->value + strlen ("BUNDLE"), " ", -1);
    for (j = 0; mids[j]; j++) {
      const GstSDPMedia *media = NULL;

      if (!*mids[j])
        continue;
      for (k = 0; k < n && !media; k++)
        if (g_strcmp0 (gst_sdp_media_get_attribute_val (gst_sdp_message_get_media (msg, k), "mid"),
                       mids[j]) == 0)
          media = gst_sdp_message_get_media (msg, k);
      if (!media) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "The peer's session description bundles an unknown media “%s”", mids[j]);
        return NULL;
      }
      if (!first) {
        first = media;
      } else {
        use_credentials_of (msg, (GstSDPMedia *) media, first, "ice-ufrag");
        use_credentials_of (msg, (GstSDPMedia *) media, first, "ice-pwd");
      }
    }
  }
  return g_steal_pointer (&msg);
}

/* An answer must answer our offer: the same media, in the same order. */
gboolean
vchatd_sdp_check_answer (const GstSDPMessage *offer, const GstSDPMessage *answer, GError **error)
{
  guint i;

  if (!offer) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                         "Got an answer before making an offer");
    return FALSE;
  }
  if (gst_sdp_message_medias_len (offer) != gst_sdp_message_medias_len (answer)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "The peer's answer has %u media sections for our %u",
                 gst_sdp_message_medias_len (answer), gst_sdp_message_medias_len (offer));
    return FALSE;
  }
  for (i = 0; i < gst_sdp_message_medias_len (answer); i++) {
    const char *ours = gst_sdp_media_get_media (gst_sdp_message_get_media (offer, i));
    const char *theirs = gst_sdp_media_get_media (gst_sdp_message_get_media (answer, i));

    if (g_strcmp0 (ours, theirs) != 0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The peer's answer has %s where our offer has %s", theirs, ours);
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
media_lists_format (const GstSDPMedia *media, const char *format)
{
  for (guint i = 0; i < gst_sdp_media_formats_len (media); i++)
    if (g_strcmp0 (gst_sdp_media_get_format (media, i), format) == 0)
      return TRUE;
  return FALSE;
}

guint
vchatd_sdp_find_payload_type (const GstSDPMedia *media, const char *encoding)
{
  const char *value;
  guint i;

  for (i = 0; (value = gst_sdp_media_get_attribute_val_n (media, "rtpmap", i)); i++) {
    g_auto (GStrv) parts = g_strsplit_set (value, " /", -1);

    guint64 pt;

    /* Only a valid payload type (0–127) that the m= line lists: a peer's
     * rtpmap for anything else is ignored, not trusted. */
    if (g_strv_length (parts) < 2 || g_ascii_strcasecmp (parts[1], encoding) != 0 ||
        !g_ascii_string_to_unsigned (parts[0], 10, 0, 127, &pt, NULL) ||
        !media_lists_format (media, parts[0]))
      continue;
    return (guint) pt;
  }
  return G_MAXUINT;
}

/* @key's value in the fmtp line of payload type @pt ("a=fmtp:<pt> k=v;k=v"),
 * or NULL. */
static char *
fmtp_value (const GstSDPMedia *media, guint pt, const char *key)
{
  const char *value;

  for (guint i = 0; (value = gst_sdp_media_get_attribute_val_n (media, "fmtp", i)); i++) {
    const char *space = strchr (value, ' ');
    guint64 n;
    g_autofree char *number = NULL;
    g_auto (GStrv) params = NULL;

    if (!space)
      continue;
    number = g_strndup (value, space - value);
    if (!g_ascii_string_to_unsigned (number, 10, 0, 127, &n, NULL) || n != pt)
      continue;
    params = g_strsplit (space + 1, ";", 32);
    for (guint j = 0; params[j]; j++) {
      char *param = g_strstrip (params[j]);
      const char *eq = strchr (param, '=');

      if (eq && (gsize) (eq - param) == strlen (key) &&
          g_ascii_strncasecmp (param, key, eq - param) == 0)
        return g_strdup (eq + 1);
    }
  }
  return NULL;
}

/* The encoding name of payload type @format in @media's rtpmap lines, or
 * NULL (transfer full). */
static char *
format_encoding (const GstSDPMedia *media, const char *format)
{
  const char *value;

  for (guint i = 0; (value = gst_sdp_media_get_attribute_val_n (media, "rtpmap", i)); i++) {
    g_auto (GStrv) parts = g_strsplit_set (value, " /", -1);

    if (g_strv_length (parts) >= 2 && g_str_equal (parts[0], format))
      return g_strdup (parts[1]);
  }
  return NULL;
}

guint
vchatd_sdp_find_h264 (const GstSDPMedia *media, char **profile_level_id)
{
  const char *value;
  guint best = G_MAXUINT, best_rank = 0;
  g_autofree char *best_profile = NULL;

  for (guint i = 0; (value = gst_sdp_media_get_attribute_val_n (media, "rtpmap", i)); i++) {
    g_auto (GStrv) parts = g_strsplit_set (value, " /", -1);
    g_autofree char *mode = NULL;
    g_autofree char *profile = NULL;
    guint64 pt, level;
    guint rank;

    if (g_strv_length (parts) < 2 || g_ascii_strcasecmp (parts[1], "H264") != 0 ||
        !g_ascii_string_to_unsigned (parts[0], 10, 0, 127, &pt, NULL) ||
        !media_lists_format (media, parts[0]))
      continue;
    mode = fmtp_value (media, (guint) pt, "packetization-mode");
    profile = fmtp_value (media, (guint) pt, "profile-level-id");
    /* RFC 6184: profile_idc, profile-iop, level_idc; 42 is baseline, and
     * constraint_set1 (0x40 in profile-iop) makes it constrained baseline. */
    if (g_strcmp0 (mode, "1") != 0 || !profile || strlen (profile) != 6 ||
        !g_ascii_string_to_unsigned (profile + 4, 16, 0, 255, &level, NULL) ||
        g_ascii_strncasecmp (profile, "42", 2) != 0 || !g_ascii_isxdigit (profile[2]) ||
        !g_ascii_isxdigit (profile[3]))
      continue;
    rank = (g_ascii_xdigit_value (profile[2]) & 0x4) ? 2 : 1;
    if (rank > best_rank) {
      best = (guint) pt;
      best_rank = rank;
      g_free (best_profile);
      best_profile = g_ascii_strdown (profile, -1);
    }
  }
  if (profile_level_id)
    *profile_level_id = g_steal_pointer (&best_profile);
  return best;
}


guint
vchatd_sdp_find_vp9_first (const GstSDPMedia *media)
{
  for (guint i = 0; i < gst_sdp_media_formats_len (media); i++) {
    const char *format = gst_sdp_media_get_format (media, i);
    g_autofree char *encoding = format_encoding (media, format);
    g_autofree char *profile = NULL;
    guint64 pt;

    if (!encoding || !g_ascii_string_to_unsigned (format, 10, 0, 127, &pt, NULL))
      continue;
    if (g_ascii_strcasecmp (encoding, "RTX") == 0 || g_ascii_strcasecmp (encoding, "RED") == 0 ||
        g_ascii_strcasecmp (encoding, "ULPFEC") == 0 ||
        g_ascii_strcasecmp (encoding, "FLEXFEC-03") == 0)
      continue;
    if (g_ascii_strcasecmp (encoding, "VP9") != 0)
      return G_MAXUINT;
    /* draft-ietf-payload-vp9: no profile-id is profile 0 (8-bit 4:2:0,
     * what vp9enc makes from the camera's I420). */
    profile = fmtp_value (media, (guint) pt, "profile-id");
    return !profile || g_str_equal (profile, "0") ? (guint) pt : G_MAXUINT;
  }
  return G_MAXUINT;
}

guint
vchatd_sdp_answer_video_format (const GstSDPMedia *media, VchatdSdpVideoCodec *codec)
{
  for (guint i = 0; i < gst_sdp_media_formats_len (media); i++) {
    const char *format = gst_sdp_media_get_format (media, i);
    g_autofree char *encoding = format_encoding (media, format);
    guint64 pt;

    if (!encoding || !g_ascii_string_to_unsigned (format, 10, 0, 127, &pt, NULL))
      continue;
    if (g_ascii_strcasecmp (encoding, "VP8") == 0) {
      *codec = VCHATD_SDP_VIDEO_VP8;
      return (guint) pt;
    }
    if (g_ascii_strcasecmp (encoding, "H264") == 0) {
      *codec = VCHATD_SDP_VIDEO_H264;
      return (guint) pt;
    }
    if (g_ascii_strcasecmp (encoding, "VP9") == 0) {
      *codec = VCHATD_SDP_VIDEO_VP9;
      return (guint) pt;
    }
    /* RTX, RED, ULPFEC: they go with a codec, they are not one. */
  }
  return G_MAXUINT;
}

guint
vchatd_sdp_find_twcc_id (const GstSDPMedia *media)
{
  return vchatd_sdp_find_extmap_id (media, VCHATD_SDP_TWCC_URI);
}

guint
vchatd_sdp_find_extmap_id (const GstSDPMedia *media, const char *uri)
{
  const char *value;
  guint i;

  /* "a=extmap:<id>[/<direction>] <uri> [<attributes>]" */
  for (i = 0; (value = gst_sdp_media_get_attribute_val_n (media, "extmap", i)); i++) {
    g_auto (GStrv) parts = g_strsplit (value, " ", 3);

    g_auto (GStrv) id = NULL;
    guint64 n;

    if (g_strv_length (parts) < 2 || !g_str_equal (parts[1], uri))
      continue;
    /* RFC 8285: ids 1–14 (one-byte headers) or 1–255 (two-byte). */
    id = g_strsplit (parts[0], "/", 2);
    if (g_ascii_string_to_unsigned (id[0], 10, 1, 255, &n, NULL))
      return (guint) n;
  }
  return 0;
}

/* "VP8, VP9, H264" (each once, in order) for @media's rtpmap lines. */
static char *
media_codecs (const GstSDPMedia *media)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < gst_sdp_media_attributes_len (media); i++) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute (media, i);
    const char *slash, *space;
    g_autofree char *name = NULL;
    gboolean seen = FALSE;

    if (g_strcmp0 (a->key, "rtpmap") != 0 || !a->value || !(space = strchr (a->value, ' ')))
      continue;
    slash = strchr (space, '/');
    name = g_ascii_strup (space + 1, slash ? slash - space - 1 : -1);
    if (!*name || g_str_equal (name, "RTX") || g_str_equal (name, "RED") ||
        g_str_equal (name, "ULPFEC") || g_str_equal (name, "FLEXFEC-03") ||
        g_str_equal (name, "TELEPHONE-EVENT") || g_str_equal (name, "CN"))
      continue;
    for (guint j = 0; j < names->len && !seen; j++)
      seen = g_str_equal (names->pdata[j], name);
    if (!seen && names->len < 8)
      g_ptr_array_add (names, g_steal_pointer (&name));
  }
  g_ptr_array_add (names, NULL);
  return names->len > 1 ? g_strjoinv (", ", (char **) names->pdata) : g_strdup ("none");
}

gboolean
vchatd_sdp_check_codecs (const GstSDPMessage *offer, GError **error)
{
  for (guint i = 0; i < gst_sdp_message_medias_len (offer); i++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (offer, i);
    const char *kind = gst_sdp_media_get_media (media);
    const char *need;

    if (gst_sdp_media_get_port (media) == 0)
      continue;
    if (g_strcmp0 (kind, "video") == 0)
      need = "VP8";
    else if (g_strcmp0 (kind, "audio") == 0)
      need = "OPUS";
    else
      continue;
    if (vchatd_sdp_find_payload_type (media, need) == G_MAXUINT &&
        (g_str_equal (need, "OPUS") || vchatd_sdp_find_h264 (media, NULL) == G_MAXUINT)) {
      g_autofree char *offered = media_codecs (media);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The peer's %s (media %u) is %s, and vchat needs %s: this peer cannot have a "
                   "call with vchat",
                   kind, i, offered,
                   g_str_equal (need, "OPUS")
                     ? "Opus"
                     : "VP8 or H.264 (constrained baseline, packetization-mode 1)");
      return FALSE;
    }
  }
  return TRUE;
}

gboolean
vchatd_sdp_check_nothing_rejected (const GstSDPMessage *offer, const GstSDPMessage *answer,
                                   GError **error)
{
  for (guint i = 0; offer && i < gst_sdp_message_medias_len (offer) &&
                    i < gst_sdp_message_medias_len (answer);
       i++) {
    const GstSDPMedia *ours = gst_sdp_message_get_media (offer, i);
    const GstSDPMedia *theirs = gst_sdp_message_get_media (answer, i);

    if (gst_sdp_media_get_port (ours) != 0 && gst_sdp_media_get_port (theirs) == 0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The peer rejected our %s (media %u): it cannot take %s, so this peer cannot "
                   "have a call with vchat",
                   gst_sdp_media_get_media (theirs), i,
                   g_strcmp0 (gst_sdp_media_get_media (ours), "video") == 0  ? "VP8 or H.264 video"
                   : g_strcmp0 (gst_sdp_media_get_media (ours), "audio") == 0 ? "Opus audio"
                                                                             : "a data channel");
      return FALSE;
    }
  }
  return TRUE;
}

static void
sdp_candidate_clear (gpointer data)
{
  VchatdSdpCandidate *c = data;

  g_free (c->candidate);
}

GArray *
vchatd_sdp_candidates_new (void)
{
  GArray *candidates = g_array_new (FALSE, TRUE, sizeof (VchatdSdpCandidate));

  g_array_set_clear_func (candidates, sdp_candidate_clear);
  return candidates;
}

char *
vchatd_sdp_take_candidates (const char *text, GArray *candidates)
{
  GString *out = g_string_sized_new (strlen (text));
  const char *line = text;
  gint mline = -1;

  while (*line) {
    const char *end = strchr (line, '\n');
    gsize length = end ? (gsize) (end - line + 1) : strlen (line);
    gsize content = length;

    while (content > 0 && (line[content - 1] == '\n' || line[content - 1] == '\r'))
      content--;
    if (g_str_has_prefix (line, "m="))
      mline++;
    if (g_str_has_prefix (line, "a=candidate:")) {
      if (mline >= 0) {
        VchatdSdpCandidate c = { (guint) mline, g_strndup (line + 2, content - 2) };

        g_array_append_val (candidates, c);
      }
    } else if (content != strlen ("a=end-of-candidates") ||
               strncmp (line, "a=end-of-candidates", content) != 0) {
      g_string_append_len (out, line, (gssize) length);
    }
    line += length;
  }
  return g_string_free (out, FALSE);
}

/* One label (letters, digits, hyphens; what browsers write is a random
 * UUID) and ".local", the form of draft-ietf-mmusic-mdns-ice-candidates. */
static gboolean
is_mdns_name (const char *name)
{
  const char *dot = strchr (name, '.');
  gsize label = dot ? (gsize) (dot - name) : 0;

  if (label == 0 || label > 63 || g_ascii_strcasecmp (dot, ".local") != 0 || name[0] == '-')
    return FALSE;
  for (gsize i = 0; i < label; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '-')
      return FALSE;
  return TRUE;
}

gboolean
vchatd_sdp_check_candidate (const char *candidate, gboolean *skip, GError **error)
{
  g_auto (GStrv) tokens = NULL;
  const char *types[] = { "host", "srflx", "prflx", "relay" };
  gboolean type_ok = FALSE;
  const char *p;
  guint i;

  *skip = FALSE;
  if (strlen (candidate) > VCHATD_SDP_MAX_CANDIDATE_LENGTH)
    goto bad;
  for (p = candidate; *p; p++)
    if (!g_ascii_isprint (*p))
      goto bad;
  if (g_str_has_prefix (candidate, "a="))
    candidate += 2;
  if (!g_str_has_prefix (candidate, "candidate:"))
    goto bad;
  tokens = g_strsplit (candidate + strlen ("candidate:"), " ", -1);
  /* foundation component transport priority address port typ type ... */
  if (g_strv_length (tokens) < 8 || !*tokens[0] || strlen (tokens[0]) > 32 ||
      !is_number (tokens[1], 256) || !is_number (tokens[3], G_MAXUINT32) ||
      !is_number (tokens[5], 65535) || !g_str_equal (tokens[6], "typ"))
    goto bad;
  if (g_ascii_strcasecmp (tokens[2], "udp") != 0 && g_ascii_strcasecmp (tokens[2], "tcp") != 0)
    goto bad;
  for (i = 0; i < G_N_ELEMENTS (types); i++)
    type_ok |= g_str_equal (tokens[7], types[i]);
  if (!type_ok)
    goto bad;
  /* Host names other than a host candidate's mDNS name: a stranger must
   * not make us ask DNS servers about names it chose. */
  if (!g_hostname_is_ip_address (tokens[4]) &&
      !(g_str_equal (tokens[7], "host") && is_mdns_name (tokens[4])))
    *skip = TRUE;
  return TRUE;

bad:
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "The peer's ICE candidate is malformed");
  return FALSE;
}

gboolean
vchatd_sdp_candidate_target_allowed (const char *candidate, const char **why)
{
  g_auto (GStrv) tokens = NULL;
  g_autoptr (GInetAddress) address = NULL;
  guint64 port = 0;
  gboolean active = FALSE;
  guint i;

  if (g_str_has_prefix (candidate, "a="))
    candidate += 2;
  if (!g_str_has_prefix (candidate, "candidate:")) {
    *why = "it is not a candidate";
    return FALSE;
  }
  tokens = g_strsplit (candidate + strlen ("candidate:"), " ", -1);
  if (g_strv_length (tokens) < 8 || !(address = g_inet_address_new_from_string (tokens[4])) ||
      !g_ascii_string_to_unsigned (tokens[5], 10, 0, 65535, &port, NULL)) {
    *why = "it has no IP address and port";
    return FALSE;
  }
  for (i = 8; tokens[i] && tokens[i + 1]; i += 2)
    if (g_str_equal (tokens[i], "tcptype"))
      active = g_str_equal (tokens[i + 1], "active");
  if (g_inet_address_get_is_any (address)) {
    *why = "its address is the unspecified one";
    return FALSE;
  }
  if (g_inet_address_get_is_multicast (address) ||
      (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV4 &&
       g_str_equal (tokens[4], "255.255.255.255"))) {
    *why = "its address is a multicast or broadcast one";
    return FALSE;
  }
  if (port < 1024 && !active) {
    *why = "its port is below 1024";
    return FALSE;
  }
  return TRUE;
}

gboolean
vchatd_sdp_address_is_private (GInetAddress *address)
{
  const guint8 *b = g_inet_address_to_bytes (address);

  if (g_inet_address_get_is_loopback (address) || g_inet_address_get_is_link_local (address) ||
      g_inet_address_get_is_site_local (address))
    return TRUE;
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV4)
    return b[0] == 100 && (b[1] & 0xc0) == 64; /* 100.64/10 */
  /* fc00::/7 */
  if ((b[0] & 0xfe) == 0xfc)
    return TRUE;
  /* ::ffff:a.b.c.d */
  if (!memcmp (b, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) {
    g_autoptr (GInetAddress) v4 = g_inet_address_new_from_bytes (b + 12, G_SOCKET_FAMILY_IPV4);

    return vchatd_sdp_address_is_private (v4);
  }
  return FALSE;
}

char *
vchatd_sdp_candidate_for_stranger (const char *candidate)
{
  g_auto (GStrv) tokens = NULL;
  g_autoptr (GInetAddress) address = NULL;
  const char *prefix = "";
  guint i;

  if (g_str_has_prefix (candidate, "a=")) {
    prefix = "a=";
    candidate += 2;
  }
  tokens = g_strsplit (candidate, " ", -1);
  /* candidate:foundation component transport priority address port typ type */
  if (g_strv_length (tokens) < 8)
    return NULL;
  address = g_inet_address_new_from_string (tokens[4]);
  if (g_str_equal (tokens[7], "host") && (!address || vchatd_sdp_address_is_private (address)))
    return NULL;
  for (i = 8; tokens[i] && tokens[i + 1]; i += 2) {
    if (g_str_equal (tokens[i], "raddr")) {
      g_free (tokens[i + 1]);
      tokens[i + 1] = g_strdup (strchr (tokens[4], ':') ? "::" : "0.0.0.0");
    } else if (g_str_equal (tokens[i], "rport")) {
      g_free (tokens[i + 1]);
      tokens[i + 1] = g_strdup ("0");
    }
  }
  {
    g_autofree char *joined = g_strjoinv (" ", tokens);

    return g_strconcat (prefix, joined, NULL);
  }
}

GInetAddress *
vchatd_sdp_candidate_address (const char *candidate)
{
  g_auto (GStrv) tokens = NULL;

  if (g_str_has_prefix (candidate, "a="))
    candidate += 2;
  tokens = g_strsplit (candidate, " ", 6);
  if (g_strv_length (tokens) < 6)
    return NULL;
  return g_inet_address_new_from_string (tokens[4]);
}

char *
vchatd_sdp_candidate_mdns_name (const char *candidate)
{
  g_auto (GStrv) tokens = NULL;

  if (g_str_has_prefix (candidate, "a="))
    candidate += 2;
  tokens = g_strsplit (candidate, " ", -1);
  if (g_strv_length (tokens) < 8 || !g_str_equal (tokens[7], "host") || !is_mdns_name (tokens[4]))
    return NULL;
  return g_strdup (tokens[4]);
}

char *
vchatd_sdp_candidate_with_address (const char *candidate, GInetAddress *address)
{
  g_auto (GStrv) tokens = NULL;
  const char *prefix = "";
  g_autofree char *joined = NULL;

  if (g_str_has_prefix (candidate, "a=")) {
    prefix = "a=";
    candidate += 2;
  }
  tokens = g_strsplit (candidate, " ", -1);
  if (g_strv_length (tokens) < 6)
    return NULL;
  g_free (tokens[4]);
  tokens[4] = g_inet_address_to_string (address);
  joined = g_strjoinv (" ", tokens);
  return g_strconcat (prefix, joined, NULL);
}
