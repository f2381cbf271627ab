/* sigd-matcher.c: the random queue and who is paired with whom
 *
 * Who may meet whom, and who is preferred, is pair_score(): common
 * interests first, then the same language, and among equals whoever waited
 * longest. Someone with interests insists on sharing one for interest_wait,
 * and two people asking for different languages are kept apart for
 * language_wait.
 *
 * The matcher keeps one promise: between two events, no two waiting people
 * may be paired. So when something happens to one person — they queue, their
 * connection comes back, one of their waits runs out, a rematch block with
 * someone ends — only pairs with that person can have become possible, and
 * the best of them is the best of the whole queue. Their candidates are
 * found in indexes instead of by scoring every waiting pair:
 * - for each interest, who is waiting with it: everyone sharing at least one
 *   interest with them;
 * - who is waiting without insisting on interests (none given, or waited
 *   long enough): everyone else they could meet.
 * Because of the promise, these hold few people each (people in one of them
 * who could meet would already have met: what remains are people kept apart
 * by language, by a rematch block, or away in their grace time), so finding a
 * partner costs about the number of languages being asked for, not the
 * queue.
 *
 * Waits running out and rematch blocks ending are events at known times,
 * kept in one sequence ordered by time with a single timer armed to the
 * first: nothing runs while nothing is due.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "sigd-private.h"

#include <string.h>

typedef enum {
  EVENT_INTERESTS, /* @session stops insisting on its interests */
  EVENT_LANGUAGE,  /* @session stops insisting on its language */
  EVENT_UNBLOCK,   /* the rematch block of @pair ends */
} EventKind;

typedef struct {
  gint64 at; /* monotonic µs */
  guint64 seq;
  EventKind kind;
  SigdSession *session; /* EVENT_INTERESTS, EVENT_LANGUAGE */
  char *pair;           /* EVENT_UNBLOCK: "idA idB" */
} Event;

static void
event_free (Event *event)
{
  g_free (event->pair);
  g_free (event);
}

static gint
event_compare (gconstpointer a, gconstpointer b, gpointer data)
{
  const Event *ea = a, *eb = b;

  if (ea->at != eb->at)
    return ea->at < eb->at ? -1 : 1;
  return ea->seq < eb->seq ? -1 : ea->seq > eb->seq;
}

static void schedule (SigdServer *server);

static GSequenceIter *
add_event (SigdServer *server, EventKind kind, gint64 at, SigdSession *session, char *pair)
{
  Event *event = g_new0 (Event, 1);
  GSequenceIter *iter;

  event->at = at;
  event->seq = server->match_seq++;
  event->kind = kind;
  event->session = session;
  event->pair = pair;
  iter = g_sequence_insert_sorted (server->match_events, event, event_compare, NULL);
  if (g_sequence_iter_is_begin (iter))
    schedule (server);
  return iter;
}

static void
clear_event (GSequenceIter **iter)
{
  if (*iter) {
    g_sequence_remove (*iter);
    *iter = NULL;
  }
}

void
sigd_matcher_init (SigdServer *server)
{
  g_queue_init (&server->queue);
  server->match_events = g_sequence_new ((GDestroyNotify) event_free);
  server->by_interest = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                               (GDestroyNotify) g_hash_table_unref);
  server->open = g_hash_table_new (NULL, NULL);
}

void
sigd_matcher_free (SigdServer *server)
{
  g_clear_handle_id (&server->match_source, g_source_remove);
  g_queue_clear (&server->queue);
  g_clear_pointer (&server->match_events, g_sequence_free);
  g_clear_pointer (&server->by_interest, g_hash_table_destroy);
  g_clear_pointer (&server->open, g_hash_table_destroy);
}

static char *
pair_key (SigdSession *a, SigdSession *b)
{
  return strcmp (a->id, b->id) < 0 ? g_strconcat (a->id, " ", b->id, NULL)
                                   : g_strconcat (b->id, " ", a->id, NULL);
}

void
sigd_matcher_block_pair (SigdServer *server, SigdSession *a, SigdSession *b)
{
  gint64 *deadline = g_new (gint64, 1);

  *deadline = g_get_monotonic_time () + (gint64) (server->config->rematch_delay * G_USEC_PER_SEC);
  g_hash_table_insert (server->rematch_block, pair_key (a, b), deadline);
  add_event (server, EVENT_UNBLOCK, *deadline, NULL, pair_key (a, b));
  sigd_remote_block_pair (server, a, b);
}

static gboolean
pair_blocked (SigdServer *server, SigdSession *a, SigdSession *b, gint64 now)
{
  g_autofree char *key = pair_key (a, b);
  gint64 *deadline = g_hash_table_lookup (server->rematch_block, key);

  if (!deadline)
    return FALSE;
  if (now < *deadline)
    return TRUE;
  g_hash_table_remove (server->rematch_block, key);
  return FALSE;
}

static GStrv
common_interests (SigdSession *a, SigdSession *b)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; a->interests[i]; i++)
    if (g_strv_contains ((const char *const *) b->interests, a->interests[i]))
      g_strv_builder_add (builder, a->interests[i]);
  return g_strv_builder_end (builder);
}

static guint
count_common (SigdSession *a, SigdSession *b)
{
  guint n = 0;

  for (guint i = 0; a->interests[i]; i++)
    if (g_strv_contains ((const char *const *) b->interests, a->interests[i]))
      n++;
  return n;
}

gint64
sigd_matcher_interests_until (SigdServer *server, SigdSession *s)
{
  return s->interests[0]
           ? s->queued_since + (gint64) (server->config->interest_wait * G_USEC_PER_SEC)
           : 0;
}

gint64
sigd_matcher_language_until (SigdServer *server, SigdSession *s)
{
  return s->language
           ? s->queued_since + (gint64) (server->config->language_wait * G_USEC_PER_SEC)
           : 0;
}

/* Whether @s, given how long it has waited, still insists on its
 * preferences. */
static gboolean
insists_on_interests (SigdServer *server, SigdSession *s, gint64 now)
{
  return now < sigd_matcher_interests_until (server, s);
}

static gboolean
insists_on_language (SigdServer *server, SigdSession *s, gint64 now)
{
  return now < sigd_matcher_language_until (server, s);
}

/* A score for pairing @a with @b, or -1 when they may not be paired now. */
static int
pair_score (SigdServer *server, SigdSession *a, SigdSession *b, gint64 now)
{
  gboolean same_language;
  guint n_common;

  if (!a->conn || !b->conn || pair_blocked (server, a, b, now))
    return -1;
  n_common = count_common (a, b);
  if (n_common == 0 &&
      (insists_on_interests (server, a, now) || insists_on_interests (server, b, now)))
    return -1;
  same_language = a->language && b->language && g_str_equal (a->language, b->language);
  if (a->language && b->language && !same_language &&
      (insists_on_language (server, a, now) || insists_on_language (server, b, now)))
    return -1;
  return (int) n_common * 2 + (same_language ? 1 : 0);
}

/* Indexes */

static void
index_add (SigdServer *server, SigdSession *session, gint64 now)
{
  for (guint i = 0; session->interests[i]; i++) {
    GHashTable *set = g_hash_table_lookup (server->by_interest, session->interests[i]);

    if (!set) {
      set = g_hash_table_new (NULL, NULL);
      g_hash_table_insert (server->by_interest, g_strdup (session->interests[i]), set);
    }
    g_hash_table_add (set, session);
  }
  if (!insists_on_interests (server, session, now))
    g_hash_table_add (server->open, session);
  else
    session->interests_event =
      add_event (server, EVENT_INTERESTS, sigd_matcher_interests_until (server, session),
                 session, NULL);
  if (insists_on_language (server, session, now))
    session->language_event =
      add_event (server, EVENT_LANGUAGE, sigd_matcher_language_until (server, session),
                 session, NULL);
}

static void
index_remove (SigdServer *server, SigdSession *session)
{
  for (guint i = 0; session->interests[i]; i++) {
    GHashTable *set = g_hash_table_lookup (server->by_interest, session->interests[i]);

    if (set && g_hash_table_remove (set, session) && g_hash_table_size (set) == 0)
      g_hash_table_remove (server->by_interest, session->interests[i]);
  }
  g_hash_table_remove (server->open, session);
  clear_event (&session->interests_event);
  clear_event (&session->language_event);
}

/* Pairing */

typedef struct {
  SigdServer *server;
  SigdSession *s;
  SigdSession *best;
  int best_score;
  gint64 now;
} Search;

static void
consider (gpointer key, gpointer value, gpointer data)
{
  Search *search = data;
  SigdSession *p = key;
  int score;

  /* A session in the shared queue (sigd-remote.c) is matched there only. */
  if (p == search->s || p->spilled)
    return;
  score = pair_score (search->server, search->s, p, search->now);
  /* Among equals, whoever queued first. */
  if (score > search->best_score ||
      (score == search->best_score && score >= 0 && p->queue_seq < search->best->queue_seq)) {
    search->best = p;
    search->best_score = score;
  }
}

/* Pairs @s with the best partner it may have now, if any. */
static void
try_session (SigdServer *server, SigdSession *s)
{
  Search search = { server, s, NULL, -1, g_get_monotonic_time () };
  SigdSession *a, *b;
  SigdCall *call;

  if (!s->queued || !s->conn || s->spilled)
    return;
  /* Whoever may be paired with @s shares an interest with it, or else
   * neither insists on interests, and then both are in the open set. */
  for (guint i = 0; s->interests[i]; i++) {
    GHashTable *set = g_hash_table_lookup (server->by_interest, s->interests[i]);

    if (set)
      g_hash_table_foreach (set, consider, &search);
  }
  if (!insists_on_interests (server, s, search.now))
    g_hash_table_foreach (server->open, consider, &search);
  if (!search.best)
    return;

  /* The one who queued first is the first of the pair, as always. */
  a = s->queue_seq < search.best->queue_seq ? s : search.best;
  b = a == s ? search.best : s;
  sigd_matcher_dequeue (server, a);
  sigd_matcher_dequeue (server, b);
  server->metrics.matches++;
  call = sigd_server_start_call (server, SIGD_CALL_RANDOM, a, b, common_interests (a, b));
  sigd_server_activate_call (server, call);
}

/* Events */

static gboolean
events_cb (gpointer data)
{
  SigdServer *server = data;

  server->match_source = 0;
  for (;;) {
    GSequenceIter *first = g_sequence_get_begin_iter (server->match_events);
    Event *event;
    SigdSession *s = NULL;

    if (g_sequence_iter_is_end (first))
      break;
    event = g_sequence_get (first);
    if (event->at > g_get_monotonic_time ())
      break;
    switch (event->kind) {
    case EVENT_INTERESTS:
      s = event->session;
      s->interests_event = NULL;
      g_hash_table_add (server->open, s);
      break;
    case EVENT_LANGUAGE:
      s = event->session;
      s->language_event = NULL;
      break;
    case EVENT_UNBLOCK: {
      gint64 *deadline = g_hash_table_lookup (server->rematch_block, event->pair);
      g_auto (GStrv) ids = g_strsplit (event->pair, " ", 2);

      /* Blocked again since: a later event ends it. */
      if (!deadline || *deadline > event->at)
        break;
      g_hash_table_remove (server->rematch_block, event->pair);
      s = g_hash_table_lookup (server->sessions, ids[0]);
      if (!s || !s->queued)
        s = g_hash_table_lookup (server->sessions, ids[1]);
      break;
    }
    }
    g_sequence_remove (first);
    if (s)
      try_session (server, s);
  }
  schedule (server);
  return G_SOURCE_REMOVE;
}

/* Arms the timer for the first event. */
static void
schedule (SigdServer *server)
{
  GSequenceIter *first = g_sequence_get_begin_iter (server->match_events);
  gint64 at, now;

  g_clear_handle_id (&server->match_source, g_source_remove);
  if (g_sequence_iter_is_end (first))
    return;
  at = ((Event *) g_sequence_get (first))->at;
  now = g_get_monotonic_time ();
  /* Rounded up: the callback runs no event before its time. */
  server->match_source =
    g_timeout_add ((guint) MAX ((at - now + 999) / 1000, 0), events_cb, server);
}

/* The queue */

void
sigd_matcher_enqueue (SigdServer *server, SigdSession *session)
{
  JsonObject *msg;

  if (!session->queued) {
    session->queued = TRUE;
    session->queued_since = g_get_monotonic_time ();
    session->queue_seq = server->match_seq++;
    g_queue_push_tail (&server->queue, session);
    session->queue_link = server->queue.tail;
  } else {
    /* Queued again with other interests or language, keeping its place
     * (sigd_matcher_unindex() took it out under the old ones). */
    index_remove (server, session);
  }
  index_add (server, session, g_get_monotonic_time ());
  msg = vchat_msg_object_new (VCHAT_MSG_QUEUED);
  json_object_set_array_member (msg, "interests",
                                sigd_strv_to_json ((const char *const *) session->interests));
  if (session->language)
    json_object_set_string_member (msg, "language", session->language);
  sigd_session_send (session, msg);
  json_object_unref (msg);
  try_session (server, session);
  if (session->queued)
    sigd_remote_queued (server);
}

void
sigd_matcher_unindex (SigdServer *server, SigdSession *session)
{
  /* Queued again, with other interests: out of the shared queue too, until
   * the next tick puts it back with them. */
  if (session->spilled) {
    session->spilled = FALSE;
    sigd_store_queue_remove (server->store, session->id);
  }
  if (session->queued)
    index_remove (server, session);
}

void
sigd_matcher_dequeue (SigdServer *server, SigdSession *session)
{
  if (!session->queued)
    return;
  if (session->spilled) {
    session->spilled = FALSE;
    sigd_store_queue_remove (server->store, session->id);
  }
  index_remove (server, session);
  g_queue_delete_link (&server->queue, session->queue_link);
  session->queue_link = NULL;
  session->queued = FALSE;
}

void
sigd_matcher_resumed (SigdServer *server, SigdSession *session)
{
  try_session (server, session);
}
