/* vchatd-chat.h: what a peer's chat message may be before anyone sees it
 *
 * A stranger's data channel is hostile until checked: each message becomes
 * a D-Bus signal that frontends, notifications and terminals show. So a
 * message longer than the 4 KiB SendMessage allows is dropped, the text
 * loses every control character but the newline (and bidirectional
 * formatting, which can make it read backwards; see vchat_display_char_ok()
 * in the protocol library), and a call takes at most a burst of
 * VCHATD_CHAT_BURST messages, then VCHATD_CHAT_PER_SECOND a second. What is
 * dropped is counted (Stats "chat-dropped") and logged.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VCHATD_CHAT_MAX_BYTES 4096
#define VCHATD_CHAT_BURST 20
#define VCHATD_CHAT_PER_SECOND 5

/* @text (valid UTF-8) as it may be shown: C0 controls but '\n', DEL, C1,
 * bidirectional formatting and line/paragraph separators removed ("\r\n"
 * becomes "\n"). Sets @removed to the number of characters taken out. */
char *vchatd_chat_clean (const char *text, guint *removed);

/* A token bucket: VCHATD_CHAT_BURST messages at once, refilled at
 * VCHATD_CHAT_PER_SECOND. */
typedef struct {
  gdouble tokens;
  gint64 last_us;
} VchatdChatLimit;

void vchatd_chat_limit_init (VchatdChatLimit *limit);
/* TRUE if a message arriving at @now_us (monotonic) may pass; it is
 * counted. */
gboolean vchatd_chat_limit_take (VchatdChatLimit *limit, gint64 now_us);

G_END_DECLS
