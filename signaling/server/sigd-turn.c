/* sigd-turn.c: the ice_servers of `welcome`, `matched` and `incoming`
 *
 * With a shared secret, TURN credentials follow the TURN REST scheme that
 * coturn checks with use-auth-secret: the user name is "EXPIRY:SESSION" and
 * the password base64(HMAC-SHA1(secret, user name)).
 *
 * TURN servers (and their credentials) go only to sessions about to start
 * a call, not to anyone who says hello: a relay handed to every visitor is
 * an open relay. coturn checks credentials when a relay is allocated, and
 * an allocation outlives them, so a lifetime of minutes covers a call.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "sigd-private.h"

#include <string.h>

static char *
turn_rest_password (const char *secret, const char *username)
{
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA1, (const guchar *) secret, strlen (secret));
  guint8 digest[20];
  gsize len = sizeof digest;

  g_hmac_update (hmac, (const guchar *) username, -1);
  g_hmac_get_digest (hmac, digest, &len);
  return g_base64_encode (digest, len);
}

JsonArray *
sigd_turn_ice_servers (const SigdConfig *config, const char *session_id, gint64 now_s,
                       gboolean with_turn)
{
  JsonArray *servers = json_array_new ();

  for (guint i = 0; config->stun && config->stun[i]; i++) {
    JsonObject *entry = json_object_new ();
    JsonArray *urls = json_array_new ();

    json_array_add_string_element (urls, config->stun[i]);
    json_object_set_array_member (entry, "urls", urls);
    json_array_add_object_element (servers, entry);
  }

  if (with_turn && config->turn && config->turn[0]) {
    JsonObject *entry = json_object_new ();

    json_object_set_array_member (entry, "urls",
                                  sigd_strv_to_json ((const char *const *) config->turn));
    if (config->turn_secret) {
      g_autofree char *username = g_strdup_printf ("%" G_GINT64_FORMAT ":%s",
                                                   now_s + (gint64) config->turn_ttl, session_id);
      g_autofree char *password = turn_rest_password (config->turn_secret, username);

      json_object_set_string_member (entry, "username", username);
      json_object_set_string_member (entry, "credential", password);
    } else if (config->turn_username) {
      json_object_set_string_member (entry, "username", config->turn_username);
      json_object_set_string_member (entry, "credential",
                                     config->turn_password ? config->turn_password : "");
    }
    json_array_add_object_element (servers, entry);
  }
  return servers;
}
