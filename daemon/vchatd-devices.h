/* vchatd-devices.h: the cameras and microphones PipeWire offers
 *
 * A live list of the PipeWire nodes a call can use: Video/Source nodes
 * (cameras) and Audio/Source nodes (microphones), from PipeWire's registry
 * through libpipewire, with hotplug. Only PipeWire is asked, never v4l2,
 * pulse or alsa, so a camera is listed once (as its PipeWire node) and
 * listing never opens hardware or starts a sound server behind PipeWire's
 * back. (Not GStreamer's PipeWire device provider: see the .c file.)
 *
 * Which device is the default comes from WirePlumber's "default" metadata
 * (default.video.source, default.audio.source), watched on the same
 * connection. It may lag WirePlumber by up to two seconds after a device
 * comes or goes (see refresh_metadata() in the .c file).
 *
 * If PipeWire goes away, the lists go empty ("changed", and a warning) and
 * stay so until the daemon restarts.
 *
 * Nodes whose properties have VCHATD_DEVICES_HIDDEN_PROPERTY = "true" are
 * left out: the nodes the daemon publishes itself (the remote video and the
 * preview) are Video/Source nodes too, and should carry it.
 *
 * Everything happens on the main context of the thread that called
 * vchatd_devices_start() (PipeWire's loop runs there), and "changed" is emitted from that context's main loop,
 * never from inside a call into this API.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define VCHATD_DEVICES_HIDDEN_PROPERTY "vchat.hidden"

/**
 * VchatdDevice:
 * @id: the PipeWire node.name: what pipewiresrc's target-object takes, and
 *   what stays the same across restarts of PipeWire
 * @name: a name for people (node.description, else node.nick, else @id)
 * @serial: the node's object.serial (also a valid target-object, but new
 *   each time the node appears)
 * @is_default: whether WirePlumber has it as the default of its kind
 *
 * One camera or microphone, as a plain copy: it does not change when the
 * device does (get a new one after "changed").
 */
typedef struct {
  char *id;
  char *name;
  guint64 serial;
  gboolean is_default;
} VchatdDevice;

#define VCHATD_TYPE_DEVICE (vchatd_device_get_type ())
GType vchatd_device_get_type (void) G_GNUC_CONST;
VchatdDevice *vchatd_device_copy (const VchatdDevice *device);
void vchatd_device_free (VchatdDevice *device);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VchatdDevice, vchatd_device_free)

#define VCHATD_TYPE_DEVICES (vchatd_devices_get_type ())
G_DECLARE_FINAL_TYPE (VchatdDevices, vchatd_devices, VCHATD, DEVICES, GObject)

/**
 * vchatd_devices_new:
 *
 * Returns: (transfer full): a device list, empty until started
 */
VchatdDevices *vchatd_devices_new (void);

/**
 * vchatd_devices_start:
 * @self: a #VchatdDevices
 * @error: return location for a #GError
 *
 * Starts watching PipeWire. On return the lists hold the devices there are
 * now; later changes come with "changed". Fails (G_IO_ERROR_NOT_FOUND) if
 * GStreamer's PipeWire plugin is not installed, or (G_IO_ERROR_NOT_CONNECTED)
 * if PipeWire is not running; the lists then stay empty. Starting twice is
 * harmless.
 *
 * Returns: %TRUE if PipeWire is being watched
 */
gboolean vchatd_devices_start (VchatdDevices *self, GError **error);

/**
 * vchatd_devices_stop:
 * @self: a #VchatdDevices
 *
 * Stops watching and empties the lists (without emitting "changed").
 * Idempotent; also done on dispose.
 */
void vchatd_devices_stop (VchatdDevices *self);

/**
 * vchatd_devices_get_cameras:
 * @self: a #VchatdDevices
 *
 * The cameras, in the order they appeared. When there are none (or
 * PipeWire is not watched) the array is empty, never %NULL.
 *
 * Returns: (transfer full) (element-type VchatdDevice): copies of the cameras
 */
GPtrArray *vchatd_devices_get_cameras (VchatdDevices *self);

/**
 * vchatd_devices_get_microphones:
 * @self: a #VchatdDevices
 *
 * Like vchatd_devices_get_cameras(), for the microphones.
 *
 * Returns: (transfer full) (element-type VchatdDevice): copies of the microphones
 */
GPtrArray *vchatd_devices_get_microphones (VchatdDevices *self);

/**
 * vchatd_devices_lookup_camera:
 * @self: a #VchatdDevices
 * @id: a node.name, or an object.serial in decimal
 *
 * Returns: (transfer full) (nullable): the camera, or %NULL if there is no
 *   such camera now
 */
VchatdDevice *vchatd_devices_lookup_camera (VchatdDevices *self, const char *id);

/**
 * vchatd_devices_lookup_microphone:
 * @self: a #VchatdDevices
 * @id: a node.name, or an object.serial in decimal
 *
 * Returns: (transfer full) (nullable): the microphone, or %NULL
 */
VchatdDevice *vchatd_devices_lookup_microphone (VchatdDevices *self, const char *id);

/**
 * vchatd_devices_get_default_camera:
 * @self: a #VchatdDevices
 *
 * The camera to use when the user has not chosen one: WirePlumber's
 * default, else the first camera.
 *
 * Returns: (transfer full) (nullable): the camera, or %NULL when there is none
 */
VchatdDevice *vchatd_devices_get_default_camera (VchatdDevices *self);

/**
 * vchatd_devices_get_default_microphone:
 * @self: a #VchatdDevices
 *
 * Like vchatd_devices_get_default_camera(), for microphones.
 *
 * Returns: (transfer full) (nullable): the microphone, or %NULL
 */
VchatdDevice *vchatd_devices_get_default_microphone (VchatdDevices *self);

/* Signals:
 *   "changed" (): a camera or microphone appeared, went away or changed
 *     (name, or which one is the default). Emitted from an idle callback
 *     just after the lists changed, once for changes that come together;
 *     get the lists again. Handlers may stop or drop the object.
 */

G_END_DECLS
