/* vchat-link.c: invite links, with the server they belong to
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchat-link.h"

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <string.h>

/* The characters of a code: letters, digits and dashes (the daemon checks
 * the rest). */
static gboolean
is_code (const char *s)
{
  if (!*s)
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isalnum (*s) && *s != '-')
      return FALSE;
  return TRUE;
}

static char *
server_param (GUri *uri, GError **error)
{
  const char *query = g_uri_get_query (uri);
  g_autoptr (GHashTable) params = NULL;
  const char *server;

  if (!query)
    return NULL;
  params = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE, error);
  if (!params)
    return NULL;
  server = g_hash_table_lookup (params, "server");
  if (!server || !*server)
    return NULL;
  if (!g_str_has_prefix (server, "wss://") && !g_str_has_prefix (server, "ws://")) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 _("The link names the server “%s”, which is no wss:// or ws:// address."), server);
    return NULL;
  }
  return g_strdup (server);
}

gboolean
vchat_link_parse (const char *text, char **code, char **server, GError **error)
{
  g_autoptr (GUri) uri = NULL;
  g_autofree char *found_server = NULL;
  g_autofree char *stripped = NULL;
  g_autoptr (GError) local_error = NULL;
  const char *scheme, *path, *slash;

  g_return_val_if_fail (text != NULL, FALSE);

  stripped = g_strstrip (g_strdup (text));
  if (is_code (stripped)) {
    *code = g_steal_pointer (&stripped);
    *server = NULL;
    return TRUE;
  }

  uri = g_uri_parse (stripped, G_URI_FLAGS_ENCODED_QUERY | G_URI_FLAGS_PARSE_RELAXED, NULL);
  if (!uri)
    goto invalid;
  scheme = g_uri_get_scheme (uri);
  path = g_uri_get_path (uri);

  if (g_ascii_strcasecmp (scheme, "vchat") == 0) {
    /* vchat://join/CODE: "join" is the host, the code the path */
    if (g_ascii_strcasecmp (g_uri_get_host (uri) ? g_uri_get_host (uri) : "", "join") != 0 ||
        path[0] != '/' || !is_code (path + 1))
      goto invalid;
    found_server = server_param (uri, &local_error);
    if (local_error) {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
    *code = g_strdup (path + 1);
    *server = g_steal_pointer (&found_server);
    return TRUE;
  }

  if (g_ascii_strcasecmp (scheme, "https") == 0 || g_ascii_strcasecmp (scheme, "http") == 0) {
    /* PUBLIC_URL/join/CODE: the server serves its web client there, and
     * its WebSocket at /ws of the same host */
    gboolean tls = g_ascii_strcasecmp (scheme, "https") == 0;

    slash = g_strrstr (path, "/join/");
    if (!slash || !is_code (slash + strlen ("/join/")) || !g_uri_get_host (uri))
      goto invalid;
    found_server = server_param (uri, &local_error);
    if (local_error) {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
    if (!found_server) {
      /* as the web client finds its server: the page's host, then /ws */
      if (g_uri_get_port (uri) > 0)
        found_server = g_strdup_printf ("%s://%s:%d/ws", tls ? "wss" : "ws",
                                        g_uri_get_host (uri), g_uri_get_port (uri));
      else
        found_server = g_strdup_printf ("%s://%s/ws", tls ? "wss" : "ws", g_uri_get_host (uri));
    }
    *code = g_strdup (slash + strlen ("/join/"));
    *server = g_steal_pointer (&found_server);
    return TRUE;
  }

invalid:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("“%s” is no invite: an invite is a code like abcd-efgh-ijkl-mnop or a link "
                 "like vchat://join/abcd-efgh-ijkl-mnop?server=wss://chat.example.org/ws."),
               text);
  return FALSE;
}

char *
vchat_link_build (const char *code, const char *server)
{
  g_autofree char *escaped = NULL;

  g_return_val_if_fail (code != NULL, NULL);
  if (!server || !*server)
    return g_strconcat ("vchat://join/", code, NULL);
  /* ":" and "/" may stay in a query; "&", "#", "?", "=" and the rest may
   * not. */
  escaped = g_uri_escape_string (server, ":/@", FALSE);
  return g_strconcat ("vchat://join/", code, "?server=", escaped, NULL);
}

static gboolean
host_port (const char *url, char **host, int *port)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_PARSE_RELAXED, NULL);
  const char *scheme;

  if (!uri || !g_uri_get_host (uri))
    return FALSE;
  scheme = g_uri_get_scheme (uri);
  *host = g_ascii_strdown (g_uri_get_host (uri), -1);
  *port = g_uri_get_port (uri);
  if (*port <= 0)
    *port = (g_ascii_strcasecmp (scheme, "wss") == 0 || g_ascii_strcasecmp (scheme, "https") == 0)
              ? 443
              : 80;
  return TRUE;
}

gboolean
vchat_link_same_server (const char *a, const char *b)
{
  g_autofree char *host_a = NULL, *host_b = NULL;
  int port_a, port_b;

  if (!a || !b)
    return FALSE;
  if (!host_port (a, &host_a, &port_a) || !host_port (b, &host_b, &port_b))
    return g_strcmp0 (a, b) == 0;
  return g_str_equal (host_a, host_b) && port_a == port_b;
}
