/* sigd-store-memory.c: the store in this process's memory (the default)
 *
 * Answers every operation at once. Expired invites, tombstones and attempt
 * windows are forgotten by sweep(), which the server calls when the first
 * of them is due.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "sigd-store.h"

#define TOMBSTONE_US ((gint64) SIGD_TOMBSTONE_S * G_USEC_PER_SEC)
#define ATTEMPT_WINDOW_US ((gint64) SIGD_ATTEMPT_WINDOW_S * G_USEC_PER_SEC)

typedef struct {
  guint count;
  gint64 window_start; /* monotonic µs */
} Attempts;

typedef struct {
  SigdStore parent;
  GHashTable *invites;     /* code → SigdInvite*, owned */
  GHashTable *per_address; /* address key → open invites */
  GHashTable *tombstones;  /* code → gint64 monotonic deadline */
  GQueue tombstone_order;  /* codes (owned), oldest first */
  GHashTable *attempts;    /* address key → Attempts* */
} MemoryStore;

/* Real time (of an invite's expiry) as the monotonic time of the sweep. */
static gint64
monotonic_at (gint64 real_us)
{
  return g_get_monotonic_time () + MAX (0, real_us - g_get_real_time ());
}

static void
sweep_at (MemoryStore *self, gint64 at)
{
  if (self->parent.sweep_at)
    self->parent.sweep_at (self->parent.server, at);
}

static void
address_count (MemoryStore *self, const char *address, int delta)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_address, address));

  n = delta < 0 && n == 0 ? 0 : n + delta;
  if (n == 0)
    g_hash_table_remove (self->per_address, address);
  else
    g_hash_table_insert (self->per_address, g_strdup (address), GUINT_TO_POINTER (n));
}

/* Removes @invite, remembering its code for a while so that a late joiner
 * learns it expired rather than that it never existed. */
static void
invite_remove (MemoryStore *self, SigdInvite *invite)
{
  gint64 *deadline = g_new (gint64, 1);

  *deadline = g_get_monotonic_time () + TOMBSTONE_US;
  sweep_at (self, *deadline);
  g_hash_table_insert (self->tombstones, g_strdup (invite->code), deadline);
  /* Every tombstone lives as long, so arrival order is expiry order.
   * Clients can end invites faster than they are forgotten, so past
   * max_tombstones the oldest go first (a late joiner then hears
   * invite-not-found instead of invite-expired; nothing else changes). */
  g_queue_push_tail (&self->tombstone_order, g_strdup (invite->code));
  while (self->tombstone_order.length > (guint) self->parent.config->max_tombstones) {
    g_autofree char *oldest = g_queue_pop_head (&self->tombstone_order);
    g_hash_table_remove (self->tombstones, oldest);
  }
  address_count (self, invite->address, -1);
  g_hash_table_remove (self->invites, invite->code);
}

static SigdInvite *
lookup (MemoryStore *self, const char *code, SigdStoreStatus *status)
{
  SigdInvite *invite = g_hash_table_lookup (self->invites, code);

  if (invite && invite->expires > g_get_real_time ()) {
    *status = SIGD_STORE_OK;
    return invite;
  }
  *status = invite || g_hash_table_contains (self->tombstones, code) ? SIGD_STORE_EXPIRED
                                                                      : SIGD_STORE_NOT_FOUND;
  return NULL;
}

static void
memory_invite_add (SigdStore *store, const SigdInvite *invite, guint max_per_address,
                   SigdStoreInviteCb cb, gpointer data)
{
  MemoryStore *self = (MemoryStore *) store;
  SigdInvite *copy;

  if (GPOINTER_TO_UINT (g_hash_table_lookup (self->per_address, invite->address)) >=
      max_per_address) {
    cb (SIGD_STORE_LIMIT, NULL, data);
    return;
  }
  copy = sigd_invite_copy (invite);
  g_hash_table_insert (self->invites, copy->code, copy);
  address_count (self, copy->address, 1);
  sweep_at (self, monotonic_at (copy->expires));
  cb (SIGD_STORE_OK, copy, data);
}

static void
memory_invite_get (SigdStore *store, const char *code, SigdStoreInviteCb cb, gpointer data)
{
  SigdStoreStatus status;
  SigdInvite *invite = lookup ((MemoryStore *) store, code, &status);

  cb (status, invite, data);
}

static void
memory_invite_take (SigdStore *store, const char *code, SigdStoreInviteCb cb, gpointer data)
{
  MemoryStore *self = (MemoryStore *) store;
  SigdStoreStatus status;
  SigdInvite *invite = lookup (self, code, &status);
  g_autoptr (SigdInvite) was = NULL;

  if (!invite) {
    cb (status, NULL, data);
    return;
  }
  was = sigd_invite_copy (invite);
  invite_remove (self, invite);
  cb (SIGD_STORE_OK, was, data);
}

static void
memory_invite_set_owner (SigdStore *store, const char *code, const char *owner,
                         SigdStoreInviteCb cb, gpointer data)
{
  MemoryStore *self = (MemoryStore *) store;
  SigdStoreStatus status;
  SigdInvite *invite = lookup (self, code, &status);
  g_autoptr (SigdInvite) was = NULL;

  if (!invite) {
    cb (status, NULL, data);
    return;
  }
  was = sigd_invite_copy (invite);
  g_free (invite->owner);
  invite->owner = g_strdup (owner);
  cb (SIGD_STORE_OK, was, data);
}

static void
memory_invites_disown (SigdStore *store, const char *owner)
{
  MemoryStore *self = (MemoryStore *) store;
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->invites);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    SigdInvite *invite = value;

    if (g_strcmp0 (invite->owner, owner) == 0)
      g_clear_pointer (&invite->owner, g_free);
  }
}

static void
memory_attempts_get (SigdStore *store, const char *key, SigdStoreCountCb cb, gpointer data)
{
  MemoryStore *self = (MemoryStore *) store;
  Attempts *attempts = g_hash_table_lookup (self->attempts, key);

  if (attempts && g_get_monotonic_time () - attempts->window_start > ATTEMPT_WINDOW_US) {
    g_hash_table_remove (self->attempts, key);
    attempts = NULL;
  }
  cb (SIGD_STORE_OK, attempts ? attempts->count : 0, data);
}

static void
memory_attempts_add (SigdStore *store, const char *key, SigdStoreCountCb cb, gpointer data)
{
  MemoryStore *self = (MemoryStore *) store;
  Attempts *attempts = g_hash_table_lookup (self->attempts, key);
  gint64 now = g_get_monotonic_time ();

  if (!attempts) {
    attempts = g_new0 (Attempts, 1);
    attempts->window_start = now;
    g_hash_table_insert (self->attempts, g_strdup (key), attempts);
    sweep_at (self, now + ATTEMPT_WINDOW_US + 1);
  }
  attempts->count++;
  if (cb)
    cb (SIGD_STORE_OK, attempts->count, data);
}

static gint64
memory_sweep (SigdStore *store)
{
  MemoryStore *self = (MemoryStore *) store;
  gint64 now = g_get_monotonic_time ();
  gint64 real_now = g_get_real_time ();
  gint64 next = G_MAXINT64;
  g_autoptr (GPtrArray) expired = g_ptr_array_new_with_free_func ((GDestroyNotify) sigd_invite_free);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->invites);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    SigdInvite *invite = value;

    if (invite->expires <= real_now)
      g_ptr_array_add (expired, sigd_invite_copy (invite));
    else
      next = MIN (next, now + (invite->expires - real_now));
  }
  for (guint i = 0; i < expired->len; i++) {
    SigdInvite *invite = expired->pdata[i];

    invite_remove (self, g_hash_table_lookup (self->invites, invite->code));
    if (store->expired_func)
      store->expired_func (invite, store->expired_data);
  }

  while (!g_queue_is_empty (&self->tombstone_order)) {
    const char *code = g_queue_peek_head (&self->tombstone_order);
    gint64 *deadline = g_hash_table_lookup (self->tombstones, code);

    if (deadline && *deadline > now) {
      next = MIN (next, *deadline);
      break;
    }
    g_hash_table_remove (self->tombstones, code);
    g_free (g_queue_pop_head (&self->tombstone_order));
  }
  g_hash_table_iter_init (&iter, self->attempts);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    gint64 start = ((Attempts *) value)->window_start;

    if (now - start > ATTEMPT_WINDOW_US)
      g_hash_table_iter_remove (&iter);
    else
      next = MIN (next, start + ATTEMPT_WINDOW_US + 1);
  }
  return next;
}

static guint
memory_invites_count (SigdStore *store)
{
  return g_hash_table_size (((MemoryStore *) store)->invites);
}

static guint
memory_tombstones_count (SigdStore *store)
{
  return g_hash_table_size (((MemoryStore *) store)->tombstones);
}

static void
memory_free (SigdStore *store)
{
  MemoryStore *self = (MemoryStore *) store;

  g_hash_table_unref (self->invites);
  g_hash_table_unref (self->per_address);
  g_hash_table_unref (self->tombstones);
  g_queue_clear_full (&self->tombstone_order, g_free);
  g_hash_table_unref (self->attempts);
  g_free (self);
}

static const SigdStoreClass memory_class = {
  .free = memory_free,
  .invite_add = memory_invite_add,
  .invite_get = memory_invite_get,
  .invite_take = memory_invite_take,
  .invite_set_owner = memory_invite_set_owner,
  .invites_disown = memory_invites_disown,
  .attempts_get = memory_attempts_get,
  .attempts_add = memory_attempts_add,
  .sweep = memory_sweep,
  .invites_count = memory_invites_count,
  .tombstones_count = memory_tombstones_count,
};

SigdStore *
sigd_store_memory_new (SigdConfig *config)
{
  MemoryStore *self = g_new0 (MemoryStore, 1);

  self->parent.klass = &memory_class;
  self->parent.config = config;
  self->invites = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify) sigd_invite_free);
  self->per_address = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->tombstones = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_queue_init (&self->tombstone_order);
  self->attempts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return &self->parent;
}
