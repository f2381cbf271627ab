/* vchatd-media-publish.c: what arrives from the peer: decoders, the remote video node and
 * the speaker (PipeWire outputs), thumbnails
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-media-private.h"

#include <string.h>

static GstPadProbeReturn on_frame_decoded (GstPad *pad, GstPadProbeInfo *info, gpointer data);
static GstPadProbeReturn on_thumbnail_candidate (GstPad *pad, GstPadProbeInfo *info, gpointer data);
static GstFlowReturn on_thumbnail_sample (GstAppSink *sink, gpointer data);

void
media_output_free (gpointer data)
{
  Output *output = data;

  gst_object_unref (output->sink);
  g_free (output);
}

static gboolean
send_sticky (GstPad *pad, GstEvent **event, gpointer data)
{
  gst_pad_send_event (GST_PAD (data), gst_event_ref (*event));
  return TRUE;
}

/* Streaming thread, before the first buffer reaches a started output:
 * what the branch said while the sink was not playing (stream start, caps,
 * segment) was dropped, and is said again now. */
static void
prime_output (Output *output, GstPad *pad, GstPad *peer, GstBuffer *first)
{
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);

  if (caps && g_str_equal (G_OBJECT_TYPE_NAME (output->sink), "GstPipeWireSink"))
    vchatd_publisher_activate_sink_pool (peer, caps, first);
  gst_pad_sticky_events_foreach (pad, send_sticky, peer);
  output->primed = TRUE;
}

/* The output's buffers go through this probe on the pad in front of it,
 * which pushes them itself and keeps the output's flow errors from going
 * upstream: through rtpbin they would stop every stream of the call (and
 * through a tee, the encoder). Until the output has started and been
 * primed, and once it has failed, its buffers and events are dropped (a
 * sink that is not playing would answer FLUSHING, which stops the
 * branch). */
static GstPadProbeReturn
on_output_data (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Output *output = data;
  g_autoptr (GstPad) peer = NULL;
  GstFlowReturn ret;

  if (g_atomic_int_get (&output->failed))
    return GST_PAD_PROBE_DROP;
  if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM)
    return output->primed ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
  peer = gst_pad_get_peer (pad);
  if (!peer)
    return GST_PAD_PROBE_OK;
  if (!output->primed)
    prime_output (output, pad, peer,
                  (info->type & GST_PAD_PROBE_TYPE_BUFFER) ? GST_PAD_PROBE_INFO_BUFFER (info)
                                                           : NULL);
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    ret = gst_pad_chain_list (peer, GST_PAD_PROBE_INFO_BUFFER_LIST (info));
  else
    ret = gst_pad_chain (peer, GST_PAD_PROBE_INFO_BUFFER (info));
  GST_PAD_PROBE_INFO_DATA (info) = NULL;
  if (ret == GST_FLOW_OK) {
    g_atomic_int_set (&output->has_data, 1);
  } else if (ret != GST_FLOW_FLUSHING) {
    if (ret != GST_FLOW_EOS)
      g_atomic_int_set (&output->failed, 1);
    ret = GST_FLOW_OK;
  }
  GST_PAD_PROBE_INFO_FLOW_RETURN (info) = ret;
  return GST_PAD_PROBE_HANDLED;
}

/* Any thread. */
void
media_output_failed (VchatdMedia *self, Output *output, const char *message)
{
  g_atomic_int_set (&output->failed, 1);
  if (g_atomic_int_compare_and_exchange (&output->reported, 0, 1))
    media_report_device_failed (self, output->device, message, "the call goes on without it");
}

static void
start_output_job (VchatdMedia *self, GstElement *pipeline, GstElement *sink, gpointer data)
{
  Output *output = data;

  if (media_play_locked (self, pipeline, sink))
    g_atomic_int_set (&output->failed, 0);
  else if (!media_is_stopping (self))
    media_output_failed (self, output, "cannot publish it on PipeWire (is PipeWire running?)");
}

/* @sink, fed by @before, joins the pipeline as an output: its buffers are
 * dropped until it has started (off the calling thread), and it never ends
 * the call. Any thread; NULL once the session is stopping. */
Output *
media_add_output (VchatdMedia *self, GstElement *before, GstElement *sink, const char *device)
{
  g_autoptr (GstPad) pad = gst_element_get_static_pad (before, "src");
  Output *output = g_new0 (Output, 1);
  gboolean added = FALSE;

  output->device = device;
  output->sink = gst_object_ref (sink);
  output->failed = 1;
  media_set_sinks_not_async (sink);
  gst_element_set_locked_state (sink, TRUE);
  g_object_set_data (G_OBJECT (sink), "vchatd-output", output);
  g_mutex_lock (&self->lock);
  if (!self->stopping) {
    g_ptr_array_add (self->outputs, output);
    added = TRUE;
  }
  g_mutex_unlock (&self->lock);
  if (!added) {
    media_output_free (output);
    return NULL;
  }
  gst_pad_add_probe (pad,
                     GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
                       GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
                     on_output_data, output, NULL);
  return output;
}

/* Main context, once the pipeline plays. */
void
media_start_output (VchatdMedia *self, Output *output)
{
  media_run_locked_job (self, output->sink, start_output_job, output, NULL);
}

/* The data @key of @object or of its nearest ancestor that has it (main
 * context, pipeline alive). */
gpointer
media_find_tagged (VchatdMedia *self, GstObject *object, const char *key)
{
  g_autoptr (GstObject) current = gst_object_ref (object);

  while (current && current != GST_OBJECT (self->pipeline)) {
    gpointer data = g_object_get_data (G_OBJECT (current), key);
    GstObject *parent;

    if (data)
      return data;
    parent = gst_object_get_parent (current);
    gst_object_unref (current);
    current = parent;
  }
  return NULL;
}

Output *
media_find_output (VchatdMedia *self, GstObject *object)
{
  return media_find_tagged (self, object, "vchatd-output");
}

GstElement *
media_make_pipewire_sink (const char *node_name, const char *media_class, const char *description,
                    GError **error)
{
  GstElement *sink = media_make_element ("pipewiresink", NULL, error);
  g_autoptr (GstStructure) props = NULL;

  if (!sink)
    return NULL;
  props = gst_structure_new ("props", "media.class", G_TYPE_STRING, media_class, NULL);
  /* A published node (remote video, preview) stays in pipewiresink's
   * default mode: with mode=provide, PipeWire 0.3.65 stops delivering once
   * the first reader has left and the node was paused or suspended, so a
   * second `vchatctl view` would get no frame. node.pause-on-idle=false
   * keeps it readable by one reader after another; autoconnect=false, as
   * there is nothing to link it to: readers come to it. vchat.hidden marks
   * it as ours, so the daemon does not offer it as a camera. */
  if (node_name)
    gst_structure_set (props, "node.name", G_TYPE_STRING, node_name, "node.description",
                       G_TYPE_STRING, description, "vchat.hidden", G_TYPE_STRING, "true",
                       "node.autoconnect", G_TYPE_STRING, "false", "node.pause-on-idle",
                       G_TYPE_STRING, "false", NULL);
  else
    gst_structure_set (props, "media.role", G_TYPE_STRING, "Communication", NULL);
  g_object_set (sink, "stream-properties", props, "sync", FALSE, "async", FALSE, NULL);
  return sink;
}

/* Receiving */


static GstFlowReturn
on_node_sample (GstAppSink *sink, gpointer data)
{
  g_autoptr (GstSample) sample = gst_app_sink_pull_sample (sink);

  if (sample)
    vchatd_publisher_push (data, sample);
  return GST_FLOW_OK;
}

/* After a loss that NACK could not repair, the depayloader asks upstream
 * for a keyframe (rtpsession sends the peer a PLI): a browser sends
 * keyframes only when asked, so without this a picture it smeared stayed
 * smeared, grey, for the rest of the call. It asks at every broken frame,
 * and on a congested link the keyframes that answer cause more loss (the
 * lab's 1 Mbit/s case once sent 1.3 Mbit/s for a 378 kbit/s target and
 * froze): so at most one request goes through per
 * KEYFRAME_ASK_INTERVAL_US, and the decoder goes on meanwhile (a smeared
 * picture beats a frozen one). */
static GstPadProbeReturn
on_keyframe_wanted (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  VchatdMedia *self = data;
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  gint64 now;

  if (!gst_video_event_is_force_key_unit (event))
    return GST_PAD_PROBE_OK;
  now = g_get_monotonic_time ();
  if (self->last_keyframe_ask_us && now - self->last_keyframe_ask_us < KEYFRAME_ASK_INTERVAL_US)
    return GST_PAD_PROBE_DROP;
  self->last_keyframe_ask_us = now;
  g_debug ("media: asking the peer for a keyframe: a frame was lost");
  return GST_PAD_PROBE_OK;
}

/* GStreamer 1.22.0's rtpvp9depay reads a NULL event when a lost packet is
 * reported in the middle of a picture (gstrtpvp9depay.c, packet_lost():
 * last_lost_event for event), a CRITICAL: the jitter buffer's lost-packet
 * events never reach it. What the depayloader would have done with them,
 * ask for a keyframe after a loss NACK could not repair, is done here,
 * through the same throttle as the depayloader's own requests
 * (on_keyframe_wanted(), on this pad): without it, a picture smeared by a
 * lost frame stayed smeared until the next broken frame asked. */
static GstPadProbeReturn
on_vp9_packet_lost (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);

  if (GST_EVENT_TYPE (event) != GST_EVENT_CUSTOM_DOWNSTREAM ||
      !gst_event_has_name (event, "GstRTPPacketLost"))
    return GST_PAD_PROBE_OK;
  gst_pad_push_event (pad, gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE,
                                                                        TRUE, 0));
  return GST_PAD_PROBE_DROP;
}

/* queue → rtpvp8depay → vp8dec → videoconvert → tee ┬ thumbnails
 *                                                  └ the remote video node
 * (rtph264depay → h264parse → openh264dec for H.264: the decoder takes only
 * caps with a profile, which the parser reads from the parameter sets;
 * rtpvp9depay → vp9dec for VP9) */
static GstElement *
build_video_receiver (VchatdMedia *self, VideoCodec codec, GError **error)
{
  static const char *const vp8_factories[] = { "queue", "rtpvp8depay", "vp8dec", "videoconvert",
                                               "tee" };
  static const char *const vp9_factories[] = { "queue", "rtpvp9depay", "vp9dec", "videoconvert",
                                               "tee" };
  static const char *const h264_factories[] = { "queue",       "rtph264depay", "h264parse",
                                                "openh264dec", "videoconvert", "tee" };
  const char *const *factories = codec == VIDEO_CODEC_H264  ? h264_factories
                                 : codec == VIDEO_CODEC_VP9 ? vp9_factories
                                                            : vp8_factories;
  guint n = codec == VIDEO_CODEC_H264 ? G_N_ELEMENTS (h264_factories)
                                      : G_N_ELEMENTS (vp8_factories);
  static const char *const thumb_factories[] = { "queue", "videoscale", "videoconvert",
                                                 "capsfilter", "appsink" };
  GstElement *chain[G_N_ELEMENTS (h264_factories)];
  GstElement *thumb[G_N_ELEMENTS (thumb_factories)];
  GstElement *tee;
  g_autoptr (GstPad) decoded = NULL;
  g_autoptr (GstPad) thumbpad = NULL;
  g_autoptr (GstCaps) rgb = NULL;
  GstAppSinkCallbacks callbacks = { .new_sample = on_thumbnail_sample };

  if (!media_make_elements (factories, chain, n, error))
    return NULL;
  if (!media_make_elements (thumb_factories, thumb, G_N_ELEMENTS (thumb), error)) {
    guint i;

    for (i = 0; i < n; i++)
      gst_object_unref (gst_object_ref_sink (chain[i]));
    return NULL;
  }
  tee = chain[n - 1];
  g_object_set (tee, "allow-not-linked", TRUE, NULL);
  g_object_set (chain[1], "request-keyframe", TRUE, NULL);
  {
    g_autoptr (GstPad) depay_sink = gst_element_get_static_pad (chain[1], "sink");

    gst_pad_add_probe (depay_sink, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, on_keyframe_wanted, self,
                       NULL);
    if (codec == VIDEO_CODEC_VP9)
      gst_pad_add_probe (depay_sink, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_vp9_packet_lost,
                         NULL, NULL);
  }

  /* Thumbnails: dropped before any conversion unless someone listens and a
   * second has passed, so they cost nothing the rest of the time. */
  g_object_set (thumb[0], "leaky", 2, "max-size-buffers", 1, "max-size-bytes", 0, "max-size-time",
                (guint64) 0, NULL);
  rgb = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "RGB", "width", G_TYPE_INT,
                             THUMBNAIL_WIDTH, "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
  g_object_set (thumb[3], "caps", rgb, NULL);
  g_object_set (thumb[4], "sync", FALSE, "async", FALSE, "max-buffers", 1, "drop", TRUE, NULL);
  gst_app_sink_set_callbacks (GST_APP_SINK (thumb[4]), &callbacks, self, NULL);

  if (!media_add_and_link (self, chain, n) ||
      !media_add_and_link (self, thumb, G_N_ELEMENTS (thumb)) || !gst_element_link (tee, thumb[0]))
    goto link_failed;
  thumbpad = gst_element_get_static_pad (thumb[0], "sink");
  gst_pad_add_probe (thumbpad, GST_PAD_PROBE_TYPE_BUFFER, on_thumbnail_candidate, self, NULL);
  media_sync_with_pipeline (thumb, G_N_ELEMENTS (thumb));

  /* The remote video node lives for the call (vchatd-publisher.h): it is
   * given every decoded frame, and keeps at most two. */
  if (self->publisher) {
    GstElement *node[2];
    static const char *const node_factories[] = { "queue", "appsink" };
    GstAppSinkCallbacks node_callbacks = { .new_sample = on_node_sample };

    if (!media_make_elements (node_factories, node, G_N_ELEMENTS (node), error))
      return NULL;
    g_object_set (node[0], "leaky", 2, "max-size-buffers", 2, "max-size-bytes", 0, "max-size-time",
                  (guint64) 0, NULL);
    g_object_set (node[1], "sync", FALSE, "async", FALSE, "max-buffers", 1, "drop", TRUE, NULL);
    gst_app_sink_set_callbacks (GST_APP_SINK (node[1]), &node_callbacks,
                                g_object_ref (self->publisher), g_object_unref);
    if (!media_add_and_link (self, node, G_N_ELEMENTS (node)) || !gst_element_link (tee, node[0]))
      goto link_failed;
    media_sync_with_pipeline (node, G_N_ELEMENTS (node));
  }

  decoded = gst_element_get_static_pad (chain[n - 3], "src");
  gst_pad_add_probe (decoded, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
                     on_frame_decoded, self, NULL);
  media_sync_with_pipeline (chain, n);
  return chain[0];

link_failed:
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot link the video decoder");
  return NULL;
}

/* queue → rtpopusdepay → opusdec → audioconvert → audioresample → sink */
static GstElement *
build_audio_receiver (VchatdMedia *self, GError **error)
{
  static const char *const factories[] = { "queue", "rtpopusdepay", "opusdec", "audioconvert",
                                           "audioresample" };
  GstElement *chain[G_N_ELEMENTS (factories) + 1];
  GstElement *sink;
  Output *output;

  if (self->audio_sink_description) {
    sink = gst_parse_bin_from_description_full (self->audio_sink_description, TRUE, NULL,
                                                GST_PARSE_FLAG_NONE, error);
    if (!sink) {
      g_prefix_error (error, "The audio sink “%s” is not valid: ", self->audio_sink_description);
      return NULL;
    }
  } else {
    sink = media_make_pipewire_sink (NULL, "Stream/Output/Audio", NULL, error);
    if (!sink)
      return NULL;
    if (self->speaker_target)
      g_object_set (sink, "target-object", self->speaker_target, NULL);
  }
  if (!media_make_elements (factories, chain, G_N_ELEMENTS (factories), error)) {
    gst_object_unref (gst_object_ref_sink (sink));
    return NULL;
  }
  chain[G_N_ELEMENTS (factories)] = sink;
  g_object_set (chain[2], "use-inband-fec", TRUE, NULL);
  /* No speaker (or no PipeWire) is no reason to end a call. */
  output = media_add_output (self, chain[G_N_ELEMENTS (factories) - 1], sink, "speaker");
  if (!media_add_and_link (self, chain, G_N_ELEMENTS (chain))) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot link the audio decoder");
    return NULL;
  }
  media_sync_with_pipeline (chain, G_N_ELEMENTS (chain) - 1);
  if (output)
    media_start_output (self, output);
  return chain[0];
}

static GstElement *
build_discard_receiver (VchatdMedia *self)
{
  GstElement *sink = gst_element_factory_make ("fakesink", NULL);

  g_object_set (sink, "sync", FALSE, "async", FALSE, NULL);
  gst_bin_add (GST_BIN (self->pipeline), sink);
  gst_element_sync_state_with_parent (sink);
  return sink;
}

/* Streaming thread (webrtcbin exposes a pad when the first RTP packet of a
 * stream arrives): the chain must be linked before this returns. Its
 * PipeWire outputs are started off this thread (media_start_output()). */
void
media_on_pad_added (GstElement *webrtc, GstPad *pad, gpointer data)
{
  VchatdMedia *self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GstCaps) caps = NULL;
  g_autoptr (GstPad) sinkpad = NULL;
  const GstStructure *s;
  const char *media, *encoding;
  GstElement *first = NULL;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;

  /* No lock of ours is held while the branch is built: the media_teardown does
   * not wait for it, and what is added once the session is stopping is
   * stopped by the media_teardown's job or by the job that would start it. */
  if (media_is_stopping (self))
    return;
  caps = gst_pad_get_current_caps (pad);
  if (!caps)
    caps = gst_pad_query_caps (pad, NULL);
  s = caps && !gst_caps_is_empty (caps) ? gst_caps_get_structure (caps, 0) : NULL;
  media = s ? gst_structure_get_string (s, "media") : NULL;
  encoding = s ? gst_structure_get_string (s, "encoding-name") : NULL;
  g_debug ("media: receiving %s (%s) on %s", media, encoding, GST_PAD_NAME (pad));

  if (g_strcmp0 (media, "video") == 0 && g_ascii_strcasecmp (encoding ? encoding : "", "VP8") == 0)
    first = build_video_receiver (self, VIDEO_CODEC_VP8, &error);
  else if (g_strcmp0 (media, "video") == 0 &&
           g_ascii_strcasecmp (encoding ? encoding : "", "H264") == 0)
    first = build_video_receiver (self, VIDEO_CODEC_H264, &error);
  else if (g_strcmp0 (media, "video") == 0 &&
           g_ascii_strcasecmp (encoding ? encoding : "", "VP9") == 0)
    first = build_video_receiver (self, VIDEO_CODEC_VP9, &error);
  else if (g_strcmp0 (media, "audio") == 0 &&
           g_ascii_strcasecmp (encoding ? encoding : "", "OPUS") == 0)
    first = build_audio_receiver (self, &error);
  if (!first) {
    if (error)
      g_warning ("media: cannot play the peer's %s: %s", media, error->message);
    first = build_discard_receiver (self);
  }
  sinkpad = gst_element_get_static_pad (first, "sink");
  if (gst_pad_link (pad, sinkpad) != GST_PAD_LINK_OK)
    g_warning ("media: cannot link the peer's %s", media);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                     media_on_inbound_rtp, self, NULL);
}

static GstPadProbeReturn
on_frame_decoded (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  VchatdMedia *self = data;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    gint now = media_session_ms (self);
    gint last = g_atomic_int_get (&self->last_frame_ms);

    if (g_atomic_int_get (&self->frames_decoded) > 0 && now - last > FREEZE_MS) {
      gint longest = g_atomic_int_get (&self->longest_freeze_ms);

      g_atomic_int_inc (&self->freezes);
      /* Only this thread raises it; the stats tick resets it. */
      if (now - last > longest)
        g_atomic_int_compare_and_exchange (&self->longest_freeze_ms, longest, now - last);
    }
    g_atomic_int_set (&self->last_frame_ms, now);
    g_atomic_int_inc (&self->frames_decoded);
  } else if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_CAPS) {
    GstCaps *caps;
    GstVideoInfo vinfo;

    gst_event_parse_caps (GST_PAD_PROBE_INFO_EVENT (info), &caps);
    if (gst_video_info_from_caps (&vinfo, caps)) {
      g_atomic_int_set (&self->recv_width, GST_VIDEO_INFO_WIDTH (&vinfo));
      g_atomic_int_set (&self->recv_height, GST_VIDEO_INFO_HEIGHT (&vinfo));
    }
  }
  return GST_PAD_PROBE_OK;
}

/* Remote video thumbnails */

static GstPadProbeReturn
on_thumbnail_candidate (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  VchatdMedia *self = data;
  gint64 now;

  if (!g_signal_has_handler_pending (self, vchatd_media_signals[SIGNAL_REMOTE_VIDEO_FRAME], 0,
                                     FALSE))
    return GST_PAD_PROBE_DROP;
  now = g_get_monotonic_time ();
  if (self->last_thumbnail_us && now - self->last_thumbnail_us < G_USEC_PER_SEC)
    return GST_PAD_PROBE_DROP;
  self->last_thumbnail_us = now;
  return GST_PAD_PROBE_OK;
}

typedef struct {
  guint width;
  guint height;
  GBytes *rgb;
} Thumbnail;

static void
thumbnail_free (gpointer data)
{
  Thumbnail *thumb = data;

  g_bytes_unref (thumb->rgb);
  g_free (thumb);
}

static void
on_thumbnail_main (VchatdMedia *self, gpointer data)
{
  Thumbnail *thumb = data;

  g_signal_emit (self, vchatd_media_signals[SIGNAL_REMOTE_VIDEO_FRAME], 0, thumb->width,
                 thumb->height, thumb->rgb);
}

static GstFlowReturn
on_thumbnail_sample (GstAppSink *sink, gpointer data)
{
  VchatdMedia *self = data;
  g_autoptr (GstSample) sample = gst_app_sink_pull_sample (sink);
  GstVideoInfo info;
  GstVideoFrame frame;
  Thumbnail *thumb;
  guint8 *rgb;
  guint row, width, height;

  if (!sample || !gst_video_info_from_caps (&info, gst_sample_get_caps (sample)))
    return GST_FLOW_OK;
  if (!gst_video_frame_map (&frame, &info, gst_sample_get_buffer (sample), GST_MAP_READ))
    return GST_FLOW_OK;
  width = GST_VIDEO_FRAME_WIDTH (&frame);
  height = GST_VIDEO_FRAME_HEIGHT (&frame);
  rgb = g_malloc ((gsize) width * height * 3);
  /* Rows are padded to 4 bytes in GStreamer; the signal gives them packed. */
  for (row = 0; row < height; row++)
    memcpy (rgb + (gsize) row * width * 3,
            (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) +
              (gsize) row * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0),
            (gsize) width * 3);
  gst_video_frame_unmap (&frame);

  thumb = g_new0 (Thumbnail, 1);
  thumb->width = width;
  thumb->height = height;
  thumb->rgb = g_bytes_new_take (rgb, (gsize) width * height * 3);
  media_run_on_main (self, on_thumbnail_main, thumb, thumbnail_free);
  return GST_FLOW_OK;
}
