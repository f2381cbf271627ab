/* vchatd-publisher.c: a call's remote picture as a PipeWire node, for the whole call
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-publisher.h"
#include "vchatd-media-private.h"

#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>

struct _VchatdPublisher {
  GObject parent_instance;

  char *node_name;
  GMainContext *context;

  /* Main context */
  GstElement *pipeline;
  GSource *bus_source;
  gboolean stopped;

  /* Any thread */
  GstElement *appsrc;
  gint started;     /* atomic: the pipeline plays; frames go in */
  gint stopping;    /* atomic */
  gint failed;      /* atomic */
  gint has_picture; /* atomic */
};

G_DEFINE_FINAL_TYPE (VchatdPublisher, vchatd_publisher, G_TYPE_OBJECT)

enum { SIGNAL_PICTURE, SIGNAL_FAILED, N_PUBLISHER_SIGNALS };
static guint signals[N_PUBLISHER_SIGNALS];

/* PipeWire 0.3.65: pipewiresink activates its buffer pool when it renders
 * its first buffer, and does it holding the pool's lock while it takes
 * PipeWire's thread-loop lock (the pool's "activated" handler); PipeWire's
 * loop thread, holding that loop lock, checks whether the pool is active
 * each time the stream's format is negotiated (a reader linking to the
 * node). The two deadlock, and with the loop every PipeWire element of the
 * process (seen at call 16, 26 and 29 of 100 in a row). So the pool is
 * activated before the sink has its caps: its stream is not connected yet,
 * and the loop has nothing to negotiate for it. */
void
vchatd_publisher_activate_sink_pool (GstPad *sinkpad, GstCaps *caps, GstBuffer *first)
{
  g_autoptr (GstQuery) query = gst_query_new_allocation (caps, TRUE);
  g_autoptr (GstBufferPool) pool = NULL;
  GstStructure *config;
  GstVideoInfo vinfo;
  guint size = 0, min = 0, max = 0;

  if (!gst_pad_query (sinkpad, query) || gst_query_get_n_allocation_pools (query) == 0)
    return;
  gst_query_parse_nth_allocation_pool (query, 0, &pool, &size, &min, &max);
  if (!pool || gst_buffer_pool_is_active (pool))
    return;
  /* What pipewiresink would choose, with room for longer audio buffers. */
  if (gst_video_info_from_caps (&vinfo, caps))
    size = MAX (size, (guint) GST_VIDEO_INFO_SIZE (&vinfo));
  else if (first)
    size = MAX (size, (guint) gst_buffer_get_size (first) * 2);
  config = gst_buffer_pool_get_config (pool);
  gst_buffer_pool_config_set_params (config, caps, size, min, max);
  if (gst_buffer_pool_set_config (pool, config))
    gst_buffer_pool_set_active (pool, TRUE);
}

/* The peer's picture changes size (its rate controller stepping through
 * its ladder, a browser adapting to the network, the other side switching
 * cameras, a new connection attempt). pipewiresink 0.3.65 keeps writing
 * into the node's buffers of the old size while PipeWire renegotiates them,
 * which corrupts frames and fails GStreamer's buffer checks. So the node
 * keeps the size of the first picture it got, and later pictures are
 * scaled into it (with borders where the shape differs).
 *
 * PipeWire 0.3.65: a node larger than the first picture would need
 * videoscale to allocate from pipewiresink's pool, which has buffers only
 * once a reader has linked (it waits for good); giving it buffers of its
 * own makes pipewiresink copy each frame, and that path crashed vchatd in
 * libpipewire's loop at the end of calls. So a call whose first picture is
 * small (rate control starts low) keeps a small node. */
static GstPadProbeReturn
keep_node_size (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstElement *capsfilter = data;
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  GstCaps *caps;
  GstVideoInfo vinfo;
  g_autoptr (GstCaps) fixed = NULL;

  if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS)
    return GST_PAD_PROBE_OK;
  gst_event_parse_caps (event, &caps);
  if (!gst_video_info_from_caps (&vinfo, caps))
    return GST_PAD_PROBE_OK;
  fixed = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "I420", "width", G_TYPE_INT,
                               GST_VIDEO_INFO_WIDTH (&vinfo), "height", G_TYPE_INT,
                               GST_VIDEO_INFO_HEIGHT (&vinfo), "pixel-aspect-ratio",
                               GST_TYPE_FRACTION, GST_VIDEO_INFO_PAR_N (&vinfo),
                               GST_VIDEO_INFO_PAR_D (&vinfo), NULL);
  g_object_set (capsfilter, "caps", fixed, NULL);
  return GST_PAD_PROBE_REMOVE;
}

/* In front of the sink: its pool goes active before it sees caps (see
 * vchatd_publisher_activate_sink_pool()). */
static GstPadProbeReturn
prime_sink (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  g_autoptr (GstPad) peer = NULL;
  GstCaps *caps;

  if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS)
    return GST_PAD_PROBE_OK;
  gst_event_parse_caps (event, &caps);
  if ((peer = gst_pad_get_peer (pad)))
    vchatd_publisher_activate_sink_pool (peer, caps, NULL);
  return GST_PAD_PROBE_REMOVE;
}

static gboolean
emit_picture (gpointer data)
{
  VchatdPublisher *self = data;

  if (!self->stopped)
    g_signal_emit (self, signals[SIGNAL_PICTURE], 0);
  return G_SOURCE_REMOVE;
}

static GstPadProbeReturn
on_rendered (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  VchatdPublisher *self = data;

  if (g_atomic_int_compare_and_exchange (&self->has_picture, 0, 1))
    g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT, emit_picture,
                                g_object_ref (self), g_object_unref);
  return GST_PAD_PROBE_REMOVE;
}

typedef struct {
  VchatdPublisher *self;
  char *message;
} Failure;

static gboolean
emit_failed (gpointer data)
{
  Failure *failure = data;

  if (!failure->self->stopped)
    g_signal_emit (failure->self, signals[SIGNAL_FAILED], 0, failure->message);
  return G_SOURCE_REMOVE;
}

static void
failure_free (gpointer data)
{
  Failure *failure = data;

  g_object_unref (failure->self);
  g_free (failure->message);
  g_free (failure);
}

/* Any thread; reported once. */
static void
fail (VchatdPublisher *self, const char *message)
{
  Failure *failure;

  if (!g_atomic_int_compare_and_exchange (&self->failed, 0, 1))
    return;
  failure = g_new0 (Failure, 1);
  failure->self = g_object_ref (self);
  failure->message = g_strdup (message);
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT, emit_failed, failure,
                              failure_free);
}

static gboolean
on_bus_message (GstBus *bus, GstMessage *message, gpointer data)
{
  VchatdPublisher *self = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *debug = NULL;

  if (GST_MESSAGE_TYPE (message) != GST_MESSAGE_ERROR)
    return G_SOURCE_CONTINUE;
  gst_message_parse_error (message, &error, &debug);
  g_debug ("publisher %s: %s: %s (%s)", self->node_name, GST_OBJECT_NAME (GST_MESSAGE_SRC (message)),
           error->message, debug ? debug : "");
  fail (self, error->message);
  return G_SOURCE_CONTINUE;
}

/* GStreamer's thread pool. */
static void
start_job (GstElement *pipeline, gpointer data)
{
  VchatdPublisher *self = data;

  if (g_atomic_int_get (&self->stopping))
    return;
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    fail (self, "cannot publish it on PipeWire (is PipeWire running?)");
  else
    g_atomic_int_set (&self->started, 1);
}

VchatdPublisher *
vchatd_publisher_new (const char *node_name, GError **error)
{
  static const char *const factories[] = { "appsrc", "videoconvert", "videoscale", "capsfilter" };
  g_autoptr (VchatdPublisher) self = NULL;
  GstElement *chain[G_N_ELEMENTS (factories) + 1] = { NULL };
  g_autoptr (GstCaps) i420 = gst_caps_from_string ("video/x-raw,format=I420");
  g_autoptr (GstPad) scale_pad = NULL;
  g_autoptr (GstPad) sink_pad = NULL;
  g_autoptr (GstPad) front = NULL;
  g_autoptr (GstBus) bus = NULL;
  guint i;

  g_return_val_if_fail (node_name != NULL, NULL);

  if (!media_make_elements (factories, chain, G_N_ELEMENTS (factories), error))
    return NULL;
  /* A published node (see media_make_pipewire_sink()). */
  chain[4] = media_make_pipewire_sink (node_name, "Video/Source", "vchat: remote video", error);
  if (!chain[4]) {
    for (i = 0; i < G_N_ELEMENTS (factories); i++)
      gst_object_unref (gst_object_ref_sink (chain[i]));
    return NULL;
  }
  self = g_object_new (VCHATD_TYPE_PUBLISHER, NULL);
  self->node_name = g_strdup (node_name);
  self->context = g_main_context_ref_thread_default ();
  self->pipeline = gst_pipeline_new ("vchatd-publisher");
  for (i = 0; i < G_N_ELEMENTS (chain); i++)
    gst_bin_add (GST_BIN (self->pipeline), chain[i]);
  if (!gst_element_link_many (chain[0], chain[1], chain[2], chain[3], chain[4], NULL)) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                         "Cannot link the remote video node's elements");
    return NULL;
  }
  self->appsrc = chain[0];
  /* Live, stamped here (each attempt's pipeline has a clock of its own),
   * and never more than two frames behind. */
  g_object_set (self->appsrc, "is-live", TRUE, "format", GST_FORMAT_TIME, "do-timestamp", TRUE,
                "max-buffers", (guint64) 2, "max-bytes", (guint64) 0, "leaky-type",
                2 /* GST_APP_LEAKY_TYPE_DOWNSTREAM: the oldest go */, NULL);
  /* PipeWire consumers fail to negotiate without an explicit raw format. */
  g_object_set (chain[3], "caps", i420, NULL);
  scale_pad = gst_element_get_static_pad (chain[2], "sink");
  gst_pad_add_probe (scale_pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, keep_node_size,
                     gst_object_ref (chain[3]), gst_object_unref);
  front = gst_element_get_static_pad (chain[3], "src");
  gst_pad_add_probe (front, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, prime_sink, NULL, NULL);

  sink_pad = gst_element_get_static_pad (chain[4], "sink");
  gst_pad_add_probe (sink_pad, GST_PAD_PROBE_TYPE_BUFFER, on_rendered, self, NULL);

  bus = gst_pipeline_get_bus (GST_PIPELINE (self->pipeline));
  self->bus_source = gst_bus_create_watch (bus);
  g_source_set_callback (self->bus_source, G_SOURCE_FUNC (on_bus_message), self, NULL);
  g_source_set_static_name (self->bus_source, "[vchatd-publisher] bus");
  g_source_attach (self->bus_source, self->context);

  gst_element_call_async (self->pipeline, start_job, g_object_ref (self), g_object_unref);
  return g_steal_pointer (&self);
}

const char *
vchatd_publisher_get_node_name (VchatdPublisher *self)
{
  g_return_val_if_fail (VCHATD_IS_PUBLISHER (self), NULL);

  return self->node_name;
}

void
vchatd_publisher_push (VchatdPublisher *self, GstSample *sample)
{
  g_autoptr (GstSample) restamped = NULL;
  g_autoptr (GstBuffer) buffer = NULL;

  if (!g_atomic_int_get (&self->started) || g_atomic_int_get (&self->stopping) ||
      g_atomic_int_get (&self->failed) || !gst_sample_get_buffer (sample))
    return;
  /* The frame's own times are those of an attempt's pipeline: a new
   * attempt starts again from zero. The node's pipeline stamps it. A
   * shallow copy: the picture itself is shared. */
  buffer = gst_buffer_copy (gst_sample_get_buffer (sample));
  GST_BUFFER_PTS (buffer) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DTS (buffer) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (buffer) = GST_CLOCK_TIME_NONE;
  restamped = gst_sample_new (buffer, gst_sample_get_caps (sample), NULL, NULL);
  gst_app_src_push_sample (GST_APP_SRC (self->appsrc), restamped);
}

gboolean
vchatd_publisher_has_picture (VchatdPublisher *self)
{
  g_return_val_if_fail (VCHATD_IS_PUBLISHER (self), FALSE);

  return g_atomic_int_get (&self->has_picture) && !g_atomic_int_get (&self->failed);
}

/* GStreamer's thread pool: paused, given time, and down, as every PipeWire
 * element of a call is stopped (media_stop_locked()). @data, the
 * publisher, is held until then: its probes use it. */
static void
stop_job (GstElement *pipeline, gpointer data)
{
  media_stop_locked (pipeline);
}

static void
stop_done (gpointer data)
{
  g_object_unref (data);
  vchatd_media_reaping_end ();
}

void
vchatd_publisher_stop (VchatdPublisher *self)
{
  g_return_if_fail (VCHATD_IS_PUBLISHER (self));

  if (self->stopped || !self->pipeline)
    return;
  self->stopped = TRUE;
  g_atomic_int_set (&self->stopping, 1);
  if (self->bus_source) {
    g_source_destroy (self->bus_source);
    g_clear_pointer (&self->bus_source, g_source_unref);
  }
  /* No frame goes in any more; one on its way is waited out by the state
   * change (see media_teardown() in vchatd-media.c for why this order). */
  gst_app_src_end_of_stream (GST_APP_SRC (self->appsrc));
  vchatd_media_reaping_begin ();
  gst_element_call_async (self->pipeline, stop_job, g_object_ref (self), stop_done);
}

static void
vchatd_publisher_dispose (GObject *object)
{
  VchatdPublisher *self = VCHATD_PUBLISHER (object);

  /* Takes a reference until the pipeline is down. */
  vchatd_publisher_stop (self);
  G_OBJECT_CLASS (vchatd_publisher_parent_class)->dispose (object);
}

static void
vchatd_publisher_finalize (GObject *object)
{
  VchatdPublisher *self = VCHATD_PUBLISHER (object);

  gst_clear_object (&self->pipeline);
  g_main_context_unref (self->context);
  g_free (self->node_name);
  G_OBJECT_CLASS (vchatd_publisher_parent_class)->finalize (object);
}

static void
vchatd_publisher_class_init (VchatdPublisherClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vchatd_publisher_dispose;
  object_class->finalize = vchatd_publisher_finalize;

  signals[SIGNAL_PICTURE] = g_signal_new ("picture", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
vchatd_publisher_init (VchatdPublisher *self)
{
}
