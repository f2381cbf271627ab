/* vchatd-chat.c: what a peer's chat message may be before anyone sees it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-chat.h"

#include "vchat-protocol.h"

#include <string.h>

char *
vchatd_chat_clean (const char *text, guint *removed)
{
  GString *out = g_string_sized_new (strlen (text));
  guint n = 0;
  const char *p;

  for (p = text; *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);

    if (c == '\n' || vchat_display_char_ok (c))
      g_string_append_unichar (out, c);
    else
      n++;
  }
  if (removed)
    *removed = n;
  return g_string_free (out, FALSE);
}

void
vchatd_chat_limit_init (VchatdChatLimit *limit)
{
  limit->tokens = VCHATD_CHAT_BURST;
  limit->last_us = 0;
}

gboolean
vchatd_chat_limit_take (VchatdChatLimit *limit, gint64 now_us)
{
  if (limit->last_us && now_us > limit->last_us)
    limit->tokens = MIN ((gdouble) VCHATD_CHAT_BURST,
                         limit->tokens + (now_us - limit->last_us) * (gdouble) VCHATD_CHAT_PER_SECOND /
                                           G_USEC_PER_SEC);
  if (!limit->last_us || now_us > limit->last_us)
    limit->last_us = now_us;
  if (limit->tokens < 1.0)
    return FALSE;
  limit->tokens -= 1.0;
  return TRUE;
}
