/* vchatctl.h: what the verbs of vchatctl share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "vchat-dbus.h"

G_BEGIN_DECLS

#define VCHAT_BUS_NAME "io.github.vchat.VChat1"
#define VCHAT_MANAGER_PATH "/io/github/vchat/VChat1"
#define VCHAT_CALLS_PATH VCHAT_MANAGER_PATH "/calls/"
#define VCHAT_MANAGER_IFACE "io.github.vchat.VChat1.Manager"
#define VCHAT_CALL_IFACE "io.github.vchat.VChat1.Call"
#define VCHAT_ERROR_PREFIX "io.github.vchat.VChat1.Error."

/* The exit status of vchatctl; VCHATCTL_ERROR uses the same numbers as codes,
 * so an error knows how the program ends. Documented in --help and the man
 * page: keep the three in step. */
typedef enum {
  VCHATCTL_EXIT_OK = 0,
  VCHATCTL_EXIT_FAILED = 1,
  VCHATCTL_EXIT_USAGE = 2,
  VCHATCTL_EXIT_TIMEOUT = 3,
  VCHATCTL_EXIT_NO_DAEMON = 4,
  VCHATCTL_EXIT_NOT_FOUND = 5,
} VchatctlExit;

#define VCHATCTL_ERROR (vchatctl_error_quark ())
GQuark vchatctl_error_quark (void);

typedef struct _Vchatctl Vchatctl;

typedef struct {
  const char *name;
  const char *args;        /* the positional arguments in the synopsis, or NULL */
  const char *summary;     /* one line for `vchatctl --help` */
  const char *description; /* paragraphs for `vchatctl VERB --help` */
  const GOptionEntry *options;
  int min_args;
  int max_args; /* -1: any number */
  gboolean (*run) (Vchatctl *ctl, char **args, GError **error);
} VchatctlCommand;

struct _Vchatctl {
  const VchatctlCommand *command;
  gboolean json;

  GDBusConnection *bus;
  VchatDBusManager *manager;
  GDBusObjectManager *object_manager;
};

/* The verbs, one table per file. */
extern const VchatctlCommand vchatctl_info_commands[];
extern const VchatctlCommand vchatctl_call_commands[];
extern const VchatctlCommand vchatctl_show_commands[];
extern const VchatctlCommand vchatctl_monitor_commands[];
extern const VchatctlCommand vchatctl_view_commands[];
extern const VchatctlCommand vchatctl_config_commands[];
extern const VchatctlCommand vchatctl_secret_commands[];

/* vchatctl-connect.c: reaching the daemon */
gboolean vchatctl_get_bus (Vchatctl *ctl, GError **error);
VchatDBusManager *vchatctl_get_manager (Vchatctl *ctl, GError **error);
GDBusObjectManager *vchatctl_get_object_manager (Vchatctl *ctl, GError **error);
GList *vchatctl_list_calls (Vchatctl *ctl, GError **error);
VchatDBusCall *vchatctl_find_current_call (Vchatctl *ctl, const char *prefer_state);
VchatDBusCall *vchatctl_resolve_call (Vchatctl *ctl, const char *arg, const char *prefer_state,
                                      GError **error);
VchatDBusCall *vchatctl_call_proxy (Vchatctl *ctl, const char *path, GError **error);
gboolean vchatctl_call_ended (VchatDBusCall *call);
int vchatctl_exit_status (const GError *error);
void vchatctl_print_error (const GError *error);

/* vchatctl-wait.c: --wait */
gboolean vchatctl_wait_connected (Vchatctl *ctl, VchatDBusCall *call, double timeout,
                                  GError **error);

/* vchatctl-escape.c: strings from peers (names, clients, interests, chat),
 * history files and errors, made safe to print; names and interests the
 * user gives checked against the protocol's rule */
typedef enum {
  VCHATCTL_ESCAPE_DEFAULT = 0,
  VCHATCTL_ESCAPE_QUOTES = 1 << 0, /* " as \", for text shown in quotes */
  /* A sentence of vchatctl's or vchatd's that may quote a string: line
   * breaks and backslashes (of an escape made before) stay as they are. */
  VCHATCTL_ESCAPE_SENTENCE = 1 << 1,
} VchatctlEscapeFlags;
char *vchatctl_escape_untrusted (const char *text, VchatctlEscapeFlags flags);
char *vchatctl_escape_json (const char *json);
gboolean vchatctl_check_display_text (const char *what, const char *text, GError **error);

/* vchatctl-format.c: shared shapes of output */
guint vchatctl_call_number (const char *path);
char *vchatctl_call_label (const char *path);
char *vchatctl_format_time (guint64 usec);
char *vchatctl_format_iso_time (guint64 usec);
char *vchatctl_format_duration (guint64 usec);
char *vchatctl_end_reason_text (const char *reason);
char *vchatctl_format_value (const char *name, GVariant *value);
char *vchatctl_snake_case (const char *name);
JsonNode *vchatctl_variant_to_json (GVariant *value);
JsonNode *vchatctl_property_to_json (const char *name, GVariant *value);
JsonObject *vchatctl_proxy_to_json (GDBusProxy *proxy);
void vchatctl_print_json (JsonNode *node);
const char *vchatctl_peer_name (GVariant *peer);
gboolean vchatctl_lookup_string (GVariant *dict, const char *key, const char **out);

/* A plain-text table: columns padded to their widest cell. */
typedef struct _VchatctlTable VchatctlTable;
VchatctlTable *vchatctl_table_new (guint n_columns, ...);
void vchatctl_table_add (VchatctlTable *table, ...);
void vchatctl_table_print (VchatctlTable *table, const char *indent);
void vchatctl_table_free (VchatctlTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VchatctlTable, vchatctl_table_free)

/* Prints "Label:" padded to @width, then the value. */
void vchatctl_print_field (int width, const char *label, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

G_END_DECLS
