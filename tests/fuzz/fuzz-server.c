/* libFuzzer target: the server's message handling, several sessions at once.
 *
 * The input is a script: each byte picks one of four clients and an action
 * (connect, drop, or send one of the protocol's messages, with call ids and
 * invite codes the clients have seen, or raw bytes). The server runs without
 * sockets (sigd_server_new_detached); after every step the frames each
 * client got are checked:
 * - every frame is a valid server message;
 * - a client never gets a `signal` of a call other than its current one
 *   (it got `matched` for it, and no `peer_left`/`call_ended` since);
 * - a client is never `matched` into a second call while in one.
 * Crashes and leaks (the server is freed after each input) are caught by
 * the sanitizers.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sigd-private.h"
#include "sigd-server.h"

#include <stdio.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define N_CLIENTS 4
#define N_SEEN 8

typedef struct {
  SigdConn *conn;
  char *session;
  char *call; /* current call, from the frames it got */
  char *resume;
  char *code;
  char *claim;
  guint sent; /* messages sent: every third has a numeric request id, every third a string */
} Client;

typedef struct {
  const uint8_t *data;
  size_t size;
  size_t at;
  char *seen_calls[N_SEEN];
  guint n_seen;
} Script;

static guint8
next (Script *s)
{
  return s->at < s->size ? s->data[s->at++] : 0;
}

static void
remember_call (Script *s, const char *call)
{
  g_free (s->seen_calls[s->n_seen % N_SEEN]);
  s->seen_calls[s->n_seen % N_SEEN] = g_strdup (call);
  s->n_seen++;
}

/* A call id to put in a message: the client's own, one any client saw, or
 * made up. */
static const char *
pick_call (Script *s, Client *c)
{
  guint8 b = next (s);

  if (b % 4 == 0 && c->call)
    return c->call;
  if (b % 4 != 3 && s->n_seen > 0)
    return s->seen_calls[(b / 4) % MIN (s->n_seen, N_SEEN)];
  return "0123456789abcdef";
}

static void
fail (const char *what, const char *frame)
{
  fprintf (stderr, "fuzz-server: %s: %s\n", what, frame);
  abort ();
}

static void
check_frames (Script *s, Client *clients)
{
  for (guint i = 0; i < N_CLIENTS; i++) {
    Client *c = &clients[i];
    g_autoptr (GPtrArray) sent = NULL;

    if (!c->conn)
      continue;
    sent = sigd_conn_take_sent (c->conn);
    for (guint j = 0; j < sent->len; j++) {
      const char *frame = sent->pdata[j];
      g_autoptr (GError) error = NULL;
      g_autoptr (VchatMsg)
        msg = vchat_msg_parse (frame, strlen (frame), 0, VCHAT_MSG_FROM_SERVER, NULL, &error);
      const char *call;

      if (!msg)
        fail ("invalid frame from the server", frame);
      call = vchat_msg_get_string (msg, "call");
      switch (msg->type) {
      case VCHAT_MSG_WELCOME:
        g_free (c->resume);
        c->resume = g_strdup (vchat_msg_get_string (msg, "resume"));
        g_free (c->session);
        c->session = g_strdup (vchat_msg_get_string (msg, "session"));
        /* Resuming a session another client held takes its call along. */
        g_clear_pointer (&c->call, g_free);
        for (guint k = 0; k < N_CLIENTS; k++)
          if (k != i && vchat_msg_get_bool (msg, "resumed") &&
              g_strcmp0 (clients[k].session, c->session) == 0) {
            /* Several clients may have held the session in turn. */
            g_free (c->call);
            c->call = g_strdup (clients[k].call);
          }
        break;
      case VCHAT_MSG_MATCHED:
        if (c->call && g_strcmp0 (c->call, call) != 0)
          fail ("matched into a second call", frame);
        g_free (c->call);
        c->call = g_strdup (call);
        remember_call (s, call);
        break;
      case VCHAT_MSG_INCOMING:
      case VCHAT_MSG_RINGING:
        remember_call (s, call);
        break;
      case VCHAT_MSG_PEER_LEFT:
      case VCHAT_MSG_CALL_ENDED:
        if (g_strcmp0 (c->call, call) == 0)
          g_clear_pointer (&c->call, g_free);
        break;
      case VCHAT_MSG_SIGNAL:
        if (g_strcmp0 (c->call, call) != 0)
          fail ("a signal of another call", frame);
        break;
      case VCHAT_MSG_INVITE:
        g_free (c->code);
        c->code = g_strdup (vchat_msg_get_string (msg, "code"));
        g_free (c->claim);
        c->claim = g_strdup (vchat_msg_get_string (msg, "claim"));
        break;
      default:
        break;
      }
    }
  }
}

static void
client_forget (Client *c)
{
  c->conn = NULL;
  g_clear_pointer (&c->call, g_free);
  g_clear_pointer (&c->session, g_free);
}

static void
send_object (Client *c, JsonObject *msg)
{
  g_autofree char *text = NULL;
  g_autofree char *id = NULL;

  switch (c->sent++ % 3) {
  case 1:
    json_object_set_int_member (msg, "id", c->sent);
    break;
  case 2:
    id = g_strdup_printf ("r-%u", c->sent);
    json_object_set_string_member (msg, "id", id);
    break;
  default:
    break;
  }
  text = vchat_msg_object_to_string (msg);
  sigd_conn_receive (c->conn, text, strlen (text));
  json_object_unref (msg);
}

static const char *const interests[] = { "music", "films", "chess", "cats" };
static const char *const addresses[] = { "192.0.2.1", "192.0.2.2", "2001:db8::1", "2001:db8::2" };

static void
step (Script *s, SigdServer *server, Client *clients)
{
  guint8 op = next (s);
  Client *c = &clients[op % N_CLIENTS];
  Client *other = &clients[(op / 4 + 1) % N_CLIENTS];
  JsonObject *msg;

  if (!c->conn) {
    /* Clients 2 and 3 share a /64: per-address limits see one client. */
    c->conn = sigd_conn_new_detached (server, addresses[op % N_CLIENTS]);
    return;
  }
  if (sigd_conn_is_closed (c->conn)) {
    sigd_conn_drop (c->conn, 1006);
    client_forget (c);
    return;
  }

  switch ((op / 4) % 18) {
  case 0:
    sigd_conn_drop (c->conn, next (s) % 2 ? 1000 : 1006);
    client_forget (c);
    return;
  case 1:
  case 2:
    msg = vchat_msg_object_new (VCHAT_MSG_HELLO);
    json_object_set_int_member (msg, "version", 1);
    json_object_set_string_member (msg, "client", next (s) % 2 ? "vchatd/1" : "web/1");
    if ((op / 4) % 18 == 2 && other->resume)
      json_object_set_string_member (msg, "resume", other->resume);
    else if ((op / 4) % 18 == 2 && c->resume)
      json_object_set_string_member (msg, "resume", c->resume);
    send_object (c, msg);
    break;
  case 3: {
    JsonArray *arr = json_array_new ();
    guint8 mask = next (s);

    msg = vchat_msg_object_new (VCHAT_MSG_QUEUE);
    for (guint i = 0; i < G_N_ELEMENTS (interests); i++)
      if (mask & (1 << i))
        json_array_add_string_element (arr, interests[i]);
    json_object_set_array_member (msg, "interests", arr);
    if (mask & 0x10)
      json_object_set_string_member (msg, "language", mask & 0x20 ? "en" : "de");
    send_object (c, msg);
    break;
  }
  case 4:
    msg = vchat_msg_object_new (VCHAT_MSG_LEAVE);
    if (next (s) % 2)
      json_object_set_string_member (msg, "call", pick_call (s, c));
    send_object (c, msg);
    break;
  case 5:
    msg = vchat_msg_object_new (VCHAT_MSG_NEXT);
    json_object_set_string_member (msg, "call", pick_call (s, c));
    send_object (c, msg);
    break;
  case 6:
  case 7:
    msg = vchat_msg_object_new ((op / 4) % 18 == 6 ? VCHAT_MSG_ACCEPT : VCHAT_MSG_REJECT);
    json_object_set_string_member (msg, "call", pick_call (s, c));
    send_object (c, msg);
    break;
  case 8:
  case 9:
  case 10: {
    JsonObject *sdp = json_object_new ();

    msg = vchat_msg_object_new (VCHAT_MSG_SIGNAL);
    json_object_set_string_member (msg, "call", pick_call (s, c));
    json_object_set_string_member (sdp, "type", next (s) % 2 ? "offer" : "answer");
    json_object_set_string_member (sdp, "sdp", "v=0\r\n");
    json_object_set_object_member (msg, "sdp", sdp);
    send_object (c, msg);
    break;
  }
  case 11:
    msg = vchat_msg_object_new (VCHAT_MSG_REPORT);
    json_object_set_string_member (msg, "call", pick_call (s, c));
    json_object_set_string_member (msg, "reason", "fuzz");
    send_object (c, msg);
    break;
  case 12:
    msg = vchat_msg_object_new (VCHAT_MSG_INVITE_CREATE);
    send_object (c, msg);
    break;
  case 13:
    msg = vchat_msg_object_new (VCHAT_MSG_INVITE_JOIN);
    json_object_set_string_member (msg, "code", other->code ? other->code : "aaaa-bbbb-cccc-dddd");
    send_object (c, msg);
    break;
  case 14:
    msg = vchat_msg_object_new (VCHAT_MSG_INVITE_CANCEL);
    json_object_set_string_member (msg, "code", c->code ? c->code : "aaaa-bbbb-cccc-dddd");
    send_object (c, msg);
    break;
  case 15:
    msg = vchat_msg_object_new (VCHAT_MSG_INVITE_RECLAIM);
    json_object_set_string_member (msg, "code", other->code ? other->code : "aaaa-bbbb-cccc-dddd");
    json_object_set_string_member (msg, "claim", other->claim ? other->claim : "x");
    send_object (c, msg);
    break;
  case 16:
    msg = vchat_msg_object_new (VCHAT_MSG_PING);
    send_object (c, msg);
    break;
  default: {
    /* Raw bytes: whatever the parser lets through, the handlers take. */
    gsize want = next (s);
    gsize len = MIN (want, s->size - s->at);

    sigd_conn_receive (c->conn, (const char *) s->data + s->at, len);
    s->at += len;
    break;
  }
  }
}

static SigdConfig *
config (void)
{
  static SigdConfig config;
  static gboolean done;

  if (!done) {
    char *args[] = { "fuzz-server",        "--grace=0",
                     "--max-rate=1000000", "--max-sessions-per-address=3",
                     "--join-attempts=3",  "--report-threshold=2",
                     "--interest-wait=0",  "--language-wait=0",
                     "--rematch-delay=0",  NULL };
    char **argv = args;
    int argc = G_N_ELEMENTS (args) - 1;

    g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
    if (!sigd_config_load (&config, &argc, &argv, NULL))
      abort ();
    config.max_sessions = 6;
    done = TRUE;
  }
  return &config;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  SigdServer *server = sigd_server_new_detached (config ());
  Client clients[N_CLIENTS] = { { 0 } };
  Script s = { data, size, 0, { 0 }, 0 };

  while (s.at < s.size) {
    step (&s, server, clients);
    check_frames (&s, clients);
  }
  sigd_server_free (server);
  for (guint i = 0; i < N_CLIENTS; i++) {
    g_free (clients[i].call);
    g_free (clients[i].session);
    g_free (clients[i].resume);
    g_free (clients[i].code);
    g_free (clients[i].claim);
  }
  for (guint i = 0; i < N_SEEN; i++)
    g_free (s.seen_calls[i]);
  return 0;
}
