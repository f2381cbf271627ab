/* vchat-application.h: the vchat app: one instance, its actions, the link
 * handler
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <adwaita.h>
#include <vchat/vchat.h>

G_BEGIN_DECLS

#define VCHAT_TYPE_APPLICATION (vchat_application_get_type ())
G_DECLARE_FINAL_TYPE (VchatApplication, vchat_application, VCHAT, APPLICATION, AdwApplication)

VchatApplication *vchat_application_new (void);
/* The daemon's client; NULL until it is there. (transfer none) */
VChatClient *vchat_application_get_client (VchatApplication *self);
/* vchatd's settings (io.github.vchat.VChat1); NULL when the schema is not
 * installed. (transfer none) */
GSettings *vchat_application_get_settings (VchatApplication *self);

G_END_DECLS
