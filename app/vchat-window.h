/* vchat-window.h: the main window: the start page, the call, invites
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <adwaita.h>
#include <vchat/vchat.h>

#include "vchat-application.h"

G_BEGIN_DECLS

#define VCHAT_TYPE_WINDOW (vchat_window_get_type ())
G_DECLARE_FINAL_TYPE (VchatWindow, vchat_window, VCHAT, WINDOW, AdwApplicationWindow)

VchatWindow *vchat_window_new (VchatApplication *app);
/* The daemon's client is there (or gone: NULL). */
void vchat_window_set_client (VchatWindow *self, VChatClient *client);
/* Joins the invite of @link (a code, a vchat:// or a web link); waits for
 * the client when it is not there yet. */
void vchat_window_join_link (VchatWindow *self, const char *link);
/* Shows the call at @path (its D-Bus object path) once the client knows
 * it: the notification's Accept (app.show-call). */
void vchat_window_show_call (VchatWindow *self, const char *path);
/* A toast at the bottom of the window. */
void vchat_window_toast (VchatWindow *self, const char *text);

G_END_DECLS
