/* vchatd-media-peer.c: webrtcbin: transceivers, negotiation from promise callbacks,
 * candidates, the data channel, ICE and the inbound watchdog
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-media-private.h"

#include <string.h>

/* webrtcbin's promises: each negotiation step goes on from the main context
 *
 * webrtcbin answers a promise on its own thread. The change function copies
 * the answer and hands it to the main context with media_run_on_main(), where the
 * next step runs; nothing waits for a promise. A step that webrtcbin never
 * answers is caught by media_check_negotiation() on the one-second tick. */

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


static void
promise_step_free (gpointer data)
{
  PromiseStep *step = data;

  if (step->destroy && step->data)
    step->destroy (step->data);
  media_unref_on_main (step->self);
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
    return; /* a step given up on (media_check_negotiation) */
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
  media_run_on_main (step->self, on_promise_result_main, result, promise_result_free);
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
void
media_check_negotiation (VchatdMedia *self)
{
  if (!self->step_what || g_get_monotonic_time () < self->step_deadline_us)
    return;
  media_fail (self, VCHATD_MEDIA_FAILURE_LOCAL, "webrtcbin did not %s within %d s",
              self->step_what, (int) (STEP_TIMEOUT_US / G_USEC_PER_SEC));
  self->step_serial++;
  self->step_what = NULL;
}

gboolean
media_add_twcc_extension (GstElement *payloader, guint id, GError **error)
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
GstWebRTCRTPTransceiver *
media_link_to_webrtc (VchatdMedia *self, GstElement *last, GstWebRTCRTPTransceiver *expected,
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

/* vchatd's H.264 as an offerer: constrained baseline, level 3.1 (what
 * Chromium and Safari offer first). */
#define OFFER_H264_PT 102
#define OFFER_H264_PROFILE "42e01f"
/* vchatd's VP9 as an offerer, to another vchatd: profile 0. */
#define OFFER_VP9_PT 98

gboolean
media_vp9_usable (void)
{
  static gsize usable;

  if (g_once_init_enter (&usable)) {
    static const char *const factories[] = { "vp9enc", "vp9dec", "rtpvp9pay", "rtpvp9depay" };
    gsize ok = g_strcmp0 (g_getenv ("VCHATD_VP9"), "1") == 0 ? 2 : 1;

    for (guint i = 0; i < G_N_ELEMENTS (factories) && ok == 2; i++) {
      g_autoptr (GstElementFactory) factory = gst_element_factory_find (factories[i]);

      if (!factory) {
        g_debug ("media: no %s: VP8 between vchatds too", factories[i]);
        ok = 1;
      }
    }
    g_once_init_leave (&usable, ok);
  }
  return usable == 2;
}

static GstCaps *
rtp_caps (VchatdMedia *self, SourceKind kind, guint pt, guint twcc_id)
{
  GstCaps *caps;

  if (kind == SOURCE_VIDEO && self->video_codec == VIDEO_CODEC_H264)
    caps = gst_caps_new_simple ("application/x-rtp", "media", G_TYPE_STRING, "video",
                                "encoding-name", G_TYPE_STRING, "H264", "payload", G_TYPE_INT,
                                (gint) pt, "clock-rate", G_TYPE_INT, 90000, "packetization-mode",
                                G_TYPE_STRING, "1", "profile-level-id", G_TYPE_STRING,
                                self->h264_profile, "level-asymmetry-allowed", G_TYPE_STRING, "1",
                                NULL);
  else if (kind == SOURCE_VIDEO)
    caps = gst_caps_new_simple ("application/x-rtp", "media", G_TYPE_STRING, "video",
                                "encoding-name", G_TYPE_STRING,
                                self->video_codec == VIDEO_CODEC_VP9 ? "VP9" : "VP8", "payload",
                                G_TYPE_INT, (gint) pt, "clock-rate", G_TYPE_INT, 90000, NULL);
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

/* What an offerer's video offers: VP8 first (what browsers answer with,
 * and what the rate control was tuned on), then H.264 constrained baseline
 * level 3.1 in packetization-mode 1 (as browsers write it), for answerers
 * without VP8 (some Safari versions, devices with a hardware encoder). To
 * another vchatd, VP9 profile 0 comes first when media_vp9_usable() (off
 * by default: see there, and setup_vp9() in vchatd-media-send.c). An
 * answering vchatd takes
 * it only when it is first (vchatd_sdp_find_vp9_first()), so a browser,
 * which lists VP8 first, never gets it from this rule. The answer decides which one is sent: see
 * choose_answer_video(). */
static GstCaps *
offer_video_caps (VchatdMedia *self)
{
  GstCaps *caps = gst_caps_new_empty ();

  if (self->peer_vchatd && media_vp9_usable ())
    gst_caps_append_structure (
      caps, gst_structure_new ("application/x-rtp", "media", G_TYPE_STRING, "video",
                               "encoding-name", G_TYPE_STRING, "VP9", "payload", G_TYPE_INT,
                               OFFER_VP9_PT, "clock-rate", G_TYPE_INT, 90000, "profile-id",
                               G_TYPE_STRING, "0", "extmap-" G_STRINGIFY (TWCC_ID), G_TYPE_STRING,
                               VCHATD_SDP_TWCC_URI, "extmap-" G_STRINGIFY (ABS_SEND_TIME_ID),
                               G_TYPE_STRING, VCHATD_ABS_SEND_TIME_URI, NULL));
  gst_caps_append_structure (
    caps, gst_structure_new ("application/x-rtp", "media", G_TYPE_STRING, "video",
                             "encoding-name", G_TYPE_STRING, "VP8", "payload", G_TYPE_INT,
                             VIDEO_PT, "clock-rate", G_TYPE_INT, 90000,
                             "extmap-" G_STRINGIFY (TWCC_ID), G_TYPE_STRING, VCHATD_SDP_TWCC_URI,
                             "extmap-" G_STRINGIFY (ABS_SEND_TIME_ID), G_TYPE_STRING,
                             VCHATD_ABS_SEND_TIME_URI, NULL));

  gst_caps_append_structure (
    caps, gst_structure_new ("application/x-rtp", "media", G_TYPE_STRING, "video",
                             "encoding-name", G_TYPE_STRING, "H264", "payload", G_TYPE_INT,
                             OFFER_H264_PT, "clock-rate", G_TYPE_INT, 90000,
                             "packetization-mode", G_TYPE_STRING, "1", "profile-level-id",
                             G_TYPE_STRING, OFFER_H264_PROFILE, "level-asymmetry-allowed",
                             G_TYPE_STRING, "1", "extmap-" G_STRINGIFY (TWCC_ID), G_TYPE_STRING,
                             VCHATD_SDP_TWCC_URI, "extmap-" G_STRINGIFY (ABS_SEND_TIME_ID),
                             G_TYPE_STRING, VCHATD_ABS_SEND_TIME_URI, NULL));
  return caps;
}

/* The offerer's video transceiver, sending (@send) or receive-only, with
 * offer_video_caps(). A sender's encoder chain is built only once the
 * answer has chosen the codec: webrtcbin then makes the transceiver's sink
 * pad (1.22 does so when the description is in use, as for an answerer),
 * and link_pending_senders() links it. */
/* A transceiver for @kind with @caps, sending (@send) or receive-only
 * (video with NACK), kept as a sender to link once negotiated; NULL if
 * webrtcbin refused it. */
static PendingSender *
add_pending_sender (VchatdMedia *self, SourceKind kind, gboolean send, GstCaps *caps)
{
  GstWebRTCRTPTransceiver *transceiver = NULL;
  PendingSender *sender;

  g_signal_emit_by_name (self->webrtc, "add-transceiver",
                         send ? GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV
                              : GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY,
                         caps, &transceiver);
  if (!transceiver)
    return NULL;
  if (kind == SOURCE_VIDEO)
    g_object_set (transceiver, "do-nack", TRUE, NULL);
  sender = g_new0 (PendingSender, 1);
  sender->transceiver = transceiver;
  sender->kind = kind;
  sender->send = send;
  g_ptr_array_add (self->pending_senders, sender);
  return sender;
}

gboolean
media_offer_video (VchatdMedia *self, gboolean send, GError **error)
{
  g_autoptr (GstCaps) caps = offer_video_caps (self);

  if (!add_pending_sender (self, SOURCE_VIDEO, send, caps)) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                         "webrtcbin refused a video transceiver");
    return FALSE;
  }
  self->have_video_track = TRUE;
  return TRUE;
}

/* A receive-only transceiver, so that a peer with a camera can send it to a
 * session without one. */
gboolean
media_add_recvonly_transceiver (VchatdMedia *self, SourceKind kind, GError **error)
{
  g_autoptr (GstCaps) caps = rtp_caps (self, kind, kind == SOURCE_VIDEO ? VIDEO_PT : AUDIO_PT, TWCC_ID);
  g_autoptr (GstWebRTCRTPTransceiver) transceiver = NULL;

  g_signal_emit_by_name (self->webrtc, "add-transceiver",
                         GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, caps, &transceiver);
  if (!transceiver) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "webrtcbin refused a %s transceiver",
                 media_source_kind_name (kind));
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

/* Media state and the watchdog */

static void
update_connected (VchatdMedia *self)
{
  if (self->state != VCHATD_MEDIA_STATE_CONNECTING || !self->ice_connected)
    return;
  if (g_atomic_int_get (&self->media_seen) || self->channel_open)
    media_set_state (self, VCHATD_MEDIA_STATE_CONNECTED);
}

static void
on_media_started_main (VchatdMedia *self, gpointer data)
{
  g_debug ("media: inbound RTP started");
  update_connected (self);
}

GstPadProbeReturn
media_on_inbound_rtp (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  VchatdMedia *self = data;

  g_atomic_int_set (&self->last_inbound_ms, media_session_ms (self));
  if (g_atomic_int_compare_and_exchange (&self->media_seen, 0, 1))
    media_run_on_main (self, on_media_started_main, NULL, NULL);
  return GST_PAD_PROBE_OK;
}

gint
vchatd_media_get_silence_ms (VchatdMedia *self)
{
  g_return_val_if_fail (VCHATD_IS_MEDIA (self), -1);

  if (!g_atomic_int_get (&self->media_seen))
    return -1;
  return media_session_ms (self) - g_atomic_int_get (&self->last_inbound_ms);
}

void
media_check_watchdog (VchatdMedia *self)
{
  gint silent_ms;

  if (self->state != VCHATD_MEDIA_STATE_CONNECTED && self->state != VCHATD_MEDIA_STATE_CONNECTING)
    return;
  if (!g_atomic_int_get (&self->media_seen))
    return;
  silent_ms = media_session_ms (self) - g_atomic_int_get (&self->last_inbound_ms);
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
      media_fail (self, VCHATD_MEDIA_FAILURE_PEER_LOST, "ICE failed: no network path to the peer%s",
                  self->mdns_unresolved ? " (some of its addresses were mDNS names that did not "
                                          "resolve here)" : "");
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
  media_run_on_main (data, on_ice_state_main, NULL, NULL);
}

/* Local candidates */

static void
emit_local_candidate (VchatdMedia *self, const char *line)
{
  /* Stored as "<mline> <candidate>" */
  char *end = NULL;
  guint64 mline = g_ascii_strtoull (line, &end, 10);

  g_debug ("media: local candidate %u %s", (guint) mline, end && *end ? end + 1 : "(end)");
  g_signal_emit (self, vchatd_media_signals[SIGNAL_LOCAL_CANDIDATE], 0, (guint) mline,
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
  media_run_on_main (data, on_local_candidate_main,
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
    media_run_on_main (data, on_gathering_complete_main, NULL, NULL);
}

static void
local_description_sent (VchatdMedia *self, const char *type, const char *sdp)
{
  guint i;

  g_signal_emit (self, vchatd_media_signals[SIGNAL_LOCAL_DESCRIPTION], 0, type, sdp);
  if (media_is_stopped (self))
    return;
  self->local_description_sent = TRUE;
  for (i = 0; i < self->pending_local_candidates->len && !media_is_stopped (self); i++)
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
  media_run_on_main (data, on_channel_open_main, NULL, NULL);
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
  media_run_on_main (data, on_channel_close_main, NULL, NULL);
}

static void
on_channel_error (GstWebRTCDataChannel *channel, GError *error, gpointer data)
{
  g_warning ("media: data channel error: %s", error ? error->message : "unknown");
}

static void
on_message_main (VchatdMedia *self, gpointer data)
{
  g_signal_emit (self, vchatd_media_signals[SIGNAL_MESSAGE_RECEIVED], 0, (const char *) data);
}

static void
on_channel_message (GstWebRTCDataChannel *channel, const char *text, gpointer data)
{
  /* Bytes that are not UTF-8 are shown as U+FFFD rather than lost. */
  if (text)
    media_run_on_main (data, on_message_main, g_utf8_make_valid (text, -1), g_free);
}

/* Called with the lock held. */
void
media_adopt_channel (VchatdMedia *self, GstWebRTCDataChannel *channel)
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
    media_run_on_main (self, on_channel_open_main, NULL, NULL);
}

/* The control channel: JSON objects the call reads (vchatd-call.c), in
 * both directions, next to the chat. */
static void
on_control_open_main (VchatdMedia *self, gpointer data)
{
  g_debug ("media: control channel open");
  g_signal_emit (self, vchatd_media_signals[SIGNAL_CONTROL_OPEN], 0);
}

static void
on_control_open (GstWebRTCDataChannel *channel, gpointer data)
{
  media_run_on_main (data, on_control_open_main, NULL, NULL);
}

static void
on_control_main (VchatdMedia *self, gpointer data)
{
  g_signal_emit (self, vchatd_media_signals[SIGNAL_CONTROL_RECEIVED], 0, (const char *) data);
}

static void
on_control_message (GstWebRTCDataChannel *channel, const char *text, gpointer data)
{
  /* Longer than any message of ours: not one the call reads. */
  if (text && strlen (text) <= VCHATD_MEDIA_CONTROL_MAX_BYTES)
    media_run_on_main (data, on_control_main, g_strdup (text), g_free);
  else if (text)
    g_debug ("media: a control message of %" G_GSIZE_FORMAT " bytes ignored", strlen (text));
}

/* Called with the lock held. */
void
media_adopt_control (VchatdMedia *self, GstWebRTCDataChannel *channel)
{
  GstWebRTCDataChannelState ready;

  self->control = g_object_ref (channel);
  g_signal_connect (channel, "on-open", G_CALLBACK (on_control_open), self);
  g_signal_connect (channel, "on-error", G_CALLBACK (on_channel_error), self);
  g_signal_connect (channel, "on-message-string", G_CALLBACK (on_control_message), self);
  g_object_get (channel, "ready-state", &ready, NULL);
  if (ready == GST_WEBRTC_DATA_CHANNEL_STATE_OPEN)
    media_run_on_main (self, on_control_open_main, NULL, NULL);
}

static void
on_data_channel (GstElement *webrtc, GstWebRTCDataChannel *channel, gpointer data)
{
  VchatdMedia *self = data;
  g_autofree char *label = NULL;

  g_object_get (channel, "label", &label, NULL);
  g_mutex_lock (&self->lock);
  if (!self->stopping && !self->channel && g_strcmp0 (label, "chat") == 0)
    media_adopt_channel (self, channel);
  else if (!self->stopping && !self->control && g_strcmp0 (label, "ctl") == 0)
    media_adopt_control (self, channel);
  else
    g_debug ("media: ignoring the peer's data channel “%s”", label);
  g_mutex_unlock (&self->lock);
}

/* Negotiation */

/* 1.22 picks a random SCTP association id per webrtcbin, and two in one
 * process that pick the same one share an association (and hang at
 * media_teardown): give each session its own.
 *
 * A jitter buffer holds a stream's first packet for its whole latency
 * (200 ms at the start of a call) before it lets anything out, in case an
 * earlier packet is still on its way: the picture and the sound started
 * 0.2-0.4 s after the connection in the lab's logs. With faststart it
 * starts as soon as it holds FASTSTART_PACKETS packets in a row (a
 * keyframe is tens of them, and audio comes every 20 ms); a packet that
 * was overtaken at the very start is then late, as any later one would be. */
#define FASTSTART_PACKETS 3

void
media_on_deep_element_added (GstBin *bin, GstBin *sub_bin, GstElement *element, gpointer data)
{
  VchatdMedia *self = data;
  GstElementFactory *factory = gst_element_get_factory (element);
  const char *name = factory ? GST_OBJECT_NAME (factory) : NULL;

  if (g_strcmp0 (name, "sctpenc") == 0 || g_strcmp0 (name, "sctpdec") == 0)
    g_object_set (element, "sctp-association-id", self->sctp_association_id, NULL);
  if (g_strcmp0 (name, "rtpbin") == 0)
    media_remb_on_rtpbin (self, element);
  if (g_strcmp0 (name, "rtpjitterbuffer") == 0)
    g_object_set (element, "faststart-min-packets", FASTSTART_PACKETS, NULL);
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
  media_remb_add_goog_remb (offer->sdp, NULL);
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
  media_run_on_main (data, make_offer, NULL, NULL);
}

void
media_pending_sender_free (gpointer data)
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
    if (kind == SOURCE_VIDEO) {
      /* VP8 where offered; VP9 where it comes first (another vchatd, see
       * offer_video_caps()); H.264 for a peer with only that (some Safari
       * versions, devices with a hardware encoder). */
      guint vp9 = media_vp9_usable () ? vchatd_sdp_find_vp9_first (media) : G_MAXUINT;

      g_clear_pointer (&self->h264_profile, g_free);
      self->video_codec = VIDEO_CODEC_VP8;
      if (vp9 != G_MAXUINT) {
        pt = vp9;
        self->video_codec = VIDEO_CODEC_VP9;
        g_debug ("media: the peer offers VP9 first: VP9 (payload type %u)", pt);
      } else if (pt == G_MAXUINT &&
                 (pt = vchatd_sdp_find_h264 (media, &self->h264_profile)) != G_MAXUINT) {
        self->video_codec = VIDEO_CODEC_H264;
        g_debug ("media: the peer offers no VP8: H.264 (profile-level-id %s, payload type %u)",
                 self->h264_profile, pt);
      }
    }
    if (pt == G_MAXUINT)
      continue;
    used[kind] = TRUE;
    send = kind == SOURCE_VIDEO ? self->has_video : self->has_audio;
    caps = rtp_caps (self, kind, pt, vchatd_sdp_find_twcc_id (media));
    if (kind == SOURCE_VIDEO) {
      guint abs_id = vchatd_sdp_find_extmap_id (media, VCHATD_ABS_SEND_TIME_URI);

      if (abs_id) {
        g_autofree char *field = g_strdup_printf ("extmap-%u", abs_id);

        gst_caps_set_simple (caps, field, G_TYPE_STRING, VCHATD_ABS_SEND_TIME_URI, NULL);
      }
      media_remb_negotiated (self, media);
    }
    /* Transceivers cannot be removed: after an offer webrtcbin refused, the
     * next one reuses them. */
    sender = find_pending_sender (self, kind);
    if (sender)
      g_object_set (sender->transceiver, "codec-preferences", caps, NULL);
    else if (!(sender = add_pending_sender (self, kind, send, caps)))
      continue;
    if (kind == SOURCE_VIDEO)
      self->have_video_track = TRUE;
    else
      self->have_audio_track = TRUE;
    sender->pt = pt;
    sender->twcc_id = vchatd_sdp_find_twcc_id (media);
  }
}

/* 1.22 gives an answerer's transceivers their m-lines, and sink pads, only
 * when it sets its answer, and an offerer's video transceiver (see
 * media_offer_video()) its sink pad when it sets the peer's answer: the
 * encoders are linked then. */
static gboolean
link_pending_senders (VchatdMedia *self, GError **error)
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
      g_debug ("media: the answer does not send our %s", media_source_kind_name (sender->kind));
      continue;
    }
    if (sender->kind == SOURCE_VIDEO)
      ok = media_build_video_sender (self, sender->transceiver, sender->pt, sender->twcc_id, error);
    else
      ok = media_build_audio_sender (self, sender->transceiver, sender->pt, sender->twcc_id, error);
    if (!ok)
      return FALSE;
    media_attach_device (self, sender->kind);
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

  if (!link_pending_senders (self, &error)) {
    media_fail (self, VCHATD_MEDIA_FAILURE_LOCAL, "cannot send: %s", error->message);
    return;
  }
  text = gst_sdp_message_as_text (answer->sdp);
  g_debug ("media: answer:\n%s", text);
  local_description_sent (self, "answer", text);
  if (!media_is_stopped (self))
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
  {
    g_autoptr (GstWebRTCSessionDescription) offer = NULL;

    g_object_get (self->webrtc, "remote-description", &offer, NULL);
    if (offer)
      media_remb_add_goog_remb (answer->sdp, offer->sdp);
  }
  run_step (self, "set-local-description", answer, "use its answer", VCHATD_MEDIA_FAILURE_LOCAL,
            on_answer_set, answer, (GDestroyNotify) gst_webrtc_session_description_free);
}

/* The offerer's video: the codec the peer's @answer chose among those
 * offered (offer_video_caps()), which our encoder now follows. */
static gboolean
choose_answer_video (VchatdMedia *self, const GstSDPMessage *answer, GError **error)
{
  PendingSender *sender = find_pending_sender (self, SOURCE_VIDEO);
  g_autoptr (GstWebRTCRTPTransceiver) transceiver = NULL;
  const GstSDPMedia *media = NULL;
  VchatdSdpVideoCodec codec = VCHATD_SDP_VIDEO_VP8;
  guint mline, pt;

  if (!sender)
    return TRUE;
  g_object_get (sender->transceiver, "mlineindex", &mline, NULL);
  if (mline < gst_sdp_message_medias_len (answer))
    media = gst_sdp_message_get_media (answer, mline);
  if (!media || gst_sdp_media_get_port (media) == 0)
    return TRUE; /* vchatd_sdp_check_nothing_rejected() said why */
  pt = vchatd_sdp_answer_video_format (media, &codec);
  if (pt == G_MAXUINT) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                         "The peer's answer takes none of VP8, H.264 and VP9 for video");
    return FALSE;
  }
  g_clear_pointer (&self->h264_profile, g_free);
  self->video_codec = codec == VCHATD_SDP_VIDEO_H264  ? VIDEO_CODEC_H264
                      : codec == VCHATD_SDP_VIDEO_VP9 ? VIDEO_CODEC_VP9
                                                      : VIDEO_CODEC_VP8;
  if (self->video_codec == VIDEO_CODEC_H264)
    self->h264_profile = g_strdup (OFFER_H264_PROFILE);
  sender->pt = pt;
  sender->twcc_id = vchatd_sdp_find_twcc_id (media);
  media_remb_negotiated (self, media);
  g_debug ("media: the peer's answer chose %s (payload type %u)",
           codec == VCHATD_SDP_VIDEO_H264  ? "H.264"
           : codec == VCHATD_SDP_VIDEO_VP9 ? "VP9"
                                           : "VP8",
           pt);
  return TRUE;
}

static void
on_remote_description_set (VchatdMedia *self, const GstStructure *reply, gpointer data)
{
  GstWebRTCSessionDescription *desc = data;
  g_autoptr (GError) error = NULL;

  if (self->role == VCHATD_MEDIA_ROLE_ANSWERER) {
    run_step (self, "create-answer", NULL, "create an answer", VCHATD_MEDIA_FAILURE_LOCAL,
              on_answer_created, NULL, NULL);
    return;
  }
  if (!choose_answer_video (self, desc->sdp, &error)) {
    media_fail (self, VCHATD_MEDIA_FAILURE_PEER, "%s", error->message);
    return;
  }
  if (!link_pending_senders (self, &error)) {
    media_fail (self, VCHATD_MEDIA_FAILURE_LOCAL, "cannot send: %s", error->message);
    return;
  }
  flush_pending_candidates (self);
}

/* What the peer sends between start() and stop() is all a session takes. */
static gboolean
check_running (VchatdMedia *self, GError **error)
{
  if (!media_is_stopped (self) && self->state != VCHATD_MEDIA_STATE_NEW)
    return TRUE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                       "The media session is not running");
  return FALSE;
}

/* The mid of our media section @mline, from our description; NULL before
 * it was made or for an index it does not have. */
char *
vchatd_media_get_mid (VchatdMedia *self, guint mline)
{
  g_autoptr (GstWebRTCSessionDescription) local = NULL;
  const GstSDPMedia *media;

  g_return_val_if_fail (VCHATD_IS_MEDIA (self), NULL);

  if (!self->webrtc)
    return NULL;
  g_object_get (self->webrtc, "local-description", &local, NULL);
  if (!local || mline >= gst_sdp_message_medias_len (local->sdp))
    return NULL;
  media = gst_sdp_message_get_media (local->sdp, mline);
  return g_strdup (gst_sdp_media_get_attribute_val (media, "mid"));
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
    if (!vchatd_sdp_check_answer (offer ? offer->sdp : NULL, msg, error) ||
        !vchatd_sdp_check_nothing_rejected (offer ? offer->sdp : NULL, msg, error))
      return FALSE;
  } else if (!vchatd_sdp_check_codecs (msg, error)) {
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

/* A checked remote candidate with an IP address goes to webrtcbin, or
 * waits until the description is in use. */
static void
give_remote_candidate (VchatdMedia *self, guint mline_index, const char *candidate)
{
  const char *why = NULL;

  /* A peer must not aim our connectivity checks at anything it likes. */
  if (!vchatd_sdp_candidate_target_allowed (candidate, &why)) {
    g_message ("media: ignoring the peer's candidate “%s”: %s", candidate, why);
    return;
  }
  g_debug ("media: remote candidate %u %s%s", mline_index, candidate,
           self->candidates_ready ? "" : " (held until the description is in use)");
  if (!self->candidates_ready) {
    PendingCandidate c = { mline_index, g_strdup (candidate) };

    g_array_append_val (self->pending_candidates, c);
    return;
  }
  g_signal_emit_by_name (self->webrtc, "add-ice-candidate", mline_index, candidate);
}

/* mDNS candidates
 *
 * Browsers hide their host addresses behind random “<uuid>.local” names.
 * webrtcbin 1.22 would look such a name up itself, but says nothing when
 * it does not resolve (a warning in GStreamer's debug log only), frees the
 * candidate before it logs a parse failure, and gives libnice an address
 * our target checks never saw. So vchatd resolves the name with GLib's
 * resolver (the system's: nss-mdns asks avahi-daemon on a desktop), says
 * so when it cannot, and hands webrtcbin the candidate with the address,
 * checked like any other. */
typedef struct {
  VchatdMedia *self; /* a reference */
  guint mline;
  char *candidate;
  char *name;
  gint64 started_us;
} MdnsLookup;

static void
mdns_lookup_free (MdnsLookup *lookup)
{
  g_object_unref (lookup->self);
  g_free (lookup->candidate);
  g_free (lookup->name);
  g_free (lookup);
}

/* The main context (the one that asked). */
static void
on_mdns_resolved (GObject *resolver, GAsyncResult *result, gpointer data)
{
  MdnsLookup *lookup = data;
  VchatdMedia *self = lookup->self;
  g_autoptr (GError) error = NULL;
  GList *addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (resolver), result, &error);
  g_autofree char *resolved = NULL;
  guint ms = (guint) ((g_get_monotonic_time () - lookup->started_us) / 1000);

  if (media_is_stopped (self)) {
    g_resolver_free_addresses (addresses);
    mdns_lookup_free (lookup);
    return;
  }
  if (!addresses && self->mdns_unresolved++ > 0) {
    /* A browser writes each name in several candidates: said once. */
    g_debug ("media: the peer's mDNS name %s does not resolve here either (%s)", lookup->name,
             error->message);
    mdns_lookup_free (lookup);
    return;
  }
  if (!addresses) {
    g_message ("media: the peer's candidate address “%s” is an mDNS name that does not resolve "
               "here (%s, after %u ms): that path to the peer is left out. Resolving .local "
               "names needs avahi-daemon running and libnss-mdns (mdns4_minimal in "
               "/etc/nsswitch.conf); without them, a peer that offers only such names is reached "
               "only through STUN or TURN",
               lookup->name, error->message, ms);
    mdns_lookup_free (lookup);
    return;
  }
  resolved = vchatd_sdp_candidate_with_address (lookup->candidate, addresses->data);
  g_resolver_free_addresses (addresses);
  g_debug ("media: the peer's mDNS name %s resolved in %u ms", lookup->name, ms);
  if (resolved)
    give_remote_candidate (self, lookup->mline, resolved);
  mdns_lookup_free (lookup);
}

gboolean
vchatd_media_add_remote_candidate (VchatdMedia *self, guint mline_index, const char *candidate,
                                   GError **error)
{
  g_autofree char *mdns_name = NULL;
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
    g_debug ("media: ignoring a candidate with a host name for an address");
    return TRUE;
  }
  if (g_str_has_prefix (candidate, "a="))
    candidate += 2;
  if (++self->remote_candidates > VCHATD_SDP_MAX_REMOTE_CANDIDATES) {
    if (self->remote_candidates == VCHATD_SDP_MAX_REMOTE_CANDIDATES + 1)
      g_message ("media: the peer sent more than %d candidates; the rest are ignored",
                 VCHATD_SDP_MAX_REMOTE_CANDIDATES);
    return TRUE;
  }
  mdns_name = vchatd_sdp_candidate_mdns_name (candidate);
  if (mdns_name) {
    g_autoptr (GResolver) resolver = g_resolver_get_default ();
    MdnsLookup *lookup = g_new0 (MdnsLookup, 1);

    g_debug ("media: resolving the peer's mDNS name %s", mdns_name);
    lookup->self = g_object_ref (self);
    lookup->mline = mline_index;
    lookup->candidate = g_strdup (candidate);
    lookup->name = g_steal_pointer (&mdns_name);
    lookup->started_us = g_get_monotonic_time ();
    g_resolver_lookup_by_name_async (resolver, lookup->name, NULL, on_mdns_resolved, lookup);
    return TRUE;
  }
  give_remote_candidate (self, mline_index, candidate);
  return TRUE;
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

gboolean
vchatd_media_send_control (VchatdMedia *self, const char *json)
{
  g_autoptr (GstWebRTCDataChannel) channel = NULL;
  GstWebRTCDataChannelState ready = GST_WEBRTC_DATA_CHANNEL_STATE_CLOSED;

  g_return_val_if_fail (VCHATD_IS_MEDIA (self), FALSE);
  g_return_val_if_fail (json != NULL, FALSE);

  g_mutex_lock (&self->lock);
  if (self->control)
    channel = g_object_ref (self->control);
  g_mutex_unlock (&self->lock);
  if (channel)
    g_object_get (channel, "ready-state", &ready, NULL);
  if (ready != GST_WEBRTC_DATA_CHANNEL_STATE_OPEN)
    return FALSE;
  return gst_webrtc_data_channel_send_string_full (channel, json, NULL);
}

/* webrtcbin, in the session's pipeline, with ICE set up as configured and
 * its signals handed to the main context. */
gboolean
media_peer_build (VchatdMedia *self, GError **error)
{
  g_autoptr (GObject) ice = NULL;
  g_autoptr (GObject) agent = NULL;
  guint i;

  self->webrtc = media_make_element ("webrtcbin", "webrtc", error);
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
  g_signal_connect (self->webrtc, "pad-added", G_CALLBACK (media_on_pad_added), self);
  g_signal_connect (self->webrtc, "request-aux-sender", G_CALLBACK (media_on_request_aux_sender),
                    self);
  g_signal_connect (self->webrtc, "notify::ice-connection-state", G_CALLBACK (on_ice_state_notify),
                    self);
  g_signal_connect (self->webrtc, "notify::connection-state", G_CALLBACK (on_ice_state_notify),
                    self);
  g_signal_connect (self->webrtc, "notify::ice-gathering-state", G_CALLBACK (on_gathering_notify),
                    self);
  return TRUE;
}
