#!/usr/bin/env python3
"""Attacks on vchat-signald, with figures: the server's memory and what a
well-behaved client gets during and after each. Not a test: it prints, and
runs against any build, so the same attacks measure an old binary too.

    VCHAT_SIGNALD=build/signaling/server/vchat-signald VCHAT_WEB_ROOT=signaling/web \
    PYTHONPATH=tests/lib:tests/server python3 tests/server/bench_attacks.py [ATTACK...]

Everything goes to loopback; each attack starts its own server.
"""
import sys
import time
import zlib

from vtest import (TClient, TSignald, closed_by_server, metric, pair, probe_healthz,
                   probe_session, raw_connect)
import test_http_limits as H
import test_memory_bounds as M

MiB = 1024 * 1024


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def idle_flood():
    """600 idle TCP connections from 150 addresses, server limited to 512
    descriptors."""
    s = TSignald(nofile=512)
    r0 = s.rss_kib()
    socks = []
    for i in range(600):
        try:
            socks.append(raw_connect(s, source=f"127.0.1.{i % 150 + 1}", timeout=0.3))
        except OSError:
            pass
    time.sleep(0.5)
    during = [probe_healthz(s, 3) for _ in range(3)]
    session = probe_session(s, 3)
    fds = s.fds()
    for x in socks:
        x.close()
    time.sleep(1)
    after = probe_healthz(s, 3)
    session_after = probe_session(s, 3)
    print(f"idle-flood: rss {mib(r0)} -> peak {mib(s.peak_kib())}, {fds} fds; "
          f"/healthz during {fmt(during)}, session during {fmt([session])}; "
          f"after: /healthz {fmt([after])}, session {fmt([session_after])}")
    s.stop()


def idle_connection():
    s = TSignald()
    c = raw_connect(s)
    t0 = time.monotonic()
    closed = closed_by_server(c, 15)
    print(f"idle-connection: {'closed after %.1f s' % (time.monotonic() - t0) if closed else 'still open after 15 s'}")
    s.stop()


def big_post(size=400):
    s = TSignald()
    r0 = s.rss_kib()
    c = raw_connect(s)
    c.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (size * MiB))
    t0 = time.monotonic()
    c.settimeout(0.2)
    early = b""
    try:
        early = c.recv(100)
    except OSError:
        pass
    sent = 0
    if not early:
        c.settimeout(30)
        try:
            for _ in range(size):
                c.sendall(b"\0" * MiB)
                sent += 1
        except OSError:
            pass
    status, data = H.read_response(c, 10)
    status = status or (int(early.split(b" ")[1]) if early.startswith(b"HTTP/1.1") else None)
    print(f"big-post {size} MiB: answer {status} after {time.monotonic() - t0:.2f} s, "
          f"{sent} MiB of body taken; rss {mib(r0)} -> peak {mib(s.peak_kib())}; "
          f"/healthz {fmt([probe_healthz(s)])}")
    s.stop()


def deflate():
    s = TSignald()
    r0 = s.rss_kib()
    c, head = H.ws_handshake(s, "permessage-deflate; client_max_window_bits")
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = (z.compress(b"\0" * (200 * MiB)) + z.flush(zlib.Z_SYNC_FLUSH))[:-4]
    try:
        c.sendall(H.frame(1, payload, rsv1=True))
    except OSError:
        pass
    code = H.read_close(c, 5)
    print(f"deflate: negotiated {b'permessage-deflate' in head}; a {len(payload) // 1024} KiB "
          f"frame of 200 MiB inflated -> close {code}; rss {mib(r0)} -> peak "
          f"{mib(s.peak_kib())}; session {fmt([probe_session(s)])}")
    s.stop()


def fragments(total=200):
    s = TSignald()
    r0 = s.rss_kib()
    c, _ = H.ws_handshake(s)
    chunk = b"x" * 60000
    sent = 0
    try:
        c.sendall(H.frame(1, chunk, fin=False))
        sent = len(chunk)
        while sent < total * MiB:
            c.sendall(H.frame(0, chunk, fin=False))
            sent += len(chunk)
    except OSError:
        pass
    time.sleep(0.5)
    print(f"fragments: {sent / MiB:.1f} MiB of one message sent; rss {mib(r0)} -> peak "
          f"{mib(s.peak_kib())}; session {fmt([probe_session(s)])}")
    s.stop()


def slow_reader(secs=10):
    s = TSignald("--max-rate", "100")
    a, b = TClient(s), TClient(s, rcvbuf=4096)
    call, _, _ = pair(a, b)
    r0 = s.rss_kib()
    t0 = time.monotonic()
    sent, heard = 0, None
    while time.monotonic() - t0 < secs and heard is None:
        for _ in range(10):
            a.send(M.big_signal(call))
            sent += 1
        try:
            heard = a.recv(timeout=0.05)
        except TimeoutError:
            pass
    waited = time.monotonic() - t0
    time.sleep(0.5)
    print(f"slow-reader: {sent} signals ({sent * 60 // 1024} MiB) in {waited:.1f} s; the talker "
          f"heard {heard and heard.get('type')} {heard and heard.get('reason') or ''}; rss "
          f"{mib(r0)} -> peak {mib(s.peak_kib())}; session {fmt([probe_session(s)])}")
    s.stop()


def outbox():
    s = TSignald("--max-rate", "100", "--grace", "30")
    a, b = TClient(s), TClient(s)
    call, _, _ = pair(a, b)
    b.drop()
    time.sleep(0.3)
    r0 = s.rss_kib()
    t0 = time.monotonic()
    heard = None
    for i in range(520):
        a.send(M.big_signal(call))
        if i % 50 == 49:
            time.sleep(0.5)
        if heard is None:
            try:
                heard = a.recv(timeout=0.001)
                waited = time.monotonic() - t0
            except TimeoutError:
                pass
    if heard is None:
        waited = None
    print(f"outbox: signals to a session in its grace time: the talker heard "
          f"{heard and heard.get('type')} after {waited and '%.2f s' % waited}; rss {mib(r0)} -> "
          f"peak {mib(s.peak_kib())}")
    s.stop()


def sessions(n=2000):
    s = TSignald("--grace", "30")
    r0 = s.rss_kib()
    t0 = time.monotonic()
    for _ in range(n):
        c = TClient(s, source="127.0.0.7")
        c.drop()
    time.sleep(0.5)
    print(f"sessions: {n} hello+drop from one address in {time.monotonic() - t0:.1f} s -> "
          f"{metric(s, 'vchat_sessions'):.0f} sessions; rss {mib(r0)} -> {mib(s.rss_kib())}")
    s.stop()


def fmt(times):
    return ", ".join("no answer" if t is None else f"{t * 1000:.0f} ms" for t in times)


ALL = [idle_flood, idle_connection, big_post, deflate, fragments, slow_reader, outbox, sessions]

if __name__ == "__main__":
    names = sys.argv[1:] or [f.__name__ for f in ALL]
    for name in names:
        globals()[name]()
