/* sigd-stream.h: the stream libsoup reads and writes for one TCP connection
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define SIGD_TYPE_STREAM (sigd_stream_get_type ())
G_DECLARE_FINAL_TYPE (SigdStream, sigd_stream, SIGD, STREAM, GIOStream)

/* Wraps @base (the TCP connection, or TLS over it), whose socket is
 * @socket. At most @header_limit bytes may come before the end of the HTTP
 * request headers; after them, the bytes are read as WebSocket frames and
 * one message (all its fragments) may have at most @message_limit bytes. */
SigdStream *sigd_stream_new (GIOStream *base, GSocket *socket, gsize header_limit,
                             gsize message_limit);

/* The context that should be thread-default while libsoup sets up the
 * connection (soup_server_accept_iostream()), so that what it waits on
 * lives there (see sigd-stream.c, "The poller and the shards"); NULL for a
 * connection polled by GLib's own sources (TLS). */
GMainContext *sigd_stream_get_context (SigdStream *self);

/* The HTTP exchange is over and the connection now carries WebSocket
 * frames: queued bytes are counted from here. */
void sigd_stream_start_websocket (SigdStream *self);
/* Counts @bytes the WebSocket layer was just asked to send. */
void sigd_stream_expect_output (SigdStream *self, gsize bytes);
/* Bytes asked for (by sigd_stream_expect_output() and, implicitly, by the
 * client's pings and close, which are echoed) and not yet written: what
 * waits in memory because the client does not read. */
guint64 sigd_stream_get_queued (SigdStream *self);
/* Ends the connection under libsoup's feet: its next read sees the end of
 * the stream and it cleans up as for any dropped client. */
void sigd_stream_abort (SigdStream *self);

G_END_DECLS
