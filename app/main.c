/* main.c: vchat, the desktop app
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vchat-app-config.h"

#include <glib/gi18n.h>
#include <gst/gst.h>
#include <locale.h>

#include "vchat-application.h"

int
main (int argc, char **argv)
{
  g_autoptr (VchatApplication) app = NULL;

  setlocale (LC_ALL, "");
  /* VCHAT_LOCALEDIR: an uninstalled build's translations (the tests). */
  bindtextdomain (GETTEXT_PACKAGE,
                  g_getenv ("VCHAT_LOCALEDIR") ? g_getenv ("VCHAT_LOCALEDIR") : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  gst_init (&argc, &argv);
  app = vchat_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
