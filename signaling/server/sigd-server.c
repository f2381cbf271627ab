/* sigd-server.c: WebSocket connections, sessions and calls
 *
 * A connection becomes a session with `hello`; a session lives on through
 * its grace time when its socket drops, and a call joins two sessions. Every
 * message a client sends is parsed by the protocol library first, so the
 * handlers below only deal with well-formed messages.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "sigd-server.h"
#include "sigd-private.h"
#include "sigd-address.h"

#include <stdarg.h>
#include <sys/random.h>

/* Frames held for a session in its grace time (and at most max_outbox
 * bytes of them); a peer that sends more than this to a vanished session
 * ends the wait early. */
#define OUTBOX_MAX 512
/* A client that does not read is closed with this; its session ends. */
#define CLOSE_TOO_SLOW 4004
/* ... and if it does not read the close frame either, its socket goes
 * after this long. */
#define TOO_SLOW_LINGER_S 5
#define RECENT_CALLS_MAX 4
/* Continuously over the rate for this long closes the socket. */
#define RATE_LIMIT_CLOSE_US (10 * G_USEC_PER_SEC)

#define SECONDS_TO_MS(s) ((guint) (1000.0 * (s)))

static void session_end (SigdServer *server, SigdSession *session, const char *peer_reason);
static void session_forget_token (SigdServer *server, SigdSession *session);
static guint schedule_grace_end (SigdSession *session, guint ms);
static SigdSession *call_peer (SigdCall *call, SigdSession *session);
static void rejoin_clear (SigdServer *server, SigdSession *session);
static void session_detach (SigdServer *server, SigdSession *session);
static void end_call (SigdServer *server, SigdCall *call, SigdSession *ender,
                      const char *peer_reason, const char *own_reason);

char *
sigd_random_hex (gsize bytes)
{
  g_autofree guint8 *buf = g_malloc (bytes);
  GString *out = g_string_sized_new (bytes * 2);

  /* getrandom() blocks only before the kernel's pool is initialised, once
   * per boot; it never returns short for requests this small. */
  if (getrandom (buf, bytes, 0) != (gssize) bytes)
    g_error ("getrandom failed: %s", g_strerror (errno));
  for (gsize i = 0; i < bytes; i++)
    g_string_append_printf (out, "%02x", buf[i]);
  return g_string_free (out, FALSE);
}

JsonArray *
sigd_strv_to_json (const char *const *strv)
{
  JsonArray *arr = json_array_new ();

  for (guint i = 0; strv && strv[i]; i++)
    json_array_add_string_element (arr, strv[i]);
  return arr;
}

static const char *
shown_address (SigdServer *server, const char *address)
{
  return server->config->log_addresses ? address : "-";
}

/* Sending */

/* The size of a frame the server sends: header and payload. */
static gsize
frame_size (gsize payload)
{
  return payload + (payload < 126 ? 2 : payload <= G_MAXUINT16 ? 4 : 10);
}

static gboolean slow_cb (gpointer data);

static gboolean
conn_is_open (SigdConn *conn)
{
  if (!conn->ws)
    return !conn->closed;
  return soup_websocket_connection_get_state (conn->ws) == SOUP_WEBSOCKET_STATE_OPEN;
}

/* libsoup queues what the socket does not take, without a bound: past
 * max_send_queue the client is taken for gone. It is closed from an idle
 * callback, as this runs in the middle of handlers that go on using the
 * session. */
static void
conn_send_text (SigdConn *conn, const char *text)
{
  SigdServer *server = conn->server;

  if (conn->too_slow || !conn_is_open (conn))
    return;
  if (!conn->ws) {
    g_ptr_array_add (conn->sent, g_strdup (text));
    return;
  }
  sigd_stream_expect_output (conn->stream, frame_size (strlen (text)));
  soup_websocket_connection_send_text (conn->ws, text);
  if (sigd_stream_get_queued (conn->stream) > (guint64) server->config->max_send_queue) {
    conn->too_slow = TRUE;
    g_ptr_array_add (server->slow_conns, conn);
    if (!server->slow_source)
      server->slow_source = g_idle_add (slow_cb, server);
  }
}

void
sigd_session_send (SigdSession *session, JsonObject *msg)
{
  g_autofree char *text = NULL;

  if (session->node) {
    sigd_remote_send (session, msg);
    return;
  }
  /* Whatever a session gets while its request is handled answers it. */
  if (session->conn)
    sigd_request_tag (msg, sigd_request_id (session->conn));
  text = vchat_msg_object_to_string (msg);
  if (session->conn) {
    conn_send_text (session->conn, text);
    return;
  }
  if (session->outbox.length >= OUTBOX_MAX ||
      session->outbox_bytes + strlen (text) > (gsize) session->server->config->max_outbox) {
    /* The peer keeps talking to someone who is gone: stop waiting for them. */
    if (session->grace_source) {
      g_source_remove (session->grace_source);
      session->grace_source = schedule_grace_end (session, 0);
    }
    return;
  }
  session->outbox_bytes += strlen (text);
  g_queue_push_tail (&session->outbox, g_steal_pointer (&text));
}

static void
session_send_take (SigdSession *session, JsonObject *msg)
{
  sigd_session_send (session, msg);
  json_object_unref (msg);
}

void
sigd_conn_send_error (SigdConn *conn, VchatProtoError code, const char *ref, const char *format,
                      ...)
{
  g_autofree char *message = NULL;
  g_autofree char *text = NULL;
  g_autoptr (JsonObject) msg = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  conn->server->metrics.errors[code]++;
  g_debug ("session %s: error %s: %s", conn->session ? conn->session->id : "-",
           vchat_proto_error_to_string (code), message);
  msg = vchat_msg_object_new (VCHAT_MSG_ERROR);
  json_object_set_string_member (msg, "code", vchat_proto_error_to_string (code));
  json_object_set_string_member (msg, "message", message);
  if (ref) {
    json_object_set_string_member (msg, "ref", ref);
    /* An error about the request being handled answers it; one about
     * something else (a flood, a refusal) does not. */
    sigd_request_tag (msg, sigd_request_id (conn));
  }
  text = vchat_msg_object_to_string (msg);
  conn_send_text (conn, text);
}

static void on_message (SoupWebsocketConnection *ws, gint type, GBytes *bytes, gpointer data);
/* Frames kept while a connection is counted in a shared store. */
#define HELD_MAX 8

/* A connection's count in a shared store, on its way (conn_register()). */
typedef struct _SigdConnCount {
  SigdServer *server;
  SigdConn *conn; /* NULL once it went */
  char *key;      /* then, its address key */
} SigdConnCount;

/* A connection counts against its address until it is closed, or until the
 * server starts closing it: a client that never finishes the closing
 * handshake does not keep holding a place. */
static void
conn_uncount (SigdConn *conn)
{
  GHashTable *per_address = conn->server->per_address;
  guint n;

  if (conn->shared_counted) {
    conn->shared_counted = FALSE;
    sigd_store_conns_add (conn->server->store, conn->key, -1, NULL, NULL);
  }
  if (!conn->counted)
    return;
  conn->counted = FALSE;
  n = GPOINTER_TO_UINT (g_hash_table_lookup (per_address, conn->key));
  if (n <= 1)
    g_hash_table_remove (per_address, conn->key);
  else
    g_hash_table_insert (per_address, g_strdup (conn->key), GUINT_TO_POINTER (n - 1));
}

/* Once the server closes a connection, its session does not wait for the
 * closing handshake (a dead client never finishes it): it is detached now
 * and may come back within its grace time. */
static void
conn_close (SigdConn *conn, gushort code, const char *reason)
{
  SigdSession *session = conn->session;

  conn_uncount (conn);
  if (session) {
    conn->session = NULL;
    session_detach (conn->server, session);
  }
  if (!conn->ws)
    conn->closed = TRUE;
  else if (conn_is_open (conn))
    soup_websocket_connection_close (conn->ws, code, reason);
}

/* Peers as the other side sees them: a name and the kind of client, nothing
 * that identifies the session or where it connects from. */
JsonObject *
sigd_peer_object (SigdSession *session)
{
  JsonObject *peer = json_object_new ();

  json_object_set_string_member (peer, "client", session->client);
  if (session->name && *session->name)
    json_object_set_string_member (peer, "name", session->name);
  return peer;
}

/* Sessions */

static void
past_call_free (SigdPastCall *past)
{
  g_free (past->call);
  g_free (past->peer);
  g_free (past->peer_key);
  g_free (past);
}

static void
session_free (SigdSession *session)
{
  GHashTable *per_key = session->server->sessions_per_key;
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (per_key, session->key));

  /* A session on another server (sigd-remote.c) counts for nothing here. */
  if (!session->node)
    sigd_store_sessions_add (session->server->store, session->key, -1);
  if (session->node)
    ;
  else if (n <= 1)
    g_hash_table_remove (per_key, session->key);
  else
    g_hash_table_insert (per_key, g_strdup (session->key), GUINT_TO_POINTER (n - 1));
  g_free (session->node);
  g_clear_handle_id (&session->grace_source, g_source_remove);
  g_clear_handle_id (&session->rejoin_source, g_source_remove);
  g_free (session->rejoin_call);
  g_free (session->rejoin_secret);
  g_clear_pointer (&session->rejoin_request_id, json_node_unref);
  g_clear_pointer (&session->queue_request_id, json_node_unref);
  g_queue_clear_full (&session->outbox, g_free);
  g_queue_clear_full (&session->recent_calls, (GDestroyNotify) past_call_free);
  g_free (session->id);
  g_free (session->resume);
  g_free (session->client);
  g_free (session->name);
  g_free (session->address);
  g_free (session->key);
  g_strfreev (session->interests);
  g_free (session->language);
  g_free (session->match_token);
  g_free (session);
}

static void
session_remember_call (SigdSession *session, SigdCall *call, SigdSession *peer)
{
  SigdPastCall *past = g_new0 (SigdPastCall, 1);

  past->call = g_strdup (call->id);
  past->peer = g_strdup (peer->id);
  past->peer_key = g_strdup (peer->key);
  g_queue_push_head (&session->recent_calls, past);
  while (session->recent_calls.length > RECENT_CALLS_MAX)
    past_call_free (g_queue_pop_tail (&session->recent_calls));
}

/* Refusals hold for the address (its /64), not the session: saying hello
 * again does not start afresh. */
gboolean
sigd_session_is_refused (SigdServer *server, SigdSession *session)
{
  gpointer deadline;

  if (!g_hash_table_lookup_extended (server->refused, session->key, NULL, &deadline))
    return FALSE;
  if (g_get_monotonic_time () < *(gint64 *) deadline)
    return TRUE;
  g_hash_table_remove (server->refused, session->key);
  return FALSE;
}

static void
session_end (SigdServer *server, SigdSession *session, const char *peer_reason)
{
  g_debug ("session %s: ended", session->id);
  if (session->queued)
    sigd_matcher_dequeue (server, session);
  if (session->call)
    end_call (server, session->call, session, peer_reason, NULL);
  rejoin_clear (server, session);
  sigd_invites_drop_session (server, session);
  if (session->conn)
    session->conn->session = NULL;
  session_forget_token (server, session);
  sigd_store_session_forget (server->store, session->id);
  g_hash_table_remove (server->sessions, session->id);
}

/* A session named by its id, for timers that may outlive it (its grace
 * time, a rejoin waiting for the other side). */
typedef struct {
  SigdServer *server;
  char *session_id;
} SessionRef;

static gboolean
grace_cb (gpointer data)
{
  SessionRef *gd = data;
  SigdSession *session = g_hash_table_lookup (gd->server->sessions, gd->session_id);

  if (session) {
    session->grace_source = 0;
    g_debug ("session %s: grace time over", session->id);
    session_end (gd->server, session, "lost");
  }
  return G_SOURCE_REMOVE;
}

static void
session_ref_free (gpointer data)
{
  SessionRef *gd = data;

  g_free (gd->session_id);
  g_free (gd);
}

static guint
schedule_grace_end (SigdSession *session, guint ms)
{
  SessionRef *gd = g_new0 (SessionRef, 1);

  gd->server = session->server;
  gd->session_id = g_strdup (session->id);
  return g_timeout_add_full (G_PRIORITY_DEFAULT, ms, grace_cb, gd, session_ref_free);
}

/* Tells the other side of @session's call whether @session's connection is
 * there (a call whose media broke can then tell a peer that vanished from a
 * path that broke). */
static void
send_peer_away (SigdSession *session, gboolean away)
{
  g_autoptr (JsonObject) msg = NULL;

  if (!session->call)
    return;
  msg = vchat_msg_object_new (VCHAT_MSG_PEER_AWAY);
  json_object_set_string_member (msg, "call", session->call->id);
  json_object_set_boolean_member (msg, "away", away);
  sigd_session_send (call_peer (session->call, session), msg);
}

static void
session_detach (SigdServer *server, SigdSession *session)
{

  session->conn = NULL;
  if (server->config->grace <= 0) {
    session_end (server, session, "lost");
    return;
  }
  session->grace_source = schedule_grace_end (session, SECONDS_TO_MS (server->config->grace));
  g_debug ("session %s: connection lost, keeping it for %g s", session->id, server->config->grace);
  send_peer_away (session, TRUE);
}

/* Calls */

static void
call_free (SigdCall *call)
{
  /* The other server's side of the call lives as long as the call here. */
  if (call->a->node || call->b->node)
    sigd_remote_call_gone (call->a->server, call);
  if (call->a->node)
    session_free (call->a);
  if (call->b->node)
    session_free (call->b);
  g_clear_handle_id (&call->ring_source, g_source_remove);
  g_free (call->id);
  g_free (call->secret);
  g_strfreev (call->common);
  g_free (call->code);
  g_free (call);
}

static SigdSession *
call_peer (SigdCall *call, SigdSession *session)
{
  return call->a == session ? call->b : call->a;
}

/* The WebRTC offer comes from a desktop daemon when there is one (webrtcbin
 * 1.22 answers less well than it offers), else from @a. */
static gboolean
a_offers (SigdCall *call)
{
  gboolean a_daemon = g_str_has_prefix (call->a->client, "vchatd/");
  gboolean b_daemon = g_str_has_prefix (call->b->client, "vchatd/");

  return a_daemon || !b_daemon;
}

/* What a session needs to set up its call: TURN included. */
JsonArray *
sigd_call_ice_servers (SigdServer *server, SigdSession *session)
{
  return sigd_turn_ice_servers (server->config, session->id, g_get_real_time () / G_USEC_PER_SEC,
                                TRUE);
}

static void
send_matched (SigdCall *call, SigdSession *to, gboolean offerer)
{
  JsonObject *msg = vchat_msg_object_new (VCHAT_MSG_MATCHED);

  json_object_set_string_member (msg, "call", call->id);
  json_object_set_string_member (msg, "role", offerer ? "offerer" : "answerer");
  json_object_set_object_member (msg, "peer", sigd_peer_object (call_peer (call, to)));
  json_object_set_array_member (msg, "common_interests",
                                sigd_strv_to_json ((const char *const *) call->common));
  json_object_set_string_member (msg, "kind", call->kind == SIGD_CALL_RANDOM ? "random" : "invite");
  json_object_set_array_member (msg, "ice_servers", sigd_call_ice_servers (to->server, to));
  json_object_set_string_member (msg, "secret", call->secret);
  /* A random call answers the `queue` (or `next`) that put @to in the queue. */
  if (call->kind == SIGD_CALL_RANDOM && to->queue_request_id) {
    sigd_request_tag (msg, to->queue_request_id);
    g_clear_pointer (&to->queue_request_id, json_node_unref);
  }
  session_send_take (to, msg);
}

void
sigd_server_activate_call (SigdServer *server, SigdCall *call)
{
  gboolean a_offerer = a_offers (call);

  g_clear_handle_id (&call->ring_source, g_source_remove);
  call->state = SIGD_CALL_ACTIVE;
  server->metrics.calls_started++;
  /* Recorded before anyone hears of it (the store sends it out at once):
   * if this server dies as soon as its clients see the call, another one
   * can still give it back to them. */
  sigd_server_save_session (server, call->a);
  sigd_server_save_session (server, call->b);
  send_matched (call, call->a, a_offerer);
  send_matched (call, call->b, !a_offerer);
  g_debug ("call %s: active", call->id);
}

/* @id is taken. */
static SigdCall *
call_new (SigdServer *server, char *id, SigdCallKind kind, SigdSession *a, SigdSession *b,
          GStrv common)
{
  SigdCall *call = g_new0 (SigdCall, 1);

  g_assert (a->call == NULL && b->call == NULL);
  call->id = id;
  call->secret = sigd_random_hex (16);
  call->kind = kind;
  call->state = SIGD_CALL_RINGING;
  call->a = a;
  call->b = b;
  call->common = common ? common : g_new0 (char *, 1);
  a->call = call;
  b->call = call;
  g_hash_table_insert (server->calls, call->id, call);
  return call;
}

SigdCall *
sigd_server_start_call (SigdServer *server, SigdCallKind kind, SigdSession *a, SigdSession *b,
                        GStrv common)
{
  return call_new (server, sigd_random_hex (8), kind, a, b, common);
}

SigdCall *
sigd_server_start_call_id (SigdServer *server, const char *id, const char *secret,
                           SigdCallKind kind, SigdSession *a, SigdSession *b)
{
  SigdCall *call = call_new (server, g_strdup (id), kind, a, b, NULL);

  g_free (call->secret);
  call->secret = g_strdup (secret);
  return call;
}

void
sigd_server_forget_call (SigdServer *server, SigdCall *call, SigdSession *local)
{
  SigdSession *peer = call_peer (call, local);

  call->a->call = NULL;
  call->b->call = NULL;
  session_remember_call (local, call, peer);
  if (call->state == SIGD_CALL_ACTIVE)
    sigd_server_save_session (server, local);
  g_hash_table_remove (server->calls, call->id);
}

static void
end_call (SigdServer *server, SigdCall *call, SigdSession *ender, const char *peer_reason,
          const char *own_reason)
{
  SigdSession *peer = call_peer (call, ender);
  JsonObject *msg;

  g_debug ("call %s: ended (%s)", call->id, peer_reason);
  call->a->call = NULL;
  call->b->call = NULL;
  session_remember_call (ender, call, peer);
  session_remember_call (peer, call, ender);

  msg = vchat_msg_object_new (VCHAT_MSG_PEER_LEFT);
  json_object_set_string_member (msg, "call", call->id);
  json_object_set_string_member (msg, "reason", peer_reason);
  session_send_take (peer, msg);

  if (own_reason) {
    msg = vchat_msg_object_new (VCHAT_MSG_CALL_ENDED);
    json_object_set_string_member (msg, "call", call->id);
    json_object_set_string_member (msg, "reason", own_reason);
    session_send_take (ender, msg);
  }
  if (call->state == SIGD_CALL_ACTIVE) {
    sigd_server_save_session (server, ender);
    sigd_server_save_session (server, peer);
  }
  g_hash_table_remove (server->calls, call->id);
}

/* Message handlers */

/* Finds the call @call_id of @session (ringing or active), or answers
 * unknown-call. */
static SigdCall *
lookup_own_call (SigdConn *conn, VchatMsg *msg)
{
  SigdSession *session = conn->session;
  const char *call_id = vchat_msg_get_string (msg, "call");

  if (session->call && g_strcmp0 (session->call->id, call_id) == 0)
    return session->call;
  sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_UNKNOWN_CALL, vchat_msg_type_to_string (msg->type),
                        "You are not in a call with this id; it may have ended already.");
  return NULL;
}

static void
send_welcome (SigdServer *server, SigdConn *conn, gboolean resumed)
{
  SigdSession *session = conn->session;
  JsonObject *msg = vchat_msg_object_new (VCHAT_MSG_WELCOME);
  JsonObject *limits = json_object_new ();

  json_object_set_string_member (msg, "session", session->id);
  json_object_set_string_member (msg, "resume", session->resume);
  json_object_set_boolean_member (msg, "resumed", resumed);
  /* A session that comes back in a call may need to set it up again. */
  json_object_set_array_member (msg, "ice_servers",
                                sigd_turn_ice_servers (server->config, session->id,
                                                       g_get_real_time () / G_USEC_PER_SEC,
                                                       session->call != NULL));
  json_object_set_int_member (limits, "max_frame", server->config->max_frame);
  json_object_set_int_member (limits, "max_rate", server->config->max_rate);
  json_object_set_int_member (limits, "grace", (gint64) server->config->grace);
  json_object_set_object_member (msg, "limits", limits);
  session_send_take (session, msg);
}

/* Compares the digests, so the time taken says nothing about where the
 * given token first differs, nor about the real token's length. */
static gboolean
token_matches (const char *expected, const char *given)
{
  guint8 a[32], b[32];
  gsize a_len = sizeof a, b_len = sizeof b;
  g_autoptr (GChecksum) ca = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr (GChecksum) cb = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 diff = 0;

  g_checksum_update (ca, (const guchar *) expected, strlen (expected));
  g_checksum_update (cb, (const guchar *) given, strlen (given));
  g_checksum_get_digest (ca, a, &a_len);
  g_checksum_get_digest (cb, b, &b_len);
  for (gsize i = 0; i < sizeof a; i++)
    diff |= a[i] ^ b[i];
  return diff == 0;
}

/* A new session needs room: at most max_sessions in all, and at most
 * max_sessions_per_address from one address, counting those in their grace
 * time (or saying hello, dropping and saying hello again would pile them
 * up), and with a shared store those of the address on the other servers
 * (as they were when the connection came). The oldest one away from that
 * address here makes room; if none is away, or that is not enough, the
 * hello is refused. */
static gboolean
make_room_for_session (SigdServer *server, SigdConn *conn)
{
  SigdConfig *config = server->config;
  SigdSession *oldest = NULL;
  GHashTableIter iter;
  SigdSession *s;
  guint here = GPOINTER_TO_UINT (g_hash_table_lookup (server->sessions_per_key, conn->key));

  if (here + conn->other_sessions >= (guint) config->max_sessions_per_address) {
    g_hash_table_iter_init (&iter, server->sessions);
    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &s))
      if (!s->conn && g_str_equal (s->key, conn->key) && (!oldest || s->created < oldest->created))
        oldest = s;
    if (!oldest || here - 1 + conn->other_sessions >= (guint) config->max_sessions_per_address) {
      sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_TOO_MANY_SESSIONS, "hello",
                            "Too many sessions from your address (at most %d); "
                            "close some and try again.",
                            config->max_sessions_per_address);
      conn_close (conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "too many sessions");
      return FALSE;
    }
    g_debug ("session %s: ended early to make room for a new one from its address", oldest->id);
    server->metrics.sessions_evicted++;
    session_end (server, oldest, "lost");
  }
  if (g_hash_table_size (server->sessions) >= (guint) config->max_sessions) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_TOO_MANY_SESSIONS, "hello",
                          "This server is full; try again in a few minutes.");
    conn_close (conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "server full");
    return FALSE;
  }
  return TRUE;
}

/* A new resume token for @session; a store shared with other servers
 * learns it, so that the session can be resumed on any of them. */
static void
session_new_token (SigdServer *server, SigdSession *session)
{
  if (session->resume) {
    g_hash_table_remove (server->by_resume, session->resume);
    sigd_store_resume_forget (server->store, session->resume);
    g_free (session->resume);
  }
  session->resume = sigd_random_hex (16);
  g_hash_table_insert (server->by_resume, session->resume, session);
  sigd_store_resume_set (server->store, session->resume, session->id);
}

static void
session_forget_token (SigdServer *server, SigdSession *session)
{
  g_hash_table_remove (server->by_resume, session->resume);
  sigd_store_resume_forget (server->store, session->resume);
}

static void hello_new (SigdServer *server, SigdConn *conn, const char *client, const char *name,
                       gboolean had_token);

static void
handle_hello (SigdServer *server, SigdConn *conn, VchatMsg *msg)
{
  const char *resume = vchat_msg_get_string (msg, "resume");
  SigdSession *session;

  if (conn->session || conn->hello_pending) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_BAD_STATE, "hello",
                          "This connection already said hello; send it once per connection.");
    return;
  }
  if (vchat_msg_get_int (msg, "version", 0) != VCHAT_PROTOCOL_VERSION) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_BAD_VERSION, "hello",
                          "This server speaks protocol version %d only; update the client.",
                          VCHAT_PROTOCOL_VERSION);
    conn_close (conn, SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR, "unsupported protocol version");
    return;
  }
  if (server->config->token) {
    const char *token = vchat_msg_get_string (msg, "token");

    if (!token || !token_matches (server->config->token, token)) {
      g_debug ("hello refused: %s access token", token ? "wrong" : "no");
      sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_UNAUTHORIZED, "hello",
                            token ? "This server did not accept the access token; check it and "
                                    "set it again: vchatctl secret set server-token"
                                  : "This server needs an access token: vchatctl secret set "
                                    "server-token");
      conn_close (conn, 4003, "unauthorized");
      return;
    }
  }

  session = resume ? g_hash_table_lookup (server->by_resume, resume) : NULL;
  if (session) {
    if (session->conn) {
      SigdConn *old = session->conn;

      old->session = NULL;
      sigd_conn_send_error (old, VCHAT_PROTO_ERROR_REPLACED, NULL,
                            "This session was resumed on another connection.");
      conn_close (old, 4000, "replaced");
    }
    g_clear_handle_id (&session->grace_source, g_source_remove);
    session->conn = conn;
    conn->session = session;
    /* A token works once: whoever saw it cannot take the session later. */
    session_new_token (server, session);
    g_debug ("session %s: resumed", session->id);
    send_welcome (server, conn, TRUE);
    while (!g_queue_is_empty (&session->outbox)) {
      g_autofree char *text = g_queue_pop_head (&session->outbox);
      conn_send_text (conn, text);
    }
    session->outbox_bytes = 0;
    send_peer_away (session, FALSE);
    /* It may have been waiting in the queue unmatched while away. */
    if (session->queued)
      sigd_matcher_resumed (server, session);
    return;
  }

  if (!sigd_store_is_shared (server->store) || !resume) {
    hello_new (server, conn, vchat_msg_get_string (msg, "client"), vchat_msg_get_string (msg, "name"),
               resume != NULL);
    return;
  }
  /* Maybe a session of another server sharing the store: it hands it over
   * (sigd-remote.c), and sigd_server_hello_done() goes on. */
  conn->hello_pending = TRUE;
  sigd_remote_resume (server, conn, resume, vchat_msg_get_string (msg, "client"),
                      vchat_msg_get_string (msg, "name"), sigd_request_id (conn));
}

static SigdSession *
session_alloc (SigdServer *server, char *id, const char *client, const char *name,
               const char *address, const char *key)
{
  SigdSession *session = g_new0 (SigdSession, 1);

  session->server = server;
  session->id = id;
  session->client = g_strdup (client);
  session->name = g_strdup (name);
  session->address = g_strdup (address);
  session->key = g_strdup (key);
  session->created = g_get_monotonic_time ();
  g_hash_table_insert (
    server->sessions_per_key, g_strdup (session->key),
    GUINT_TO_POINTER (
      GPOINTER_TO_UINT (g_hash_table_lookup (server->sessions_per_key, session->key)) + 1));
  sigd_store_sessions_add (server->store, session->key, 1);
  session->interests = g_new0 (char *, 1);
  g_queue_init (&session->outbox);
  g_queue_init (&session->recent_calls);
  g_hash_table_insert (server->sessions, session->id, session);
  session_new_token (server, session);
  return session;
}

static void
hello_new (SigdServer *server, SigdConn *conn, const char *client, const char *name,
           gboolean had_token)
{
  SigdSession *session;

  if (!make_room_for_session (server, conn))
    return;
  session = session_alloc (server, sigd_random_hex (16), client, name, conn->address, conn->key);
  session->conn = conn;
  conn->session = session;
  g_debug ("session %s: new (%s)%s", session->id, session->client,
           had_token ? ", resume token unknown or expired" : "");
  sigd_server_save_session (server, session);
  send_welcome (server, conn, FALSE);
}

/* Resuming a session of another server (sigd-remote.c) */

/* What another server needs to carry @session on (sigd_server_hello_done()
 * takes it): who it is, its call, and with @all its place in the queue and
 * a call still ringing. */
static JsonObject *
session_state (SigdServer *server, SigdSession *session, gboolean all)
{
  SigdCall *call = session->call;
  JsonObject *state = json_object_new ();

  json_object_set_string_member (state, "id", session->id);
  json_object_set_string_member (state, "client", session->client);
  if (session->name)
    json_object_set_string_member (state, "name", session->name);
  json_object_set_string_member (state, "key", session->key);
  json_object_set_string_member (state, "address", session->address);
  json_object_set_int_member (state, "open_invites", session->open_invites);
  if (all && session->queued) {
    json_object_set_boolean_member (state, "queued", TRUE);
    json_object_set_array_member (state, "interests",
                                  sigd_strv_to_json ((const char *const *) session->interests));
    if (session->language)
      json_object_set_string_member (state, "language", session->language);
  }
  if (call && (all || call->state == SIGD_CALL_ACTIVE)) {
    JsonObject *c = json_object_new ();
    SigdSession *peer = call_peer (call, session);

    json_object_set_string_member (c, "id", call->id);
    json_object_set_string_member (c, "kind", call->kind == SIGD_CALL_RANDOM ? "random" : "invite");
    json_object_set_boolean_member (c, "active", call->state == SIGD_CALL_ACTIVE);
    json_object_set_string_member (c, "secret", call->secret);
    if (call->code)
      json_object_set_string_member (c, "code", call->code);
    json_object_set_array_member (c, "common", sigd_strv_to_json ((const char *const *) call->common));
    json_object_set_boolean_member (c, "first", call->a == session);
    json_object_set_object_member (c, "peer", sigd_remote_describe (server, peer));
    json_object_set_object_member (state, "call", c);
  }
  return state;
}

/* With a shared store, keeps @session's record there (who it is and its
 * active call), so that if this server dies another one can take the
 * session over when its client comes back (sigd-remote.c). Written when
 * a session starts or comes here, and when its call becomes active or
 * ends; a call still ringing is not kept. */
void
sigd_server_save_session (SigdServer *server, SigdSession *session)
{
  g_autoptr (JsonObject) state = NULL;
  g_autofree char *text = NULL;

  if (!sigd_store_is_shared (server->store) || session->node ||
      g_hash_table_lookup (server->sessions, session->id) != session)
    return;
  state = session_state (server, session, FALSE);
  text = vchat_msg_object_to_string (state);
  sigd_store_session_save (server->store, session->id, text);
}

JsonObject *
sigd_server_hand_over (SigdServer *server, SigdSession *session, const char *to_node,
                       const char *token)
{
  SigdCall *call = session->call;
  JsonObject *state;
  JsonArray *outbox;

  if (!token_matches (session->resume, token))
    return NULL;
  state = session_state (server, session, TRUE);
  outbox = json_array_new ();
  if (session->queued)
    sigd_matcher_dequeue (server, session);
  for (GList *l = session->outbox.head; l; l = l->next)
    json_array_add_string_element (outbox, l->data);
  json_object_set_array_member (state, "outbox", outbox);
  if (call) {
    SigdSession *peer = call_peer (call, session);

    if (!peer->node) {
      /* The peer stays here, in a call with the session's new server. */
      JsonObject *desc = sigd_remote_describe (server, session);
      SigdSession *stand_in;

      json_object_set_string_member (desc, "node", to_node);
      stand_in = sigd_remote_stand_in (server, desc);
      json_object_unref (desc);
      if (call->a == session)
        call->a = stand_in;
      else
        call->b = stand_in;
      stand_in->call = call;
      session->call = NULL;
      sigd_remote_call_added (server, call);
    } else {
      /* The peer is on a third server (or the new one): it learns where
       * the session went; this copy of the call goes. */
      sigd_remote_moved (server, peer, call->id, session->id, to_node);
      call->a->call = NULL;
      call->b->call = NULL;
      g_hash_table_remove (server->calls, call->id);
    }
  }
  if (session->conn) {
    SigdConn *old = session->conn;

    old->session = NULL;
    session->conn = NULL;
    sigd_conn_send_error (old, VCHAT_PROTO_ERROR_REPLACED, NULL,
                          "This session was resumed on another connection.");
    conn_close (old, 4000, "replaced");
  }
  rejoin_clear (server, session);
  if (session->open_invites > 0)
    sigd_store_invites_move (server->store, session->id, to_node);
  g_debug ("session %s: handed over to server %s", session->id, to_node);
  session_forget_token (server, session);
  g_hash_table_remove (server->sessions, session->id);
  return state;
}

/* Puts @session in the call @c of its state; FALSE if that call is gone.
 * After a @takeover (its server died), the peer's server learns where the
 * session is now. */
static gboolean
adopt_call (SigdServer *server, SigdSession *session, JsonObject *c, gboolean takeover)
{
  JsonObject *peer_desc = json_object_get_object_member (c, "peer");
  const char *call_id = json_object_get_string_member (c, "id");
  const char *peer_node = json_object_get_string_member_with_default (peer_desc, "node", "");
  SigdCall *call;

  if (g_strcmp0 (peer_node, server->store->node) == 0) {
    /* The peer is here: its call has a stand-in for the session. */
    SigdSession *peer = g_hash_table_lookup (
      server->sessions, json_object_get_string_member_with_default (peer_desc, "id", ""));
    SigdSession *stand_in;

    if (!peer || !peer->call || g_strcmp0 (peer->call->id, call_id) != 0)
      return FALSE;
    call = peer->call;
    stand_in = call_peer (call, peer);
    if (!stand_in->node || g_strcmp0 (stand_in->id, session->id) != 0)
      return FALSE;
    sigd_remote_call_gone (server, call);
    if (call->a == stand_in)
      call->a = session;
    else
      call->b = session;
    session->call = call;
    session_free (stand_in);
    return TRUE;
  }
  {
    SigdSession *stand_in = sigd_remote_stand_in (server, peer_desc);
    gboolean first = json_object_get_boolean_member_with_default (c, "first", TRUE);
    JsonArray *common = json_object_get_array_member (c, "common");

    if (!stand_in || g_hash_table_contains (server->calls, call_id)) {
      if (stand_in)
        session_free (stand_in);
      return FALSE;
    }
    call = sigd_server_start_call_id (
      server, call_id, json_object_get_string_member_with_default (c, "secret", ""),
      g_strcmp0 (json_object_get_string_member_with_default (c, "kind", ""), "random") == 0
        ? SIGD_CALL_RANDOM
        : SIGD_CALL_INVITE,
      first ? session : stand_in, first ? stand_in : session);
    call->code = g_strdup (json_object_get_string_member_with_default (c, "code", NULL));
    if (common) {
      g_strfreev (call->common);
      call->common = g_new0 (char *, json_array_get_length (common) + 1);
      for (guint i = 0; i < json_array_get_length (common); i++)
        call->common[i] = g_strdup (json_array_get_string_element (common, i));
    }
    sigd_remote_call_added (server, call);
    if (json_object_get_boolean_member_with_default (c, "active", FALSE))
      call->state = SIGD_CALL_ACTIVE;
    else
      sigd_invites_arm_ring (server, call);
    /* Before anything is sent to the peer's server: its call's stand-in
     * for the session still names the dead server. */
    if (takeover)
      sigd_remote_moved (server, stand_in, call_id, session->id, server->store->node);
  }
  return TRUE;
}

void
sigd_server_hello_done (SigdServer *server, SigdConn *conn, JsonObject *state, const char *client,
                        const char *name, JsonNode *id)
{
  SigdSession *session;
  JsonArray *outbox;
  gboolean tagging = conn && server->request_conn != conn;
  gboolean takeover;
  const char *lost_call = NULL;

  if (conn)
    conn->hello_pending = FALSE;
  if (tagging) {
    /* The hello's answers carry its id, as if it were handled now. */
    server->request_conn = conn;
    g_clear_pointer (&server->request_id, json_node_unref);
    server->request_id = id ? json_node_copy (id) : NULL;
  }
  if (state && g_hash_table_contains (server->sessions,
                                      json_object_get_string_member (state, "id")))
    state = NULL; /* cannot happen unless a server misbehaves */
  if (!state) {
    if (conn && conn_is_open (conn))
      hello_new (server, conn, client, name, TRUE);
    goto out;
  }
  session = session_alloc (
    server, g_strdup (json_object_get_string_member (state, "id")),
    json_object_get_string_member (state, "client"),
    json_object_get_string_member_with_default (state, "name", NULL),
    json_object_get_string_member_with_default (state, "address", "-"),
    json_object_get_string_member (state, "key"));
  session->open_invites = json_object_get_int_member_with_default (state, "open_invites", 0);
  takeover = json_object_get_boolean_member_with_default (state, "takeover", FALSE);
  /* Its open invites rang it on the dead server: they ring it here now. */
  if (takeover)
    sigd_store_invites_move (server->store, session->id, server->store->node);
  if (json_object_has_member (state, "call") &&
      !adopt_call (server, session, json_object_get_object_member (state, "call"), takeover) &&
      takeover)
    lost_call = json_object_get_string_member_with_default (
      json_object_get_object_member (state, "call"), "id", NULL);
  if (json_object_get_boolean_member_with_default (state, "queued", FALSE)) {
    JsonArray *interests = json_object_get_array_member (state, "interests");
    const char *language = json_object_get_string_member_with_default (state, "language", NULL);

    g_strfreev (session->interests);
    session->interests = g_new0 (char *, (interests ? json_array_get_length (interests) : 0) + 1);
    for (guint i = 0; interests && i < json_array_get_length (interests); i++)
      session->interests[i] = g_strdup (json_array_get_string_element (interests, i));
    session->language = g_strdup (language);
  }
  g_debug ("session %s: taken over from another server", session->id);
  sigd_server_save_session (server, session);
  if (!conn || !conn_is_open (conn)) {
    /* The client went meanwhile: the session waits for it, as any other. */
    session_detach (server, session);
    goto out;
  }
  session->conn = conn;
  conn->session = session;
  send_welcome (server, conn, TRUE);
  /* (a record taken over from a dead server has none) */
  outbox = json_object_has_member (state, "outbox") ? json_object_get_array_member (state, "outbox")
                                                    : NULL;
  for (guint i = 0; outbox && i < json_array_get_length (outbox); i++)
    conn_send_text (conn, json_array_get_string_element (outbox, i));
  send_peer_away (session, FALSE);
  if (lost_call) {
    /* Its server died and the call ended meanwhile (the peer's grace time
     * for it ran out): the client hears of it now. */
    JsonObject *msg = vchat_msg_object_new (VCHAT_MSG_PEER_LEFT);

    json_object_set_string_member (msg, "call", lost_call);
    json_object_set_string_member (msg, "reason", "lost");
    session_send_take (session, msg);
  }
  if (json_object_get_boolean_member_with_default (state, "queued", FALSE))
    sigd_matcher_enqueue (server, session);
out:
  if (tagging && server->request_conn == conn) {
    server->request_conn = NULL;
    g_clear_pointer (&server->request_id, json_node_unref);
  }
}

static void
send_refused (SigdSession *session, const char *ref, JsonNode *id)
{
  JsonObject *msg = vchat_msg_object_new (VCHAT_MSG_ERROR);

  session->server->metrics.errors[VCHAT_PROTO_ERROR_REFUSED]++;
  json_object_set_string_member (msg, "code",
                                 vchat_proto_error_to_string (VCHAT_PROTO_ERROR_REFUSED));
  json_object_set_string_member (msg, "message",
                                 "Several people reported this session, so it cannot meet "
                                 "strangers for a while. Invites still work.");
  json_object_set_string_member (msg, "ref", ref);
  sigd_request_tag (msg, id);
  session_send_take (session, msg);
}

/* With a shared store, a `queue` (or `next`) first asks the store whether
 * the address was refused on another server (one that started after this
 * server heard of it, or while it did not listen): then it is queued. */
typedef struct {
  SigdServer *server;
  char *session;
  const char *ref;
  JsonNode *id;
  char **interests; /* NULL for next: those of its last queue */
  char *language;
} QueueCheck;

static void
queue_check_free (QueueCheck *qc)
{
  g_free (qc->session);
  g_clear_pointer (&qc->id, json_node_unref);
  g_strfreev (qc->interests);
  g_free (qc->language);
  g_free (qc);
}

static void
queue_checked_cb (SigdStoreStatus status, guint ms, gpointer data)
{
  QueueCheck *qc = data;
  SigdServer *server = qc->server;
  SigdSession *session;

  if (status == SIGD_STORE_CANCELLED ||
      !(session = g_hash_table_lookup (server->sessions, qc->session)) || session->call) {
    queue_check_free (qc);
    return;
  }
  /* A store that does not answer does not keep people out. */
  if (status == SIGD_STORE_OK && ms > 0) {
    gint64 *deadline = g_new (gint64, 1);

    *deadline = g_get_monotonic_time () + (gint64) ms * 1000;
    g_hash_table_insert (server->refused, g_strdup (session->key), deadline);
    sigd_server_sweep_at (server, *deadline);
  }
  if (sigd_session_is_refused (server, session)) {
    send_refused (session, qc->ref, qc->id);
    queue_check_free (qc);
    return;
  }
  if (qc->ref[0] == 'q') {
    sigd_matcher_unindex (server, session);
    g_strfreev (session->interests);
    session->interests = g_steal_pointer (&qc->interests);
    g_free (session->language);
    session->language = g_steal_pointer (&qc->language);
  }
  g_clear_pointer (&session->queue_request_id, json_node_unref);
  session->queue_request_id = qc->id ? json_node_copy (qc->id) : NULL;
  if (session->conn) {
    /* `queued` answers the request, with its id, as if it were being
     * handled now (a store that failed at once calls back inside it). */
    SigdConn *saved_conn = server->request_conn;
    JsonNode *saved_id = g_steal_pointer (&server->request_id);

    server->request_conn = session->conn;
    server->request_id = g_steal_pointer (&qc->id);
    sigd_matcher_enqueue (server, session);
    g_clear_pointer (&server->request_id, json_node_unref);
    /* conn_free() forgets the request's connection if it went */
    server->request_conn = server->request_conn ? saved_conn : NULL;
    server->request_id = server->request_conn ? saved_id : NULL;
    if (!server->request_conn && saved_id)
      json_node_unref (saved_id);
  } else {
    sigd_matcher_enqueue (server, session);
  }
  queue_check_free (qc);
}

static void
queue_check (SigdServer *server, SigdConn *conn, const char *ref, char **interests,
             const char *language)
{
  QueueCheck *qc = g_new0 (QueueCheck, 1);

  qc->server = server;
  qc->session = g_strdup (conn->session->id);
  qc->ref = ref;
  qc->id = sigd_request_dup_id (conn);
  qc->interests = interests;
  qc->language = g_strdup (language);
  sigd_store_refused_get (server->store, conn->session->key, queue_checked_cb, qc);
}

static void
handle_queue (SigdServer *server, SigdConn *conn, VchatMsg *msg)
{
  SigdSession *session = conn->session;
  g_auto (GStrv) raw = vchat_msg_dup_strv (msg, "interests");
  const char *language = vchat_msg_get_string (msg, "language");

  if (session->call) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_BAD_STATE, "queue",
                          "You are in a call; leave it (or use “next”) before queueing.");
    return;
  }
  if (sigd_session_is_refused (server, session)) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_REFUSED, "queue",
                          "Several people reported this session, so it cannot meet strangers "
                          "for a while. Invites still work.");
    return;
  }
  if (sigd_store_is_shared (server->store)) {
    g_autofree char *lang = language && *language ? g_ascii_strdown (language, -1) : NULL;

    queue_check (server, conn, "queue", vchat_interests_normalize ((const char *const *) raw),
                 lang);
    return;
  }
  /* Queued already: the matcher's indexes hold it under the interests it
   * had, which go now (fuzz-server found the stale entry). */
  sigd_matcher_unindex (server, session);
  g_strfreev (session->interests);
  session->interests = vchat_interests_normalize ((const char *const *) raw);
  g_free (session->language);
  session->language = language && *language ? g_ascii_strdown (language, -1) : NULL;
  g_clear_pointer (&session->queue_request_id, json_node_unref);
  session->queue_request_id = sigd_request_dup_id (conn);
  sigd_matcher_enqueue (server, session);
}

static void
handle_leave (SigdServer *server, SigdConn *conn, VchatMsg *msg)
{
  SigdSession *session = conn->session;
  SigdCall *call;

  if (!vchat_msg_has (msg, "call")) {
    if (!session->queued) {
      sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_BAD_STATE, "leave",
                            "You are not in the queue; to end a call, name it in “call”.");
      return;
    }
    sigd_matcher_dequeue (server, session);
    session_send_take (session, vchat_msg_object_new (VCHAT_MSG_LEFT_QUEUE));
    return;
  }
  if (!(call = lookup_own_call (conn, msg)))
    return;
  end_call (server, call, session, "hangup", "hangup");
}

static void
handle_next (SigdServer *server, SigdConn *conn, VchatMsg *msg)
{
  SigdSession *session = conn->session;
  SigdCall *call;
  SigdSession *peer;

  if (!(call = lookup_own_call (conn, msg)))
    return;
  if (call->state != SIGD_CALL_ACTIVE) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_BAD_STATE, "next",
                          "This call has not started yet; use “leave” or “reject” instead.");
    return;
  }
  peer = call_peer (call, session);
  sigd_matcher_block_pair (server, session, peer);
  end_call (server, call, session, "next", "next");
  if (sigd_session_is_refused (server, session)) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_REFUSED, "next",
                          "Several people reported this session, so it cannot meet strangers "
                          "for a while. Invites still work.");
    return;
  }
  if (sigd_store_is_shared (server->store)) {
    queue_check (server, conn, "next", NULL, NULL);
    return;
  }
  g_clear_pointer (&session->queue_request_id, json_node_unref);
  session->queue_request_id = sigd_request_dup_id (conn);
  sigd_matcher_enqueue (server, session);
}

static void
handle_answer (SigdServer *server, SigdConn *conn, VchatMsg *msg)
{
  SigdSession *session = conn->session;
  const char *type = vchat_msg_type_to_string (msg->type);
  SigdCall *call;

  if (!(call = lookup_own_call (conn, msg)))
    return;
  if (call->state != SIGD_CALL_RINGING || call->a != session) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_BAD_STATE, type,
                          call->state != SIGD_CALL_RINGING
                            ? "This call was answered already."
                            : "Only the person who was called can answer; the caller can “leave”.");
    return;
  }
  if (msg->type == VCHAT_MSG_ACCEPT)
    sigd_server_activate_call (server, call);
  else
    end_call (server, call, session, "rejected", "rejected");
}

/* Rejoining a call (docs/protocol.md, "A server that restarted"): a server
 * that restarted knows none of the calls whose media still flows between
 * its clients. Each side comes back with a new session and asks to rejoin
 * its call by id with the call's secret; the first waits (REJOIN_WAIT_S),
 * and when the other side asks with the same id and secret, the call is
 * made again under its old id and both get `rejoined`. */
#define REJOIN_WAIT_S 60

static void
rejoin_clear (SigdServer *server, SigdSession *session)
{
  if (!session->rejoin_call)
    return;
  if (g_hash_table_lookup (server->rejoins, session->rejoin_call) == session)
    g_hash_table_remove (server->rejoins, session->rejoin_call);
  g_clear_handle_id (&session->rejoin_source, g_source_remove);
  g_clear_pointer (&session->rejoin_call, g_free);
  g_clear_pointer (&session->rejoin_secret, g_free);
  g_clear_pointer (&session->rejoin_request_id, json_node_unref);
}

static gboolean
rejoin_wait_over (gpointer data)
{
  SessionRef *w = data;
  SigdSession *session = g_hash_table_lookup (w->server->sessions, w->session_id);
  g_autoptr (JsonObject) msg = NULL;

  if (!session)
    return G_SOURCE_REMOVE;
  session->rejoin_source = 0;
  msg = vchat_msg_object_new (VCHAT_MSG_ERROR);
  json_object_set_string_member (msg, "code",
                                 vchat_proto_error_to_string (VCHAT_PROTO_ERROR_UNKNOWN_CALL));
  json_object_set_string_member (msg, "message",
                                 "The other side of this call did not come back to rejoin it.");
  json_object_set_string_member (msg, "ref", "rejoin");
  sigd_request_tag (msg, session->rejoin_request_id);
  sigd_session_send (session, msg);
  rejoin_clear (w->server, session);
  return G_SOURCE_REMOVE;
}

static void
handle_rejoin (SigdServer *server, SigdConn *conn, VchatMsg *msg)
{
  SigdSession *session = conn->session;
  const char *id = vchat_msg_get_string (msg, "call");
  const char *secret = vchat_msg_get_string (msg, "secret");
  SigdCallKind kind = g_strcmp0 (vchat_msg_get_string (msg, "kind"), "invite") == 0
                        ? SIGD_CALL_INVITE
                        : SIGD_CALL_RANDOM;
  SigdSession *waiting;
  SigdCall *call;
  g_autoptr (JsonNode) waiting_id = NULL;

  if (session->call || session->queued) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_BAD_STATE, "rejoin",
                          "You are in a call or in the queue; only a session without either can "
                          "rejoin a call.");
    return;
  }
  if (g_hash_table_contains (server->calls, id)) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_BAD_STATE, "rejoin",
                          "This call is still going on here; resume the session that was in it.");
    return;
  }
  waiting = g_hash_table_lookup (server->rejoins, id);
  if (waiting == session)
    return; /* asked twice */
  if (!waiting) {
    SessionRef *w = g_new0 (SessionRef, 1);

    rejoin_clear (server, session);
    session->rejoin_call = g_strdup (id);
    session->rejoin_secret = g_strdup (secret);
    session->rejoin_request_id = sigd_request_dup_id (conn);
    g_hash_table_insert (server->rejoins, session->rejoin_call, session);
    w->server = server;
    w->session_id = g_strdup (session->id);
    session->rejoin_source = g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, REJOIN_WAIT_S,
                                                         rejoin_wait_over, w, session_ref_free);
    g_debug ("call %s: session %s waits to rejoin it", id, session->id);
    return;
  }
  if (!token_matches (waiting->rejoin_secret, secret)) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_UNKNOWN_CALL, "rejoin",
                          "No call with this id and secret waits to be rejoined.");
    return;
  }
  waiting_id = g_steal_pointer (&waiting->rejoin_request_id);
  rejoin_clear (server, waiting);
  rejoin_clear (server, session);
  call = call_new (server, g_strdup (id), kind, waiting, session, NULL);
  g_free (call->secret);
  call->secret = g_strdup (secret);
  call->state = SIGD_CALL_ACTIVE;
  g_debug ("call %s: rejoined by sessions %s and %s", id, waiting->id, session->id);
  for (guint i = 0; i < 2; i++) {
    JsonObject *out = vchat_msg_object_new (VCHAT_MSG_REJOINED);

    json_object_set_string_member (out, "call", id);
    if (!i)
      sigd_request_tag (out, waiting_id);
    session_send_take (i ? session : waiting, out);
  }
}

static void
handle_signal (SigdServer *server, SigdConn *conn, VchatMsg *msg)
{
  SigdCall *call;

  if (!(call = lookup_own_call (conn, msg)))
    return;
  if (call->state != SIGD_CALL_ACTIVE) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_BAD_STATE, "signal",
                          "The call has not been accepted yet; wait for “matched”.");
    return;
  }
  session_send_take (call_peer (call, conn->session), vchat_msg_signal_copy (msg));
  server->metrics.relayed++;
}

static gint64
refuse_ms (SigdServer *server)
{
  return (gint64) (server->config->report_refuse_time * 1000);
}

typedef struct {
  SigdServer *server;
  char *key;
} ReportOp;

static ReportOp *
report_op_new (SigdServer *server, const char *key)
{
  ReportOp *op = g_new0 (ReportOp, 1);

  op->server = server;
  op->key = g_strdup (key);
  return op;
}

static void
report_counted_cb (SigdStoreStatus status, guint ms, gpointer data)
{
  ReportOp *op = data;

  if (status == SIGD_STORE_OK && ms > 0) {
    g_autoptr (JsonObject) envelope = json_object_new ();
    g_autofree char *text = NULL;

    /* Here at once; the others, and this one again, through Redis. */
    sigd_server_refuse_key (op->server, op->key, ms);
    json_object_set_string_member (envelope, "kind", "refuse");
    json_object_set_string_member (envelope, "key", op->key);
    json_object_set_int_member (envelope, "ms", ms);
    text = vchat_msg_object_to_string (envelope);
    sigd_store_publish (op->server->store, NULL, text);
  }
  g_free (op->key);
  g_free (op);
}

static void
reports_free (SigdReports *reports)
{
  g_hash_table_unref (reports->reporters);
  g_free (reports);
}

/* Takes every session of @key out of the random queue. */
void
sigd_server_refuse_key (SigdServer *server, const char *key, gint64 ms)
{
  gint64 *deadline = g_new (gint64, 1);
  g_autoptr (GPtrArray) queued = g_ptr_array_new ();

  *deadline = g_get_monotonic_time () + ms * 1000;
  g_debug ("refusing an address for %" G_GINT64_FORMAT " ms", ms);
  g_hash_table_insert (server->refused, g_strdup (key), deadline);
  sigd_server_sweep_at (server, *deadline);
  for (GList *l = server->queue.head; l; l = l->next)
    if (g_str_equal (((SigdSession *) l->data)->key, key))
      g_ptr_array_add (queued, l->data);
  for (guint i = 0; i < queued->len; i++) {
    SigdSession *reported = queued->pdata[i];

    sigd_matcher_dequeue (server, reported);
    if (reported->conn)
      sigd_conn_send_error (reported->conn, VCHAT_PROTO_ERROR_REFUSED, NULL,
                            "Several people reported this session, so it was taken out of "
                            "the queue for a while. Invites still work.");
  }
}

/* Reports count the reported address (its /64) and distinct reporting
 * addresses: a new session does not wipe the slate, and one person with
 * many sessions is still one reporter. */
static void
handle_report (SigdServer *server, SigdConn *conn, VchatMsg *msg)
{
  SigdSession *session = conn->session;
  const char *call_id = vchat_msg_get_string (msg, "call");
  const char *peer_key = NULL;
  SigdReports *reports;
  JsonObject *reply;

  if (session->call && g_strcmp0 (session->call->id, call_id) == 0)
    peer_key = call_peer (session->call, session)->key;
  for (GList *l = session->recent_calls.head; l && !peer_key; l = l->next) {
    SigdPastCall *past = l->data;
    if (g_strcmp0 (past->call, call_id) == 0)
      peer_key = past->peer_key;
  }
  if (!peer_key) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_UNKNOWN_CALL, "report",
                          "You can report only your current call or one of your last %d.",
                          RECENT_CALLS_MAX);
    return;
  }
  if (sigd_store_is_shared (server->store)) {
    /* Counted in the store, with the reports made on the other servers;
     * the refusal goes to all of them. */
    sigd_store_report_add (server->store, peer_key, session->key,
                           (guint) server->config->report_threshold, refuse_ms (server),
                           report_counted_cb, report_op_new (server, peer_key));
    reply = vchat_msg_object_new (VCHAT_MSG_REPORTED);
    json_object_set_string_member (reply, "call", call_id);
    session_send_take (session, reply);
    return;
  }

  reports = g_hash_table_lookup (server->reports, peer_key);
  if (!reports) {
    reports = g_new0 (SigdReports, 1);
    reports->reporters = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    g_hash_table_insert (server->reports, g_strdup (peer_key), reports);
  }
  reports->last = g_get_monotonic_time ();
  sigd_server_sweep_at (server, reports->last +
                                  (gint64) (server->config->report_refuse_time * G_USEC_PER_SEC) +
                                  1);
  if (!g_str_equal (session->key, peer_key))
    g_hash_table_add (reports->reporters, g_strdup (session->key));
  g_debug ("call %s: a peer reported (%u distinct reporters)", call_id,
           g_hash_table_size (reports->reporters));

  if (g_hash_table_size (reports->reporters) >= (guint) server->config->report_threshold) {
    g_autofree char *key = g_strdup (peer_key);

    g_hash_table_remove (server->reports, key);
    sigd_server_refuse_key (server, key, refuse_ms (server));
  }

  reply = vchat_msg_object_new (VCHAT_MSG_REPORTED);
  json_object_set_string_member (reply, "call", call_id);
  session_send_take (session, reply);
}

static void
dispatch (SigdServer *server, SigdConn *conn, VchatMsg *msg)
{
  const char *type = vchat_msg_type_to_string (msg->type);

  if (msg->type == VCHAT_MSG_PING) {
    g_autoptr (JsonObject) pong = vchat_msg_object_new (VCHAT_MSG_PONG);
    g_autofree char *text = NULL;

    sigd_request_tag (pong, json_object_get_member (msg->object, "id"));
    text = vchat_msg_object_to_string (pong);
    conn_send_text (conn, text);
    return;
  }
  if (msg->type == VCHAT_MSG_PONG)
    return;
  if (msg->type == VCHAT_MSG_HELLO) {
    handle_hello (server, conn, msg);
    return;
  }
  if (!conn->session) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_NOT_WELCOMED, type, "Send “hello” first.");
    return;
  }

  switch (msg->type) {
  case VCHAT_MSG_QUEUE:
    handle_queue (server, conn, msg);
    break;
  case VCHAT_MSG_LEAVE:
    handle_leave (server, conn, msg);
    break;
  case VCHAT_MSG_NEXT:
    handle_next (server, conn, msg);
    break;
  case VCHAT_MSG_ACCEPT:
  case VCHAT_MSG_REJECT:
    handle_answer (server, conn, msg);
    break;
  case VCHAT_MSG_SIGNAL:
    handle_signal (server, conn, msg);
    break;
  case VCHAT_MSG_REPORT:
    handle_report (server, conn, msg);
    break;
  case VCHAT_MSG_INVITE_CREATE:
    sigd_invites_handle_create (server, conn, msg);
    break;
  case VCHAT_MSG_INVITE_CANCEL:
    sigd_invites_handle_cancel (server, conn, msg);
    break;
  case VCHAT_MSG_INVITE_JOIN:
    sigd_invites_handle_join (server, conn, msg);
    break;
  case VCHAT_MSG_INVITE_RECLAIM:
    sigd_invites_handle_reclaim (server, conn, msg);
    break;
  case VCHAT_MSG_REJOIN:
    handle_rejoin (server, conn, msg);
    break;
  default:
    /* The parser accepts only client messages. */
    g_assert_not_reached ();
  }
}

/* A token bucket per connection: max_rate a second, bursts of 3×. */
static gboolean
conn_within_rate (SigdServer *server, SigdConn *conn, gint64 now)
{
  double rate = server->config->max_rate;
  double burst = rate * 3;

  conn->tokens = MIN (burst, conn->tokens + (now - conn->last_refill) * rate / G_USEC_PER_SEC);
  conn->last_refill = now;
  if (conn->tokens >= 1) {
    conn->tokens -= 1;
    return TRUE;
  }
  /* Drops less than a second apart belong to one flood: a client that keeps
   * flooding is closed even though some of its messages get through. */
  if (!conn->limited_since || now - conn->last_limited > G_USEC_PER_SEC)
    conn->limited_since = now;
  conn->last_limited = now;
  return FALSE;
}

static void
on_message (SoupWebsocketConnection *ws, gint type, GBytes *bytes, gpointer data)
{
  SigdConn *conn = data;
  SigdServer *server = conn->server;
  g_autoptr (GError) error = NULL;
  g_autoptr (VchatMsg) msg = NULL;
  g_autofree char *ref = NULL;
  gint64 now = g_get_monotonic_time ();
  gsize len;
  const char *text = g_bytes_get_data (bytes, &len);

  conn->last_seen = now;

  if (conn->count_op && type == SOUP_WEBSOCKET_DATA_TEXT) {
    /* Not answered before it is known to be within the limit across
     * servers (shared_count_cb()): a connection past it never gets a
     * welcome. A client says hello and waits, so a few frames is all
     * that can come meanwhile; more are dropped. */
    if (!conn->held)
      conn->held = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
    if (conn->held->len < HELD_MAX)
      g_ptr_array_add (conn->held, g_bytes_ref (bytes));
    return;
  }

  if (!conn_within_rate (server, conn, now)) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_RATE_LIMITED, NULL,
                          "Too many messages: at most %d a second. This one was dropped.",
                          server->config->max_rate);
    if (now - conn->limited_since > RATE_LIMIT_CLOSE_US)
      conn_close (conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "rate limit");
    return;
  }

  if (type != SOUP_WEBSOCKET_DATA_TEXT) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_BAD_FRAME, NULL,
                          "Binary frames are not part of the protocol; send JSON as text.");
    return;
  }

  msg = vchat_msg_parse (text, len, server->config->max_frame, VCHAT_MSG_FROM_CLIENT, &ref, &error);
  if (!msg) {
    sigd_conn_send_error (conn, error->code, ref, "%s", error->message);
    if (error->code == VCHAT_PROTO_ERROR_TOO_BIG)
      conn_close (conn, SOUP_WEBSOCKET_CLOSE_TOO_BIG, "message too big");
    return;
  }
  if (msg->type != VCHAT_MSG_PONG && !sigd_request_begin (conn, msg))
    return;
  dispatch (server, conn, msg);
  /* @conn may be gone (conn_free() forgot the request then). */
  server->request_conn = NULL;
  g_clear_pointer (&server->request_id, json_node_unref);
}

static void
conn_free (SigdConn *conn)
{
  if (conn->ws) {
    g_signal_handlers_disconnect_by_data (conn->ws, conn);
    g_object_unref (conn->ws);
  }
  g_clear_object (&conn->stream);
  if (conn->too_slow) {
    guint i;

    /* A hole, not a removal: slow_cb may be going through the array. */
    if (g_ptr_array_find (conn->server->slow_conns, conn, &i))
      conn->server->slow_conns->pdata[i] = NULL;
  }
  if (conn->sent)
    g_ptr_array_unref (conn->sent);
  if (conn->server->request_conn == conn)
    conn->server->request_conn = NULL;
  if (conn->hello_pending)
    sigd_remote_conn_gone (conn->server, conn);
  g_clear_pointer (&conn->held, g_ptr_array_unref);
  if (conn->count_op) {
    /* Its count still comes back: then it is taken back. */
    conn->count_op->conn = NULL;
    conn->count_op->key = g_strdup (conn->key);
  }
  g_free (conn->address);
  g_free (conn->key);
  g_free (conn);
}

/* The client's side is gone, after a close with @code (or without one). */
static void
conn_closed (SigdConn *conn, gushort code)
{
  SigdServer *server = conn->server;
  SigdSession *session = conn->session;

  if (session) {
    conn->session = NULL;
    /* A close with 1000 from the client means "I am done"; anything else
     * (a crash, a lost network, going away) may come back within the grace
     * time. */
    if (code == SOUP_WEBSOCKET_CLOSE_NORMAL) {
      g_debug ("session %s: closed by the client", session->id);
      session_end (server, session, "hangup");
    } else {
      session_detach (server, session);
    }
  }

  conn_uncount (conn);
  g_hash_table_remove (server->conns, conn);
}

static void
on_closed (SoupWebsocketConnection *ws, gpointer data)
{
  conn_closed (data, soup_websocket_connection_get_close_code (ws));
}

/* With a shared store, a connection counts against its address on every
 * server: one address cannot open the limit on each of them. The store
 * answers after the connection is open (it may have said hello by then):
 * past the limit it is closed then, as it would be here at once. */
static void
shared_count_cb (SigdStoreStatus status, guint total, guint other_sessions, gpointer data)
{
  SigdConnCount *op = data;
  SigdConn *conn = op->conn;
  SigdServer *server = op->server;
  g_autoptr (GPtrArray) held = NULL;

  if (status == SIGD_STORE_CANCELLED)
    goto out;
  if (!conn) {
    /* Gone before the count came back: take it back (counts are in
     * order on the store's connection). */
    if (status == SIGD_STORE_OK && op->key)
      sigd_store_conns_add (server->store, op->key, -1, NULL, NULL);
    goto out;
  }
  conn->count_op = NULL;
  /* A store that does not answer does not keep people out. */
  if (status != SIGD_STORE_OK)
    ;
  else if (!conn->counted) { /* closed meanwhile */
    conn->shared_counted = TRUE;
    conn_uncount (conn);
  } else if (total > (guint) conn->server->config->max_sessions_per_address) {
    conn->shared_counted = TRUE;
    g_debug ("connection from %s: over the limit across servers (%u)",
             shown_address (conn->server, conn->address), total);
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_TOO_MANY_SESSIONS, NULL,
                          "Too many connections from your address (at most %d); "
                          "close some and try again.",
                          server->config->max_sessions_per_address);
    conn_close (conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "too many sessions");
  } else {
    conn->shared_counted = TRUE;
    conn->other_sessions = other_sessions;
  }
  held = g_steal_pointer (&conn->held);
  for (guint i = 0; held && i < held->len; i++) {
    /* A frame may end the connection (a bad hello closes it). */
    if (!g_hash_table_contains (server->conns, conn) || !conn_is_open (conn))
      break;
    on_message (NULL, SOUP_WEBSOCKET_DATA_TEXT, held->pdata[i], conn);
  }
out:
  g_free (op->key);
  g_free (op);
}

/* Counts a new connection against its address, and refuses it past the
 * limit. */
static void
conn_register (SigdServer *server, SigdConn *conn)
{
  guint n;

  conn->last_seen = conn->last_refill = g_get_monotonic_time ();
  conn->tokens = server->config->max_rate * 3;
  g_hash_table_add (server->conns, conn);

  n = GPOINTER_TO_UINT (g_hash_table_lookup (server->per_address, conn->key)) + 1;
  g_hash_table_insert (server->per_address, g_strdup (conn->key), GUINT_TO_POINTER (n));
  conn->counted = TRUE;
  g_debug ("connection from %s", shown_address (server, conn->address));
  if (n > (guint) server->config->max_sessions_per_address) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_TOO_MANY_SESSIONS, NULL,
                          "Too many connections from your address (at most %d); "
                          "close some and try again.",
                          server->config->max_sessions_per_address);
    conn_close (conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "too many sessions");
    return;
  }
  if (sigd_store_is_shared (server->store)) {
    conn->count_op = g_new0 (SigdConnCount, 1);
    conn->count_op->server = server;
    conn->count_op->conn = conn;
    sigd_store_conns_add (server->store, conn->key, 1, shared_count_cb, conn->count_op);
  }
}

static void
on_websocket (SoupServer *soup, SoupServerMessage *message, const char *path,
              SoupWebsocketConnection *ws, gpointer data)
{
  SigdServer *server = data;
  SigdLink *link = sigd_link_from_message (message);
  SigdConn *conn;

  /* Every connection comes through the listener, which names it. */
  g_assert (link != NULL);
  sigd_link_upgraded (link);

  conn = g_new0 (SigdConn, 1);
  conn->server = server;
  conn->ws = g_object_ref (ws);
  conn->link = link;
  conn->stream = g_object_ref (sigd_link_get_stream (link));
  conn->address = g_strdup (sigd_link_get_address (link));
  conn->key = g_strdup (sigd_link_get_key (link));

  /* The protocol's own limit answers with an error first; the WebSocket
   * layer's is the backstop against absurd sizes. */
  soup_websocket_connection_set_max_incoming_payload_size (ws,
                                                           (guint64) server->config->max_frame * 4);
  g_signal_connect (ws, "message", G_CALLBACK (on_message), conn);
  g_signal_connect (ws, "closed", G_CALLBACK (on_closed), conn);
  conn_register (server, conn);
}

static gboolean
slow_cb (gpointer data)
{
  SigdServer *server = data;
  GPtrArray *slow = server->slow_conns;
  SigdConn *conn;

  server->slow_source = 0;
  /* Only those that went over since the last time, not every connection;
   * closing one may add others, or free some (conn_free leaves a NULL). */
  for (guint i = 0; i < slow->len; i++) {
    SigdSession *session;

    conn = slow->pdata[i];
    if (!conn || !conn_is_open (conn))
      continue;
    session = conn->session;
    server->metrics.too_slow++;
    g_debug ("session %s: does not read (%" G_GUINT64_FORMAT " bytes waiting), closed",
             session ? session->id : "-", sigd_stream_get_queued (conn->stream));
    /* What it missed cannot be replayed, so its session ends rather than
     * waiting for it: its peer hears "lost" now. */
    if (session) {
      conn->session = NULL;
      session->conn = NULL;
      session_end (server, session, "lost");
    }
    conn_close (conn, CLOSE_TOO_SLOW, "too slow");
    if (conn->link)
      sigd_link_close_within (conn->link, TOO_SLOW_LINGER_S);
  }
  g_ptr_array_set_size (slow, 0);
  return G_SOURCE_REMOVE;
}

static gboolean
ping_cb (gpointer data)
{
  SigdServer *server = data;
  gint64 now = g_get_monotonic_time ();
  gint64 silent_max = (gint64) (2 * server->config->ping_interval * G_USEC_PER_SEC);
  g_autoptr (JsonObject) ping = vchat_msg_object_new (VCHAT_MSG_PING);
  g_autofree char *text = vchat_msg_object_to_string (ping);
  g_autoptr (GPtrArray) dead = g_ptr_array_new ();
  GHashTableIter iter;
  SigdConn *conn;

  g_hash_table_iter_init (&iter, server->conns);
  while (g_hash_table_iter_next (&iter, (gpointer *) &conn, NULL)) {
    if (now - conn->last_seen > silent_max)
      g_ptr_array_add (dead, conn);
    else
      conn_send_text (conn, text);
  }
  /* Closing may run handlers that change the set, so not while iterating. */
  for (guint i = 0; i < dead->len; i++) {
    conn = dead->pdata[i];
    g_debug ("session %s: no answer to ping", conn->session ? conn->session->id : "-");
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_TIMEOUT, NULL,
                          "No answer to ping for %g seconds; reconnect with your resume token.",
                          2 * server->config->ping_interval);
    conn_close (conn, 4001, "ping timeout");
  }
  return G_SOURCE_CONTINUE;
}

/* What expires (refusals, reports, invites and their tombstones, counts of
 * wrong invite codes) is swept when the first of it does, not on a tick:
 * an idle server does not wake up for it. */
static gboolean
sweep_cb (gpointer data)
{
  SigdServer *server = data;
  gint64 now = g_get_monotonic_time ();
  gint64 refuse_time = (gint64) (server->config->report_refuse_time * G_USEC_PER_SEC);
  gint64 next;
  GHashTableIter iter;
  gpointer value;

  server->sweep_source = 0;
  next = sigd_invites_sweep (server);
  g_hash_table_iter_init (&iter, server->refused);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    if (*(gint64 *) value <= now)
      g_hash_table_iter_remove (&iter);
    else
      next = MIN (next, *(gint64 *) value);
  }
  /* Reports are forgotten as long after the last one as a refusal lasts. */
  g_hash_table_iter_init (&iter, server->reports);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    gint64 last = ((SigdReports *) value)->last;

    if (now - last > refuse_time)
      g_hash_table_iter_remove (&iter);
    else
      next = MIN (next, last + refuse_time + 1);
  }
  if (next != G_MAXINT64)
    sigd_server_sweep_at (server, next);
  return G_SOURCE_REMOVE;
}

void
sigd_server_sweep_at (SigdServer *server, gint64 at)
{
  gint64 now;

  /* A detached server (the fuzz target) has no timers. */
  if (!server->soup)
    return;
  if (server->sweep_source && server->sweep_source_at <= at)
    return;
  g_clear_handle_id (&server->sweep_source, g_source_remove);
  now = g_get_monotonic_time ();
  /* Rounded up: nothing is swept before its time. */
  server->sweep_source =
    g_timeout_add ((guint) CLAMP ((at - now + 999) / 1000, 0, G_MAXUINT), sweep_cb, server);
  server->sweep_source_at = at;
}

/* The state, without sockets or timers. */
static SigdServer *
server_alloc (SigdConfig *config)
{
  SigdServer *server = g_new0 (SigdServer, 1);

  server->config = config;
  server->conns = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) conn_free, NULL);
  server->slow_conns = g_ptr_array_new ();
  server->per_address = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  server->sessions_per_key = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  server->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                            (GDestroyNotify) session_free);
  server->by_resume = g_hash_table_new (g_str_hash, g_str_equal);
  server->calls = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) call_free);
  server->rejoins = g_hash_table_new (g_str_hash, g_str_equal);
  sigd_matcher_init (server);
  server->rematch_block = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  server->reports = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) reports_free);
  server->refused = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  sigd_invites_init (server);
  sigd_remote_init (server);
  return server;
}

SigdServer *
sigd_server_new (SigdConfig *config, GError **error)
{
  SigdServer *server = server_alloc (config);
  g_autoptr (GInetAddress) inet = NULL;

  if (!sigd_listener_size_limits (config, error)) {
    sigd_server_free (server);
    return NULL;
  }
  if (config->redis && !sigd_invites_use_redis (server, error)) {
    sigd_server_free (server);
    return NULL;
  }
  if (config->tls_cert) {
    server->cert = g_tls_certificate_new_from_files (config->tls_cert, config->tls_key, error);
    if (!server->cert) {
      g_prefix_error (error, "Cannot load the TLS certificate: ");
      sigd_server_free (server);
      return NULL;
    }
  }
  server->soup = soup_server_new ("server-header", "vchat-signald/" VCHAT_VERSION " ", NULL);
  /* Messages are small JSON; compression would only let a small frame
   * inflate into a huge one. */
  soup_server_remove_websocket_extension (server->soup, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
  soup_server_add_websocket_handler (server->soup, "/ws", NULL, NULL, on_websocket, server, NULL);
  sigd_http_register (server);

  inet = g_inet_address_new_from_string (config->listen);
  if (!inet) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "--listen needs an IP address, not “%s”", config->listen);
    sigd_server_free (server);
    return NULL;
  }
  if (!sigd_listener_start (server, inet, error)) {
    g_prefix_error (error, "Cannot listen on %s port %d: ", config->listen, config->port);
    sigd_server_free (server);
    return NULL;
  }

  {
    g_autofree char *host = g_inet_address_to_string (inet);
    gboolean v6 = g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6;

    server->url = g_strdup_printf ("%s://%s%s%s:%u/", server->cert ? "https" : "http",
                                   v6 ? "[" : "", host, v6 ? "]" : "", server->port);
  }
  if (config->public_url) {
    server->public_url = g_strdup (config->public_url);
  } else {
    server->public_url = g_strdup (server->url);
  }
  if (g_str_has_suffix (server->public_url, "/"))
    server->public_url[strlen (server->public_url) - 1] = '\0';

  server->ping_source = g_timeout_add (SECONDS_TO_MS (config->ping_interval), ping_cb, server);
  return server;
}

void
sigd_server_reload (SigdServer *server)
{
  SigdConfig *config = server->config;
  g_autoptr (GError) error = NULL;
  GTlsCertificate *cert;

  if (!config->tls_cert)
    return;
  /* Only new connections use it: sessions and calls go on undisturbed. */
  cert = g_tls_certificate_new_from_files (config->tls_cert, config->tls_key, &error);
  if (!cert) {
    g_warning ("Cannot reload the TLS certificate, keeping the old one: %s", error->message);
    return;
  }
  g_clear_object (&server->cert);
  server->cert = cert;
  g_message ("TLS certificate reloaded from %s", config->tls_cert);
}

void
sigd_server_log_limits (SigdServer *server)
{
  SigdConfig *config = server->config;

  sigd_listener_check_limits (server);
  g_debug ("admitting at most %d connections (%d pending, %d pending per address) and %d "
           "sessions; open file limit %d",
           config->max_connections, config->max_pending, config->max_pending_per_address,
           config->max_sessions, config->fd_limit);
}

char *
sigd_server_get_url (SigdServer *server)
{
  return g_strdup (server->url);
}

void
sigd_server_shutdown (SigdServer *server)
{
  GHashTableIter iter;
  SigdConn *conn;

  g_hash_table_iter_init (&iter, server->conns);
  while (g_hash_table_iter_next (&iter, (gpointer *) &conn, NULL))
    conn_close (conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "server shutting down");
}

void
sigd_server_free (SigdServer *server)
{
  g_clear_handle_id (&server->ping_source, g_source_remove);
  g_clear_handle_id (&server->sweep_source, g_source_remove);
  g_clear_handle_id (&server->slow_source, g_source_remove);
  sigd_listener_stop (server);
  if (server->soup)
    soup_server_disconnect (server->soup);
  g_hash_table_destroy (server->conns);
  g_ptr_array_unref (server->slow_conns);
  g_clear_object (&server->soup);
  sigd_listener_free (server);
  g_clear_object (&server->cert);
  g_free (server->url);
  sigd_matcher_free (server);
  g_hash_table_destroy (server->calls);
  g_hash_table_destroy (server->rejoins);
  g_hash_table_destroy (server->by_resume);
  g_hash_table_destroy (server->sessions);
  g_hash_table_destroy (server->per_address);
  g_hash_table_destroy (server->sessions_per_key);
  g_hash_table_destroy (server->rematch_block);
  g_hash_table_destroy (server->reports);
  g_hash_table_destroy (server->refused);
  sigd_invites_free (server);
  sigd_remote_free (server);
  g_free (server->public_url);
  g_free (server);
}

/* Without sockets, for the fuzz target */

SigdServer *
sigd_server_new_detached (SigdConfig *config)
{
  SigdServer *server = server_alloc (config);

  if (config->max_sessions == 0)
    config->max_sessions = 64;
  server->public_url = g_strdup (config->public_url ? config->public_url : "http://localhost");
  return server;
}

SigdConn *
sigd_conn_new_detached (SigdServer *server, const char *address)
{
  SigdConn *conn = g_new0 (SigdConn, 1);

  conn->server = server;
  conn->sent = g_ptr_array_new_with_free_func (g_free);
  conn->address = g_strdup (address);
  conn->key = sigd_address_key_from_string (address);
  conn_register (server, conn);
  return conn;
}

void
sigd_conn_receive (SigdConn *conn, const char *text, gsize len)
{
  g_autoptr (GBytes) bytes = g_bytes_new (text, len);

  if (conn_is_open (conn))
    on_message (NULL, SOUP_WEBSOCKET_DATA_TEXT, bytes, conn);
}

GPtrArray *
sigd_conn_take_sent (SigdConn *conn)
{
  GPtrArray *sent = conn->sent;

  conn->sent = g_ptr_array_new_with_free_func (g_free);
  return sent;
}

gboolean
sigd_conn_is_closed (SigdConn *conn)
{
  return !conn_is_open (conn);
}

void
sigd_conn_drop (SigdConn *conn, gushort code)
{
  conn_closed (conn, code);
}
