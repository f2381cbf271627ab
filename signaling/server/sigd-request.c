/* sigd-request.c: request ids, so that a client matches answers to requests
 *
 * A client may put an `id` on any request; whatever the server sends that
 * session while it handles the request answers it and carries the same id
 * (docs/protocol.md, "Request ids"). Answers that come later (the `matched`
 * of a `queue`, the `rejoined` of the first `rejoin`) carry the id kept for
 * them. The protocol library keeps unknown fields, so `id` is checked here.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "sigd-private.h"

#define ID_MAX_BYTES 64
/* Integers a JavaScript client can hold exactly. */
#define ID_MAX_INT ((G_GINT64_CONSTANT (1) << 53) - 1)

static gboolean
id_text_ok (const char *s)
{
  gsize len = strlen (s);

  if (len == 0 || len > ID_MAX_BYTES)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if ((guchar) s[i] < 0x20 || (guchar) s[i] > 0x7e)
      return FALSE;
  return TRUE;
}

gboolean
sigd_request_begin (SigdConn *conn, VchatMsg *msg)
{
  const char *type = vchat_msg_type_to_string (msg->type);
  JsonNode *node = json_object_get_member (msg->object, "id");

  sigd_request_end (conn);
  if (!node)
    return TRUE;
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING) {
    const char *s = json_node_get_string (node);

    if (strlen (s) > ID_MAX_BYTES) {
      sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_TOO_LONG, type,
                            "“id” is longer than %d bytes.", ID_MAX_BYTES);
      return FALSE;
    }
    if (!id_text_ok (s)) {
      sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_BAD_VALUE, type,
                            "“id” must be 1 to %d printable ASCII characters.", ID_MAX_BYTES);
      return FALSE;
    }
  } else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64) {
    gint64 n = json_node_get_int (node);

    if (n < 0 || n > ID_MAX_INT) {
      sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_BAD_VALUE, type,
                            "“id” must be an integer between 0 and 2^53 - 1.");
      return FALSE;
    }
  } else {
    sigd_conn_send_error (conn, VCHAT_PROTO_ERROR_BAD_FIELD, type,
                          "“id” must be a string or an integer.");
    return FALSE;
  }
  /* Kept by the server, not the connection: a handler may close and free
   * the connection (conn_free() then forgets it here). */
  conn->server->request_conn = conn;
  conn->server->request_id = json_node_copy (node);
  return TRUE;
}

void
sigd_request_end (SigdConn *conn)
{
  SigdServer *server = conn->server;

  server->request_conn = NULL;
  g_clear_pointer (&server->request_id, json_node_unref);
}

JsonNode *
sigd_request_id (SigdConn *conn)
{
  return conn && conn == conn->server->request_conn ? conn->server->request_id : NULL;
}

JsonNode *
sigd_request_dup_id (SigdConn *conn)
{
  JsonNode *id = sigd_request_id (conn);

  return id ? json_node_copy (id) : NULL;
}

void
sigd_request_tag (JsonObject *msg, JsonNode *id)
{
  if (id && !json_object_has_member (msg, "id"))
    json_object_set_member (msg, "id", json_node_copy (id));
}
