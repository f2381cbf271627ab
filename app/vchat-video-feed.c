/* vchat-video-feed.c: a call's picture shown in a GtkPicture
 *
 * Used by the app and by the GTK example (examples/vchat-gtk.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchat-video-feed.h"

#include <gst/app/gstappsink.h>
#include <gst/video/video.h>

/* Without a picture for this long the pipeline is built again: the node may
 * have been replaced, or the reader started before the node was linked. */
#define STALL_US (4 * G_USEC_PER_SEC)

struct _VchatVideoFeed {
  grefcount ref;
  /* main thread only */
  GtkPicture *picture; /* weak */
  VChatCall *call;
  VChatVideoKind kind;
  GstElement *pipeline;
  guint bus_watch;
  guint watchdog;
  gboolean stopped;
  gint64 started;

  /* shared with the streaming thread */
  GMutex lock;
  GBytes *frame;
  int width, height, stride;
  gint64 last_frame;
  guint idle;
};

static VchatVideoFeed *
video_ref (VchatVideoFeed *self)
{
  g_ref_count_inc (&self->ref);
  return self;
}

static void
video_unref (VchatVideoFeed *self)
{
  if (!g_ref_count_dec (&self->ref))
    return;
  g_clear_pointer (&self->frame, g_bytes_unref);
  g_mutex_clear (&self->lock);
  g_free (self);
}

/* main thread: the newest frame becomes the picture */
static gboolean
show_frame (gpointer data)
{
  VchatVideoFeed *self = data;
  g_autoptr (GBytes) frame = NULL;
  int width, height, stride;

  g_mutex_lock (&self->lock);
  self->idle = 0;
  frame = g_steal_pointer (&self->frame);
  width = self->width;
  height = self->height;
  stride = self->stride;
  g_mutex_unlock (&self->lock);

  if (frame && !self->stopped && self->picture) {
    g_autoptr (GdkTexture)
      texture = gdk_memory_texture_new (width, height, GDK_MEMORY_R8G8B8A8, frame, stride);
    gtk_picture_set_paintable (self->picture, GDK_PAINTABLE (texture));
  }
  return G_SOURCE_REMOVE;
}

/* streaming thread: keep only the newest frame; one idle at a time */
static GstFlowReturn
on_new_sample (GstAppSink *sink, gpointer data)
{
  VchatVideoFeed *self = data;
  g_autoptr (GstSample) sample = gst_app_sink_pull_sample (sink);
  GstVideoInfo info;
  GstMapInfo map;
  GstBuffer *buffer;
  GBytes *bytes;

  if (!sample)
    return GST_FLOW_EOS;
  buffer = gst_sample_get_buffer (sample);
  if (!buffer || !gst_video_info_from_caps (&info, gst_sample_get_caps (sample)))
    return GST_FLOW_OK;
  if (!gst_buffer_map (buffer, &map, GST_MAP_READ))
    return GST_FLOW_OK;
  bytes = g_bytes_new (map.data + GST_VIDEO_INFO_PLANE_OFFSET (&info, 0),
                       (gsize) GST_VIDEO_INFO_PLANE_STRIDE (&info, 0) * info.height);
  gst_buffer_unmap (buffer, &map);

  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->frame, g_bytes_unref);
  self->frame = bytes;
  self->width = info.width;
  self->height = info.height;
  self->stride = GST_VIDEO_INFO_PLANE_STRIDE (&info, 0);
  self->last_frame = g_get_monotonic_time ();
  if (!self->idle)
    self->idle = g_idle_add_full (G_PRIORITY_DEFAULT, show_frame, video_ref (self),
                                  (GDestroyNotify) video_unref);
  g_mutex_unlock (&self->lock);
  return GST_FLOW_OK;
}

/* pipewiresrc (0.3.65) can block changing state: starting until its node
 * is linked, stopping a stream that never was. So state changes run in a
 * thread of their own, and the window never freezes. */
typedef struct {
  GstElement *pipeline;
  GstState state;
} StateChange;

/* PipeWire 0.3.65: pipewiresrc destroys its stream at READY→NULL while a
 * "process" call for it may still be queued on PipeWire's thread loop,
 * which then runs on freed memory. Stopping goes through PAUSED, which
 * deactivates the stream, and waits a moment for the queued calls. */
#define PIPEWIRE_QUIESCE_US (250 * 1000)

static gpointer
state_change_thread (gpointer data)
{
  StateChange *change = data;

  if (change->state == GST_STATE_NULL &&
      gst_element_set_state (change->pipeline, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE)
    g_usleep (PIPEWIRE_QUIESCE_US);
  if (gst_element_set_state (change->pipeline, change->state) == GST_STATE_CHANGE_FAILURE)
    g_debug ("video: the pipeline does not change to %s",
             gst_element_state_get_name (change->state));
  gst_object_unref (change->pipeline);
  g_free (change);
  return NULL;
}

static void
change_state (GstElement *pipeline, GstState state)
{
  StateChange *change = g_new0 (StateChange, 1);

  change->pipeline = gst_object_ref (pipeline);
  change->state = state;
  g_thread_unref (g_thread_new ("vchat-video-feed", state_change_thread, change));
}

static void
stop_pipeline (VchatVideoFeed *self)
{
  g_clear_handle_id (&self->bus_watch, g_source_remove);
  if (self->pipeline) {
    /* the appsink keeps its own reference to self for late samples */
    change_state (self->pipeline, GST_STATE_NULL);
    g_clear_object (&self->pipeline);
  }
}

static gboolean
on_bus_message (GstBus *bus, GstMessage *message, gpointer data)
{
  VchatVideoFeed *self = data;

  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) error = NULL;
    gst_message_parse_error (message, &error, NULL);
    g_debug ("video %d: %s; trying again", self->kind, error->message);
    self->bus_watch = 0;
    stop_pipeline (self);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void
start_pipeline (VchatVideoFeed *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GstCaps) caps = NULL;
  g_autoptr (GstBus) bus = NULL;
  GstElement *source, *convert, *sink;
  GstAppSinkCallbacks callbacks = { .new_sample = on_new_sample };

  source = vchat_call_create_video_source (self->call, self->kind, &error);
  if (!source) {
    g_debug ("video %d: %s", self->kind, error->message);
    return;
  }
  pipeline = gst_object_ref_sink (gst_pipeline_new (NULL));
  convert = gst_element_factory_make ("videoconvert", NULL);
  sink = gst_element_factory_make ("appsink", NULL);
  caps = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "RGBA", NULL);
  g_object_set (sink, "caps", caps, "max-buffers", 1, "drop", TRUE, "sync", FALSE, NULL);
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &callbacks, video_ref (self),
                              (GDestroyNotify) video_unref);
  gst_bin_add_many (GST_BIN (pipeline), source, convert, sink, NULL);
  if (!gst_element_link_many (source, convert, sink, NULL)) {
    g_warning ("Cannot link the video pipeline");
    return;
  }
  bus = gst_pipeline_get_bus (GST_PIPELINE (pipeline));
  self->bus_watch = gst_bus_add_watch (bus, on_bus_message, self);
  self->pipeline = g_steal_pointer (&pipeline);
  self->started = g_get_monotonic_time ();
  change_state (self->pipeline, GST_STATE_PLAYING);
}

/* main thread, every second: (re)start the pipeline when it has no
 * pictures */
static gboolean
watchdog (gpointer data)
{
  VchatVideoFeed *self = data;
  gint64 last;

  if (vchat_call_get_state (self->call) == VCHAT_CALL_STATE_ENDED)
    return G_SOURCE_CONTINUE;
  g_mutex_lock (&self->lock);
  last = MAX (self->last_frame, self->started);
  g_mutex_unlock (&self->lock);
  if (self->pipeline && g_get_monotonic_time () - last > STALL_US) {
    g_debug ("video %d: no pictures; starting again", self->kind);
    stop_pipeline (self);
  }
  if (!self->pipeline)
    start_pipeline (self);
  return G_SOURCE_CONTINUE;
}

VchatVideoFeed *
vchat_video_feed_new (GtkPicture *picture, VChatCall *call, VChatVideoKind kind)
{
  VchatVideoFeed *self = g_new0 (VchatVideoFeed, 1);

  g_ref_count_init (&self->ref);
  g_mutex_init (&self->lock);
  self->picture = picture;
  g_object_add_weak_pointer (G_OBJECT (picture), (gpointer *) &self->picture);
  self->call = g_object_ref (call);
  self->kind = kind;
  self->watchdog = g_timeout_add_seconds (1, watchdog, self);
  start_pipeline (self);
  return self;
}

void
vchat_video_feed_free (VchatVideoFeed *self)
{
  self->stopped = TRUE;
  g_clear_handle_id (&self->watchdog, g_source_remove);
  stop_pipeline (self);
  if (self->picture) {
    gtk_picture_set_paintable (self->picture, NULL);
    g_object_remove_weak_pointer (G_OBJECT (self->picture), (gpointer *) &self->picture);
    self->picture = NULL;
  }
  g_clear_object (&self->call);
  video_unref (self);
}
