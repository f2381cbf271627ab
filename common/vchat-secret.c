/* vchat-secret.c: vchat's credentials in the keyring (libsecret)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchat-secret.h"

#include <libsecret/secret.h>
#include <string.h>

static const struct {
  const char *name;
  const char *label;
} secrets[VCHAT_SECRET_N] = {
  [VCHAT_SECRET_SERVER_TOKEN] = { "server-token", "vchat signaling server token" },
  [VCHAT_SECRET_TURN_USERNAME] = { "turn-username", "vchat TURN server user name" },
  [VCHAT_SECRET_TURN_PASSWORD] = { "turn-password", "vchat TURN server password" },
};

static const SecretSchema *
get_schema (void)
{
  static const SecretSchema schema = {
    VCHAT_SECRET_SCHEMA_NAME,
    SECRET_SCHEMA_NONE,
    {
      { "name", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    },
  };
  return &schema;
}

const char *
vchat_secret_name (VchatSecret secret)
{
  g_return_val_if_fail ((guint) secret < VCHAT_SECRET_N, NULL);
  return secrets[secret].name;
}

const char *
vchat_secret_label (VchatSecret secret)
{
  g_return_val_if_fail ((guint) secret < VCHAT_SECRET_N, NULL);
  return secrets[secret].label;
}

gboolean
vchat_secret_from_name (const char *name, VchatSecret *secret)
{
  for (guint i = 0; i < VCHAT_SECRET_N; i++)
    if (g_strcmp0 (name, secrets[i].name) == 0) {
      *secret = i;
      return TRUE;
    }
  return FALSE;
}

char *
vchat_secret_names_joined (const char *separator)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < VCHAT_SECRET_N; i++)
    g_string_append_printf (s, "%s%s", i ? separator : "", secrets[i].name);
  return g_string_free (s, FALSE);
}

/* libsecret's errors speak of D-Bus; say what a person can do, and keep
 * the original at the end for whoever debugs it. */
static void
explain (GError **error)
{
  GError *e;
  const char *what;

  if (!error || !*error)
    return;
  e = *error;
  if (g_error_matches (e, SECRET_ERROR, SECRET_ERROR_IS_LOCKED) ||
      g_error_matches (e, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    what = "The keyring is locked: unlock it (log in again, or open Passwords and Keys) and "
           "try again";
  else
    what = "Cannot use the keyring: no Secret Service answers on the session bus, or it failed. "
           "Start one (e.g. gnome-keyring-daemon --components=secrets) and unlock it, then try "
           "again";
  *error = g_error_new (e->domain, e->code, "%s (%s)", what, e->message);
  g_error_free (e);
}

char *
vchat_secret_lookup_sync (VchatSecret secret, GCancellable *cancellable, GError **error)
{
  GError *local = NULL;
  char *value;

  g_return_val_if_fail ((guint) secret < VCHAT_SECRET_N, NULL);
  value = secret_password_lookup_sync (get_schema (), cancellable, &local, "name",
                                       secrets[secret].name, NULL);
  if (local) {
    g_propagate_error (error, local);
    explain (error);
  }
  return value;
}

void
vchat_secret_lookup_async (VchatSecret secret, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail ((guint) secret < VCHAT_SECRET_N);
  secret_password_lookup (get_schema (), cancellable, callback, user_data, "name",
                          secrets[secret].name, NULL);
}

char *
vchat_secret_lookup_finish (GAsyncResult *result, GError **error)
{
  GError *local = NULL;
  char *value = secret_password_lookup_finish (result, &local);

  if (local) {
    g_propagate_error (error, local);
    explain (error);
  }
  return value;
}

gboolean
vchat_secret_store_sync (VchatSecret secret, const char *value, GCancellable *cancellable,
                         GError **error)
{
  g_return_val_if_fail ((guint) secret < VCHAT_SECRET_N, FALSE);
  if (!secret_password_store_sync (get_schema (), SECRET_COLLECTION_DEFAULT, secrets[secret].label,
                                   value, cancellable, error, "name", secrets[secret].name, NULL)) {
    explain (error);
    return FALSE;
  }
  return TRUE;
}

gboolean
vchat_secret_clear_sync (VchatSecret secret, gboolean *removed, GCancellable *cancellable,
                         GError **error)
{
  GError *local = NULL;
  gboolean r;

  g_return_val_if_fail ((guint) secret < VCHAT_SECRET_N, FALSE);
  r = secret_password_clear_sync (get_schema (), cancellable, &local, "name", secrets[secret].name,
                                  NULL);
  if (local) {
    g_propagate_error (error, local);
    explain (error);
    return FALSE;
  }
  if (removed)
    *removed = r;
  return TRUE;
}

void
vchat_secret_free (char *value)
{
  secret_password_free (value);
}
