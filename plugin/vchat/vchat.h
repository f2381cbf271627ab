/* vchat.h: libvchat, the GObject API of the vchat daemon
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

/**
 * SECTION:vchat
 * @title: libvchat
 * @short_description: the GObject API of the vchat session daemon
 * @include: vchat/vchat.h
 *
 * libvchat lets a chat frontend drive vchatd, the vchat daemon, without
 * speaking D-Bus: a #VChatClient connects to the daemon (starting it
 * through D-Bus activation) and follows it across restarts; each call is a
 * #VChatCall with its state, its peer, its statistics and its chat
 * messages, and vchat_call_create_video_source() gives a GStreamer source
 * for its pictures. Errors of the daemon arrive in the %VCHAT_ERROR domain.
 *
 * Include only `<vchat/vchat.h>`; build with `pkg-config vchat-1`. From
 * Python or GJS: `gi.require_version("VChat", "1.0")`.
 */

#define VCHAT_INSIDE
#include "vchat-call.h"
#include "vchat-camera.h"
#include "vchat-client.h"
#include "vchat-enum-types.h"
#include "vchat-enums.h"
#include "vchat-error.h"
#include "vchat-stats.h"
#undef VCHAT_INSIDE
