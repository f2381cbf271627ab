/* vchatd-twcc.c: transport-wide congestion control feedback from webrtcbin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-twcc.h"

/* Reports the main context has not drained yet (a stalled main loop must
 * not make the queue grow without bound: the oldest go). */
#define MAX_QUEUED_REPORTS 64
/* A report covers at most the 16-bit seqnum space. */
#define MAX_PACKETS_PER_REPORT 65536

struct _VchatdTwccTap {
  GMutex lock;
  GPtrArray *queue; /* lock: GArray of VchatdPacketFeedback */
  guint64 reports;  /* lock */
};

static void
tap_clear (gpointer data)
{
  VchatdTwccTap *tap = data;

  g_mutex_clear (&tap->lock);
  g_ptr_array_unref (tap->queue);
}

VchatdTwccTap *
vchatd_twcc_tap_new (void)
{
  VchatdTwccTap *tap = g_atomic_rc_box_new0 (VchatdTwccTap);

  g_mutex_init (&tap->lock);
  tap->queue = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  return tap;
}

VchatdTwccTap *
vchatd_twcc_tap_ref (VchatdTwccTap *tap)
{
  return g_atomic_rc_box_acquire (tap);
}

void
vchatd_twcc_tap_unref (VchatdTwccTap *tap)
{
  g_atomic_rc_box_release_full (tap, tap_clear);
}

static gint64
ns_to_us (guint64 ns)
{
  return GST_CLOCK_TIME_IS_VALID (ns) ? (gint64) (ns / 1000) : -1;
}

GArray *
vchatd_twcc_parse (const GstStructure *s)
{
  const GValue *packets;
  GArray *out;
  guint i, n;

  if (!s || !gst_structure_has_name (s, "RTPTWCCPackets"))
    return NULL;
  packets = gst_structure_get_value (s, "packets");
  /* A GValueArray (deprecated in GLib, and its type macro with it). */
  if (!packets || !G_VALUE_HOLDS_BOXED (packets) ||
      g_strcmp0 (G_VALUE_TYPE_NAME (packets), "GValueArray") != 0)
    return NULL;
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  {
    GValueArray *array = g_value_get_boxed (packets);

    n = array ? MIN (array->n_values, MAX_PACKETS_PER_REPORT) : 0;
    out = g_array_sized_new (FALSE, TRUE, sizeof (VchatdPacketFeedback), n);
    for (i = 0; i < n; i++) {
      const GValue *v = g_value_array_get_nth (array, i);
      const GstStructure *p;
      VchatdPacketFeedback f = { 0 };
      guint seqnum = 0, size = 0;
      guint64 local = GST_CLOCK_TIME_NONE, remote = GST_CLOCK_TIME_NONE;
      gboolean lost = FALSE;

      if (!v || !GST_VALUE_HOLDS_STRUCTURE (v) || !(p = gst_value_get_structure (v)))
        continue;
      if (!gst_structure_get_uint (p, "seqnum", &seqnum) ||
          !gst_structure_get_uint64 (p, "local-ts", &local) || !GST_CLOCK_TIME_IS_VALID (local))
        continue; /* not one of ours: nothing to learn from it */
      gst_structure_get_uint64 (p, "remote-ts", &remote);
      gst_structure_get_uint (p, "size", &size);
      gst_structure_get_boolean (p, "lost", &lost);
      f.seqnum = (guint16) seqnum;
      f.send_time_us = ns_to_us (local);
      f.arrival_time_us = lost ? -1 : ns_to_us (remote);
      f.size = size;
      g_array_append_val (out, f);
    }
  }
  G_GNUC_END_IGNORE_DEPRECATIONS
  return out;
}

/* A streaming thread of rtpsession: the report goes to the queue. */
static GstPadProbeReturn
on_upstream_event (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  VchatdTwccTap *tap = data;
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  GArray *packets;

  if (GST_EVENT_TYPE (event) != GST_EVENT_CUSTOM_UPSTREAM)
    return GST_PAD_PROBE_OK;
  packets = vchatd_twcc_parse (gst_event_get_structure (event));
  if (!packets)
    return GST_PAD_PROBE_OK;
  g_mutex_lock (&tap->lock);
  tap->reports++;
  if (tap->queue->len >= MAX_QUEUED_REPORTS)
    g_ptr_array_remove_index (tap->queue, 0);
  g_ptr_array_add (tap->queue, packets);
  g_mutex_unlock (&tap->lock);
  return GST_PAD_PROBE_OK;
}

GstElement *
vchatd_twcc_tap_make_element (VchatdTwccTap *tap)
{
  GstElement *identity = gst_element_factory_make ("identity", NULL);
  g_autoptr (GstPad) src = NULL;

  if (!identity)
    return NULL;
  src = gst_element_get_static_pad (identity, "src");
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, on_upstream_event,
                     vchatd_twcc_tap_ref (tap), (GDestroyNotify) vchatd_twcc_tap_unref);
  return identity;
}

GPtrArray *
vchatd_twcc_tap_take (VchatdTwccTap *tap)
{
  GPtrArray *reports = NULL;

  g_mutex_lock (&tap->lock);
  if (tap->queue->len > 0) {
    reports = g_steal_pointer (&tap->queue);
    tap->queue = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  }
  g_mutex_unlock (&tap->lock);
  return reports;
}

guint64
vchatd_twcc_tap_get_reports (VchatdTwccTap *tap)
{
  guint64 reports;

  g_mutex_lock (&tap->lock);
  reports = tap->reports;
  g_mutex_unlock (&tap->lock);
  return reports;
}
