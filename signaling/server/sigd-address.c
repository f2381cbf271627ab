/* sigd-address.c: whom a limit counts
 *
 * Limits count clients by address, but one IPv6 user has a whole /64 to
 * pick addresses from, so an IPv6 address counts as its /64. An IPv4
 * address written as IPv6 (::ffff:a.b.c.d, from a dual-stack socket) counts
 * as the IPv4 address.
 *
 * Behind a reverse proxy every client connects from the proxy's address;
 * only from proxies named with --trusted-proxy, the client's own address is
 * read from the Forwarded (RFC 7239) or X-Forwarded-For header.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "sigd-address.h"

#include <string.h>

GInetAddress *
sigd_address_normalize (GInetAddress *address)
{
  const guint8 *bytes = g_inet_address_to_bytes (address);

  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6 &&
      memcmp (bytes, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
    return g_inet_address_new_from_bytes (bytes + 12, G_SOCKET_FAMILY_IPV4);
  return g_object_ref (address);
}

char *
sigd_address_key (GInetAddress *address)
{
  const guint8 *bytes;
  guint8 prefix[16] = { 0 };
  g_autoptr (GInetAddress) net = NULL;
  g_autofree char *text = NULL;

  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV4)
    return g_inet_address_to_string (address);

  bytes = g_inet_address_to_bytes (address);
  if (g_inet_address_get_is_loopback (address))
    return g_inet_address_to_string (address);
  if (memcmp (bytes, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
    g_autoptr (GInetAddress) v4 = sigd_address_normalize (address);
    return g_inet_address_to_string (v4);
  }
  memcpy (prefix, bytes, 8);
  net = g_inet_address_new_from_bytes (prefix, G_SOCKET_FAMILY_IPV6);
  text = g_inet_address_to_string (net);
  return g_strconcat (text, "/64", NULL);
}

char *
sigd_address_key_from_string (const char *address)
{
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (address);

  return inet ? sigd_address_key (inet) : g_strdup (address);
}

GPtrArray *
sigd_address_parse_masks (const char *const *specs, const char *option, GError **error)
{
  g_autoptr (GPtrArray) masks = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; specs && specs[i]; i++) {
    GInetAddressMask *mask = g_inet_address_mask_new_from_string (specs[i], NULL);

    if (!mask) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--%s needs an address or ADDRESS/PREFIX, not “%s”", option, specs[i]);
      return NULL;
    }
    g_ptr_array_add (masks, mask);
  }
  return g_steal_pointer (&masks);
}

gboolean
sigd_address_in_masks (GPtrArray *masks, GInetAddress *address)
{
  g_autoptr (GInetAddress) normal = NULL;

  if (!masks || masks->len == 0)
    return FALSE;
  normal = sigd_address_normalize (address);
  for (guint i = 0; i < masks->len; i++)
    if (g_inet_address_mask_matches (masks->pdata[i], normal))
      return TRUE;
  return FALSE;
}

/* One address of a forwarded list: "192.0.2.1", "192.0.2.1:4711",
 * "[2001:db8::1]:4711", "2001:db8::1", maybe in quotes. NULL for "unknown",
 * obfuscated identifiers and anything else that is no address. */
static GInetAddress *
parse_node (const char *text)
{
  g_autofree char *node = g_strstrip (g_strdup (text));
  char *p = node;
  gsize len = strlen (p);
  char *colon;

  if (len >= 2 && p[0] == '"' && p[len - 1] == '"') {
    p[len - 1] = '\0';
    p++;
  }
  if (p[0] == '[') {
    char *end = strchr (p, ']');
    if (!end)
      return NULL;
    *end = '\0';
    p++;
  } else if ((colon = strchr (p, ':')) && !strchr (colon + 1, ':')) {
    *colon = '\0'; /* IPv4 with a port */
  }
  return g_inet_address_new_from_string (p);
}

char *
sigd_address_forwarded_client (SoupMessageHeaders *headers, GPtrArray *trusted)
{
  const char *forwarded = soup_message_headers_get_list (headers, "Forwarded");
  const char *xff = soup_message_headers_get_list (headers, "X-Forwarded-For");
  g_autoptr (GPtrArray) hops = g_ptr_array_new_with_free_func (g_object_unref);
  g_auto (GStrv) elements = NULL;

  if (forwarded) {
    elements = g_strsplit (forwarded, ",", -1);
    for (guint i = 0; elements[i]; i++) {
      g_auto (GStrv) pairs = g_strsplit (elements[i], ";", -1);
      GInetAddress *hop = NULL;

      for (guint j = 0; pairs[j]; j++) {
        char *pair = g_strstrip (pairs[j]);
        if (g_ascii_strncasecmp (pair, "for=", 4) == 0)
          hop = parse_node (pair + 4);
      }
      if (!hop)
        return NULL; /* a hop we cannot read: trust none of it */
      g_ptr_array_add (hops, hop);
    }
  } else if (xff) {
    elements = g_strsplit (xff, ",", -1);
    for (guint i = 0; elements[i]; i++) {
      GInetAddress *hop = parse_node (elements[i]);
      if (!hop)
        return NULL;
      g_ptr_array_add (hops, hop);
    }
  }
  /* The last hop was added by the proxy that talks to us; anything before
   * the nearest address that is not one of our proxies may be made up by
   * the client. */
  for (guint i = hops->len; i > 0; i--) {
    GInetAddress *hop = hops->pdata[i - 1];
    if (i == 1 || !sigd_address_in_masks (trusted, hop)) {
      g_autoptr (GInetAddress) normal = sigd_address_normalize (hop);
      return g_inet_address_to_string (normal);
    }
  }
  return NULL;
}
