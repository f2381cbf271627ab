/* vchat.h: libvchat, the GObject API of the vchat daemon
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#define VCHAT_INSIDE
#include "vchat-call.h"
#include "vchat-camera.h"
#include "vchat-client.h"
#include "vchat-enum-types.h"
#include "vchat-enums.h"
#include "vchat-error.h"
#include "vchat-stats.h"
#undef VCHAT_INSIDE
