/* vchat-protocol.h: signaling protocol v1, shared by vchat-signald and vchatd
 *
 * docs/protocol.md is the human-readable contract; this library is what
 * enforces it. Parsing is strict: every field a message type knows is checked
 * for presence, JSON type, length and range, and any failure is a GError in
 * VCHAT_PROTO_ERROR whose code maps to the protocol's `error` codes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define VCHAT_PROTOCOL_VERSION 1
#define VCHAT_PROTO_DEFAULT_MAX_FRAME 65536

/* Errors, in the order of docs/protocol.md. */
typedef enum {
  VCHAT_PROTO_ERROR_BAD_FRAME,
  VCHAT_PROTO_ERROR_BAD_JSON,
  VCHAT_PROTO_ERROR_TOO_BIG,
  VCHAT_PROTO_ERROR_UNKNOWN_TYPE,
  VCHAT_PROTO_ERROR_MISSING_FIELD,
  VCHAT_PROTO_ERROR_BAD_FIELD,
  VCHAT_PROTO_ERROR_TOO_LONG,
  VCHAT_PROTO_ERROR_BAD_VALUE,
  VCHAT_PROTO_ERROR_BAD_VERSION,
  VCHAT_PROTO_ERROR_NOT_WELCOMED,
  VCHAT_PROTO_ERROR_BAD_STATE,
  VCHAT_PROTO_ERROR_UNKNOWN_CALL,
  VCHAT_PROTO_ERROR_INVITE_NOT_FOUND,
  VCHAT_PROTO_ERROR_INVITE_EXPIRED,
  VCHAT_PROTO_ERROR_OWN_INVITE,
  VCHAT_PROTO_ERROR_BUSY,
  VCHAT_PROTO_ERROR_INVITER_AWAY,
  VCHAT_PROTO_ERROR_TOO_MANY_ATTEMPTS,
  VCHAT_PROTO_ERROR_RATE_LIMITED,
  VCHAT_PROTO_ERROR_TOO_MANY_SESSIONS,
  VCHAT_PROTO_ERROR_REFUSED,
  VCHAT_PROTO_ERROR_REPLACED,
  VCHAT_PROTO_ERROR_TIMEOUT,
  VCHAT_PROTO_ERROR_UNAUTHORIZED,
  VCHAT_PROTO_ERROR_INTERNAL,
  VCHAT_PROTO_N_ERRORS
} VchatProtoError;

#define VCHAT_PROTO_ERROR (vchat_proto_error_quark ())
GQuark vchat_proto_error_quark (void);

/* "bad-json" for VCHAT_PROTO_ERROR_BAD_JSON, and so on; NULL if out of range. */
const char *vchat_proto_error_to_string (VchatProtoError code);
/* The reverse; returns FALSE for an unknown string. */
gboolean vchat_proto_error_from_string (const char *str, VchatProtoError *code);

typedef enum {
  /* client to server */
  VCHAT_MSG_HELLO,
  VCHAT_MSG_QUEUE,
  VCHAT_MSG_INVITE_CREATE,
  VCHAT_MSG_INVITE_CANCEL,
  VCHAT_MSG_INVITE_JOIN,
  VCHAT_MSG_INVITE_RECLAIM,
  VCHAT_MSG_REJOIN,
  VCHAT_MSG_ACCEPT,
  VCHAT_MSG_REJECT,
  VCHAT_MSG_NEXT,
  VCHAT_MSG_LEAVE,
  VCHAT_MSG_REPORT,
  /* both ways */
  VCHAT_MSG_SIGNAL,
  VCHAT_MSG_PING,
  VCHAT_MSG_PONG,
  /* server to client */
  VCHAT_MSG_WELCOME,
  VCHAT_MSG_QUEUED,
  VCHAT_MSG_LEFT_QUEUE,
  VCHAT_MSG_MATCHED,
  VCHAT_MSG_INVITE,
  VCHAT_MSG_INVITE_CANCELLED,
  VCHAT_MSG_INVITE_EXPIRED,
  VCHAT_MSG_INCOMING,
  VCHAT_MSG_RINGING,
  VCHAT_MSG_PEER_LEFT,
  VCHAT_MSG_CALL_ENDED,
  VCHAT_MSG_REPORTED,
  VCHAT_MSG_PEER_AWAY,
  VCHAT_MSG_REJOINED,
  VCHAT_MSG_ERROR,
  VCHAT_MSG_N_TYPES
} VchatMsgType;

/* Who may send a message: parsing on the server accepts only client
 * messages, parsing in a client only server messages. */
typedef enum {
  VCHAT_MSG_FROM_CLIENT = 1 << 0,
  VCHAT_MSG_FROM_SERVER = 1 << 1,
} VchatMsgOrigin;

const char *vchat_msg_type_to_string (VchatMsgType type);

/* A parsed, validated message. The JSON object keeps only what was validated
 * plus unknown fields (which are ignored, never relayed). */
typedef struct {
  VchatMsgType type;
  JsonObject *object;
} VchatMsg;

/* Parses and validates one text frame. @origin is who sent it (a server
 * parses VCHAT_MSG_FROM_CLIENT). @max_frame of 0 means no size limit.
 * On failure sets a VCHAT_PROTO_ERROR and, when the frame had a readable
 * `type`, stores it in @ref_type (for the `ref` of the error reply). */
VchatMsg *vchat_msg_parse (const char *data, gsize len, gsize max_frame, VchatMsgOrigin origin,
                           char **ref_type, GError **error);
void vchat_msg_free (VchatMsg *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VchatMsg, vchat_msg_free)

/* Accessors for validated fields; they return NULL/0/FALSE when absent. */
const char *vchat_msg_get_string (const VchatMsg *msg, const char *field);
gint64 vchat_msg_get_int (const VchatMsg *msg, const char *field, gint64 default_value);
gboolean vchat_msg_get_bool (const VchatMsg *msg, const char *field);
gboolean vchat_msg_has (const VchatMsg *msg, const char *field);
/* A string array field, as a newly allocated NULL-terminated vector (empty if absent). */
GStrv vchat_msg_dup_strv (const VchatMsg *msg, const char *field);
JsonObject *vchat_msg_get_object (const VchatMsg *msg, const char *field);

/* Builds a message: returns a new object with `type` set. */
JsonObject *vchat_msg_object_new (VchatMsgType type);
/* Serialises an object to a compact JSON text frame. */
char *vchat_msg_object_to_string (JsonObject *object);
/* An `error` message; @ref may be NULL. */
char *vchat_msg_error_to_string (VchatProtoError code, const char *message, const char *ref);
/* A call's connection attempts are numbered from 0; `attempt` on a
 * `signal` says which one it belongs to (see docs/protocol.md). */
#define VCHAT_MAX_ATTEMPT 10000
/* Builds the `signal` to relay: only the validated fields, with @call. */
JsonObject *vchat_msg_signal_copy (const VchatMsg *msg);

/* Invite codes: 16 base32 letters (80 bits) in four groups of four. */
#define VCHAT_INVITE_CODE_BYTES 10
/* Normalises a code or a link holding one (vchat://join/CODE,
 * https://host/join/CODE): lower case, no dashes or spaces. Returns NULL if
 * it cannot be a code. */
char *vchat_invite_code_normalize (const char *code_or_link);
/* Formats 10 random bytes as "abcd-efgh-ijkl-mnop". */
char *vchat_invite_code_format (const guint8 bytes[VCHAT_INVITE_CODE_BYTES]);

/* Whether @c may be part of a string that clients show to people (`name`,
 * `client`, `interests` and the `peer` and `common_interests` made of them):
 * not a control character (C0, DEL, C1), not a bidirectional formatting
 * character (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) and not a
 * line or paragraph separator (U+2028, U+2029). Parsing refuses those
 * fields when they hold any of these; vchatctl shows them escaped. */
gboolean vchat_display_char_ok (gunichar c);
/* Checks that valid UTF-8 @text has only such characters; if not, sets a
 * VCHAT_PROTO_ERROR_BAD_VALUE that names @what and the first one that is not:
 * “name” contains a control character (U+001B); … */
gboolean vchat_display_text_validate (const char *text, const char *what, GError **error);

/* Normalises interest tags: trimmed, lower case, empty and duplicate ones
 * dropped. */
GStrv vchat_interests_normalize (const char *const *interests);

G_END_DECLS
