/* vchatctl-config.c: config list|get|set|reset — vchatd's settings
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The settings are the GSettings schema io.github.vchat.VChat1, read and
 * written here directly (as gsettings(1) would, through dconf on a desktop):
 * they work whether or not vchatd runs, and vchatd applies changes as they
 * happen. Values are typed the way a person types them: `true`, `1500`,
 * `wss://chat.example.org/ws`, not GVariant text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vchatctl.h"

#include <glib/gi18n.h>

#define SCHEMA_ID "io.github.vchat.VChat1"

static GSettingsSchema *
lookup_schema (GError **error)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  GSettingsSchema *schema = source ? g_settings_schema_source_lookup (source, SCHEMA_ID, TRUE)
                                   : NULL;

  if (!schema)
    g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_FAILED,
                 _ ("the settings schema %s is not installed: install vchat (meson install "
                    "compiles it), or point GSETTINGS_SCHEMA_DIR at a build's data/ folder"),
                 SCHEMA_ID);
  return schema;
}

static GSettingsSchemaKey *
lookup_key (GSettingsSchema *schema, const char *name, GError **error)
{
  g_auto (GStrv) keys = NULL;
  g_autofree char *list = NULL;

  if (g_settings_schema_has_key (schema, name))
    return g_settings_schema_get_key (schema, name);
  keys = g_settings_schema_list_keys (schema);
  list = g_strjoinv (", ", keys);
  g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_NOT_FOUND,
               _ ("there is no setting “%s”; the settings are: %s"), name, list);
  return NULL;
}

/* A value as a person reads it: strings bare, the rest as GVariant text. */
static char *
value_text (GVariant *value)
{
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    return g_variant_dup_string (value, NULL);
  return g_variant_print (value, FALSE);
}

static JsonNode *
value_json (GVariant *value)
{
  JsonNode *node = json_node_new (JSON_NODE_VALUE);

  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    json_node_set_boolean (node, g_variant_get_boolean (value));
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
    json_node_set_int (node, g_variant_get_uint32 (value));
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    json_node_set_string (node, g_variant_get_string (value, NULL));
  else {
    g_autofree char *text = g_variant_print (value, FALSE);
    json_node_set_string (node, text);
  }
  return node;
}

/* The range a u key allows, as text for an error message. */
static char *
range_text (GSettingsSchemaKey *key)
{
  g_autoptr (GVariant) range = g_settings_schema_key_get_range (key);
  const char *kind;
  g_autoptr (GVariant) detail = NULL;
  guint32 min, max;

  g_variant_get (range, "(&sv)", &kind, &detail);
  if (g_str_equal (kind, "range") && g_variant_is_of_type (detail, G_VARIANT_TYPE ("(uu)"))) {
    g_variant_get (detail, "(uu)", &min, &max);
    /* Translators: completes "%s is %s, not “%s”" of a setting. */
    return g_strdup_printf (_ ("a whole number from %u to %u"), min, max);
  }
  return g_strdup (_ ("a whole number"));
}

static GVariant *
parse_value (GSettingsSchemaKey *key, const char *name, const char *text, GError **error)
{
  const GVariantType *type = g_settings_schema_key_get_value_type (key);
  g_autoptr (GVariant) value = NULL;

  if (g_variant_type_equal (type, G_VARIANT_TYPE_STRING)) {
    value = g_variant_ref_sink (g_variant_new_string (text));
  } else if (g_variant_type_equal (type, G_VARIANT_TYPE_BOOLEAN)) {
    static const char *const yes[] = { "true", "yes", "on", "1", NULL };
    static const char *const no[] = { "false", "no", "off", "0", NULL };
    g_autofree char *lower = g_ascii_strdown (text, -1);
    if (g_strv_contains (yes, lower))
      value = g_variant_ref_sink (g_variant_new_boolean (TRUE));
    else if (g_strv_contains (no, lower))
      value = g_variant_ref_sink (g_variant_new_boolean (FALSE));
    else {
      g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE,
                   _ ("%s is on or off: give true or false, not “%s”"), name, text);
      return NULL;
    }
  } else if (g_variant_type_equal (type, G_VARIANT_TYPE_UINT32)) {
    guint64 n;
    if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT32, &n, NULL)) {
      g_autofree char *range = range_text (key);
      /* Translators: a setting's name, what it takes (such as "a whole number
       * from 1 to 100") and the value given. */
      g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE, _ ("%s is %s, not “%s”"), name,
                   range, text);
      return NULL;
    }
    value = g_variant_ref_sink (g_variant_new_uint32 ((guint32) n));
  } else {
    g_autoptr (GError) parse_error = NULL;

    value = g_variant_parse (type, text, NULL, NULL, &parse_error);
    if (!value) {
      g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE, "%s: %s", name,
                   parse_error->message);
      return NULL;
    }
  }

  if (!g_settings_schema_key_range_check (key, value)) {
    g_autofree char *range = range_text (key);
    g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE, _ ("%s is %s, not “%s”"), name, range,
                 text);
    return NULL;
  }
  return g_steal_pointer (&value);
}

static gboolean
check_server_url (const char *text, GError **error)
{
  static const char *const schemes[] = { "ws", "wss", "http", "https", NULL };
  g_autoptr (GUri) uri = NULL;

  if (!*text)
    return TRUE; /* back to the default */
  uri = g_uri_parse (text, G_URI_FLAGS_NONE, NULL);
  if (uri && g_strv_contains (schemes, g_uri_get_scheme (uri)) && g_uri_get_host (uri) &&
      *g_uri_get_host (uri))
    return TRUE;
  g_set_error (
    error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE,
    _ ("server-url must be a ws://, wss://, http:// or https:// address with a host, like "
       "wss://chat.example.org/ws; “%s” is not"),
    text);
  return FALSE;
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static gboolean
config_list (GSettingsSchema *schema, GSettings *settings, Vchatctl *ctl)
{
  g_auto (GStrv) keys = g_settings_schema_list_keys (schema);
  g_autoptr (VchatctlTable) table = NULL;

  qsort (keys, g_strv_length (keys), sizeof (char *), compare_names);
  if (ctl->json) {
    g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);
    JsonObject *object = json_object_new ();
    for (char **k = keys; *k; k++) {
      g_autoptr (GVariant) value = g_settings_get_value (settings, *k);
      json_object_set_member (object, *k, value_json (value));
    }
    json_node_take_object (root, object);
    vchatctl_print_json (root);
    return TRUE;
  }
  /* Translators: column headings of `vchatctl config list`, in capitals. */
  table = vchatctl_table_new (3, _ ("SETTING"), _ ("VALUE"), _ ("WHAT IT IS"));
  for (char **k = keys; *k; k++) {
    g_autoptr (GSettingsSchemaKey) key = g_settings_schema_get_key (schema, *k);
    g_autoptr (GVariant) value = g_settings_get_value (settings, *k);
    g_autofree char *text = value_text (value);
    g_autoptr (GVariant) user = g_settings_get_user_value (settings, *k);
    g_autofree char *shown = user ? g_strdup (text) : g_strdup_printf (_ ("%s (default)"), text);
    const char *summary = g_settings_schema_key_get_summary (key);
    vchatctl_table_add (table, *k, *text || user ? shown : _ ("\"\" (default)"),
                        summary ? summary : "");
  }
  vchatctl_table_print (table, "");
  return TRUE;
}

static gboolean
config_run (Vchatctl *ctl, char **args, GError **error)
{
  const char *action = args[0] ? args[0] : "list";
  guint n_args = g_strv_length (args);
  g_autoptr (GSettingsSchema) schema = NULL;
  g_autoptr (GSettingsSchemaKey) key = NULL;
  g_autoptr (GSettings) settings = NULL;
  guint want;

  if (g_str_equal (action, "list"))
    want = 1;
  else if (g_str_equal (action, "get") || g_str_equal (action, "reset"))
    want = 2;
  else if (g_str_equal (action, "set"))
    want = 3;
  else {
    g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE,
                 _ ("config: unknown action “%s”; use list, get KEY, set KEY VALUE or reset KEY"),
                 action);
    return FALSE;
  }
  if (MAX (n_args, 1) != want) {
    g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE,
                 want == 3   ? _ ("config set takes a KEY and a VALUE")
                 : want == 2 ? _ ("config %s takes one KEY")
                             : _ ("config list takes no more arguments"),
                 action);
    return FALSE;
  }

  schema = lookup_schema (error);
  if (!schema)
    return FALSE;
  settings = g_settings_new_full (schema, NULL, NULL);
  if (g_str_equal (action, "list"))
    return config_list (schema, settings, ctl);

  key = lookup_key (schema, args[1], error);
  if (!key)
    return FALSE;

  if (g_str_equal (action, "get")) {
    g_autoptr (GVariant) value = g_settings_get_value (settings, args[1]);
    if (ctl->json) {
      g_autoptr (JsonNode) node = value_json (value);
      vchatctl_print_json (node);
    } else {
      g_autofree char *text = value_text (value);
      puts (text);
    }
    return TRUE;
  }

  if (g_str_equal (action, "reset")) {
    g_settings_reset (settings, args[1]);
  } else {
    g_autoptr (GVariant) value = parse_value (key, args[1], args[2], error);
    if (!value)
      return FALSE;
    if (g_str_equal (args[1], "server-url") && !check_server_url (args[2], error))
      return FALSE;
    if (g_str_equal (args[1], "display-name") &&
        !vchatctl_check_display_text ("display-name", args[2], error))
      return FALSE;
    if (!g_settings_set_value (settings, args[1], value)) {
      g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_FAILED,
                   _ ("%s cannot be changed here (the key is locked down by the system)"), args[1]);
      return FALSE;
    }
  }
  /* Writes are asynchronous: wait for them before exiting. */
  g_settings_sync ();
  return TRUE;
}

const VchatctlCommand vchatctl_config_commands[] = {
  { "config", "[ACTION]", N_ ("Show or change the settings (list, get, set, reset)"),
    N_ ("  vchatctl config [list]\n"
        "  vchatctl config get KEY\n"
        "  vchatctl config set KEY VALUE\n"
        "  vchatctl config reset KEY\n"
        "\n"
        "Lists the settings with their values, prints one, changes one or puts it back\n"
        "to its default. They are the GSettings schema io.github.vchat.VChat1: they\n"
        "work whether vchatd runs or not, and vchatd applies a change at once: a new\n"
        "server-url reconnects to that server (ending the calls on the old one), a new\n"
        "camera switches the call in progress, history false forgets the history.\n"
        "Booleans take true or false, numbers are checked against their range. Secrets\n"
        "(tokens, TURN passwords) are never settings. Exits with 5 for an unknown KEY.\n"),
    NULL, 0, 3, config_run },
  { NULL }
};
