/* vchatd-twcc.h: transport-wide congestion control feedback from webrtcbin
 *
 * 1.22 has no bandwidth estimator element in Debian 12 (rtpgccbwe is in
 * gst-plugins-rs). webrtcbin asks for an "aux sender" per transport
 * ("request-aux-sender"); the element returned sits on the RTP send path
 * before the session, and rtpsession sends each TWCC report it parses
 * upstream through it as a custom event "RTPTWCCPackets": one structure per
 * packet (seqnum, local-ts, remote-ts, size, lost). A tap is such an
 * element (an identity) with a probe that copies the reports into a queue
 * the main context drains for the rate controller.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include "vchatd-rate-control.h"

G_BEGIN_DECLS

typedef struct _VchatdTwccTap VchatdTwccTap;

VchatdTwccTap *vchatd_twcc_tap_new (void);
VchatdTwccTap *vchatd_twcc_tap_ref (VchatdTwccTap *tap);
void vchatd_twcc_tap_unref (VchatdTwccTap *tap);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VchatdTwccTap, vchatd_twcc_tap_unref)

/* A floating element for webrtcbin's "request-aux-sender"; it holds a
 * reference on @tap. */
GstElement *vchatd_twcc_tap_make_element (VchatdTwccTap *tap);
/* The reports that arrived since the last call, each as an array of
 * VchatdPacketFeedback (times in µs, in the session clock for send times
 * and the remote clock for arrivals; -1 for a lost packet); NULL if none.
 * Free with g_ptr_array_unref(). */
GPtrArray *vchatd_twcc_tap_take (VchatdTwccTap *tap);
/* Reports and packets seen, for the logs and tests. */
guint64 vchatd_twcc_tap_get_reports (VchatdTwccTap *tap);

/* Converts one RTPTWCCPackets structure (exposed for the unit tests). */
GArray *vchatd_twcc_parse (const GstStructure *s);

G_END_DECLS
