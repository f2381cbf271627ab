/* vchatd-call.c: one call, as the D-Bus object io.github.vchat.VChat1.Call
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vchatd-call.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include "vchatd-chat.h"
#include "vchatd-error.h"
#include "vchatd-media.h"
#include "vchatd-sdp.h"

#define MAX_MESSAGE_LEN 4096

/* Reconnection (see "Reconnecting a call" in docs/protocol.md). An attempt
 * that has not connected after ATTEMPT_TIMEOUT_S is followed by another,
 * the waits growing from ATTEMPT_TIMEOUT_S by half each time; a network
 * change is checked after NETWORK_CHECK_MS (media that still arrives then
 * needs nothing). */
#define ATTEMPT_TIMEOUT_S 6
#define NETWORK_CHECK_MS 1000
#define DEFAULT_RECONNECT_SECONDS 30
/* Media broken for less than this when the peer leaves: the peer hung up
 * (and closed its connection), it did not give up on a broken path. Below
 * the shortest deadline a peer gives up after (5 s), with room for the two
 * sides' clocks of "broken" to differ by a round trip or two. */
#define PEER_GAVE_UP_AFTER_US (3 * G_USEC_PER_SEC)
/* A peer whose connection to the server dropped this long ago, and whose
 * media stopped, has gone (a crash, a killed process): the call ends as
 * peer-lost rather than try to reconnect to nobody. */
#define PEER_AWAY_LOST_S 4

struct _VchatdCall {
  GObject parent_instance;

  GDBusObjectManagerServer *object_manager;
  VchatDBusObjectSkeleton *object;
  VchatDBusCall *skeleton;
  char *path;

  VchatdSignaling *signaling;
  const VchatdMediaSettings *media_settings;
  VchatdMedia *media;
  /* The remote video node: made with the first media session, kept until
   * the call ends (a reconnection keeps it and its readers). */
  VchatdPublisher *publisher;
  gboolean publisher_failed;
  /* The camera, the microphone and the preview node: made with the first
   * media session and kept until the call ends, feeding each attempt's
   * session (vchatd-media.h); NULL while there is no media. */
  VchatdMedia *capture;

  VchatdCallKind kind;
  VchatdCallState state;
  VchatdCallOptions options;
  char *server_id;
  char *secret; /* of the call, from matched: rejoins it on a server that restarted */
  char *invite_code;
  gboolean offerer;
  gboolean peer_vchatd; /* the peer's client is vchatd (handle_matched()) */
  VchatdEndReason end_reason;

  /* Reconnection: the attempt this side's media belongs to (0: the first
   * negotiation), when media was last known to flow (monotonic, 0: not
   * broken), the timer that tries again or gives up, and the check after a
   * network change. */
  guint attempt;
  guint reconnects;
  /* The peer's chat messages (vchatd-chat.h): the rate limit, what was
   * dropped, and when a drop was last logged. */
  VchatdChatLimit chat_limit;
  guint chat_dropped;
  guint candidates_refused; /* see remote_candidate_allowed() */
  gint64 chat_drop_logged_us;
  /* The control channel: when typing was last said, each way. */
  gint64 typing_sent_us;
  gint64 typing_received_us;
  gint64 broken_since_us;
  gint64 attempt_started_us;
  guint attempt_timeout_s;
  guint attempt_timer;
  guint network_check;
  gboolean waiting_for_server; /* broken, and the restart waits for signaling */
  gint64 peer_away_since_us;   /* the server said the peer's connection dropped */
  guint peer_away_timer;
  GNetworkMonitor *monitor;
};

enum {
  SIGNAL_ENDED,
  SIGNAL_NEXT_REQUESTED,
  SIGNAL_INCOMING,
  SIGNAL_STATE_CHANGED,
  SIGNAL_DEVICE_FAILED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (VchatdCall, vchatd_call, G_TYPE_OBJECT)

static gint64
now_us (void)
{
  return g_get_real_time ();
}

static void
set_state (VchatdCall *self, VchatdCallState state)
{
  VchatdCallState old = self->state;

  if (old == state)
    return;
  g_assert (vchatd_call_transition_valid (old, state));
  g_debug ("call %s: %s → %s", self->path, vchatd_call_state_to_string (old),
           vchatd_call_state_to_string (state));
  self->state = state;
  /* The word describes media that flows; before and after, there is none. */
  if (state != VCHATD_CALL_CONNECTED)
    vchat_dbus_call_set_quality (self->skeleton, "");
  vchat_dbus_call_set_state (self->skeleton, vchatd_call_state_to_string (state));
  if (state == VCHATD_CALL_CONNECTED && vchat_dbus_call_get_connected_at (self->skeleton) == 0)
    vchat_dbus_call_set_connected_at (self->skeleton, now_us ());
  g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0, (guint) old);
}

static void
send_call_message (VchatdCall *self, VchatMsgType type)
{
  g_autoptr (JsonObject) msg = vchat_msg_object_new (type);
  g_autoptr (GError) error = NULL;

  if (self->server_id)
    json_object_set_string_member (msg, "call", self->server_id);
  if (!vchatd_signaling_send (self->signaling, msg, &error))
    g_debug ("call %s: could not tell the server: %s", self->path, error->message);
}

static void
media_clear (VchatdCall *self)
{
  if (!self->media)
    return;
  g_signal_handlers_disconnect_by_data (self->media, self);
  vchatd_media_stop (self->media);
  g_clear_object (&self->media);
}

static void
capture_clear (VchatdCall *self)
{
  if (!self->capture)
    return;
  g_signal_handlers_disconnect_by_data (self->capture, self);
  vchatd_media_stop (self->capture);
  g_clear_object (&self->capture);
  vchat_dbus_call_set_preview_node (self->skeleton, "");
}

static void
publisher_clear (VchatdCall *self)
{
  if (!self->publisher)
    return;
  g_signal_handlers_disconnect_by_data (self->publisher, self);
  vchatd_publisher_stop (self->publisher);
  g_clear_object (&self->publisher);
  vchat_dbus_call_set_remote_video_node (self->skeleton, "");
}

/* The media goes, the reason and the time are set, the state is ENDED. */
static void
reconnect_clear (VchatdCall *self)
{
  g_clear_handle_id (&self->attempt_timer, g_source_remove);
  g_clear_handle_id (&self->network_check, g_source_remove);
  g_clear_handle_id (&self->peer_away_timer, g_source_remove);
  if (self->monitor) {
    g_signal_handlers_disconnect_by_data (self->monitor, self);
    g_clear_object (&self->monitor);
  }
  if (self->signaling)
    g_signal_handlers_disconnect_by_data (self->signaling, self);
}

static void
mark_ended (VchatdCall *self, VchatdEndReason reason)
{
  reconnect_clear (self);
  media_clear (self);
  capture_clear (self);
  publisher_clear (self);
  self->end_reason = reason;
  vchat_dbus_call_set_end_reason (self->skeleton, vchatd_end_reason_to_string (reason));
  vchat_dbus_call_set_ended_at (self->skeleton, now_us ());
  set_state (self, VCHATD_CALL_ENDED);
  g_debug ("call %s: ended (%s)", self->path, vchatd_end_reason_to_string (reason));
}

gboolean
vchatd_call_rejoin (VchatdCall *self)
{
  g_autoptr (JsonObject) msg = NULL;

  if ((self->state != VCHATD_CALL_CONNECTING && self->state != VCHATD_CALL_CONNECTED &&
       self->state != VCHATD_CALL_RECONNECTING) ||
      !self->secret || !self->server_id)
    return FALSE;
  msg = vchat_msg_object_new (VCHAT_MSG_REJOIN);
  json_object_set_string_member (msg, "call", self->server_id);
  json_object_set_string_member (msg, "secret", self->secret);
  json_object_set_string_member (msg, "kind",
                                 self->kind == VCHATD_CALL_KIND_RANDOM ? "random" : "invite");
  if (!vchatd_signaling_send (self->signaling, msg, NULL))
    return FALSE;
  g_message ("call %s: the signaling server forgot the call; asking it to pair us again",
             self->path);
  return TRUE;
}

void
vchatd_call_end (VchatdCall *self, VchatdEndReason reason, gboolean tell_server)
{
  if (self->state == VCHATD_CALL_ENDED)
    return;

  if (tell_server) {
    if (self->state == VCHATD_CALL_SEARCHING && self->kind == VCHATD_CALL_KIND_RANDOM) {
      g_autoptr (JsonObject) leave = vchat_msg_object_new (VCHAT_MSG_LEAVE);
      vchatd_signaling_send (self->signaling, leave, NULL);
    } else if (self->state == VCHATD_CALL_SEARCHING && self->invite_code) {
      g_autoptr (JsonObject) cancel = vchat_msg_object_new (VCHAT_MSG_INVITE_CANCEL);
      json_object_set_string_member (cancel, "code", self->invite_code);
      vchatd_signaling_send (self->signaling, cancel, NULL);
    } else if (self->server_id) {
      send_call_message (self, reason == VCHATD_END_REJECTED ? VCHAT_MSG_REJECT : VCHAT_MSG_LEAVE);
    }
  }

  mark_ended (self, reason);
  g_signal_emit (self, signals[SIGNAL_ENDED], 0);
}

/* Media */

/* The Call's Stats: the media's, with the call's own reconnection figures
 * (also published at once when a new attempt starts, not at the new
 * media's first tick). */
static void
publish_stats (VchatdCall *self, GVariant *media_stats)
{
  GVariantDict dict;
  gint silence = self->media ? vchatd_media_get_silence_ms (self->media) : -1;

  g_variant_dict_init (&dict, media_stats);
  g_variant_dict_insert (&dict, "attempt", "u", self->attempt);
  g_variant_dict_insert (&dict, "reconnects", "u", self->reconnects);
  g_variant_dict_insert (&dict, "silence-ms", "u", (guint) MAX (silence, 0));
  g_variant_dict_insert (&dict, "chat-dropped", "u", self->chat_dropped);
  vchat_dbus_call_set_stats (self->skeleton, g_variant_dict_end (&dict));
}

/* The media does not flow (a broken path, or an attempt still connecting). */
static gboolean
media_down (VchatdCall *self)
{
  return !self->media || vchatd_media_get_state (self->media) != VCHATD_MEDIA_STATE_CONNECTED;
}

/* The media stopped flowing at @since_us: the reconnect-timeout counts from
 * there, and attempts get @timeout_s each to begin with. */
static void
mark_broken (VchatdCall *self, gint64 since_us, guint timeout_s)
{
  if (self->broken_since_us)
    return;
  self->broken_since_us = since_us;
  self->attempt_timeout_s = timeout_s;
}

static void media_broken (VchatdCall *self, const char *why);
static void media_flows (VchatdCall *self);

static void
on_local_description (VchatdMedia *media, const char *type, const char *sdp, VchatdCall *self)
{
  g_autoptr (JsonObject) msg = vchat_msg_object_new (VCHAT_MSG_SIGNAL);
  JsonObject *desc = json_object_new ();

  json_object_set_string_member (msg, "call", self->server_id);
  json_object_set_int_member (msg, "attempt", self->attempt);
  json_object_set_string_member (desc, "type", type);
  json_object_set_string_member (desc, "sdp", sdp);
  json_object_set_object_member (msg, "sdp", desc);
  vchatd_signaling_send (self->signaling, msg, NULL);
}

static void
on_local_candidate (VchatdMedia *media, guint mline, const char *candidate, VchatdCall *self)
{
  g_autoptr (JsonObject) msg = NULL;
  g_autofree char *shown = NULL;
  g_autofree char *mid = NULL;
  JsonObject *ice;
  gboolean share = self->kind == VCHATD_CALL_KIND_RANDOM
                     ? self->media_settings->private_addresses_random
                     : self->media_settings->private_addresses_invite;

  /* What the local network knows of this computer stays there, unless
   * the settings say otherwise (see vchatd_sdp_candidate_for_stranger()). */
  if (*candidate && !share) {
    if (!(shown = vchatd_sdp_candidate_for_stranger (candidate))) {
      g_debug ("call %s: the local address of “%s” is not given to the peer", self->path,
               candidate);
      return;
    }
    candidate = shown;
  }
  msg = vchat_msg_object_new (VCHAT_MSG_SIGNAL);
  ice = json_object_new ();
  json_object_set_string_member (msg, "call", self->server_id);
  json_object_set_int_member (msg, "attempt", self->attempt);
  json_object_set_string_member (ice, "candidate", candidate);
  json_object_set_int_member (ice, "sdpMLineIndex", mline);
  /* Peers that match candidates by mid (aiortc) need it too. */
  mid = vchatd_media_get_mid (media, mline);
  if (mid && strlen (mid) <= 32)
    json_object_set_string_member (ice, "sdpMid", mid);
  json_object_set_object_member (msg, "ice", ice);
  vchatd_signaling_send (self->signaling, msg, NULL);
}

/* The remote picture's node is named once a picture has reached it, not
 * before: a reader that links to the node before its first picture
 * (pipewiresink 0.3.65) can negotiate nothing and stay without frames. */
static void
on_publisher_picture (VchatdPublisher *publisher, VchatdCall *self)
{
  vchat_dbus_call_set_remote_video_node (self->skeleton,
                                         vchatd_publisher_get_node_name (publisher));
}

/* The capture fails only when its pipeline does (a device failing is
 * "device-failed", and the call goes on without it). */
static void
on_capture_state (VchatdMedia *capture, GParamSpec *pspec, VchatdCall *self)
{
  const char *why = NULL;

  if (vchatd_media_get_state (capture) != VCHATD_MEDIA_STATE_FAILED)
    return;
  vchatd_media_get_failure (capture, &why);
  g_warning ("call %s: the camera and microphone capture failed: %s", self->path,
             why ? why : "no reason given");
  vchatd_call_end (self, VCHATD_END_ERROR, TRUE);
}

static void
on_media_state (VchatdMedia *media, GParamSpec *pspec, VchatdCall *self)
{
  switch (vchatd_media_get_state (media)) {
  case VCHATD_MEDIA_STATE_CONNECTED:
    media_flows (self);
    if (self->state == VCHATD_CALL_CONNECTING || self->state == VCHATD_CALL_RECONNECTING)
      set_state (self, VCHATD_CALL_CONNECTED);
    break;
  case VCHATD_MEDIA_STATE_FAILED: {
    const char *why = NULL;

    /* ICE failed, or no media for a while: the path broke (a cut, a new
     * network, a peer that vanished). The call tries a new connection (see
     * reconnect()). A description webrtcbin refused, or our own media
     * failing, is an error, not a broken path. */
    switch (vchatd_media_get_failure (media, &why)) {
    case VCHATD_MEDIA_FAILURE_PEER:
      g_warning ("call %s: the peer sent a session description webrtcbin cannot use: %s",
                 self->path, why);
      vchatd_call_end (self, VCHATD_END_ERROR, TRUE);
      break;
    case VCHATD_MEDIA_FAILURE_LOCAL:
      g_warning ("call %s: media failed: %s", self->path, why);
      vchatd_call_end (self, VCHATD_END_ERROR, TRUE);
      break;
    default:
      media_broken (self, why ? why : "the media stopped");
      break;
    }
    break;
  }
  default:
    break;
  }
}

/* A flood is logged once every 5 s, with what was dropped meanwhile. */
static void
chat_dropped (VchatdCall *self, const char *why)
{
  gint64 now = g_get_monotonic_time ();

  self->chat_dropped++;
  publish_stats (self, vchat_dbus_call_get_stats (self->skeleton));
  if (self->chat_drop_logged_us && now - self->chat_drop_logged_us < 5 * G_USEC_PER_SEC)
    return;
  g_message ("call %s: a message of the peer was dropped: it %s (%u dropped in this call)",
             self->path, why, self->chat_dropped);
  self->chat_drop_logged_us = now;
}

static void
on_message_received (VchatdMedia *media, const char *text, VchatdCall *self)
{
  g_autofree char *clean = NULL;
  g_autofree char *why = NULL;
  gsize len = strlen (text);
  guint removed = 0;

  if (len > VCHATD_CHAT_MAX_BYTES) {
    why = g_strdup_printf ("has %" G_GSIZE_FORMAT " bytes, more than the %d a message may have",
                           len, VCHATD_CHAT_MAX_BYTES);
    chat_dropped (self, why);
    return;
  }
  if (!vchatd_chat_limit_take (&self->chat_limit, g_get_monotonic_time ())) {
    why = g_strdup_printf ("came faster than %d a second", VCHATD_CHAT_PER_SECOND);
    chat_dropped (self, why);
    return;
  }
  clean = vchatd_chat_clean (text, &removed);
  if (removed)
    g_message ("call %s: %u control or formatting character(s) taken out of a message of the "
               "peer", self->path, removed);
  if (!*clean) {
    chat_dropped (self, "had nothing but control characters");
    return;
  }
  vchat_dbus_call_emit_message_received (self->skeleton, clean, now_us ());
}

/* The control channel ("ctl", docs/protocol.md): each side says whether
 * its microphone is muted and its camera on, when the channel opens and at
 * each change, and that it is typing. Another client's messages are JSON
 * objects the call reads for what it knows and otherwise ignores: a later
 * version may add types, and a peer's bad message loses nothing of the
 * call. */
#define TYPING_INTERVAL_US G_USEC_PER_SEC

static void
send_control_state (VchatdCall *self)
{
  g_autofree char *json = NULL;

  if (!self->media)
    return;
  json = g_strdup_printf ("{\"type\":\"state\",\"muted\":%s,\"camera\":%s}",
                          vchat_dbus_call_get_muted (self->skeleton) ? "true" : "false",
                          vchat_dbus_call_get_camera_enabled (self->skeleton) ? "true" : "false");
  vchatd_media_send_control (self->media, json);
}

static void
on_control_open (VchatdMedia *media, VchatdCall *self)
{
  send_control_state (self);
}

static void
on_control_received (VchatdMedia *media, const char *text, VchatdCall *self)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) error = NULL;
  JsonNode *root;
  JsonObject *object;
  JsonNode *member;
  const char *type;
  gint64 now;

  if (!json_parser_load_from_data (parser, text, -1, &error) ||
      !(root = json_parser_get_root (parser)) || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_debug ("call %s: a control message of the peer is not a JSON object: %s", self->path,
             error ? error->message : "another value");
    return;
  }
  object = json_node_get_object (root);
  member = json_object_get_member (object, "type");
  type = member && JSON_NODE_HOLDS_VALUE (member) &&
             json_node_get_value_type (member) == G_TYPE_STRING
           ? json_node_get_string (member)
           : "";
  if (g_str_equal (type, "state")) {
    /* As the web client reads it: muted only if true, the camera on unless false. */
    JsonNode *muted = json_object_get_member (object, "muted");
    JsonNode *camera = json_object_get_member (object, "camera");
    gboolean peer_muted = muted && JSON_NODE_HOLDS_VALUE (muted) &&
                          json_node_get_value_type (muted) == G_TYPE_BOOLEAN &&
                          json_node_get_boolean (muted);
    gboolean peer_camera = !(camera && JSON_NODE_HOLDS_VALUE (camera) &&
                             json_node_get_value_type (camera) == G_TYPE_BOOLEAN &&
                             !json_node_get_boolean (camera));

    if (peer_muted != vchat_dbus_call_get_peer_muted (self->skeleton) ||
        peer_camera != vchat_dbus_call_get_peer_camera_enabled (self->skeleton))
      g_debug ("call %s: the peer is %s, its camera %s", self->path,
               peer_muted ? "muted" : "not muted", peer_camera ? "on" : "off");
    vchat_dbus_call_set_peer_muted (self->skeleton, peer_muted);
    vchat_dbus_call_set_peer_camera_enabled (self->skeleton, peer_camera);
  } else if (g_str_equal (type, "typing")) {
    now = g_get_monotonic_time ();
    if (self->typing_received_us && now - self->typing_received_us < TYPING_INTERVAL_US)
      return;
    self->typing_received_us = now;
    vchat_dbus_call_emit_peer_typing (self->skeleton);
  }
}

/* The call goes on without the device; the properties say so. */
static void
on_device_failed (VchatdMedia *media, const char *device, const char *message, VchatdCall *self)
{
  g_warning ("call %s: %s failed, going on without it: %s", self->path, device, message);
  if (g_str_equal (device, "camera"))
    vchat_dbus_call_set_has_camera (self->skeleton, FALSE);
  else if (g_str_equal (device, "microphone"))
    vchat_dbus_call_set_has_microphone (self->skeleton, FALSE);
  else if (g_str_equal (device, "remote-video-node"))
    vchat_dbus_call_set_remote_video_node (self->skeleton, "");
  else if (g_str_equal (device, "preview-node"))
    vchat_dbus_call_set_preview_node (self->skeleton, "");
  g_signal_emit (self, signals[SIGNAL_DEVICE_FAILED], 0, device, message);
}

/* The remote video node cannot be published: the call goes on without it. */
static void
on_publisher_failed (VchatdPublisher *publisher, const char *message, VchatdCall *self)
{
  self->publisher_failed = TRUE;
  on_device_failed (NULL, "remote-video-node", message, self);
}

/* A camera or microphone that had stopped delivering is back. */
static void
on_device_restored (VchatdMedia *media, const char *device, VchatdCall *self)
{
  g_message ("call %s: the %s delivers again", self->path, device);
  if (g_str_equal (device, "camera"))
    vchat_dbus_call_set_has_camera (self->skeleton, TRUE);
  else if (g_str_equal (device, "microphone"))
    vchat_dbus_call_set_has_microphone (self->skeleton, TRUE);
}

static void
on_stats_updated (VchatdMedia *media, VchatdCall *self)
{
  const char *quality = vchatd_media_get_quality (media);

  g_autoptr (GVariant) stats = g_variant_ref_sink (vchatd_media_get_stats (media));

  publish_stats (self, stats);
  /* The skeleton emits PropertiesChanged only when the word changes. */
  vchat_dbus_call_set_quality (self->skeleton,
                               self->state == VCHATD_CALL_CONNECTED && quality ? quality : "");
}

static gboolean
media_start (VchatdCall *self, GError **error)
{
  const VchatdMediaSettings *ms = self->media_settings;
  g_autofree char *stun = NULL;
  g_auto (GStrv) turns = NULL;
  g_autofree char *prefix = NULL;
  VchatdMediaConfig config = { 0 };
  const char *node;

  vchatd_ice_servers_to_webrtc (vchatd_signaling_get_ice_servers (self->signaling), &stun, &turns);
  if (ms->turn_server && *ms->turn_server) {
    g_autofree char *own = vchatd_turn_url (ms->turn_server, ms->turn_username, ms->turn_password);

    if (own) {
      g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
      g_strv_builder_addv (builder, (const char **) turns);
      g_strv_builder_add (builder, own);
      explicit_bzero (own, strlen (own));
      g_strfreev (turns);
      turns = g_strv_builder_end (builder);
      g_debug ("call: also the TURN server %s of the settings (%s)", ms->turn_server,
               ms->turn_username ? "with credentials from the keyring" : "without credentials");
    } else {
      g_warning ("the setting turn-server “%s” is not a turn: or turns: URL; ignored",
                 ms->turn_server);
    }
  }
  if (ms->publish_nodes)
    prefix = g_strdup_printf ("vchat-%d-call-%s", (int) getpid (), strrchr (self->path, '/') + 1);
  if (prefix && !self->publisher && !self->publisher_failed) {
    g_autofree char *name = g_strdup_printf ("%s-remote", prefix);
    g_autoptr (GError) local = NULL;

    self->publisher = vchatd_publisher_new (name, &local);
    if (self->publisher) {
      g_signal_connect (self->publisher, "picture", G_CALLBACK (on_publisher_picture), self);
      g_signal_connect (self->publisher, "failed", G_CALLBACK (on_publisher_failed), self);
    } else {
      on_publisher_failed (NULL, local->message, self);
    }
  }

  /* A test source given on the command line wins over the device. */
  config.camera_target = ms->video_source ? NULL : ms->camera_target;
  config.video_source_description = ms->video_source;
  config.microphone_target = ms->audio_source ? NULL : ms->microphone_target;
  config.audio_source_description = ms->audio_source;
  config.audio_sink_description = ms->audio_sink;
  config.speaker_target = ms->speaker_target;
  config.stun_server = stun;
  config.turn_servers = (const char *const *) turns;
  config.ice_addresses = (const char *const *) ms->ice_addresses;
  /* Random calls go through a relay when there is one (relay-only); a
   * call's own option wins. */
  config.relay_only = self->options.relay_only_set
                        ? self->options.relay_only
                        : self->kind == VCHATD_CALL_KIND_RANDOM && ms->relay_only && turns &&
                            turns[0];
  if (config.relay_only && !self->options.relay_only_set)
    g_debug ("call %s: a random call, through the TURN relay only", self->path);
  config.max_bitrate_kbps = ms->max_bitrate_kbps;
  config.node_name_prefix = prefix;
  config.publisher = self->publisher;
  config.watchdog_seconds = ms->watchdog_seconds;
  config.peer_vchatd = self->peer_vchatd;

  if (!self->capture) {
    self->capture = vchatd_media_new (&config, VCHATD_MEDIA_ROLE_CAPTURE, error);
    if (!self->capture)
      return FALSE;
    g_signal_connect (self->capture, "notify::state", G_CALLBACK (on_capture_state), self);
    g_signal_connect (self->capture, "device-failed", G_CALLBACK (on_device_failed), self);
    g_signal_connect (self->capture, "device-restored", G_CALLBACK (on_device_restored), self);
    vchatd_media_set_camera_enabled (self->capture,
                                     vchat_dbus_call_get_camera_enabled (self->skeleton));
    if (!vchatd_media_start (self->capture, error)) {
      capture_clear (self);
      return FALSE;
    }
    vchat_dbus_call_set_has_camera (self->skeleton, vchatd_media_get_has_video (self->capture));
    vchat_dbus_call_set_has_microphone (self->skeleton,
                                        vchatd_media_get_has_audio (self->capture));
    node = vchatd_media_get_preview_node (self->capture);
    vchat_dbus_call_set_preview_node (self->skeleton, node ? node : "");
  }
  config.capture = self->capture;

  self->media = vchatd_media_new (
    &config, self->offerer ? VCHATD_MEDIA_ROLE_OFFERER : VCHATD_MEDIA_ROLE_ANSWERER, error);
  if (!self->media)
    return FALSE;
  g_signal_connect (self->media, "local-description", G_CALLBACK (on_local_description), self);
  g_signal_connect (self->media, "local-candidate", G_CALLBACK (on_local_candidate), self);
  g_signal_connect (self->media, "notify::state", G_CALLBACK (on_media_state), self);
  g_signal_connect (self->media, "message-received", G_CALLBACK (on_message_received), self);
  g_signal_connect (self->media, "control-open", G_CALLBACK (on_control_open), self);
  g_signal_connect (self->media, "control-received", G_CALLBACK (on_control_received), self);
  g_signal_connect (self->media, "stats-updated", G_CALLBACK (on_stats_updated), self);
  g_signal_connect (self->media, "device-failed", G_CALLBACK (on_device_failed), self);
  g_signal_connect (self->media, "device-restored", G_CALLBACK (on_device_restored), self);
  vchatd_media_set_muted (self->media, vchat_dbus_call_get_muted (self->skeleton));
  return vchatd_media_start (self->media, error);
}

/* Reconnection
 *
 * webrtcbin 1.22 cannot restart ICE, so a call whose path broke gets a new
 * media session, negotiated through the server as a new attempt of the
 * same call (docs/protocol.md, "Reconnecting a call"). The call object,
 * its D-Bus path and its node names stay; the offerer stays the offerer.
 * Attempts follow each other until media flows again or the call has been
 * without media for reconnect-timeout; then it ends with reason network. */

static void arm_attempt_timer (VchatdCall *self);


static guint
reconnect_seconds (VchatdCall *self)
{
  return self->media_settings->reconnect_seconds ? self->media_settings->reconnect_seconds
                                                 : DEFAULT_RECONNECT_SECONDS;
}

static gboolean
give_up_if_late (VchatdCall *self)
{
  gint64 now = g_get_monotonic_time ();

  if (!self->broken_since_us ||
      now - self->broken_since_us < (gint64) reconnect_seconds (self) * G_USEC_PER_SEC)
    return FALSE;
  g_message ("call %s: no media for %u s; the connection could not be restored", self->path,
             reconnect_seconds (self));
  vchatd_call_end (self, VCHATD_END_NETWORK, TRUE);
  return TRUE;
}

static gboolean
send_restart (VchatdCall *self)
{
  g_autoptr (JsonObject) msg = vchat_msg_object_new (VCHAT_MSG_SIGNAL);
  g_autoptr (GError) error = NULL;

  json_object_set_string_member (msg, "call", self->server_id);
  json_object_set_int_member (msg, "attempt", self->attempt);
  json_object_set_boolean_member (msg, "restart", TRUE);
  if (vchatd_signaling_send (self->signaling, msg, &error))
    return TRUE;
  g_debug ("call %s: the restart waits for the server: %s", self->path, error->message);
  return FALSE;
}

/* A new media session for @attempt; @ask_peer: this side starts it (and
 * tells the peer), rather than following the peer's restart. */
static void
reconnect (VchatdCall *self, guint attempt, gboolean ask_peer, const char *why)
{
  g_autoptr (GError) error = NULL;

  if (give_up_if_late (self))
    return;
  if (attempt > VCHAT_MAX_ATTEMPT) {
    g_message ("call %s: %u connection attempts; giving up", self->path, VCHAT_MAX_ATTEMPT);
    vchatd_call_end (self, VCHATD_END_NETWORK, TRUE);
    return;
  }
  if (self->state == VCHATD_CALL_CONNECTED)
    set_state (self, VCHATD_CALL_RECONNECTING);
  /* Without the server the peer cannot be asked, and an offer would be
   * lost: the media as it is stays (it may come back by itself) until the
   * signaling connection is back. */
  if (ask_peer && vchatd_signaling_get_state (self->signaling) != VCHATD_SIGNALING_ONLINE) {
    if (!self->waiting_for_server)
      g_message ("call %s: %s; reconnecting once the signaling server is back", self->path, why);
    self->waiting_for_server = TRUE;
    arm_attempt_timer (self);
    return;
  }
  self->waiting_for_server = FALSE;
  self->attempt = attempt;
  self->reconnects++;
  self->attempt_started_us = g_get_monotonic_time ();
  g_message ("call %s: reconnecting (attempt %u): %s", self->path, attempt, why);
  /* The signaling connection may have broken with the media path: TCP
   * would say so in minutes, or deliver the restart late after its own
   * backoff. Asked now, it finds out in seconds and resumes, and what is
   * sent meanwhile goes out on the new connection. */
  vchatd_signaling_check (self->signaling, "a call is reconnecting");
  if (ask_peer && !send_restart (self))
    self->waiting_for_server = TRUE;
  media_clear (self);
  if (!media_start (self, &error)) {
    g_warning ("call %s: cannot start media again: %s", self->path, error->message);
    vchatd_call_end (self, VCHATD_END_ERROR, TRUE);
    return;
  }
  publish_stats (self, vchat_dbus_call_get_stats (self->skeleton));
  arm_attempt_timer (self);
}

static gboolean
on_attempt_timeout (gpointer data)
{
  VchatdCall *self = data;
  g_autofree char *why = NULL;

  self->attempt_timer = 0;
  if (give_up_if_late (self))
    return G_SOURCE_REMOVE;
  why = g_strdup_printf ("attempt %u did not connect within %u s", self->attempt,
                         self->attempt_timeout_s);
  /* Each attempt gets longer than the last (a slow path, a loaded machine). */
  self->attempt_timeout_s += self->attempt_timeout_s / 2;
  reconnect (self, self->attempt + 1, TRUE, why);
  return G_SOURCE_REMOVE;
}

/* The next attempt when this one has not connected in time, or the end
 * when the deadline comes first. */
static void
arm_attempt_timer (VchatdCall *self)
{
  gint64 left_us = self->broken_since_us +
                   (gint64) reconnect_seconds (self) * G_USEC_PER_SEC - g_get_monotonic_time ();
  guint ms = MIN (self->attempt_timeout_s * 1000, (guint) MAX (left_us / 1000, 0) + 1);

  g_clear_handle_id (&self->attempt_timer, g_source_remove);
  self->attempt_timer = g_timeout_add (ms, on_attempt_timeout, self);
}

/* The path broke (ICE failed, the media stopped). Attempts are at least
 * two seconds apart, so a path that fails at once does not spin. */
static void
media_broken (VchatdCall *self, const char *why)
{
  gint64 now = g_get_monotonic_time ();
  gint silence = self->media ? vchatd_media_get_silence_ms (self->media) : -1;

  if (self->state != VCHATD_CALL_CONNECTED && self->state != VCHATD_CALL_RECONNECTING &&
      self->state != VCHATD_CALL_CONNECTING)
    return;
  mark_broken (self, now - (gint64) MAX (silence, 0) * 1000, ATTEMPT_TIMEOUT_S);
  if (now - self->attempt_started_us < 2 * G_USEC_PER_SEC) {
    g_debug ("call %s: %s; the next attempt in 2 s", self->path, why);
    g_clear_handle_id (&self->attempt_timer, g_source_remove);
    self->attempt_timer = g_timeout_add (2000, on_attempt_timeout, self);
    return;
  }
  reconnect (self, self->attempt + 1, TRUE, why);
}

/* Media flows (again). */
static void
media_flows (VchatdCall *self)
{
  if (self->broken_since_us && self->attempt > 0)
    g_message ("call %s: reconnected (attempt %u) %.1f s after the media stopped", self->path,
               self->attempt, (g_get_monotonic_time () - self->broken_since_us) / 1e6);
  self->broken_since_us = 0;
  self->waiting_for_server = FALSE;
  g_clear_handle_id (&self->attempt_timer, g_source_remove);
}

static gboolean
on_network_check (gpointer data)
{
  VchatdCall *self = data;
  gint silence;

  self->network_check = 0;
  if (self->state != VCHATD_CALL_CONNECTED || !self->media)
    return G_SOURCE_REMOVE;
  silence = vchatd_media_get_silence_ms (self->media);
  if (silence >= NETWORK_CHECK_MS - 250)
    media_broken (self, "the network changed and the media stopped");
  return G_SOURCE_REMOVE;
}

/* Addresses or routes changed: if the media stops with it, the path went
 * with the old address; do not wait for the watchdog. */
static void
on_network_changed (GNetworkMonitor *monitor, gboolean available, VchatdCall *self)
{
  if (self->state == VCHATD_CALL_CONNECTED && !self->network_check)
    self->network_check = g_timeout_add (NETWORK_CHECK_MS, on_network_check, self);
}

/* The signaling connection is back: a restart that could not even be
 * queued goes now. (What was queued while the connection was in doubt goes
 * out on the resumed session by itself: nothing to redo.) */
static void
on_signaling_state (VchatdSignaling *signaling, GParamSpec *pspec, VchatdCall *self)
{
  if (vchatd_signaling_get_state (signaling) != VCHATD_SIGNALING_ONLINE ||
      !self->waiting_for_server || !self->server_id)
    return;
  reconnect (self, self->attempt + 1, TRUE, "the signaling connection is back");
}

/* The peer's connection to the server dropped (peer_away) and its media
 * stopped: it is gone, not behind a broken path. */
static gboolean
peer_gone (VchatdCall *self)
{
  gint64 now = g_get_monotonic_time ();

  if (!self->peer_away_since_us || !self->broken_since_us ||
      now - self->peer_away_since_us < PEER_AWAY_LOST_S * G_USEC_PER_SEC)
    return FALSE;
  g_message ("call %s: the peer's connection to the server dropped %.1f s ago and its media "
             "stopped: the peer is gone",
             self->path, (now - self->peer_away_since_us) / 1e6);
  vchatd_call_end (self, VCHATD_END_PEER_LOST, TRUE);
  return TRUE;
}

static gboolean
on_peer_away_tick (gpointer data)
{
  VchatdCall *self = data;
  guint id = self->peer_away_timer;

  self->peer_away_timer = 0;
  if (peer_gone (self))
    return G_SOURCE_REMOVE; /* the call has ended (and may be gone) */
  self->peer_away_timer = id;
  return G_SOURCE_CONTINUE;
}

static void
handle_peer_away (VchatdCall *self, gboolean away)
{
  g_debug ("call %s: the peer's connection to the server %s", self->path,
           away ? "dropped" : "is back");
  g_clear_handle_id (&self->peer_away_timer, g_source_remove);
  self->peer_away_since_us = away ? g_get_monotonic_time () : 0;
  if (away) {
    self->peer_away_timer = g_timeout_add_seconds (1, on_peer_away_tick, self);
    return;
  }
  /* The peer's session came back on a new connection (it moved to another
   * network): what the server sent it on the old one, our restart and offer
   * among them, may be lost. A broken call starts again, now that it can
   * reach the peer. The offerer does it (it makes the offer anyway; the
   * answerer coming back re-sends its own restart from its outbox). */
  if (self->offerer && self->broken_since_us && media_down (self))
    reconnect (self, self->attempt + 1, TRUE, "the peer is back at the server");
}

/* Server messages */

static GVariant *
peer_variant (JsonObject *peer, const char *const *common)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  if (peer) {
    g_variant_builder_add (
      &b, "{sv}", "name",
      g_variant_new_string (json_object_get_string_member_with_default (peer, "name", "")));
    g_variant_builder_add (
      &b, "{sv}", "client",
      g_variant_new_string (json_object_get_string_member_with_default (peer, "client", "")));
  }
  g_variant_builder_add (&b, "{sv}", "common-interests",
                         g_variant_new_strv (common, common ? -1 : 0));
  return g_variant_builder_end (&b);
}

static void
handle_matched (VchatdCall *self, VchatMsg *msg)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) common = vchat_msg_dup_strv (msg, "common_interests");

  g_free (self->server_id);
  self->server_id = g_strdup (vchat_msg_get_string (msg, "call"));
  self->offerer = g_strcmp0 (vchat_msg_get_string (msg, "role"), "offerer") == 0;
  g_free (self->secret);
  self->secret = g_strdup (vchat_msg_get_string (msg, "secret"));
  vchat_dbus_call_set_peer (self->skeleton, peer_variant (vchat_msg_get_object (msg, "peer"),
                                                          (const char *const *) common));
  {
    JsonObject *peer = vchat_msg_get_object (msg, "peer");

    /* "vchatd/<version>" (vchatd-signaling.c): the media sessions then
     * offer VP9 first. */
    self->peer_vchatd =
      peer && g_str_has_prefix (json_object_get_string_member_with_default (peer, "client", ""),
                                "vchatd/");
  }
  set_state (self, VCHATD_CALL_CONNECTING);
  /* The first attempt gets longer (the peer may still be setting up). */
  self->attempt = 0;
  self->attempt_started_us = g_get_monotonic_time ();
  self->broken_since_us = 0;
  mark_broken (self, self->attempt_started_us, 2 * ATTEMPT_TIMEOUT_S);
  arm_attempt_timer (self);
  if (!self->monitor) {
    self->monitor = g_object_ref (g_network_monitor_get_default ());
    g_signal_connect (self->monitor, "network-changed", G_CALLBACK (on_network_changed), self);
    g_signal_connect (self->signaling, "notify::state", G_CALLBACK (on_signaling_state), self);
  }
  if (!media_start (self, &error)) {
    g_warning ("call %s: cannot start media: %s", self->path, error->message);
    vchatd_call_end (self, VCHATD_END_ERROR, TRUE);
  }
}

/* Where a peer may point this computer's connectivity checks, beyond what
 * the media session refuses to anyone (vchatd_sdp_candidate_target_allowed()):
 * not at our own loopback, unless we gather on it (tests); in a random call,
 * not into our local network either, unless private-addresses-random (a
 * stranger could otherwise probe the LAN through us). Refused candidates
 * are logged and dropped; the call goes on with the others. */
static gboolean
remote_candidate_allowed (VchatdCall *self, const char *candidate)
{
  const VchatdMediaSettings *ms = self->media_settings;
  g_autoptr (GInetAddress) address = candidate ? vchatd_sdp_candidate_address (candidate) : NULL;
  const char *why = NULL;

  if (!address)
    return TRUE; /* "" (end of candidates), names, malformed: the media session decides */
  if (g_inet_address_get_is_loopback (address)) {
    for (guint i = 0; ms->ice_addresses && ms->ice_addresses[i]; i++) {
      g_autoptr (GInetAddress) own = g_inet_address_new_from_string (ms->ice_addresses[i]);

      if (own && g_inet_address_get_is_loopback (own))
        return TRUE;
    }
    why = "it points at this computer's loopback";
  } else if (self->kind == VCHATD_CALL_KIND_RANDOM && !ms->private_addresses_random &&
             vchatd_sdp_address_is_private (address)) {
    why = "a stranger may not point at the local network (private-addresses-random)";
  }
  if (!why)
    return TRUE;
  if (self->candidates_refused++ < 8)
    g_message ("call %s: ignoring the peer's candidate “%s”: %s", self->path, candidate, why);
  return FALSE;
}

/* A candidate of the peer: dropped if the call's policy refuses it, given
 * to the media session (which checks it too) otherwise. */
static gboolean
take_remote_candidate (VchatdCall *self, guint mline, const char *candidate, GError **error)
{
  if (!remote_candidate_allowed (self, candidate))
    return TRUE;
  return vchatd_media_add_remote_candidate (self->media, mline, candidate, error);
}

static void
handle_signal (VchatdCall *self, VchatMsg *msg)
{
  g_autoptr (GError) error = NULL;
  JsonObject *sdp = vchat_msg_get_object (msg, "sdp");
  JsonObject *ice = vchat_msg_get_object (msg, "ice");
  gint64 attempt = vchat_msg_get_int (msg, "attempt", 0);
  gboolean ok;

  if (attempt < self->attempt) {
    g_debug ("call %s: a signal of attempt %" G_GINT64_FORMAT " (now %u), dropped", self->path,
             attempt, self->attempt);
    return;
  }
  if (attempt > self->attempt) {
    mark_broken (self, g_get_monotonic_time (), ATTEMPT_TIMEOUT_S);
    reconnect (self, attempt, FALSE, "the peer asked");
    if (self->state == VCHATD_CALL_ENDED)
      return;
  }
  if (vchat_msg_has (msg, "restart"))
    return; /* this attempt is already under way */
  if (!self->media) {
    g_debug ("call %s: signal before media, ignored", self->path);
    return;
  }
  if (sdp) {
    /* Candidates inside the description (a peer that does not trickle)
     * get the same checks as trickled ones (vchatd_sdp_take_candidates()). */
    g_autoptr (GArray) embedded = vchatd_sdp_candidates_new ();
    g_autofree char *bare = NULL;
    const char *text = json_object_get_string_member_with_default (sdp, "sdp", "");

    bare = vchatd_sdp_take_candidates (text, embedded);
    ok = vchatd_media_set_remote_description (
      self->media, json_object_get_string_member (sdp, "type"), bare, &error);
    if (ok && embedded->len)
      g_debug ("call %s: %u candidates came in the description; checked as trickled ones",
               self->path, embedded->len);
    for (guint i = 0; ok && i < embedded->len; i++) {
      VchatdSdpCandidate *c = &g_array_index (embedded, VchatdSdpCandidate, i);

      ok = take_remote_candidate (self, c->mline, c->candidate, &error);
    }
  } else {
    ok = take_remote_candidate (self, (guint) json_object_get_int_member (ice, "sdpMLineIndex"),
                                json_object_get_string_member (ice, "candidate"), &error);
  }
  if (!ok) {
    /* The peer sent something webrtcbin cannot use: a broken or hostile
     * client. The call cannot work; end it rather than hang. */
    g_warning ("call %s: the peer sent unusable %s: %s", self->path, sdp ? "SDP" : "ICE candidate",
               error->message);
    vchatd_call_end (self, VCHATD_END_ERROR, TRUE);
  }
}

void
vchatd_call_handle_message (VchatdCall *self, VchatMsg *msg)
{
  switch (msg->type) {
  case VCHAT_MSG_QUEUED:
    break;
  case VCHAT_MSG_MATCHED:
    if (self->state == VCHATD_CALL_SEARCHING || self->state == VCHATD_CALL_RINGING ||
        self->state == VCHATD_CALL_INCOMING || self->state == VCHATD_CALL_CONNECTING)
      handle_matched (self, msg);
    break;
  case VCHAT_MSG_INCOMING: {
    GVariant *peer = peer_variant (vchat_msg_get_object (msg, "peer"), NULL);

    g_free (self->server_id);
    self->server_id = g_strdup (vchat_msg_get_string (msg, "call"));
    vchat_dbus_call_set_peer (self->skeleton, peer);
    set_state (self, VCHATD_CALL_INCOMING);
    g_signal_emit (self, signals[SIGNAL_INCOMING], 0, peer);
    break;
  }
  case VCHAT_MSG_RINGING:
    g_free (self->server_id);
    self->server_id = g_strdup (vchat_msg_get_string (msg, "call"));
    vchat_dbus_call_set_peer (self->skeleton,
                              peer_variant (vchat_msg_get_object (msg, "peer"), NULL));
    break;
  case VCHAT_MSG_SIGNAL:
    handle_signal (self, msg);
    break;
  case VCHAT_MSG_PEER_LEFT: {
    VchatdEndReason reason =
      vchatd_end_reason_from_peer_left (vchat_msg_get_string (msg, "reason"));

    /* A peer that leaves (not "next") while the call reconnects gave up on
     * the path (its deadline came first): for both, the connection could
     * not be restored. But a deadline is at least 5 s (reconnect-timeout,
     * and the web client's 30 s), and a peer who hangs up closes its
     * connection at once: its media end, which we hear straight away, may
     * come before its `leave` through the server. */
    if (self->state == VCHATD_CALL_RECONNECTING && reason == VCHATD_END_PEER_HANGUP &&
        self->broken_since_us &&
        g_get_monotonic_time () - self->broken_since_us >= PEER_GAVE_UP_AFTER_US)
      reason = VCHATD_END_NETWORK;
    vchatd_call_end (self, reason, FALSE);
    break;
  }
  case VCHAT_MSG_INVITE_EXPIRED:
    vchatd_call_end (self, VCHATD_END_EXPIRED, FALSE);
    break;
  case VCHAT_MSG_REJOINED:
    g_message ("call %s: the signaling server knows the call again", self->path);
    if (self->broken_since_us && media_down (self))
      reconnect (self, self->attempt + 1, TRUE, "the server knows the call again");
    break;
  case VCHAT_MSG_PEER_AWAY:
    if (self->state == VCHATD_CALL_CONNECTING || self->state == VCHATD_CALL_CONNECTED ||
        self->state == VCHATD_CALL_RECONNECTING)
      handle_peer_away (self, vchat_msg_get_bool (msg, "away"));
    break;
  case VCHAT_MSG_CALL_ENDED:
  case VCHAT_MSG_INVITE_CANCELLED:
  case VCHAT_MSG_REPORTED:
    /* Confirmations of what this call already did. */
    break;
  default:
    g_debug ("call %s: %s ignored", self->path, vchat_msg_type_to_string (msg->type));
  }
}

/* D-Bus methods */

static gboolean
check (VchatdCall *self, GDBusMethodInvocation *invocation, VchatdCallAction action)
{
  g_autoptr (GError) error = NULL;

  if (vchatd_call_action_allowed (self->state, self->kind, action, &error))
    return TRUE;
  g_dbus_method_invocation_return_gerror (invocation, error);
  return FALSE;
}

/* Answers: the D-Bus methods and the notification's buttons both come
 * here, so the first answer wins whichever way it came. */

gboolean
vchatd_call_accept (VchatdCall *self, GError **error)
{
  g_autoptr (JsonObject) msg = NULL;
  g_autoptr (GError) send_error = NULL;

  if (!vchatd_call_action_allowed (self->state, self->kind, VCHATD_ACTION_ACCEPT, error))
    return FALSE;
  msg = vchat_msg_object_new (VCHAT_MSG_ACCEPT);
  json_object_set_string_member (msg, "call", self->server_id);
  if (!vchatd_signaling_send (self->signaling, msg, &send_error)) {
    g_set_error (error, VCHATD_ERROR, VCHATD_ERROR_OFFLINE, "%s", send_error->message);
    return FALSE;
  }
  /* From here on the call is no longer incoming, so a racing Accept or
   * Reject gets InvalidState. */
  set_state (self, VCHATD_CALL_CONNECTING);
  return TRUE;
}

gboolean
vchatd_call_reject (VchatdCall *self, GError **error)
{
  if (!vchatd_call_action_allowed (self->state, self->kind, VCHATD_ACTION_REJECT, error))
    return FALSE;
  vchatd_call_end (self, VCHATD_END_REJECTED, TRUE);
  return TRUE;
}

static gboolean
handle_accept (VchatDBusCall *skeleton, GDBusMethodInvocation *invocation, VchatdCall *self)
{
  g_autoptr (GError) error = NULL;

  if (vchatd_call_accept (self, &error))
    vchat_dbus_call_complete_accept (skeleton, invocation);
  else
    g_dbus_method_invocation_return_gerror (invocation, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_reject (VchatDBusCall *skeleton, GDBusMethodInvocation *invocation, VchatdCall *self)
{
  g_autoptr (GError) error = NULL;

  if (vchatd_call_reject (self, &error))
    vchat_dbus_call_complete_reject (skeleton, invocation);
  else
    g_dbus_method_invocation_return_gerror (invocation, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_hangup (VchatDBusCall *skeleton, GDBusMethodInvocation *invocation, VchatdCall *self)
{
  if (!check (self, invocation, VCHATD_ACTION_HANGUP))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  vchatd_call_end (self, VCHATD_END_HANGUP, TRUE);
  vchat_dbus_call_complete_hangup (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_next (VchatDBusCall *skeleton, GDBusMethodInvocation *invocation, VchatdCall *self)
{
  if (!check (self, invocation, VCHATD_ACTION_NEXT))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  /* The server ends the call and queues us again; the manager makes the
   * new call object that the next `queued` and `matched` belong to. */
  send_call_message (self, VCHAT_MSG_NEXT);
  mark_ended (self, VCHATD_END_NEXT);
  g_signal_emit (self, signals[SIGNAL_NEXT_REQUESTED], 0, invocation);
  g_signal_emit (self, signals[SIGNAL_ENDED], 0);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

void
vchatd_call_complete_next (VchatdCall *self, GDBusMethodInvocation *invocation,
                           const char *new_path)
{
  vchat_dbus_call_complete_next (self->skeleton, invocation, new_path);
}

static gboolean
handle_set_muted (VchatDBusCall *skeleton, GDBusMethodInvocation *invocation, gboolean muted,
                  VchatdCall *self)
{
  if (!check (self, invocation, VCHATD_ACTION_SET_MEDIA))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  vchat_dbus_call_set_muted (skeleton, muted);
  if (self->media)
    vchatd_media_set_muted (self->media, muted);
  send_control_state (self);
  vchat_dbus_call_complete_set_muted (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_set_camera_enabled (VchatDBusCall *skeleton, GDBusMethodInvocation *invocation,
                           gboolean enabled, VchatdCall *self)
{
  if (!check (self, invocation, VCHATD_ACTION_SET_MEDIA))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  vchat_dbus_call_set_camera_enabled (skeleton, enabled);
  if (self->capture)
    vchatd_media_set_camera_enabled (self->capture, enabled);
  send_control_state (self);
  vchat_dbus_call_complete_set_camera_enabled (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_send_message (VchatDBusCall *skeleton, GDBusMethodInvocation *invocation, const char *text,
                     VchatdCall *self)
{
  g_autoptr (GError) error = NULL;

  if (!check (self, invocation, VCHATD_ACTION_SEND_MESSAGE))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (!*text || strlen (text) > MAX_MESSAGE_LEN) {
    g_dbus_method_invocation_return_error (invocation, VCHATD_ERROR, VCHATD_ERROR_INVALID_ARGS,
                                           _("A message has 1 to %d bytes of text."), MAX_MESSAGE_LEN);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  }
  if (!self->media || !vchatd_media_send_message (self->media, text, &error)) {
    g_dbus_method_invocation_return_error (invocation, VCHATD_ERROR, VCHATD_ERROR_FAILED,
                                           _("The message could not be sent: %s"),
                                           error ? error->message : _("no media session"));
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  }
  vchat_dbus_call_complete_send_message (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_send_typing (VchatDBusCall *skeleton, GDBusMethodInvocation *invocation, VchatdCall *self)
{
  gint64 now = g_get_monotonic_time ();

  if (!check (self, invocation, VCHATD_ACTION_SEND_MESSAGE))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (self->media && (!self->typing_sent_us || now - self->typing_sent_us >= TYPING_INTERVAL_US)) {
    if (vchatd_media_send_control (self->media, "{\"type\":\"typing\"}"))
      self->typing_sent_us = now;
  }
  vchat_dbus_call_complete_send_typing (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_report (VchatDBusCall *skeleton, GDBusMethodInvocation *invocation, const char *reason,
               VchatdCall *self)
{
  g_autoptr (JsonObject) msg = NULL;
  g_autoptr (GError) error = NULL;

  if (!check (self, invocation, VCHATD_ACTION_REPORT))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (!*reason || strlen (reason) > 200 || !self->server_id) {
    g_dbus_method_invocation_return_error (invocation, VCHATD_ERROR, VCHATD_ERROR_INVALID_ARGS,
                                           self->server_id
                                             ? _("Give a reason of 1 to 200 bytes.")
                                             : _("There was nobody in this call to report."));
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  }
  msg = vchat_msg_object_new (VCHAT_MSG_REPORT);
  json_object_set_string_member (msg, "call", self->server_id);
  json_object_set_string_member (msg, "reason", reason);
  if (!vchatd_signaling_send (self->signaling, msg, &error)) {
    g_dbus_method_invocation_return_error (invocation, VCHATD_ERROR, VCHATD_ERROR_OFFLINE, "%s",
                                           error->message);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  }
  vchat_dbus_call_complete_report (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Accessors */

const char *
vchatd_call_get_path (VchatdCall *self)
{
  return self->path;
}

VchatdCallState
vchatd_call_get_state (VchatdCall *self)
{
  return self->state;
}

VchatdCallKind
vchatd_call_get_kind (VchatdCall *self)
{
  return self->kind;
}

const char *
vchatd_call_get_server_id (VchatdCall *self)
{
  return self->server_id;
}

const char *
vchatd_call_get_invite_code (VchatdCall *self)
{
  return self->invite_code;
}

const VchatdCallOptions *
vchatd_call_get_options (VchatdCall *self)
{
  return &self->options;
}

VchatdEndReason
vchatd_call_get_end_reason (VchatdCall *self)
{
  return self->end_reason;
}

GVariant *
vchatd_call_get_peer (VchatdCall *self)
{
  return vchat_dbus_call_get_peer (self->skeleton);
}

void
vchatd_call_set_camera (VchatdCall *self, const char *target)
{
  if (!self->capture)
    return;
  /* A call set up while there was no camera (one unplugged and plugged in
   * again, a PipeWire restart) captures and negotiated no video of ours: a
   * camera that appears needs a capture with video, and a new negotiation,
   * which is what a reconnection is. */
  if (target && !vchatd_media_get_has_video (self->capture) &&
      (self->state == VCHATD_CALL_CONNECTING || self->state == VCHATD_CALL_CONNECTED ||
       self->state == VCHATD_CALL_RECONNECTING)) {
    capture_clear (self);
    media_broken (self, "a camera appeared; negotiating again to send it");
    return;
  }
  /* Without a camera the capture reports the failure (device-failed), which
   * clears HasCamera; a new one that fails to start does the same. */
  if (target && vchatd_media_get_has_video (self->capture))
    vchat_dbus_call_set_has_camera (self->skeleton, TRUE);
  vchatd_media_set_camera (self->capture, target);
}

void
vchatd_call_set_max_bitrate (VchatdCall *self, guint kbps)
{
  if (self->media)
    vchatd_media_set_max_bitrate (self->media, kbps);
}

void
vchatd_call_set_invite (VchatdCall *self, const char *code, const char *web_link)
{
  g_free (self->invite_code);
  self->invite_code = g_strdup (code);
  vchat_dbus_call_set_invite_code (self->skeleton, code);
  vchat_dbus_call_set_invite_web_link (self->skeleton, web_link ? web_link : "");
}

static void
vchatd_call_dispose (GObject *object)
{
  VchatdCall *self = VCHATD_CALL (object);

  reconnect_clear (self);
  media_clear (self);
  capture_clear (self);
  publisher_clear (self);
  if (self->object_manager && self->path) {
    g_dbus_object_manager_server_unexport (self->object_manager, self->path);
    g_clear_object (&self->object_manager);
  }
  if (self->skeleton)
    g_signal_handlers_disconnect_by_data (self->skeleton, self);
  g_clear_object (&self->skeleton);
  g_clear_object (&self->object);
  g_clear_object (&self->signaling);
  G_OBJECT_CLASS (vchatd_call_parent_class)->dispose (object);
}

static void
vchatd_call_finalize (GObject *object)
{
  VchatdCall *self = VCHATD_CALL (object);

  vchatd_call_options_clear (&self->options);
  g_free (self->path);
  g_free (self->server_id);
  if (self->secret)
    explicit_bzero (self->secret, strlen (self->secret));
  g_free (self->secret);
  g_free (self->invite_code);
  G_OBJECT_CLASS (vchatd_call_parent_class)->finalize (object);
}

static void
vchatd_call_class_init (VchatdCallClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vchatd_call_dispose;
  object_class->finalize = vchatd_call_finalize;

  signals[SIGNAL_ENDED] = g_signal_new ("ended", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_NEXT_REQUESTED] = g_signal_new ("next-requested", G_TYPE_FROM_CLASS (klass),
                                                 G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                 G_TYPE_NONE, 1, G_TYPE_DBUS_METHOD_INVOCATION);
  signals[SIGNAL_INCOMING] = g_signal_new ("incoming", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_VARIANT);
  signals[SIGNAL_STATE_CHANGED] = g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass),
                                                G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                                1, G_TYPE_UINT);
  signals[SIGNAL_DEVICE_FAILED] = g_signal_new ("device-failed", G_TYPE_FROM_CLASS (klass),
                                                G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                                2, G_TYPE_STRING, G_TYPE_STRING);
}

static void
vchatd_call_init (VchatdCall *self)
{
}

VchatdCall *
vchatd_call_new (GDBusObjectManagerServer *object_manager, guint number, VchatdSignaling *signaling,
                 const VchatdMediaSettings *media, VchatdCallKind kind, VchatdCallState initial,
                 const VchatdCallOptions *options)
{
  VchatdCall *self = g_object_new (VCHATD_TYPE_CALL, NULL);
  VchatDBusCall *sk;

  vchatd_chat_limit_init (&self->chat_limit);
  self->object_manager = g_object_ref (object_manager);
  self->signaling = g_object_ref (signaling);
  self->media_settings = media;
  self->kind = kind;
  self->state = initial;
  self->path = g_strdup_printf ("/io/github/vchat/VChat1/calls/%u", number);
  self->options.interests = g_strdupv (options->interests);
  self->options.language = g_strdup (options->language);
  self->options.relay_only = options->relay_only;
  self->options.relay_only_set = options->relay_only_set;
  self->options.ttl = options->ttl;
  self->options.display_name = g_strdup (options->display_name);

  sk = self->skeleton = vchat_dbus_call_skeleton_new ();
  vchat_dbus_call_set_state (sk, vchatd_call_state_to_string (initial));
  vchat_dbus_call_set_end_reason (sk, "");
  vchat_dbus_call_set_kind (sk, kind == VCHATD_CALL_KIND_RANDOM ? "random" : "invite");
  vchat_dbus_call_set_direction (
    sk,
    initial == VCHATD_CALL_SEARCHING && kind == VCHATD_CALL_KIND_INVITE ? "incoming" : "outgoing");
  vchat_dbus_call_set_peer (sk, peer_variant (NULL, NULL));
  vchat_dbus_call_set_invite_code (sk, "");
  vchat_dbus_call_set_invite_web_link (sk, "");
  vchat_dbus_call_set_created_at (sk, now_us ());
  vchat_dbus_call_set_stats (sk, g_variant_new ("a{sv}", NULL));
  vchat_dbus_call_set_quality (sk, "");
  vchat_dbus_call_set_camera_enabled (sk, TRUE);
  vchat_dbus_call_set_peer_muted (sk, FALSE);
  vchat_dbus_call_set_peer_camera_enabled (sk, TRUE);
  vchat_dbus_call_set_has_camera (sk, media->camera_target || media->video_source);
  vchat_dbus_call_set_has_microphone (sk, media->microphone_target || media->audio_source);
  vchat_dbus_call_set_remote_video_node (sk, "");
  vchat_dbus_call_set_preview_node (sk, "");

  g_signal_connect (sk, "handle-accept", G_CALLBACK (handle_accept), self);
  g_signal_connect (sk, "handle-reject", G_CALLBACK (handle_reject), self);
  g_signal_connect (sk, "handle-hangup", G_CALLBACK (handle_hangup), self);
  g_signal_connect (sk, "handle-next", G_CALLBACK (handle_next), self);
  g_signal_connect (sk, "handle-set-muted", G_CALLBACK (handle_set_muted), self);
  g_signal_connect (sk, "handle-set-camera-enabled", G_CALLBACK (handle_set_camera_enabled), self);
  g_signal_connect (sk, "handle-send-message", G_CALLBACK (handle_send_message), self);
  g_signal_connect (sk, "handle-report", G_CALLBACK (handle_report), self);
  g_signal_connect (sk, "handle-send-typing", G_CALLBACK (handle_send_typing), self);

  self->object = vchat_dbus_object_skeleton_new (self->path);
  vchat_dbus_object_skeleton_set_call (self->object, sk);
  g_dbus_object_manager_server_export (object_manager, G_DBUS_OBJECT_SKELETON (self->object));
  return self;
}
