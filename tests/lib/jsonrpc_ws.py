"""JSON requests and answers over one WebSocket, as the browsers' remote
protocols speak them: Chromium's DevTools protocol (tests/lib/chromium.py)
and Firefox's WebDriver BiDi (tests/lib/firefox.py).

Each request is `{"id": N, "method": M, "params": P}`; the answer carries
the same id, and anything else that arrives meanwhile (an event) is passed
over. The protocols differ only in how an error answer looks, which the
caller's `error` hook reads."""
import json
import time

import websocket  # python3-websocket (websocket-client)


class WebSocketRPC:
    """A minimal client: one request at a time, answers matched by id.

    name: what errors and timeouts are prefixed with ("DevTools", "BiDi");
    error(reply): the error text of an answer that is an error, or None for
    a result; sock: an already connected socket to use (one made inside a
    network namespace)."""

    def __init__(self, ws_url, name, error, sock=None):
        self.name = name
        self.error = error
        self.ws = websocket.create_connection(ws_url, timeout=10, suppress_origin=True,
                                              socket=sock)
        self.next_id = 0

    def call(self, method, timeout=15, **params):
        """Sends `method` with `params` and returns the answer's `result`;
        RuntimeError for an error answer, TimeoutError when none comes in
        `timeout` seconds."""
        self.next_id += 1
        msg_id = self.next_id
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.name} {method}: no answer in {timeout} s")
            self.ws.settimeout(left)
            try:
                reply = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                raise TimeoutError(f"{self.name} {method}: no answer in {timeout} s") from None
            if reply.get("id") != msg_id:
                continue  # an event, or the late answer of a request that timed out
            failure = self.error(reply)
            if failure is not None:
                raise RuntimeError(f"{self.name} {method}: {failure}")
            return reply["result"]

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass
