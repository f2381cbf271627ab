/* vchatd-options.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-options.h"

#include <string.h>
#include <glib/gi18n.h>

#include "vchat-protocol.h"
#include "vchatd-error.h"

#define MAX_INTERESTS 16
#define MAX_INTEREST_LEN 32
#define MAX_LANGUAGE_LEN 16
#define MAX_NAME_LEN 64
#define MIN_TTL 10

static gboolean
check_type (const char *key, GVariant *value, const GVariantType *type, GError **error)
{
  if (g_variant_is_of_type (value, type))
    return TRUE;
  g_set_error (error, VCHATD_ERROR, VCHATD_ERROR_INVALID_ARGS,
               _("Option “%s” must be of type %s, not %s."), key, (const char *) type,
               g_variant_get_type_string (value));
  return FALSE;
}

static gboolean
allowed (const char *key, VchatdOptionsKind kind)
{
  if (g_str_equal (key, "interests") || g_str_equal (key, "language"))
    return kind & VCHATD_OPTIONS_RANDOM;
  if (g_str_equal (key, "relay_only"))
    return kind & (VCHATD_OPTIONS_RANDOM | VCHATD_OPTIONS_JOIN);
  if (g_str_equal (key, "ttl"))
    return kind & VCHATD_OPTIONS_INVITE;
  if (g_str_equal (key, "display_name"))
    return kind & (VCHATD_OPTIONS_INVITE | VCHATD_OPTIONS_JOIN);
  return FALSE;
}

gboolean
vchatd_call_options_parse (GVariant *options, VchatdOptionsKind kind, VchatdCallOptions *out,
                           GError **error)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;

  memset (out, 0, sizeof *out);
  out->interests = g_new0 (char *, 1);
  if (!options)
    return TRUE;

  g_variant_iter_init (&iter, options);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value)) {
    if (!allowed (key, kind)) {
      g_set_error (error, VCHATD_ERROR, VCHATD_ERROR_INVALID_ARGS,
                   _("Unknown option “%s” for this method; see the D-Bus API documentation."), key);
      goto fail;
    }
    if (g_str_equal (key, "interests")) {
      g_autofree const char **strv = NULL;
      gsize n;

      if (!check_type (key, value, G_VARIANT_TYPE_STRING_ARRAY, error))
        goto fail;
      strv = g_variant_get_strv (value, &n);
      if (n > MAX_INTERESTS) {
        g_set_error (error, VCHATD_ERROR, VCHATD_ERROR_INVALID_ARGS,
                     _("At most %d interests, please (%u given)."), MAX_INTERESTS,
                     (guint) n);
        goto fail;
      }
      for (gsize i = 0; i < n; i++) {
        if (strlen (strv[i]) > MAX_INTEREST_LEN) {
          g_set_error (error, VCHATD_ERROR, VCHATD_ERROR_INVALID_ARGS,
                       _("The interest “%.40s…” is too long: at most %d bytes."), strv[i],
                       MAX_INTEREST_LEN);
          goto fail;
        }
      }
      g_strfreev (out->interests);
      out->interests = vchat_interests_normalize (strv);
    } else if (g_str_equal (key, "language")) {
      if (!check_type (key, value, G_VARIANT_TYPE_STRING, error))
        goto fail;
      if (strlen (g_variant_get_string (value, NULL)) > MAX_LANGUAGE_LEN) {
        g_set_error (error, VCHATD_ERROR, VCHATD_ERROR_INVALID_ARGS,
                     _("“language” is a code like “en” or “pt-BR”: at most %d bytes."),
                     MAX_LANGUAGE_LEN);
        goto fail;
      }
      g_free (out->language);
      out->language = g_ascii_strdown (g_variant_get_string (value, NULL), -1);
      if (!*out->language)
        g_clear_pointer (&out->language, g_free);
    } else if (g_str_equal (key, "relay_only")) {
      if (!check_type (key, value, G_VARIANT_TYPE_BOOLEAN, error))
        goto fail;
      out->relay_only = g_variant_get_boolean (value);
      out->relay_only_set = TRUE;
    } else if (g_str_equal (key, "ttl")) {
      if (!check_type (key, value, G_VARIANT_TYPE_UINT32, error))
        goto fail;
      out->ttl = g_variant_get_uint32 (value);
      if (out->ttl < MIN_TTL) {
        g_set_error (error, VCHATD_ERROR, VCHATD_ERROR_INVALID_ARGS,
                     _("“ttl” is at least %d seconds (%u given)."), MIN_TTL, out->ttl);
        goto fail;
      }
    } else if (g_str_equal (key, "display_name")) {
      if (!check_type (key, value, G_VARIANT_TYPE_STRING, error))
        goto fail;
      if (strlen (g_variant_get_string (value, NULL)) > MAX_NAME_LEN) {
        g_set_error (error, VCHATD_ERROR, VCHATD_ERROR_INVALID_ARGS,
                     _("“display_name” is at most %d bytes."), MAX_NAME_LEN);
        goto fail;
      }
      g_free (out->display_name);
      out->display_name = g_variant_dup_string (value, NULL);
    }
  }
  return TRUE;

fail:
  /* g_variant_iter_loop owns @value until the loop ends normally. */
  g_variant_unref (value);
  vchatd_call_options_clear (out);
  return FALSE;
}

void
vchatd_call_options_clear (VchatdCallOptions *options)
{
  g_clear_pointer (&options->interests, g_strfreev);
  g_clear_pointer (&options->language, g_free);
  g_clear_pointer (&options->display_name, g_free);
}

/* "turn:host:port?transport=udp" → "turn://USER:PASS@host:port?transport=udp" */
static char *
turn_url (const char *url, const char *username, const char *credential)
{
  const char *rest;
  const char *scheme;
  g_autofree char *user = NULL;
  g_autofree char *pass = NULL;

  if (g_str_has_prefix (url, "turns:")) {
    scheme = "turns";
    rest = url + strlen ("turns:");
  } else if (g_str_has_prefix (url, "turn:")) {
    scheme = "turn";
    rest = url + strlen ("turn:");
  } else {
    return NULL;
  }
  while (*rest == '/')
    rest++;
  if (!username)
    return g_strdup_printf ("%s://%s", scheme, rest);
  user = g_uri_escape_string (username, NULL, FALSE);
  pass = g_uri_escape_string (credential ? credential : "", NULL, FALSE);
  return g_strdup_printf ("%s://%s:%s@%s", scheme, user, pass, rest);
}

char *
vchatd_turn_url (const char *url, const char *username, const char *credential)
{
  return turn_url (url, username, credential);
}

void
vchatd_ice_servers_to_webrtc (JsonArray *ice_servers, char **stun_server, GStrv *turn_servers)
{
  g_autoptr (GStrvBuilder) turns = g_strv_builder_new ();

  *stun_server = NULL;
  for (guint i = 0; ice_servers && i < json_array_get_length (ice_servers); i++) {
    JsonObject *entry = json_array_get_object_element (ice_servers, i);
    JsonArray *urls = json_object_get_array_member (entry, "urls");
    const char *username = json_object_get_string_member_with_default (entry, "username", NULL);
    const char *credential = json_object_get_string_member_with_default (entry, "credential", NULL);

    for (guint j = 0; urls && j < json_array_get_length (urls); j++) {
      const char *url = json_array_get_string_element (urls, j);

      if (g_str_has_prefix (url, "stun:") && !*stun_server) {
        const char *rest = url + strlen ("stun:");
        while (*rest == '/')
          rest++;
        *stun_server = g_strconcat ("stun://", rest, NULL);
      } else {
        g_autofree char *t = turn_url (url, username, credential);
        if (t)
          g_strv_builder_add (turns, t);
      }
    }
  }
  *turn_servers = g_strv_builder_end (turns);
}
