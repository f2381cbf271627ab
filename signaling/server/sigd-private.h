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
#include "vchat-protocol.h"

typedef struct _SigdServer SigdServer;
typedef struct _SigdConn SigdConn;
typedef struct _SigdSession SigdSession;
typedef struct _SigdCall SigdCall;

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
  char *address;
  SigdSession *session;
  gint64 last_seen;
  double tokens;
  gint64 last_refill;
  gint64 limited_since; /* start of the current flood, 0 if none yet */
  gint64 last_limited;
  gboolean counted; /* in server->per_address */
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

  gboolean queued;
  gint64 queued_since;
  GStrv interests; /* of the last `queue`, normalised */
  char *language;

  SigdCall *call;      /* ringing or active, at most one */
  GQueue recent_calls; /* SigdPastCall, for reports after a call */
  guint open_invites;
};

typedef struct {
  char *call;
  char *peer;
} SigdPastCall;

struct _SigdCall {
  char *id;
  SigdCallKind kind;
  SigdCallState state;
  SigdSession *a; /* the inviter, or the first of a random pair */
  SigdSession *b;
  GStrv common;
  char *code;
  guint ring_source;
};

typedef struct {
  guint64 matches;
  guint64 relayed;
  guint64 calls_started;
  guint64 invites_created;
  guint64 errors[VCHAT_PROTO_N_ERRORS];
} SigdMetrics;

struct _SigdServer {
  SigdConfig *config;
  SoupServer *soup;
  char *public_url;

  GHashTable *conns;         /* SigdConn* set, owned */
  GHashTable *per_address;   /* address → number of connections */
  GHashTable *sessions;      /* id → SigdSession*, owned */
  GHashTable *by_resume;     /* resume token → SigdSession* */
  GHashTable *calls;         /* id → SigdCall*, owned */
  GQueue queue;              /* SigdSession*, in arrival order */
  GHashTable *rematch_block; /* "idA idB" → gint64 monotonic deadline */

  GHashTable *invites;       /* code → SigdInvite*, owned */
  GHashTable *tombstones;    /* code → gint64 monotonic deadline */
  GHashTable *join_failures; /* address → SigdAttempts* */

  GHashTable *reports; /* reported session id → GHashTable set of reporter ids */
  GHashTable *refused; /* session id → gint64 monotonic deadline */

  SigdMetrics metrics;
  guint ping_source;
  guint match_source;
  guint sweep_source;
};

/* sigd-server.c */
void sigd_session_send (SigdSession *session, JsonObject *msg);
void sigd_conn_send_error (SigdConn *conn, VchatProtoError code, const char *ref,
                           const char *format, ...) G_GNUC_PRINTF (4, 5);
SigdCall *sigd_server_start_call (SigdServer *server, SigdCallKind kind, SigdSession *a,
                                  SigdSession *b, GStrv common);
void sigd_server_activate_call (SigdServer *server, SigdCall *call);
gboolean sigd_session_is_refused (SigdServer *server, SigdSession *session);
char *sigd_random_hex (gsize bytes);
JsonObject *sigd_peer_object (SigdSession *session);
JsonArray *sigd_strv_to_json (const char *const *strv);

/* sigd-matcher.c */
void sigd_matcher_enqueue (SigdServer *server, SigdSession *session);
void sigd_matcher_dequeue (SigdServer *server, SigdSession *session);
void sigd_matcher_block_pair (SigdServer *server, SigdSession *a, SigdSession *b);
void sigd_matcher_run (SigdServer *server);

/* sigd-invites.c */
void sigd_invites_init (SigdServer *server);
void sigd_invites_handle_create (SigdServer *server, SigdConn *conn, VchatMsg *msg);
void sigd_invites_handle_cancel (SigdServer *server, SigdConn *conn, VchatMsg *msg);
void sigd_invites_handle_join (SigdServer *server, SigdConn *conn, VchatMsg *msg);
void sigd_invites_handle_reclaim (SigdServer *server, SigdConn *conn, VchatMsg *msg);
void sigd_invites_drop_session (SigdServer *server, SigdSession *session);
void sigd_invites_sweep (SigdServer *server);
guint sigd_invites_count (SigdServer *server);

/* sigd-turn.c */
JsonArray *sigd_turn_ice_servers (const SigdConfig *config, const char *session_id, gint64 now_s);

/* sigd-http.c */
void sigd_http_register (SigdServer *server);
