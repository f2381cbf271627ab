/* vchat-gtk.c: a small GTK 4 video chat on top of libvchat
 *
 * Everything goes through the plugin (VChatClient, VChatCall): no D-Bus code
 * here. Start/Next/Stop meet random strangers (with interests), Invite and
 * Join call a friend, an incoming call shows a banner, the peer's picture
 * fills the window with the own preview in a corner, and a text chat runs
 * beside it.
 *
 *   vchat-gtk [--random] [--join CODE-OR-LINK]
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib-unix.h>
#include <gst/gst.h>
#include <gtk/gtk.h>
#include <vchat/vchat.h>

#include "vchat-video-feed.h"

#define APP_ID "io.github.vchat.Example"

typedef struct {
  GtkApplication *app;
  GtkWidget *window;
  GCancellable *cancellable;
  VChatClient *client;
  VChatCall *call;     /* the call the window shows */
  VChatCall *incoming; /* waiting for Accept/Decline */
  VchatVideoFeed *remote_video, *preview_video;

  /* options */
  gboolean opt_random;
  char *opt_join;

  /* widgets */
  GtkWidget *subtitle;
  GtkWidget *start_button, *next_button, *stop_button, *invite_button, *join_button;
  GtkWidget *invite_link, *invite_status, *invite_popover, *join_entry, *join_popover;
  GtkWidget *banner, *banner_label;
  GtkWidget *error_revealer, *error_label;
  GtkWidget *remote_picture, *preview_picture, *placeholder;
  GtkWidget *interests_entry, *mute_button, *camera_button;
  GtkWidget *chat_list, *chat_scroll, *chat_entry, *send_button;
} App;

static const char *const css =
  ".video-area { background-color: #1e1e1e; border-radius: 12px; }\n"
  ".preview { border: 2px solid rgba(255,255,255,0.8); border-radius: 8px;"
  "  background-color: #000; }\n"
  ".placeholder { color: #c0c0c0; font-size: 1.3em; }\n"
  ".banner { background-color: @theme_selected_bg_color; color: @theme_selected_fg_color;"
  "  padding: 8px 12px; }\n"
  ".error-banner { background-color: #c01c28; color: white; padding: 6px 12px; }\n"
  ".chat-me { background-color: alpha(@theme_selected_bg_color, 0.2); border-radius: 8px;"
  "  padding: 4px 8px; }\n"
  ".chat-peer { background-color: alpha(@theme_fg_color, 0.08); border-radius: 8px;"
  "  padding: 4px 8px; }\n"
  ".chat-note { color: alpha(@theme_fg_color, 0.6); font-size: 0.9em; }\n"
  ".subtitle { font-size: 0.85em; color: alpha(@theme_fg_color, 0.65); }\n"
  ".title { font-weight: bold; }\n";

static void set_call (App *app, VChatCall *call);

/* -- small helpers ------------------------------------------------------ */

static void
show_error (App *app, const char *what, const GError *error)
{
  g_autofree char *text = g_strdup_printf ("%s: %s", what, error->message);
  gtk_label_set_text (GTK_LABEL (app->error_label), text);
  gtk_revealer_set_reveal_child (GTK_REVEALER (app->error_revealer), TRUE);
}

static gboolean
is_cancelled (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static gboolean
call_active (VChatCall *call)
{
  return call && vchat_call_get_state (call) != VCHAT_CALL_STATE_ENDED;
}

static const char *
end_reason_text (VChatEndReason reason)
{
  switch (reason) {
  case VCHAT_END_REASON_HANGUP:
    return "You hung up";
  case VCHAT_END_REASON_PEER_HANGUP:
    return "The other person hung up";
  case VCHAT_END_REASON_REJECTED:
    return "The call was declined";
  case VCHAT_END_REASON_NEXT:
    return "You moved on";
  case VCHAT_END_REASON_PEER_NEXT:
    return "The other person moved on";
  case VCHAT_END_REASON_PEER_LOST:
    return "The other person vanished";
  case VCHAT_END_REASON_NETWORK:
    return "The connection failed";
  case VCHAT_END_REASON_EXPIRED:
    return "The invite expired";
  case VCHAT_END_REASON_ERROR:
    return "Something went wrong";
  case VCHAT_END_REASON_NONE:
  default:
    return "The call ended";
  }
}

static const char *
peer_label (VChatCall *call)
{
  const char *name = vchat_call_get_peer_name (call);
  return name && *name ? name : "a stranger";
}

static void
chat_add (App *app, const char *css_class, const char *text)
{
  GtkWidget *label = gtk_label_new (text);
  GtkAdjustment *adj;

  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_widget_add_css_class (label, css_class);
  if (g_str_equal (css_class, "chat-me"))
    gtk_widget_set_halign (label, GTK_ALIGN_END);
  else if (g_str_equal (css_class, "chat-peer"))
    gtk_widget_set_halign (label, GTK_ALIGN_START);
  else
    gtk_widget_set_halign (label, GTK_ALIGN_CENTER);
  gtk_widget_set_margin_top (label, 3);
  gtk_widget_set_margin_bottom (label, 3);
  gtk_widget_set_margin_start (label, 8);
  gtk_widget_set_margin_end (label, 8);
  gtk_list_box_append (GTK_LIST_BOX (app->chat_list), label);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (gtk_widget_get_parent (label)), FALSE);

  adj = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (app->chat_scroll));
  gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj));
}

/* -- what the window shows ---------------------------------------------- */

static void
update_status (App *app)
{
  GString *s = g_string_new (NULL);
  VChatCallState state = app->call ? vchat_call_get_state (app->call) : VCHAT_CALL_STATE_ENDED;
  gboolean online = FALSE;

  if (!app->client)
    g_string_append (s, "Connecting to vchatd…");
  else if (!vchat_client_get_connected (app->client))
    g_string_append (s, "vchatd is not running");
  else {
    switch (vchat_client_get_signaling_state (app->client)) {
    case VCHAT_SIGNALING_STATE_OFFLINE:
      g_string_append (s, "Offline");
      break;
    case VCHAT_SIGNALING_STATE_CONNECTING:
      g_string_append (s, "Connecting to the server…");
      break;
    case VCHAT_SIGNALING_STATE_ONLINE:
      g_string_append (s, "Online");
      online = TRUE;
      break;
    case VCHAT_SIGNALING_STATE_RECONNECTING:
      g_string_append (s, "Reconnecting to the server…");
      break;
    }
  }

  if (app->call) {
    g_string_append (s, " · ");
    switch (state) {
    case VCHAT_CALL_STATE_SEARCHING:
      g_string_append (s, vchat_call_get_kind (app->call) == VCHAT_CALL_KIND_INVITE
                            ? "Waiting for your friend to join"
                            : "Looking for someone to talk to…");
      break;
    case VCHAT_CALL_STATE_INCOMING:
      g_string_append (s, "Someone is calling");
      break;
    case VCHAT_CALL_STATE_RINGING:
      g_string_append (s, "Ringing…");
      break;
    case VCHAT_CALL_STATE_CONNECTING:
      g_string_append_printf (s, "Connecting to %s…", peer_label (app->call));
      break;
    case VCHAT_CALL_STATE_CONNECTED:
      g_string_append_printf (s, "Connected with %s", peer_label (app->call));
      break;
    case VCHAT_CALL_STATE_RECONNECTING:
      g_string_append (s, "Reconnecting the call…");
      break;
    case VCHAT_CALL_STATE_ENDED:
      g_string_append (s, end_reason_text (vchat_call_get_end_reason (app->call)));
      break;
    }
  }
  gtk_label_set_text (GTK_LABEL (app->subtitle), s->str);
  g_string_free (s, TRUE);

  /* what can be done now */
  gboolean active = call_active (app->call);
  gboolean in_call = active &&
                     (state == VCHAT_CALL_STATE_CONNECTING || state == VCHAT_CALL_STATE_CONNECTED ||
                      state == VCHAT_CALL_STATE_RECONNECTING);
  gboolean random = app->call && vchat_call_get_kind (app->call) == VCHAT_CALL_KIND_RANDOM;

  gtk_widget_set_sensitive (app->start_button, online && !active);
  gtk_widget_set_sensitive (app->next_button,
                            active && random && state != VCHAT_CALL_STATE_SEARCHING);
  gtk_widget_set_sensitive (app->stop_button, active);
  gtk_widget_set_sensitive (
    app->invite_button,
    online && (!active || (state == VCHAT_CALL_STATE_SEARCHING &&
                           vchat_call_get_kind (app->call) == VCHAT_CALL_KIND_INVITE)));
  gtk_widget_set_sensitive (app->join_button, online && !active);
  gtk_widget_set_sensitive (app->interests_entry, !active);
  gtk_widget_set_sensitive (app->mute_button, in_call);
  gtk_widget_set_sensitive (app->camera_button, in_call);
  gtk_widget_set_sensitive (app->chat_entry, state == VCHAT_CALL_STATE_CONNECTED && active);
  gtk_widget_set_sensitive (app->send_button, state == VCHAT_CALL_STATE_CONNECTED && active);

  const char *hint;
  if (!active)
    hint = "Press Start to meet someone, or invite a friend";
  else if (state == VCHAT_CALL_STATE_CONNECTED)
    hint = "Waiting for the picture…";
  else if (state == VCHAT_CALL_STATE_INCOMING)
    hint = "Someone wants to talk with you";
  else if (state == VCHAT_CALL_STATE_SEARCHING)
    hint = vchat_call_get_kind (app->call) == VCHAT_CALL_KIND_INVITE ? "Waiting for your friend…"
                                                                     : "Looking for someone…";
  else
    hint = "Waiting…";
  gtk_label_set_text (GTK_LABEL (app->placeholder), hint);
}

static void
sync_toggles (App *app)
{
  gboolean muted = app->call && vchat_call_get_muted (app->call);
  gboolean camera = !app->call || vchat_call_get_camera_enabled (app->call);

  g_object_freeze_notify (G_OBJECT (app->mute_button));
  g_signal_handlers_block_matched (app->mute_button, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, app);
  g_signal_handlers_block_matched (app->camera_button, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, app);
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (app->mute_button), muted);
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (app->camera_button), !camera);
  gtk_button_set_icon_name (GTK_BUTTON (app->mute_button),
                            muted ? "microphone-sensitivity-muted-symbolic"
                                  : "audio-input-microphone-symbolic");
  gtk_button_set_icon_name (GTK_BUTTON (app->camera_button),
                            camera ? "camera-web-symbolic" : "camera-disabled-symbolic");
  gtk_widget_set_tooltip_text (app->mute_button,
                               muted ? "Unmute the microphone" : "Mute the microphone");
  gtk_widget_set_tooltip_text (app->camera_button,
                               camera ? "Turn the camera off" : "Turn the camera on");
  g_signal_handlers_unblock_matched (app->mute_button, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, app);
  g_signal_handlers_unblock_matched (app->camera_button, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL,
                                     app);
  g_object_thaw_notify (G_OBJECT (app->mute_button));
}

static gboolean
decoding (VChatCall *call)
{
  g_autoptr (VChatStats) stats = vchat_call_dup_stats (call);

  return stats && stats->recv_width > 0 && stats->recv_fps > 0;
}

static void
sync_video (App *app)
{
  VChatCallState state = app->call ? vchat_call_get_state (app->call) : VCHAT_CALL_STATE_ENDED;
  gboolean media = app->call &&
                   (state == VCHAT_CALL_STATE_CONNECTING || state == VCHAT_CALL_STATE_CONNECTED ||
                    state == VCHAT_CALL_STATE_RECONNECTING);

  /* A reader that comes before pictures flow gets nothing (the remote
   * node has no format yet), and one on the preview node while the call is
   * still being set up can upset vchatd's pipewiresink: both start once the
   * call is connected and the stats say the peer's pictures arrive. */
  if (state == VCHAT_CALL_STATE_CONNECTED && decoding (app->call)) {
    if (!app->remote_video)
      app->remote_video = vchat_video_feed_new (GTK_PICTURE (app->remote_picture), app->call,
                                               VCHAT_VIDEO_REMOTE);
    if (!app->preview_video)
      app->preview_video = vchat_video_feed_new (GTK_PICTURE (app->preview_picture), app->call,
                                                VCHAT_VIDEO_PREVIEW);
  }
  if (!media) {
    g_clear_pointer (&app->remote_video, vchat_video_feed_free);
    g_clear_pointer (&app->preview_video, vchat_video_feed_free);
  }
  gtk_widget_set_visible (app->preview_picture, app->preview_video != NULL);
}

static void
on_picture_changed (GObject *picture, GParamSpec *pspec, App *app)
{
  gtk_widget_set_visible (app->placeholder,
                          gtk_picture_get_paintable (GTK_PICTURE (app->remote_picture)) == NULL);
}

/* -- the call ----------------------------------------------------------- */

static void
on_call_state (VChatCall *call, GParamSpec *pspec, App *app)
{
  VChatCallState state = vchat_call_get_state (call);

  g_debug ("call %s: state %d", vchat_call_get_object_path (call), state);
  if (state == VCHAT_CALL_STATE_CONNECTED) {
    g_autofree char *note = g_strdup_printf ("You are talking with %s", peer_label (call));
    const char *const *common = vchat_call_get_common_interests (call);
    chat_add (app, "chat-note", note);
    if (common && common[0]) {
      g_autofree char *joined = g_strjoinv (", ", (char **) common);
      g_autofree char *interests = g_strdup_printf ("You both like %s", joined);
      chat_add (app, "chat-note", interests);
    }
  } else if (state == VCHAT_CALL_STATE_ENDED) {
    chat_add (app, "chat-note", end_reason_text (vchat_call_get_end_reason (call)));
  }
  sync_video (app);
  update_status (app);
}

static void
on_call_changed (VChatCall *call, GParamSpec *pspec, App *app)
{
  sync_toggles (app);
  update_status (app);
}

static void
on_call_stats (VChatCall *call, GParamSpec *pspec, App *app)
{
  if (!app->remote_video)
    sync_video (app);
}

static void
on_message_received (VChatCall *call, const char *text, gint64 time, App *app)
{
  chat_add (app, "chat-peer", text);
}

static void
disconnect_call (App *app, VChatCall *call)
{
  /* by function: the same call may also wait in the incoming banner */
  g_signal_handlers_disconnect_by_func (call, on_call_state, app);
  g_signal_handlers_disconnect_by_func (call, on_call_changed, app);
  g_signal_handlers_disconnect_by_func (call, on_call_stats, app);
  g_signal_handlers_disconnect_by_func (call, on_message_received, app);
}

static void
set_call (App *app, VChatCall *call)
{
  if (app->call == call)
    return;
  g_clear_pointer (&app->remote_video, vchat_video_feed_free);
  g_clear_pointer (&app->preview_video, vchat_video_feed_free);
  if (app->call) {
    disconnect_call (app, app->call);
    g_clear_object (&app->call);
  }
  if (call) {
    app->call = g_object_ref (call);
    g_signal_connect (call, "notify::state", G_CALLBACK (on_call_state), app);
    g_signal_connect (call, "notify::peer-name", G_CALLBACK (on_call_changed), app);
    g_signal_connect (call, "notify::muted", G_CALLBACK (on_call_changed), app);
    g_signal_connect (call, "notify::camera-enabled", G_CALLBACK (on_call_changed), app);
    g_signal_connect (call, "notify::stats", G_CALLBACK (on_call_stats), app);
    g_signal_connect (call, "message-received", G_CALLBACK (on_message_received), app);
  }
  sync_toggles (app);
  sync_video (app);
  update_status (app);
}

/* -- Start / Next / Stop ------------------------------------------------ */

static void
started_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  App *app = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (VChatCall)
    call = vchat_client_start_random_finish (VCHAT_CLIENT (source), result, &error);

  if (is_cancelled (error))
    return;
  if (!call) {
    show_error (app, "Cannot start", error);
    update_status (app);
    return;
  }
  set_call (app, call);
}

static void
start_random (App *app)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (app->interests_entry));
  g_auto (GStrv) parts = g_strsplit_set (text, ",", -1);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) interests = NULL;

  for (char **p = parts; *p; p++) {
    g_strstrip (*p);
    if (**p)
      g_strv_builder_add (builder, *p);
  }
  interests = g_strv_builder_end (builder);
  gtk_revealer_set_reveal_child (GTK_REVEALER (app->error_revealer), FALSE);
  gtk_widget_set_sensitive (app->start_button, FALSE);
  vchat_client_start_random_async (app->client, (const char *const *) interests, NULL, FALSE,
                                   app->cancellable, started_cb, app);
}

static void
on_start (GtkButton *button, App *app)
{
  start_random (app);
}

static void
on_interests_activate (GtkEntry *entry, App *app)
{
  if (gtk_widget_get_sensitive (app->start_button))
    start_random (app);
}

static void
next_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  App *app = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (VChatCall) call = vchat_call_next_finish (VCHAT_CALL (source), result, &error);

  if (is_cancelled (error))
    return;
  if (!call) {
    show_error (app, "Cannot move on", error);
    return;
  }
  set_call (app, call);
}

static void
on_next (GtkButton *button, App *app)
{
  if (app->call)
    vchat_call_next_async (app->call, app->cancellable, next_cb, app);
}

static void
hangup_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  App *app = data;
  g_autoptr (GError) error = NULL;

  if (!vchat_call_hangup_finish (VCHAT_CALL (source), result, &error) && !is_cancelled (error) &&
      !g_error_matches (error, VCHAT_ERROR, VCHAT_ERROR_INVALID_STATE))
    show_error (app, "Cannot hang up", error);
}

static void
on_stop (GtkButton *button, App *app)
{
  if (app->call)
    vchat_call_hangup_async (app->call, app->cancellable, hangup_cb, app);
}

/* -- Invite / Join ------------------------------------------------------ */

static void
invite_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  App *app = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *link = NULL;
  g_autoptr (VChatCall)
    call = vchat_client_create_invite_finish (VCHAT_CLIENT (source), result, &link, &error);

  if (is_cancelled (error))
    return;
  if (!call) {
    gtk_popover_popdown (GTK_POPOVER (app->invite_popover));
    show_error (app, "Cannot create an invite", error);
    return;
  }
  set_call (app, call);
  gtk_label_set_text (GTK_LABEL (app->invite_status), "Send this link to a friend:");
  gtk_editable_set_text (GTK_EDITABLE (app->invite_link), link ? link : "");
  gtk_widget_set_visible (app->invite_link, TRUE);
  chat_add (app, "chat-note", "Invite created: send the link to your friend");
}

/* opening the popover creates the invite, unless one is waiting already */
static void
on_invite (GtkPopover *popover, App *app)
{
  if (!app->client)
    return;
  if (call_active (app->call) && vchat_call_get_kind (app->call) == VCHAT_CALL_KIND_INVITE &&
      vchat_call_get_state (app->call) == VCHAT_CALL_STATE_SEARCHING)
    return;
  gtk_label_set_text (GTK_LABEL (app->invite_status), "Creating a link…");
  gtk_editable_set_text (GTK_EDITABLE (app->invite_link), "");
  gtk_widget_set_visible (app->invite_link, FALSE);
  gtk_revealer_set_reveal_child (GTK_REVEALER (app->error_revealer), FALSE);
  vchat_client_create_invite_async (app->client, 0, NULL, app->cancellable, invite_cb, app);
}

static void
on_copy_link (GtkButton *button, App *app)
{
  GdkClipboard *clipboard = gtk_widget_get_clipboard (app->window);
  gdk_clipboard_set_text (clipboard, gtk_editable_get_text (GTK_EDITABLE (app->invite_link)));
  gtk_button_set_icon_name (button, "object-select-symbolic");
}

static void
join_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  App *app = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (VChatCall)
    call = vchat_client_join_invite_finish (VCHAT_CLIENT (source), result, &error);

  if (is_cancelled (error))
    return;
  if (!call) {
    show_error (app, "Cannot join", error);
    return;
  }
  set_call (app, call);
}

static void
join (App *app, const char *code)
{
  g_autofree char *stripped = g_strstrip (g_strdup (code));

  if (!*stripped)
    return;
  gtk_revealer_set_reveal_child (GTK_REVEALER (app->error_revealer), FALSE);
  vchat_client_join_invite_async (app->client, stripped, app->cancellable, join_cb, app);
}

static void
on_join (GtkWidget *widget, App *app)
{
  gtk_popover_popdown (GTK_POPOVER (app->join_popover));
  join (app, gtk_editable_get_text (GTK_EDITABLE (app->join_entry)));
}

/* -- an incoming call --------------------------------------------------- */

static void on_incoming_state (VChatCall *call, GParamSpec *pspec, App *app);
static void on_incoming_name (VChatCall *call, GParamSpec *pspec, App *app);

static void
hide_banner (App *app)
{
  gtk_revealer_set_reveal_child (GTK_REVEALER (app->banner), FALSE);
  /* by function: the same call may be the one the window shows */
  if (app->incoming) {
    g_signal_handlers_disconnect_by_func (app->incoming, on_incoming_state, app);
    g_signal_handlers_disconnect_by_func (app->incoming, on_incoming_name, app);
  }
  g_clear_object (&app->incoming);
}

static void
on_incoming_state (VChatCall *call, GParamSpec *pspec, App *app)
{
  if (vchat_call_get_state (call) != VCHAT_CALL_STATE_INCOMING)
    hide_banner (app);
}

static void
on_incoming_name (VChatCall *call, GParamSpec *pspec, App *app)
{
  const char *name = vchat_call_get_peer_name (call);
  g_autofree char *text = g_strdup_printf ("%s wants to talk with you",
                                           name && *name ? name : "Your friend");

  gtk_label_set_text (GTK_LABEL (app->banner_label), text);
}

static void
on_incoming_call (VChatClient *client, VChatCall *call, App *app)
{
  hide_banner (app);
  app->incoming = g_object_ref (call);
  g_signal_connect (call, "notify::state", G_CALLBACK (on_incoming_state), app);
  g_signal_connect (call, "notify::peer-name", G_CALLBACK (on_incoming_name), app);
  on_incoming_name (call, NULL, app);
  gtk_revealer_set_reveal_child (GTK_REVEALER (app->banner), TRUE);
  gtk_window_present (GTK_WINDOW (app->window));
}

static void
accept_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  App *app = data;
  g_autoptr (GError) error = NULL;

  if (!vchat_call_accept_finish (VCHAT_CALL (source), result, &error)) {
    if (!is_cancelled (error))
      show_error (app, "Cannot accept", error);
    return;
  }
  set_call (app, VCHAT_CALL (source));
}

static void
on_accept (GtkButton *button, App *app)
{
  if (!app->incoming)
    return;
  vchat_call_accept_async (app->incoming, app->cancellable, accept_cb, app);
  hide_banner (app);
}

static void
reject_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  App *app = data;
  g_autoptr (GError) error = NULL;

  if (!vchat_call_reject_finish (VCHAT_CALL (source), result, &error) && !is_cancelled (error) &&
      !g_error_matches (error, VCHAT_ERROR, VCHAT_ERROR_INVALID_STATE))
    show_error (app, "Cannot decline", error);
}

static void
on_decline (GtkButton *button, App *app)
{
  if (!app->incoming)
    return;
  vchat_call_reject_async (app->incoming, app->cancellable, reject_cb, app);
  hide_banner (app);
}

/* -- mute, camera, chat ------------------------------------------------- */

static void
mute_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  App *app = data;

  if (!vchat_call_set_muted_finish (VCHAT_CALL (source), result, &error) && !is_cancelled (error)) {
    show_error (app, "Cannot mute", error);
    sync_toggles (app);
  }
}

static void
camera_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  App *app = data;

  if (!vchat_call_set_camera_enabled_finish (VCHAT_CALL (source), result, &error) &&
      !is_cancelled (error)) {
    show_error (app, "Cannot switch the camera", error);
    sync_toggles (app);
  }
}

static void
on_mute_toggled (GtkToggleButton *button, App *app)
{
  if (app->call)
    vchat_call_set_muted_async (app->call, gtk_toggle_button_get_active (button), app->cancellable,
                                mute_cb, app);
}

static void
on_camera_toggled (GtkToggleButton *button, App *app)
{
  if (app->call)
    vchat_call_set_camera_enabled_async (app->call, !gtk_toggle_button_get_active (button),
                                         app->cancellable, camera_cb, app);
}

static void
send_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  App *app = data;
  g_autoptr (GError) error = NULL;

  if (!vchat_call_send_message_finish (VCHAT_CALL (source), result, &error) &&
      !is_cancelled (error))
    show_error (app, "The message was not sent", error);
}

static void
on_send (GtkWidget *widget, App *app)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (app->chat_entry));

  if (!app->call || !*text)
    return;
  vchat_call_send_message_async (app->call, text, app->cancellable, send_cb, app);
  chat_add (app, "chat-me", text);
  gtk_editable_set_text (GTK_EDITABLE (app->chat_entry), "");
}

/* -- the client --------------------------------------------------------- */

static void
on_client_changed (VChatClient *client, GParamSpec *pspec, App *app)
{
  update_status (app);
}

static void
on_call_added (VChatClient *client, VChatCall *call, App *app)
{
  /* a call started elsewhere (vchatctl, another frontend) shows here when
   * the window has nothing better to show */
  if (!call_active (app->call) && vchat_call_get_state (call) != VCHAT_CALL_STATE_INCOMING &&
      vchat_call_get_state (call) != VCHAT_CALL_STATE_ENDED)
    set_call (app, call);
}

static void
client_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  App *app = data;
  g_autoptr (GError) error = NULL;
  VChatClient *client = vchat_client_new_finish (result, &error);

  if (!client) {
    if (!is_cancelled (error)) {
      show_error (app, "Cannot reach vchatd", error);
      gtk_label_set_text (GTK_LABEL (app->subtitle), "vchatd is not available");
    }
    return;
  }
  app->client = client;
  g_signal_connect (client, "notify::connected", G_CALLBACK (on_client_changed), app);
  g_signal_connect (client, "notify::signaling-state", G_CALLBACK (on_client_changed), app);
  g_signal_connect (client, "incoming-call", G_CALLBACK (on_incoming_call), app);
  g_signal_connect (client, "call-added", G_CALLBACK (on_call_added), app);

  /* pick up a call already in progress */
  GListModel *calls = vchat_client_get_calls (client);
  for (guint i = g_list_model_get_n_items (calls); i > 0; i--) {
    g_autoptr (VChatCall) call = g_list_model_get_item (calls, i - 1);
    if (vchat_call_get_state (call) == VCHAT_CALL_STATE_INCOMING) {
      on_incoming_call (client, call, app);
    } else if (call_active (call)) {
      set_call (app, call);
      break;
    }
  }
  update_status (app);

  if (app->opt_join)
    join (app, app->opt_join);
  else if (app->opt_random && !call_active (app->call))
    start_random (app);
}

/* -- building the window ------------------------------------------------ */

static GtkWidget *
icon_button (const char *icon, const char *label, const char *tooltip)
{
  GtkWidget *button = gtk_button_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);

  gtk_box_append (GTK_BOX (box), gtk_image_new_from_icon_name (icon));
  gtk_box_append (GTK_BOX (box), gtk_label_new_with_mnemonic (label));
  gtk_button_set_child (GTK_BUTTON (button), box);
  gtk_widget_set_tooltip_text (button, tooltip);
  return button;
}

static GtkWidget *
build_header (App *app)
{
  GtkWidget *header = gtk_header_bar_new ();
  GtkWidget *title_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *title = gtk_label_new ("vchat");
  GtkWidget *box, *button, *copy;

  gtk_widget_add_css_class (title, "title");
  app->subtitle = gtk_label_new ("Connecting to vchatd…");
  gtk_widget_add_css_class (app->subtitle, "subtitle");
  gtk_label_set_ellipsize (GTK_LABEL (app->subtitle), PANGO_ELLIPSIZE_END);
  gtk_widget_set_valign (title_box, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (title_box), title);
  gtk_box_append (GTK_BOX (title_box), app->subtitle);
  gtk_header_bar_set_title_widget (GTK_HEADER_BAR (header), title_box);

  app->start_button = icon_button ("media-playback-start-symbolic", "_Start",
                                   "Meet a random stranger");
  gtk_widget_add_css_class (app->start_button, "suggested-action");
  g_signal_connect (app->start_button, "clicked", G_CALLBACK (on_start), app);
  app->next_button = icon_button ("media-skip-forward-symbolic", "_Next",
                                  "Move on to the next stranger");
  g_signal_connect (app->next_button, "clicked", G_CALLBACK (on_next), app);
  app->stop_button = icon_button ("call-stop-symbolic", "Sto_p", "Hang up");
  gtk_widget_add_css_class (app->stop_button, "destructive-action");
  g_signal_connect (app->stop_button, "clicked", G_CALLBACK (on_stop), app);
  gtk_header_bar_pack_start (GTK_HEADER_BAR (header), app->start_button);
  gtk_header_bar_pack_start (GTK_HEADER_BAR (header), app->next_button);
  gtk_header_bar_pack_start (GTK_HEADER_BAR (header), app->stop_button);

  /* Invite: a popover with the link to copy */
  app->invite_popover = gtk_popover_new ();
  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  gtk_widget_set_margin_start (box, 6);
  gtk_widget_set_margin_end (box, 6);
  gtk_widget_set_margin_top (box, 6);
  gtk_widget_set_margin_bottom (box, 6);
  app->invite_status = gtk_label_new ("");
  gtk_label_set_xalign (GTK_LABEL (app->invite_status), 0);
  gtk_box_append (GTK_BOX (box), app->invite_status);
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  app->invite_link = gtk_entry_new ();
  gtk_editable_set_editable (GTK_EDITABLE (app->invite_link), FALSE);
  gtk_editable_set_width_chars (GTK_EDITABLE (app->invite_link), 36);
  copy = gtk_button_new_from_icon_name ("edit-copy-symbolic");
  gtk_widget_set_tooltip_text (copy, "Copy the link");
  g_signal_connect (copy, "clicked", G_CALLBACK (on_copy_link), app);
  gtk_box_append (GTK_BOX (row), app->invite_link);
  gtk_box_append (GTK_BOX (row), copy);
  gtk_box_append (GTK_BOX (box), row);
  gtk_popover_set_child (GTK_POPOVER (app->invite_popover), box);
  app->invite_button = gtk_menu_button_new ();
  gtk_menu_button_set_popover (GTK_MENU_BUTTON (app->invite_button), app->invite_popover);
  gtk_menu_button_set_label (GTK_MENU_BUTTON (app->invite_button), "_Invite");
  gtk_menu_button_set_use_underline (GTK_MENU_BUTTON (app->invite_button), TRUE);
  gtk_widget_set_tooltip_text (app->invite_button, "Invite a friend with a link");
  g_signal_connect (app->invite_popover, "show", G_CALLBACK (on_invite), app);

  /* Join: a popover with an entry for the code or link */
  app->join_popover = gtk_popover_new ();
  box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_widget_set_margin_start (box, 6);
  gtk_widget_set_margin_end (box, 6);
  gtk_widget_set_margin_top (box, 6);
  gtk_widget_set_margin_bottom (box, 6);
  app->join_entry = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (app->join_entry), "Invite code or link");
  gtk_editable_set_width_chars (GTK_EDITABLE (app->join_entry), 30);
  g_signal_connect (app->join_entry, "activate", G_CALLBACK (on_join), app);
  button = gtk_button_new_with_mnemonic ("_Join");
  gtk_widget_add_css_class (button, "suggested-action");
  g_signal_connect (button, "clicked", G_CALLBACK (on_join), app);
  gtk_box_append (GTK_BOX (box), app->join_entry);
  gtk_box_append (GTK_BOX (box), button);
  gtk_popover_set_child (GTK_POPOVER (app->join_popover), box);
  app->join_button = gtk_menu_button_new ();
  gtk_menu_button_set_popover (GTK_MENU_BUTTON (app->join_button), app->join_popover);
  gtk_menu_button_set_label (GTK_MENU_BUTTON (app->join_button), "_Join");
  gtk_menu_button_set_use_underline (GTK_MENU_BUTTON (app->join_button), TRUE);
  gtk_widget_set_tooltip_text (app->join_button, "Join a friend's invite");

  gtk_header_bar_pack_end (GTK_HEADER_BAR (header), app->invite_button);
  gtk_header_bar_pack_end (GTK_HEADER_BAR (header), app->join_button);
  return header;
}

static GtkWidget *
build_banner (App *app)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *accept, *decline;

  gtk_widget_add_css_class (box, "banner");
  gtk_box_append (GTK_BOX (box), gtk_image_new_from_icon_name ("call-start-symbolic"));
  app->banner_label = gtk_label_new ("");
  gtk_widget_set_hexpand (app->banner_label, TRUE);
  gtk_label_set_xalign (GTK_LABEL (app->banner_label), 0);
  gtk_box_append (GTK_BOX (box), app->banner_label);
  decline = icon_button ("call-stop-symbolic", "_Decline", "Decline the call");
  gtk_widget_add_css_class (decline, "destructive-action");
  g_signal_connect (decline, "clicked", G_CALLBACK (on_decline), app);
  accept = icon_button ("call-start-symbolic", "_Accept", "Accept the call");
  gtk_widget_add_css_class (accept, "suggested-action");
  g_signal_connect (accept, "clicked", G_CALLBACK (on_accept), app);
  gtk_box_append (GTK_BOX (box), decline);
  gtk_box_append (GTK_BOX (box), accept);

  app->banner = gtk_revealer_new ();
  gtk_revealer_set_child (GTK_REVEALER (app->banner), box);
  return app->banner;
}

static GtkWidget *
build_error_banner (App *app)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *close = gtk_button_new_from_icon_name ("window-close-symbolic");

  gtk_widget_add_css_class (box, "error-banner");
  gtk_box_append (GTK_BOX (box), gtk_image_new_from_icon_name ("dialog-warning-symbolic"));
  app->error_label = gtk_label_new ("");
  gtk_label_set_wrap (GTK_LABEL (app->error_label), TRUE);
  gtk_label_set_xalign (GTK_LABEL (app->error_label), 0);
  gtk_widget_set_hexpand (app->error_label, TRUE);
  gtk_box_append (GTK_BOX (box), app->error_label);
  gtk_widget_add_css_class (close, "flat");
  gtk_box_append (GTK_BOX (box), close);
  app->error_revealer = gtk_revealer_new ();
  g_signal_connect_swapped (close, "clicked", G_CALLBACK (gtk_revealer_set_reveal_child),
                            app->error_revealer);
  gtk_revealer_set_child (GTK_REVEALER (app->error_revealer), box);
  return app->error_revealer;
}

/* The preview keeps a quarter of the video area's width (4:3) in its lower
 * right corner, whatever the size of the camera's picture. */
static gboolean
place_preview (GtkOverlay *overlay, GtkWidget *child, GdkRectangle *rect, App *app)
{
  int width = gtk_widget_get_width (GTK_WIDGET (overlay));
  int height = gtk_widget_get_height (GTK_WIDGET (overlay));

  if (child != app->preview_picture)
    return FALSE;
  rect->width = CLAMP (width / 4, 120, 320);
  rect->height = rect->width * 3 / 4;
  rect->x = MAX (0, width - rect->width - 16);
  rect->y = MAX (0, height - rect->height - 16);
  return TRUE;
}

static GtkWidget *
build_video (App *app)
{
  GtkWidget *column = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  GtkWidget *overlay = gtk_overlay_new ();
  GtkWidget *controls = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *label;

  gtk_widget_add_css_class (overlay, "video-area");
  gtk_widget_set_overflow (overlay, GTK_OVERFLOW_HIDDEN);
  gtk_widget_set_hexpand (overlay, TRUE);
  gtk_widget_set_vexpand (overlay, TRUE);

  app->remote_picture = gtk_picture_new ();
  gtk_picture_set_can_shrink (GTK_PICTURE (app->remote_picture), TRUE);
  gtk_picture_set_content_fit (GTK_PICTURE (app->remote_picture), GTK_CONTENT_FIT_CONTAIN);
  gtk_widget_set_size_request (app->remote_picture, 480, 360);
  g_signal_connect (app->remote_picture, "notify::paintable", G_CALLBACK (on_picture_changed), app);
  gtk_overlay_set_child (GTK_OVERLAY (overlay), app->remote_picture);

  app->placeholder = gtk_label_new ("");
  gtk_widget_add_css_class (app->placeholder, "placeholder");
  gtk_widget_set_halign (app->placeholder, GTK_ALIGN_CENTER);
  gtk_widget_set_valign (app->placeholder, GTK_ALIGN_CENTER);
  gtk_overlay_add_overlay (GTK_OVERLAY (overlay), app->placeholder);

  app->preview_picture = gtk_picture_new ();
  gtk_picture_set_can_shrink (GTK_PICTURE (app->preview_picture), TRUE);
  gtk_picture_set_content_fit (GTK_PICTURE (app->preview_picture), GTK_CONTENT_FIT_COVER);
  g_signal_connect (overlay, "get-child-position", G_CALLBACK (place_preview), app);
  gtk_widget_add_css_class (app->preview_picture, "preview");
  gtk_widget_set_overflow (app->preview_picture, GTK_OVERFLOW_HIDDEN);
  gtk_widget_set_visible (app->preview_picture, FALSE);
  gtk_overlay_add_overlay (GTK_OVERLAY (overlay), app->preview_picture);
  gtk_box_append (GTK_BOX (column), overlay);

  label = gtk_label_new_with_mnemonic ("I_nterests:");
  gtk_box_append (GTK_BOX (controls), label);
  app->interests_entry = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (app->interests_entry),
                                  "music, films, chess (separated by commas)");
  gtk_label_set_mnemonic_widget (GTK_LABEL (label), app->interests_entry);
  gtk_widget_set_hexpand (app->interests_entry, TRUE);
  g_signal_connect (app->interests_entry, "activate", G_CALLBACK (on_interests_activate), app);
  gtk_box_append (GTK_BOX (controls), app->interests_entry);

  app->mute_button = gtk_toggle_button_new ();
  g_signal_connect (app->mute_button, "toggled", G_CALLBACK (on_mute_toggled), app);
  gtk_widget_set_margin_start (app->mute_button, 12);
  gtk_box_append (GTK_BOX (controls), app->mute_button);
  app->camera_button = gtk_toggle_button_new ();
  g_signal_connect (app->camera_button, "toggled", G_CALLBACK (on_camera_toggled), app);
  gtk_box_append (GTK_BOX (controls), app->camera_button);
  gtk_box_append (GTK_BOX (column), controls);
  return column;
}

static GtkWidget *
build_chat (App *app)
{
  GtkWidget *column = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *heading = gtk_label_new ("Chat");
  GtkWidget *frame = gtk_frame_new (NULL);
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);

  gtk_widget_set_size_request (column, 300, -1);
  gtk_widget_add_css_class (heading, "heading");
  gtk_label_set_xalign (GTK_LABEL (heading), 0);
  gtk_box_append (GTK_BOX (column), heading);

  app->chat_list = gtk_list_box_new ();
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (app->chat_list), GTK_SELECTION_NONE);
  app->chat_scroll = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (app->chat_scroll), GTK_POLICY_NEVER,
                                  GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (app->chat_scroll), app->chat_list);
  gtk_widget_set_vexpand (app->chat_scroll, TRUE);
  gtk_frame_set_child (GTK_FRAME (frame), app->chat_scroll);
  gtk_box_append (GTK_BOX (column), frame);

  app->chat_entry = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (app->chat_entry), "Write a message");
  gtk_widget_set_hexpand (app->chat_entry, TRUE);
  g_signal_connect (app->chat_entry, "activate", G_CALLBACK (on_send), app);
  app->send_button = gtk_button_new_from_icon_name ("mail-send-symbolic");
  gtk_widget_set_tooltip_text (app->send_button, "Send");
  g_signal_connect (app->send_button, "clicked", G_CALLBACK (on_send), app);
  gtk_box_append (GTK_BOX (row), app->chat_entry);
  gtk_box_append (GTK_BOX (row), app->send_button);
  gtk_box_append (GTK_BOX (column), row);
  return column;
}

static void
on_activate (GtkApplication *gtk_app, App *app)
{
  GtkWidget *content, *main_row, *video, *chat;
  g_autoptr (GtkCssProvider) provider = NULL;

  if (app->window) {
    gtk_window_present (GTK_WINDOW (app->window));
    return;
  }
  provider = gtk_css_provider_new ();
  gtk_css_provider_load_from_data (provider, css, -1);
  gtk_style_context_add_provider_for_display (gdk_display_get_default (),
                                              GTK_STYLE_PROVIDER (provider),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);

  app->window = gtk_application_window_new (gtk_app);
  gtk_window_set_title (GTK_WINDOW (app->window), "vchat");
  gtk_window_set_default_size (GTK_WINDOW (app->window), 1000, 620);
  gtk_window_set_titlebar (GTK_WINDOW (app->window), build_header (app));

  content = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  gtk_box_append (GTK_BOX (content), build_banner (app));
  gtk_box_append (GTK_BOX (content), build_error_banner (app));
  /* a paned keeps the chat's width when the picture comes and goes (a
   * GtkPicture asks for the size of its picture), and lets it be resized */
  main_row = gtk_paned_new (GTK_ORIENTATION_HORIZONTAL);
  video = build_video (app);
  chat = build_chat (app);
  gtk_widget_set_margin_start (video, 12);
  gtk_widget_set_margin_end (video, 12);
  gtk_widget_set_margin_top (video, 12);
  gtk_widget_set_margin_bottom (video, 12);
  gtk_widget_set_margin_start (chat, 12);
  gtk_widget_set_margin_end (chat, 12);
  gtk_widget_set_margin_top (chat, 12);
  gtk_widget_set_margin_bottom (chat, 12);
  gtk_paned_set_start_child (GTK_PANED (main_row), video);
  gtk_paned_set_resize_start_child (GTK_PANED (main_row), TRUE);
  gtk_paned_set_shrink_start_child (GTK_PANED (main_row), FALSE);
  gtk_paned_set_end_child (GTK_PANED (main_row), chat);
  gtk_paned_set_resize_end_child (GTK_PANED (main_row), FALSE);
  gtk_paned_set_shrink_end_child (GTK_PANED (main_row), FALSE);
  gtk_paned_set_position (GTK_PANED (main_row), 1000 - 330);
  gtk_widget_set_vexpand (main_row, TRUE);
  gtk_box_append (GTK_BOX (content), main_row);
  gtk_window_set_child (GTK_WINDOW (app->window), content);

  sync_toggles (app);
  update_status (app);
  gtk_window_present (GTK_WINDOW (app->window));

  vchat_client_new_async (NULL, app->cancellable, client_cb, app);
}

static void
on_shutdown (GtkApplication *gtk_app, App *app)
{
  g_cancellable_cancel (app->cancellable);
  g_clear_pointer (&app->remote_video, vchat_video_feed_free);
  g_clear_pointer (&app->preview_video, vchat_video_feed_free);
  if (app->call)
    disconnect_call (app, app->call);
  g_clear_object (&app->call);
  hide_banner (app);
  if (app->client)
    g_signal_handlers_disconnect_by_data (app->client, app);
  g_clear_object (&app->client);
}

/* Ctrl+C and SIGTERM close the window as its close button would */
static gboolean
on_quit_signal (gpointer data)
{
  App *app = data;

  g_application_quit (G_APPLICATION (app->app));
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  App app = { 0 };
  int status;
  const GOptionEntry options[] = {
    { "random", 'r', 0, G_OPTION_ARG_NONE, &app.opt_random,
      "Start looking for a random stranger at once", NULL },
    { "join", 'j', 0, G_OPTION_ARG_STRING, &app.opt_join, "Join a friend's invite",
      "CODE-OR-LINK" },
    { NULL },
  };

  gst_init (&argc, &argv);
  app.cancellable = g_cancellable_new ();
  /* every start is a window of its own: the calls live in vchatd anyway */
  app.app = gtk_application_new (APP_ID, G_APPLICATION_NON_UNIQUE);
  g_application_add_main_option_entries (G_APPLICATION (app.app), options);
  g_application_set_option_context_parameter_string (G_APPLICATION (app.app), "- video chat");
  g_signal_connect (app.app, "activate", G_CALLBACK (on_activate), &app);
  g_signal_connect (app.app, "shutdown", G_CALLBACK (on_shutdown), &app);
  g_unix_signal_add (SIGINT, on_quit_signal, &app);
  g_unix_signal_add (SIGTERM, on_quit_signal, &app);
  status = g_application_run (G_APPLICATION (app.app), argc, argv);
  g_object_unref (app.app);
  g_object_unref (app.cancellable);
  g_free (app.opt_join);
  return status;
}
