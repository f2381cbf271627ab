/* vchat-loadgen: many vchat-signald clients in one process, for scripts/bench-signald
 *
 * One thread, one epoll loop, non-blocking sockets and a WebSocket client
 * just big enough for the protocol's JSON text frames (masked with a zero
 * key: the server unmasks any key), so that the load client costs far less
 * than the server it measures. The benchmark runs several of these side by
 * side and reads their CPU time.
 *
 * It is driven through stdin, one command a line, and answers on stdout,
 * one line each, times as CLOCK_MONOTONIC ns (the same clock in every
 * process, so the script compares them):
 *
 *   connect             open every client (at most --window connecting at
 *                       once), hello, wait for welcome
 *                       → connected OK FAILED T_START T_END
 *   queue MODE [K]      every idle client queues: MODE plain (no interests),
 *                       vocab (1-3 of K words w0…), unique (an interest
 *                       nobody else has: it waits)
 *                       → matched N T_START T_LAST T_99 when all are
 *                         matched (T_99: when 99 % were), queued N T_START
 *                         T_LAST for unique
 *   status              → status MATCHED T_START T_LAST T_99 QUEUED IDLE ERRORS
 *   hangup              the offerer of each call leaves it
 *                       → idle N T_START T_LAST once all are out of calls
 *   relay RATE SECONDS  matched clients send signal (ice) frames to their
 *                       peers, RATE a second in all, round robin; each
 *                       carries its send time, and whoever gets one
 *                       records its latency → relayed SENT ERRORS (SENT:
 *                       frames sent, which is RATE × SECONDS unless too
 *                       few clients were matched; errors since the start)
 *   hist                latencies received since the last hist, in 10 µs
 *                       buckets → hist N MAX_NS BUCKET:COUNT …
 *   cpu                 → cpu USER_US SYSTEM_US
 *   quit
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE /* memmem */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define BUCKET_NS 10000
#define N_BUCKETS 100000 /* 10 µs … 1 s */
#define READ_CHUNK 65536

typedef enum {
  ST_NEW,
  ST_CONNECTING,
  ST_HANDSHAKE,
  ST_WAIT_WELCOME,
  ST_IDLE,
  ST_QUEUED,
  ST_MATCHED,
  ST_LEAVING,
  ST_DEAD,
} State;

typedef struct {
  int fd;
  State state;
  gboolean offerer;
  gboolean want_out; /* EPOLLOUT registered */
  char call[64];
  char *in;          /* bytes of a frame not complete yet */
  gsize in_len, in_cap;
  char *out;         /* bytes the socket did not take yet */
  gsize out_len, out_off, out_cap;
} Client;

static Client *clients;
static int n_clients;
static int epfd;
static struct sockaddr_in *servers;
static int n_servers;
static int n_sources = 8;
static int window = 200;
static int next_to_connect;
static int connecting;

static int n_welcomed, n_failed, n_matched, n_queued, n_idle_back, n_errors;
static gint64 t_phase_start, t_last, t_99; /* t_99: 99 % of the queued were matched */
static enum { PH_NONE, PH_CONNECT, PH_QUEUE, PH_QUEUE_UNIQUE, PH_HANGUP } phase;
static int phase_target;

static guint32 *hist;
static guint64 hist_n, hist_max;

/* relay */
static gboolean relaying;
static double relay_rate;
static gint64 relay_start, relay_end;
static guint64 relay_done, relay_sent; /* due and handled; really sent */
static int relay_cursor;

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
say (const char *format, ...)
{
  va_list args;

  va_start (args, format);
  vprintf (format, args);
  va_end (args);
  putchar ('\n');
  fflush (stdout);
}

static void
watch (Client *c, gboolean out)
{
  struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c };

  if (c->want_out == out)
    return;
  c->want_out = out;
  epoll_ctl (epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void client_dead (Client *c);

static void
flush_out (Client *c)
{
  while (c->out_off < c->out_len) {
    ssize_t n = write (c->fd, c->out + c->out_off, c->out_len - c->out_off);

    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        watch (c, TRUE);
        return;
      }
      client_dead (c);
      return;
    }
    c->out_off += (gsize) n;
  }
  c->out_len = c->out_off = 0;
  if (c->out_cap > 4096) {
    g_clear_pointer (&c->out, g_free);
    c->out_cap = 0;
  }
  watch (c, FALSE);
}

static void
send_bytes (Client *c, const char *data, gsize len)
{
  if (c->state == ST_DEAD)
    return;
  if (c->out_len == 0) {
    ssize_t n = write (c->fd, data, len);

    if (n == (ssize_t) len)
      return;
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      client_dead (c);
      return;
    }
    if (n > 0) {
      data += n;
      len -= (gsize) n;
    }
  }
  if (c->out_len + len > c->out_cap) {
    c->out_cap = MAX (c->out_cap * 2, c->out_len + len + 256);
    c->out = g_realloc (c->out, c->out_cap);
  }
  memcpy (c->out + c->out_len, data, len);
  c->out_len += len;
  watch (c, TRUE);
}

/* One masked frame (key 0, so the payload goes as it is). */
static void
send_frame (Client *c, int opcode, const char *payload, gsize len)
{
  char buf[8192];
  gsize h = 0;

  g_assert (len + 14 <= sizeof buf);
  buf[h++] = (char) (0x80 | opcode);
  if (len < 126) {
    buf[h++] = (char) (0x80 | len);
  } else {
    buf[h++] = (char) (0x80 | 126);
    buf[h++] = (char) (len >> 8);
    buf[h++] = (char) (len & 0xff);
  }
  memset (buf + h, 0, 4);
  h += 4;
  memcpy (buf + h, payload, len);
  send_bytes (c, buf, h + len);
}

static void
send_text (Client *c, const char *text)
{
  send_frame (c, 1, text, strlen (text));
}

static void
client_dead (Client *c)
{
  if (c->state == ST_DEAD)
    return;
  if (c->state == ST_CONNECTING || c->state == ST_HANDSHAKE || c->state == ST_WAIT_WELCOME) {
    n_failed++;
    connecting--;
  }
  c->state = ST_DEAD;
  epoll_ctl (epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close (c->fd);
  g_clear_pointer (&c->in, g_free);
  g_clear_pointer (&c->out, g_free);
  c->in_len = c->in_cap = c->out_len = c->out_off = c->out_cap = 0;
}

static void check_phase (void);

static void
start_connect (Client *c, int index)
{
  struct sockaddr_in src = { .sin_family = AF_INET };
  struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
  int one = 1;

  c->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    c->state = ST_DEAD;
    n_failed++;
    return;
  }
  setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt (c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  /* 127.0.0.2 … 127.0.0.(1 + n_sources): ports per source address run out
   * past about 28,000 connections to one server. */
  src.sin_addr.s_addr = htonl (0x7f000002u + (guint32) (index % n_sources));
  bind (c->fd, (struct sockaddr *) &src, sizeof src);
  c->state = ST_CONNECTING;
  c->want_out = TRUE;
  connecting++;
  epoll_ctl (epfd, EPOLL_CTL_ADD, c->fd, &ev);
  if (connect (c->fd, (struct sockaddr *) &servers[index % n_servers], sizeof servers[0]) < 0 &&
      errno != EINPROGRESS) {
    client_dead (c);
  }
}

static void
fill_window (void)
{
  while (connecting < window && next_to_connect < n_clients) {
    start_connect (&clients[next_to_connect], next_to_connect);
    next_to_connect++;
  }
}

static void
connected (Client *c)
{
  int err = 0;
  socklen_t len = sizeof err;
  char req[512];
  struct sockaddr_in *s = &servers[(c - clients) % n_servers];

  getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err) {
    client_dead (c);
    return;
  }
  c->state = ST_HANDSHAKE;
  g_snprintf (req, sizeof req,
              "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              "Sec-WebSocket-Version: 13\r\n\r\n",
              ntohs (s->sin_port));
  watch (c, FALSE);
  send_bytes (c, req, strlen (req));
}

/* The string value of "KEY":"…" in @msg, into @buf. */
static gboolean
json_string (const char *msg, gsize len, const char *key, char *buf, gsize size)
{
  char pat[32];
  const char *p, *end;
  gsize n;

  g_snprintf (pat, sizeof pat, "\"%s\":\"", key);
  p = memmem (msg, len, pat, strlen (pat));
  if (!p)
    return FALSE;
  p += strlen (pat);
  end = memchr (p, '"', (gsize) (msg + len - p));
  if (!end)
    return FALSE;
  n = MIN ((gsize) (end - p), size - 1);
  memcpy (buf, p, n);
  buf[n] = '\0';
  return TRUE;
}

static void
on_text (Client *c, const char *msg, gsize len)
{
  char type[32];

  if (!json_string (msg, len, "type", type, sizeof type))
    return;
  if (strcmp (type, "signal") == 0) {
    const char *p = memmem (msg, len, "\"candidate\":\"t", 14);

    if (p) {
      gint64 sent = g_ascii_strtoll (p + 14, NULL, 10);
      gint64 d = now_ns () - sent;
      guint b = (guint) CLAMP (d / BUCKET_NS, 0, N_BUCKETS - 1);

      hist[b]++;
      hist_n++;
      hist_max = MAX (hist_max, (guint64) MAX (d, 0));
    }
  } else if (strcmp (type, "ping") == 0) {
    send_text (c, "{\"type\":\"pong\"}");
  } else if (strcmp (type, "welcome") == 0 && c->state == ST_WAIT_WELCOME) {
    c->state = ST_IDLE;
    n_welcomed++;
    connecting--;
    t_last = now_ns ();
  } else if (strcmp (type, "queued") == 0 && c->state == ST_QUEUED) {
    n_queued++;
    t_last = now_ns ();
  } else if (strcmp (type, "matched") == 0) {
    char role[16] = "";

    json_string (msg, len, "call", c->call, sizeof c->call);
    json_string (msg, len, "role", role, sizeof role);
    c->offerer = strcmp (role, "offerer") == 0;
    c->state = ST_MATCHED;
    n_matched++;
    t_last = now_ns ();
    if (phase == PH_QUEUE && n_matched == (phase_target * 99 + 99) / 100)
      t_99 = t_last;
  } else if (strcmp (type, "peer_left") == 0 || strcmp (type, "call_ended") == 0) {
    if (c->state == ST_MATCHED || c->state == ST_LEAVING) {
      c->state = ST_IDLE;
      n_idle_back++;
      t_last = now_ns ();
    }
  } else if (strcmp (type, "error") == 0) {
    /* The first few, to tell what went wrong; all are counted. */
    if (n_errors++ < 5)
      fprintf (stderr, "vchat-loadgen: %.*s (errors are counted in status)\n",
               (int) MIN (len, 300), msg);
  }
}

/* Frames in @data; returns the bytes used. */
static gsize
on_frames (Client *c, const char *data, gsize len)
{
  gsize used = 0;

  while (len - used >= 2) {
    const guint8 *p = (const guint8 *) data + used;
    gsize avail = len - used, h = 2, n = p[1] & 0x7f;
    int opcode = p[0] & 0x0f;

    if (n == 126) {
      if (avail < 4)
        break;
      n = ((gsize) p[2] << 8) | p[3];
      h = 4;
    } else if (n == 127) {
      if (avail < 10)
        break;
      n = 0;
      for (int i = 2; i < 10; i++)
        n = (n << 8) | p[i];
      h = 10;
    }
    if (avail < h + n)
      break;
    if (opcode == 1)
      on_text (c, (const char *) p + h, n);
    else if (opcode == 9)
      send_frame (c, 10, (const char *) p + h, n);
    else if (opcode == 8) {
      client_dead (c);
      return len;
    }
    used += h + n;
    if (c->state == ST_DEAD)
      return len;
  }
  return used;
}

static void
on_readable (Client *c)
{
  static char buf[READ_CHUNK];

  for (;;) {
    ssize_t n = read (c->fd, buf, sizeof buf);
    const char *data = buf;
    gsize len, used;

    if (n == 0) {
      client_dead (c);
      return;
    }
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR)
        client_dead (c);
      return;
    }
    if (c->in_len) {
      if (c->in_len + (gsize) n > c->in_cap) {
        c->in_cap = c->in_len + (gsize) n;
        c->in = g_realloc (c->in, c->in_cap);
      }
      memcpy (c->in + c->in_len, buf, (gsize) n);
      c->in_len += (gsize) n;
      data = c->in;
      len = c->in_len;
    } else {
      len = (gsize) n;
    }
    used = 0;
    if (c->state == ST_HANDSHAKE) {
      const char *end = memmem (data, len, "\r\n\r\n", 4);

      if (end) {
        if (len < 12 || memcmp (data + 8, " 101", 4) != 0) {
          if (n_errors++ < 5)
            fprintf (stderr, "vchat-loadgen: refused: %.*s\n", (int) MIN (len, 200), data);
          client_dead (c);
          return;
        }
        used = (gsize) (end + 4 - data);
        c->state = ST_WAIT_WELCOME;
        send_text (c, "{\"type\":\"hello\",\"version\":1,\"client\":\"loadgen/1\"}");
      }
    }
    if (c->state != ST_HANDSHAKE && c->state != ST_DEAD)
      used += on_frames (c, data + used, len - used);
    if (c->state == ST_DEAD)
      return;
    if (used < len) {
      /* Keep the rest; a view into @buf must be copied first. */
      if (data == buf) {
        c->in_cap = MAX (c->in_cap, len - used);
        c->in = g_realloc (c->in, c->in_cap);
        memcpy (c->in, data + used, len - used);
      } else {
        memmove (c->in, data + used, len - used);
      }
      c->in_len = len - used;
    } else if (c->in) {
      g_clear_pointer (&c->in, g_free);
      c->in_len = c->in_cap = 0;
    }
    if ((gsize) n < sizeof buf)
      return;
  }
}

static void
check_phase (void)
{
  switch (phase) {
  case PH_CONNECT:
    fill_window ();
    if (n_welcomed + n_failed >= n_clients) {
      say ("connected %d %d %" G_GINT64_FORMAT " %" G_GINT64_FORMAT, n_welcomed, n_failed,
           t_phase_start, t_last);
      phase = PH_NONE;
    }
    break;
  case PH_QUEUE:
    if (n_matched >= phase_target) {
      say ("matched %d %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT, n_matched,
           t_phase_start, t_last, t_99 ? t_99 : t_last);
      phase = PH_NONE;
    }
    break;
  case PH_QUEUE_UNIQUE:
    if (n_queued >= phase_target) {
      say ("queued %d %" G_GINT64_FORMAT " %" G_GINT64_FORMAT, n_queued, t_phase_start, t_last);
      phase = PH_NONE;
    }
    break;
  case PH_HANGUP:
    if (n_idle_back >= phase_target) {
      say ("idle %d %" G_GINT64_FORMAT " %" G_GINT64_FORMAT, n_idle_back, t_phase_start, t_last);
      phase = PH_NONE;
    }
    break;
  case PH_NONE:
    break;
  }
}

static void
cmd_queue (const char *mode, int vocab)
{
  GRand *rand = g_rand_new_with_seed ((guint32) getpid ());
  char msg[512];

  n_matched = n_queued = 0;
  t_99 = 0;
  phase_target = 0;
  t_phase_start = now_ns ();
  t_last = t_phase_start;
  phase = strcmp (mode, "unique") == 0 ? PH_QUEUE_UNIQUE : PH_QUEUE;
  for (int i = 0; i < n_clients; i++) {
    Client *c = &clients[i];

    if (c->state != ST_IDLE)
      continue;
    if (strcmp (mode, "vocab") == 0) {
      int k = g_rand_int_range (rand, 1, 4);
      GString *s = g_string_new ("{\"type\":\"queue\",\"interests\":[");

      for (int j = 0; j < k; j++)
        g_string_append_printf (s, "%s\"w%d\"", j ? "," : "",
                                g_rand_int_range (rand, 0, MAX (vocab, 1)));
      g_string_append (s, "]}");
      send_text (c, s->str);
      g_string_free (s, TRUE);
    } else if (strcmp (mode, "unique") == 0) {
      g_snprintf (msg, sizeof msg, "{\"type\":\"queue\",\"interests\":[\"u%d-%d\"]}", getpid (), i);
      send_text (c, msg);
    } else {
      send_text (c, "{\"type\":\"queue\"}");
    }
    c->state = ST_QUEUED;
    phase_target++;
  }
  g_rand_free (rand);
}

static void
cmd_hangup (void)
{
  char msg[128];

  n_idle_back = 0;
  phase_target = 0;
  t_phase_start = now_ns ();
  phase = PH_HANGUP;
  for (int i = 0; i < n_clients; i++) {
    Client *c = &clients[i];

    if (c->state != ST_MATCHED)
      continue;
    phase_target++;
    if (c->offerer) {
      g_snprintf (msg, sizeof msg, "{\"type\":\"leave\",\"call\":\"%s\"}", c->call);
      c->state = ST_LEAVING;
      send_text (c, msg);
    }
  }
}

static void
relay_tick (void)
{
  gint64 now = now_ns ();
  gboolean last = now >= relay_end;
  guint64 due;
  char msg[256];

  /* Up to the end, also when this process ran late (a loaded machine):
   * what fell due before the end is sent now, so that SENT is what was
   * asked for and the peers' count can be compared with it. */
  due = (guint64) ((double) (MIN (now, relay_end) - relay_start) * relay_rate / 1e9);
  for (int tries = 0; relay_done < due && tries < 2 * n_clients; tries++) {
    Client *c = &clients[relay_cursor];

    relay_cursor = (relay_cursor + 1) % n_clients;
    if (c->state != ST_MATCHED)
      continue;
    g_snprintf (msg, sizeof msg,
                "{\"type\":\"signal\",\"call\":\"%s\",\"ice\":{\"candidate\":\"t%" G_GINT64_FORMAT
                "\",\"sdpMLineIndex\":0}}",
                c->call, now_ns ());
    send_text (c, msg);
    relay_done++;
    relay_sent++;
  }
  if (relay_done < due)
    relay_done = due; /* nobody to send from: not sent, not counted */
  if (last) {
    relaying = FALSE;
    say ("relayed %" G_GUINT64_FORMAT " %d", relay_sent, n_errors);
  }
}

static void
on_command (char *line)
{
  char **argv = g_strsplit (g_strstrip (line), " ", 0);
  const char *cmd = argv[0] ? argv[0] : "";

  if (strcmp (cmd, "connect") == 0) {
    phase = PH_CONNECT;
    t_phase_start = t_last = now_ns ();
    check_phase ();
  } else if (strcmp (cmd, "queue") == 0 && argv[1]) {
    cmd_queue (argv[1], argv[2] ? atoi (argv[2]) : 20);
    check_phase ();
  } else if (strcmp (cmd, "hangup") == 0) {
    cmd_hangup ();
    check_phase ();
  } else if (strcmp (cmd, "status") == 0) {
    int idle = 0;

    for (int i = 0; i < n_clients; i++)
      idle += clients[i].state == ST_IDLE;
    say ("status %d %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %d %d %d",
         n_matched, t_phase_start, t_last, t_99 ? t_99 : t_last, n_queued, idle, n_errors);
    phase = PH_NONE;
  } else if (strcmp (cmd, "relay") == 0 && argv[1] && argv[2]) {
    relay_rate = g_ascii_strtod (argv[1], NULL);
    relay_start = now_ns ();
    relay_end = relay_start + (gint64) (g_ascii_strtod (argv[2], NULL) * 1e9);
    relay_done = relay_sent = 0;
    relaying = relay_rate > 0;
    if (!relaying)
      say ("relayed 0 %d", n_errors);
  } else if (strcmp (cmd, "hist") == 0) {
    GString *s = g_string_new (NULL);

    g_string_printf (s, "hist %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, hist_n, hist_max);
    for (int i = 0; i < N_BUCKETS; i++)
      if (hist[i])
        g_string_append_printf (s, " %d:%u", i, hist[i]);
    say ("%s", s->str);
    g_string_free (s, TRUE);
    memset (hist, 0, N_BUCKETS * sizeof *hist);
    hist_n = hist_max = 0;
  } else if (strcmp (cmd, "cpu") == 0) {
    struct rusage ru;

    getrusage (RUSAGE_SELF, &ru);
    say ("cpu %ld %ld", (long) ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
         (long) ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec);
  } else if (strcmp (cmd, "quit") == 0) {
    exit (0);
  } else if (*cmd) {
    say ("error unknown command %s", cmd);
  }
  g_strfreev (argv);
}

static void
on_stdin (void)
{
  static GString *pending;
  char buf[4096];
  ssize_t n = read (0, buf, sizeof buf);
  char *nl;

  if (!pending)
    pending = g_string_new (NULL);
  if (n <= 0)
    exit (0); /* the script went away */
  g_string_append_len (pending, buf, n);
  while ((nl = strchr (pending->str, '\n'))) {
    g_autofree char *line = g_strndup (pending->str, (gsize) (nl - pending->str));

    g_string_erase (pending, 0, nl - pending->str + 1);
    on_command (line);
  }
}

int
main (int argc, char **argv)
{
  int count = 100;
  g_auto (GStrv) targets = NULL;
  GOptionEntry entries[] = {
    { "count", 'n', 0, G_OPTION_ARG_INT, &count, "Clients in this process", "N" },
    { "server", 's', 0, G_OPTION_ARG_STRING_ARRAY, &targets,
      "A server's HOST:PORT (repeatable: clients are spread over them)", "HOST:PORT" },
    { "sources", 0, 0, G_OPTION_ARG_INT, &n_sources,
      "Source addresses 127.0.0.2… to spread the clients over (default 8)", "N" },
    { "window", 'w', 0, G_OPTION_ARG_INT, &window,
      "Clients connecting at once (default 200)", "N" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- vchat-signald load client");
  g_autoptr (GError) error = NULL;
  struct rlimit rl;
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
  struct epoll_event events[512];

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || !targets || count < 1 ||
      n_sources < 1 || window < 1) {
    fprintf (stderr, "vchat-loadgen: %s\n",
             error ? error->message : "needs --server HOST:PORT and positive numbers");
    return 2;
  }
  n_servers = (int) g_strv_length (targets);
  servers = g_new0 (struct sockaddr_in, n_servers);
  for (int i = 0; i < n_servers; i++) {
    char *colon = strrchr (targets[i], ':');

    if (!colon) {
      fprintf (stderr, "vchat-loadgen: --server needs HOST:PORT, not %s\n", targets[i]);
      return 2;
    }
    *colon = '\0';
    servers[i].sin_family = AF_INET;
    servers[i].sin_port = htons ((guint16) atoi (colon + 1));
    if (inet_pton (AF_INET, targets[i], &servers[i].sin_addr) != 1) {
      fprintf (stderr, "vchat-loadgen: not an IPv4 address: %s\n", targets[i]);
      return 2;
    }
  }
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit (RLIMIT_NOFILE, &rl);
  }
  n_clients = count;
  clients = g_new0 (Client, n_clients);
  hist = g_new0 (guint32, N_BUCKETS);
  epfd = epoll_create1 (EPOLL_CLOEXEC);
  epoll_ctl (epfd, EPOLL_CTL_ADD, 0, &ev);
  say ("ready %d", n_clients);

  for (;;) {
    int timeout = relaying ? 1 : -1;
    int n = epoll_wait (epfd, events, G_N_ELEMENTS (events), timeout);

    for (int i = 0; i < n; i++) {
      Client *c = events[i].data.ptr;

      if (!c) {
        on_stdin ();
        continue;
      }
      if (c->state == ST_DEAD)
        continue;
      if (c->state == ST_CONNECTING) {
        if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
          connected (c);
        continue;
      }
      if (events[i].events & EPOLLOUT)
        flush_out (c);
      if (c->state != ST_DEAD && (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        on_readable (c);
    }
    if (relaying)
      relay_tick ();
    check_phase ();
  }
  return 0;
}
