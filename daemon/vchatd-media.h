/* vchatd-media.h: one call's media session: a GstPipeline with webrtcbin
 *
 * A media session sends the local camera and microphone, receives the
 * peer's, and carries the chat data channel. It knows nothing of signaling:
 * it emits its local SDP and ICE candidates as signals and is given the
 * peer's. A call that reconnects throws its media session away and makes a
 * new one (webrtcbin 1.22 cannot restart ICE).
 *
 * What lives for the whole call lives outside the session: the remote video
 * node (vchatd-publisher.h), and the capture. A capture is a session made
 * with VCHATD_MEDIA_ROLE_CAPTURE: no webrtcbin, only the camera and
 * microphone slots (devices, fallbacks, the stall watch, switching) and the
 * preview node. A call makes one and hands it to each of its sessions
 * (VchatdMediaConfig.capture), which then take their pictures and sound
 * from it instead of opening the devices themselves: a reconnection keeps
 * the camera open and the preview node up.
 *
 * Every signal is emitted on the main context of the thread that created the
 * session, never from a GStreamer or libnice thread, and always from that
 * context's main loop, never from inside a call into this API (the one
 * exception: vchatd_media_stop() notifies "state" STOPPED itself). Handlers
 * may stop and release the session. The session must be stopped and
 * released on that thread too.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "vchatd-publisher.h"

G_BEGIN_DECLS

typedef enum {
  VCHATD_MEDIA_ROLE_OFFERER,
  VCHATD_MEDIA_ROLE_ANSWERER,
  /* The call's camera and microphone (see above): CONNECTED while it runs;
   * FAILED (LOCAL) if its pipeline fails; "device-failed",
   * "device-restored" for its devices and the preview node. */
  VCHATD_MEDIA_ROLE_CAPTURE,
} VchatdMediaRole;

typedef enum {
  VCHATD_MEDIA_STATE_NEW,        /* created, not started */
  VCHATD_MEDIA_STATE_CONNECTING, /* negotiating / ICE checking */
  VCHATD_MEDIA_STATE_CONNECTED,  /* ICE connected and the peer heard from (inbound
                                  * RTP, or the data channel open) */
  VCHATD_MEDIA_STATE_FAILED,     /* ICE failed, or the inbound media watchdog fired */
  VCHATD_MEDIA_STATE_STOPPED,    /* vchatd_media_stop() was called */
} VchatdMediaState;

const char *vchatd_media_state_to_string (VchatdMediaState state);

/* Once per process (initializes GStreamer if needed): quiets a known
 * GStreamer 1.22 critical (see vchatd-media.c) that says nothing about our
 * code, and keeps TURN passwords out of GStreamer's debug log. */
void vchatd_media_install_log_filters (void);
/* Keeps GStreamer's PipeWire connection up between calls (see
 * vchatd-media.c); released at exit. No-ops without PipeWire. */
void vchatd_media_hold_pipewire (void);
void vchatd_media_release_pipewire (void);
/* Once per process, in a thread of its own: does the work the first call
 * would otherwise wait for (see vchatd-media.c). Returns at once. Main
 * thread only. */
void vchatd_media_warm_up (void);
/* Waits for that thread, before the process exits. Main thread only. */
void vchatd_media_warm_up_join (void);

/* Why a session is FAILED. */
typedef enum {
  VCHATD_MEDIA_FAILURE_NONE,
  VCHATD_MEDIA_FAILURE_PEER_LOST, /* ICE failed, or no media from the peer for a while */
  VCHATD_MEDIA_FAILURE_PEER,      /* webrtcbin refused the peer's session description */
  VCHATD_MEDIA_FAILURE_LOCAL,     /* our own media could not go on (webrtcbin, GStreamer) */
} VchatdMediaFailure;

typedef struct _VchatdMedia VchatdMedia;

typedef struct {
  /* Video: a PipeWire node (pipewiresrc target-object: node.name or
   * object.serial), or a GStreamer bin description (tests), or neither
   * (no camera: the call has no outgoing video). A source that fails, or
   * gives no frame for 2 s (a missing PipeWire target just waits, a paused
   * producer sends nothing), is replaced by black frames and
   * "device-failed" is emitted; it is shown again ("device-restored") as
   * soon as it delivers. */
  const char *camera_target;
  const char *video_source_description;
  /* Audio likewise (a failed microphone is replaced by silence). */
  const char *microphone_target;
  const char *audio_source_description;
  /* Where the peer's audio goes: a PipeWire node (pipewiresink
   * target-object), or NULL for the default output; or a bin description
   * instead of PipeWire (tests use "fakesink"). */
  const char *speaker_target;
  const char *audio_sink_description;

  /* ICE: "stun://host:port" or NULL; TURN URLs as webrtcbin's
   * add-turn-server takes them ("turn://user:pass@host:port?transport=udp",
   * credentials percent-escaped). */
  const char *stun_server;
  const char *const *turn_servers;
  gboolean relay_only;
  /* Local addresses ICE gathers on, or NULL for every interface but the
   * loopback (tests use 127.0.0.1 to reach a TURN server on loopback). */
  const char *const *ice_addresses;

  guint max_bitrate_kbps; /* 0: default (1500) */
  /* Prefix of the PipeWire node name of the preview; NULL: no preview
   * node. */
  const char *node_name_prefix;
  /* Where the peer's decoded pictures go: the call's remote video node,
   * which outlives the session (a reconnecting call keeps it); NULL: none
   * (tests read frames through the "remote-video-frame" signal instead). */
  VchatdPublisher *publisher;
  /* The call's capture (a started VCHATD_MEDIA_ROLE_CAPTURE session): this
   * session's camera and microphone are fed from it, and it has no devices
   * or preview node of its own (mute and the speaker stay its own). NULL:
   * the session opens its devices itself. */
  VchatdMedia *capture;
  /* Seconds without inbound media (after it started) before FAILED. */
  guint watchdog_seconds; /* 0: default (5) */
  /* The peer is another vchatd (its client in `matched`): an offerer then
   * offers VP9 first (see vchatd-media-peer.c, offer_video_caps()). */
  gboolean peer_vchatd;
} VchatdMediaConfig;

#define VCHATD_TYPE_MEDIA (vchatd_media_get_type ())
G_DECLARE_FINAL_TYPE (VchatdMedia, vchatd_media, VCHATD, MEDIA, GObject)

VchatdMedia *vchatd_media_new (const VchatdMediaConfig *config, VchatdMediaRole role,
                               GError **error);
/* Builds and plays the pipeline; an offerer then emits "local-description"
 * with its offer. On failure the session is left STOPPED. */
gboolean vchatd_media_start (VchatdMedia *self, GError **error);
/* The peer's offer or answer ("offer"/"answer"); an answerer then emits its
 * answer. Fails with G_IO_ERROR_INVALID_ARGUMENT on SDP that does not parse,
 * or that does not fit the role (an offer to the offerer); the session is
 * left as it was. A second description (renegotiation) fails with
 * G_IO_ERROR_NOT_SUPPORTED: start a new session instead. Nothing waits:
 * webrtcbin takes the description (and makes the answer) later, on its own
 * thread; if it refuses, the session goes FAILED with
 * VCHATD_MEDIA_FAILURE_PEER. */
gboolean vchatd_media_set_remote_description (VchatdMedia *self, const char *type, const char *sdp,
                                              GError **error);
/* A trickled ICE candidate of the peer ("" = end of candidates). Candidates
 * that arrive before the remote description are kept until it is set.
 * Candidates whose address is a name rather than an IP address (mDNS
 * ".local" names from browsers) are ignored without error: libnice 0.1.21
 * cannot resolve them. Malformed ones fail with G_IO_ERROR_INVALID_ARGUMENT. */
gboolean vchatd_media_add_remote_candidate (VchatdMedia *self, guint mline_index,
                                            const char *candidate, GError **error);
/* Fails with G_IO_ERROR_NOT_CONNECTED until the data channel is open. */
gboolean vchatd_media_send_message (VchatdMedia *self, const char *text, GError **error);
/* The control channel ("ctl", docs/protocol.md): a JSON object to the peer.
 * FALSE if the channel is not open (the peer may not have one): the state
 * is said again when it opens ("control-open"). Messages from the peer come
 * as "control-received", unparsed, at most VCHATD_MEDIA_CONTROL_MAX_BYTES. */
#define VCHATD_MEDIA_CONTROL_MAX_BYTES 1000
gboolean vchatd_media_send_control (VchatdMedia *self, const char *json);
/* The mid of our media section @mline (for a candidate's sdpMid), or NULL. */
char *vchatd_media_get_mid (VchatdMedia *self, guint mline);
void vchatd_media_set_muted (VchatdMedia *self, gboolean muted);
void vchatd_media_set_camera_enabled (VchatdMedia *self, gboolean enabled);
void vchatd_media_set_max_bitrate (VchatdMedia *self, guint kbps);
/* Switches a running session to another camera (a PipeWire node; NULL for
 * none: black frames), without renegotiating. */
void vchatd_media_set_camera (VchatdMedia *self, const char *target);

VchatdMediaState vchatd_media_get_state (VchatdMedia *self);
/* Milliseconds since the peer's media last arrived, or -1 before any has. */
gint vchatd_media_get_silence_ms (VchatdMedia *self);
/* NONE unless FAILED; @message (may be NULL) says what went wrong. */
VchatdMediaFailure vchatd_media_get_failure (VchatdMedia *self, const char **message);
/* The latest stats (refreshed every second while connecting/connected), as
 * the a{sv} of the Call's Stats property (floating reference). */
GVariant *vchatd_media_get_stats (VchatdMedia *self);
/* "good", "fair" or "poor" while connected (see vchatd-quality.h), updated
 * with the stats; NULL otherwise. */
const char *vchatd_media_get_quality (VchatdMedia *self);
gboolean vchatd_media_get_has_video (VchatdMedia *self);
gboolean vchatd_media_get_has_audio (VchatdMedia *self);
const char *vchatd_media_get_preview_node (VchatdMedia *self);      /* or NULL */

/* Tears the pipeline down (from the main loop); idempotent. Returns at
 * once: the pipeline is stopped on another thread, and one stuck in
 * GStreamer or PipeWire is abandoned (with a warning) rather than waited
 * for. */
void vchatd_media_stop (VchatdMedia *self);
/* Waits up to @timeout_ms for every stopped session's pipeline to be down
 * (at exit); FALSE if some are still stopping. */
gboolean vchatd_media_wait_stopped (guint timeout_ms);
/* Other pipelines of a call stopped off the main thread (the publisher's)
 * hold this while they stop, so that vchatd_media_wait_stopped() waits for
 * them too. */
void vchatd_media_reaping_begin (void);
void vchatd_media_reaping_end (void);

/* Signals:
 *   "local-description" (const char *type, const char *sdp)
 *   "local-candidate"   (guint mline_index, const char *candidate): "" once
 *       gathering is complete (end of candidates; webrtcbin 1.22 emits none)
 *   "message-received"  (const char *text)
 *   "stats-updated"     ()
 *   "notify::state"     (property "state", VchatdMediaState as int)
 *   "remote-video-frame" (guint width, guint height, GBytes *rgb) -- at most
 *       once a second, a thumbnail (160 pixels wide, height by the aspect
 *       ratio) of a decoded frame as packed RGB (rows of width * 3 bytes),
 *       for tests and previews; only emitted when someone is connected to it.
 *   "device-failed"     (const char *device, const char *message): a device
 *       failed and the call goes on without it: "camera" or "microphone"
 *       (failed, or gave nothing: replaced by black frames or silence),
 *       "speaker" (the peer's audio cannot be played), or
 *       "preview-node" (the PipeWire node cannot be published; the remote
 *       video node's failures are its publisher's, vchatd-publisher.h).
 *       A camera or microphone that delivers nothing for 2 s (a paused or
 *       hung producer) is replaced the same way, and the call never waits
 *       for one.
 *   "device-restored"   (const char *device): "camera" or "microphone"
 *       delivers again after "device-failed", and is sent again.
 */

G_END_DECLS
