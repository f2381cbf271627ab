/* Unit tests of sigd-address.c: whom per-address limits count, and the
 * client address a trusted proxy forwards.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sigd-address.h"

#include <string.h>

static void
test_key (void)
{
  static const struct {
    const char *address;
    const char *key;
  } cases[] = {
    { "192.0.2.7", "192.0.2.7" },
    { "::ffff:192.0.2.7", "192.0.2.7" },
    { "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64" },
    { "2001:db8:1:2::1", "2001:db8:1:2::/64" },
    { "2001:db8:1:3::1", "2001:db8:1:3::/64" },
    { "::1", "::1" },
    { "not an address", "not an address" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *key = sigd_address_key_from_string (cases[i].address);
    g_assert_cmpstr (key, ==, cases[i].key);
  }
}

static char *
forwarded (const char *name, const char *value, const char *const *trusted)
{
  g_autoptr (SoupMessageHeaders) headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  g_autoptr (GPtrArray) masks = sigd_address_parse_masks (trusted, "trusted-proxy", NULL);

  g_assert_nonnull (masks);
  if (name)
    soup_message_headers_append (headers, name, value);
  return sigd_address_forwarded_client (headers, masks);
}

static void
test_forwarded (void)
{
  const char *proxies[] = { "127.0.0.1", "10.0.0.0/8", "fd00::/8", NULL };
  static const struct {
    const char *header;
    const char *value;
    const char *client; /* NULL: none */
  } cases[] = {
    { "X-Forwarded-For", "198.51.100.7", "198.51.100.7" },
    { "X-Forwarded-For", " 198.51.100.7 ", "198.51.100.7" },
    /* what the client wrote before the proxy's hop is not believed */
    { "X-Forwarded-For", "203.0.113.1, 198.51.100.7", "198.51.100.7" },
    /* our own proxies in the chain are seen through */
    { "X-Forwarded-For", "198.51.100.7, 10.1.2.3", "198.51.100.7" },
    { "X-Forwarded-For", "10.1.2.3, 10.4.5.6", "10.1.2.3" },
    { "X-Forwarded-For", "2001:db8::5", "2001:db8::5" },
    { "X-Forwarded-For", "::ffff:198.51.100.7", "198.51.100.7" },
    { "X-Forwarded-For", "198.51.100.7:4711", "198.51.100.7" },
    { "X-Forwarded-For", "garbage", NULL },
    { "X-Forwarded-For", "198.51.100.7, garbage", NULL },
    { "Forwarded", "for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60" },
    { "Forwarded", "for=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17" },
    { "Forwarded", "For=\"192.0.2.60:80\", for=10.0.0.1", "192.0.2.60" },
    { "Forwarded", "for=unknown", NULL },
    { "Forwarded", "for=_hidden", NULL },
    { "Forwarded", "proto=https", NULL },
    { NULL, NULL, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *client = forwarded (cases[i].header, cases[i].value, proxies);
    g_assert_cmpstr (client, ==, cases[i].client);
  }
}

static void
test_masks (void)
{
  const char *good[] = { "127.0.0.1", "10.0.0.0/8", "2001:db8::/32", NULL };
  const char *bad[] = { "127.0.0.1", "10.0.0.0/33", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) masks = sigd_address_parse_masks (good, "trusted-proxy", &error);
  g_autoptr (GPtrArray) none = NULL;
  g_autoptr (GInetAddress) mapped = g_inet_address_new_from_string ("::ffff:10.9.8.7");
  g_autoptr (GInetAddress) v6 = g_inet_address_new_from_string ("2001:db8:ffff::1");
  g_autoptr (GInetAddress) other = g_inet_address_new_from_string ("192.0.2.1");

  g_assert_no_error (error);
  g_assert_true (sigd_address_in_masks (masks, mapped));
  g_assert_true (sigd_address_in_masks (masks, v6));
  g_assert_false (sigd_address_in_masks (masks, other));
  g_assert_false (sigd_address_in_masks (NULL, other));

  none = sigd_address_parse_masks (bad, "metrics-from", &error);
  g_assert_null (none);
  g_assert_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
  g_assert_nonnull (strstr (error->message, "--metrics-from"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sigd/address/key", test_key);
  g_test_add_func ("/sigd/address/forwarded", test_forwarded);
  g_test_add_func ("/sigd/address/masks", test_masks);
  return g_test_run ();
}
