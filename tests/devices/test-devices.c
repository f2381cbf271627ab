/* test-devices.c: VchatdDevices against a real, private PipeWire
 *
 * Run inside a PipeWireEnv (tests/lib/pwenv.py, see meson.build): it starts
 * with no camera and no microphone. Cameras and microphones are published
 * by gst-launch-1.0 processes, as real ones are by other processes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <string.h>

#include "vchatd-devices.h"

#define WAIT_SECONDS 15

typedef struct {
  VchatdDevices *devices;
  guint changed;
} Fixture;

static void
on_changed (VchatdDevices *devices, Fixture *fixture)
{
  fixture->changed++;
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->devices = vchatd_devices_new ();
  g_signal_connect (fixture->devices, "changed", G_CALLBACK (on_changed), fixture);
  g_assert_true (vchatd_devices_start (fixture->devices, &error));
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  g_clear_object (&fixture->devices);
}

/* A node published by another process. */
static GSubprocess *
publish (const char *name, const char *description, const char *media_class,
         const char *extra_props)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) props = g_string_new ("props");
  g_autofree char *quoted_description = NULL;
  g_autofree char *stream_properties = NULL;
  GSubprocess *proc;
  gboolean video = g_str_has_prefix (media_class, "Video/");

  /* Structure fields as strings; the description quoted for the structure,
   * and the whole quoted again for gst-launch's own parser. */
  quoted_description = g_strescape (description, NULL);
  g_string_append_printf (props,
                          ",media.class=(string)%s,node.name=(string)%s,"
                          "node.description=(string)\\\"%s\\\",node.autoconnect=(string)false,"
                          "node.pause-on-idle=(string)false",
                          media_class, name, quoted_description);
  if (video)
    g_string_append (props, ",media.role=(string)Camera");
  if (extra_props)
    g_string_append_printf (props, ",%s", extra_props);
  stream_properties = g_strdup_printf ("stream-properties=\"%s\"", props->str);

  if (video)
    proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error, "gst-launch-1.0", "-q",
                             "videotestsrc", "is-live=true", "!",
                             "video/x-raw,format=I420,width=320,height=240,framerate=30/1", "!",
                             "pipewiresink", stream_properties, NULL);
  else
    proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error, "gst-launch-1.0", "-q",
                             "audiotestsrc", "is-live=true", "!",
                             "audio/x-raw,format=F32LE,rate=48000,channels=1", "!", "pipewiresink",
                             stream_properties, NULL);
  g_assert_no_error (error);
  return proc;
}

static void
unpublish (GSubprocess *proc)
{
  g_subprocess_force_exit (proc);
  g_assert_true (g_subprocess_wait (proc, NULL, NULL));
  g_object_unref (proc);
}

static gboolean
on_tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

typedef gboolean (*Condition) (Fixture *fixture, gconstpointer data);

/* Runs the main loop until @condition holds; fails the test after
 * WAIT_SECONDS. */
static void
wait_for (Fixture *fixture, Condition condition, gconstpointer data, const char *what)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_SECONDS * G_USEC_PER_SEC;
  guint tick = g_timeout_add (50, on_tick, NULL);

  while (!condition (fixture, data)) {
    if (g_get_monotonic_time () > deadline) {
      /* What PipeWire had then, for whoever reads the log. */
      g_spawn_command_line_sync ("pw-metadata -n default", NULL, NULL, NULL, NULL);
      g_spawn_command_line_sync ("pw-cli ls Node", NULL, NULL, NULL, NULL);
      g_error ("timed out after %d s waiting until %s", WAIT_SECONDS, what);
    }
    g_main_context_iteration (NULL, TRUE);
  }
  g_source_remove (tick);
}

/* Runs the main loop for @ms milliseconds. */
static void
spin (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;
  guint tick = g_timeout_add (20, on_tick, NULL);

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
}

static gboolean
camera_listed (Fixture *fixture, gconstpointer id)
{
  g_autoptr (VchatdDevice) device = vchatd_devices_lookup_camera (fixture->devices, id);

  return device != NULL;
}

static gboolean
camera_gone (Fixture *fixture, gconstpointer id)
{
  return !camera_listed (fixture, id);
}

static gboolean
camera_is_default (Fixture *fixture, gconstpointer id)
{
  g_autoptr (VchatdDevice) device = vchatd_devices_lookup_camera (fixture->devices, id);

  return device && device->is_default;
}

static gboolean
microphone_listed (Fixture *fixture, gconstpointer id)
{
  g_autoptr (VchatdDevice) device = vchatd_devices_lookup_microphone (fixture->devices, id);

  return device != NULL;
}

static gboolean
microphone_gone (Fixture *fixture, gconstpointer id)
{
  return !microphone_listed (fixture, id);
}

/* "changed" comes (from an idle) just after the lists changed. */
static gboolean
changed_since (Fixture *fixture, gconstpointer before)
{
  return fixture->changed > *(const guint *) before;
}

static gboolean
no_camera (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GPtrArray) cameras = vchatd_devices_get_cameras (fixture->devices);

  return cameras->len == 0;
}

static void
assert_camera_ids (Fixture *fixture, const char *const *ids)
{
  g_autoptr (GPtrArray) cameras = vchatd_devices_get_cameras (fixture->devices);

  g_assert_cmpuint (cameras->len, ==, g_strv_length ((char **) ids));
  for (guint i = 0; i < cameras->len; i++)
    g_assert_cmpstr (((VchatdDevice *) cameras->pdata[i])->id, ==, ids[i]);
}

static void
test_empty (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GPtrArray) cameras = vchatd_devices_get_cameras (fixture->devices);
  g_autoptr (GPtrArray) microphones = vchatd_devices_get_microphones (fixture->devices);
  g_autoptr (VchatdDevice) default_camera = vchatd_devices_get_default_camera (fixture->devices);
  g_autoptr (VchatdDevice) default_mic = vchatd_devices_get_default_microphone (fixture->devices);
  g_autoptr (VchatdDevice) nothing = vchatd_devices_lookup_camera (fixture->devices, "nothing");

  /* The session's null audio output is a sink: not a microphone. */
  g_assert_nonnull (cameras);
  g_assert_cmpuint (cameras->len, ==, 0);
  g_assert_nonnull (microphones);
  g_assert_cmpuint (microphones->len, ==, 0);
  g_assert_null (default_camera);
  g_assert_null (default_mic);
  g_assert_null (nothing);

  /* Nothing happens, so nothing is announced. */
  spin (500);
  g_assert_cmpuint (fixture->changed, ==, 0);
}

static void
test_hotplug (Fixture *fixture, gconstpointer data)
{
  GSubprocess *a, *b;
  g_autoptr (VchatdDevice) cam_a = NULL;
  g_autoptr (VchatdDevice) by_serial = NULL;
  g_autoptr (VchatdDevice) default_camera = NULL;
  g_autofree char *serial = NULL;
  guint changed;

  /* A camera appears: "changed", and it is listed with its name. */
  changed = fixture->changed;
  a = publish ("vchat-test-cam-a", "Test camera A (front)", "Video/Source", NULL);
  wait_for (fixture, camera_listed, "vchat-test-cam-a", "camera A is listed");
  wait_for (fixture, changed_since, &changed, "\"changed\" is emitted");
  cam_a = vchatd_devices_lookup_camera (fixture->devices, "vchat-test-cam-a");
  g_assert_cmpstr (cam_a->id, ==, "vchat-test-cam-a");
  g_assert_cmpstr (cam_a->name, ==, "Test camera A (front)");
  g_assert_cmpuint (cam_a->serial, >, 0);
  serial = g_strdup_printf ("%" G_GUINT64_FORMAT, cam_a->serial);
  by_serial = vchatd_devices_lookup_camera (fixture->devices, serial);
  g_assert_nonnull (by_serial);
  g_assert_cmpstr (by_serial->id, ==, "vchat-test-cam-a");
  g_assert_null (vchatd_devices_lookup_microphone (fixture->devices, "vchat-test-cam-a"));
  /* The only camera is WirePlumber's default. */
  wait_for (fixture, camera_is_default, "vchat-test-cam-a", "camera A is the default");

  /* A second camera. */
  changed = fixture->changed;
  b = publish ("vchat-test-cam-b", "Test camera B", "Video/Source", NULL);
  wait_for (fixture, camera_listed, "vchat-test-cam-b", "camera B is listed");
  wait_for (fixture, changed_since, &changed, "\"changed\" is emitted");
  assert_camera_ids (fixture,
                     (const char *const[]){ "vchat-test-cam-a", "vchat-test-cam-b", NULL });

  /* The first one goes: the list follows, and B becomes the default. */
  changed = fixture->changed;
  unpublish (a);
  wait_for (fixture, camera_gone, "vchat-test-cam-a", "camera A is gone");
  wait_for (fixture, changed_since, &changed, "\"changed\" is emitted");
  assert_camera_ids (fixture, (const char *const[]){ "vchat-test-cam-b", NULL });
  g_assert_null (vchatd_devices_lookup_camera (fixture->devices, serial));
  wait_for (fixture, camera_is_default, "vchat-test-cam-b", "camera B is the default");
  default_camera = vchatd_devices_get_default_camera (fixture->devices);
  g_assert_cmpstr (default_camera->id, ==, "vchat-test-cam-b");

  /* And the last one: back to the empty state. */
  unpublish (b);
  wait_for (fixture, no_camera, NULL, "no camera is left");
  g_assert_null (vchatd_devices_get_default_camera (fixture->devices));
}

static void
test_microphones (Fixture *fixture, gconstpointer data)
{
  GSubprocess *mic, *cam;
  g_autoptr (GPtrArray) microphones = NULL;
  g_autoptr (GPtrArray) cameras = NULL;
  g_autoptr (VchatdDevice) default_mic = NULL;
  VchatdDevice *listed;

  mic = publish ("vchat-test-mic", "Test microphone", "Audio/Source", NULL);
  cam = publish ("vchat-test-cam", "Test camera", "Video/Source", NULL);
  wait_for (fixture, microphone_listed, "vchat-test-mic", "the microphone is listed");
  wait_for (fixture, camera_listed, "vchat-test-cam", "the camera is listed");

  microphones = vchatd_devices_get_microphones (fixture->devices);
  g_assert_cmpuint (microphones->len, ==, 1);
  listed = microphones->pdata[0];
  g_assert_cmpstr (listed->id, ==, "vchat-test-mic");
  g_assert_cmpstr (listed->name, ==, "Test microphone");
  cameras = vchatd_devices_get_cameras (fixture->devices);
  g_assert_cmpuint (cameras->len, ==, 1);
  g_assert_null (vchatd_devices_lookup_camera (fixture->devices, "vchat-test-mic"));
  default_mic = vchatd_devices_get_default_microphone (fixture->devices);
  g_assert_cmpstr (default_mic->id, ==, "vchat-test-mic");

  unpublish (mic);
  wait_for (fixture, microphone_gone, "vchat-test-mic", "the microphone is gone");
  g_assert_true (camera_listed (fixture, "vchat-test-cam"));
  unpublish (cam);
  wait_for (fixture, no_camera, NULL, "no camera is left");
}

static void
test_hidden (Fixture *fixture, gconstpointer data)
{
  GSubprocess *hidden, *visible;

  /* The daemon's own published video is a Video/Source too. */
  hidden = publish ("vchat-test-remote", "Remote video", "Video/Source",
                    VCHATD_DEVICES_HIDDEN_PROPERTY "=(string)true");
  visible = publish ("vchat-test-cam", "Test camera", "Video/Source", NULL);
  wait_for (fixture, camera_listed, "vchat-test-cam", "the camera is listed");
  spin (300);
  g_assert_null (vchatd_devices_lookup_camera (fixture->devices, "vchat-test-remote"));
  assert_camera_ids (fixture, (const char *const[]){ "vchat-test-cam", NULL });

  unpublish (hidden);
  unpublish (visible);
  wait_for (fixture, no_camera, NULL, "no camera is left");
}

static void
test_restart (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  GSubprocess *cam = publish ("vchat-test-cam", "Test camera", "Video/Source", NULL);
  g_autoptr (GPtrArray) cameras = NULL;

  wait_for (fixture, camera_is_default, "vchat-test-cam", "the camera is the default");
  vchatd_devices_stop (fixture->devices);
  vchatd_devices_stop (fixture->devices);
  g_assert_false (camera_listed (fixture, "vchat-test-cam"));

  /* Started again, it has what is there at once, default included. */
  g_assert_true (vchatd_devices_start (fixture->devices, &error));
  g_assert_no_error (error);
  g_assert_true (vchatd_devices_start (fixture->devices, &error));
  g_assert_true (camera_listed (fixture, "vchat-test-cam"));
  g_assert_true (camera_is_default (fixture, "vchat-test-cam"));

  unpublish (cam);
  wait_for (fixture, no_camera, NULL, "no camera is left");
}

static void
test_no_pipewire (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VchatdDevices) devices = vchatd_devices_new ();
  g_autoptr (GPtrArray) cameras = NULL;
  g_autofree char *saved_runtime = g_strdup (g_getenv ("PIPEWIRE_RUNTIME_DIR"));
  g_autofree char *empty = g_dir_make_tmp ("vchat-no-pipewire-XXXXXX", &error);

  g_assert_no_error (error);
  g_setenv ("PIPEWIRE_RUNTIME_DIR", empty, TRUE);
  g_assert_false (vchatd_devices_start (devices, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
  g_assert_nonnull (strstr (error->message, "PipeWire"));
  cameras = vchatd_devices_get_cameras (devices);
  g_assert_cmpuint (cameras->len, ==, 0);
  vchatd_devices_stop (devices);

  if (saved_runtime)
    g_setenv ("PIPEWIRE_RUNTIME_DIR", saved_runtime, TRUE);
  else
    g_unsetenv ("PIPEWIRE_RUNTIME_DIR");
  g_rmdir (empty);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  gst_init (&argc, &argv);

  /* Never against the desktop's own PipeWire: its devices would be listed. */
  if (!g_getenv ("VCHAT_PWENV")) {
    g_test_skip ("needs a private PipeWire: run as tests/lib/pwenv.py -- test-devices");
    return g_test_run ();
  }

  g_test_add_func ("/devices/no-pipewire", test_no_pipewire);
  g_test_add ("/devices/empty", Fixture, NULL, fixture_set_up, test_empty, fixture_tear_down);
  g_test_add ("/devices/hotplug", Fixture, NULL, fixture_set_up, test_hotplug, fixture_tear_down);
  g_test_add ("/devices/microphones", Fixture, NULL, fixture_set_up, test_microphones,
              fixture_tear_down);
  g_test_add ("/devices/hidden", Fixture, NULL, fixture_set_up, test_hidden, fixture_tear_down);
  g_test_add ("/devices/restart", Fixture, NULL, fixture_set_up, test_restart, fixture_tear_down);
  return g_test_run ();
}
