/* vchat-link.h: invite links, with the server they belong to
 *
 * An invite link names its code and, since the code means something only on
 * the server that made it, that server:
 *
 *   vchat://join/CODE?server=wss://chat.example.org/ws
 *
 * The older vchat://join/CODE (no server: the configured one), a bare code,
 * and the browser's https://HOST/join/CODE (the server serves its web
 * client and its WebSocket on the same host: wss://HOST/ws) are read too.
 * Shared by the app and vchatctl.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Splits @text into the invite code (as written, not checked: the daemon
 * checks it) and the server URL (NULL when the link names none). FALSE with
 * @error (G_IO_ERROR_INVALID_ARGUMENT) when @text is no invite. */
gboolean vchat_link_parse (const char *text, char **code, char **server, GError **error);

/* vchat://join/CODE, with ?server=SERVER when @server is not empty. */
char *vchat_link_build (const char *code, const char *server);

/* Whether two server URLs name the same server: same host and port
 * (ws/http and wss/https count as one, their default ports too). */
gboolean vchat_link_same_server (const char *a, const char *b);

G_END_DECLS
