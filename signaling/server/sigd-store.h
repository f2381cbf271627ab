/* sigd-store.h: the server's shared state, asynchronously, by ids
 *
 * What several vchat-signald processes would share lives behind this
 * interface, named by ids and codes rather than pointers: today invites and
 * their claims, the codes of ended invites (tombstones) and wrong-code
 * attempts per address. sigd-store-memory.c keeps them in this process (the
 * default); sigd-store-redis.c keeps them in Redis, so that servers behind
 * one address share them.
 *
 * Every operation answers through its callback, on the main loop: at once,
 * before the call returns (the memory store), or later (Redis). A caller
 * must expect either, and must look its sessions up again by id in the
 * callback: they may have ended meanwhile. When the store goes away with
 * operations pending, their callbacks get SIGD_STORE_CANCELLED and must
 * touch nothing but their own data.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include "sigd-config.h"

/* The shared queue's rules at one moment: the time now on the clock of
 * its since_ms (the wall clock, in ms), and how long someone insists on
 * their interests, and on their language. */
typedef struct {
  gint64 now_ms;
  gint64 interest_wait_ms;
  gint64 language_wait_ms;
} SigdQueueWaits;

typedef struct _SigdStore SigdStore;

typedef enum {
  SIGD_STORE_OK,
  SIGD_STORE_NOT_FOUND,   /* no such invite */
  SIGD_STORE_EXPIRED,     /* the invite expired or was cancelled */
  SIGD_STORE_LIMIT,       /* too many open invites from this address */
  SIGD_STORE_UNAVAILABLE, /* the store did not answer (Redis is down) */
  SIGD_STORE_CANCELLED,   /* the store is going away */
} SigdStoreStatus;

typedef struct {
  char *code;
  char *owner;   /* session id, or NULL while the owner is away */
  char *claim;   /* secret: invite_reclaim makes its sender the owner */
  char *address; /* key of the creating client's address */
  gint64 expires; /* Unix time, µs */
  char *node;     /* the server its owner is connected to (a shared store), or NULL */
} SigdInvite;

SigdInvite *sigd_invite_copy (const SigdInvite *invite);
void sigd_invite_free (SigdInvite *invite);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SigdInvite, sigd_invite_free)

/* @invite is NULL unless @status is SIGD_STORE_OK (transfer none). */
typedef void (*SigdStoreInviteCb) (SigdStoreStatus status, const SigdInvite *invite, gpointer data);
typedef void (*SigdStoreCountCb) (SigdStoreStatus status, guint count, gpointer data);
typedef void (*SigdStoreCountsCb) (SigdStoreStatus status, guint a, guint b, gpointer data);
typedef void (*SigdStoreStringCb) (SigdStoreStatus status, const char *value, gpointer data);
/* @alive[i] says whether the i-th node asked about is alive (NULL unless
 * @status is SIGD_STORE_OK). */
typedef void (*SigdStoreAliveCb) (SigdStoreStatus status, const gboolean *alive, gpointer data);
/* resume_take's answer: @state NULL, the session @session lives on the
 * live server @node (ask it to hand the session over); @state set, this
 * server took the session of a dead server over, and @peer_node is where
 * the record of its call's peer says the peer is now ("" if unknown).
 * SIGD_STORE_NOT_FOUND: no such token, or it expired. */
typedef void (*SigdStoreTakeCb) (SigdStoreStatus status, const char *node, const char *session,
                                 const char *state, const char *peer_node, gpointer data);
/* An invite ran out; the store removed it (a tombstone remains). */
typedef void (*SigdStoreExpiredFunc) (const SigdInvite *invite, gpointer data);

typedef struct {
  void (*free) (SigdStore *store);
  /* Adds @invite unless its address holds @max_per_address open ones
   * (SIGD_STORE_LIMIT). */
  void (*invite_add) (SigdStore *store, const SigdInvite *invite, guint max_per_address,
                      SigdStoreInviteCb cb, gpointer data);
  /* An open invite; SIGD_STORE_EXPIRED for one that ran out or was ended
   * within the last hour. */
  void (*invite_get) (SigdStore *store, const char *code, SigdStoreInviteCb cb, gpointer data);
  /* Ends an open invite (used up or cancelled), atomically: of two takers
   * one gets it, the other SIGD_STORE_EXPIRED. Answers what it was. */
  void (*invite_take) (SigdStore *store, const char *code, SigdStoreInviteCb cb, gpointer data);
  /* Gives an open invite to @owner (NULL: nobody); answers what it was
   * before, so the caller can tell the old owner. */
  void (*invite_set_owner) (SigdStore *store, const char *code, const char *owner,
                            SigdStoreInviteCb cb, gpointer data);
  /* The session @owner ended: its invites stay open without an owner. */
  void (*invites_disown) (SigdStore *store, const char *owner);
  /* Wrong codes (or claims) from @key within the last minute. */
  void (*attempts_get) (SigdStore *store, const char *key, SigdStoreCountCb cb, gpointer data);
  /* Counts one more; answers the count once it is stored (@cb may be
   * NULL), so that an answer sent from @cb is never ahead of the count. */
  void (*attempts_add) (SigdStore *store, const char *key, SigdStoreCountCb cb, gpointer data);
  /* Forgets what expired; returns when the next thing does (monotonic µs,
   * G_MAXINT64 for never: a store whose keys expire by themselves). */
  gint64 (*sweep) (SigdStore *store);
  /* Open invites, for the metrics: all of them, or (Redis) those this
   * server knows of. */
  guint (*invites_count) (SigdStore *store);
  /* Tombstones kept here (0 for a store whose keys expire by themselves). */
  guint (*tombstones_count) (SigdStore *store);
  /* Sends @text to the server @node, if it listens (NULL in a store that is
   * not shared); @node NULL: to every server, this one too. Fire and
   * forget: a message to a server that died is lost. */
  void (*publish) (SigdStore *store, const char *node, const char *text);
  /* Which of @nodes are alive (their servers refresh a key every second). */
  void (*nodes_alive) (SigdStore *store, const char *const *nodes, guint n_nodes,
                       SigdStoreAliveCb cb, gpointer data);
  /* Resume tokens of this server's sessions, so that another server can
   * find where a session lives: "NODE SESSION". */
  void (*resume_set) (SigdStore *store, const char *token, const char *session);
  void (*resume_forget) (SigdStore *store, const char *token);
  void (*resume_get) (SigdStore *store, const char *token, SigdStoreStringCb cb, gpointer data);
  /* Session records, so that a session outlives its server: @state (JSON,
   * what sigd_server_hello_done() takes) is kept with this server as the
   * session's node until the session ends (session_forget) or another
   * server takes it. */
  void (*session_save) (SigdStore *store, const char *session, const char *state);
  void (*session_forget) (SigdStore *store, const char *session);
  /* The session of resume token @token: where it lives, or, if its server
   * stopped saying it lives less than @grace_ms ago, its record, taken by
   * this server in one atomic step (of two servers, one gets it; the token
   * is spent). */
  void (*resume_take) (SigdStore *store, const char *token, gint64 grace_ms, SigdStoreTakeCb cb,
                       gpointer data);
  /* WebSockets open from the address @key on all the servers (with a
   * shared store; not in memory, where the server counts them): counts
   * @delta (+1 or -1) for this server and, for +1, answers the total
   * over the servers alive (a dead server's count goes with it), and the
   * sessions of that address on the other servers alive. */
  void (*conns_add) (SigdStore *store, const char *key, int delta, SigdStoreCountsCb cb,
                     gpointer data);
  /* Sessions of the address @key on this server (those in their grace
   * time too), for the other servers' limit: @delta is +1 or -1. */
  void (*sessions_add) (SigdStore *store, const char *key, int delta);
  /* The open invites of @owner now ring it on @node. */
  void (*invites_move) (SigdStore *store, const char *owner, const char *node);
  /* The random queue shared by the servers: @desc (JSON) describes the
   * session to whoever is paired with it; queue_match takes the best
   * partner for @session and both out of the queue, atomically, and
   * answers the partner's desc. The partner is one it may meet by @waits,
   * as the local matcher decides (sigd-matcher.c): someone with interests
   * insists on sharing one until interest_wait_ms after since_ms, and two
   * asking for different languages are kept apart until language_wait_ms
   * after theirs (NOT_FOUND: nobody, or @session was taken;
   * EXPIRED: @session is not in the queue, nor taken by a match still to
   * be told: queue it again). An answer lost (UNAVAILABLE) may hide a
   * match made: asking again with the same @token gives it, for a few
   * seconds; a new @token says the last answer arrived. */
  void (*queue_add) (SigdStore *store, const char *session, const char *desc,
                     const char *interests, const char *language, gint64 since_ms);
  void (*queue_remove) (SigdStore *store, const char *session);
  void (*queue_match) (SigdStore *store, const char *session, const char *token,
                       const SigdQueueWaits *waits, SigdStoreStringCb cb, gpointer data);
  void (*block_pair) (SigdStore *store, const char *a, const char *b, gint64 ms);
  /* Reports, shared (NULL in memory, where the server counts them): the
   * address @reporter reported the address @key; when @threshold distinct
   * reporters did, @key is refused for @refuse_ms and its reports are
   * forgotten. Answers @refuse_ms if this report refused it, else 0. */
  void (*report_add) (SigdStore *store, const char *key, const char *reporter, guint threshold,
                      gint64 refuse_ms, SigdStoreCountCb cb, gpointer data);
  /* How much longer @key is refused, in ms (0: it is not). */
  void (*refused_get) (SigdStore *store, const char *key, SigdStoreCountCb cb, gpointer data);
} SigdStoreClass;

struct _SigdStore {
  const SigdStoreClass *klass;
  SigdConfig *config;
  /* Told when an invite runs out, so that its owner hears of it. */
  SigdStoreExpiredFunc expired_func;
  gpointer expired_data;
  /* Asks the server to call sweep at a monotonic time. */
  void (*sweep_at) (gpointer server, gint64 at);
  gpointer server;
  /* A shared store: this server's name among those sharing it, and what to
   * do with what other servers publish to it. NULL in memory. */
  char *node;
  void (*deliver) (gpointer server, const char *text, gsize len);
};

#define SIGD_TOMBSTONE_S 3600
#define SIGD_ATTEMPT_WINDOW_S 60

SigdStore *sigd_store_memory_new (SigdConfig *config);
/* NULL with @error if @url is not a Redis URL or support was not built;
 * connecting happens in the background (and again after a failure). */
SigdStore *sigd_store_redis_new (SigdConfig *config, const char *url, GError **error);
gboolean sigd_store_redis_supported (void);
/* Connects to Redis once, blocking (up to 2 s): FALSE with @error if it
 * refuses the URL's password, needs one, or has no such database. */
gboolean sigd_store_redis_check (SigdStore *store, GError **error);

void sigd_store_free (SigdStore *store);
void sigd_store_invite_add (SigdStore *store, const SigdInvite *invite, guint max_per_address,
                            SigdStoreInviteCb cb, gpointer data);
void sigd_store_invite_get (SigdStore *store, const char *code, SigdStoreInviteCb cb,
                            gpointer data);
void sigd_store_invite_take (SigdStore *store, const char *code, SigdStoreInviteCb cb,
                             gpointer data);
void sigd_store_invite_set_owner (SigdStore *store, const char *code, const char *owner,
                                  SigdStoreInviteCb cb, gpointer data);
void sigd_store_invites_disown (SigdStore *store, const char *owner);
void sigd_store_attempts_get (SigdStore *store, const char *key, SigdStoreCountCb cb,
                              gpointer data);
void sigd_store_attempts_add (SigdStore *store, const char *key, SigdStoreCountCb cb,
                              gpointer data);
gint64 sigd_store_sweep (SigdStore *store);
guint sigd_store_invites_count (SigdStore *store);
guint sigd_store_tombstones_count (SigdStore *store);
/* Whether this store is shared with other servers (and publish works). */
gboolean sigd_store_is_shared (SigdStore *store);
void sigd_store_publish (SigdStore *store, const char *node, const char *text);
void sigd_store_nodes_alive (SigdStore *store, const char *const *nodes, guint n_nodes,
                             SigdStoreAliveCb cb, gpointer data);
void sigd_store_resume_set (SigdStore *store, const char *token, const char *session);
void sigd_store_resume_forget (SigdStore *store, const char *token);
void sigd_store_resume_get (SigdStore *store, const char *token, SigdStoreStringCb cb,
                            gpointer data);
void sigd_store_session_save (SigdStore *store, const char *session, const char *state);
void sigd_store_session_forget (SigdStore *store, const char *session);
void sigd_store_resume_take (SigdStore *store, const char *token, gint64 grace_ms,
                             SigdStoreTakeCb cb, gpointer data);
void sigd_store_conns_add (SigdStore *store, const char *key, int delta, SigdStoreCountsCb cb,
                           gpointer data);
void sigd_store_sessions_add (SigdStore *store, const char *key, int delta);
void sigd_store_invites_move (SigdStore *store, const char *owner, const char *node);
void sigd_store_queue_add (SigdStore *store, const char *session, const char *desc,
                           const char *interests, const char *language, gint64 since_ms);
void sigd_store_queue_remove (SigdStore *store, const char *session);
void sigd_store_queue_match (SigdStore *store, const char *session, const char *token,
                             const SigdQueueWaits *waits, SigdStoreStringCb cb, gpointer data);
void sigd_store_block_pair (SigdStore *store, const char *a, const char *b, gint64 ms);
void sigd_store_report_add (SigdStore *store, const char *key, const char *reporter,
                            guint threshold, gint64 refuse_ms, SigdStoreCountCb cb,
                            gpointer data);
void sigd_store_refused_get (SigdStore *store, const char *key, SigdStoreCountCb cb,
                             gpointer data);
