/* vchatd-publisher.h: a call's remote picture as a PipeWire node, for the whole call
 *
 * The peer's video is published as a PipeWire node (media.class
 * Video/Source) that readers such as `vchatctl view` link to. The node
 * belongs to the call, not to one connection attempt: each attempt's media
 * session (vchatd-media.h) pushes its decoded frames in, and when a call
 * reconnects, the node stays, with its readers linked and the last picture
 * shown, until the new attempt's frames arrive.
 *
 * The node has its own GstPipeline (appsrc → videoconvert → videoscale →
 * pipewiresink), started and stopped off the main thread (PipeWire 0.3.65
 * can block in both; see vchatd-media.c). Its size is that of the first
 * picture; later pictures of another size are scaled into it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define VCHATD_TYPE_PUBLISHER (vchatd_publisher_get_type ())
G_DECLARE_FINAL_TYPE (VchatdPublisher, vchatd_publisher, VCHATD, PUBLISHER, GObject)

/* Builds the node's pipeline and starts it; fails when an element is
 * missing (no PipeWire plugin for GStreamer). */
VchatdPublisher *vchatd_publisher_new (const char *node_name, GError **error);
const char *vchatd_publisher_get_node_name (VchatdPublisher *self);
/* Any thread: a decoded frame (video/x-raw). Dropped until the node has
 * started, once it failed or is stopping, and when the node is behind (it
 * keeps at most two). */
void vchatd_publisher_push (VchatdPublisher *self, GstSample *sample);
/* TRUE once a picture has reached the node: a reader that links to the
 * node before its first picture negotiates nothing (pipewiresink 0.3.65),
 * so the name is given out only from then on. */
gboolean vchatd_publisher_has_picture (VchatdPublisher *self);
/* Frames are dropped from now on and the pipeline goes down off the main
 * thread; idempotent. Counted by vchatd_media_wait_stopped(). */
void vchatd_publisher_stop (VchatdPublisher *self);

/* PipeWire 0.3.65: activates pipewiresink's buffer pool before the sink has
 * its caps (see vchatd-publisher.c). @sinkpad: the sink's pad. */
void vchatd_publisher_activate_sink_pool (GstPad *sinkpad, GstCaps *caps, GstBuffer *first);

/* Signals, on the main context of the thread that made it:
 *   "picture" (): the first picture reached the node
 *   "failed" (const char *message): the node cannot be published (no
 *       PipeWire, or the sink failed); frames are dropped from then on */

G_END_DECLS
