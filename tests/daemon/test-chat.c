/* Unit tests of what a peer's chat message may be (vchatd-chat.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-chat.h"

/* The hostile name of issue 13, as a chat message: OSC title and clipboard
 * writes, an erase-line CSI and a carriage return. */
static void
test_clean_hostile (void)
{
  guint removed = 0;
  g_autofree char *clean =
    vchatd_chat_clean ("Bob\x1b]0;title\x07\x1b]52;c;aGk=\x07\x1b[2K\rAlice", &removed);

  /* Every ESC, BEL and CR goes; the printable rest stays as text. */
  g_assert_cmpstr (clean, ==, "Bob]0;title]52;c;aGk=[2KAlice");
  g_assert_cmpuint (removed, ==, 6);
}

static void
test_clean_keeps_text (void)
{
  guint removed = 99;
  g_autofree char *clean = vchatd_chat_clean ("Grüße 👋\nline two, 中文", &removed);

  g_assert_cmpstr (clean, ==, "Grüße 👋\nline two, 中文");
  g_assert_cmpuint (removed, ==, 0);
}

static void
test_clean_formatting (void)
{
  guint removed = 0;
  /* CRLF becomes LF; a right-to-left override, an isolate, DEL, a C1
   * control (U+009B, CSI) and a line separator go; a tab too. */
  g_autofree char *clean =
    vchatd_chat_clean ("a\r\nb\xe2\x80\xae" "cba\xe2\x81\xa6x\x7f\xc2\x9b\xe2\x80\xa8\ty", &removed);

  g_assert_cmpstr (clean, ==, "a\nbcbaxy");
  g_assert_cmpuint (removed, ==, 7);
}

static void
test_limit (void)
{
  VchatdChatLimit limit;
  gint64 t = 1000 * G_USEC_PER_SEC;
  guint passed = 0, i;

  vchatd_chat_limit_init (&limit);
  /* A burst passes, the rest of it does not. */
  for (i = 0; i < 100; i++)
    passed += vchatd_chat_limit_take (&limit, t);
  g_assert_cmpuint (passed, ==, VCHATD_CHAT_BURST);
  /* Then VCHATD_CHAT_PER_SECOND a second, however many come. */
  passed = 0;
  for (i = 1; i <= 1000; i++)
    passed += vchatd_chat_limit_take (&limit, t + i * 10000); /* 100 a second for 10 s */
  g_assert_cmpuint (passed, >=, 10 * VCHATD_CHAT_PER_SECOND - 1);
  g_assert_cmpuint (passed, <=, 10 * VCHATD_CHAT_PER_SECOND);
  /* A quiet minute refills the burst, and no more. */
  passed = 0;
  for (i = 0; i < 100; i++)
    passed += vchatd_chat_limit_take (&limit, t + 70 * G_USEC_PER_SEC);
  g_assert_cmpuint (passed, ==, VCHATD_CHAT_BURST);
  /* A clock that goes back gives nothing. */
  g_assert_false (vchatd_chat_limit_take (&limit, t));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/chat/clean/hostile", test_clean_hostile);
  g_test_add_func ("/chat/clean/keeps-text", test_clean_keeps_text);
  g_test_add_func ("/chat/clean/formatting", test_clean_formatting);
  g_test_add_func ("/chat/limit", test_limit);
  return g_test_run ();
}
