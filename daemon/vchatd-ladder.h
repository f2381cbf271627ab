/* vchatd-ladder.h: which picture size and frame rate a call sends
 *
 * The quality ladder of a call's video sender: from the video share of the
 * target bitrate (vchatd-rate-control.h, vchatd-audio-policy.h) and from
 * how well the encoder keeps up, one rung of
 *
 *   720p30 ≥ 1200 kbit/s, 540p30 ≥ 700, 360p30 ≥ 400, 270p20 ≥ 200, 180p15
 *
 * Each rung has a rate needed to go up to it and a lower one (75 %) below
 * which the sender leaves it, so a rate wandering around a threshold does
 * not make the picture jump back and forth. The rate must stay above a
 * better rung's threshold for 3 s before the picture goes up (then straight
 * to the best rung it allows), and the rung changes at most every 3 s,
 * except downwards when the rate falls past a whole rung (the picture would
 * otherwise break up for those seconds). A new camera picks the rung
 * afresh.
 *
 * 720p at 1200 rather than 1500: the max-bitrate setting (1500 by default)
 * is the video ceiling, and a rung that needs exactly the ceiling would
 * only ever be reached on a perfect link.
 *
 * Rungs are heights; the width follows the camera's aspect ratio (a 4:3
 * camera gets 480x360, not 640x360) and nothing is larger than the camera
 * or faster than its frame rate: the ladder never upscales.
 *
 * The encoder's load caps the rung too: when it drops more than 10 % of
 * frames before encoding or spends more than 85 % of the frame interval
 * encoding, for 3 s, the cap goes one rung below the current one (and
 * another after 3 more such seconds); after 10 s of under 50 % it goes one
 * back up. The rung sent is the lower of the network's and the CPU's.
 *
 * Pure logic on the caller's monotonic clock (µs); no GStreamer.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint width;
  guint height;
  guint fps;
} VchatdLadderRung;

typedef struct _VchatdLadder VchatdLadder;

/**
 * vchatd_ladder_new:
 * @input_width: the camera's width, 0 if not known yet
 * @input_height: the camera's height, 0 if not known yet
 * @input_fps: the camera's frame rate (rounded), 0 if not known
 *
 * Returns: (transfer full): a ladder with no rung yet: the first
 *   vchatd_ladder_update() picks one
 */
VchatdLadder *vchatd_ladder_new (guint input_width, guint input_height, guint input_fps);

void vchatd_ladder_free (VchatdLadder *ladder);

/* The camera changed; the next update picks the rung afresh, within its
 * limits (and reports a change if the rung differs). */
void vchatd_ladder_set_input (VchatdLadder *ladder, guint input_width, guint input_height,
                              guint input_fps);

/**
 * vchatd_ladder_update:
 * @ladder: the ladder
 * @now_us: the time
 * @video_kbps: the video's share of the target
 * @rung: (out) (optional): the rung to send
 *
 * Call on every rate control tick. The only place the rung changes: the
 * encoder load (vchatd_ladder_on_encoder_load()) takes effect here too.
 *
 * Returns: whether @rung differs from the last update's (the first update
 *   always does)
 */
gboolean vchatd_ladder_update (VchatdLadder *ladder, gint64 now_us, guint video_kbps,
                               VchatdLadderRung *rung);

/**
 * vchatd_ladder_on_encoder_load:
 * @ladder: the ladder
 * @now_us: the time
 * @frames_in: frames that reached the sender since the last call
 * @frames_dropped_before_encoder: how many of those were dropped because
 *   the encoder was busy
 * @mean_encode_us: the mean time one frame took to encode
 * @frame_interval_us: the time between frames at the current rung
 *
 * Call about once a second while sending. A call with no frames (camera
 * off) says nothing and changes nothing.
 */
void vchatd_ladder_on_encoder_load (VchatdLadder *ladder, gint64 now_us, guint frames_in,
                                    guint frames_dropped_before_encoder, gint64 mean_encode_us,
                                    gint64 frame_interval_us);

/* The rung of the last update; all zero before the first. */
VchatdLadderRung vchatd_ladder_get_rung (VchatdLadder *ladder);

/* Whether the encoder's load holds the rung below what the network allows
 * (or would, were the network better). */
gboolean vchatd_ladder_is_cpu_limited (VchatdLadder *ladder);

/* "640x360@30". Returns: (transfer full) */
char *vchatd_ladder_rung_to_string (const VchatdLadderRung *rung);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VchatdLadder, vchatd_ladder_free)

G_END_DECLS
