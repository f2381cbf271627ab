/* vchatd-media.c: one call's media session: a GstPipeline with webrtcbin
 *
 * The pipeline, for a session with a camera and a microphone:
 *
 *   camera ─┐                                                         ┌ queue ─ vp8enc ─ rtpvp8pay ─┐
 *   black ──┴ selector ─ videoconvert ─ videorate ─ videoscale ─ I420 ─ tee                            │
 *             (probe: black frames when the camera is off)          └ queue ─ pipewiresink (preview)  │
 *   microphone ─┐                                                                                     │
 *   silence ────┴ selector ─ audioconvert ─ audioresample ─ mono 48 kHz ─ volume ─ queue ─ opusenc ─ rtpopuspay ─ webrtcbin
 *
 *   webrtcbin ┬ queue ─ rtpvp8depay ─ vp8dec ─ videoconvert ─ tee ┬ queue ─ ... ─ pipewiresink
 *             │                      (probe: frame counter)      └ queue ─ ... ─ RGB ─ appsink
 *             └ queue ─ rtpopusdepay ─ opusdec ─ audioconvert ─ audioresample ─ audio sink
 *
 * webrtcbin 1.22.0 needs a number of workarounds (see shared/WEBRTCBIN-1.22.md);
 * each is marked "1.22:" where it is applied; PipeWire 0.3.65's are marked
 * "PipeWire 0.3.65:".
 *
 * Threads: webrtcbin's action signals are emitted from the main context only,
 * and the promises they take are waited for there (they complete in
 * milliseconds on webrtcbin's own thread, which never waits for ours). Signals
 * that webrtcbin, libnice and the streaming threads emit are handed to the
 * main context with run_on_main(); the streaming threads only link the
 * receive chain in pad-added (it must be linked before the first buffer is
 * pushed) and count buffers. The devices, the PipeWire outputs and the
 * pipeline's teardown change state on GStreamer's thread pool (see "Work
 * that can block in GStreamer or PipeWire").
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "vchatd-media.h"
#include "vchatd-audio-policy.h"
#include "vchatd-ladder.h"
#include "vchatd-media-stats.h"
#include "vchatd-quality.h"
#include "vchatd-rate-control.h"
#include "vchatd-sdp.h"
#include "vchatd-twcc.h"

#include <string.h>

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/rtp/rtp.h>
#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>

#define DEFAULT_MAX_BITRATE_KBPS 1500
/* The rate controller: where a call starts (then it ramps up, as browsers
 * do), the least it sends, and how often it runs. */
#define START_KBPS 300
#define MIN_KBPS 50
#define CONTROL_MS 100
/* The encoder's load is judged over this long. */
#define LOAD_WINDOW_US G_USEC_PER_SEC
/* A picture that stops for longer than this is a freeze (as WebRTC's
 * freeze counters count them, roughly). */
#define FREEZE_MS 500
/* Keyframe requests (PLI, FIR) closer together than this are answered by
 * the keyframe already on its way. */
#define KEYFRAME_MIN_INTERVAL_US (300 * 1000)
#define DEFAULT_WATCHDOG_SECONDS 5
/* A camera or microphone that delivers nothing for this long (a missing
 * PipeWire target just waits, a paused producer sends nothing) is replaced
 * by black frames or silence until it delivers again; checked every
 * WATCH_MS. */
#define STALL_MS 2000
#define WATCH_MS 250
/* A pipeline that has not stopped by then is stuck in GStreamer or
 * PipeWire, and is abandoned. */
#define TEARDOWN_WARN_SECONDS 10
/* webrtcbin answers its promises within milliseconds; a negotiation step
 * still unanswered after this is a webrtcbin bug, or a machine too loaded to
 * hold a call. Nothing waits for it: the tick checks. */
#define STEP_TIMEOUT_US (20 * G_USEC_PER_SEC)

#define VIDEO_PT 96
#define AUDIO_PT 111
#define TWCC_ID 1
#define THUMBNAIL_WIDTH 160

typedef enum { SOURCE_VIDEO, SOURCE_AUDIO, N_SOURCES } SourceKind;

typedef struct _Device Device;

/* A capture slot: see "Sending: sources". */
typedef struct {
  GstElement *selector;  /* input-selector: the device or the fallback */
  GstElement *fallback;  /* black frames or silence; locked state */
  GstPad *fallback_pad;  /* the selector's input it feeds */
  gboolean fallback_started;
  gboolean selected;     /* active-pad was set */
  Device *device;        /* the camera or microphone, or NULL */
  gboolean on_device;    /* the selector shows the device */
  gboolean reported;     /* the user was told it gives nothing */
  guint retries;         /* failures forgiven before the fallback (a switch) */
  GSource *retry;        /* attaches the device again */
} SourceSlot;

/* An answerer's transceiver added before set-remote-description; its sender
 * is linked once the offer has given it an m-line. */
typedef struct {
  GstWebRTCRTPTransceiver *transceiver;
  SourceKind kind;
  guint pt;
  guint twcc_id; /* 0: the offer has no TWCC */
  gboolean send;
} PendingSender;

typedef struct {
  guint mline;
  char *candidate;
} PendingCandidate;

typedef struct _Output Output;

struct _VchatdMedia {
  GObject parent_instance;

  /* Configuration, copied */
  char *camera_target;
  char *video_source_description;
  char *microphone_target;
  char *audio_source_description;
  char *audio_sink_description;
  char *speaker_target;
  char *stun_server;
  GStrv turn_servers;
  gboolean relay_only;
  GStrv ice_addresses;
  guint max_bitrate_kbps;
  char *node_name_prefix;
  guint watchdog_seconds;
  VchatdMediaRole role;

  GMainContext *context; /* the creating thread's: every signal is emitted there */
  VchatdMediaState state;
  char *remote_video_node;
  char *preview_node;
  gboolean has_video;
  gboolean has_audio;
  gboolean muted;
  guint sctp_association_id;

  /* Main context only */
  GstElement *pipeline;
  GstElement *webrtc;
  GstElement *video_tee;
  GstElement *video_capsfilter;
  GstElement *video_encoder;
  Output *preview_output;
  GstElement *volume;
  SourceSlot sources[N_SOURCES];
  GSource *bus_source;
  GSource *tick_source;
  GSource *control_source;
  GSource *watch_source;
  GPtrArray *pending_senders;          /* PendingSender, answerer only */
  GArray *pending_candidates;          /* PendingCandidate: before the remote description */
  GPtrArray *pending_local_candidates; /* "mline candidate", before our description went out */
  gboolean offer_made;
  gboolean remote_description_given; /* checked and handed to webrtcbin */
  gboolean remote_description_set;   /* webrtcbin took it */
  gboolean candidates_ready;         /* remote candidates go to webrtcbin now */
  const char *step_what;             /* the negotiation step webrtcbin is doing */
  gint64 step_deadline_us;
  guint step_serial;
  VchatdMediaFailure failure;
  char *failure_message;
  gboolean local_description_sent;
  gboolean end_of_candidates_sent;
  guint remote_media_count;
  gboolean ice_connected;
  gboolean channel_open;
  gboolean stats_pending;
  GVariant *stats;
  guint64 last_bytes_sent;
  guint64 last_bytes_received;
  guint last_frames;
  gint64 last_stats_us;
  guint64 last_packets_received;
  guint64 last_packets_lost;
  gdouble recv_loss_pct;
  guint freeze_window[10]; /* the longest freeze of each of the last 10 s, ms */
  guint freeze_slot;
  const char *quality; /* "good", "fair", "poor"; NULL until known */
  gboolean have_video_track; /* sending or receiving video: codec known */
  gboolean have_audio_track;

  /* Rate control (main context): see "Rate control" */
  VchatdRateControl *rate_control;
  VchatdLadder *ladder;
  VchatdTwccTap *twcc; /* also held by the tap element */
  GstElement *ladder_caps;   /* the video sender's capsfilter */
  GstElement *audio_encoder; /* opusenc */
  VchatdLadderRung rung;
  char *rung_text;
  VchatdAudioPolicy audio_policy;
  guint target_kbps;
  guint video_kbps;
  guint input_width, input_height, input_fps;
  gint64 last_load_us;
  gdouble last_rtt_ms;

  /* Shared with GStreamer threads */
  GMutex lock;
  gint stopping;                 /* written under lock, read atomically */
  GPtrArray *outputs;            /* lock: Output */
  GstWebRTCDataChannel *channel; /* lock */
  gint camera_disabled;          /* atomic */
  gint media_seen;               /* atomic: inbound RTP has started */
  gint last_inbound_ms;          /* atomic: since start_us */
  gint frames_decoded;           /* atomic */
  gint recv_width;               /* atomic */
  gint recv_height;              /* atomic */
  gint last_frame_ms;            /* atomic: since start_us, the last decoded frame */
  gint freezes;                  /* atomic: gaps over FREEZE_MS between decoded frames */
  gint longest_freeze_ms;        /* atomic: since the last stats tick */
  gint sender_frames_in;         /* atomic: into the video sender's queue */
  gint sender_frames_out;        /* atomic: out of it (the rest it dropped) */
  gint encoded_frames;           /* atomic */
  gint encode_us;                /* atomic: time spent encoding them */
  gint64 encode_started_us;      /* the encoder's streaming thread only */
  gint64 last_keyframe_request_us; /* the encoder's upstream events only */
  gint sent_bytes;               /* atomic: RTP bytes through the aux sender */
  gint64 start_us;
  gint64 last_thumbnail_us; /* thumbnail probe's thread only */
  GstVideoInfo black_info;  /* black-frame probe's thread only */
  gboolean capture_caps_locked; /* black-frame probe's thread only */
};

G_DEFINE_FINAL_TYPE (VchatdMedia, vchatd_media, G_TYPE_OBJECT)

enum { PROP_0, PROP_STATE, N_PROPS };

enum {
  SIGNAL_LOCAL_DESCRIPTION,
  SIGNAL_LOCAL_CANDIDATE,
  SIGNAL_MESSAGE_RECEIVED,
  SIGNAL_STATS_UPDATED,
  SIGNAL_REMOTE_VIDEO_FRAME,
  SIGNAL_DEVICE_FAILED,
  SIGNAL_DEVICE_RESTORED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void set_state (VchatdMedia *self, VchatdMediaState state);
static void report_device_failed (VchatdMedia *self, const char *device, const char *message,
                                  const char *instead);
static void teardown (VchatdMedia *self);

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

static const char *
source_kind_name (SourceKind kind)
{
  return kind == SOURCE_VIDEO ? "video" : "audio";
}

/* Main context. */
static gboolean
is_stopped (VchatdMedia *self)
{
  return self->state == VCHATD_MEDIA_STATE_STOPPED || self->pipeline == NULL || self->stopping;
}

static gint
session_ms (VchatdMedia *self)
{
  return (gint) ((g_get_monotonic_time () - self->start_us) / 1000);
}

/* Hopping to the main context */

typedef void (*MainFunc) (VchatdMedia *self, gpointer data);

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

  if (!is_stopped (call->self))
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
 * holds is dropped on the main context, so the last unref (and the teardown
 * it may trigger) never happens on a GStreamer thread. */
static void
run_on_main (VchatdMedia *self, MainFunc func, gpointer data, GDestroyNotify destroy)
{
  g_autoptr (GSource) source = g_idle_source_new ();
  MainCall *call = g_new0 (MainCall, 1);

  call->self = g_object_ref (self);
  call->func = func;
  call->data = data;
  call->destroy = destroy;
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, main_call_dispatch, call, main_call_free);
  g_source_set_static_name (source, "[vchatd-media] run_on_main");
  g_source_attach (source, self->context);
}

/* webrtcbin's promises: each negotiation step goes on from the main context
 *
 * webrtcbin answers a promise on its own thread. The change function copies
 * the answer and hands it to the main context with run_on_main(), where the
 * next step runs; nothing waits for a promise. A step that webrtcbin never
 * answers is caught by check_negotiation() on the one-second tick. */

typedef void (*PromiseFunc) (VchatdMedia *self, const GstStructure *reply, gpointer data);

typedef struct {
  VchatdMedia *self; /* a reference, dropped on the main context */
  PromiseFunc func;
  const char *what;
  VchatdMediaFailure failure; /* whose fault a refusal is */
  guint serial;
  gpointer data;
  GDestroyNotify destroy;
} PromiseStep;

typedef struct {
  PromiseFunc func;
  const char *what;
  VchatdMediaFailure failure;
  guint serial;
  GstStructure *reply; /* may be NULL: set-*-description replies nothing */
  GError *error;
  gpointer data;
  GDestroyNotify destroy;
} PromiseResult;

static void unref_on_main (gpointer data);
static void media_fail (VchatdMedia *self, VchatdMediaFailure failure, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

static void
promise_step_free (gpointer data)
{
  PromiseStep *step = data;

  if (step->destroy && step->data)
    step->destroy (step->data);
  unref_on_main (step->self);
  g_free (step);
}

static void
promise_result_free (gpointer data)
{
  PromiseResult *result = data;

  if (result->destroy && result->data)
    result->destroy (result->data);
  g_clear_pointer (&result->reply, gst_structure_free);
  g_clear_error (&result->error);
  g_free (result);
}

static void
on_promise_result_main (VchatdMedia *self, gpointer data)
{
  PromiseResult *result = data;

  if (result->serial != self->step_serial)
    return; /* a step given up on (check_negotiation) */
  self->step_what = NULL;
  if (result->error) {
    media_fail (self, result->failure, "%s", result->error->message);
    return;
  }
  result->func (self, result->reply, result->data);
}

/* webrtcbin's thread (or the emitting one, for a promise answered at once). */
static void
on_promise_changed (GstPromise *promise, gpointer data)
{
  PromiseStep *step = data;
  PromiseResult *result = g_new0 (PromiseResult, 1);
  const GstStructure *reply = NULL;
  const GValue *value;

  result->func = step->func;
  result->what = step->what;
  result->failure = step->failure;
  result->serial = step->serial;
  result->data = g_steal_pointer (&step->data);
  result->destroy = step->destroy;
  if (gst_promise_wait (promise) == GST_PROMISE_RESULT_REPLIED)
    reply = gst_promise_get_reply (promise);
  else
    result->error = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "webrtcbin could not %s",
                                 step->what);
  if (reply && (value = gst_structure_get_value (reply, "error")) &&
      G_VALUE_HOLDS (value, G_TYPE_ERROR)) {
    const GError *inner = g_value_get_boxed (value);

    result->error = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "webrtcbin could not %s: %s",
                                 step->what, inner ? inner->message : "unknown error");
  } else if (reply) {
    result->reply = gst_structure_copy (reply);
  }
  run_on_main (step->self, on_promise_result_main, result, promise_result_free);
}

/* Emits webrtcbin's action @signal (with @arg, which may be NULL) and runs
 * @func on the main context with its reply; @data is given to @func and
 * then freed with @destroy. One step at a time. */
static void
run_step (VchatdMedia *self, const char *signal, gpointer arg, const char *what,
          VchatdMediaFailure failure, PromiseFunc func, gpointer data, GDestroyNotify destroy)
{
  PromiseStep *step = g_new0 (PromiseStep, 1);
  GstPromise *promise;

  g_warn_if_fail (self->step_what == NULL);
  step->self = g_object_ref (self);
  step->func = func;
  step->what = what;
  step->failure = failure;
  step->serial = ++self->step_serial;
  step->data = data;
  step->destroy = destroy;
  self->step_what = what;
  self->step_deadline_us = g_get_monotonic_time () + STEP_TIMEOUT_US;
  g_debug ("media: asking webrtcbin to %s", what);
  promise = gst_promise_new_with_change_func (on_promise_changed, step, promise_step_free);
  g_signal_emit_by_name (self->webrtc, signal, arg, promise);
  gst_promise_unref (promise);
}

/* On the tick: a step webrtcbin has not answered in STEP_TIMEOUT_US will not
 * be (a webrtcbin bug, or a machine too loaded to make a call). */
static void
check_negotiation (VchatdMedia *self)
{
  if (!self->step_what || g_get_monotonic_time () < self->step_deadline_us)
    return;
  media_fail (self, VCHATD_MEDIA_FAILURE_LOCAL, "webrtcbin did not %s within %d s",
              self->step_what, (int) (STEP_TIMEOUT_US / G_USEC_PER_SEC));
  self->step_serial++;
  self->step_what = NULL;
}

/* Building blocks */

static GstElement *
make_element (const char *factory, const char *name, GError **error)
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
static void
set_sinks_not_async (GstElement *element)
{
  if (GST_IS_BIN (element)) {
    g_autoptr (GstIterator) it = gst_bin_iterate_sinks (GST_BIN (element));
    GValue item = G_VALUE_INIT;

    while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
      set_sinks_not_async (g_value_get_object (&item));
      g_value_reset (&item);
    }
    g_value_unset (&item);
  } else if (GST_OBJECT_FLAG_IS_SET (element, GST_ELEMENT_FLAG_SINK) &&
             g_object_class_find_property (G_OBJECT_GET_CLASS (element), "async")) {
    g_object_set (element, "async", FALSE, NULL);
  }
}

/* One element per factory, all or none (floating references). */
static gboolean
make_elements (const char *const *factories, GstElement **elements, guint n, GError **error)
{
  guint i;

  for (i = 0; i < n; i++) {
    elements[i] = make_element (factories[i], NULL, error);
    if (!elements[i]) {
      while (i-- > 0)
        gst_object_unref (gst_object_ref_sink (elements[i]));
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
add_and_link (VchatdMedia *self, GstElement **elements, guint n)
{
  guint i;

  for (i = 0; i < n; i++)
    gst_bin_add (GST_BIN (self->pipeline), elements[i]);
  for (i = 0; i + 1 < n; i++)
    if (!gst_element_link (elements[i], elements[i + 1]))
      return FALSE;
  return TRUE;
}

static void
sync_with_pipeline (GstElement *const *elements, guint n)
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

typedef void (*LockedFunc) (VchatdMedia *self, GstElement *pipeline, GstElement *element,
                            gpointer data);

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
static void
run_locked_job (VchatdMedia *self, GstElement *element, LockedFunc func, gpointer data,
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

static gboolean
is_stopping (VchatdMedia *self)
{
  return g_atomic_int_get (&self->stopping);
}

/* Pool thread: plays @element with the pipeline's clock and base time. Once
 * the session is stopping, leaves it in (or puts it back to) NULL. */
static gboolean
play_locked (VchatdMedia *self, GstElement *pipeline, GstElement *element)
{
  g_autoptr (GstClock) clock = NULL;
  GstStateChangeReturn ret;

  if (is_stopping (self))
    return FALSE;
  clock = gst_element_get_clock (pipeline);
  if (clock)
    gst_element_set_clock (element, clock);
  gst_element_set_base_time (element, gst_element_get_base_time (pipeline));
  ret = gst_element_set_state (element, GST_STATE_PLAYING);
  /* The teardown may have stopped it while it was starting. */
  if (is_stopping (self) || ret == GST_STATE_CHANGE_FAILURE) {
    gst_element_set_state (element, GST_STATE_NULL);
    return FALSE;
  }
  return TRUE;
}

/* Pool thread: a source is told to stop waiting first (pipewiresrc waits for
 * its node while it starts, and for buffers), or NULL would wait for it. */
static void
stop_locked (GstElement *element)
{
  g_autoptr (GstPad) pad = gst_element_get_static_pad (element, "src");

  if (pad && !GST_IS_BIN (element) && GST_OBJECT_FLAG_IS_SET (element, GST_ELEMENT_FLAG_SOURCE))
    gst_pad_send_event (pad, gst_event_new_flush_start ());
  gst_element_set_state (element, GST_STATE_NULL);
}

/* Outputs that may fail without ending the call: the speaker and the
 * PipeWire nodes. Owned by the session (self->outputs). */
struct _Output {
  const char *device; /* "speaker", "preview-node", "remote-video-node" */
  GstElement *sink;   /* locked state: started by start_output() */
  gint failed;        /* atomic: drop its buffers (also until it has started) */
  gint reported;      /* atomic */
  gint has_data;      /* atomic: a buffer has reached it */
  gboolean primed;    /* its streaming thread only: see prime_output() */
};

static void
output_free (gpointer data)
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

/* PipeWire 0.3.65: pipewiresink activates its buffer pool when it renders
 * its first buffer, and does it holding the pool's lock while it takes
 * PipeWire's thread-loop lock (the pool's "activated" handler); PipeWire's
 * loop thread, holding that loop lock, checks whether the pool is active
 * each time the stream's format is negotiated (a reader linking to the
 * node). The two deadlock, and with the loop every PipeWire element of the
 * process (seen at call 16, 26 and 29 of 100 in a row). So the pool is
 * activated here, before the sink has its caps: its stream is not
 * connected yet, and the loop has nothing to negotiate for it. */
static void
activate_sink_pool (GstPad *sinkpad, GstCaps *caps, GstBuffer *first)
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

/* Streaming thread, before the first buffer reaches a started output:
 * what the branch said while the sink was not playing (stream start, caps,
 * segment) was dropped, and is said again now. */
static void
prime_output (Output *output, GstPad *pad, GstPad *peer, GstBuffer *first)
{
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);

  if (caps && g_str_equal (G_OBJECT_TYPE_NAME (output->sink), "GstPipeWireSink"))
    activate_sink_pool (peer, caps, first);
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

  /* PipeWire 0.3.65: pipewiresink's pool has buffers only once a reader
   * has linked to the node, and acquiring one waits until then: an element
   * in front that allocates from it (videoscale, when the picture is
   * scaled into the node) would wait for good, and the node would never
   * get its first picture. The branch uses its own buffers; the sink
   * copies them into PipeWire's. */
  if (info->type & GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM)
    return GST_QUERY_TYPE (GST_PAD_PROBE_INFO_QUERY (info)) == GST_QUERY_ALLOCATION
             ? GST_PAD_PROBE_DROP
             : GST_PAD_PROBE_OK;
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
static void
output_failed (VchatdMedia *self, Output *output, const char *message)
{
  g_atomic_int_set (&output->failed, 1);
  if (g_atomic_int_compare_and_exchange (&output->reported, 0, 1))
    report_device_failed (self, output->device, message, "the call goes on without it");
}

static void
start_output_job (VchatdMedia *self, GstElement *pipeline, GstElement *sink, gpointer data)
{
  Output *output = data;

  if (play_locked (self, pipeline, sink))
    g_atomic_int_set (&output->failed, 0);
  else if (!is_stopping (self))
    output_failed (self, output, "cannot publish it on PipeWire (is PipeWire running?)");
}

/* @sink, fed by @before, joins the pipeline as an output: its buffers are
 * dropped until it has started (off the calling thread), and it never ends
 * the call. Any thread; NULL once the session is stopping. */
static Output *
add_output (VchatdMedia *self, GstElement *before, GstElement *sink, const char *device)
{
  g_autoptr (GstPad) pad = gst_element_get_static_pad (before, "src");
  Output *output = g_new0 (Output, 1);
  gboolean added = FALSE;

  output->device = device;
  output->sink = gst_object_ref (sink);
  output->failed = 1;
  set_sinks_not_async (sink);
  gst_element_set_locked_state (sink, TRUE);
  g_object_set_data (G_OBJECT (sink), "vchatd-output", output);
  g_mutex_lock (&self->lock);
  if (!self->stopping) {
    g_ptr_array_add (self->outputs, output);
    added = TRUE;
  }
  g_mutex_unlock (&self->lock);
  if (!added) {
    output_free (output);
    return NULL;
  }
  gst_pad_add_probe (pad,
                     GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
                       GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM | GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM,
                     on_output_data, output, NULL);
  return output;
}

/* Main context, once the pipeline plays. */
static void
start_output (VchatdMedia *self, Output *output)
{
  run_locked_job (self, output->sink, start_output_job, output, NULL);
}

/* The data @key of @object or of its nearest ancestor that has it (main
 * context, pipeline alive). */
static gpointer
find_tagged (VchatdMedia *self, GstObject *object, const char *key)
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

static Output *
find_output (VchatdMedia *self, GstObject *object)
{
  return find_tagged (self, object, "vchatd-output");
}

static GstElement *
make_pipewire_sink (const char *node_name, const char *media_class, const char *description,
                    GError **error)
{
  GstElement *sink = make_element ("pipewiresink", NULL, error);
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

/* Sending: sources
 *
 * Each slot (camera, microphone) is an input-selector in front of the
 * capture chain, with two inputs: the device, and a fallback that always
 * runs (black frames, silence). The selector shows the device only while it
 * delivers: a device that gives nothing for STALL_MS (a paused or hung
 * producer whose node is still there, a node that never answers) is
 * replaced by the fallback, without waiting for it, and shown again as soon
 * as it delivers. The call never waits for a device. */

/* A camera or microphone in a slot (refcounted: the slot, its probe and the
 * jobs that start and stop it). */
struct _Device {
  gint ref_count;
  SourceKind kind;
  GstElement *element;  /* in the pipeline, locked state */
  GstPad *selector_pad; /* the selector's input it feeds */
  gint last_buffer_ms;  /* atomic: session time of its latest buffer, -1: none yet */
  gint64 start_us;      /* the session's, for last_buffer_ms */
  gulong probe;         /* on_device_buffer, which holds a reference */
  gint64 attached_us;   /* main */
  gint start_failed;    /* atomic */
};

static Device *
device_ref (Device *device)
{
  g_atomic_int_inc (&device->ref_count);
  return device;
}

static void
device_unref (gpointer data)
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
    source = make_element ("pipewiresrc", NULL, error);
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
    g_prefix_error (error, "The %s source “%s” is not valid: ", source_kind_name (kind),
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

/* Puts the slot's selector and fallback in front of @first (the converter
 * that starts the slot's chain). Downstream changes (a branch linked to the
 * video tee when an answerer's encoder starts, an output starting) send
 * RECONFIGURE upstream; pipewiresrc 0.3.65 answers it by disconnecting its
 * stream and connecting it again, which removes (and unmaps) the buffers in
 * flight and may leave a virtual camera sending nothing to the new
 * connection. The converters absorb any format the chain needs, so the
 * event stops at them. */
static gboolean
build_slot (VchatdMedia *self, SourceKind kind, GstElement *first, GError **error)
{
  SourceSlot *slot = &self->sources[kind];
  g_autoptr (GstPad) pad = gst_element_get_static_pad (first, "sink");
  g_autoptr (GstPad) fallback_src = NULL;
  GstElement *selector, *fallback;

  if (!(selector = make_element ("input-selector", NULL, error)))
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
                 source_kind_name (kind));
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

  g_signal_emit (self, signals[SIGNAL_DEVICE_FAILED], 0, pair[0], pair[1]);
}

/* Any thread. */
static void
report_device_failed (VchatdMedia *self, const char *device, const char *message,
                      const char *instead)
{
  char **pair = g_new0 (char *, 3);

  g_warning ("media: the %s failed (%s); %s", device, message, instead);
  pair[0] = g_strdup (device);
  pair[1] = g_strdup (message);
  run_on_main (self, on_device_failed_main, pair, (GDestroyNotify) g_strfreev);
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
      g_warning ("media: cannot start the %s fallback source", source_kind_name (kind));
  }
}

/* Pool thread: NULL, and the probe goes (its reference on the device would
 * keep the element, and its PipeWire buffer pool, alive). */
static void
stop_device (Device *device)
{
  g_autoptr (GstPad) src = gst_element_get_static_pad (device->element, "src");

  stop_locked (device->element);
  if (src && device->probe)
    gst_pad_remove_probe (src, device->probe);
}

static void
stop_device_job (VchatdMedia *self, GstElement *pipeline, GstElement *element, gpointer data)
{
  Device *device = data;
  g_autoptr (GstObject) selector = gst_pad_get_parent (device->selector_pad);

  stop_device (device);
  gst_bin_remove (GST_BIN (pipeline), element);
  if (selector)
    gst_element_release_request_pad (GST_ELEMENT (selector), device->selector_pad);
}

/* The slot goes back to its fallback; the device is stopped and removed off
 * the main thread. */
static void
detach_device (VchatdMedia *self, SourceKind kind)
{
  SourceSlot *slot = &self->sources[kind];
  Device *device = g_steal_pointer (&slot->device);

  if (!device)
    return;
  select_input (self, kind, FALSE);
  run_locked_job (self, device->element, stop_device_job, device, device_unref);
}

static void attach_device (VchatdMedia *self, SourceKind kind);

static gboolean
on_device_retry (gpointer data)
{
  g_autoptr (VchatdMedia) self = g_object_ref (data);
  SourceKind kind;

  for (kind = 0; kind < N_SOURCES; kind++) {
    SourceSlot *slot = &self->sources[kind];

    if (slot->retry == g_main_current_source ()) {
      g_clear_pointer (&slot->retry, g_source_unref);
      if (!is_stopped (self))
        attach_device (self, kind);
      break;
    }
  }
  return G_SOURCE_REMOVE;
}

/* The device failed (an error, or it could not start): the slot shows its
 * fallback. A camera switched to during a call can be refused for a moment
 * ("no node available") while the session manager is still busy with the
 * one that went away: that is forgiven a few times, trying again shortly. */
static void
device_failed (VchatdMedia *self, SourceKind kind, const char *message)
{
  SourceSlot *slot = &self->sources[kind];

  detach_device (self, kind);
  select_input (self, kind, FALSE);
  if (slot->retries > 0 && !slot->retry && !is_stopped (self)) {
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
    report_device_failed (self, source_device (kind), message,
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

  device_unref (e->device);
  g_free (e->message);
  g_free (e);
}

static void
on_device_start_failed_main (VchatdMedia *self, gpointer data)
{
  DeviceError *e = data;

  /* Only the slot's current device counts: an old one is already gone. */
  if (self->sources[e->device->kind].device == e->device)
    device_failed (self, e->device->kind, e->message);
}

static void
start_device_job (VchatdMedia *self, GstElement *pipeline, GstElement *element, gpointer data)
{
  Device *device = data;
  DeviceError *e;

  if (play_locked (self, pipeline, element) || is_stopping (self))
    return;
  g_atomic_int_set (&device->start_failed, 1);
  e = g_new0 (DeviceError, 1);
  e->device = device_ref (device);
  e->message = g_strdup_printf ("it cannot be started (is PipeWire running, with that %s?)",
                                source_device (device->kind));
  run_on_main (self, on_device_start_failed_main, e, device_error_free);
}

/* Puts the slot's device (camera or microphone, or the test source standing
 * in for it) in front of the selector and starts it off the main thread;
 * the slot shows its fallback until the device delivers. */
static void
attach_device (VchatdMedia *self, SourceKind kind)
{
  SourceSlot *slot = &self->sources[kind];
  g_autoptr (GError) error = NULL;
  g_autoptr (GstPad) src = NULL;
  GstElement *element;
  Device *device;

  if (!slot->selector || slot->device || is_stopped (self))
    return;
  if ((kind == SOURCE_VIDEO ? !self->camera_target && !self->video_source_description
                            : !self->microphone_target && !self->audio_source_description))
    return;
  element = make_source (self, kind, FALSE, &error);
  if (!element) {
    device_failed (self, kind, error->message);
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
  gst_element_set_locked_state (element, TRUE);
  gst_bin_add (GST_BIN (self->pipeline), element);
  device->selector_pad = gst_element_request_pad_simple (slot->selector, "sink_%u");
  src = gst_element_get_static_pad (element, "src");
  slot->device = device;
  if (!src || gst_pad_link (src, device->selector_pad) != GST_PAD_LINK_OK) {
    device_failed (self, kind, "it cannot be linked: wrong kind of media?");
    return;
  }
  device->probe =
    gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                       on_device_buffer, device_ref (device), device_unref);
  /* Shown at once: the fallback only if it gives nothing (watch_slot()). */
  select_input (self, kind, TRUE);
  run_locked_job (self, element, start_device_job, device_ref (device), device_unref);
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
  now = session_ms (self);
  last = g_atomic_int_get (&device->last_buffer_ms);
  since = last >= 0 ? last : (gint) ((device->attached_us - self->start_us) / 1000);
  if (slot->on_device) {
    if (now - since <= STALL_MS)
      return;
    select_input (self, kind, FALSE);
    if (!slot->reported) {
      slot->reported = TRUE;
      report_device_failed (
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
      g_signal_emit (self, signals[SIGNAL_DEVICE_RESTORED], 0, source_device (kind));
    }
  }
}

static gboolean
on_watch (gpointer data)
{
  g_autoptr (VchatdMedia) self = g_object_ref (data);
  SourceKind kind;

  for (kind = 0; kind < N_SOURCES && !is_stopped (self); kind++)
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

/* source → videoconvert → videorate → videoscale → I420 → tee [→ preview] */
static gboolean
build_video_source_chain (VchatdMedia *self, GError **error)
{
  static const char *const factories[] = { "videoconvert", "videorate", "videoscale", "capsfilter",
                                           "tee" };
  GstElement *chain[G_N_ELEMENTS (factories)];
  g_autoptr (GstCaps) caps = NULL;
  g_autoptr (GstPad) pad = NULL;

  if (!make_elements (factories, chain, G_N_ELEMENTS (chain), error))
    return FALSE;
  /* Any input rate gives the chain's rate (see on_video_frame_out): frames
   * are dropped, or repeated for a slower source, but not across a gap. */
  g_object_set (chain[1], "skip-to-first", TRUE, "max-duplication-time",
                (guint64) 250 * GST_MSECOND, NULL);
  /* Frames larger than 720p, or faster than 30 fps, cost more to encode
   * than a 1:1 call gains. */
  caps = gst_caps_from_string (
    "video/x-raw,format=I420,width=[16,1280],height=[16,720],framerate=[1/1,30/1]");
  g_object_set (chain[3], "caps", caps, NULL);
  /* The encoder branch is linked later by an answerer. */
  g_object_set (chain[4], "allow-not-linked", TRUE, NULL);
  if (!add_and_link (self, chain, G_N_ELEMENTS (chain))) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                         "Cannot link the video capture chain");
    return FALSE;
  }
  pad = gst_element_get_static_pad (chain[3], "src");
  gst_pad_add_probe (pad,
                     GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM |
                       GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM,
                     on_video_frame_out, self, NULL);
  self->video_capsfilter = chain[3];
  self->video_tee = chain[4];
  if (!build_slot (self, SOURCE_VIDEO, chain[0], error))
    return FALSE;

  if (self->node_name_prefix) {
    GstElement *preview[2];

    self->preview_node = g_strdup_printf ("%s-preview", self->node_name_prefix);
    if (!(preview[1] = make_pipewire_sink (self->preview_node, "Video/Source",
                                           "vchat: camera preview", error)))
      return FALSE;
    preview[0] = gst_element_factory_make ("queue", NULL);
    g_object_set (preview[0], "leaky", 2, "max-size-buffers", 2, "max-size-bytes", 0,
                  "max-size-time", (guint64) 0, NULL);
    if (!add_and_link (self, preview, 2) || !gst_element_link (self->video_tee, preview[0])) {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot link the preview");
      return FALSE;
    }
    /* Started on its own once the pipeline plays: without PipeWire it
     * fails, and that must not stop the call. */
    self->preview_output = add_output (self, preview[0], preview[1], "preview-node");
  }
  return TRUE;
}

static gboolean
add_twcc_extension (GstElement *payloader, guint id, GError **error)
{
  GstRTPHeaderExtension *ext;

  if (id == 0)
    return TRUE;
  ext = gst_rtp_header_extension_create_from_uri (VCHATD_SDP_TWCC_URI);
  if (!ext) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                         "The GStreamer element “rtphdrexttwcc” is missing");
    return FALSE;
  }
  gst_rtp_header_extension_set_id (ext, id);
  g_signal_emit_by_name (payloader, "add-extension", ext);
  gst_object_unref (ext);
  return TRUE;
}

/* The sink pad webrtcbin made for @transceiver (an answerer's, when it set
 * its answer), or a new one (transfer full). */
static GstPad *
webrtc_sink_pad (VchatdMedia *self, GstWebRTCRTPTransceiver *transceiver)
{
  GstPadTemplate *templ = gst_element_class_get_pad_template (GST_ELEMENT_GET_CLASS (self->webrtc),
                                                              "sink_%u");
  g_autoptr (GstIterator) it = NULL;
  GValue item = G_VALUE_INIT;
  GstPad *found = NULL;

  if (!transceiver)
    return gst_element_request_pad (self->webrtc, templ, NULL, NULL);
  it = gst_element_iterate_sink_pads (self->webrtc);
  while (!found && gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstPad *pad = g_value_get_object (&item);
    g_autoptr (GstWebRTCRTPTransceiver) t = NULL;

    if (g_object_class_find_property (G_OBJECT_GET_CLASS (pad), "transceiver"))
      g_object_get (pad, "transceiver", &t, NULL);
    if (t == transceiver && !gst_pad_is_linked (pad))
      found = gst_object_ref (pad);
    g_value_reset (&item);
  }
  g_value_unset (&item);
  return found;
}

/* Links @last to webrtcbin (to @expected's pad, or a new one) and returns
 * the pad's transceiver (transfer full). */
static GstWebRTCRTPTransceiver *
link_to_webrtc (VchatdMedia *self, GstElement *last, GstWebRTCRTPTransceiver *expected,
                GError **error)
{
  g_autoptr (GstPad) sinkpad = webrtc_sink_pad (self, expected);
  g_autoptr (GstPad) srcpad = gst_element_get_static_pad (last, "src");
  GstWebRTCRTPTransceiver *transceiver = NULL;

  if (!sinkpad || gst_pad_link (srcpad, sinkpad) != GST_PAD_LINK_OK) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot link %s to webrtcbin",
                 GST_OBJECT_NAME (last));
    return NULL;
  }
  g_object_get (sinkpad, "transceiver", &transceiver, NULL);
  return transceiver;
}

/* Puts an encoder chain, ending in its payloader, into the pipeline and
 * links it to webrtcbin. 1.22: the offerer's TWCC comes from the payloader's
 * header extension. Returns the transceiver it was linked to. */
static GstWebRTCRTPTransceiver *
attach_sender (VchatdMedia *self, GstElement **chain, guint n, GstWebRTCRTPTransceiver *expected,
               guint twcc_id, const char *what, GError **error)
{
  if (!add_twcc_extension (chain[n - 1], twcc_id, error)) {
    for (guint i = 0; i < n; i++)
      gst_object_unref (gst_object_ref_sink (chain[i]));
    return NULL;
  }
  if (!add_and_link (self, chain, n)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot link the %s encoder", what);
    return NULL;
  }
  return link_to_webrtc (self, chain[n - 1], expected, error);
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

/* The rung is a bound, not a size: videoscale and videorate fixate within
 * it keeping the camera's shape, so a rung that fits the camera already
 * (the ladder's first pick, made before the camera's size is known) changes
 * nothing when the ladder confirms it, and nothing is scaled up. */
static void
apply_rung (VchatdMedia *self)
{
  g_autoptr (GstCaps) caps = NULL;

  if (!self->ladder_caps || self->rung.width == 0)
    return;
  caps = gst_caps_new_simple (
    "video/x-raw", "width", GST_TYPE_INT_RANGE, 16, MAX ((gint) self->rung.width, 16), "height",
    GST_TYPE_INT_RANGE, 16, MAX ((gint) self->rung.height, 16), "framerate",
    GST_TYPE_FRACTION_RANGE, 1, 1, MAX ((gint) self->rung.fps, 1), 1, "pixel-aspect-ratio",
    GST_TYPE_FRACTION, 1, 1, NULL);
  g_object_set (self->ladder_caps, "caps", caps, NULL);
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

static void
apply_target (VchatdMedia *self, gint64 now, guint target_kbps)
{
  VchatdAudioPolicy audio =
    vchatd_audio_policy_for (target_kbps, vchatd_rate_control_get_loss_pct (self->rate_control));
  guint video_kbps = vchatd_audio_policy_video_kbps (&audio, target_kbps);
  VchatdLadderRung rung;

  self->target_kbps = target_kbps;
  if (self->audio_encoder && memcmp (&audio, &self->audio_policy, sizeof audio) != 0) {
    g_debug ("media: audio %u kbit/s, FEC %s, %u %% loss expected", audio.bitrate_kbps,
             audio.inband_fec ? "on" : "off", audio.packet_loss_pct);
    g_object_set (self->audio_encoder, "bitrate", (gint) (audio.bitrate_kbps * 1000), "inband-fec",
                  audio.inband_fec, "packet-loss-percentage", (gint) audio.packet_loss_pct, NULL);
  }
  self->audio_policy = audio;
  /* Small steps are not worth a reconfiguration of the encoder. */
  if (self->video_encoder &&
      (video_kbps * 50 > self->video_kbps * 51 || video_kbps * 50 < self->video_kbps * 49)) {
    g_object_set (self->video_encoder, "target-bitrate", (gint) (video_kbps * 1000), NULL);
    self->video_kbps = video_kbps;
  }
  if (self->video_encoder) {
    update_ladder_input (self);
    feed_encoder_load (self, now);
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

static gboolean
on_control_tick (gpointer data)
{
  VchatdMedia *self = data;
  gint64 now = g_get_monotonic_time ();
  g_autoptr (GPtrArray) reports = vchatd_twcc_tap_take (self->twcc);
  guint sent = (guint) g_atomic_int_exchange (&self->sent_bytes, 0);
  guint i;

  if (sent)
    vchatd_rate_control_on_sent (self->rate_control, now, sent);
  for (i = 0; reports && i < reports->len; i++) {
    GArray *packets = reports->pdata[i];

    vchatd_rate_control_on_feedback (self->rate_control, now,
                                     (const VchatdPacketFeedback *) packets->data, packets->len);
  }
  apply_target (self, now, vchatd_rate_control_tick (self->rate_control, now));
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
static GstElement *
on_request_aux_sender (GstElement *webrtc, GObject *transport, gpointer data)
{
  VchatdMedia *self = data;
  GstElement *tap = vchatd_twcc_tap_make_element (self->twcc);

  if (tap) {
    g_autoptr (GstPad) sink = gst_element_get_static_pad (tap, "sink");

    /* Like every probe of the session's, it goes with the pipeline, which
     * never outlives the session (see teardown()). */
    gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                       on_rtp_sent, self, NULL);
  }
  return tap;
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
      g_atomic_int_add (&self->encode_us,
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

/* tee → queue → videoscale → videorate → capsfilter → vp8enc → rtpvp8pay → webrtcbin
 *
 * The capsfilter holds the ladder's rung (see "Rate control"); the preview
 * keeps the camera's picture. */
static gboolean
build_video_sender (VchatdMedia *self, GstWebRTCRTPTransceiver *expected, guint pt, guint twcc_id,
                    GError **error)
{
  static const char *const factories[] = { "queue",  "videoscale", "videorate",
                                           "capsfilter", "vp8enc", "rtpvp8pay" };
  GstElement *chain[G_N_ELEMENTS (factories)];
  g_autoptr (GstWebRTCRTPTransceiver) transceiver = NULL;
  g_autoptr (GstPad) teepad = NULL;
  g_autoptr (GstPad) queuepad = NULL;

  if (!make_elements (factories, chain, G_N_ELEMENTS (chain), error))
    return FALSE;
  /* A slow encoder drops frames rather than delaying the preview. */
  g_object_set (chain[0], "leaky", 2, "max-size-buffers", 2, "max-size-bytes", 0, "max-size-time",
                (guint64) 0, NULL);
  /* Only ever drops, to the rung's frame rate. */
  g_object_set (chain[2], "drop-only", TRUE, "skip-to-first", TRUE, NULL);
  g_object_set (chain[4], "deadline", (gint64) 1, "cpu-used", 8, "lag-in-frames", 0,
                "keyframe-max-dist", 60, "target-bitrate", (gint) (self->video_kbps * 1000),
                "threads", encoder_threads (), NULL);
  gst_util_set_object_arg (G_OBJECT (chain[4]), "end-usage", "cbr");
  gst_util_set_object_arg (G_OBJECT (chain[4]), "error-resilient", "default");
  g_object_set (chain[5], "pt", pt, "mtu", 1200, NULL);
  gst_util_set_object_arg (G_OBJECT (chain[5]), "picture-id-mode", "15-bit");
  add_probe (chain[0], "sink", GST_PAD_PROBE_TYPE_BUFFER, on_sender_frame_in, self);
  add_probe (chain[0], "src", GST_PAD_PROBE_TYPE_BUFFER, on_sender_frame_out, self);
  add_probe (chain[4], "sink", GST_PAD_PROBE_TYPE_BUFFER, on_encoder_in, self);
  add_probe (chain[4], "src", GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
             on_encoder_out, self);
  transceiver = attach_sender (self, chain, G_N_ELEMENTS (chain), expected, twcc_id, "video",
                               error);
  if (!transceiver)
    return FALSE;
  /* 1.22: set before create-offer; an answerer's was set on add-transceiver. */
  g_object_set (transceiver, "do-nack", TRUE, NULL);

  self->ladder_caps = chain[3];
  self->video_encoder = chain[4];
  apply_rung (self);
  sync_with_pipeline (chain, G_N_ELEMENTS (chain));
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
static gboolean
build_audio_sender (VchatdMedia *self, GstWebRTCRTPTransceiver *expected, guint pt, guint twcc_id,
                    GError **error)
{
  static const char *const factories[] = { "audioconvert", "audioresample", "capsfilter", "volume",
                                           "queue",        "opusenc",       "rtpopuspay" };
  GstElement *chain[G_N_ELEMENTS (factories)];
  g_autoptr (GstWebRTCRTPTransceiver) transceiver = NULL;
  g_autoptr (GstCaps) mono = gst_caps_from_string ("audio/x-raw,rate=48000,channels=1");

  if (!make_elements (factories, chain, G_N_ELEMENTS (chain), error))
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
  transceiver = attach_sender (self, chain, G_N_ELEMENTS (chain), expected, twcc_id, "audio",
                               error);
  if (!transceiver)
    return FALSE;
  sync_with_pipeline (chain, G_N_ELEMENTS (chain));
  self->volume = chain[3];
  self->audio_encoder = chain[5];
  if (!build_slot (self, SOURCE_AUDIO, chain[0], error))
    return FALSE;
  self->have_audio_track = TRUE;
  return TRUE;
}

static GstCaps *
rtp_caps (SourceKind kind, guint pt, guint twcc_id)
{
  GstCaps *caps;

  if (kind == SOURCE_VIDEO)
    caps = gst_caps_new_simple ("application/x-rtp", "media", G_TYPE_STRING, "video",
                                "encoding-name", G_TYPE_STRING, "VP8", "payload", G_TYPE_INT,
                                (gint) pt, "clock-rate", G_TYPE_INT, 90000, NULL);
  else
    caps = gst_caps_new_simple ("application/x-rtp", "media", G_TYPE_STRING, "audio",
                                "encoding-name", G_TYPE_STRING, "OPUS", "payload", G_TYPE_INT,
                                (gint) pt, "clock-rate", G_TYPE_INT, 48000, "encoding-params",
                                G_TYPE_STRING, "2", NULL);
  if (twcc_id) {
    g_autofree char *field = g_strdup_printf ("extmap-%u", twcc_id);

    gst_caps_set_simple (caps, field, G_TYPE_STRING, VCHATD_SDP_TWCC_URI, NULL);
  }
  return caps;
}

/* A receive-only transceiver, so that a peer with a camera can send it to a
 * session without one. */
static gboolean
add_recvonly_transceiver (VchatdMedia *self, SourceKind kind, GError **error)
{
  g_autoptr (GstCaps) caps = rtp_caps (kind, kind == SOURCE_VIDEO ? VIDEO_PT : AUDIO_PT, TWCC_ID);
  g_autoptr (GstWebRTCRTPTransceiver) transceiver = NULL;

  g_signal_emit_by_name (self->webrtc, "add-transceiver",
                         GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, caps, &transceiver);
  if (!transceiver) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "webrtcbin refused a %s transceiver",
                 source_kind_name (kind));
    return FALSE;
  }
  if (kind == SOURCE_VIDEO) {
    g_object_set (transceiver, "do-nack", TRUE, NULL);
    self->have_video_track = TRUE;
  } else {
    self->have_audio_track = TRUE;
  }
  return TRUE;
}

/* Receiving */

static GstPadProbeReturn on_inbound_rtp (GstPad *pad, GstPadProbeInfo *info, gpointer data);
static GstPadProbeReturn on_frame_decoded (GstPad *pad, GstPadProbeInfo *info, gpointer data);
static GstPadProbeReturn on_thumbnail_candidate (GstPad *pad, GstPadProbeInfo *info, gpointer data);
static GstFlowReturn on_thumbnail_sample (GstAppSink *sink, gpointer data);

/* The peer's picture changes size (its rate controller stepping through
 * its ladder, a browser adapting to the network, the other side switching
 * to another camera or to black frames). pipewiresink 0.3.65 keeps writing
 * into the node's buffers of the old size while PipeWire renegotiates them,
 * which corrupts frames and fails GStreamer's buffer checks. So the node
 * keeps one size for the call, and pictures are scaled into it (with
 * borders where the shape differs): the first picture's shape, at least
 * NODE_MIN_HEIGHT lines tall, because calls start small and grow (a node
 * the size of the first picture would show a 480x270 call for good). */
#define NODE_MIN_HEIGHT 720

static GstPadProbeReturn
keep_node_size (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstElement *capsfilter = data;
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  GstCaps *caps;
  GstVideoInfo vinfo;
  g_autoptr (GstCaps) fixed = NULL;
  gint width, height;
  gdouble shape;

  if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS)
    return GST_PAD_PROBE_OK;
  gst_event_parse_caps (event, &caps);
  if (!gst_video_info_from_caps (&vinfo, caps) || GST_VIDEO_INFO_HEIGHT (&vinfo) <= 0 ||
      GST_VIDEO_INFO_PAR_D (&vinfo) <= 0)
    return GST_PAD_PROBE_OK;
  /* Square pixels, the picture's display shape. */
  shape = (gdouble) GST_VIDEO_INFO_WIDTH (&vinfo) * GST_VIDEO_INFO_PAR_N (&vinfo) /
          GST_VIDEO_INFO_PAR_D (&vinfo) / GST_VIDEO_INFO_HEIGHT (&vinfo);
  height = MAX (GST_VIDEO_INFO_HEIGHT (&vinfo), NODE_MIN_HEIGHT);
  width = 2 * (gint) (height * shape / 2 + 0.5);
  fixed = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "I420", "width", G_TYPE_INT,
                               MAX (width, 2), "height", G_TYPE_INT, height, "pixel-aspect-ratio",
                               GST_TYPE_FRACTION, 1, 1, NULL);
  g_object_set (capsfilter, "caps", fixed, NULL);
  return GST_PAD_PROBE_REMOVE;
}

/* queue → rtpvp8depay → vp8dec → videoconvert → tee ┬ thumbnails
 *                                                  └ PipeWire node */
static GstElement *
build_video_receiver (VchatdMedia *self, GError **error)
{
  static const char *const factories[] = { "queue", "rtpvp8depay", "vp8dec", "videoconvert",
                                           "tee" };
  static const char *const thumb_factories[] = { "queue", "videoscale", "videoconvert",
                                                 "capsfilter", "appsink" };
  GstElement *chain[G_N_ELEMENTS (factories)];
  GstElement *thumb[G_N_ELEMENTS (thumb_factories)];
  GstElement *tee;
  g_autoptr (GstPad) decoded = NULL;
  g_autoptr (GstPad) thumbpad = NULL;
  g_autoptr (GstCaps) rgb = NULL;
  GstAppSinkCallbacks callbacks = { .new_sample = on_thumbnail_sample };

  if (!make_elements (factories, chain, G_N_ELEMENTS (chain), error))
    return NULL;
  if (!make_elements (thumb_factories, thumb, G_N_ELEMENTS (thumb), error)) {
    guint i;

    for (i = 0; i < G_N_ELEMENTS (chain); i++)
      gst_object_unref (gst_object_ref_sink (chain[i]));
    return NULL;
  }
  tee = chain[4];
  g_object_set (tee, "allow-not-linked", TRUE, NULL);

  /* Thumbnails: dropped before any conversion unless someone listens and a
   * second has passed, so they cost nothing the rest of the time. */
  g_object_set (thumb[0], "leaky", 2, "max-size-buffers", 1, "max-size-bytes", 0, "max-size-time",
                (guint64) 0, NULL);
  rgb = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "RGB", "width", G_TYPE_INT,
                             THUMBNAIL_WIDTH, "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
  g_object_set (thumb[3], "caps", rgb, NULL);
  g_object_set (thumb[4], "sync", FALSE, "async", FALSE, "max-buffers", 1, "drop", TRUE, NULL);
  gst_app_sink_set_callbacks (GST_APP_SINK (thumb[4]), &callbacks, self, NULL);

  if (!add_and_link (self, chain, G_N_ELEMENTS (chain)) ||
      !add_and_link (self, thumb, G_N_ELEMENTS (thumb)) || !gst_element_link (tee, thumb[0]))
    goto link_failed;
  thumbpad = gst_element_get_static_pad (thumb[0], "sink");
  gst_pad_add_probe (thumbpad, GST_PAD_PROBE_TYPE_BUFFER, on_thumbnail_candidate, self, NULL);
  sync_with_pipeline (thumb, G_N_ELEMENTS (thumb));

  if (self->node_name_prefix) {
    static const char *const node_factories[] = { "queue", "videoconvert", "videoscale",
                                                  "capsfilter" };
    GstElement *node[G_N_ELEMENTS (node_factories) + 1];
    Output *output;
    g_autoptr (GstCaps) i420 = gst_caps_from_string ("video/x-raw,format=I420");
    g_autoptr (GstPad) scale_pad = NULL;

    if (!(node[4] = make_pipewire_sink (self->remote_video_node, "Video/Source",
                                        "vchat: remote video", error)))
      return NULL;
    if (!make_elements (node_factories, node, G_N_ELEMENTS (node_factories), error)) {
      gst_object_unref (gst_object_ref_sink (node[4]));
      return NULL;
    }
    g_object_set (node[0], "leaky", 2, "max-size-buffers", 2, "max-size-bytes", 0, "max-size-time",
                  (guint64) 0, NULL);
    /* PipeWire consumers fail to negotiate without an explicit raw format. */
    g_object_set (node[3], "caps", i420, NULL);
    /* The node keeps the size of the first picture (see keep_node_size). */
    scale_pad = gst_element_get_static_pad (node[2], "sink");
    gst_pad_add_probe (scale_pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, keep_node_size,
                       gst_object_ref (node[3]), gst_object_unref);
    output = add_output (self, node[3], node[4], "remote-video-node");
    if (!add_and_link (self, node, G_N_ELEMENTS (node)) || !gst_element_link (tee, node[0]))
      goto link_failed;
    sync_with_pipeline (node, G_N_ELEMENTS (node) - 1);
    if (output)
      start_output (self, output);
  }

  decoded = gst_element_get_static_pad (chain[2], "src");
  gst_pad_add_probe (decoded, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
                     on_frame_decoded, self, NULL);
  sync_with_pipeline (chain, G_N_ELEMENTS (chain));
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
    sink = make_pipewire_sink (NULL, "Stream/Output/Audio", NULL, error);
    if (!sink)
      return NULL;
    if (self->speaker_target)
      g_object_set (sink, "target-object", self->speaker_target, NULL);
  }
  if (!make_elements (factories, chain, G_N_ELEMENTS (factories), error)) {
    gst_object_unref (gst_object_ref_sink (sink));
    return NULL;
  }
  chain[G_N_ELEMENTS (factories)] = sink;
  g_object_set (chain[2], "use-inband-fec", TRUE, NULL);
  /* No speaker (or no PipeWire) is no reason to end a call. */
  output = add_output (self, chain[G_N_ELEMENTS (factories) - 1], sink, "speaker");
  if (!add_and_link (self, chain, G_N_ELEMENTS (chain))) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot link the audio decoder");
    return NULL;
  }
  sync_with_pipeline (chain, G_N_ELEMENTS (chain) - 1);
  if (output)
    start_output (self, output);
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
 * PipeWire outputs are started off this thread (start_output()). */
static void
on_pad_added (GstElement *webrtc, GstPad *pad, gpointer data)
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

  /* No lock of ours is held while the branch is built: the teardown does
   * not wait for it, and what is added once the session is stopping is
   * stopped by the teardown's job or by the job that would start it. */
  if (is_stopping (self))
    return;
  caps = gst_pad_get_current_caps (pad);
  if (!caps)
    caps = gst_pad_query_caps (pad, NULL);
  s = caps && !gst_caps_is_empty (caps) ? gst_caps_get_structure (caps, 0) : NULL;
  media = s ? gst_structure_get_string (s, "media") : NULL;
  encoding = s ? gst_structure_get_string (s, "encoding-name") : NULL;
  g_debug ("media: receiving %s (%s) on %s", media, encoding, GST_PAD_NAME (pad));

  if (g_strcmp0 (media, "video") == 0 && g_ascii_strcasecmp (encoding ? encoding : "", "VP8") == 0)
    first = build_video_receiver (self, &error);
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
                     on_inbound_rtp, self, NULL);
}

/* Media state and the watchdog */

static void
update_connected (VchatdMedia *self)
{
  if (self->state != VCHATD_MEDIA_STATE_CONNECTING || !self->ice_connected)
    return;
  if (g_atomic_int_get (&self->media_seen) || self->channel_open)
    set_state (self, VCHATD_MEDIA_STATE_CONNECTED);
}

static void
on_media_started_main (VchatdMedia *self, gpointer data)
{
  g_debug ("media: inbound RTP started");
  update_connected (self);
}

static GstPadProbeReturn
on_inbound_rtp (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  VchatdMedia *self = data;

  g_atomic_int_set (&self->last_inbound_ms, session_ms (self));
  if (g_atomic_int_compare_and_exchange (&self->media_seen, 0, 1))
    run_on_main (self, on_media_started_main, NULL, NULL);
  return GST_PAD_PROBE_OK;
}

static void
check_watchdog (VchatdMedia *self)
{
  gint silent_ms;

  if (self->state != VCHATD_MEDIA_STATE_CONNECTED && self->state != VCHATD_MEDIA_STATE_CONNECTING)
    return;
  if (!g_atomic_int_get (&self->media_seen))
    return;
  silent_ms = session_ms (self) - g_atomic_int_get (&self->last_inbound_ms);
  if (silent_ms > (gint) self->watchdog_seconds * 1000) {
    media_fail (self, VCHATD_MEDIA_FAILURE_PEER_LOST, "no media from the peer for %d ms",
                silent_ms);
  }
}

static void
on_ice_state_main (VchatdMedia *self, gpointer data)
{
  GstWebRTCICEConnectionState ice;
  GstWebRTCPeerConnectionState pc;

  g_object_get (self->webrtc, "ice-connection-state", &ice, "connection-state", &pc, NULL);
  g_debug ("media: ICE %d, connection %d", ice, pc);
  if (ice == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED ||
      pc == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED) {
    if (self->state == VCHATD_MEDIA_STATE_CONNECTING ||
        self->state == VCHATD_MEDIA_STATE_CONNECTED) {
      media_fail (self, VCHATD_MEDIA_FAILURE_PEER_LOST, "ICE failed: no network path to the peer");
    }
    return;
  }
  if (ice == GST_WEBRTC_ICE_CONNECTION_STATE_CONNECTED ||
      ice == GST_WEBRTC_ICE_CONNECTION_STATE_COMPLETED) {
    self->ice_connected = TRUE;
    update_connected (self);
  }
}

static void
on_ice_state_notify (GObject *webrtc, GParamSpec *pspec, gpointer data)
{
  run_on_main (data, on_ice_state_main, NULL, NULL);
}

/* Local candidates */

static void
emit_local_candidate (VchatdMedia *self, const char *line)
{
  /* Stored as "<mline> <candidate>" */
  char *end = NULL;
  guint64 mline = g_ascii_strtoull (line, &end, 10);

  g_debug ("media: local candidate %u %s", (guint) mline, end && *end ? end + 1 : "(end)");
  g_signal_emit (self, signals[SIGNAL_LOCAL_CANDIDATE], 0, (guint) mline,
                 end && *end ? end + 1 : "");
}

static void
on_local_candidate_main (VchatdMedia *self, gpointer data)
{
  if (!self->local_description_sent) {
    g_ptr_array_add (self->pending_local_candidates, g_strdup (data));
    return;
  }
  emit_local_candidate (self, data);
}

static void
on_ice_candidate (GstElement *webrtc, guint mline, const char *candidate, gpointer data)
{
  run_on_main (data, on_local_candidate_main,
               g_strdup_printf ("%u %s", mline, candidate ? candidate : ""), g_free);
}

/* Main context: gathering reached COMPLETE. 1.22 emits no end-of-candidates
 * itself. */
static void
on_gathering_complete_main (VchatdMedia *self, gpointer data)
{
  if (self->end_of_candidates_sent)
    return;
  self->end_of_candidates_sent = TRUE;
  on_local_candidate_main (self, (gpointer) "0 ");
}

/* webrtcbin's thread, which emits on-ice-candidate for every candidate before
 * it makes the gathering state COMPLETE. The state is read here, not on the
 * main context: there, the property may already read COMPLETE while the hops
 * of the last candidates are still queued behind this one, and the
 * end-of-candidates would overtake them. Hops run in the order they were
 * queued, so this one comes after the last candidate's. */
static void
on_gathering_notify (GObject *webrtc, GParamSpec *pspec, gpointer data)
{
  GstWebRTCICEGatheringState gathering;

  g_object_get (webrtc, "ice-gathering-state", &gathering, NULL);
  if (gathering == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE)
    run_on_main (data, on_gathering_complete_main, NULL, NULL);
}

static void
local_description_sent (VchatdMedia *self, const char *type, const char *sdp)
{
  guint i;

  g_signal_emit (self, signals[SIGNAL_LOCAL_DESCRIPTION], 0, type, sdp);
  if (is_stopped (self))
    return;
  self->local_description_sent = TRUE;
  for (i = 0; i < self->pending_local_candidates->len && !is_stopped (self); i++)
    emit_local_candidate (self, g_ptr_array_index (self->pending_local_candidates, i));
  g_ptr_array_set_size (self->pending_local_candidates, 0);
}

/* Data channel */

static void
on_channel_open_main (VchatdMedia *self, gpointer data)
{
  if (self->channel_open)
    return;
  g_debug ("media: data channel open");
  self->channel_open = TRUE;
  update_connected (self);
}

static void
on_channel_open (GstWebRTCDataChannel *channel, gpointer data)
{
  run_on_main (data, on_channel_open_main, NULL, NULL);
}

static void
on_channel_close_main (VchatdMedia *self, gpointer data)
{
  g_debug ("media: data channel closed");
  self->channel_open = FALSE;
}

static void
on_channel_close (GstWebRTCDataChannel *channel, gpointer data)
{
  run_on_main (data, on_channel_close_main, NULL, NULL);
}

static void
on_channel_error (GstWebRTCDataChannel *channel, GError *error, gpointer data)
{
  g_warning ("media: data channel error: %s", error ? error->message : "unknown");
}

static void
on_message_main (VchatdMedia *self, gpointer data)
{
  g_signal_emit (self, signals[SIGNAL_MESSAGE_RECEIVED], 0, (const char *) data);
}

static void
on_channel_message (GstWebRTCDataChannel *channel, const char *text, gpointer data)
{
  if (text && g_utf8_validate (text, -1, NULL))
    run_on_main (data, on_message_main, g_strdup (text), g_free);
}

/* Called with the lock held. */
static void
adopt_channel (VchatdMedia *self, GstWebRTCDataChannel *channel)
{
  GstWebRTCDataChannelState ready;

  self->channel = g_object_ref (channel);
  g_signal_connect (channel, "on-open", G_CALLBACK (on_channel_open), self);
  g_signal_connect (channel, "on-close", G_CALLBACK (on_channel_close), self);
  g_signal_connect (channel, "on-error", G_CALLBACK (on_channel_error), self);
  g_signal_connect (channel, "on-message-string", G_CALLBACK (on_channel_message), self);
  /* A channel the peer opened may be open before we see it. */
  g_object_get (channel, "ready-state", &ready, NULL);
  if (ready == GST_WEBRTC_DATA_CHANNEL_STATE_OPEN)
    run_on_main (self, on_channel_open_main, NULL, NULL);
}

static void
on_data_channel (GstElement *webrtc, GstWebRTCDataChannel *channel, gpointer data)
{
  VchatdMedia *self = data;
  g_autofree char *label = NULL;

  g_object_get (channel, "label", &label, NULL);
  g_mutex_lock (&self->lock);
  if (!self->stopping && !self->channel && g_strcmp0 (label, "chat") == 0)
    adopt_channel (self, channel);
  else
    g_debug ("media: ignoring the peer's data channel “%s”", label);
  g_mutex_unlock (&self->lock);
}

/* Negotiation */

/* 1.22 picks a random SCTP association id per webrtcbin, and two in one
 * process that pick the same one share an association (and hang at
 * teardown): give each session its own. */
static void
on_deep_element_added (GstBin *bin, GstBin *sub_bin, GstElement *element, gpointer data)
{
  VchatdMedia *self = data;
  GstElementFactory *factory = gst_element_get_factory (element);
  const char *name = factory ? GST_OBJECT_NAME (factory) : NULL;

  if (g_strcmp0 (name, "sctpenc") == 0 || g_strcmp0 (name, "sctpdec") == 0)
    g_object_set (element, "sctp-association-id", self->sctp_association_id, NULL);
}

static void
on_offer_set (VchatdMedia *self, const GstStructure *reply, gpointer data)
{
  GstWebRTCSessionDescription *offer = data;
  g_autofree char *text = gst_sdp_message_as_text (offer->sdp);

  g_debug ("media: offer:\n%s", text);
  local_description_sent (self, "offer", text);
}

static void
on_offer_created (VchatdMedia *self, const GstStructure *reply, gpointer data)
{
  GstWebRTCSessionDescription *offer = NULL;

  if (reply)
    gst_structure_get (reply, "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &offer, NULL);
  if (!offer) {
    media_fail (self, VCHATD_MEDIA_FAILURE_LOCAL, "webrtcbin made no offer");
    return;
  }
  run_step (self, "set-local-description", offer, "use its offer", VCHATD_MEDIA_FAILURE_LOCAL,
            on_offer_set, offer, (GDestroyNotify) gst_webrtc_session_description_free);
}

static void
make_offer (VchatdMedia *self, gpointer data)
{
  if (self->offer_made || self->role != VCHATD_MEDIA_ROLE_OFFERER)
    return;
  self->offer_made = TRUE;
  run_step (self, "create-offer", NULL, "create an offer", VCHATD_MEDIA_FAILURE_LOCAL,
            on_offer_created, NULL, NULL);
}

static void
on_negotiation_needed (GstElement *webrtc, gpointer data)
{
  run_on_main (data, make_offer, NULL, NULL);
}

static void
pending_sender_free (gpointer data)
{
  PendingSender *sender = data;

  gst_clear_object (&sender->transceiver);
  g_free (sender);
}

static PendingSender *
find_pending_sender (VchatdMedia *self, SourceKind kind)
{
  guint i;

  for (i = 0; i < self->pending_senders->len; i++) {
    PendingSender *sender = g_ptr_array_index (self->pending_senders, i);

    if (sender->kind == kind)
      return sender;
  }
  return NULL;
}

/* 1.22 as answerer drops TWCC, NACK and RTX from its answer unless a
 * transceiver with the offer's payload type and TWCC extmap exists before
 * set-remote-description. */
static void
prepare_answer_transceivers (VchatdMedia *self, const GstSDPMessage *offer)
{
  gboolean used[N_SOURCES] = { FALSE, FALSE };
  guint i;

  for (i = 0; i < gst_sdp_message_medias_len (offer); i++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (offer, i);
    const char *kind_name = gst_sdp_media_get_media (media);
    SourceKind kind;
    PendingSender *sender;
    g_autoptr (GstCaps) caps = NULL;
    GstWebRTCRTPTransceiver *transceiver = NULL;
    gboolean send;
    guint pt;

    if (g_str_equal (kind_name, "video"))
      kind = SOURCE_VIDEO;
    else if (g_str_equal (kind_name, "audio"))
      kind = SOURCE_AUDIO;
    else
      continue;
    /* One track of each kind; webrtcbin rejects the rest. */
    if (used[kind])
      continue;
    pt = vchatd_sdp_find_payload_type (media, kind == SOURCE_VIDEO ? "VP8" : "OPUS");
    if (pt == G_MAXUINT)
      continue;
    used[kind] = TRUE;
    send = kind == SOURCE_VIDEO ? self->has_video : self->has_audio;
    caps = rtp_caps (kind, pt, vchatd_sdp_find_twcc_id (media));
    /* Transceivers cannot be removed: after an offer webrtcbin refused, the
     * next one reuses them. */
    sender = find_pending_sender (self, kind);
    if (sender) {
      g_object_set (sender->transceiver, "codec-preferences", caps, NULL);
    } else {
      g_signal_emit_by_name (self->webrtc, "add-transceiver",
                             send ? GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV
                                  : GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY,
                             caps, &transceiver);
      if (!transceiver)
        continue;
      if (kind == SOURCE_VIDEO)
        g_object_set (transceiver, "do-nack", TRUE, NULL);
      sender = g_new0 (PendingSender, 1);
      sender->transceiver = transceiver;
      sender->kind = kind;
      sender->send = send;
      g_ptr_array_add (self->pending_senders, sender);
    }
    if (kind == SOURCE_VIDEO)
      self->have_video_track = TRUE;
    else
      self->have_audio_track = TRUE;
    sender->pt = pt;
    sender->twcc_id = vchatd_sdp_find_twcc_id (media);
  }
}

/* 1.22 gives an answerer's transceivers their m-lines, and sink pads, only
 * when it sets its answer: the encoders are linked then. */
static gboolean
link_answer_senders (VchatdMedia *self, GError **error)
{
  guint i;

  for (i = 0; i < self->pending_senders->len; i++) {
    PendingSender *sender = g_ptr_array_index (self->pending_senders, i);
    g_autoptr (GstPad) pad = NULL;
    gboolean ok;

    if (!sender->send)
      continue;
    pad = webrtc_sink_pad (self, sender->transceiver);
    if (!pad) {
      g_debug ("media: the answer does not send our %s", source_kind_name (sender->kind));
      continue;
    }
    if (sender->kind == SOURCE_VIDEO)
      ok = build_video_sender (self, sender->transceiver, sender->pt, sender->twcc_id, error);
    else
      ok = build_audio_sender (self, sender->transceiver, sender->pt, sender->twcc_id, error);
    if (!ok)
      return FALSE;
    attach_device (self, sender->kind);
  }
  g_ptr_array_set_size (self->pending_senders, 0);
  return TRUE;
}

static void
flush_pending_candidates (VchatdMedia *self)
{
  guint i;

  self->candidates_ready = TRUE;
  for (i = 0; i < self->pending_candidates->len; i++) {
    PendingCandidate *c = &g_array_index (self->pending_candidates, PendingCandidate, i);

    if (c->mline < self->remote_media_count)
      g_signal_emit_by_name (self->webrtc, "add-ice-candidate", c->mline, c->candidate);
  }
  g_array_set_size (self->pending_candidates, 0);
}

static void
on_answer_set (VchatdMedia *self, const GstStructure *reply, gpointer data)
{
  GstWebRTCSessionDescription *answer = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  if (!link_answer_senders (self, &error)) {
    media_fail (self, VCHATD_MEDIA_FAILURE_LOCAL, "cannot send: %s", error->message);
    return;
  }
  text = gst_sdp_message_as_text (answer->sdp);
  g_debug ("media: answer:\n%s", text);
  local_description_sent (self, "answer", text);
  if (!is_stopped (self))
    flush_pending_candidates (self);
}

static void
on_answer_created (VchatdMedia *self, const GstStructure *reply, gpointer data)
{
  GstWebRTCSessionDescription *answer = NULL;

  if (reply)
    gst_structure_get (reply, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer, NULL);
  if (!answer) {
    media_fail (self, VCHATD_MEDIA_FAILURE_LOCAL, "webrtcbin made no answer");
    return;
  }
  run_step (self, "set-local-description", answer, "use its answer", VCHATD_MEDIA_FAILURE_LOCAL,
            on_answer_set, answer, (GDestroyNotify) gst_webrtc_session_description_free);
}

static void
on_remote_description_set (VchatdMedia *self, const GstStructure *reply, gpointer data)
{
  self->remote_description_set = TRUE;
  if (self->role == VCHATD_MEDIA_ROLE_ANSWERER)
    run_step (self, "create-answer", NULL, "create an answer", VCHATD_MEDIA_FAILURE_LOCAL,
              on_answer_created, NULL, NULL);
  else
    flush_pending_candidates (self);
}

/* What the peer sends between start() and stop() is all a session takes. */
static gboolean
check_running (VchatdMedia *self, GError **error)
{
  if (!is_stopped (self) && self->state != VCHATD_MEDIA_STATE_NEW)
    return TRUE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                       "The media session is not running");
  return FALSE;
}

gboolean
vchatd_media_set_remote_description (VchatdMedia *self, const char *type, const char *sdp,
                                     GError **error)
{
  g_autoptr (GstSDPMessage) msg = NULL;
  GstWebRTCSessionDescription *desc;
  GstWebRTCSDPType sdp_type;

  g_return_val_if_fail (VCHATD_IS_MEDIA (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_running (self, error))
    return FALSE;
  if (g_strcmp0 (type, "offer") == 0 && self->role == VCHATD_MEDIA_ROLE_ANSWERER) {
    sdp_type = GST_WEBRTC_SDP_TYPE_OFFER;
  } else if (g_strcmp0 (type, "answer") == 0 && self->role == VCHATD_MEDIA_ROLE_OFFERER) {
    sdp_type = GST_WEBRTC_SDP_TYPE_ANSWER;
  } else {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "Got a session description of type “%s” but expected an %s",
                 type ? type : "(none)",
                 self->role == VCHATD_MEDIA_ROLE_ANSWERER ? "offer" : "answer");
    return FALSE;
  }
  if (self->remote_description_given) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                         "Renegotiation is not supported: start a new media session");
    return FALSE;
  }
  msg = vchatd_sdp_parse_remote (sdp, error);
  if (!msg)
    return FALSE;
  if (sdp_type == GST_WEBRTC_SDP_TYPE_ANSWER) {
    g_autoptr (GstWebRTCSessionDescription) offer = NULL;

    g_object_get (self->webrtc, "local-description", &offer, NULL);
    if (!vchatd_sdp_check_answer (offer ? offer->sdp : NULL, msg, error))
      return FALSE;
  }
  self->remote_media_count = gst_sdp_message_medias_len (msg);

  if (sdp_type == GST_WEBRTC_SDP_TYPE_OFFER)
    prepare_answer_transceivers (self, msg);

  /* What webrtcbin refuses here is the peer's fault; the steps after it
   * (the answer) are ours. */
  self->remote_description_given = TRUE;
  desc = gst_webrtc_session_description_new (sdp_type, g_steal_pointer (&msg));
  run_step (self, "set-remote-description", desc, "use the peer's session description",
            VCHATD_MEDIA_FAILURE_PEER, on_remote_description_set, desc,
            (GDestroyNotify) gst_webrtc_session_description_free);
  return TRUE;
}

gboolean
vchatd_media_add_remote_candidate (VchatdMedia *self, guint mline_index, const char *candidate,
                                   GError **error)
{
  gboolean skip;

  g_return_val_if_fail (VCHATD_IS_MEDIA (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_running (self, error))
    return FALSE;
  if (mline_index >= VCHATD_SDP_MAX_MEDIA ||
      (self->remote_description_given && mline_index >= self->remote_media_count)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "The peer's ICE candidate is for media %u, which does not exist", mline_index);
    return FALSE;
  }
  if (!candidate || !*candidate) {
    /* End of candidates: libnice needs no word of it. */
    return TRUE;
  }
  if (!vchatd_sdp_check_candidate (candidate, &skip, error))
    return FALSE;
  if (skip) {
    g_debug ("media: ignoring a candidate without an IP address");
    return TRUE;
  }
  if (g_str_has_prefix (candidate, "a="))
    candidate += 2;
  g_debug ("media: remote candidate %u %s%s", mline_index, candidate,
           self->candidates_ready ? "" : " (held until the description is in use)");
  if (!self->candidates_ready) {
    PendingCandidate c = { mline_index, g_strdup (candidate) };

    g_array_append_val (self->pending_candidates, c);
    return TRUE;
  }
  g_signal_emit_by_name (self->webrtc, "add-ice-candidate", mline_index, candidate);
  return TRUE;
}

/* Stats */

/* Once a second, from the stats: the call's Quality (vchatd-quality.h). */
static void
update_quality (VchatdMedia *self, const VchatdStatsScan *scan, gdouble fps)
{
  gint now = session_ms (self);
  gint last = g_atomic_int_get (&self->last_frame_ms);
  guint longest = (guint) g_atomic_int_exchange (&self->longest_freeze_ms, 0);
  guint worst = 0;
  gdouble loss;
  guint i;

  /* A freeze still going on counts too. */
  if (g_atomic_int_get (&self->frames_decoded) > 0 && now - last > FREEZE_MS)
    longest = MAX (longest, (guint) (now - last));
  self->freeze_slot = (self->freeze_slot + 1) % G_N_ELEMENTS (self->freeze_window);
  self->freeze_window[self->freeze_slot] = longest;
  for (i = 0; i < G_N_ELEMENTS (self->freeze_window); i++)
    worst = MAX (worst, self->freeze_window[i]);
  if (self->state != VCHATD_MEDIA_STATE_CONNECTED) {
    self->quality = NULL;
    return;
  }
  loss = MAX (self->recv_loss_pct, scan->fraction_lost * 100.0);
  /* No video is expected from a peer that sends none (a camera off sends
   * black frames, which count). */
  self->quality = vchatd_quality_to_string (vchatd_quality_from_stats (
    MAX (loss, 0.0), scan->rtt > 0 ? (guint) (scan->rtt * 1000) : 0,
    g_atomic_int_get (&self->frames_decoded) > 0 && fps >= 0 ? fps : -1.0, worst,
    self->target_kbps));
}

static void
on_stats_main (VchatdMedia *self, gpointer data)
{
  const GstStructure *reply = data;
  VchatdStatsScan scan;
  GVariantBuilder b;
  gint64 now = g_get_monotonic_time ();
  gdouble elapsed = self->last_stats_us ? (now - self->last_stats_us) / (gdouble) G_USEC_PER_SEC
                                        : 0;
  guint frames = (guint) g_atomic_int_get (&self->frames_decoded);
  gint width = g_atomic_int_get (&self->recv_width);
  gint height = g_atomic_int_get (&self->recv_height);

  self->stats_pending = FALSE;
  if (!reply)
    return;
  vchatd_stats_scan (reply, &scan);
  if (scan.rtt > 0)
    vchatd_rate_control_on_rtt (self->rate_control, now, (gint64) (scan.rtt * G_USEC_PER_SEC));

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  if (scan.rtt >= 0)
    g_variant_builder_add (&b, "{sv}", "rtt-ms", g_variant_new_double (scan.rtt * 1000.0));
  if (elapsed > 0.1) {
    g_variant_builder_add (
      &b, "{sv}", "send-kbps",
      g_variant_new_double ((scan.bytes_sent - MIN (scan.bytes_sent, self->last_bytes_sent)) * 8.0 /
                            1000.0 / elapsed));
    g_variant_builder_add (
      &b, "{sv}", "recv-kbps",
      g_variant_new_double (
        (scan.bytes_received - MIN (scan.bytes_received, self->last_bytes_received)) * 8.0 /
        1000.0 / elapsed));
    if (self->have_video_track)
      g_variant_builder_add (
        &b, "{sv}", "recv-fps",
        g_variant_new_double ((frames - MIN (frames, self->last_frames)) / elapsed));
  }
  /* The rate controller's output (audio and video), its estimate of the
   * path, and the ceiling (max-bitrate, video) it works under. */
  g_variant_builder_add (&b, "{sv}", "target-kbps", g_variant_new_double (self->target_kbps));
  g_variant_builder_add (&b, "{sv}", "max-kbps", g_variant_new_double (self->max_bitrate_kbps));
  if (vchatd_rate_control_get_acked_kbps (self->rate_control) > 0)
    g_variant_builder_add (
      &b, "{sv}", "available-kbps",
      g_variant_new_double (vchatd_rate_control_get_estimate_kbps (self->rate_control)));
  if (self->video_encoder && self->rung_text)
    g_variant_builder_add (&b, "{sv}", "rung", g_variant_new_string (self->rung_text));
  if (self->video_encoder)
    g_variant_builder_add (&b, "{sv}", "cpu-limited",
                           g_variant_new_boolean (vchatd_ladder_is_cpu_limited (self->ladder)));
  /* Lost on the way to the peer: what the peer's RTCP says (the feedback's
   * own count when there is TWCC); and on the way here. */
  {
    gdouble send_loss = vchatd_rate_control_get_acked_kbps (self->rate_control) > 0
                          ? vchatd_rate_control_get_loss_pct (self->rate_control)
                          : scan.fraction_lost * 100.0;
    guint64 received = scan.packets_received - MIN (scan.packets_received,
                                                     self->last_packets_received);
    guint64 lost = scan.packets_lost - MIN (scan.packets_lost, self->last_packets_lost);

    if (send_loss >= 0)
      g_variant_builder_add (&b, "{sv}", "loss-pct", g_variant_new_double (send_loss));
    if (received + lost > 0)
      self->recv_loss_pct = 100.0 * lost / (received + lost);
    if (scan.packets_received > 0)
      g_variant_builder_add (&b, "{sv}", "recv-loss-pct",
                             g_variant_new_double (self->recv_loss_pct));
    self->last_packets_received = scan.packets_received;
    self->last_packets_lost = scan.packets_lost;
  }
  if (width > 0 && height > 0) {
    g_variant_builder_add (&b, "{sv}", "recv-width", g_variant_new_uint32 (width));
    g_variant_builder_add (&b, "{sv}", "recv-height", g_variant_new_uint32 (height));
  }
  if (self->have_video_track) {
    /* 1.22 has no framesDecoded: counted by a probe after the decoder. */
    g_variant_builder_add (&b, "{sv}", "frames-decoded", g_variant_new_uint64 (frames));
    g_variant_builder_add (&b, "{sv}", "freezes",
                           g_variant_new_uint32 ((guint32) g_atomic_int_get (&self->freezes)));
    g_variant_builder_add (&b, "{sv}", "video-codec", g_variant_new_string ("VP8"));
  }
  if (self->have_audio_track)
    g_variant_builder_add (&b, "{sv}", "audio-codec", g_variant_new_string ("opus"));
  if (scan.local_candidate)
    g_variant_builder_add (&b, "{sv}", "local-candidate",
                           g_variant_new_string (scan.local_candidate));
  if (scan.remote_candidate)
    g_variant_builder_add (&b, "{sv}", "remote-candidate",
                           g_variant_new_string (scan.remote_candidate));

  update_quality (self, &scan, elapsed > 0.1 ? (frames - MIN (frames, self->last_frames)) / elapsed
                                             : -1.0);
  if (self->quality)
    g_variant_builder_add (&b, "{sv}", "quality", g_variant_new_string (self->quality));

  self->last_bytes_sent = scan.bytes_sent;
  self->last_bytes_received = scan.bytes_received;
  self->last_frames = frames;
  self->last_stats_us = now;
  g_clear_pointer (&self->stats, g_variant_unref);
  self->stats = g_variant_ref_sink (g_variant_builder_end (&b));
  g_signal_emit (self, signals[SIGNAL_STATS_UPDATED], 0);
}

static gboolean
drop_reference (gpointer data)
{
  return G_SOURCE_REMOVE;
}

/* The stats promise may be freed on webrtcbin's thread; the last reference
 * to the session must not be dropped there. */
static void
unref_on_main (gpointer data)
{
  VchatdMedia *self = data;
  g_autoptr (GSource) source = g_idle_source_new ();

  g_source_set_callback (source, drop_reference, self, g_object_unref);
  g_source_attach (source, self->context);
}

static void
on_stats_reply (GstPromise *promise, gpointer data)
{
  VchatdMedia *self = data;
  const GstStructure *reply = NULL;

  /* webrtcbin's thread: copy, and read on the main context. */
  if (gst_promise_wait (promise) == GST_PROMISE_RESULT_REPLIED)
    reply = gst_promise_get_reply (promise);
  run_on_main (self, on_stats_main, reply ? gst_structure_copy (reply) : NULL,
               (GDestroyNotify) gst_structure_free);
}

static void
request_stats (VchatdMedia *self)
{
  GstPromise *promise;

  if (self->stats_pending)
    return;
  self->stats_pending = TRUE;
  promise = gst_promise_new_with_change_func (on_stats_reply, g_object_ref (self), unref_on_main);
  g_signal_emit_by_name (self->webrtc, "get-stats", NULL, promise);
  gst_promise_unref (promise);
}

static gboolean
on_tick (gpointer data)
{
  /* A handler of the signals below may drop the last other reference. */
  g_autoptr (VchatdMedia) self = g_object_ref (data);

  check_watchdog (self);
  check_negotiation (self);
  if (!is_stopped (self) &&
      (self->state == VCHATD_MEDIA_STATE_CONNECTING || self->state == VCHATD_MEDIA_STATE_CONNECTED))
    request_stats (self);
  return G_SOURCE_CONTINUE;
}

static GstPadProbeReturn
on_frame_decoded (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  VchatdMedia *self = data;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    gint now = session_ms (self);
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

  if (!g_signal_has_handler_pending (self, signals[SIGNAL_REMOTE_VIDEO_FRAME], 0, FALSE))
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

  g_signal_emit (self, signals[SIGNAL_REMOTE_VIDEO_FRAME], 0, thumb->width, thumb->height,
                 thumb->rgb);
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
  run_on_main (self, on_thumbnail_main, thumb, thumbnail_free);
  return GST_FLOW_OK;
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

  if (is_stopped (self))
    return G_SOURCE_CONTINUE;

  switch (GST_MESSAGE_TYPE (message)) {
  case GST_MESSAGE_ERROR:
    gst_message_parse_error (message, &error, &debug);
    /* From an element already removed (a replaced source): old news. */
    if (src != GST_OBJECT (self->pipeline) &&
        !gst_object_has_as_ancestor (src, GST_OBJECT (self->pipeline)))
      break;
    if ((output = find_output (self, src))) {
      output_failed (self, output, error->message);
      return G_SOURCE_CONTINUE;
    }
    for (kind = 0; kind < N_SOURCES; kind++) {
      Device *device = self->sources[kind].device;

      if (device && (src == GST_OBJECT (device->element) ||
                     gst_object_has_as_ancestor (src, GST_OBJECT (device->element)))) {
        device_failed (self, kind, error->message);
        return G_SOURCE_CONTINUE;
      }
    }
    /* From a device on its way out: it is gone already for the call. */
    if (find_tagged (self, src, "vchatd-device"))
      return G_SOURCE_CONTINUE;
    g_debug ("media: %s: %s (%s)", GST_OBJECT_NAME (src), error->message, debug ? debug : "");
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

static void
set_state (VchatdMedia *self, VchatdMediaState state)
{
  if (self->state == state)
    return;
  g_debug ("media: %s → %s", vchatd_media_state_to_string (self->state),
           vchatd_media_state_to_string (state));
  self->state = state;
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

void
vchatd_media_install_log_filters (void)
{
  g_log_set_handler ("GLib", G_LOG_LEVEL_CRITICAL | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
                     on_glib_critical, NULL);
  g_test_log_set_fatal_handler (on_fatal_log, NULL);
}

/* The session cannot go on: says why, once, and fails. */
static void
media_fail (VchatdMedia *self, VchatdMediaFailure failure, const char *format, ...)
{
  va_list args;

  if (is_stopped (self) || self->state == VCHATD_MEDIA_STATE_FAILED)
    return;
  va_start (args, format);
  self->failure_message = g_strdup_vprintf (format, args);
  va_end (args);
  self->failure = failure;
  if (failure == VCHATD_MEDIA_FAILURE_PEER_LOST)
    g_message ("media: %s: the call is lost", self->failure_message);
  else
    g_warning ("media: %s", self->failure_message);
  set_state (self, VCHATD_MEDIA_STATE_FAILED);
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
  self->role = role;
  self->has_video = self->camera_target || self->video_source_description;
  self->has_audio = self->microphone_target || self->audio_source_description;
  if (self->node_name_prefix)
    self->remote_video_node = g_strdup_printf ("%s-remote", self->node_name_prefix);
  {
    /* max-bitrate is the video's ceiling; the audio comes on top. */
    VchatdRateControlConfig rc = { MIN_KBPS, START_KBPS,
                                   self->max_bitrate_kbps + VCHATD_AUDIO_MAX_KBPS };

    self->rate_control = vchatd_rate_control_new (&rc);
    self->target_kbps = vchatd_rate_control_get_target_kbps (self->rate_control);
    self->audio_policy = vchatd_audio_policy_for (self->target_kbps, 0);
    self->video_kbps = vchatd_audio_policy_video_kbps (&self->audio_policy, self->target_kbps);
  }
  /* The first rung, for a camera of unknown size; the ladder picks again
   * once the camera's picture is known. */
  self->ladder = vchatd_ladder_new (0, 0, 0);
  vchatd_ladder_update (self->ladder, g_get_monotonic_time (), self->video_kbps, &self->rung);
  self->rung_text = vchatd_ladder_rung_to_string (&self->rung);
  self->twcc = vchatd_twcc_tap_new ();
  return self;
}

static gboolean
build_pipeline (VchatdMedia *self, GError **error)
{
  static gint next_association_id;
  g_autoptr (GstBus) bus = NULL;
  g_autoptr (GObject) ice = NULL;
  g_autoptr (GObject) agent = NULL;
  guint i;

  self->pipeline = gst_pipeline_new ("vchat-media");
  gst_object_ref_sink (self->pipeline);
  /* pipewiresrc offers its node's clock: devices come and go during a
   * call, the pipeline's clock must not go with them. */
  {
    g_autoptr (GstClock) clock = gst_system_clock_obtain ();

    gst_pipeline_use_clock (GST_PIPELINE (self->pipeline), clock);
  }
  /* 1.22: see on_deep_element_added(); 1..65534, unique among live sessions. */
  self->sctp_association_id = (guint) (g_atomic_int_add (&next_association_id, 1) % 65534) + 1;
  g_signal_connect (self->pipeline, "deep-element-added", G_CALLBACK (on_deep_element_added), self);

  self->webrtc = make_element ("webrtcbin", "webrtc", error);
  if (!self->webrtc)
    return FALSE;
  gst_bin_add (GST_BIN (self->pipeline), self->webrtc);
  gst_util_set_object_arg (G_OBJECT (self->webrtc), "bundle-policy", "max-bundle");
  if (self->stun_server)
    g_object_set (self->webrtc, "stun-server", self->stun_server, NULL);
  for (i = 0; self->turn_servers && self->turn_servers[i]; i++) {
    gboolean ok = FALSE;

    g_signal_emit_by_name (self->webrtc, "add-turn-server", self->turn_servers[i], &ok);
    if (!ok) {
      /* Without the user:password part: errors reach logs and D-Bus. */
      const char *url = self->turn_servers[i];
      const char *at = strchr (url, '@');
      const char *scheme_end = strstr (url, "://");
      g_autofree char *shown = at && scheme_end && scheme_end < at
                                 ? g_strdup_printf ("%.*s://%s", (int) (scheme_end - url), url,
                                                    at + 1)
                                 : g_strdup (url);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The TURN server URL “%s” is not valid", shown);
      return FALSE;
    }
  }
  if (self->relay_only)
    gst_util_set_object_arg (G_OBJECT (self->webrtc), "ice-transport-policy", "relay");
  /* 1.22: a vanished peer is otherwise not noticed for minutes. */
  g_object_get (self->webrtc, "ice-agent", &ice, NULL);
  if (ice && g_object_class_find_property (G_OBJECT_GET_CLASS (ice), "agent"))
    g_object_get (ice, "agent", &agent, NULL);
  /* UPnP port mapping starts a GUPnP context manager per agent: sockets,
   * SSDP traffic and seconds of delay for what STUN and TURN already do. */
  if (agent)
    g_object_set (agent, "keepalive-conncheck", TRUE, "upnp", FALSE, NULL);
  for (i = 0; ice && self->ice_addresses && self->ice_addresses[i]; i++) {
    gboolean ok = FALSE;

    g_signal_emit_by_name (ice, "add-local-ip-address", self->ice_addresses[i], &ok);
    if (!ok)
      g_warning ("media: cannot gather ICE candidates on %s", self->ice_addresses[i]);
  }

  g_signal_connect (self->webrtc, "on-negotiation-needed", G_CALLBACK (on_negotiation_needed),
                    self);
  g_signal_connect (self->webrtc, "on-ice-candidate", G_CALLBACK (on_ice_candidate), self);
  g_signal_connect (self->webrtc, "on-data-channel", G_CALLBACK (on_data_channel), self);
  g_signal_connect (self->webrtc, "pad-added", G_CALLBACK (on_pad_added), self);
  g_signal_connect (self->webrtc, "request-aux-sender", G_CALLBACK (on_request_aux_sender), self);
  g_signal_connect (self->webrtc, "notify::ice-connection-state", G_CALLBACK (on_ice_state_notify),
                    self);
  g_signal_connect (self->webrtc, "notify::connection-state", G_CALLBACK (on_ice_state_notify),
                    self);
  g_signal_connect (self->webrtc, "notify::ice-gathering-state", G_CALLBACK (on_gathering_notify),
                    self);

  if (self->has_video && !build_video_source_chain (self, error))
    return FALSE;
  if (self->role == VCHATD_MEDIA_ROLE_OFFERER) {
    if (self->has_video ? !build_video_sender (self, NULL, VIDEO_PT, TWCC_ID, error)
                        : !add_recvonly_transceiver (self, SOURCE_VIDEO, error))
      return FALSE;
    if (self->has_audio ? !build_audio_sender (self, NULL, AUDIO_PT, TWCC_ID, error)
                        : !add_recvonly_transceiver (self, SOURCE_AUDIO, error))
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
    teardown (self);
    self->state = VCHATD_MEDIA_STATE_STOPPED;
    return FALSE;
  }
  if (gst_element_set_state (self->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                         "Cannot start the call's media pipeline");
    teardown (self);
    self->state = VCHATD_MEDIA_STATE_STOPPED;
    return FALSE;
  }

  if (self->role == VCHATD_MEDIA_ROLE_OFFERER) {
    g_autoptr (GstWebRTCDataChannel) channel = NULL;

    /* Before the offer, so that it carries the SCTP m-line. */
    g_signal_emit_by_name (self->webrtc, "create-data-channel", "chat", NULL, &channel);
    if (channel) {
      g_mutex_lock (&self->lock);
      adopt_channel (self, channel);
      g_mutex_unlock (&self->lock);
    } else {
      g_warning ("media: webrtcbin made no data channel: the call has no chat");
    }
    attach_device (self, SOURCE_VIDEO);
    attach_device (self, SOURCE_AUDIO);
  } else {
    /* The answerer's encoders wait for the offer; the preview can start. */
    attach_device (self, SOURCE_VIDEO);
  }
  if (self->preview_output)
    start_output (self, self->preview_output);

  self->tick_source = g_timeout_source_new_seconds (1);
  g_source_set_callback (self->tick_source, on_tick, self, NULL);
  g_source_set_static_name (self->tick_source, "[vchatd-media] tick");
  g_source_attach (self->tick_source, self->context);
  self->control_source = g_timeout_source_new (CONTROL_MS);
  g_source_set_callback (self->control_source, on_control_tick, self, NULL);
  g_source_set_static_name (self->control_source, "[vchatd-media] rate control");
  g_source_attach (self->control_source, self->context);
  self->watch_source = g_timeout_source_new (WATCH_MS);
  g_source_set_callback (self->watch_source, on_watch, self, NULL);
  g_source_set_static_name (self->watch_source, "[vchatd-media] device watch");
  g_source_attach (self->watch_source, self->context);
  /* Signals are not emitted from inside calls into this API. */
  self->state = VCHATD_MEDIA_STATE_CONNECTING;
  run_on_main (self, notify_state_main, NULL, NULL);
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

/* Shared by the teardown job and its watch (g_atomic_rc_box). */
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
  self->video_encoder = NULL;
  self->volume = NULL;
  self->preview_output = NULL;
  g_debug ("media: the pipeline has stopped");
  /* The devices and outputs too: each PipeWire element holds a buffer pool
   * (with a socket pair) until it is finalized. */
  for (guint kind = 0; kind < N_SOURCES; kind++) {
    SourceSlot *slot = &self->sources[kind];

    g_clear_pointer (&slot->device, device_unref);
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
  g_mutex_lock (&reaping_lock);
  reaping--;
  g_cond_broadcast (&reaping_cond);
  g_mutex_unlock (&reaping_lock);
}

/* GStreamer's thread pool. The sources first (so nothing waits for them),
 * then the outputs (so no branch stays blocked in one), then the rest. */
static void
reap_job (GstElement *pipeline, gpointer data)
{
  Reap *reap = data;
  guint i;

  for (i = 0; i < reap->devices->len; i++)
    stop_device (g_ptr_array_index (reap->devices, i));
  for (i = 0; i < reap->sources->len; i++)
    stop_locked (g_ptr_array_index (reap->sources, i));
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
static void
teardown (VchatdMedia *self)
{
  GstWebRTCDataChannel *channel;
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
  outputs = g_ptr_array_ref (self->outputs);
  g_mutex_unlock (&self->lock);

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
  if (!self->pipeline)
    return;
  g_signal_handlers_disconnect_by_data (self->pipeline, self);
  if (self->webrtc)
    g_signal_handlers_disconnect_by_data (self->webrtc, self);
  g_ptr_array_set_size (self->pending_senders, 0);

  reap = g_new0 (Reap, 1);
  reap->self = g_object_ref (self);
  reap->devices = g_ptr_array_new_with_free_func (device_unref);
  reap->sources = g_ptr_array_new_with_free_func (gst_object_unref);
  reap->sinks = g_ptr_array_new_with_free_func (gst_object_unref);
  reap->state = g_atomic_rc_box_new0 (ReapState);
  for (kind = 0; kind < N_SOURCES; kind++) {
    SourceSlot *slot = &self->sources[kind];

    if (slot->device)
      g_ptr_array_add (reap->devices, device_ref (slot->device));
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
  g_source_set_static_name (late, "[vchatd-media] teardown watch");
  g_source_attach (late, self->context);
  g_mutex_lock (&reaping_lock);
  reaping++;
  g_mutex_unlock (&reaping_lock);
  gst_element_call_async (self->pipeline, reap_job, reap, reap_free);
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
  teardown (self);
  set_state (self, VCHATD_MEDIA_STATE_STOPPED);
}

gboolean
vchatd_media_send_message (VchatdMedia *self, const char *text, GError **error)
{
  g_autoptr (GstWebRTCDataChannel) channel = NULL;
  GstWebRTCDataChannelState ready = GST_WEBRTC_DATA_CHANNEL_STATE_CLOSED;

  g_return_val_if_fail (VCHATD_IS_MEDIA (self), FALSE);
  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_mutex_lock (&self->lock);
  if (self->channel)
    channel = g_object_ref (self->channel);
  g_mutex_unlock (&self->lock);
  if (channel)
    g_object_get (channel, "ready-state", &ready, NULL);
  if (ready != GST_WEBRTC_DATA_CHANNEL_STATE_OPEN) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                         "The chat is not connected yet");
    return FALSE;
  }
  /* Browsers assume 64 KiB when max-message-size is not advertised (1.22). */
  if (strlen (text) > 65535) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                         "The message is too long");
    return FALSE;
  }
  return gst_webrtc_data_channel_send_string_full (channel, text, error);
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
  if (self->video_source_description || !slot->selector || is_stopped (self) ||
      self->state == VCHATD_MEDIA_STATE_NEW)
    return;

  g_debug ("media: switching the camera to %s", target ? target : "none");
  detach_device (self, SOURCE_VIDEO);
  clear_source (&slot->retry);
  slot->retries = 2;
  if (!target) {
    slot->retries = 0;
    device_failed (self, SOURCE_VIDEO, "it went away, and there is no other camera");
    return;
  }
  /* A new camera is a new start: its failure is news again. */
  slot->reported = FALSE;
  attach_device (self, SOURCE_VIDEO);
}

void
vchatd_media_set_max_bitrate (VchatdMedia *self, guint kbps)
{
  g_return_if_fail (VCHATD_IS_MEDIA (self));

  self->max_bitrate_kbps = kbps ? kbps : DEFAULT_MAX_BITRATE_KBPS;
  /* The ceiling holds at once; vp8enc takes a new target while playing. */
  vchatd_rate_control_set_max_kbps (self->rate_control,
                                    self->max_bitrate_kbps + VCHATD_AUDIO_MAX_KBPS);
  if (self->pipeline && !is_stopped (self))
    apply_target (self, g_get_monotonic_time (),
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
vchatd_media_get_remote_video_node (VchatdMedia *self)
{
  gboolean has_data = FALSE;

  g_return_val_if_fail (VCHATD_IS_MEDIA (self), NULL);

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->outputs->len; i++) {
    Output *output = self->outputs->pdata[i];

    if (g_str_equal (output->device, "remote-video-node"))
      has_data = g_atomic_int_get (&output->has_data);
  }
  g_mutex_unlock (&self->lock);
  return has_data ? self->remote_video_node : NULL;
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
  g_clear_pointer (&self->rate_control, vchatd_rate_control_free);
  g_clear_pointer (&self->ladder, vchatd_ladder_free);
  g_clear_pointer (&self->twcc, vchatd_twcc_tap_unref);
  g_strfreev (self->turn_servers);
  g_strfreev (self->ice_addresses);
  g_free (self->node_name_prefix);
  g_free (self->remote_video_node);
  g_free (self->preview_node);
  g_clear_pointer (&self->stats, g_variant_unref);
  for (guint kind = 0; kind < N_SOURCES; kind++) {
    g_clear_pointer (&self->sources[kind].device, device_unref);
    gst_clear_object (&self->sources[kind].fallback_pad);
  }
  g_ptr_array_unref (self->outputs);
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

  signals[SIGNAL_LOCAL_DESCRIPTION] = g_signal_new ("local-description", G_TYPE_FROM_CLASS (klass),
                                                    G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                    G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_LOCAL_CANDIDATE] = g_signal_new ("local-candidate", G_TYPE_FROM_CLASS (klass),
                                                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                  G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_STRING);
  signals[SIGNAL_MESSAGE_RECEIVED] = g_signal_new ("message-received", G_TYPE_FROM_CLASS (klass),
                                                   G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                   G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_STATS_UPDATED] = g_signal_new ("stats-updated", G_TYPE_FROM_CLASS (klass),
                                                G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                                0);
  signals[SIGNAL_REMOTE_VIDEO_FRAME] = g_signal_new (
    "remote-video-frame", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
    G_TYPE_NONE, 3, G_TYPE_UINT, G_TYPE_UINT, G_TYPE_BYTES);
  signals[SIGNAL_DEVICE_FAILED] = g_signal_new ("device-failed", G_TYPE_FROM_CLASS (klass),
                                                G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                                2, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_DEVICE_RESTORED] = g_signal_new ("device-restored", G_TYPE_FROM_CLASS (klass),
                                                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                  G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
vchatd_media_init (VchatdMedia *self)
{
  g_mutex_init (&self->lock);
  self->context = g_main_context_ref_thread_default ();
  self->state = VCHATD_MEDIA_STATE_NEW;
  self->pending_senders = g_ptr_array_new_with_free_func (pending_sender_free);
  self->pending_candidates = g_array_new (FALSE, TRUE, sizeof (PendingCandidate));
  g_array_set_clear_func (self->pending_candidates, pending_candidate_clear);
  self->pending_local_candidates = g_ptr_array_new_with_free_func (g_free);
  self->outputs = g_ptr_array_new_with_free_func (output_free);
  gst_video_info_init (&self->black_info);
}
