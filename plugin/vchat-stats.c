/* vchat-stats.c: the boxed types VChatStats and VChatHistoryEntry
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchat-private.h"

G_DEFINE_BOXED_TYPE (VChatStats, vchat_stats, vchat_stats_copy, vchat_stats_free)
G_DEFINE_BOXED_TYPE (VChatHistoryEntry, vchat_history_entry, vchat_history_entry_copy,
                     vchat_history_entry_free)

/**
 * vchat_stats_copy:
 * @stats: a #VChatStats
 *
 * Copies @stats.
 *
 * Returns: (transfer full): a copy, to free with vchat_stats_free()
 */
VChatStats *
vchat_stats_copy (const VChatStats *stats)
{
  VChatStats *copy;

  g_return_val_if_fail (stats != NULL, NULL);

  copy = g_memdup2 (stats, sizeof *stats);
  copy->video_codec = g_strdup (stats->video_codec);
  copy->audio_codec = g_strdup (stats->audio_codec);
  copy->local_candidate = g_strdup (stats->local_candidate);
  copy->remote_candidate = g_strdup (stats->remote_candidate);
  copy->rung = g_strdup (stats->rung);
  copy->quality = g_strdup (stats->quality);
  return copy;
}

/**
 * vchat_stats_free:
 * @stats: (nullable): a #VChatStats
 *
 * Frees @stats and its strings.
 */
void
vchat_stats_free (VChatStats *stats)
{
  if (!stats)
    return;
  g_free (stats->video_codec);
  g_free (stats->audio_codec);
  g_free (stats->local_candidate);
  g_free (stats->remote_candidate);
  g_free (stats->rung);
  g_free (stats->quality);
  g_free (stats);
}

static double
lookup_double (GVariant *dict, const char *key)
{
  g_autoptr (GVariant) v = g_variant_lookup_value (dict, key, NULL);

  if (!v)
    return 0;
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_DOUBLE))
    return g_variant_get_double (v);
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT32))
    return g_variant_get_uint32 (v);
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT32))
    return g_variant_get_int32 (v);
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT64))
    return (double) g_variant_get_uint64 (v);
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT64))
    return (double) g_variant_get_int64 (v);
  g_debug ("stats: %s has the unexpected type %s", key, g_variant_get_type_string (v));
  return 0;
}

static char *
lookup_string (GVariant *dict, const char *key)
{
  const char *s = NULL;

  if (!g_variant_lookup (dict, key, "&s", &s))
    return NULL;
  return g_strdup (s);
}

VChatStats *
_vchat_stats_new_from_variant (GVariant *dict)
{
  VChatStats *stats;

  if (!dict || !g_variant_is_of_type (dict, G_VARIANT_TYPE_VARDICT) ||
      g_variant_n_children (dict) == 0)
    return NULL;
  stats = g_new0 (VChatStats, 1);
  stats->rtt_ms = lookup_double (dict, "rtt-ms");
  stats->send_kbps = lookup_double (dict, "send-kbps");
  stats->recv_kbps = lookup_double (dict, "recv-kbps");
  stats->target_kbps = lookup_double (dict, "target-kbps");
  stats->loss_pct = lookup_double (dict, "loss-pct");
  stats->recv_fps = lookup_double (dict, "recv-fps");
  stats->recv_width = (guint) lookup_double (dict, "recv-width");
  stats->recv_height = (guint) lookup_double (dict, "recv-height");
  stats->video_codec = lookup_string (dict, "video-codec");
  stats->audio_codec = lookup_string (dict, "audio-codec");
  stats->local_candidate = lookup_string (dict, "local-candidate");
  stats->remote_candidate = lookup_string (dict, "remote-candidate");
  stats->available_kbps = lookup_double (dict, "available-kbps");
  stats->max_kbps = lookup_double (dict, "max-kbps");
  stats->rung = lookup_string (dict, "rung");
  g_variant_lookup (dict, "cpu-limited", "b", &stats->cpu_limited);
  stats->recv_loss_pct = lookup_double (dict, "recv-loss-pct");
  stats->freezes = (guint) lookup_double (dict, "freezes");
  stats->quality = lookup_string (dict, "quality");
  return stats;
}

/**
 * vchat_history_entry_copy:
 * @entry: a #VChatHistoryEntry
 *
 * Copies @entry.
 *
 * Returns: (transfer full): a copy, to free with vchat_history_entry_free()
 */
VChatHistoryEntry *
vchat_history_entry_copy (const VChatHistoryEntry *entry)
{
  VChatHistoryEntry *copy;

  g_return_val_if_fail (entry != NULL, NULL);

  copy = g_memdup2 (entry, sizeof *entry);
  copy->peer_name = g_strdup (entry->peer_name);
  return copy;
}

/**
 * vchat_history_entry_free:
 * @entry: (nullable): a #VChatHistoryEntry
 *
 * Frees @entry and its strings.
 */
void
vchat_history_entry_free (VChatHistoryEntry *entry)
{
  if (!entry)
    return;
  g_free (entry->peer_name);
  g_free (entry);
}

VChatHistoryEntry *
_vchat_history_entry_new_from_variant (GVariant *dict)
{
  VChatHistoryEntry *entry = g_new0 (VChatHistoryEntry, 1);
  const char *s = NULL;
  guint64 t = 0;

  entry->kind = VCHAT_CALL_KIND_RANDOM;
  if (g_variant_lookup (dict, "kind", "&s", &s))
    entry->kind = _vchat_enum_from_nick (VCHAT_TYPE_CALL_KIND, s, VCHAT_CALL_KIND_RANDOM);
  if (g_variant_lookup (dict, "direction", "&s", &s))
    entry->direction = _vchat_enum_from_nick (VCHAT_TYPE_CALL_DIRECTION, s,
                                              VCHAT_CALL_DIRECTION_OUTGOING);
  entry->peer_name = g_variant_lookup (dict, "peer-name", "&s", &s) ? g_strdup (s) : g_strdup ("");
  if (g_variant_lookup (dict, "started", "t", &t))
    entry->started = (gint64) t;
  if (g_variant_lookup (dict, "duration", "t", &t))
    entry->duration = (gint64) t;
  entry->end_reason = VCHAT_END_REASON_NONE;
  if (g_variant_lookup (dict, "end-reason", "&s", &s))
    entry->end_reason = _vchat_enum_from_nick (VCHAT_TYPE_END_REASON, s, VCHAT_END_REASON_ERROR);
  return entry;
}
