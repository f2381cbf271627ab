/* vchatd-notifier.h: desktop notifications about calls, through libnotify
 *
 * An incoming invited call (with Accept and Decline when the notification
 * server offers buttons), a missed call, a call that ended without the
 * user ending it, reconnecting, and a camera lost during a call. Each call
 * has one notification that follows it. The GSettings key `notifications`
 * turns them off; without a notification server the daemon goes on quietly.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "vchatd-call.h"

G_BEGIN_DECLS

#define VCHATD_TYPE_NOTIFIER (vchatd_notifier_get_type ())
G_DECLARE_FINAL_TYPE (VchatdNotifier, vchatd_notifier, VCHATD, NOTIFIER, GObject)

/* @connection: the session bus libnotify talks on, watched for the
 * notification server coming and going. */
/* @settings: the daemon's GSettings (key "notifications"), or NULL. */
VchatdNotifier *vchatd_notifier_new (GDBusConnection *connection, GSettings *settings);

/* Follows @call for its whole life (the notifier's part of it is freed with
 * the call). */
void vchatd_notifier_watch_call (VchatdNotifier *self, VchatdCall *call);

G_END_DECLS
