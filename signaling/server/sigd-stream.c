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
 * Waiting for the socket: libsoup makes a source each time it waits to
 * read or write, and a GLib main-loop wakeup visits every source attached
 * (prepare and check) and poll()s every descriptor, so a wakeup cost grew
 * with the number of connections, and with thousands of them that was most
 * of the server's CPU and of a relayed message's latency (perf). So plain
 * TCP connections are polled by one epoll descriptor that all of them
 * share, itself polled by one source (the poller): a connection registers
 * its descriptor once, changes its events in place, and the poller hears of
 * the ready ones only. The sources libsoup waits on hold no descriptor and
 * have no child: the poller makes them ready. And they live in small
 * private contexts, the shards, each run only when one of its own is ready
 * (see "The poller and the shards"). A wakeup then costs one poll() entry,
 * one source in the main context, and one run of each shard that has a
 * ready connection, whatever the number of connections. A TLS connection
 * keeps GLib's sources (TLS may hold decrypted bytes that the socket does
 * not show).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "sigd-stream.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

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
  gboolean closed;     /* close was asked for: no polling any more */
  gboolean registered; /* the poller polls our descriptor */
  gpointer shard;      /* Shard*: our home, if the poller polls us */
  gboolean hung_up;    /* it said so: every wait is over at once */
  guint32 events;      /* the epoll events registered */
  GPtrArray *waiters;  /* WaitSource*: sources libsoup waits on */
};

/* The poller and the shards
 *
 * libsoup attaches the sources it waits on to the thread-default main
 * context, and keeps a read wait attached for every connection all the
 * time. Were they all in the server's main context, each of its wakeups
 * would visit every connection's source (prepare and check): most of the
 * server's CPU at 10,000 connections (perf). So each plain connection has
 * a home, a shard: a private GMainContext shared by at most SHARD_STREAMS
 * connections, pushed as thread-default while libsoup sets the connection
 * up and while the shard's sources run. A shard is run (prepare, check,
 * dispatch: only its own sources) when the poller hears that one of its
 * connections is ready, when its wakeup descriptor says something was
 * attached to it from another thread, and when a timeout of its own is
 * due. The main context keeps one source for all of this, the poller.
 *
 * A wait may still be in the main context (libsoup attaches a write wait
 * to whichever context is thread-default when it sends, and a timer or a
 * Redis reply sends from the main context): it is dispatched there, as
 * before. */

#define SHARD_STREAMS 32
#define SHARD_FDS 4

typedef struct {
  GMainContext *context;
  guint streams;        /* plain streams homed here */
  gboolean roomy;       /* in poller->roomy */
  gboolean due;         /* in poller->due */
  gint64 deadline;      /* monotonic µs its next timeout is due, or -1 */
  GPollFD fds[SHARD_FDS]; /* what it asks to poll (its wakeup), all in epoll */
  guint n_fds;
} Shard;

typedef struct {
  GSource source;
  int epfd;
  GPtrArray *due;        /* Shard*: to run at the next dispatch */
  GPtrArray *timed;      /* Shard*: with a deadline */
  GHashTable *shard_of;  /* GMainContext* → Shard* */
  GQueue roomy;          /* Shard*: with room for a stream */
  gboolean dispatching;
} Poller;

/* Made for the first plain connection, for the context it lives in (the
 * server's main context), and kept for the life of the process, with its
 * shards. */
static Poller *poller;

/* epoll's data for a shard's descriptor has its lowest bit set; for a
 * stream it is the (aligned) SigdStream pointer. */
#define SHARD_TAG 1

static void stream_ready (SigdStream *self, GIOCondition got);

static void
shard_make_due (Shard *shard)
{
  if (shard->due)
    return;
  shard->due = TRUE;
  g_ptr_array_add (poller->due, shard);
  /* The poller runs it at its next dispatch, which is at once: made ready
   * here, or at the end of its dispatch if that is where we are. */
  if (!poller->dispatching && poller->due->len == 1)
    g_source_set_ready_time (&poller->source, 0);
}

/* The shard @source is attached to, or NULL (the main context). */
static Shard *
shard_of_source (GSource *source)
{
  GMainContext *context = g_source_get_context (source);

  return context ? g_hash_table_lookup (poller->shard_of, context) : NULL;
}

static void
shard_watch_fds (Shard *shard, const GPollFD *fds, guint n)
{
  /* What it asks to poll: its wakeup descriptor, which does not change. */
  for (guint i = 0; i < shard->n_fds; i++) {
    gboolean kept = FALSE;

    for (guint j = 0; j < n && !kept; j++)
      kept = fds[j].fd == shard->fds[i].fd && fds[j].events == shard->fds[i].events;
    if (!kept && epoll_ctl (poller->epfd, EPOLL_CTL_DEL, shard->fds[i].fd, NULL) < 0)
      g_warning ("epoll_ctl: %s", g_strerror (errno));
  }
  for (guint j = 0; j < n; j++) {
    gboolean had = FALSE;

    for (guint i = 0; i < shard->n_fds && !had; i++)
      had = fds[j].fd == shard->fds[i].fd && fds[j].events == shard->fds[i].events;
    if (!had) {
      struct epoll_event ev = {
        .events = (fds[j].events & G_IO_IN ? EPOLLIN : 0) | (fds[j].events & G_IO_OUT ? EPOLLOUT : 0),
        .data.u64 = (guint64) (guintptr) shard | SHARD_TAG,
      };

      if (epoll_ctl (poller->epfd, EPOLL_CTL_ADD, fds[j].fd, &ev) < 0)
        g_warning ("epoll_ctl: %s", g_strerror (errno));
    }
  }
  memcpy (shard->fds, fds, n * sizeof (GPollFD));
  shard->n_fds = n;
}

/* One GLib main-loop iteration of @shard, without blocking; then, what it
 * waits for next. Its thread-default is the shard, so what its sources
 * attach stays in it. */
static void
shard_run (Shard *shard)
{
  GPollFD fds[SHARD_FDS];
  gint priority, timeout = -1;
  gint n = 0;

  g_main_context_push_thread_default (shard->context);
  /* A few rounds: what a dispatch makes ready at once (an idle, a GTask's
   * return) runs now rather than at the poller's next dispatch. */
  for (int round = 0; round < 4; round++) {
    g_main_context_prepare (shard->context, &priority);
    n = g_main_context_query (shard->context, priority, &timeout, fds, SHARD_FDS);
    if (n > SHARD_FDS) {
      g_critical ("a shard asks to poll %d descriptors", n);
      n = SHARD_FDS;
    }
    for (gint i = 0; i < n; i++)
      fds[i].revents = 0;
    if (n > 0)
      g_poll (fds, n, 0);
    if (!g_main_context_check (shard->context, priority, fds, n))
      break;
    g_main_context_dispatch (shard->context);
    timeout = 0;
  }
  g_main_context_pop_thread_default (shard->context);

  shard_watch_fds (shard, fds, n);
  if (timeout == 0) {
    shard_make_due (shard);
  } else if (timeout > 0) {
    if (shard->deadline < 0)
      g_ptr_array_add (poller->timed, shard);
    shard->deadline = g_get_monotonic_time () + (gint64) timeout * 1000;
  } else if (shard->deadline >= 0) {
    shard->deadline = -1;
    g_ptr_array_remove_fast (poller->timed, shard);
  }
}

static Shard *
shard_new (void)
{
  Shard *shard = g_new0 (Shard, 1);
  GPollFD fds[SHARD_FDS];
  gint priority, timeout, n;

  shard->context = g_main_context_new ();
  shard->deadline = -1;
  /* Ours for good: a source attached from another thread wakes it (GLib
   * signals an owned context's wakeup only when its owner is another
   * thread), and it is never iterated but by shard_run(). */
  g_main_context_acquire (shard->context);
  g_main_context_prepare (shard->context, &priority);
  n = g_main_context_query (shard->context, priority, &timeout, fds, SHARD_FDS);
  shard_watch_fds (shard, fds, CLAMP (n, 0, SHARD_FDS));
  g_hash_table_insert (poller->shard_of, shard->context, shard);
  return shard;
}

/* A home for a new stream. */
static Shard *
shard_take (void)
{
  Shard *shard = g_queue_peek_head (&poller->roomy);

  if (!shard) {
    shard = shard_new ();
    shard->roomy = TRUE;
    g_queue_push_head (&poller->roomy, shard);
  }
  if (++shard->streams == SHARD_STREAMS) {
    g_queue_pop_head (&poller->roomy);
    shard->roomy = FALSE;
  }
  return shard;
}

static void
shard_leave (Shard *shard)
{
  shard->streams--;
  if (!shard->roomy) {
    shard->roomy = TRUE;
    g_queue_push_head (&poller->roomy, shard);
  }
}

static gboolean
poller_prepare (GSource *source, gint *timeout)
{
  Poller *p = (Poller *) source;
  gint64 now, first = -1;

  if (p->timed->len == 0)
    return FALSE;
  now = g_source_get_time (source);
  for (guint i = 0; i < p->timed->len; i++) {
    Shard *shard = p->timed->pdata[i];

    if (first < 0 || shard->deadline < first)
      first = shard->deadline;
  }
  *timeout = first <= now ? 0 : (gint) MIN ((first - now + 999) / 1000, G_MAXINT);
  return first <= now;
}

static gboolean
poller_check (GSource *source)
{
  gint timeout;

  return poller_prepare (source, &timeout);
}

static gboolean
poller_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  Poller *p = (Poller *) source;
  struct epoll_event events[256];
  g_autoptr (GPtrArray) run = NULL;
  gint64 now = g_get_monotonic_time ();
  int n;

  p->dispatching = TRUE;
  n = epoll_wait (p->epfd, events, G_N_ELEMENTS (events), 0);

  /* Making a wait ready runs nothing, so no stream goes away in this loop.
   * More than 256 ready are reported again at the next wakeup. */
  for (int i = 0; i < n; i++) {
    guint32 e = events[i].events;

    if (events[i].data.u64 & SHARD_TAG) {
      shard_make_due ((Shard *) (guintptr) (events[i].data.u64 & ~(guint64) SHARD_TAG));
      continue;
    }
    stream_ready (events[i].data.ptr, (e & EPOLLIN ? G_IO_IN : 0) | (e & EPOLLOUT ? G_IO_OUT : 0) |
                                        (e & EPOLLHUP ? G_IO_HUP : 0) |
                                        (e & EPOLLERR ? G_IO_ERR : 0));
  }
  if (n < 0 && errno != EINTR)
    g_warning ("epoll_wait: %s", g_strerror (errno));
  for (guint i = 0; i < p->timed->len; i++) {
    Shard *shard = p->timed->pdata[i];

    if (shard->deadline <= now)
      shard_make_due (shard);
  }

  /* What these runs make due waits for the next dispatch (the poller is
   * then ready at once): one busy shard does not hold the others up. */
  run = g_steal_pointer (&p->due);
  p->due = g_ptr_array_new ();
  for (guint i = 0; i < run->len; i++)
    ((Shard *) run->pdata[i])->due = FALSE;
  for (guint i = 0; i < run->len; i++) {
    Shard *shard = run->pdata[i];

    if (!shard->due)
      shard_run (shard);
  }
  p->dispatching = FALSE;
  g_source_set_ready_time (source, p->due->len > 0 ? 0 : -1);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs poller_funcs = {
  .prepare = poller_prepare,
  .check = poller_check,
  .dispatch = poller_dispatch,
};

/* The poller of the thread's main context, or NULL if there is none (the
 * connection then keeps GLib's sources). */
static Poller *
poller_get (void)
{
  static gboolean failed;
  GMainContext *context = g_main_context_get_thread_default ();

  if (!context)
    context = g_main_context_default ();
  if (!poller && !failed) {
    int epfd = epoll_create1 (EPOLL_CLOEXEC);

    if (epfd < 0) {
      g_warning ("Cannot make an epoll descriptor, polling each connection on its own: %s",
                 g_strerror (errno));
      failed = TRUE;
      return NULL;
    }
    poller = (Poller *) g_source_new (&poller_funcs, sizeof (Poller));
    poller->epfd = epfd;
    poller->due = g_ptr_array_new ();
    poller->timed = g_ptr_array_new ();
    poller->shard_of = g_hash_table_new (NULL, NULL);
    g_queue_init (&poller->roomy);
    g_source_set_name (&poller->source, "sigd-stream poller");
    g_source_set_can_recurse (&poller->source, TRUE); /* never blocked */
    g_source_add_unix_fd (&poller->source, epfd, G_IO_IN);
    g_source_attach (&poller->source, context);
  }
  return poller && g_source_get_context (&poller->source) == context ? poller : NULL;
}

/* A source libsoup waits on, ready when the poller says so. It stands for
 * g_pollable_source_new_full()'s source: its callback is a
 * GPollableSourceFunc. */
typedef struct {
  GSource source;
  GObject *pollable;  /* our input or output stream, given to the callback */
  SigdStream *stream; /* NULL once the stream is gone */
  GIOCondition cond;  /* G_IO_IN or G_IO_OUT */
  gboolean ready;     /* the poller said so */
} WaitSource;

/* Makes @w ready; a shard's source also needs its shard run. */
static void
wait_make_ready (WaitSource *w)
{
  Shard *shard;

  if (g_source_is_destroyed (&w->source))
    return;
  w->ready = TRUE;
  shard = shard_of_source (&w->source);
  if (shard)
    shard_make_due (shard);
  /* In the main context, its next prepare sees it: what made it ready
   * runs in a dispatch of that context, or of a shard within one. */
}

/* The epoll events the live waits of @self ask for. */
static guint32
watch_wanted (SigdStream *self)
{
  guint32 want = 0;

  for (guint i = 0; i < self->waiters->len; i++) {
    WaitSource *w = self->waiters->pdata[i];

    if (!g_source_is_destroyed (&w->source))
      want |= w->cond == G_IO_IN ? EPOLLIN : EPOLLOUT;
  }
  return want;
}

static void
watch_set (SigdStream *self, guint32 events)
{
  struct epoll_event ev = { .events = events, .data.ptr = self };

  if (!self->registered || events == self->events)
    return;
  if (epoll_ctl (poller->epfd, EPOLL_CTL_MOD, g_socket_get_fd (self->socket), &ev) == 0)
    self->events = events;
  else
    g_warning ("epoll_ctl: %s", g_strerror (errno));
}

/* A wait was added: poll for what it wants too. What nobody waits for any
 * more is left polled until it is reported (stream_ready()): libsoup ends
 * its read wait and makes a new one for every message, and two epoll_ctl()
 * calls for each would cost more than an event seldom reported for
 * nothing. */
static void
watch_update (SigdStream *self)
{
  watch_set (self, self->events | watch_wanted (self));
}

static void
watch_stop (SigdStream *self)
{
  /* Before the descriptor closes and its number can be reused. */
  if (self->registered &&
      epoll_ctl (poller->epfd, EPOLL_CTL_DEL, g_socket_get_fd (self->socket), NULL) < 0)
    g_warning ("epoll_ctl: %s", g_strerror (errno));
  self->registered = FALSE;
}

/* Registers our descriptor with the poller: FALSE if we cannot. */
static gboolean
watch_start (SigdStream *self)
{
  struct epoll_event ev = { .events = 0, .data.ptr = self };

  if (!self->shard)
    return FALSE;
  if (epoll_ctl (poller->epfd, EPOLL_CTL_ADD, g_socket_get_fd (self->socket), &ev) < 0) {
    g_warning ("epoll_ctl: %s", g_strerror (errno));
    return FALSE;
  }
  self->registered = TRUE;
  self->events = 0;
  return TRUE;
}

static void
stream_ready (SigdStream *self, GIOCondition got)
{
  for (guint i = 0; i < self->waiters->len; i++) {
    WaitSource *w = self->waiters->pdata[i];

    if (got & (w->cond | G_IO_HUP | G_IO_ERR))
      wait_make_ready (w);
  }
  if (got & (G_IO_HUP | G_IO_ERR)) {
    /* Polled for nothing they would go on being reported: every wait from
     * now on is over at once (the read or write then fails). */
    watch_stop (self);
    self->hung_up = TRUE;
  } else {
    guint32 want = watch_wanted (self);

    /* Reported for nobody: stop polling for it (see watch_update()). */
    if (((got & G_IO_IN) && !(want & EPOLLIN)) || ((got & G_IO_OUT) && !(want & EPOLLOUT)))
      watch_set (self, want);
  }
}

static gboolean
wait_prepare (GSource *source, gint *timeout)
{
  return ((WaitSource *) source)->ready;
}

static gboolean
wait_check (GSource *source)
{
  return ((WaitSource *) source)->ready;
}

static gboolean
wait_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  WaitSource *w = (WaitSource *) source;

  /* Ready again only when the poller says so (at once if hung up). */
  w->ready = w->stream && w->stream->hung_up;
  return callback ? ((GPollableSourceFunc) (void (*) (void)) callback) (w->pollable, data)
                  : G_SOURCE_CONTINUE;
}

static void
wait_finalize (GSource *source)
{
  WaitSource *w = (WaitSource *) source;

  /* Its events stay polled until reported (see watch_update()). */
  if (w->stream)
    g_ptr_array_remove_fast (w->stream->waiters, w);
  g_clear_object (&w->pollable);
}

/* For g_source_set_closure(), as GLib's pollable sources do. */
static gboolean
wait_closure_callback (GObject *pollable, gpointer data)
{
  GClosure *closure = data;
  GValue param = G_VALUE_INIT;
  GValue result = G_VALUE_INIT;
  gboolean ret;

  g_value_init (&result, G_TYPE_BOOLEAN);
  g_value_init (&param, G_TYPE_OBJECT);
  g_value_set_object (&param, pollable);
  g_closure_invoke (closure, &result, 1, &param, NULL);
  ret = g_value_get_boolean (&result);
  g_value_unset (&result);
  g_value_unset (&param);
  return ret;
}

static GSourceFuncs wait_funcs = {
  .prepare = wait_prepare,
  .check = wait_check,
  .dispatch = wait_dispatch,
  .finalize = wait_finalize,
  .closure_callback = (GSourceFunc) (void (*) (void)) wait_closure_callback,
};

/* A source for @pollable (our input or output stream) that waits for
 * @cond, or NULL if the poller cannot poll us. */
static GSource *
wait_source_new (SigdStream *self, GObject *pollable, GIOCondition cond,
                 GCancellable *cancellable)
{
  WaitSource *w;

  if (!self->plain || self->closed)
    return NULL;
  if (!self->registered && !self->hung_up && !watch_start (self)) {
    self->plain = FALSE; /* GLib's sources from now on */
    return NULL;
  }
  w = (WaitSource *) g_source_new (&wait_funcs, sizeof (WaitSource));
  g_source_set_name (&w->source, "sigd-stream wait");
  w->pollable = g_object_ref (pollable);
  w->stream = self;
  w->cond = cond;
  if (cancellable) {
    GSource *cancel = g_cancellable_source_new (cancellable);

    g_source_set_dummy_callback (cancel);
    g_source_add_child_source (&w->source, cancel);
    g_source_unref (cancel);
  }
  g_ptr_array_add (self->waiters, w);
  w->ready = self->hung_up;
  watch_update (self);
  return &w->source;
}

static void
watch_free (SigdStream *self)
{
  for (guint i = 0; i < self->waiters->len; i++) {
    WaitSource *w = self->waiters->pdata[i];

    w->stream = NULL;
    wait_make_ready (w); /* what waits finds the stream closed */
  }
  g_ptr_array_set_size (self->waiters, 0);
  watch_stop (self);
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
  GSource *wait = wait_source_new (self, G_OBJECT (stream), G_IO_IN, cancellable);
  g_autoptr (GSource) base = NULL;

  if (wait)
    return wait;
  base = g_pollable_input_stream_create_source (
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
  GSource *wait = wait_source_new (self, G_OBJECT (stream), G_IO_OUT, cancellable);
  g_autoptr (GSource) base = NULL;

  if (wait)
    return wait;
  base = g_pollable_output_stream_create_source (
    G_POLLABLE_OUTPUT_STREAM (SIGD_STREAM_OUTPUT (stream)->base), NULL);
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
  if (self->shard)
    shard_leave (self->shard);
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
  if (self->plain && poller_get ())
    self->shard = shard_take ();
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

GMainContext *
sigd_stream_get_context (SigdStream *self)
{
  return self->shard ? ((Shard *) self->shard)->context : NULL;
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
