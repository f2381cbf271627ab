/* vchatd-invites.c: the open invites this daemon made, kept across restarts
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vchatd-invites.h"

#include <errno.h>
#include <string.h>

#include <json-glib/json-glib.h>
#include <libsecret/secret.h>

#include "vchatd-state-file.h"

#define FILE_VERSION 1
/* A keyring that neither answers nor fails (a prompt nobody sees) must not
 * hold up the D-Bus reply forever. */
#define KEYRING_TIMEOUT_S 10

struct _VchatdInvites {
  GObject parent_instance;

  char *path;
  GPtrArray *invites; /* VchatdInvite*, owned */
  gboolean keyring_warned;
};

G_DEFINE_FINAL_TYPE (VchatdInvites, vchatd_invites, G_TYPE_OBJECT)

static const SecretSchema *
invite_schema (void)
{
  static const SecretSchema schema = {
    VCHATD_INVITE_SCHEMA_NAME,
    SECRET_SCHEMA_NONE,
    {
      { "code", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "server", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    },
  };
  return &schema;
}

static void
invite_free (VchatdInvite *invite)
{
  g_free (invite->code);
  g_free (invite->link);
  g_free (invite->web_link);
  g_free (invite->server);
  g_free (invite->display_name);
  if (invite->claim)
    explicit_bzero (invite->claim, strlen (invite->claim));
  g_free (invite->claim);
  g_free (invite);
}

static VchatdInvite *
invite_copy (const VchatdInvite *src)
{
  VchatdInvite *invite = g_new0 (VchatdInvite, 1);

  invite->code = g_strdup (src->code);
  invite->link = g_strdup (src->link);
  invite->web_link = g_strdup (src->web_link);
  invite->expires = src->expires;
  invite->server = g_strdup (src->server);
  invite->display_name = g_strdup (src->display_name);
  invite->ttl = src->ttl;
  invite->claim = g_strdup (src->claim);
  return invite;
}

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

/* The file */

static void
load (VchatdInvites *self)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonObject *root;
  JsonArray *arr;

  if (!json_parser_load_from_mapped_file (parser, self->path, &error)) {
    if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      g_warning ("cannot read the open invites in %s: %s", self->path, error->message);
    return;
  }
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)) ||
      !(root = json_node_get_object (json_parser_get_root (parser))) ||
      !json_object_has_member (root, "invites") ||
      !JSON_NODE_HOLDS_ARRAY (json_object_get_member (root, "invites"))) {
    g_warning ("%s does not hold open invites; ignored", self->path);
    return;
  }
  arr = json_object_get_array_member (root, "invites");
  for (guint i = 0; i < json_array_get_length (arr); i++) {
    JsonNode *node = json_array_get_element (arr, i);
    JsonObject *o = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
    VchatdInvite *invite;
    const char *code, *server;

    if (!o)
      continue;
    code = json_object_get_string_member_with_default (o, "code", NULL);
    server = json_object_get_string_member_with_default (o, "server", NULL);
    if (!code || !server)
      continue;
    invite = g_new0 (VchatdInvite, 1);
    invite->code = g_strdup (code);
    invite->server = g_strdup (server);
    invite->link = g_strdup (json_object_get_string_member_with_default (o, "link", ""));
    invite->web_link = g_strdup (json_object_get_string_member_with_default (o, "web_link", ""));
    invite->expires = json_object_get_int_member_with_default (o, "expires", 0);
    invite->display_name = g_strdup (
      json_object_get_string_member_with_default (o, "display_name", NULL));
    invite->ttl = (guint) CLAMP (json_object_get_int_member_with_default (o, "ttl", 0), 0,
                                 G_MAXUINT32);
    g_ptr_array_add (self->invites, invite);
  }
  g_debug ("%u open invites in %s", self->invites->len, self->path);
}

static void
save (VchatdInvites *self)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) error = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, FILE_VERSION);
  json_builder_set_member_name (b, "invites");
  json_builder_begin_array (b);
  for (guint i = 0; i < self->invites->len; i++) {
    VchatdInvite *invite = self->invites->pdata[i];

    /* Everything but the claim, which lives in the keyring. */
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "code");
    json_builder_add_string_value (b, invite->code);
    json_builder_set_member_name (b, "link");
    json_builder_add_string_value (b, invite->link);
    json_builder_set_member_name (b, "web_link");
    json_builder_add_string_value (b, invite->web_link);
    json_builder_set_member_name (b, "expires");
    json_builder_add_int_value (b, invite->expires);
    json_builder_set_member_name (b, "server");
    json_builder_add_string_value (b, invite->server);
    if (invite->display_name) {
      json_builder_set_member_name (b, "display_name");
      json_builder_add_string_value (b, invite->display_name);
    }
    if (invite->ttl) {
      json_builder_set_member_name (b, "ttl");
      json_builder_add_int_value (b, invite->ttl);
    }
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  if (!vchatd_state_file_save (self->path, root, &error))
    g_warning ("cannot save the open invites: %s", error->message);
}

static guint
find_index (VchatdInvites *self, const char *code)
{
  for (guint i = 0; i < self->invites->len; i++)
    if (g_strcmp0 (((VchatdInvite *) self->invites->pdata[i])->code, code) == 0)
      return i;
  return G_MAXUINT;
}

VchatdInvite *
vchatd_invites_lookup (VchatdInvites *self, const char *code)
{
  guint i = find_index (self, code);

  return i == G_MAXUINT ? NULL : self->invites->pdata[i];
}

/* The keyring */

static void
keyring_failed (VchatdInvites *self, GError *error)
{
  if (self->keyring_warned) {
    g_debug ("keyring: %s", error->message);
    return;
  }
  self->keyring_warned = TRUE;
  /* Normal in a session without a Secret Service (headless, a test): said
   * once, as information, not as a fault. */
  g_message ("no keyring to keep invite claims in (%s): open invites will not survive a "
             "restart of vchatd",
             error->message);
}

static gboolean
cancel_cb (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static GCancellable *
timeout_cancellable (void)
{
  GCancellable *cancellable = g_cancellable_new ();

  g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, KEYRING_TIMEOUT_S, cancel_cb,
                              g_object_ref (cancellable), g_object_unref);
  return cancellable;
}

static void
clear_done_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;

  if (!secret_password_clear_finish (result, &error) && error)
    g_debug ("keyring: cannot forget an invite claim: %s", error->message);
}

static void
clear_claim (VchatdInvites *self, const char *code, const char *server)
{
  /* Nobody waits for it: at worst a stale item stays in the keyring. */
  secret_password_clear (invite_schema (), NULL, clear_done_cb, NULL, "code", code, "server",
                         server, NULL);
}

static void
store_done_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GTask) task = data;
  VchatdInvites *self = g_task_get_source_object (task);
  const char *code = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  if (!secret_password_store_finish (result, &error)) {
    keyring_failed (self, error);
  } else if (!vchatd_invites_lookup (self, code)) {
    /* It was used or cancelled while the keyring worked. */
    g_autofree char *server = g_strdup (g_object_get_data (G_OBJECT (task), "server"));
    clear_claim (self, code, server);
  } else {
    g_debug ("invite %s: claim kept in the keyring", code);
  }
  g_task_return_boolean (task, TRUE);
}

void
vchatd_invites_add_async (VchatdInvites *self, const VchatdInvite *invite,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GCancellable) cancellable = timeout_cancellable ();
  g_autofree char *label = g_strdup_printf ("vchat invite %s", invite->code);
  GTask *task = g_task_new (self, NULL, callback, user_data);
  guint i = find_index (self, invite->code);

  g_assert (invite->code && invite->server);
  if (i != G_MAXUINT)
    g_ptr_array_remove_index (self->invites, i);
  g_ptr_array_add (self->invites, invite_copy (invite));
  save (self);

  g_task_set_task_data (task, g_strdup (invite->code), g_free);
  g_object_set_data_full (G_OBJECT (task), "server", g_strdup (invite->server), g_free);
  if (!invite->claim) {
    g_task_return_boolean (task, TRUE);
    g_object_unref (task);
    return;
  }
  secret_password_store (invite_schema (), SECRET_COLLECTION_DEFAULT, label, invite->claim,
                         cancellable, store_done_cb, task, "code", invite->code, "server",
                         invite->server, NULL);
}

void
vchatd_invites_add_finish (VchatdInvites *self, GAsyncResult *result)
{
  g_task_propagate_boolean (G_TASK (result), NULL);
}

void
vchatd_invites_remove (VchatdInvites *self, const char *code)
{
  guint i = find_index (self, code);
  VchatdInvite *invite;

  if (i == G_MAXUINT)
    return;
  invite = self->invites->pdata[i];
  g_debug ("invite %s: forgotten", code);
  clear_claim (self, invite->code, invite->server);
  g_ptr_array_remove_index (self->invites, i);
  save (self);
}

void
vchatd_invites_forget_expired (VchatdInvites *self)
{
  gint64 now = now_s ();
  gboolean changed = FALSE;

  for (guint i = 0; i < self->invites->len;) {
    VchatdInvite *invite = self->invites->pdata[i];

    if (invite->expires > now) {
      i++;
      continue;
    }
    g_debug ("invite %s: expired while vchatd was away", invite->code);
    clear_claim (self, invite->code, invite->server);
    g_ptr_array_remove_index (self->invites, i);
    changed = TRUE;
  }
  if (changed)
    save (self);
}

GPtrArray *
vchatd_invites_list (VchatdInvites *self, const char *server)
{
  GPtrArray *out = g_ptr_array_new ();

  vchatd_invites_forget_expired (self);
  for (guint i = 0; i < self->invites->len; i++) {
    VchatdInvite *invite = self->invites->pdata[i];

    if (g_strcmp0 (invite->server, server) == 0)
      g_ptr_array_add (out, invite);
  }
  return out;
}

static void
lookup_done_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GTask) task = data;
  VchatdInvites *self = g_task_get_source_object (task);
  VchatdInvite *invite = vchatd_invites_lookup (self, g_task_get_task_data (task));
  g_autoptr (GError) error = NULL;
  char *claim = secret_password_lookup_finish (result, &error);
  char *copy = g_strdup (claim);

  secret_password_free (claim);
  if (error) {
    keyring_failed (self, error);
    g_task_return_error (task, g_steal_pointer (&error));
    return;
  }
  if (copy && invite && !invite->claim)
    invite->claim = g_strdup (copy);
  g_task_return_pointer (task, copy, g_free);
}

void
vchatd_invites_get_claim_async (VchatdInvites *self, const char *code, GAsyncReadyCallback callback,
                                gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);
  VchatdInvite *invite = vchatd_invites_lookup (self, code);
  g_autoptr (GCancellable) cancellable = NULL;

  g_task_set_task_data (task, g_strdup (code), g_free);
  if (!invite || invite->claim) {
    g_task_return_pointer (task, invite ? g_strdup (invite->claim) : NULL, g_free);
    g_object_unref (task);
    return;
  }
  cancellable = timeout_cancellable ();
  secret_password_lookup (invite_schema (), cancellable, lookup_done_cb, task, "code", code,
                          "server", invite->server, NULL);
}

char *
vchatd_invites_get_claim_finish (VchatdInvites *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
vchatd_invites_finalize (GObject *object)
{
  VchatdInvites *self = VCHATD_INVITES (object);

  g_free (self->path);
  g_ptr_array_unref (self->invites);
  G_OBJECT_CLASS (vchatd_invites_parent_class)->finalize (object);
}

static void
vchatd_invites_class_init (VchatdInvitesClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vchatd_invites_finalize;
}

static void
vchatd_invites_init (VchatdInvites *self)
{
  self->invites = g_ptr_array_new_with_free_func ((GDestroyNotify) invite_free);
}

VchatdInvites *
vchatd_invites_new (const char *path)
{
  VchatdInvites *self = g_object_new (VCHATD_TYPE_INVITES, NULL);

  self->path = path ? g_strdup (path) : vchatd_state_file_path ("invites.json");
  vchatd_state_file_remove_stale (self->path);
  load (self);
  return self;
}
