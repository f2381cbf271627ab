/* vchatd-options.h: the a{sv} options of the Manager's methods, checked
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct {
  GStrv interests; /* normalised, never NULL */
  char *language;  /* or NULL */
  gboolean relay_only;
  gboolean relay_only_set;
  guint ttl;          /* invites: 0 = the server's default */
  char *display_name; /* or NULL */
} VchatdCallOptions;

/* Which keys a method takes. */
typedef enum {
  VCHATD_OPTIONS_RANDOM = 1 << 0, /* interests, language, relay_only */
  VCHATD_OPTIONS_INVITE = 1 << 1, /* ttl, display_name */
  VCHATD_OPTIONS_JOIN = 1 << 2,   /* display_name, relay_only */
} VchatdOptionsKind;

/* Parses @options (a{sv}); unknown keys, wrong types and values out of
 * range are VCHATD_ERROR_INVALID_ARGS naming the key. */
gboolean vchatd_call_options_parse (GVariant *options, VchatdOptionsKind kind,
                                    VchatdCallOptions *out, GError **error);
void vchatd_call_options_clear (VchatdCallOptions *options);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (VchatdCallOptions, vchatd_call_options_clear)

/* Converts the ice_servers of `welcome` into webrtcbin's forms: the first
 * STUN server as stun://host:port, and every TURN URL with its credentials
 * as turn://user:pass@host:port?transport=… (credentials percent-escaped:
 * TURN REST user names contain ':'). */
void vchatd_ice_servers_to_webrtc (JsonArray *ice_servers, char **stun_server, GStrv *turn_servers);
/* One TURN URL (turn:host:port?transport=…) with @username and @credential
 * (may be NULL) in the same form; NULL when @url is not turn: or turns:. */
char *vchatd_turn_url (const char *url, const char *username, const char *credential);

G_END_DECLS
