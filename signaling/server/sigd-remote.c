/* sigd-remote.c: calls between sessions on two servers sharing the store
 *
 * Servers that share a Redis each listen on a channel of their own (their
 * node). A call between a session here and one on another server exists on
 * both: each server keeps the call with its own session and a stand-in for
 * the other (a SigdSession with `node` set, owned by the call). What is sent
 * to the stand-in is published to its server as a `frame` for that
 * session; a server delivering `peer_left` or `matched` to its session
 * changes its copy of the call the same way, and drops frames for a call
 * its session is no longer in (so the two copies' ring timers, which both
 * fire, tell each person once).
 *
 * Joining an invite whose owner is on another server: the joiner's server
 * takes the invite from the store and sends `ring` with a new call id and
 * secret to the owner's server, which makes its copy and rings the owner
 * (`incoming`), then answers `ringing` (or `ring_failed`: away, busy). No
 * answer within RING_ANSWER_S puts the invite back.
 *
 * Envelopes (JSON): {"kind":"frame","to":SESSION,"frame":{...}},
 * {"kind":"ring","to":OWNER,"call":ID,"secret":S,"code":C,"from":PEER},
 * {"kind":"ringing","to":JOINER,"call":ID,"from":PEER},
 * {"kind":"ring_failed","to":JOINER,"call":ID,"error":CODE}, where PEER is
 * {"id","node","client","name"?,"key"}; to every server (the channel
 * vchat:all): {"kind":"refuse","key":ADDRESS,"ms":N}, an address that
 * reports on any of them kept out of the random queue.
 *
 * Other servers are trusted as much as the store: they share it. Still,
 * what they send is parsed defensively and frames are checked to be server
 * messages before a client sees them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "sigd-private.h"

#define RING_ANSWER_S 5
/* How often a server with calls that span servers checks that the other
 * servers live (they refresh a key every second; see sigd-store-redis.c). */
#define NODE_CHECK_S 2

typedef struct {
  SigdServer *server;
  char *call;
  char *joiner;
  char *secret;
  JsonNode *id;
  SigdInvite *invite;
  guint timeout;
} RemoteJoin;

static void
remote_join_free (RemoteJoin *rj)
{
  g_clear_handle_id (&rj->timeout, g_source_remove);
  g_free (rj->call);
  g_free (rj->joiner);
  g_free (rj->secret);
  g_clear_pointer (&rj->id, json_node_unref);
  sigd_invite_free (rj->invite);
  g_free (rj);
}

/* A hello whose token may be of a session on another server. */
typedef struct {
  SigdServer *server;
  SigdConn *conn; /* NULL once it went */
  char *token;
  char *client;
  char *name;
  JsonNode *id;
  guint timeout;
  guint tries;    /* asked the store */
  gboolean asked; /* the session's server, to hand it over */
} RemoteResume;

static void
remote_resume_free (RemoteResume *rr)
{
  g_clear_handle_id (&rr->timeout, g_source_remove);
  g_free (rr->token);
  g_free (rr->client);
  g_free (rr->name);
  g_clear_pointer (&rr->id, json_node_unref);
  g_free (rr);
}

void
sigd_remote_init (SigdServer *server)
{
  server->remote_joins = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                (GDestroyNotify) remote_join_free);
  server->remote_calls = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  server->remote_resumes = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                  (GDestroyNotify) remote_resume_free);
}

void
sigd_remote_free (SigdServer *server)
{
  g_clear_handle_id (&server->node_check_source, g_source_remove);
  g_clear_handle_id (&server->shared_queue_source, g_source_remove);
  g_clear_pointer (&server->remote_joins, g_hash_table_unref);
  g_clear_pointer (&server->remote_calls, g_hash_table_unref);
  g_clear_pointer (&server->remote_resumes, g_hash_table_unref);
}

/* Servers that die */

typedef struct {
  SigdServer *server;
  GPtrArray *nodes; /* char*, the nodes asked about */
} NodeCheck;

static SigdSession *
stand_in_of (SigdCall *call)
{
  return call->a->node ? call->a : call->b;
}

static void
tell_away (SigdSession *local, SigdCall *call, gboolean away)
{
  g_autoptr (JsonObject) msg = vchat_msg_object_new (VCHAT_MSG_PEER_AWAY);

  json_object_set_string_member (msg, "call", call->id);
  json_object_set_boolean_member (msg, "away", away);
  sigd_session_send (local, msg);
}

/* A server that stopped saying it lives is taken for dead, as a session
 * whose connection dropped: its sessions' peers here hear peer_away at
 * once and, after the grace time, peer_left (lost). */
static void
nodes_alive_cb (SigdStoreStatus status, const gboolean *alive, gpointer data)
{
  NodeCheck *check = data;
  SigdServer *server = check->server;
  g_autoptr (GPtrArray) calls = NULL;
  gint64 now;
  GHashTableIter iter;
  gpointer key;

  if (status == SIGD_STORE_CANCELLED) {
    g_ptr_array_unref (check->nodes);
    g_free (check);
    return;
  }
  server->node_check_pending = FALSE;
  /* Without an answer nobody is declared dead. */
  if (status != SIGD_STORE_OK || !alive)
    goto out;
  now = g_get_monotonic_time ();
  calls = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, server->remote_calls);
  while (g_hash_table_iter_next (&iter, &key, NULL)) {
    SigdCall *call = g_hash_table_lookup (server->calls, key);

    if (call)
      g_ptr_array_add (calls, call);
  }
  for (guint i = 0; i < calls->len; i++) {
    SigdCall *call = calls->pdata[i];
    SigdSession *remote = stand_in_of (call);
    SigdSession *local = remote == call->a ? call->b : call->a;
    guint n;

    if (!g_ptr_array_find_with_equal_func (check->nodes, remote->node, g_str_equal, &n))
      continue;
    /* For a stand-in, `created` holds when its server was found dead. */
    if (alive[n]) {
      if (remote->created) {
        remote->created = 0;
        tell_away (local, call, FALSE);
      }
    } else if (!remote->created) {
      g_debug ("call %s: server %s is gone", call->id, remote->node);
      remote->created = now;
      tell_away (local, call, TRUE);
    } else if (now - remote->created >= (gint64) (server->config->grace * G_USEC_PER_SEC)) {
      JsonObject *msg = vchat_msg_object_new (VCHAT_MSG_PEER_LEFT);

      json_object_set_string_member (msg, "call", call->id);
      json_object_set_string_member (msg, "reason", "lost");
      sigd_session_send (local, msg);
      json_object_unref (msg);
      sigd_server_forget_call (server, call, local);
    }
  }
out:
  g_ptr_array_unref (check->nodes);
  g_free (check);
}

static gboolean
node_check_cb (gpointer data)
{
  SigdServer *server = data;
  g_autoptr (GHashTable) nodes = NULL;
  NodeCheck *check;
  GHashTableIter iter;
  gpointer key;

  if (g_hash_table_size (server->remote_calls) == 0) {
    server->node_check_source = 0;
    return G_SOURCE_REMOVE;
  }
  if (server->node_check_pending)
    return G_SOURCE_CONTINUE;
  nodes = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_iter_init (&iter, server->remote_calls);
  while (g_hash_table_iter_next (&iter, &key, NULL)) {
    SigdCall *call = g_hash_table_lookup (server->calls, key);

    if (call)
      g_hash_table_add (nodes, stand_in_of (call)->node);
  }
  check = g_new0 (NodeCheck, 1);
  check->server = server;
  check->nodes = g_ptr_array_new_with_free_func (g_free);
  g_hash_table_iter_init (&iter, nodes);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (check->nodes, g_strdup (key));
  server->node_check_pending = TRUE;
  sigd_store_nodes_alive (server->store, (const char *const *) check->nodes->pdata,
                          check->nodes->len, nodes_alive_cb, check);
  return G_SOURCE_CONTINUE;
}

static void
remote_call_added (SigdServer *server, SigdCall *call)
{
  g_hash_table_add (server->remote_calls, g_strdup (call->id));
  if (!server->node_check_source)
    server->node_check_source = g_timeout_add_seconds (NODE_CHECK_S, node_check_cb, server);
}

void
sigd_remote_call_added (SigdServer *server, SigdCall *call)
{
  remote_call_added (server, call);
}

void
sigd_remote_call_gone (SigdServer *server, SigdCall *call)
{
  if (server->remote_calls)
    g_hash_table_remove (server->remote_calls, call->id);
}

static void
publish (SigdServer *server, const char *node, JsonObject *envelope)
{
  g_autofree char *text = vchat_msg_object_to_string (envelope);

  sigd_store_publish (server->store, node, text);
}

JsonObject *
sigd_remote_describe (SigdServer *server, SigdSession *session)
{
  JsonObject *peer = json_object_new ();

  json_object_set_string_member (peer, "id", session->id);
  json_object_set_string_member (peer, "node", session->node ? session->node : server->store->node);
  json_object_set_string_member (peer, "client", session->client);
  if (session->name)
    json_object_set_string_member (peer, "name", session->name);
  json_object_set_string_member (peer, "key", session->key);
  return peer;
}

static const char *
member_string (JsonObject *obj, const char *name)
{
  JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;

  if (!node || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static JsonObject *
member_object (JsonObject *obj, const char *name)
{
  JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;

  return node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* A stand-in for a session on another server, from its description. */
static SigdSession *
stand_in (SigdServer *server, JsonObject *peer)
{
  const char *id = member_string (peer, "id");
  const char *node = member_string (peer, "node");
  const char *client = member_string (peer, "client");
  const char *key = member_string (peer, "key");
  SigdSession *session;

  if (!id || !node || !client || !key)
    return NULL;
  session = g_new0 (SigdSession, 1);
  session->server = server;
  session->id = g_strdup (id);
  session->node = g_strdup (node);
  session->client = g_strdup (client);
  session->name = g_strdup (member_string (peer, "name"));
  session->key = g_strdup (key);
  session->address = g_strdup ("-");
  session->resume = g_strdup ("");
  session->interests = g_new0 (char *, 1);
  g_queue_init (&session->outbox);
  g_queue_init (&session->recent_calls);
  return session;
}

SigdSession *
sigd_remote_stand_in (SigdServer *server, JsonObject *desc)
{
  return stand_in (server, desc);
}

void
sigd_remote_send (SigdSession *session, JsonObject *msg)
{
  g_autoptr (JsonObject) envelope = json_object_new ();

  json_object_set_string_member (envelope, "kind", "frame");
  json_object_set_string_member (envelope, "to", session->id);
  json_object_set_object_member (envelope, "frame", json_object_ref (msg));
  publish (session->server, session->node, envelope);
}

static void
send_frame_to (SigdServer *server, const char *node, const char *session, JsonObject *frame)
{
  g_autoptr (JsonObject) envelope = json_object_new ();

  json_object_set_string_member (envelope, "kind", "frame");
  json_object_set_string_member (envelope, "to", session);
  json_object_set_object_member (envelope, "frame", frame);
  publish (server, node, envelope);
}

void
sigd_remote_tell_code (SigdServer *server, const char *node, const char *session,
                       VchatMsgType type, const char *code)
{
  JsonObject *frame = vchat_msg_object_new (type);

  json_object_set_string_member (frame, "code", code);
  send_frame_to (server, node, session, frame);
}

/* The joiner's server: ringing the owner there */

static void
join_error (SigdServer *server, RemoteJoin *rj, VchatProtoError code, const char *message)
{
  SigdSession *joiner = g_hash_table_lookup (server->sessions, rj->joiner);
  g_autoptr (JsonObject) msg = NULL;

  if (!joiner)
    return;
  server->metrics.errors[code]++;
  msg = vchat_msg_object_new (VCHAT_MSG_ERROR);
  json_object_set_string_member (msg, "code", vchat_proto_error_to_string (code));
  json_object_set_string_member (msg, "message", message);
  json_object_set_string_member (msg, "ref", "invite_join");
  sigd_request_tag (msg, rj->id);
  sigd_session_send (joiner, msg);
}

static gboolean
ring_answer_timeout (gpointer data)
{
  RemoteJoin *rj = data;
  SigdServer *server = rj->server;

  rj->timeout = 0;
  g_debug ("call %s: the inviter's server did not answer", rj->call);
  sigd_invites_put_back (server, rj->invite);
  join_error (server, rj, VCHAT_PROTO_ERROR_INVITER_AWAY,
              "The person who invited you is not reachable right now; try again in a minute.");
  g_hash_table_remove (server->remote_joins, rj->call);
  return G_SOURCE_REMOVE;
}

void
sigd_remote_ring (SigdServer *server, SigdSession *joiner, JsonNode *id, const SigdInvite *invite)
{
  RemoteJoin *rj = g_new0 (RemoteJoin, 1);
  g_autoptr (JsonObject) envelope = json_object_new ();

  rj->server = server;
  rj->secret = sigd_random_hex (16);
  rj->call = sigd_random_hex (8);
  rj->joiner = g_strdup (joiner->id);
  rj->id = id ? json_node_copy (id) : NULL;
  rj->invite = sigd_invite_copy (invite);
  rj->timeout = g_timeout_add_seconds (RING_ANSWER_S, ring_answer_timeout, rj);
  g_hash_table_insert (server->remote_joins, rj->call, rj);

  json_object_set_string_member (envelope, "kind", "ring");
  json_object_set_string_member (envelope, "to", invite->owner);
  json_object_set_string_member (envelope, "call", rj->call);
  json_object_set_string_member (envelope, "secret", rj->secret);
  json_object_set_string_member (envelope, "code", invite->code);
  json_object_set_object_member (envelope, "from", sigd_remote_describe (server, joiner));
  publish (server, invite->node, envelope);
  g_debug ("call %s: ringing the inviter on server %s", rj->call, invite->node);
}

static void
hang_up_remote (SigdServer *server, JsonObject *peer, const char *call)
{
  JsonObject *frame = vchat_msg_object_new (VCHAT_MSG_PEER_LEFT);

  json_object_set_string_member (frame, "call", call);
  json_object_set_string_member (frame, "reason", "hangup");
  send_frame_to (server, member_string (peer, "node"), member_string (peer, "id"), frame);
}

static void
got_ringing (SigdServer *server, JsonObject *envelope)
{
  const char *call_id = member_string (envelope, "call");
  JsonObject *from = member_object (envelope, "from");
  RemoteJoin *rj = call_id ? g_hash_table_lookup (server->remote_joins, call_id) : NULL;
  SigdSession *joiner = rj ? g_hash_table_lookup (server->sessions, rj->joiner) : NULL;
  SigdSession *owner;
  SigdCall *call;
  JsonObject *out;

  if (!call_id || !member_string (from, "node") || !member_string (from, "id"))
    return;
  if (!joiner || joiner->call || !(owner = stand_in (server, from))) {
    /* Too late, or the joiner went or is in another call meanwhile. */
    hang_up_remote (server, from, call_id);
    if (rj)
      g_hash_table_remove (server->remote_joins, call_id);
    return;
  }
  call = sigd_server_start_call_id (server, call_id, rj->secret, SIGD_CALL_INVITE, owner, joiner);
  call->code = g_strdup (rj->invite->code);
  remote_call_added (server, call);
  sigd_invites_arm_ring (server, call);
  sigd_matcher_dequeue (server, joiner);
  out = vchat_msg_object_new (VCHAT_MSG_RINGING);
  json_object_set_string_member (out, "call", call->id);
  json_object_set_object_member (out, "peer", sigd_peer_object (owner));
  sigd_request_tag (out, rj->id);
  sigd_session_send (joiner, out);
  json_object_unref (out);
  g_hash_table_remove (server->remote_joins, call_id);
  g_debug ("call %s: ringing on the inviter's server", call->id);
}

static void
got_ring_failed (SigdServer *server, JsonObject *envelope)
{
  const char *call_id = member_string (envelope, "call");
  const char *error = member_string (envelope, "error");
  RemoteJoin *rj = call_id ? g_hash_table_lookup (server->remote_joins, call_id) : NULL;

  if (!rj)
    return;
  sigd_invites_put_back (server, rj->invite);
  if (g_strcmp0 (error, "busy") == 0)
    join_error (server, rj, VCHAT_PROTO_ERROR_BUSY,
                "The person who invited you is in another call; the invite stays open, try "
                "again in a moment.");
  else
    join_error (server, rj, VCHAT_PROTO_ERROR_INVITER_AWAY,
                "The person who invited you is not connected right now; try again in a minute.");
  g_hash_table_remove (server->remote_joins, call_id);
}

/* The owner's server: ringing the owner here */

static void
got_ring (SigdServer *server, JsonObject *envelope)
{
  const char *call_id = member_string (envelope, "call");
  const char *secret = member_string (envelope, "secret");
  const char *code = member_string (envelope, "code");
  JsonObject *from = member_object (envelope, "from");
  SigdSession *owner = g_hash_table_lookup (server->sessions, member_string (envelope, "to") ?: "");
  g_autoptr (JsonObject) answer = json_object_new ();
  SigdSession *joiner;
  SigdCall *call;

  if (!call_id || !secret || !code || !member_string (from, "node") ||
      !member_string (from, "id") || g_hash_table_contains (server->calls, call_id))
    return;
  json_object_set_string_member (answer, "to", member_string (from, "id"));
  json_object_set_string_member (answer, "call", call_id);
  if (!owner || owner->call) {
    json_object_set_string_member (answer, "kind", "ring_failed");
    json_object_set_string_member (answer, "error", owner ? "busy" : "inviter-away");
    publish (server, member_string (from, "node"), answer);
    return;
  }
  if (!(joiner = stand_in (server, from)))
    return;
  call = sigd_server_start_call_id (server, call_id, secret, SIGD_CALL_INVITE, owner, joiner);
  call->code = g_strdup (code);
  remote_call_added (server, call);
  if (owner->open_invites > 0)
    owner->open_invites--;
  sigd_matcher_dequeue (server, owner);
  sigd_invites_arm_ring (server, call);
  sigd_invites_send_incoming (server, call);
  json_object_set_string_member (answer, "kind", "ringing");
  json_object_set_object_member (answer, "from", sigd_remote_describe (server, owner));
  publish (server, member_string (from, "node"), answer);
  g_debug ("call %s: ringing, for a joiner on server %s", call_id, member_string (from, "node"));
}

/* Either server: a frame for a session here */

static gboolean
call_peer_is_remote (SigdCall *call, SigdSession *session)
{
  return (call->a == session ? call->b : call->a)->node != NULL;
}

static void
got_frame (SigdServer *server, JsonObject *envelope)
{
  SigdSession *session = g_hash_table_lookup (server->sessions, member_string (envelope, "to") ?: "");
  JsonObject *frame = member_object (envelope, "frame");
  g_autofree char *text = NULL;
  g_autoptr (VchatMsg) msg = NULL;
  const char *call_id;
  SigdCall *call;

  if (!session || !frame)
    return;
  text = vchat_msg_object_to_string (frame);
  /* Only what a server may send reaches a client. */
  msg = vchat_msg_parse (text, strlen (text), 0, VCHAT_MSG_FROM_SERVER, NULL, NULL);
  if (!msg)
    return;
  call_id = vchat_msg_get_string (msg, "call");
  call = session->call;
  switch (msg->type) {
  case VCHAT_MSG_PEER_LEFT:
  case VCHAT_MSG_MATCHED:
  case VCHAT_MSG_SIGNAL:
  case VCHAT_MSG_PEER_AWAY:
    /* About the call the session is in with someone there, or stale. */
    if (!call || g_strcmp0 (call->id, call_id) != 0 || !call_peer_is_remote (call, session))
      return;
    if (msg->type == VCHAT_MSG_PEER_LEFT) {
      sigd_session_send (session, frame);
      sigd_server_forget_call (server, call, session);
      return;
    }
    if (msg->type == VCHAT_MSG_MATCHED) {
      if (call->state == SIGD_CALL_ACTIVE)
        return;
      g_clear_handle_id (&call->ring_source, g_source_remove);
      call->state = SIGD_CALL_ACTIVE;
      server->metrics.calls_started++;
      sigd_server_save_session (server, session);
    }
    if (msg->type == VCHAT_MSG_SIGNAL)
      server->metrics.relayed++;
    break;
  case VCHAT_MSG_INVITE_CANCELLED:
    /* Reclaimed on that server: this session no longer answers for it. */
    if (session->open_invites > 0)
      session->open_invites--;
    break;
  default:
    break;
  }
  sigd_session_send (session, frame);
}

/* Resuming here a session of another server: this server looks the token
 * up in the store, asks the session's server to hand it over, and gets its
 * state (its call, queue place, waiting frames); the old server keeps the
 * session's peer, if it has it, in a call with a stand-in for this server.
 *
 * If that server died (its key in the store is gone), nobody can hand the
 * session over: this server takes the session's record from the store
 * (who it is and its active call, kept there by its server), in one
 * atomic step, and tells the peer's server where the session is now. A
 * server that died less than ALIVE_MS ago still looks alive: no answer
 * within HANDOVER_S asks the store again, every second, until the server
 * is known dead or TAKE_TRIES ran out; then the client gets a new
 * session, as for an unknown token. A record is taken only within the
 * grace time after its server last said it lived (the peer is told
 * `lost` after it). */
#define HANDOVER_S 3
#define TAKE_TRIES 5

static void resume_take (SigdServer *server, RemoteResume *rr);

static void
resume_finish (SigdServer *server, const char *token, JsonObject *state)
{
  RemoteResume *rr = NULL;
  char *key = NULL;

  if (!g_hash_table_steal_extended (server->remote_resumes, token, (gpointer *) &key,
                                    (gpointer *) &rr))
    return;
  if (rr->conn)
    rr->conn->hello_pending = FALSE;
  sigd_server_hello_done (server, rr->conn, state, rr->client, rr->name, rr->id);
  remote_resume_free (rr);
}

static gboolean
handover_timeout (gpointer data)
{
  RemoteResume *rr = data;

  rr->timeout = 0;
  g_debug ("the server of a resumed session did not answer");
  if (rr->tries < TAKE_TRIES)
    resume_take (rr->server, rr);
  else
    resume_finish (rr->server, rr->token, NULL);
  return G_SOURCE_REMOVE;
}

static void
take_over (SigdServer *server, const char *token, const char *dead_node, const char *text,
           const char *peer_node)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *state, *call;
  JsonNode *root;

  if (!json_parser_load_from_data (parser, text, -1, NULL) ||
      !(root = json_parser_get_root (parser)) || !JSON_NODE_HOLDS_OBJECT (root) ||
      !member_string (state = json_node_get_object (root), "id") ||
      !member_string (state, "client") || !member_string (state, "key")) {
    resume_finish (server, token, NULL);
    return;
  }
  g_debug ("session %s: its server %s is gone; taking it over", member_string (state, "id"),
           dead_node);
  json_object_set_boolean_member (state, "takeover", TRUE);
  /* Where the peer is now: it may have been taken over too. */
  if ((call = member_object (state, "call")) && member_object (call, "peer") && peer_node &&
      peer_node[0])
    json_object_set_string_member (member_object (call, "peer"), "node", peer_node);
  if (!g_hash_table_contains (server->remote_resumes, token)) {
    /* The client went meanwhile: the session waits for it here. */
    sigd_server_hello_done (server, NULL, state, NULL, NULL, NULL);
    return;
  }
  resume_finish (server, token, state);
}

typedef struct {
  SigdServer *server;
  char *token;
} ResumeLookup;

static void
resume_taken_cb (SigdStoreStatus status, const char *node, const char *session, const char *state,
                 const char *peer_node, gpointer data)
{
  ResumeLookup *lookup = data;
  SigdServer *server = lookup->server;
  RemoteResume *rr;
  g_autoptr (JsonObject) envelope = NULL;

  if (status == SIGD_STORE_CANCELLED)
    goto out;
  if (status == SIGD_STORE_OK && state) {
    /* Ours now, whether the client still waits or not. */
    take_over (server, lookup->token, node, state, peer_node);
    goto out;
  }
  rr = g_hash_table_lookup (server->remote_resumes, lookup->token);
  if (!rr)
    goto out;
  if (status != SIGD_STORE_OK || g_strcmp0 (node, server->store->node) == 0) {
    resume_finish (server, lookup->token, NULL);
    goto out;
  }
  if (rr->asked) {
    /* It looked alive and has not answered: ask the store again soon. */
    rr->timeout = g_timeout_add_seconds (1, handover_timeout, rr);
    goto out;
  }
  rr->asked = TRUE;
  envelope = json_object_new ();
  json_object_set_string_member (envelope, "kind", "handover");
  json_object_set_string_member (envelope, "to", session);
  json_object_set_string_member (envelope, "token", lookup->token);
  json_object_set_string_member (envelope, "node", server->store->node);
  publish (server, node, envelope);
  rr->timeout = g_timeout_add_seconds (HANDOVER_S, handover_timeout, rr);
out:
  g_free (lookup->token);
  g_free (lookup);
}

static void
resume_take (SigdServer *server, RemoteResume *rr)
{
  ResumeLookup *lookup = g_new0 (ResumeLookup, 1);

  rr->tries++;
  lookup->server = server;
  lookup->token = g_strdup (rr->token);
  sigd_store_resume_take (server->store, rr->token, (gint64) (server->config->grace * 1000),
                          resume_taken_cb, lookup);
}

void
sigd_remote_resume (SigdServer *server, SigdConn *conn, const char *token, const char *client,
                    const char *name, JsonNode *id)
{
  RemoteResume *rr = g_new0 (RemoteResume, 1);

  rr->server = server;
  rr->conn = conn;
  rr->token = g_strdup (token);
  rr->client = g_strdup (client);
  rr->name = g_strdup (name);
  rr->id = id ? json_node_copy (id) : NULL;
  /* One pending hello per token: a second one gets a new session. */
  if (g_hash_table_contains (server->remote_resumes, token)) {
    conn->hello_pending = FALSE;
    sigd_server_hello_done (server, conn, NULL, client, name, id);
    remote_resume_free (rr);
    return;
  }
  g_hash_table_insert (server->remote_resumes, rr->token, rr);
  resume_take (server, rr);
}

void
sigd_remote_conn_gone (SigdServer *server, SigdConn *conn)
{
  GHashTableIter iter;
  gpointer value;

  if (!server->remote_resumes)
    return;
  g_hash_table_iter_init (&iter, server->remote_resumes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((RemoteResume *) value)->conn == conn)
      ((RemoteResume *) value)->conn = NULL;
}

/* The old server */
static void
got_handover (SigdServer *server, JsonObject *envelope)
{
  const char *token = member_string (envelope, "token");
  const char *node = member_string (envelope, "node");
  SigdSession *session = g_hash_table_lookup (server->sessions, member_string (envelope, "to") ?: "");
  g_autoptr (JsonObject) answer = json_object_new ();
  JsonObject *state;

  if (!token || !node)
    return;
  json_object_set_string_member (answer, "token", token);
  state = session && !session->node ? sigd_server_hand_over (server, session, node, token) : NULL;
  if (state) {
    json_object_set_string_member (answer, "kind", "handed");
    json_object_set_object_member (answer, "state", state);
  } else {
    json_object_set_string_member (answer, "kind", "handover_failed");
  }
  publish (server, node, answer);
}

/* The new server */
static void
got_handed (SigdServer *server, JsonObject *envelope, gboolean failed)
{
  const char *token = member_string (envelope, "token");
  JsonObject *state = member_object (envelope, "state");

  if (!token)
    return;
  if (!failed && (!state || !member_string (state, "id") || !member_string (state, "client") ||
                  !member_string (state, "key")))
    return;
  if (!g_hash_table_contains (server->remote_resumes, token)) {
    /* Timed out meanwhile: the session is here now, without a client. */
    if (!failed)
      sigd_server_hello_done (server, NULL, state, NULL, NULL, NULL);
    return;
  }
  resume_finish (server, token, failed ? NULL : state);
}

/* The peer's server: the session it is in a call with moved. */
static void
got_moved (SigdServer *server, JsonObject *envelope)
{
  SigdSession *peer = g_hash_table_lookup (server->sessions, member_string (envelope, "to") ?: "");
  const char *node = member_string (envelope, "node");
  const char *call = member_string (envelope, "call");
  const char *session = member_string (envelope, "session");
  SigdSession *stand;

  if (!node || !call || !session)
    return;
  if (!peer || !peer->call || g_strcmp0 (peer->call->id, call) != 0) {
    /* The call ended here meanwhile (its server died and the grace time
     * ran out): the session that moved hears of it. */
    JsonObject *frame = vchat_msg_object_new (VCHAT_MSG_PEER_LEFT);

    json_object_set_string_member (frame, "call", call);
    json_object_set_string_member (frame, "reason", "lost");
    send_frame_to (server, node, session, frame);
    return;
  }
  stand = peer->call->a == peer ? peer->call->b : peer->call->a;
  if (!stand->node || g_strcmp0 (stand->id, session) != 0)
    return;
  g_free (stand->node);
  stand->node = g_strdup (node);
  /* Not dead any more (see nodes_alive_cb); its new server tells the peer
   * `peer_away` false itself, once. */
  stand->created = 0;
}

void
sigd_remote_moved (SigdServer *server, SigdSession *peer, const char *call, const char *session,
                   const char *node)
{
  g_autoptr (JsonObject) envelope = json_object_new ();

  json_object_set_string_member (envelope, "kind", "moved");
  json_object_set_string_member (envelope, "to", peer->id);
  json_object_set_string_member (envelope, "call", call);
  json_object_set_string_member (envelope, "session", session);
  json_object_set_string_member (envelope, "node", node);
  publish (server, peer->node, envelope);
}

/* The random queue shared by the servers. Someone who queues is first
 * matched among the people waiting on this server (sigd-matcher.c); after
 * --shared-queue-after seconds without a partner they move to the queue in
 * Redis (and leave the local matcher: a session is in one queue at a time,
 * so it cannot be paired twice), where a Lua script pairs two people and
 * takes both out in one step. The server that made the pair starts the
 * call; a partner on another server gets `match` with the call's id and
 * secret, and its server makes its copy. */
#define SHARED_QUEUE_TICK_MS 250
#define LOST_PLACE_MS 2000
/* Someone the script found no partner for asks again when one of its own
 * waits runs out, else after this: whoever comes later asks for
 * themselves, and finds them. */
#define SHARED_RETRY_MS 2000

typedef struct {
  SigdServer *server;
  char *session;
} MatchOp;

static char *
interests_lines (SigdSession *session)
{
  return g_strjoinv ("\n", session->interests);
}

/* When @session queued, in wall-clock ms: the order across servers. */
static gint64
since_ms (SigdSession *session)
{
  return g_get_real_time () / 1000 - (g_get_monotonic_time () - session->queued_since) / 1000;
}

static JsonObject *
queue_desc (SigdServer *server, SigdSession *session)
{
  JsonObject *desc = sigd_remote_describe (server, session);

  json_object_set_array_member (desc, "interests",
                                sigd_strv_to_json ((const char *const *) session->interests));
  if (session->language)
    json_object_set_string_member (desc, "language", session->language);
  json_object_set_int_member (desc, "since_ms", since_ms (session));
  return desc;
}

static void
spill (SigdServer *server, SigdSession *session)
{
  g_autoptr (JsonObject) desc = queue_desc (server, session);
  g_autofree char *text = vchat_msg_object_to_string (desc);
  g_autofree char *lines = interests_lines (session);

  /* It stays in the local indexes, where the matcher skips it. */
  session->spilled = TRUE;
  session->lost_since = 0;
  session->shared_retry_at = 0;
  /* Wall-clock time orders the queue across servers. */
  sigd_store_queue_add (server->store, session->id, text, lines, session->language,
                        since_ms (session));
}

/* @session was taken out of the shared queue by a match that did not
 * happen: it goes back in. */
static void
respill (SigdServer *server, SigdSession *session)
{
  if (!session || !session->queued || !session->spilled || session->call)
    return;
  session->spilled = FALSE;
  spill (server, session);
}

/* Likewise for a partner: here, or on its server. */
static void
requeue_partner (SigdServer *server, JsonObject *desc)
{
  const char *node = member_string (desc, "node");
  const char *id = member_string (desc, "id");
  g_autoptr (JsonObject) envelope = NULL;

  if (!node || !id)
    return;
  if (g_strcmp0 (node, server->store->node) == 0) {
    respill (server, g_hash_table_lookup (server->sessions, id));
    return;
  }
  envelope = json_object_new ();
  json_object_set_string_member (envelope, "kind", "requeue");
  json_object_set_string_member (envelope, "to", id);
  publish (server, node, envelope);
}

static GStrv
common_of (SigdSession *a, JsonArray *theirs)
{
  GPtrArray *common = g_ptr_array_new ();

  for (guint i = 0; a->interests[i]; i++)
    for (guint j = 0; theirs && j < json_array_get_length (theirs); j++)
      if (g_strcmp0 (a->interests[i], json_array_get_string_element (theirs, j)) == 0)
        g_ptr_array_add (common, g_strdup (a->interests[i]));
  g_ptr_array_add (common, NULL);
  return (GStrv) g_ptr_array_free (common, FALSE);
}

/* When @s, that found no partner in the shared queue, asks again: when it
 * stops insisting on its interests or its language (someone it may meet
 * only then is found then), else after SHARED_RETRY_MS (a rematch block
 * ended, a lost place to notice again). Everyone else in the queue asks
 * when they come and when their own waits run out. */
static gint64
shared_retry_time (SigdServer *server, SigdSession *s, gint64 now)
{
  gint64 at = now + SHARED_RETRY_MS * 1000;
  gint64 relax[] = { sigd_matcher_interests_until (server, s),
                     sigd_matcher_language_until (server, s) };

  for (guint i = 0; i < G_N_ELEMENTS (relax); i++)
    if (relax[i] > now)
      at = MIN (at, relax[i]);
  return at;
}

static void
matched_cb (SigdStoreStatus status, const char *value, gpointer data)
{
  MatchOp *op = data;
  SigdServer *server = op->server;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *desc;
  SigdSession *s, *p = NULL;
  SigdCall *call;
  gboolean s_first;

  if (status == SIGD_STORE_CANCELLED)
    goto out;
  s = g_hash_table_lookup (server->sessions, op->session);
  if (s) {
    s->match_pending = FALSE;
    s->shared_retry_at = status == SIGD_STORE_UNAVAILABLE
                           ? 0
                           : shared_retry_time (server, s, g_get_monotonic_time ());
    /* No answer: the script may have run all the same, and taken @s and a
     * partner out of the queue. The next try asks with the same token,
     * and is given that match if so. */
    if (status != SIGD_STORE_UNAVAILABLE)
      g_clear_pointer (&s->match_token, g_free);
  }
  if (status == SIGD_STORE_EXPIRED && s) {
    /* Out of the shared queue with no match for it: its add never arrived,
     * or the server of the one it was matched with never learnt it (issue
     * 14). Said twice, LOST_PLACE_MS apart: the commands of a connection
     * given up on can still reach Redis after those of the next. */
    gint64 now = g_get_monotonic_time ();

    if (!s->lost_since)
      s->lost_since = now;
    else if (now - s->lost_since >= LOST_PLACE_MS * 1000) {
      s->lost_since = 0;
      respill (server, s);
    }
    goto out;
  }
  if (s)
    s->lost_since = 0;
  if (status != SIGD_STORE_OK || !value)
    goto out;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, value, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    goto out;
  desc = json_node_get_object (json_parser_get_root (parser));
  if (!s || !s->queued || !s->spilled || s->call) {
    /* Gone meanwhile: the partner goes back to the queue. */
    requeue_partner (server, desc);
    goto out;
  }
  if (g_strcmp0 (member_string (desc, "node"), server->store->node) == 0) {
    p = g_hash_table_lookup (server->sessions, member_string (desc, "id") ?: "");
    if (!p || !p->queued || !p->spilled || p->call) {
      respill (server, s);
      goto out;
    }
    s_first = s->queue_seq < p->queue_seq;
    s->spilled = p->spilled = FALSE; /* already out of the shared queue */
    sigd_matcher_dequeue (server, s);
    sigd_matcher_dequeue (server, p);
    server->metrics.matches++;
    call = sigd_server_start_call (server, SIGD_CALL_RANDOM, s_first ? s : p, s_first ? p : s,
                                   common_of (s, json_object_get_array_member (desc, "interests")));
    sigd_server_activate_call (server, call);
    goto out;
  }
  {
    g_autoptr (JsonObject) envelope = json_object_new ();
    g_autofree char *call_id = sigd_random_hex (8);
    g_autofree char *secret = sigd_random_hex (16);
    SigdSession *stand = stand_in (server, desc);
    gint64 my_since = since_ms (s);

    if (!stand) {
      respill (server, s);
      goto out;
    }
    /* Who waited longer comes first; across servers, by the clock. */
    s_first = my_since <= json_object_get_int_member_with_default (desc, "since_ms", my_since);
    s->spilled = FALSE;
    sigd_matcher_dequeue (server, s);
    server->metrics.matches++;
    call = sigd_server_start_call_id (server, call_id, secret, SIGD_CALL_RANDOM,
                                      s_first ? s : stand, s_first ? stand : s);
    g_strfreev (call->common);
    call->common = common_of (s, json_object_get_array_member (desc, "interests"));
    remote_call_added (server, call);
    json_object_set_string_member (envelope, "kind", "match");
    json_object_set_string_member (envelope, "to", stand->id);
    json_object_set_string_member (envelope, "call", call_id);
    json_object_set_string_member (envelope, "secret", secret);
    json_object_set_boolean_member (envelope, "first", !s_first);
    json_object_set_object_member (envelope, "from", queue_desc (server, s));
    publish (server, stand->node, envelope);
    /* Then `matched` to both: the other server's copy exists by then
     * (one publisher's messages arrive in order). */
    sigd_server_activate_call (server, call);
  }
out:
  g_free (op->session);
  g_free (op);
}

/* The partner's server */
static void
got_match (SigdServer *server, JsonObject *envelope)
{
  SigdSession *p = g_hash_table_lookup (server->sessions, member_string (envelope, "to") ?: "");
  const char *call_id = member_string (envelope, "call");
  const char *secret = member_string (envelope, "secret");
  JsonObject *from = member_object (envelope, "from");
  gboolean p_first = json_object_get_boolean_member_with_default (envelope, "first", FALSE);
  SigdSession *stand;
  SigdCall *call;

  if (!call_id || !secret || !from || g_hash_table_contains (server->calls, call_id))
    return;
  if (!p || !p->queued || p->call || !(stand = stand_in (server, from))) {
    JsonObject *frame = vchat_msg_object_new (VCHAT_MSG_PEER_LEFT);

    json_object_set_string_member (frame, "call", call_id);
    json_object_set_string_member (frame, "reason", "lost");
    send_frame_to (server, member_string (from, "node"), member_string (from, "id"), frame);
    return;
  }
  p->spilled = FALSE;
  sigd_matcher_dequeue (server, p);
  call = sigd_server_start_call_id (server, call_id, secret, SIGD_CALL_RANDOM,
                                    p_first ? p : stand, p_first ? stand : p);
  g_strfreev (call->common);
  call->common = common_of (p, json_object_get_array_member (from, "interests"));
  remote_call_added (server, call);
  /* Active when its `matched` comes, right behind. */
}

static gboolean
shared_queue_tick (gpointer data)
{
  SigdServer *server = data;
  gint64 now = g_get_monotonic_time ();
  gint64 after = (gint64) (server->config->shared_queue_after * G_USEC_PER_SEC);
  g_autoptr (GPtrArray) waiting = g_ptr_array_new ();
  SigdQueueWaits waits = {
    .now_ms = g_get_real_time () / 1000,
    .interest_wait_ms = (gint64) (server->config->interest_wait * 1000),
    .language_wait_ms = (gint64) (server->config->language_wait * 1000),
  };

  if (g_queue_is_empty (&server->queue)) {
    server->shared_queue_source = 0;
    return G_SOURCE_REMOVE;
  }
  for (GList *l = server->queue.head; l; l = l->next)
    g_ptr_array_add (waiting, l->data);
  for (guint i = 0; i < waiting->len; i++) {
    SigdSession *s = waiting->pdata[i];
    MatchOp *op;

    if (!s->queued || s->call)
      continue;
    if (!s->spilled) {
      if (now - s->queued_since >= after)
        spill (server, s);
      else
        continue;
    }
    if (s->match_pending || now < s->shared_retry_at)
      continue;
    s->match_pending = TRUE;
    op = g_new0 (MatchOp, 1);
    op->server = server;
    op->session = g_strdup (s->id);
    if (!s->match_token)
      s->match_token = sigd_random_hex (8);
    sigd_store_queue_match (server->store, s->id, s->match_token, &waits, matched_cb, op);
  }
  return G_SOURCE_CONTINUE;
}

void
sigd_remote_queued (SigdServer *server)
{
  if (!sigd_store_is_shared (server->store) || server->shared_queue_source)
    return;
  server->shared_queue_source = g_timeout_add (SHARED_QUEUE_TICK_MS, shared_queue_tick, server);
}

void
sigd_remote_block_pair (SigdServer *server, SigdSession *a, SigdSession *b)
{
  if (sigd_store_is_shared (server->store))
    sigd_store_block_pair (server->store, a->id, b->id,
                           (gint64) (server->config->rematch_delay * 1000));
}

void
sigd_remote_deliver (gpointer data, const char *text, gsize len)
{
  SigdServer *server = data;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonObject *envelope;
  const char *kind;

  if (len > (gsize) server->config->max_frame * 2 + 4096 ||
      !json_parser_load_from_data (parser, text, len, NULL))
    return;
  root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root))
    return;
  envelope = json_node_get_object (root);
  kind = member_string (envelope, "kind");
  if (g_strcmp0 (kind, "frame") == 0)
    got_frame (server, envelope);
  else if (g_strcmp0 (kind, "ring") == 0)
    got_ring (server, envelope);
  else if (g_strcmp0 (kind, "ringing") == 0)
    got_ringing (server, envelope);
  else if (g_strcmp0 (kind, "ring_failed") == 0)
    got_ring_failed (server, envelope);
  else if (g_strcmp0 (kind, "handover") == 0)
    got_handover (server, envelope);
  else if (g_strcmp0 (kind, "handed") == 0)
    got_handed (server, envelope, FALSE);
  else if (g_strcmp0 (kind, "handover_failed") == 0)
    got_handed (server, envelope, TRUE);
  else if (g_strcmp0 (kind, "moved") == 0)
    got_moved (server, envelope);
  else if (g_strcmp0 (kind, "match") == 0)
    got_match (server, envelope);
  else if (g_strcmp0 (kind, "refuse") == 0 && member_string (envelope, "key") &&
           json_object_has_member (envelope, "ms"))
    sigd_server_refuse_key (server, member_string (envelope, "key"),
                            CLAMP (json_object_get_int_member (envelope, "ms"), 0,
                                   (gint64) server->config->report_refuse_time * 1000 + 1000));
  else if (g_strcmp0 (kind, "requeue") == 0)
    respill (server, g_hash_table_lookup (server->sessions, member_string (envelope, "to") ?: ""));
}
