"""Helpers shared by the vchat-signald integration tests (see conftest.py).

Everything here talks to a real vchat-signald over real sockets; the
assertions follow docs/protocol.md. Waits for something to happen are
scaled by VCHAT_TIMEOUT_MULTIPLIER (tests/lib/timeouts.py); waits that check
that nothing happens are not.
"""
import json
import os
import re
import resource
import socket
import ssl
import struct
import time
import urllib.request

import websocket  # python3-websocket (websocket-client)
from websocket import ABNF

from sanitizers import sanitized
from signald import Client, Signald
from timeouts import scaled

CODE_RE = re.compile(r"^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$", re.I)


def assert_sentence(text, what="error message"):
    """An error `message` is a sentence for a person, not a code."""
    assert isinstance(text, str), f"{what} is not a string: {text!r}"
    t = text.strip()
    assert len(t) >= 8 and " " in t, f"{what} is not a sentence: {text!r}"


class TSignald(Signald):
    """A server for one test; `nofile` gives it that open file limit (soft
    and hard), as a small machine or a tight systemd unit would."""
    stopped = False

    def __init__(self, *args, env=None, nofile=None):
        preexec = None
        if nofile:
            def preexec():
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        super().__init__(*args, env=env, preexec_fn=preexec)

    def rss_kib(self, field="VmRSS"):
        """The server's resident memory (VmRSS), in KiB."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise AssertionError(f"no {field}")

    def peak_kib(self):
        """The most resident memory the server ever had (VmHWM), in KiB."""
        return self.rss_kib("VmHWM")

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def assert_grew_less(self, before, after, bound):
        """Memory (KiB) grew by less than `bound` KiB. Not checked under
        AddressSanitizer, whose redzones and quarantine of freed memory
        are in the RSS: the plain build's run checks it."""
        if sanitized(self.proc.pid):
            print(f"\nmemory grew by {after - before} KiB (bound {bound} KiB not checked: ASan)")
            return
        assert after - before < bound, f"memory grew by {after - before} KiB"

    def stop(self):
        self.stopped = True
        return super().stop()


class TClient(Client):
    """signald.Client plus: a source address, error and close helpers."""

    def __init__(self, server, hello=True, name=None, client="test/1",
                 source=None, rcvbuf=None, headers=None, **hello_fields):
        self.server = server
        self.session = None
        self.resume = None
        self.welcome = None
        sock = None
        opts = {}
        if rcvbuf:
            # a client on a slow link: little room to receive into
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.settimeout(scaled(10))
            if source:
                sock.bind((source, 0))
            sock.connect((server.host, server.port))
        elif source:
            sock = socket.create_connection((server.host, server.port), timeout=scaled(10),
                                            source_address=(source, 0))
        if sock and server.scheme == "https":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname=server.host)
        if server.scheme == "https":
            opts["sslopt"] = {"cert_reqs": ssl.CERT_NONE, "check_hostname": False}
        if headers:
            opts["header"] = headers
        self.ws = websocket.create_connection(server.ws_url, timeout=scaled(10), socket=sock,
                                              **opts)
        if hello:
            msg = {"type": "hello", "version": 1, "client": client}
            if name:
                msg["name"] = name
            msg.update(hello_fields)
            self.send(msg)
            self.welcome = self.expect("welcome")
            self.session = self.welcome["session"]
            self.resume = self.welcome["resume"]

    close_code = None

    def recv(self, timeout=10, want=None):
        """Like Client.recv, but a close by the server says its code."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message")
            self.ws.settimeout(left)
            try:
                opcode, data = self.ws.recv_data()
            except websocket.WebSocketTimeoutException:
                raise TimeoutError("no message")
            except websocket.WebSocketConnectionClosedException:
                raise ConnectionError("socket closed without a close frame")
            if opcode == ABNF.OPCODE_CLOSE:
                self.close_code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                raise ConnectionError(f"socket closed by the server with code {self.close_code}")
            msg = json.loads(data)
            if isinstance(msg, dict) and msg.get("type") == "ping":
                self.send({"type": "pong"})
                continue
            if self._aside(msg, want):
                continue
            return msg

    def send_bytes_as_text(self, data):
        """A text frame with arbitrary (possibly invalid UTF-8) payload."""
        self._ready_to_send()
        self.ws.send(data, opcode=ABNF.OPCODE_TEXT)

    def expect_error(self, code, ref=None, timeout=5):
        msg = self.expect("error", timeout)
        assert msg.get("code") == code, f"expected error {code}, got {msg}"
        assert_sentence(msg.get("message"))
        if ref is not None and "ref" in msg:
            assert msg["ref"] == ref, f"expected ref={ref!r} in {msg}"
        return msg

    def ping_ok(self, timeout=5):
        """The session still works: ping gets pong."""
        self.send({"type": "ping"})
        self.expect("pong", timeout)

    def read_frames(self, timeout):
        """Read frames for up to `timeout` s without answering pings.

        Returns (messages, close_code, closed); close_code is the code of
        the server's close frame (1005 if it had none), None if the
        connection ended without one or did not end.
        """
        msgs = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return msgs, None, False
            try:
                self.ws.sock.settimeout(left)
                frame = self.ws.recv_frame()
            except (websocket.WebSocketTimeoutException, socket.timeout):
                continue
            except (websocket.WebSocketConnectionClosedException, ConnectionError,
                    OSError, AttributeError):
                return msgs, None, True
            if frame is None:
                return msgs, None, True
            if frame.opcode in (ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY):
                try:
                    msgs.append(json.loads(frame.data))
                except ValueError:
                    msgs.append(frame.data)
            elif frame.opcode == ABNF.OPCODE_CLOSE:
                code = struct.unpack("!H", frame.data[:2])[0] if len(frame.data) >= 2 else 1005
                self._finish_close()
                return msgs, code, True

    def read_until_close(self, timeout=5):
        """Read frames without answering anything until the server closes.

        Returns (messages, close_code); close_code is None when the
        connection ended without a close frame (or 1005 for an empty one).
        Raises AssertionError if nothing closes within `timeout` (scaled).
        """
        timeout = scaled(timeout)
        msgs, code, closed = self.read_frames(timeout)
        if not closed:
            raise AssertionError(f"socket not closed within {timeout}s; got {msgs}")
        return msgs, code

    def _finish_close(self):
        """Answer the server's close frame and close the TCP connection."""
        try:
            self.ws.send_close()
        except Exception:
            pass
        self.kill()

    def kill(self):
        try:
            if self.ws.sock:
                self.ws.sock.close()
        except Exception:
            pass


def queue(c, **fields):
    c.send(dict(type="queue", **fields))
    return c.expect("queued")


def pair(a, b, **qa):
    """Queue a then b (no interests); return (call id, a's matched, b's matched)."""
    queue(a, **qa)
    queue(b)
    ma = a.expect("matched")
    mb = b.expect("matched")
    assert ma["call"] == mb["call"]
    return ma["call"], ma, mb


def invite(c, **fields):
    c.send(dict(type="invite_create", **fields))
    return c.expect("invite")


def http_get(server, path, timeout=5):
    ctx = None
    if server.scheme == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(server.url + path, timeout=scaled(timeout),
                                    context=ctx) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def metrics(server):
    """Parse /metrics: {(name, labels-string): value} and {name: type}."""
    status, headers, body = http_get(server, "/metrics")
    assert status == 200, f"/metrics answered {status}"
    values, types = {}, {}
    for line in body.decode().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(None, 3)
            types[name] = typ.strip()
        elif line and not line.startswith("#"):
            m = _SAMPLE.match(line)
            assert m, f"bad metrics line {line!r}"
            labels = (m.group(2) or "").replace(" ", "")
            values[(m.group(1), labels)] = float(m.group(3))
    return values, types


def metric(server, name, labels=""):
    values, _ = metrics(server)
    return values.get((name, labels), 0.0)


def wait_metric(server, name, expected, labels="", timeout=2.0):
    deadline = time.monotonic() + scaled(timeout)
    while True:
        v = metric(server, name, labels)
        if v == expected or time.monotonic() > deadline:
            assert v == expected, f"{name}{labels} = {v}, expected {expected}"
            return
        time.sleep(0.05)


def probe_healthz(server, timeout=3):
    """A well-behaved visitor: GET /healthz. Returns the seconds it took,
    or None if it got no answer within `timeout`."""
    t0 = time.monotonic()
    try:
        status, _, body = http_get(server, "/healthz", timeout=timeout)
    except (OSError, urllib.error.URLError):
        return None
    if status != 200 or body.strip() != b"ok":
        return None
    return time.monotonic() - t0


def probe_session(server, timeout=5):
    """A well-behaved client: connect, hello, ping. Returns the seconds it
    took, or None if it failed."""
    t0 = time.monotonic()
    c = None
    try:
        c = TClient(server)
        c.ping_ok(timeout)
    except (OSError, ConnectionError, TimeoutError, AssertionError,
            websocket.WebSocketException):
        return None
    finally:
        if c:
            c.close(1000)
            c.kill()
    return time.monotonic() - t0


def raw_connect(server, source=None, timeout=5):
    """A bare TCP connection to the server, nothing sent."""
    return socket.create_connection((server.host, server.port), timeout=scaled(timeout),
                                    source_address=(source, 0) if source else None)


def closed_by_server(sock, timeout):
    """True if the server ends the connection within `timeout` (EOF or
    reset), False if it is still open then."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except socket.timeout:
        return False
    except OSError:
        return True
