/* vchat-application.c: the vchat app: one instance, its actions, the link
 * handler
 *
 * One instance per session (GApplication's bus name): `vchat LINK` and `gio
 * open vchat://join/…` reach the running app through "open", which joins
 * the invite in its window. The application id is io.github.vchat.VChat:
 * io.github.vchat.VChat1 is vchatd's own bus name, which an app can't own
 * as well.
 *
 * D-Bus activatable (DBusActivatable=true in the desktop file, the service
 * file io.github.vchat.VChat.service runs `vchat --gapplication-service`):
 * vchatd's notification accepts the call itself, then activates
 * app.show-call with the call's object path, which starts the app when it
 * is not running and brings the window forward with that call.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchat-app-config.h"

#include "vchat-application.h"

#include <glib-unix.h>
#include <glib/gi18n.h>

#include "vchat-history-window.h"
#include "vchat-preferences-window.h"
#include "vchat-window.h"

#define SCHEMA_ID "io.github.vchat.VChat1"

struct _VchatApplication {
  AdwApplication parent_instance;

  GCancellable *cancellable;
  VChatClient *client;
  GSettings *settings;
  guint sigterm;
  guint sigint;
};

G_DEFINE_FINAL_TYPE (VchatApplication, vchat_application, ADW_TYPE_APPLICATION)

VChatClient *
vchat_application_get_client (VchatApplication *self)
{
  return self->client;
}

GSettings *
vchat_application_get_settings (VchatApplication *self)
{
  return self->settings;
}

static VchatWindow *
get_window (VchatApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); !VCHAT_IS_WINDOW (window) && l;
       l = l->next)
    window = l->data;
  if (!VCHAT_IS_WINDOW (window))
    window = GTK_WINDOW (vchat_window_new (self));
  return VCHAT_WINDOW (window);
}

static void
client_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  VchatApplication *self;
  g_autoptr (GError) error = NULL;
  g_autoptr (VChatClient) client = vchat_client_new_finish (result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = VCHAT_APPLICATION (data);
  if (!client) {
    g_autofree char *text =
      g_strdup_printf (_("vchat cannot reach its service: %s. Is the vchat package installed "
                         "completely?"),
                       error->message);
    vchat_window_toast (get_window (self), text);
    return;
  }
  self->client = g_steal_pointer (&client);
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l; l = l->next)
    if (VCHAT_IS_WINDOW (l->data))
      vchat_window_set_client (l->data, self->client);
}

static void
quit_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  g_application_quit (G_APPLICATION (data));
}

static void
preferences_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  VchatApplication *self = data;
  VchatWindow *window = get_window (self);

  if (!self->settings) {
    vchat_window_toast (window, _("The settings of vchat are not installed (the GSettings "
                                  "schema io.github.vchat.VChat1): reinstall vchat."));
    return;
  }
  gtk_window_present (GTK_WINDOW (vchat_preferences_window_new (GTK_WINDOW (window),
                                                               self->settings, self->client)));
}

static void
history_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  VchatApplication *self = data;
  VchatWindow *window = get_window (self);

  if (!self->client) {
    vchat_window_toast (window, _("The history comes from the vchat service, which is not "
                                  "there yet."));
    return;
  }
  gtk_window_present (GTK_WINDOW (vchat_history_window_new (GTK_WINDOW (window), self->client)));
}

static void
about_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  VchatApplication *self = data;
  const char *developers[] = { _("The vchat developers"), NULL };
  GtkWidget *about;

  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", get_window (self),
                        "application-icon", APP_ID,
                        "application-name", _("vchat"),
                        "developer-name", _("The vchat developers"),
                        "version", VCHAT_VERSION,
                        "comments", _("Talk face to face with a stranger, or with a friend "
                                      "you sent a link to: no account, no plugin."),
                        "website", "https://github.com/vchat/vchat",
                        "issue-url", "https://github.com/vchat/vchat/issues",
                        "license-type", GTK_LICENSE_LGPL_2_1,
                        "developers", developers,
                        /* Translators: your names, one per line */
                        "translator-credits", _("translator-credits"),
                        NULL);
  gtk_window_present (GTK_WINDOW (about));
}

/* app.show-call("/io/github/vchat/VChat1/calls/N"): the window, on top,
 * with that call (vchatd's notification, after its Accept). */
static void
show_call_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  VchatApplication *self = data;
  VchatWindow *window = get_window (self);

  vchat_window_show_call (window, g_variant_get_string (param, NULL));
  gtk_window_present (GTK_WINDOW (window));
}

static const GActionEntry app_actions[] = {
  { "show-call", show_call_activated, "s" },
  { "quit", quit_activated },
  { "preferences", preferences_activated },
  { "history", history_activated },
  { "about", about_activated },
};

static const struct {
  const char *action;
  const char *accels[3];
} accels[] = {
  { "app.quit", { "<Control>q", NULL } },
  { "app.preferences", { "<Control>comma", NULL } },
  { "app.history", { "<Control>h", NULL } },
  { "win.start", { "<Control>Return", NULL } },
  /* Next, but in the chat entry not at once (vchat-window.c) */
  { "win.next-key", { "Escape", "<Control>n", NULL } },
  { "win.stop", { "<Control>d", NULL } },
  { "win.mute", { "<Control>m", NULL } },
  { "win.camera-off", { "<Control>e", NULL } },
  { "win.chat", { "<Control>t", NULL } },
  { "win.invite", { "<Control>i", NULL } },
  { "win.join", { "<Control>j", NULL } },
  { "win.copy-link", { "<Control><Shift>c", NULL } },
  { "window.close", { "<Control>w", NULL } },
};

/* SIGTERM and Ctrl+C end the app as its close button would. */
static gboolean
on_quit_signal (gpointer data)
{
  g_application_quit (G_APPLICATION (data));
  return G_SOURCE_CONTINUE;
}

static void
vchat_application_startup (GApplication *app)
{
  VchatApplication *self = VCHAT_APPLICATION (app);
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr (GSettingsSchema) schema = NULL;

  G_APPLICATION_CLASS (vchat_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions, G_N_ELEMENTS (app_actions),
                                   self);
  for (guint i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (self), accels[i].action,
                                           accels[i].accels);

  schema = source ? g_settings_schema_source_lookup (source, SCHEMA_ID, TRUE) : NULL;
  if (schema)
    self->settings = g_settings_new_full (schema, NULL, NULL);
  else
    g_warning ("The GSettings schema %s is not installed: no preferences", SCHEMA_ID);

  self->sigterm = g_unix_signal_add (SIGTERM, on_quit_signal, self);
  self->sigint = g_unix_signal_add (SIGINT, on_quit_signal, self);
  vchat_client_new_async (NULL, self->cancellable, client_cb, self);
}

static void
vchat_application_shutdown (GApplication *app)
{
  VchatApplication *self = VCHAT_APPLICATION (app);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->sigterm, g_source_remove);
  g_clear_handle_id (&self->sigint, g_source_remove);
  G_APPLICATION_CLASS (vchat_application_parent_class)->shutdown (app);
  g_clear_object (&self->client);
  g_clear_object (&self->settings);
}

static void
vchat_application_activate (GApplication *app)
{
  gtk_window_present (GTK_WINDOW (get_window (VCHAT_APPLICATION (app))));
}

static void
vchat_application_open (GApplication *app, GFile **files, int n_files, const char *hint)
{
  VchatWindow *window = get_window (VCHAT_APPLICATION (app));

  for (int i = 0; i < n_files; i++) {
    g_autofree char *uri = g_file_get_uri (files[i]);
    g_debug ("open %s", uri);
    vchat_window_join_link (window, uri);
  }
  gtk_window_present (GTK_WINDOW (window));
}

static int
vchat_application_handle_local_options (GApplication *app, GVariantDict *options)
{
  if (g_variant_dict_contains (options, "version")) {
    g_print ("vchat %s\n", VCHAT_VERSION);
    return 0;
  }
  return -1;
}

static void
vchat_application_finalize (GObject *object)
{
  VchatApplication *self = VCHAT_APPLICATION (object);

  g_clear_object (&self->cancellable);
  g_clear_object (&self->client);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (vchat_application_parent_class)->finalize (object);
}

static void
vchat_application_class_init (VchatApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->finalize = vchat_application_finalize;
  app_class->startup = vchat_application_startup;
  app_class->shutdown = vchat_application_shutdown;
  app_class->activate = vchat_application_activate;
  app_class->open = vchat_application_open;
  app_class->handle_local_options = vchat_application_handle_local_options;
}

static void
vchat_application_init (VchatApplication *self)
{
  const GOptionEntry options[] = {
    { "version", 0, 0, G_OPTION_ARG_NONE, NULL, _("Print the version and exit"), NULL },
    { NULL }
  };

  self->cancellable = g_cancellable_new ();
  g_application_add_main_option_entries (G_APPLICATION (self), options);
  /* Translators: what `vchat --help` shows after its first line */
  g_application_set_option_context_parameter_string (G_APPLICATION (self), _("[LINK…]"));
  g_application_set_option_context_summary (
    G_APPLICATION (self),
    _("Talk face to face with a stranger, or with a friend you sent a link to.\n"
      "LINK opens an invite: vchat://join/CODE?server=URL, a web link or a code."));
}

VchatApplication *
vchat_application_new (void)
{
  return g_object_new (VCHAT_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_HANDLES_OPEN,
                       "resource-base-path", "/io/github/vchat/VChat",
                       NULL);
}
