/* sigd-invites.c: invite codes, joining them, and ringing the inviter
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "sigd-private.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#define TOMBSTONE_US (G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC)
#define ATTEMPT_WINDOW_US (60 * G_USEC_PER_SEC)
#define MIN_TTL 10
#define MAX_OPEN_INVITES 16
/* Open invites, owned or away, that one client address may hold: invites
 * outlive their session now, so the per-session limit alone bounds nothing. */
#define MAX_INVITES_PER_ADDRESS 64
#define CLAIM_BYTES 16 /* 128 bits */

typedef struct {
  char *code;
  char *owner;         /* session id, or NULL while the owner is away */
  char *claim;         /* secret: invite_reclaim makes its sender the owner */
  char *address;       /* key of the creating client, for MAX_INVITES_PER_ADDRESS */
  gint64 expires_real; /* Unix seconds, for the client */
  gint64 expires;      /* monotonic µs */
} SigdInvite;

typedef struct {
  guint count;
  gint64 window_start;
} SigdAttempts;

typedef struct {
  SigdServer *server;
  char *call_id;
} RingData;

static void
invite_free (SigdInvite *invite)
{
  g_free (invite->code);
  g_free (invite->owner);
  g_free (invite->claim);
  g_free (invite->address);
  g_free (invite);
}

void
sigd_invites_init (SigdServer *server)
{
  server->invites = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                           (GDestroyNotify) invite_free);
  server->tombstones = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_queue_init (&server->tombstone_order);
  server->join_failures = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

guint
sigd_invites_count (SigdServer *server)
{
  return g_hash_table_size (server->invites);
}

/* Removes @invite, remembering its code for a while so that a late joiner
 * learns it expired rather than that it never existed. */
static SigdSession *
invite_owner (SigdServer *server, SigdInvite *invite)
{
  return invite->owner ? g_hash_table_lookup (server->sessions, invite->owner) : NULL;
}

/* The invite's owner no longer answers for it: it is away, or another
 * session reclaimed it. */
static void
invite_disown (SigdServer *server, SigdInvite *invite)
{
  SigdSession *owner = invite_owner (server, invite);

  if (owner && owner->open_invites > 0)
    owner->open_invites--;
  g_clear_pointer (&invite->owner, g_free);
}

static void
invite_remove (SigdServer *server, SigdInvite *invite)
{
  SigdSession *owner = invite_owner (server, invite);
  gint64 *deadline = g_new (gint64, 1);

  *deadline = g_get_monotonic_time () + TOMBSTONE_US;
  sigd_server_sweep_at (server, *deadline);
  g_hash_table_insert (server->tombstones, g_strdup (invite->code), deadline);
  /* Every tombstone lives as long, so arrival order is expiry order.
   * Clients can end invites faster than they are forgotten, so past
   * max_tombstones the oldest go first (a late joiner then hears
   * invite-not-found instead of invite-expired; nothing else changes). */
  g_queue_push_tail (&server->tombstone_order, g_strdup (invite->code));
  while (server->tombstone_order.length > (guint) server->config->max_tombstones) {
    g_autofree char *oldest = g_queue_pop_head (&server->tombstone_order);
    g_hash_table_remove (server->tombstones, oldest);
  }
  if (owner && owner->open_invites > 0)
    owner->open_invites--;
  g_hash_table_remove (server->invites, invite->code);
}

static void
send_code_message (SigdSession *session, VchatMsgType type, const char *code)
{
  JsonObject *msg = vchat_msg_object_new (type);

  json_object_set_string_member (msg, "code", code);
  sigd_session_send (session, msg);
  json_object_unref (msg);
}

gint64
sigd_invites_sweep (SigdServer *server)
{
  gint64 now = g_get_monotonic_time ();
  gint64 next = G_MAXINT64;
  g_autoptr (GPtrArray) expired = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, server->invites);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    gint64 expires = ((SigdInvite *) value)->expires;

    if (expires <= now)
      g_ptr_array_add (expired, value);
    else
      next = MIN (next, expires);
  }
  for (guint i = 0; i < expired->len; i++) {
    SigdInvite *invite = expired->pdata[i];
    SigdSession *owner = invite_owner (server, invite);
    g_autofree char *code = g_strdup (invite->code);

    invite_remove (server, invite);
    if (owner)
      send_code_message (owner, VCHAT_MSG_INVITE_EXPIRED, code);
  }

  while (!g_queue_is_empty (&server->tombstone_order)) {
    const char *code = g_queue_peek_head (&server->tombstone_order);
    gint64 *deadline = g_hash_table_lookup (server->tombstones, code);

    if (deadline && *deadline > now) {
      next = MIN (next, *deadline);
      break;
    }
    g_hash_table_remove (server->tombstones, code);
    g_free (g_queue_pop_head (&server->tombstone_order));
  }
  g_hash_table_iter_init (&iter, server->join_failures);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    gint64 start = ((SigdAttempts *) value)->window_start;

    if (now - start > ATTEMPT_WINDOW_US)
      g_hash_table_iter_remove (&iter);
    else
      next = MIN (next, start + ATTEMPT_WINDOW_US + 1);
  }
  return next;
}

/* The session ended: its open invites stay open, without an owner, until
 * they expire or someone reclaims them with their claim. */
void
sigd_invites_drop_session (SigdServer *server, SigdSession *session)
{
  g_autoptr (GPtrArray) owned = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, server->invites);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_strcmp0 (((SigdInvite *) value)->owner, session->id) == 0)
      g_ptr_array_add (owned, value);
  for (guint i = 0; i < owned->len; i++)
    invite_disown (server, owned->pdata[i]);
}

static guint
invites_of_address (SigdServer *server, const char *address)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_hash_table_iter_init (&iter, server->invites);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_strcmp0 (((SigdInvite *) value)->address, address) == 0)
      n++;
  return n;
}

static void
send_invite (SigdServer *server, SigdSession *session, SigdInvite *invite)
{
  g_autofree char *link = g_strconcat ("vchat://join/", invite->code, NULL);
  g_autofree char *web_link = g_strconcat (server->public_url, "/join/", invite->code, NULL);
  JsonObject *reply = vchat_msg_object_new (VCHAT_MSG_INVITE);

  json_object_set_string_member (reply, "code", invite->code);
  json_object_set_string_member (reply, "link", link);
  json_object_set_string_member (reply, "web_link", web_link);
  json_object_set_int_member (reply, "expires", invite->expires_real);
  json_object_set_string_member (reply, "claim", invite->claim);
  sigd_session_send (session, reply);
  json_object_unref (reply);
}

void
sigd_invites_handle_create (SigdServer *server, SigdConn *conn, VchatMsg *msg)
{
  SigdSession *session = conn->session;
  double max_ttl = server->config->invite_max_ttl;
  double ttl = server->config->invite_ttl;
  guint8 bytes[VCHAT_INVITE_CODE_BYTES];
  SigdInvite *invite;

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
  if (invites_of_address (server, conn->key) >= MAX_INVITES_PER_ADDRESS) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_BAD_STATE, "invite_create",
                          "Your address has %d open invites; cancel some or let them expire "
                          "before making another.",
                          MAX_INVITES_PER_ADDRESS);
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
  invite->expires = g_get_monotonic_time () + (gint64) (ttl * G_USEC_PER_SEC);
  sigd_server_sweep_at (server, invite->expires);
  invite->expires_real = g_get_real_time () / G_USEC_PER_SEC + (gint64) ttl;
  g_hash_table_insert (server->invites, invite->code, invite);
  session->open_invites++;
  server->metrics.invites_created++;

  send_invite (server, session, invite);
  g_debug ("session %s: invite created, %g s", session->id, ttl);
}

static SigdInvite *
lookup_invite (SigdServer *server, SigdConn *conn, VchatMsg *msg, gboolean *failed)
{
  const char *type = vchat_msg_type_to_string (msg->type);
  g_autofree char *code = vchat_invite_code_normalize (vchat_msg_get_string (msg, "code"));
  SigdInvite *invite = code ? g_hash_table_lookup (server->invites, code) : NULL;

  *failed = FALSE;
  if (invite && invite->expires > g_get_monotonic_time ())
    return invite;
  if (invite || (code && g_hash_table_contains (server->tombstones, code))) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_INVITE_EXPIRED, type,
                          "This invite has expired or was cancelled; ask for a new link.");
    return NULL;
  }
  *failed = TRUE;
  sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_INVITE_NOT_FOUND, type,
                        code ? "There is no invite with this code; check it for typos."
                             : "This is not an invite code: it has 16 letters and digits "
                               "(abcd-efgh-ijkl-mnop), or is a vchat://join/ link.");
  return NULL;
}

void
sigd_invites_handle_cancel (SigdServer *server, SigdConn *conn, VchatMsg *msg)
{
  gboolean failed;
  SigdInvite *invite = lookup_invite (server, conn, msg, &failed);
  g_autofree char *code = NULL;

  if (!invite)
    return;
  if (g_strcmp0 (invite->owner, conn->session->id) != 0) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_INVITE_NOT_FOUND, "invite_cancel",
                          "You have no invite with this code.");
    return;
  }
  code = g_strdup (invite->code);
  invite_remove (server, invite);
  send_code_message (conn->session, VCHAT_MSG_INVITE_CANCELLED, code);
}

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

static gboolean
too_many_attempts (SigdServer *server, const char *address, gint64 now)
{
  SigdAttempts *attempts = g_hash_table_lookup (server->join_failures, address);

  if (!attempts)
    return FALSE;
  if (now - attempts->window_start > ATTEMPT_WINDOW_US) {
    g_hash_table_remove (server->join_failures, address);
    return FALSE;
  }
  return attempts->count >= (guint) server->config->join_attempts;
}

static void
count_failure (SigdServer *server, const char *address, gint64 now)
{
  SigdAttempts *attempts = g_hash_table_lookup (server->join_failures, address);

  if (!attempts) {
    attempts = g_new0 (SigdAttempts, 1);
    attempts->window_start = now;
    g_hash_table_insert (server->join_failures, g_strdup (address), attempts);
    sigd_server_sweep_at (server, now + ATTEMPT_WINDOW_US + 1);
  }
  attempts->count++;
}

void
sigd_invites_handle_join (SigdServer *server, SigdConn *conn, VchatMsg *msg)
{
  SigdSession *session = conn->session;
  SigdSession *owner;
  SigdInvite *invite;
  SigdCall *call;
  RingData *rd;
  JsonObject *out;
  gint64 now = g_get_monotonic_time ();
  gboolean failed;

  if (too_many_attempts (server, conn->key, now)) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_TOO_MANY_ATTEMPTS, "invite_join",
                          "Too many wrong invite codes from your address; wait a minute "
                          "and check the link you were sent.");
    return;
  }
  if (session->call) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_BAD_STATE, "invite_join",
                          "You are in a call; leave it before joining an invite.");
    return;
  }
  invite = lookup_invite (server, conn, msg, &failed);
  if (failed)
    count_failure (server, conn->key, now);
  if (!invite)
    return;
  if (g_strcmp0 (invite->owner, session->id) == 0) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_OWN_INVITE, "invite_join",
                          "This is your own invite; send the link to the person you want to call.");
    return;
  }
  owner = invite_owner (server, invite);
  if (!owner) {
    /* Not a wrong code, and the invite stays open for when they are back. */
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_INVITER_AWAY, "invite_join",
                          "The person who invited you is not connected right now; try again in "
                          "a minute.");
    return;
  }
  if (owner->call) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_BUSY, "invite_join",
                          "The person who invited you is in another call; the invite stays "
                          "open, try again in a moment.");
    return;
  }

  /* An invite rings once: it is used up now, whatever the answer. */
  call = sigd_server_start_call (server, SIGD_CALL_INVITE, owner, session, NULL);
  call->code = g_strdup (invite->code);
  invite_remove (server, invite);
  sigd_matcher_dequeue (server, owner);
  sigd_matcher_dequeue (server, session);

  rd = g_new0 (RingData, 1);
  rd->server = server;
  rd->call_id = g_strdup (call->id);
  call->ring_source = g_timeout_add_full (G_PRIORITY_DEFAULT,
                                          (guint) (server->config->ring_timeout * 1000),
                                          ring_timeout_cb, rd, ring_data_free);

  out = vchat_msg_object_new (VCHAT_MSG_RINGING);
  json_object_set_string_member (out, "call", call->id);
  json_object_set_object_member (out, "peer", sigd_peer_object (owner));
  sigd_session_send (session, out);
  json_object_unref (out);

  out = vchat_msg_object_new (VCHAT_MSG_INCOMING);
  json_object_set_string_member (out, "call", call->id);
  json_object_set_object_member (out, "peer", sigd_peer_object (session));
  json_object_set_string_member (out, "code", call->code);
  json_object_set_array_member (out, "ice_servers", sigd_call_ice_servers (server, owner));
  sigd_session_send (owner, out);
  json_object_unref (out);
  g_debug ("call %s: ringing", call->id);
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

void
sigd_invites_handle_reclaim (SigdServer *server, SigdConn *conn, VchatMsg *msg)
{
  SigdSession *session = conn->session;
  SigdSession *old;
  SigdInvite *invite;
  gint64 now = g_get_monotonic_time ();
  gboolean failed;

  /* Wrong claims count with wrong codes: the claim is as much a secret. */
  if (too_many_attempts (server, conn->key, now)) {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_TOO_MANY_ATTEMPTS, "invite_reclaim",
                          "Too many wrong invite codes or claims from your address; wait a "
                          "minute.");
    return;
  }
  invite = lookup_invite (server, conn, msg, &failed);
  if (failed)
    count_failure (server, conn->key, now);
  if (!invite)
    return;
  if (!claim_equal (invite->claim, vchat_msg_get_string (msg, "claim"))) {
    count_failure (server, conn->key, now);
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_INVITE_NOT_FOUND, "invite_reclaim",
                          "You have no invite with this code.");
    return;
  }
  if (g_strcmp0 (invite->owner, session->id) != 0) {
    if (session->open_invites >= MAX_OPEN_INVITES) {
      sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_BAD_STATE, "invite_reclaim",
                            "You have %d open invites; cancel one before taking back another.",
                            MAX_OPEN_INVITES);
      return;
    }
    /* The old owner (gone, or still in its grace time) loses the invite and
     * is told so, as if it had been cancelled. */
    old = invite_owner (server, invite);
    invite_disown (server, invite);
    if (old)
      send_code_message (old, VCHAT_MSG_INVITE_CANCELLED, invite->code);
    invite->owner = g_strdup (session->id);
    session->open_invites++;
  }
  send_invite (server, session, invite);
  g_debug ("session %s: invite reclaimed", session->id);
}
