"""Back-pressure and memory bounds: clients that do not read, sessions that
pile up in their grace time, outboxes, invite tombstones.

Each test attacks a real server on loopback and checks that a well-behaved
client is served during and after, that memory stays bounded (peak RSS),
and the documented error or close code. Figures are printed (pytest -s).
"""
import time

from vtest import metric, pair, probe_session, wait_metric

SDP = "v=0\r\n" + "a=x-padding:" + "p" * 59000 + "\r\n"


def big_signal(call):
    return {"type": "signal", "call": call, "sdp": {"type": "offer", "sdp": SDP}}


def test_reader_that_falls_behind_is_closed(signald, connect):
    """The reported attack: one end of a call stops reading while its
    peer talks. Its queue is capped; it is closed with 4004, and its peer
    hears peer_left (lost) and goes on."""
    s = signald("--max-rate", "100", "--max-send-queue", "1048576")
    a = connect(s, name="A")
    b = connect(s, name="B", rcvbuf=4096)
    call, _, _ = pair(a, b)
    rss0 = s.rss_kib()
    t0 = time.monotonic()
    sent = 0
    left = None
    while time.monotonic() - t0 < 10 and left is None:
        for _ in range(20):
            a.send(big_signal(call))
            sent += 1
        while left is None:
            try:
                m = a.recv(timeout=0.05)
            except TimeoutError:
                break
            # A slower (sanitized) server can take more than a second's
            # worth at once.
            if m["type"] == "error" and m["code"] == "rate-limited":
                continue
            assert m["type"] == "peer_left", m
            left = m
    waited = time.monotonic() - t0
    peak = s.peak_kib()
    assert left is not None, f"A heard nothing after {sent} signals in {waited:.1f}s"
    assert left["reason"] == "lost" and left["call"] == call
    msgs, code = b.read_until_close(timeout=10)
    print(f"\nFIGURES slow-reader: closed after {sent} signals ({sent * 60 // 1024} MiB) in "
          f"{waited:.2f}s; rss {rss0} KiB, peak {peak} KiB; close {code}")
    assert code == 4004
    s.assert_grew_less(rss0, peak, 24 * 1024)
    assert metric(s, "vchat_too_slow_total") == 1
    # The rest of A's burst reached the server after the call ended.
    while True:
        try:
            m = a.recv(timeout=0.5)
        except TimeoutError:
            break
        assert m["type"] == "error" and m["code"] in ("unknown-call", "rate-limited"), m
    # A goes on: queue, meet someone else
    c = connect(s, name="C")
    pair(a, c)
    assert probe_session(s) is not None


def test_send_queue_shows_in_metrics(signald, connect):
    s = signald("--max-rate", "100", "--max-send-queue", "16777216")
    a = connect(s)
    b = connect(s, rcvbuf=4096)
    call, _, _ = pair(a, b)
    for _ in range(150):
        a.send(big_signal(call))
    deadline = time.monotonic() + 5
    queued = 0
    while time.monotonic() < deadline and queued < 2 * 1024 * 1024:
        queued = metric(s, "vchat_send_queue_bytes")
        time.sleep(0.1)
    assert queued >= 2 * 1024 * 1024, f"vchat_send_queue_bytes is {queued}"
    # once B reads, it drains
    b.read_frames(1.5)
    assert metric(s, "vchat_send_queue_bytes") < queued


def test_outbox_is_bounded_in_bytes(signald, connect):
    """A peer that keeps sending to a session in its grace time fills its
    outbox; past --max-outbox the grace time ends early."""
    s = signald("--max-rate", "100", "--max-outbox", "262144", "--grace", "30")
    a = connect(s, name="A")
    b = connect(s, name="B")
    call, _, _ = pair(a, b)
    b.drop()
    time.sleep(0.3)
    rss0 = s.rss_kib()
    t0 = time.monotonic()
    for _ in range(6):  # 360 KB
        a.send(big_signal(call))
    a.expect("peer_left", call=call, reason="lost", timeout=3)
    waited = time.monotonic() - t0
    peak = s.peak_kib()
    print(f"\nFIGURES outbox: grace ended {waited:.2f}s after the outbox filled; "
          f"rss {rss0} KiB, peak {peak} KiB")
    assert waited < 2
    assert metric(s, "vchat_outbox_bytes") == 0


def test_sessions_in_grace_count_per_address(signald, connect):
    """The reported attack: hello, drop, hello again... Sessions in their
    grace time count against the address; the oldest makes room."""
    s = signald("--max-sessions-per-address", "4", "--grace", "30")
    rss0 = s.rss_kib()
    for _ in range(40):
        c = connect(s, source="127.0.0.7")
        c.drop()
    time.sleep(0.3)
    n = metric(s, "vchat_sessions")
    print(f"\nFIGURES sessions-per-address: 40 hello+drop -> {n:.0f} sessions; "
          f"rss {rss0} KiB, peak {s.peak_kib()} KiB")
    assert n <= 4
    assert metric(s, "vchat_sessions_evicted_total") >= 36
    # the last one can still come back
    assert probe_session(s) is not None


def test_global_session_cap(signald, connect):
    s = signald("--max-sessions", "3")
    first = [connect(s, source=f"127.0.3.{i}") for i in range(1, 4)]
    c = connect(s, hello=False, source="127.0.3.9")
    c.send({"type": "hello", "version": 1, "client": "test/1"})
    msgs, code = c.read_until_close()
    errors = [m for m in msgs if isinstance(m, dict) and m.get("type") == "error"]
    assert errors and errors[0]["code"] == "too-many-sessions", msgs
    assert code == 1008
    for x in first:
        x.ping_ok()
    # a session resumed does not need room
    first[0].drop()
    time.sleep(0.2)
    back = connect(s, source="127.0.3.1", resume=first[0].resume)
    assert back.welcome["resumed"] is True
    first[1].close(1000)
    wait_metric(s, "vchat_sessions", 2)
    connect(s, source="127.0.3.9").ping_ok()


def test_invite_tombstones_are_capped(signald, connect):
    s = signald("--max-invite-tombstones", "5", "--max-rate", "100")
    a = connect(s)
    b = connect(s, source="127.0.0.2")
    codes = []
    for _ in range(12):
        a.send({"type": "invite_create"})
        code = a.expect("invite")["code"]
        a.send({"type": "invite_cancel", "code": code})
        a.expect("invite_cancelled")
        codes.append(code)
    wait_metric(s, "vchat_invite_tombstones", 5)
    b.send({"type": "invite_join", "code": codes[-1]})
    b.expect_error("invite-expired")
    b.send({"type": "invite_join", "code": codes[0]})
    b.expect_error("invite-not-found")
