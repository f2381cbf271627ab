/* vchat-camera.c: a camera the daemon can use
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchat-private.h"

/**
 * VChatCamera:
 *
 * A camera the daemon found in PipeWire (#VChatClient:cameras). Choose it
 * for calls with vchat_client_select_camera_async() and its
 * #VChatCamera:id.
 */
struct _VChatCamera {
  GObject parent_instance;

  char *id;
  char *name;
  gboolean is_default;
};

G_DEFINE_FINAL_TYPE (VChatCamera, vchat_camera, G_TYPE_OBJECT)

enum { PROP_0, PROP_ID, PROP_NAME, PROP_IS_DEFAULT, N_PROPS };

static GParamSpec *props[N_PROPS];

static void
vchat_camera_finalize (GObject *object)
{
  VChatCamera *self = VCHAT_CAMERA (object);

  g_free (self->id);
  g_free (self->name);
  G_OBJECT_CLASS (vchat_camera_parent_class)->finalize (object);
}

static void
vchat_camera_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  VChatCamera *self = VCHAT_CAMERA (object);

  switch (prop_id) {
  case PROP_ID:
    g_value_set_string (value, self->id);
    break;
  case PROP_NAME:
    g_value_set_string (value, self->name);
    break;
  case PROP_IS_DEFAULT:
    g_value_set_boolean (value, self->is_default);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
vchat_camera_class_init (VChatCameraClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = vchat_camera_finalize;
  object_class->get_property = vchat_camera_get_property;

  /**
   * VChatCamera:id:
   *
   * The camera's id, stable for the device (its PipeWire node name).
   */
  props[PROP_ID] = g_param_spec_string ("id", NULL, NULL, NULL,
                                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * VChatCamera:name:
   *
   * The camera's name, for people.
   */
  props[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL,
                                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * VChatCamera:is-default:
   *
   * Whether this is the system's default camera.
   */
  props[PROP_IS_DEFAULT] = g_param_spec_boolean ("is-default", NULL, NULL, FALSE,
                                                 G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
vchat_camera_init (VChatCamera *self)
{
}

VChatCamera *
_vchat_camera_new (const char *id, const char *name, gboolean is_default)
{
  VChatCamera *self = g_object_new (VCHAT_TYPE_CAMERA, NULL);

  self->id = g_strdup (id ? id : "");
  self->name = g_strdup (name && *name ? name : self->id);
  self->is_default = is_default;
  return self;
}

/**
 * vchat_camera_get_id:
 * @self: a #VChatCamera
 *
 * Gets the #VChatCamera:id of the camera.
 *
 * Returns: (transfer none): the id
 */
const char *
vchat_camera_get_id (VChatCamera *self)
{
  g_return_val_if_fail (VCHAT_IS_CAMERA (self), NULL);
  return self->id;
}

/**
 * vchat_camera_get_name:
 * @self: a #VChatCamera
 *
 * Gets the #VChatCamera:name of the camera.
 *
 * Returns: (transfer none): the name, for people
 */
const char *
vchat_camera_get_name (VChatCamera *self)
{
  g_return_val_if_fail (VCHAT_IS_CAMERA (self), NULL);
  return self->name;
}

/**
 * vchat_camera_get_is_default:
 * @self: a #VChatCamera
 *
 * Gets #VChatCamera:is-default.
 *
 * Returns: whether this is the default camera
 */
gboolean
vchat_camera_get_is_default (VChatCamera *self)
{
  g_return_val_if_fail (VCHAT_IS_CAMERA (self), FALSE);
  return self->is_default;
}
