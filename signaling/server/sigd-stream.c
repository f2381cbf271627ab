/* sigd-stream.c: the stream libsoup reads and writes for one TCP connection
 *
 * libsoup 3.2 buffers request headers and WebSocket messages without a
 * bound of its own, and keeps what a client does not read in a queue we
 * cannot see. Every byte passes through here, so this is where those
 * bounds are kept: the headers may have header_limit bytes; after them the
 * bytes are WebSocket frames, whose headers are read (never the payloads) to
 * bound a message across its fragments and to know how much the client's
 * pings and close will make libsoup send back. A read that would break a
 * bound fails, and libsoup drops the connection as it does for any error.
 *
 * Waiting for the socket: libsoup makes a new source each time it waits to
 * read or write (after every message), and GLib adds a descriptor to its
 * context by walking the list of every descriptor it polls, kept sorted;
 * it also takes a source's descriptors out and puts them back around each
 * dispatch. With thousands of connections that walk, twice per message,
 * was most of the server's CPU (perf). So a plain TCP connection has one
 * source that polls its descriptor for its whole life (added once, never
 * blocked: it may recurse), whose events are changed in place, and the
 * sources libsoup waits on hold no descriptor: the watch makes them ready.
 * A TLS connection keeps GLib's sources (TLS may hold decrypted bytes that
 * the socket does not show).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "sigd-stream.h"

typedef enum {
  PHASE_HEADERS,
  PHASE_FRAMES,
} Phase;

struct _SigdStream {
  GIOStream parent;
  GIOStream *base;
  GSocket *socket;
  GInputStream *input;
  GOutputStream *output;

  Phase phase;
  gsize header_limit;
  gsize header_bytes;
  gsize line_len; /* bytes on the current header line, without CR */

  gsize message_limit;
  guint8 frame[14]; /* the frame header being read */
  guint frame_len;
  guint64 skip; /* payload bytes of the current frame still to pass */
  guint64 message_bytes;

  guint64 expected; /* bytes the WebSocket layer was asked to write */
  guint64 written;
  guint64 written_base; /* written when the WebSocket began */

  gboolean plain;      /* @base is the TCP connection itself */
  gboolean closed;     /* close was asked for: no watch any more */
  GSource *watch;      /* polls the socket (plain only), or NULL */
  gpointer watch_tag;  /* its descriptor, or NULL once hung up */
  GPtrArray *waiters;  /* WaitSource*: sources libsoup waits on */
};

/* A source libsoup waits on, ready when the watch says so. */
typedef struct {
  GSource source;
  SigdStream *stream; /* NULL once the stream is gone */
  GIOCondition cond;  /* G_IO_IN or G_IO_OUT */
} WaitSource;

typedef struct {
  GSource source;
  SigdStream *stream;
} WatchSource;

static void
watch_update (SigdStream *self)
{
  GIOCondition want = 0;

  if (!self->watch_tag)
    return;
  for (guint i = 0; i < self->waiters->len; i++) {
    WaitSource *w = self->waiters->pdata[i];

    if (!g_source_is_destroyed (&w->source))
      want |= w->cond;
  }
  g_source_modify_unix_fd (self->watch, self->watch_tag, want);
}

static gboolean
watch_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  SigdStream *self = ((WatchSource *) source)->stream;
  GIOCondition got;

  if (!self || !self->watch_tag)
    return G_SOURCE_CONTINUE;
  got = g_source_query_unix_fd (source, self->watch_tag);
  for (guint i = 0; i < self->waiters->len; i++) {
    WaitSource *w = self->waiters->pdata[i];

    if (!g_source_is_destroyed (&w->source) && (got & (w->cond | G_IO_HUP | G_IO_ERR | G_IO_NVAL)))
      g_source_set_ready_time (&w->source, 0);
  }
  if (got & (G_IO_HUP | G_IO_ERR | G_IO_NVAL)) {
    /* Polled for nothing they would go on being reported: every wait from
     * now on is over at once (the read or write then fails). */
    g_source_remove_unix_fd (source, self->watch_tag);
    self->watch_tag = NULL;
  }
  watch_update (self); /* nobody waits any more for what was seen: stop polling for it */
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs watch_funcs = {
  .dispatch = watch_dispatch,
};

static gboolean
wait_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  WaitSource *w = (WaitSource *) source;

  /* Ready again only when the watch says so (at once if hung up). */
  g_source_set_ready_time (source, w->stream && !w->stream->watch_tag ? 0 : -1);
  return callback ? callback (data) : G_SOURCE_CONTINUE;
}

static void
wait_finalize (GSource *source)
{
  WaitSource *w = (WaitSource *) source;

  if (w->stream) {
    g_ptr_array_remove_fast (w->stream->waiters, w);
    watch_update (w->stream);
  }
}

/* g_pollable_source_new_full() gives its child a dummy closure. */
static gboolean
wait_closure_callback (gpointer data)
{
  GClosure *closure = data;
  GValue result = G_VALUE_INIT;
  gboolean ret;

  g_value_init (&result, G_TYPE_BOOLEAN);
  g_closure_invoke (closure, &result, 0, NULL, NULL);
  ret = g_value_get_boolean (&result);
  g_value_unset (&result);
  return ret;
}

static GSourceFuncs wait_funcs = {
  .dispatch = wait_dispatch,
  .finalize = wait_finalize,
  .closure_callback = wait_closure_callback,
};

static GSource *
wait_source_new (SigdStream *self, GIOCondition cond)
{
  WaitSource *w;

  if (!self->watch) {
    GSocket *socket = self->socket;

    self->watch = g_source_new (&watch_funcs, sizeof (WatchSource));
    ((WatchSource *) self->watch)->stream = self;
    g_source_set_name (self->watch, "sigd-stream watch");
    g_source_set_can_recurse (self->watch, TRUE);
    self->watch_tag = g_source_add_unix_fd (self->watch, g_socket_get_fd (socket), 0);
    g_source_attach (self->watch, g_main_context_get_thread_default ());
  }
  w = (WaitSource *) g_source_new (&wait_funcs, sizeof (WaitSource));
  g_source_set_name (&w->source, "sigd-stream wait");
  w->stream = self;
  w->cond = cond;
  g_ptr_array_add (self->waiters, w);
  if (!self->watch_tag)
    g_source_set_ready_time (&w->source, 0);
  watch_update (self);
  return &w->source;
}

static void
watch_free (SigdStream *self)
{
  for (guint i = 0; i < self->waiters->len; i++) {
    WaitSource *w = self->waiters->pdata[i];

    w->stream = NULL;
    if (!g_source_is_destroyed (&w->source))
      g_source_set_ready_time (&w->source, 0); /* what waits finds the stream closed */
  }
  g_ptr_array_set_size (self->waiters, 0);
  if (self->watch) {
    ((WatchSource *) self->watch)->stream = NULL;
    g_source_destroy (self->watch);
    g_clear_pointer (&self->watch, g_source_unref);
  }
  self->watch_tag = NULL;
}

G_DEFINE_TYPE (SigdStream, sigd_stream, G_TYPE_IO_STREAM)

/* The input side */

#define SIGD_TYPE_STREAM_INPUT (sigd_stream_input_get_type ())
G_DECLARE_FINAL_TYPE (SigdStreamInput, sigd_stream_input, SIGD, STREAM_INPUT, GInputStream)

struct _SigdStreamInput {
  GInputStream parent;
  SigdStream *stream; /* owns us */
  GInputStream *base;
};

static void sigd_stream_input_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE (SigdStreamInput, sigd_stream_input, G_TYPE_INPUT_STREAM,
                         G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                sigd_stream_input_pollable_init))

/* One frame header is complete: account for it. */
static gboolean
frame_done (SigdStream *self, guint64 payload, GError **error)
{
  guint8 opcode = self->frame[0] & 0x0f;
  gboolean fin = (self->frame[0] & 0x80) != 0;

  switch (opcode) {
  case 0x0: /* continuation */
  case 0x1: /* text */
  case 0x2: /* binary */
    self->message_bytes += payload;
    if (self->message_bytes > self->message_limit) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   "WebSocket message over %" G_GSIZE_FORMAT " bytes", self->message_limit);
      return FALSE;
    }
    if (fin)
      self->message_bytes = 0;
    break;
  case 0x8: /* close: echoed */
  case 0x9: /* ping: answered with a pong of the same payload */
    self->expected += 2 + MIN (payload, 125);
    break;
  default:
    break;
  }
  self->skip = payload;
  return TRUE;
}

static gboolean
account_frames (SigdStream *self, const guint8 *buf, gsize len, GError **error)
{
  gsize i = 0;

  while (i < len) {
    guint need;
    guint64 payload;

    if (self->skip > 0) {
      guint64 take = MIN (self->skip, len - i);
      self->skip -= take;
      i += take;
      continue;
    }
    self->frame[self->frame_len++] = buf[i++];
    if (self->frame_len < 2)
      continue;
    need = 2;
    if ((self->frame[1] & 0x7f) == 126)
      need += 2;
    else if ((self->frame[1] & 0x7f) == 127)
      need += 8;
    if (self->frame[1] & 0x80)
      need += 4; /* the mask */
    if (self->frame_len < need)
      continue;

    payload = self->frame[1] & 0x7f;
    if (payload == 126)
      payload = ((guint64) self->frame[2] << 8) | self->frame[3];
    else if (payload == 127) {
      payload = 0;
      for (guint k = 2; k < 10; k++)
        payload = (payload << 8) | self->frame[k];
    }
    self->frame_len = 0;
    if (!frame_done (self, payload, error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
account_read (SigdStream *self, const guint8 *buf, gsize len, GError **error)
{
  gsize i = 0;

  for (; i < len && self->phase == PHASE_HEADERS; i++) {
    if (++self->header_bytes > self->header_limit) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   "HTTP request headers over %" G_GSIZE_FORMAT " bytes", self->header_limit);
      return FALSE;
    }
    if (buf[i] == '\n') {
      /* An empty line ends the headers (the first line is the request
       * line, so it never counts as empty). */
      if (self->line_len == 0 && self->header_bytes > 2)
        self->phase = PHASE_FRAMES;
      self->line_len = 0;
    } else if (buf[i] != '\r') {
      self->line_len++;
    }
  }
  return account_frames (self, buf + i, len - i, error);
}

static gssize
sigd_stream_input_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable,
                        GError **error)
{
  SigdStreamInput *in = SIGD_STREAM_INPUT (stream);
  gssize n = g_input_stream_read (in->base, buffer, count, cancellable, error);

  if (n > 0 && !account_read (in->stream, buffer, n, error))
    return -1;
  return n;
}

static gssize
sigd_stream_input_read_nonblocking (GPollableInputStream *stream, void *buffer, gsize count,
                                    GError **error)
{
  SigdStreamInput *in = SIGD_STREAM_INPUT (stream);
  gssize n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (in->base), buffer,
                                                       count, NULL, error);

  if (n > 0 && !account_read (in->stream, buffer, n, error))
    return -1;
  return n;
}

static gboolean
sigd_stream_input_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  /* The base stream is closed with the whole GIOStream. */
  return TRUE;
}

static gboolean
sigd_stream_input_can_poll (GPollableInputStream *stream)
{
  return g_pollable_input_stream_can_poll (
    G_POLLABLE_INPUT_STREAM (SIGD_STREAM_INPUT (stream)->base));
}

static gboolean
sigd_stream_input_is_readable (GPollableInputStream *stream)
{
  return g_pollable_input_stream_is_readable (
    G_POLLABLE_INPUT_STREAM (SIGD_STREAM_INPUT (stream)->base));
}

static GSource *
sigd_stream_input_create_source (GPollableInputStream *stream, GCancellable *cancellable)
{
  SigdStream *self = SIGD_STREAM_INPUT (stream)->stream;
  g_autoptr (GSource) base = self->plain && !self->closed
                               ? wait_source_new (self, G_IO_IN)
                               : g_pollable_input_stream_create_source (
                                   G_POLLABLE_INPUT_STREAM (SIGD_STREAM_INPUT (stream)->base), NULL);

  return g_pollable_source_new_full (stream, base, cancellable);
}

static void
sigd_stream_input_finalize (GObject *object)
{
  g_clear_object (&SIGD_STREAM_INPUT (object)->base);
  G_OBJECT_CLASS (sigd_stream_input_parent_class)->finalize (object);
}

static void
sigd_stream_input_class_init (SigdStreamInputClass *klass)
{
  GInputStreamClass *istream_class = G_INPUT_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = sigd_stream_input_finalize;
  istream_class->read_fn = sigd_stream_input_read;
  istream_class->close_fn = sigd_stream_input_close;
}

static void
sigd_stream_input_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = sigd_stream_input_can_poll;
  iface->is_readable = sigd_stream_input_is_readable;
  iface->create_source = sigd_stream_input_create_source;
  iface->read_nonblocking = sigd_stream_input_read_nonblocking;
}

static void
sigd_stream_input_init (SigdStreamInput *self)
{
}

/* The output side */

#define SIGD_TYPE_STREAM_OUTPUT (sigd_stream_output_get_type ())
G_DECLARE_FINAL_TYPE (SigdStreamOutput, sigd_stream_output, SIGD, STREAM_OUTPUT, GOutputStream)

struct _SigdStreamOutput {
  GOutputStream parent;
  SigdStream *stream; /* owns us */
  GOutputStream *base;
};

static void sigd_stream_output_pollable_init (GPollableOutputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE (SigdStreamOutput, sigd_stream_output, G_TYPE_OUTPUT_STREAM,
                         G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
                                                sigd_stream_output_pollable_init))

static gssize
sigd_stream_output_write (GOutputStream *stream, const void *buffer, gsize count,
                          GCancellable *cancellable, GError **error)
{
  SigdStreamOutput *out = SIGD_STREAM_OUTPUT (stream);
  gssize n = g_output_stream_write (out->base, buffer, count, cancellable, error);

  if (n > 0)
    out->stream->written += n;
  return n;
}

static gssize
sigd_stream_output_write_nonblocking (GPollableOutputStream *stream, const void *buffer,
                                      gsize count, GError **error)
{
  SigdStreamOutput *out = SIGD_STREAM_OUTPUT (stream);
  gssize n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (out->base),
                                                         buffer, count, NULL, error);

  if (n > 0)
    out->stream->written += n;
  return n;
}

static gboolean
sigd_stream_output_flush (GOutputStream *stream, GCancellable *cancellable, GError **error)
{
  return g_output_stream_flush (SIGD_STREAM_OUTPUT (stream)->base, cancellable, error);
}

static gboolean
sigd_stream_output_close (GOutputStream *stream, GCancellable *cancellable, GError **error)
{
  return TRUE;
}

static gboolean
sigd_stream_output_can_poll (GPollableOutputStream *stream)
{
  return g_pollable_output_stream_can_poll (
    G_POLLABLE_OUTPUT_STREAM (SIGD_STREAM_OUTPUT (stream)->base));
}

static gboolean
sigd_stream_output_is_writable (GPollableOutputStream *stream)
{
  return g_pollable_output_stream_is_writable (
    G_POLLABLE_OUTPUT_STREAM (SIGD_STREAM_OUTPUT (stream)->base));
}

static GSource *
sigd_stream_output_create_source (GPollableOutputStream *stream, GCancellable *cancellable)
{
  SigdStream *self = SIGD_STREAM_OUTPUT (stream)->stream;
  g_autoptr (GSource) base = self->plain && !self->closed
                               ? wait_source_new (self, G_IO_OUT)
                               : g_pollable_output_stream_create_source (
                                   G_POLLABLE_OUTPUT_STREAM (SIGD_STREAM_OUTPUT (stream)->base),
                                   NULL);

  return g_pollable_source_new_full (stream, base, cancellable);
}

static void
sigd_stream_output_finalize (GObject *object)
{
  g_clear_object (&SIGD_STREAM_OUTPUT (object)->base);
  G_OBJECT_CLASS (sigd_stream_output_parent_class)->finalize (object);
}

static void
sigd_stream_output_class_init (SigdStreamOutputClass *klass)
{
  GOutputStreamClass *ostream_class = G_OUTPUT_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = sigd_stream_output_finalize;
  ostream_class->write_fn = sigd_stream_output_write;
  ostream_class->flush = sigd_stream_output_flush;
  ostream_class->close_fn = sigd_stream_output_close;
}

static void
sigd_stream_output_pollable_init (GPollableOutputStreamInterface *iface)
{
  iface->can_poll = sigd_stream_output_can_poll;
  iface->is_writable = sigd_stream_output_is_writable;
  iface->create_source = sigd_stream_output_create_source;
  iface->write_nonblocking = sigd_stream_output_write_nonblocking;
}

static void
sigd_stream_output_init (SigdStreamOutput *self)
{
}

/* The stream */

static GInputStream *
sigd_stream_get_input_stream (GIOStream *stream)
{
  return SIGD_STREAM (stream)->input;
}

static GOutputStream *
sigd_stream_get_output_stream (GIOStream *stream)
{
  return SIGD_STREAM (stream)->output;
}

static gboolean
sigd_stream_close (GIOStream *stream, GCancellable *cancellable, GError **error)
{
  /* Before the descriptor closes and its number can be reused. */
  SIGD_STREAM (stream)->closed = TRUE;
  watch_free (SIGD_STREAM (stream));
  return g_io_stream_close (SIGD_STREAM (stream)->base, cancellable, error);
}

static void
base_closed_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GTask) task = data;
  GError *error = NULL;

  if (g_io_stream_close_finish (G_IO_STREAM (source), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/* Not GIOStream's default, which would close the base in a thread. */
static void
sigd_stream_close_async (GIOStream *stream, int io_priority, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer data)
{
  GTask *task = g_task_new (stream, cancellable, callback, data);

  SIGD_STREAM (stream)->closed = TRUE;
  watch_free (SIGD_STREAM (stream));
  g_io_stream_close_async (SIGD_STREAM (stream)->base, io_priority, cancellable, base_closed_cb,
                           task);
}

static gboolean
sigd_stream_close_finish (GIOStream *stream, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
sigd_stream_finalize (GObject *object)
{
  SigdStream *self = SIGD_STREAM (object);

  watch_free (self);
  g_ptr_array_unref (self->waiters);
  g_clear_object (&self->input);
  g_clear_object (&self->output);
  g_clear_object (&self->base);
  g_clear_object (&self->socket);
  G_OBJECT_CLASS (sigd_stream_parent_class)->finalize (object);
}

static void
sigd_stream_class_init (SigdStreamClass *klass)
{
  GIOStreamClass *io_class = G_IO_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = sigd_stream_finalize;
  io_class->get_input_stream = sigd_stream_get_input_stream;
  io_class->get_output_stream = sigd_stream_get_output_stream;
  io_class->close_fn = sigd_stream_close;
  io_class->close_async = sigd_stream_close_async;
  io_class->close_finish = sigd_stream_close_finish;
}

static void
sigd_stream_init (SigdStream *self)
{
  self->waiters = g_ptr_array_new ();
}

SigdStream *
sigd_stream_new (GIOStream *base, GSocket *socket, gsize header_limit, gsize message_limit)
{
  SigdStream *self = g_object_new (SIGD_TYPE_STREAM, NULL);
  SigdStreamInput *in = g_object_new (SIGD_TYPE_STREAM_INPUT, NULL);
  SigdStreamOutput *out = g_object_new (SIGD_TYPE_STREAM_OUTPUT, NULL);

  g_return_val_if_fail (G_IS_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (base)), NULL);
  self->base = g_object_ref (base);
  self->socket = g_object_ref (socket);
  self->plain = G_IS_SOCKET_CONNECTION (base);
  self->header_limit = header_limit;
  self->message_limit = message_limit;
  in->stream = self;
  in->base = g_object_ref (g_io_stream_get_input_stream (base));
  out->stream = self;
  out->base = g_object_ref (g_io_stream_get_output_stream (base));
  self->input = G_INPUT_STREAM (in);
  self->output = G_OUTPUT_STREAM (out);
  return self;
}

void
sigd_stream_start_websocket (SigdStream *self)
{
  self->written_base = self->written;
}

void
sigd_stream_expect_output (SigdStream *self, gsize bytes)
{
  self->expected += bytes;
}

guint64
sigd_stream_get_queued (SigdStream *self)
{
  guint64 done = self->written - self->written_base;

  return self->expected > done ? self->expected - done : 0;
}

void
sigd_stream_abort (SigdStream *self)
{
  /* Not close(): the descriptor stays libsoup's to close, so its number
   * cannot be reused under a source that still polls it. */
  g_socket_shutdown (self->socket, TRUE, TRUE, NULL);
}
