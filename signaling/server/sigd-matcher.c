/* sigd-matcher.c: the random queue and who is paired with whom
 *
 * The queue is small (people waiting right now), so each pass simply scores
 * every waiting pair. A pass runs when someone queues and
 * a few times a second, because waiting itself changes who is acceptable
 * (the interest and language preferences relax over time).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "sigd-private.h"

#include <string.h>

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

void
sigd_matcher_enqueue (SigdServer *server, SigdSession *session)
{
  JsonObject *msg;

  if (!session->queued) {
    session->queued = TRUE;
    session->queued_since = g_get_monotonic_time ();
    g_queue_push_tail (&server->queue, session);
  }
  msg = vchat_msg_object_new (VCHAT_MSG_QUEUED);
  json_object_set_array_member (msg, "interests",
                                sigd_strv_to_json ((const char *const *) session->interests));
  if (session->language)
    json_object_set_string_member (msg, "language", session->language);
  sigd_session_send (session, msg);
  json_object_unref (msg);
  sigd_matcher_run (server);
}

void
sigd_matcher_dequeue (SigdServer *server, SigdSession *session)
{
  if (!session->queued)
    return;
  g_queue_remove (&server->queue, session);
  session->queued = FALSE;
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

/* Whether @s, given how long it has waited, still insists on its
 * preferences. */
static gboolean
insists_on_interests (SigdServer *server, SigdSession *s, gint64 now)
{
  return s->interests[0] &&
         now - s->queued_since < (gint64) (server->config->interest_wait * G_USEC_PER_SEC);
}

static gboolean
insists_on_language (SigdServer *server, SigdSession *s, gint64 now)
{
  return s->language &&
         now - s->queued_since < (gint64) (server->config->language_wait * G_USEC_PER_SEC);
}

/* A score for pairing @a with @b, or -1 when they may not be paired now. */
static int
pair_score (SigdServer *server, SigdSession *a, SigdSession *b, gint64 now)
{
  g_auto (GStrv) common = NULL;
  gboolean same_language;
  guint n_common;

  if (!a->conn || !b->conn || pair_blocked (server, a, b, now))
    return -1;
  common = common_interests (a, b);
  n_common = g_strv_length (common);
  if (n_common == 0 &&
      (insists_on_interests (server, a, now) || insists_on_interests (server, b, now)))
    return -1;
  same_language = a->language && b->language && g_str_equal (a->language, b->language);
  if (a->language && b->language && !same_language &&
      (insists_on_language (server, a, now) || insists_on_language (server, b, now)))
    return -1;
  return (int) n_common * 2 + (same_language ? 1 : 0);
}

void
sigd_matcher_run (SigdServer *server)
{
  gint64 now = g_get_monotonic_time ();

  /* Each round pairs the best-scoring pair of the whole queue, so a newcomer
   * goes to whoever shares most with it, not merely to whoever waited
   * longest; among equals the earliest arrivals win, as the scan is in
   * arrival order and only a strictly better score replaces a choice. */
  for (;;) {
    SigdSession *best_a = NULL, *best_b = NULL;
    int best_score = -1;
    SigdCall *call;

    for (GList *l = server->queue.head; l; l = l->next) {
      for (GList *m = l->next; m; m = m->next) {
        int score = pair_score (server, l->data, m->data, now);

        if (score > best_score) {
          best_a = l->data;
          best_b = m->data;
          best_score = score;
        }
      }
    }
    if (!best_a)
      return;
    sigd_matcher_dequeue (server, best_a);
    sigd_matcher_dequeue (server, best_b);
    server->metrics.matches++;
    call = sigd_server_start_call (server, SIGD_CALL_RANDOM, best_a, best_b,
                                   common_interests (best_a, best_b));
    sigd_server_activate_call (server, call);
  }
}
