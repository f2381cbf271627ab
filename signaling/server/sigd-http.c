/* sigd-http.c: the plain HTTP side: the browser client, /healthz, /metrics
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "sigd-private.h"
#include "sigd-address.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const struct {
  const char *suffix;
  const char *type;
} content_types[] = {
  { ".html", "text/html; charset=utf-8" },
  { ".js", "text/javascript; charset=utf-8" },
  { ".css", "text/css; charset=utf-8" },
  { ".svg", "image/svg+xml" },
  { ".png", "image/png" },
  { ".ico", "image/x-icon" },
  { ".json", "application/json" },
};

static void
respond (SoupServerMessage *msg, guint status, const char *type, const char *body, gsize len)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, type, SOUP_MEMORY_COPY, body, len);
}

static void
respond_text (SoupServerMessage *msg, guint status, const char *text)
{
  respond (msg, status, "text/plain; charset=utf-8", text, strlen (text));
}

static gboolean
only_get (SoupServerMessage *msg)
{
  const char *method = soup_server_message_get_method (msg);

  if (method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD)
    return TRUE;
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow",
                                "GET, HEAD");
  respond_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "Only GET and HEAD are served here.\n");
  return FALSE;
}

static void
healthz_cb (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
            gpointer data)
{
  if (only_get (msg))
    respond_text (msg, SOUP_STATUS_OK, "ok\n");
}

static void
metric (GString *out, const char *name, const char *type, const char *help, guint64 value)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n%s %" G_GUINT64_FORMAT "\n", name, help,
                          name, type, name, value);
}

static guint64
resident_bytes (void)
{
  g_autofree char *statm = NULL;
  guint64 pages = 0;

  if (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL))
    sscanf (statm, "%*u %" G_GUINT64_FORMAT, &pages);
  return pages * (guint64) sysconf (_SC_PAGESIZE);
}

/* /metrics tells how busy the server is and how its limits are set: only
 * for the monitoring hosts (the client's address as a trusted proxy gives
 * it). */
static gboolean
metrics_allowed (SigdServer *server, SoupServerMessage *msg)
{
  SigdLink *link = sigd_link_from_message (msg);
  g_autoptr (GInetAddress) inet = NULL;

  if (!link)
    return FALSE;
  inet = g_inet_address_new_from_string (sigd_link_get_address (link));
  return inet && sigd_address_in_masks (server->metrics_from, inet);
}

static void
metrics_cb (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
            gpointer data)
{
  SigdServer *server = data;
  g_autoptr (GString) out = g_string_new (NULL);
  GHashTableIter iter;
  gpointer value;
  guint connected = 0, active = 0, ringing = 0;
  guint links[SIGD_LINK_N_STATES];
  guint64 outbox_bytes = 0, send_queue_bytes = 0;

  if (!only_get (msg))
    return;
  if (!metrics_allowed (server, msg)) {
    respond_text (msg, SOUP_STATUS_FORBIDDEN,
                  "/metrics is only for the addresses of --metrics-from.\n");
    return;
  }

  g_hash_table_iter_init (&iter, server->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((SigdSession *) value)->conn)
      connected++;
  g_hash_table_iter_init (&iter, server->calls);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((SigdCall *) value)->state == SIGD_CALL_ACTIVE)
      active++;
    else
      ringing++;

  metric (out, "vchat_connections", "gauge", "Open WebSocket connections.",
          g_hash_table_size (server->conns));
  metric (out, "vchat_sessions", "gauge", "Sessions, including those in their grace time.",
          g_hash_table_size (server->sessions));
  metric (out, "vchat_sessions_connected", "gauge", "Sessions with a live connection.", connected);
  metric (out, "vchat_queue_length", "gauge", "Sessions waiting for a random partner.",
          server->queue.length);
  metric (out, "vchat_calls_active", "gauge", "Calls in progress.", active);
  metric (out, "vchat_calls_ringing", "gauge", "Invited calls waiting for an answer.", ringing);
  metric (out, "vchat_invites_open", "gauge", "Invites that can still be joined.",
          sigd_invites_count (server));
  g_hash_table_iter_init (&iter, server->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    outbox_bytes += ((SigdSession *) value)->outbox_bytes;
  g_hash_table_iter_init (&iter, server->conns);
  while (g_hash_table_iter_next (&iter, &value, NULL))
    send_queue_bytes += sigd_stream_get_queued (((SigdConn *) value)->stream);
  metric (out, "vchat_send_queue_bytes", "gauge",
          "Bytes waiting to be sent to clients that have not read them yet (at most "
          "--max-send-queue each).",
          send_queue_bytes);
  metric (out, "vchat_outbox_bytes", "gauge",
          "Bytes kept for sessions in their grace time (at most --max-outbox each).", outbox_bytes);
  metric (out, "vchat_invite_tombstones", "gauge",
          "Codes of ended invites remembered to answer invite-expired (at most "
          "--max-invite-tombstones, about 100 bytes each).",
          sigd_store_tombstones_count (server->store));
  metric (out, "vchat_process_resident_bytes", "gauge", "Resident memory of the server.",
          resident_bytes ());
  metric (out, "vchat_too_slow_total", "counter",
          "Connections closed (4004) because the client did not read what was sent to it.",
          server->metrics.too_slow);
  metric (out, "vchat_sessions_evicted_total", "counter",
          "Sessions in their grace time ended to make room for a new one from their address.",
          server->metrics.sessions_evicted);
  sigd_listener_count (server, links);
  metric (out, "vchat_tcp_connections", "gauge", "TCP connections held, of every kind.",
          g_hash_table_size (server->links));
  metric (out, "vchat_tcp_pending", "gauge",
          "TCP connections not yet WebSockets (TLS handshake, HTTP request).",
          server->pending.length);
  g_string_append (out, "# HELP vchat_tcp_connections_by_state TCP connections by what they "
                        "are doing.\n# TYPE vchat_tcp_connections_by_state gauge\n");
  for (guint i = 0; i < SIGD_LINK_N_STATES; i++)
    g_string_append_printf (out, "vchat_tcp_connections_by_state{state=\"%s\"} %u\n",
                            sigd_link_state_to_string (i), links[i]);
  g_string_append_printf (out,
                          "# HELP vchat_tcp_refused_total TCP connections closed as soon as "
                          "accepted, by the limit they met.\n"
                          "# TYPE vchat_tcp_refused_total counter\n"
                          "vchat_tcp_refused_total{reason=\"full\"} %" G_GUINT64_FORMAT "\n"
                          "vchat_tcp_refused_total{reason=\"address\"} %" G_GUINT64_FORMAT "\n",
                          server->metrics.refused_full, server->metrics.refused_address);
  metric (out, "vchat_tcp_evicted_total", "counter",
          "Pending TCP connections closed to make room for a newer one.", server->metrics.evicted);
  metric (out, "vchat_tcp_timeouts_total", "counter",
          "TCP connections closed for a TLS handshake or HTTP request not done in time.",
          server->metrics.timeouts);
  metric (out, "vchat_accept_errors_total", "counter",
          "Failed accept() calls (e.g. out of file descriptors).", server->metrics.accept_errors);
  metric (out, "vchat_http_refused_total", "counter",
          "HTTP requests refused on their headers (a body, or a method other than GET/HEAD).",
          server->metrics.http_refused);
  metric (out, "vchat_matches_total", "counter", "Random pairs made.", server->metrics.matches);
  metric (out, "vchat_calls_total", "counter", "Calls that became active.",
          server->metrics.calls_started);
  metric (out, "vchat_invites_created_total", "counter", "Invites created.",
          server->metrics.invites_created);
  metric (out, "vchat_messages_relayed_total", "counter", "Signal messages relayed between peers.",
          server->metrics.relayed);
  g_string_append (out, "# HELP vchat_errors_total Error messages sent, by code.\n"
                        "# TYPE vchat_errors_total counter\n");
  for (guint i = 0; i < VCHAT_PROTO_N_ERRORS; i++)
    g_string_append_printf (out, "vchat_errors_total{code=\"%s\"} %" G_GUINT64_FORMAT "\n",
                            vchat_proto_error_to_string (i), server->metrics.errors[i]);

  respond (msg, SOUP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8", out->str, out->len);
}

/* Files of the web root, by plain name only: no folders, no dot files, so
 * nothing outside it can be reached. Invite links /join/CODE get the page. */
static void
static_cb (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
           gpointer data)
{
  SigdServer *server = data;
  const char *name = path + 1;
  const char *type = NULL;
  g_autofree char *file = NULL;
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  SoupMessageHeaders *headers;
  gsize len;

  if (!only_get (msg))
    return;
  if (g_str_equal (path, "/") || g_str_has_prefix (path, "/join/"))
    name = "index.html";
  if (!*name || name[0] == '.' || strchr (name, '/') || strchr (name, '\\')) {
    respond_text (msg, SOUP_STATUS_NOT_FOUND, "Not found.\n");
    return;
  }
  for (guint i = 0; i < G_N_ELEMENTS (content_types); i++)
    if (g_str_has_suffix (name, content_types[i].suffix))
      type = content_types[i].type;
  file = g_build_filename (server->config->web_root, name, NULL);
  if (!type || !g_file_get_contents (file, &contents, &len, &error)) {
    respond_text (msg, SOUP_STATUS_NOT_FOUND, "Not found.\n");
    return;
  }

  headers = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (headers, "Cache-Control", "no-cache");
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (headers, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace (headers, "Content-Security-Policy",
                                "default-src 'self'; connect-src 'self' ws: wss:; "
                                "img-src 'self' data:; media-src 'self' blob: mediastream:");
  respond (msg, SOUP_STATUS_OK, type, contents, len);
}

/* Refusing a request */

typedef struct {
  GIOStream *stream;
  char *response;
} Refusal;

static void
refusal_closed_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  Refusal *r = data;

  g_io_stream_close_finish (G_IO_STREAM (source), result, NULL);
  g_object_unref (r->stream);
  g_free (r->response);
  g_free (r);
}

static void
refusal_written_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  Refusal *r = data;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL);
  g_io_stream_close_async (r->stream, G_PRIORITY_DEFAULT, NULL, refusal_closed_cb, r);
}

/* Answers @msg with @status and closes the connection, without reading
 * what follows the headers: libsoup would read a request body whole, of any
 * size, before any handler could refuse it. */
static void
refuse (SigdServer *server, SoupServerMessage *msg, guint status, const char *text)
{
  Refusal *r = g_new0 (Refusal, 1);
  gboolean head = soup_server_message_get_method (msg) == SOUP_METHOD_HEAD;

  server->metrics.http_refused++;
  r->stream = soup_server_message_steal_connection (msg);
  r->response = g_strdup_printf (
    "HTTP/1.1 %u %s\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: %zu\r\n"
    "%s"
    "Connection: close\r\n"
    "\r\n%s",
    status, soup_status_get_phrase (status), strlen (text),
    status == SOUP_STATUS_METHOD_NOT_ALLOWED ? "Allow: GET, HEAD\r\n" : "", head ? "" : text);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (r->stream), r->response,
                                   strlen (r->response), G_PRIORITY_DEFAULT, NULL,
                                   refusal_written_cb, r);
}

static void
got_headers_cb (SoupServerMessage *msg, gpointer data)
{
  SigdServer *server = data;
  SigdLink *link = sigd_link_from_message (msg);
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *method = soup_server_message_get_method (msg);
  SoupEncoding encoding = soup_message_headers_get_encoding (headers);

  if (link)
    sigd_link_got_headers (link, msg);
  /* libsoup already answers some (a bad request, say) itself. */
  if (soup_server_message_get_status (msg) != 0)
    return;
  if ((encoding == SOUP_ENCODING_CONTENT_LENGTH &&
       soup_message_headers_get_content_length (headers) > 0) ||
      encoding == SOUP_ENCODING_CHUNKED || encoding == SOUP_ENCODING_EOF) {
    refuse (server, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
            "This server takes no request bodies.\n");
    return;
  }
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD)
    refuse (server, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "Only GET and HEAD are served here.\n");
}

static void
request_started_cb (SoupServer *soup, SoupServerMessage *msg, gpointer data)
{
  g_signal_connect (msg, "got-headers", G_CALLBACK (got_headers_cb), data);
}

void
sigd_http_register (SigdServer *server)
{
  g_signal_connect (server->soup, "request-started", G_CALLBACK (request_started_cb), server);
  soup_server_add_handler (server->soup, "/healthz", healthz_cb, server, NULL);
  soup_server_add_handler (server->soup, "/metrics", metrics_cb, server, NULL);
  soup_server_add_handler (server->soup, "/", static_cb, server, NULL);
}
