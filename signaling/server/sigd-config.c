/* sigd-config.c: vchat-signald's options
 *
 * One table describes every option; it drives both the command line and the
 * key file (group [server], keys named like the long options), so the two
 * can never disagree.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "sigd-config.h"
#include "sigd-store.h"
#include "sigd-address.h"

#include <string.h>

#define KEY_FILE_GROUP "server"

static GOptionEntry *
option_entries (SigdConfig *c)
{
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &c->config_file,
      "Read options from this key file (group [server], keys named like the long options; "
      "the command line wins)",
      "FILE" },
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &c->listen,
      "Address to listen on (default 127.0.0.1; 0.0.0.0 or :: for every interface)", "ADDRESS" },
    { "port", 'p', 0, G_OPTION_ARG_INT, &c->port,
      "TCP port to listen on (default 8080; 0 picks a free one and prints it)", "PORT" },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &c->tls_cert,
      "PEM certificate (chain) for HTTPS and wss://; needs --tls-key", "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &c->tls_key, "PEM private key of --tls-cert",
      "FILE" },
    { "public-url", 0, 0, G_OPTION_ARG_STRING, &c->public_url,
      "Base URL people reach this server at, for invite links "
      "(default: the listening address)",
      "URL" },
    { "web-root", 0, 0, G_OPTION_ARG_FILENAME, &c->web_root,
      "Folder of the browser client served at / (default " VCHAT_WEB_ROOT ")", "DIR" },
    { "stun", 0, 0, G_OPTION_ARG_STRING_ARRAY, &c->stun,
      "STUN server URL given to clients, e.g. stun:stun.example.org:3478 (repeatable)", "URL" },
    { "turn", 0, 0, G_OPTION_ARG_STRING_ARRAY, &c->turn,
      "TURN server URL given to clients, e.g. turn:turn.example.org:3478?transport=udp "
      "(repeatable)",
      "URL" },
    { "turn-secret", 0, 0, G_OPTION_ARG_STRING, &c->turn_secret,
      "Shared secret of the TURN server (coturn use-auth-secret): clients get time-limited "
      "credentials. Prefer the key file, as the command line is visible to other users",
      "SECRET" },
    { "turn-ttl", 0, 0, G_OPTION_ARG_DOUBLE, &c->turn_ttl,
      "Lifetime of TURN credentials made from the secret; they are given with each call "
      "(matched, incoming) and coturn checks them when it allocates a relay, which then "
      "outlives them (default 600)",
      "SECONDS" },
    { "turn-username", 0, 0, G_OPTION_ARG_STRING, &c->turn_username,
      "Static TURN user name, used when there is no secret", "NAME" },
    { "turn-password", 0, 0, G_OPTION_ARG_STRING, &c->turn_password,
      "Static TURN password, used when there is no secret", "PASSWORD" },
    { "token-file", 0, 0, G_OPTION_ARG_FILENAME, &c->token_file,
      "Require this access token (the file's first line) in every client's hello; clients "
      "without it are refused with “unauthorized”. Desktop users set it with "
      "`vchatctl secret set server-token`",
      "FILE" },
    { "redis", 0, 0, G_OPTION_ARG_STRING, &c->redis,
      "Keep invites, their tombstones and wrong-code counts in this Redis, shared with the "
      "other servers that use it (redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or "
      "unix:///PATH[?password=PASSWORD&db=N]); without it, in memory",
      "URL" },
    { "max-frame", 0, 0, G_OPTION_ARG_INT, &c->max_frame,
      "Largest message accepted, in bytes (default 65536)", "BYTES" },
    { "max-rate", 0, 0, G_OPTION_ARG_INT, &c->max_rate,
      "Messages per second a session may send, with bursts of three times as many "
      "(default 20)",
      "N" },
    { "max-sessions-per-address", 0, 0, G_OPTION_ARG_INT, &c->max_sessions_per_address,
      "WebSocket connections, and sessions (those in their grace time too), allowed at once "
      "from one client address; an IPv6 /64 counts as one address (default 16)",
      "N" },
    { "trusted-proxy", 0, 0, G_OPTION_ARG_STRING_ARRAY, &c->trusted_proxies,
      "A reverse proxy in front of this server, as ADDRESS or ADDRESS/PREFIX (repeatable): "
      "from it, the client address limits count is read from its Forwarded or "
      "X-Forwarded-For header, and its own address is not limited per address",
      "ADDR[/PREFIX]" },
    { "metrics-from", 0, 0, G_OPTION_ARG_STRING_ARRAY, &c->metrics_from,
      "Client addresses allowed to read /metrics, as ADDRESS or ADDRESS/PREFIX (repeatable; "
      "default 127.0.0.0/8 and ::1; behind a trusted proxy, the forwarded address counts)",
      "ADDR[/PREFIX]" },
    { "max-connections", 0, 0, G_OPTION_ARG_INT, &c->max_connections,
      "TCP connections held at once, of every kind (default: the open file limit, which is "
      "raised to its hard limit at start, less 64; at most 16384)",
      "N" },
    { "max-pending", 0, 0, G_OPTION_ARG_INT, &c->max_pending,
      "Connections held at once that are not WebSockets yet (TLS handshake, HTTP request); "
      "when full, a new one closes the oldest (default: a quarter of --max-connections, at "
      "most 1024)",
      "N" },
    { "max-pending-per-address", 0, 0, G_OPTION_ARG_INT, &c->max_pending_per_address,
      "Connections that are not WebSockets yet allowed at once from one client address "
      "(default 16)",
      "N" },
    { "handshake-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &c->handshake_timeout,
      "Time a new connection has for its TLS handshake and HTTP request headers (default 10)",
      "SECONDS" },
    { "max-send-queue", 0, 0, G_OPTION_ARG_INT, &c->max_send_queue,
      "Bytes that may wait to be sent to one client that does not read; past them it is "
      "closed with 4004 and its session ends (default 1048576)",
      "BYTES" },
    { "max-outbox", 0, 0, G_OPTION_ARG_INT, &c->max_outbox,
      "Bytes kept for a session in its grace time; past them its grace time ends "
      "(default 262144)",
      "BYTES" },
    { "max-invite-tombstones", 0, 0, G_OPTION_ARG_INT, &c->max_tombstones,
      "Codes of ended invites remembered for an hour, so late joiners hear that they expired; "
      "about 100 bytes each (default 65536)",
      "N" },
    { "max-sessions", 0, 0, G_OPTION_ARG_INT, &c->max_sessions,
      "Sessions held at once, including those in their grace time (default: "
      "--max-connections)",
      "N" },
    { "grace", 0, 0, G_OPTION_ARG_DOUBLE, &c->grace,
      "How long a dropped client may come back and keep its call or queue place "
      "(default 30)",
      "SECONDS" },
    { "invite-ttl", 0, 0, G_OPTION_ARG_DOUBLE, &c->invite_ttl,
      "Lifetime of an invite when the client does not ask for one (default 600)", "SECONDS" },
    { "invite-max-ttl", 0, 0, G_OPTION_ARG_DOUBLE, &c->invite_max_ttl,
      "Longest invite lifetime a client may ask for (default 86400)", "SECONDS" },
    { "ring-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &c->ring_timeout,
      "How long an invited call rings before it is given up (default 60)", "SECONDS" },
    { "join-attempts", 0, 0, G_OPTION_ARG_INT, &c->join_attempts,
      "Wrong invite codes one address may try per minute (default 5)", "N" },
    { "interest-wait", 0, 0, G_OPTION_ARG_DOUBLE, &c->interest_wait,
      "How long someone with interests waits for a partner sharing one before taking "
      "anyone (default 3)",
      "SECONDS" },
    { "language-wait", 0, 0, G_OPTION_ARG_DOUBLE, &c->language_wait,
      "How long two people asking for different languages are kept apart (default 6)", "SECONDS" },
    { "shared-queue-after", 0, 0, G_OPTION_ARG_DOUBLE, &c->shared_queue_after,
      "With --redis: how long someone waits for a partner on this server before the queue "
      "shared by all the servers takes them (default 1)",
      "SECONDS" },
    { "rematch-delay", 0, 0, G_OPTION_ARG_DOUBLE, &c->rematch_delay,
      "How long two people who just left each other with “next” are not paired again "
      "(default 10)",
      "SECONDS" },
    { "ping-interval", 0, 0, G_OPTION_ARG_DOUBLE, &c->ping_interval,
      "Keepalive ping interval; a client silent for two intervals is dropped (default 20)",
      "SECONDS" },
    { "report-threshold", 0, 0, G_OPTION_ARG_INT, &c->report_threshold,
      "Distinct addresses whose reports keep the reported address out of the random queue "
      "(default 3)",
      "N" },
    { "report-refuse-time", 0, 0, G_OPTION_ARG_DOUBLE, &c->report_refuse_time,
      "How long a reported address is kept out of the random queue (default 600)", "SECONDS" },
    { "log-addresses", 0, 0, G_OPTION_ARG_NONE, &c->log_addresses,
      "Write client IP addresses to the log (off by default, for privacy)", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &c->verbose,
      "Log every connection and call (never message contents)", NULL },
    { NULL }
  };

  return g_memdup2 (entries, sizeof entries);
}

static void
config_defaults (SigdConfig *c)
{
  memset (c, 0, sizeof *c);
  c->port = 8080;
  c->turn_ttl = 600;
  c->max_frame = 65536;
  c->max_rate = 20;
  c->max_sessions_per_address = 16;
  c->max_pending_per_address = 16;
  c->handshake_timeout = 10;
  c->max_send_queue = 1024 * 1024;
  c->max_outbox = 256 * 1024;
  c->max_tombstones = 65536;
  c->grace = 30;
  c->invite_ttl = 600;
  c->invite_max_ttl = 86400;
  c->ring_timeout = 60;
  c->join_attempts = 5;
  c->interest_wait = 3;
  c->language_wait = 6;
  c->rematch_delay = 10;
  c->ping_interval = 20;
  c->report_threshold = 3;
  c->shared_queue_after = 1;
  c->report_refuse_time = 600;
}

static gboolean
load_key_file (SigdConfig *c, const GOptionEntry *entries, const char *path, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_auto (GStrv) keys = NULL;

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, error)) {
    g_prefix_error (error, "Cannot read the configuration file %s: ", path);
    return FALSE;
  }
  if (!g_key_file_has_group (kf, KEY_FILE_GROUP))
    return TRUE;

  keys = g_key_file_get_keys (kf, KEY_FILE_GROUP, NULL, NULL);
  for (guint i = 0; keys && keys[i]; i++) {
    const GOptionEntry *e;
    g_autoptr (GError) local_error = NULL;

    /* The token itself may sit in the key file (never on the command line,
     * which other users can read in /proc). */
    if (strcmp (keys[i], "token") == 0) {
      g_free (c->token);
      c->token = g_key_file_get_string (kf, KEY_FILE_GROUP, keys[i], NULL);
      continue;
    }
    for (e = entries; e->long_name; e++)
      if (strcmp (e->long_name, keys[i]) == 0 && strcmp (e->long_name, "config") != 0)
        break;
    if (!e->long_name) {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
                   "%s: unknown key “%s” in [%s]; see vchat-signald --help for the options", path,
                   keys[i], KEY_FILE_GROUP);
      return FALSE;
    }

    switch (e->arg) {
    case G_OPTION_ARG_STRING:
    case G_OPTION_ARG_FILENAME: {
      char *v = g_key_file_get_string (kf, KEY_FILE_GROUP, keys[i], &local_error);
      if (v) {
        g_free (*(char **) e->arg_data);
        *(char **) e->arg_data = v;
      }
      break;
    }
    case G_OPTION_ARG_INT: {
      int v = g_key_file_get_integer (kf, KEY_FILE_GROUP, keys[i], &local_error);
      if (!local_error)
        *(int *) e->arg_data = v;
      break;
    }
    case G_OPTION_ARG_DOUBLE: {
      double v = g_key_file_get_double (kf, KEY_FILE_GROUP, keys[i], &local_error);
      if (!local_error)
        *(double *) e->arg_data = v;
      break;
    }
    case G_OPTION_ARG_NONE: {
      gboolean v = g_key_file_get_boolean (kf, KEY_FILE_GROUP, keys[i], &local_error);
      if (!local_error)
        *(gboolean *) e->arg_data = v;
      break;
    }
    case G_OPTION_ARG_STRING_ARRAY: {
      char **v = g_key_file_get_string_list (kf, KEY_FILE_GROUP, keys[i], NULL, &local_error);
      if (v) {
        g_strfreev (*(char ***) e->arg_data);
        *(char ***) e->arg_data = v;
      }
      break;
    }
    default:
      g_assert_not_reached ();
    }
    if (local_error) {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "%s: bad value for “%s”: %s", path, keys[i], local_error->message);
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
check_range_d (double v, double lo, const char *name, GError **error)
{
  if (v < lo) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--%s must be at least %g (it is %g)", name, lo, v);
    return FALSE;
  }
  return TRUE;
}

/* The token is the file's first line, without surrounding white space. */
static gboolean
load_token (SigdConfig *c, GError **error)
{
  g_autofree char *contents = NULL;
  char *end;

  if (c->token_file) {
    if (!g_file_get_contents (c->token_file, &contents, NULL, error)) {
      g_prefix_error (error, "Cannot read the token file: ");
      return FALSE;
    }
    end = strchr (contents, '\n');
    if (end)
      *end = '\0';
    g_free (c->token);
    c->token = g_strdup (g_strstrip (contents));
    explicit_bzero (contents, strlen (contents));
  }
  if (c->token && (!*c->token || strlen (c->token) > 256)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "The access token must have 1 to 256 bytes (from %s)",
                 c->token_file ? c->token_file : "the key file's “token”");
    return FALSE;
  }
  return TRUE;
}

static gboolean
validate (SigdConfig *c, GError **error)
{
  g_autoptr (GPtrArray) masks = NULL;

  /* Said before anything else: a build without hiredis, or a URL that is
   * not one, should not start at all. Connecting waits for the server. */
  if (c->redis) {
    SigdStore *store = sigd_store_redis_new (c, c->redis, error);

    if (!store)
      return FALSE;
    sigd_store_free (store);
  }
  if (c->port < 0 || c->port > 65535) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--port must be between 0 and 65535 (it is %d)", c->port);
    return FALSE;
  }
  masks = sigd_address_parse_masks ((const char *const *) c->trusted_proxies, "trusted-proxy",
                                    error);
  if (!masks)
    return FALSE;
  g_clear_pointer (&masks, g_ptr_array_unref);
  if (!c->metrics_from) {
    const char *loopback[] = { "127.0.0.0/8", "::1", NULL };
    c->metrics_from = g_strdupv ((char **) loopback);
  }
  masks = sigd_address_parse_masks ((const char *const *) c->metrics_from, "metrics-from", error);
  if (!masks)
    return FALSE;
  if (!c->tls_cert != !c->tls_key) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--tls-cert and --tls-key go together: give both or neither");
    return FALSE;
  }
  return check_range_d (c->max_frame, 1024, "max-frame", error) &&
         check_range_d (c->max_rate, 1, "max-rate", error) &&
         check_range_d (c->max_sessions_per_address, 1, "max-sessions-per-address", error) &&
         check_range_d (c->max_connections, 0, "max-connections", error) &&
         check_range_d (c->max_pending, 0, "max-pending", error) &&
         check_range_d (c->max_pending_per_address, 1, "max-pending-per-address", error) &&
         check_range_d (c->max_sessions, 0, "max-sessions", error) &&
         check_range_d (c->handshake_timeout, 0.1, "handshake-timeout", error) &&
         check_range_d (c->max_send_queue, c->max_frame, "max-send-queue", error) &&
         check_range_d (c->max_outbox, c->max_frame, "max-outbox", error) &&
         check_range_d (c->max_tombstones, 0, "max-invite-tombstones", error) &&
         check_range_d (c->join_attempts, 1, "join-attempts", error) &&
         check_range_d (c->report_threshold, 1, "report-threshold", error) &&
         check_range_d (c->turn_ttl, 60, "turn-ttl", error) &&
         check_range_d (c->grace, 0, "grace", error) &&
         check_range_d (c->invite_ttl, 0.1, "invite-ttl", error) &&
         check_range_d (c->invite_max_ttl, c->invite_ttl, "invite-max-ttl", error) &&
         check_range_d (c->ring_timeout, 0.1, "ring-timeout", error) &&
         check_range_d (c->interest_wait, 0, "interest-wait", error) &&
         check_range_d (c->language_wait, 0, "language-wait", error) &&
         check_range_d (c->rematch_delay, 0, "rematch-delay", error) &&
         check_range_d (c->shared_queue_after, 0, "shared-queue-after", error) &&
         check_range_d (c->ping_interval, 0.1, "ping-interval", error) &&
         check_range_d (c->report_refuse_time, 0, "report-refuse-time", error);
}

/* GOption does not free a string (or string list) option's previous value
 * when the command line sets it again: one the key file set would leak. */
static gpointer *
snapshot_strings (const GOptionEntry *entries)
{
  guint n = 0;
  gpointer *values;

  while (entries[n].long_name)
    n++;
  values = g_new0 (gpointer, n + 1);
  for (guint i = 0; i < n; i++)
    if (entries[i].arg == G_OPTION_ARG_STRING || entries[i].arg == G_OPTION_ARG_FILENAME ||
        entries[i].arg == G_OPTION_ARG_STRING_ARRAY)
      values[i] = *(gpointer *) entries[i].arg_data;
  return values;
}

static void
free_replaced_strings (const GOptionEntry *entries, gpointer *snapshot)
{
  for (guint i = 0; entries[i].long_name; i++) {
    if (!snapshot[i] || *(gpointer *) entries[i].arg_data == snapshot[i])
      continue;
    if (entries[i].arg == G_OPTION_ARG_STRING_ARRAY)
      g_strfreev (snapshot[i]);
    else
      g_free (snapshot[i]);
  }
}

gboolean
sigd_config_load (SigdConfig *c, int *argc, char ***argv, GError **error)
{
  g_autofree GOptionEntry *entries = NULL;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autofree char *config_file = NULL;
  g_autofree gpointer *snapshot = NULL;

  config_defaults (c);
  entries = option_entries (c);

  /* The key file is read first so the command line can override it: find
   * --config/-c before the real parse. */
  for (int i = 1; i < *argc; i++) {
    const char *a = (*argv)[i];
    if ((strcmp (a, "--config") == 0 || strcmp (a, "-c") == 0) && i + 1 < *argc) {
      g_free (config_file);
      config_file = g_strdup ((*argv)[i + 1]);
    } else if (g_str_has_prefix (a, "--config=")) {
      g_free (config_file);
      config_file = g_strdup (a + strlen ("--config="));
    }
  }
  if (config_file && !load_key_file (c, entries, config_file, error))
    return FALSE;

  ctx = g_option_context_new (NULL);
  g_option_context_set_summary (
    ctx, "The vchat signaling and matchmaking server: brings two people together\n"
         "(a random partner, or an invite link), relays what WebRTC needs between\n"
         "them, and serves the browser client at /. Nothing is written to disk.");
  g_option_context_set_description (
    ctx,
    "Times are in seconds and may have fractions. Every option can also be set\n"
    "in the key file given with --config, e.g.\n"
    "\n"
    "  [server]\n"
    "  listen=0.0.0.0\n"
    "  port=443\n"
    "  tls-cert=/etc/vchat/cert.pem\n"
    "  tls-key=/etc/vchat/key.pem\n"
    "  turn=turn:turn.example.org:3478?transport=udp;turn:turn.example.org:3478?transport=tcp\n"
    "  turn-secret=...\n"
    "  token=...            (or token-file=...: the access token clients must send)\n"
    "\n"
    "Endpoints: /ws (WebSocket, protocol v1, see docs/protocol.md), / (browser\n"
    "client), /join/CODE (invite links), /healthz, /metrics (Prometheus).\n"
    "Only GET and HEAD without a body are served; anything else is answered 405\n"
    "or 413 on its headers and closed.\n"
    "\n"
    "The open file limit is raised to its hard limit at start; the connection\n"
    "caps are sized from it unless given. Per-address limits count an IPv6 /64\n"
    "as one address.\n"
    "\n"
    "SIGHUP reads the TLS certificate and key again, for new connections; sessions\n"
    "and calls go on.\n"
    "\n"
    "Exit status: 0 after SIGINT or SIGTERM, 1 on a startup error, 2 on bad options.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  snapshot = snapshot_strings (entries);
  if (!g_option_context_parse (ctx, argc, argv, error))
    return FALSE;
  free_replaced_strings (entries, snapshot);
  if (*argc > 1) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "unexpected argument “%s”",
                 (*argv)[1]);
    return FALSE;
  }
  /* Defaults for strings come after the parse: GOption does not free the
   * value an option replaces. */
  if (!c->listen)
    c->listen = g_strdup ("127.0.0.1");
  if (!c->web_root)
    c->web_root = g_strdup (VCHAT_WEB_ROOT);
  return load_token (c, error) && validate (c, error);
}

void
sigd_config_clear (SigdConfig *c)
{
  g_free (c->listen);
  g_free (c->config_file);
  g_free (c->tls_cert);
  g_free (c->tls_key);
  g_free (c->public_url);
  g_free (c->web_root);
  g_strfreev (c->stun);
  g_strfreev (c->turn);
  g_strfreev (c->trusted_proxies);
  g_strfreev (c->metrics_from);
  g_free (c->turn_secret);
  g_free (c->turn_username);
  g_free (c->turn_password);
  g_free (c->token_file);
  g_free (c->redis);
  if (c->token)
    explicit_bzero (c->token, strlen (c->token));
  g_free (c->token);
  memset (c, 0, sizeof *c);
}
