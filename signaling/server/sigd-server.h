/* sigd-server.h: the vchat-signald server
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "sigd-config.h"

typedef struct _SigdServer SigdServer;

/* Starts listening as @config says; @config must outlive the server. */
SigdServer *sigd_server_new (SigdConfig *config, GError **error);
/* The URL the server listens on (with the real port when --port was 0). */
char *sigd_server_get_url (SigdServer *server);
/* Says (at debug level) how many connections and sessions it takes, and
 * warns of limits the open file limit cannot hold. */
void sigd_server_log_limits (SigdServer *server);
/* Reads the TLS certificate and key again (on SIGHUP), for new
 * connections; keeps the old ones if that fails. */
void sigd_server_reload (SigdServer *server);
/* Closes every client connection with 1001 (going away). */
void sigd_server_shutdown (SigdServer *server);
void sigd_server_free (SigdServer *server);
