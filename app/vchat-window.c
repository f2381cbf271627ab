/* vchat-window.c: the main window: the start page, the call, invites
 *
 * The window shows one call at a time, the "current" one: a call started
 * here, an invite someone opened, or a call another program (vchatctl)
 * started while this window had none. Everything a call does comes from
 * libvchat's VChatCall properties; the window only follows them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchat-app-config.h"

#include "vchat-window.h"

#include <glib/gi18n.h>

#include "vchat-link.h"
#include "vchat-qr.h"
#include "vchat-video-feed.h"

struct _VchatWindow {
  AdwApplicationWindow parent_instance;

  /* template */
  AdwToastOverlay *toast_overlay;
  GtkButton *stop_button;
  GtkButton *next_button;
  AdwWindowTitle *window_title;
  GtkToggleButton *chat_button;
  AdwViewStack *stack;
  AdwEntryRow *interests_row;
  AdwEntryRow *language_row;
  AdwFlap *flap;
  GtkPicture *remote_picture;
  GtkPicture *preview_picture;
  GtkWidget *preview_clamp;
  GtkButton *mute_button;
  GtkButton *camera_button;
  GtkWidget *status_box;
  GtkSpinner *status_spinner;
  GtkLabel *status_label;
  GtkWidget *info_box;
  GtkLabel *peer_label;
  GtkLabel *quality_label;
  GtkWidget *controls;
  GtkDropDown *camera_dropdown;
  GtkListBox *chat_list;
  GtkScrolledWindow *chat_scroll;
  GtkEntry *chat_entry;
  AdwStatusPage *invite_page;
  GtkPicture *qr_picture;
  GtkLabel *link_label;
  AdwStatusPage *incoming_page;

  GCancellable *cancellable;
  VChatClient *client;
  VChatCall *call;
  VChatCallState last_state;
  gboolean ending_by_us; /* Stop or Next pressed: no toast for the end */
  char *invite_link;
  VchatVideoFeed *remote_feed;
  VchatVideoFeed *preview_feed;
  gboolean syncing_camera;
  gint64 escape_armed; /* when Escape in the empty chat entry asked to confirm */

  /* a link opened before the client was there, or waiting for the server
   * to change */
  char *pending_link;
  char *pending_call; /* app.show-call's object path, before the client */
  char *pending_code;
  char *pending_server;
};

G_DEFINE_FINAL_TYPE (VchatWindow, vchat_window, ADW_TYPE_APPLICATION_WINDOW)

static void set_call (VchatWindow *self, VChatCall *call);
static void update (VchatWindow *self);
static void next_activated (GSimpleAction *action, GVariant *param, gpointer data);

static gboolean
is_cancelled (GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

void
vchat_window_toast (VchatWindow *self, const char *text)
{
  AdwToast *toast = adw_toast_new (text);

  adw_toast_set_timeout (toast, 6);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
  g_debug ("toast: %s", text);
}

/* An error from the daemon, with what to do about it. */
static void
toast_error (VchatWindow *self, const char *what, const GError *error)
{
  g_autofree char *text = NULL;
  const char *hint = NULL;

  if (error->domain == VCHAT_ERROR) {
    switch ((VChatError) error->code) {
    case VCHAT_ERROR_OFFLINE:
      hint = _("Check the server in Preferences and your network.");
      break;
    case VCHAT_ERROR_NO_DAEMON:
      hint = _("The vchat service is not running; it is part of the vchat package.");
      break;
    case VCHAT_ERROR_BUSY:
      hint = _("End the current call first.");
      break;
    case VCHAT_ERROR_INVITE_EXPIRED:
      hint = _("Ask your friend for a new invite.");
      break;
    case VCHAT_ERROR_NOT_FOUND:
      hint = _("Check the link, or ask your friend for a new invite.");
      break;
    default:
      break;
    }
  }
  text = hint ? g_strdup_printf ("%s: %s %s", what, error->message, hint)
              : g_strdup_printf ("%s: %s", what, error->message);
  vchat_window_toast (self, text);
}

static gboolean
call_active (VChatCall *call)
{
  return call && vchat_call_get_state (call) != VCHAT_CALL_STATE_ENDED;
}

/* -- blocked strangers -------------------------------------------------- */

/* Strangers have no identity but the display name they chose: a block
 * remembers that name, in a file of its own (the daemon's settings have no
 * key for it). Anonymous strangers cannot be recognised again. */
static char *
blocked_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "vchat", "blocked-names", NULL);
}

static gboolean
is_blocked (const char *name)
{
  g_autofree char *path = blocked_path ();
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;

  if (!name || !*name || !g_file_get_contents (path, &contents, NULL, NULL))
    return FALSE;
  lines = g_strsplit (contents, "\n", -1);
  return g_strv_contains ((const char *const *) lines, name);
}

static gboolean
block_name (const char *name, GError **error)
{
  g_autofree char *path = blocked_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *contents = NULL;
  g_autofree char *updated = NULL;

  if (is_blocked (name))
    return TRUE;
  if (g_mkdir_with_parents (dir, 0700) < 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "%s: %s", dir,
                 g_strerror (errno));
    return FALSE;
  }
  if (!g_file_get_contents (path, &contents, NULL, NULL))
    contents = g_strdup ("");
  updated = g_strconcat (contents, name, "\n", NULL);
  return g_file_set_contents_full (path, updated, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                   error);
}

/* -- video -------------------------------------------------------------- */

static void
stop_feeds (VchatWindow *self)
{
  g_clear_pointer (&self->remote_feed, vchat_video_feed_free);
  g_clear_pointer (&self->preview_feed, vchat_video_feed_free);
}

static void
sync_feeds (VchatWindow *self)
{
  VChatCallState state = self->call ? vchat_call_get_state (self->call) : VCHAT_CALL_STATE_ENDED;
  gboolean wanted = state == VCHAT_CALL_STATE_CONNECTING || state == VCHAT_CALL_STATE_CONNECTED ||
                    state == VCHAT_CALL_STATE_RECONNECTING;

  if (!wanted) {
    stop_feeds (self);
    return;
  }
  if (!self->remote_feed)
    self->remote_feed = vchat_video_feed_new (self->remote_picture, self->call, VCHAT_VIDEO_REMOTE);
  if (!self->preview_feed)
    self->preview_feed =
      vchat_video_feed_new (self->preview_picture, self->call, VCHAT_VIDEO_PREVIEW);
}

/* -- what the window shows ---------------------------------------------- */

static const char *
signaling_text (VchatWindow *self)
{
  if (!self->client || !vchat_client_get_connected (self->client))
    return _("The vchat service is not running");
  switch (vchat_client_get_signaling_state (self->client)) {
  case VCHAT_SIGNALING_STATE_OFFLINE:
    return _("Offline: check the server in Preferences");
  case VCHAT_SIGNALING_STATE_CONNECTING:
    return _("Connecting to the server…");
  case VCHAT_SIGNALING_STATE_RECONNECTING:
    return _("Reconnecting to the server…");
  case VCHAT_SIGNALING_STATE_ONLINE:
  default:
    return _("Online");
  }
}

static const char *
state_text (VChatCall *call)
{
  gboolean invite = vchat_call_get_kind (call) == VCHAT_CALL_KIND_INVITE;

  switch (vchat_call_get_state (call)) {
  case VCHAT_CALL_STATE_SEARCHING:
    return invite ? _("Waiting for your friend to open the link…")
                  : _("Looking for someone to talk to…");
  case VCHAT_CALL_STATE_INCOMING:
    return _("Ringing");
  case VCHAT_CALL_STATE_RINGING:
    return _("Calling your friend…");
  case VCHAT_CALL_STATE_CONNECTING:
    return _("Connecting…");
  case VCHAT_CALL_STATE_CONNECTED:
    return _("Connected");
  case VCHAT_CALL_STATE_RECONNECTING:
    return _("The connection broke; reconnecting…");
  case VCHAT_CALL_STATE_ENDED:
  default:
    return _("Call ended");
  }
}

static char *
peer_text (VChatCall *call)
{
  const char *name = vchat_call_get_peer_name (call);
  const char *const *common = vchat_call_get_common_interests (call);
  g_autofree char *joined = common && common[0] ? g_strjoinv (", ", (char **) common) : NULL;
  const char *who;

  if (name && *name)
    who = name;
  else if (vchat_call_get_kind (call) == VCHAT_CALL_KIND_INVITE)
    who = _("Your friend");
  else
    who = _("A stranger");
  if (joined)
    /* Translators: a person, and the interests you share */
    return g_strdup_printf (_("%s · likes %s"), who, joined);
  return g_strdup (who);
}

static void
update_quality (VchatWindow *self)
{
  const char *quality = self->call ? vchat_call_get_quality (self->call) : NULL;
  g_autoptr (VChatStats) stats = self->call ? vchat_call_dup_stats (self->call) : NULL;
  GtkWidget *label = GTK_WIDGET (self->quality_label);

  gtk_widget_remove_css_class (label, "success");
  gtk_widget_remove_css_class (label, "warning");
  gtk_widget_remove_css_class (label, "error");
  if (!quality || vchat_call_get_state (self->call) != VCHAT_CALL_STATE_CONNECTED) {
    gtk_widget_set_visible (label, FALSE);
    return;
  }
  if (g_str_equal (quality, "good")) {
    gtk_label_set_text (self->quality_label, _("Good connection"));
    gtk_widget_add_css_class (label, "success");
  } else if (g_str_equal (quality, "fair")) {
    gtk_label_set_text (self->quality_label, _("Fair connection"));
    gtk_widget_add_css_class (label, "warning");
  } else {
    gtk_label_set_text (self->quality_label, _("Poor connection"));
    gtk_widget_add_css_class (label, "error");
  }
  if (stats) {
    g_autofree char *tip =
      g_strdup_printf (_("Round trip %.0f ms · receiving %.0f kbit/s, %u×%u at %.0f fps · "
                         "sending %.0f kbit/s · %.1f %% lost"),
                       stats->rtt_ms, stats->recv_kbps, stats->recv_width, stats->recv_height,
                       stats->recv_fps, stats->send_kbps, stats->loss_pct);
    gtk_widget_set_tooltip_text (label, tip);
  }
  gtk_widget_set_visible (label, TRUE);
}

static void
set_action_enabled (VchatWindow *self, const char *name, gboolean enabled)
{
  GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), name);

  g_simple_action_set_enabled (G_SIMPLE_ACTION (action), enabled);
}

static void
set_action_state (VchatWindow *self, const char *name, gboolean state)
{
  GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), name);

  g_simple_action_set_state (G_SIMPLE_ACTION (action), g_variant_new_boolean (state));
}

static void
show_invite (VchatWindow *self, const char *link)
{
  g_autoptr (GdkTexture) qr = vchat_qr_texture_new (link);

  g_free (self->invite_link);
  self->invite_link = g_strdup (link);
  gtk_label_set_text (self->link_label, link);
  gtk_picture_set_paintable (self->qr_picture, GDK_PAINTABLE (qr));
  gtk_widget_set_visible (GTK_WIDGET (self->qr_picture), qr != NULL);
  g_debug ("invite link: %s", link);
}

static void
update (VchatWindow *self)
{
  VChatCall *call = call_active (self->call) ? self->call : NULL;
  VChatCallState state = call ? vchat_call_get_state (call) : VCHAT_CALL_STATE_ENDED;
  gboolean online = self->client && vchat_client_get_connected (self->client) &&
                    vchat_client_get_signaling_state (self->client) ==
                      VCHAT_SIGNALING_STATE_ONLINE;
  gboolean random = call && vchat_call_get_kind (call) == VCHAT_CALL_KIND_RANDOM;
  gboolean talking = state == VCHAT_CALL_STATE_CONNECTED ||
                     state == VCHAT_CALL_STATE_CONNECTING ||
                     state == VCHAT_CALL_STATE_RECONNECTING;
  gboolean inviting = call && !random && state == VCHAT_CALL_STATE_SEARCHING;
  const char *page;

  /* an invite made elsewhere (vchatctl invite): its link from its code */
  if (inviting && !self->invite_link && vchat_call_get_invite_code (call) && self->client) {
    g_autofree char *link = vchat_link_build (vchat_call_get_invite_code (call),
                                              vchat_client_get_server (self->client));
    show_invite (self, link);
  }

  if (!call)
    page = "start";
  else if (state == VCHAT_CALL_STATE_INCOMING)
    page = "incoming";
  else if (inviting && self->invite_link)
    page = "invite";
  else
    page = "call";
  adw_view_stack_set_visible_child_name (self->stack, page);

  adw_window_title_set_subtitle (self->window_title,
                                 call ? state_text (call) : signaling_text (self));

  gtk_widget_set_visible (GTK_WIDGET (self->stop_button), call != NULL);
  /* Next leaves someone; while searching there is no one to leave */
  gtk_widget_set_visible (GTK_WIDGET (self->next_button), random && talking);
  gtk_widget_set_visible (GTK_WIDGET (self->chat_button), talking);
  set_action_enabled (self, "start", online && !call);
  set_action_enabled (self, "invite", online && !call);
  set_action_enabled (self, "join", self->client != NULL && !call);
  set_action_enabled (self, "stop", call != NULL);
  set_action_enabled (self, "next", random && talking && online);
  set_action_enabled (self, "next-key", random && talking && online);
  set_action_enabled (self, "accept", state == VCHAT_CALL_STATE_INCOMING);
  set_action_enabled (self, "decline", state == VCHAT_CALL_STATE_INCOMING);
  set_action_enabled (self, "mute", talking);
  set_action_enabled (self, "camera-off", talking);
  set_action_enabled (self, "chat", talking);
  set_action_enabled (self, "report", talking);
  set_action_enabled (self, "block", talking);
  set_action_enabled (self, "copy-link", self->invite_link != NULL);

  if (call) {
    g_autofree char *peer = peer_text (call);
    gtk_label_set_text (self->peer_label, peer);
    gboolean muted = vchat_call_get_muted (call);
    gboolean camera_off = !vchat_call_get_camera_enabled (call);

    set_action_state (self, "mute", muted);
    set_action_state (self, "camera-off", camera_off);
    gtk_button_set_icon_name (self->mute_button, muted ? "microphone-disabled-symbolic"
                                                       : "audio-input-microphone-symbolic");
    gtk_widget_set_tooltip_text (GTK_WIDGET (self->mute_button),
                                 muted ? _("Unmute (Ctrl+M)") : _("Mute (Ctrl+M)"));
    gtk_button_set_icon_name (self->camera_button,
                              camera_off ? "camera-disabled-symbolic" : "camera-web-symbolic");
    gtk_widget_set_tooltip_text (GTK_WIDGET (self->camera_button),
                                 camera_off ? _("Turn the Camera On (Ctrl+E)")
                                            : _("Turn the Camera Off (Ctrl+E)"));
    if (state == VCHAT_CALL_STATE_INCOMING) {
      g_autofree char *title = NULL;
      const char *name = vchat_call_get_peer_name (call);
      if (name && *name)
        /* Translators: someone is calling, by their display name */
        title = g_strdup_printf (_("%s Is Calling"), name);
      else
        title = g_strdup (_("Your Friend Is Calling"));
      adw_status_page_set_title (self->incoming_page, title);
    }
  }
  gtk_widget_set_visible (self->status_box, call && state != VCHAT_CALL_STATE_CONNECTED);
  gtk_spinner_set_spinning (self->status_spinner, call && state != VCHAT_CALL_STATE_CONNECTED);
  if (call)
    gtk_label_set_text (self->status_label, state_text (call));
  gtk_widget_set_visible (self->info_box, talking);
  gtk_widget_set_visible (self->controls, talking);
  gtk_widget_set_visible (self->preview_clamp, talking);
  if (!talking)
    adw_flap_set_reveal_flap (self->flap, FALSE);
  update_quality (self);
}

/* -- the current call --------------------------------------------------- */

static const char *
end_text (VChatCall *call)
{
  gboolean random = vchat_call_get_kind (call) == VCHAT_CALL_KIND_RANDOM;

  switch (vchat_call_get_end_reason (call)) {
  case VCHAT_END_REASON_PEER_HANGUP:
    return random ? _("The stranger left. Press Start to meet someone new.")
                  : _("Your friend hung up.");
  case VCHAT_END_REASON_PEER_NEXT:
    return _("The stranger moved on. Press Start to meet someone new.");
  case VCHAT_END_REASON_REJECTED:
    return _("Your friend declined the call.");
  case VCHAT_END_REASON_PEER_LOST:
    return _("The other side lost its connection. Try again in a moment.");
  case VCHAT_END_REASON_NETWORK:
    return _("The connection was lost. Check your network, then start again.");
  case VCHAT_END_REASON_EXPIRED:
    return _("The invite expired. Create a new one for your friend.");
  case VCHAT_END_REASON_ERROR:
    return _("The call failed. Start again; if it keeps failing, check the server in "
             "Preferences.");
  case VCHAT_END_REASON_HANGUP:
  case VCHAT_END_REASON_NEXT:
  case VCHAT_END_REASON_NONE:
  default:
    return NULL;
  }
}

static void
on_call_state (VChatCall *call, GParamSpec *pspec, VchatWindow *self)
{
  VChatCallState state = vchat_call_get_state (call);
  VChatCallState was = self->last_state;

  self->last_state = state;
  g_debug ("call %s: %s", vchat_call_get_object_path (call),
           g_enum_to_string (VCHAT_TYPE_CALL_STATE, state));

  if (state == VCHAT_CALL_STATE_ENDED) {
    const char *text = self->ending_by_us ? NULL : end_text (call);
    if (text)
      vchat_window_toast (self, text);
    set_call (self, NULL);
    return;
  }
  /* Answered here or elsewhere (the notification's Accept, vchatctl):
   * the window comes forward with the call. */
  if (was == VCHAT_CALL_STATE_INCOMING &&
      (state == VCHAT_CALL_STATE_CONNECTING || state == VCHAT_CALL_STATE_CONNECTED)) {
    g_debug ("the call was answered: presenting the window");
    gtk_window_present (GTK_WINDOW (self));
  }
  if (state == VCHAT_CALL_STATE_CONNECTED && vchat_call_get_kind (call) == VCHAT_CALL_KIND_RANDOM &&
      is_blocked (vchat_call_get_peer_name (call))) {
    g_autofree char *text =
      g_strdup_printf (_("Skipped %s, whom you blocked."), vchat_call_get_peer_name (call));
    vchat_window_toast (self, text);
    next_activated (NULL, NULL, self);
  }
  sync_feeds (self);
  update (self);
}

static void
on_call_changed (VChatCall *call, GParamSpec *pspec, VchatWindow *self)
{
  update (self);
}

static void
scroll_chat_down (VchatWindow *self)
{
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (self->chat_scroll);

  gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj));
}

static void
add_chat_row (VchatWindow *self, const char *text, gboolean mine)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_label_set_xalign (GTK_LABEL (label), mine ? 1.0 : 0.0);
  gtk_widget_set_halign (label, mine ? GTK_ALIGN_END : GTK_ALIGN_START);
  gtk_widget_add_css_class (label, mine ? "vchat-mine" : "vchat-theirs");
  gtk_widget_set_margin_start (label, mine ? 36 : 6);
  gtk_widget_set_margin_end (label, mine ? 6 : 36);
  gtk_widget_set_margin_top (label, 3);
  gtk_widget_set_margin_bottom (label, 3);
  gtk_list_box_append (self->chat_list, label);
  g_idle_add_once ((GSourceOnceFunc) scroll_chat_down, self);
}

static void
on_message_received (VChatCall *call, const char *text, gint64 time, VchatWindow *self)
{
  g_debug ("chat from the peer: %s", text);
  add_chat_row (self, text, FALSE);
  if (!adw_flap_get_reveal_flap (self->flap)) {
    g_autofree char *peer = peer_text (call);
    /* Translators: a chat message: who, what */
    g_autofree char *title = g_strdup_printf (_("%s: %s"), peer, text);
    AdwToast *toast = adw_toast_new (title);

    adw_toast_set_button_label (toast, _("_Reply"));
    adw_toast_set_action_name (toast, "win.chat");
    adw_toast_overlay_add_toast (self->toast_overlay, toast);
  }
}

static void
clear_chat (VchatWindow *self)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->chat_list))))
    if (GTK_IS_LIST_BOX_ROW (child))
      gtk_list_box_remove (self->chat_list, child);
    else
      break;
}

static void
set_call (VchatWindow *self, VChatCall *call)
{
  if (call == self->call) {
    update (self);
    return;
  }
  stop_feeds (self);
  if (self->call) {
    g_signal_handlers_disconnect_by_data (self->call, self);
    g_clear_object (&self->call);
  }
  g_clear_pointer (&self->invite_link, g_free);
  clear_chat (self);
  self->ending_by_us = FALSE;
  if (call) {
    self->call = g_object_ref (call);
    self->last_state = vchat_call_get_state (call);
    g_signal_connect (call, "notify::state", G_CALLBACK (on_call_state), self);
    g_signal_connect (call, "notify::quality", G_CALLBACK (on_call_changed), self);
    g_signal_connect (call, "notify::stats", G_CALLBACK (on_call_changed), self);
    g_signal_connect (call, "notify::muted", G_CALLBACK (on_call_changed), self);
    g_signal_connect (call, "notify::camera-enabled", G_CALLBACK (on_call_changed), self);
    g_signal_connect (call, "notify::peer-name", G_CALLBACK (on_call_changed), self);
    g_signal_connect (call, "notify::common-interests", G_CALLBACK (on_call_changed), self);
    g_signal_connect (call, "message-received", G_CALLBACK (on_message_received), self);
  }
  sync_feeds (self);
  update (self);
}

/* -- the client --------------------------------------------------------- */

static void
on_client_changed (VChatClient *client, GParamSpec *pspec, VchatWindow *self);

static void
on_incoming_call (VChatClient *client, VChatCall *call, VchatWindow *self)
{
  /* The invite this window shows, or a call while this window has none. */
  if (call == self->call || !call_active (self->call) ||
      vchat_call_get_state (self->call) == VCHAT_CALL_STATE_SEARCHING)
    set_call (self, call);
}

static void
on_call_added (VChatClient *client, VChatCall *call, VchatWindow *self)
{
  VChatCallState state = vchat_call_get_state (call);

  if (!call_active (self->call) && state != VCHAT_CALL_STATE_INCOMING &&
      state != VCHAT_CALL_STATE_ENDED)
    set_call (self, call);
}

static void
sync_camera_dropdown (VchatWindow *self)
{
  GListModel *cameras = vchat_client_get_cameras (self->client);
  const char *current = vchat_client_get_camera (self->client);

  self->syncing_camera = TRUE;
  for (guint i = 0; i < g_list_model_get_n_items (cameras); i++) {
    g_autoptr (VChatCamera) camera = g_list_model_get_item (cameras, i);
    if (g_strcmp0 (vchat_camera_get_id (camera), current) == 0)
      gtk_drop_down_set_selected (self->camera_dropdown, i);
  }
  self->syncing_camera = FALSE;
}

static void
camera_selected_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;

  if (!vchat_client_select_camera_finish (VCHAT_CLIENT (source), result, &error) &&
      !is_cancelled (error))
    toast_error (VCHAT_WINDOW (data), _("The camera could not be switched"), error);
}

static void
on_camera_dropdown (GtkDropDown *dropdown, GParamSpec *pspec, VchatWindow *self)
{
  VChatCamera *camera = gtk_drop_down_get_selected_item (dropdown);

  /* Only a person's choice, in the open popover: the selection also moves
   * when the model is set or cameras come and go. */
  if (self->syncing_camera || !gtk_widget_get_mapped (GTK_WIDGET (dropdown)) || !camera ||
      !self->client ||
      g_strcmp0 (vchat_camera_get_id (camera), vchat_client_get_camera (self->client)) == 0)
    return;
  vchat_client_select_camera_async (self->client, vchat_camera_get_id (camera), self->cancellable,
                                    camera_selected_cb, self);
}

static void
join_code (VchatWindow *self, const char *code);

static void
on_client_changed (VChatClient *client, GParamSpec *pspec, VchatWindow *self)
{
  /* an invite of another server, waiting for the switch */
  if (self->pending_code && vchat_client_get_connected (client) &&
      vchat_client_get_signaling_state (client) == VCHAT_SIGNALING_STATE_ONLINE &&
      vchat_link_same_server (vchat_client_get_server (client), self->pending_server)) {
    g_autofree char *code = g_steal_pointer (&self->pending_code);
    g_clear_pointer (&self->pending_server, g_free);
    join_code (self, code);
  }
  sync_camera_dropdown (self);
  update (self);
}

void
vchat_window_set_client (VchatWindow *self, VChatClient *client)
{
  GListModel *calls;

  g_return_if_fail (VCHAT_IS_WINDOW (self));

  if (self->client) {
    g_signal_handlers_disconnect_by_data (self->client, self);
    g_clear_object (&self->client);
  }
  if (!client) {
    update (self);
    return;
  }
  self->client = g_object_ref (client);
  g_signal_connect (client, "notify::connected", G_CALLBACK (on_client_changed), self);
  g_signal_connect (client, "notify::signaling-state", G_CALLBACK (on_client_changed), self);
  g_signal_connect (client, "notify::server", G_CALLBACK (on_client_changed), self);
  g_signal_connect (client, "notify::camera", G_CALLBACK (on_client_changed), self);
  g_signal_connect (client, "incoming-call", G_CALLBACK (on_incoming_call), self);
  g_signal_connect (client, "call-added", G_CALLBACK (on_call_added), self);
  self->syncing_camera = TRUE;
  gtk_drop_down_set_model (self->camera_dropdown, vchat_client_get_cameras (client));
  self->syncing_camera = FALSE;
  sync_camera_dropdown (self);

  /* a call already in progress (started by vchatctl, or ringing), or the
   * one app.show-call named */
  calls = vchat_client_get_calls (client);
  for (guint i = g_list_model_get_n_items (calls); i > 0; i--) {
    g_autoptr (VChatCall) call = g_list_model_get_item (calls, i - 1);
    if (call_active (call) || g_strcmp0 (vchat_call_get_object_path (call), self->pending_call) == 0) {
      set_call (self, call);
      break;
    }
  }
  g_clear_pointer (&self->pending_call, g_free);
  update (self);

  if (self->pending_link) {
    g_autofree char *link = g_steal_pointer (&self->pending_link);
    vchat_window_join_link (self, link);
  }
}

/* -- starting calls ----------------------------------------------------- */

static void
random_started_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VChatCall) call = vchat_client_start_random_finish (VCHAT_CLIENT (source), result,
                                                                   &error);

  if (!call) {
    if (!is_cancelled (error))
      toast_error (VCHAT_WINDOW (data), _("No call could be started"), error);
    return;
  }
  set_call (VCHAT_WINDOW (data), call);
}

static void
start_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  VchatWindow *self = data;
  g_auto (GStrv) parts = g_strsplit (gtk_editable_get_text (GTK_EDITABLE (self->interests_row)),
                                     ",", -1);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) interests = NULL;
  g_autofree char *language =
    g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->language_row))));

  if (!self->client || call_active (self->call))
    return;
  for (guint i = 0; parts[i]; i++) {
    g_strstrip (parts[i]);
    if (*parts[i])
      g_strv_builder_add (builder, parts[i]);
  }
  interests = g_strv_builder_end (builder);
  vchat_client_start_random_async (self->client, (const char *const *) interests,
                                   *language ? language : NULL, FALSE, self->cancellable,
                                   random_started_cb, self);
}

static void
next_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VChatCall) call = vchat_call_next_finish (VCHAT_CALL (source), result, &error);

  if (!call) {
    if (!is_cancelled (error))
      toast_error (VCHAT_WINDOW (data), _("No new partner could be found"), error);
    return;
  }
  set_call (VCHAT_WINDOW (data), call);
}

static void
next_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  VchatWindow *self = data;

  if (!call_active (self->call) || vchat_call_get_kind (self->call) != VCHAT_CALL_KIND_RANDOM)
    return;
  self->ending_by_us = TRUE;
  vchat_call_next_async (self->call, self->cancellable, next_cb, self);
}

/* Escape means Next, but not at once while typing in the chat: a message
 * being written is cleared first, and in the empty entry a second Escape
 * within ESCAPE_CONFIRM_US confirms (as the web client asks for a second
 * Escape). The accelerators (win.next-key) run before the entry sees the
 * key, so the action asks where the focus is. TRUE: this press was the
 * chat's, not Next. */
#define ESCAPE_CONFIRM_US (3 * G_USEC_PER_SEC)

static gboolean
next_held_by_chat (VchatWindow *self)
{
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (self));
  GtkWidget *entry = GTK_WIDGET (self->chat_entry);
  gint64 now = g_get_monotonic_time ();

  if (!focus || (focus != entry && !gtk_widget_is_ancestor (focus, entry)) ||
      !gtk_widget_get_mapped (entry)) {
    self->escape_armed = 0;
    return FALSE;
  }
  if (*gtk_editable_get_text (GTK_EDITABLE (entry))) {
    g_debug ("Next in the chat: the message is cleared");
    gtk_editable_set_text (GTK_EDITABLE (entry), "");
    self->escape_armed = 0;
    return TRUE;
  }
  if (!self->escape_armed || now - self->escape_armed > ESCAPE_CONFIRM_US) {
    g_debug ("Next in the chat: asking for a second one");
    self->escape_armed = now;
    vchat_window_toast (self, _("Press Escape again to meet someone else"));
    return TRUE;
  }
  self->escape_armed = 0;
  return FALSE;
}

/* Next from the keyboard (Escape, Ctrl+N): the chat entry may hold it. */
static void
next_key_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  VchatWindow *self = data;

  if (!next_held_by_chat (self))
    next_activated (NULL, NULL, self);
}

/* The call methods that only succeed or fail. */
#define FINISH_CB(name, finish, what)                                                        \
  static void name (GObject *source, GAsyncResult *result, gpointer data)                   \
  {                                                                                          \
    g_autoptr (GError) error = NULL;                                                         \
    if (!finish (VCHAT_CALL (source), result, &error) && !is_cancelled (error))              \
      toast_error (VCHAT_WINDOW (data), what, error);                                        \
  }

FINISH_CB (hangup_cb, vchat_call_hangup_finish, _("The call could not be ended"))
FINISH_CB (reject_cb, vchat_call_reject_finish, _("The call could not be declined"))
FINISH_CB (accept_cb, vchat_call_accept_finish, _("The call could not be answered"))
FINISH_CB (muted_cb, vchat_call_set_muted_finish, _("The microphone could not be switched"))
FINISH_CB (camera_cb, vchat_call_set_camera_enabled_finish,
           _("The camera could not be switched"))

static void
stop_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  VchatWindow *self = data;

  if (!call_active (self->call))
    return;
  self->ending_by_us = TRUE;
  if (vchat_call_get_state (self->call) == VCHAT_CALL_STATE_INCOMING)
    vchat_call_reject_async (self->call, self->cancellable, reject_cb, self);
  else
    vchat_call_hangup_async (self->call, self->cancellable, hangup_cb, self);
}

static void
accept_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  VchatWindow *self = data;

  if (self->call)
    vchat_call_accept_async (self->call, self->cancellable, accept_cb, self);
}

static void
decline_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  VchatWindow *self = data;

  if (!self->call)
    return;
  self->ending_by_us = TRUE;
  vchat_call_reject_async (self->call, self->cancellable, reject_cb, self);
}

static void
mute_changed (GSimpleAction *action, GVariant *value, gpointer data)
{
  VchatWindow *self = data;

  if (!call_active (self->call))
    return;
  g_simple_action_set_state (action, value);
  vchat_call_set_muted_async (self->call, g_variant_get_boolean (value), self->cancellable,
                              muted_cb, self);
}

static void
camera_off_changed (GSimpleAction *action, GVariant *value, gpointer data)
{
  VchatWindow *self = data;

  if (!call_active (self->call))
    return;
  g_simple_action_set_state (action, value);
  vchat_call_set_camera_enabled_async (self->call, !g_variant_get_boolean (value),
                                       self->cancellable, camera_cb, self);
}

static void
chat_changed (GSimpleAction *action, GVariant *value, gpointer data)
{
  VchatWindow *self = data;
  gboolean reveal = g_variant_get_boolean (value);

  g_simple_action_set_state (action, value);
  adw_flap_set_reveal_flap (self->flap, reveal);
  if (reveal)
    gtk_widget_grab_focus (GTK_WIDGET (self->chat_entry));
}

static void
on_flap_revealed (AdwFlap *flap, GParamSpec *pspec, VchatWindow *self)
{
  set_action_state (self, "chat", adw_flap_get_reveal_flap (flap));
}

static void
sent_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;

  if (!vchat_call_send_message_finish (VCHAT_CALL (source), result, &error) &&
      !is_cancelled (error))
    toast_error (VCHAT_WINDOW (data), _("The message was not sent"), error);
}

static void
on_chat_activate (GtkEntry *entry, VchatWindow *self)
{
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (entry))));

  if (!*text || !call_active (self->call))
    return;
  vchat_call_send_message_async (self->call, text, self->cancellable, sent_cb, self);
  add_chat_row (self, text, TRUE);
  gtk_editable_set_text (GTK_EDITABLE (entry), "");
}

static void
on_chat_icon (GtkEntry *entry, GtkEntryIconPosition pos, VchatWindow *self)
{
  on_chat_activate (entry, self);
}

/* -- invites ------------------------------------------------------------ */

static void
invite_created_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  VchatWindow *self = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *link = NULL;
  g_autofree char *code = NULL;
  g_autofree char *server = NULL;
  g_autoptr (VChatCall) call = NULL;

  call = vchat_client_create_invite_finish (VCHAT_CLIENT (source), result, &link, &error);
  if (!call) {
    if (!is_cancelled (error))
      toast_error (self, _("No invite could be created"), error);
    return;
  }
  set_call (self, call);
  /* The link says which server the code belongs to. */
  if (vchat_link_parse (link, &code, &server, NULL)) {
    g_free (link);
    link = vchat_link_build (code, server ? server : vchat_client_get_server (self->client));
  }
  show_invite (self, link);
  update (self);
}

static void
invite_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  VchatWindow *self = data;

  if (!self->client || call_active (self->call))
    return;
  vchat_client_create_invite_async (self->client, 0, NULL, self->cancellable, invite_created_cb,
                                    self);
}

static void
copy_link_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  VchatWindow *self = data;

  if (!self->invite_link)
    return;
  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), self->invite_link);
  vchat_window_toast (self, _("Link copied. Send it to your friend."));
}

static void
joined_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VChatCall) call = vchat_client_join_invite_finish (VCHAT_CLIENT (source), result,
                                                                  &error);

  if (!call) {
    if (!is_cancelled (error))
      toast_error (VCHAT_WINDOW (data), _("The invite could not be joined"), error);
    return;
  }
  set_call (VCHAT_WINDOW (data), call);
}

static void
join_code (VchatWindow *self, const char *code)
{
  g_debug ("joining %s", code);
  vchat_client_join_invite_async (self->client, code, self->cancellable, joined_cb, self);
}

static void
on_switch_server (AdwMessageDialog *dialog, const char *response, VchatWindow *self)
{
  GApplication *app = g_application_get_default ();
  GSettings *settings = VCHAT_IS_APPLICATION (app)
                          ? vchat_application_get_settings (VCHAT_APPLICATION (app))
                          : NULL;

  if (!g_str_equal (response, "switch")) {
    g_clear_pointer (&self->pending_code, g_free);
    g_clear_pointer (&self->pending_server, g_free);
    return;
  }
  if (!settings) {
    vchat_window_toast (self, _("The settings of vchat are not installed: set the server with "
                                "“vchatctl config set server-url URL”."));
    return;
  }
  g_settings_set_string (settings, "server-url", self->pending_server);
  vchat_window_toast (self, _("Switching to the invite's server…"));
}

void
vchat_window_show_call (VchatWindow *self, const char *path)
{
  GListModel *calls;

  g_return_if_fail (VCHAT_IS_WINDOW (self));

  g_debug ("show call %s", path);
  if (!self->client) {
    g_free (self->pending_call);
    self->pending_call = g_strdup (path);
    return;
  }
  calls = vchat_client_get_calls (self->client);
  for (guint i = 0; i < g_list_model_get_n_items (calls); i++) {
    g_autoptr (VChatCall) call = g_list_model_get_item (calls, i);
    if (g_strcmp0 (vchat_call_get_object_path (call), path) == 0) {
      if (call != self->call && vchat_call_get_state (call) != VCHAT_CALL_STATE_ENDED)
        set_call (self, call);
      return;
    }
  }
}

void
vchat_window_join_link (VchatWindow *self, const char *link)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *code = NULL;
  g_autofree char *server = NULL;
  const char *current;
  AdwMessageDialog *dialog;

  g_return_if_fail (VCHAT_IS_WINDOW (self));

  if (!self->client) {
    g_free (self->pending_link);
    self->pending_link = g_strdup (link);
    return;
  }
  if (!vchat_link_parse (link, &code, &server, &error)) {
    vchat_window_toast (self, error->message);
    return;
  }
  if (call_active (self->call)) {
    vchat_window_toast (self, _("End the current call first, then open the invite again."));
    return;
  }
  current = vchat_client_get_server (self->client);
  if (!server || vchat_link_same_server (server, current)) {
    join_code (self, code);
    return;
  }

  /* The daemon keeps one server connection: an invite of another server
   * needs the server setting changed. */
  g_free (self->pending_code);
  self->pending_code = g_steal_pointer (&code);
  g_free (self->pending_server);
  self->pending_server = g_strdup (server);
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self),
                                                       _("Invite from Another Server"), NULL));
  adw_message_dialog_format_body (dialog,
                                  _("This invite was made on %s, but vchat is connected to %s. "
                                    "vchat can join it after switching to that server; calls "
                                    "on the current server end, and random calls then meet "
                                    "people on the new one."),
                                  server, current && *current ? current : _("no server"));
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "switch",
                                    _("_Switch Server and Join"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "switch", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "switch");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect (dialog, "response", G_CALLBACK (on_switch_server), self);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_join_response (AdwMessageDialog *dialog, const char *response, VchatWindow *self)
{
  GtkEditable *entry = GTK_EDITABLE (adw_message_dialog_get_extra_child (dialog));

  if (g_str_equal (response, "join"))
    vchat_window_join_link (self, gtk_editable_get_text (entry));
}

static void
join_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  VchatWindow *self = data;
  AdwMessageDialog *dialog;
  GtkWidget *entry = gtk_entry_new ();

  gtk_entry_set_placeholder_text (GTK_ENTRY (entry), _("vchat://join/… or abcd-efgh-ijkl-mnop"));
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (
    GTK_WINDOW (self), _("Join an Invite"),
    _("Paste the link or the code your friend sent you.")));
  adw_message_dialog_set_extra_child (dialog, entry);
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "join", _("_Join"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "join", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "join");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect (dialog, "response", G_CALLBACK (on_join_response), self);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* -- report and block --------------------------------------------------- */

static void
move_on (VchatWindow *self)
{
  if (!call_active (self->call))
    return;
  if (vchat_call_get_kind (self->call) == VCHAT_CALL_KIND_RANDOM)
    g_action_group_activate_action (G_ACTION_GROUP (self), "next", NULL);
  else
    g_action_group_activate_action (G_ACTION_GROUP (self), "stop", NULL);
}

static void
reported_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  VchatWindow *self = data;
  g_autoptr (GError) error = NULL;

  if (!vchat_call_report_finish (VCHAT_CALL (source), result, &error)) {
    if (!is_cancelled (error))
      toast_error (self, _("The report was not sent"), error);
    return;
  }
  vchat_window_toast (self, _("Thank you. The report went to the server's operators."));
  move_on (self);
}

static void
on_report_response (AdwMessageDialog *dialog, const char *response, VchatWindow *self)
{
  if (g_str_equal (response, "cancel") || !call_active (self->call))
    return;
  vchat_call_report_async (self->call, response, self->cancellable, reported_cb, self);
}

static void
report_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  VchatWindow *self = data;
  AdwMessageDialog *dialog;

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (
    GTK_WINDOW (self), _("Report This Person?"),
    _("The server's operators are told why, and the call ends. Nothing of the call itself is "
      "sent.")));
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "spam", _("_Spam"), "abuse",
                                    _("_Abuse or Nudity"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "abuse", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_response_appearance (dialog, "spam", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect (dialog, "response", G_CALLBACK (on_report_response), self);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
block_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  VchatWindow *self = data;
  g_autoptr (GError) error = NULL;
  const char *name;

  if (!call_active (self->call))
    return;
  name = vchat_call_get_peer_name (self->call);
  if (name && *name) {
    g_autofree char *text = NULL;
    if (!block_name (name, &error)) {
      toast_error (self, _("The block was not saved"), error);
    } else {
      text = g_strdup_printf (_("Blocked %s: vchat skips them when you meet again."), name);
      vchat_window_toast (self, text);
    }
  } else {
    vchat_window_toast (self, _("This stranger is anonymous, so vchat cannot recognise them "
                                "again; the server keeps you apart for a while."));
  }
  move_on (self);
}

/* -- the window --------------------------------------------------------- */

static const GActionEntry win_actions[] = {
  { "start", start_activated },
  { "next", next_activated },
  { "next-key", next_key_activated },
  { "stop", stop_activated },
  { "accept", accept_activated },
  { "decline", decline_activated },
  { "mute", NULL, NULL, "false", mute_changed },
  { "camera-off", NULL, NULL, "false", camera_off_changed },
  { "chat", NULL, NULL, "false", chat_changed },
  { "invite", invite_activated },
  { "join", join_activated },
  { "copy-link", copy_link_activated },
  { "report", report_activated },
  { "block", block_activated },
};

static void
vchat_window_dispose (GObject *object)
{
  VchatWindow *self = VCHAT_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  stop_feeds (self);
  if (self->call) {
    g_signal_handlers_disconnect_by_data (self->call, self);
    g_clear_object (&self->call);
  }
  if (self->client) {
    g_signal_handlers_disconnect_by_data (self->client, self);
    g_clear_object (&self->client);
  }
  G_OBJECT_CLASS (vchat_window_parent_class)->dispose (object);
}

static void
vchat_window_finalize (GObject *object)
{
  VchatWindow *self = VCHAT_WINDOW (object);

  g_clear_object (&self->cancellable);
  g_free (self->invite_link);
  g_free (self->pending_link);
  g_free (self->pending_call);
  g_free (self->pending_code);
  g_free (self->pending_server);
  G_OBJECT_CLASS (vchat_window_parent_class)->finalize (object);
}

static void
vchat_window_class_init (VchatWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = vchat_window_dispose;
  object_class->finalize = vchat_window_finalize;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/vchat/VChat/vchat-window.ui");
#define CHILD(name) gtk_widget_class_bind_template_child (widget_class, VchatWindow, name)
  CHILD (toast_overlay);
  CHILD (stop_button);
  CHILD (next_button);
  CHILD (window_title);
  CHILD (chat_button);
  CHILD (stack);
  CHILD (interests_row);
  CHILD (language_row);
  CHILD (flap);
  CHILD (remote_picture);
  CHILD (preview_picture);
  CHILD (preview_clamp);
  CHILD (mute_button);
  CHILD (camera_button);
  CHILD (status_box);
  CHILD (status_spinner);
  CHILD (status_label);
  CHILD (info_box);
  CHILD (peer_label);
  CHILD (quality_label);
  CHILD (controls);
  CHILD (camera_dropdown);
  CHILD (chat_list);
  CHILD (chat_scroll);
  CHILD (chat_entry);
  CHILD (invite_page);
  CHILD (qr_picture);
  CHILD (link_label);
  CHILD (incoming_page);
#undef CHILD
}

static void
vchat_window_init (VchatWindow *self)
{
  g_autoptr (GtkExpression) name = NULL;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  self->last_state = VCHAT_CALL_STATE_ENDED;
  g_action_map_add_action_entries (G_ACTION_MAP (self), win_actions, G_N_ELEMENTS (win_actions),
                                   self);

  name = gtk_property_expression_new (VCHAT_TYPE_CAMERA, NULL, "name");
  gtk_drop_down_set_expression (self->camera_dropdown, name);
  g_signal_connect (self->camera_dropdown, "notify::selected", G_CALLBACK (on_camera_dropdown),
                    self);
  g_signal_connect (self->flap, "notify::reveal-flap", G_CALLBACK (on_flap_revealed), self);
  g_signal_connect (self->chat_entry, "activate", G_CALLBACK (on_chat_activate), self);
  g_signal_connect (self->chat_entry, "icon-release", G_CALLBACK (on_chat_icon), self);
  update (self);
}

VchatWindow *
vchat_window_new (VchatApplication *app)
{
  VchatWindow *self = g_object_new (VCHAT_TYPE_WINDOW, "application", app, NULL);
  VChatClient *client = vchat_application_get_client (app);

  if (client)
    vchat_window_set_client (self, client);
  return self;
}
