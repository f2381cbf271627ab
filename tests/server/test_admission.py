"""Admission before HTTP: idle and slow connections, descriptor exhaustion.

Each test attacks a real server on loopback and checks that a well-behaved
client (GET /healthz, or a WebSocket session) is served during and after
the attack, that the server's memory stays bounded, and what the attacker
sees. Figures are printed (pytest -s) for docs/server-hardening.md.
"""
import socket
import ssl
import subprocess
import time

from timeouts import scaled
from vtest import (closed_by_server, metric, probe_healthz, probe_session,
                   raw_connect)


def idle_flood(server, n, sources):
    """Open `n` TCP connections that send nothing, round-robin over the
    source addresses; returns the sockets (some may already be closed by
    the server)."""
    socks = []
    for i in range(n):
        try:
            socks.append(raw_connect(server, source=sources[i % len(sources)], timeout=2))
        except OSError:
            pass
    return socks


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def sources(n, third=1):
    return [f"127.0.{third}.{i}" for i in range(1, n + 1)]


def test_idle_flood_with_512_descriptors(signald, connect):
    """The reported attack: more idle connections than the server has
    descriptors. The caps are sized from the limit, so the server keeps
    descriptors for the well-behaved, who are served throughout."""
    s = signald(nofile=512)
    rss0 = s.rss_kib()
    socks = idle_flood(s, 600, sources(150))
    during = [probe_healthz(s) for _ in range(5)]
    session = probe_session(s)
    rss1 = s.peak_kib()
    fds = s.fds()
    print(f"\nFIGURES idle-flood-512: rss {rss0} KiB, peak {rss1} KiB, fds {fds}, "
          f"healthz during {during}, session during {session}")
    assert all(t is not None for t in during), f"/healthz unanswered during the flood: {during}"
    assert session is not None, "a session could not start during the flood"
    assert fds < 512 - 32, f"{fds} descriptors open: the reserve is gone"
    assert metric(s, "vchat_tcp_evicted_total") > 0
    close_all(socks)
    time.sleep(0.5)
    assert probe_healthz(s) is not None
    assert probe_session(s) is not None
    s.assert_grew_less(rss0, rss1, 40 * 1024)


def test_listener_recovers_from_descriptor_exhaustion(signald):
    """Caps set above the descriptor limit, so accept() does fail with
    EMFILE: once the connections go, the listener accepts again."""
    s = signald("--max-connections", "4000", "--max-pending", "4000",
                "--max-pending-per-address", "4000", "--handshake-timeout", "60",
                nofile=512)
    socks = idle_flood(s, 600, ["127.0.0.1"])
    # Until the server has taken all the descriptors it may (the rest wait
    # in the backlog, and accept() fails), then a while longer.
    deadline = time.monotonic() + scaled(5)
    while s.fds() < 512 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    print(f"\nFIGURES exhaustion: fds {s.fds()} with 600 idle connections")
    close_all(socks)
    t0 = time.monotonic()
    after = None
    while after is None and time.monotonic() - t0 < 5:
        after = probe_healthz(s, timeout=1)
    print(f"FIGURES exhaustion: /healthz answered {time.monotonic() - t0:.2f}s after the "
          f"connections closed")
    assert after is not None, "the listener never accepted again"
    assert probe_session(s) is not None
    assert metric(s, "vchat_accept_errors_total") > 0
    assert "Cannot accept a connection" in s.log


def test_pending_connections_per_address(signald, connect):
    s = signald("--max-pending-per-address", "4")
    # WebSockets are no longer pending: they do not count here
    sessions = [connect(s, source="127.0.0.3") for _ in range(2)]
    socks = [raw_connect(s, source="127.0.0.3") for _ in range(4)]
    extra = [raw_connect(s, source="127.0.0.3") for _ in range(3)]
    for x in extra:
        assert closed_by_server(x, 2), "a 5th pending connection from one address was kept"
    for x in socks:
        assert not closed_by_server(x, 0.05)
    assert metric(s, "vchat_tcp_refused_total", '{reason="address"}') == 3
    for c in sessions:
        c.ping_ok()
    assert probe_healthz(s) is not None  # from another address
    close_all(socks)
    time.sleep(0.3)
    connect(s, source="127.0.0.3").ping_ok()


def test_oldest_pending_connection_makes_room(signald):
    """A flood from many addresses fills the pending pool: newcomers push
    out the oldest instead of being locked out."""
    s = signald("--max-pending", "20", "--handshake-timeout", "60")
    socks = idle_flood(s, 100, sources(100, third=2))
    time.sleep(0.3)
    assert metric(s, "vchat_tcp_pending") <= 21
    assert metric(s, "vchat_tcp_evicted_total") >= 79
    assert probe_healthz(s) is not None
    assert probe_session(s) is not None
    close_all(socks)


def test_idle_connection_times_out(signald):
    s = signald("--handshake-timeout", "1")
    t0 = time.monotonic()
    c = raw_connect(s)
    assert closed_by_server(c, 3)
    waited = time.monotonic() - t0
    assert 0.8 <= waited <= 2, f"closed after {waited:.2f}s"
    assert metric(s, "vchat_tcp_timeouts_total") >= 1


def test_slowloris_headers_time_out(signald):
    """Headers dribbled a byte at a time do not extend the deadline."""
    s = signald("--handshake-timeout", "1")
    c = raw_connect(s)
    c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    closed = False
    while time.monotonic() - t0 < 4:
        try:
            c.sendall(b"X")
        except OSError:
            closed = True
            break
        if closed_by_server(c, 0.2):
            closed = True
            break
    waited = time.monotonic() - t0
    assert closed, "still open after 4 s of dribbled headers"
    assert waited <= 2, f"closed after {waited:.2f}s"
    assert probe_healthz(s) is not None


def test_endless_headers_are_cut(signald):
    """Headers are bounded in size, not only in time."""
    s = signald()
    rss0 = s.rss_kib()
    c = raw_connect(s)
    c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    sent = 0
    try:
        while sent < 64 * 1024 * 1024:
            c.sendall(b"X-Padding: " + b"a" * 1000 + b"\r\n")
            sent += 1013
    except OSError:
        pass
    assert closed_by_server(c, 3)
    rss1 = s.peak_kib()
    print(f"\nFIGURES endless-headers: cut after {sent} bytes sent; rss {rss0} KiB, peak {rss1} KiB")
    assert sent < 8 * 1024 * 1024, f"{sent} bytes of headers were taken"
    s.assert_grew_less(rss0, rss1, 8 * 1024)
    assert probe_healthz(s) is not None


def make_cert(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return str(cert), str(key)


def test_tls_handshake_times_out(signald, connect, tmp_path):
    cert, key = make_cert(tmp_path)
    # A sanitized server needs longer for the well-behaved handshakes too.
    handshake = scaled(1)
    s = signald("--tls-cert", cert, "--tls-key", key, "--handshake-timeout", f"{handshake:g}")
    idle = raw_connect(s)
    # half a ClientHello: a record header that promises more than comes
    half = raw_connect(s)
    half.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    t0 = time.monotonic()
    assert probe_healthz(s) is not None  # https, meanwhile
    connect(s).ping_ok()
    assert closed_by_server(idle, handshake + scaled(2))
    assert closed_by_server(half, scaled(1))
    waited = time.monotonic() - t0
    assert waited <= handshake + scaled(1.5), f"closed after {waited:.2f}s"
    # a TLS client that completes the handshake but sends no request is
    # held to the same deadline
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    t = ctx.wrap_socket(raw_connect(s), server_hostname="127.0.0.1")
    t0 = time.monotonic()
    assert closed_by_server(t, handshake + scaled(2))
    assert time.monotonic() - t0 <= handshake + scaled(1)


def test_websockets_have_no_handshake_deadline(signald, connect):
    s = signald("--handshake-timeout", "0.5")
    c = connect(s)
    time.sleep(1.2)
    c.ping_ok()
    assert metric(s, "vchat_tcp_pending") == 1  # the request for /metrics itself
