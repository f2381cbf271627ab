/* sigd-address.h: whom a limit counts
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

/* The key limits count @address under: the IPv4 address itself, or the
 * IPv6 /64 it belongs to ("2001:db8:1:2::/64"). */
char *sigd_address_key (GInetAddress *address);
/* The same for an address in text; text that is no address is its own key. */
char *sigd_address_key_from_string (const char *address);
/* @address, with an IPv4 address written as IPv6 (::ffff:a.b.c.d) made
 * IPv4 again. */
GInetAddress *sigd_address_normalize (GInetAddress *address);

/* GInetAddressMask* for each of @specs ("ADDRESS" or "ADDRESS/PREFIX"). */
GPtrArray *sigd_address_parse_masks (const char *const *specs, const char *option, GError **error);
gboolean sigd_address_in_masks (GPtrArray *masks, GInetAddress *address);

/* The client address a trusted proxy gives in @headers (Forwarded, else
 * X-Forwarded-For): the nearest hop that is not itself in @trusted. NULL
 * when there is none or a hop cannot be read. */
char *sigd_address_forwarded_client (SoupMessageHeaders *headers, GPtrArray *trusted);
