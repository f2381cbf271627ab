/* sigd-store.c: the store interface's entry points (see sigd-store.h)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "sigd-store.h"

SigdInvite *
sigd_invite_copy (const SigdInvite *invite)
{
  SigdInvite *copy = g_new0 (SigdInvite, 1);

  copy->code = g_strdup (invite->code);
  copy->owner = g_strdup (invite->owner);
  copy->claim = g_strdup (invite->claim);
  copy->address = g_strdup (invite->address);
  copy->expires = invite->expires;
  copy->node = g_strdup (invite->node);
  return copy;
}

void
sigd_invite_free (SigdInvite *invite)
{
  if (!invite)
    return;
  g_free (invite->code);
  g_free (invite->owner);
  g_free (invite->claim);
  g_free (invite->address);
  g_free (invite->node);
  g_free (invite);
}

void
sigd_store_free (SigdStore *store)
{
  if (store)
    store->klass->free (store);
}

void
sigd_store_invite_add (SigdStore *store, const SigdInvite *invite, guint max_per_address,
                       SigdStoreInviteCb cb, gpointer data)
{
  store->klass->invite_add (store, invite, max_per_address, cb, data);
}

void
sigd_store_invite_get (SigdStore *store, const char *code, SigdStoreInviteCb cb, gpointer data)
{
  store->klass->invite_get (store, code, cb, data);
}

void
sigd_store_invite_take (SigdStore *store, const char *code, SigdStoreInviteCb cb, gpointer data)
{
  store->klass->invite_take (store, code, cb, data);
}

void
sigd_store_invite_set_owner (SigdStore *store, const char *code, const char *owner,
                             SigdStoreInviteCb cb, gpointer data)
{
  store->klass->invite_set_owner (store, code, owner, cb, data);
}

void
sigd_store_invites_disown (SigdStore *store, const char *owner)
{
  store->klass->invites_disown (store, owner);
}

void
sigd_store_attempts_get (SigdStore *store, const char *key, SigdStoreCountCb cb, gpointer data)
{
  store->klass->attempts_get (store, key, cb, data);
}

void
sigd_store_attempts_add (SigdStore *store, const char *key, SigdStoreCountCb cb,
                         gpointer data)
{
  store->klass->attempts_add (store, key, cb, data);
}

gint64
sigd_store_sweep (SigdStore *store)
{
  return store->klass->sweep (store);
}

guint
sigd_store_invites_count (SigdStore *store)
{
  return store->klass->invites_count (store);
}

guint
sigd_store_tombstones_count (SigdStore *store)
{
  return store->klass->tombstones_count (store);
}

gboolean
sigd_store_is_shared (SigdStore *store)
{
  return store->node != NULL && store->klass->publish != NULL;
}

void
sigd_store_publish (SigdStore *store, const char *node, const char *text)
{
  if (store->klass->publish)
    store->klass->publish (store, node, text);
}

void
sigd_store_nodes_alive (SigdStore *store, const char *const *nodes, guint n_nodes,
                        SigdStoreAliveCb cb, gpointer data)
{
  if (store->klass->nodes_alive)
    store->klass->nodes_alive (store, nodes, n_nodes, cb, data);
  else
    cb (SIGD_STORE_UNAVAILABLE, NULL, data);
}

/* The memory store has none of these: no other server could ask. */

void
sigd_store_resume_set (SigdStore *store, const char *token, const char *session)
{
  if (store->klass->resume_set)
    store->klass->resume_set (store, token, session);
}

void
sigd_store_resume_forget (SigdStore *store, const char *token)
{
  if (store->klass->resume_forget)
    store->klass->resume_forget (store, token);
}

void
sigd_store_resume_get (SigdStore *store, const char *token, SigdStoreStringCb cb, gpointer data)
{
  if (store->klass->resume_get)
    store->klass->resume_get (store, token, cb, data);
  else
    cb (SIGD_STORE_NOT_FOUND, NULL, data);
}

void
sigd_store_session_save (SigdStore *store, const char *session, const char *state)
{
  if (store->klass->session_save)
    store->klass->session_save (store, session, state);
}

void
sigd_store_session_forget (SigdStore *store, const char *session)
{
  if (store->klass->session_forget)
    store->klass->session_forget (store, session);
}

void
sigd_store_resume_take (SigdStore *store, const char *token, gint64 grace_ms, SigdStoreTakeCb cb,
                        gpointer data)
{
  if (store->klass->resume_take)
    store->klass->resume_take (store, token, grace_ms, cb, data);
  else
    cb (SIGD_STORE_NOT_FOUND, NULL, NULL, NULL, NULL, data);
}

void
sigd_store_conns_add (SigdStore *store, const char *key, int delta, SigdStoreCountsCb cb,
                      gpointer data)
{
  if (store->klass->conns_add)
    store->klass->conns_add (store, key, delta, cb, data);
  else if (cb)
    cb (SIGD_STORE_UNAVAILABLE, 0, 0, data);
}

void
sigd_store_sessions_add (SigdStore *store, const char *key, int delta)
{
  if (store->klass->sessions_add)
    store->klass->sessions_add (store, key, delta);
}

void
sigd_store_invites_move (SigdStore *store, const char *owner, const char *node)
{
  if (store->klass->invites_move)
    store->klass->invites_move (store, owner, node);
}

void
sigd_store_queue_add (SigdStore *store, const char *session, const char *desc,
                      const char *interests, const char *language, gint64 since_ms)
{
  if (store->klass->queue_add)
    store->klass->queue_add (store, session, desc, interests, language, since_ms);
}

void
sigd_store_queue_remove (SigdStore *store, const char *session)
{
  if (store->klass->queue_remove)
    store->klass->queue_remove (store, session);
}

void
sigd_store_queue_match (SigdStore *store, const char *session, const char *token,
                        const SigdQueueWaits *waits, SigdStoreStringCb cb, gpointer data)
{
  if (store->klass->queue_match)
    store->klass->queue_match (store, session, token, waits, cb, data);
  else
    cb (SIGD_STORE_NOT_FOUND, NULL, data);
}

void
sigd_store_block_pair (SigdStore *store, const char *a, const char *b, gint64 ms)
{
  if (store->klass->block_pair)
    store->klass->block_pair (store, a, b, ms);
}

void
sigd_store_report_add (SigdStore *store, const char *key, const char *reporter, guint threshold,
                       gint64 refuse_ms, SigdStoreCountCb cb, gpointer data)
{
  g_return_if_fail (store->klass->report_add);
  store->klass->report_add (store, key, reporter, threshold, refuse_ms, cb, data);
}

void
sigd_store_refused_get (SigdStore *store, const char *key, SigdStoreCountCb cb, gpointer data)
{
  g_return_if_fail (store->klass->refused_get);
  store->klass->refused_get (store, key, cb, data);
}
