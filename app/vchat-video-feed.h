/* vchat-video-feed.h: a call's picture shown in a GtkPicture
 *
 * GTK 4 in Debian 12 has no GStreamer sink, so a feed runs
 * vchat_call_create_video_source() ! videoconvert ! RGBA ! appsink and hands
 * each frame to the main thread as a GdkMemoryTexture.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gtk/gtk.h>
#include <vchat/vchat.h>

G_BEGIN_DECLS

typedef struct _VchatVideoFeed VchatVideoFeed;

/* Shows @kind of @call in @picture until stopped; keeps trying while the call
 * has no such node yet, and restarts the pipeline when the pictures stop. */
VchatVideoFeed *vchat_video_feed_new (GtkPicture *picture, VChatCall *call, VChatVideoKind kind);
/* Stops the pipeline, clears the picture and frees the feed. */
void vchat_video_feed_free (VchatVideoFeed *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VchatVideoFeed, vchat_video_feed_free)

G_END_DECLS
