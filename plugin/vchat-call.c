/* vchat-call.c: one call of the daemon, over its D-Bus Call object
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchat-private.h"

#include <glib/gi18n-lib.h>

/**
 * VChatCall:
 *
 * One call of vchatd: a random stranger or an invited friend.
 *
 * Its properties follow the daemon's `io.github.vchat.VChat1.Call` object,
 * each with a notify signal when it changes. Get calls from
 * #VChatClient:calls, #VChatClient::call-added,
 * #VChatClient::incoming-call or the methods that start one. Show the
 * pictures with vchat_call_create_video_source().
 *
 * When the daemon goes away (it crashed or was stopped), its calls end:
 * #VChatCall:state becomes %VCHAT_CALL_STATE_ENDED with
 * %VCHAT_END_REASON_ERROR, and they leave #VChatClient:calls.
 */
struct _VChatCall {
  GObject parent_instance;

  VChatClient *client; /* unowned: the client owns its calls */
  VchatDBusCall *proxy;
  gboolean gone;

  VChatCallState state;
  VChatEndReason end_reason;
  VChatCallKind kind;
  VChatCallDirection direction;
  char *peer_name;
  GStrv common_interests;
  char *invite_code;
  VChatStats *stats;
  char *quality;
  gboolean muted;
  gboolean camera_enabled;
  gboolean peer_muted;
  gboolean peer_camera_enabled;
  char *remote_video_node;
  char *preview_node;
};

G_DEFINE_FINAL_TYPE (VChatCall, vchat_call, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_OBJECT_PATH,
  PROP_STATE,
  PROP_END_REASON,
  PROP_KIND,
  PROP_DIRECTION,
  PROP_PEER_NAME,
  PROP_COMMON_INTERESTS,
  PROP_INVITE_CODE,
  PROP_STATS,
  PROP_QUALITY,
  PROP_MUTED,
  PROP_CAMERA_ENABLED,
  PROP_PEER_MUTED,
  PROP_PEER_CAMERA_ENABLED,
  PROP_REMOTE_VIDEO_NODE,
  PROP_PREVIEW_NODE,
  N_PROPS
};

enum { SIGNAL_MESSAGE_RECEIVED, SIGNAL_PEER_TYPING, N_SIGNALS };

static GParamSpec *props[N_PROPS];
static guint signals[N_SIGNALS];

static char *
nonempty (const char *s)
{
  return s && *s ? g_strdup (s) : NULL;
}

static gboolean
set_string (VChatCall *self, char **field, char *value, int prop)
{
  if (g_strcmp0 (*field, value) == 0) {
    g_free (value);
    return FALSE;
  }
  g_free (*field);
  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), props[prop]);
  return TRUE;
}

/* Sets a field of a plain type and notifies its property when it changed. */
#define SET_FIELD(field, value, prop)                                                              \
  G_STMT_START                                                                                     \
  {                                                                                                \
    __typeof__ (self->field) _v = (__typeof__ (self->field)) (value);                              \
    if (self->field != _v) {                                                                       \
      self->field = _v;                                                                            \
      g_object_notify_by_pspec (G_OBJECT (self), props[prop]);                                     \
    }                                                                                              \
  }                                                                                                \
  G_STMT_END

static gboolean
stats_equal (const VChatStats *a, const VChatStats *b)
{
  if (!a || !b)
    return a == b;
  return a->rtt_ms == b->rtt_ms && a->send_kbps == b->send_kbps && a->recv_kbps == b->recv_kbps &&
         a->target_kbps == b->target_kbps && a->loss_pct == b->loss_pct &&
         a->recv_fps == b->recv_fps && a->recv_width == b->recv_width &&
         a->recv_height == b->recv_height && g_strcmp0 (a->video_codec, b->video_codec) == 0 &&
         g_strcmp0 (a->audio_codec, b->audio_codec) == 0 &&
         g_strcmp0 (a->local_candidate, b->local_candidate) == 0 &&
         g_strcmp0 (a->remote_candidate, b->remote_candidate) == 0 &&
         a->available_kbps == b->available_kbps && a->max_kbps == b->max_kbps &&
         g_strcmp0 (a->rung, b->rung) == 0 && a->cpu_limited == b->cpu_limited &&
         a->recv_loss_pct == b->recv_loss_pct && a->freezes == b->freezes &&
         g_strcmp0 (a->quality, b->quality) == 0;
}

/* Reads the proxy's cached properties and notifies what changed. */
static void
sync_from_proxy (VChatCall *self)
{
  VchatDBusCall *p = self->proxy;
  GVariant *peer, *stats_v;
  const char *peer_name = NULL;
  g_auto (GStrv) interests = NULL;
  VChatStats *stats;

  if (self->gone)
    return;

  g_object_freeze_notify (G_OBJECT (self));

  SET_FIELD (
    state,
    _vchat_enum_from_nick (VCHAT_TYPE_CALL_STATE, vchat_dbus_call_get_state (p), self->state),
    PROP_STATE);
  {
    const char *reason = vchat_dbus_call_get_end_reason (p);
    SET_FIELD (end_reason,
               reason && *reason
                 ? _vchat_enum_from_nick (VCHAT_TYPE_END_REASON, reason, VCHAT_END_REASON_ERROR)
                 : VCHAT_END_REASON_NONE,
               PROP_END_REASON);
  }
  SET_FIELD (kind,
             _vchat_enum_from_nick (VCHAT_TYPE_CALL_KIND, vchat_dbus_call_get_kind (p),
                                    VCHAT_CALL_KIND_RANDOM),
             PROP_KIND);
  SET_FIELD (direction,
             _vchat_enum_from_nick (VCHAT_TYPE_CALL_DIRECTION, vchat_dbus_call_get_direction (p),
                                    VCHAT_CALL_DIRECTION_OUTGOING),
             PROP_DIRECTION);

  peer = vchat_dbus_call_get_peer (p);
  if (peer && g_variant_is_of_type (peer, G_VARIANT_TYPE_VARDICT)) {
    g_variant_lookup (peer, "name", "&s", &peer_name);
    if (!g_variant_lookup (peer, "common-interests", "^as", &interests))
      interests = NULL;
  }
  set_string (self, &self->peer_name, g_strdup (peer_name ? peer_name : ""), PROP_PEER_NAME);
  if (!interests)
    interests = g_new0 (char *, 1);
  if (!g_strv_equal ((const char *const *) interests,
                     (const char *const *) self->common_interests)) {
    g_strfreev (self->common_interests);
    self->common_interests = g_steal_pointer (&interests);
    g_object_notify_by_pspec (G_OBJECT (self), props[PROP_COMMON_INTERESTS]);
  }

  set_string (self, &self->invite_code, nonempty (vchat_dbus_call_get_invite_code (p)),
              PROP_INVITE_CODE);

  stats_v = vchat_dbus_call_get_stats (p);
  stats = _vchat_stats_new_from_variant (stats_v);
  if (!stats_equal (stats, self->stats)) {
    vchat_stats_free (self->stats);
    self->stats = stats;
    g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STATS]);
  } else {
    vchat_stats_free (stats);
  }
  set_string (self, &self->quality, nonempty (vchat_dbus_call_get_quality (p)), PROP_QUALITY);

  SET_FIELD (muted, vchat_dbus_call_get_muted (p), PROP_MUTED);
  SET_FIELD (camera_enabled, vchat_dbus_call_get_camera_enabled (p), PROP_CAMERA_ENABLED);
  SET_FIELD (peer_muted, vchat_dbus_call_get_peer_muted (p), PROP_PEER_MUTED);
  SET_FIELD (peer_camera_enabled, vchat_dbus_call_get_peer_camera_enabled (p),
             PROP_PEER_CAMERA_ENABLED);
  set_string (self, &self->remote_video_node, nonempty (vchat_dbus_call_get_remote_video_node (p)),
              PROP_REMOTE_VIDEO_NODE);
  set_string (self, &self->preview_node, nonempty (vchat_dbus_call_get_preview_node (p)),
              PROP_PREVIEW_NODE);

  g_object_thaw_notify (G_OBJECT (self));
}

static void
on_properties_changed (GDBusProxy *proxy, GVariant *changed, GStrv invalidated, VChatCall *self)
{
  sync_from_proxy (self);
}

static void
on_message_received (VchatDBusCall *proxy, const char *text, guint64 time, VChatCall *self)
{
  /* A proxy on the well-known name would hear a new daemon's call of the
   * same path. */
  if (self->gone)
    return;
  g_signal_emit (self, signals[SIGNAL_MESSAGE_RECEIVED], 0, text, (gint64) time);
}

static void
on_peer_typing (VchatDBusCall *proxy, VChatCall *self)
{
  if (self->gone)
    return;
  g_signal_emit (self, signals[SIGNAL_PEER_TYPING], 0);
}

VChatCall *
_vchat_call_new (VChatClient *client, VchatDBusCall *proxy)
{
  VChatCall *self = g_object_new (VCHAT_TYPE_CALL, NULL);

  self->client = client;
  self->proxy = g_object_ref (proxy);
  g_signal_connect_object (proxy, "g-properties-changed", G_CALLBACK (on_properties_changed), self,
                           0);
  g_signal_connect_object (proxy, "message-received", G_CALLBACK (on_message_received), self, 0);
  g_signal_connect_object (proxy, "peer-typing", G_CALLBACK (on_peer_typing), self, 0);
  sync_from_proxy (self);
  return self;
}

void
_vchat_call_mark_gone (VChatCall *self)
{
  if (self->gone)
    return;
  g_object_freeze_notify (G_OBJECT (self));
  if (self->state != VCHAT_CALL_STATE_ENDED) {
    SET_FIELD (end_reason, VCHAT_END_REASON_ERROR, PROP_END_REASON);
    SET_FIELD (state, VCHAT_CALL_STATE_ENDED, PROP_STATE);
  }
  set_string (self, &self->quality, NULL, PROP_QUALITY);
  set_string (self, &self->remote_video_node, NULL, PROP_REMOTE_VIDEO_NODE);
  set_string (self, &self->preview_node, NULL, PROP_PREVIEW_NODE);
  self->gone = TRUE;
  g_object_thaw_notify (G_OBJECT (self));
}

void
_vchat_call_detach_client (VChatCall *self)
{
  self->client = NULL;
}

static void
vchat_call_dispose (GObject *object)
{
  VChatCall *self = VCHAT_CALL (object);

  if (self->proxy)
    g_signal_handlers_disconnect_by_data (self->proxy, self);
  g_clear_object (&self->proxy);
  G_OBJECT_CLASS (vchat_call_parent_class)->dispose (object);
}

static void
vchat_call_finalize (GObject *object)
{
  VChatCall *self = VCHAT_CALL (object);

  g_free (self->peer_name);
  g_strfreev (self->common_interests);
  g_free (self->invite_code);
  vchat_stats_free (self->stats);
  g_free (self->quality);
  g_free (self->remote_video_node);
  g_free (self->preview_node);
  G_OBJECT_CLASS (vchat_call_parent_class)->finalize (object);
}

static void
vchat_call_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  VChatCall *self = VCHAT_CALL (object);

  switch (prop_id) {
  case PROP_OBJECT_PATH:
    g_value_set_string (value, vchat_call_get_object_path (self));
    break;
  case PROP_STATE:
    g_value_set_enum (value, self->state);
    break;
  case PROP_END_REASON:
    g_value_set_enum (value, self->end_reason);
    break;
  case PROP_KIND:
    g_value_set_enum (value, self->kind);
    break;
  case PROP_DIRECTION:
    g_value_set_enum (value, self->direction);
    break;
  case PROP_PEER_NAME:
    g_value_set_string (value, self->peer_name);
    break;
  case PROP_COMMON_INTERESTS:
    g_value_set_boxed (value, self->common_interests);
    break;
  case PROP_INVITE_CODE:
    g_value_set_string (value, self->invite_code);
    break;
  case PROP_STATS:
    g_value_set_boxed (value, self->stats);
    break;
  case PROP_QUALITY:
    g_value_set_string (value, self->quality);
    break;
  case PROP_MUTED:
    g_value_set_boolean (value, self->muted);
    break;
  case PROP_CAMERA_ENABLED:
    g_value_set_boolean (value, self->camera_enabled);
    break;
  case PROP_PEER_MUTED:
    g_value_set_boolean (value, self->peer_muted);
    break;
  case PROP_PEER_CAMERA_ENABLED:
    g_value_set_boolean (value, self->peer_camera_enabled);
    break;
  case PROP_REMOTE_VIDEO_NODE:
    g_value_set_string (value, self->remote_video_node);
    break;
  case PROP_PREVIEW_NODE:
    g_value_set_string (value, self->preview_node);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

#define RO (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS)

static void
vchat_call_class_init (VChatCallClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vchat_call_dispose;
  object_class->finalize = vchat_call_finalize;
  object_class->get_property = vchat_call_get_property;

  /**
   * VChatCall:object-path:
   *
   * The D-Bus object path of the call in vchatd, as vchatctl shows it.
   */
  props[PROP_OBJECT_PATH] = g_param_spec_string ("object-path", NULL, NULL, NULL, RO);
  /**
   * VChatCall:state:
   *
   * Where the call is in its life.
   */
  props[PROP_STATE] = g_param_spec_enum ("state", NULL, NULL, VCHAT_TYPE_CALL_STATE,
                                         VCHAT_CALL_STATE_SEARCHING, RO);
  /**
   * VChatCall:end-reason:
   *
   * Why the call ended; %VCHAT_END_REASON_NONE until it has.
   */
  props[PROP_END_REASON] = g_param_spec_enum ("end-reason", NULL, NULL, VCHAT_TYPE_END_REASON,
                                              VCHAT_END_REASON_NONE, RO);
  /**
   * VChatCall:kind:
   *
   * A random stranger or an invited friend.
   */
  props[PROP_KIND] = g_param_spec_enum ("kind", NULL, NULL, VCHAT_TYPE_CALL_KIND,
                                        VCHAT_CALL_KIND_RANDOM, RO);
  /**
   * VChatCall:direction:
   *
   * Who called whom.
   */
  props[PROP_DIRECTION] = g_param_spec_enum ("direction", NULL, NULL, VCHAT_TYPE_CALL_DIRECTION,
                                             VCHAT_CALL_DIRECTION_OUTGOING, RO);
  /**
   * VChatCall:peer-name:
   *
   * The other person's display name, "" when anonymous or not known yet.
   */
  props[PROP_PEER_NAME] = g_param_spec_string ("peer-name", NULL, NULL, "", RO);
  /**
   * VChatCall:common-interests:
   *
   * The interests both people gave, for a random call.
   */
  props[PROP_COMMON_INTERESTS] = g_param_spec_boxed ("common-interests", NULL, NULL, G_TYPE_STRV,
                                                     RO);
  /**
   * VChatCall:invite-code:
   *
   * The code of the invite this call belongs to, or %NULL.
   */
  props[PROP_INVITE_CODE] = g_param_spec_string ("invite-code", NULL, NULL, NULL, RO);
  /**
   * VChatCall:stats:
   *
   * The call's statistics, refreshed every second while it is connected;
   * %NULL before there are any.
   */
  props[PROP_STATS] = g_param_spec_boxed ("stats", NULL, NULL, VCHAT_TYPE_STATS, RO);
  /**
   * VChatCall:quality:
   *
   * How the call is going, in one word: "good", "fair" or "poor"; %NULL
   * while it is not connected and before the first statistics. It follows
   * the daemon's `Quality` property, which documents the rule (loss, round
   * trip, frame rate received, freezes, the bitrate target), and changes at
   * most once a second.
   */
  props[PROP_QUALITY] = g_param_spec_string ("quality", NULL, NULL, NULL, RO);
  /**
   * VChatCall:muted:
   *
   * Whether this side's sound is muted.
   */
  props[PROP_MUTED] = g_param_spec_boolean ("muted", NULL, NULL, FALSE, RO);
  /**
   * VChatCall:camera-enabled:
   *
   * Whether this side's picture is sent.
   */
  props[PROP_CAMERA_ENABLED] = g_param_spec_boolean ("camera-enabled", NULL, NULL, TRUE, RO);
  /**
   * VChatCall:peer-muted:
   *
   * Whether the peer says it muted its microphone. %FALSE with a peer that
   * says nothing (an older client).
   */
  props[PROP_PEER_MUTED] = g_param_spec_boolean ("peer-muted", NULL, NULL, FALSE, RO);
  /**
   * VChatCall:peer-camera-enabled:
   *
   * %FALSE when the peer says it turned its camera off (its picture is then
   * black). %TRUE with a peer that says nothing.
   */
  props[PROP_PEER_CAMERA_ENABLED] =
    g_param_spec_boolean ("peer-camera-enabled", NULL, NULL, TRUE, RO);
  /**
   * VChatCall:remote-video-node:
   *
   * The PipeWire node with the peer's picture, or %NULL before there is one.
   */
  props[PROP_REMOTE_VIDEO_NODE] = g_param_spec_string ("remote-video-node", NULL, NULL, NULL, RO);
  /**
   * VChatCall:preview-node:
   *
   * The PipeWire node with this side's camera picture as sent, or %NULL.
   */
  props[PROP_PREVIEW_NODE] = g_param_spec_string ("preview-node", NULL, NULL, NULL, RO);
  g_object_class_install_properties (object_class, N_PROPS, props);

  /**
   * VChatCall::message-received:
   * @self: the call
   * @text: the message
   * @time: when it arrived, in microseconds since the epoch
   *
   * The peer sent a chat message.
   */
  signals[SIGNAL_MESSAGE_RECEIVED] = g_signal_new ("message-received", G_TYPE_FROM_CLASS (klass),
                                                   G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                   G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_INT64);
  /**
   * VChatCall::peer-typing:
   * @self: the call
   *
   * The peer is typing a message: show it for about three seconds after
   * the last one. Comes at most once a second.
   */
  signals[SIGNAL_PEER_TYPING] = g_signal_new ("peer-typing", G_TYPE_FROM_CLASS (klass),
                                              G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                              0);
}

static void
vchat_call_init (VChatCall *self)
{
  self->state = VCHAT_CALL_STATE_SEARCHING;
  self->camera_enabled = TRUE;
  self->peer_camera_enabled = TRUE;
  self->peer_name = g_strdup ("");
  self->common_interests = g_new0 (char *, 1);
}

/**
 * vchat_call_get_object_path:
 * @self: a #VChatCall
 *
 * Gets #VChatCall:object-path.
 *
 * Returns: (transfer none): the D-Bus object path of the call
 */
const char *
vchat_call_get_object_path (VChatCall *self)
{
  g_return_val_if_fail (VCHAT_IS_CALL (self), NULL);
  return g_dbus_proxy_get_object_path (G_DBUS_PROXY (self->proxy));
}

/**
 * vchat_call_get_state:
 * @self: a #VChatCall
 *
 * Gets #VChatCall:state.
 *
 * Returns: the state of the call
 */
VChatCallState
vchat_call_get_state (VChatCall *self)
{
  g_return_val_if_fail (VCHAT_IS_CALL (self), VCHAT_CALL_STATE_ENDED);
  return self->state;
}

/**
 * vchat_call_get_end_reason:
 * @self: a #VChatCall
 *
 * Gets #VChatCall:end-reason.
 *
 * Returns: why the call ended, or %VCHAT_END_REASON_NONE
 */
VChatEndReason
vchat_call_get_end_reason (VChatCall *self)
{
  g_return_val_if_fail (VCHAT_IS_CALL (self), VCHAT_END_REASON_NONE);
  return self->end_reason;
}

/**
 * vchat_call_get_kind:
 * @self: a #VChatCall
 *
 * Gets #VChatCall:kind.
 *
 * Returns: random or invite
 */
VChatCallKind
vchat_call_get_kind (VChatCall *self)
{
  g_return_val_if_fail (VCHAT_IS_CALL (self), VCHAT_CALL_KIND_RANDOM);
  return self->kind;
}

/**
 * vchat_call_get_direction:
 * @self: a #VChatCall
 *
 * Gets #VChatCall:direction.
 *
 * Returns: who called whom
 */
VChatCallDirection
vchat_call_get_direction (VChatCall *self)
{
  g_return_val_if_fail (VCHAT_IS_CALL (self), VCHAT_CALL_DIRECTION_OUTGOING);
  return self->direction;
}

/**
 * vchat_call_get_peer_name:
 * @self: a #VChatCall
 *
 * Gets #VChatCall:peer-name.
 *
 * Returns: (transfer none): the peer's display name, "" when anonymous
 */
const char *
vchat_call_get_peer_name (VChatCall *self)
{
  g_return_val_if_fail (VCHAT_IS_CALL (self), NULL);
  return self->peer_name;
}

/**
 * vchat_call_get_common_interests:
 * @self: a #VChatCall
 *
 * Gets #VChatCall:common-interests.
 *
 * Returns: (transfer none) (array zero-terminated=1): the shared interests,
 *   possibly none
 */
const char *const *
vchat_call_get_common_interests (VChatCall *self)
{
  g_return_val_if_fail (VCHAT_IS_CALL (self), NULL);
  return (const char *const *) self->common_interests;
}

/**
 * vchat_call_get_invite_code:
 * @self: a #VChatCall
 *
 * Gets #VChatCall:invite-code.
 *
 * Returns: (transfer none) (nullable): the invite's code, or %NULL
 */
const char *
vchat_call_get_invite_code (VChatCall *self)
{
  g_return_val_if_fail (VCHAT_IS_CALL (self), NULL);
  return self->invite_code;
}

/**
 * vchat_call_dup_stats:
 * @self: a #VChatCall
 *
 * Gets a copy of #VChatCall:stats.
 *
 * Returns: (transfer full) (nullable): the latest statistics, or %NULL
 *   before any arrived
 */
VChatStats *
vchat_call_dup_stats (VChatCall *self)
{
  g_return_val_if_fail (VCHAT_IS_CALL (self), NULL);
  return self->stats ? vchat_stats_copy (self->stats) : NULL;
}

/**
 * vchat_call_get_quality:
 * @self: a #VChatCall
 *
 * Gets #VChatCall:quality.
 *
 * Returns: (transfer none) (nullable): "good", "fair" or "poor", or %NULL
 *   while the call is not connected or its quality is not known yet
 */
const char *
vchat_call_get_quality (VChatCall *self)
{
  g_return_val_if_fail (VCHAT_IS_CALL (self), NULL);
  return self->quality;
}

/**
 * vchat_call_get_muted:
 * @self: a #VChatCall
 *
 * Gets #VChatCall:muted.
 *
 * Returns: whether the sound is muted
 */
gboolean
vchat_call_get_muted (VChatCall *self)
{
  g_return_val_if_fail (VCHAT_IS_CALL (self), FALSE);
  return self->muted;
}

/**
 * vchat_call_get_camera_enabled:
 * @self: a #VChatCall
 *
 * Gets #VChatCall:camera-enabled.
 *
 * Returns: whether the picture is sent
 */
gboolean
vchat_call_get_camera_enabled (VChatCall *self)
{
  g_return_val_if_fail (VCHAT_IS_CALL (self), FALSE);
  return self->camera_enabled;
}

/**
 * vchat_call_get_remote_video_node:
 * @self: a #VChatCall
 *
 * Gets #VChatCall:remote-video-node.
 *
 * Returns: (transfer none) (nullable): the PipeWire node name, or %NULL
 */
const char *
vchat_call_get_remote_video_node (VChatCall *self)
{
  g_return_val_if_fail (VCHAT_IS_CALL (self), NULL);
  return self->remote_video_node;
}

/**
 * vchat_call_get_preview_node:
 * @self: a #VChatCall
 *
 * Gets #VChatCall:preview-node.
 *
 * Returns: (transfer none) (nullable): the PipeWire node name, or %NULL
 */
const char *
vchat_call_get_preview_node (VChatCall *self)
{
  g_return_val_if_fail (VCHAT_IS_CALL (self), NULL);
  return self->preview_node;
}

/* Methods: one D-Bus call each; the task's result is TRUE, or the new call
 * for Next. */

static void
method_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;

  reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);
  if (!reply) {
    g_task_return_error (task, _vchat_error_from_dbus (g_steal_pointer (&error)));
    return;
  }
  g_task_return_boolean (task, TRUE);
}

static void
call_method (VChatCall *self, const char *method, GVariant *params, GCancellable *cancellable,
             GAsyncReadyCallback callback, gpointer user_data, gpointer source_tag,
             GAsyncReadyCallback done)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  if (self->gone) {
    if (params)
      g_variant_unref (g_variant_ref_sink (params));
    g_task_return_new_error (task, VCHAT_ERROR, VCHAT_ERROR_INVALID_STATE,
                             _("This call ended when vchatd stopped"));
    return;
  }
  g_dbus_proxy_call (G_DBUS_PROXY (self->proxy), method, params, G_DBUS_CALL_FLAGS_NONE, -1,
                     cancellable, done ? done : method_done, g_steal_pointer (&task));
}

static gboolean
method_finish (VChatCall *self, GAsyncResult *result, gpointer source_tag, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * vchat_call_accept_async:
 * @self: a #VChatCall
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the daemon answered
 * @user_data: data for @callback
 *
 * Answers an incoming call (#VChatCall:state %VCHAT_CALL_STATE_INCOMING).
 * In any other state, and when another program answered first, it fails
 * with %VCHAT_ERROR_INVALID_STATE.
 */
void
vchat_call_accept_async (VChatCall *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_return_if_fail (VCHAT_IS_CALL (self));
  call_method (self, "Accept", NULL, cancellable, callback, user_data, vchat_call_accept_async,
               NULL);
}

/**
 * vchat_call_accept_finish:
 * @self: a #VChatCall
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes vchat_call_accept_async().
 *
 * Returns: %TRUE when the call was accepted
 */
gboolean
vchat_call_accept_finish (VChatCall *self, GAsyncResult *result, GError **error)
{
  return method_finish (self, result, vchat_call_accept_async, error);
}

/**
 * vchat_call_reject_async:
 * @self: a #VChatCall
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the daemon answered
 * @user_data: data for @callback
 *
 * Declines an incoming call; it ends with %VCHAT_END_REASON_REJECTED.
 */
void
vchat_call_reject_async (VChatCall *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_return_if_fail (VCHAT_IS_CALL (self));
  call_method (self, "Reject", NULL, cancellable, callback, user_data, vchat_call_reject_async,
               NULL);
}

/**
 * vchat_call_reject_finish:
 * @self: a #VChatCall
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes vchat_call_reject_async().
 *
 * Returns: %TRUE when the call was declined
 */
gboolean
vchat_call_reject_finish (VChatCall *self, GAsyncResult *result, GError **error)
{
  return method_finish (self, result, vchat_call_reject_async, error);
}

/**
 * vchat_call_hangup_async:
 * @self: a #VChatCall
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the daemon answered
 * @user_data: data for @callback
 *
 * Ends the call in any state but ended: a search stops, an open invite is
 * cancelled. It ends with %VCHAT_END_REASON_HANGUP.
 */
void
vchat_call_hangup_async (VChatCall *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_return_if_fail (VCHAT_IS_CALL (self));
  call_method (self, "Hangup", NULL, cancellable, callback, user_data, vchat_call_hangup_async,
               NULL);
}

/**
 * vchat_call_hangup_finish:
 * @self: a #VChatCall
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes vchat_call_hangup_async().
 *
 * Returns: %TRUE when the call was ended
 */
gboolean
vchat_call_hangup_finish (VChatCall *self, GAsyncResult *result, GError **error)
{
  return method_finish (self, result, vchat_call_hangup_async, error);
}

static void
next_resolved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  VChatCall *call;

  call = _vchat_client_resolve_call_finish (VCHAT_CLIENT (source), result, &error);
  if (!call)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, call, g_object_unref);
}

static void
next_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  VChatCall *self;
  const char *path = NULL;

  reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);
  if (!reply) {
    g_task_return_error (task, _vchat_error_from_dbus (g_steal_pointer (&error)));
    return;
  }
  self = g_task_get_source_object (task);
  if (!self->client) {
    g_task_return_new_error (task, VCHAT_ERROR, VCHAT_ERROR_FAILED,
                             _("The VChatClient of this call is gone"));
    return;
  }
  g_variant_get (reply, "(&o)", &path);
  _vchat_client_resolve_call_async (self->client, path, g_task_get_cancellable (task),
                                    next_resolved, g_object_ref (task));
}

/**
 * vchat_call_next_async:
 * @self: a #VChatCall
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the new call
 * @user_data: data for @callback
 *
 * Ends a random call with %VCHAT_END_REASON_NEXT and looks for the next
 * stranger at once, with the same interests and language. Fails with
 * %VCHAT_ERROR_INVALID_STATE for invited calls and before the call is
 * connecting or connected.
 */
void
vchat_call_next_async (VChatCall *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                       gpointer user_data)
{
  g_return_if_fail (VCHAT_IS_CALL (self));
  call_method (self, "Next", NULL, cancellable, callback, user_data, vchat_call_next_async,
               next_done);
}

/**
 * vchat_call_next_finish:
 * @self: a #VChatCall
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes vchat_call_next_async().
 *
 * Returns: (transfer full): the new call, searching, or %NULL on error
 */
VChatCall *
vchat_call_next_finish (VChatCall *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == vchat_call_next_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * vchat_call_set_muted_async:
 * @self: a #VChatCall
 * @muted: %TRUE to stop sending sound
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the daemon answered
 * @user_data: data for @callback
 *
 * Mutes or unmutes this side's sound; #VChatCall:muted follows.
 */
void
vchat_call_set_muted_async (VChatCall *self, gboolean muted, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (VCHAT_IS_CALL (self));
  call_method (self, "SetMuted", g_variant_new ("(b)", muted), cancellable, callback, user_data,
               vchat_call_set_muted_async, NULL);
}

/**
 * vchat_call_set_muted_finish:
 * @self: a #VChatCall
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes vchat_call_set_muted_async().
 *
 * Returns: %TRUE on success
 */
gboolean
vchat_call_set_muted_finish (VChatCall *self, GAsyncResult *result, GError **error)
{
  return method_finish (self, result, vchat_call_set_muted_async, error);
}

/**
 * vchat_call_set_camera_enabled_async:
 * @self: a #VChatCall
 * @enabled: %FALSE to stop sending the picture (the peer sees black)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the daemon answered
 * @user_data: data for @callback
 *
 * Turns the picture sent to the peer on or off; #VChatCall:camera-enabled
 * follows.
 */
void
vchat_call_set_camera_enabled_async (VChatCall *self, gboolean enabled, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (VCHAT_IS_CALL (self));
  call_method (self, "SetCameraEnabled", g_variant_new ("(b)", enabled), cancellable, callback,
               user_data, vchat_call_set_camera_enabled_async, NULL);
}

/**
 * vchat_call_set_camera_enabled_finish:
 * @self: a #VChatCall
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes vchat_call_set_camera_enabled_async().
 *
 * Returns: %TRUE on success
 */
gboolean
vchat_call_set_camera_enabled_finish (VChatCall *self, GAsyncResult *result, GError **error)
{
  return method_finish (self, result, vchat_call_set_camera_enabled_async, error);
}

/**
 * vchat_call_get_peer_muted:
 * @self: a #VChatCall
 *
 * Gets #VChatCall:peer-muted.
 *
 * Returns: whether the peer says it is muted
 */
gboolean
vchat_call_get_peer_muted (VChatCall *self)
{
  g_return_val_if_fail (VCHAT_IS_CALL (self), FALSE);
  return self->peer_muted;
}

/**
 * vchat_call_get_peer_camera_enabled:
 * @self: a #VChatCall
 *
 * Gets #VChatCall:peer-camera-enabled.
 *
 * Returns: %FALSE when the peer says its camera is off
 */
gboolean
vchat_call_get_peer_camera_enabled (VChatCall *self)
{
  g_return_val_if_fail (VCHAT_IS_CALL (self), TRUE);
  return self->peer_camera_enabled;
}

/**
 * vchat_call_send_typing_async:
 * @self: a #VChatCall
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the daemon took it
 * @user_data: data for @callback
 *
 * Tells the peer that this user is typing; call it at each key press in
 * the chat entry (the daemon sends at most one a second). The peer gets
 * #VChatCall::peer-typing. Fails with %VCHAT_ERROR_INVALID_STATE until the
 * call is connected.
 */
void
vchat_call_send_typing_async (VChatCall *self, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (VCHAT_IS_CALL (self));
  call_method (self, "SendTyping", NULL, cancellable, callback, user_data,
               vchat_call_send_typing_async, NULL);
}

/**
 * vchat_call_send_typing_finish:
 * @self: a #VChatCall
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes vchat_call_send_typing_async().
 *
 * Returns: %TRUE on success
 */
gboolean
vchat_call_send_typing_finish (VChatCall *self, GAsyncResult *result, GError **error)
{
  return method_finish (self, result, vchat_call_send_typing_async, error);
}

/**
 * vchat_call_send_message_async:
 * @self: a #VChatCall
 * @text: up to 4096 bytes of UTF-8 text
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the message is sent
 * @user_data: data for @callback
 *
 * Sends a chat message to the peer, who gets #VChatCall::message-received.
 * Fails with %VCHAT_ERROR_INVALID_STATE until the call is connected.
 */
void
vchat_call_send_message_async (VChatCall *self, const char *text, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (VCHAT_IS_CALL (self));
  g_return_if_fail (text != NULL);
  call_method (self, "SendMessage", g_variant_new ("(s)", text), cancellable, callback, user_data,
               vchat_call_send_message_async, NULL);
}

/**
 * vchat_call_send_message_finish:
 * @self: a #VChatCall
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes vchat_call_send_message_async().
 *
 * Returns: %TRUE when the message went out
 */
gboolean
vchat_call_send_message_finish (VChatCall *self, GAsyncResult *result, GError **error)
{
  return method_finish (self, result, vchat_call_send_message_async, error);
}

/**
 * vchat_call_report_async:
 * @self: a #VChatCall
 * @reason: why, in a few words (1 to 200 bytes)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the report is sent
 * @user_data: data for @callback
 *
 * Reports the peer to the signaling server, during the call or after it
 * ended.
 */
void
vchat_call_report_async (VChatCall *self, const char *reason, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (VCHAT_IS_CALL (self));
  g_return_if_fail (reason != NULL);
  call_method (self, "Report", g_variant_new ("(s)", reason), cancellable, callback, user_data,
               vchat_call_report_async, NULL);
}

/**
 * vchat_call_report_finish:
 * @self: a #VChatCall
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes vchat_call_report_async().
 *
 * Returns: %TRUE when the report was sent
 */
gboolean
vchat_call_report_finish (VChatCall *self, GAsyncResult *result, GError **error)
{
  return method_finish (self, result, vchat_call_report_async, error);
}

/**
 * vchat_call_create_video_source:
 * @self: a #VChatCall
 * @kind: which picture: the peer's or this side's own
 * @error: return location for a #GError
 *
 * Makes a GStreamer source that shows a picture of the call: a bin of
 * `pipewiresrc target-object=NODE ! videoconvert` with one "src" pad of raw
 * video, for a sink such as gtk4paintablesink or autovideosink. GStreamer
 * must be initialized.
 *
 * Fails with %VCHAT_ERROR_NOT_FOUND when the call has no such picture (yet):
 * see #VChatCall:remote-video-node and #VChatCall:preview-node. The remote
 * node is named once the peer's first picture has arrived: wait for
 * `notify::remote-video-node`.
 *
 * Returns: (transfer floating): the source bin, or %NULL on error
 */
GstElement *
vchat_call_create_video_source (VChatCall *self, VChatVideoKind kind, GError **error)
{
  const char *node;
  GstElement *bin, *src, *convert;
  g_autoptr (GstPad) pad = NULL;

  g_return_val_if_fail (VCHAT_IS_CALL (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  node = kind == VCHAT_VIDEO_PREVIEW ? self->preview_node : self->remote_video_node;
  if (!node || !*node) {
    g_set_error (error, VCHAT_ERROR, VCHAT_ERROR_NOT_FOUND,
                 kind == VCHAT_VIDEO_PREVIEW ? _("The call has no preview picture (yet)")
                                             : _("The call has no picture of the peer (yet)"));
    return NULL;
  }

  src = gst_element_factory_make ("pipewiresrc", NULL);
  convert = gst_element_factory_make ("videoconvert", NULL);
  if (!src || !convert) {
    g_clear_pointer (&src, gst_object_unref);
    g_clear_pointer (&convert, gst_object_unref);
    g_set_error (error, VCHAT_ERROR, VCHAT_ERROR_FAILED,
                 _("The GStreamer elements pipewiresrc and videoconvert are needed to show the "
                   "picture: install the PipeWire GStreamer plugin"));
    return NULL;
  }
  g_object_set (src, "target-object", node, "always-copy", TRUE, "do-timestamp", TRUE, NULL);

  bin = gst_bin_new (NULL);
  gst_bin_add_many (GST_BIN (bin), src, convert, NULL);
  if (!gst_element_link (src, convert)) {
    gst_object_ref_sink (bin);
    gst_object_unref (bin);
    g_set_error (error, VCHAT_ERROR, VCHAT_ERROR_FAILED, _("Cannot link pipewiresrc to videoconvert"));
    return NULL;
  }
  pad = gst_element_get_static_pad (convert, "src");
  gst_element_add_pad (bin, gst_ghost_pad_new ("src", pad));
  return bin;
}

void
_vchat_call_set_invite_code (VChatCall *self, const char *code)
{
  if (self->invite_code || !code || !*code)
    return;
  set_string (self, &self->invite_code, g_strdup (code), PROP_INVITE_CODE);
}
