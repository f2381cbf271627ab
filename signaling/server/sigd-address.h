/* sigd-address.h: whom a limit counts
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

/* The key limits count @address under: the IPv4 address itself, or the
 * IPv6 /64 it belongs to ("2001:db8:1:2::/64"). */
char *sigd_address_key (GInetAddress *address);
/* The same for an address in text; text that is no address is its own key. */
char *sigd_address_key_from_string (const char *address);
