/* vchatctl-wait.c: --wait, until a call is connected or ended
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatctl.h"

#include <glib/gi18n.h>

typedef struct {
  GMainLoop *loop;
  gboolean timed_out;
  gboolean daemon_gone;
} Wait;

static gboolean
settled (VchatDBusCall *call)
{
  const char *state = vchat_dbus_call_get_state (call);

  return g_strcmp0 (state, "connected") == 0 || g_strcmp0 (state, "ended") == 0;
}

static void
on_state (VchatDBusCall *call, GParamSpec *pspec, Wait *wait)
{
  if (settled (call))
    g_main_loop_quit (wait->loop);
}

static void
on_owner (GDBusProxy *proxy, GParamSpec *pspec, Wait *wait)
{
  g_autofree char *owner = g_dbus_proxy_get_name_owner (proxy);

  if (!owner) {
    wait->daemon_gone = TRUE;
    g_main_loop_quit (wait->loop);
  }
}

static gboolean
on_timeout (gpointer data)
{
  Wait *wait = data;

  wait->timed_out = TRUE;
  g_main_loop_quit (wait->loop);
  return G_SOURCE_REMOVE;
}

/* Waits until @call is connected (TRUE) or ended (FALSE), for at most
 * @timeout seconds (0: for ever). The call goes on after a timeout. */
gboolean
vchatctl_wait_connected (Vchatctl *ctl, VchatDBusCall *call, double timeout, GError **error)
{
  const char *path = g_dbus_proxy_get_object_path (G_DBUS_PROXY (call));
  g_autofree char *label = vchatctl_call_label (path);
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Wait wait = { .loop = loop };
  guint timeout_id = 0;
  gulong state_id, owner_id;
  const char *state;

  state_id = g_signal_connect (call, "notify::state", G_CALLBACK (on_state), &wait);
  owner_id = g_signal_connect (call, "notify::g-name-owner", G_CALLBACK (on_owner), &wait);
  if (timeout > 0)
    timeout_id = g_timeout_add ((guint) (timeout * 1000), on_timeout, &wait);

  if (!settled (call))
    g_main_loop_run (loop);

  g_signal_handler_disconnect (call, state_id);
  g_signal_handler_disconnect (call, owner_id);
  if (timeout_id && !wait.timed_out)
    g_source_remove (timeout_id);

  state = vchat_dbus_call_get_state (call);
  if (g_strcmp0 (state, "connected") == 0)
    return TRUE;
  if (g_strcmp0 (state, "ended") == 0) {
    g_autofree char *reason = vchatctl_end_reason_text (vchat_dbus_call_get_end_reason (call));
    g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_FAILED, _ ("call %s ended: %s"), label,
                 reason);
    return FALSE;
  }
  if (wait.daemon_gone) {
    g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_FAILED,
                 _ ("vchatd left the bus while call %s was %s; see: journalctl --user -u vchatd"),
                 label, state ? state : "starting");
    return FALSE;
  }
  g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_TIMEOUT,
               /* Translators: the call's number, its state (such as "ringing"), the
                * seconds waited, and the call's number again. */
               _ ("call %s is still %s after %g s; it goes on (end it with: vchatctl hangup %s)"),
               label, state ? state : "starting", timeout, label);
  return FALSE;
}
