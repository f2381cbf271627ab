/* vchat-history-window.c: the calls that ended, newest first
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchat-app-config.h"

#include "vchat-history-window.h"

#include <glib/gi18n.h>

#define HISTORY_LIMIT 200

struct _VchatHistoryWindow {
  AdwWindow parent_instance;

  GtkStack *stack;
  AdwStatusPage *empty_page;
  GtkListBox *list;
  GCancellable *cancellable;
};

G_DEFINE_FINAL_TYPE (VchatHistoryWindow, vchat_history_window, ADW_TYPE_WINDOW)

static const char *
reason_text (VChatEndReason reason)
{
  switch (reason) {
  case VCHAT_END_REASON_HANGUP:
    return _("you hung up");
  case VCHAT_END_REASON_PEER_HANGUP:
    return _("they hung up");
  case VCHAT_END_REASON_REJECTED:
    return _("declined");
  case VCHAT_END_REASON_NEXT:
    return _("you moved on");
  case VCHAT_END_REASON_PEER_NEXT:
    return _("they moved on");
  case VCHAT_END_REASON_PEER_LOST:
    return _("they lost the connection");
  case VCHAT_END_REASON_NETWORK:
    return _("the connection was lost");
  case VCHAT_END_REASON_EXPIRED:
    return _("expired");
  case VCHAT_END_REASON_ERROR:
    return _("failed");
  case VCHAT_END_REASON_NONE:
  default:
    return _("ended");
  }
}

static GtkWidget *
entry_row (const VChatHistoryEntry *entry)
{
  GtkWidget *row = adw_action_row_new ();
  g_autoptr (GDateTime) when = g_date_time_new_from_unix_local (entry->started / G_USEC_PER_SEC);
  g_autofree char *date = when ? g_date_time_format (when, "%x %X") : g_strdup ("");
  gint64 seconds = entry->duration / G_USEC_PER_SEC;
  g_autofree char *length = NULL;
  g_autofree char *subtitle = NULL;
  const char *kind;
  const char *name;

  if (seconds >= 60)
    /* Translators: a call's length in minutes and seconds */
    length = g_strdup_printf (_("%d min %02d s"), (int) (seconds / 60), (int) (seconds % 60));
  else
    length = g_strdup_printf (_("%d s"), (int) seconds);
  if (entry->kind == VCHAT_CALL_KIND_RANDOM)
    kind = _("Random call");
  else
    kind = entry->direction == VCHAT_CALL_DIRECTION_INCOMING ? _("Invited call, they called")
                                                              : _("Invited call, you called");
  /* Translators: when · what kind of call · how long · how it ended */
  subtitle = g_strdup_printf (_("%s · %s · %s · %s"), date, kind, length,
                              reason_text (entry->end_reason));
  name = entry->peer_name && *entry->peer_name
           ? entry->peer_name
           : (entry->kind == VCHAT_CALL_KIND_RANDOM ? _("Anonymous stranger") : _("Your friend"));
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_action_row_set_icon_name (ADW_ACTION_ROW (row),
                                entry->direction == VCHAT_CALL_DIRECTION_INCOMING
                                  ? "call-incoming-symbolic"
                                  : "call-outgoing-symbolic");
  return row;
}

static void
history_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  VchatHistoryWindow *self;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = vchat_client_get_history_finish (VCHAT_CLIENT (source), result,
                                                                    &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = VCHAT_HISTORY_WINDOW (data);
  if (!entries) {
    adw_status_page_set_title (self->empty_page, _("No History"));
    adw_status_page_set_description (self->empty_page, error->message);
    return;
  }
  g_debug ("history: %u call%s", entries->len, entries->len == 1 ? "" : "s");
  for (guint i = 0; i < entries->len; i++)
    gtk_list_box_append (self->list, entry_row (g_ptr_array_index (entries, i)));
  gtk_stack_set_visible_child_name (self->stack, entries->len ? "list" : "empty");
}

static void
vchat_history_window_dispose (GObject *object)
{
  VchatHistoryWindow *self = VCHAT_HISTORY_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (vchat_history_window_parent_class)->dispose (object);
}

static void
vchat_history_window_class_init (VchatHistoryWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = vchat_history_window_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/vchat/VChat/vchat-history-window.ui");
  gtk_widget_class_bind_template_child (widget_class, VchatHistoryWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, VchatHistoryWindow, empty_page);
  gtk_widget_class_bind_template_child (widget_class, VchatHistoryWindow, list);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
vchat_history_window_init (VchatHistoryWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
}

VchatHistoryWindow *
vchat_history_window_new (GtkWindow *parent, VChatClient *client)
{
  VchatHistoryWindow *self = g_object_new (VCHAT_TYPE_HISTORY_WINDOW, "transient-for", parent,
                                           NULL);

  vchat_client_get_history_async (client, HISTORY_LIMIT, self->cancellable, history_cb, self);
  return self;
}
