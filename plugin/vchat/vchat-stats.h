/* vchat-stats.h: a call's statistics, as typed fields
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(VCHAT_INSIDE) && !defined(VCHAT_COMPILATION)
#error "Only <vchat/vchat.h> can be included directly."
#endif

#include <glib-object.h>

#include "vchat-enums.h"

G_BEGIN_DECLS

#define VCHAT_TYPE_STATS (vchat_stats_get_type ())

/**
 * VChatStats:
 * @rtt_ms: round-trip time to the peer, in milliseconds (0: unknown)
 * @send_kbps: what this side sends, kbit/s
 * @recv_kbps: what this side receives, kbit/s
 * @target_kbps: what the bitrate controller aims at, kbit/s
 * @loss_pct: packets lost on the way to the peer, percent
 * @recv_fps: pictures per second arriving
 * @recv_width: width of the picture arriving
 * @recv_height: height of the picture arriving
 * @video_codec: (nullable): e.g. "VP8"
 * @audio_codec: (nullable): e.g. "OPUS"
 * @local_candidate: (nullable): the kind of this side's address in use: host, srflx, prflx or relay
 * @remote_candidate: (nullable): the same for the peer's address
 * @available_kbps: what the path carries, as the bitrate controller estimates
 *   it from delays, kbit/s (0: no estimate yet)
 * @max_kbps: the largest video bitrate of the settings, kbit/s
 * @rung: (nullable): the picture sent, as WIDTHxHEIGHT@FPS, e.g. "640x360@30"
 * @cpu_limited: whether the encoder's load, not the network, holds the
 *   picture sent below what the network allows
 * @recv_loss_pct: packets lost on the way from the peer, percent
 * @freezes: gaps of more than 500 ms between decoded pictures of the peer
 *   since the call began
 * @quality: (nullable): "good", "fair" or "poor" (as #VChatCall:quality),
 *   %NULL until known
 *
 * A call's statistics, refreshed every second while it is connected
 * (#VChatCall:stats). Numbers the daemon has not measured yet are 0.
 */
typedef struct {
  double rtt_ms;
  double send_kbps;
  double recv_kbps;
  double target_kbps;
  double loss_pct;
  double recv_fps;
  guint recv_width;
  guint recv_height;
  char *video_codec;
  char *audio_codec;
  char *local_candidate;
  char *remote_candidate;
  double available_kbps;
  double max_kbps;
  char *rung;
  gboolean cpu_limited;
  double recv_loss_pct;
  guint freezes;
  char *quality;
} VChatStats;

GType vchat_stats_get_type (void) G_GNUC_CONST;
VChatStats *vchat_stats_copy (const VChatStats *stats);
void vchat_stats_free (VChatStats *stats);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VChatStats, vchat_stats_free)

#define VCHAT_TYPE_HISTORY_ENTRY (vchat_history_entry_get_type ())

/**
 * VChatHistoryEntry:
 * @kind: random or invited
 * @direction: who called whom
 * @peer_name: the other person's display name ("" when anonymous)
 * @started: when the call began, microseconds since the epoch
 * @duration: how long it was connected, microseconds
 * @end_reason: how it ended
 *
 * One ended call of the history (vchat_client_get_history_async()).
 */
typedef struct {
  VChatCallKind kind;
  VChatCallDirection direction;
  char *peer_name;
  gint64 started;
  gint64 duration;
  VChatEndReason end_reason;
} VChatHistoryEntry;

GType vchat_history_entry_get_type (void) G_GNUC_CONST;
VChatHistoryEntry *vchat_history_entry_copy (const VChatHistoryEntry *entry);
void vchat_history_entry_free (VChatHistoryEntry *entry);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VChatHistoryEntry, vchat_history_entry_free)

G_END_DECLS
