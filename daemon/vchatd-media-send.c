/* vchatd-media-send.c: the encoders a call sends with, and the rate controller that drives
 * them (see "Rate control")
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-media-private.h"

#include <string.h>

/* Puts an encoder chain, ending in its payloader, into the pipeline and
 * links it to webrtcbin. 1.22: the offerer's TWCC comes from the payloader's
 * header extension. Returns the transceiver it was linked to. */
static GstWebRTCRTPTransceiver *
attach_sender (VchatdMedia *self, GstElement **chain, guint n, GstElement *payloader,
               GstWebRTCRTPTransceiver *expected, guint twcc_id, const char *what, GError **error)
{
  if (!media_add_twcc_extension (payloader, twcc_id, error)) {
    for (guint i = 0; i < n; i++)
      gst_object_unref (gst_object_ref_sink (chain[i]));
    return NULL;
  }
  if (!media_add_and_link (self, chain, n)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot link the %s encoder", what);
    return NULL;
  }
  return media_link_to_webrtc (self, chain[n - 1], expected, error);
}

/* libvpx's threads busy-wait for each other: on two cores a second encoder
 * thread burns the time slices the first one needs whenever the machine is
 * busy (a loaded 720p call spent 64 % of its samples in libvpx's spin loops
 * and delivered 3.7 fps; with one thread, 21.6 fps for the same CPU).
 * Browsers use one VP8 thread below three cores. Chosen once. */
static gint
encoder_threads (void)
{
  static gsize threads;

  if (g_once_init_enter (&threads)) {
    guint cores = g_get_num_processors ();
    gsize n = cores < 3 ? 1 : MIN (cores - 1, 8);

    g_debug ("media: %" G_GSIZE_FORMAT " VP8 encoder thread(s) on %u cores (libvpx threads "
             "busy-wait for each other: one below three cores, never more than cores - 1)",
             n, cores);
    g_once_init_leave (&threads, n);
  }
  return (gint) threads;
}

/* Rate control
 *
 * The controller (vchatd-rate-control.c, no GStreamer) learns from
 * webrtcbin's TWCC feedback, caught by a tap webrtcbin puts on the send
 * path ("request-aux-sender", vchatd-twcc.c), and from the RTT in the
 * stats. Every CONTROL_MS on the main context its target is split between
 * audio (vchatd-audio-policy.c: Opus bitrate, in-band FEC, expected loss)
 * and video; the video share drives vp8enc's target-bitrate (it takes a new
 * one while playing) and the ladder (vchatd-ladder.c), whose rung is the
 * caps of the video sender's capsfilter: videoscale and videorate follow
 * without renegotiating with the peer, and vp8enc starts the new size with
 * a keyframe. The ladder also hears how the encoder keeps up (frames its
 * queue dropped, time per frame), once a second. */

/* The video sender's thread, as a frame leaves its queue: the rung waiting
 * to be applied goes on the capsfilter now. A rung changed from the main
 * context while a frame was between videoscale and videorate (both run on
 * this thread) would reach videorate in a size the new caps refuse, and
 * videorate cannot scale: "not negotiated", and the sender stops (seen
 * in the lab when a cut made the ladder step down twice in 3 s). Here, no
 * frame is past the queue: videoscale renegotiates first. */
static GstPadProbeReturn
on_rung_due (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  VchatdMedia *self = data;
  g_autoptr (GstCaps) caps = NULL;

  g_mutex_lock (&self->lock);
  caps = g_steal_pointer (&self->pending_rung_caps);
  self->rung_probe = 0;
  g_mutex_unlock (&self->lock);
  if (caps)
    g_object_set (self->ladder_caps, "caps", caps, NULL);
  return GST_PAD_PROBE_REMOVE;
}

/* The rung is a bound, not a size: videoscale and videorate fixate within
 * it keeping the camera's shape, so a rung that fits the camera already
 * (the ladder's first pick, made before the camera's size is known) changes
 * nothing when the ladder confirms it, and nothing is scaled up. Before the
 * sender runs, it is set at once; then by on_rung_due(). */
static void
apply_rung (VchatdMedia *self)
{
  g_autoptr (GstCaps) caps = NULL;
  g_autoptr (GstPad) pad = NULL;

  if (!self->ladder_caps || self->rung.width == 0)
    return;
  caps = gst_caps_new_simple (
    "video/x-raw", "width", GST_TYPE_INT_RANGE, 16, MAX ((gint) self->rung.width, 16), "height",
    GST_TYPE_INT_RANGE, 16, MAX ((gint) self->rung.height, 16), "framerate",
    GST_TYPE_FRACTION_RANGE, 1, 1, MAX ((gint) self->rung.fps, 1), 1, "pixel-aspect-ratio",
    GST_TYPE_FRACTION, 1, 1, NULL);
  if (!self->ladder_queue) {
    g_object_set (self->ladder_caps, "caps", caps, NULL);
    return;
  }
  pad = gst_element_get_static_pad (self->ladder_queue, "src");
  g_mutex_lock (&self->lock);
  gst_caps_replace (&self->pending_rung_caps, caps);
  if (!self->rung_probe)
    self->rung_probe = gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BLOCK | GST_PAD_PROBE_TYPE_BUFFER,
                                          on_rung_due, self, NULL);
  g_mutex_unlock (&self->lock);
}

/* The camera's picture as the capture chain gives it (it changes with the
 * camera). */
static void
update_ladder_input (VchatdMedia *self)
{
  g_autoptr (GstPad) pad = NULL;
  g_autoptr (GstCaps) caps = NULL;
  GstVideoInfo info;
  guint fps;

  if (!self->video_tee)
    return;
  pad = gst_element_get_static_pad (self->video_tee, "sink");
  caps = gst_pad_get_current_caps (pad);
  if (!caps || !gst_video_info_from_caps (&info, caps))
    return;
  fps = GST_VIDEO_INFO_FPS_D (&info) > 0
          ? (guint) ((GST_VIDEO_INFO_FPS_N (&info) + GST_VIDEO_INFO_FPS_D (&info) / 2) /
                     GST_VIDEO_INFO_FPS_D (&info))
          : 0;
  if ((guint) GST_VIDEO_INFO_WIDTH (&info) == self->input_width &&
      (guint) GST_VIDEO_INFO_HEIGHT (&info) == self->input_height && fps == self->input_fps)
    return;
  self->input_width = GST_VIDEO_INFO_WIDTH (&info);
  self->input_height = GST_VIDEO_INFO_HEIGHT (&info);
  self->input_fps = fps;
  g_debug ("media: the camera gives %ux%u@%u", self->input_width, self->input_height, fps);
  vchatd_ladder_set_input (self->ladder, self->input_width, self->input_height, fps);
}

static void
feed_encoder_load (VchatdMedia *self, gint64 now)
{
  guint in, out, encoded;
  gint64 encode_us;

  if (now - self->last_load_us < LOAD_WINDOW_US)
    return;
  self->last_load_us = now;
  in = (guint) g_atomic_int_exchange (&self->sender_frames_in, 0);
  out = (guint) g_atomic_int_exchange (&self->sender_frames_out, 0);
  encoded = (guint) g_atomic_int_exchange (&self->encoded_frames, 0);
  encode_us = g_atomic_int_exchange (&self->encode_us, 0);
  if (!self->video_encoder || self->rung.fps == 0)
    return;
  vchatd_ladder_on_encoder_load (self->ladder, now, in, in > out ? in - out : 0,
                                 encoded ? encode_us / encoded : 0,
                                 G_USEC_PER_SEC / self->rung.fps);
}

void
media_apply_target (VchatdMedia *self, gint64 now, guint target_kbps)
{
  VchatdAudioPolicy audio = vchatd_audio_policy_next (
    &self->audio_policy, now, target_kbps, vchatd_rate_control_get_loss_pct (self->rate_control));
  guint video_kbps = vchatd_audio_policy_video_kbps (&audio, target_kbps);
  VchatdLadderRung rung;

  self->target_kbps = target_kbps;
  if (self->audio_encoder && vchatd_audio_policy_differs (&audio, &self->audio_policy)) {
    /* The expected loss follows every feedback report: only the bitrate and
     * FEC going on or off are worth a line in the log. */
    if (audio.bitrate_kbps != self->audio_policy.bitrate_kbps ||
        audio.inband_fec != self->audio_policy.inband_fec)
      g_debug ("media: audio %u kbit/s, FEC %s (%u %% loss expected)", audio.bitrate_kbps,
               audio.inband_fec ? "on" : "off", audio.packet_loss_pct);
    g_object_set (self->audio_encoder, "bitrate", (gint) (audio.bitrate_kbps * 1000), "inband-fec",
                  audio.inband_fec, "packet-loss-percentage", (gint) audio.packet_loss_pct, NULL);
  }
  self->audio_policy = audio;
  /* Small steps are not worth a reconfiguration of the encoder. */
  if (self->video_encoder &&
      (video_kbps * 50 > self->video_kbps * 51 || video_kbps * 50 < self->video_kbps * 49)) {
    g_object_set (self->video_encoder,
                  self->video_codec == VIDEO_CODEC_H264 ? "bitrate" : "target-bitrate",
                  (gint) (video_kbps * 1000), NULL);
    self->video_kbps = video_kbps;
  }
  g_atomic_int_set (&self->pace_kbps, (gint) (MAX (video_kbps, MIN_KBPS) * PACING_FACTOR));
  if (self->video_encoder) {
    update_ladder_input (self);
    feed_encoder_load (self, now);
    /* The peer's remote video node keeps the size of the first picture it
     * decodes (PipeWire 0.3.65, see keep_node_size): the call starts with
     * the camera's own picture, and the ladder takes over once the peer
     * has had it. */
    if (!self->connected_us || now - self->connected_us < LADDER_HOLD_US) {
      VchatdLadderRung camera = { MIN (self->input_width, self->rung.width),
                                  MIN (self->input_height, self->rung.height),
                                  MIN (self->input_fps ? self->input_fps : self->rung.fps,
                                       self->rung.fps) };

      if (camera.width) {
        g_free (self->rung_text);
        self->rung_text = vchatd_ladder_rung_to_string (&camera);
      }
      return;
    }
    if (vchatd_ladder_update (self->ladder, now, video_kbps, &rung)) {
      g_free (self->rung_text);
      self->rung_text = vchatd_ladder_rung_to_string (&rung);
      g_message ("media: sending %s at %u kbit/s%s", self->rung_text, video_kbps,
                 vchatd_ladder_is_cpu_limited (self->ladder) ? " (the encoder cannot keep up)"
                                                             : "");
      self->rung = rung;
      apply_rung (self);
    }
  }
}

gboolean
media_on_control_tick (gpointer data)
{
  VchatdMedia *self = data;
  gint64 now = g_get_monotonic_time ();
  g_autoptr (GPtrArray) reports = vchatd_twcc_tap_take (self->twcc);
  guint sent = (guint) g_atomic_int_exchange (&self->sent_bytes, 0);
  guint i;

  if (sent)
    vchatd_rate_control_on_sent (self->rate_control, now, sent);
  media_remb_tick (self, now);
  for (i = 0; reports && i < reports->len; i++) {
    GArray *packets = reports->pdata[i];

    vchatd_rate_control_on_feedback (self->rate_control, now,
                                     (const VchatdPacketFeedback *) packets->data, packets->len);
  }
  media_apply_target (self, now, vchatd_rate_control_tick (self->rate_control, now));
  return G_SOURCE_CONTINUE;
}

static GstPadProbeReturn
on_rtp_sent (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  VchatdMedia *self = data;
  gsize bytes = 0;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    bytes = gst_buffer_get_size (GST_PAD_PROBE_INFO_BUFFER (info));
  } else {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    guint i;

    for (i = 0; i < gst_buffer_list_length (list); i++)
      bytes += gst_buffer_get_size (gst_buffer_list_get (list, i));
  }
  g_atomic_int_add (&self->sent_bytes, (gint) MIN (bytes, G_MAXINT / 4));
  return GST_PAD_PROBE_OK;
}

/* webrtcbin's thread, once per transport (one, bundled): the tap that
 * catches the TWCC reports, which also counts what is sent. */
GstElement *
media_on_request_aux_sender (GstElement *webrtc, GObject *transport, gpointer data)
{
  VchatdMedia *self = data;
  GstElement *tap = vchatd_twcc_tap_make_element (self->twcc);

  if (tap) {
    g_autoptr (GstPad) sink = gst_element_get_static_pad (tap, "sink");

    /* Like every probe of the session's, it goes with the pipeline, which
     * never outlives the session (see media_teardown()). */
    gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                       on_rtp_sent, self, NULL);
  }
  return tap;
}

/* Pacing
 *
 * A frame leaves the payloader as a list of packets, all at once. A
 * keyframe is many times an average frame (tens of KiB at 720p), and a
 * bottleneck queue holds little (19 KiB at 1 Mbit/s and 150 ms): sent in
 * one burst, its tail is dropped, the receiver asks for another keyframe,
 * and so on (the lab's 1 Mbit/s calls lost 30 % of their packets in
 * their first seconds, and a mid-call keyframe cut the rate to a third).
 * So the video's packets go out paced, as browsers pace theirs: at
 * PACING_FACTOR times the video's target, with a credit of PACING_BURST_US
 * for small frames, from a queue of their own after the payloader (the
 * pacer's thread), so the encoder never waits for them. A packet is never
 * held back more than PACING_MAX_US: past that they go faster. The
 * controller sees the paced send times: the aux sender is downstream. */
/* The pacer's thread: waits until @bytes may go. Clamping the schedule
 * alone bounds one packet's wait, not the backlog: an encoder that
 * overshoots its target for a while (a keyframe at a large size right after
 * the call starts or a rung changes) kept the pacing rate, its queue grew
 * to its 2 s limit and held the encoder up, whose own queue then dropped
 * frames, which the ladder took for a slow machine (320x180 for 25 s).
 * So a backlog older than PACING_MAX_US goes out without waiting. */
static void
pace (VchatdMedia *self, GstElement *queue, gsize bytes)
{
  gint kbps = g_atomic_int_get (&self->pace_kbps);
  gint64 now = g_get_monotonic_time ();
  guint64 backlog_ns = 0;

  if (kbps <= 0)
    return;
  g_object_get (queue, "current-level-time", &backlog_ns, NULL);
  if (backlog_ns > (guint64) PACING_MAX_US * 1000) {
    self->pace_next_us = now;
    return;
  }
  if (self->pace_next_us < now - PACING_BURST_US)
    self->pace_next_us = now - PACING_BURST_US;
  if (self->pace_next_us > now + PACING_MAX_US)
    self->pace_next_us = now + PACING_MAX_US;
  if (self->pace_next_us > now && !media_is_stopping (self))
    g_usleep ((gulong) (self->pace_next_us - now));
  self->pace_next_us += (gint64) bytes * 8000 / kbps;
}

/* On the pacer queue's source pad: each packet of a list is handed on by
 * itself, when its turn comes. */
static GstPadProbeReturn
on_video_packets (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  VchatdMedia *self = data;
  GstElement *queue = GST_ELEMENT (GST_PAD_PARENT (pad));
  g_autoptr (GstPad) peer = NULL;
  GstBufferList *list;
  GstFlowReturn ret = GST_FLOW_OK;
  guint i, n;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    pace (self, queue, gst_buffer_get_size (GST_PAD_PROBE_INFO_BUFFER (info)));
    GST_PAD_PROBE_INFO_DATA (info) = media_remb_stamp (self, GST_PAD_PROBE_INFO_BUFFER (info));
    return GST_PAD_PROBE_OK;
  }
  if (!(peer = gst_pad_get_peer (pad)))
    return GST_PAD_PROBE_OK;
  list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
  n = gst_buffer_list_length (list);
  for (i = 0; i < n && ret == GST_FLOW_OK; i++) {
    GstBuffer *buffer = gst_buffer_list_get (list, i);

    pace (self, queue, gst_buffer_get_size (buffer));
    /* abs-send-time, for a peer that estimates with REMB, as it leaves. */
    ret = gst_pad_chain (peer, media_remb_stamp (self, gst_buffer_ref (buffer)));
  }
  GST_PAD_PROBE_INFO_DATA (info) = NULL;
  gst_buffer_list_unref (list);
  GST_PAD_PROBE_INFO_FLOW_RETURN (info) = ret;
  return GST_PAD_PROBE_HANDLED;
}

/* The video sender's probes: frames in and out of its queue (a busy
 * encoder makes it drop), time spent in the encoder, and keyframe requests. */

static GstPadProbeReturn
on_sender_frame_in (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  g_atomic_int_inc (&((VchatdMedia *) data)->sender_frames_in);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_sender_frame_out (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  g_atomic_int_inc (&((VchatdMedia *) data)->sender_frames_out);
  return GST_PAD_PROBE_OK;
}

/* vp8enc encodes in its sink pad's chain function and pushes the frame
 * from there (lag-in-frames 0): the time between its sink and its source
 * is the encode time, on one thread. */
static GstPadProbeReturn
on_encoder_in (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  ((VchatdMedia *) data)->encode_started_us = g_get_monotonic_time ();
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_encoder_out (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  VchatdMedia *self = data;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    if (self->encode_started_us) {
      g_atomic_int_add (
        &self->encode_us,
        (gint) MIN (g_get_monotonic_time () - self->encode_started_us, G_MAXINT / 4));
      self->encode_started_us = 0;
    }
    g_atomic_int_inc (&self->encoded_frames);
    return GST_PAD_PROBE_OK;
  }
  /* A keyframe request from the peer (PLI/FIR through rtpsession): one is
   * answered at once; more within KEYFRAME_MIN_INTERVAL_US are covered by
   * that keyframe (a lossy path asks again and again, and each keyframe is
   * many times a frame's size). */
  if (gst_video_event_is_force_key_unit (GST_PAD_PROBE_INFO_EVENT (info))) {
    gint64 now = g_get_monotonic_time ();

    if (now - self->last_keyframe_request_us < KEYFRAME_MIN_INTERVAL_US) {
      g_debug ("media: a keyframe request within %d ms of the last: the keyframe is on its way",
               KEYFRAME_MIN_INTERVAL_US / 1000);
      return GST_PAD_PROBE_DROP;
    }
    self->last_keyframe_request_us = now;
  }
  return GST_PAD_PROBE_OK;
}

static void
add_probe (GstElement *element, const char *pad_name, GstPadProbeType mask,
           GstPadProbeCallback callback, VchatdMedia *self)
{
  g_autoptr (GstPad) pad = gst_element_get_static_pad (element, pad_name);

  gst_pad_add_probe (pad, mask, callback, self, NULL);
}

/* H.264 for a peer without VP8 (vchatd answers such an offer; it offers
 * VP8 itself): openh264, the encoder Debian ships in main, in constrained
 * baseline (its src caps' first profile) with rate control on the bitrate
 * the controller sets live, frames skipped rather than the rate overshot,
 * the same 300-frame keyframe interval as VP8, and one slice per frame.
 * The payloader sends the parameter sets with every keyframe, so that a
 * receiver that lost them recovers at the next one, and sends each frame
 * as soon as it is encoded. */
static void
setup_h264 (GstElement *encoder, GstElement *payloader, guint kbps)
{
  g_object_set (encoder, "bitrate", (guint) (kbps * 1000), "gop-size", 300, "enable-frame-skip",
                TRUE, "multi-thread", (guint) encoder_threads (), NULL);
  gst_util_set_object_arg (G_OBJECT (encoder), "rate-control", "bitrate");
  gst_util_set_object_arg (G_OBJECT (encoder), "usage-type", "camera");
  gst_util_set_object_arg (G_OBJECT (encoder), "complexity", "low");
  g_object_set (payloader, "config-interval", -1, NULL);
  gst_util_set_object_arg (G_OBJECT (payloader), "aggregate-mode", "zero-latency");
}

/* VP9 profile 0 between two vchatds (off by default, see
 * media_vp9_usable()), set up as vp8enc is (see below) plus row-mt.
 * Measured offline on the benchmark clip, 149 frames at these settings,
 * bit/s out and PSNR-Y (load average about 10):
 *   640x360 at 500k:   VP8 488k 25.8 dB; VP9 494k 25.5 dB
 *   1280x720 at 1200k: VP8 1179k 27.4 dB; VP9 1181k 29.1 dB
 * so VP9 gains only at 720p. Cyclic-refresh AQ (libwebrtc's choice) cost
 * 0.3-0.8 dB here; error-resilient cost 3.7-4.1 dB (21.8 and 25.0 dB),
 * more than VP9 gains. Without it a lost frame leaves the receiver's
 * entropy context wrong and vp9dec fails every frame until a keyframe
 * (libvpx resyncs only on one; vpxdec then asks for it, through
 * on_keyframe_wanted()'s throttle): in the lab's 1 Mbit/s cap that gave
 * gaps of 1.1-6.4 s where VP8 has 0.6 s, which is why VP9 is not the
 * default. cpu-used 8: 15 ms a 720p frame on one thread here (9: 9 ms,
 * 0.1-0.6 dB less). */
#define VP9_CPU_USED 8

static void
setup_vp9 (GstElement *encoder, GstElement *payloader, guint kbps)
{
  g_object_set (encoder, "deadline", (gint64) 1, "cpu-used", VP9_CPU_USED, "lag-in-frames", 0,
                "keyframe-max-dist", 300, "target-bitrate", (gint) (kbps * 1000), "buffer-size",
                1000, "buffer-initial-size", 500, "buffer-optimal-size", 600, "max-intra-bitrate",
                900, "undershoot", 100, "overshoot", 15, "threads", encoder_threads (), "row-mt",
                TRUE, NULL);
  gst_util_set_object_arg (G_OBJECT (encoder), "end-usage", "cbr");
  gst_util_set_object_arg (G_OBJECT (payloader), "picture-id-mode", "15-bit");
}

/* tee → queue → videoscale → videorate → capsfilter → vp8enc → rtpvp8pay → queue (pacer)
 *   → webrtcbin (openh264enc → rtph264pay for H.264, vp9enc → rtpvp9pay for VP9)
 *
 * The capsfilter holds the ladder's rung (see "Rate control"); the preview
 * keeps the camera's picture. */
gboolean
media_build_video_sender (VchatdMedia *self, GstWebRTCRTPTransceiver *expected, guint pt,
                          guint twcc_id, GError **error)
{
  static const char *const vp8_factories[] = { "queue",  "videoscale", "videorate", "capsfilter",
                                               "vp8enc", "rtpvp8pay",  "queue" };
  static const char *const h264_factories[] = { "queue",       "videoscale", "videorate",
                                                "capsfilter",  "openh264enc", "rtph264pay",
                                                "queue" };
  static const char *const vp9_factories[] = { "queue",  "videoscale", "videorate", "capsfilter",
                                               "vp9enc", "rtpvp9pay",  "queue" };
  const char *const *factories = self->video_codec == VIDEO_CODEC_H264  ? h264_factories
                                 : self->video_codec == VIDEO_CODEC_VP9 ? vp9_factories
                                                                        : vp8_factories;
  GstElement *chain[G_N_ELEMENTS (vp8_factories)];
  g_autoptr (GstWebRTCRTPTransceiver) transceiver = NULL;
  g_autoptr (GstPad) teepad = NULL;
  g_autoptr (GstPad) queuepad = NULL;

  if (!media_make_elements (factories, chain, G_N_ELEMENTS (chain), error))
    return FALSE;
  /* A slow encoder drops frames rather than delaying the preview. */
  g_object_set (chain[0], "leaky", 2, "max-size-buffers", 2, "max-size-bytes", 0, "max-size-time",
                (guint64) 0, NULL);
  /* A rung below the camera's size is a 2-4:1 downscale: videoscale's
   * default two-tap bilinear aliases there (moire on fine detail, which
   * then costs bits to encode). The multi-tap bilinear averages the area:
   * the benchmark clip at 480x270 scores 27.5 dB against a Lanczos
   * reference where two-tap scores 24.1, for 1.5 ms more CPU a frame;
   * at the camera's own size the scaler passes frames through. */
  gst_util_set_object_arg (G_OBJECT (chain[1]), "method", "bilinear2");
  /* Only ever drops, to the rung's frame rate. */
  g_object_set (chain[2], "drop-only", TRUE, "skip-to-first", TRUE, NULL);
  /* Real-time VP8 as WebRTC sets it up (libwebrtc's LibvpxVp8Encoder): a
   * rate-control buffer of 1 s (GStreamer's default is 6 s, which lets the
   * encoder overshoot for seconds after the target drops), a keyframe no
   * larger than 9 average frames (a 720p keyframe otherwise fills a
   * 150 ms bottleneck queue several times over: the loss that held the
   * controller at a third of a 1 Mbit/s link) and little overshoot.
   * Keyframes come when a receiver asks (PLI: browsers ask after a loss
   * NACK could not repair, and so do ours, at most once a second), and
   * otherwise every 300 frames, for a receiver that never asks. Every 60
   * frames, as before, cost the 5 % loss lab case its rate: the target
   * stayed at 370-1010 kbit/s where with 300 it climbs to the 1540
   * ceiling, with as many frames and no longer gaps (two runs each). */
  if (self->video_codec == VIDEO_CODEC_H264) {
    setup_h264 (chain[4], chain[5], self->video_kbps);
  } else if (self->video_codec == VIDEO_CODEC_VP9) {
    setup_vp9 (chain[4], chain[5], self->video_kbps);
  } else {
    g_object_set (chain[4], "deadline", (gint64) 1, "cpu-used", 8, "lag-in-frames", 0,
                  "keyframe-max-dist", 300, "target-bitrate", (gint) (self->video_kbps * 1000),
                  "buffer-size", 1000, "buffer-initial-size", 500, "buffer-optimal-size", 600,
                  "max-intra-bitrate", 900, "undershoot", 100, "overshoot", 15, "threads",
                  encoder_threads (), NULL);
    gst_util_set_object_arg (G_OBJECT (chain[4]), "end-usage", "cbr");
    gst_util_set_object_arg (G_OBJECT (chain[4]), "error-resilient", "default");
    gst_util_set_object_arg (G_OBJECT (chain[5]), "picture-id-mode", "15-bit");
  }
  g_object_set (chain[5], "pt", pt, "mtu", 1200, NULL);
  add_probe (chain[0], "sink", GST_PAD_PROBE_TYPE_BUFFER, on_sender_frame_in, self);
  add_probe (chain[0], "src", GST_PAD_PROBE_TYPE_BUFFER, on_sender_frame_out, self);
  add_probe (chain[4], "sink", GST_PAD_PROBE_TYPE_BUFFER, on_encoder_in, self);
  add_probe (chain[4], "src", GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
             on_encoder_out, self);
  /* The pacer's thread (see "Pacing"): the encoder's is never held up by
   * it, or its queue would drop frames the ladder takes for a slow encoder. */
  g_object_set (chain[6], "max-size-buffers", 0, "max-size-bytes", 0, "max-size-time",
                (guint64) 2 * GST_SECOND, NULL);
  add_probe (chain[6], "src", GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
             on_video_packets, self);
  transceiver = attach_sender (self, chain, G_N_ELEMENTS (chain), chain[5], expected, twcc_id,
                               "video", error);
  if (!transceiver)
    return FALSE;
  /* 1.22: set before create-offer; an answerer's was set on add-transceiver. */
  g_object_set (transceiver, "do-nack", TRUE, NULL);

  self->ladder_caps = chain[3];
  self->video_encoder = chain[4];
  apply_rung (self);
  self->ladder_queue = chain[0];
  media_sync_with_pipeline (chain, G_N_ELEMENTS (chain));
  teepad = gst_element_request_pad_simple (self->video_tee, "src_%u");
  queuepad = gst_element_get_static_pad (chain[0], "sink");
  if (gst_pad_link (teepad, queuepad) != GST_PAD_LINK_OK) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot link the video encoder");
    return FALSE;
  }
  self->have_video_track = TRUE;
  return TRUE;
}

/* [source] → audioconvert → audioresample → mono 48 kHz → volume → queue → opusenc → rtpopuspay
 * → webrtcbin */
gboolean
media_build_audio_sender (VchatdMedia *self, GstWebRTCRTPTransceiver *expected, guint pt,
                          guint twcc_id, GError **error)
{
  static const char *const factories[] = { "audioconvert", "audioresample", "capsfilter", "volume",
                                           "queue",        "opusenc",       "rtpopuspay" };
  GstElement *chain[G_N_ELEMENTS (factories)];
  g_autoptr (GstWebRTCRTPTransceiver) transceiver = NULL;
  g_autoptr (GstCaps) mono = gst_caps_from_string ("audio/x-raw,rate=48000,channels=1");

  if (!media_make_elements (factories, chain, G_N_ELEMENTS (chain), error))
    return FALSE;
  /* One format whatever the input (the microphone, or silence when it
   * fails): the encoder never sees a change. */
  g_object_set (chain[2], "caps", mono, NULL);
  g_object_set (chain[3], "mute", self->muted, NULL);
  g_object_set (chain[4], "max-size-buffers", 0, "max-size-bytes", 0, "max-size-time",
                (guint64) 200 * GST_MSECOND, "leaky", 2, NULL);
  /* dtx stays off: a muted peer keeps sending, which keeps the watchdog fed.
   * Bitrate, FEC and the expected loss follow the rate controller. */
  g_object_set (chain[5], "bitrate", (gint) (self->audio_policy.bitrate_kbps * 1000), "inband-fec",
                self->audio_policy.inband_fec, "packet-loss-percentage",
                (gint) self->audio_policy.packet_loss_pct, NULL);
  gst_util_set_object_arg (G_OBJECT (chain[5]), "audio-type", "voice");
  g_object_set (chain[6], "pt", pt, "mtu", 1200, NULL);
  transceiver = attach_sender (self, chain, G_N_ELEMENTS (chain), chain[G_N_ELEMENTS (chain) - 1],
                               expected, twcc_id, "audio",
                               error);
  if (!transceiver)
    return FALSE;
  media_sync_with_pipeline (chain, G_N_ELEMENTS (chain));
  self->volume = chain[3];
  self->audio_encoder = chain[5];
  if (!media_build_slot (self, SOURCE_AUDIO, chain[0], error))
    return FALSE;
  self->have_audio_track = TRUE;
  return TRUE;
}
