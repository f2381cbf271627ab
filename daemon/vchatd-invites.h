/* vchatd-invites.h: the open invites this daemon made, kept across restarts
 *
 * An invite outlives the daemon's session at the server (docs/protocol.md,
 * "Owners away, and reclaiming an invite"). To take it back after a crash or
 * a restart the daemon keeps, for each open invite it created:
 *
 * - its public part (code, links, expiry, server, options) in
 *   $XDG_STATE_HOME/vchat/invites.json, written atomically, mode 0600;
 * - its claim, the secret that reclaims it, in the keyring through libsecret,
 *   as an item of the schema io.github.vchat.VChat1.Invite with the
 *   attributes `code` (abcd-efgh-ijkl-mnop) and `server` (the signaling URL).
 *
 * The claim is never written to a file or a log. Without a reachable keyring
 * it is kept in memory only: the invite survives a lost connection but not a
 * restart.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define VCHATD_INVITE_SCHEMA_NAME "io.github.vchat.VChat1.Invite"

typedef struct {
  char *code; /* canonical form, abcd-efgh-ijkl-mnop */
  char *link;
  char *web_link;
  gint64 expires;     /* Unix seconds */
  char *server;       /* the signaling URL it was made on */
  char *display_name; /* CreateInvite's option, or NULL */
  guint ttl;          /* CreateInvite's option, 0 for the server's default */
  char *claim;        /* secret; NULL until known (memory only) */
} VchatdInvite;

#define VCHATD_TYPE_INVITES (vchatd_invites_get_type ())
G_DECLARE_FINAL_TYPE (VchatdInvites, vchatd_invites, VCHATD, INVITES, GObject)

/* Loads the store at @path (NULL: $XDG_STATE_HOME/vchat/invites.json). A
 * missing or unreadable file is an empty store. */
VchatdInvites *vchatd_invites_new (const char *path);

/* Stores a copy of @invite (replacing one with the same code): the file at
 * once, the claim in the keyring. @callback runs when the keyring has the
 * claim, or has failed to take it (then the claim stays in memory). */
void vchatd_invites_add_async (VchatdInvites *self, const VchatdInvite *invite,
                               GAsyncReadyCallback callback, gpointer user_data);
void vchatd_invites_add_finish (VchatdInvites *self, GAsyncResult *result);

/* Forgets the invite with @code (used, cancelled or expired), from the file
 * and the keyring. Unknown codes are ignored. */
void vchatd_invites_remove (VchatdInvites *self, const char *code);

/* (transfer none) The stored invite with @code, or NULL. */
VchatdInvite *vchatd_invites_lookup (VchatdInvites *self, const char *code);

/* Forgets (file and keyring) the invites that have expired. */
void vchatd_invites_forget_expired (VchatdInvites *self);
/* (transfer container) The unexpired invites made on @server; expired ones
 * are forgotten on the way. */
GPtrArray *vchatd_invites_list (VchatdInvites *self, const char *server);

/* The claim of the invite with @code: from memory, else from the keyring.
 * The result is NULL (without an error) when nobody has it. */
void vchatd_invites_get_claim_async (VchatdInvites *self, const char *code,
                                     GAsyncReadyCallback callback, gpointer user_data);
char *vchatd_invites_get_claim_finish (VchatdInvites *self, GAsyncResult *result, GError **error);

G_END_DECLS
