/* vchatd-manager.c: the daemon: io.github.vchat.VChat1.Manager and its calls
 *
 * The manager turns D-Bus requests into signaling messages, and routes what
 * the server says back to the call it concerns. Requests the server must
 * answer (an invite's code, whether an invite exists) are completed when the
 * answer arrives. Each request carries an `id` that its answer echoes
 * (docs/protocol.md, "Request ids"); a server that echoes none answers each
 * connection's messages in order, so then the oldest pending request is the
 * one answered.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "vchatd-manager.h"
#include "vchatd-secrets.h"

#include <unistd.h>

#include "vchatd-devices.h"
#include "vchatd-error.h"
#include "vchatd-history.h"
#include "vchatd-notifier.h"
#include "vchatd-invites.h"
#include "vchat-link.h"

#define MANAGER_PATH "/io/github/vchat/VChat1"
/* Ended calls stay on the bus this long so their end reason can be read. */
#define ENDED_CALL_LINGER_S 60
/* How long the first connection waits for the keyring (it may be asking the
 * person to unlock it). */
#define SECRETS_WAIT_S 10

/* invite_create and invite_reclaim are both answered with `invite`, so they
 * share pending_create; a reclaim has no invocation. */
typedef struct {
  GDBusMethodInvocation *invocation;
  VchatdCall *call;          /* invite_create: the call made for it; invite_reclaim: the
                              * call that waits for it, or NULL to make one if it works */
  VchatdCallOptions options; /* invite_join: the options to make it with */
  char *code;
  char *link;             /* invite_create, while the invite is being stored */
  VchatdManager *manager; /* likewise */
  char *id;               /* the request's `id`, which its answer echoes */
} Pending;

struct _VchatdManager {
  GObject parent_instance;

  VchatdManagerConfig *config;
  GDBusConnection *connection;
  GDBusObjectManagerServer *object_manager;
  VchatDBusManager *skeleton;
  VchatdSignaling *signaling;
  VchatdDevices *devices;
  VchatdNotifier *notifier;
  char *wanted_camera; /* --camera / GSettings / SelectCamera, or NULL */
  char *wanted_microphone;

  GPtrArray *calls; /* VchatdCall*, including recently ended */
  guint next_number;
  guint64 next_request; /* for request ids */
  GQueue pending_create; /* Pending* */
  GQueue pending_join;
  GHashTable *sender_uids; /* unique bus name → uid + 1 */
  VchatdHistory *history;
  gboolean keep_history;  /* the history setting */
  VchatdInvites *invites; /* open invites kept across restarts */
  gboolean reclaimed;     /* the stored invites were reclaimed once */
  gboolean shutting_down;

  GCancellable *cancellable; /* keyring lookups */
  guint secrets_fallback;    /* starts signaling if the keyring is slow */
};

G_DEFINE_FINAL_TYPE (VchatdManager, vchatd_manager, G_TYPE_OBJECT)

static void
pending_free (Pending *p)
{
  g_clear_object (&p->invocation);
  g_clear_object (&p->call);
  vchatd_call_options_clear (&p->options);
  g_free (p->code);
  g_free (p->link);
  g_clear_object (&p->manager);
  g_free (p->id);
  g_free (p);
}

/* Gives @msg a request id of its own; returns it. */
static char *
request_id_new (VchatdManager *self, JsonObject *msg)
{
  char *id = g_strdup_printf ("vchatd-%" G_GUINT64_FORMAT, ++self->next_request);

  json_object_set_string_member (msg, "id", id);
  return id;
}

/* The pending request of @queue that @answer answers: the one with its
 * `id`, or, from a server that echoes no ids, the oldest. */
static Pending *
take_pending (GQueue *queue, VchatMsg *answer)
{
  JsonNode *node = json_object_get_member (answer->object, "id");
  const char *id;

  if (!node)
    return g_queue_pop_head (queue);
  id = JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING
         ? json_node_get_string (node)
         : NULL;
  for (GList *l = queue->head; l && id; l = l->next) {
    Pending *p = l->data;

    if (g_strcmp0 (p->id, id) == 0) {
      g_queue_delete_link (queue, l);
      return p;
    }
  }
  return NULL;
}

/* Authorization: only the user who runs the daemon. */

static gboolean
sender_is_our_user (VchatdManager *self, const char *sender)
{
  gpointer cached;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;
  guint32 uid;

  if (!sender)
    return TRUE; /* a peer-to-peer connection: only our own process */
  if (g_hash_table_lookup_extended (self->sender_uids, sender, NULL, &cached))
    return GPOINTER_TO_UINT (cached) - 1 == getuid ();

  reply = g_dbus_connection_call_sync (
    self->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
    "GetConnectionUnixUser", g_variant_new ("(s)", sender), G_VARIANT_TYPE ("(u)"),
    G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
  if (!reply) {
    g_warning ("cannot tell who %s is: %s", sender, error->message);
    return FALSE;
  }
  g_variant_get (reply, "(u)", &uid);
  /* Unique names are never reused on a bus, so the answer stays true. */
  g_hash_table_insert (self->sender_uids, g_strdup (sender), GUINT_TO_POINTER (uid + 1));
  return uid == getuid ();
}

static gboolean
authorize_cb (GDBusInterfaceSkeleton *skeleton, GDBusMethodInvocation *invocation, gpointer data)
{
  VchatdManager *self = data;

  if (sender_is_our_user (self, g_dbus_method_invocation_get_sender (invocation)))
    return TRUE;
  g_dbus_method_invocation_return_error (invocation, VCHATD_ERROR, VCHATD_ERROR_PERMISSION_DENIED,
                                         _("Only the user running vchatd may use it."));
  return FALSE;
}

static gboolean
authorize_object_cb (GDBusObjectSkeleton *object, GDBusInterfaceSkeleton *iface,
                     GDBusMethodInvocation *invocation, gpointer data)
{
  return authorize_cb (iface, invocation, data);
}

/* Calls */

static void
update_calls_property (VchatdManager *self)
{
  g_autoptr (GPtrArray) paths = g_ptr_array_new ();

  for (guint i = 0; i < self->calls->len; i++)
    g_ptr_array_add (paths, (gpointer) vchatd_call_get_path (self->calls->pdata[i]));
  g_ptr_array_add (paths, NULL);
  vchat_dbus_manager_set_calls (self->skeleton, (const char *const *) paths->pdata);
}

typedef struct {
  VchatdManager *manager;
  VchatdCall *call;
} LingerData;

static gboolean
linger_done_cb (gpointer data)
{
  LingerData *ld = data;

  g_ptr_array_remove (ld->manager->calls, ld->call);
  update_calls_property (ld->manager);
  return G_SOURCE_REMOVE;
}

static void
linger_data_free (gpointer data)
{
  LingerData *ld = data;

  g_object_unref (ld->manager);
  g_object_unref (ld->call);
  g_free (ld);
}

static void
remember (VchatdManager *self, VchatdCall *call)
{
  g_autoptr (GDBusObject) object = g_dbus_object_manager_get_object (
    G_DBUS_OBJECT_MANAGER (self->object_manager), vchatd_call_get_path (call));
  g_autoptr (VchatDBusCall) props = object ? vchat_dbus_object_get_call (VCHAT_DBUS_OBJECT (object))
                                           : NULL;
  g_autoptr (GVariant) entry = NULL;
  g_autoptr (GError) error = NULL;
  GVariantBuilder b;
  const char *name = "";
  guint64 connected, ended;

  if (!props || !self->keep_history)
    return;
  /* A search nobody answered, an invite nobody used: no call to remember. */
  if (!g_variant_lookup (vchat_dbus_call_get_peer (props), "client", "&s", &name))
    return;
  g_variant_lookup (vchat_dbus_call_get_peer (props), "name", "&s", &name);
  connected = vchat_dbus_call_get_connected_at (props);
  ended = vchat_dbus_call_get_ended_at (props);
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "kind",
                         g_variant_new_string (vchat_dbus_call_get_kind (props)));
  g_variant_builder_add (&b, "{sv}", "direction",
                         g_variant_new_string (vchat_dbus_call_get_direction (props)));
  g_variant_builder_add (&b, "{sv}", "peer-name", g_variant_new_string (name));
  g_variant_builder_add (&b, "{sv}", "started",
                         g_variant_new_uint64 (vchat_dbus_call_get_created_at (props)));
  g_variant_builder_add (
    &b, "{sv}", "duration",
    g_variant_new_uint64 (connected && ended > connected ? ended - connected : 0));
  g_variant_builder_add (&b, "{sv}", "end-reason",
                         g_variant_new_string (vchat_dbus_call_get_end_reason (props)));
  entry = g_variant_ref_sink (g_variant_builder_end (&b));
  if (!vchatd_history_add (self->history, entry, &error))
    g_warning ("%s", error->message);
}

static void
on_call_ended (VchatdCall *call, VchatdManager *self)
{
  LingerData *ld = g_new0 (LingerData, 1);

  remember (self, call);
  /* Used, cancelled or expired; a shutdown leaves it open to reclaim. */
  if (self->invites && !self->shutting_down && vchatd_call_get_invite_code (call) &&
      !g_object_get_data (G_OBJECT (call), "vchatd-keep-invite"))
    vchatd_invites_remove (self->invites, vchatd_call_get_invite_code (call));
  ld->manager = g_object_ref (self);
  ld->call = g_object_ref (call);
  g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, ENDED_CALL_LINGER_S, linger_done_cb, ld,
                              linger_data_free);
}

static VchatdCall *add_call (VchatdManager *self, VchatdCallKind kind, VchatdCallState initial,
                             const VchatdCallOptions *options);

static void
on_next_requested (VchatdCall *call, GDBusMethodInvocation *invocation, VchatdManager *self)
{
  VchatdCall *next = add_call (self, VCHATD_CALL_KIND_RANDOM, VCHATD_CALL_SEARCHING,
                               vchatd_call_get_options (call));

  vchatd_call_complete_next (call, invocation, vchatd_call_get_path (next));
}

static void
on_call_incoming (VchatdCall *call, GVariant *peer, VchatdManager *self)
{
  vchat_dbus_manager_emit_incoming_call (self->skeleton, vchatd_call_get_path (call), peer);
}

static VchatdCall *
add_call (VchatdManager *self, VchatdCallKind kind, VchatdCallState initial,
          const VchatdCallOptions *options)
{
  VchatdCall *call = vchatd_call_new (self->object_manager, ++self->next_number, self->signaling,
                                      &self->config->media, kind, initial, options);
  g_autoptr (GDBusObject) object = g_dbus_object_manager_get_object (
    G_DBUS_OBJECT_MANAGER (self->object_manager), vchatd_call_get_path (call));

  g_signal_connect (object, "authorize-method", G_CALLBACK (authorize_object_cb), self);
  g_signal_connect (call, "ended", G_CALLBACK (on_call_ended), self);
  g_signal_connect (call, "next-requested", G_CALLBACK (on_next_requested), self);
  g_signal_connect (call, "incoming", G_CALLBACK (on_call_incoming), self);
  vchatd_notifier_watch_call (self->notifier, call);
  g_ptr_array_add (self->calls, call);
  update_calls_property (self);
  return call;
}

static VchatdCall *
find_call (VchatdManager *self, gboolean (*match) (VchatdCall *, const char *), const char *arg)
{
  for (guint i = 0; i < self->calls->len; i++) {
    VchatdCall *call = self->calls->pdata[i];
    if (vchatd_call_get_state (call) != VCHATD_CALL_ENDED && match (call, arg))
      return call;
  }
  return NULL;
}

static gboolean
match_server_id (VchatdCall *call, const char *id)
{
  return g_strcmp0 (vchatd_call_get_server_id (call), id) == 0;
}

static gboolean
match_code (VchatdCall *call, const char *code)
{
  return g_strcmp0 (vchatd_call_get_invite_code (call), code) == 0;
}

static gboolean
match_searching_random (VchatdCall *call, const char *unused)
{
  return vchatd_call_get_kind (call) == VCHATD_CALL_KIND_RANDOM &&
         vchatd_call_get_state (call) == VCHATD_CALL_SEARCHING;
}

/* A call that keeps the user busy: anything but an open invite. */
/* An invite of this user's that nobody has joined yet. */
static gboolean
is_open_invite (VchatdCall *call)
{
  return vchatd_call_get_kind (call) == VCHATD_CALL_KIND_INVITE &&
         vchatd_call_get_state (call) == VCHATD_CALL_SEARCHING;
}

static gboolean
match_busy (VchatdCall *call, const char *unused)
{
  return !is_open_invite (call);
}

/* Server messages */

static VchatdError
error_for_code (const char *code)
{
  static const struct {
    const char *code;
    VchatdError error;
  } map[] = {
    { "invite-not-found", VCHATD_ERROR_NOT_FOUND },
    { "invite-expired", VCHATD_ERROR_INVITE_EXPIRED },
    { "own-invite", VCHATD_ERROR_INVALID_ARGS },
    { "busy", VCHATD_ERROR_BUSY },
    { "inviter-away", VCHATD_ERROR_BUSY },
    { "bad-state", VCHATD_ERROR_BUSY },
    { "bad-value", VCHATD_ERROR_INVALID_ARGS },
  };

  for (guint i = 0; i < G_N_ELEMENTS (map); i++)
    if (g_strcmp0 (map[i].code, code) == 0)
      return map[i].error;
  return VCHATD_ERROR_FAILED;
}

/* Invites kept across restarts */

static void
reclaim_failed (VchatdManager *self, Pending *p, const char *code, const char *message)
{
  gboolean gone = g_strcmp0 (code, "invite-not-found") == 0 ||
                  g_strcmp0 (code, "invite-expired") == 0;

  g_message ("cannot take back invite %s: %s", p->code, message);
  /* Gone for good: forget it. Anything else (a rate limit, a bug) may go
   * better after the next restart, so the stored invite stays. */
  if (gone)
    vchatd_invites_remove (self->invites, p->code);
  if (p->call) {
    if (!gone)
      g_object_set_data (G_OBJECT (p->call), "vchatd-keep-invite", GINT_TO_POINTER (TRUE));
    vchatd_call_end (p->call, gone ? VCHATD_END_EXPIRED : VCHATD_END_ERROR, FALSE);
  }
  pending_free (p);
}

static void
send_reclaim (VchatdManager *self, VchatdInvite *invite, VchatdCall *call)
{
  g_autoptr (JsonObject) msg = vchat_msg_object_new (VCHAT_MSG_INVITE_RECLAIM);
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  Pending *p;

  json_object_set_string_member (msg, "code", invite->code);
  json_object_set_string_member (msg, "claim", invite->claim);
  id = request_id_new (self, msg);
  if (!vchatd_signaling_send (self->signaling, msg, &error)) {
    /* Offline again: the next welcome tries anew. */
    g_debug ("invite %s: cannot reclaim now: %s", invite->code, error->message);
    return;
  }
  p = g_new0 (Pending, 1);
  p->call = call ? g_object_ref (call) : NULL;
  p->code = g_strdup (invite->code);
  p->id = g_steal_pointer (&id);
  g_queue_push_tail (&self->pending_create, p);
  g_debug ("invite %s: reclaiming it", invite->code);
}

static void
claim_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (VchatdManager) self = data;
  g_autofree char *code = g_strdup (g_task_get_task_data (G_TASK (result)));
  g_autoptr (GError) error = NULL;
  g_autofree char *claim = vchatd_invites_get_claim_finish (self->invites, result, &error);
  VchatdInvite *invite = vchatd_invites_lookup (self->invites, code);
  VchatdCall *call;

  if (!invite || self->shutting_down || !self->signaling)
    return;
  call = find_call (self, match_code, code);
  if (!claim) {
    /* Without its claim nobody can take the invite back. */
    g_message ("invite %s: its claim is not in the keyring; forgetting it", code);
    vchatd_invites_remove (self->invites, code);
    if (call)
      vchatd_call_end (call, VCHATD_END_ERROR, FALSE);
    return;
  }
  if (call && vchatd_call_get_state (call) != VCHATD_CALL_SEARCHING)
    return;
  send_reclaim (self, invite, call);
}

/* After a new session at the server (the daemon started, or was away longer
 * than the server's grace time): take back the open invites made here. */
static void
reclaim_invites (VchatdManager *self)
{
  g_autoptr (GPtrArray) stored = NULL;

  if (!self->invites)
    return;
  self->reclaimed = TRUE;
  stored = vchatd_invites_list (self->invites, vchatd_signaling_get_url (self->signaling));
  for (guint i = 0; i < stored->len; i++)
    vchatd_invites_get_claim_async (self->invites, ((VchatdInvite *) stored->pdata[i])->code,
                                    claim_cb, g_object_ref (self));
}

static void
invite_stored_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  Pending *p = data;

  vchatd_invites_add_finish (VCHATD_INVITES (source), result);
  vchat_dbus_manager_complete_create_invite (p->manager->skeleton, g_steal_pointer (&p->invocation),
                                             vchatd_call_get_path (p->call), p->code, p->link);
  pending_free (p);
}

static void
handle_invite (VchatdManager *self, VchatMsg *msg)
{
  Pending *p = take_pending (&self->pending_create, msg);
  const char *code = vchat_msg_get_string (msg, "code");
  VchatdInvite invite = {
    .code = (char *) code,
    .link = (char *) vchat_msg_get_string (msg, "link"),
    .web_link = (char *) vchat_msg_get_string (msg, "web_link"),
    .expires = vchat_msg_get_int (msg, "expires", 0),
    .server = (char *) vchatd_signaling_get_url (self->signaling),
    .claim = (char *) vchat_msg_get_string (msg, "claim"),
  };
  const VchatdCallOptions *opts;

  if (!p) {
    g_warning ("an invite arrived that nobody asked for; ignored");
    return;
  }
  if (!p->invocation) {
    /* Taken back: only now does the call show up, so that a friend who
     * sees it and joins rings this daemon, not its dead predecessor. */
    VchatdInvite *stored = vchatd_invites_lookup (self->invites, p->code);
    VchatdCall *call = p->call ? p->call : find_call (self, match_code, p->code);

    if (!call) {
      g_auto (VchatdCallOptions) call_opts = { 0 };

      call_opts.interests = g_new0 (char *, 1);
      call_opts.ttl = stored ? stored->ttl : 0;
      call_opts.display_name = stored ? g_strdup (stored->display_name) : NULL;
      call = add_call (self, VCHATD_CALL_KIND_INVITE, VCHATD_CALL_SEARCHING, &call_opts);
    }
    vchatd_call_set_invite (call, code, invite.web_link);
    g_debug ("invite %s: taken back", code);
    pending_free (p);
    return;
  }
  vchatd_call_set_invite (p->call, code, invite.web_link);
  if (vchatd_call_get_state (p->call) == VCHATD_CALL_ENDED) {
    /* Hung up before the server answered: nobody wants this invite. */
    g_autoptr (JsonObject) cancel = vchat_msg_object_new (VCHAT_MSG_INVITE_CANCEL);

    json_object_set_string_member (cancel, "code", code);
    vchatd_signaling_send (self->signaling, cancel, NULL);
    vchat_dbus_manager_complete_create_invite (self->skeleton, g_steal_pointer (&p->invocation),
                                               vchatd_call_get_path (p->call), code, invite.link);
    pending_free (p);
    return;
  }
  /* The D-Bus answer waits until the invite would survive a crash. */
  opts = vchatd_call_get_options (p->call);
  invite.display_name = opts->display_name;
  invite.ttl = opts->ttl;
  g_free (p->code);
  p->code = g_strdup (code);
  p->link = g_strdup (invite.link);
  p->manager = g_object_ref (self);
  vchatd_invites_add_async (self->invites, &invite, invite_stored_cb, p);
}

static void
handle_error (VchatdManager *self, VchatMsg *msg)
{
  const char *ref = vchat_msg_get_string (msg, "ref");
  const char *code = vchat_msg_get_string (msg, "code");
  const char *message = vchat_msg_get_string (msg, "message");
  GQueue *queue = NULL;
  Pending *p;

  if (g_strcmp0 (ref, "invite_create") == 0 || g_strcmp0 (ref, "invite_reclaim") == 0)
    queue = &self->pending_create;
  else if (g_strcmp0 (ref, "invite_join") == 0)
    queue = &self->pending_join;

  if (queue && (p = take_pending (queue, msg))) {
    if (!p->invocation) {
      reclaim_failed (self, p, code, message);
      return;
    }
    if (p->call)
      vchatd_call_end (p->call, VCHATD_END_ERROR, FALSE);
    g_dbus_method_invocation_return_error (g_steal_pointer (&p->invocation), VCHATD_ERROR,
                                           error_for_code (code), "%s", message);
    pending_free (p);
    return;
  }
  if (g_strcmp0 (ref, "queue") == 0 || g_strcmp0 (code, "refused") == 0) {
    VchatdCall *call = find_call (self, match_searching_random, NULL);
    g_warning ("the server refused a random call: %s", message);
    if (call)
      vchatd_call_end (call, VCHATD_END_ERROR, FALSE);
    return;
  }
  g_warning ("the signaling server says: %s (%s%s%s)", message, code, ref ? ", about " : "",
             ref ? ref : "");
}

static void
on_server_message (VchatdSignaling *signaling, VchatMsg *msg, VchatdManager *self)
{
  const char *call_id = vchat_msg_get_string (msg, "call");
  VchatdCall *call = NULL;
  Pending *p;

  switch (msg->type) {
  case VCHAT_MSG_ERROR:
    handle_error (self, msg);
    return;

  case VCHAT_MSG_INVITE:
    handle_invite (self, msg);
    return;

  case VCHAT_MSG_RINGING:
    p = take_pending (&self->pending_join, msg);
    if (!p) {
      g_warning ("ringing for a join nobody asked for; leaving it");
      return;
    }
    call = add_call (self, VCHATD_CALL_KIND_INVITE, VCHATD_CALL_RINGING, &p->options);
    vchatd_call_set_invite (call, p->code, NULL);
    vchatd_call_handle_message (call, msg);
    vchat_dbus_manager_complete_join_invite (self->skeleton, g_steal_pointer (&p->invocation),
                                             vchatd_call_get_path (call));
    pending_free (p);
    return;

  case VCHAT_MSG_INCOMING:
  case VCHAT_MSG_INVITE_EXPIRED:
  case VCHAT_MSG_INVITE_CANCELLED: {
    g_autofree char *code = vchat_invite_code_normalize (vchat_msg_get_string (msg, "code"));
    call = code ? find_call (self, match_code, code) : NULL;
    /* Someone joined: the server used the invite up. */
    if (code && msg->type == VCHAT_MSG_INCOMING && self->invites)
      vchatd_invites_remove (self->invites, code);
    break;
  }

  case VCHAT_MSG_MATCHED:
    call = find_call (self, match_server_id, call_id);
    if (!call)
      call = find_call (self, match_searching_random, NULL);
    break;

  case VCHAT_MSG_QUEUED:
  case VCHAT_MSG_LEFT_QUEUE:
    return;

  default:
    if (call_id)
      call = find_call (self, match_server_id, call_id);
    break;
  }

  if (call)
    vchatd_call_handle_message (call, msg);
  else
    g_debug ("%s for no current call; ignored", vchat_msg_type_to_string (msg->type));
}

static void
on_signaling_state (VchatdSignaling *signaling, GParamSpec *pspec, VchatdManager *self)
{
  vchat_dbus_manager_set_signaling_state (
    self->skeleton, vchatd_signaling_state_to_string (vchatd_signaling_get_state (signaling)));
  /* The first session since the daemon started (later ones that are not
   * resumed get "session-lost"). */
  if (vchatd_signaling_get_state (signaling) == VCHATD_SIGNALING_ONLINE && !self->reclaimed)
    reclaim_invites (self);
}

static void
on_session_lost (VchatdSignaling *signaling, VchatdManager *self)
{
  /* The server forgot us (we were away longer than its grace time): our
   * calls there are gone. Our open invites wait for us without an owner:
   * take them back. Answers to requests of the old session never come. */
  Pending *p;

  /* Forget invites that ran out while we were away, so that their calls end
   * below instead of waiting for a reclaim that is never sent. */
  vchatd_invites_forget_expired (self->invites);
  while ((p = g_queue_pop_head (&self->pending_create))) {
    if (p->invocation)
      g_dbus_method_invocation_return_error (g_steal_pointer (&p->invocation), VCHATD_ERROR,
                                             VCHATD_ERROR_OFFLINE,
                                             _("The connection to the signaling server was lost; "
                                               "try again."));
    if (p->call && !vchatd_invites_lookup (self->invites, vchatd_call_get_invite_code (p->call)))
      vchatd_call_end (p->call, VCHATD_END_NETWORK, FALSE);
    pending_free (p);
  }
  for (guint i = 0; i < self->calls->len; i++) {
    VchatdCall *call = self->calls->pdata[i];
    const char *code = vchatd_call_get_invite_code (call);

    if (is_open_invite (call) && code && vchatd_invites_lookup (self->invites, code))
      continue;
    /* A call whose media flows needs the server only to hang up or
     * reconnect: it goes on, and asks the new server to pair it again. */
    if (vchatd_call_rejoin (call))
      continue;
    vchatd_call_end (call, VCHATD_END_NETWORK, FALSE);
  }
  reclaim_invites (self);
}

/* Devices */

static GVariant *
cameras_variant (GPtrArray *cameras)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < cameras->len; i++) {
    VchatdDevice *dev = cameras->pdata[i];

    g_variant_builder_open (&b, G_VARIANT_TYPE_VARDICT);
    g_variant_builder_add (&b, "{sv}", "id", g_variant_new_string (dev->id));
    g_variant_builder_add (&b, "{sv}", "name",
                           g_variant_new_string (dev->name ? dev->name : dev->id));
    g_variant_builder_add (&b, "{sv}", "default", g_variant_new_boolean (dev->is_default));
    g_variant_builder_close (&b);
  }
  return g_variant_builder_end (&b);
}

/* The camera calls use: the one asked for while it is there, else the
 * default one, else none (calls go on without a picture). Likewise the
 * microphone. New calls pick the choice up; a running call keeps its own. */
static void
update_devices (VchatdManager *self)
{
  g_autoptr (GPtrArray) cameras = vchatd_devices_get_cameras (self->devices);
  g_autoptr (VchatdDevice) camera = NULL;
  g_autoptr (VchatdDevice) microphone = NULL;
  VchatdMediaSettings *ms = &self->config->media;

  if (self->wanted_camera)
    camera = vchatd_devices_lookup_camera (self->devices, self->wanted_camera);
  if (!camera)
    camera = vchatd_devices_get_default_camera (self->devices);
  if (self->wanted_microphone)
    microphone = vchatd_devices_lookup_microphone (self->devices, self->wanted_microphone);
  if (!microphone)
    microphone = vchatd_devices_get_default_microphone (self->devices);

  if (g_strcmp0 (ms->camera_target, camera ? camera->id : NULL) != 0) {
    /* Calls in progress switch too: the user chose, or the camera went. */
    for (guint i = 0; i < self->calls->len; i++)
      if (vchatd_call_get_state (self->calls->pdata[i]) != VCHATD_CALL_ENDED)
        vchatd_call_set_camera (self->calls->pdata[i], camera ? camera->id : NULL);
  }
  g_free (ms->camera_target);
  ms->camera_target = camera ? g_strdup (camera->id) : NULL;
  g_free (ms->microphone_target);
  ms->microphone_target = microphone ? g_strdup (microphone->id) : NULL;

  vchat_dbus_manager_set_cameras (self->skeleton, cameras_variant (cameras));
  vchat_dbus_manager_set_camera (self->skeleton, camera ? camera->id : "");
  vchat_dbus_manager_set_microphone (
    self->skeleton, microphone ? (microphone->name ? microphone->name : microphone->id) : "");
  g_debug ("camera: %s, microphone: %s", camera ? camera->id : "none",
           microphone ? microphone->id : "none");
}

static void
on_devices_changed (VchatdDevices *devices, VchatdManager *self)
{
  update_devices (self);
}

/* Settings: changes made while the daemon runs (vchatctl config, gsettings,
 * a settings app) apply at once, over what the command line said at start. */

static char *
settings_string_or_null (GSettings *settings, const char *key)
{
  g_autofree char *value = g_settings_get_string (settings, key);

  return *value ? g_steal_pointer (&value) : NULL;
}

static void
on_settings_changed (GSettings *settings, const char *key, VchatdManager *self)
{
  VchatdManagerConfig *config = self->config;

  g_debug ("setting %s changed", key);
  if (g_str_equal (key, "server-url")) {
    g_autofree char *url = g_settings_get_string (settings, key);
    if (!*url || !self->signaling || g_strcmp0 (url, config->server_url) == 0)
      return;
    /* Calls and invites live on the old server: they end with the move. */
    for (guint i = 0; i < self->calls->len; i++)
      vchatd_call_end (self->calls->pdata[i], VCHATD_END_HANGUP, TRUE);
    g_free (config->server_url);
    config->server_url = g_steal_pointer (&url);
    vchatd_signaling_set_url (self->signaling, config->server_url);
    vchat_dbus_manager_set_server (self->skeleton, vchatd_signaling_get_url (self->signaling));
  } else if (g_str_equal (key, "display-name")) {
    g_free (config->display_name);
    config->display_name = settings_string_or_null (settings, key);
    if (self->signaling)
      vchatd_signaling_set_display_name (self->signaling, config->display_name);
  } else if (g_str_equal (key, "camera")) {
    g_free (self->wanted_camera);
    self->wanted_camera = settings_string_or_null (settings, key);
    if (self->devices)
      update_devices (self);
  } else if (g_str_equal (key, "microphone")) {
    g_free (self->wanted_microphone);
    self->wanted_microphone = settings_string_or_null (settings, key);
    if (self->devices)
      update_devices (self);
  } else if (g_str_equal (key, "speaker")) {
    /* Read by each call as it connects. */
    g_free (config->media.speaker_target);
    config->media.speaker_target = settings_string_or_null (settings, key);
  } else if (g_str_equal (key, "turn-server")) {
    /* Read by each call as it connects. */
    g_free (config->media.turn_server);
    config->media.turn_server = g_settings_get_string (settings, key);
  } else if (g_str_equal (key, "reconnect-timeout")) {
    /* Read by each call when its connection breaks. */
    config->media.reconnect_seconds = g_settings_get_uint (settings, key);
  } else if (g_str_equal (key, "relay-only")) {
    config->media.relay_only = g_settings_get_boolean (settings, key);
  } else if (g_str_equal (key, "private-addresses-random")) {
    /* Read by each call as it gathers candidates. */
    config->media.private_addresses_random = g_settings_get_boolean (settings, key);
  } else if (g_str_equal (key, "private-addresses-invite")) {
    config->media.private_addresses_invite = g_settings_get_boolean (settings, key);
  } else if (g_str_equal (key, "max-bitrate")) {
    config->media.max_bitrate_kbps = g_settings_get_uint (settings, key);
    for (guint i = 0; i < self->calls->len; i++)
      vchatd_call_set_max_bitrate (self->calls->pdata[i], config->media.max_bitrate_kbps);
  } else if (g_str_equal (key, "history")) {
    g_autoptr (GError) error = NULL;
    self->keep_history = g_settings_get_boolean (settings, key);
    /* Turned off means forgotten, as with recent files on the desktop. */
    if (!self->keep_history && !vchatd_history_clear (self->history, &error))
      g_warning ("%s", error->message);
  } else if (g_str_equal (key, "history-size")) {
    vchatd_history_set_max_entries (self->history, g_settings_get_uint (settings, key));
  }
}

/* Manager methods */

static gboolean
check_ready (VchatdManager *self, GDBusMethodInvocation *invocation, gboolean busy_matters)
{
  if (vchatd_signaling_get_unauthorized (self->signaling) &&
      vchatd_signaling_get_state (self->signaling) != VCHATD_SIGNALING_ONLINE) {
    g_dbus_method_invocation_return_error (
      invocation, VCHATD_ERROR, VCHATD_ERROR_OFFLINE,
      vchatd_signaling_has_token (self->signaling)
        ? _("The signaling server %s wants an access token and did not accept the one in the "
            "keyring (it says: %s). Ask its operator for the token and set it with: printf %%s "
            "TOKEN | vchatctl secret set server-token")
        : _("The signaling server %s wants an access token, and the keyring has none (it says: "
            "%s). Ask its operator for the token and set it with: printf %%s TOKEN | vchatctl "
            "secret set server-token"),
      vchatd_signaling_get_url (self->signaling),
      vchatd_signaling_get_unauthorized (self->signaling));
    return FALSE;
  }
  if (vchatd_signaling_get_state (self->signaling) != VCHATD_SIGNALING_ONLINE) {
    g_dbus_method_invocation_return_error (
      invocation, VCHATD_ERROR, VCHATD_ERROR_OFFLINE,
      /* Translators: the server's address, then its state (connecting, offline) */
      _("Not connected to the signaling server %s (%s). vchatd keeps retrying; check the "
        "server address and the network."),
      vchatd_signaling_get_url (self->signaling),
      vchatd_signaling_state_to_string (vchatd_signaling_get_state (self->signaling)));
    return FALSE;
  }
  if (busy_matters && find_call (self, match_busy, NULL)) {
    g_dbus_method_invocation_return_error (invocation, VCHATD_ERROR, VCHATD_ERROR_BUSY,
                                           _("A call is in progress; hang it up first."));
    return FALSE;
  }
  return TRUE;
}

static gboolean
send_or_fail (VchatdManager *self, GDBusMethodInvocation *invocation, JsonObject *msg)
{
  g_autoptr (GError) error = NULL;

  if (vchatd_signaling_send (self->signaling, msg, &error))
    return TRUE;
  g_dbus_method_invocation_return_error (invocation, VCHATD_ERROR, VCHATD_ERROR_OFFLINE, "%s",
                                         error->message);
  return FALSE;
}

static gboolean
handle_start_random (VchatDBusManager *skeleton, GDBusMethodInvocation *invocation,
                     GVariant *options, VchatdManager *self)
{
  g_auto (VchatdCallOptions) opts = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) msg = NULL;
  VchatdCall *call;

  if (!vchatd_call_options_parse (options, VCHATD_OPTIONS_RANDOM, &opts, &error)) {
    g_dbus_method_invocation_return_gerror (invocation, error);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  }
  if (!check_ready (self, invocation, TRUE))
    return G_DBUS_METHOD_INVOCATION_HANDLED;

  msg = vchat_msg_object_new (VCHAT_MSG_QUEUE);
  json_object_set_array_member (msg, "interests", json_array_new ());
  for (guint i = 0; opts.interests[i]; i++)
    json_array_add_string_element (json_object_get_array_member (msg, "interests"),
                                   opts.interests[i]);
  if (opts.language)
    json_object_set_string_member (msg, "language", opts.language);
  if (!send_or_fail (self, invocation, msg))
    return G_DBUS_METHOD_INVOCATION_HANDLED;

  call = add_call (self, VCHATD_CALL_KIND_RANDOM, VCHATD_CALL_SEARCHING, &opts);
  vchat_dbus_manager_complete_start_random (skeleton, invocation, vchatd_call_get_path (call));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_create_invite (VchatDBusManager *skeleton, GDBusMethodInvocation *invocation,
                      GVariant *options, VchatdManager *self)
{
  g_auto (VchatdCallOptions) opts = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) msg = NULL;
  g_autofree char *id = NULL;
  Pending *p;

  if (!vchatd_call_options_parse (options, VCHATD_OPTIONS_INVITE, &opts, &error)) {
    g_dbus_method_invocation_return_gerror (invocation, error);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  }
  if (!check_ready (self, invocation, FALSE))
    return G_DBUS_METHOD_INVOCATION_HANDLED;

  msg = vchat_msg_object_new (VCHAT_MSG_INVITE_CREATE);
  if (opts.ttl)
    json_object_set_int_member (msg, "ttl", opts.ttl);
  id = request_id_new (self, msg);
  if (!send_or_fail (self, invocation, msg))
    return G_DBUS_METHOD_INVOCATION_HANDLED;

  p = g_new0 (Pending, 1);
  p->id = g_steal_pointer (&id);
  /* The handler owns the invocation: completing it later releases it. */
  p->invocation = invocation;
  p->call = g_object_ref (add_call (self, VCHATD_CALL_KIND_INVITE, VCHATD_CALL_SEARCHING, &opts));
  g_queue_push_tail (&self->pending_create, p);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_join_invite (VchatDBusManager *skeleton, GDBusMethodInvocation *invocation,
                    const char *code_or_link, GVariant *options, VchatdManager *self)
{
  g_auto (VchatdCallOptions) opts = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) msg = NULL;
  g_autofree char *code = vchat_invite_code_normalize (code_or_link);
  g_autofree char *id = NULL;
  g_autofree char *link_code = NULL;
  g_autofree char *link_server = NULL;
  Pending *p;

  /* A code means something only on the server that made it: a link to
   * another server's invite would find nothing here, or someone else's. */
  if (vchat_link_parse (code_or_link, &link_code, &link_server, NULL) && link_server &&
      !vchat_link_same_server (link_server, self->config->server_url)) {
    g_dbus_method_invocation_return_error (
      invocation, VCHATD_ERROR, VCHATD_ERROR_NOT_FOUND,
      _("This invite belongs to the server %s, but vchatd is connected to %s. vchatd keeps one "
        "server connection: to join, set the server to %s (vchatctl config set server-url, or "
        "the app's preferences; calls on the current server end), then join again."),
      link_server,
      self->config->server_url && *self->config->server_url ? self->config->server_url
                                                             : _("no server"),
      link_server);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  }
  if (!code) {
    g_dbus_method_invocation_return_error (invocation, VCHATD_ERROR, VCHATD_ERROR_INVALID_ARGS,
                                           _("“%s” holds no invite code: a code has 16 letters "
                                             "and digits like abcd-efgh-ijkl-mnop, or comes in a "
                                             "vchat://join/ link."),
                                           code_or_link);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  }
  if (!vchatd_call_options_parse (options, VCHATD_OPTIONS_JOIN, &opts, &error)) {
    g_dbus_method_invocation_return_gerror (invocation, error);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  }
  if (!check_ready (self, invocation, TRUE))
    return G_DBUS_METHOD_INVOCATION_HANDLED;

  msg = vchat_msg_object_new (VCHAT_MSG_INVITE_JOIN);
  json_object_set_string_member (msg, "code", code);
  id = request_id_new (self, msg);
  if (!send_or_fail (self, invocation, msg))
    return G_DBUS_METHOD_INVOCATION_HANDLED;

  p = g_new0 (Pending, 1);
  p->id = g_steal_pointer (&id);
  /* The handler owns the invocation: completing it later releases it. */
  p->invocation = invocation;
  p->options = opts;
  memset (&opts, 0, sizeof opts);
  p->code = g_steal_pointer (&code);
  g_queue_push_tail (&self->pending_join, p);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_history (VchatDBusManager *skeleton, GDBusMethodInvocation *invocation, guint limit,
                    VchatdManager *self)
{
  vchat_dbus_manager_complete_get_history (skeleton, invocation,
                                           vchatd_history_list (self->history, limit));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_clear_history (VchatDBusManager *skeleton, GDBusMethodInvocation *invocation,
                      VchatdManager *self)
{
  g_autoptr (GError) error = NULL;

  if (!vchatd_history_clear (self->history, &error)) {
    g_dbus_method_invocation_return_error (invocation, VCHATD_ERROR, VCHATD_ERROR_FAILED, "%s",
                                           error->message);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  }
  vchat_dbus_manager_complete_clear_history (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_select_camera (VchatDBusManager *skeleton, GDBusMethodInvocation *invocation, const char *id,
                      VchatdManager *self)
{
  g_autoptr (VchatdDevice) camera = NULL;

  if (self->devices)
    camera = *id ? vchatd_devices_lookup_camera (self->devices, id)
                 : vchatd_devices_get_default_camera (self->devices);
  if (!camera) {
    g_dbus_method_invocation_return_error (invocation, VCHATD_ERROR, VCHATD_ERROR_NO_CAMERA,
                                           *id ? _("There is no camera “%s”; `vchatctl devices` "
                                                   "lists them.")
                                               : _("There is no camera%s; `vchatctl devices` lists "
                                                   "them."),
                                           id);
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  }
  g_free (self->wanted_camera);
  self->wanted_camera = *id ? g_strdup (id) : NULL;
  update_devices (self);
  /* The choice outlives the daemon. */
  if (self->config->settings)
    g_settings_set_string (self->config->settings, "camera", id);
  vchat_dbus_manager_complete_select_camera (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Secrets */

static void
replace_secret (char **field, char **value)
{
  if (*field)
    explicit_bzero (*field, strlen (*field));
  g_free (*field);
  *field = g_strdup (*value);
}

static void
apply_secrets (VchatdManager *self, VchatdSecrets *secrets)
{
  VchatdMediaSettings *ms = &self->config->media;

  replace_secret (&ms->turn_username, &secrets->values[VCHAT_SECRET_TURN_USERNAME]);
  replace_secret (&ms->turn_password, &secrets->values[VCHAT_SECRET_TURN_PASSWORD]);
  g_debug ("keyring: server token %s, TURN user name %s, TURN password %s",
           secrets->values[VCHAT_SECRET_SERVER_TOKEN] ? "set" : "not set",
           ms->turn_username ? "set" : "not set", ms->turn_password ? "set" : "not set");
  if (self->signaling)
    vchatd_signaling_set_token (self->signaling, secrets->values[VCHAT_SECRET_SERVER_TOKEN]);
}

static void
start_signaling (VchatdManager *self)
{
  g_clear_handle_id (&self->secrets_fallback, g_source_remove);
  if (self->signaling)
    vchatd_signaling_start (self->signaling);
}

static gboolean
secrets_fallback_cb (gpointer data)
{
  VchatdManager *self = data;

  g_warning ("the keyring did not answer within %d s; connecting without its access token "
             "(it is used once the keyring answers)",
             SECRETS_WAIT_S);
  self->secrets_fallback = 0;
  start_signaling (self);
  return G_SOURCE_REMOVE;
}

typedef struct {
  VchatdManager *self;
  GDBusMethodInvocation *invocation; /* ReloadSecrets, or NULL at startup */
  gboolean startup;
} Reload;

static void
secrets_loaded_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  Reload *r = data;
  VchatdManager *self = r->self;
  g_autoptr (GError) error = NULL;
  g_autoptr (VchatdSecrets) secrets = vchatd_secrets_load_finish (result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && r->startup) {
    g_object_unref (r->self);
    g_free (r);
    return;
  }
  if (secrets) {
    apply_secrets (self, secrets);
    if (r->invocation)
      vchat_dbus_manager_complete_reload_secrets (self->skeleton, g_steal_pointer (&r->invocation));
  } else if (r->invocation) {
    g_dbus_method_invocation_return_error (g_steal_pointer (&r->invocation), VCHATD_ERROR,
                                           VCHATD_ERROR_FAILED, "%s", error->message);
  } else {
    /* No keyring is fine when nothing needs a secret: say it once, quietly. */
    g_debug ("keyring: %s", error->message);
  }
  if (r->startup && self->secrets_fallback)
    start_signaling (self);
  g_object_unref (r->self);
  g_free (r);
}

static void
load_secrets (VchatdManager *self, GDBusMethodInvocation *invocation)
{
  Reload *r = g_new0 (Reload, 1);

  r->self = g_object_ref (self);
  r->invocation = invocation;
  r->startup = invocation == NULL;
  vchatd_secrets_load_async (self->cancellable, secrets_loaded_cb, r);
}

static gboolean
handle_reload_secrets (VchatDBusManager *skeleton, GDBusMethodInvocation *invocation,
                       VchatdManager *self)
{
  load_secrets (self, g_object_ref (invocation));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

void
vchatd_manager_shutdown (VchatdManager *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->secrets_fallback, g_source_remove);
  /* Open invites stay open at the server, to be reclaimed next time. */
  self->shutting_down = TRUE;
  for (guint i = 0; i < self->calls->len; i++) {
    VchatdCall *call = self->calls->pdata[i];
    gboolean keep = is_open_invite (call) && vchatd_call_get_invite_code (call);

    vchatd_call_end (call, VCHATD_END_HANGUP, !keep);
  }
  vchatd_signaling_stop (self->signaling);
}

static void
vchatd_manager_dispose (GObject *object)
{
  VchatdManager *self = VCHATD_MANAGER (object);

  g_queue_clear_full (&self->pending_create, (GDestroyNotify) pending_free);
  g_queue_clear_full (&self->pending_join, (GDestroyNotify) pending_free);
  g_clear_pointer (&self->calls, g_ptr_array_unref);
  if (self->signaling)
    g_signal_handlers_disconnect_by_data (self->signaling, self);
  g_clear_object (&self->signaling);
  g_clear_object (&self->invites);
  if (self->devices) {
    g_signal_handlers_disconnect_by_data (self->devices, self);
    vchatd_devices_stop (self->devices);
  }
  g_clear_object (&self->devices);
  g_clear_object (&self->notifier);
  g_clear_pointer (&self->wanted_camera, g_free);
  g_clear_pointer (&self->wanted_microphone, g_free);
  if (self->skeleton)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->skeleton));
  g_clear_object (&self->skeleton);
  g_clear_object (&self->object_manager);
  g_clear_object (&self->connection);
  g_clear_pointer (&self->sender_uids, g_hash_table_unref);
  g_clear_object (&self->history);
  g_clear_handle_id (&self->secrets_fallback, g_source_remove);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (vchatd_manager_parent_class)->dispose (object);
}

static void
vchatd_manager_class_init (VchatdManagerClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = vchatd_manager_dispose;
}

static void
vchatd_manager_init (VchatdManager *self)
{
  self->calls = g_ptr_array_new_with_free_func (g_object_unref);
  self->sender_uids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

VchatdManager *
vchatd_manager_new (GDBusConnection *connection, VchatdManagerConfig *config)
{
  VchatdManager *self = g_object_new (VCHATD_TYPE_MANAGER, NULL);
  g_autoptr (GError) error = NULL;
  VchatDBusManager *sk;

  self->config = config;
  self->connection = g_object_ref (connection);
  self->keep_history = config->settings ? g_settings_get_boolean (config->settings, "history")
                                        : TRUE;
  self->history = vchatd_history_new (
    NULL, config->settings ? g_settings_get_uint (config->settings, "history-size")
                           : VCHATD_HISTORY_DEFAULT_MAX);

  self->notifier = vchatd_notifier_new (connection, config->settings);
  self->object_manager = g_dbus_object_manager_server_new (MANAGER_PATH);
  g_dbus_object_manager_server_set_connection (self->object_manager, connection);

  sk = self->skeleton = vchat_dbus_manager_skeleton_new ();
  vchat_dbus_manager_set_version (sk, VCHAT_VERSION);
  vchat_dbus_manager_set_signaling_state (sk, "offline");
  vchat_dbus_manager_set_server (sk, config->server_url ? config->server_url : "");
  vchat_dbus_manager_set_cameras (sk, g_variant_new ("aa{sv}", NULL));
  vchat_dbus_manager_set_camera (sk,
                                 config->media.camera_target ? config->media.camera_target : "");
  vchat_dbus_manager_set_microphone (
    sk, config->media.microphone_target ? config->media.microphone_target : "");
  update_calls_property (self);
  g_signal_connect (sk, "g-authorize-method", G_CALLBACK (authorize_cb), self);
  g_signal_connect (sk, "handle-start-random", G_CALLBACK (handle_start_random), self);
  g_signal_connect (sk, "handle-create-invite", G_CALLBACK (handle_create_invite), self);
  g_signal_connect (sk, "handle-join-invite", G_CALLBACK (handle_join_invite), self);
  g_signal_connect (sk, "handle-get-history", G_CALLBACK (handle_get_history), self);
  g_signal_connect (sk, "handle-clear-history", G_CALLBACK (handle_clear_history), self);
  g_signal_connect (sk, "handle-select-camera", G_CALLBACK (handle_select_camera), self);
  g_signal_connect (sk, "handle-reload-secrets", G_CALLBACK (handle_reload_secrets), self);
  /* Without PipeWire the daemon still runs: calls go on without camera and
   * microphone, and the properties say so. A test source stands in for
   * them when given. */
  self->wanted_camera = g_strdup (config->media.camera_target);
  self->wanted_microphone = g_strdup (config->media.microphone_target);
  if (!config->media.video_source || !config->media.audio_source) {
    g_autoptr (GError) dev_error = NULL;

    self->devices = vchatd_devices_new ();
    if (vchatd_devices_start (self->devices, &dev_error)) {
      g_signal_connect (self->devices, "changed", G_CALLBACK (on_devices_changed), self);
      update_devices (self);
    } else {
      g_warning ("cannot watch PipeWire for cameras and microphones: %s", dev_error->message);
      g_clear_object (&self->devices);
    }
  }

  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (sk), connection, MANAGER_PATH,
                                         &error))
    g_error ("cannot export the manager: %s", error->message);

  if (config->server_url) {
    self->invites = vchatd_invites_new (NULL);
    self->signaling = vchatd_signaling_new (config->server_url, config->display_name);
    vchat_dbus_manager_set_server (sk, vchatd_signaling_get_url (self->signaling));
    g_signal_connect (self->signaling, "message", G_CALLBACK (on_server_message), self);
    g_signal_connect (self->signaling, "notify::state", G_CALLBACK (on_signaling_state), self);
    g_signal_connect (self->signaling, "session-lost", G_CALLBACK (on_session_lost), self);
  }
  if (config->settings)
    g_signal_connect_object (config->settings, "changed", G_CALLBACK (on_settings_changed), self,
                             0);
  /* The first hello should carry the keyring's token: connect once the
   * keyring answered (or did not, in time). */
  self->cancellable = g_cancellable_new ();
  self->secrets_fallback = g_timeout_add_seconds (SECRETS_WAIT_S, secrets_fallback_cb, self);
  load_secrets (self, NULL);
  return self;
}
