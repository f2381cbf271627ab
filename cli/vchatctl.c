/* vchatctl: control vchatd, the vchat video-chat daemon, over D-Bus
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The program is a table of verbs, each with its own options, a one-line
 * summary and a --help of its own, like wpctl. This file parses the command
 * line, prints the help and maps errors to the documented exit status; the
 * verbs live in vchatctl-info.c, vchatctl-calls.c, vchatctl-show.c,
 * vchatctl-monitor.c, vchatctl-view.c and vchatctl-secret.c.
 */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "vchatctl.h"

#include <glib/gi18n.h>

G_DEFINE_QUARK (vchatctl - error - quark, vchatctl_error)

static gboolean opt_json;
static gboolean opt_help;

static const GOptionEntry global_entries[] = {
  { "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json, N_ ("Print machine-readable JSON"), NULL },
  { "help", 'h', 0, G_OPTION_ARG_NONE, &opt_help, N_ ("Show this help"), NULL },
  { NULL }
};

static const VchatctlCommand *const command_tables[] = {
  vchatctl_info_commands,    vchatctl_call_commands, vchatctl_show_commands,
  vchatctl_monitor_commands, vchatctl_view_commands, vchatctl_config_commands,
  vchatctl_secret_commands,
};

/* The order of `vchatctl --help`: what a person needs first comes first. */
static const char *const command_order[] = {
  "status", "devices", "camera",  "random",  "invite", "join",   "accept",
  "reject", "hangup",  "next",    "mute",    "video",  "say",    "report",
  "list",   "show",    "history", "monitor", "view",   "config", "secret",
};

static const VchatctlCommand *
find_command (const char *name)
{
  for (gsize t = 0; t < G_N_ELEMENTS (command_tables); t++)
    for (const VchatctlCommand *c = command_tables[t]; c->name; c++)
      if (g_str_equal (c->name, name))
        return c;
  return NULL;
}

#define HELP_COLUMNS 79

/* Prints @text after @indent columns already used, wrapped at word
 * boundaries to HELP_COLUMNS, continuation lines indented as much. */
static void
print_wrapped (FILE *out, int indent, const char *text)
{
  g_auto (GStrv) words = g_strsplit (text, " ", -1);
  int column = indent;

  for (char **w = words; *w; w++) {
    int len = (int) g_utf8_strlen (*w, -1);
    if (column > indent && column + 1 + len > HELP_COLUMNS) {
      fprintf (out, "\n%*s", indent, "");
      column = indent;
    } else if (column > indent) {
      fputc (' ', out);
      column++;
    }
    fputs (*w, out);
    column += len;
  }
  fputc ('\n', out);
}

static char *
command_synopsis (const VchatctlCommand *c, gboolean with_options)
{
  GString *s = g_string_new (c->name);

  if (with_options && c->options && c->options[0].long_name)
    g_string_append (s, " [OPTION...]");
  if (c->args)
    g_string_append_printf (s, " %s", c->args);
  return g_string_free (s, FALSE);
}

static void
print_top_help (FILE *out)
{
  int width = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (command_order); i++) {
    g_autofree char *syn = command_synopsis (find_command (command_order[i]), FALSE);
    width = MAX (width, (int) strlen (syn));
  }

  fputs (_ ("Usage: vchatctl [--json] COMMAND [OPTION...] [ARG...]\n"
             "\n"
             "Control vchatd, the vchat video-chat daemon, over D-Bus. Without a command,\n"
             "vchatctl shows the status.\n"
             "\n"
             "Commands:\n"),
         out);
  for (gsize i = 0; i < G_N_ELEMENTS (command_order); i++) {
    const VchatctlCommand *c = find_command (command_order[i]);
    g_autofree char *syn = command_synopsis (c, FALSE);
    fprintf (out, "  %-*s  ", width, syn);
    print_wrapped (out, width + 4, _ (c->summary));
  }
  fprintf (out,
           _ ("\n"
           "Global options (before or after the command):\n"
           "  -j, --json     Print JSON: one document, or one line per event for monitor\n"
           "  -h, --help     Show this help; COMMAND --help shows a command's own\n"
           "      --version  Show the version\n"
           "\n"
           "CALL is a call's number N or its object path, %sN.\n"
           "Without it, a command acts on the current call: the newest call that has\n"
           "not ended.\n"
           "\n"
           "Exit status:\n"
           "  0  success\n"
           "  1  failure: the daemon refused (its message says why), or the call ended\n"
           "     while --wait was waiting\n"
           "  2  wrong usage: unknown command or option, missing or bad argument\n"
           "  3  timed out (--timeout)\n"
           "  4  vchatd is not running and D-Bus could not start it\n"
           "  5  not found: no such call or camera\n"
           "\n"
           "See vchatctl(1) for more.\n"),
           VCHAT_CALLS_PATH);
}

static void
option_column (const GOptionEntry *e, GString *out)
{
  if (e->short_name)
    g_string_append_printf (out, "  -%c, --%s", e->short_name, e->long_name);
  else
    g_string_append_printf (out, "      --%s", e->long_name);
  if (e->arg != G_OPTION_ARG_NONE)
    g_string_append_printf (out, "=%s", e->arg_description ? e->arg_description : "VALUE");
}

static int
options_width (const GOptionEntry *entries)
{
  int width = 0;

  for (const GOptionEntry *e = entries; e && e->long_name; e++) {
    g_autoptr (GString) s = g_string_new (NULL);
    if (g_str_equal (e->long_name, G_OPTION_REMAINING))
      continue;
    option_column (e, s);
    width = MAX (width, (int) s->len);
  }
  return width;
}

static void
print_options (FILE *out, const GOptionEntry *entries, int width)
{
  for (const GOptionEntry *e = entries; e && e->long_name; e++) {
    g_autoptr (GString) s = g_string_new (NULL);
    if (g_str_equal (e->long_name, G_OPTION_REMAINING))
      continue;
    option_column (e, s);
    fprintf (out, "%-*s  ", width, s->str);
    print_wrapped (out, width + 2, _ (e->description));
  }
}

static void
print_command_help (FILE *out, const VchatctlCommand *c)
{
  g_autofree char *syn = command_synopsis (c, TRUE);
  int width = MAX (options_width (c->options), options_width (global_entries));

  fprintf (out, _ ("Usage: vchatctl %s\n\n%s\n"), syn, _ (c->summary));
  if (c->description)
    fprintf (out, "\n%s", _ (c->description));
  if (c->options && c->options[0].long_name) {
    fputs (_ ("\nOptions:\n"), out);
    print_options (out, c->options, width);
  }
  fputs (_ ("\nGlobal options:\n"), out);
  print_options (out, global_entries, width);
}

/* Options are byte strings (G_OPTION_ARG_FILENAME), so text reaches the
 * daemon as typed even under LANG=C; text must still be UTF-8 for D-Bus. */
static gboolean
check_utf8 (char **args, GError **error)
{
  for (char **a = args; a && *a; a++)
    if (!g_utf8_validate (*a, -1, NULL)) {
      g_set_error (error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE, _ ("argument is not valid UTF-8"));
      return FALSE;
    }
  return TRUE;
}

static int
fail (const GError *error, const VchatctlCommand *c)
{
  int status = vchatctl_exit_status (error);

  if (error->domain == G_OPTION_ERROR && c)
    /* Translators: the command, then what is wrong with its options. */
    fprintf (stderr, _ ("vchatctl: %s: %s\n"), c->name, error->message);
  else
    vchatctl_print_error (error);
  if (status == VCHATCTL_EXIT_USAGE) {
    g_autofree char *help = c ? g_strdup_printf ("vchatctl %s --help", c->name)
                              : g_strdup ("vchatctl --help");
    fprintf (stderr, _ ("Try '%s'.\n"), help);
  }
  return status;
}

static int
run_command (const VchatctlCommand *c, int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_auto (GStrv) remaining = NULL;
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char **arguments = NULL;
  Vchatctl ctl = { .command = c };
  GOptionEntry rest[] = {
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &remaining, NULL, NULL },
    { NULL },
  };
  int n_args;
  gboolean ok;

  g_option_context_set_help_enabled (context, FALSE);
  if (c->options)
    g_option_context_add_main_entries (context, c->options, NULL);
  g_option_context_add_main_entries (context, global_entries, NULL);
  g_option_context_add_main_entries (context, rest, NULL);

  arguments = g_new0 (char *, argc + 2);
  arguments[0] = (char *) "vchatctl";
  for (int i = 0; i < argc; i++)
    arguments[i + 1] = argv[i];
  {
    char **parse = arguments;
    int parse_argc = argc + 1;
    if (!g_option_context_parse (context, &parse_argc, &parse, &error))
      return fail (error, c);
  }

  if (opt_help) {
    print_command_help (stdout, c);
    return VCHATCTL_EXIT_OK;
  }

  for (char **r = remaining; r && *r; r++)
    g_ptr_array_add (args, *r);
  g_ptr_array_add (args, NULL);
  n_args = args->len - 1;

  if (n_args < c->min_args) {
    g_set_error (&error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE, _ ("%s: missing %s"), c->name,
                 c->args ? c->args : _ ("argument"));
    return fail (error, c);
  }
  if (c->max_args >= 0 && n_args > c->max_args) {
    g_set_error (&error, VCHATCTL_ERROR, VCHATCTL_EXIT_USAGE, _ ("%s: unexpected argument '%s'"),
                 c->name, (char *) args->pdata[c->max_args]);
    return fail (error, c);
  }
  if (!check_utf8 ((char **) args->pdata, &error))
    return fail (error, c);

  ctl.json = opt_json;
  ok = c->run (&ctl, (char **) args->pdata, &error);
  fflush (stdout);

  g_clear_object (&ctl.manager);
  g_clear_object (&ctl.object_manager);
  g_clear_object (&ctl.bus);

  if (!ok)
    return fail (error, c);
  return VCHATCTL_EXIT_OK;
}

int
main (int argc, char **argv)
{
  const VchatctlCommand *c;
  gboolean want_version = FALSE;
  int verb = 0;

  setlocale (LC_ALL, "");
  /* VCHAT_LOCALEDIR: translations of an uninstalled build (the tests). */
  bindtextdomain (GETTEXT_PACKAGE,
                  g_getenv ("VCHAT_LOCALEDIR") ? g_getenv ("VCHAT_LOCALEDIR") : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_set_prgname ("vchatctl");

  /* Global options may come before the verb; everything from the verb on is
   * parsed with the verb's own options (the global ones included). */
  for (int i = 1; i < argc && !verb; i++) {
    const char *a = argv[i];

    if (g_str_equal (a, "--")) {
      if (i + 1 < argc)
        verb = i + 1;
      break;
    } else if (a[0] != '-' || a[1] == '\0') {
      verb = i;
    } else if (g_str_equal (a, "--json") || g_str_equal (a, "-j")) {
      opt_json = TRUE;
    } else if (g_str_equal (a, "--help") || g_str_equal (a, "-h")) {
      opt_help = TRUE;
    } else if (g_str_equal (a, "--version")) {
      want_version = TRUE;
    } else {
      fprintf (stderr, _ ("vchatctl: unknown option '%s'\n"), a);
      fprintf (stderr, _ ("Try '%s'.\n"), "vchatctl --help");
      return VCHATCTL_EXIT_USAGE;
    }
  }

  if (want_version) {
    printf ("vchatctl %s\n", VCHAT_VERSION);
    return VCHATCTL_EXIT_OK;
  }

  if (!verb) {
    if (opt_help) {
      print_top_help (stdout);
      return VCHATCTL_EXIT_OK;
    }
    return run_command (find_command ("status"), 0, NULL);
  }

  if (g_str_equal (argv[verb], "help")) {
    if (verb + 1 >= argc) {
      print_top_help (stdout);
      return VCHATCTL_EXIT_OK;
    }
    c = find_command (argv[verb + 1]);
    if (!c) {
      fprintf (stderr, _ ("vchatctl: unknown command '%s'\n"), argv[verb + 1]);
      fprintf (stderr, _ ("Try '%s'.\n"), "vchatctl --help");
      return VCHATCTL_EXIT_USAGE;
    }
    print_command_help (stdout, c);
    return VCHATCTL_EXIT_OK;
  }

  c = find_command (argv[verb]);
  if (!c) {
    fprintf (stderr, _ ("vchatctl: unknown command '%s'\n"), argv[verb]);
    fprintf (stderr, _ ("Try '%s'.\n"), "vchatctl --help");
    return VCHATCTL_EXIT_USAGE;
  }
  if (opt_help) {
    print_command_help (stdout, c);
    return VCHATCTL_EXIT_OK;
  }

  return run_command (c, argc - verb - 1, argv + verb + 1);
}
