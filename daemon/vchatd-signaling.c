/* vchatd-signaling.c: the daemon's connection to vchat-signald
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "vchatd-signaling.h"

#include <glib/gi18n.h>
#include <libsoup/soup.h>
#include <string.h>

#define BACKOFF_MIN_S 1
#define BACKOFF_MAX_S 30
/* Each wait before a retry is the backoff times a random factor from 0.5
 * to 1, so that clients dropped together (a server restart) do not all
 * come back at the same instants. */
#define BACKOFF_JITTER_MIN 0.5

/* A connection can die without TCP noticing for minutes: a laptop moves
 * from Wi-Fi to Ethernet, and the old address is gone. So the daemon asks
 * the server (a protocol ping; any frame from it counts as the answer):
 *   - when the network changes (GNetworkMonitor): an answer within 3 s;
 *   - after 25 s without a frame (the server pings every 20 s): within 5 s.
 * No answer: the connection is given up and a new one made at once (the
 * session is resumed on it). While a question is out, messages wait in the
 * outbox rather than go into a socket that may be dead; they go out on the
 * answer, or on the resumed session. */
#define PROBE_AFTER_SILENCE_US (G_GINT64_CONSTANT (25) * G_USEC_PER_SEC)
#define PROBE_SILENCE_TIMEOUT_US (G_GINT64_CONSTANT (5) * G_USEC_PER_SEC)
#define PROBE_NETWORK_TIMEOUT_US (G_GINT64_CONSTANT (3) * G_USEC_PER_SEC)

struct _VchatdSignaling {
  GObject parent_instance;

  char *url;
  char *display_name;
  VchatdSignalingState state;
  gboolean running;

  SoupSession *session;
  SoupWebsocketConnection *ws;
  GCancellable *cancellable;
  guint retry_source;
  guint watchdog_source;
  guint backoff_s;
  gint64 last_rx;
  gint64 probe_deadline; /* 0: no question out */
  const char *probe_reason;
  GNetworkMonitor *monitor;

  /* Paced sending: the server drops what goes over its rate (limits in
   * welcome), and a dropped ICE candidate breaks a call, so frames wait
   * here rather than be lost. */
  GQueue outbox;
  double tokens;
  double rate;
  gint64 last_refill;
  guint flush_source;

  /* The access token from the keyring, or NULL; never logged. */
  char *token;
  /* The server refused the token (or its absence): its message, kept until
   * the token changes; retries are slow meanwhile. */
  char *unauthorized;
  gboolean warned_unauthorized;

  char *session_id;
  char *resume;
  gboolean sent_resume;
  JsonArray *ice_servers;
};

enum { PROP_0, PROP_STATE, N_PROPS };
enum { SIGNAL_MESSAGE, SIGNAL_SESSION_LOST, N_SIGNALS };

static GParamSpec *props[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (VchatdSignaling, vchatd_signaling, G_TYPE_OBJECT)

static void connect_now (VchatdSignaling *self);

const char *
vchatd_signaling_state_to_string (VchatdSignalingState state)
{
  switch (state) {
  case VCHATD_SIGNALING_OFFLINE:
    return "offline";
  case VCHATD_SIGNALING_CONNECTING:
    return "connecting";
  case VCHATD_SIGNALING_ONLINE:
    return "online";
  case VCHATD_SIGNALING_RECONNECTING:
    return "reconnecting";
  }
  g_assert_not_reached ();
}

static void
set_state (VchatdSignaling *self, VchatdSignalingState state)
{
  if (self->state == state)
    return;
  g_debug ("signaling: %s", vchatd_signaling_state_to_string (state));
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STATE]);
}

static char *
normalize_url (const char *url)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const char *scheme;
  const char *path;

  if (!uri)
    return g_strdup (url);
  scheme = g_uri_get_scheme (uri);
  path = g_uri_get_path (uri);
  if (g_str_equal (scheme, "http") || g_str_equal (scheme, "https")) {
    g_autofree char *base = g_strdup (path);
    g_autofree char *ws_path = NULL;
    g_autoptr (GUri) ws = NULL;

    /* A web address of the server works too: its WebSocket is at /ws. */
    if (g_str_has_suffix (base, "/"))
      base[strlen (base) - 1] = '\0';
    ws_path = g_str_has_suffix (base, "/ws") ? g_strdup (base) : g_strconcat (base, "/ws", NULL);
    ws = g_uri_build (G_URI_FLAGS_NONE, g_str_equal (scheme, "https") ? "wss" : "ws", NULL,
                      g_uri_get_host (uri), g_uri_get_port (uri), ws_path, NULL, NULL);
    return g_uri_to_string (ws);
  }
  return g_strdup (url);
}

static void
drop_connection (VchatdSignaling *self)
{
  if (self->ws) {
    g_signal_handlers_disconnect_by_data (self->ws, self);
    if (soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (self->ws, 4100, "reconnecting");
    g_clear_object (&self->ws);
  }
  g_clear_handle_id (&self->watchdog_source, g_source_remove);
  g_clear_handle_id (&self->flush_source, g_source_remove);
  self->probe_deadline = 0;
}

static gboolean
retry_cb (gpointer data)
{
  VchatdSignaling *self = data;

  self->retry_source = 0;
  connect_now (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_retry_after (VchatdSignaling *self, gboolean at_once)
{
  guint delay_ms;

  drop_connection (self);
  if (!self->running)
    return;
  g_clear_handle_id (&self->retry_source, g_source_remove);
  if (self->unauthorized) {
    /* Only a person can fix the token; look again now and then, in case
     * the server stops asking for one. */
    set_state (self, VCHATD_SIGNALING_OFFLINE);
    self->retry_source = g_timeout_add_seconds (BACKOFF_MAX_S, retry_cb, self);
    return;
  }
  set_state (self, VCHATD_SIGNALING_RECONNECTING);
  delay_ms = at_once ? 0
                     : (guint) (self->backoff_s * 1000 *
                                g_random_double_range (BACKOFF_JITTER_MIN, 1.0));
  g_debug ("signaling: retrying in %.1f s", delay_ms / 1000.0);
  self->retry_source = g_timeout_add (delay_ms, retry_cb, self);
  self->backoff_s = MIN (self->backoff_s * 2, BACKOFF_MAX_S);
}

static void
schedule_retry (VchatdSignaling *self)
{
  schedule_retry_after (self, FALSE);
}

static gboolean flush_cb (gpointer data);

static void
flush (VchatdSignaling *self)
{
  gint64 now = g_get_monotonic_time ();
  /* Stay a little under the server's limit, with a smaller burst. */
  double rate = self->rate * 0.8;
  double burst = self->rate * 2;

  self->tokens = MIN (burst, self->tokens + (now - self->last_refill) * rate / G_USEC_PER_SEC);
  self->last_refill = now;
  if (self->probe_deadline)
    return; /* held until the server answers */
  while (self->ws && self->tokens >= 1 && !g_queue_is_empty (&self->outbox)) {
    g_autofree char *text = g_queue_pop_head (&self->outbox);
    soup_websocket_connection_send_text (self->ws, text);
    self->tokens -= 1;
  }
  if (!g_queue_is_empty (&self->outbox) && !self->flush_source && self->ws)
    self->flush_source = g_timeout_add (MAX (1, (guint) (1000.0 / rate)), flush_cb, self);
}

static gboolean
flush_cb (gpointer data)
{
  VchatdSignaling *self = data;

  self->flush_source = 0;
  flush (self);
  return G_SOURCE_REMOVE;
}

static void
send_text (VchatdSignaling *self, JsonObject *msg)
{
  g_queue_push_tail (&self->outbox, vchat_msg_object_to_string (msg));
  flush (self);
}

/* Keepalive answers and hello bypass the queue: they are never many. */
static void
send_now (VchatdSignaling *self, JsonObject *msg)
{
  g_autofree char *text = vchat_msg_object_to_string (msg);

  soup_websocket_connection_send_text (self->ws, text);
}

static void
handle_welcome (VchatdSignaling *self, VchatMsg *msg)
{
  gboolean resumed = vchat_msg_get_bool (msg, "resumed");
  JsonNode *servers = json_object_get_member (msg->object, "ice_servers");
  JsonObject *limits = vchat_msg_get_object (msg, "limits");
  gboolean lost = self->sent_resume && !resumed;

  if (limits && json_object_get_int_member_with_default (limits, "max_rate", 0) > 0)
    self->rate = json_object_get_int_member (limits, "max_rate");
  if (lost)
    g_queue_clear_full (&self->outbox, g_free);

  g_free (self->session_id);
  self->session_id = g_strdup (vchat_msg_get_string (msg, "session"));
  g_free (self->resume);
  self->resume = g_strdup (vchat_msg_get_string (msg, "resume"));
  g_clear_pointer (&self->ice_servers, json_array_unref);
  self->ice_servers = json_array_ref (json_node_get_array (servers));
  self->backoff_s = BACKOFF_MIN_S;
  g_clear_pointer (&self->unauthorized, g_free);
  self->warned_unauthorized = FALSE;
  g_debug ("signaling: welcome, session %s%s", self->session_id,
           resumed ? " (resumed)"
           : lost  ? " (the old session expired)"
                   : "");
  set_state (self, VCHATD_SIGNALING_ONLINE);
  flush (self);
  if (lost)
    g_signal_emit (self, signals[SIGNAL_SESSION_LOST], 0);
}

static void
on_message (SoupWebsocketConnection *ws, gint type, GBytes *bytes, gpointer data)
{
  VchatdSignaling *self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (VchatMsg) msg = NULL;
  gsize len;
  const char *text = g_bytes_get_data (bytes, &len);

  self->last_rx = g_get_monotonic_time ();
  if (self->probe_deadline) {
    g_debug ("signaling: the server answered (%s)", self->probe_reason);
    self->probe_deadline = 0;
    flush (self);
  }
  if (type != SOUP_WEBSOCKET_DATA_TEXT) {
    g_warning ("signaling: the server sent a binary frame; ignored");
    return;
  }
  msg = vchat_msg_parse (text, len, 0, VCHAT_MSG_FROM_SERVER, NULL, &error);
  if (!msg) {
    /* A server that breaks the protocol is a bug there; say so, go on. */
    g_warning ("signaling: invalid message from the server ignored: %s", error->message);
    return;
  }

  switch (msg->type) {
  case VCHAT_MSG_WELCOME:
    handle_welcome (self, msg);
    break;
  case VCHAT_MSG_PING: {
    g_autoptr (JsonObject) pong = vchat_msg_object_new (VCHAT_MSG_PONG);
    send_now (self, pong);
    break;
  }
  case VCHAT_MSG_PONG:
    break;
  case VCHAT_MSG_ERROR:
    if (g_strcmp0 (vchat_msg_get_string (msg, "code"), "unauthorized") == 0) {
      g_free (self->unauthorized);
      self->unauthorized = g_strdup (vchat_msg_get_string (msg, "message"));
      if (!self->warned_unauthorized)
        g_warning ("signaling: the server %s refused us: %s (%s access token was sent)", self->url,
                   self->unauthorized, self->token ? "an" : "no");
      self->warned_unauthorized = TRUE;
      break;
    }
    G_GNUC_FALLTHROUGH;
  case VCHAT_MSG_MATCHED:
  case VCHAT_MSG_INCOMING:
    /* TURN servers come with the call they are for, not with welcome. */
    if (json_object_has_member (msg->object, "ice_servers")) {
      g_clear_pointer (&self->ice_servers, json_array_unref);
      self->ice_servers = json_array_ref (
        json_object_get_array_member (msg->object, "ice_servers"));
    }
    G_GNUC_FALLTHROUGH;
  default:
    g_object_ref (self);
    g_signal_emit (self, signals[SIGNAL_MESSAGE], 0, msg);
    g_object_unref (self);
    break;
  }
}

static void
on_closed (SoupWebsocketConnection *ws, gpointer data)
{
  VchatdSignaling *self = data;

  g_debug ("signaling: connection closed (%u)", soup_websocket_connection_get_close_code (ws));
  schedule_retry (self);
}

/* Asks the server for a sign of life; see PROBE_AFTER_SILENCE_US. */
static void
probe (VchatdSignaling *self, gint64 timeout_us, const char *reason)
{
  g_autoptr (JsonObject) ping = NULL;

  if (!self->ws || soup_websocket_connection_get_state (self->ws) != SOUP_WEBSOCKET_STATE_OPEN ||
      self->probe_deadline)
    return;
  g_debug ("signaling: %s; asking the server whether the connection still works", reason);
  self->probe_reason = reason;
  self->probe_deadline = g_get_monotonic_time () + timeout_us;
  ping = vchat_msg_object_new (VCHAT_MSG_PING);
  send_now (self, ping);
}

void
vchatd_signaling_check (VchatdSignaling *self, const char *reason)
{
  g_return_if_fail (VCHATD_IS_SIGNALING (self));

  if (self->running)
    probe (self, PROBE_NETWORK_TIMEOUT_US, reason);
}

static gboolean
watchdog_cb (gpointer data)
{
  VchatdSignaling *self = data;
  gint64 now = g_get_monotonic_time ();

  if (self->probe_deadline && now > self->probe_deadline) {
    g_message ("signaling: no answer from %s since %s; connecting again", self->url,
               self->probe_reason);
    self->watchdog_source = 0;
    self->backoff_s = BACKOFF_MIN_S;
    /* Only this client lost its path (a server that went away closes
     * every socket, and those retries keep their jitter): at once. */
    schedule_retry_after (self, TRUE);
    return G_SOURCE_REMOVE;
  }
  if (now - self->last_rx > PROBE_AFTER_SILENCE_US)
    probe (self, PROBE_SILENCE_TIMEOUT_US, "the server went silent");
  return G_SOURCE_CONTINUE;
}

/* GNetworkMonitor: addresses or routes changed. A connection made over an
 * address that is gone is dead, and TCP takes minutes to say so; a retry
 * waiting out its backoff may work at once on the new network. */
static void
on_network_changed (GNetworkMonitor *monitor, gboolean available, gpointer data)
{
  VchatdSignaling *self = data;

  if (!self->running)
    return;
  if (self->ws) {
    probe (self, PROBE_NETWORK_TIMEOUT_US, "the network changed");
  } else if (self->retry_source && available && !self->unauthorized) {
    g_debug ("signaling: the network changed; retrying now");
    g_clear_handle_id (&self->retry_source, g_source_remove);
    self->backoff_s = BACKOFF_MIN_S;
    connect_now (self);
  }
}

static void
connected_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  VchatdSignaling *self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) hello = NULL;
  SoupWebsocketConnection *ws;

  ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (!ws) {
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      return;
    g_debug ("signaling: cannot connect to %s: %s", self->url, error->message);
    schedule_retry (self);
    return;
  }
  self->ws = ws;
  self->last_rx = g_get_monotonic_time ();
  soup_websocket_connection_set_max_incoming_payload_size (ws, 1024 * 1024);
  g_signal_connect (ws, "message", G_CALLBACK (on_message), self);
  g_signal_connect (ws, "closed", G_CALLBACK (on_closed), self);
  /* A quarter second: a probe's deadline is noticed when it passes. */
  self->watchdog_source = g_timeout_add (250, watchdog_cb, self);

  hello = vchat_msg_object_new (VCHAT_MSG_HELLO);
  json_object_set_int_member (hello, "version", VCHAT_PROTOCOL_VERSION);
  json_object_set_string_member (hello, "client", "vchatd/" VCHAT_VERSION);
  if (self->display_name && *self->display_name)
    json_object_set_string_member (hello, "name", self->display_name);
  self->sent_resume = self->resume != NULL;
  if (self->resume)
    json_object_set_string_member (hello, "resume", self->resume);
  if (self->token)
    json_object_set_string_member (hello, "token", self->token);
  send_now (self, hello);
}

static void
connect_now (VchatdSignaling *self)
{
  g_autoptr (SoupMessage) msg = NULL;

  msg = soup_message_new ("GET", self->url);
  if (!msg) {
    g_warning ("signaling: “%s” is not a valid server URL; set a ws:// or wss:// URL", self->url);
    self->running = FALSE;
    set_state (self, VCHATD_SIGNALING_OFFLINE);
    return;
  }
  if (self->state != VCHATD_SIGNALING_RECONNECTING)
    set_state (self, VCHATD_SIGNALING_CONNECTING);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  soup_session_websocket_connect_async (self->session, msg, NULL, NULL, G_PRIORITY_DEFAULT,
                                        self->cancellable, connected_cb, self);
}

void
vchatd_signaling_start (VchatdSignaling *self)
{
  g_return_if_fail (VCHATD_IS_SIGNALING (self));

  if (self->running)
    return;
  self->running = TRUE;
  self->backoff_s = BACKOFF_MIN_S;
  connect_now (self);
}

void
vchatd_signaling_stop (VchatdSignaling *self)
{
  g_return_if_fail (VCHATD_IS_SIGNALING (self));

  self->running = FALSE;
  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->retry_source, g_source_remove);
  if (self->ws && soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN) {
    /* Last words (the leave of each call) go out unpaced; then 1000: we
     * are done, and the server ends our session and calls at once. */
    while (!g_queue_is_empty (&self->outbox)) {
      g_autofree char *text = g_queue_pop_head (&self->outbox);
      soup_websocket_connection_send_text (self->ws, text);
    }
    g_signal_handlers_disconnect_by_data (self->ws, self);
    soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, "bye");
    g_clear_object (&self->ws);
  }
  drop_connection (self);
  g_queue_clear_full (&self->outbox, g_free);
  set_state (self, VCHATD_SIGNALING_OFFLINE);
}

void
vchatd_signaling_set_url (VchatdSignaling *self, const char *url)
{
  gboolean was_running = self->running;

  vchatd_signaling_stop (self);
  g_free (self->url);
  self->url = normalize_url (url);
  g_clear_pointer (&self->resume, g_free);
  g_clear_pointer (&self->unauthorized, g_free);
  self->warned_unauthorized = FALSE;
  if (was_running)
    vchatd_signaling_start (self);
}

void
vchatd_signaling_set_display_name (VchatdSignaling *self, const char *display_name)
{
  g_free (self->display_name);
  self->display_name = g_strdup (display_name);
}

static void
free_token (char *token)
{
  if (token)
    explicit_bzero (token, strlen (token));
  g_free (token);
}

void
vchatd_signaling_set_token (VchatdSignaling *self, const char *token)
{
  if (token && !*token)
    token = NULL;
  /* The same token again: nothing to do, unless it was refused (the
   * server's operator may have changed the server meanwhile). */
  if (g_strcmp0 (token, self->token) == 0 && !self->unauthorized)
    return;
  if (g_strcmp0 (token, self->token) != 0) {
    free_token (self->token);
    self->token = g_strdup (token);
  }
  g_clear_pointer (&self->unauthorized, g_free);
  self->warned_unauthorized = FALSE;
  g_debug ("signaling: the access token changed (%s); connecting again", token ? "set" : "none");
  if (!self->running)
    return;
  /* Not a goodbye: the session (and its calls) resumes on the new socket. */
  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->retry_source, g_source_remove);
  drop_connection (self);
  self->backoff_s = BACKOFF_MIN_S;
  set_state (self, self->state == VCHATD_SIGNALING_ONLINE ? VCHATD_SIGNALING_RECONNECTING
                                                          : VCHATD_SIGNALING_CONNECTING);
  connect_now (self);
}

gboolean
vchatd_signaling_has_token (VchatdSignaling *self)
{
  return self->token != NULL;
}

const char *
vchatd_signaling_get_unauthorized (VchatdSignaling *self)
{
  return self->unauthorized;
}

VchatdSignalingState
vchatd_signaling_get_state (VchatdSignaling *self)
{
  return self->state;
}

const char *
vchatd_signaling_get_url (VchatdSignaling *self)
{
  return self->url;
}

JsonArray *
vchatd_signaling_get_ice_servers (VchatdSignaling *self)
{
  return self->ice_servers;
}

gboolean
vchatd_signaling_send (VchatdSignaling *self, JsonObject *msg, GError **error)
{
  if (self->state != VCHATD_SIGNALING_ONLINE || !self->ws) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                 /* Translators: the server's address, then its state */
                 _("Not connected to the signaling server %s (%s); check the server URL "
                   "and the network."),
                 self->url, vchatd_signaling_state_to_string (self->state));
    return FALSE;
  }
  send_text (self, msg);
  return TRUE;
}

static void
vchatd_signaling_dispose (GObject *object)
{
  VchatdSignaling *self = VCHATD_SIGNALING (object);

  if (self->running)
    vchatd_signaling_stop (self);
  if (self->monitor)
    g_signal_handlers_disconnect_by_data (self->monitor, self);
  g_clear_object (&self->monitor);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->session);
  G_OBJECT_CLASS (vchatd_signaling_parent_class)->dispose (object);
}

static void
vchatd_signaling_finalize (GObject *object)
{
  VchatdSignaling *self = VCHATD_SIGNALING (object);

  g_free (self->url);
  g_free (self->display_name);
  g_free (self->session_id);
  g_free (self->resume);
  free_token (self->token);
  g_free (self->unauthorized);
  g_clear_pointer (&self->ice_servers, json_array_unref);
  g_queue_clear_full (&self->outbox, g_free);
  G_OBJECT_CLASS (vchatd_signaling_parent_class)->finalize (object);
}

static void
vchatd_signaling_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  VchatdSignaling *self = VCHATD_SIGNALING (object);

  switch (id) {
  case PROP_STATE:
    g_value_set_int (value, self->state);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
vchatd_signaling_class_init (VchatdSignalingClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vchatd_signaling_dispose;
  object_class->finalize = vchatd_signaling_finalize;
  object_class->get_property = vchatd_signaling_get_property;

  props[PROP_STATE] = g_param_spec_int (
    "state", NULL, NULL, VCHATD_SIGNALING_OFFLINE, VCHATD_SIGNALING_RECONNECTING,
    VCHATD_SIGNALING_OFFLINE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, props);

  signals[SIGNAL_MESSAGE] = g_signal_new ("message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIGNAL_SESSION_LOST] = g_signal_new ("session-lost", G_TYPE_FROM_CLASS (klass),
                                               G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                               0);
}

static void
vchatd_signaling_init (VchatdSignaling *self)
{
  self->session = soup_session_new ();
  self->monitor = g_object_ref (g_network_monitor_get_default ());
  g_signal_connect (self->monitor, "network-changed", G_CALLBACK (on_network_changed), self);
  self->backoff_s = BACKOFF_MIN_S;
  g_queue_init (&self->outbox);
  self->rate = 20;
  self->last_refill = g_get_monotonic_time ();
}

VchatdSignaling *
vchatd_signaling_new (const char *url, const char *display_name)
{
  VchatdSignaling *self = g_object_new (VCHATD_TYPE_SIGNALING, NULL);

  self->url = normalize_url (url);
  self->display_name = g_strdup (display_name);
  return self;
}
