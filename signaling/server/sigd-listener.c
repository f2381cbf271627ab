/* sigd-listener.c: admission, before any HTTP
 *
 * The server owns its listening socket and hands libsoup only the
 * connections it admits (soup_server_accept_iostream), so a client is
 * counted from accept() on, not from its WebSocket upgrade. Every accepted
 * TCP connection is a SigdLink until its socket is gone. A link is pending
 * until it becomes a WebSocket: its TLS handshake and request headers must
 * arrive within handshake_timeout, and a plain HTTP exchange (libsoup does
 * not keep connections alive when it does not own the listener) must end
 * within REQUEST_TIMEOUT.
 *
 * Limits, checked at accept():
 * - at most max_connections links at once, of every kind; a file
 *   descriptor is kept in reserve for everything else (RESERVED_FDS);
 * - at most max_pending_per_address pending links per address (/64);
 * - at most max_pending pending links in all: a new one evicts the oldest,
 *   so a flood from many addresses cannot lock newcomers out, it can only
 *   hurry the slowest.
 * If accept() fails anyway (out of descriptors), the listener pauses for a
 * moment and tries again; it never stops.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "sigd-private.h"
#include "sigd-address.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/resource.h>

/* Descriptors kept for what is not a client: stdio, the main loop's,
 * files of the web root being read, and some margin. */
#define RESERVED_FDS 64
#define MAX_CONNECTIONS_DEFAULT_CAP 16384
#define MAX_PENDING_DEFAULT_CAP 1024
#define HEADER_LIMIT 16384
#define REQUEST_TIMEOUT_US (30 * G_USEC_PER_SEC)
#define ACCEPT_PAUSE_MS 100
#define ACCEPT_BATCH 64

struct _SigdLink {
  SigdServer *server;
  SigdLinkState state;
  char *address; /* as text */
  char *key;     /* what limits count it under */
  GSocketAddress *remote;
  GSocketAddress *local;
  gint64 deadline;    /* monotonic; 0 for none */
  GSequenceIter *deadline_iter; /* in server->link_deadlines while it has one */
  gboolean via_proxy; /* from a trusted proxy: not counted per address */
  GList *pending;     /* its node in server->pending while pending */

  /* Until libsoup has it: */
  GSocket *socket;
  GIOStream *tcp;
  GIOStream *tls;
  GCancellable *handshake;

  SigdStream *stream; /* after: weak, the link ends when it does */
};

static const char *const state_names[] = { "handshake", "request", "serving", "websocket",
                                           "closing" };

const char *
sigd_link_state_to_string (SigdLinkState state)
{
  return state_names[state];
}

/* Sizing */

gboolean
sigd_listener_size_limits (SigdConfig *config, GError **error)
{
  struct rlimit rl;
  guint64 fds;
  guint64 budget;

  /* The soft limit is often far below the hard one (1024 against
   * 524288): take all we may have. */
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0) {
    if (rl.rlim_cur < rl.rlim_max) {
      rlim_t old = rl.rlim_cur;
      rl.rlim_cur = rl.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &rl) != 0) {
        g_warning ("Cannot raise the open file limit from %lu to %lu: %s", (unsigned long) old,
                   (unsigned long) rl.rlim_max, g_strerror (errno));
        rl.rlim_cur = old;
      }
    }
    fds = rl.rlim_cur == RLIM_INFINITY ? G_MAXUINT32 : rl.rlim_cur;
  } else {
    fds = 1024;
  }
  config->fd_limit = (int) MIN (fds, G_MAXINT);
  if (fds <= RESERVED_FDS + 16) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "The open file limit (%" G_GUINT64_FORMAT ") is too low; it needs to be at "
                 "least %d (LimitNOFILE= in systemd, ulimit -n in a shell)",
                 fds, RESERVED_FDS + 16 + 1);
    return FALSE;
  }
  budget = fds - RESERVED_FDS;

  if (config->max_connections == 0)
    config->max_connections = (int) MIN (budget, MAX_CONNECTIONS_DEFAULT_CAP);
  if (config->max_pending == 0)
    config->max_pending = MIN (MAX (config->max_connections / 4, 1), MAX_PENDING_DEFAULT_CAP);
  if (config->max_sessions == 0)
    config->max_sessions = config->max_connections;
  return TRUE;
}

/* Deadlines: the links that have one, in a sequence by time, with one
 * timer armed to the first. WebSocket links have none, so an idle server
 * with many sessions has nothing here and no timer. */

static gint
deadline_compare (gconstpointer a, gconstpointer b, gpointer data)
{
  const SigdLink *la = a, *lb = b;

  if (la->deadline != lb->deadline)
    return la->deadline < lb->deadline ? -1 : 1;
  return (guintptr) la < (guintptr) lb ? -1 : (guintptr) la > (guintptr) lb;
}

static gboolean deadline_cb (gpointer data);

static void
arm_deadline (SigdServer *server)
{
  GSequenceIter *first = g_sequence_get_begin_iter (server->link_deadlines);
  SigdLink *link;
  gint64 now;

  g_clear_handle_id (&server->deadline_source, g_source_remove);
  /* Stopped: links going away while the server is freed arm nothing. */
  if (!server->listener || g_sequence_iter_is_end (first))
    return;
  link = g_sequence_get (first);
  now = g_get_monotonic_time ();
  server->deadline_source =
    g_timeout_add ((guint) MAX ((link->deadline - now + 999) / 1000, 0), deadline_cb, server);
}

/* Every change of link->deadline goes through here. */
static void
link_set_deadline (SigdLink *link, gint64 deadline)
{
  SigdServer *server = link->server;
  gboolean was_first = FALSE;

  if (link->deadline_iter) {
    was_first = g_sequence_iter_is_begin (link->deadline_iter);
    g_sequence_remove (link->deadline_iter);
    link->deadline_iter = NULL;
  }
  link->deadline = deadline;
  if (deadline) {
    link->deadline_iter =
      g_sequence_insert_sorted (server->link_deadlines, link, deadline_compare, NULL);
    if (g_sequence_iter_is_begin (link->deadline_iter))
      arm_deadline (server);
  } else if (was_first) {
    arm_deadline (server);
  }
}

/* Links */

static void
pending_add (SigdServer *server, SigdLink *link)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (server->pending_per_key, link->key));

  g_queue_push_tail (&server->pending, link);
  link->pending = server->pending.tail;
  if (link->via_proxy)
    return;
  g_hash_table_insert (server->pending_per_key, g_strdup (link->key), GUINT_TO_POINTER (n + 1));
}

static void
pending_remove (SigdServer *server, SigdLink *link)
{
  guint n;

  if (!link->pending)
    return;
  g_queue_delete_link (&server->pending, link->pending);
  link->pending = NULL;
  if (link->via_proxy)
    return;
  n = GPOINTER_TO_UINT (g_hash_table_lookup (server->pending_per_key, link->key));
  if (n <= 1)
    g_hash_table_remove (server->pending_per_key, link->key);
  else
    g_hash_table_insert (server->pending_per_key, g_strdup (link->key), GUINT_TO_POINTER (n - 1));
}

static void
link_free (SigdLink *link)
{
  SigdServer *server = link->server;

  pending_remove (server, link);
  link_set_deadline (link, 0);
  g_hash_table_remove (server->links, link);
  if (link->remote)
    g_object_set_data (G_OBJECT (link->remote), "sigd-link", NULL);
  g_clear_object (&link->remote);
  g_clear_object (&link->local);
  g_clear_object (&link->handshake);
  g_clear_object (&link->tls);
  g_clear_object (&link->tcp);
  if (link->socket)
    g_socket_close (link->socket, NULL);
  g_clear_object (&link->socket);
  g_free (link->address);
  g_free (link->key);
  g_free (link);
}

static void
stream_gone (gpointer data, GObject *where_the_object_was)
{
  SigdLink *link = data;

  link->stream = NULL;
  link_free (link);
}

/* Ends @link now, whatever its state. */
static void
link_abort (SigdLink *link)
{
  pending_remove (link->server, link);
  if (link->state == SIGD_LINK_CLOSING)
    return;
  link->state = SIGD_LINK_CLOSING;
  link_set_deadline (link, 0);
  if (link->handshake)
    g_cancellable_cancel (link->handshake); /* the handshake callback frees it */
  else if (link->stream)
    sigd_stream_abort (link->stream); /* libsoup notices and lets go */
}

SigdLink *
sigd_link_from_message (SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);

  return remote ? g_object_get_data (G_OBJECT (remote), "sigd-link") : NULL;
}

void
sigd_link_got_headers (SigdLink *link, SoupServerMessage *msg)
{
  if (link->state != SIGD_LINK_REQUEST)
    return;
  if (link->via_proxy) {
    g_autofree char *client = sigd_address_forwarded_client (
      soup_server_message_get_request_headers (msg), link->server->trusted_proxies);

    /* Not counted per address, so the key may change. */
    if (client) {
      g_free (link->address);
      g_free (link->key);
      link->address = g_steal_pointer (&client);
      link->key = sigd_address_key_from_string (link->address);
    } else {
      g_debug ("a request through a trusted proxy without a client address");
    }
  }
  link->state = SIGD_LINK_SERVING;
  link_set_deadline (link, g_get_monotonic_time () + REQUEST_TIMEOUT_US);
}

void
sigd_link_upgraded (SigdLink *link)
{
  if (link->state == SIGD_LINK_CLOSING)
    return;
  pending_remove (link->server, link);
  link->state = SIGD_LINK_WEBSOCKET;
  link_set_deadline (link, 0);
  if (link->stream)
    sigd_stream_start_websocket (link->stream);
}

void
sigd_link_close_within (SigdLink *link, double seconds)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);

  if (link->state == SIGD_LINK_CLOSING)
    return;
  if (!link->deadline || deadline < link->deadline)
    link_set_deadline (link, deadline);
}

SigdStream *
sigd_link_get_stream (SigdLink *link)
{
  return link->stream;
}

const char *
sigd_link_get_key (SigdLink *link)
{
  return link->key;
}

const char *
sigd_link_get_address (SigdLink *link)
{
  return link->address;
}

static void
hand_to_soup (SigdLink *link, GIOStream *base)
{
  SigdServer *server = link->server;
  g_autoptr (SigdStream) stream = NULL;
  GMainContext *home;

  stream = sigd_stream_new (base, link->socket, HEADER_LIMIT,
                            (gsize) server->config->max_frame * 4);
  link->stream = stream;
  g_object_weak_ref (G_OBJECT (stream), stream_gone, link);
  g_clear_object (&link->tls);
  g_clear_object (&link->tcp);
  g_clear_object (&link->socket); /* the stream holds it */
  link->state = SIGD_LINK_REQUEST;
  /* libsoup gives this very object back with every message of the
   * connection: that is how a message finds its link. */
  g_object_set_data (G_OBJECT (link->remote), "sigd-link", link);
  home = sigd_stream_get_context (stream);
  if (home)
    g_main_context_push_thread_default (home);
  soup_server_accept_iostream (server->soup, G_IO_STREAM (stream), link->local, link->remote, NULL);
  if (home)
    g_main_context_pop_thread_default (home);
}

static void
handshake_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  SigdLink *link = data;
  g_autoptr (GError) error = NULL;

  g_clear_object (&link->handshake);
  if (link->state == SIGD_LINK_CLOSING ||
      !g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error)) {
    if (error)
      g_debug ("TLS handshake failed: %s", error->message);
    link_free (link);
    return;
  }
  hand_to_soup (link, link->tls);
}

static void
admit (SigdServer *server, GSocket *socket)
{
  SigdConfig *config = server->config;
  g_autoptr (GSocketAddress) remote = NULL;
  g_autoptr (GError) error = NULL;
  SigdLink *link;
  GInetAddress *inet;
  g_autofree char *key = NULL;
  gboolean via_proxy;

  remote = g_socket_get_remote_address (socket, NULL);
  if (!remote || !G_IS_INET_SOCKET_ADDRESS (remote)) {
    g_socket_close (socket, NULL);
    return;
  }
  inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote));
  key = sigd_address_key (inet);

  if (g_hash_table_size (server->links) >= (guint) config->max_connections) {
    server->metrics.refused_full++;
    g_socket_close (socket, NULL);
    return;
  }
  via_proxy = sigd_address_in_masks (server->trusted_proxies, inet);
  if (!via_proxy && GPOINTER_TO_UINT (g_hash_table_lookup (server->pending_per_key, key)) >=
                      (guint) config->max_pending_per_address) {
    server->metrics.refused_address++;
    g_socket_close (socket, NULL);
    return;
  }
  if (server->pending.length >= (guint) config->max_pending) {
    server->metrics.evicted++;
    link_abort (server->pending.head->data);
  }

  link = g_new0 (SigdLink, 1);
  link->server = server;
  link->state = SIGD_LINK_HANDSHAKE;
  link->via_proxy = via_proxy;
  link->address = g_inet_address_to_string (inet);
  link->key = g_steal_pointer (&key);
  link->remote = g_steal_pointer (&remote);
  link->local = g_socket_get_local_address (socket, NULL);
  link->socket = g_object_ref (socket);
  g_hash_table_add (server->links, link);
  link_set_deadline (link,
                     g_get_monotonic_time () + (gint64) (config->handshake_timeout * G_USEC_PER_SEC));
  pending_add (server, link);

  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);
  link->tcp = G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
  if (!server->cert) {
    hand_to_soup (link, link->tcp);
    return;
  }

  link->tls = G_IO_STREAM (g_tls_server_connection_new (link->tcp, server->cert, &error));
  if (!link->tls) {
    g_warning ("Cannot start TLS: %s", error->message);
    link_free (link);
    return;
  }
  {
    const char *protocols[] = { "http/1.1", NULL };
    g_tls_connection_set_advertised_protocols (G_TLS_CONNECTION (link->tls), protocols);
  }
  link->handshake = g_cancellable_new ();
  g_tls_connection_handshake_async (G_TLS_CONNECTION (link->tls), G_PRIORITY_DEFAULT,
                                    link->handshake, handshake_cb, link);
}

static gboolean accept_cb (GSocket *socket, GIOCondition condition, gpointer data);

static void
watch_listener (SigdServer *server)
{
  server->accept_source = g_socket_create_source (server->listener, G_IO_IN, NULL);
  g_source_set_callback (server->accept_source, G_SOURCE_FUNC (accept_cb), server, NULL);
  g_source_attach (server->accept_source, NULL);
}

static gboolean
resume_accept_cb (gpointer data)
{
  SigdServer *server = data;

  server->accept_retry_source = 0;
  watch_listener (server);
  return G_SOURCE_REMOVE;
}

static gboolean
accept_cb (GSocket *listener, GIOCondition condition, gpointer data)
{
  SigdServer *server = data;

  for (guint i = 0; i < ACCEPT_BATCH; i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GSocket) socket = g_socket_accept (listener, NULL, &error);

    if (socket) {
      admit (server, socket);
      continue;
    }
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      break;
    /* Out of descriptors (or memory): the connection stays in the
     * backlog, and the socket stays readable, so polling it now would
     * spin. Wait a little instead; never give up on it. */
    server->metrics.accept_errors++;
    if (server->metrics.accept_errors == 1 || server->metrics.accept_errors % 100 == 0)
      g_warning ("Cannot accept a connection (%" G_GUINT64_FORMAT " times so far): %s; "
                 "retrying in %d ms",
                 server->metrics.accept_errors, error->message, ACCEPT_PAUSE_MS);
    g_source_destroy (server->accept_source);
    g_clear_pointer (&server->accept_source, g_source_unref);
    server->accept_retry_source = g_timeout_add (ACCEPT_PAUSE_MS, resume_accept_cb, server);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
deadline_cb (gpointer data)
{
  SigdServer *server = data;
  gint64 now = g_get_monotonic_time ();
  g_autoptr (GPtrArray) late = g_ptr_array_new ();
  GSequenceIter *iter;
  SigdLink *link;

  server->deadline_source = 0;
  for (iter = g_sequence_get_begin_iter (server->link_deadlines); !g_sequence_iter_is_end (iter);
       iter = g_sequence_iter_next (iter)) {
    link = g_sequence_get (iter);
    if (link->deadline > now)
      break;
    g_ptr_array_add (late, link);
  }
  for (guint i = 0; i < late->len; i++) {
    link = late->pdata[i];
    g_debug ("connection from %s: too slow (%s), closed",
             server->config->log_addresses ? link->address : "-",
             sigd_link_state_to_string (link->state));
    server->metrics.timeouts++;
    link_abort (link);
  }
  arm_deadline (server);
  return G_SOURCE_REMOVE;
}

void
sigd_listener_check_limits (SigdServer *server)
{
  SigdConfig *config = server->config;

  if (config->max_connections > config->fd_limit - RESERVED_FDS)
    g_warning ("--max-connections %d is more than the open file limit allows (%d with %d kept "
               "in reserve): when descriptors run out, new connections wait",
               config->max_connections, config->fd_limit, RESERVED_FDS);
}

gboolean
sigd_listener_start (SigdServer *server, GInetAddress *address, GError **error)
{
  SigdConfig *config = server->config;
  g_autoptr (GSocketAddress) bind_address = NULL;
  g_autoptr (GSocketAddress) bound = NULL;

  server->trusted_proxies = sigd_address_parse_masks ((const char *const *) config->trusted_proxies,
                                                      "trusted-proxy", error);
  if (!server->trusted_proxies)
    return FALSE;
  server->metrics_from = sigd_address_parse_masks ((const char *const *) config->metrics_from,
                                                   "metrics-from", error);
  if (!server->metrics_from)
    return FALSE;
  server->links = g_hash_table_new (NULL, NULL);
  server->link_deadlines = g_sequence_new (NULL);
  server->pending_per_key = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_queue_init (&server->pending);

  server->listener = g_socket_new (g_inet_address_get_family (address), G_SOCKET_TYPE_STREAM,
                                   G_SOCKET_PROTOCOL_TCP, error);
  if (!server->listener)
    return FALSE;
  g_socket_set_blocking (server->listener, FALSE);
  bind_address = g_inet_socket_address_new (address, config->port);
  if (!g_socket_bind (server->listener, bind_address, TRUE, error))
    return FALSE;
  g_socket_set_listen_backlog (server->listener, 1024);
  if (!g_socket_listen (server->listener, error))
    return FALSE;
  bound = g_socket_get_local_address (server->listener, error);
  if (!bound)
    return FALSE;
  server->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));

  watch_listener (server);
  return TRUE;
}

void
sigd_listener_stop (SigdServer *server)
{
  g_clear_handle_id (&server->deadline_source, g_source_remove);
  g_clear_handle_id (&server->accept_retry_source, g_source_remove);
  if (server->accept_source) {
    g_source_destroy (server->accept_source);
    g_clear_pointer (&server->accept_source, g_source_unref);
  }
  if (server->listener)
    g_socket_close (server->listener, NULL);
  g_clear_object (&server->listener);
}

/* After libsoup is gone: what it held went with it. */
void
sigd_listener_free (SigdServer *server)
{
  GHashTableIter iter;
  SigdLink *link;

  g_clear_pointer (&server->trusted_proxies, g_ptr_array_unref);
  g_clear_pointer (&server->metrics_from, g_ptr_array_unref);
  if (!server->links)
    return;
  g_hash_table_iter_init (&iter, server->links);
  while (g_hash_table_iter_next (&iter, (gpointer *) &link, NULL)) {
    link->deadline_iter = NULL;
    if (link->stream)
      g_object_weak_unref (G_OBJECT (link->stream), stream_gone, link);
    link->stream = NULL;
    link->pending = NULL;
    /* A handshake in flight still has its callback to come, which would
     * find the server gone; the process is exiting, so leave it be. */
    if (link->handshake)
      continue;
    g_hash_table_iter_remove (&iter);
    link->server = NULL;
    if (link->remote)
      g_object_set_data (G_OBJECT (link->remote), "sigd-link", NULL);
    g_clear_object (&link->remote);
    g_clear_object (&link->local);
    g_clear_object (&link->tls);
    g_clear_object (&link->tcp);
    g_clear_object (&link->socket);
    g_free (link->address);
    g_free (link->key);
    g_free (link);
  }
  g_clear_pointer (&server->links, g_hash_table_destroy);
  g_clear_pointer (&server->link_deadlines, g_sequence_free);
  g_queue_clear (&server->pending);
  g_clear_pointer (&server->pending_per_key, g_hash_table_destroy);
}

void
sigd_listener_count (SigdServer *server, guint counts[SIGD_LINK_N_STATES])
{
  GHashTableIter iter;
  SigdLink *link;

  memset (counts, 0, sizeof (guint) * SIGD_LINK_N_STATES);
  g_hash_table_iter_init (&iter, server->links);
  while (g_hash_table_iter_next (&iter, (gpointer *) &link, NULL))
    counts[link->state]++;
}
