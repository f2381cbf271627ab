/* libFuzzer target: the checks on what a peer sends (daemon/vchatd-sdp.c)
 * on arbitrary text, as session descriptions and as ICE candidates.
 *
 * Whatever the input, a check either accepts it, or refuses it with a
 * G_IO_ERROR_INVALID_ARGUMENT that has a message; an accepted description
 * answers itself, and looking up its payload types and TWCC ids works.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchatd-sdp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void
check_error (gboolean ok, GError *error)
{
  if (ok != (error == NULL))
    abort ();
  if (error && (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT) ||
                !error->message[0]))
    abort ();
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstSDPMessage) msg = vchatd_sdp_parse_remote (text, &error);
  g_auto (GStrv) lines = NULL;
  guint i;

  check_error (msg != NULL, error);
  if (msg) {
    g_autoptr (GError) again = NULL;

    if (!vchatd_sdp_check_answer (msg, msg, &again))
      abort ();
    for (i = 0; i < gst_sdp_message_medias_len (msg); i++) {
      const GstSDPMedia *media = gst_sdp_message_get_media (msg, i);
      guint pt = vchatd_sdp_find_payload_type (media, "VP8");

      if (pt != G_MAXUINT && pt > 127)
        abort ();
      (void) vchatd_sdp_find_payload_type (media, "OPUS");
      if (vchatd_sdp_find_twcc_id (media) > 255)
        abort ();
    }
  }
  /* The description's own candidates taken out (as the call does before
   * webrtcbin sees it): nothing but candidate lines goes, and each taken
   * one names an m= line that exists. */
  {
    g_autoptr (GArray) taken = vchatd_sdp_candidates_new ();
    g_autofree char *bare = vchatd_sdp_take_candidates (text, taken);
    guint media_lines = 0;

    if (strstr (bare, "a=candidate:") == bare || strstr (bare, "\na=candidate:"))
      abort ();
    for (const char *m = text; (m = strstr (m, "m=")); m++)
      if (m == text || m[-1] == '\n')
        media_lines++;
    for (i = 0; i < taken->len; i++)
      if (g_array_index (taken, VchatdSdpCandidate, i).mline >= media_lines)
        abort ();
    if (strlen (bare) > strlen (text))
      abort ();
  }
  /* Each line as a trickled candidate. */
  lines = g_strsplit (text, "\n", 64);
  for (i = 0; lines[i]; i++) {
    g_autoptr (GError) candidate_error = NULL;
    gboolean skip = FALSE;

    g_strchomp (lines[i]);
    check_error (vchatd_sdp_check_candidate (lines[i], &skip, &candidate_error), candidate_error);
    /* What the session does next with a well-formed one. */
    if (!candidate_error && !skip) {
      const char *why = NULL;

      if (!vchatd_sdp_candidate_target_allowed (lines[i], &why) && !why)
        abort ();
    }
  }
  return 0;
}
