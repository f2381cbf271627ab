"""HTTP and WebSocket inputs that used to be taken whole: request bodies,
compressed frames, fragmented messages.

Each test attacks a real server on loopback and checks that a well-behaved
client is served during and after, that memory stays bounded, and what the
attacker gets. Figures are printed (pytest -s).
"""
import base64
import os
import socket
import struct
import time

from websocket import ABNF

from vtest import closed_by_server, metric, probe_healthz, probe_session, raw_connect

MiB = 1024 * 1024


def read_response(sock, timeout=3):
    """Status code and raw response, read until the server closes."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None
    return status, data


def test_big_body_refused_on_headers(signald):
    """The reported attack: a 400 MiB POST. It is answered 413 as soon as
    its headers are read, and its body is never taken in."""
    s = signald()
    rss0 = s.rss_kib()
    c = raw_connect(s)
    c.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (400 * MiB))
    t0 = time.monotonic()
    status, data = read_response(c)
    answered = time.monotonic() - t0
    assert status == 413, data
    assert b"Connection: close" in data
    # pushing the body anyway gets nowhere
    sent = 0
    try:
        c.settimeout(2)
        while sent < 400 * MiB:
            c.sendall(b"\0" * MiB)
            sent += MiB
    except OSError:
        pass
    rss1 = s.peak_kib()
    print(f"\nFIGURES big-post: 413 after {answered * 1000:.1f} ms; {sent // MiB} MiB pushed "
          f"before the socket failed; rss {rss0} KiB, peak {rss1} KiB")
    assert sent < 64 * MiB
    s.assert_grew_less(rss0, rss1, 8 * 1024)
    assert probe_healthz(s) is not None
    assert metric(s, "vchat_http_refused_total") == 1


def test_bodies_and_methods_refused(signald):
    s = signald()
    cases = [
        (b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 413),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
         413),
        (b"POST /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n",
         413),
        (b"DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405),
    ]
    for request, expected in cases:
        c = raw_connect(s)
        c.sendall(request)
        status, data = read_response(c)
        assert status == expected, (request, data)
        if expected == 405:
            assert b"Allow: GET, HEAD" in data
        assert b"100 Continue" not in data
    c = raw_connect(s)
    c.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    status, data = read_response(c)
    assert status == 200
    assert probe_healthz(s) is not None


def ws_handshake(server, extensions=None):
    c = raw_connect(server)
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET /ws HTTP/1.1\r\nHost: {server.host}:{server.port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    if extensions:
        req += f"Sec-WebSocket-Extensions: {extensions}\r\n"
    c.sendall((req + "\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = c.recv(1)
        assert chunk, f"closed during the handshake: {head!r}"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return c, head


def frame(opcode, payload, fin=True, rsv1=False):
    return ABNF(fin=int(fin), rsv1=int(rsv1), opcode=opcode, mask=1, data=payload).format()


def read_close(sock, timeout=3):
    """The close code of the server's close frame; None if the connection
    ended without one."""
    sock.settimeout(timeout)
    buf = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    i = 0
    while i + 2 <= len(buf):
        op, n = buf[i] & 0x0F, buf[i + 1] & 0x7F
        j = i + 2
        if n == 126:
            n, j = struct.unpack("!H", buf[j:j + 2])[0], j + 2
        elif n == 127:
            n, j = struct.unpack("!Q", buf[j:j + 8])[0], j + 8
        if op == 0x8:
            return struct.unpack("!H", buf[j:j + 2])[0] if n >= 2 else 1005
        i = j + n
    return None


def test_no_websocket_compression(signald):
    """permessage-deflate is not negotiated, and a compressed frame is a
    protocol error, so a small frame cannot inflate into a huge one."""
    s = signald()
    rss0 = s.rss_kib()
    c, head = ws_handshake(s, "permessage-deflate; client_max_window_bits")
    assert b"Sec-WebSocket-Extensions" not in head, head
    # 200 MiB of zeros deflates to about 200 KiB
    import zlib
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = z.compress(b"\0" * (200 * MiB)) + z.flush(zlib.Z_SYNC_FLUSH)
    payload = payload[:-4]
    try:
        c.sendall(frame(ABNF.OPCODE_TEXT, payload, rsv1=True))
    except OSError:
        pass
    code = read_close(c)
    rss1 = s.peak_kib()
    print(f"\nFIGURES deflate: {len(payload)} byte compressed frame -> close {code}; "
          f"rss {rss0} KiB, peak {rss1} KiB")
    assert code in (1002, None)
    s.assert_grew_less(rss0, rss1, 8 * 1024)
    assert probe_session(s) is not None


def test_fragmented_message_is_bounded(signald, connect):
    """Fragments of one message add up: past 4 x max_frame the connection
    is dropped, whatever the size of each fragment."""
    s = signald()
    good = connect(s)
    rss0 = s.rss_kib()
    c, _ = ws_handshake(s)
    chunk = b"x" * 60000
    c.sendall(frame(ABNF.OPCODE_TEXT, chunk, fin=False))
    sent = len(chunk)
    try:
        while sent < 512 * MiB:
            c.sendall(frame(ABNF.OPCODE_CONT, chunk, fin=False))
            sent += len(chunk)
    except OSError:
        pass
    assert closed_by_server(c, 3)
    rss1 = s.peak_kib()
    print(f"\nFIGURES fragments: dropped after {sent} bytes sent; rss {rss0} KiB, peak {rss1} KiB")
    assert sent < 64 * MiB
    s.assert_grew_less(rss0, rss1, 16 * 1024)
    good.ping_ok()
    assert probe_session(s) is not None


def test_fragmented_messages_still_work(signald, connect):
    """A legitimate message in fragments, interleaved with a ping, passes."""
    s = signald()
    c = connect(s)
    text = b'{"type": "ping"}'
    c.ws.sock.sendall(frame(ABNF.OPCODE_TEXT, text[:5], fin=False) +
                      frame(ABNF.OPCODE_PING, b"hi") +
                      frame(ABNF.OPCODE_CONT, text[5:10], fin=False) +
                      frame(ABNF.OPCODE_CONT, text[10:], fin=True))
    c.expect("pong")
    c.ping_ok()
