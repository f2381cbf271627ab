/* vchatd-media-report.c: the call's numbers: webrtcbin's stats read every second into
 * the D-Bus Stats dictionary, the Quality word, the RTT for the controller
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-media-private.h"

#include <string.h>

/* Stats */

/* Once a second, from the stats: the call's Quality (vchatd-quality.h). */
static void
update_quality (VchatdMedia *self, const VchatdStatsScan *scan, gdouble fps)
{
  gint now = media_session_ms (self);
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

/* The jitter buffers' latency follows the path (vchatd-playout.h).
 * webrtcbin hands its latency to rtpbin, which sets it on every jitter
 * buffer it has; a new one starts with it too. */
static void
update_playout (VchatdMedia *self, gint64 now, const VchatdStatsScan *scan)
{
  if (!self->playout || !self->webrtc)
    return;
  if (!vchatd_playout_update (self->playout, now, scan->rtt > 0 ? scan->rtt * 1000.0 : -1.0,
                              scan->jitter >= 0 ? scan->jitter * 1000.0 : -1.0))
    return;
  g_debug ("media: the jitter buffers wait %u ms for a missing packet (RTT %.0f ms, jitter %.1f ms)",
           vchatd_playout_get_latency_ms (self->playout), scan->rtt * 1000.0,
           scan->jitter * 1000.0);
  g_object_set (self->webrtc, "latency", vchatd_playout_get_latency_ms (self->playout), NULL);
}

static void
publish_stats (VchatdMedia *self, const GstStructure *reply)
{
  VchatdStatsScan scan;
  GVariantBuilder b;
  gint64 now = g_get_monotonic_time ();
  gdouble elapsed = self->last_stats_us ? (now - self->last_stats_us) / (gdouble) G_USEC_PER_SEC
                                        : 0;
  guint frames = (guint) g_atomic_int_get (&self->frames_decoded);
  gint width = g_atomic_int_get (&self->recv_width);
  gint height = g_atomic_int_get (&self->recv_height);
  guint remb_kbps;

  /* Without a reply (see media_request_stats()), the figures only
   * webrtcbin has are left out, and the byte and packet counts wait for it. */
  if (reply) {
    vchatd_stats_scan (reply, &scan);
  } else {
    memset (&scan, 0, sizeof scan);
    scan.rtt = -1;
    scan.fraction_lost = -1;
    scan.jitter = -1;
  }
  if (scan.rtt > 0)
    vchatd_rate_control_on_rtt (self->rate_control, now, (gint64) (scan.rtt * G_USEC_PER_SEC));
  update_playout (self, now, &scan);

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  if (scan.rtt >= 0)
    g_variant_builder_add (&b, "{sv}", "rtt-ms", g_variant_new_double (scan.rtt * 1000.0));
  if (reply && self->last_bytes_us) {
    gdouble span = (now - self->last_bytes_us) / (gdouble) G_USEC_PER_SEC;

    if (span > 0.1) {
      g_variant_builder_add (
        &b, "{sv}", "send-kbps",
        g_variant_new_double (
          (scan.bytes_sent - MIN (scan.bytes_sent, self->last_bytes_sent)) * 8.0 / 1000.0 / span));
      g_variant_builder_add (
        &b, "{sv}", "recv-kbps",
        g_variant_new_double (
          (scan.bytes_received - MIN (scan.bytes_received, self->last_bytes_received)) * 8.0 /
          1000.0 / span));
    }
  }
  if (elapsed > 0.1 && self->have_video_track)
    g_variant_builder_add (&b, "{sv}", "recv-fps",
                           g_variant_new_double ((frames - MIN (frames, self->last_frames)) / elapsed));
  /* The rate controller's output (audio and video), its estimate of the
   * path, and the ceiling (max-bitrate, video) it works under. */
  g_variant_builder_add (&b, "{sv}", "target-kbps", g_variant_new_double (self->target_kbps));
  g_variant_builder_add (&b, "{sv}", "max-kbps", g_variant_new_double (self->max_bitrate_kbps));
  if (vchatd_rate_control_get_acked_kbps (self->rate_control) > 0)
    g_variant_builder_add (
      &b, "{sv}", "available-kbps",
      g_variant_new_double (vchatd_rate_control_get_estimate_kbps (self->rate_control)));
  else if ((remb_kbps = media_remb_received_kbps (self)) > 0)
    /* A peer without transport-wide feedback: its REMB says it. */
    g_variant_builder_add (&b, "{sv}", "available-kbps", g_variant_new_double (remb_kbps));
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
    if (reply) {
      if (received + lost > 0)
        self->recv_loss_pct = 100.0 * lost / (received + lost);
      self->last_packets_received = scan.packets_received;
      self->last_packets_lost = scan.packets_lost;
    }
    if (self->last_packets_received > 0)
      g_variant_builder_add (&b, "{sv}", "recv-loss-pct",
                             g_variant_new_double (self->recv_loss_pct));
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
    g_variant_builder_add (&b, "{sv}", "video-codec",
                           g_variant_new_string (self->video_codec == VIDEO_CODEC_H264  ? "H264"
                                                 : self->video_codec == VIDEO_CODEC_VP9 ? "VP9"
                                                                                        : "VP8"));
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
  if (self->playout)
    g_variant_builder_add (&b, "{sv}", "jitter-buffer-ms",
                           g_variant_new_uint32 (vchatd_playout_get_latency_ms (self->playout)));
  if (scan.jitter >= 0)
    g_variant_builder_add (&b, "{sv}", "jitter-ms", g_variant_new_double (scan.jitter * 1000.0));

  if (reply) {
    self->last_bytes_sent = scan.bytes_sent;
    self->last_bytes_received = scan.bytes_received;
    self->last_bytes_us = now;
  }
  self->last_frames = frames;
  self->last_stats_us = now;
  g_clear_pointer (&self->stats, g_variant_unref);
  self->stats = g_variant_ref_sink (g_variant_builder_end (&b));
  g_signal_emit (self, vchatd_media_signals[SIGNAL_STATS_UPDATED], 0);
}

static void
on_stats_main (VchatdMedia *self, gpointer data)
{
  const GstStructure *reply = data;
  gint64 waited = g_get_monotonic_time () - self->stats_requested_us;

  self->stats_pending = FALSE;
  if (self->stats_stuck)
    g_message ("webrtcbin answered get-stats after %.1f s", waited / (gdouble) G_USEC_PER_SEC);
  self->stats_stuck = FALSE;
  if (reply)
    publish_stats (self, reply);
}

static void
on_stats_reply (GstPromise *promise, gpointer data)
{
  VchatdMedia *self = data;
  const GstStructure *reply = NULL;

  /* webrtcbin's thread: copy, and read on the main context. */
  if (gst_promise_wait (promise) == GST_PROMISE_RESULT_REPLIED)
    reply = gst_promise_get_reply (promise);
  media_run_on_main (self, on_stats_main, reply ? gst_structure_copy (reply) : NULL,
               (GDestroyNotify) gst_structure_free);
}

void
media_request_stats (VchatdMedia *self)
{
  GstPromise *promise;

  gint64 now = g_get_monotonic_time ();

  /* webrtcbin answers within milliseconds, but has been seen to leave it
   * unanswered for many seconds on a congested link (its thread waits on
   * a lock; issue 10). The controller's figures go out meanwhile. */
  if (self->stats_pending) {
    if (now - self->stats_requested_us >= STATS_STUCK_US) {
      if (!self->stats_stuck)
        g_message ("webrtcbin has not answered get-stats for %.1f s; Stats carry only vchatd's "
                   "own figures until it does",
                   (now - self->stats_requested_us) / (gdouble) G_USEC_PER_SEC);
      self->stats_stuck = TRUE;
      publish_stats (self, NULL);
    }
    return;
  }
  self->stats_pending = TRUE;
  self->stats_requested_us = now;
  promise = gst_promise_new_with_change_func (on_stats_reply, g_object_ref (self),
                                              media_unref_on_main);
  g_signal_emit_by_name (self->webrtc, "get-stats", NULL, promise);
  gst_promise_unref (promise);
}
