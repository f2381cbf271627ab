/* vchat-secret.h: vchat's credentials in the keyring (libsecret)
 *
 * The items use the schema io.github.vchat.VChat1.Secret with one string
 * attribute, `name`, so any Secret Service tool finds them:
 *
 *   secret-tool lookup name server-token
 *
 * Names: `server-token` (the signaling server's access token),
 * `turn-username` and `turn-password` (for the TURN server of the GSettings
 * key turn-server). Shared by vchatd and vchatctl; see README.md "Secrets".
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define VCHAT_SECRET_SCHEMA_NAME "io.github.vchat.VChat1.Secret"

typedef enum {
  VCHAT_SECRET_SERVER_TOKEN,
  VCHAT_SECRET_TURN_USERNAME,
  VCHAT_SECRET_TURN_PASSWORD,
  VCHAT_SECRET_N
} VchatSecret;

/* "server-token" for VCHAT_SECRET_SERVER_TOKEN, and so on. */
const char *vchat_secret_name (VchatSecret secret);
/* FALSE for a name that is not one of them. */
gboolean vchat_secret_from_name (const char *name, VchatSecret *secret);
/* The names, joined with @separator (transfer full). */
char *vchat_secret_names_joined (const char *separator);
/* The label a person sees in a keyring manager. */
const char *vchat_secret_label (VchatSecret secret);

/* Looks @secret up: the value (free with vchat_secret_free()), or NULL with
 * no error when it is not set, or NULL with an error that says what to do
 * when the keyring cannot be read. */
char *vchat_secret_lookup_sync (VchatSecret secret, GCancellable *cancellable, GError **error);
void vchat_secret_lookup_async (VchatSecret secret, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
char *vchat_secret_lookup_finish (GAsyncResult *result, GError **error);

/* Stores @value (replacing an older one) in the default collection. */
gboolean vchat_secret_store_sync (VchatSecret secret, const char *value, GCancellable *cancellable,
                                  GError **error);
/* Removes @secret; *@removed says whether there was one. */
gboolean vchat_secret_clear_sync (VchatSecret secret, gboolean *removed, GCancellable *cancellable,
                                  GError **error);

/* Wipes and frees a value from vchat_secret_lookup_*; NULL is fine. */
void vchat_secret_free (char *value);

G_END_DECLS
