/* vchat-preferences-window.c: vchatd's settings, as a person sets them
 *
 * Everything is written to the GSettings schema io.github.vchat.VChat1,
 * which vchatd follows as it changes (README, "Settings"). Text is written
 * when applied (the row's apply button or Enter), after the same checks
 * vchatctl makes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchat-app-config.h"

#include "vchat-preferences-window.h"

#include <glib/gi18n.h>

struct _VchatPreferencesWindow {
  AdwPreferencesWindow parent_instance;

  AdwEntryRow *name_row;
  AdwEntryRow *server_row;
  GtkSwitch *relay_switch;
  GtkSwitch *notifications_switch;
  AdwComboRow *camera_row;
  AdwEntryRow *microphone_row;
  GtkSpinButton *bitrate_spin;

  GSettings *settings;
  GPtrArray *camera_ids; /* "" first: the first camera */
  gboolean filling;
};

G_DEFINE_FINAL_TYPE (VchatPreferencesWindow, vchat_preferences_window,
                     ADW_TYPE_PREFERENCES_WINDOW)

static void
toast (VchatPreferencesWindow *self, const char *text)
{
  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (text));
  g_debug ("preferences: %s", text);
}

static gboolean
has_control_chars (const char *text)
{
  for (const char *p = text; *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    if (g_unichar_iscntrl (c) || g_unichar_type (c) == G_UNICODE_FORMAT)
      return TRUE;
  }
  return FALSE;
}

static void
apply_text (VchatPreferencesWindow *self, AdwEntryRow *row, const char *key)
{
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (row))));

  if (!g_utf8_validate (text, -1, NULL) || has_control_chars (text)) {
    toast (self, _("Use letters, digits and punctuation only."));
    return;
  }
  if (row == self->server_row && *text && !g_str_has_prefix (text, "wss://") &&
      !g_str_has_prefix (text, "ws://")) {
    toast (self, _("A server address starts with wss:// (or ws:// on a local network), "
                   "such as wss://chat.example.org/ws."));
    return;
  }
  if (row == self->name_row && g_utf8_strlen (text, -1) > 64) {
    toast (self, _("A display name has at most 64 characters."));
    return;
  }
  g_settings_set_string (self->settings, key, text);
  g_debug ("preferences: %s = “%s”", key, text);
  if (row == self->server_row)
    toast (self, *text ? _("vchat connects to the new server.")
                       : _("vchat connects to its default server."));
}

static void
on_name_apply (AdwEntryRow *row, VchatPreferencesWindow *self)
{
  apply_text (self, row, "display-name");
}

static void
on_server_apply (AdwEntryRow *row, VchatPreferencesWindow *self)
{
  apply_text (self, row, "server-url");
}

static void
on_microphone_apply (AdwEntryRow *row, VchatPreferencesWindow *self)
{
  apply_text (self, row, "microphone");
}

static void
on_camera_selected (AdwComboRow *row, GParamSpec *pspec, VchatPreferencesWindow *self)
{
  guint i = adw_combo_row_get_selected (row);

  if (self->filling || i >= self->camera_ids->len)
    return;
  g_settings_set_string (self->settings, "camera", g_ptr_array_index (self->camera_ids, i));
}

static void
fill_cameras (VchatPreferencesWindow *self, VChatClient *client)
{
  g_autoptr (GtkStringList) names = gtk_string_list_new (NULL);
  g_autofree char *current = g_settings_get_string (self->settings, "camera");
  GListModel *cameras = client ? vchat_client_get_cameras (client) : NULL;
  guint selected = 0;

  self->filling = TRUE;
  gtk_string_list_append (names, _("The first camera"));
  g_ptr_array_add (self->camera_ids, g_strdup (""));
  for (guint i = 0; cameras && i < g_list_model_get_n_items (cameras); i++) {
    g_autoptr (VChatCamera) camera = g_list_model_get_item (cameras, i);
    gtk_string_list_append (names, vchat_camera_get_name (camera));
    g_ptr_array_add (self->camera_ids, g_strdup (vchat_camera_get_id (camera)));
    if (g_str_equal (vchat_camera_get_id (camera), current))
      selected = self->camera_ids->len - 1;
  }
  if (*current && selected == 0) {
    /* chosen before, not plugged in now */
    g_autofree char *label = g_strdup_printf (_("%s (not connected)"), current);
    gtk_string_list_append (names, label);
    g_ptr_array_add (self->camera_ids, g_strdup (current));
    selected = self->camera_ids->len - 1;
  }
  adw_combo_row_set_model (self->camera_row, G_LIST_MODEL (names));
  adw_combo_row_set_selected (self->camera_row, selected);
  self->filling = FALSE;
}

static void
vchat_preferences_window_dispose (GObject *object)
{
  VchatPreferencesWindow *self = VCHAT_PREFERENCES_WINDOW (object);

  g_clear_object (&self->settings);
  G_OBJECT_CLASS (vchat_preferences_window_parent_class)->dispose (object);
}

static void
vchat_preferences_window_finalize (GObject *object)
{
  VchatPreferencesWindow *self = VCHAT_PREFERENCES_WINDOW (object);

  g_ptr_array_unref (self->camera_ids);
  G_OBJECT_CLASS (vchat_preferences_window_parent_class)->finalize (object);
}

static void
vchat_preferences_window_class_init (VchatPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = vchat_preferences_window_dispose;
  object_class->finalize = vchat_preferences_window_finalize;
  gtk_widget_class_set_template_from_resource (
    widget_class, "/io/github/vchat/VChat/vchat-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, VchatPreferencesWindow, name_row);
  gtk_widget_class_bind_template_child (widget_class, VchatPreferencesWindow, server_row);
  gtk_widget_class_bind_template_child (widget_class, VchatPreferencesWindow, relay_switch);
  gtk_widget_class_bind_template_child (widget_class, VchatPreferencesWindow,
                                        notifications_switch);
  gtk_widget_class_bind_template_child (widget_class, VchatPreferencesWindow, camera_row);
  gtk_widget_class_bind_template_child (widget_class, VchatPreferencesWindow, microphone_row);
  gtk_widget_class_bind_template_child (widget_class, VchatPreferencesWindow, bitrate_spin);
}

static void
vchat_preferences_window_init (VchatPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->camera_ids = g_ptr_array_new_with_free_func (g_free);
}

VchatPreferencesWindow *
vchat_preferences_window_new (GtkWindow *parent, GSettings *settings, VChatClient *client)
{
  VchatPreferencesWindow *self =
    g_object_new (VCHAT_TYPE_PREFERENCES_WINDOW, "transient-for", parent, NULL);
  g_autofree char *name = g_settings_get_string (settings, "display-name");
  g_autofree char *server = g_settings_get_string (settings, "server-url");
  g_autofree char *microphone = g_settings_get_string (settings, "microphone");

  self->settings = g_object_ref (settings);
  gtk_editable_set_text (GTK_EDITABLE (self->name_row), name);
  gtk_editable_set_text (GTK_EDITABLE (self->server_row), server);
  gtk_editable_set_text (GTK_EDITABLE (self->microphone_row), microphone);
  g_settings_bind (settings, "relay-only", self->relay_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "notifications", self->notifications_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "max-bitrate", gtk_spin_button_get_adjustment (self->bitrate_spin),
                   "value", G_SETTINGS_BIND_DEFAULT);
  fill_cameras (self, client);

  g_signal_connect (self->name_row, "apply", G_CALLBACK (on_name_apply), self);
  g_signal_connect (self->name_row, "entry-activated", G_CALLBACK (on_name_apply), self);
  g_signal_connect (self->server_row, "apply", G_CALLBACK (on_server_apply), self);
  g_signal_connect (self->server_row, "entry-activated", G_CALLBACK (on_server_apply), self);
  g_signal_connect (self->microphone_row, "apply", G_CALLBACK (on_microphone_apply), self);
  g_signal_connect (self->microphone_row, "entry-activated", G_CALLBACK (on_microphone_apply),
                    self);
  g_signal_connect (self->camera_row, "notify::selected", G_CALLBACK (on_camera_selected), self);
  /* the first thing a person sets */
  gtk_widget_grab_focus (GTK_WIDGET (self->name_row));
  return self;
}
