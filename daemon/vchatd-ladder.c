/* vchatd-ladder.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-ladder.h"

#include <math.h>

#define S (G_GINT64_CONSTANT (1000000))

#define MIN_DWELL_US (3 * S)
#define CPU_OVERLOAD_DROPS 0.10
#define CPU_OVERLOAD_LOAD 0.85
#define CPU_OVERLOAD_FOR_US (3 * S)
#define CPU_HEADROOM_LOAD 0.50
#define CPU_HEADROOM_DROPS 0.01
#define CPU_HEADROOM_FOR_US (10 * S)

typedef struct {
  guint width; /* for a camera of unknown shape */
  guint height;
  guint fps;
  guint up_kbps;   /* needed to go up to this rung */
  guint down_kbps; /* below this, leave it */
} Rung;

/* Down thresholds at 75 % of the up ones. */
static const Rung rungs[] = {
  { 1280, 720, 30, 1200, 900 }, { 960, 540, 30, 700, 525 }, { 640, 360, 30, 400, 300 },
  { 480, 270, 20, 200, 150 },   { 320, 180, 15, 0, 0 },
};
#define N_RUNGS G_N_ELEMENTS (rungs)
#define BOTTOM (N_RUNGS - 1)

struct _VchatdLadder {
  guint input_width;
  guint input_height;
  guint input_fps;

  gboolean started;
  guint net;     /* the rung the network allows, an index into rungs */
  guint cpu_cap; /* the best rung the encoder allows */
  guint chosen;
  VchatdLadderRung rung;
  gint64 last_switch_us;
  gint64 up_since_us; /* since when the rate is enough for a better rung */

  gint64 overload_since_us; /* G_MININT64: not overloaded */
  gint64 headroom_since_us;
};

/* The best rung the camera can fill. Rungs at least as tall as the camera
 * all send the camera's own picture, at their frame rate: the best is the
 * cheapest of those with the highest rate (a 240-line camera sends 320x240
 * at the 360p rung's 30 fps, not 240x180 at the 180p rung's 15). */
static guint
top_rung (VchatdLadder *ladder)
{
  guint top = 0, best_fps = 0;

  /* Unknown, or taller than the best rung: the best rung. */
  if (!ladder->input_height || ladder->input_height >= rungs[0].height)
    return 0;
  for (guint i = 0; i < N_RUNGS; i++) {
    if (rungs[i].height < ladder->input_height)
      break;
    if (rungs[i].fps >= best_fps) {
      best_fps = rungs[i].fps;
      top = i;
    }
  }
  return top;
}

static VchatdLadderRung
rung_for_input (VchatdLadder *ladder, guint index)
{
  const Rung *r = &rungs[index];
  VchatdLadderRung out = { r->width, r->height, r->fps };

  if (ladder->input_width && ladder->input_height) {
    if (r->height >= ladder->input_height) {
      out.width = ladder->input_width;
      out.height = ladder->input_height;
    } else {
      /* Keep the camera's shape; even sizes for the encoder. */
      out.width = 2 * (guint) lround ((double) r->height * ladder->input_width /
                                      ladder->input_height / 2.0);
    }
  }
  if (ladder->input_fps)
    out.fps = MIN (out.fps, ladder->input_fps);
  return out;
}

/* The best rung @kbps is enough to go up to. */
static guint
best_for_rate (guint kbps)
{
  for (guint i = 0; i < N_RUNGS; i++)
    if (kbps >= rungs[i].up_kbps)
      return i;
  return BOTTOM;
}

/* The best rung below @from that @kbps is enough to stay at. */
static guint
stay_for_rate (guint from, guint kbps)
{
  for (guint i = from + 1; i < N_RUNGS; i++)
    if (kbps >= rungs[i].down_kbps)
      return i;
  return BOTTOM;
}

static gint64
since (gint64 then_us, gint64 now_us)
{
  return then_us == G_MININT64 ? G_MAXINT64 : now_us - then_us;
}

VchatdLadder *
vchatd_ladder_new (guint input_width, guint input_height, guint input_fps)
{
  VchatdLadder *ladder = g_new0 (VchatdLadder, 1);

  vchatd_ladder_set_input (ladder, input_width, input_height, input_fps);
  ladder->last_switch_us = G_MININT64;
  ladder->up_since_us = G_MININT64;
  ladder->overload_since_us = G_MININT64;
  ladder->headroom_since_us = G_MININT64;
  return ladder;
}

void
vchatd_ladder_free (VchatdLadder *ladder)
{
  g_free (ladder);
}

void
vchatd_ladder_set_input (VchatdLadder *ladder, guint input_width, guint input_height,
                         guint input_fps)
{
  g_return_if_fail (ladder != NULL);

  /* Half a size is no size. */
  if (!input_width || !input_height)
    input_width = input_height = 0;
  /* Another camera: the sender renegotiates anyway, so the next update
   * picks the best rung for the rate at once. */
  if (input_width != ladder->input_width || input_height != ladder->input_height ||
      input_fps != ladder->input_fps)
    ladder->started = FALSE;
  ladder->input_width = input_width;
  ladder->input_height = input_height;
  ladder->input_fps = input_fps;
}

gboolean
vchatd_ladder_update (VchatdLadder *ladder, gint64 now_us, guint video_kbps, VchatdLadderRung *rung)
{
  guint top, chosen;
  VchatdLadderRung next;
  gboolean changed;

  g_return_val_if_fail (ladder != NULL, FALSE);

  /* Rungs the camera cannot fill are not rungs at all. */
  top = top_rung (ladder);
  if (!ladder->started) {
    ladder->started = TRUE;
    ladder->net = MAX (best_for_rate (video_kbps), top);
  } else if (ladder->net < top) {
    ladder->net = top;
  }

  if (ladder->net < BOTTOM && video_kbps < rungs[ladder->net].down_kbps) {
    guint lower = stay_for_rate (ladder->net, video_kbps);

    ladder->up_since_us = G_MININT64;
    /* Falling past a whole rung cannot wait. */
    if (lower > ladder->net + 1 || since (ladder->last_switch_us, now_us) >= MIN_DWELL_US)
      ladder->net = lower;
  } else {
    guint better = MAX (best_for_rate (video_kbps), top);

    /* Up only once the rate has been enough for 3 s: a rate swinging
     * across the threshold is not a better link. */
    if (better >= ladder->net)
      ladder->up_since_us = G_MININT64;
    else if (ladder->up_since_us == G_MININT64)
      ladder->up_since_us = now_us;
    if (better < ladder->net && now_us - ladder->up_since_us >= MIN_DWELL_US &&
        since (ladder->last_switch_us, now_us) >= MIN_DWELL_US)
      ladder->net = better;
  }

  chosen = MAX (MAX (ladder->net, ladder->cpu_cap), top);
  next = rung_for_input (ladder, chosen);
  changed = ladder->last_switch_us == G_MININT64 || next.width != ladder->rung.width ||
            next.height != ladder->rung.height || next.fps != ladder->rung.fps;
  if (changed && ladder->last_switch_us == G_MININT64) {
    g_debug ("ladder: starting at %ux%u@%u", next.width, next.height, next.fps);
    ladder->last_switch_us = now_us;
  } else if (changed) {
    g_debug ("ladder: %ux%u@%u → %ux%u@%u at %u kbit/s%s", ladder->rung.width, ladder->rung.height,
             ladder->rung.fps, next.width, next.height, next.fps, video_kbps,
             ladder->cpu_cap > ladder->net ? " (encoder load)" : "");
    ladder->last_switch_us = now_us;
  }
  ladder->chosen = chosen;
  ladder->rung = next;
  if (rung)
    *rung = next;
  return changed;
}

void
vchatd_ladder_on_encoder_load (VchatdLadder *ladder, gint64 now_us, guint frames_in,
                               guint frames_dropped_before_encoder, gint64 mean_encode_us,
                               gint64 frame_interval_us)
{
  double drops, load;

  g_return_if_fail (ladder != NULL);

  if (!frames_in || frame_interval_us <= 0 || mean_encode_us < 0)
    return;
  drops = MIN (frames_dropped_before_encoder, frames_in) / (double) frames_in;
  load = (double) mean_encode_us / frame_interval_us;

  if (drops > CPU_OVERLOAD_DROPS || load > CPU_OVERLOAD_LOAD) {
    ladder->headroom_since_us = G_MININT64;
    if (ladder->overload_since_us == G_MININT64) {
      ladder->overload_since_us = now_us;
    } else if (now_us - ladder->overload_since_us >= CPU_OVERLOAD_FOR_US) {
      /* One below what is sent now; measure again at the new size. */
      ladder->cpu_cap = MIN (MAX (ladder->cpu_cap, ladder->chosen + 1), BOTTOM);
      ladder->overload_since_us = now_us;
    }
  } else if (load < CPU_HEADROOM_LOAD && drops < CPU_HEADROOM_DROPS) {
    ladder->overload_since_us = G_MININT64;
    if (ladder->cpu_cap <= top_rung (ladder)) {
      ladder->cpu_cap = 0; /* not capped */
      ladder->headroom_since_us = G_MININT64;
    } else if (ladder->headroom_since_us == G_MININT64) {
      ladder->headroom_since_us = now_us;
    } else if (now_us - ladder->headroom_since_us >= CPU_HEADROOM_FOR_US) {
      ladder->cpu_cap--;
      ladder->headroom_since_us = now_us;
    }
  } else {
    ladder->overload_since_us = G_MININT64;
    ladder->headroom_since_us = G_MININT64;
  }
}

VchatdLadderRung
vchatd_ladder_get_rung (VchatdLadder *ladder)
{
  VchatdLadderRung none = { 0, 0, 0 };

  g_return_val_if_fail (ladder != NULL, none);
  return ladder->rung;
}

gboolean
vchatd_ladder_is_cpu_limited (VchatdLadder *ladder)
{
  g_return_val_if_fail (ladder != NULL, FALSE);
  return ladder->cpu_cap > top_rung (ladder);
}

char *
vchatd_ladder_rung_to_string (const VchatdLadderRung *rung)
{
  g_return_val_if_fail (rung != NULL, NULL);
  return g_strdup_printf ("%ux%u@%u", rung->width, rung->height, rung->fps);
}
