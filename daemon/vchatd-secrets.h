/* vchatd-secrets.h: the daemon's credentials, read from the keyring
 *
 * The names and schema are common/vchat-secret.h's. The values live only in
 * memory, wiped when freed, and are never logged.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "vchat-secret.h"

G_BEGIN_DECLS

typedef struct {
  char *values[VCHAT_SECRET_N]; /* NULL: not set */
} VchatdSecrets;

void vchatd_secrets_free (VchatdSecrets *secrets);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VchatdSecrets, vchatd_secrets_free)

/* Looks every name up, one after the other. Fails (saying what to do) when
 * the keyring cannot be read; names that are not set are simply NULL. */
void vchatd_secrets_load_async (GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
VchatdSecrets *vchatd_secrets_load_finish (GAsyncResult *result, GError **error);

G_END_DECLS
