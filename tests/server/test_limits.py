"""Rate limit, sessions per address, keepalive."""
import time

from vtest import assert_sentence


def test_rate_limit(signald, connect):
    s = signald("--max-rate", "5")
    c = connect(s)
    assert c.welcome["limits"]["max_rate"] == 5
    time.sleep(1.0)  # let the bucket fill after hello
    for _ in range(40):
        c.send({"type": "ping"})
    pongs, limited = 0, []
    while True:
        try:
            m = c.recv(timeout=0.7)
        except TimeoutError:
            break
        if m["type"] == "pong":
            pongs += 1
        else:
            assert m["type"] == "error", m
            limited.append(m)
    assert limited, f"40 pings at once with max-rate 5 gave {pongs} pongs and no error"
    for e in limited:
        assert e["code"] == "rate-limited", e
        assert_sentence(e.get("message"))
        assert e.get("ref", "ping") == "ping"
    assert pongs + len(limited) == 40
    # burst is 3x the rate: about 15 pass, certainly not all
    assert 5 <= pongs <= 20, f"{pongs} pongs"
    # the session is still there; after a pause messages pass again
    time.sleep(1.2)
    c.ping_ok()


def test_too_many_sessions_per_address(signald, connect):
    s = signald("--max-sessions-per-address", "2")
    a = connect(s)
    b = connect(s)
    c = connect(s, hello=False)
    try:
        c.send({"type": "hello", "version": 1, "client": "test/1"})
    except Exception:
        pass  # the server may refuse before hello
    msgs, code = c.read_until_close()
    errors = [m for m in msgs if isinstance(m, dict) and m.get("type") == "error"]
    assert errors and errors[0]["code"] == "too-many-sessions", msgs
    assert_sentence(errors[0].get("message"))
    assert "welcome" not in [m.get("type") for m in msgs if isinstance(m, dict)]
    assert code == 1008
    # the first two are unharmed
    a.ping_ok()
    b.ping_ok()
    # another address has its own count
    connect(s, source="127.0.0.2").ping_ok()
    # when one session ends (close 1000), there is room again
    b.close(1000)
    time.sleep(0.3)
    d = connect(s)
    assert d.welcome["resumed"] is False
    d.ping_ok()


def test_keepalive_timeout(signald, connect):
    s = signald("--ping-interval", "0.5", "--grace", "1")
    a = connect(s, name="Alice")   # answers pings (Client.recv does)
    b = connect(s, name="Bob")     # will never read nor answer again
    t0 = time.monotonic()
    a.send({"type": "queue"})
    a.expect("queued")
    b.send({"type": "queue"})
    call = a.expect("matched")["call"]
    # B sends nothing from now on. It is closed after ~2 intervals, then
    # its grace time runs; A keeps answering pings meanwhile.
    try:
        a.expect("peer_left", call=call, reason="lost", timeout=6)
    except TimeoutError:
        msgs, code, closed = b.read_frames(0.5)
        raise AssertionError(
            f"A got no peer_left lost within 6 s (ping interval 0.5, grace 1); "
            f"B's socket: closed={closed} code={code} frames={msgs}")
    waited = time.monotonic() - t0
    assert waited >= 1.5, f"peer_left after {waited:.2f}s: before 2 ping intervals + grace"
    msgs, code = b.read_until_close(timeout=1)
    types = [m.get("type") for m in msgs if isinstance(m, dict)]
    assert "ping" in types, msgs  # it was pinged
    errors = [m for m in msgs if isinstance(m, dict) and m.get("type") == "error"]
    assert errors and errors[-1]["code"] == "timeout", msgs
    assert_sentence(errors[-1].get("message"))
    assert code == 4001
    # A, which answered, is still connected and idle
    a.ping_ok()
    a.send({"type": "queue"})
    a.expect("queued")


def test_client_that_answers_pings_stays(signald, connect):
    s = signald("--ping-interval", "0.3")
    a = connect(s)
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        a.expect_nothing(0.2)  # answers the server's pings while waiting
    a.ping_ok()


def test_rate_limited_for_10s_closes_1008(signald, connect):
    s = signald("--max-rate", "5")
    c = connect(s)
    t0 = time.monotonic()
    msgs, code, closed = [], None, False
    while time.monotonic() - t0 < 14 and not closed:
        try:
            c.send({"type": "ping"})  # 20 a second, 4x the rate
        except Exception:
            pass
        got, code, closed = c.read_frames(0.05)
        msgs += got
    waited = time.monotonic() - t0
    assert closed, "still open after 14 s of flooding"
    assert code == 1008, f"closed with {code}"
    assert any(isinstance(m, dict) and m.get("code") == "rate-limited" for m in msgs)
    assert 9 <= waited <= 13, f"closed after {waited:.1f}s of flooding"
