/* vchat-history-window.h: the calls that ended, newest first
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <adwaita.h>
#include <vchat/vchat.h>

G_BEGIN_DECLS

#define VCHAT_TYPE_HISTORY_WINDOW (vchat_history_window_get_type ())
G_DECLARE_FINAL_TYPE (VchatHistoryWindow, vchat_history_window, VCHAT, HISTORY_WINDOW, AdwWindow)

VchatHistoryWindow *vchat_history_window_new (GtkWindow *parent, VChatClient *client);

G_END_DECLS
