/* libFuzzer target: the protocol parser on arbitrary frames, both ways.
 *
 * Whatever the input, parsing must either succeed with a message whose
 * accessors work, or fail with a VCHAT_PROTO_ERROR that has a message.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchat-protocol.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void
check (const char *data, size_t size, VchatMsgOrigin origin)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *ref = NULL;
  g_autoptr (VchatMsg) msg = vchat_msg_parse (data, size, 65536, origin, &ref, &error);

  if (!msg) {
    if (!error || error->domain != VCHAT_PROTO_ERROR || !error->message[0] ||
        !vchat_proto_error_to_string (error->code))
      abort ();
    return;
  }
  if (error)
    abort ();
  /* What the server does next with a valid message. */
  if (msg->type == VCHAT_MSG_SIGNAL) {
    g_autoptr (JsonObject) copy = vchat_msg_signal_copy (msg);
    g_autofree char *text = vchat_msg_object_to_string (copy);
    g_autoptr (VchatMsg)
      again = vchat_msg_parse (text, strlen (text), 0, VCHAT_MSG_FROM_SERVER, NULL, NULL);
    if (!again)
      abort ();
  }
  /* Normalising is idempotent: a normalised value normalises to itself. */
  if (vchat_msg_has (msg, "interests")) {
    g_auto (GStrv) raw = vchat_msg_dup_strv (msg, "interests");
    g_auto (GStrv) norm = vchat_interests_normalize ((const char *const *) raw);
    g_auto (GStrv) again = vchat_interests_normalize ((const char *const *) norm);
    if (!g_strv_equal ((const char *const *) norm, (const char *const *) again))
      abort ();
  }
  if (vchat_msg_get_string (msg, "code")) {
    g_autofree char *code = vchat_invite_code_normalize (vchat_msg_get_string (msg, "code"));
    g_autofree char *again = code ? vchat_invite_code_normalize (code) : NULL;
    if (code && g_strcmp0 (code, again) != 0)
      abort ();
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  check ((const char *) data, size, VCHAT_MSG_FROM_CLIENT);
  check ((const char *) data, size, VCHAT_MSG_FROM_SERVER);
  return 0;
}
