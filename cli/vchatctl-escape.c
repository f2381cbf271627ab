/* vchatctl-escape.c: text from and for other people: theirs made safe to
 * print, ours checked before it is sent
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A peer chooses its name, its client string, its interests and its chat
 * messages. The server refuses controls in names (docs/protocol.md, "Text
 * shown to people"), but a history file from before, a server that does not
 * check, or a chat message can still hold anything, and on a terminal ESC or
 * a C1 control starts a sequence that sets the title, rewrites the line or
 * writes the clipboard (OSC 52), while a bidi override makes one name look
 * like another. So vchatctl prints every such string through these, which
 * show those characters as visible escapes and keep all other text (accents,
 * CJK, emoji) as it is.
 */
#include <string.h>

#include "vchat-protocol.h"
#include "vchatctl.h"

#include <glib/gi18n.h>

#define REPLACEMENT_CHARACTER "\xef\xbf\xbd"

/* The characters vchat_display_char_ok() refuses, as a person can read
 * them: \e, \r, \x07, \u202e; and a backslash doubled, so the escapes stay
 * unambiguous. Invalid UTF-8 becomes U+FFFD. */
char *
vchatctl_escape_untrusted (const char *text, VchatctlEscapeFlags flags)
{
  const char *p, *end;
  GString *out;

  if (!text)
    return g_strdup ("");
  end = text + strlen (text);
  out = g_string_sized_new (end - text);
  for (p = text; p < end;) {
    gunichar c = g_utf8_get_char_validated (p, end - p);

    if (c == (gunichar) -1 || c == (gunichar) -2) {
      g_string_append (out, REPLACEMENT_CHARACTER);
      p++;
      continue;
    }
    if ((c == '\n' || c == '\\') && (flags & VCHATCTL_ESCAPE_SENTENCE))
      g_string_append_c (out, c);
    else if (c == '\\')
      g_string_append (out, "\\\\");
    else if (c == '"' && (flags & VCHATCTL_ESCAPE_QUOTES))
      g_string_append (out, "\\\"");
    else if (c == '\n')
      g_string_append (out, "\\n");
    else if (c == '\r')
      g_string_append (out, "\\r");
    else if (c == '\t')
      g_string_append (out, "\\t");
    else if (c == 0x1b)
      g_string_append (out, "\\e");
    else if (c < 0x20 || c == 0x7f)
      g_string_append_printf (out, "\\x%02x", c);
    else if (!vchat_display_char_ok (c))
      g_string_append_printf (out, "\\u%04x", c);
    else
      g_string_append_len (out, p, g_utf8_next_char (p) - p);
    p = g_utf8_next_char (p);
  }
  return g_string_free (out, FALSE);
}

/* JSON as json-glib writes it escapes C0 and DEL in strings, but leaves C1,
 * bidi formatting and U+2028/2029 raw, which a terminal (or a JavaScript
 * eval) would take as they are. JSON is ASCII outside its strings, so each
 * such character is inside one, and \uXXXX reads back as the same string. */
char *
vchatctl_escape_json (const char *json)
{
  const char *p, *end = json + strlen (json);
  GString *out = g_string_sized_new (end - json);

  for (p = json; p < end;) {
    gunichar c;

    if ((guchar) *p < 0x80) {
      g_string_append_c (out, *p++);
      continue;
    }
    c = g_utf8_get_char_validated (p, end - p);
    if (c == (gunichar) -1 || c == (gunichar) -2) {
      g_string_append (out, "\\ufffd");
      p++;
      continue;
    }
    if (vchat_display_char_ok (c))
      g_string_append_len (out, p, g_utf8_next_char (p) - p);
    else
      g_string_append_printf (out, "\\u%04x", c);
    p = g_utf8_next_char (p);
  }
  return g_string_free (out, FALSE);
}

/* A name or an interest the user gives, which vchatd sends to the server:
 * the server would refuse the message that carries it, so it is a usage
 * error here, in the server's words. */
gboolean
vchatctl_check_display_text (const char *what, const char *text, GError **error)
{
  g_autoptr (GError) local = NULL;

  if (!text)
    return TRUE;
  if (!g_utf8_validate (text, -1, NULL)) {
    g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE, _ ("%s is not valid UTF-8"), what);
    return FALSE;
  }
  if (!vchat_display_text_validate (text, what, &local)) {
    g_set_error_literal (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE, local->message);
    return FALSE;
  }
  return TRUE;
}
