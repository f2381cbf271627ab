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
 * vchat:own:SESSION (set of codes), vchat:att:KEY (wrong codes, 60 s).
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

SigdStore *
sigd_store_redis_new (SigdConfig *config, const char *url, GError **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               "--redis was given, but this vchat-signald was built without Redis support; "
               "install libhiredis-dev and build again (meson configure -Dredis=enabled)");
  return NULL;
}

#else
#error "the Redis store comes in the next commit"
#endif /* SIGD_HAVE_HIREDIS */
