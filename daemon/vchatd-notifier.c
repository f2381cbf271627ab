/* vchatd-notifier.c: desktop notifications about calls, through libnotify
 *
 * libnotify's calls are synchronous D-Bus calls, so the notifier keeps them
 * few: the server's capabilities are fetched once per server (asynchronously
 * when it appears on the bus), and nothing is sent at all while there is no
 * server and none can be started. A missing server is normal (a headless
 * session, a test) and only logged at debug level.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vchatd-notifier.h"

#include <glib/gi18n.h>
#include <libnotify/notify.h>

/* The icon is the daemon's; the desktop entry is the app's (app/), which a
 * notification's default action brings forward. */
#define APP_ID "io.github.vchat.VChat1"
#define DESKTOP_ID "io.github.vchat.VChat"
#define SCHEMA_ID "io.github.vchat.VChat1"
/* The app's GApplication on the bus (D-Bus activatable). */
#define APP_BUS_NAME DESKTOP_ID
#define APP_OBJECT_PATH "/io/github/vchat/VChat"
#define APP_SHOW_CALL "show-call"
#define NOTIFICATIONS_NAME "org.freedesktop.Notifications"
#define NOTIFICATIONS_PATH "/org/freedesktop/Notifications"
#define NAME_MAX_CHARS 64

struct _VchatdNotifier {
  GObject parent_instance;

  GDBusConnection *connection;
  GCancellable *cancellable;
  GSettings *settings; /* the daemon's, or NULL without the schema: always on */
  gboolean enabled;
  gboolean initted; /* notify_init was ours to undo */

  guint watch_id;
  char *owner;          /* unique name of the notification server, or NULL */
  gboolean activatable; /* the bus can start one */
  char *caps_owner;     /* whose capabilities caps are */
  GStrv caps;
  GPtrArray *notes; /* Note*, not owned: to close them when turned off */
};

G_DEFINE_FINAL_TYPE (VchatdNotifier, vchatd_notifier, G_TYPE_OBJECT)

/* The notifier's part of one call; lives as long as the call. */
typedef struct {
  VchatdNotifier *notifier; /* owned */
  VchatdCall *call;         /* the call owns us */
  NotifyNotification *notification;
  gboolean shown;         /* on screen, as far as we know */
  gboolean answered_here; /* through this notification's buttons */
  guint reconnecting_source; /* shows "Reconnecting…" if it lasts */
  gboolean reconnecting_shown;
} Note;

/* A call that is back within this long was never worth a notification. */
#define RECONNECTING_QUIET_MS 2000

static GQuark
note_quark (void)
{
  return g_quark_from_static_string ("vchatd-notifier-note");
}

/* The notification server */

typedef struct {
  VchatdNotifier *self;
  char *owner;
} CapsRequest;

static void
got_caps_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant)
    reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  CapsRequest *req = data;
  g_autofree char *owner = req->owner;
  VchatdNotifier *self = req->self;

  g_free (req);
  /* Cancelled on dispose: self may be gone. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (!reply) {
    /* Asked again, synchronously, when a notification needs them. */
    g_debug ("the notification server %s did not say what it can do: %s", owner, error->message);
    return;
  }
  if (g_strcmp0 (owner, self->owner) != 0)
    return;
  g_clear_pointer (&self->caps, g_strfreev);
  g_variant_get (reply, "(^as)", &self->caps);
  g_free (self->caps_owner);
  self->caps_owner = g_strdup (owner);
  {
    g_autofree char *list = g_strjoinv (" ", self->caps);
    g_debug ("notification server %s can: %s", owner, list);
  }
}

static void
server_appeared_cb (GDBusConnection *connection, const char *name, const char *owner, gpointer data)
{
  VchatdNotifier *self = data;
  CapsRequest *req;

  g_debug ("notification server: %s", owner);
  g_free (self->owner);
  self->owner = g_strdup (owner);
  if (g_strcmp0 (self->caps_owner, owner) == 0)
    return;
  req = g_new0 (CapsRequest, 1);
  req->self = self;
  req->owner = g_strdup (owner);
  g_dbus_connection_call (connection, owner, NOTIFICATIONS_PATH, NOTIFICATIONS_NAME,
                          "GetCapabilities", NULL, G_VARIANT_TYPE ("(as)"),
                          G_DBUS_CALL_FLAGS_NO_AUTO_START, 5000, self->cancellable, got_caps_cb,
                          req);
}

static void
server_vanished_cb (GDBusConnection *connection, const char *name, gpointer data)
{
  VchatdNotifier *self = data;

  if (self->owner)
    g_debug ("the notification server left the bus");
  g_clear_pointer (&self->owner, g_free);
  g_clear_pointer (&self->caps_owner, g_free);
  g_clear_pointer (&self->caps, g_strfreev);
  for (guint i = 0; i < self->notes->len; i++)
    ((Note *) self->notes->pdata[i])->shown = FALSE;
}

static void
got_activatable_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant)
    reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  g_autofree const char **names = NULL;
  VchatdNotifier *self = data;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (!reply) {
    g_debug ("cannot tell whether the bus starts a notification server: %s", error->message);
    return;
  }
  g_variant_get (reply, "(^a&s)", &names);
  self->activatable = g_strv_contains (names, NOTIFICATIONS_NAME);
}

/* The server's capabilities: cached per server; when the asynchronous
 * answer has not come yet, asked once now. NULL: nobody answers. */
static const char *const *
server_caps (VchatdNotifier *self)
{
  g_autoptr (GError) error = NULL;
  GList *list;
  GPtrArray *caps;

  if (!self->owner && !self->activatable)
    return NULL;
  if (self->caps && g_strcmp0 (self->caps_owner, self->owner) == 0)
    return (const char *const *) self->caps;

  /* Starts the server when it is activatable. */
  list = notify_get_server_caps ();
  if (!list)
    return NULL;
  caps = g_ptr_array_new ();
  for (GList *l = list; l; l = l->next)
    g_ptr_array_add (caps, l->data);
  g_ptr_array_add (caps, NULL);
  g_list_free (list);
  g_clear_pointer (&self->caps, g_strfreev);
  self->caps = (GStrv) g_ptr_array_free (caps, FALSE);
  g_free (self->caps_owner);
  /* Just activated, the owner is not known yet: when the name watch hears
   * of it, they are asked again for that owner. */
  self->caps_owner = g_strdup (self->owner);
  return (const char *const *) self->caps;
}

/* Showing */

static char *
peer_name (GVariant *peer)
{
  const char *name = NULL;

  if (peer)
    g_variant_lookup (peer, "name", "&s", &name);
  if (!name || !*name)
    /* Translators: a caller who gave no name */
    return g_strdup (_("Someone"));
  /* The server checks names; a notification still should not be a wall. */
  if (g_utf8_strlen (name, -1) > NAME_MAX_CHARS) {
    g_autofree char *cut = g_utf8_substring (name, 0, NAME_MAX_CHARS);
    return g_strconcat (cut, "…", NULL);
  }
  return g_strdup (name);
}

static void on_action (NotifyNotification *notification, char *action, gpointer data);

static void
on_closed (NotifyNotification *notification, Note *note)
{
  note->shown = FALSE;
}

static void
note_show (Note *note, NotifyUrgency urgency, const char *category, gboolean answer_buttons,
           const char *summary, const char *body)
{
  VchatdNotifier *self = note->notifier;
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) text = g_string_new (body);
  g_autofree char *markup = NULL;
  const char *const *caps;
  gboolean buttons;
  NotifyNotification *n;

  if (!self->enabled) {
    g_debug ("notifications are turned off; not showing “%s”", summary);
    return;
  }
  caps = server_caps (self);
  if (!caps) {
    g_debug ("no notification server on the bus; not showing “%s”", summary);
    return;
  }

  buttons = answer_buttons && g_strv_contains (caps, "actions");
  if (answer_buttons && !buttons) {
    g_string_append_c (text, '\n');
    /* Translators: keep the commands as they are */
    g_string_append (text, _("Answer with: vchatctl accept\nDecline with: vchatctl reject"));
  }
  /* A display name is anybody's text; only markup servers would read it. */
  if (g_strv_contains (caps, "body-markup"))
    markup = g_markup_escape_text (text->str, -1);

  if (!note->notification) {
    note->notification = notify_notification_new (summary, markup ? markup : text->str, APP_ID);
    g_signal_connect (note->notification, "closed", G_CALLBACK (on_closed), note);
  } else {
    notify_notification_update (note->notification, summary, markup ? markup : text->str, APP_ID);
  }
  n = note->notification;
  notify_notification_clear_hints (n);
  notify_notification_clear_actions (n);
  notify_notification_set_hint (n, "desktop-entry", g_variant_new_string (DESKTOP_ID));
  notify_notification_set_urgency (n, urgency);
  if (category)
    notify_notification_set_category (n, category);
  notify_notification_set_timeout (n, urgency == NOTIFY_URGENCY_CRITICAL ? NOTIFY_EXPIRES_NEVER
                                                                         : NOTIFY_EXPIRES_DEFAULT);
  if (buttons) {
    notify_notification_add_action (n, "accept", _("Accept"), on_action, note, NULL);
    notify_notification_add_action (n, "decline", _("Decline"), on_action, note, NULL);
  }
  if (notify_notification_show (n, &error)) {
    note->shown = TRUE;
    g_debug ("call %s: notification “%s”", vchatd_call_get_path (note->call), summary);
  } else {
    g_debug ("the notification server refused “%s”: %s", summary, error->message);
  }
}

static void
note_close (Note *note)
{
  g_autoptr (GError) error = NULL;

  if (!note->shown || !note->notification)
    return;
  note->shown = FALSE;
  if (!notify_notification_close (note->notification, &error))
    g_debug ("could not close a notification: %s", error->message);
}

static void
app_activated_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant)
    reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  g_autofree char *path = data;

  if (!reply)
    g_debug ("call %s: the app did not come up to show it: %s", path, error->message);
}

/* Brings the app (io.github.vchat.VChat) forward with the call: its
 * app.show-call action, through org.freedesktop.Application, so that D-Bus
 * starts the app when it is not running. No app installed: only a debug
 * line; the call goes on, vchatctl still sees it. */
static void
show_in_app (VchatdNotifier *self, VchatdCall *call)
{
  const char *path = vchatd_call_get_path (call);
  GVariantBuilder params;

  g_variant_builder_init (&params, G_VARIANT_TYPE ("av"));
  g_variant_builder_add (&params, "v", g_variant_new_string (path));
  g_dbus_connection_call (self->connection, APP_BUS_NAME, APP_OBJECT_PATH,
                          "org.freedesktop.Application", "ActivateAction",
                          g_variant_new ("(sava{sv})", APP_SHOW_CALL, &params, NULL), NULL,
                          G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable, app_activated_cb,
                          g_strdup (path));
}

/* The buttons take the same path as the D-Bus methods; whichever answer
 * comes second changes nothing. Accept also brings the app forward with
 * the call (show_in_app); the daemon, not the app, accepts it, so the call
 * is answered at once even when the app still has to start. */
static void
on_action (NotifyNotification *notification, char *action, gpointer data)
{
  Note *note = data;
  g_autoptr (GError) error = NULL;
  gboolean accept = g_str_equal (action, "accept");

  /* The server closes a notification whose button was pressed. */
  note->shown = FALSE;
  note->answered_here = TRUE;
  if (!(accept ? vchatd_call_accept (note->call, &error)
               : vchatd_call_reject (note->call, &error))) {
    note->answered_here = FALSE;
    g_debug ("call %s: %s from the notification changes nothing: %s",
             vchatd_call_get_path (note->call), action, error->message);
    return;
  }
  if (accept)
    show_in_app (note->notifier, note->call);
}

/* Following the call */

static void
on_incoming (VchatdCall *call, GVariant *peer, Note *note)
{
  g_autofree char *name = peer_name (peer);
  g_autofree char *summary = /* Translators: %s is the caller's display name */
    g_strdup_printf (_("%s is calling"), name);
  g_autofree char *body = g_strdup_printf (_("%s joined your invite and wants to talk."), name);

  note->answered_here = FALSE;
  note_show (note, NOTIFY_URGENCY_CRITICAL, "call.incoming", TRUE, summary, body);
}

static char *
ended_text (VchatdEndReason reason, VchatdCallState old, const char *name)
{
  switch (reason) {
  case VCHATD_END_PEER_HANGUP:
    return g_strdup_printf (_("%s hung up."), name);
  case VCHATD_END_PEER_NEXT:
    return g_strdup_printf (_("%s moved on to someone else."), name);
  case VCHATD_END_PEER_LOST:
    return g_strdup_printf (_("The connection to %s was lost."), name);
  case VCHATD_END_NETWORK:
    return g_strdup (_("The connection broke and could not be restored; check the network "
                        "and call again."));
  case VCHATD_END_REJECTED:
    return g_strdup_printf (_("%s declined the call."), name);
  case VCHATD_END_EXPIRED:
    return old == VCHATD_CALL_RINGING ? g_strdup_printf (_("%s did not answer."), name)
                                      : g_strdup (_("The call timed out."));
  case VCHATD_END_ERROR:
    return g_strdup (_("Something went wrong; vchatd’s log (journalctl --user -u vchatd) says "
                        "what."));
  default:
    return /* Translators: %s is a reason in English, as vchatctl shows it */
    g_strdup_printf (_("The call ended (%s)."), vchatd_end_reason_to_string (reason));
  }
}

static void
on_ended (Note *note, VchatdCallState old)
{
  VchatdEndReason reason = vchatd_call_get_end_reason (note->call);
  g_autofree char *name = peer_name (vchatd_call_get_peer (note->call));
  g_autofree char *body = NULL;
  gboolean by_user = reason == VCHATD_END_HANGUP || reason == VCHATD_END_NEXT ||
                     (reason == VCHATD_END_REJECTED && old == VCHATD_CALL_INCOMING);

  /* The user's own doing, or an invite or search that nobody answered:
   * nothing to tell. */
  if (by_user || old == VCHATD_CALL_SEARCHING) {
    note_close (note);
    return;
  }
  if (old == VCHATD_CALL_INCOMING) {
    g_autofree char *summary = g_strdup_printf (_("Missed call from %s"), name);

    body = reason == VCHATD_END_PEER_HANGUP
             ? g_strdup_printf (_("%s joined your invite but gave up before you answered."), name)
             : g_strdup_printf (_("%s joined your invite, but the call was not answered."), name);
    note_show (note, NOTIFY_URGENCY_NORMAL, "call.unanswered", FALSE, summary, body);
    return;
  }
  body = ended_text (reason, old, name);
  note_show (note, NOTIFY_URGENCY_NORMAL, "call.ended", FALSE, _("Call ended"), body);
}

static gboolean
show_reconnecting (gpointer data)
{
  Note *note = data;
  g_autofree char *name = peer_name (vchatd_call_get_peer (note->call));
  g_autofree char *body =
    g_strdup_printf (_("The connection to %s dropped; vchat is trying to get it back."), name);

  note->reconnecting_source = 0;
  note->reconnecting_shown = TRUE;
  note_show (note, NOTIFY_URGENCY_NORMAL, NULL, FALSE, _("Reconnecting…"), body);
  return G_SOURCE_REMOVE;
}

static void
on_state_changed (VchatdCall *call, guint old, Note *note)
{
  g_autofree char *name = NULL;
  g_autofree char *body = NULL;

  switch (vchatd_call_get_state (call)) {
  case VCHATD_CALL_CONNECTING:
    /* Answered elsewhere (vchatctl, a frontend): the question is gone. */
    if (old == VCHATD_CALL_INCOMING && !note->answered_here && note->shown) {
      name = peer_name (vchatd_call_get_peer (call));
      body = g_strdup_printf (_("You are talking with %s."), name);
      note_show (note, NOTIFY_URGENCY_NORMAL, NULL, FALSE, _("Call connected"), body);
    }
    break;
  case VCHATD_CALL_RECONNECTING:
    if (!note->reconnecting_source)
      note->reconnecting_source = g_timeout_add (RECONNECTING_QUIET_MS, show_reconnecting, note);
    break;
  case VCHATD_CALL_CONNECTED:
    if (old != VCHATD_CALL_RECONNECTING)
      break;
    g_clear_handle_id (&note->reconnecting_source, g_source_remove);
    if (note->reconnecting_shown) {
      note->reconnecting_shown = FALSE;
      name = peer_name (vchatd_call_get_peer (call));
      body = g_strdup_printf (_("The call with %s is back."), name);
      note_show (note, NOTIFY_URGENCY_LOW, NULL, FALSE, _("Reconnected"), body);
    }
    break;
  case VCHATD_CALL_ENDED:
    g_clear_handle_id (&note->reconnecting_source, g_source_remove);
    on_ended (note, old);
    break;
  default:
    break;
  }
}

static void
on_device_failed (VchatdCall *call, const char *device, const char *message, Note *note)
{
  g_autofree char *name = NULL;
  g_autofree char *body = NULL;
  VchatdCallState state = vchatd_call_get_state (call);

  if (!g_str_equal (device, "camera") || state == VCHATD_CALL_ENDED)
    return;
  name = peer_name (vchatd_call_get_peer (call));
  body = g_strdup_printf (_("Your camera stopped working; the call with %s goes on without your "
                            "picture."),
                          name);
  note_show (note, NOTIFY_URGENCY_NORMAL, "device.error", FALSE, _("Camera lost"), body);
}

static void
note_free (gpointer data)
{
  Note *note = data;

  g_clear_handle_id (&note->reconnecting_source, g_source_remove);
  if (note->notification) {
    g_signal_handlers_disconnect_by_data (note->notification, note);
    notify_notification_clear_actions (note->notification);
    g_object_unref (note->notification);
  }
  g_ptr_array_remove_fast (note->notifier->notes, note);
  g_object_unref (note->notifier);
  g_free (note);
}

void
vchatd_notifier_watch_call (VchatdNotifier *self, VchatdCall *call)
{
  Note *note = g_new0 (Note, 1);

  note->notifier = g_object_ref (self);
  note->call = call;
  g_ptr_array_add (self->notes, note);
  g_object_set_qdata_full (G_OBJECT (call), note_quark (), note, note_free);
  g_signal_connect (call, "incoming", G_CALLBACK (on_incoming), note);
  g_signal_connect (call, "state-changed", G_CALLBACK (on_state_changed), note);
  g_signal_connect (call, "device-failed", G_CALLBACK (on_device_failed), note);
}

/* Settings */

static void
on_setting_changed (GSettings *settings, const char *key, VchatdNotifier *self)
{
  self->enabled = g_settings_get_boolean (settings, "notifications");
  g_debug ("notifications turned %s", self->enabled ? "on" : "off");
  if (!self->enabled)
    for (guint i = 0; i < self->notes->len; i++)
      note_close (self->notes->pdata[i]);
}

static void
load_settings (VchatdNotifier *self, GSettings *settings)
{
  self->enabled = TRUE;
  if (!settings) {
    g_debug ("no GSettings schema %s; notifications stay on", SCHEMA_ID);
    return;
  }
  self->settings = g_object_ref (settings);
  g_signal_connect (self->settings, "changed::notifications", G_CALLBACK (on_setting_changed),
                    self);
  self->enabled = g_settings_get_boolean (self->settings, "notifications");
}

static void
vchatd_notifier_dispose (GObject *object)
{
  VchatdNotifier *self = VCHATD_NOTIFIER (object);

  g_cancellable_cancel (self->cancellable);
  if (self->watch_id)
    g_bus_unwatch_name (self->watch_id);
  self->watch_id = 0;
  if (self->settings)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_clear_object (&self->settings);
  g_clear_object (&self->connection);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (vchatd_notifier_parent_class)->dispose (object);
}

static void
vchatd_notifier_finalize (GObject *object)
{
  VchatdNotifier *self = VCHATD_NOTIFIER (object);

  g_free (self->owner);
  g_free (self->caps_owner);
  g_strfreev (self->caps);
  g_ptr_array_unref (self->notes);
  if (self->initted)
    notify_uninit ();
  G_OBJECT_CLASS (vchatd_notifier_parent_class)->finalize (object);
}

static void
vchatd_notifier_class_init (VchatdNotifierClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vchatd_notifier_dispose;
  object_class->finalize = vchatd_notifier_finalize;
}

static void
vchatd_notifier_init (VchatdNotifier *self)
{
  self->notes = g_ptr_array_new ();
  self->cancellable = g_cancellable_new ();
}

VchatdNotifier *
vchatd_notifier_new (GDBusConnection *connection, GSettings *settings)
{
  VchatdNotifier *self = g_object_new (VCHATD_TYPE_NOTIFIER, NULL);

  self->connection = g_object_ref (connection);
  load_settings (self, settings);
  if (!notify_is_initted ())
    self->initted = notify_init ("vchat");

  self->watch_id = g_bus_watch_name_on_connection (
    connection, NOTIFICATIONS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE, server_appeared_cb,
    server_vanished_cb, self, NULL);
  g_dbus_connection_call (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "ListActivatableNames", NULL,
                          G_VARIANT_TYPE ("(as)"), G_DBUS_CALL_FLAGS_NONE, 5000, self->cancellable,
                          got_activatable_cb, self);
  return self;
}
