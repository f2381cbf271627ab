/* sigd-address.c: whom a limit counts
 *
 * Limits count clients by address, but one IPv6 user has a whole /64 to
 * pick addresses from, so an IPv6 address counts as its /64. An IPv4
 * address written as IPv6 (::ffff:a.b.c.d, from a dual-stack socket) counts
 * as the IPv4 address.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "sigd-address.h"

#include <string.h>

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
    g_autoptr (GInetAddress) v4 = g_inet_address_new_from_bytes (bytes + 12, G_SOCKET_FAMILY_IPV4);
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
