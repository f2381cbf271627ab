/* sigd-private.h: the server's state, shared by its parts
 *
 * Everything here lives on the main thread: libsoup delivers every WebSocket
 * and HTTP event there, and the server starts no threads of its own.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>

#include "sigd-config.h"
#include "sigd-store.h"
#include "sigd-stream.h"
#include "vchat-protocol.h"

typedef struct _SigdServer SigdServer;
typedef struct _SigdConn SigdConn;
typedef struct _SigdSession SigdSession;
typedef struct _SigdCall SigdCall;
typedef struct _SigdLink SigdLink;

/* What an accepted TCP connection is doing (sigd-listener.c). */
typedef enum {
  SIGD_LINK_HANDSHAKE, /* TLS handshake */
  SIGD_LINK_REQUEST,   /* waiting for the request headers */
  SIGD_LINK_SERVING,   /* a plain HTTP request being answered */
  SIGD_LINK_WEBSOCKET,
  SIGD_LINK_CLOSING,
  SIGD_LINK_N_STATES
} SigdLinkState;

typedef enum {
  SIGD_CALL_RINGING,
  SIGD_CALL_ACTIVE,
} SigdCallState;

typedef enum {
  SIGD_CALL_RANDOM,
  SIGD_CALL_INVITE,
} SigdCallKind;

/* One WebSocket. It may carry no session yet (before hello), and a session
 * outlives its connection during the grace time. */
struct _SigdConn {
  SigdServer *server;
  SoupWebsocketConnection *ws;
  SigdStream *stream; /* under ws: what it has not sent yet */
  SigdLink *link;     /* NULL once the socket is gone */
  char *address;
  char *key; /* what per-address limits count it under */
  SigdSession *session;
  gint64 last_seen;
  double tokens;
  gint64 last_refill;
  gint64 limited_since; /* start of the current flood, 0 if none yet */
  gboolean too_slow;    /* its send queue went over max_send_queue */
  /* Without a socket (sigd_conn_new_detached): frames land here. */
  GPtrArray *sent;
  gboolean closed;
  gint64 last_limited;
  gboolean counted; /* in server->per_address */
  /* With a shared store: counted there too (conns_add), or being counted
   * (the op, which outlives the connection). */
  gboolean shared_counted;
  struct _SigdConnCount *count_op;
  GPtrArray *held; /* GBytes: text frames that came while it was being counted */
  guint other_sessions; /* of its address on the other servers, when counted */
  gboolean hello_pending; /* its hello waits for another server (sigd-remote.c) */
};

struct _SigdSession {
  SigdServer *server;
  char *id;
  char *resume;
  char *client;
  char *name;
  char *address;
  SigdConn *conn; /* NULL during the grace time */
  guint grace_source;
  GQueue outbox; /* frames for a session in its grace time */
  gsize outbox_bytes;
  char *key; /* of the address it said hello from */
  gint64 created;

  gboolean queued;
  gint64 queued_since;
  guint64 queue_seq;              /* order of arrival in the queue */
  GList *queue_link;              /* in server->queue */
  GSequenceIter *interests_event; /* when it stops insisting on interests */
  GSequenceIter *language_event;  /* when it stops insisting on its language */
  GStrv interests; /* of the last `queue`, normalised */
  char *language;
  gboolean spilled;       /* in the queue shared with other servers (sigd-remote.c) */
  gboolean match_pending; /* a match in the shared queue is being tried for it */
  char *match_token;      /* that try's, kept while its answer may have been lost */
  gint64 lost_since;      /* when the shared queue first said it lost its place, or 0 */
  gint64 shared_retry_at; /* monotonic µs: no match in the shared queue before */
  JsonNode *queue_request_id; /* of that `queue` (or `next`): its `matched` carries it */

  SigdCall *call;      /* ringing or active, at most one */
  char *rejoin_call;   /* the call it waits to rejoin (see handle_rejoin) */
  char *rejoin_secret;
  guint rejoin_source; /* gives up waiting */
  JsonNode *rejoin_request_id; /* of that `rejoin`: its `rejoined` carries it */
  GQueue recent_calls; /* SigdPastCall, for reports after a call */
  guint open_invites;
  /* Non-NULL for the other side of a call whose session is connected to
   * another server (sigd-remote.c): what is sent to it goes there. Such a
   * session belongs to its call, never to server->sessions. */
  char *node;
};

typedef struct {
  char *call;
  char *peer;
  char *peer_key; /* the peer's address key, for reports */
} SigdPastCall;

typedef struct {
  GHashTable *reporters; /* set of reporting address keys */
  gint64 last;           /* monotonic time of the last report */
} SigdReports;

struct _SigdCall {
  char *id;
  SigdCallKind kind;
  SigdCallState state;
  SigdSession *a; /* the inviter, or the first of a random pair */
  SigdSession *b;
  GStrv common;
  char *code;
  guint ring_source;
  char *secret; /* both sessions hold it: a fresh server re-pairs them with it */
};

typedef struct {
  guint64 matches;
  guint64 relayed;
  guint64 calls_started;
  guint64 invites_created;
  guint64 errors[VCHAT_PROTO_N_ERRORS];
  guint64 refused_full;     /* connections closed at accept: max_connections */
  guint64 refused_address;  /* connections closed at accept: max_pending_per_address */
  guint64 evicted;          /* pending connections closed for a newer one */
  guint64 timeouts;         /* connections too slow with TLS or their request */
  guint64 accept_errors;    /* accept() failures, e.g. out of descriptors */
  guint64 http_refused;     /* requests refused on their headers (405, 413) */
  guint64 too_slow;         /* connections closed for not reading (4004) */
  guint64 sessions_evicted; /* sessions in their grace time ended for a new one */
} SigdMetrics;

struct _SigdServer {
  SigdConfig *config;
  SoupServer *soup;
  char *url;
  char *public_url;

  /* sigd-listener.c */
  GTlsCertificate *cert;
  GSocket *listener;
  guint16 port;
  GSource *accept_source;
  guint accept_retry_source;
  guint deadline_source;
  GSequence *link_deadlines;   /* SigdLink* with a deadline, soonest first */
  GHashTable *links;           /* SigdLink* set */
  GQueue pending;              /* SigdLink*, oldest first */
  GHashTable *pending_per_key; /* address key → pending links */
  GPtrArray *trusted_proxies;  /* GInetAddressMask* */
  GPtrArray *metrics_from;     /* GInetAddressMask* */

  GHashTable *conns;            /* SigdConn* set, owned */
  GHashTable *per_address;      /* address key → number of WebSockets */
  GHashTable *sessions_per_key; /* address key → number of sessions */
  guint slow_source;
  GPtrArray *slow_conns; /* SigdConn* over max_send_queue, for slow_source */
  GHashTable *sessions;      /* id → SigdSession*, owned */
  GHashTable *by_resume;     /* resume token → SigdSession* */
  GHashTable *calls;         /* id → SigdCall*, owned */
  GHashTable *rejoins;       /* call id → SigdSession* waiting for the other side */
  GQueue queue;              /* SigdSession*, in arrival order */
  GHashTable *rematch_block; /* "idA idB" → gint64 monotonic deadline */
  /* sigd-matcher.c */
  GSequence *match_events;   /* what changes who may meet, by time */
  guint match_source;        /* armed to the first of them */
  guint64 match_seq;
  GHashTable *by_interest;   /* interest → set of queued SigdSession* */
  GHashTable *open;          /* queued SigdSession* not insisting on interests */

  SigdStore *store; /* invites, their tombstones, wrong-code attempts */
  GHashTable *remote_joins; /* call id → joins waiting for the owner's server (sigd-remote.c) */
  GHashTable *remote_calls; /* ids of calls with a session on another server */
  guint node_check_source;  /* checks that their servers live */
  GHashTable *remote_resumes; /* token → hellos waiting for another server */
  guint shared_queue_source;  /* moves the waiting to the shared queue, matches them there */
  gboolean node_check_pending;

  GHashTable *reports; /* reported address key → SigdReports* */
  GHashTable *refused; /* address key → gint64 monotonic deadline */

  /* sigd-request.c: the request being handled, and its `id`; whatever the
   * session of request_conn gets meanwhile answers it and carries the id. */
  SigdConn *request_conn;
  JsonNode *request_id;

  SigdMetrics metrics;
  guint ping_source;
  guint sweep_source;
  gint64 sweep_source_at; /* when sweep_source fires */
};

/* sigd-server.c */
void sigd_session_send (SigdSession *session, JsonObject *msg);
void sigd_conn_send_error (SigdConn *conn, VchatProtoError code, const char *ref,
                           const char *format, ...) G_GNUC_PRINTF (4, 5);
SigdCall *sigd_server_start_call (SigdServer *server, SigdCallKind kind, SigdSession *a,
                                  SigdSession *b, GStrv common);
void sigd_server_activate_call (SigdServer *server, SigdCall *call);
/* A call that another server started: its id and secret are given. */
SigdCall *sigd_server_start_call_id (SigdServer *server, const char *id, const char *secret,
                                     SigdCallKind kind, SigdSession *a, SigdSession *b);
/* The call ended on the other server: forget it here, telling nobody. */
void sigd_server_forget_call (SigdServer *server, SigdCall *call, SigdSession *local);
gboolean sigd_session_is_refused (SigdServer *server, SigdSession *session);
/* Keeps the address @key out of the random queue for @ms (taking its
 * queued sessions out): a refusal made here, or by another server sharing
 * the store. */
void sigd_server_refuse_key (SigdServer *server, const char *key, gint64 ms);
char *sigd_random_hex (gsize bytes);
/* Something expires at @at (monotonic µs): sweep then, not before. */
void sigd_server_sweep_at (SigdServer *server, gint64 at);
JsonObject *sigd_peer_object (SigdSession *session);
JsonArray *sigd_strv_to_json (const char *const *strv);

/* A server without sockets, and connections whose frames are collected
 * instead of sent: for the fuzz target (tests/fuzz/fuzz-server.c). */
SigdServer *sigd_server_new_detached (SigdConfig *config);
SigdConn *sigd_conn_new_detached (SigdServer *server, const char *address);
/* As if the client had sent @text in a text frame. */
void sigd_conn_receive (SigdConn *conn, const char *text, gsize len);
/* The frames sent to @conn since the last call (transfer full, char*). */
GPtrArray *sigd_conn_take_sent (SigdConn *conn);
gboolean sigd_conn_is_closed (SigdConn *conn);
/* As if the client's side went, with close @code; frees @conn. */
void sigd_conn_drop (SigdConn *conn, gushort code);

/* sigd-matcher.c */
void sigd_matcher_init (SigdServer *server);
void sigd_matcher_free (SigdServer *server);
void sigd_matcher_enqueue (SigdServer *server, SigdSession *session);
void sigd_matcher_dequeue (SigdServer *server, SigdSession *session);
/* When @session stops insisting on its interests, and on its language
 * (monotonic µs; 0 if it has none to insist on). */
gint64 sigd_matcher_interests_until (SigdServer *server, SigdSession *session);
gint64 sigd_matcher_language_until (SigdServer *server, SigdSession *session);
/* Before a queued session's interests or language change: it leaves the
 * indexes (sigd_matcher_enqueue() puts it back, keeping its place). */
void sigd_matcher_unindex (SigdServer *server, SigdSession *session);
void sigd_matcher_block_pair (SigdServer *server, SigdSession *a, SigdSession *b);
/* @session, queued, has a connection again. */
void sigd_matcher_resumed (SigdServer *server, SigdSession *session);

/* sigd-request.c */
/* Checks the optional `id` of a client's request; on a bad one answers
 * with an error (ref @msg's type) and returns FALSE. */
gboolean sigd_request_begin (SigdConn *conn, VchatMsg *msg);
void sigd_request_end (SigdConn *conn);
/* A copy of the id of the request @conn is handling, or NULL. */
JsonNode *sigd_request_dup_id (SigdConn *conn);
/* The id of the request @conn is handling (transfer none), or NULL. */
JsonNode *sigd_request_id (SigdConn *conn);
/* Adds @id (if any) to @msg as its `id`. */
void sigd_request_tag (JsonObject *msg, JsonNode *id);

/* sigd-invites.c */
/* Starts with the store in memory; sigd_invites_use_redis() replaces it
 * (config->redis), before any client comes. */
void sigd_invites_init (SigdServer *server);
gboolean sigd_invites_use_redis (SigdServer *server, GError **error);
void sigd_invites_free (SigdServer *server);
void sigd_invites_handle_create (SigdServer *server, SigdConn *conn, VchatMsg *msg);
void sigd_invites_handle_cancel (SigdServer *server, SigdConn *conn, VchatMsg *msg);
void sigd_invites_handle_join (SigdServer *server, SigdConn *conn, VchatMsg *msg);
void sigd_invites_handle_reclaim (SigdServer *server, SigdConn *conn, VchatMsg *msg);
void sigd_invites_drop_session (SigdServer *server, SigdSession *session);
/* Forgets what has expired; returns when the next thing does (G_MAXINT64
 * for never). */
gint64 sigd_invites_sweep (SigdServer *server);
guint sigd_invites_count (SigdServer *server);

/* With a shared store: keeps @session's record there, for a takeover if
 * this server dies (sigd-remote.c). */
void sigd_server_save_session (SigdServer *server, SigdSession *session);
/* Resuming on this server a session of another one (sigd-remote.c). The
 * old server: @session (whose token is @token) leaves this server for
 * @to_node; returns its state, or NULL if the token is not its. */
JsonObject *sigd_server_hand_over (SigdServer *server, SigdSession *session, const char *to_node,
                                   const char *token);
/* The new server: the hello on @conn (NULL if it went meanwhile) gets the
 * session of @state, or a new one if @state is NULL. */
void sigd_server_hello_done (SigdServer *server, SigdConn *conn, JsonObject *state,
                             const char *client, const char *name, JsonNode *id);

/* sigd-invites.c, for sigd-remote.c */
void sigd_invites_arm_ring (SigdServer *server, SigdCall *call);
void sigd_invites_send_incoming (SigdServer *server, SigdCall *call);
void sigd_invites_put_back (SigdServer *server, const SigdInvite *invite);

/* sigd-remote.c: calls whose other side is connected to another server
 * sharing the store */
void sigd_remote_init (SigdServer *server);
void sigd_remote_free (SigdServer *server);
/* Sends @msg to @session (its node set) on its server. */
void sigd_remote_send (SigdSession *session, JsonObject *msg);
/* Rings @invite's owner on its server for the local session @joiner, who
 * sent the invite_join with request id @id; the store has taken @invite. */
void sigd_remote_ring (SigdServer *server, SigdSession *joiner, JsonNode *id,
                       const SigdInvite *invite);
/* Sends @session on @node a message with an invite @code. */
void sigd_remote_tell_code (SigdServer *server, const char *node, const char *session,
                            VchatMsgType type, const char *code);
void sigd_remote_resume (SigdServer *server, SigdConn *conn, const char *token, const char *client,
                         const char *name, JsonNode *id);
void sigd_remote_conn_gone (SigdServer *server, SigdConn *conn);
/* {id, node, client, name?, key} of @session (a stand-in's node, or ours). */
JsonObject *sigd_remote_describe (SigdServer *server, SigdSession *session);
SigdSession *sigd_remote_stand_in (SigdServer *server, JsonObject *desc);
void sigd_remote_call_added (SigdServer *server, SigdCall *call);
/* Tells @peer's server that @session, its peer in @call, is now on @node. */
void sigd_remote_moved (SigdServer *server, SigdSession *peer, const char *call,
                        const char *session, const char *node);
/* The random queue shared by the servers (with --redis): someone queued
 * here; the rematch block of @a and @b counts on every server. */
void sigd_remote_queued (SigdServer *server);
void sigd_remote_block_pair (SigdServer *server, SigdSession *a, SigdSession *b);
/* @call, with a session on another server, ends here. */
void sigd_remote_call_gone (SigdServer *server, SigdCall *call);
/* What another server published for this one (SigdStore.deliver). */
void sigd_remote_deliver (gpointer server, const char *text, gsize len);

/* sigd-turn.c */
/* STUN servers, and with @with_turn the TURN servers with credentials for
 * @session_id. */
JsonArray *sigd_turn_ice_servers (const SigdConfig *config, const char *session_id, gint64 now_s,
                                  gboolean with_turn);
JsonArray *sigd_call_ice_servers (SigdServer *server, SigdSession *session);

/* sigd-listener.c */
gboolean sigd_listener_size_limits (SigdConfig *config, GError **error);
gboolean sigd_listener_start (SigdServer *server, GInetAddress *address, GError **error);
void sigd_listener_check_limits (SigdServer *server);
void sigd_listener_stop (SigdServer *server);
void sigd_listener_free (SigdServer *server);
void sigd_listener_count (SigdServer *server, guint counts[SIGD_LINK_N_STATES]);
const char *sigd_link_state_to_string (SigdLinkState state);
SigdLink *sigd_link_from_message (SoupServerMessage *msg);
void sigd_link_got_headers (SigdLink *link, SoupServerMessage *msg);
void sigd_link_upgraded (SigdLink *link);
void sigd_link_close_within (SigdLink *link, double seconds);
SigdStream *sigd_link_get_stream (SigdLink *link);
const char *sigd_link_get_key (SigdLink *link);
const char *sigd_link_get_address (SigdLink *link);

/* sigd-http.c */
void sigd_http_register (SigdServer *server);
