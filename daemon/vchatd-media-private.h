/* vchatd-media-private.h: what the parts of a media session share
 *
 * A session (vchatd-media.c) is one GstPipeline; its parts live in
 * vchatd-media-capture.c (camera and microphone slots, fallbacks, preview),
 * vchatd-media-send.c (encoders and the rate controller that drives them),
 * vchatd-media-peer.c (webrtcbin: negotiation, candidates, data channel, ICE),
 * vchatd-media-publish.c (what arrives: decoders, PipeWire outputs,
 * thumbnails) and vchatd-media-report.c (stats and quality). Nothing here
 * is exported from the library.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vchatd-media.h"
#include "vchatd-audio-policy.h"
#include "vchatd-ladder.h"
#include "vchatd-media-stats.h"
#include "vchatd-playout.h"
#include "vchatd-remb.h"
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
/* Pacing of the video's packets (see "Pacing" in vchatd-media-send.c). */
#define PACING_FACTOR 2.5
#define PACING_BURST_US (5 * 1000)
#define PACING_MAX_US (500 * 1000)
/* The ladder starts this long after the call connected. */
#define LADDER_HOLD_US (1500 * 1000)
/* The encoder's load is judged over this long. */
#define LOAD_WINDOW_US G_USEC_PER_SEC
/* A picture that stops for longer than this is a freeze (as WebRTC's
 * freeze counters count them, roughly). */
#define FREEZE_MS 500
/* Keyframe requests (PLI, FIR) closer together than this are answered by
 * the keyframe already on its way. */
#define KEYFRAME_MIN_INTERVAL_US (300 * 1000)
/* Our receiver asks for a keyframe at most this often (see
 * on_keyframe_wanted() in vchatd-media-publish.c). */
#define KEYFRAME_ASK_INTERVAL_US (1000 * 1000)
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
/* A get-stats unanswered this long: see media_request_stats(). */
#define STATS_STUCK_US (2500 * 1000)

#define VIDEO_PT 96
#define AUDIO_PT 111
#define TWCC_ID 1
/* abs-send-time, offered for peers that estimate with REMB (vchatd-media-remb.c). */
#define ABS_SEND_TIME_ID 3
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

/* The video codec of a session: VP8, H.264 for a peer without VP8, or VP9
 * between two vchatds (an answerer's choice from the offer; an offerer
 * offers VP8 first, or VP9 first to another vchatd, and follows the
 * answer). */
typedef enum {
  VIDEO_CODEC_VP8,
  VIDEO_CODEC_H264,
  VIDEO_CODEC_VP9,
} VideoCodec;

/* VP9 is wanted (VCHATD_VP9=1 in the environment) and can be sent and
 * received here (its GStreamer elements are installed). Checked once. Off
 * by default: in the network lab VP9 does not hold the 1 Mbit/s cap and
 * 5 % loss cases that VP8 passes (gaps of 2.4 and 7.6 s; see setup_vp9()
 * in vchatd-media-send.c), and in scripts/bench-call (unshaped, 2 cores,
 * load average 5-11) it did worse than VP8 on every figure: PSNR 25.5 and
 * 27.4 dB against 31.0 and 31.7, 1529-1667 kbit/s against 1347-1427,
 * 64-72 CPU s/min against 49-52, 20-24 fps against 29-30, RSS 170 MiB
 * against 120. */
gboolean media_vp9_usable (void);

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
  gboolean peer_vchatd;
  VchatdMediaRole role;

  GMainContext *context; /* the creating thread's: every signal is emitted there */
  VchatdMediaState state;
  VchatdPublisher *publisher; /* the call's; or NULL */
  VchatdMedia *capture;       /* the call's, feeding this session; or NULL */
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
  GstElement *video_rate;
  GstElement *video_encoder;
  Output *preview_output;
  GstElement *volume;
  SourceSlot sources[N_SOURCES];
  GSource *bus_source;
  GSource *tick_source;
  GSource *control_source;
  GSource *watch_source;
  GPtrArray *pending_senders;          /* PendingSender: linked once negotiated */
  GArray *pending_candidates;          /* PendingCandidate: before the remote description */
  GPtrArray *pending_local_candidates; /* "mline candidate", before our description went out */
  gboolean offer_made;
  gboolean remote_description_given; /* checked and handed to webrtcbin */
  gboolean candidates_ready;         /* remote candidates go to webrtcbin now */
  const char *step_what;             /* the negotiation step webrtcbin is doing */
  gint64 step_deadline_us;
  guint step_serial;
  VchatdMediaFailure failure;
  char *failure_message;
  gboolean local_description_sent;
  gboolean end_of_candidates_sent;
  guint remote_media_count;
  guint remote_candidates; /* taken from the peer (VCHATD_SDP_MAX_REMOTE_CANDIDATES) */
  guint mdns_unresolved;   /* the peer's mDNS names that did not resolve (vchatd-media-peer.c) */
  gboolean ice_connected;
  gboolean channel_open;
  gboolean stats_pending;
  gint64 stats_requested_us;
  gboolean stats_stuck; /* get-stats unanswered for STATS_STUCK_US */
  gint64 last_bytes_us; /* when last_bytes_* were read */
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
  VideoCodec video_codec;
  char *h264_profile; /* the offer's profile-level-id, with VIDEO_CODEC_H264 */
  gboolean have_audio_track;

  /* Rate control (main context): see "Rate control" */
  VchatdRateControl *rate_control;
  /* How long the jitter buffers wait for a missing packet (vchatd-playout.h). */
  VchatdPlayout *playout;
  VchatdLadder *ladder;
  VchatdTwccTap *twcc; /* also held by the tap element */
  GstElement *ladder_caps;   /* the video sender's capsfilter */
  GstElement *ladder_queue;  /* its queue: see on_rung_due() */
  GstElement *audio_encoder; /* opusenc */
  VchatdLadderRung rung;
  char *rung_text;
  VchatdAudioPolicy audio_policy;
  guint target_kbps;
  guint video_kbps;
  guint input_width, input_height, input_fps;
  gint64 last_load_us;
  gint64 connected_us; /* when the session first was CONNECTED */
  gdouble last_rtt_ms;

  /* Shared with GStreamer threads */
  GMutex lock;
  gint stopping;                 /* written under lock, read atomically */
  GPtrArray *outputs;            /* lock: Output */
  GstWebRTCDataChannel *channel; /* lock */
  GstWebRTCDataChannel *control; /* lock: the "ctl" channel, see media_adopt_control() */
  GPtrArray *feeds;               /* lock: Feed, the sessions a capture feeds */
  GstCaps *pending_rung_caps;     /* lock: see on_rung_due() */
  gulong rung_probe;              /* lock */
  /* REMB, for peers without transport-wide feedback (vchatd-media-remb.c) */
  gint remb_mode;                      /* atomic: the peer's video has goog-remb, no transport-cc */
  gint abs_send_time_id;               /* atomic: its id (1-14) in REMB mode; 0: none */
  VchatdRembEstimator *remb_estimator; /* lock: what arrives, estimated */
  guint64 remb_received_bps;           /* lock: the peer's latest REMB */
  gboolean remb_received_new;          /* lock: not handed to the controller yet */
  guint64 remb_send_bps;               /* lock: what our RTCP says; 0: nothing yet */
  guint32 remb_ssrcs[4];               /* lock: the peer's SSRCs it covers */
  guint n_remb_ssrcs;                  /* lock */
  GObject *remb_session;               /* lock: the RTPSession, for an early RTCP */
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
  gint64 last_keyframe_ask_us;     /* the video depayloader's thread only */
  gint sent_bytes;               /* atomic: RTP bytes through the aux sender */
  gint pace_kbps;                /* atomic: the video's pacing rate, 0: none yet */
  gint64 pace_next_us;           /* the pacer's thread only: see pace() */
  gint64 start_us;
  gint64 last_thumbnail_us; /* thumbnail probe's thread only */
  GstVideoInfo black_info;  /* black-frame probe's thread only */
  gboolean capture_caps_locked; /* black-frame probe's thread only */
  gint locked_fps_n, locked_fps_d; /* its frame rate, from the same thread */
};

enum {
  SIGNAL_LOCAL_DESCRIPTION,
  SIGNAL_LOCAL_CANDIDATE,
  SIGNAL_MESSAGE_RECEIVED,
  SIGNAL_CONTROL_OPEN,
  SIGNAL_CONTROL_RECEIVED,
  SIGNAL_STATS_UPDATED,
  SIGNAL_REMOTE_VIDEO_FRAME,
  SIGNAL_DEVICE_FAILED,
  SIGNAL_DEVICE_RESTORED,
  N_SIGNALS
};

extern guint vchatd_media_signals[N_SIGNALS];

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

/* A session fed by a capture: the appsrc that stands in for one of its
 * slots (see "Sending: a capture's feeds"). Owned by the capture's feeds. */
typedef struct {
  SourceKind kind;
  GstElement *appsrc;  /* in the fed session's pipeline */
  VchatdMedia *owner;  /* the fed session (not a reference: it removes its feeds) */
} Feed;

/* Runs on the session's main context (media_run_on_main()). */
typedef void (*MainFunc) (VchatdMedia *self, gpointer data);
/* Runs on GStreamer's thread pool with an element in locked state
 * (media_run_locked_job()). */
typedef void (*LockedFunc) (VchatdMedia *self, GstElement *pipeline, GstElement *element,
                            gpointer data);

/* vchatd-media.c */
G_GNUC_INTERNAL const char * media_source_kind_name (SourceKind kind);
G_GNUC_INTERNAL gboolean media_is_stopped (VchatdMedia *self);
G_GNUC_INTERNAL gint media_session_ms (VchatdMedia *self);
G_GNUC_INTERNAL void media_run_on_main (VchatdMedia *self, MainFunc func, gpointer data, GDestroyNotify destroy);
G_GNUC_INTERNAL GstElement * media_make_element (const char *factory, const char *name, GError **error);
G_GNUC_INTERNAL void media_set_sinks_not_async (GstElement *element);
G_GNUC_INTERNAL gboolean media_make_elements (const char *const *factories, GstElement **elements, guint n, GError **error);
G_GNUC_INTERNAL gboolean media_add_and_link (VchatdMedia *self, GstElement **elements, guint n);
G_GNUC_INTERNAL void media_sync_with_pipeline (GstElement *const *elements, guint n);
G_GNUC_INTERNAL void media_run_locked_job (VchatdMedia *self, GstElement *element, LockedFunc func, gpointer data, GDestroyNotify destroy);
G_GNUC_INTERNAL gboolean media_is_stopping (VchatdMedia *self);
G_GNUC_INTERNAL gboolean media_play_locked (VchatdMedia *self, GstElement *pipeline, GstElement *element);
G_GNUC_INTERNAL gboolean media_pause_locked (GstElement *element);
G_GNUC_INTERNAL void media_stop_locked (GstElement *element);
G_GNUC_INTERNAL void media_unref_on_main (gpointer data);
G_GNUC_INTERNAL void media_set_state (VchatdMedia *self, VchatdMediaState state);
G_GNUC_INTERNAL void media_fail (VchatdMedia *self, VchatdMediaFailure failure, const char *format, ...)
  G_GNUC_PRINTF (3, 4);
G_GNUC_INTERNAL void media_teardown (VchatdMedia *self);

/* vchatd-media-capture.c */
G_GNUC_INTERNAL Device * media_device_ref (Device *device);
G_GNUC_INTERNAL void media_device_unref (gpointer data);
G_GNUC_INTERNAL gboolean media_build_slot (VchatdMedia *self, SourceKind kind, GstElement *first, GError **error);
G_GNUC_INTERNAL void media_report_device_failed (VchatdMedia *self, const char *device, const char *message, const char *instead);
G_GNUC_INTERNAL void media_stop_device (Device *device);
G_GNUC_INTERNAL void media_detach_device (VchatdMedia *self, SourceKind kind);
G_GNUC_INTERNAL void media_device_failed (VchatdMedia *self, SourceKind kind, const char *message);
G_GNUC_INTERNAL void media_attach_device (VchatdMedia *self, SourceKind kind);
G_GNUC_INTERNAL gboolean media_on_watch (gpointer data);
G_GNUC_INTERNAL gboolean media_build_video_source_chain (VchatdMedia *self, GError **error);
/* Whether the capture's videorate may repeat frames (see vchatd-media-capture.c). */
G_GNUC_INTERNAL void media_video_rate_may_repeat (VchatdMedia *self, gboolean repeat);
G_GNUC_INTERNAL gboolean media_build_audio_capture (VchatdMedia *self, GError **error);
G_GNUC_INTERNAL void media_feed_free (gpointer data);
G_GNUC_INTERNAL void media_remove_feeds (VchatdMedia *capture, VchatdMedia *owner);

/* vchatd-media-send.c */
G_GNUC_INTERNAL void media_apply_target (VchatdMedia *self, gint64 now, guint target_kbps);
G_GNUC_INTERNAL gboolean media_on_control_tick (gpointer data);

/* vchatd-media-remb.c */
G_GNUC_INTERNAL void media_remb_add_goog_remb (GstSDPMessage *ours, const GstSDPMessage *offer);
G_GNUC_INTERNAL void media_remb_negotiated (VchatdMedia *self, const GstSDPMedia *video);
G_GNUC_INTERNAL GstBuffer *media_remb_stamp (VchatdMedia *self, GstBuffer *buffer);
G_GNUC_INTERNAL void media_remb_on_rtpbin (VchatdMedia *self, GstElement *rtpbin);
G_GNUC_INTERNAL void media_remb_tick (VchatdMedia *self, gint64 now);
G_GNUC_INTERNAL guint media_remb_received_kbps (VchatdMedia *self);
G_GNUC_INTERNAL void media_remb_clear (VchatdMedia *self);
G_GNUC_INTERNAL GstElement * media_on_request_aux_sender (GstElement *webrtc, GObject *transport, gpointer data);
G_GNUC_INTERNAL gboolean media_build_video_sender (VchatdMedia *self, GstWebRTCRTPTransceiver *expected, guint pt, guint twcc_id, GError **error);
G_GNUC_INTERNAL gboolean media_build_audio_sender (VchatdMedia *self, GstWebRTCRTPTransceiver *expected, guint pt, guint twcc_id, GError **error);

/* vchatd-media-peer.c */
G_GNUC_INTERNAL gboolean media_peer_build (VchatdMedia *self, GError **error);
G_GNUC_INTERNAL void media_check_negotiation (VchatdMedia *self);
G_GNUC_INTERNAL gboolean media_add_twcc_extension (GstElement *payloader, guint id, GError **error);
G_GNUC_INTERNAL GstWebRTCRTPTransceiver * media_link_to_webrtc (VchatdMedia *self, GstElement *last, GstWebRTCRTPTransceiver *expected, GError **error);
G_GNUC_INTERNAL gboolean media_add_recvonly_transceiver (VchatdMedia *self, SourceKind kind, GError **error);
G_GNUC_INTERNAL gboolean media_offer_video (VchatdMedia *self, gboolean send, GError **error);
G_GNUC_INTERNAL GstPadProbeReturn media_on_inbound_rtp (GstPad *pad, GstPadProbeInfo *info, gpointer data);
G_GNUC_INTERNAL void media_check_watchdog (VchatdMedia *self);
G_GNUC_INTERNAL void media_adopt_channel (VchatdMedia *self, GstWebRTCDataChannel *channel);
G_GNUC_INTERNAL void media_adopt_control (VchatdMedia *self, GstWebRTCDataChannel *channel);
G_GNUC_INTERNAL void media_on_deep_element_added (GstBin *bin, GstBin *sub_bin, GstElement *element, gpointer data);
G_GNUC_INTERNAL void media_pending_sender_free (gpointer data);

/* vchatd-media-publish.c */
G_GNUC_INTERNAL void media_output_free (gpointer data);
G_GNUC_INTERNAL void media_output_failed (VchatdMedia *self, Output *output, const char *message);
G_GNUC_INTERNAL Output * media_add_output (VchatdMedia *self, GstElement *before, GstElement *sink, const char *device);
G_GNUC_INTERNAL void media_start_output (VchatdMedia *self, Output *output);
G_GNUC_INTERNAL gpointer media_find_tagged (VchatdMedia *self, GstObject *object, const char *key);
G_GNUC_INTERNAL Output * media_find_output (VchatdMedia *self, GstObject *object);
G_GNUC_INTERNAL GstElement * media_make_pipewire_sink (const char *node_name, const char *media_class, const char *description, GError **error);
G_GNUC_INTERNAL void media_on_pad_added (GstElement *webrtc, GstPad *pad, gpointer data);

/* vchatd-media-report.c */
G_GNUC_INTERNAL void media_request_stats (VchatdMedia *self);
