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
 *
 * A call's statistics, refreshed every second while it is connected
 * (#VChatCall:stats).
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
