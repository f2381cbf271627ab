/* vchatd-media.c: one call's media session: a GstPipeline with webrtcbin
 *
 * The pipeline, for a session with a camera and a microphone:
 *
 *   camera ─┐                                                        ┌ queue ─ videoscale ─ videorate ─ rung ─ vp8enc ─ rtpvp8pay ─┐
 *   black ──┴ selector ─ videoconvert ─ videorate ─ videoscale ─ I420 ─ tee                                                       │
 *             (probe: black frames when the camera is off)         └ queue ─ pipewiresink (preview)                              │
 *   microphone ─┐                                                                                                                  │
 *   silence ────┴ selector ─ audioconvert ─ audioresample ─ mono 48 kHz ─ volume ─ queue ─ opusenc ─ rtpopuspay ─────────── webrtcbin
 *                                                                                  (aux sender: TWCC tap) ┘
 *   webrtcbin ┬ queue ─ rtpvp8depay ─ vp8dec ─ videoconvert ─ tee ┬ queue ─ ... ─ pipewiresink (remote video)
 *             │                      (probe: frames, freezes)    └ queue ─ ... ─ RGB ─ appsink (thumbnails)
 *             └ queue ─ rtpopusdepay ─ opusdec ─ audioconvert ─ audioresample ─ speaker
 *
 * A call's sessions do not open the devices themselves: the call's capture
 * (a session of role CAPTURE, vchatd-media.h) holds the slots and the
 * preview branch above, for the whole call, and ends in an appsink per
 * slot; each connection attempt's session has an appsrc in each slot's
 * place, fed from there (vchatd-media-capture.c, "a capture's feeds").
 *
 * The parts, each in a file of its own (vchatd-media-private.h is what they
 * share): this file holds the session object, its state, and the start and
 * the teardown of the pipeline; vchatd-media-capture.c the camera and
 * microphone slots; vchatd-media-send.c the encoders and the rate control
 * that drives them; vchatd-media-peer.c webrtcbin; vchatd-media-publish.c
 * what arrives from the peer; vchatd-media-report.c the stats. The checks
 * on what the peer sends are in vchatd-sdp.c, the rate controller, the
 * ladder and the audio policy in vchatd-rate-control.c, vchatd-ladder.c and
 * vchatd-audio-policy.c (no GStreamer in those).
 *
 * webrtcbin 1.22.0 needs a number of workarounds (see shared/WEBRTCBIN-1.22.md);
 * each is marked "1.22:" where it is applied; PipeWire 0.3.65's are marked
 * "PipeWire 0.3.65:".
 *
 * Threads: webrtcbin's action signals are emitted from the main context
 * only, and nothing there waits for their promises: each answer is handed
 * to the main context, where the next step runs (media_run_on_main()), like
 * every signal webrtcbin, libnice and the streaming threads emit. The
 * streaming threads only link the receive chain in pad-added (it must be
 * linked before the first buffer is pushed) and count buffers. The devices,
 * the PipeWire outputs and the pipeline's teardown change state on
 * GStreamer's thread pool (see "Work that can block in GStreamer or
 * PipeWire").
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "vchatd-media-private.h"

#include <string.h>

G_DEFINE_FINAL_TYPE (VchatdMedia, vchatd_media, G_TYPE_OBJECT)

enum { PROP_0, PROP_STATE, N_PROPS };

static GParamSpec *properties[N_PROPS];
guint vchatd_media_signals[N_SIGNALS];

const char *
vchatd_media_state_to_string (VchatdMediaState state)
{
  switch (state) {
  case VCHATD_MEDIA_STATE_NEW:
    return "new";
  case VCHATD_MEDIA_STATE_CONNECTING:
    return "connecting";
  case VCHATD_MEDIA_STATE_CONNECTED:
    return "connected";
  case VCHATD_MEDIA_STATE_FAILED:
    return "failed";
  case VCHATD_MEDIA_STATE_STOPPED:
    return "stopped";
  default:
    return "unknown";
  }
}

const char *
media_source_kind_name (SourceKind kind)
{
  return kind == SOURCE_VIDEO ? "video" : "audio";
}

/* Main context. */
gboolean
media_is_stopped (VchatdMedia *self)
{
  return self->state == VCHATD_MEDIA_STATE_STOPPED || self->pipeline == NULL || self->stopping;
}

gint
media_session_ms (VchatdMedia *self)
{
  return (gint) ((g_get_monotonic_time () - self->start_us) / 1000);
}

/* Hopping to the main context */

typedef struct {
  VchatdMedia *self;
  MainFunc func;
  gpointer data;
  GDestroyNotify destroy;
} MainCall;

static gboolean
main_call_dispatch (gpointer user_data)
{
  MainCall *call = user_data;

  if (!media_is_stopped (call->self))
    call->func (call->self, call->data);
  return G_SOURCE_REMOVE;
}

static void
main_call_free (gpointer user_data)
{
  MainCall *call = user_data;

  if (call->destroy && call->data)
    call->destroy (call->data);
  g_object_unref (call->self);
  g_free (call);
}

/* Runs @func on the session's main context, always from its main loop (an
 * idle source, never synchronously: callers may hold locks, or be inside a
 * call into this API). Skipped once the session is stopped. The reference it
 * holds is dropped on the main context, so the last unref (and the media_teardown
 * it may trigger) never happens on a GStreamer thread. */
void
media_run_on_main (VchatdMedia *self, MainFunc func, gpointer data, GDestroyNotify destroy)
{
  g_autoptr (GSource) source = g_idle_source_new ();
  MainCall *call = g_new0 (MainCall, 1);

  call->self = g_object_ref (self);
  call->func = func;
  call->data = data;
  call->destroy = destroy;
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, main_call_dispatch, call, main_call_free);
  g_source_set_static_name (source, "[vchatd-media] media_run_on_main");
  g_source_attach (source, self->context);
}

/* Building blocks */

GstElement *
media_make_element (const char *factory, const char *name, GError **error)
{
  GstElement *element = gst_element_factory_make (factory, name);

  if (!element)
    g_set_error (
      error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
      "The GStreamer element “%s” is missing: install the GStreamer plugin that provides it",
      factory);
  return element;
}

/* Elements added to a playing pipeline join it at its state; sinks must not
 * wait for preroll there (the pipeline is live and would lose its state). */
void
media_set_sinks_not_async (GstElement *element)
{
  if (GST_IS_BIN (element)) {
    g_autoptr (GstIterator) it = gst_bin_iterate_sinks (GST_BIN (element));
    GValue item = G_VALUE_INIT;

    while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
      media_set_sinks_not_async (g_value_get_object (&item));
      g_value_reset (&item);
    }
    g_value_unset (&item);
  } else if (GST_OBJECT_FLAG_IS_SET (element, GST_ELEMENT_FLAG_SINK) &&
             g_object_class_find_property (G_OBJECT_GET_CLASS (element), "async")) {
    g_object_set (element, "async", FALSE, NULL);
  }
}

/* One element per factory, all or none (floating references). */
gboolean
media_make_elements (const char *const *factories, GstElement **elements, guint n, GError **error)
{
  guint i;

  for (i = 0; i < n; i++) {
    elements[i] = media_make_element (factories[i], NULL, error);
    if (!elements[i]) {
      while (i-- > 0)
        gst_object_unref (gst_object_ref_sink (elements[i]));
      return FALSE;
    }
  }
  return TRUE;
}

gboolean
media_add_and_link (VchatdMedia *self, GstElement **elements, guint n)
{
  guint i;

  for (i = 0; i < n; i++)
    gst_bin_add (GST_BIN (self->pipeline), elements[i]);
  for (i = 0; i + 1 < n; i++)
    if (!gst_element_link (elements[i], elements[i + 1]))
      return FALSE;
  return TRUE;
}

void
media_sync_with_pipeline (GstElement *const *elements, guint n)
{
  /* Downstream first, so nothing pushes into an element not yet playing. */
  while (n-- > 0)
    gst_element_sync_state_with_parent (elements[n]);
}

/* Work that can block in GStreamer or PipeWire
 *
 * Capture sources and PipeWire outputs are in the pipeline with a locked
 * state: the pipeline's own state changes leave them alone, and their state
 * is changed here, on a thread of GStreamer's pool, never on the main
 * thread and never with a lock of ours held. pipewiresrc 0.3.65 waits up
 * to 30 s in READY→PAUSED for a node that does not answer (a paused
 * producer); pipewiresink can deadlock between two threads of the PipeWire
 * plugin; stopping a source waits for its streaming thread, which may be
 * waiting on a branch that is blocked. Whatever happens there, the main
 * loop goes on, and a stuck element is abandoned, not waited for. */

typedef struct {
  VchatdMedia *self; /* probes and callbacks of the element point at it */
  GstElement *pipeline;
  LockedFunc func;
  gpointer data;
  GDestroyNotify destroy;
} LockedJob;

static void
locked_job_free (gpointer data)
{
  LockedJob *job = data;

  if (job->destroy && job->data)
    job->destroy (job->data);
  gst_object_unref (job->pipeline);
  g_object_unref (job->self);
  g_free (job);
}

static void
locked_job_run (GstElement *element, gpointer data)
{
  LockedJob *job = data;

  job->func (job->self, job->pipeline, element, job->data);
}

/* Runs @func on GStreamer's thread pool; @element, the pipeline and the
 * session stay alive until it returns. Main context. */
void
media_run_locked_job (VchatdMedia *self, GstElement *element, LockedFunc func, gpointer data,
                GDestroyNotify destroy)
{
  LockedJob *job = g_new0 (LockedJob, 1);

  job->self = g_object_ref (self);
  job->pipeline = gst_object_ref (self->pipeline);
  job->func = func;
  job->data = data;
  job->destroy = destroy;
  gst_element_call_async (element, locked_job_run, job, locked_job_free);
}

gboolean
media_is_stopping (VchatdMedia *self)
{
  return g_atomic_int_get (&self->stopping);
}

/* Pool thread: plays @element with the pipeline's clock and base time. Once
 * the session is stopping, leaves it in (or puts it back to) NULL. */
gboolean
media_play_locked (VchatdMedia *self, GstElement *pipeline, GstElement *element)
{
  g_autoptr (GstClock) clock = NULL;
  GstStateChangeReturn ret;

  if (media_is_stopping (self))
    return FALSE;
  clock = gst_element_get_clock (pipeline);
  if (clock)
    gst_element_set_clock (element, clock);
  gst_element_set_base_time (element, gst_element_get_base_time (pipeline));
  ret = gst_element_set_state (element, GST_STATE_PLAYING);
  /* The media_teardown may have stopped it while it was starting. */
  if (media_is_stopping (self) || ret == GST_STATE_CHANGE_FAILURE) {
    media_stop_locked (element);
    return FALSE;
  }
  return TRUE;
}

/* PipeWire 0.3.65: a stream's data thread hands each "process" to the
 * thread loop as a queued call holding a pointer to the stream
 * (stream.c, call_process → pw_loop_invoke, not waited for), and
 * pw_stream_destroy() frees the stream without removing the calls still
 * queued. When pipewiresink (PAUSED→READY) or pipewiresrc (READY→NULL)
 * destroys its stream while one is queued, the loop thread runs it on freed
 * memory: the SIGSEGV in libpipewire's loop thread at the end of calls
 * (spa_list_remove in do_call_process; symbolised with a debug build of
 * 0.3.65). Changed upstream in 0.3.73 ("stream: don't emit process when
 * disconnecting" and the flush of pending calls on disconnect).
 *
 * PLAYING→PAUSED deactivates the stream (pw_stream_set_active(false)
 * removes its node from the data loop, waiting for the data thread), so no
 * call is queued after it; the loop thread then runs those already queued
 * as soon as it gets its lock back. The stream is destroyed only after
 * that. */
#define PIPEWIRE_QUIESCE_MS 250

static gboolean
contains_pipewire (GstElement *element)
{
  g_autoptr (GstIterator) it = NULL;
  GValue item = G_VALUE_INIT;
  gboolean found = FALSE;
  GstElementFactory *factory;

  if (!GST_IS_BIN (element)) {
    factory = gst_element_get_factory (element);
    return factory && g_str_has_prefix (GST_OBJECT_NAME (factory), "pipewire");
  }
  it = gst_bin_iterate_recurse (GST_BIN (element));
  while (!found && gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    factory = gst_element_get_factory (g_value_get_object (&item));
    found = factory && g_str_has_prefix (GST_OBJECT_NAME (factory), "pipewire");
    g_value_reset (&item);
  }
  g_value_unset (&item);
  return found;
}

/* Pool thread: a source is told to stop waiting first (pipewiresrc waits for
 * its node while it starts, and for buffers), or PAUSED would wait for it.
 * Returns TRUE if @element holds a PipeWire stream that was deactivated and
 * must be given PIPEWIRE_QUIESCE_MS before it goes to NULL. */
gboolean
media_pause_locked (GstElement *element)
{
  g_autoptr (GstPad) pad = gst_element_get_static_pad (element, "src");
  GstState state = GST_STATE_VOID_PENDING;

  if (pad && !GST_IS_BIN (element) && GST_OBJECT_FLAG_IS_SET (element, GST_ELEMENT_FLAG_SOURCE))
    gst_pad_send_event (pad, gst_event_new_flush_start ());
  if (!contains_pipewire (element))
    return FALSE;
  gst_element_get_state (element, &state, NULL, 0);
  if (state != GST_STATE_PLAYING)
    return FALSE;
  gst_element_set_state (element, GST_STATE_PAUSED);
  return TRUE;
}

/* Pool thread: stops @element for good (see media_pause_locked). */
void
media_stop_locked (GstElement *element)
{
  if (media_pause_locked (element))
    g_usleep (PIPEWIRE_QUIESCE_MS * 1000);
  gst_element_set_state (element, GST_STATE_NULL);
}

static gboolean
drop_reference (gpointer data)
{
  return G_SOURCE_REMOVE;
}

/* The stats promise may be freed on webrtcbin's thread; the last reference
 * to the session must not be dropped there. */
void
media_unref_on_main (gpointer data)
{
  VchatdMedia *self = data;
  g_autoptr (GSource) source = g_idle_source_new ();

  g_source_set_callback (source, drop_reference, self, g_object_unref);
  g_source_attach (source, self->context);
}

static gboolean
on_tick (gpointer data)
{
  /* A handler of the signals below may drop the last other reference. */
  g_autoptr (VchatdMedia) self = g_object_ref (data);

  media_check_watchdog (self);
  media_check_negotiation (self);
  if (!media_is_stopped (self) &&
      (self->state == VCHATD_MEDIA_STATE_CONNECTING || self->state == VCHATD_MEDIA_STATE_CONNECTED))
    media_request_stats (self);
  return G_SOURCE_CONTINUE;
}

/* Bus */

static gboolean
on_bus_message (GstBus *bus, GstMessage *message, gpointer data)
{
  /* A handler of the signals below may drop the last other reference. */
  g_autoptr (VchatdMedia) self = g_object_ref (data);
  GstObject *src = GST_MESSAGE_SRC (message);
  g_autoptr (GError) error = NULL;
  g_autofree char *debug = NULL;
  SourceKind kind;
  Output *output;

  if (media_is_stopped (self))
    return G_SOURCE_CONTINUE;

  switch (GST_MESSAGE_TYPE (message)) {
  case GST_MESSAGE_ERROR:
    gst_message_parse_error (message, &error, &debug);
    /* From an element already removed (a replaced source): old news. */
    if (src != GST_OBJECT (self->pipeline) &&
        !gst_object_has_as_ancestor (src, GST_OBJECT (self->pipeline)))
      break;
    if ((output = media_find_output (self, src))) {
      media_output_failed (self, output, error->message);
      return G_SOURCE_CONTINUE;
    }
    for (kind = 0; kind < N_SOURCES; kind++) {
      Device *device = self->sources[kind].device;

      if (device && (src == GST_OBJECT (device->element) ||
                     gst_object_has_as_ancestor (src, GST_OBJECT (device->element)))) {
        media_device_failed (self, kind, error->message);
        return G_SOURCE_CONTINUE;
      }
    }
    /* From a device on its way out: it is gone already for the call. */
    if (media_find_tagged (self, src, "vchatd-device"))
      return G_SOURCE_CONTINUE;
    g_debug ("media: %s: %s (%s)", GST_OBJECT_NAME (src), error->message, debug ? debug : "");
    /* The transport inside webrtcbin (SCTP for the data channel, DTLS,
     * ICE) fails when the peer closes its end, as a peer that restarts its
     * connection does: a broken path, which the call reconnects, not a
     * failure of our own media. */
    if (self->webrtc && gst_object_has_as_ancestor (src, GST_OBJECT (self->webrtc)) &&
        (g_str_has_prefix (GST_OBJECT_NAME (src), "sctp") ||
         g_str_has_prefix (GST_OBJECT_NAME (src), "dtls") ||
         g_str_has_prefix (GST_OBJECT_NAME (src), "nice"))) {
      media_fail (self, VCHATD_MEDIA_FAILURE_PEER_LOST, "the connection to the peer broke (%s: %s)",
                  GST_OBJECT_NAME (src), error->message);
      break;
    }
    media_fail (self, VCHATD_MEDIA_FAILURE_LOCAL, "%s: %s", GST_OBJECT_NAME (src), error->message);
    break;
  case GST_MESSAGE_WARNING:
    gst_message_parse_warning (message, &error, &debug);
    g_debug ("media: %s: %s (%s)", GST_OBJECT_NAME (src), error->message, debug ? debug : "");
    break;
  default:
    break;
  }
  return G_SOURCE_CONTINUE;
}

/* Lifetime */

void
media_set_state (VchatdMedia *self, VchatdMediaState state)
{
  if (self->state == state)
    return;
  g_debug ("media: %s → %s", vchatd_media_state_to_string (self->state),
           vchatd_media_state_to_string (state));
  self->state = state;
  if (state == VCHATD_MEDIA_STATE_CONNECTED && !self->connected_us)
    self->connected_us = g_get_monotonic_time ();
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/* 1.22: rtpsession's RTCP thread schedules the NACKs it still owes
 * (schedule_remaining_nacks) inside a g_hash_table_foreach over its sources,
 * with the session lock released for each one; a source added meanwhile
 * (typically the peer's first retransmission, on a new RTX SSRC) ends the
 * iteration with a GLib critical. The NACKs are scheduled again at the
 * next RTCP interval, so the call loses nothing. The message is logged at
 * debug level instead, and is not fatal under G_DEBUG=fatal-criticals
 * (which the tests use to catch our own mistakes). */
#define RTPSESSION_NACK_RACE "g_hash_table_foreach: assertion 'version == hash_table->version'"

static gboolean
is_known_library_critical (const char *domain, GLogLevelFlags level, const char *message)
{
  return g_strcmp0 (domain, "GLib") == 0 && (level & G_LOG_LEVEL_CRITICAL) && message &&
         g_str_has_prefix (message, RTPSESSION_NACK_RACE);
}

static gboolean
on_fatal_log (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  return !is_known_library_critical (domain, level, message);
}

static void
on_glib_critical (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  if (is_known_library_critical (domain, level, message))
    g_debug ("media: GStreamer 1.22's rtpsession: %s (a known race when scheduling NACKs; "
             "they are sent at the next RTCP interval)",
             message);
  else
    g_log_default_handler (domain, level, message, data);
}

/* PipeWire 0.3.65: GStreamer's PipeWire elements share one connection
 * (GstPipeWireCore: a context, its thread loop and data loop), made by the
 * first element that opens and torn down when the last one closes: at the
 * end of every call, and again when the next call starts. vchatd crashed
 * inside libpipewire's loop thread around those moments (the stress test's
 * second call, the camera tests). One unlinked pipewiresink held in READY
 * for the life of the process keeps that connection up: calls come and go
 * on it. */
static GstElement *pipewire_anchor;

void
vchatd_media_hold_pipewire (void)
{
  GstElement *sink;

  if (pipewire_anchor)
    return;
  sink = gst_element_factory_make ("pipewiresink", "vchatd-pipewire-anchor");
  if (!sink)
    return;
  g_object_set (sink, "client-name", "vchatd", NULL);
  if (gst_element_set_state (sink, GST_STATE_READY) == GST_STATE_CHANGE_FAILURE) {
    g_debug ("media: no PipeWire to hold a connection to");
    gst_element_set_state (sink, GST_STATE_NULL);
    gst_object_unref (sink);
    return;
  }
  pipewire_anchor = gst_object_ref_sink (sink);
}

void
vchatd_media_release_pipewire (void)
{
  if (!pipewire_anchor)
    return;
  gst_element_set_state (pipewire_anchor, GST_STATE_NULL);
  gst_clear_object (&pipewire_anchor);
}

/* The first call of a process paid for two things no later call does,
 * both on the path from `matched` to the picture (one lab call's logs):
 *  - the DTLS certificate. GStreamer 1.22's dtlsdec makes one RSA-2048 key
 *    and certificate per process, on the first dtlsdec made, which is inside
 *    the offerer's create-offer and the answerer's set-remote-description:
 *    0.54 s and 0.18 s of that call's set-up on a loaded two-core machine;
 *  - loading the plugins a call uses (webrtcbin, libnice, libvpx, Opus,
 *    SRTP, RTP) from disk.
 * Both are done here once at start, in a thread, while nobody waits. A call
 * that comes first waits inside GStreamer for the same work (dtlsdec's key is
 * made under a g_once), never for longer than it would have. The key stays
 * the process's one key, as it was. A daemon told to stop at once waits for
 * the thread (vchatd_media_warm_up_join()): exiting under it crashed in
 * OpenSSL's or GStreamer's teardown (test_second_daemon_needs_replace,
 * 3 runs in 4). */
static GThread *warm_up;

static gpointer
warm_up_thread (gpointer data)
{
  static const char *const factories[] = {
    "dtlsdec", "webrtcbin", "nicesrc", "srtpenc", "rtpbin", "vp8enc", "vp8dec",
    "rtpvp8pay", "rtpvp8depay", "opusenc", "opusdec", "rtpopuspay", "rtpopusdepay",
  };
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < G_N_ELEMENTS (factories); i++) {
    GstElement *element = gst_element_factory_make (factories[i], NULL);

    /* A missing plugin is said by the call that needs it, with the package
     * to install; here it only costs nothing. */
    if (element)
      gst_object_unref (gst_object_ref_sink (element));
  }
  g_debug ("media: warmed up (DTLS certificate, plugins) in %" G_GINT64_FORMAT " ms",
           (g_get_monotonic_time () - start) / 1000);
  return NULL;
}

void
vchatd_media_warm_up (void)
{
  if (!warm_up)
    warm_up = g_thread_new ("vchatd-warm-up", warm_up_thread, NULL);
}

void
vchatd_media_warm_up_join (void)
{
  if (warm_up)
    g_thread_join (g_steal_pointer (&warm_up));
}

/* GStreamer's own debug log (GST_DEBUG) prints TURN URLs as webrtcbin is
 * given them, password included ("Adding turn server: turn://user:pass@…",
 * and libgstwebrtcnice's "validating turn server"). Every line that holds
 * a URL with user information is logged again with it replaced by "***";
 * the rest goes to the default log function untouched. */
static GRegex *url_userinfo;

static void
redacting_log (GstDebugCategory *category, GstDebugLevel level, const gchar *file,
               const gchar *function, gint line, GObject *object, GstDebugMessage *message,
               gpointer data)
{
  const char *text = gst_debug_message_get (message);

  if (text && strstr (text, "://") && g_regex_match (url_userinfo, text, 0, NULL)) {
    g_autofree char *redacted =
      g_regex_replace_literal (url_userinfo, text, -1, 0, "://***@", 0, NULL);

    /* Back through the log functions, this one included, which now let it
     * pass: "***" is not user information this pattern matches. */
    if (redacted)
      gst_debug_log_literal (category, level, file, function, line, object, redacted);
    return;
  }
  gst_debug_log_default (category, level, file, function, line, object, message, NULL);
}

void
vchatd_media_install_log_filters (void)
{
  if (!gst_is_initialized ())
    gst_init (NULL, NULL);
  if (!url_userinfo) {
    url_userinfo = g_regex_new ("://[^/@\\s*]+@", G_REGEX_OPTIMIZE, 0, NULL);
    gst_debug_add_log_function (redacting_log, NULL, NULL);
    gst_debug_remove_log_function (gst_debug_log_default);
  }
  g_log_set_handler ("GLib", G_LOG_LEVEL_CRITICAL | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
                     on_glib_critical, NULL);
  g_test_log_set_fatal_handler (on_fatal_log, NULL);
}

/* The session cannot go on: says why, once, and fails. */
void
media_fail (VchatdMedia *self, VchatdMediaFailure failure, const char *format, ...)
{
  va_list args;

  if (media_is_stopped (self) || self->state == VCHATD_MEDIA_STATE_FAILED)
    return;
  va_start (args, format);
  self->failure_message = g_strdup_vprintf (format, args);
  va_end (args);
  self->failure = failure;
  if (failure == VCHATD_MEDIA_FAILURE_PEER_LOST)
    g_message ("media: %s: the call is lost", self->failure_message);
  else
    g_warning ("media: %s", self->failure_message);
  media_set_state (self, VCHATD_MEDIA_STATE_FAILED);
}

VchatdMediaFailure
vchatd_media_get_failure (VchatdMedia *self, const char **message)
{
  g_return_val_if_fail (VCHATD_IS_MEDIA (self), VCHATD_MEDIA_FAILURE_NONE);

  if (message)
    *message = self->failure_message;
  return self->failure;
}

VchatdMedia *
vchatd_media_new (const VchatdMediaConfig *config, VchatdMediaRole role, GError **error)
{
  VchatdMedia *self;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!gst_is_initialized ())
    gst_init (NULL, NULL);

  self = g_object_new (VCHATD_TYPE_MEDIA, NULL);
  self->camera_target = g_strdup (config->camera_target);
  self->video_source_description = g_strdup (config->video_source_description);
  self->microphone_target = g_strdup (config->microphone_target);
  self->audio_source_description = g_strdup (config->audio_source_description);
  self->audio_sink_description = g_strdup (config->audio_sink_description);
  self->speaker_target = g_strdup (config->speaker_target);
  self->stun_server = g_strdup (config->stun_server);
  self->turn_servers = g_strdupv ((GStrv) config->turn_servers);
  self->relay_only = config->relay_only;
  self->ice_addresses = g_strdupv ((GStrv) config->ice_addresses);
  self->max_bitrate_kbps = config->max_bitrate_kbps ? config->max_bitrate_kbps
                                                    : DEFAULT_MAX_BITRATE_KBPS;
  self->node_name_prefix = g_strdup (config->node_name_prefix);
  self->watchdog_seconds = config->watchdog_seconds ? config->watchdog_seconds
                                                    : DEFAULT_WATCHDOG_SECONDS;
  self->peer_vchatd = config->peer_vchatd;
  self->role = role;
  self->has_video = self->camera_target || self->video_source_description;
  self->has_audio = self->microphone_target || self->audio_source_description;
  if (config->publisher)
    self->publisher = g_object_ref (config->publisher);
  if (config->capture && role != VCHATD_MEDIA_ROLE_CAPTURE)
    self->capture = g_object_ref (config->capture);
  {
    /* max-bitrate is the video's ceiling; the audio comes on top. */
    VchatdRateControlConfig rc = { MIN_KBPS, START_KBPS,
                                   self->max_bitrate_kbps + VCHATD_AUDIO_MAX_KBPS };

    self->rate_control = vchatd_rate_control_new (&rc);
    self->playout = vchatd_playout_new ();
    self->target_kbps = vchatd_rate_control_get_target_kbps (self->rate_control);
    self->audio_policy = vchatd_audio_policy_for (self->target_kbps, 0);
    self->video_kbps = vchatd_audio_policy_video_kbps (&self->audio_policy, self->target_kbps);
  }
  /* Until the ladder takes over (see LADDER_HOLD_US), the camera's own
   * picture, up to the best rung. */
  self->ladder = vchatd_ladder_new (0, 0, 0);
  vchatd_ladder_update (self->ladder, g_get_monotonic_time (), G_MAXUINT, &self->rung);
  self->rung_text = vchatd_ladder_rung_to_string (&self->rung);
  self->twcc = vchatd_twcc_tap_new ();
  return self;
}

static gboolean
build_pipeline (VchatdMedia *self, GError **error)
{
  static gint next_association_id;
  g_autoptr (GstBus) bus = NULL;

  self->pipeline = gst_pipeline_new ("vchat-media");
  gst_object_ref_sink (self->pipeline);
  /* pipewiresrc offers its node's clock: devices come and go during a
   * call, the pipeline's clock must not go with them. */
  {
    g_autoptr (GstClock) clock = gst_system_clock_obtain ();

    gst_pipeline_use_clock (GST_PIPELINE (self->pipeline), clock);
  }
  /* 1.22: see media_on_deep_element_added(); 1..65534, unique among live sessions. */
  self->sctp_association_id = (guint) (g_atomic_int_add (&next_association_id, 1) % 65534) + 1;
  g_signal_connect (self->pipeline, "deep-element-added", G_CALLBACK (media_on_deep_element_added),
                    self);

  if (self->role == VCHATD_MEDIA_ROLE_CAPTURE) {
    if ((self->has_video && !media_build_video_source_chain (self, error)) ||
        (self->has_audio && !media_build_audio_capture (self, error)))
      return FALSE;
  } else {
    if (!media_peer_build (self, error))
      return FALSE;
    if (self->has_video && !media_build_video_source_chain (self, error))
      return FALSE;
  }
  if (self->role == VCHATD_MEDIA_ROLE_OFFERER) {
    if (!media_offer_video (self, self->has_video, error))
      return FALSE;
    if (self->has_audio ? !media_build_audio_sender (self, NULL, AUDIO_PT, TWCC_ID, error)
                        : !media_add_recvonly_transceiver (self, SOURCE_AUDIO, error))
      return FALSE;
  }

  bus = gst_pipeline_get_bus (GST_PIPELINE (self->pipeline));
  self->bus_source = gst_bus_create_watch (bus);
  g_source_set_callback (self->bus_source, G_SOURCE_FUNC (on_bus_message), self, NULL);
  g_source_set_static_name (self->bus_source, "[vchatd-media] bus");
  g_source_attach (self->bus_source, self->context);
  return TRUE;
}

static void
notify_state_main (VchatdMedia *self, gpointer data)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

gboolean
vchatd_media_start (VchatdMedia *self, GError **error)
{
  g_return_val_if_fail (VCHATD_IS_MEDIA (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->state != VCHATD_MEDIA_STATE_NEW) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                         "The media session was already started");
    return FALSE;
  }
  self->start_us = g_get_monotonic_time ();
  if (!build_pipeline (self, error)) {
    g_prefix_error (error, "Cannot set up the call's media: ");
    media_teardown (self);
    self->state = VCHATD_MEDIA_STATE_STOPPED;
    return FALSE;
  }
  if (gst_element_set_state (self->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                         "Cannot start the call's media pipeline");
    media_teardown (self);
    self->state = VCHATD_MEDIA_STATE_STOPPED;
    return FALSE;
  }

  if (self->role == VCHATD_MEDIA_ROLE_CAPTURE) {
    media_attach_device (self, SOURCE_VIDEO);
    media_attach_device (self, SOURCE_AUDIO);
    if (self->preview_output)
      media_start_output (self, self->preview_output);
    self->watch_source = g_timeout_source_new (WATCH_MS);
    g_source_set_callback (self->watch_source, media_on_watch, self, NULL);
    g_source_set_static_name (self->watch_source, "[vchatd-media] device watch");
    g_source_attach (self->watch_source, self->context);
    self->state = VCHATD_MEDIA_STATE_CONNECTED;
    media_run_on_main (self, notify_state_main, NULL, NULL);
    return TRUE;
  }
  if (self->role == VCHATD_MEDIA_ROLE_OFFERER) {
    g_autoptr (GstWebRTCDataChannel) channel = NULL;

    /* Before the offer, so that it carries the SCTP m-line. */
    g_signal_emit_by_name (self->webrtc, "create-data-channel", "chat", NULL, &channel);
    if (channel) {
      g_autoptr (GstWebRTCDataChannel) control = NULL;

      g_mutex_lock (&self->lock);
      media_adopt_channel (self, channel);
      g_mutex_unlock (&self->lock);
      /* The control channel (docs/protocol.md, "The control channel"): a
       * peer that does not know it leaves it unused. */
      g_signal_emit_by_name (self->webrtc, "create-data-channel", "ctl", NULL, &control);
      if (control) {
        g_mutex_lock (&self->lock);
        media_adopt_control (self, control);
        g_mutex_unlock (&self->lock);
      }
    } else {
      g_warning ("media: webrtcbin made no data channel: the call has no chat");
    }
    media_attach_device (self, SOURCE_VIDEO);
    media_attach_device (self, SOURCE_AUDIO);
  } else {
    /* The answerer's encoders wait for the offer; the preview can start. */
    media_attach_device (self, SOURCE_VIDEO);
  }
  if (self->preview_output)
    media_start_output (self, self->preview_output);

  self->tick_source = g_timeout_source_new_seconds (1);
  g_source_set_callback (self->tick_source, on_tick, self, NULL);
  g_source_set_static_name (self->tick_source, "[vchatd-media] tick");
  g_source_attach (self->tick_source, self->context);
  self->control_source = g_timeout_source_new (CONTROL_MS);
  g_source_set_callback (self->control_source, media_on_control_tick, self, NULL);
  g_source_set_static_name (self->control_source, "[vchatd-media] rate control");
  g_source_attach (self->control_source, self->context);
  self->watch_source = g_timeout_source_new (WATCH_MS);
  g_source_set_callback (self->watch_source, media_on_watch, self, NULL);
  g_source_set_static_name (self->watch_source, "[vchatd-media] device watch");
  g_source_attach (self->watch_source, self->context);
  /* Signals are not emitted from inside calls into this API. */
  self->state = VCHATD_MEDIA_STATE_CONNECTING;
  media_run_on_main (self, notify_state_main, NULL, NULL);
  return TRUE;
}

static void
clear_source (GSource **source)
{
  if (*source) {
    g_source_destroy (*source);
    g_clear_pointer (source, g_source_unref);
  }
}

/* Pipelines being stopped, for vchatd_media_wait_stopped(). */
static GMutex reaping_lock;
static GCond reaping_cond;
static guint reaping;

/* Shared by the media_teardown job and its watch (g_atomic_rc_box). */
typedef struct {
  gint done; /* atomic */
} ReapState;

typedef struct {
  VchatdMedia *self; /* probes in the pipeline point at it */
  GPtrArray *devices; /* Device */
  GPtrArray *sources; /* other locked sources: the fallbacks */
  GPtrArray *sinks;   /* locked sinks: the outputs */
  ReapState *state;
} Reap;

/* Main context: with the pipeline stopped no streaming thread can use it
 * (nor its probes, whose data the outputs are), and its sockets and threads
 * go now rather than with the session. */
static gboolean
release_pipeline (gpointer data)
{
  VchatdMedia *self = data;

  self->webrtc = NULL;
  self->video_tee = NULL;
  self->video_capsfilter = NULL;
  self->video_rate = NULL;
  self->video_encoder = NULL;
  self->ladder_queue = NULL;
  self->ladder_caps = NULL;
  self->volume = NULL;
  self->preview_output = NULL;
  g_debug ("media: the pipeline has stopped");
  /* The devices and outputs too: each PipeWire element holds a buffer pool
   * (with a socket pair) until it is finalized. */
  for (guint kind = 0; kind < N_SOURCES; kind++) {
    SourceSlot *slot = &self->sources[kind];

    g_clear_pointer (&slot->device, media_device_unref);
    gst_clear_object (&slot->fallback_pad);
    slot->fallback = NULL;
    slot->selector = NULL;
  }
  g_mutex_lock (&self->lock);
  g_ptr_array_set_size (self->outputs, 0);
  g_mutex_unlock (&self->lock);
  gst_clear_object (&self->pipeline);
  return G_SOURCE_REMOVE;
}

static void
reap_free (gpointer data)
{
  Reap *reap = data;

  if (g_atomic_int_get (&reap->state->done))
    g_main_context_invoke_full (reap->self->context, G_PRIORITY_DEFAULT, release_pipeline,
                                g_object_ref (reap->self), g_object_unref);
  g_ptr_array_unref (reap->devices);
  g_ptr_array_unref (reap->sources);
  g_ptr_array_unref (reap->sinks);
  g_atomic_rc_box_release (reap->state);
  g_object_unref (reap->self);
  g_free (reap);
  vchatd_media_reaping_end ();
}

/* GStreamer's thread pool. The sources first (so nothing waits for them),
 * then the outputs (so no branch stays blocked in one), then the rest. */
static void
reap_job (GstElement *pipeline, gpointer data)
{
  Reap *reap = data;
  gboolean quiesce = FALSE;
  guint i;

  /* Every PipeWire stream is deactivated first, then all are given one
   * PIPEWIRE_QUIESCE_MS together before any is destroyed. */
  for (i = 0; i < reap->devices->len; i++)
    quiesce |= media_pause_locked (((Device *) g_ptr_array_index (reap->devices, i))->element);
  for (i = 0; i < reap->sources->len; i++)
    quiesce |= media_pause_locked (g_ptr_array_index (reap->sources, i));
  for (i = 0; i < reap->sinks->len; i++)
    quiesce |= media_pause_locked (g_ptr_array_index (reap->sinks, i));
  if (quiesce)
    g_usleep (PIPEWIRE_QUIESCE_MS * 1000);
  for (i = 0; i < reap->devices->len; i++)
    media_stop_device (g_ptr_array_index (reap->devices, i));
  for (i = 0; i < reap->sources->len; i++)
    gst_element_set_state (g_ptr_array_index (reap->sources, i), GST_STATE_NULL);
  for (i = 0; i < reap->sinks->len; i++)
    gst_element_set_state (g_ptr_array_index (reap->sinks, i), GST_STATE_NULL);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_atomic_int_set (&reap->state->done, 1);
}

static gboolean
on_reap_late (gpointer data)
{
  ReapState *state = data;

  if (!g_atomic_int_get (&state->done))
    g_warning ("media: a call's pipeline has not stopped after %d s (stuck in GStreamer or "
               "PipeWire); it is abandoned",
               TEARDOWN_WARN_SECONDS);
  return G_SOURCE_REMOVE;
}

/* Main context: disconnect, and stop the pipeline off the main thread: it
 * may have to wait for streaming threads, and a stuck PipeWire element would
 * hold it for ever. The pipeline itself is released with the session. */
void
media_teardown (VchatdMedia *self)
{
  GstWebRTCDataChannel *channel;
  GstWebRTCDataChannel *control;
  g_autoptr (GPtrArray) outputs = NULL;
  g_autoptr (GSource) late = NULL;
  SourceKind kind;
  Reap *reap;
  guint i;

  g_mutex_lock (&self->lock);
  if (self->stopping) {
    g_mutex_unlock (&self->lock);
    return;
  }
  g_atomic_int_set (&self->stopping, TRUE);
  channel = g_steal_pointer (&self->channel);
  control = g_steal_pointer (&self->control);
  outputs = g_ptr_array_ref (self->outputs);
  g_ptr_array_set_size (self->feeds, 0);
  g_mutex_unlock (&self->lock);
  if (self->capture)
    media_remove_feeds (self->capture, self);

  clear_source (&self->tick_source);
  clear_source (&self->control_source);
  clear_source (&self->watch_source);
  clear_source (&self->bus_source);
  for (kind = 0; kind < N_SOURCES; kind++)
    clear_source (&self->sources[kind].retry);

  if (channel) {
    /* 1.22: closing a data channel races with the bin's disposal (use after
     * free); tearing the pipeline down closes the association anyway. */
    g_signal_handlers_disconnect_by_data (channel, self);
    g_object_unref (channel);
  }
  if (control) {
    g_signal_handlers_disconnect_by_data (control, self);
    g_object_unref (control);
  }
  if (!self->pipeline)
    return;
  g_signal_handlers_disconnect_by_data (self->pipeline, self);
  if (self->webrtc)
    g_signal_handlers_disconnect_by_data (self->webrtc, self);
  g_ptr_array_set_size (self->pending_senders, 0);

  reap = g_new0 (Reap, 1);
  reap->self = g_object_ref (self);
  reap->devices = g_ptr_array_new_with_free_func (media_device_unref);
  reap->sources = g_ptr_array_new_with_free_func (gst_object_unref);
  reap->sinks = g_ptr_array_new_with_free_func (gst_object_unref);
  reap->state = g_atomic_rc_box_new0 (ReapState);
  for (kind = 0; kind < N_SOURCES; kind++) {
    SourceSlot *slot = &self->sources[kind];

    if (slot->device)
      g_ptr_array_add (reap->devices, media_device_ref (slot->device));
    if (slot->fallback)
      g_ptr_array_add (reap->sources, gst_object_ref (slot->fallback));
  }
  /* No output is added once stopping is set. Nothing is rendered into
   * them from now on: taking a pipewiresink down while its branch still
   * renders into it, with a reader linked to its node, crashed vchatd now
   * and then inside libpipewire's thread loop (a corrupted hook list in its
   * stream code; about one stress run in three, and once in the daemon
   * suite). A render already under way is waited out by the state
   * change. */
  for (i = 0; i < outputs->len; i++) {
    Output *output = outputs->pdata[i];

    g_atomic_int_set (&output->failed, 1);
    g_ptr_array_add (reap->sinks, gst_object_ref (output->sink));
  }

  late = g_timeout_source_new_seconds (TEARDOWN_WARN_SECONDS);
  g_source_set_callback (late, on_reap_late, g_atomic_rc_box_acquire (reap->state),
                         (GDestroyNotify) g_atomic_rc_box_release);
  g_source_set_static_name (late, "[vchatd-media] media_teardown watch");
  g_source_attach (late, self->context);
  vchatd_media_reaping_begin ();
  gst_element_call_async (self->pipeline, reap_job, reap, reap_free);
}

void
vchatd_media_reaping_begin (void)
{
  g_mutex_lock (&reaping_lock);
  reaping++;
  g_mutex_unlock (&reaping_lock);
}

void
vchatd_media_reaping_end (void)
{
  g_mutex_lock (&reaping_lock);
  reaping--;
  g_cond_broadcast (&reaping_cond);
  g_mutex_unlock (&reaping_lock);
}

gboolean
vchatd_media_wait_stopped (guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gboolean all = TRUE;

  g_mutex_lock (&reaping_lock);
  while (reaping > 0 && all)
    all = g_cond_wait_until (&reaping_cond, &reaping_lock, end);
  all = reaping == 0;
  g_mutex_unlock (&reaping_lock);
  return all;
}

void
vchatd_media_stop (VchatdMedia *self)
{
  g_return_if_fail (VCHATD_IS_MEDIA (self));

  if (self->state == VCHATD_MEDIA_STATE_STOPPED)
    return;
  media_teardown (self);
  media_set_state (self, VCHATD_MEDIA_STATE_STOPPED);
}

void
vchatd_media_set_muted (VchatdMedia *self, gboolean muted)
{
  g_return_if_fail (VCHATD_IS_MEDIA (self));

  self->muted = !!muted;
  if (self->volume)
    g_object_set (self->volume, "mute", self->muted, NULL);
}

void
vchatd_media_set_camera_enabled (VchatdMedia *self, gboolean enabled)
{
  g_return_if_fail (VCHATD_IS_MEDIA (self));

  g_atomic_int_set (&self->camera_disabled, !enabled);
}

/* Main thread. The old source goes, the new one comes in front of the same
 * chain: the track, its caps and the encoder stay, so the peer sees the
 * picture change without any renegotiation. Neither waits on the main
 * thread: the old camera is stopped and the new one started by jobs, and
 * black frames fill the gap until the new one delivers. */
void
vchatd_media_set_camera (VchatdMedia *self, const char *target)
{
  SourceSlot *slot = &self->sources[SOURCE_VIDEO];

  g_return_if_fail (VCHATD_IS_MEDIA (self));

  if (g_strcmp0 (target, self->camera_target) == 0)
    return;
  g_free (self->camera_target);
  self->camera_target = g_strdup (target);
  /* A test source stands in for any camera; a session without video has
   * no chain to feed; one not started yet picks the camera up then. */
  if (self->video_source_description || !slot->selector || media_is_stopped (self) ||
      self->state == VCHATD_MEDIA_STATE_NEW)
    return;

  g_debug ("media: switching the camera to %s", target ? target : "none");
  media_detach_device (self, SOURCE_VIDEO);
  clear_source (&slot->retry);
  slot->retries = 2;
  if (!target) {
    slot->retries = 0;
    media_device_failed (self, SOURCE_VIDEO, "it went away, and there is no other camera");
    return;
  }
  /* A new camera is a new start: its failure is news again. */
  slot->reported = FALSE;
  media_attach_device (self, SOURCE_VIDEO);
}

void
vchatd_media_set_max_bitrate (VchatdMedia *self, guint kbps)
{
  g_return_if_fail (VCHATD_IS_MEDIA (self));

  self->max_bitrate_kbps = kbps ? kbps : DEFAULT_MAX_BITRATE_KBPS;
  /* The ceiling holds at once; vp8enc takes a new target while playing. */
  vchatd_rate_control_set_max_kbps (self->rate_control,
                                    self->max_bitrate_kbps + VCHATD_AUDIO_MAX_KBPS);
  if (self->pipeline && !media_is_stopped (self))
    media_apply_target (
      self, g_get_monotonic_time (),
      MIN (self->target_kbps, vchatd_rate_control_get_target_kbps (self->rate_control)));
}

const char *
vchatd_media_get_quality (VchatdMedia *self)
{
  g_return_val_if_fail (VCHATD_IS_MEDIA (self), NULL);

  return self->quality;
}

VchatdMediaState
vchatd_media_get_state (VchatdMedia *self)
{
  g_return_val_if_fail (VCHATD_IS_MEDIA (self), VCHATD_MEDIA_STATE_STOPPED);

  return self->state;
}

GVariant *
vchatd_media_get_stats (VchatdMedia *self)
{
  g_return_val_if_fail (VCHATD_IS_MEDIA (self), NULL);

  if (!self->stats)
    return g_variant_new ("a{sv}", NULL);
  /* A new floating container around the same (immutable) contents. */
  return g_variant_new_from_data (G_VARIANT_TYPE_VARDICT, g_variant_get_data (self->stats),
                                  g_variant_get_size (self->stats), TRUE,
                                  (GDestroyNotify) g_variant_unref, g_variant_ref (self->stats));
}

gboolean
vchatd_media_get_has_video (VchatdMedia *self)
{
  g_return_val_if_fail (VCHATD_IS_MEDIA (self), FALSE);

  return self->has_video;
}

gboolean
vchatd_media_get_has_audio (VchatdMedia *self)
{
  g_return_val_if_fail (VCHATD_IS_MEDIA (self), FALSE);

  return self->has_audio;
}

const char *
vchatd_media_get_preview_node (VchatdMedia *self)
{
  g_return_val_if_fail (VCHATD_IS_MEDIA (self), NULL);

  return self->preview_node;
}

/* GObject */

static void
pending_candidate_clear (gpointer data)
{
  PendingCandidate *c = data;

  g_free (c->candidate);
}

static void
vchatd_media_dispose (GObject *object)
{
  VchatdMedia *self = VCHATD_MEDIA (object);

  vchatd_media_stop (self);
  G_OBJECT_CLASS (vchatd_media_parent_class)->dispose (object);
}

static void
vchatd_media_finalize (GObject *object)
{
  VchatdMedia *self = VCHATD_MEDIA (object);

  g_free (self->camera_target);
  g_free (self->video_source_description);
  g_free (self->microphone_target);
  g_free (self->audio_source_description);
  g_free (self->audio_sink_description);
  g_free (self->speaker_target);
  g_free (self->stun_server);
  g_free (self->failure_message);
  g_free (self->rung_text);
  g_free (self->h264_profile);
  g_clear_pointer (&self->rate_control, vchatd_rate_control_free);
  g_clear_pointer (&self->playout, vchatd_playout_free);
  media_remb_clear (self);
  g_clear_pointer (&self->ladder, vchatd_ladder_free);
  g_clear_pointer (&self->twcc, vchatd_twcc_tap_unref);
  g_strfreev (self->turn_servers);
  g_strfreev (self->ice_addresses);
  g_free (self->node_name_prefix);
  g_clear_object (&self->publisher);
  gst_clear_caps (&self->pending_rung_caps);
  g_free (self->preview_node);
  g_clear_pointer (&self->stats, g_variant_unref);
  for (guint kind = 0; kind < N_SOURCES; kind++) {
    g_clear_pointer (&self->sources[kind].device, media_device_unref);
    gst_clear_object (&self->sources[kind].fallback_pad);
  }
  g_ptr_array_unref (self->outputs);
  g_ptr_array_unref (self->feeds);
  g_clear_object (&self->capture);
  gst_clear_object (&self->pipeline);
  g_ptr_array_unref (self->pending_senders);
  g_array_unref (self->pending_candidates);
  g_ptr_array_unref (self->pending_local_candidates);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (vchatd_media_parent_class)->finalize (object);
}

static void
vchatd_media_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  VchatdMedia *self = VCHATD_MEDIA (object);

  switch (prop_id) {
  case PROP_STATE:
    g_value_set_int (value, self->state);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
vchatd_media_class_init (VchatdMediaClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vchatd_media_dispose;
  object_class->finalize = vchatd_media_finalize;
  object_class->get_property = vchatd_media_get_property;

  properties[PROP_STATE] = g_param_spec_int (
    "state", NULL, NULL, VCHATD_MEDIA_STATE_NEW, VCHATD_MEDIA_STATE_STOPPED, VCHATD_MEDIA_STATE_NEW,
    G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  vchatd_media_signals[SIGNAL_LOCAL_DESCRIPTION] = g_signal_new (
    "local-description", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
    G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  vchatd_media_signals[SIGNAL_LOCAL_CANDIDATE] = g_signal_new (
    "local-candidate", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
    G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_STRING);
  vchatd_media_signals[SIGNAL_MESSAGE_RECEIVED] = g_signal_new (
    "message-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
    G_TYPE_NONE, 1, G_TYPE_STRING);
  /* The "ctl" channel is open: the call says its state (vchatd-media.h). */
  vchatd_media_signals[SIGNAL_CONTROL_OPEN] = g_signal_new (
    "control-open", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
    0);
  vchatd_media_signals[SIGNAL_CONTROL_RECEIVED] = g_signal_new (
    "control-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
    G_TYPE_NONE, 1, G_TYPE_STRING);
  vchatd_media_signals[SIGNAL_STATS_UPDATED] = g_signal_new (
    "stats-updated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
    0);
  vchatd_media_signals[SIGNAL_REMOTE_VIDEO_FRAME] = g_signal_new (
    "remote-video-frame", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
    G_TYPE_NONE, 3, G_TYPE_UINT, G_TYPE_UINT, G_TYPE_BYTES);
  vchatd_media_signals[SIGNAL_DEVICE_FAILED] = g_signal_new (
    "device-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
    2, G_TYPE_STRING, G_TYPE_STRING);
  vchatd_media_signals[SIGNAL_DEVICE_RESTORED] = g_signal_new (
    "device-restored", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
    G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
vchatd_media_init (VchatdMedia *self)
{
  g_mutex_init (&self->lock);
  self->context = g_main_context_ref_thread_default ();
  self->state = VCHATD_MEDIA_STATE_NEW;
  self->pending_senders = g_ptr_array_new_with_free_func (media_pending_sender_free);
  self->pending_candidates = g_array_new (FALSE, TRUE, sizeof (PendingCandidate));
  g_array_set_clear_func (self->pending_candidates, pending_candidate_clear);
  self->pending_local_candidates = g_ptr_array_new_with_free_func (g_free);
  self->outputs = g_ptr_array_new_with_free_func (media_output_free);
  self->feeds = g_ptr_array_new_with_free_func (media_feed_free);
  gst_video_info_init (&self->black_info);
}
