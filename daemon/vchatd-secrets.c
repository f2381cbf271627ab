/* vchatd-secrets.c: the daemon's credentials, read from the keyring
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-secrets.h"

#include <string.h>

typedef struct {
  VchatdSecrets *secrets;
  guint next;
} LoadData;

static void
load_data_free (LoadData *data)
{
  vchatd_secrets_free (data->secrets);
  g_free (data);
}

void
vchatd_secrets_free (VchatdSecrets *secrets)
{
  if (!secrets)
    return;
  for (guint i = 0; i < VCHAT_SECRET_N; i++)
    vchat_secret_free (secrets->values[i]);
  g_free (secrets);
}

static void lookup_next (GTask *task);

static void
looked_up_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  LoadData *data = g_task_get_task_data (task);
  GError *error = NULL;
  char *value = vchat_secret_lookup_finish (result, &error);

  if (error) {
    g_task_return_error (task, error);
    return;
  }
  data->secrets->values[data->next++] = value;
  lookup_next (g_steal_pointer (&task));
}

static void
lookup_next (GTask *task)
{
  LoadData *data = g_task_get_task_data (task);

  if (data->next == VCHAT_SECRET_N) {
    g_task_return_pointer (task, g_steal_pointer (&data->secrets),
                           (GDestroyNotify) vchatd_secrets_free);
    g_object_unref (task);
    return;
  }
  vchat_secret_lookup_async (data->next, g_task_get_cancellable (task), looked_up_cb, task);
}

void
vchatd_secrets_load_async (GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  LoadData *data = g_new0 (LoadData, 1);

  g_task_set_source_tag (task, vchatd_secrets_load_async);
  data->secrets = g_new0 (VchatdSecrets, 1);
  g_task_set_task_data (task, data, (GDestroyNotify) load_data_free);
  lookup_next (task);
}

VchatdSecrets *
vchatd_secrets_load_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
