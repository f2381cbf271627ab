/* vchatd-media-capture.c: the camera and the microphone of a call: slots that show the device or
 * a fallback (black frames, silence), devices started, stopped and switched
 * off the main thread, the stall watch, the preview node
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-media-private.h"

#include <string.h>

#include <gst/app/gstappsrc.h>

/* Sending: sources
 *
 * Each slot (camera, microphone) is an input-selector in front of the
 * capture chain, with two inputs: the device, and a fallback that always
 * runs (black frames, silence). The selector shows the device only while it
 * delivers: a device that gives nothing for STALL_MS (a paused or hung
 * producer whose node is still there, a node that never answers) is
 * replaced by the fallback, without waiting for it, and shown again as soon
 * as it delivers. The call never waits for a device. */


Device *
media_device_ref (Device *device)
{
  g_atomic_int_inc (&device->ref_count);
  return device;
}

void
media_device_unref (gpointer data)
{
  Device *device = data;

  if (!g_atomic_int_dec_and_test (&device->ref_count))
    return;
  gst_object_unref (device->element);
  gst_clear_object (&device->selector_pad);
  g_free (device);
}

static GstPadProbeReturn
on_device_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Device *device = data;

  g_atomic_int_set (&device->last_buffer_ms,
                    (gint) ((g_get_monotonic_time () - device->start_us) / 1000));
  return GST_PAD_PROBE_OK;
}

static GstElement *
make_source (VchatdMedia *self, SourceKind kind, gboolean fallback, GError **error)
{
  const char *target = kind == SOURCE_VIDEO ? self->camera_target : self->microphone_target;
  const char *description = kind == SOURCE_VIDEO ? self->video_source_description
                                                 : self->audio_source_description;
  GstElement *source;

  if (fallback) {
    description = kind == SOURCE_VIDEO
                    ? "videotestsrc is-live=true pattern=black ! "
                      "capsfilter caps=\"video/x-raw,width=640,height=480,framerate=30/1\""
                    : "audiotestsrc is-live=true wave=silence";
    target = NULL;
  }
  if (target) {
    source = media_make_element ("pipewiresrc", NULL, error);
    if (!source)
      return NULL;
    /* PipeWire 0.3.65: the buffers pipewiresrc pushes wrap PipeWire's own
     * mapping of the node's memory, which PipeWire unmaps whenever the
     * stream's buffers are removed (a reconnection, a format change on the
     * node's side). Any frame still held downstream (queues, videorate, the
     * encoder, a sink's last buffer) then points at unmapped memory and the
     * next read of it crashes the daemon. Copy each frame out instead: a
     * few hundred KiB per frame, nothing next to the encoding. No
     * keepalive-time: a camera that stops must look stopped (the slot shows
     * black frames), not repeat its last picture for ever. */
    g_object_set (source, "target-object", target, "do-timestamp", TRUE, "client-name", "vchatd",
                  "always-copy", TRUE, NULL);
    return source;
  }
  source = gst_parse_bin_from_description_full (description, TRUE, NULL, GST_PARSE_FLAG_NONE,
                                                error);
  if (!source)
    g_prefix_error (error, "The %s source “%s” is not valid: ", media_source_kind_name (kind),
                    description);
  return source;
}

static GstPadProbeReturn
drop_reconfigure (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  return GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_RECONFIGURE
           ? GST_PAD_PROBE_DROP
           : GST_PAD_PROBE_OK;
}


/* Sending: a capture's feeds
 *
 * A session fed by the call's capture (VchatdMediaConfig.capture) has, in
 * each slot's place, an appsrc the capture pushes into: what leaves the
 * capture's chain (I420 pictures in the format of its first picture; mono
 * 48 kHz sound) goes into an appsink there, whose callback hands each
 * buffer to the appsrc of every session it feeds (one, except for the
 * moment a reconnection overlaps two). The slot's chain of the fed session
 * then passes the buffers through unchanged.
 *
 * Both pipelines run on the system clock, so a buffer keeps its instant:
 * its running time in the capture plus the capture's base time, less the
 * fed session's base time. The sound keeps its exact spacing (a
 * re-stamping by arrival time would jitter the RTP timestamps). A session
 * not playing yet gets nothing. */

void
media_feed_free (gpointer data)
{
  Feed *feed = data;

  gst_object_unref (feed->appsrc);
  g_free (feed);
}

/* Main context of the capture: @owner gets nothing more from it. */
void
media_remove_feeds (VchatdMedia *capture, VchatdMedia *owner)
{
  guint i;

  g_mutex_lock (&capture->lock);
  for (i = capture->feeds->len; i > 0; i--) {
    Feed *feed = g_ptr_array_index (capture->feeds, i - 1);

    if (feed->owner == owner)
      g_ptr_array_remove_index (capture->feeds, i - 1);
  }
  g_mutex_unlock (&capture->lock);
}

static void
push_to_feed (GstElement *appsrc, GstSample *sample, GstClockTime capture_base)
{
  GstBuffer *buffer = gst_sample_get_buffer (sample);
  const GstSegment *segment = gst_sample_get_segment (sample);
  GstClockTime running, base;
  g_autoptr (GstSample) out = NULL;
  GstBuffer *copy;

  if (GST_STATE (appsrc) != GST_STATE_PLAYING || !buffer || !GST_BUFFER_PTS_IS_VALID (buffer))
    return;
  running = segment && segment->format == GST_FORMAT_TIME
              ? gst_segment_to_running_time (segment, GST_FORMAT_TIME, GST_BUFFER_PTS (buffer))
              : GST_BUFFER_PTS (buffer);
  base = gst_element_get_base_time (appsrc);
  if (!GST_CLOCK_TIME_IS_VALID (running) || running + capture_base < base)
    return;
  /* The memory is shared, not copied. */
  copy = gst_buffer_copy (buffer);
  GST_BUFFER_PTS (copy) = running + capture_base - base;
  GST_BUFFER_DTS (copy) = GST_CLOCK_TIME_NONE;
  out = gst_sample_new (copy, gst_sample_get_caps (sample), NULL, NULL);
  gst_buffer_unref (copy);
  gst_app_src_push_sample (GST_APP_SRC (appsrc), out);
}

/* The capture's streaming thread. */
static GstFlowReturn
on_feed_sample (GstAppSink *sink, gpointer data)
{
  VchatdMedia *self = data;
  SourceKind kind = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (sink), "vchatd-kind"));
  g_autoptr (GstSample) sample = gst_app_sink_pull_sample (sink);
  g_autoptr (GPtrArray) targets = g_ptr_array_new_with_free_func (gst_object_unref);
  GstClockTime capture_base = gst_element_get_base_time (GST_ELEMENT (sink));
  guint i;

  if (!sample)
    return GST_FLOW_OK;
  g_mutex_lock (&self->lock);
  for (i = 0; i < self->feeds->len; i++) {
    Feed *feed = g_ptr_array_index (self->feeds, i);

    if (feed->kind == kind)
      g_ptr_array_add (targets, gst_object_ref (feed->appsrc));
  }
  g_mutex_unlock (&self->lock);
  for (i = 0; i < targets->len; i++)
    push_to_feed (g_ptr_array_index (targets, i), sample, capture_base);
  return GST_FLOW_OK;
}

/* A capture's chain ends in an appsink its feeds are pushed from. */
static gboolean
add_feed_sink (VchatdMedia *self, SourceKind kind, GstElement *last, GError **error)
{
  GstAppSinkCallbacks callbacks = { .new_sample = on_feed_sample };
  GstElement *sink = media_make_element ("appsink", NULL, error);

  if (!sink)
    return FALSE;
  g_object_set (sink, "sync", FALSE, "async", FALSE, "max-buffers", 2, "drop", TRUE,
                "enable-last-sample", FALSE, "qos", FALSE, NULL);
  g_object_set_data (G_OBJECT (sink), "vchatd-kind", GUINT_TO_POINTER (kind));
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &callbacks, self, NULL);
  gst_bin_add (GST_BIN (self->pipeline), sink);
  if (!gst_element_link (last, sink)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot link the %s capture to its feeds",
                 media_source_kind_name (kind));
    return FALSE;
  }
  gst_element_sync_state_with_parent (sink);
  return TRUE;
}

/* A fed session's slot: an appsrc in front of @first, fed by the capture. */
static gboolean
build_feed (VchatdMedia *self, SourceKind kind, GstElement *first, GError **error)
{
  GstElement *appsrc = media_make_element ("appsrc", NULL, error);
  Feed *feed;

  if (!appsrc)
    return FALSE;
  /* Live, in time, and never blocking the capture: the oldest buffer goes
   * when the session falls behind. */
  g_object_set (appsrc, "is-live", TRUE, "format", GST_FORMAT_TIME, "do-timestamp", FALSE,
                "block", FALSE, "max-buffers", (guint64) (kind == SOURCE_VIDEO ? 2 : 10),
                "max-bytes", (guint64) 0, "max-time", (guint64) 0, NULL);
  gst_util_set_object_arg (G_OBJECT (appsrc), "leaky-type", "downstream");
  gst_bin_add (GST_BIN (self->pipeline), appsrc);
  if (!gst_element_link (appsrc, first)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot link the %s feed",
                 media_source_kind_name (kind));
    return FALSE;
  }
  gst_element_sync_state_with_parent (appsrc);
  feed = g_new0 (Feed, 1);
  feed->kind = kind;
  feed->appsrc = gst_object_ref (appsrc);
  feed->owner = self;
  g_mutex_lock (&self->capture->lock);
  g_ptr_array_add (self->capture->feeds, feed);
  g_mutex_unlock (&self->capture->lock);
  return TRUE;
}

/* Puts the slot's selector and fallback in front of @first (the converter
 * that starts the slot's chain). Downstream changes (a branch linked to the
 * video tee when an answerer's encoder starts, an output starting) send
 * RECONFIGURE upstream; pipewiresrc 0.3.65 answers it by disconnecting its
 * stream and connecting it again, which removes (and unmaps) the buffers in
 * flight and may leave a virtual camera sending nothing to the new
 * connection. The converters absorb any format the chain needs, so the
 * event stops at them. */
gboolean
media_build_slot (VchatdMedia *self, SourceKind kind, GstElement *first, GError **error)
{
  SourceSlot *slot = &self->sources[kind];
  g_autoptr (GstPad) pad = gst_element_get_static_pad (first, "sink");
  g_autoptr (GstPad) fallback_src = NULL;
  GstElement *selector, *fallback;

  if (self->capture)
    return build_feed (self, kind, first, error);
  if (!(selector = media_make_element ("input-selector", NULL, error)))
    return FALSE;
  /* Inputs that are not shown drop their buffers at once. */
  g_object_set (selector, "sync-streams", FALSE, NULL);
  if (!(fallback = make_source (self, kind, TRUE, error))) {
    gst_object_unref (gst_object_ref_sink (selector));
    return FALSE;
  }
  /* Started when first shown (select_input()), so that the first picture
   * through the chain is the device's when the device works. */
  gst_element_set_locked_state (fallback, TRUE);
  gst_bin_add_many (GST_BIN (self->pipeline), selector, fallback, NULL);
  slot->fallback = fallback;
  slot->fallback_pad = gst_element_request_pad_simple (selector, "sink_%u");
  fallback_src = gst_element_get_static_pad (fallback, "src");
  if (gst_pad_link (fallback_src, slot->fallback_pad) != GST_PAD_LINK_OK ||
      !gst_element_link (selector, first)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot link the %s capture chain",
                 media_source_kind_name (kind));
    return FALSE;
  }
  g_object_set (selector, "active-pad", slot->fallback_pad, NULL);
  slot->selector = selector;
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, drop_reconfigure, NULL, NULL);
  gst_element_sync_state_with_parent (selector);
  return TRUE;
}

static const char *
source_device (SourceKind kind)
{
  return kind == SOURCE_VIDEO ? "camera" : "microphone";
}

static void
on_device_failed_main (VchatdMedia *self, gpointer data)
{
  char **pair = data;

  g_signal_emit (self, vchatd_media_signals[SIGNAL_DEVICE_FAILED], 0, pair[0], pair[1]);
}

/* Any thread. */
void
media_report_device_failed (VchatdMedia *self, const char *device, const char *message,
                      const char *instead)
{
  char **pair = g_new0 (char *, 3);

  g_warning ("media: the %s failed (%s); %s", device, message, instead);
  pair[0] = g_strdup (device);
  pair[1] = g_strdup (message);
  media_run_on_main (self, on_device_failed_main, pair, (GDestroyNotify) g_strfreev);
}

/* Main context: the slot shows its device, or its fallback. The fallback
 * (videotestsrc or audiotestsrc: starting it never blocks) starts the first
 * time it is needed, and then runs until the end. */
static void
select_input (VchatdMedia *self, SourceKind kind, gboolean device)
{
  SourceSlot *slot = &self->sources[kind];

  device = device && slot->device;
  /* The fallback is shown before it starts: an input-selector forwards
   * the events of its active pad at once but holds an inactive pad's until
   * its next buffer, so a switch between the fallback's stream-start and
   * its segment (a device that fails before its first buffer) sent the
   * segment first. */
  if (slot->on_device != device || !slot->selected) {
    slot->on_device = device;
    slot->selected = TRUE;
    g_object_set (slot->selector, "active-pad",
                  device ? slot->device->selector_pad : slot->fallback_pad, NULL);
  }
  if (!device && !slot->fallback_started) {
    g_autoptr (GstClock) clock = gst_element_get_clock (self->pipeline);

    slot->fallback_started = TRUE;
    if (clock)
      gst_element_set_clock (slot->fallback, clock);
    gst_element_set_base_time (slot->fallback, gst_element_get_base_time (self->pipeline));
    if (gst_element_set_state (slot->fallback, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
      g_warning ("media: cannot start the %s fallback source", media_source_kind_name (kind));
  }
}

/* Pool thread: NULL, and the probe goes (its reference on the device would
 * keep the element, and its PipeWire buffer pool, alive). */
void
media_stop_device (Device *device)
{
  g_autoptr (GstPad) src = gst_element_get_static_pad (device->element, "src");

  media_stop_locked (device->element);
  if (src && device->probe)
    gst_pad_remove_probe (src, device->probe);
}

static void
stop_device_job (VchatdMedia *self, GstElement *pipeline, GstElement *element, gpointer data)
{
  Device *device = data;
  g_autoptr (GstObject) selector = gst_pad_get_parent (device->selector_pad);

  media_stop_device (device);
  gst_bin_remove (GST_BIN (pipeline), element);
  if (selector)
    gst_element_release_request_pad (GST_ELEMENT (selector), device->selector_pad);
}

/* The slot goes back to its fallback; the device is stopped and removed off
 * the main thread. */
void
media_detach_device (VchatdMedia *self, SourceKind kind)
{
  SourceSlot *slot = &self->sources[kind];
  Device *device = g_steal_pointer (&slot->device);

  if (!device)
    return;
  select_input (self, kind, FALSE);
  media_run_locked_job (self, device->element, stop_device_job, device, media_device_unref);
}

static gboolean
on_device_retry (gpointer data)
{
  g_autoptr (VchatdMedia) self = g_object_ref (data);
  SourceKind kind;

  for (kind = 0; kind < N_SOURCES; kind++) {
    SourceSlot *slot = &self->sources[kind];

    if (slot->retry == g_main_current_source ()) {
      g_clear_pointer (&slot->retry, g_source_unref);
      if (!media_is_stopped (self))
        media_attach_device (self, kind);
      break;
    }
  }
  return G_SOURCE_REMOVE;
}

/* The device failed (an error, or it could not start): the slot shows its
 * fallback. A camera switched to during a call can be refused for a moment
 * ("no node available") while the session manager is still busy with the
 * one that went away: that is forgiven a few times, trying again shortly. */
void
media_device_failed (VchatdMedia *self, SourceKind kind, const char *message)
{
  SourceSlot *slot = &self->sources[kind];

  media_detach_device (self, kind);
  select_input (self, kind, FALSE);
  if (slot->retries > 0 && !slot->retry && !media_is_stopped (self)) {
    slot->retries--;
    g_debug ("media: the %s failed (%s); trying it again", source_device (kind), message);
    slot->retry = g_timeout_source_new (500);
    g_source_set_callback (slot->retry, on_device_retry, self, NULL);
    g_source_set_static_name (slot->retry, "[vchatd-media] device retry");
    g_source_attach (slot->retry, self->context);
    return;
  }
  if (!slot->reported) {
    slot->reported = TRUE;
    media_report_device_failed (self, source_device (kind), message,
                          kind == SOURCE_VIDEO ? "sending black frames instead"
                                               : "sending silence instead");
  }
}

typedef struct {
  Device *device;
  char *message;
} DeviceError;

static void
device_error_free (gpointer data)
{
  DeviceError *e = data;

  media_device_unref (e->device);
  g_free (e->message);
  g_free (e);
}

static void
on_device_start_failed_main (VchatdMedia *self, gpointer data)
{
  DeviceError *e = data;

  /* Only the slot's current device counts: an old one is already gone. */
  if (self->sources[e->device->kind].device == e->device)
    media_device_failed (self, e->device->kind, e->message);
}

static void
start_device_job (VchatdMedia *self, GstElement *pipeline, GstElement *element, gpointer data)
{
  Device *device = data;
  DeviceError *e;

  if (media_play_locked (self, pipeline, element) || media_is_stopping (self))
    return;
  g_atomic_int_set (&device->start_failed, 1);
  e = g_new0 (DeviceError, 1);
  e->device = media_device_ref (device);
  e->message = g_strdup_printf ("it cannot be started (is PipeWire running, with that %s?)",
                                source_device (device->kind));
  media_run_on_main (self, on_device_start_failed_main, e, device_error_free);
}

/* Puts the slot's device (camera or microphone, or the test source standing
 * in for it) in front of the selector and starts it off the main thread;
 * the slot shows its fallback until the device delivers. */
void
media_attach_device (VchatdMedia *self, SourceKind kind)
{
  SourceSlot *slot = &self->sources[kind];
  g_autoptr (GError) error = NULL;
  g_autoptr (GstPad) src = NULL;
  GstElement *element;
  Device *device;

  if (!slot->selector || slot->device || media_is_stopped (self))
    return;
  if ((kind == SOURCE_VIDEO ? !self->camera_target && !self->video_source_description
                            : !self->microphone_target && !self->audio_source_description))
    return;
  element = make_source (self, kind, FALSE, &error);
  if (!element) {
    media_device_failed (self, kind, error->message);
    return;
  }
  device = g_new0 (Device, 1);
  device->ref_count = 1;
  device->kind = kind;
  device->element = gst_object_ref_sink (element);
  device->last_buffer_ms = -1;
  device->start_us = self->start_us;
  device->attached_us = g_get_monotonic_time ();
  g_object_set_data (G_OBJECT (element), "vchatd-device", device);
  /* A device of any rate may negotiate (see on_video_rate_caps()). */
  if (kind == SOURCE_VIDEO)
    media_video_rate_may_repeat (self, TRUE);
  gst_element_set_locked_state (element, TRUE);
  gst_bin_add (GST_BIN (self->pipeline), element);
  device->selector_pad = gst_element_request_pad_simple (slot->selector, "sink_%u");
  src = gst_element_get_static_pad (element, "src");
  slot->device = device;
  if (!src || gst_pad_link (src, device->selector_pad) != GST_PAD_LINK_OK) {
    media_device_failed (self, kind, "it cannot be linked: wrong kind of media?");
    return;
  }
  device->probe =
    gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                       on_device_buffer, media_device_ref (device), media_device_unref);
  /* Shown at once: the fallback only if it gives nothing (watch_slot()). */
  select_input (self, kind, TRUE);
  media_run_locked_job (self, element, start_device_job, media_device_ref (device),
                        media_device_unref);
}

/* Main context, every WATCH_MS: the slot shows the device while it
 * delivers, the fallback otherwise. */
static void
watch_slot (VchatdMedia *self, SourceKind kind)
{
  SourceSlot *slot = &self->sources[kind];
  Device *device = slot->device;
  gint now, last, since;

  if (!device)
    return;
  now = media_session_ms (self);
  last = g_atomic_int_get (&device->last_buffer_ms);
  since = last >= 0 ? last : (gint) ((device->attached_us - self->start_us) / 1000);
  if (slot->on_device) {
    if (now - since <= STALL_MS)
      return;
    select_input (self, kind, FALSE);
    if (!slot->reported) {
      slot->reported = TRUE;
      media_report_device_failed (
        self, source_device (kind),
        last >= 0 ? "it stopped delivering"
                  : "it gave no data (is the PipeWire node there, and its program running?)",
        kind == SOURCE_VIDEO ? "sending black frames until it is back"
                             : "sending silence until it is back");
    }
  } else if (last >= 0 && now - last <= WATCH_MS && !g_atomic_int_get (&device->start_failed)) {
    select_input (self, kind, TRUE);
    if (slot->reported) {
      slot->reported = FALSE;
      g_message ("media: the %s delivers again", source_device (kind));
      g_signal_emit (self, vchatd_media_signals[SIGNAL_DEVICE_RESTORED], 0, source_device (kind));
    }
  }
}

gboolean
media_on_watch (gpointer data)
{
  g_autoptr (VchatdMedia) self = g_object_ref (data);
  SourceKind kind;

  for (kind = 0; kind < N_SOURCES && !media_is_stopped (self); kind++)
    watch_slot (self, kind);
  return G_SOURCE_CONTINUE;
}

/* Sending: video */

static void
fill_black_i420 (GstBuffer *buffer, const GstVideoInfo *info)
{
  GstVideoFrame frame;
  guint plane;

  if (!gst_video_frame_map (&frame, info, buffer, GST_MAP_WRITE))
    return;
  for (plane = 0; plane < GST_VIDEO_FRAME_N_PLANES (&frame); plane++) {
    guint8 *data = GST_VIDEO_FRAME_PLANE_DATA (&frame, plane);
    gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, plane);
    gint height = GST_VIDEO_FRAME_COMP_HEIGHT (&frame, plane);

    /* Video-range black: Y 16, chroma 128. */
    memset (data, plane == 0 ? 16 : 128, (gsize) stride * height);
  }
  gst_video_frame_unmap (&frame);
}

/* Camera disabled: the frames are blackened in place rather than the source
 * switched, so the track, its caps and its timing stay as they are. */
static GstPadProbeReturn
on_video_frame_out (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  VchatdMedia *self = data;

  if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);

    if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
      GstCaps *caps;

      gst_event_parse_caps (event, &caps);
      if (!gst_video_info_from_caps (&self->black_info, caps))
        gst_video_info_init (&self->black_info);
      /* PipeWire 0.3.65: pipewiresink renegotiates its buffers when its
       * format changes mid-stream and, meanwhile, maps buffers PipeWire has
       * already taken back: a critical (gst_buffer_extract: 'dest != NULL')
       * and a crash in libgstpipewire, a second after a stalled camera was
       * replaced by black frames of another size. So what leaves the
       * capture chain keeps the format of its first picture: any later
       * source (the fallback, another camera) is converted and scaled into
       * it, and neither the preview node nor the encoder sees a change. */
      if (!self->capture_caps_locked && gst_caps_is_fixed (caps)) {
        self->capture_caps_locked = TRUE;
        self->locked_fps_n = GST_VIDEO_INFO_FPS_N (&self->black_info);
        self->locked_fps_d = GST_VIDEO_INFO_FPS_D (&self->black_info);
        g_object_set (self->video_capsfilter, "caps", caps, NULL);
      }
    }
    return GST_PAD_PROBE_OK;
  }
  if (info->type & GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM) {
    /* An allocation query would wait in the encoder's queue, which is
     * blocked until webrtcbin is connected, and with it the source's
     * streaming thread (and so anyone stopping the source). The sources
     * use their own buffers. */
    return GST_QUERY_TYPE (GST_PAD_PROBE_INFO_QUERY (info)) == GST_QUERY_ALLOCATION
             ? GST_PAD_PROBE_DROP
             : GST_PAD_PROBE_OK;
  }

  if ((info->type & GST_PAD_PROBE_TYPE_BUFFER) && g_atomic_int_get (&self->camera_disabled) &&
      GST_VIDEO_INFO_FORMAT (&self->black_info) == GST_VIDEO_FORMAT_I420) {
    GstBuffer *buffer = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));

    fill_black_i420 (buffer, &self->black_info);
    GST_PAD_PROBE_INFO_DATA (info) = buffer;
  }
  return GST_PAD_PROBE_OK;
}

void
media_video_rate_may_repeat (VchatdMedia *self, gboolean repeat)
{
  gboolean drop_only = FALSE;

  if (!self->video_rate)
    return;
  g_object_get (self->video_rate, "drop-only", &drop_only, NULL);
  /* Each change posts a latency message and renegotiates: only changes. */
  if (drop_only == repeat)
    g_object_set (self->video_rate, "drop-only", !repeat, NULL);
}

/* The chain's videorate, told what comes in. A videorate that may repeat
 * frames holds each frame until the next one arrives, to know whether to
 * send it twice: one frame interval (33 ms at 30 fps) on every frame, and a
 * call's picture passed through two of them, the capture's and the
 * session's (glass-to-glass p50 112 ms in scripts/bench-call; 67 of them
 * from the camera to the encoder's queue, measured by reading the
 * benchmark's stamps at each stage). Only a source slower than the locked
 * rate needs repeating (a 15 fps camera chosen after a 30 fps one); for
 * any other the videorate only drops, which holds nothing.
 *
 * A dropping videorate refuses, in the caps queries of a source that is
 * negotiating, any rate below what it sends: so it repeats while a device
 * is being attached (media_attach_device()), and only drops once a source's
 * caps show a rate that needs no repeating. */
static GstPadProbeReturn
on_video_rate_caps (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  VchatdMedia *self = data;
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  GstStructure *s;
  GstCaps *caps;
  gint n = 0, d = 1;
  gboolean drop_only, was = FALSE;

  if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS)
    return GST_PAD_PROBE_OK;
  gst_event_parse_caps (event, &caps);
  s = gst_caps_get_size (caps) ? gst_caps_get_structure (caps, 0) : NULL;
  if (!s || !gst_structure_get_fraction (s, "framerate", &n, &d) || d <= 0)
    n = 0;
  /* A rate not known (0/1, or none) is made constant by repeating, as before. */
  if (n <= 0)
    drop_only = FALSE;
  else if (!self->capture_caps_locked || self->locked_fps_n <= 0)
    drop_only = TRUE;
  else
    drop_only = (gint64) n * self->locked_fps_d >= (gint64) self->locked_fps_n * d;
  g_object_get (self->video_rate, "drop-only", &was, NULL);
  if (was != drop_only)
    g_debug ("media: the source gives %d/%d fps: its frames are %s", n, d,
             drop_only ? "only dropped" : "repeated up to the locked rate");
  media_video_rate_may_repeat (self, !drop_only);
  return GST_PAD_PROBE_OK;
}

/* source → videoconvert → videorate → videoscale → I420 → tee [→ preview] */
gboolean
media_build_video_source_chain (VchatdMedia *self, GError **error)
{
  static const char *const factories[] = { "videoconvert", "videorate", "videoscale", "capsfilter",
                                           "tee" };
  GstElement *chain[G_N_ELEMENTS (factories)];
  g_autoptr (GstCaps) caps = NULL;
  g_autoptr (GstPad) pad = NULL;

  if (!media_make_elements (factories, chain, G_N_ELEMENTS (chain), error))
    return FALSE;
  /* Any input rate gives the chain's rate (see on_video_frame_out): frames
   * are dropped, or repeated for a slower source (on_video_rate_caps()),
   * but not across a gap. */
  g_object_set (chain[1], "skip-to-first", TRUE, "max-duplication-time",
                (guint64) 250 * GST_MSECOND, NULL);
  /* Frames larger than 720p, or faster than 30 fps, cost more to encode
   * than a 1:1 call gains. */
  caps = gst_caps_from_string (
    "video/x-raw,format=I420,width=[16,1280],height=[16,720],framerate=[1/1,30/1]");
  g_object_set (chain[3], "caps", caps, NULL);
  /* The encoder branch is linked later by an answerer. */
  g_object_set (chain[4], "allow-not-linked", TRUE, NULL);
  if (!media_add_and_link (self, chain, G_N_ELEMENTS (chain))) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                         "Cannot link the video capture chain");
    return FALSE;
  }
  pad = gst_element_get_static_pad (chain[1], "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_video_rate_caps, self, NULL);
  g_clear_object (&pad);
  pad = gst_element_get_static_pad (chain[3], "src");
  gst_pad_add_probe (pad,
                     GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM |
                       GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM,
                     on_video_frame_out, self, NULL);
  self->video_capsfilter = chain[3];
  self->video_rate = chain[1];
  self->video_tee = chain[4];
  if (!media_build_slot (self, SOURCE_VIDEO, chain[0], error))
    return FALSE;

  if (self->role == VCHATD_MEDIA_ROLE_CAPTURE && !add_feed_sink (self, SOURCE_VIDEO, chain[4], error))
    return FALSE;
  /* A fed session's preview is its capture's. */
  if (self->node_name_prefix && !self->capture) {
    GstElement *preview[2];

    self->preview_node = g_strdup_printf ("%s-preview", self->node_name_prefix);
    if (!(preview[1] = media_make_pipewire_sink (self->preview_node, "Video/Source",
                                           "vchat: camera preview", error)))
      return FALSE;
    preview[0] = gst_element_factory_make ("queue", NULL);
    g_object_set (preview[0], "leaky", 2, "max-size-buffers", 2, "max-size-bytes", 0,
                  "max-size-time", (guint64) 0, NULL);
    if (!media_add_and_link (self, preview, 2) || !gst_element_link (self->video_tee, preview[0])) {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot link the preview");
      return FALSE;
    }
    /* Started on its own once the pipeline plays: without PipeWire it
     * fails, and that must not stop the call. */
    self->preview_output = media_add_output (self, preview[0], preview[1], "preview-node");
  }
  return TRUE;
}

/* A capture's microphone: [slot] → audioconvert → audioresample → mono 48 kHz
 * → its feeds (each fed session's audio sender takes it from there). */
gboolean
media_build_audio_capture (VchatdMedia *self, GError **error)
{
  static const char *const factories[] = { "audioconvert", "audioresample", "capsfilter" };
  GstElement *chain[G_N_ELEMENTS (factories)];
  g_autoptr (GstCaps) mono = gst_caps_from_string ("audio/x-raw,rate=48000,channels=1");

  if (!media_make_elements (factories, chain, G_N_ELEMENTS (chain), error))
    return FALSE;
  g_object_set (chain[2], "caps", mono, NULL);
  if (!media_add_and_link (self, chain, G_N_ELEMENTS (chain))) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                         "Cannot link the audio capture chain");
    return FALSE;
  }
  return add_feed_sink (self, SOURCE_AUDIO, chain[2], error) &&
         media_build_slot (self, SOURCE_AUDIO, chain[0], error);
}
