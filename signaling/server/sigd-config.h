/* sigd-config.h: vchat-signald's options, from the command line and a key file
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

typedef struct {
  char *listen;
  int port;
  char *config_file;
  char *tls_cert;
  char *tls_key;
  char *public_url;
  char *web_root;
  char **stun;
  char **turn;
  char *turn_secret;
  char *turn_username;
  char *turn_password;
  double turn_ttl;
  char *token_file;
  char *token; /* from token_file or the key file's `token`; NULL: none needed */
  char *redis; /* URL of the shared store, or NULL: in memory */
  int max_frame;
  int max_rate;
  int max_sessions_per_address;
  int max_connections; /* 0: from the open file limit */
  int max_pending;     /* 0: from max_connections */
  int max_pending_per_address;
  double handshake_timeout;
  int max_sessions;   /* 0: max_connections */
  int fd_limit;       /* the open file limit, once raised */
  int max_send_queue; /* bytes */
  int max_outbox;     /* bytes */
  int max_tombstones;
  char **trusted_proxies;
  char **metrics_from;
  double grace;
  double invite_ttl;
  double invite_max_ttl;
  double ring_timeout;
  int join_attempts;
  double interest_wait;
  double language_wait;
  double rematch_delay;
  double shared_queue_after; /* --redis: seconds before a waiting session joins the shared queue */
  double ping_interval;
  int report_threshold;
  double report_refuse_time;
  gboolean log_addresses;
  gboolean verbose;
} SigdConfig;

/* Fills @config from defaults, then the key file named by --config, then the
 * command line (which wins). Removes parsed options from argv. */
gboolean sigd_config_load (SigdConfig *config, int *argc, char ***argv, GError **error);
void sigd_config_clear (SigdConfig *config);
