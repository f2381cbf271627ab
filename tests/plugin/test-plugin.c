/* test-plugin.c: libvchat against two real daemons
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Run by test_plugin.py, which starts vchat-signald and two vchatd on
 * private buses (test video sources, no PipeWire): daemon A on
 * DBUS_SESSION_BUS_ADDRESS, daemon B on VCHAT_TEST_BUS_B. For the restart
 * test this program prints "# RESTART-DAEMON-A" and the harness SIGKILLs A
 * and starts it again on the same bus.
 */
#include <stdio.h>
#include <string.h>

#include <vchat/vchat.h>

static VChatClient *client_a, *client_b;

static gboolean
wake (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the main loop until @cond holds, failing after @secs seconds. */
#define WAIT_FOR(cond, secs)                                                                       \
  G_STMT_START                                                                                     \
  {                                                                                                \
    gint64 _end = g_get_monotonic_time () + (secs) *G_USEC_PER_SEC;                                \
    guint _tick = g_timeout_add (100, wake, NULL);                                                 \
    while (!(cond)) {                                                                              \
      if (g_get_monotonic_time () > _end)                                                          \
        g_error ("timed out after %d s waiting for %s", (int) (secs), #cond);                      \
      g_main_context_iteration (NULL, TRUE);                                                       \
    }                                                                                              \
    g_source_remove (_tick);                                                                       \
  }                                                                                                \
  G_STMT_END

static void
got_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **slot = user_data;

  g_assert_null (*slot);
  *slot = g_object_ref (result);
}

static GAsyncResult *
await_result (GAsyncResult **slot)
{
  WAIT_FOR (*slot != NULL, 30);
  return *slot;
}

/* Runs an _async call (whose callback is got_result with &result) and
 * evaluates its _finish expression. */
#define AWAIT(async_call, finish_expr)                                                             \
  ({                                                                                               \
    GAsyncResult *result = NULL;                                                                   \
    async_call;                                                                                    \
    await_result (&result);                                                                        \
    __auto_type _r = (finish_expr);                                                                \
    g_clear_object (&result);                                                                      \
    _r;                                                                                            \
  })

static void
count_notify (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  (*(guint *) user_data)++;
}

static void
count_signal (GObject *object, gpointer user_data)
{
  (*(guint *) user_data)++;
}

static void
on_call_added (VChatClient *client, VChatCall *call, gpointer user_data)
{
  GPtrArray *added = user_data;

  g_assert_true (VCHAT_IS_CALL (call));
  g_ptr_array_add (added, g_object_ref (call));
}

static void
on_incoming (VChatClient *client, VChatCall *call, gpointer user_data)
{
  VChatCall **slot = user_data;

  g_assert_true (VCHAT_IS_CALL (call));
  g_set_object (slot, call);
}

static gboolean
list_contains (GListModel *model, gpointer item)
{
  for (guint i = 0; i < g_list_model_get_n_items (model); i++) {
    g_autoptr (GObject) it = g_list_model_get_item (model, i);
    if ((gpointer) it == item)
      return TRUE;
  }
  return FALSE;
}

static void
on_message (VChatCall *call, const char *text, gint64 time, gpointer user_data)
{
  g_assert_cmpint (time, >, 0);
  g_free (*(char **) user_data);
  *(char **) user_data = g_strdup (text);
}

static VChatCall *
start_random (VChatClient *client, const char *const *interests)
{
  g_autoptr (GError) error = NULL;
  VChatCall *call = AWAIT (
    vchat_client_start_random_async (client, interests, NULL, FALSE, NULL, got_result, &result),
    vchat_client_start_random_finish (client, result, &error));

  g_assert_no_error (error);
  g_assert_true (VCHAT_IS_CALL (call));
  return call;
}

static void
hangup (VChatCall *call)
{
  g_autoptr (GError) error = NULL;
  gboolean ok = AWAIT (vchat_call_hangup_async (call, NULL, got_result, &result),
                       vchat_call_hangup_finish (call, result, &error));

  g_assert_no_error (error);
  g_assert_true (ok);
}

static void
wait_state (VChatCall *call, VChatCallState state, int secs)
{
  WAIT_FOR (vchat_call_get_state (call) == state, secs);
}

static void
test_client (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusConnection) bus_b = NULL;
  GAsyncResult *result = NULL;
  g_autofree char *server = NULL;
  g_autoptr (GListModel) cameras = NULL;
  VChatSignalingState state;
  gboolean connected;

  /* A: asynchronously, on the session bus. */
  vchat_client_new_async (NULL, NULL, got_result, &result);
  await_result (&result);
  client_a = vchat_client_new_finish (result, &error);
  g_clear_object (&result);
  g_assert_no_error (error);
  g_assert_true (VCHAT_IS_CLIENT (client_a));

  /* B: synchronously, on a connection of its own. */
  bus_b = g_dbus_connection_new_for_address_sync (g_getenv ("VCHAT_TEST_BUS_B"),
                                                  G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                    G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                  NULL, NULL, &error);
  g_assert_no_error (error);
  client_b = vchat_client_new_sync (bus_b, NULL, &error);
  g_assert_no_error (error);

  g_assert_true (vchat_client_get_connected (client_a));
  g_assert_true (vchat_client_get_connected (client_b));
  WAIT_FOR (vchat_client_get_signaling_state (client_a) == VCHAT_SIGNALING_STATE_ONLINE, 15);
  WAIT_FOR (vchat_client_get_signaling_state (client_b) == VCHAT_SIGNALING_STATE_ONLINE, 15);
  g_assert_true (g_str_has_prefix (vchat_client_get_server (client_a), "ws://127.0.0.1:"));
  g_assert_cmpstr (vchat_client_get_server (client_a), ==, vchat_client_get_server (client_b));
  g_assert_cmpstr (vchat_client_get_version (client_a), ==, g_getenv ("VCHAT_TEST_VERSION"));
  g_assert_cmpuint (g_list_model_get_n_items (vchat_client_get_cameras (client_a)), ==, 0);
  g_assert_true (g_list_model_get_item_type (vchat_client_get_cameras (client_a)) ==
                 VCHAT_TYPE_CAMERA);
  g_assert_cmpstr (vchat_client_get_camera (client_a), ==, "");
  g_assert_cmpuint (g_list_model_get_n_items (vchat_client_get_calls (client_a)), ==, 0);

  /* The same through GObject properties. */
  g_object_get (client_a, "connected", &connected, "signaling-state", &state, "server", &server,
                "cameras", &cameras, NULL);
  g_assert_true (connected);
  g_assert_cmpint (state, ==, VCHAT_SIGNALING_STATE_ONLINE);
  g_assert_cmpstr (server, ==, vchat_client_get_server (client_a));
  g_assert_true (cameras == vchat_client_get_cameras (client_a));
}

static void
test_random (void)
{
  const char *interests_a[] = { "linux", "music", NULL };
  const char *interests_b[] = { "linux", "chess", NULL };
  g_autoptr (GPtrArray) added = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (VChatCall) a = NULL, b = NULL, a2 = NULL;
  g_autoptr (VChatStats) stats = NULL;
  g_autoptr (GError) error = NULL;
  guint state_notifies = 0, muted_notifies = 0, camera_notifies = 0, typing = 0;
  g_autofree char *received = NULL;
  gulong id;
  GstElement *source;
  gboolean ok;

  id = g_signal_connect (client_a, "call-added", G_CALLBACK (on_call_added), added);
  a = start_random (client_a, interests_a);
  g_signal_connect (a, "notify::state", G_CALLBACK (count_notify), &state_notifies);
  g_assert_cmpint (vchat_call_get_kind (a), ==, VCHAT_CALL_KIND_RANDOM);
  g_assert_cmpint (vchat_call_get_direction (a), ==, VCHAT_CALL_DIRECTION_OUTGOING);
  g_assert_cmpint (vchat_call_get_end_reason (a), ==, VCHAT_END_REASON_NONE);
  g_assert_true (
    g_str_has_prefix (vchat_call_get_object_path (a), "/io/github/vchat/VChat1/calls/"));
  g_assert_cmpuint (added->len, ==, 1);
  g_assert_true (added->pdata[0] == a);
  g_assert_true (list_contains (vchat_client_get_calls (client_a), a));

  b = start_random (client_b, interests_b);
  wait_state (a, VCHAT_CALL_STATE_CONNECTED, 30);
  wait_state (b, VCHAT_CALL_STATE_CONNECTED, 30);
  g_assert_cmpuint (state_notifies, >=, 1);

  g_assert_cmpstr (vchat_call_get_peer_name (a), ==, g_getenv ("VCHAT_TEST_NAME_B"));
  g_assert_cmpstr (vchat_call_get_peer_name (b), ==, g_getenv ("VCHAT_TEST_NAME_A"));
  g_assert_true (g_strv_contains (vchat_call_get_common_interests (a), "linux"));
  g_assert_false (g_strv_contains (vchat_call_get_common_interests (a), "music"));
  g_assert_cmpint (vchat_call_get_kind (b), ==, VCHAT_CALL_KIND_RANDOM);
  g_assert_null (vchat_call_get_invite_code (a));

  /* Stats: typed, and the peer's picture arrives. */
  WAIT_FOR (({
              g_autoptr (VChatStats) s = vchat_call_dup_stats (a);
              s && s->recv_fps > 0 && s->recv_width > 0;
            }),
            30);
  stats = vchat_call_dup_stats (a);
  g_test_message ("stats: rtt %.1f ms, send %.0f kbps, recv %.0f kbps, %.1f fps, %ux%u, %s/%s, "
                  "%s-%s",
                  stats->rtt_ms, stats->send_kbps, stats->recv_kbps, stats->recv_fps,
                  stats->recv_width, stats->recv_height, stats->video_codec, stats->audio_codec,
                  stats->local_candidate, stats->remote_candidate);
  g_test_message ("rate: target %.0f kbps (video max %.0f), available %.0f, %s%s, loss %.1f %% "
                  "out, %.1f %% in, %u freezes, %s",
                  stats->target_kbps, stats->max_kbps, stats->available_kbps,
                  stats->rung ? stats->rung : "-", stats->cpu_limited ? " (CPU-limited)" : "",
                  stats->loss_pct, stats->recv_loss_pct, stats->freezes,
                  stats->quality ? stats->quality : "-");
  g_assert_cmpuint (stats->recv_height, >, 0);
  g_assert_cmpstr (stats->video_codec, ==, "VP8");
  g_assert_nonnull (stats->audio_codec);
  g_assert_cmpfloat (stats->max_kbps, >, 0);
  g_assert_nonnull (stats->rung);
  {
    VChatStats *copy = NULL;
    g_object_get (a, "stats", &copy, NULL);
    g_assert_nonnull (copy);
    g_assert_cmpstr (copy->video_codec, ==, "VP8");
    g_assert_nonnull (copy->rung);
    vchat_stats_free (copy);
  }
  /* Quality: one word, soon after connecting. */
  WAIT_FOR (vchat_call_get_quality (a) != NULL, 10);
  g_assert_true (g_strv_contains ((const char *const[]){ "good", "fair", "poor", NULL },
                                  vchat_call_get_quality (a)));

  /* Muted and camera-enabled follow the daemon, with notify. */
  g_assert_false (vchat_call_get_muted (a));
  g_assert_true (vchat_call_get_camera_enabled (a));
  g_signal_connect (a, "notify::muted", G_CALLBACK (count_notify), &muted_notifies);
  g_signal_connect (a, "notify::camera-enabled", G_CALLBACK (count_notify), &camera_notifies);
  ok = AWAIT (vchat_call_set_muted_async (a, TRUE, NULL, got_result, &result),
              vchat_call_set_muted_finish (a, result, &error));
  g_assert_no_error (error);
  g_assert_true (ok);
  WAIT_FOR (vchat_call_get_muted (a), 10);
  g_assert_cmpuint (muted_notifies, ==, 1);
  ok = AWAIT (vchat_call_set_camera_enabled_async (a, FALSE, NULL, got_result, &result),
              vchat_call_set_camera_enabled_finish (a, result, &error));
  g_assert_no_error (error);
  WAIT_FOR (!vchat_call_get_camera_enabled (a), 10);
  g_assert_cmpuint (camera_notifies, ==, 1);
  /* B is told, over the control channel. */
  WAIT_FOR (vchat_call_get_peer_muted (b) && !vchat_call_get_peer_camera_enabled (b), 10);
  {
    gboolean peer_muted = FALSE, peer_camera = TRUE;

    g_object_get (b, "peer-muted", &peer_muted, "peer-camera-enabled", &peer_camera, NULL);
    g_assert_true (peer_muted);
    g_assert_false (peer_camera);
  }
  g_signal_connect (b, "peer-typing", G_CALLBACK (count_signal), &typing);
  ok = AWAIT (vchat_call_send_typing_async (a, NULL, got_result, &result),
              vchat_call_send_typing_finish (a, result, &error));
  g_assert_no_error (error);
  g_assert_true (ok);
  WAIT_FOR (typing == 1, 10);
  ok = AWAIT (vchat_call_set_muted_async (a, FALSE, NULL, got_result, &result),
              vchat_call_set_muted_finish (a, result, &error));
  g_assert_no_error (error);
  WAIT_FOR (!vchat_call_get_muted (a), 10);
  ok = AWAIT (vchat_call_set_camera_enabled_async (a, TRUE, NULL, got_result, &result),
              vchat_call_set_camera_enabled_finish (a, result, &error));
  g_assert_no_error (error);
  WAIT_FOR (vchat_call_get_camera_enabled (a), 10);
  WAIT_FOR (!vchat_call_get_peer_muted (b) && vchat_call_get_peer_camera_enabled (b), 10);
  g_assert_cmpuint (muted_notifies, ==, 2);
  g_assert_cmpuint (camera_notifies, ==, 2);

  /* A chat message. */
  g_signal_connect (b, "message-received", G_CALLBACK (on_message), &received);
  ok = AWAIT (vchat_call_send_message_async (a, "hello from libvchat", NULL, got_result, &result),
              vchat_call_send_message_finish (a, result, &error));
  g_assert_no_error (error);
  WAIT_FOR (received != NULL, 10);
  g_assert_cmpstr (received, ==, "hello from libvchat");

  /* Without PipeWire nodes there is no picture to show. */
  g_assert_null (vchat_call_get_remote_video_node (a));
  source = vchat_call_create_video_source (a, VCHAT_VIDEO_REMOTE, &error);
  g_assert_null (source);
  g_assert_error (error, VCHAT_ERROR, VCHAT_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Accept on a connected call: the daemon's InvalidState, readable. */
  ok = AWAIT (vchat_call_accept_async (a, NULL, got_result, &result),
              vchat_call_accept_finish (a, result, &error));
  g_assert_false (ok);
  g_assert_error (error, VCHAT_ERROR, VCHAT_ERROR_INVALID_STATE);
  g_assert_false (g_str_has_prefix (error->message, "GDBus.Error"));
  g_test_message ("accept on a connected call: %s", error->message);
  g_clear_error (&error);

  /* Next: A's call ends, a new one searches; B sees peer-next. */
  a2 = AWAIT (vchat_call_next_async (a, NULL, got_result, &result),
              vchat_call_next_finish (a, result, &error));
  g_assert_no_error (error);
  g_assert_true (VCHAT_IS_CALL (a2));
  g_assert_true (a2 != a);
  wait_state (a, VCHAT_CALL_STATE_ENDED, 10);
  g_assert_cmpint (vchat_call_get_end_reason (a), ==, VCHAT_END_REASON_NEXT);
  wait_state (b, VCHAT_CALL_STATE_ENDED, 10);
  g_assert_cmpint (vchat_call_get_end_reason (b), ==, VCHAT_END_REASON_PEER_NEXT);
  g_assert_cmpint (vchat_call_get_state (a2), ==, VCHAT_CALL_STATE_SEARCHING);
  g_assert_true (list_contains (vchat_client_get_calls (client_a), a2));
  WAIT_FOR (added->len == 2, 5);
  g_assert_true (added->pdata[1] == a2);

  /* Hangup of the search. */
  hangup (a2);
  wait_state (a2, VCHAT_CALL_STATE_ENDED, 10);
  g_assert_cmpint (vchat_call_get_end_reason (a2), ==, VCHAT_END_REASON_HANGUP);
  g_signal_handler_disconnect (client_a, id);
}

static VChatCall *
create_invite (char **code_out)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *link = NULL;
  VChatCall *call;

  call = AWAIT (
    vchat_client_create_invite_async (client_a, 600, "Ada's friend", NULL, got_result, &result),
    vchat_client_create_invite_finish (client_a, result, &link, &error));
  g_assert_no_error (error);
  g_assert_true (VCHAT_IS_CALL (call));
  g_assert_nonnull (vchat_call_get_invite_code (call));
  g_assert_nonnull (link);
  g_assert_nonnull (strstr (link, vchat_call_get_invite_code (call)));
  g_assert_cmpint (vchat_call_get_kind (call), ==, VCHAT_CALL_KIND_INVITE);
  g_assert_cmpint (vchat_call_get_state (call), ==, VCHAT_CALL_STATE_SEARCHING);
  g_test_message ("invite %s: %s", vchat_call_get_invite_code (call), link);
  *code_out = g_strdup (link);
  return call;
}

static VChatCall *
join_invite (const char *link)
{
  g_autoptr (GError) error = NULL;
  VChatCall *call = AWAIT (
    vchat_client_join_invite_async (client_b, link, NULL, got_result, &result),
    vchat_client_join_invite_finish (client_b, result, &error));

  g_assert_no_error (error);
  g_assert_true (VCHAT_IS_CALL (call));
  g_assert_cmpint (vchat_call_get_kind (call), ==, VCHAT_CALL_KIND_INVITE);
  g_assert_cmpint (vchat_call_get_direction (call), ==, VCHAT_CALL_DIRECTION_OUTGOING);
  return call;
}

static void
test_invite (void)
{
  g_autoptr (VChatCall) a = NULL, b = NULL, incoming = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *link = NULL;
  gulong id;
  gboolean ok;

  id = g_signal_connect (client_a, "incoming-call", G_CALLBACK (on_incoming), &incoming);
  a = create_invite (&link);
  b = join_invite (link);
  WAIT_FOR (incoming != NULL, 15);
  g_assert_true (incoming == a);
  wait_state (a, VCHAT_CALL_STATE_INCOMING, 10);
  g_assert_cmpint (vchat_call_get_direction (a), ==, VCHAT_CALL_DIRECTION_INCOMING);
  g_assert_cmpint (vchat_call_get_state (b), ==, VCHAT_CALL_STATE_RINGING);

  ok = AWAIT (vchat_call_accept_async (a, NULL, got_result, &result),
              vchat_call_accept_finish (a, result, &error));
  g_assert_no_error (error);
  g_assert_true (ok);
  wait_state (a, VCHAT_CALL_STATE_CONNECTED, 30);
  wait_state (b, VCHAT_CALL_STATE_CONNECTED, 30);
  g_assert_cmpstr (vchat_call_get_peer_name (b), ==, g_getenv ("VCHAT_TEST_NAME_A"));
  g_assert_cmpstr (vchat_call_get_peer_name (a), ==, g_getenv ("VCHAT_TEST_NAME_B"));

  hangup (b);
  wait_state (b, VCHAT_CALL_STATE_ENDED, 10);
  wait_state (a, VCHAT_CALL_STATE_ENDED, 10);
  g_assert_cmpint (vchat_call_get_end_reason (b), ==, VCHAT_END_REASON_HANGUP);
  g_assert_cmpint (vchat_call_get_end_reason (a), ==, VCHAT_END_REASON_PEER_HANGUP);
  g_signal_handler_disconnect (client_a, id);
}

static void
test_reject (void)
{
  g_autoptr (VChatCall) a = NULL, b = NULL, incoming = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *link = NULL;
  gulong id;
  gboolean ok;

  id = g_signal_connect (client_a, "incoming-call", G_CALLBACK (on_incoming), &incoming);
  a = create_invite (&link);
  b = join_invite (link);
  WAIT_FOR (incoming != NULL, 15);
  g_assert_true (incoming == a);
  wait_state (a, VCHAT_CALL_STATE_INCOMING, 10);
  ok = AWAIT (vchat_call_reject_async (a, NULL, got_result, &result),
              vchat_call_reject_finish (a, result, &error));
  g_assert_no_error (error);
  g_assert_true (ok);
  wait_state (a, VCHAT_CALL_STATE_ENDED, 10);
  wait_state (b, VCHAT_CALL_STATE_ENDED, 10);
  g_assert_cmpint (vchat_call_get_end_reason (a), ==, VCHAT_END_REASON_REJECTED);
  g_assert_cmpint (vchat_call_get_end_reason (b), ==, VCHAT_END_REASON_REJECTED);
  g_signal_handler_disconnect (client_a, id);
}

static void
test_errors (void)
{
  g_autoptr (GError) error = NULL;
  VChatCall *call;

  call = AWAIT (
    vchat_client_join_invite_async (client_b, "this is no invite!", NULL, got_result, &result),
    vchat_client_join_invite_finish (client_b, result, &error));
  g_assert_null (call);
  g_assert_error (error, VCHAT_ERROR, VCHAT_ERROR_INVALID_ARGS);
  g_assert_false (g_str_has_prefix (error->message, "GDBus.Error"));
  g_assert_null (strstr (error->message, "io.github.vchat"));
  g_test_message ("join_invite with garbage: %s", error->message);
  g_clear_error (&error);

  call = AWAIT (
    vchat_client_join_invite_async (client_b, "abcd-efgh-ijkl-mnop", NULL, got_result, &result),
    vchat_client_join_invite_finish (client_b, result, &error));
  g_assert_null (call);
  g_assert_error (error, VCHAT_ERROR, VCHAT_ERROR_NOT_FOUND);
  g_test_message ("join_invite of an unknown code: %s", error->message);
  g_clear_error (&error);

  {
    gboolean ok = AWAIT (
      vchat_client_select_camera_async (client_a, "no-such-camera", NULL, got_result, &result),
      vchat_client_select_camera_finish (client_a, result, &error));
    g_assert_false (ok);
    g_assert_error (error, VCHAT_ERROR, VCHAT_ERROR_NO_CAMERA);
    g_test_message ("select_camera of a missing camera: %s", error->message);
  }
}

static void
test_history (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = NULL;
  VChatHistoryEntry *newest;
  g_autoptr (VChatHistoryEntry) copy = NULL;

  entries = AWAIT (vchat_client_get_history_async (client_a, 0, NULL, got_result, &result),
                   vchat_client_get_history_finish (client_a, result, &error));
  g_assert_no_error (error);
  g_assert_nonnull (entries);
  /* The random call, the invite and the rejected invite. */
  g_assert_cmpuint (entries->len, >=, 3);
  newest = entries->pdata[0];
  g_assert_cmpint (newest->kind, ==, VCHAT_CALL_KIND_INVITE);
  g_assert_cmpint (newest->direction, ==, VCHAT_CALL_DIRECTION_INCOMING);
  g_assert_cmpint (newest->end_reason, ==, VCHAT_END_REASON_REJECTED);
  g_assert_cmpint (newest->started, >, 0);
  copy = vchat_history_entry_copy (newest);
  g_assert_cmpstr (copy->peer_name, ==, newest->peer_name);
  for (guint i = 0; i < entries->len; i++) {
    VChatHistoryEntry *e = entries->pdata[i];
    g_test_message ("history: %d %d '%s' %" G_GINT64_FORMAT " +%" G_GINT64_FORMAT " %d", e->kind,
                    e->direction, e->peer_name, e->started, e->duration, e->end_reason);
  }
  g_clear_pointer (&entries, g_ptr_array_unref);

  entries = AWAIT (vchat_client_get_history_async (client_a, 1, NULL, got_result, &result),
                   vchat_client_get_history_finish (client_a, result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, 1);
}

static void
test_restart (void)
{
  g_autoptr (VChatCall) a = NULL, b = NULL, a2 = NULL, b2 = NULL;
  g_autoptr (GPtrArray) added = g_ptr_array_new_with_free_func (g_object_unref);
  guint connected_notifies = 0;
  gulong id;

  a = start_random (client_a, NULL);
  b = start_random (client_b, NULL);
  wait_state (a, VCHAT_CALL_STATE_CONNECTED, 30);
  wait_state (b, VCHAT_CALL_STATE_CONNECTED, 30);

  g_signal_connect (client_a, "notify::connected", G_CALLBACK (count_notify), &connected_notifies);
  printf ("# RESTART-DAEMON-A\n");
  fflush (stdout);

  WAIT_FOR (!vchat_client_get_connected (client_a), 15);
  g_assert_cmpuint (connected_notifies, ==, 1);
  g_assert_cmpint (vchat_call_get_state (a), ==, VCHAT_CALL_STATE_ENDED);
  g_assert_cmpint (vchat_call_get_end_reason (a), ==, VCHAT_END_REASON_ERROR);
  g_assert_false (list_contains (vchat_client_get_calls (client_a), a));
  g_assert_cmpint (vchat_client_get_signaling_state (client_a), ==, VCHAT_SIGNALING_STATE_OFFLINE);

  WAIT_FOR (vchat_client_get_connected (client_a), 30);
  g_assert_cmpuint (connected_notifies, ==, 2);
  WAIT_FOR (vchat_client_get_signaling_state (client_a) == VCHAT_SIGNALING_STATE_ONLINE, 15);
  g_assert_cmpstr (vchat_client_get_version (client_a), ==, g_getenv ("VCHAT_TEST_VERSION"));

  /* B's call is over or soon will be; end it to be free for a new one. */
  if (vchat_call_get_state (b) != VCHAT_CALL_STATE_ENDED)
    hangup (b);

  id = g_signal_connect (client_a, "call-added", G_CALLBACK (on_call_added), added);
  a2 = start_random (client_a, NULL);
  b2 = start_random (client_b, NULL);
  g_assert_cmpuint (added->len, ==, 1);
  g_assert_true (added->pdata[0] == a2);
  wait_state (a2, VCHAT_CALL_STATE_CONNECTED, 30);
  wait_state (b2, VCHAT_CALL_STATE_CONNECTED, 30);
  hangup (a2);
  wait_state (b2, VCHAT_CALL_STATE_ENDED, 10);
  g_signal_handler_disconnect (client_a, id);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  gst_init (&argc, &argv);

  g_test_add_func ("/plugin/client", test_client);
  g_test_add_func ("/plugin/random", test_random);
  g_test_add_func ("/plugin/invite", test_invite);
  g_test_add_func ("/plugin/reject", test_reject);
  g_test_add_func ("/plugin/errors", test_errors);
  g_test_add_func ("/plugin/history", test_history);
  g_test_add_func ("/plugin/restart", test_restart);
  ret = g_test_run ();
  g_clear_object (&client_a);
  g_clear_object (&client_b);
  return ret;
}
