/* test-link.c: invite links with their server (app/vchat-link.c)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchat-link.h"

#include <gio/gio.h>

static void
check (const char *text, const char *code, const char *server)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *got_code = NULL;
  g_autofree char *got_server = NULL;

  g_assert_true (vchat_link_parse (text, &got_code, &got_server, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (got_code, ==, code);
  g_assert_cmpstr (got_server, ==, server);
}

static void
test_forms (void)
{
  check ("abcd-efgh-ijkl-mnop", "abcd-efgh-ijkl-mnop", NULL);
  check ("  abcd-efgh-ijkl-mnop\n", "abcd-efgh-ijkl-mnop", NULL);
  check ("vchat://join/abcd-efgh-ijkl-mnop", "abcd-efgh-ijkl-mnop", NULL);
  check ("vchat://join/abcd-efgh-ijkl-mnop?server=wss://chat.example.org/ws",
         "abcd-efgh-ijkl-mnop", "wss://chat.example.org/ws");
  check ("vchat://join/abcd-efgh-ijkl-mnop?server=ws://127.0.0.1:8443/ws",
         "abcd-efgh-ijkl-mnop", "ws://127.0.0.1:8443/ws");
  /* escaped, and with other parameters around it */
  check ("vchat://join/ABCD?x=1&server=wss%3A%2F%2Fh.example%3A9%2Fa%3Fb%3Dc&y=2", "ABCD",
         "wss://h.example:9/a?b=c");
  /* the browser's link: the server is the page's host, as the web client
   * finds it */
  check ("https://chat.example.org/join/abcd-efgh-ijkl-mnop", "abcd-efgh-ijkl-mnop",
         "wss://chat.example.org/ws");
  check ("http://127.0.0.1:8080/join/abcd", "abcd", "ws://127.0.0.1:8080/ws");
}

static void
test_invalid (void)
{
  const char *bad[] = {
    "", "hello world", "vchat://join/", "vchat://call/abcd", "https://example.org/",
    "vchat://join/abcd?server=http://example.org/", "ftp://x/join/abcd", "vchat://join/a b",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    char *code = NULL, *server = NULL;

    g_assert_false (vchat_link_parse (bad[i], &code, &server, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_assert_null (code);
    g_assert_null (server);
  }
}

static void
test_build_round_trip (void)
{
  const char *servers[] = { "wss://chat.example.org/ws", "ws://127.0.0.1:41234/ws",
                            "wss://h.example/a?b=c&d=e#f" };

  for (guint i = 0; i < G_N_ELEMENTS (servers); i++) {
    g_autofree char *link = vchat_link_build ("abcd-efgh-ijkl-mnop", servers[i]);
    check (link, "abcd-efgh-ijkl-mnop", servers[i]);
  }
  {
    g_autofree char *link = vchat_link_build ("abcd-efgh-ijkl-mnop",
                                              "wss://chat.example.org/ws");
    /* readable: ":" and "/" stay as they are */
    g_assert_cmpstr (link, ==,
                     "vchat://join/abcd-efgh-ijkl-mnop?server=wss://chat.example.org/ws");
  }
  {
    g_autofree char *link = vchat_link_build ("abcd", "");
    g_assert_cmpstr (link, ==, "vchat://join/abcd");
  }
}

static void
test_same_server (void)
{
  g_assert_true (vchat_link_same_server ("wss://chat.example.org/ws", "wss://chat.example.org/ws"));
  g_assert_true (vchat_link_same_server ("wss://Chat.Example.org/ws", "https://chat.example.org:443/"));
  g_assert_true (vchat_link_same_server ("ws://127.0.0.1:8080/ws", "ws://127.0.0.1:8080/other"));
  g_assert_false (vchat_link_same_server ("ws://127.0.0.1:8080/ws", "ws://127.0.0.1:8081/ws"));
  g_assert_false (vchat_link_same_server ("wss://a.example/ws", "wss://b.example/ws"));
  g_assert_false (vchat_link_same_server ("wss://a.example/ws", "ws://a.example/ws"));
  g_assert_false (vchat_link_same_server ("wss://a.example/ws", NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/link/forms", test_forms);
  g_test_add_func ("/link/invalid", test_invalid);
  g_test_add_func ("/link/build-round-trip", test_build_round_trip);
  g_test_add_func ("/link/same-server", test_same_server);
  return g_test_run ();
}
