/* sigd-store-redis.c: the store in Redis, shared by several servers
 *
 * Invites are hashes that expire with the invite (PEXPIREAT), so nothing
 * sweeps them; each comes with a tombstone key that outlives it by an hour
 * (so that joining an ended invite says invite-expired), a sorted set per
 * client address (the open-invite limit) and a set per owner session (to
 * disown them when the session ends). Every change that reads before it
 * writes is one Lua script, which Redis runs atomically: of two servers
 * taking one invite, one gets it.
 *
 * Everything is asynchronous on the main loop (hiredis and its GLib
 * adapter). Redis that does not answer within COMMAND_TIMEOUT_MS, or is
 * not there, fails the requests waiting on it with SIGD_STORE_UNAVAILABLE
 * (the client gets an error it can read), and the store connects again in
 * the background; a slow or dead Redis never blocks the server.
 *
 * Keys: vchat:inv:CODE (hash: owner, claim, address, expires µs),
 * vchat:tomb:CODE, vchat:addr:KEY (zset code → expiry ms),
 * vchat:own:SESSION (set of codes), vchat:att:KEY (wrong codes, 60 s),
 * vchat:sess:SESSION (hash: node, state: a session's record, so that
 * another server can take it over when its own dies), vchat:alive:NODE
 * (a server lives), vchat:seen:NODE (when it last said so, ms),
 * vchat:conns:KEY and vchat:sessions:KEY (hash: node → WebSockets open,
 * sessions kept, from the address there).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "sigd-store.h"

#ifndef SIGD_HAVE_HIREDIS

gboolean
sigd_store_redis_supported (void)
{
  return FALSE;
}

gboolean
sigd_store_redis_check (SigdStore *store, GError **error)
{
  return TRUE;
}

SigdStore *
sigd_store_redis_new (SigdConfig *config, const char *url, GError **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               "--redis was given, but this vchat-signald was built without Redis support; "
               "install libhiredis-dev and build again (meson configure -Dredis=enabled)");
  return NULL;
}

#else /* SIGD_HAVE_HIREDIS */

#include <hiredis/adapters/glib.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#define COMMAND_TIMEOUT_MS 2000
/* Each server says it lives every HEARTBEAT_MS, in a key that lasts
 * ALIVE_MS: a server whose key is gone died (or lost Redis). */
#define HEARTBEAT_MS 1000
#define ALIVE_MS 3500
#define RECONNECT_MS 1000
#define PREFIX "vchat:"

typedef struct _RedisStore RedisStore;

typedef enum {
  REPLY_INVITE,
  REPLY_COUNT,
  REPLY_NONE,
  REPLY_ALIVE,
  REPLY_STRING,
  REPLY_TAKE,
  REPLY_COUNTS
} ReplyKind;

/* One command waiting for its reply. */
typedef struct {
  RedisStore *store;
  ReplyKind kind;
  SigdStoreInviteCb invite_cb;
  SigdStoreCountCb count_cb;
  SigdStoreAliveCb alive_cb;
  SigdStoreStringCb string_cb;
  SigdStoreTakeCb take_cb;
  SigdStoreCountsCb counts_cb;
  guint n_nodes;
  gpointer data;
  gint64 sent; /* monotonic µs */
  GList *link; /* in store->pending */
  char *code;  /* the invite's code, to keep its local expiry */
  gboolean track; /* an invite this server made or took: it tells its owner of the expiry */
  gboolean forget; /* an invite this server ended: no expiry to tell */
} Cmd;

typedef struct {
  char *owner;
  gint64 expires; /* Unix µs */
} Local;

struct _RedisStore {
  SigdStore parent;
  char *url; /* for messages: the URL without its password */
  char *host; /* or NULL with path */
  char *path;
  int port;
  int db;
  char *user;     /* AUTH USER PASSWORD (Redis 6 ACLs), or NULL */
  char *password; /* AUTH PASSWORD, or NULL: none */
  gboolean auth_warned;
  redisAsyncContext *ac; /* NULL while not connected */
  GSource *source;
  gboolean connected;
  gboolean closing;
  guint reconnect_source;
  guint timeout_source;
  GQueue pending;     /* Cmd*, oldest first (replies come in order) */
  GHashTable *local;  /* code → Local*: open invites of sessions here, for expiry */
  gboolean warned;    /* said that Redis is away, once until it is back */
  /* A second connection, subscribed to this server's channel: what other
   * servers send its sessions. */
  redisAsyncContext *sub_ac;
  GSource *sub_source;
  guint sub_reconnect_source;
  guint heartbeat_source;
};

static void redis_connect (RedisStore *self);
static void sub_connect (RedisStore *self);
static gboolean heartbeat_cb (gpointer data);

/* Scripts. Time comes from the server (ARGV), in ms. */

static const char *ADD_SCRIPT =
  "local code, owner, claim, addr, exp, max, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], "
  "  tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])\n"
  "local ak = '" PREFIX "addr:' .. addr\n"
  "redis.call('ZREMRANGEBYSCORE', ak, '-inf', now)\n"
  "if redis.call('ZCARD', ak) >= max then return 0 end\n"
  "local ik = '" PREFIX "inv:' .. code\n"
  "redis.call('HSET', ik, 'owner', owner, 'claim', claim, 'address', addr, 'expires', ARGV[8], "
  "  'node', ARGV[9])\n"
  "redis.call('PEXPIREAT', ik, exp)\n"
  "redis.call('SET', '" PREFIX "tomb:' .. code, '1', 'PXAT', exp + 3600000)\n"
  "redis.call('ZADD', ak, exp, code)\n"
  "local t = redis.call('PTTL', ak)\n"
  "if t < 0 or now + t < exp then redis.call('PEXPIREAT', ak, exp) end\n"
  "if owner ~= '' then\n"
  "  local ok = '" PREFIX "own:' .. owner\n"
  "  redis.call('SADD', ok, code)\n"
  "  t = redis.call('PTTL', ok)\n"
  "  if t < 0 or now + t < exp then redis.call('PEXPIREAT', ok, exp) end\n"
  "end\n"
  "return 1\n";

/* {1, owner, claim, address, expires} for an open invite, {2} for a
 * tombstone, {0} for nothing. */
#define GET_BODY                                                                      \
  "local ik = '" PREFIX "inv:' .. ARGV[1]\n"                                          \
  "local v = redis.call('HMGET', ik, 'owner', 'claim', 'address', 'expires', 'node')\n" \
  "if not v[4] then\n"                                                                \
  "  if redis.call('EXISTS', '" PREFIX "tomb:' .. ARGV[1]) == 1 then return {2} end\n" \
  "  return {0}\n"                                                                    \
  "end\n"

static const char *GET_SCRIPT = GET_BODY "return {1, v[1], v[2], v[3], v[4], v[5] or ''}\n";

static const char *TAKE_SCRIPT =
  GET_BODY
  "redis.call('DEL', ik)\n"
  "redis.call('SET', '" PREFIX "tomb:' .. ARGV[1], '1', 'PX', 3600000)\n"
  "redis.call('ZREM', '" PREFIX "addr:' .. v[3], ARGV[1])\n"
  "if v[1] ~= '' then redis.call('SREM', '" PREFIX "own:' .. v[1], ARGV[1]) end\n"
  "return {1, v[1], v[2], v[3], v[4], v[5] or ''}\n";

static const char *SET_OWNER_SCRIPT =
  GET_BODY
  "local owner, now = ARGV[2], tonumber(ARGV[3])\n"
  "redis.call('HSET', ik, 'owner', owner, 'node', ARGV[4])\n"
  "if v[1] ~= '' then redis.call('SREM', '" PREFIX "own:' .. v[1], ARGV[1]) end\n"
  "if owner ~= '' then\n"
  "  local ok = '" PREFIX "own:' .. owner\n"
  "  local exp = math.floor(tonumber(v[4]) / 1000)\n"
  "  redis.call('SADD', ok, ARGV[1])\n"
  "  local t = redis.call('PTTL', ok)\n"
  "  if t < 0 or now + t < exp then redis.call('PEXPIREAT', ok, exp) end\n"
  "end\n"
  "return {1, v[1], v[2], v[3], v[4], v[5] or ''}\n";

static const char *DISOWN_SCRIPT =
  "local ok = '" PREFIX "own:' .. ARGV[1]\n"
  "for _, code in ipairs(redis.call('SMEMBERS', ok)) do\n"
  "  local ik = '" PREFIX "inv:' .. code\n"
  "  if redis.call('HGET', ik, 'owner') == ARGV[1] then redis.call('HSET', ik, 'owner', '', 'node', '') end\n"
  "end\n"
  "redis.call('DEL', ok)\n"
  "return 1\n";

static const char *MOVE_SCRIPT =
  "for _, code in ipairs(redis.call('SMEMBERS', '" PREFIX "own:' .. ARGV[1])) do\n"
  "  local ik = '" PREFIX "inv:' .. code\n"
  "  if redis.call('HGET', ik, 'owner') == ARGV[1] then redis.call('HSET', ik, 'node', ARGV[2]) end\n"
  "end\n"
  "return 1\n";

/* The shared random queue: vchat:queue (zset: session → since, ms),
 * vchat:qe:SESSION (hash: node, desc, interests as lines, lang), for each
 * interest vchat:qi:INTEREST (set: who waits with it), and vchat:qn (zset,
 * like vchat:queue: who waits without interests). */
static const char *QUEUE_ADD_SCRIPT =
  "redis.call('HSET', '" PREFIX "qe:' .. ARGV[1], 'node', ARGV[2], 'desc', ARGV[3], "
  "  'interests', ARGV[4], 'lang', ARGV[5])\n"
  "redis.call('EXPIRE', '" PREFIX "qe:' .. ARGV[1], 86400)\n"
  "for w in string.gmatch(ARGV[4], '[^\\n]+') do\n"
  "  redis.call('SADD', '" PREFIX "qi:' .. w, ARGV[1])\n"
  "end\n"
  "if ARGV[4] == '' then redis.call('ZADD', '" PREFIX "qn', ARGV[6], ARGV[1]) end\n"
  "redis.call('ZADD', '" PREFIX "queue', ARGV[6], ARGV[1])\n"
  "return 1\n";

/* Takes a session out of the queue and its indexes. */
#define UNQUEUE_FUNCTION \
  "local function unqueue(id)\n" \
  "  local lines = redis.call('HGET', '" PREFIX "qe:' .. id, 'interests')\n" \
  "  for w in string.gmatch(lines or '', '[^\\n]+') do\n" \
  "    redis.call('SREM', '" PREFIX "qi:' .. w, id)\n" \
  "  end\n" \
  "  redis.call('ZREM', '" PREFIX "queue', id)\n" \
  "  redis.call('ZREM', '" PREFIX "qn', id)\n" \
  "  redis.call('DEL', '" PREFIX "qe:' .. id)\n" \
  "end\n"


/* Among the 200 who waited longest, those it may meet now (ARGV 3-5: the
 * time, the interest and language waits; the rules of sigd-matcher.c):
 * most common interests, then the same language, then the longest wait; never a pair blocked by `next`, never
 * someone whose server is gone (dropped from the queue). Both leave the
 * queue in the same step, so nobody is paired twice.
 *
 * The answer can be lost while the script still ran (Redis stuck past the
 * command timeout: the server gave up and connected again, Redis went on
 * later). So a match leaves, for MATCH_KEEP_MS, vchat:qm:ME (the attempt's
 * token, the partner, the partner's desc) and vchat:qt:PARTNER (ME: taken,
 * a bit longer); the server asks again with the same token until it hears
 * an answer, and is then given that match. A new token means the last
 * answer arrived: the record is dropped. Someone neither in the queue nor
 * taken by a pending match lost its place (a lost answer whose server
 * never asked again, or an add that never arrived): 2, queue it again. */
#define MATCH_KEEP_MS "10000"
#define TAKEN_KEEP_MS "11000"
static const char *QUEUE_MATCH_SCRIPT =
  UNQUEUE_FUNCTION
  "local me, token = ARGV[1], ARGV[2]\n"
  "local q = '" PREFIX "queue'\n"
  "local mk = '" PREFIX "qm:' .. me\n"
  "local rec = redis.call('GET', mk)\n"
  "if rec then\n"
  "  local a = string.find(rec, '\\n', 1, true)\n"
  "  local b = a and string.find(rec, '\\n', a + 1, true)\n"
  "  redis.call('DEL', mk)\n"
  "  if b then\n"
  "    local tk = '" PREFIX "qt:' .. string.sub(rec, a + 1, b - 1)\n"
  "    local mine = redis.call('GET', tk) == me\n"
  "    if mine then redis.call('DEL', tk) end\n"
  "    if mine and string.sub(rec, 1, a - 1) == token then\n"
  "      unqueue(me)\n"
  "      return string.sub(rec, b + 1)\n"
  "    end\n"
  "  end\n"
  "end\n"
  "if not redis.call('ZSCORE', q, me) then\n"
  "  if redis.call('EXISTS', '" PREFIX "qt:' .. me) == 1 then return false end\n"
  "  return 2\n"
  "end\n"
  "local now, iw, lw = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])\n"
  "local my_waited = now - tonumber(redis.call('ZSCORE', q, me))\n"
  "local mine = redis.call('HMGET', '" PREFIX "qe:' .. me, 'interests', 'lang')\n"
  "local my_lang = mine[2] or ''\n"
  "local set = {}\n"
  "local my_any = false\n"
  "for w in string.gmatch(mine[1] or '', '[^\\n]+') do set[w] = true; my_any = true end\n"
  "local i_insist = my_any and my_waited < iw\n"
  "local l_insist = my_lang ~= '' and my_waited < lw\n"
  "local best, best_score, best_waited = nil, -1, -1\n"
  /* Those sharing an interest (up to 50 for each), wherever they are in
   * the queue; the 200 without interests who waited longest; and the 200
   * who waited longest (if any of those who insist on their interests
   * stopped, these did: the waits are the same for everyone). */
  "local cands, seen = {}, { [me] = true }\n"
  "for w in pairs(set) do\n"
  "  for _, c in ipairs(redis.call('SRANDMEMBER', '" PREFIX "qi:' .. w, 50)) do\n"
  "    if not seen[c] then\n"
  "      seen[c] = true\n"
  "      local since = redis.call('ZSCORE', q, c)\n"
  "      if since then\n"
  "        cands[#cands + 1] = c\n"
  "        cands[#cands + 1] = since\n"
  "      else\n"
  "        redis.call('SREM', '" PREFIX "qi:' .. w, c)\n"
  "      end\n"
  "    end\n"
  "  end\n"
  "end\n"
  "for _, z in ipairs({ '" PREFIX "qn', q }) do\n"
  "  local first = redis.call('ZRANGE', z, 0, 199, 'WITHSCORES')\n"
  "  for k = 1, #first, 2 do\n"
  "    if not seen[first[k]] then\n"
  "      seen[first[k]] = true\n"
  "      cands[#cands + 1] = first[k]\n"
  "      cands[#cands + 1] = first[k + 1]\n"
  "    end\n"
  "  end\n"
  "end\n"
  "for k = 1, #cands, 2 do\n"
  "  local c, waited = cands[k], now - tonumber(cands[k + 1])\n"
  "  do\n"
  "    local v = redis.call('HMGET', '" PREFIX "qe:' .. c, 'node', 'interests', 'lang')\n"
  "    if not v[1] or redis.call('EXISTS', '" PREFIX "alive:' .. v[1]) == 0 then\n"
  "      unqueue(c)\n"
  "    else\n"
  "      local pair = me < c and (me .. ':' .. c) or (c .. ':' .. me)\n"
  "      if redis.call('EXISTS', '" PREFIX "block:' .. pair) == 0 then\n"
  "        local common, any = 0, false\n"
  "        for w in string.gmatch(v[2] or '', '[^\\n]+') do\n"
  "          any = true\n"
  "          if set[w] then common = common + 1 end\n"
  "        end\n"
  "        local lang = v[3] or ''\n"
  "        local ok = common > 0 or not (i_insist or (any and waited < iw))\n"
  "        if ok and my_lang ~= '' and lang ~= '' and lang ~= my_lang then\n"
  "          ok = not (l_insist or waited < lw)\n"
  "        end\n"
  "        local score = common * 2\n"
  "        if my_lang ~= '' and lang == my_lang then score = score + 1 end\n"
  "        if ok and (score > best_score or (score == best_score and waited > best_waited)) then\n"
  "          best, best_score, best_waited = c, score, waited\n"
  "        end\n"
  "      end\n"
  "    end\n"
  "  end\n"
  "end\n"
  "if not best then return false end\n"
  "local desc = redis.call('HGET', '" PREFIX "qe:' .. best, 'desc') or ''\n"
  "unqueue(me)\n"
  "unqueue(best)\n"
  "redis.call('SET', mk, token .. '\\n' .. best .. '\\n' .. desc, 'PX', " MATCH_KEEP_MS ")\n"
  "redis.call('SET', '" PREFIX "qt:' .. best, me, 'PX', " TAKEN_KEEP_MS ")\n"
  "return desc\n";

/* Out of the queue; and a match of it not told yet (QUEUE_MATCH_SCRIPT)
 * is off: its partner is free to be queued again at once. */
static const char *QUEUE_REMOVE_SCRIPT =
  UNQUEUE_FUNCTION
  "local me = ARGV[1]\n"
  "unqueue(me)\n"
  "redis.call('DEL', '" PREFIX "qt:' .. me)\n"
  "local rec = redis.call('GET', '" PREFIX "qm:' .. me)\n"
  "if rec then\n"
  "  local a = string.find(rec, '\\n', 1, true)\n"
  "  local b = a and string.find(rec, '\\n', a + 1, true)\n"
  "  if b then\n"
  "    local tk = '" PREFIX "qt:' .. string.sub(rec, a + 1, b - 1)\n"
  "    if redis.call('GET', tk) == me then redis.call('DEL', tk) end\n"
  "  end\n"
  "  redis.call('DEL', '" PREFIX "qm:' .. me)\n"
  "end\n"
  "return 1\n";

static const char *ATTEMPT_SCRIPT =
  "local n = redis.call('INCR', KEYS[1])\n"
  "if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end\n"
  "return n\n";

/* Reports: vchat:rep:KEY (set of reporting addresses, forgotten a refusal
 * time after the last report), vchat:ref:KEY (the address is refused). */
static const char *REPORT_SCRIPT =
  "local rk = '" PREFIX "rep:' .. ARGV[1]\n"
  "if ARGV[2] ~= ARGV[1] then redis.call('SADD', rk, ARGV[2]) end\n"
  "redis.call('PEXPIRE', rk, ARGV[4])\n"
  "if redis.call('SCARD', rk) >= tonumber(ARGV[3]) then\n"
  "  redis.call('DEL', rk)\n"
  "  redis.call('SET', '" PREFIX "ref:' .. ARGV[1], '1', 'PX', ARGV[4])\n"
  "  return tonumber(ARGV[4])\n"
  "end\n"
  "return 0\n";

/* A session's record, written by the server it is on. */
static const char *SESSION_SAVE_SCRIPT =
  "redis.call('HSET', KEYS[1], 'node', ARGV[1], 'state', ARGV[2])\n"
  "redis.call('EXPIRE', KEYS[1], 86400)\n"
  "return 1\n";

/* Only by its server: not after another one took it over. */
static const char *SESSION_FORGET_SCRIPT =
  "if redis.call('HGET', KEYS[1], 'node') == ARGV[1] then redis.call('DEL', KEYS[1]) end\n"
  "return 1\n";

/* Resuming a session whose server died: the token names its node and
 * session; while the node's alive key is there, {1, node, session} (ask it
 * to hand the session over). Once it is gone, and if the node said it
 * lived less than the grace time ago, the session's record moves to this
 * server and the token is spent, in this one step, so that of two servers
 * only one takes it: {2, node, session, state, node of the call's peer}.
 * {0}: nothing to resume. */
static const char *TAKE_SESSION_SCRIPT =
  "local rk = '" PREFIX "resume:' .. ARGV[1]\n"
  "local v = redis.call('GET', rk)\n"
  "if not v then return {0} end\n"
  "local sp = string.find(v, ' ', 1, true)\n"
  "if not sp then return {0} end\n"
  "local node, sid = string.sub(v, 1, sp - 1), string.sub(v, sp + 1)\n"
  "if node == ARGV[2] or redis.call('EXISTS', '" PREFIX "alive:' .. node) == 1 then\n"
  "  return {1, node, sid}\n"
  "end\n"
  "local seen = tonumber(redis.call('GET', '" PREFIX "seen:' .. node) or '0')\n"
  "local sk = '" PREFIX "sess:' .. sid\n"
  "local rec = redis.call('HMGET', sk, 'node', 'state')\n"
  "if rec[1] ~= node or not rec[2] or tonumber(ARGV[3]) - seen > tonumber(ARGV[4]) then\n"
  "  return {0}\n"
  "end\n"
  "redis.call('DEL', rk)\n"
  "redis.call('HSET', sk, 'node', ARGV[2])\n"
  "local peer = ''\n"
  "local ok, st = pcall(cjson.decode, rec[2])\n"
  "if ok and type(st) == 'table' and type(st.call) == 'table' and type(st.call.peer) == 'table'\n"
  "   and type(st.call.peer.id) == 'string' then\n"
  "  peer = redis.call('HGET', '" PREFIX "sess:' .. st.call.peer.id, 'node') or ''\n"
  "end\n"
  "return {2, node, sid, rec[2], peer}\n";

/* WebSockets and sessions per address, across servers: each server counts
 * its own (so that a dead server's go with it), in vchat:conns:KEY and
 * vchat:sessions:KEY; a new connection gets the total of connections over
 * the servers alive and the sessions on the other ones. */
#define COUNT_ADD_BODY                                                  \
  "local n = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])\n"         \
  "if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end\n"            \
  "if tonumber(ARGV[2]) < 0 then return {0, 0} end\n"                   \
  "redis.call('EXPIRE', KEYS[1], 86400)\n"                              \
  "local function total(k, mine)\n"                                     \
  "  local h, t = redis.call('HGETALL', k), 0\n"                         \
  "  for i = 1, #h, 2 do\n"                                             \
  "    if h[i] == ARGV[1] then\n"                                       \
  "      if mine then t = t + tonumber(h[i + 1]) end\n"                 \
  "    elseif redis.call('EXISTS', '" PREFIX "alive:' .. h[i]) == 1 then\n" \
  "      t = t + tonumber(h[i + 1])\n"                                  \
  "    else\n"                                                          \
  "      redis.call('HDEL', k, h[i])\n"                                  \
  "    end\n"                                                           \
  "  end\n"                                                             \
  "  return t\n"                                                        \
  "end\n"

static const char *CONNS_ADD_SCRIPT =
  COUNT_ADD_BODY
  "return {total(KEYS[1], true), total('" PREFIX "sessions:' .. ARGV[3], false)}\n";

static const char *SESSIONS_ADD_SCRIPT = COUNT_ADD_BODY "return {0, 0}\n";

/* Local expiries */

static void
local_free (Local *local)
{
  g_free (local->owner);
  g_free (local);
}

static gint64
monotonic_at (gint64 real_us)
{
  return g_get_monotonic_time () + MAX (0, real_us - g_get_real_time ());
}

static void
local_track (RedisStore *self, const SigdInvite *invite)
{
  Local *local = g_new0 (Local, 1);

  local->owner = g_strdup (invite->owner);
  local->expires = invite->expires;
  g_hash_table_insert (self->local, g_strdup (invite->code), local);
  if (self->parent.sweep_at)
    self->parent.sweep_at (self->parent.server, monotonic_at (invite->expires) + 1);
}

/* Replies */

static char *
reply_string (redisReply *r)
{
  if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) && r->len > 0)
    return g_strndup (r->str, r->len);
  return NULL;
}

static gint64
reply_int (redisReply *r)
{
  if (!r)
    return 0;
  if (r->type == REDIS_REPLY_INTEGER)
    return r->integer;
  if (r->type == REDIS_REPLY_STRING)
    return g_ascii_strtoll (r->str, NULL, 10);
  return 0;
}

static void
cmd_finish (Cmd *cmd, SigdStoreStatus status, redisReply *reply)
{
  RedisStore *self = cmd->store;

  if (cmd->kind == REPLY_INVITE) {
    g_autoptr (SigdInvite) invite = NULL;

    if (status == SIGD_STORE_OK) {
      if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) {
        status = SIGD_STORE_UNAVAILABLE;
      } else {
        gint64 what = reply_int (reply->element[0]);

        if (what == 0)
          status = SIGD_STORE_NOT_FOUND;
        else if (what == 2)
          status = SIGD_STORE_EXPIRED;
        else if (reply->elements < 5)
          status = SIGD_STORE_UNAVAILABLE;
        else {
          invite = g_new0 (SigdInvite, 1);
          invite->code = g_strdup (cmd->code);
          invite->owner = reply_string (reply->element[1]);
          invite->claim = reply_string (reply->element[2]);
          invite->address = reply_string (reply->element[3]);
          invite->expires = reply_int (reply->element[4]);
          invite->node = reply->elements > 5 ? reply_string (reply->element[5]) : NULL;
          if (!invite->claim || !invite->address)
            status = SIGD_STORE_UNAVAILABLE;
          else if (invite->expires <= g_get_real_time ())
            status = SIGD_STORE_EXPIRED; /* Redis expires keys within a millisecond */
        }
      }
    }
    if (status == SIGD_STORE_OK && self && !self->closing) {
      if (cmd->forget)
        g_hash_table_remove (self->local, cmd->code);
      else if (cmd->track)
        local_track (self, invite);
    }
    if (cmd->invite_cb)
      cmd->invite_cb (status, status == SIGD_STORE_OK ? invite : NULL, cmd->data);
  } else if (cmd->kind == REPLY_STRING) {
    g_autofree char *value = status == SIGD_STORE_OK ? reply_string (reply) : NULL;

    /* QUEUE_MATCH_SCRIPT's 2 */
    if (status == SIGD_STORE_OK && reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 2)
      status = SIGD_STORE_EXPIRED;
    else if (status == SIGD_STORE_OK && !value)
      status = SIGD_STORE_NOT_FOUND;
    cmd->string_cb (status, value, cmd->data);
  } else if (cmd->kind == REPLY_COUNTS) {
    guint a = 0, b = 0;

    if (status == SIGD_STORE_OK) {
      if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2)
        status = SIGD_STORE_UNAVAILABLE;
      else {
        a = (guint) CLAMP (reply_int (reply->element[0]), 0, G_MAXUINT);
        b = (guint) CLAMP (reply_int (reply->element[1]), 0, G_MAXUINT);
      }
    }
    if (cmd->counts_cb)
      cmd->counts_cb (status, a, b, cmd->data);
  } else if (cmd->kind == REPLY_TAKE) {
    g_autofree char *node = NULL, *session = NULL, *state = NULL, *peer = NULL;

    if (status == SIGD_STORE_OK) {
      gint64 what = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0
                      ? reply_int (reply->element[0])
                      : -1;

      if (what == 0)
        status = SIGD_STORE_NOT_FOUND;
      else if ((what != 1 && what != 2) || reply->elements < (what == 1 ? 3u : 5u))
        status = SIGD_STORE_UNAVAILABLE;
      else {
        node = reply_string (reply->element[1]);
        session = reply_string (reply->element[2]);
        if (what == 2) {
          state = reply_string (reply->element[3]);
          peer = reply_string (reply->element[4]);
        }
        if (!node || !session || (what == 2 && !state))
          status = SIGD_STORE_UNAVAILABLE;
      }
    }
    if (status != SIGD_STORE_OK)
      g_clear_pointer (&state, g_free);
    cmd->take_cb (status, node, session, state, peer ? peer : "", cmd->data);
  } else if (cmd->kind == REPLY_ALIVE) {
    g_autofree gboolean *alive = NULL;

    if (status == SIGD_STORE_OK) {
      if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != cmd->n_nodes) {
        status = SIGD_STORE_UNAVAILABLE;
      } else {
        alive = g_new0 (gboolean, MAX (1, cmd->n_nodes));
        for (guint i = 0; i < cmd->n_nodes; i++)
          alive[i] = reply->element[i]->type == REDIS_REPLY_STRING;
      }
    }
    cmd->alive_cb (status, alive, cmd->data);
  } else if (cmd->kind == REPLY_COUNT) {
    if (status == SIGD_STORE_OK && (!reply || (reply->type != REDIS_REPLY_INTEGER &&
                                               reply->type != REDIS_REPLY_STRING &&
                                               reply->type != REDIS_REPLY_NIL)))
      status = SIGD_STORE_UNAVAILABLE;
    if (cmd->count_cb)
      cmd->count_cb (status, status == SIGD_STORE_OK ? (guint) CLAMP (reply_int (reply), 0, G_MAXUINT)
                                                     : 0,
                     cmd->data);
  }
  g_free (cmd->code);
  g_free (cmd);
}

static void
on_reply (redisAsyncContext *ac, void *r, void *privdata)
{
  Cmd *cmd = privdata;
  RedisStore *self = cmd->store;
  redisReply *reply = r;
  SigdStoreStatus status = SIGD_STORE_OK;

  g_queue_delete_link (&self->pending, cmd->link);
  if (!reply)
    status = self->closing ? SIGD_STORE_CANCELLED : SIGD_STORE_UNAVAILABLE;
  else if (reply->type == REDIS_REPLY_ERROR) {
    g_warning ("Redis %s: %.*s", self->url, (int) reply->len, reply->str);
    status = SIGD_STORE_UNAVAILABLE;
  }
  cmd_finish (cmd, status, reply);
}

/* hiredis calls its connect and disconnect callbacks before it cleans its
 * events up through the adapter, which needs the source still attached: a
 * source is destroyed from an idle callback after that. */
static gboolean
destroy_source_cb (gpointer data)
{
  g_source_destroy (data);
  g_source_unref (data);
  return G_SOURCE_REMOVE;
}

static void
destroy_source_later (GSource **source)
{
  if (*source)
    g_idle_add (destroy_source_cb, g_steal_pointer (source));
}

/* Connection */

static void
drop_connection (RedisStore *self)
{
  redisAsyncContext *ac = self->ac;
  GSource *source;

  if (!ac)
    return;
  /* This connection's: a failed command's callback may send another, which
   * connects again, with a source of its own. */
  source = g_steal_pointer (&self->source);
  self->ac = NULL;
  self->connected = FALSE;
  ac->data = NULL;
  /* Fails every pending command (on_reply with NULL), and cleans the
   * adapter's poll up. */
  redisAsyncFree (ac);
  if (source) {
    g_source_destroy (source);
    g_source_unref (source);
  }
}

static gboolean
reconnect_cb (gpointer data)
{
  RedisStore *self = data;

  self->reconnect_source = 0;
  redis_connect (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_reconnect (RedisStore *self)
{
  if (!self->closing && !self->reconnect_source)
    self->reconnect_source = g_timeout_add (RECONNECT_MS, reconnect_cb, self);
}

static void
warn_away (RedisStore *self, const char *why)
{
  if (self->warned)
    return;
  self->warned = TRUE;
  g_warning ("Redis %s is not reachable (%s); invites fail until it is back, retrying "
             "every %d s",
             self->url, why, RECONNECT_MS / 1000);
}

/* The connection went (hiredis frees the context after this). */
static void
on_disconnect (const redisAsyncContext *ac, int status)
{
  RedisStore *self = ac->data;

  if (!self || self->ac != ac)
    return;
  self->ac = NULL;
  self->connected = FALSE;
  destroy_source_later (&self->source);
  warn_away (self, ac->errstr[0] ? ac->errstr : "disconnected");
  schedule_reconnect (self);
}

static void
on_connect (const redisAsyncContext *ac, int status)
{
  RedisStore *self = ac->data;

  if (!self || self->ac != ac)
    return;
  if (status != REDIS_OK) {
    /* hiredis frees the context after this; on_disconnect is not called. */
    self->ac = NULL;
    destroy_source_later (&self->source);
    warn_away (self, ac->errstr);
    schedule_reconnect (self);
    return;
  }
  self->connected = TRUE;
  heartbeat_cb (self);
  if (self->warned)
    g_message ("Redis %s is reachable again", self->url);
  self->warned = FALSE;
  g_debug ("connected to Redis %s", self->url);
}

/* A command older than COMMAND_TIMEOUT_MS: Redis is stuck or the path to
 * it is; fail what waits and connect again. */
static gboolean
timeout_cb (gpointer data)
{
  RedisStore *self = data;
  Cmd *oldest = g_queue_peek_head (&self->pending);

  self->timeout_source = 0;
  if (!oldest)
    return G_SOURCE_REMOVE;
  if (g_get_monotonic_time () - oldest->sent >= (gint64) COMMAND_TIMEOUT_MS * 1000) {
    warn_away (self, "no answer");
    drop_connection (self);
    schedule_reconnect (self);
    return G_SOURCE_REMOVE;
  }
  self->timeout_source = g_timeout_add (
    (guint) MAX (1, (oldest->sent + (gint64) COMMAND_TIMEOUT_MS * 1000 - g_get_monotonic_time ()) /
                      1000 + 1),
    timeout_cb, self);
  return G_SOURCE_REMOVE;
}

/* AUTH's answer on a connection, first of all: a refused password
 * (changed since the server started) is said once, and the connection is
 * dropped and made again in a second, with the same password. */
static void
on_auth (redisAsyncContext *ac, void *r, void *privdata)
{
  RedisStore *self = ac->data;
  redisReply *reply = r;

  if (!self || !reply || reply->type != REDIS_REPLY_ERROR)
    return;
  if (!self->auth_warned)
    g_warning ("Redis %s refused the password: %.*s; check the password in --redis "
               "(redis://:PASSWORD@HOST:PORT/DB); retrying every %d s",
               self->url, (int) reply->len, reply->str, RECONNECT_MS / 1000);
  self->auth_warned = TRUE;
  redisAsyncDisconnect (ac);
}

static void
on_select (redisAsyncContext *ac, void *r, void *privdata)
{
  RedisStore *self = ac->data;
  redisReply *reply = r;

  if (self && reply && reply->type == REDIS_REPLY_ERROR)
    g_warning ("Redis %s: SELECT %d: %.*s", self->url, self->db, (int) reply->len, reply->str);
}

/* The first commands on a new connection (before any other, which Redis
 * answers in order): AUTH, and SELECT but on the subscriber connection
 * (channels are not per database). */
static void
send_hello (RedisStore *self, redisAsyncContext *ac, gboolean select)
{
  if (self->password) {
    const char *argv[] = { "AUTH", self->user ? self->user : self->password, self->password };

    redisAsyncCommandArgv (ac, on_auth, NULL, self->user ? 3 : 2, argv, NULL);
  }
  if (select && self->db != 0) {
    g_autofree char *db = g_strdup_printf ("%d", self->db);
    const char *argv[] = { "SELECT", db };

    redisAsyncCommandArgv (ac, on_select, NULL, 2, argv, NULL);
  }
}

static void
redis_connect (RedisStore *self)
{
  redisAsyncContext *ac;

  if (self->closing || self->ac)
    return;
  ac = self->path ? redisAsyncConnectUnix (self->path) : redisAsyncConnect (self->host, self->port);
  if (!ac || ac->err) {
    warn_away (self, ac ? ac->errstr : "out of memory");
    if (ac)
      redisAsyncFree (ac);
    schedule_reconnect (self);
    return;
  }
  ac->data = self;
  self->ac = ac;
  self->source = redis_source_new (ac);
  g_source_attach (self->source, NULL);
  redisAsyncSetConnectCallback (ac, on_connect);
  redisAsyncSetDisconnectCallback (ac, on_disconnect);
  send_hello (self, ac, TRUE);
}

/* Sends a command; its reply goes to @cmd. Without a connection, fails at
 * once. */
static void
cmd_send (RedisStore *self, Cmd *cmd, int argc, const char **argv)
{
  cmd->store = self;
  cmd->sent = g_get_monotonic_time ();
  if (!self->ac) {
    redis_connect (self);
    if (!self->ac) {
      cmd_finish (cmd, SIGD_STORE_UNAVAILABLE, NULL);
      return;
    }
  }
  g_queue_push_tail (&self->pending, cmd);
  cmd->link = self->pending.tail;
  if (redisAsyncCommandArgv (self->ac, on_reply, cmd, argc, argv, NULL) != REDIS_OK) {
    g_queue_delete_link (&self->pending, cmd->link);
    cmd_finish (cmd, SIGD_STORE_UNAVAILABLE, NULL);
    return;
  }
  if (!self->timeout_source)
    self->timeout_source = g_timeout_add (COMMAND_TIMEOUT_MS + 1, timeout_cb, self);
}

static void
eval (RedisStore *self, Cmd *cmd, const char *script, const char *key, int nargs,
      const char **args)
{
  const char *argv[16];
  int argc = 0;

  g_assert (nargs <= 12);
  argv[argc++] = "EVAL";
  argv[argc++] = script;
  argv[argc++] = key ? "1" : "0";
  if (key)
    argv[argc++] = key;
  for (int i = 0; i < nargs; i++)
    argv[argc++] = args[i];
  cmd_send (self, cmd, argc, argv);
}

static Cmd *
invite_cmd (const char *code, SigdStoreInviteCb cb, gpointer data)
{
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->kind = REPLY_INVITE;
  cmd->invite_cb = cb;
  cmd->data = data;
  cmd->code = g_strdup (code);
  return cmd;
}

/* The subscriber connection */

static void
sub_drop_source (RedisStore *self)
{
  destroy_source_later (&self->sub_source);
}

static gboolean
sub_reconnect_cb (gpointer data)
{
  RedisStore *self = data;

  self->sub_reconnect_source = 0;
  sub_connect (self);
  return G_SOURCE_REMOVE;
}

static void
sub_schedule_reconnect (RedisStore *self)
{
  if (!self->closing && !self->sub_reconnect_source)
    self->sub_reconnect_source = g_timeout_add (RECONNECT_MS, sub_reconnect_cb, self);
}

static void
on_sub_disconnect (const redisAsyncContext *ac, int status)
{
  RedisStore *self = ac->data;

  if (!self || self->sub_ac != ac)
    return;
  self->sub_ac = NULL;
  sub_drop_source (self);
  sub_schedule_reconnect (self);
}

static void
on_sub_connect (const redisAsyncContext *ac, int status)
{
  RedisStore *self = ac->data;

  if (!self || self->sub_ac != ac || status == REDIS_OK)
    return;
  self->sub_ac = NULL;
  sub_drop_source (self);
  sub_schedule_reconnect (self);
}

/* ["message", channel, payload] for each message; the first reply is the
 * subscription's. */
static void
on_sub_message (redisAsyncContext *ac, void *r, void *privdata)
{
  RedisStore *self = privdata;
  redisReply *reply = r;

  if (!reply || self->closing || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3)
    return;
  if (reply->element[0]->type != REDIS_REPLY_STRING ||
      strcmp (reply->element[0]->str, "message") != 0 ||
      reply->element[2]->type != REDIS_REPLY_STRING)
    return;
  if (self->parent.deliver)
    self->parent.deliver (self->parent.server, reply->element[2]->str, reply->element[2]->len);
}

static void
sub_connect (RedisStore *self)
{
  redisAsyncContext *ac;
  g_autofree char *channel = g_strconcat (PREFIX "node:", self->parent.node, NULL);
  const char *argv[] = { "SUBSCRIBE", channel, PREFIX "all" };

  if (self->closing || self->sub_ac)
    return;
  ac = self->path ? redisAsyncConnectUnix (self->path) : redisAsyncConnect (self->host, self->port);
  if (!ac || ac->err) {
    if (ac)
      redisAsyncFree (ac);
    sub_schedule_reconnect (self);
    return;
  }
  ac->data = self;
  self->sub_ac = ac;
  self->sub_source = redis_source_new (ac);
  g_source_attach (self->sub_source, NULL);
  redisAsyncSetConnectCallback (ac, on_sub_connect);
  redisAsyncSetDisconnectCallback (ac, on_sub_disconnect);
  send_hello (self, ac, FALSE);
  /* Channels are not per database: the node names are random enough. */
  redisAsyncCommandArgv (ac, on_sub_message, self, 3, argv, NULL);
}

static void
redis_publish (SigdStore *store, const char *node, const char *text)
{
  g_autofree char *channel = node ? g_strconcat (PREFIX "node:", node, NULL)
                                  : g_strdup (PREFIX "all");
  const char *argv[] = { "PUBLISH", channel, text };
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->kind = REPLY_NONE;
  cmd_send ((RedisStore *) store, cmd, 3, argv);
}

static gboolean
heartbeat_cb (gpointer data)
{
  RedisStore *self = data;
  g_autofree char *key = g_strconcat (PREFIX "alive:", self->parent.node, NULL);
  g_autofree char *ms = g_strdup_printf ("%d", ALIVE_MS);
  const char *argv[] = { "SET", key, "1", "PX", ms };
  /* When it last lived: how long a dead server's sessions may still be
   * taken over (TAKE_SESSION_SCRIPT). The servers' clocks, which agree on
   * one machine or with NTP. */
  g_autofree char *seen_key = g_strconcat (PREFIX "seen:", self->parent.node, NULL);
  g_autofree char *now = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time () / 1000);
  const char *seen_argv[] = { "SET", seen_key, now, "EX", "86400" };
  Cmd *cmd;

  if (!self->connected)
    return G_SOURCE_CONTINUE;
  cmd = g_new0 (Cmd, 1);
  cmd->kind = REPLY_NONE;
  cmd_send (self, cmd, 5, argv);
  cmd = g_new0 (Cmd, 1);
  cmd->kind = REPLY_NONE;
  cmd_send (self, cmd, 5, seen_argv);
  return G_SOURCE_CONTINUE;
}

static void
redis_nodes_alive (SigdStore *store, const char *const *nodes, guint n_nodes,
                   SigdStoreAliveCb cb, gpointer data)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  Cmd *cmd;

  if (n_nodes == 0) {
    cb (SIGD_STORE_OK, NULL, data);
    return;
  }
  g_ptr_array_add (argv, g_strdup ("MGET"));
  for (guint i = 0; i < n_nodes; i++)
    g_ptr_array_add (argv, g_strconcat (PREFIX "alive:", nodes[i], NULL));
  cmd = g_new0 (Cmd, 1);
  cmd->kind = REPLY_ALIVE;
  cmd->alive_cb = cb;
  cmd->n_nodes = n_nodes;
  cmd->data = data;
  cmd_send ((RedisStore *) store, cmd, argv->len, (const char **) argv->pdata);
}

/* The store's operations */

typedef struct {
  SigdStoreInviteCb cb;
  gpointer data;
  SigdInvite *invite;
  RedisStore *store;
} AddData;

/* The script answers 1 (added) or 0 (the address has too many). */
static void
add_done (SigdStoreStatus status, guint count, gpointer data)
{
  AddData *ad = data;

  if (status == SIGD_STORE_OK && count == 0)
    status = SIGD_STORE_LIMIT;
  if (status == SIGD_STORE_OK && !ad->store->closing)
    local_track (ad->store, ad->invite);
  ad->cb (status, status == SIGD_STORE_OK ? ad->invite : NULL, ad->data);
  sigd_invite_free (ad->invite);
  g_free (ad);
}

static void
redis_invite_add (SigdStore *store, const SigdInvite *invite, guint max_per_address,
                  SigdStoreInviteCb cb, gpointer data)
{
  RedisStore *self = (RedisStore *) store;
  g_autofree char *exp = g_strdup_printf ("%" G_GINT64_FORMAT, invite->expires / 1000);
  g_autofree char *exp_us = g_strdup_printf ("%" G_GINT64_FORMAT, invite->expires);
  g_autofree char *max = g_strdup_printf ("%u", MIN (max_per_address, (guint) G_MAXINT32));
  g_autofree char *now = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time () / 1000);
  const char *args[] = { invite->code, invite->owner ? invite->owner : "", invite->claim,
                         invite->address, exp, max, now, exp_us,
                         invite->owner && invite->node ? invite->node : "" };
  Cmd *cmd = g_new0 (Cmd, 1);
  AddData *ad = g_new0 (AddData, 1);

  ad->cb = cb;
  ad->data = data;
  ad->invite = sigd_invite_copy (invite);
  ad->store = self;
  cmd->kind = REPLY_COUNT;
  cmd->count_cb = add_done;
  cmd->data = ad;
  eval (self, cmd, ADD_SCRIPT, NULL, G_N_ELEMENTS (args), args);
}

static void
redis_invite_get (SigdStore *store, const char *code, SigdStoreInviteCb cb, gpointer data)
{
  const char *args[] = { code };

  eval ((RedisStore *) store, invite_cmd (code, cb, data), GET_SCRIPT, NULL, 1, args);
}

static void
redis_invite_take (SigdStore *store, const char *code, SigdStoreInviteCb cb, gpointer data)
{
  const char *args[] = { code };
  Cmd *cmd = invite_cmd (code, cb, data);

  cmd->forget = TRUE;
  eval ((RedisStore *) store, cmd, TAKE_SCRIPT, NULL, 1, args);
}

typedef struct {
  SigdStoreInviteCb cb;
  gpointer data;
  char *owner;
  RedisStore *store;
} OwnerData;

/* The answer is the invite as it was; here it is kept with its new owner,
 * for its expiry. */
static void
owner_done (SigdStoreStatus status, const SigdInvite *was, gpointer data)
{
  OwnerData *od = data;

  if (status == SIGD_STORE_OK && !od->store->closing) {
    g_autoptr (SigdInvite) now = sigd_invite_copy (was);

    g_free (now->owner);
    now->owner = g_strdup (od->owner);
    g_free (now->node);
    now->node = g_strdup (od->owner ? od->store->parent.node : NULL);
    local_track (od->store, now);
  }
  od->cb (status, was, od->data);
  g_free (od->owner);
  g_free (od);
}

static void
redis_invite_set_owner (SigdStore *store, const char *code, const char *owner,
                        SigdStoreInviteCb cb, gpointer data)
{
  RedisStore *self = (RedisStore *) store;
  g_autofree char *now = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time () / 1000);
  const char *args[] = { code, owner ? owner : "", now, owner && store->node ? store->node : "" };
  OwnerData *od = g_new0 (OwnerData, 1);

  od->cb = cb;
  od->data = data;
  od->owner = g_strdup (owner);
  od->store = self;
  eval (self, invite_cmd (code, owner_done, od), SET_OWNER_SCRIPT, NULL, 4, args);
}

static void
redis_invites_disown (SigdStore *store, const char *owner)
{
  RedisStore *self = (RedisStore *) store;
  const char *args[] = { owner };
  Cmd *cmd = g_new0 (Cmd, 1);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->local);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_strcmp0 (((Local *) value)->owner, owner) == 0)
      g_clear_pointer (&((Local *) value)->owner, g_free);
  cmd->kind = REPLY_NONE;
  eval (self, cmd, DISOWN_SCRIPT, NULL, 1, args);
}

static void
redis_attempts_get (SigdStore *store, const char *key, SigdStoreCountCb cb, gpointer data)
{
  g_autofree char *k = g_strconcat (PREFIX "att:", key, NULL);
  const char *argv[] = { "GET", k };
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->kind = REPLY_COUNT;
  cmd->count_cb = cb;
  cmd->data = data;
  cmd_send ((RedisStore *) store, cmd, 2, argv);
}

static void
redis_attempts_add (SigdStore *store, const char *key, SigdStoreCountCb cb, gpointer data)
{
  g_autofree char *k = g_strconcat (PREFIX "att:", key, NULL);
  g_autofree char *window = g_strdup_printf ("%d", SIGD_ATTEMPT_WINDOW_S);
  const char *args[] = { window };
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->kind = REPLY_COUNT;
  cmd->count_cb = cb;
  cmd->data = data;
  eval ((RedisStore *) store, cmd, ATTEMPT_SCRIPT, k, 1, args);
}

static void
redis_report_add (SigdStore *store, const char *key, const char *reporter, guint threshold,
                  gint64 refuse_ms, SigdStoreCountCb cb, gpointer data)
{
  g_autofree char *th = g_strdup_printf ("%u", threshold);
  g_autofree char *ms = g_strdup_printf ("%" G_GINT64_FORMAT, MAX (refuse_ms, 1));
  const char *args[] = { key, reporter, th, ms };
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->kind = REPLY_COUNT;
  cmd->count_cb = cb;
  cmd->data = data;
  eval ((RedisStore *) store, cmd, REPORT_SCRIPT, NULL, 4, args);
}

static void
redis_refused_get (SigdStore *store, const char *key, SigdStoreCountCb cb, gpointer data)
{
  g_autofree char *k = g_strconcat (PREFIX "ref:", key, NULL);
  const char *argv[] = { "PTTL", k };
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->kind = REPLY_COUNT; /* -2: no such key, counted as 0 */
  cmd->count_cb = cb;
  cmd->data = data;
  cmd_send ((RedisStore *) store, cmd, 2, argv);
}

static void
redis_resume_set (SigdStore *store, const char *token, const char *session)
{
  g_autofree char *key = g_strconcat (PREFIX "resume:", token, NULL);
  g_autofree char *value = g_strconcat (store->node, " ", session, NULL);
  const char *argv[] = { "SET", key, value, "EX", "86400" };
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->kind = REPLY_NONE;
  cmd_send ((RedisStore *) store, cmd, 5, argv);
}

static void
redis_resume_forget (SigdStore *store, const char *token)
{
  g_autofree char *key = g_strconcat (PREFIX "resume:", token, NULL);
  const char *argv[] = { "DEL", key };
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->kind = REPLY_NONE;
  cmd_send ((RedisStore *) store, cmd, 2, argv);
}

static void
redis_resume_get (SigdStore *store, const char *token, SigdStoreStringCb cb, gpointer data)
{
  g_autofree char *key = g_strconcat (PREFIX "resume:", token, NULL);
  const char *argv[] = { "GET", key };
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->kind = REPLY_STRING;
  cmd->string_cb = cb;
  cmd->data = data;
  cmd_send ((RedisStore *) store, cmd, 2, argv);
}

static void
redis_session_save (SigdStore *store, const char *session, const char *state)
{
  g_autofree char *key = g_strconcat (PREFIX "sess:", session, NULL);
  const char *args[] = { store->node, state };
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->kind = REPLY_NONE;
  eval ((RedisStore *) store, cmd, SESSION_SAVE_SCRIPT, key, 2, args);
  /* Out now, not at the next turn of the main loop: the server tells its
   * clients right after, and may die right after that. */
  if (((RedisStore *) store)->ac && ((RedisStore *) store)->connected)
    redisAsyncHandleWrite (((RedisStore *) store)->ac);
}

static void
redis_session_forget (SigdStore *store, const char *session)
{
  g_autofree char *key = g_strconcat (PREFIX "sess:", session, NULL);
  const char *args[] = { store->node };
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->kind = REPLY_NONE;
  eval ((RedisStore *) store, cmd, SESSION_FORGET_SCRIPT, key, 1, args);
}

static void
redis_resume_take (SigdStore *store, const char *token, gint64 grace_ms, SigdStoreTakeCb cb,
                   gpointer data)
{
  g_autofree char *grace = g_strdup_printf ("%" G_GINT64_FORMAT, grace_ms);
  const char *args[] = { token, store->node, NULL, grace };
  /* Compared with vchat:seen, which the servers' clocks wrote. */
  g_autofree char *now = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time () / 1000);
  Cmd *cmd = g_new0 (Cmd, 1);

  args[2] = now;
  cmd->kind = REPLY_TAKE;
  cmd->take_cb = cb;
  cmd->data = data;
  eval ((RedisStore *) store, cmd, TAKE_SESSION_SCRIPT, NULL, 4, args);
}

static void
redis_conns_add (SigdStore *store, const char *key, int delta, SigdStoreCountsCb cb,
                 gpointer data)
{
  g_autofree char *k = g_strconcat (PREFIX "conns:", key, NULL);
  g_autofree char *d = g_strdup_printf ("%d", delta);
  const char *args[] = { store->node, d, key };
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->kind = REPLY_COUNTS;
  cmd->counts_cb = cb;
  cmd->data = data;
  eval ((RedisStore *) store, cmd, CONNS_ADD_SCRIPT, k, 3, args);
}

static void
redis_sessions_add (SigdStore *store, const char *key, int delta)
{
  g_autofree char *k = g_strconcat (PREFIX "sessions:", key, NULL);
  g_autofree char *d = g_strdup_printf ("%d", delta);
  const char *args[] = { store->node, d };
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->kind = REPLY_NONE;
  eval ((RedisStore *) store, cmd, SESSIONS_ADD_SCRIPT, k, 2, args);
}

static void
redis_invites_move (SigdStore *store, const char *owner, const char *node)
{
  const char *args[] = { owner, node };
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->kind = REPLY_NONE;
  eval ((RedisStore *) store, cmd, MOVE_SCRIPT, NULL, 2, args);
}

static void
redis_queue_add (SigdStore *store, const char *session, const char *desc, const char *interests,
                 const char *language, gint64 since_ms)
{
  g_autofree char *since = g_strdup_printf ("%" G_GINT64_FORMAT, since_ms);
  const char *args[] = { session, store->node, desc, interests, language ? language : "", since };
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->kind = REPLY_NONE;
  eval ((RedisStore *) store, cmd, QUEUE_ADD_SCRIPT, NULL, 6, args);
}

static void
redis_queue_remove (SigdStore *store, const char *session)
{
  const char *args[] = { session };
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->kind = REPLY_NONE;
  eval ((RedisStore *) store, cmd, QUEUE_REMOVE_SCRIPT, NULL, 1, args);
}

static void
redis_queue_match (SigdStore *store, const char *session, const char *token,
                   const SigdQueueWaits *waits, SigdStoreStringCb cb, gpointer data)
{
  g_autofree char *now = g_strdup_printf ("%" G_GINT64_FORMAT, waits->now_ms);
  g_autofree char *iw = g_strdup_printf ("%" G_GINT64_FORMAT, waits->interest_wait_ms);
  g_autofree char *lw = g_strdup_printf ("%" G_GINT64_FORMAT, waits->language_wait_ms);
  const char *args[] = { session, token, now, iw, lw };
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->kind = REPLY_STRING;
  cmd->string_cb = cb;
  cmd->data = data;
  eval ((RedisStore *) store, cmd, QUEUE_MATCH_SCRIPT, NULL, 5, args);
}

static void
redis_block_pair (SigdStore *store, const char *a, const char *b, gint64 ms)
{
  g_autofree char *key = strcmp (a, b) < 0 ? g_strconcat (PREFIX "block:", a, ":", b, NULL)
                                           : g_strconcat (PREFIX "block:", b, ":", a, NULL);
  g_autofree char *px = g_strdup_printf ("%" G_GINT64_FORMAT, MAX (ms, 1));
  const char *argv[] = { "SET", key, "1", "PX", px };
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->kind = REPLY_NONE;
  cmd_send ((RedisStore *) store, cmd, 5, argv);
}

/* Redis forgets invites by itself; what is swept here is this server's
 * knowledge of its sessions' invites, to tell them when one ran out. */
static gint64
redis_sweep (SigdStore *store)
{
  RedisStore *self = (RedisStore *) store;
  gint64 real_now = g_get_real_time ();
  gint64 next = G_MAXINT64;
  g_autoptr (GPtrArray) expired = g_ptr_array_new_with_free_func ((GDestroyNotify) sigd_invite_free);
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, self->local);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    Local *local = value;

    if (local->expires <= real_now) {
      SigdInvite *invite = g_new0 (SigdInvite, 1);

      invite->code = g_strdup (key);
      invite->owner = g_strdup (local->owner);
      invite->expires = local->expires;
      g_ptr_array_add (expired, invite);
      g_hash_table_iter_remove (&iter);
    } else {
      next = MIN (next, g_get_monotonic_time () + (local->expires - real_now) + 1);
    }
  }
  for (guint i = 0; i < expired->len; i++)
    if (store->expired_func)
      store->expired_func (expired->pdata[i], store->expired_data);
  return next;
}

static guint
redis_invites_count (SigdStore *store)
{
  return g_hash_table_size (((RedisStore *) store)->local);
}

static guint
redis_tombstones_count (SigdStore *store)
{
  return 0;
}

static void
redis_free (SigdStore *store)
{
  RedisStore *self = (RedisStore *) store;

  self->closing = TRUE;
  g_clear_handle_id (&self->reconnect_source, g_source_remove);
  g_clear_handle_id (&self->timeout_source, g_source_remove);
  g_clear_handle_id (&self->sub_reconnect_source, g_source_remove);
  g_clear_handle_id (&self->heartbeat_source, g_source_remove);
  drop_connection (self); /* pending commands get SIGD_STORE_CANCELLED */
  if (self->sub_ac) {
    redisAsyncContext *ac = self->sub_ac;

    self->sub_ac = NULL;
    ac->data = NULL;
    redisAsyncFree (ac);
  }
  if (self->sub_source) {
    g_source_destroy (self->sub_source);
    g_clear_pointer (&self->sub_source, g_source_unref);
  }
  g_free (self->parent.node);
  g_hash_table_unref (self->local);
  g_free (self->url);
  g_free (self->host);
  g_free (self->path);
  g_free (self->user);
  g_free (self->password);
  g_free (self);
}

static const SigdStoreClass redis_class = {
  .free = redis_free,
  .invite_add = redis_invite_add,
  .invite_get = redis_invite_get,
  .invite_take = redis_invite_take,
  .invite_set_owner = redis_invite_set_owner,
  .invites_disown = redis_invites_disown,
  .attempts_get = redis_attempts_get,
  .attempts_add = redis_attempts_add,
  .sweep = redis_sweep,
  .invites_count = redis_invites_count,
  .tombstones_count = redis_tombstones_count,
  .publish = redis_publish,
  .nodes_alive = redis_nodes_alive,
  .resume_set = redis_resume_set,
  .resume_forget = redis_resume_forget,
  .resume_get = redis_resume_get,
  .session_save = redis_session_save,
  .session_forget = redis_session_forget,
  .resume_take = redis_resume_take,
  .conns_add = redis_conns_add,
  .sessions_add = redis_sessions_add,
  .invites_move = redis_invites_move,
  .queue_add = redis_queue_add,
  .queue_remove = redis_queue_remove,
  .queue_match = redis_queue_match,
  .block_pair = redis_block_pair,
  .report_add = redis_report_add,
  .refused_get = redis_refused_get,
};

static gboolean
parse_db (const char *text, int *db)
{
  guint64 n;

  if (!text || !*text)
    return TRUE;
  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT, &n, NULL))
    return FALSE;
  *db = (int) n;
  return TRUE;
}

/* redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], unix:/PATH or
 * unix:///PATH, with ?password=PASSWORD&db=N (and user=USER) for either;
 * the password is percent-encoded in the URL. */
static gboolean
parse_url (RedisStore *self, const char *url, GError **error)
{
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GHashTable) params = NULL;
  g_autoptr (GString) shown = NULL;
  const char *scheme, *query, *v;

  self->port = 6379;
  uri = g_uri_parse (url, G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED_QUERY | G_URI_FLAGS_NON_DNS,
                     NULL);
  if (!uri)
    goto bad;
  scheme = g_uri_get_scheme (uri);
  query = g_uri_get_query (uri);
  if (query) {
    params = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE, NULL);
    if (!params)
      goto bad;
    if ((v = g_hash_table_lookup (params, "password")))
      self->password = g_strdup (v);
    if ((v = g_hash_table_lookup (params, "user")) && *v)
      self->user = g_strdup (v);
    if (!parse_db (g_hash_table_lookup (params, "db"), &self->db))
      goto bad;
  }
  if (g_uri_get_password (uri))
    self->password = g_strdup (g_uri_get_password (uri));
  if (g_uri_get_user (uri) && *g_uri_get_user (uri))
    self->user = g_strdup (g_uri_get_user (uri));
  if (self->user && !self->password)
    goto bad;
  shown = g_string_new (scheme);
  if (g_strcmp0 (scheme, "unix") == 0) {
    const char *host = g_uri_get_host (uri);

    if (host && *host)
      goto bad;
    self->path = g_strdup (g_uri_get_path (uri));
    if (self->path[0] != '/')
      goto bad;
    g_string_append_printf (shown, ":%s", self->path);
    if (self->db)
      g_string_append_printf (shown, "?db=%d", self->db);
  } else if (g_strcmp0 (scheme, "redis") == 0) {
    const char *host = g_uri_get_host (uri);
    const char *path = g_uri_get_path (uri);

    self->host = g_strdup (host && *host ? host : "127.0.0.1");
    if (g_uri_get_port (uri) > 0)
      self->port = g_uri_get_port (uri);
    if (path[0] == '/')
      path++;
    if (strchr (path, '/') || !parse_db (path, &self->db))
      goto bad;
    g_string_append (shown, "://");
    if (self->user)
      g_string_append_printf (shown, "%s@", self->user);
    g_string_append_printf (shown, strchr (self->host, ':') ? "[%s]:%d" : "%s:%d", self->host,
                            self->port);
    if (self->db)
      g_string_append_printf (shown, "/%d", self->db);
  } else {
    goto bad;
  }
  if (self->port <= 0 || self->port > 65535)
    goto bad;
  /* Messages name Redis without the password. */
  g_free (self->url);
  self->url = g_string_free (g_steal_pointer (&shown), FALSE);
  return TRUE;
bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "--redis needs redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or "
               "unix:///PATH[?password=PASSWORD&db=N], not “%s”",
               strchr (url, '@') || strstr (url, "password=") ? "(a URL with a password)" : url);
  return FALSE;
}

/* Connects once, at start, waiting up to COMMAND_TIMEOUT_MS, to tell a
 * password Redis refuses (or one it needs) before serving anyone: a
 * mistake in the URL that would otherwise only show as failing invites.
 * Redis that cannot be reached is no error: the server connects again in
 * the background, as later. */
gboolean
sigd_store_redis_check (SigdStore *store, GError **error)
{
  RedisStore *self = (RedisStore *) store;
  struct timeval tv = { COMMAND_TIMEOUT_MS / 1000, (COMMAND_TIMEOUT_MS % 1000) * 1000 };
  redisContext *c;
  redisReply *reply;
  gboolean ok = TRUE;

  c = self->path ? redisConnectUnixWithTimeout (self->path, tv)
                 : redisConnectWithTimeout (self->host, self->port, tv);
  if (!c || c->err) {
    g_debug ("Redis %s: not reachable at start: %s", self->url, c ? c->errstr : "out of memory");
    if (c)
      redisFree (c);
    return TRUE;
  }
  redisSetTimeout (c, tv);
  if (self->password) {
    const char *argv[] = { "AUTH", self->user ? self->user : self->password, self->password };

    reply = redisCommandArgv (c, self->user ? 3 : 2, argv, NULL);
  } else {
    const char *argv[] = { "PING" };

    reply = redisCommandArgv (c, 1, argv, NULL);
  }
  if (reply && reply->type == REDIS_REPLY_ERROR) {
    ok = FALSE;
    if (!self->password)
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "Redis %s needs a password (it said: %s); give it in the --redis URL: "
                   "redis://:PASSWORD@HOST:PORT/DB or unix:///PATH?password=PASSWORD "
                   "(its requirepass)",
                   self->url, reply->str);
    else
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "Redis %s refused the password in --redis (it said: %s); give the one in its "
                   "requirepass (or, with a user, its ACL): redis://[USER]:PASSWORD@HOST:PORT/DB, "
                   "percent-encoded",
                   self->url, reply->str);
  }
  g_clear_pointer (&reply, freeReplyObject);
  if (ok && self->db != 0) {
    g_autofree char *db = g_strdup_printf ("%d", self->db);
    const char *argv[] = { "SELECT", db };

    reply = redisCommandArgv (c, 2, argv, NULL);
    if (reply && reply->type == REDIS_REPLY_ERROR) {
      ok = FALSE;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Redis %s has no database %d (it said: %s); use a number below its "
                   "“databases” setting",
                   self->url, self->db, reply->str);
    }
    g_clear_pointer (&reply, freeReplyObject);
  }
  redisFree (c);
  return ok;
}

gboolean
sigd_store_redis_supported (void)
{
  return TRUE;
}

SigdStore *
sigd_store_redis_new (SigdConfig *config, const char *url, GError **error)
{
  RedisStore *self = g_new0 (RedisStore, 1);

  self->parent.klass = &redis_class;
  self->parent.config = config;
  self->url = g_strdup (url);
  self->local = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) local_free);
  g_queue_init (&self->pending);
  if (!parse_url (self, url, error)) {
    redis_free (&self->parent);
    return NULL;
  }
  /* Connects from the main loop, so that what it says comes after the
   * server's first line. */
  self->reconnect_source = g_idle_add (reconnect_cb, self);
  self->parent.node = g_strdup_printf ("%08x%08x", g_random_int (), g_random_int ());
  self->sub_reconnect_source = g_idle_add (sub_reconnect_cb, self);
  self->heartbeat_source = g_timeout_add (HEARTBEAT_MS, heartbeat_cb, self);
  return &self->parent;
}

#endif /* SIGD_HAVE_HIREDIS */
