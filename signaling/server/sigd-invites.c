/* sigd-invites.c: invite codes, joining them, and ringing the inviter
 *
 * Invites live in the store (sigd-store.h), named by their code, with their
 * owner's session id: in memory, or in Redis shared by several servers.
 * Each request goes through the store asynchronously; its callbacks find
 * their sessions again by id, as they may have ended meanwhile, and answer
 * with the request's id (sigd-request.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "sigd-private.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/random.h>

#define MIN_TTL 10
#define MAX_OPEN_INVITES 16
/* Open invites, owned or away, that one client address may hold: invites
 * outlive their session now, so the per-session limit alone bounds nothing. */
#define MAX_INVITES_PER_ADDRESS 64
#define CLAIM_BYTES 16 /* 128 bits */

/* One request on its way through the store. */
typedef struct {
  SigdServer *server;
  VchatMsgType type;
  char *session; /* the sender's id */
  JsonNode *id;  /* the request's id, for its answers */
  char *key;     /* the sender's address key */
  char *code;    /* normalised, or NULL if it was not a code */
  char *claim;
  gboolean bad_claim; /* the code is open, the claim was wrong */
  SigdInvite *invite; /* what the store said about it */
} Op;

typedef struct {
  SigdServer *server;
  char *call_id;
} RingData;

static void
ring_data_free (gpointer data)
{
  RingData *rd = data;

  g_free (rd->call_id);
  g_free (rd);
}

static gboolean
ring_timeout_cb (gpointer data)
{
  RingData *rd = data;
  SigdCall *call = g_hash_table_lookup (rd->server->calls, rd->call_id);
  g_autofree char *call_id = NULL;

  if (!call || call->state != SIGD_CALL_RINGING)
    return G_SOURCE_REMOVE;
  call->ring_source = 0;
  call_id = g_strdup (call->id);
  g_debug ("call %s: nobody answered", call_id);
  for (guint i = 0; i < 2; i++) {
    SigdSession *s = i == 0 ? call->a : call->b;
    JsonObject *msg = vchat_msg_object_new (VCHAT_MSG_PEER_LEFT);

    s->call = NULL;
    json_object_set_string_member (msg, "call", call_id);
    json_object_set_string_member (msg, "reason", "timeout");
    sigd_session_send (s, msg);
    json_object_unref (msg);
  }
  g_hash_table_remove (rd->server->calls, call_id);
  return G_SOURCE_REMOVE;
}

/* Compares two secrets in time that depends only on their lengths. */
static gboolean
claim_equal (const char *a, const char *b)
{
  gsize len = strlen (a);
  guint8 diff = 0;

  if (len != strlen (b))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    diff |= (guint8) a[i] ^ (guint8) b[i];
  return diff == 0;
}

static Op *
op_new (SigdServer *server, SigdConn *conn, VchatMsg *msg)
{
  Op *op = g_new0 (Op, 1);

  op->server = server;
  op->type = msg->type;
  op->session = g_strdup (conn->session->id);
  op->id = sigd_request_dup_id (conn);
  op->key = g_strdup (conn->key);
  if (vchat_msg_has (msg, "code"))
    op->code = vchat_invite_code_normalize (vchat_msg_get_string (msg, "code"));
  op->claim = g_strdup (vchat_msg_get_string (msg, "claim"));
  return op;
}

static void
op_free (Op *op)
{
  g_free (op->session);
  g_clear_pointer (&op->id, json_node_unref);
  g_free (op->key);
  g_free (op->code);
  g_free (op->claim);
  sigd_invite_free (op->invite);
  g_free (op);
}

/* The sender, if its session still lives. */
static SigdSession *
op_session (Op *op)
{
  return g_hash_table_lookup (op->server->sessions, op->session);
}

static void
op_send (Op *op, JsonObject *msg)
{
  SigdSession *session = op_session (op);

  sigd_request_tag (msg, op->id);
  if (session)
    sigd_session_send (session, msg);
  json_object_unref (msg);
}

static void op_error (Op *op, VchatProtoError code, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
op_error (Op *op, VchatProtoError code, const char *format, ...)
{
  JsonObject *msg = vchat_msg_object_new (VCHAT_MSG_ERROR);
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  op->server->metrics.errors[code]++;
  g_debug ("session %s: error %s: %s", op->session, vchat_proto_error_to_string (code), message);
  json_object_set_string_member (msg, "code", vchat_proto_error_to_string (code));
  json_object_set_string_member (msg, "message", message);
  json_object_set_string_member (msg, "ref", vchat_msg_type_to_string (op->type));
  op_send (op, msg);
}

static void
op_unavailable (Op *op)
{
  op_error (op, VCHAT_PROTO_ERROR_INTERNAL,
            "The server cannot reach its shared store right now; try again in a moment.");
}

static SigdSession *
local_session (SigdServer *server, const char *id)
{
  return id ? g_hash_table_lookup (server->sessions, id) : NULL;
}

static void
send_code_message (SigdSession *session, VchatMsgType type, const char *code)
{
  JsonObject *msg = vchat_msg_object_new (type);

  json_object_set_string_member (msg, "code", code);
  sigd_session_send (session, msg);
  json_object_unref (msg);
}

static void
invite_expired_cb (const SigdInvite *invite, gpointer data)
{
  SigdServer *server = data;
  SigdSession *owner = local_session (server, invite->owner);

  if (!owner)
    return;
  if (owner->open_invites > 0)
    owner->open_invites--;
  send_code_message (owner, VCHAT_MSG_INVITE_EXPIRED, invite->code);
}

static void
store_sweep_at (gpointer server, gint64 at)
{
  sigd_server_sweep_at (server, at);
}

static void
store_attach (SigdServer *server, SigdStore *store)
{
  store->expired_func = invite_expired_cb;
  store->expired_data = server;
  store->sweep_at = store_sweep_at;
  store->server = server;
  store->deliver = sigd_remote_deliver;
  sigd_store_free (server->store);
  server->store = store;
}

void
sigd_invites_init (SigdServer *server)
{
  store_attach (server, sigd_store_memory_new (server->config));
}

gboolean
sigd_invites_use_redis (SigdServer *server, GError **error)
{
  SigdStore *store = sigd_store_redis_new (server->config, server->config->redis, error);

  if (!store)
    return FALSE;
  if (!sigd_store_redis_check (store, error)) {
    sigd_store_free (store);
    return FALSE;
  }
  store_attach (server, store);
  return TRUE;
}

void
sigd_invites_free (SigdServer *server)
{
  g_clear_pointer (&server->store, sigd_store_free);
}

guint
sigd_invites_count (SigdServer *server)
{
  return sigd_store_invites_count (server->store);
}

gint64
sigd_invites_sweep (SigdServer *server)
{
  return sigd_store_sweep (server->store);
}

/* The session ended: its open invites stay open, without an owner, until
 * they expire or someone reclaims them with their claim. */
void
sigd_invites_drop_session (SigdServer *server, SigdSession *session)
{
  if (session->open_invites > 0)
    sigd_store_invites_disown (server->store, session->id);
}

static void
send_invite (Op *op, const SigdInvite *invite)
{
  g_autofree char *link = g_strconcat ("vchat://join/", invite->code, NULL);
  g_autofree char *web_link = g_strconcat (op->server->public_url, "/join/", invite->code, NULL);
  JsonObject *reply = vchat_msg_object_new (VCHAT_MSG_INVITE);

  json_object_set_string_member (reply, "code", invite->code);
  json_object_set_string_member (reply, "link", link);
  json_object_set_string_member (reply, "web_link", web_link);
  json_object_set_int_member (reply, "expires", invite->expires / G_USEC_PER_SEC);
  json_object_set_string_member (reply, "claim", invite->claim);
  op_send (op, reply);
}

/* An answer about a code the store does not have open; TRUE if it counts
 * as a wrong code. */
static gboolean
lookup_failed (Op *op, SigdStoreStatus status)
{
  if (status == SIGD_STORE_UNAVAILABLE) {
    op_unavailable (op);
    return FALSE;
  }
  if (status == SIGD_STORE_EXPIRED) {
    op_error (op, VCHAT_PROTO_ERROR_INVITE_EXPIRED,
              "This invite has expired or was cancelled; ask for a new link.");
    return FALSE;
  }
  op_error (op, VCHAT_PROTO_ERROR_INVITE_NOT_FOUND, "%s",
            op->code ? "There is no invite with this code; check it for typos."
                     : "This is not an invite code: it has 16 letters and digits "
                       "(abcd-efgh-ijkl-mnop), or is a vchat://join/ link.");
  return TRUE;
}

static void
wrong_counted_cb (SigdStoreStatus status, guint count, gpointer data)
{
  Op *op = data;

  if (status != SIGD_STORE_CANCELLED) {
    if (op->bad_claim)
      op_error (op, VCHAT_PROTO_ERROR_INVITE_NOT_FOUND, "You have no invite with this code.");
    else
      lookup_failed (op, SIGD_STORE_NOT_FOUND);
  }
  op_free (op);
}

/* Answers a lookup that failed with @status, and frees @op. A wrong code
 * is counted first and answered once the count is stored: a client that
 * asks again, on this server or another sharing the store, finds it. */
static void
op_failed (Op *op, SigdStoreStatus status)
{
  if (status == SIGD_STORE_NOT_FOUND) {
    sigd_store_attempts_add (op->server->store, op->key, wrong_counted_cb, op);
    return;
  }
  lookup_failed (op, status);
  op_free (op);
}

/* invite_create */

static void
create_added_cb (SigdStoreStatus status, const SigdInvite *invite, gpointer data)
{
  Op *op = data;
  SigdSession *session;

  if (status == SIGD_STORE_CANCELLED) {
    op_free (op);
    return;
  }
  session = op_session (op);
  if (session && session->open_invites > 0)
    session->open_invites--; /* counted while pending */
  if (status == SIGD_STORE_LIMIT) {
    op_error (op, VCHAT_PROTO_ERROR_BAD_STATE,
              "Your address has %d open invites; cancel some or let them expire "
              "before making another.",
              MAX_INVITES_PER_ADDRESS);
  } else if (status != SIGD_STORE_OK) {
    op_unavailable (op);
  } else if (!session) {
    /* Gone meanwhile: the invite waits without an owner, as after any end. */
    sigd_store_invites_disown (op->server->store, op->session);
  } else {
    session->open_invites++;
    op->server->metrics.invites_created++;
    send_invite (op, invite);
    g_debug ("session %s: invite created", session->id);
  }
  op_free (op);
}

void
sigd_invites_handle_create (SigdServer *server, SigdConn *conn, VchatMsg *msg)
{
  SigdSession *session = conn->session;
  double max_ttl = server->config->invite_max_ttl;
  double ttl = server->config->invite_ttl;
  guint8 bytes[VCHAT_INVITE_CODE_BYTES];
  g_autoptr (SigdInvite) invite = NULL;

  if (vchat_msg_has (msg, "ttl")) {
    gint64 asked = vchat_msg_get_int (msg, "ttl", 0);
    if (asked < MIN_TTL || asked > max_ttl) {
      sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_BAD_VALUE, "invite_create",
                            "“ttl” must be between %d and %.0f seconds.", MIN_TTL, max_ttl);
      return;
    }
    ttl = asked;
  }
  if (session->open_invites >= MAX_OPEN_INVITES) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_BAD_STATE, "invite_create",
                          "You have %d open invites; cancel one before making another.",
                          MAX_OPEN_INVITES);
    return;
  }

  /* 80 bits from the kernel's CSPRNG: guessing is hopeless, and the join
   * attempt limit makes it slower still. */
  if (getrandom (bytes, sizeof bytes, 0) != sizeof bytes)
    g_error ("getrandom failed: %s", g_strerror (errno));

  invite = g_new0 (SigdInvite, 1);
  invite->code = vchat_invite_code_format (bytes);
  invite->owner = g_strdup (session->id);
  invite->claim = sigd_random_hex (CLAIM_BYTES);
  invite->address = g_strdup (conn->key);
  invite->node = g_strdup (server->store->node);
  invite->expires = g_get_real_time () + (gint64) (ttl * G_USEC_PER_SEC);
  /* Counted while the store works on it, so that requests sent together
   * cannot pass the limit. */
  session->open_invites++;
  sigd_store_invite_add (server->store, invite, MAX_INVITES_PER_ADDRESS, create_added_cb,
                         op_new (server, conn, msg));
}

/* invite_cancel */

static void
cancel_taken_cb (SigdStoreStatus status, const SigdInvite *invite, gpointer data)
{
  Op *op = data;
  SigdSession *session;

  if (status == SIGD_STORE_CANCELLED) {
    op_free (op);
    return;
  }
  session = op_session (op);
  if (status != SIGD_STORE_OK) {
    lookup_failed (op, status);
  } else {
    /* The owner may have changed since the lookup (a reclaim elsewhere). */
    SigdSession *owner = local_session (op->server, invite->owner);

    if (owner && owner->open_invites > 0)
      owner->open_invites--;
    if (owner && owner != session)
      send_code_message (owner, VCHAT_MSG_INVITE_CANCELLED, invite->code);
    if (session) {
      JsonObject *msg = vchat_msg_object_new (VCHAT_MSG_INVITE_CANCELLED);

      json_object_set_string_member (msg, "code", invite->code);
      op_send (op, msg);
    }
  }
  op_free (op);
}

static void
cancel_got_cb (SigdStoreStatus status, const SigdInvite *invite, gpointer data)
{
  Op *op = data;

  if (status == SIGD_STORE_CANCELLED) {
    op_free (op);
    return;
  }
  if (status != SIGD_STORE_OK) {
    lookup_failed (op, status);
    op_free (op);
    return;
  }
  if (g_strcmp0 (invite->owner, op->session) != 0) {
    op_error (op, VCHAT_PROTO_ERROR_INVITE_NOT_FOUND, "You have no invite with this code.");
    op_free (op);
    return;
  }
  sigd_store_invite_take (op->server->store, invite->code, cancel_taken_cb, op);
}

void
sigd_invites_handle_cancel (SigdServer *server, SigdConn *conn, VchatMsg *msg)
{
  Op *op = op_new (server, conn, msg);

  if (!op->code) {
    lookup_failed (op, SIGD_STORE_NOT_FOUND);
    op_free (op);
    return;
  }
  sigd_store_invite_get (server->store, op->code, cancel_got_cb, op);
}

/* invite_join: attempts → get → checks → take → ring */

/* The owner is connected to another server sharing the store. */
static gboolean
owner_elsewhere (SigdServer *server, SigdSession *owner, const SigdInvite *invite)
{
  return !owner && invite->owner && invite->node && *invite->node &&
         sigd_store_is_shared (server->store) && g_strcmp0 (invite->node, server->store->node) != 0;
}

static gboolean
join_refused (Op *op, SigdSession *session, SigdSession *owner, const SigdInvite *invite)
{
  gboolean elsewhere = owner_elsewhere (op->server, owner, invite);

  if (session->call) {
    op_error (op, VCHAT_PROTO_ERROR_BAD_STATE,
              "You are in a call; leave it before joining an invite.");
    return TRUE;
  }
  if (g_strcmp0 (invite->owner, session->id) == 0) {
    op_error (op, VCHAT_PROTO_ERROR_OWN_INVITE,
              "This is your own invite; send the link to the person you want to call.");
    return TRUE;
  }
  if (!owner && !elsewhere) {
    /* Not a wrong code, and the invite stays open for when they are back. */
    op_error (op, VCHAT_PROTO_ERROR_INVITER_AWAY,
              "The person who invited you is not connected right now; try again in a minute.");
    return TRUE;
  }
  if (owner && owner->call) {
    op_error (op, VCHAT_PROTO_ERROR_BUSY,
              "The person who invited you is in another call; the invite stays open, try "
              "again in a moment.");
    return TRUE;
  }
  return FALSE;
}

static void
put_back_cb (SigdStoreStatus status, const SigdInvite *invite, gpointer data)
{
}

/* The invite was taken for a join that did not ring: it opens again. */
void
sigd_invites_put_back (SigdServer *server, const SigdInvite *invite)
{
  sigd_store_invite_add (server->store, invite, G_MAXUINT, put_back_cb, NULL);
}

void
sigd_invites_arm_ring (SigdServer *server, SigdCall *call)
{
  RingData *rd = g_new0 (RingData, 1);

  rd->server = server;
  rd->call_id = g_strdup (call->id);
  g_clear_handle_id (&call->ring_source, g_source_remove);
  call->ring_source = g_timeout_add_full (G_PRIORITY_DEFAULT,
                                          (guint) (server->config->ring_timeout * 1000),
                                          ring_timeout_cb, rd, ring_data_free);
}

/* Rings the inviter, call->a. */
void
sigd_invites_send_incoming (SigdServer *server, SigdCall *call)
{
  JsonObject *out = vchat_msg_object_new (VCHAT_MSG_INCOMING);

  json_object_set_string_member (out, "call", call->id);
  json_object_set_object_member (out, "peer", sigd_peer_object (call->b));
  json_object_set_string_member (out, "code", call->code);
  json_object_set_array_member (out, "ice_servers", sigd_call_ice_servers (server, call->a));
  sigd_session_send (call->a, out);
  json_object_unref (out);
}

static void
join_taken_cb (SigdStoreStatus status, const SigdInvite *invite, gpointer data)
{
  Op *op = data;
  SigdServer *server = op->server;
  SigdSession *session, *owner;
  SigdCall *call;
  JsonObject *out;

  if (status == SIGD_STORE_CANCELLED) {
    op_free (op);
    return;
  }
  session = op_session (op);
  if (status != SIGD_STORE_OK) {
    if (session)
      lookup_failed (op, status);
    op_free (op);
    return;
  }
  owner = local_session (server, invite->owner);
  if (!session || join_refused (op, session, owner, invite)) {
    /* Things changed while the store took it (only a store that answers
     * later lets them): the invite was not used, so it opens again. */
    sigd_invites_put_back (server, invite);
    op_free (op);
    return;
  }
  if (!owner) {
    /* Rung on the owner's server; the answer comes from there. */
    sigd_remote_ring (server, session, op->id, invite);
    op_free (op);
    return;
  }
  if (owner->open_invites > 0)
    owner->open_invites--;

  /* An invite rings once: it is used up now, whatever the answer. */
  call = sigd_server_start_call (server, SIGD_CALL_INVITE, owner, session, NULL);
  call->code = g_strdup (invite->code);
  sigd_matcher_dequeue (server, owner);
  sigd_matcher_dequeue (server, session);

  sigd_invites_arm_ring (server, call);

  out = vchat_msg_object_new (VCHAT_MSG_RINGING);
  json_object_set_string_member (out, "call", call->id);
  json_object_set_object_member (out, "peer", sigd_peer_object (owner));
  op_send (op, out);

  sigd_invites_send_incoming (server, call);
  g_debug ("call %s: ringing", call->id);
  op_free (op);
}

static void
join_got_cb (SigdStoreStatus status, const SigdInvite *invite, gpointer data)
{
  Op *op = data;
  SigdSession *session;

  if (status == SIGD_STORE_CANCELLED) {
    op_free (op);
    return;
  }
  session = op_session (op);
  if (!session) {
    op_free (op);
    return;
  }
  if (status != SIGD_STORE_OK) {
    op_failed (op, status);
    return;
  }
  if (join_refused (op, session, local_session (op->server, invite->owner), invite)) {
    op_free (op);
    return;
  }
  sigd_store_invite_take (op->server->store, invite->code, join_taken_cb, op);
}

static void reclaim_checked_cb (SigdStoreStatus status, guint count, gpointer data);

static void
join_checked_cb (SigdStoreStatus status, guint count, gpointer data)
{
  Op *op = data;
  SigdSession *session;

  if (status == SIGD_STORE_CANCELLED) {
    op_free (op);
    return;
  }
  if (!(session = op_session (op))) {
    op_free (op);
    return;
  }
  if (status != SIGD_STORE_OK) {
    op_unavailable (op);
    op_free (op);
    return;
  }
  if (count >= (guint) op->server->config->join_attempts) {
    op_error (op, VCHAT_PROTO_ERROR_TOO_MANY_ATTEMPTS,
              op->type == VCHAT_MSG_INVITE_JOIN
                ? "Too many wrong invite codes from your address; wait a minute and check the "
                  "link you were sent."
                : "Too many wrong invite codes or claims from your address; wait a minute.");
    op_free (op);
    return;
  }
  if (op->type == VCHAT_MSG_INVITE_JOIN && session->call) {
    op_error (op, VCHAT_PROTO_ERROR_BAD_STATE,
              "You are in a call; leave it before joining an invite.");
    op_free (op);
    return;
  }
  if (!op->code) {
    op_failed (op, SIGD_STORE_NOT_FOUND);
    return;
  }
  if (op->type == VCHAT_MSG_INVITE_JOIN)
    sigd_store_invite_get (op->server->store, op->code, join_got_cb, op);
  else
    reclaim_checked_cb (status, count, op);
}

void
sigd_invites_handle_join (SigdServer *server, SigdConn *conn, VchatMsg *msg)
{
  sigd_store_attempts_get (server->store, conn->key, join_checked_cb, op_new (server, conn, msg));
}

/* invite_reclaim: attempts → get → claim → set owner */

static void
reclaim_owned_cb (SigdStoreStatus status, const SigdInvite *was, gpointer data)
{
  Op *op = data;
  SigdSession *session, *old;
  g_autoptr (SigdInvite) now = NULL;

  if (status == SIGD_STORE_CANCELLED) {
    op_free (op);
    return;
  }
  session = op_session (op);
  if (session && session->open_invites > 0)
    session->open_invites--; /* counted while pending */
  if (status != SIGD_STORE_OK) {
    lookup_failed (op, status);
    op_free (op);
    return;
  }
  /* The old owner (gone, or still in its grace time) loses the invite and
   * is told so, as if it had been cancelled. */
  old = local_session (op->server, was->owner);
  if (old && old != session) {
    if (old->open_invites > 0)
      old->open_invites--;
    send_code_message (old, VCHAT_MSG_INVITE_CANCELLED, was->code);
  } else if (!old && owner_elsewhere (op->server, NULL, was)) {
    sigd_remote_tell_code (op->server, was->node, was->owner, VCHAT_MSG_INVITE_CANCELLED,
                           was->code);
  }
  if (!session) {
    sigd_store_invites_disown (op->server->store, op->session);
    op_free (op);
    return;
  }
  session->open_invites++;
  now = sigd_invite_copy (was);
  send_invite (op, now);
  g_debug ("session %s: invite reclaimed", session->id);
  op_free (op);
}

static void
reclaim_got_cb (SigdStoreStatus status, const SigdInvite *invite, gpointer data)
{
  Op *op = data;
  SigdSession *session;

  if (status == SIGD_STORE_CANCELLED) {
    op_free (op);
    return;
  }
  if (!(session = op_session (op))) {
    op_free (op);
    return;
  }
  if (status != SIGD_STORE_OK) {
    op_failed (op, status);
    return;
  }
  if (!claim_equal (invite->claim, op->claim ? op->claim : "")) {
    op->bad_claim = TRUE;
    op_failed (op, SIGD_STORE_NOT_FOUND);
    return;
  }
  if (g_strcmp0 (invite->owner, session->id) == 0) {
    /* Reclaiming one's own invite just repeats the answer. */
    send_invite (op, invite);
    op_free (op);
    return;
  }
  if (session->open_invites >= MAX_OPEN_INVITES) {
    op_error (op, VCHAT_PROTO_ERROR_BAD_STATE,
              "You have %d open invites; cancel one before taking back another.",
              MAX_OPEN_INVITES);
    op_free (op);
    return;
  }
  session->open_invites++; /* while pending */
  sigd_store_invite_set_owner (op->server->store, invite->code, session->id, reclaim_owned_cb, op);
}

static void
reclaim_checked_cb (SigdStoreStatus status, guint count, gpointer data)
{
  Op *op = data;

  sigd_store_invite_get (op->server->store, op->code, reclaim_got_cb, op);
}

void
sigd_invites_handle_reclaim (SigdServer *server, SigdConn *conn, VchatMsg *msg)
{
  /* Wrong claims count with wrong codes: the claim is as much a secret. */
  sigd_store_attempts_get (server->store, conn->key, join_checked_cb, op_new (server, conn, msg));
}
