/* vchatctl-view.c: the call's video in windows, straight from PipeWire
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * vchatd publishes each call's remote video and the local preview as
 * PipeWire streams (RemoteVideoNode, PreviewNode); view shows each in a
 * window of its own with one small pipeline per stream. The node names can
 * appear or change during the call (before media flows, after a camera
 * switch), so they are followed, and the windows close when the call ends.
 */
#include <stdio.h>
#include <string.h>

#include <glib-unix.h>
#include <gst/gst.h>

#include "vchatctl.h"

#include <glib/gi18n.h>

/* Seconds without a first frame before a stream starts over: a pipewiresrc
 * started just before its target node exists is never linked to it. */
#define FIRST_FRAME_TIMEOUT 3
/* How long leaving waits for the pipelines to stop: pipewiresrc (0.3.65) can
 * hang stopping a stream that was never linked, and that must not keep the
 * command from ending. */
#define STOP_TIMEOUT_US (3 * G_USEC_PER_SEC)

typedef struct {
  const char *what; /* "remote video" or "preview" */
  char *node;
  GstElement *pipeline;
  guint watch;
  guint first_frame_timeout;
  gint *flowing; /* set by the streaming thread; owned by the pipeline */
} Stream;

typedef struct {
  GMainLoop *loop;
  VchatDBusCall *call;
  char *label;
  Stream remote;
  Stream preview;
  gboolean ended;
  GError *error;
} View;

static GMutex stopping_lock;
static GCond stopping_cond;
static int stopping;

/* PipeWire 0.3.65: pipewiresrc destroys its stream at READY→NULL while
 * the stream may still have a "process" call queued on PipeWire's thread
 * loop, which then runs on freed memory (a crash in libpipewire's loop
 * thread; see PIPEWIRE_QUIESCE_MS in daemon/vchatd-media.c). PAUSED first
 * deactivates the stream; the queued calls run in the pause. */
#define PIPEWIRE_QUIESCE_US (250 * 1000)

static gpointer
stop_pipeline_thread (gpointer data)
{
  GstElement *pipeline = data;

  if (gst_element_set_state (pipeline, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE)
    g_usleep (PIPEWIRE_QUIESCE_US);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_mutex_lock (&stopping_lock);
  stopping--;
  g_cond_signal (&stopping_cond);
  g_mutex_unlock (&stopping_lock);
  return NULL;
}

/* Waits a while for the pipelines being stopped; see STOP_TIMEOUT_US. */
static void
wait_stopped (void)
{
  gint64 deadline = g_get_monotonic_time () + STOP_TIMEOUT_US;

  g_mutex_lock (&stopping_lock);
  while (stopping > 0)
    if (!g_cond_wait_until (&stopping_cond, &stopping_lock, deadline)) {
      g_debug ("%d pipeline(s) did not stop in time; leaving anyway", stopping);
      break;
    }
  g_mutex_unlock (&stopping_lock);
}

static void
stream_stop (Stream *s)
{
  if (s->pipeline) {
    g_clear_handle_id (&s->watch, g_source_remove);
    g_clear_handle_id (&s->first_frame_timeout, g_source_remove);
    s->flowing = NULL;
    g_mutex_lock (&stopping_lock);
    stopping++;
    g_mutex_unlock (&stopping_lock);
    g_thread_unref (
      g_thread_new ("vchatctl-stop", stop_pipeline_thread, g_steal_pointer (&s->pipeline)));
  }
  g_clear_pointer (&s->node, g_free);
}

static gpointer
play_pipeline_thread (gpointer data)
{
  g_autoptr (GstElement) pipeline = data;

  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    g_debug ("%s did not start", GST_OBJECT_NAME (pipeline));
  return NULL;
}

static GstPadProbeReturn
on_first_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  g_atomic_int_set ((gint *) data, TRUE);
  return GST_PAD_PROBE_REMOVE;
}

static void stream_start (View *v, Stream *s, const char *node);

static gboolean
on_first_frame_timeout (gpointer data)
{
  View *v = data;
  Stream *s = NULL;
  g_autofree char *node = NULL;

  /* Which stream's timer this is: the one whose source is running now. */
  if (v->remote.first_frame_timeout == g_source_get_id (g_main_current_source ()))
    s = &v->remote;
  else
    s = &v->preview;
  s->first_frame_timeout = 0;
  if (!s->flowing || g_atomic_int_get (s->flowing))
    return G_SOURCE_REMOVE;

  g_debug ("no %s from %s yet; starting over", s->what, s->node);
  node = g_strdup (s->node);
  stream_stop (s);
  stream_start (v, s, node);
  return G_SOURCE_REMOVE;
}

static void
view_fail (View *v, GError *error)
{
  if (!v->error)
    v->error = error;
  else
    g_error_free (error);
  g_main_loop_quit (v->loop);
}

static gboolean
on_bus_message (GstBus *bus, GstMessage *message, gpointer data)
{
  View *v = data;
  Stream *s = NULL;

  if (GST_MESSAGE_SRC (message) && v->remote.pipeline &&
      gst_object_has_as_ancestor (GST_MESSAGE_SRC (message), GST_OBJECT (v->remote.pipeline)))
    s = &v->remote;
  else
    s = &v->preview;

  switch (GST_MESSAGE_TYPE (message)) {
  case GST_MESSAGE_ERROR: {
    g_autoptr (GError) err = NULL;
    g_autofree char *debug = NULL;
    gst_message_parse_error (message, &err, &debug);
    g_debug ("%s: %s (%s)", s->what, err->message, debug);
    /* Closing a window is how a person ends the view. */
    if (g_error_matches (err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND) &&
        strstr (err->message, "window was closed")) {
      g_main_loop_quit (v->loop);
      break;
    }
    view_fail (v, g_error_new (VCHATCTL_ERROR, VCHATCTL_EXIT_FAILED,
                               _ ("cannot show the %s of call %s (PipeWire node %s): %s"), s->what,
                               v->label, s->node ? s->node : "?", err->message));
    break;
  }
  case GST_MESSAGE_EOS:
    fprintf (stderr, _ ("vchatctl: the %s of call %s ended\n"), s->what, v->label);
    stream_stop (s);
    if (!v->remote.pipeline && !v->preview.pipeline)
      g_main_loop_quit (v->loop);
    break;
  default:
    break;
  }
  return G_SOURCE_CONTINUE;
}

/* Node names are PipeWire node.name values; anything that could break out of
 * the pipeline description is refused rather than escaped. */
static gboolean
node_name_ok (const char *node)
{
  for (const char *p = node; *p; p++)
    if (!g_ascii_isalnum (*p) && !strchr ("._-:/+@", *p))
      return FALSE;
  return *node != '\0';
}

static void
stream_follow (View *v, Stream *s, const char *node)
{
  if (g_strcmp0 (node ? node : "", s->node ? s->node : "") == 0)
    return;
  stream_stop (s);
  if (node && *node)
    stream_start (v, s, node);
}

/* Without any usable sink autovideosink falls back to a fakesink, and
 * the window would silently never open. */
static gboolean
has_real_output (GstElement *pipeline)
{
  g_autoptr (GstElement) out = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  g_autoptr (GstIterator) it = NULL;
  GValue item = G_VALUE_INIT;
  gboolean real = TRUE;

  if (!out || !GST_IS_BIN (out))
    return TRUE;
  it = gst_bin_iterate_elements (GST_BIN (out));
  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstElementFactory *factory = gst_element_get_factory (g_value_get_object (&item));
    if (factory && g_str_equal (GST_OBJECT_NAME (factory), "fakesink"))
      real = FALSE;
    g_value_reset (&item);
  }
  g_value_unset (&item);
  return real;
}

static void
stream_start (View *v, Stream *s, const char *node)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *description = NULL;
  g_autoptr (GstBus) bus = NULL;
  g_autoptr (GstElement) src = NULL;
  g_autoptr (GstPad) pad = NULL;

  if (!node_name_ok (node)) {
    view_fail (v, g_error_new (VCHATCTL_ERROR, VCHATCTL_EXIT_FAILED,
                               _ ("the %s of call %s has an odd PipeWire node name: '%s'"), s->what,
                               v->label, node));
    return;
  }

  description = g_strdup_printf (
    "pipewiresrc name=src target-object=%s ! videoconvert ! autovideosink name=out", node);
  s->pipeline = gst_parse_launch (description, &error);
  if (!s->pipeline || error) {
    gst_clear_object (&s->pipeline);
    view_fail (v, g_error_new (VCHATCTL_ERROR, VCHATCTL_EXIT_FAILED,
                               _ ("cannot show the %s of call %s: %s (is gstreamer1.0-pipewire "
                                  "installed?)"),
                               s->what, v->label, error ? error->message : _ ("no pipeline")));
    return;
  }
  s->node = g_strdup (node);
  bus = gst_element_get_bus (s->pipeline);
  s->watch = gst_bus_add_watch (bus, on_bus_message, v);

  s->flowing = g_new0 (gint, 1);
  g_object_set_data_full (G_OBJECT (s->pipeline), "vchatctl-flowing", s->flowing, g_free);
  src = gst_bin_get_by_name (GST_BIN (s->pipeline), "src");
  pad = src ? gst_element_get_static_pad (src, "src") : NULL;
  if (pad) {
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_first_buffer, s->flowing, NULL);
    s->first_frame_timeout = g_timeout_add_seconds (FIRST_FRAME_TIMEOUT, on_first_frame_timeout, v);
  }
  /* READY here, where autovideosink picks a sink: one at a time, as some
   * sinks (DirectFB) crash when probed from two threads at once. */
  if (gst_element_set_state (s->pipeline, GST_STATE_READY) == GST_STATE_CHANGE_FAILURE ||
      !has_real_output (s->pipeline)) {
    view_fail (v, g_error_new (VCHATCTL_ERROR, VCHATCTL_EXIT_FAILED,
                               _ ("cannot show the %s of call %s: no video output; view needs "
                                  "a graphical session (DISPLAY or WAYLAND_DISPLAY)"),
                               s->what, v->label));
    return;
  }
  /* PLAYING off the main loop: pipewiresrc can block in it until its node
   * is linked. A failure is posted on the bus as an error. */
  g_thread_unref (
    g_thread_new ("vchatctl-play", play_pipeline_thread, gst_object_ref (s->pipeline)));
}

static void
on_call_changed (VchatDBusCall *call, GParamSpec *pspec, View *v)
{
  if (v->ended)
    return;
  if (vchatctl_call_ended (call)) {
    g_autofree char *text = vchatctl_end_reason_text (vchat_dbus_call_get_end_reason (call));
    v->ended = TRUE;
    fprintf (stderr, _ ("vchatctl: call %s ended: %s\n"), v->label, text);
    g_main_loop_quit (v->loop);
    return;
  }
  stream_follow (v, &v->remote, vchat_dbus_call_get_remote_video_node (call));
  if (!v->error)
    stream_follow (v, &v->preview, vchat_dbus_call_get_preview_node (call));
}

static void
on_owner (GDBusProxy *proxy, GParamSpec *pspec, View *v)
{
  g_autofree char *owner = g_dbus_proxy_get_name_owner (proxy);

  if (!owner)
    view_fail (v, g_error_new (VCHATCTL_ERROR, VCHATCTL_EXIT_FAILED,
                               _ ("vchatd left the bus; see: journalctl --user -u vchatd")));
}

static gboolean
on_signal (gpointer data)
{
  View *v = data;

  g_main_loop_quit (v->loop);
  return G_SOURCE_CONTINUE;
}

/* autovideosink tries every sink it knows; DirectFB's crashes the process
 * when there is no framebuffer for it, which is every desktop today. */
static void
demote_sinks (void)
{
  g_autoptr (GstPluginFeature)
    dfb = gst_registry_lookup_feature (gst_registry_get (), "dfbvideosink");

  if (dfb)
    gst_plugin_feature_set_rank (dfb, GST_RANK_NONE);
}

static gboolean
view_run (Vchatctl *ctl, char **args, GError **error)
{
  g_autoptr (VchatDBusCall) call = vchatctl_resolve_call (ctl, args[0], NULL, error);
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (GError) init_error = NULL;
  /* Translators: what "cannot show the %s of call %s" and the like are about. */
  View v = { .remote.what = _ ("remote video"), .preview.what = _ ("preview") };
  guint sigint, sigterm;
  gulong ids[4];

  if (!call)
    return FALSE;
  if (vchatctl_call_ended (call)) {
    g_autofree char *label = vchatctl_call_label (
      g_dbus_proxy_get_object_path (G_DBUS_PROXY (call)));
    g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_FAILED, _ ("call %s has ended"), label);
    return FALSE;
  }
  if (!gst_init_check (NULL, NULL, &init_error)) {
    g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_FAILED, _ ("cannot start GStreamer: %s"),
                 init_error->message);
    return FALSE;
  }

  demote_sinks ();
  loop = g_main_loop_new (NULL, FALSE);
  v.loop = loop;
  v.call = call;
  v.label = vchatctl_call_label (g_dbus_proxy_get_object_path (G_DBUS_PROXY (call)));

  ids[0] = g_signal_connect (call, "notify::state", G_CALLBACK (on_call_changed), &v);
  ids[1] = g_signal_connect (call, "notify::remote-video-node", G_CALLBACK (on_call_changed), &v);
  ids[2] = g_signal_connect (call, "notify::preview-node", G_CALLBACK (on_call_changed), &v);
  ids[3] = g_signal_connect (call, "notify::g-name-owner", G_CALLBACK (on_owner), &v);
  sigint = g_unix_signal_add (SIGINT, on_signal, &v);
  sigterm = g_unix_signal_add (SIGTERM, on_signal, &v);

  on_call_changed (call, NULL, &v);
  if (!v.remote.node && !v.error)
    /* Translators: %s is the call's number, then its state, such as "ringing". */
    fprintf (stderr, _ ("vchatctl: call %s is %s; its video shows when it arrives\n"), v.label,
             vchat_dbus_call_get_state (call));
  if (!v.error)
    g_main_loop_run (loop);

  for (gsize i = 0; i < G_N_ELEMENTS (ids); i++)
    g_signal_handler_disconnect (call, ids[i]);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  stream_stop (&v.remote);
  stream_stop (&v.preview);
  wait_stopped ();
  g_free (v.label);

  if (v.error) {
    g_propagate_error (error, v.error);
    return FALSE;
  }
  return TRUE;
}

const VchatctlCommand vchatctl_view_commands[] = {
  { "view", "[CALL]", N_ ("Show the call's video in a window"),
    N_ ("Shows the other person's video and your own camera's preview, each in a\n"
        "window, read from the call's PipeWire streams (RemoteVideoNode and\n"
        "PreviewNode). The video appears when it arrives; the windows close when the\n"
        "call ends, when one is closed, or on Ctrl+C.\n"),
    NULL, 0, 1, view_run },
  { NULL }
};
