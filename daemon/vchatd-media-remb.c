/* vchatd-media-remb.c: REMB with peers that give no transport-wide feedback
 *
 * What vchatd-remb.h computes, put on the wire and read from it:
 *
 * - Negotiation: every video section vchatd offers lists goog-remb and the
 *   abs-send-time header extension next to transport-cc (1.22's webrtcbin
 *   writes the extmap from the transceiver's caps, but no goog-remb line:
 *   media_remb_add_goog_remb() adds it to the description). An answer
 *   lists goog-remb where the offer did.
 * - A peer whose video has goog-remb and no transport-cc (aiortc) is in
 *   REMB mode: our video packets carry abs-send-time, written as each
 *   packet leaves the pacer (media_remb_stamp()), so that the peer's
 *   estimator sees when they were sent, not when they were encoded; the
 *   peer's REMB (RTCP PSFB/AFB, read in on_feedback_rtcp()) is the rate
 *   controller's target; and what arrives from the peer with abs-send-time
 *   feeds our own estimator (a probe on rtpbin's RTP input, before the
 *   jitter buffer, in arrival order), whose figure goes out as a REMB in
 *   every RTCP compound we send (on_sending_rtcp()), with an early one
 *   asked for every second and when it falls.
 * - With transport-cc (browsers), none of this runs: TWCC drives the
 *   controller, and our REMB would only cap a browser's own estimate.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-media-private.h"

#include <gst/rtp/gstrtcpbuffer.h>
#include <gst/rtp/gstrtpbuffer.h>

/* What our estimator may tell a peer. */
#define REMB_MIN_KBPS   50
#define REMB_START_KBPS 300
#define REMB_MAX_KBPS   4000

/* Negotiation */

static guint
video_pt (const GstSDPMedia *media)
{
  guint pt = vchatd_sdp_find_payload_type (media, "VP8");

  return pt != G_MAXUINT ? pt : vchatd_sdp_find_h264 (media, NULL);
}

static gboolean
has_feedback (const GstSDPMedia *media, guint pt, const char *what)
{
  g_autofree char *value = g_strdup_printf ("%u %s", pt, what);
  const char *v;
  guint i;

  for (i = 0; (v = gst_sdp_media_get_attribute_val_n (media, "rtcp-fb", i)); i++)
    if (g_str_equal (v, value))
      return TRUE;
  return FALSE;
}

void
media_remb_add_goog_remb (GstSDPMessage *ours, const GstSDPMessage *offer)
{
  guint i;

  for (i = 0; i < gst_sdp_message_medias_len (ours); i++) {
    GstSDPMedia *media = (GstSDPMedia *) gst_sdp_message_get_media (ours, i);
    guint pt = video_pt (media);
    g_autofree char *value = NULL;

    if (pt == G_MAXUINT || gst_sdp_media_get_port (media) == 0 || has_feedback (media, pt, "goog-remb"))
      continue;
    if (offer) {
      const GstSDPMedia *theirs =
        i < gst_sdp_message_medias_len (offer) ? gst_sdp_message_get_media (offer, i) : NULL;

      if (!theirs || !has_feedback (theirs, pt, "goog-remb"))
        continue;
    }
    value = g_strdup_printf ("%u goog-remb", pt);
    gst_sdp_media_add_attribute (media, "rtcp-fb", value);
  }
}

void
media_remb_negotiated (VchatdMedia *self, const GstSDPMedia *video)
{
  guint pt = video ? video_pt (video) : G_MAXUINT;
  guint id = video ? vchatd_sdp_find_extmap_id (video, VCHATD_ABS_SEND_TIME_URI) : 0;
  gboolean remb = pt != G_MAXUINT && has_feedback (video, pt, "goog-remb") &&
                  !has_feedback (video, pt, "transport-cc");

  /* Our stamp uses the one-byte header form: ids 1-14. */
  if (!remb || id < 1 || id > 14)
    id = 0;
  g_mutex_lock (&self->lock);
  if (remb && !self->remb_estimator)
    self->remb_estimator = vchatd_remb_estimator_new (REMB_MIN_KBPS, REMB_START_KBPS,
                                                      REMB_MAX_KBPS);
  g_mutex_unlock (&self->lock);
  g_atomic_int_set (&self->remb_mode, remb);
  g_atomic_int_set (&self->abs_send_time_id, (gint) id);
  if (remb)
    g_debug ("media: the peer gives REMB, not transport-wide feedback (abs-send-time id %u)", id);
}

/* Sending */

GstBuffer *
media_remb_stamp (VchatdMedia *self, GstBuffer *buffer)
{
  guint id = (guint) g_atomic_int_get (&self->abs_send_time_id);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  guint32 t;
  guint8 data[3];

  if (!id)
    return buffer;
  buffer = gst_buffer_make_writable (buffer);
  if (!gst_rtp_buffer_map (buffer, GST_MAP_READWRITE, &rtp))
    return buffer;
  t = vchatd_abs_send_time_from_us ((guint64) g_get_monotonic_time ());
  data[0] = (guint8) (t >> 16);
  data[1] = (guint8) (t >> 8);
  data[2] = (guint8) t;
  if (!gst_rtp_buffer_add_extension_onebyte_header (&rtp, (guint8) id, data, sizeof data))
    g_debug ("media: no room for abs-send-time in a packet");
  gst_rtp_buffer_unmap (&rtp);
  return buffer;
}

/* RTCP thread: a REMB from the peer, for the control tick. */
static void
on_feedback_rtcp (GObject *session, guint type, guint fbtype, guint sender_ssrc, guint media_ssrc,
                  GstBuffer *fci, gpointer data)
{
  VchatdMedia *self = data;
  GstMapInfo map;
  guint64 bps;

  if (type != GST_RTCP_TYPE_PSFB || fbtype != GST_RTCP_PSFB_TYPE_AFB || !fci ||
      !g_atomic_int_get (&self->remb_mode) || !gst_buffer_map (fci, &map, GST_MAP_READ))
    return;
  if (vchatd_remb_parse_fci (map.data, map.size, &bps)) {
    g_mutex_lock (&self->lock);
    self->remb_received_bps = bps;
    self->remb_received_new = TRUE;
    g_mutex_unlock (&self->lock);
  }
  gst_buffer_unmap (fci, &map);
}

/* RTCP thread: our estimate, in every compound packet we send. */
static gboolean
on_sending_rtcp (GObject *session, GstBuffer *buffer, gboolean early, gpointer data)
{
  VchatdMedia *self = data;
  GstRTCPBuffer rtcp = GST_RTCP_BUFFER_INIT;
  GstRTCPPacket packet;
  guint32 ssrcs[G_N_ELEMENTS (self->remb_ssrcs)];
  guint64 bps;
  guint n, sender_ssrc = 0;

  if (!g_atomic_int_get (&self->remb_mode))
    return FALSE;
  g_mutex_lock (&self->lock);
  bps = self->remb_send_bps;
  n = self->n_remb_ssrcs;
  memcpy (ssrcs, self->remb_ssrcs, sizeof ssrcs);
  g_mutex_unlock (&self->lock);
  if (!bps || !n)
    return FALSE;
  g_object_get (session, "internal-ssrc", &sender_ssrc, NULL);
  if (!gst_rtcp_buffer_map (buffer, GST_MAP_READWRITE, &rtcp))
    return FALSE;
  if (gst_rtcp_buffer_add_packet (&rtcp, GST_RTCP_TYPE_PSFB, &packet)) {
    gst_rtcp_packet_fb_set_type (&packet, GST_RTCP_PSFB_TYPE_AFB);
    gst_rtcp_packet_fb_set_sender_ssrc (&packet, sender_ssrc);
    gst_rtcp_packet_fb_set_media_ssrc (&packet, 0);
    if (gst_rtcp_packet_fb_set_fci_length (&packet, VCHATD_REMB_FCI_SIZE (n) / 4))
      vchatd_remb_write_fci (gst_rtcp_packet_fb_get_fci (&packet), bps, ssrcs, n);
    else
      gst_rtcp_packet_remove (&packet);
  }
  gst_rtcp_buffer_unmap (&rtcp);
  return TRUE;
}

/* Streaming thread: what arrives from the peer, before the jitter buffer. */
static void
take_packet (VchatdMedia *self, GstBuffer *buffer, guint id, gint64 now)
{
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  gpointer data = NULL;
  guint size = 0, i;

  if (!gst_rtp_buffer_map (buffer, GST_MAP_READ, &rtp))
    return;
  if (gst_rtp_buffer_get_extension_onebyte_header (&rtp, (guint8) id, 0, &data, &size) &&
      size == 3) {
    const guint8 *b = data;
    guint32 ssrc = gst_rtp_buffer_get_ssrc (&rtp);

    vchatd_remb_estimator_on_packet (self->remb_estimator, now,
                                     ((guint32) b[0] << 16) | (b[1] << 8) | b[2],
                                     (guint) gst_buffer_get_size (buffer));
    for (i = 0; i < self->n_remb_ssrcs && self->remb_ssrcs[i] != ssrc; i++)
      ;
    if (i == self->n_remb_ssrcs && i < G_N_ELEMENTS (self->remb_ssrcs))
      self->remb_ssrcs[self->n_remb_ssrcs++] = ssrc;
  }
  gst_rtp_buffer_unmap (&rtp);
}

static GstPadProbeReturn
on_rtp_arrived (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  VchatdMedia *self = data;
  guint id = (guint) g_atomic_int_get (&self->abs_send_time_id);
  gint64 now = g_get_monotonic_time ();

  if (!id)
    return GST_PAD_PROBE_OK;
  g_mutex_lock (&self->lock);
  if (self->remb_estimator) {
    if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
      take_packet (self, GST_PAD_PROBE_INFO_BUFFER (info), id, now);
    } else {
      GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
      guint i;

      for (i = 0; i < gst_buffer_list_length (list); i++)
        take_packet (self, gst_buffer_list_get (list, i), id, now);
    }
  }
  g_mutex_unlock (&self->lock);
  return GST_PAD_PROBE_OK;
}

/* Streaming thread: an RTP session's first source brings the session, whose
 * RTCP we read and add to, and its RTP input pad; once per session. */
static void
on_new_ssrc (GstElement *rtpbin, guint session_id, guint ssrc, gpointer data)
{
  VchatdMedia *self = data;
  g_autoptr (GObject) session = NULL;
  g_autofree char *pad_name = NULL;
  g_autoptr (GstPad) pad = NULL;

  g_signal_emit_by_name (rtpbin, "get-internal-session", session_id, &session);
  if (!session || g_object_get_data (session, "vchatd-remb"))
    return;
  g_object_set_data (session, "vchatd-remb", GINT_TO_POINTER (1));
  g_signal_connect (session, "on-feedback-rtcp", G_CALLBACK (on_feedback_rtcp), self);
  g_signal_connect (session, "on-sending-rtcp", G_CALLBACK (on_sending_rtcp), self);
  g_mutex_lock (&self->lock);
  if (!self->remb_session)
    self->remb_session = g_object_ref (session);
  g_mutex_unlock (&self->lock);
  pad_name = g_strdup_printf ("recv_rtp_sink_%u", session_id);
  pad = gst_element_get_static_pad (rtpbin, pad_name);
  if (pad)
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                       on_rtp_arrived, self, NULL);
}

void
media_remb_on_rtpbin (VchatdMedia *self, GstElement *rtpbin)
{
  g_signal_connect (rtpbin, "on-new-ssrc", G_CALLBACK (on_new_ssrc), self);
}

/* Main context, every control tick: the peer's REMB to the controller, our
 * estimate for the next RTCP (asked for early when it is due). */
void
media_remb_tick (VchatdMedia *self, gint64 now)
{
  g_autoptr (GObject) session = NULL;
  guint64 received = 0, estimate = 0;
  gboolean due = FALSE;

  if (!g_atomic_int_get (&self->remb_mode))
    return;
  g_mutex_lock (&self->lock);
  if (self->remb_received_new)
    received = self->remb_received_bps;
  self->remb_received_new = FALSE;
  if (self->remb_estimator) {
    due = vchatd_remb_estimator_tick (self->remb_estimator, now, &estimate);
    if (due)
      self->remb_send_bps = estimate;
  }
  /* Regular RTCP comes every few seconds at low rates: a REMB that is due
   * (every second, or at once when the estimate fell) asks for one. */
  if (due && self->remb_session)
    session = g_object_ref (self->remb_session);
  g_mutex_unlock (&self->lock);
  if (received)
    vchatd_rate_control_on_remb (self->rate_control, now, received);
  if (session)
    g_signal_emit_by_name (session, "send-rtcp", (guint64) (20 * GST_MSECOND));
}

/* The latest REMB from the peer, kbit/s; 0 when none came. */
guint
media_remb_received_kbps (VchatdMedia *self)
{
  guint64 bps;

  g_mutex_lock (&self->lock);
  bps = self->remb_received_bps;
  g_mutex_unlock (&self->lock);
  return (guint) (bps / 1000);
}

void
media_remb_clear (VchatdMedia *self)
{
  g_atomic_int_set (&self->remb_mode, FALSE);
  g_atomic_int_set (&self->abs_send_time_id, 0);
  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->remb_estimator, vchatd_remb_estimator_free);
  if (self->remb_session)
    g_signal_handlers_disconnect_by_data (self->remb_session, self);
  g_clear_object (&self->remb_session);
  g_mutex_unlock (&self->lock);
}
