"""Start a real vchat-signald on a loopback port for a test.

The binary and the web root come from the environment meson sets up
(VCHAT_SIGNALD, VCHAT_WEB_ROOT); the server is started with --port 0 and the
port is read from its first line of output.
"""
import json
import os
import re
import subprocess
import threading
import time

import websocket  # python3-websocket (websocket-client)

from timeouts import scaled

# Seconds for vchat-signald to print the address it listens on, and for a
# send to find room in the socket (both scaled).
START_SECONDS = 10
SEND_SECONDS = 10


def stop_process(proc, timeout=5):
    """SIGTERM, then SIGKILL if it does not go within `timeout` (scaled: a
    sanitized program checks for leaks on its way out); returns the exit
    status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(scaled(timeout))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class Signald:
    def __init__(self, *args, env=None, preexec_fn=None, listen="127.0.0.1", wrapper=()):
        """listen: the address to listen on; wrapper: a command prefix, e.g.
        `ip netns exec NS` to run it in a namespace of tests/lib/netlab.py."""
        self.binary = os.environ["VCHAT_SIGNALD"]
        self.web_root = os.environ.get("VCHAT_WEB_ROOT")
        self._start_args = (list(args), env, preexec_fn, listen, list(wrapper))
        self.log_lines = []
        self._spawn(0)

    def _spawn(self, port):
        args, env, preexec_fn, listen, wrapper = self._start_args
        cmd = wrapper + [self.binary, "--listen", listen, "--port", str(port)]
        if self.web_root:
            cmd += ["--web-root", self.web_root]
        cmd += args
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=dict(os.environ, **(env or {})), preexec_fn=preexec_fn)
        line, said = self._first_line(scaled(START_SECONDS))
        m = re.search(r"listening on (https?)://([\d.]+):(\d+)", line or "")
        if line is None:
            raise RuntimeError(f"vchat-signald did not start within {scaled(START_SECONDS):g} s, "
                               f"and was stopped (exit status {self.proc.returncode}):\n{said}")
        if not m:
            stop_process(self.proc)  # do not leave it running behind the test
            raise RuntimeError(f"vchat-signald did not start: {line}{self.proc.stdout.read()}")
        self.log_lines.append(line)
        self.scheme, self.host, self.port = m.group(1), m.group(2), int(m.group(3))
        self.url = f"{self.scheme}://{self.host}:{self.port}"
        self.ws_url = f"{'wss' if self.scheme == 'https' else 'ws'}://{self.host}:{self.port}/ws"
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _first_line(self, timeout):
        """(the server's first line of output, ""), or (None, all it said)
        if it printed no line within `timeout` seconds: then it is stopped,
        not left running behind the test."""
        got = []
        reader = threading.Thread(target=lambda: got.append(self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        if got:
            return got[0], ""
        stop_process(self.proc)
        reader.join(5)
        return None, "".join(got) + (self.proc.stdout.read() if not reader.is_alive() else "")

    def kill(self):
        """SIGKILLs the server, as a crash would; `restart()` starts another."""
        self.proc.kill()
        self.proc.wait(5)
        self._reader.join(2)

    def restart(self):
        """Starts a new server (which knows nothing of the old one's
        sessions) on the same address and port."""
        self._spawn(self.port)

    def kill_and_restart(self, pause=0.0):
        """`kill()`, `pause` seconds away, then `restart()`."""
        self.kill()
        time.sleep(pause)
        self.restart()

    def _read(self):
        for line in self.proc.stdout:
            self.log_lines.append(line)

    @property
    def log(self):
        return "".join(self.log_lines)

    def stop(self):
        stop_process(self.proc)
        self._reader.join(scaled(2))
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Client:
    """A protocol client over a real WebSocket: send dicts, receive dicts."""

    def __init__(self, server, hello=True, name=None, client="test/1", **hello_fields):
        self.server = server
        self.ws = websocket.create_connection(server.ws_url, timeout=scaled(10))
        self.session = None
        self.resume = None
        self.welcome = None
        if hello:
            msg = {"type": "hello", "version": 1, "client": client}
            if name:
                msg["name"] = name
            msg.update(hello_fields)
            self.send(msg)
            self.welcome = self.expect("welcome")
            self.session = self.welcome["session"]
            self.resume = self.welcome["resume"]

    def _ready_to_send(self):
        # A send waits for room in the socket this long, not the (maybe
        # tiny) timeout the last recv left on it.
        self.ws.settimeout(scaled(SEND_SECONDS))

    def send(self, msg):
        self._ready_to_send()
        self.ws.send(json.dumps(msg) if isinstance(msg, dict) else msg)

    def send_raw(self, data, binary=False):
        self._ready_to_send()
        if binary:
            self.ws.send_binary(data)
        else:
            self.ws.send(data)

    # `peer_away` (the peer's connection dropped or came back) is news about
    # the peer, not an answer: recv() keeps it in .peer_away and goes on,
    # unless asked for it (expect("peer_away")).
    peer_away = None

    def _aside(self, msg, want):
        if isinstance(msg, dict) and msg.get("type") == "peer_away" and want != "peer_away":
            if self.peer_away is None:
                self.peer_away = []
            self.peer_away.append(msg)
            return True
        return False

    def recv(self, timeout=10, want=None):
        """Next message other than a server ping (which is answered)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message")
            self.ws.settimeout(left)
            try:
                data = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                raise TimeoutError("no message")
            if not data:
                raise ConnectionError("socket closed")
            msg = json.loads(data)
            if msg.get("type") == "ping":
                self.send({"type": "pong"})
                continue
            if self._aside(msg, want):
                continue
            return msg

    def expect(self, type_, timeout=10, **fields):
        """Receive the next message, within `timeout` seconds (scaled),
        and check its type (and given fields)."""
        msg = self.recv(scaled(timeout), want=type_)
        assert msg.get("type") == type_, f"expected {type_}, got {msg}"
        for k, v in fields.items():
            assert msg.get(k) == v, f"expected {k}={v!r} in {msg}"
        return msg

    def expect_nothing(self, timeout=1.0):
        try:
            msg = self.recv(timeout)
        except TimeoutError:
            return
        raise AssertionError(f"expected no message, got {msg}")

    def close(self, code=1000):
        try:
            self.ws.close(status=code)
        except Exception:
            pass

    def drop(self):
        """Vanish without a close frame, like a crashed client."""
        self.ws.sock.shutdown(2)
        self.ws.sock.close()
