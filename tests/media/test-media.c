/* test-media.c: two media sessions in one process, calling each other
 *
 * The two VchatdMedia hand each other their SDP and ICE candidates directly
 * (no signaling server) over loopback. Their cameras are videotestsrc solid
 * colours (A red, B blue), so a test can tell whose picture arrived by
 * looking at the decoded frames. No PipeWire: node_name_prefix is NULL and
 * the peer's audio goes to a fakesink.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <dirent.h>
#include <string.h>
#include <gst/gst.h>

#include "vchatd-media.h"

#define RED_SOURCE                                                                                 \
  "videotestsrc is-live=true pattern=solid-color foreground-color=0xffff0000 ! "                   \
  "capsfilter caps=\"video/x-raw,width=320,height=240,framerate=15/1\""
#define BLUE_SOURCE                                                                                \
  "videotestsrc is-live=true pattern=solid-color foreground-color=0xff0000ff ! "                   \
  "capsfilter caps=\"video/x-raw,width=320,height=240,framerate=15/1\""
#define AUDIO_SOURCE "audiotestsrc is-live=true wave=sine volume=0.1"
#define WAIT_SECONDS 20

typedef enum { COLOUR_NONE, COLOUR_RED, COLOUR_BLUE, COLOUR_BLACK, COLOUR_OTHER } Colour;

static const char *
colour_name (Colour colour)
{
  const char *names[] = { "none", "red", "blue", "black", "other" };

  return names[colour];
}

typedef struct Side Side;

struct Side {
  const char *name;
  VchatdMedia *media;
  Side *peer;
  char *description_type;
  char *description;
  guint frames;
  guint frame_width;
  guint frame_height;
  Colour colour; /* of the centre of the latest thumbnail */
  GPtrArray *messages;
  guint stats_updates;
  gboolean end_of_candidates;
  GPtrArray *failed_devices; /* "device: message" */
  GPtrArray *candidates;     /* every local candidate, as "a=candidate:..." for replay */
};

/* Expected warnings: g_test_expect_message() does not see structured
 * logging (GLib 2.74), so a log writer takes them out before they are made
 * fatal; any other warning still fails the test. */

static GPtrArray *expected_warnings;

static void
expect_warning (const char *pattern)
{
  g_ptr_array_add (expected_warnings, g_strdup (pattern));
}

static void
assert_expected_warnings (void)
{
  if (expected_warnings->len > 0)
    g_error ("expected warning not logged: %s", (char *) g_ptr_array_index (expected_warnings, 0));
}

static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  const char *message = NULL;
  gsize i;

  for (i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0)
      message = fields[i].value;
  if ((level & G_LOG_LEVEL_WARNING) && message) {
    for (i = 0; i < expected_warnings->len; i++)
      if (g_pattern_match_simple (g_ptr_array_index (expected_warnings, i), message)) {
        g_test_message ("expected warning: %s", message);
        g_ptr_array_remove_index (expected_warnings, i);
        return G_LOG_WRITER_HANDLED;
      }
  }
  return g_log_writer_default (level, fields, n_fields, data);
}

/* Main loop helpers */

static gboolean
wake_up (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the default main context until @check holds, for at most @seconds. */
static gboolean
wait_for (gboolean (*check) (gpointer), gpointer data, guint seconds)
{
  gint64 deadline = g_get_monotonic_time () + seconds * G_USEC_PER_SEC;
  guint tick = g_timeout_add (50, wake_up, NULL);
  gboolean ok;

  while (!(ok = check (data)) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  return ok;
}

/* Runs the default main context for @ms milliseconds. */
static void
spin (guint ms)
{
  gint64 deadline = g_get_monotonic_time () + ms * 1000;
  guint tick = g_timeout_add (20, wake_up, NULL);

  while (g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
}

/* Wiring two sessions together */

static void
on_local_description (VchatdMedia *media, const char *type, const char *sdp, Side *side)
{
  g_autoptr (GError) error = NULL;

  g_free (side->description_type);
  g_free (side->description);
  side->description_type = g_strdup (type);
  side->description = g_strdup (sdp);
  if (side->peer && side->peer->media) {
    vchatd_media_set_remote_description (side->peer->media, type, sdp, &error);
    g_assert_no_error (error);
  }
}

static void
on_local_candidate (VchatdMedia *media, guint mline, const char *candidate, Side *side)
{
  g_autoptr (GError) error = NULL;

  if (!*candidate)
    side->end_of_candidates = TRUE;
  else
    g_ptr_array_add (side->candidates, g_strdup_printf ("a=%s", candidate));
  if (side->peer && side->peer->media) {
    vchatd_media_add_remote_candidate (side->peer->media, mline, candidate, &error);
    g_assert_no_error (error);
  }
}

static Colour
classify (const guint8 *p)
{
  if (p[0] < 40 && p[1] < 40 && p[2] < 40)
    return COLOUR_BLACK;
  if (p[0] > 180 && p[1] < 80 && p[2] < 80)
    return COLOUR_RED;
  if (p[0] < 80 && p[1] < 80 && p[2] > 180)
    return COLOUR_BLUE;
  return COLOUR_OTHER;
}

static void
on_remote_video_frame (VchatdMedia *media, guint width, guint height, GBytes *rgb, Side *side)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (rgb, &size);

  g_assert_cmpuint (size, ==, (gsize) width * height * 3);
  side->frames++;
  side->frame_width = width;
  side->frame_height = height;
  side->colour = classify (data + ((gsize) (height / 2) * width + width / 2) * 3);
}

static void
on_message_received (VchatdMedia *media, const char *text, Side *side)
{
  g_ptr_array_add (side->messages, g_strdup (text));
}

static void
on_stats_updated (VchatdMedia *media, Side *side)
{
  side->stats_updates++;
}

static void
on_device_failed (VchatdMedia *media, const char *kind, const char *message, Side *side)
{
  g_ptr_array_add (side->failed_devices, g_strdup_printf ("%s: %s", kind, message));
}

typedef struct {
  const char *video; /* NULL: no camera */
  guint watchdog_seconds;
  const char *microphone; /* a PipeWire target instead of the test tone */
} SideConfig;

static void
side_init (Side *side, const char *name, VchatdMediaRole role, const SideConfig *sc)
{
  g_autoptr (GError) error = NULL;
  VchatdMediaConfig config = { 0 };

  memset (side, 0, sizeof *side);
  side->name = name;
  side->messages = g_ptr_array_new_with_free_func (g_free);
  side->candidates = g_ptr_array_new_with_free_func (g_free);
  side->failed_devices = g_ptr_array_new_with_free_func (g_free);
  config.video_source_description = sc->video;
  config.audio_source_description = sc->microphone ? NULL : AUDIO_SOURCE;
  config.microphone_target = sc->microphone;
  config.audio_sink_description = "fakesink sync=false";
  config.max_bitrate_kbps = 300;
  config.watchdog_seconds = sc->watchdog_seconds;
  side->media = vchatd_media_new (&config, role, &error);
  g_assert_no_error (error);
  g_signal_connect (side->media, "local-description", G_CALLBACK (on_local_description), side);
  g_signal_connect (side->media, "local-candidate", G_CALLBACK (on_local_candidate), side);
  g_signal_connect (side->media, "remote-video-frame", G_CALLBACK (on_remote_video_frame), side);
  g_signal_connect (side->media, "message-received", G_CALLBACK (on_message_received), side);
  g_signal_connect (side->media, "stats-updated", G_CALLBACK (on_stats_updated), side);
  g_signal_connect (side->media, "device-failed", G_CALLBACK (on_device_failed), side);
}

static void
side_clear (Side *side)
{
  if (side->media) {
    vchatd_media_stop (side->media);
    g_assert_cmpint (vchatd_media_get_state (side->media), ==, VCHATD_MEDIA_STATE_STOPPED);
    g_signal_handlers_disconnect_by_data (side->media, side);
    g_clear_object (&side->media);
  }
  g_clear_pointer (&side->messages, g_ptr_array_unref);
  g_clear_pointer (&side->candidates, g_ptr_array_unref);
  g_clear_pointer (&side->failed_devices, g_ptr_array_unref);
  g_clear_pointer (&side->description, g_free);
  g_clear_pointer (&side->description_type, g_free);
}

typedef struct {
  Side a; /* offerer */
  Side b; /* answerer */
} Call;

/* Starts a call between A (offerer) and B (answerer); with @wire FALSE the
 * sessions are started but not introduced to each other. */
static void
call_start (Call *call, const SideConfig *a, const SideConfig *b, gboolean wire)
{
  g_autoptr (GError) error = NULL;

  side_init (&call->a, "A", VCHATD_MEDIA_ROLE_OFFERER, a);
  side_init (&call->b, "B", VCHATD_MEDIA_ROLE_ANSWERER, b);
  if (wire) {
    call->a.peer = &call->b;
    call->b.peer = &call->a;
  }
  /* The answerer is ready before the offer can reach it. */
  vchatd_media_start (call->b.media, &error);
  g_assert_no_error (error);
  vchatd_media_start (call->a.media, &error);
  g_assert_no_error (error);
  g_assert_cmpint (vchatd_media_get_state (call->a.media), ==, VCHATD_MEDIA_STATE_CONNECTING);
}

static void
call_clear (Call *call)
{
  call->a.peer = NULL;
  call->b.peer = NULL;
  side_clear (&call->a);
  side_clear (&call->b);
  /* Let the idle callbacks that still hold the sessions run. */
  spin (50);
}

static gboolean
both_connected (gpointer data)
{
  Call *call = data;

  return vchatd_media_get_state (call->a.media) == VCHATD_MEDIA_STATE_CONNECTED &&
         vchatd_media_get_state (call->b.media) == VCHATD_MEDIA_STATE_CONNECTED;
}

typedef struct {
  Side *side;
  Colour colour;
  guint after; /* frame count to exceed */
} ColourWait;

static gboolean
sees_colour (gpointer data)
{
  ColourWait *w = data;

  return w->side->frames > w->after && w->side->colour == w->colour;
}

static void
assert_sees (Side *side, Colour colour)
{
  ColourWait w = { side, colour, side->frames };

  if (!wait_for (sees_colour, &w, WAIT_SECONDS))
    g_error ("%s: expected %s frames from the peer, last saw %s (%u frames)", side->name,
             colour_name (colour), colour_name (side->colour), side->frames);
  g_test_message ("%s sees %s (%ux%u thumbnails, %u so far)", side->name, colour_name (colour),
                  side->frame_width, side->frame_height, side->frames);
}

typedef struct {
  Side *side;
  guint count;
} MessageWait;

static gboolean
has_messages (gpointer data)
{
  MessageWait *w = data;

  return w->side->messages->len >= w->count;
}

static void
assert_chat (Side *from, Side *to, const char *text)
{
  g_autoptr (GError) error = NULL;
  MessageWait w = { to, to->messages->len + 1 };

  vchatd_media_send_message (from->media, text, &error);
  g_assert_no_error (error);
  g_assert_true (wait_for (has_messages, &w, WAIT_SECONDS));
  g_assert_cmpstr (g_ptr_array_index (to->messages, to->messages->len - 1), ==, text);
}

static gboolean
stats_show_video (gpointer data)
{
  Side *side = data;
  g_autoptr (GVariant) stats = g_variant_ref_sink (vchatd_media_get_stats (side->media));
  gdouble fps = 0;
  guint64 frames = 0;
  const char *local = NULL;

  g_variant_lookup (stats, "recv-fps", "d", &fps);
  g_variant_lookup (stats, "frames-decoded", "t", &frames);
  g_variant_lookup (stats, "local-candidate", "&s", &local);
  return fps > 0 && frames > 0 && local;
}

static void
assert_stats (Side *side)
{
  g_autoptr (GVariant) stats = NULL;
  g_autofree char *text = NULL;
  gdouble fps = 0, recv_kbps = 0;
  guint64 frames = 0;
  guint32 width = 0, height = 0;
  const char *local = NULL, *remote = NULL, *codec = NULL, *audio = NULL;

  if (!wait_for (stats_show_video, side, WAIT_SECONDS)) {
    stats = g_variant_ref_sink (vchatd_media_get_stats (side->media));
    text = g_variant_print (stats, TRUE);
    g_error ("%s: stats never showed received video: %s", side->name, text);
  }
  stats = g_variant_ref_sink (vchatd_media_get_stats (side->media));
  text = g_variant_print (stats, TRUE);
  g_test_message ("%s stats: %s", side->name, text);
  g_assert_cmpuint (side->stats_updates, >, 0);
  g_assert_true (g_variant_lookup (stats, "recv-fps", "d", &fps));
  g_assert_cmpfloat (fps, >, 0);
  g_assert_true (g_variant_lookup (stats, "frames-decoded", "t", &frames));
  g_assert_cmpuint (frames, >, 0);
  g_assert_true (g_variant_lookup (stats, "recv-width", "u", &width));
  g_assert_true (g_variant_lookup (stats, "recv-height", "u", &height));
  /* The rate controller starts low: a rung of the ladder (vchatd-ladder.h),
   * never larger than the 320x240 camera, and of its shape. */
  g_assert_cmpuint (width, >=, 160);
  g_assert_cmpuint (width, <=, 320);
  g_assert_cmpuint (width * 3, ==, height * 4);
  if (side->peer) {
    g_autoptr (GVariant) peer = g_variant_ref_sink (vchatd_media_get_stats (side->peer->media));
    const char *rung = NULL;

    /* What arrived is what the peer's ladder says it sends (a change may
     * be on its way). */
    if (g_variant_lookup (peer, "rung", "&s", &rung))
      g_test_message ("%s: received %ux%u, the peer sends %s", side->name, width, height, rung);
  }
  g_assert_true (g_variant_lookup (stats, "recv-kbps", "d", &recv_kbps));
  g_assert_cmpfloat (recv_kbps, >, 0);
  g_assert_true (g_variant_lookup (stats, "local-candidate", "&s", &local));
  g_assert_true (g_variant_lookup (stats, "remote-candidate", "&s", &remote));
  /* Loopback: both ends of the pair are host candidates. */
  g_assert_cmpstr (local, ==, "host");
  g_assert_cmpstr (remote, ==, "host");
  g_assert_true (g_variant_lookup (stats, "video-codec", "&s", &codec));
  g_assert_cmpstr (codec, ==, "VP8");
  g_assert_true (g_variant_lookup (stats, "audio-codec", "&s", &audio));
  g_assert_cmpstr (audio, ==, "opus");
}

static gboolean
target_is_200 (gpointer data)
{
  g_autoptr (GVariant) stats = g_variant_ref_sink (vchatd_media_get_stats (((Side *) data)->media));
  gdouble kbps = 0;

  gdouble max = 0;

  /* max-bitrate is the video's ceiling; the total has the audio on top. */
  return g_variant_lookup (stats, "max-kbps", "d", &max) && max == 200.0 &&
         g_variant_lookup (stats, "target-kbps", "d", &kbps) && kbps <= 200.0 + 40.0;
}

static void
release_when_failed (VchatdMedia *media, GParamSpec *pspec, Side *side)
{
  if (vchatd_media_get_state (media) != VCHATD_MEDIA_STATE_FAILED)
    return;
  g_signal_handlers_disconnect_by_data (media, side);
  vchatd_media_stop (media);
  g_clear_object (&side->media);
}

static gboolean
was_released (gpointer data)
{
  return ((Side *) data)->media == NULL;
}

/* The whole call: pictures, stats, chat, camera off, and the watchdog. */
static void
test_call (void)
{
  SideConfig red = { RED_SOURCE, 2 };
  SideConfig blue = { BLUE_SOURCE, 2 };
  Call call;
  gint64 t0;

  call_start (&call, &red, &blue, TRUE);
  g_assert_true (vchatd_media_get_has_video (call.a.media));
  g_assert_true (vchatd_media_get_has_audio (call.a.media));
  g_assert_null (vchatd_media_get_preview_node (call.a.media));
  g_assert_true (wait_for (both_connected, &call, WAIT_SECONDS));

  /* The 1.22 workarounds: TWCC and NACK/RTX negotiated both ways. */
  g_assert_cmpstr (call.a.description_type, ==, "offer");
  g_assert_cmpstr (call.b.description_type, ==, "answer");
  g_assert_nonnull (strstr (call.a.description, "transport-wide-cc-extensions-01"));
  g_assert_nonnull (strstr (call.b.description, "transport-wide-cc-extensions-01"));
  g_assert_nonnull (strstr (call.b.description, "nack"));
  g_assert_nonnull (strstr (call.b.description, "rtx/90000"));
  g_assert_nonnull (strstr (call.b.description, "VP8/90000"));
  g_assert_nonnull (strstr (call.b.description, "OPUS/48000/2"));
  g_assert_nonnull (strstr (call.b.description, "webrtc-datachannel"));

  /* Each sees the other's camera. */
  assert_sees (&call.a, COLOUR_BLUE);
  assert_sees (&call.b, COLOUR_RED);
  assert_stats (&call.a);
  assert_stats (&call.b);
  g_assert_true (call.a.end_of_candidates);
  g_assert_true (call.b.end_of_candidates);

  assert_chat (&call.a, &call.b, "hello from A");
  assert_chat (&call.b, &call.a, "héllo from B ✓");

  /* Camera off: the track stays, the picture goes black; and back. */
  vchatd_media_set_camera_enabled (call.a.media, FALSE);
  assert_sees (&call.b, COLOUR_BLACK);
  vchatd_media_set_camera_enabled (call.a.media, TRUE);
  assert_sees (&call.b, COLOUR_RED);
  vchatd_media_set_muted (call.a.media, TRUE);
  vchatd_media_set_max_bitrate (call.a.media, 200);
  g_assert_true (wait_for (target_is_200, &call.a, WAIT_SECONDS));

  /* B vanishes without a word: A's watchdog (2 s) notices, and A's owner
   * releases it from the notification, as the daemon's call does. */
  call.b.peer = NULL;
  call.a.peer = NULL;
  g_signal_connect (call.a.media, "notify::state", G_CALLBACK (release_when_failed), &call.a);
  t0 = g_get_monotonic_time ();
  vchatd_media_stop (call.b.media);
  g_assert_true (wait_for (was_released, &call.a, 10));
  g_test_message ("A failed %.1f s after B vanished (watchdog 2 s)",
                  (g_get_monotonic_time () - t0) / (gdouble) G_USEC_PER_SEC);
  call_clear (&call);
}

static void
run_one_sided_call (gboolean offerer_has_video)
{
  SideConfig red = { RED_SOURCE, 0 };
  SideConfig none = { NULL, 0 };
  Call call;
  Side *with, *without;

  call_start (&call, offerer_has_video ? &red : &none, offerer_has_video ? &none : &red, TRUE);
  with = offerer_has_video ? &call.a : &call.b;
  without = offerer_has_video ? &call.b : &call.a;
  g_assert_false (vchatd_media_get_has_video (without->media));
  g_assert_true (vchatd_media_get_has_audio (without->media));
  g_assert_true (vchatd_media_get_has_video (with->media));
  g_assert_true (wait_for (both_connected, &call, WAIT_SECONDS));
  /* The side without a camera still sees the other one. */
  assert_sees (without, COLOUR_RED);
  assert_chat (&call.a, &call.b, "no camera here");
  assert_chat (&call.b, &call.a, "fine");
  spin (1500);
  g_assert_cmpuint (with->frames, ==, 0);
  call_clear (&call);
}

static void
test_no_video (void)
{
  /* The answerer has no camera; then the offerer has none (its offer then
   * carries a receive-only video section). */
  run_one_sided_call (TRUE);
  run_one_sided_call (FALSE);
}

static void
assert_rejected (VchatdMedia *media, const char *type, const char *sdp, const char *expect)
{
  g_autoptr (GError) error = NULL;

  g_assert_false (vchatd_media_set_remote_description (media, type, sdp, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_test_message ("rejected: %s", error->message);
  if (expect)
    g_assert_nonnull (strstr (error->message, expect));
}

static char *
replace (const char *text, const char *from, const char *to)
{
  g_auto (GStrv) parts = g_strsplit (text, from, -1);

  return g_strjoinv (to, parts);
}

static gboolean
has_description (gpointer data)
{
  return ((Side *) data)->description != NULL;
}

/* Hostile or broken SDP and candidates are refused with a clear error, and
 * the sessions go on to connect with the real ones. */
static void
test_bad_sdp (void)
{
  SideConfig red = { RED_SOURCE, 0 };
  SideConfig blue = { BLUE_SOURCE, 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *offer = NULL;
  g_autofree char *answer = NULL;
  g_autofree char *no_fingerprint = NULL;
  g_autofree char *bad_pt = NULL;
  g_autofree char *bad_rtpmap = NULL;
  g_autofree char *bad_bundle = NULL;
  g_autofree char *weird_proto = NULL;
  Call call;

  /* Not wired: the test passes the descriptions itself. */
  call_start (&call, &red, &blue, FALSE);
  g_assert_true (wait_for (has_description, &call.a, WAIT_SECONDS));
  offer = g_strdup (call.a.description);

  assert_rejected (call.b.media, "offer", "", "empty");
  assert_rejected (call.b.media, "offer", "hello, I am not SDP", "does not parse");
  assert_rejected (call.b.media, "offer", "v=0\r\n", "media");
  assert_rejected (call.b.media, "answer", offer, "expected an offer");
  assert_rejected (call.b.media, "rollback", offer, NULL);
  assert_rejected (call.b.media, NULL, offer, NULL);
  assert_rejected (call.b.media, "offer", "\xff\xfe binary", NULL);
  no_fingerprint = replace (offer, "a=fingerprint:", "a=x-fingerprint:");
  assert_rejected (call.b.media, "offer", no_fingerprint, "fingerprint");
  bad_pt = replace (offer, "RTP/SAVPF 96", "RTP/SAVPF 96 9999");
  assert_rejected (call.b.media, "offer", bad_pt, "payload type");
  bad_rtpmap = replace (offer, "a=rtpmap:96 VP8/90000", "a=rtpmap:96 VP8");
  assert_rejected (call.b.media, "offer", bad_rtpmap, "rtpmap");
  bad_bundle = replace (offer, "a=group:BUNDLE", "a=group:BUNDLE nonexistent");
  assert_rejected (call.b.media, "offer", bad_bundle, "bundles");
  weird_proto = replace (offer, "UDP/TLS/RTP/SAVPF", "RTP/AVP");
  assert_rejected (call.b.media, "offer", weird_proto, "transport");
  /* Bundled media that disagree on their ICE credentials are taken, with
   * the group's first credentials (tests/daemon/test-sdp.c,
   * /sdp/bundle-credentials; and aiortc's offer in
   * tests/daemon/test_aiortc.py). */
  {
    /* A long line of junk, NUL-free but otherwise random. */
    GString *junk = g_string_new ("v=0\r\n");
    guint i;

    for (i = 0; i < 2000; i++)
      g_string_append_printf (junk, "%c=%x\r\n", 'a' + g_test_rand_int_range (0, 26),
                              g_test_rand_int ());
    assert_rejected (call.b.media, "offer", junk->str, NULL);
    g_string_free (junk, TRUE);
  }

  /* Candidates: malformed ones are errors, name-only ones are ignored. */
  g_assert_false (vchatd_media_add_remote_candidate (call.b.media, 0, "garbage", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (vchatd_media_add_remote_candidate (
    call.b.media, 0, "candidate:1 1 UDP 2122252543 127.0.0.1 99999 typ host", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (vchatd_media_add_remote_candidate (
    call.b.media, 0, "candidate:1 1 UDP 2122252543 127.0.0.1 5000 typ bogus", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (vchatd_media_add_remote_candidate (
    call.b.media, 99, "candidate:1 1 UDP 2122252543 127.0.0.1 5000 typ host", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (vchatd_media_add_remote_candidate (
    call.b.media, 0, "candidate:1 1 UDP 2122252543 3f2a4c1e-8b9d-4e5f.local 5000 typ host",
    &error));
  g_assert_no_error (error);
  /* Candidates aimed at a local service (a port below 1024) or at a
   * multicast group: accepted without error, and ignored (the rules are
   * vchatd_sdp_candidate_target_allowed()'s, unit-tested in test-sdp). */
  g_assert_true (vchatd_media_add_remote_candidate (
    call.b.media, 0, "candidate:9 1 UDP 2122252543 192.0.2.9 22 typ host", &error));
  g_assert_no_error (error);
  g_assert_true (vchatd_media_add_remote_candidate (
    call.b.media, 0, "candidate:8 1 UDP 2122252543 224.0.0.251 5353 typ host", &error));
  g_assert_no_error (error);
  g_assert_true (vchatd_media_add_remote_candidate (call.b.media, 0, "", &error));
  g_assert_no_error (error);

  /* Now the real offer: B answers. */
  vchatd_media_set_remote_description (call.b.media, "offer", offer, &error);
  g_assert_no_error (error);
  g_assert_true (wait_for (has_description, &call.b, WAIT_SECONDS));
  answer = g_strdup (call.b.description);
  /* A second offer is renegotiation, which 1.22 cannot do. */
  g_assert_false (vchatd_media_set_remote_description (call.b.media, "offer", offer, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);

  /* A gets broken answers first, then the real one. */
  assert_rejected (call.a.media, "offer", answer, "expected an answer");
  {
    g_autofree char *no_video = replace (answer, "m=video", "m=text");
    g_autofree char *cut = g_strndup (answer, strstr (answer, "m=audio") - answer);

    assert_rejected (call.a.media, "answer", no_video, NULL);
    assert_rejected (call.a.media, "answer", cut, NULL);
  }
  vchatd_media_set_remote_description (call.a.media, "answer", answer, &error);
  g_assert_no_error (error);

  /* Now pass the candidates gathered so far (with the "a=" prefix an SDP
   * line has: accepted too), and those to come. */
  call.a.peer = &call.b;
  call.b.peer = &call.a;
  {
    Side *sides[] = { &call.a, &call.b };
    guint i, j;

    for (i = 0; i < G_N_ELEMENTS (sides); i++)
      for (j = 0; j < sides[i]->candidates->len; j++) {
        vchatd_media_add_remote_candidate (sides[i]->peer->media, 0,
                                           g_ptr_array_index (sides[i]->candidates, j), &error);
        g_assert_no_error (error);
      }
  }
  g_assert_true (wait_for (both_connected, &call, WAIT_SECONDS));
  assert_sees (&call.a, COLOUR_BLUE);
  assert_sees (&call.b, COLOUR_RED);
  call_clear (&call);
}

static gboolean
both_sources_failed (gpointer data)
{
  return ((Side *) data)->failed_devices->len >= 2;
}

/* A camera that gives nothing (a PipeWire target that is not there just
 * waits) and a microphone that cannot be opened: the call goes on with
 * black frames and silence, and says so. */
static void
test_device_failed (void)
{
  /* appsrc with nothing to give: stands in for a pipewiresrc whose target
   * is missing. */
  SideConfig stalled = { "appsrc is-live=true format=time "
                         "caps=\"video/x-raw,format=I420,width=320,height=240,framerate=15/1\"",
                         0, "vchat-test-no-such-microphone" };
  SideConfig blue = { BLUE_SOURCE, 0 };
  Call call;
  guint i;

  expect_warning ("*microphone failed*");
  expect_warning ("*camera failed*gave no data*");
  call_start (&call, &stalled, &blue, TRUE);
  g_assert_true (wait_for (both_sources_failed, &call.a, WAIT_SECONDS));
  assert_expected_warnings ();
  for (i = 0; i < call.a.failed_devices->len; i++)
    g_test_message ("A: device failed: %s", (char *) g_ptr_array_index (call.a.failed_devices, i));
  g_assert_true (vchatd_media_get_has_video (call.a.media));
  g_assert_true (wait_for (both_connected, &call, WAIT_SECONDS));
  assert_sees (&call.b, COLOUR_BLACK);
  assert_sees (&call.a, COLOUR_BLUE);
  g_assert_cmpuint (call.b.failed_devices->len, ==, 0);
  call_clear (&call);
}

/* Resources */

static guint
count_entries (const char *path)
{
  DIR *dir = opendir (path);
  struct dirent *entry;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((entry = readdir (dir)))
    if (entry->d_name[0] != '.')
      n++;
  closedir (dir);
  return n;
}

static guint
count_fds (void)
{
  /* Minus the one opendir() holds while listing. */
  return count_entries ("/proc/self/fd") - 1;
}

static guint
count_threads (void)
{
  return count_entries ("/proc/self/task");
}

typedef struct {
  guint fds;
  guint threads;
} Baseline;

static gboolean
back_to_baseline (gpointer data)
{
  Baseline *b = data;

  return count_fds () <= b->fds && count_threads () <= b->threads;
}

/* Ten calls in a row, each connected and then torn down: the process must
 * end where it began, fd for fd and thread for thread. */
static void
test_no_leaks (void)
{
  SideConfig red = { RED_SOURCE, 0 };
  SideConfig blue = { BLUE_SOURCE, 0 };
  Baseline baseline;
  guint peak_fds = 0, peak_threads = 0;
  guint i, fds, threads;
  Call call;

  /* Warm up: a first call loads the plugins and starts the threads that
   * live as long as the process (GStreamer's system clock, GLib's task and
   * resolver pools). */
  call_start (&call, &red, &blue, TRUE);
  g_assert_true (wait_for (both_connected, &call, WAIT_SECONDS));
  call_clear (&call);
  spin (1000);
  baseline.fds = count_fds ();
  baseline.threads = count_threads ();

  for (i = 0; i < 10; i++) {
    call_start (&call, &red, &blue, TRUE);
    g_assert_true (wait_for (both_connected, &call, WAIT_SECONDS));
    peak_fds = MAX (peak_fds, count_fds ());
    peak_threads = MAX (peak_threads, count_threads ());
    call_clear (&call);
  }
  /* Streaming threads go back to GStreamer's pool and end within a second. */
  wait_for (back_to_baseline, &baseline, 10);
  fds = count_fds ();
  threads = count_threads ();
  g_test_message ("fds: baseline %u, peak %u during calls, %u after 10 calls", baseline.fds,
                  peak_fds, fds);
  g_test_message ("threads: baseline %u, peak %u during calls, %u after 10 calls", baseline.threads,
                  peak_threads, threads);
  g_assert_cmpuint (peak_fds, >, baseline.fds);
  g_assert_cmpuint (fds, <=, baseline.fds);
  g_assert_cmpuint (threads, <=, baseline.threads);
}

/* A session that is stopped before it ever connected (or was never
 * started) cleans up too. */
static void
test_stop_early (void)
{
  SideConfig red = { RED_SOURCE, 0 };
  SideConfig blue = { BLUE_SOURCE, 0 };
  g_autoptr (GError) error = NULL;
  Call call;

  call_start (&call, &red, &blue, FALSE);
  assert_rejected (call.b.media, "offer", "v=0\r\nm=video 9 RTP/AVP 0\r\n", NULL);
  call_clear (&call);

  side_init (&call.a, "A", VCHATD_MEDIA_ROLE_OFFERER, &red);
  g_assert_false (vchatd_media_send_message (call.a.media, "too early", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
  g_clear_error (&error);
  g_assert_false (vchatd_media_set_remote_description (call.a.media, "answer", "v=0", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
  g_clear_error (&error);
  side_clear (&call.a);

  /* A TURN URL webrtcbin cannot use fails the start, cleanly. */
  {
    const char *turns[] = { "turn://user:pass@127.0.0.1:3478?transport=udp", "not a turn url",
                            NULL };
    VchatdMediaConfig config = { 0 };
    g_autoptr (VchatdMedia) media = NULL;

    config.video_source_description = RED_SOURCE;
    config.audio_source_description = AUDIO_SOURCE;
    config.audio_sink_description = "fakesink";
    config.stun_server = "stun://127.0.0.1:3478";
    config.turn_servers = turns;
    config.relay_only = TRUE;
    media = vchatd_media_new (&config, VCHATD_MEDIA_ROLE_OFFERER, &error);
    g_assert_no_error (error);
    g_assert_false (vchatd_media_start (media, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_test_message ("bad TURN URL: %s", error->message);
    g_clear_error (&error);
    g_assert_cmpint (vchatd_media_get_state (media), ==, VCHATD_MEDIA_STATE_STOPPED);
  }
}


static void
insert_another (gpointer key, gpointer value, gpointer table)
{
  if (g_hash_table_size (table) < 2)
    g_hash_table_insert (table, GINT_TO_POINTER (2), GINT_TO_POINTER (2));
}

/* GStreamer 1.22's rtpsession logs this GLib critical now and then when it
 * schedules NACKs (see vchatd-media.c): not fatal, even in a test, and
 * nothing else is let through. */
static void
test_known_criticals (void)
{
  g_autoptr (GHashTable) table = g_hash_table_new (NULL, NULL);

  g_hash_table_insert (table, GINT_TO_POINTER (1), GINT_TO_POINTER (1));
  g_hash_table_foreach (table, insert_another, table);
  g_assert_cmpuint (g_hash_table_size (table), ==, 2);
  if (g_test_subprocess ()) {
    /* Any other critical still aborts. */
    g_hash_table_foreach (NULL, insert_another, NULL);
    return;
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*g_hash_table_foreach: assertion 'hash_table != NULL' failed*");
}

/* GLib's test runner clears the fatal log handler before each test: the
 * daemon's log filters go in again for each. */
static void
install_filters (gpointer fixture, gconstpointer data)
{
  vchatd_media_install_log_filters ();
}

static void
run_test (gpointer fixture, gconstpointer data)
{
  ((GTestFunc) data) ();
}

static void
add_test (const char *path, GTestFunc func)
{
  g_test_add_vtable (path, 0, (gconstpointer) func, install_filters, run_test, NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  expected_warnings = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (log_writer, NULL, NULL);
  /* Never reach a real PipeWire (a desktop's, or another test's): the one
   * PipeWire target in these tests must fail to open. */
  g_setenv ("PIPEWIRE_REMOTE", "vchat-test-no-such-pipewire", TRUE);
  gst_init (&argc, &argv);
  /* Idle pool threads would otherwise linger for 15 s and blur the thread
   * count of the leak test. */
  g_thread_pool_set_max_unused_threads (0);

  add_test ("/media/call", test_call);
  add_test ("/media/no-video", test_no_video);
  add_test ("/media/bad-sdp", test_bad_sdp);
  add_test ("/media/device-failed", test_device_failed);
  add_test ("/media/stop-early", test_stop_early);
  add_test ("/media/no-leaks", test_no_leaks);
  add_test ("/media/known-criticals", test_known_criticals);
  return g_test_run ();
}
