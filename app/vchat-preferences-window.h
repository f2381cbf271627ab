/* vchat-preferences-window.h: vchatd's settings, as a person sets them
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <adwaita.h>
#include <vchat/vchat.h>

G_BEGIN_DECLS

#define VCHAT_TYPE_PREFERENCES_WINDOW (vchat_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (VchatPreferencesWindow, vchat_preferences_window, VCHAT,
                      PREFERENCES_WINDOW, AdwPreferencesWindow)

/* @client: (nullable): for the list of cameras */
VchatPreferencesWindow *vchat_preferences_window_new (GtkWindow *parent, GSettings *settings,
                                                      VChatClient *client);

G_END_DECLS
