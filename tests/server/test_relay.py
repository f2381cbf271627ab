"""Relay of `signal` between the two sessions of a call, and only them."""
from vtest import pair

SDP = ("v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
       "a=group:BUNDLE 0 1\r\na=msid-semantic: WMS stream\r\n"
       "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n"
       "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijklmn\r\n"
       "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\n"
       "a=setup:actpass\r\na=mid:0\r\na=rtpmap:96 VP8/90000\r\n"
       "a=x-note:caf\u00e9 \u2603 \"quoted\" \\ back\r\n") * 20


def test_signal_is_relayed_exactly(signald, connect):
    s = signald()
    a, b = connect(s, name="A"), connect(s, name="B")
    call, _, _ = pair(a, b)
    a.send({"type": "signal", "call": call, "sdp": {"type": "offer", "sdp": SDP}})
    got = b.expect("signal")
    assert got == {"type": "signal", "call": call, "sdp": {"type": "offer", "sdp": SDP}}
    b.send({"type": "signal", "call": call, "sdp": {"type": "answer", "sdp": SDP[::-1]}})
    assert a.expect("signal") == {"type": "signal", "call": call,
                                  "sdp": {"type": "answer", "sdp": SDP[::-1]}}
    ice = {"candidate": "candidate:842163049 1 udp 1677729535 192.0.2.7 46154 typ srflx "
                        "raddr 0.0.0.0 rport 0 generation 0",
           "sdpMLineIndex": 1, "sdpMid": "1"}
    b.send({"type": "signal", "call": call, "ice": ice})
    assert a.expect("signal") == {"type": "signal", "call": call, "ice": ice}
    ice2 = {"candidate": "candidate:1 1 udp 2122260223 10.0.0.2 5000 typ host", "sdpMLineIndex": 0}
    a.send({"type": "signal", "call": call, "ice": ice2})
    assert b.expect("signal") == {"type": "signal", "call": call, "ice": ice2}
    # attempts and restarts (docs/protocol.md, "Reconnecting a call")
    a.send({"type": "signal", "call": call, "restart": True, "attempt": 3})
    assert b.expect("signal") == {"type": "signal", "call": call, "restart": True, "attempt": 3}
    a.send({"type": "signal", "call": call, "attempt": 3, "ice": ice2})
    assert b.expect("signal") == {"type": "signal", "call": call, "attempt": 3, "ice": ice2}
    # nothing echoes back to the sender
    a.expect_nothing(0.3)
    b.expect_nothing(0.1)


def test_signals_keep_their_order(signald, connect):
    s = signald("--max-rate", "100")
    a, b = connect(s), connect(s)
    call, _, _ = pair(a, b)
    for i in range(30):
        a.send({"type": "signal", "call": call,
                "ice": {"candidate": f"candidate:{i} 1 udp 1 10.0.0.1 {1000 + i} typ host",
                        "sdpMLineIndex": 0}})
    for i in range(30):
        assert b.expect("signal")["ice"]["candidate"].startswith(f"candidate:{i} ")


def test_unknown_fields_are_not_relayed(signald, connect):
    s = signald()
    a, b = connect(s), connect(s)
    call, _, _ = pair(a, b)
    a.send({"type": "signal", "call": call, "secret": "do-not-forward", "to": b.session,
            "sdp": {"type": "offer", "sdp": "v=0\r\n", "extra": {"x": 1}}})
    got = b.expect("signal")
    assert got == {"type": "signal", "call": call, "sdp": {"type": "offer", "sdp": "v=0\r\n"}}
    a.send({"type": "signal", "call": call, "html": "<b>",
            "ice": {"candidate": "c", "sdpMLineIndex": 0, "usernameFragment": "u", "evil": True}})
    got = b.expect("signal")
    assert got == {"type": "signal", "call": call, "ice": {"candidate": "c", "sdpMLineIndex": 0}}


def test_relay_isolation(signald, connect):
    s = signald()
    a, b = connect(s, name="A"), connect(s, name="B")
    c, d = connect(s, name="C"), connect(s, name="D")
    e = connect(s, name="E")
    x, _, _ = pair(a, b)
    y, _, _ = pair(c, d)
    assert x != y
    offer = {"type": "offer", "sdp": "v=0\r\nintruder\r\n"}
    # C is in another call; E is idle; neither may reach call X
    c.send({"type": "signal", "call": x, "sdp": offer})
    c.expect_error("unknown-call", ref="signal")
    e.send({"type": "signal", "call": x, "sdp": offer})
    e.expect_error("unknown-call", ref="signal")
    e.send({"type": "signal", "call": y, "ice": {"candidate": "c", "sdpMLineIndex": 0}})
    e.expect_error("unknown-call", ref="signal")
    # a made-up call id, and session ids used as call ids
    for bogus in ("no-such-call", a.session, b.session):
        c.send({"type": "signal", "call": bogus, "sdp": offer})
        c.expect_error("unknown-call", ref="signal")
    # nor end, next or report it
    c.send({"type": "leave", "call": x})
    c.expect_error("unknown-call", ref="leave")
    c.send({"type": "next", "call": x})
    c.expect_error("unknown-call", ref="next")
    c.send({"type": "report", "call": x, "reason": "spam"})
    c.expect_error("unknown-call", ref="report")
    for victim in (a, b, d):
        victim.expect_nothing(0.4)
    # both calls still work
    a.send({"type": "signal", "call": x, "sdp": {"type": "offer", "sdp": "v=0\r\n"}})
    assert b.expect("signal")["call"] == x
    d.send({"type": "signal", "call": y, "sdp": {"type": "offer", "sdp": "v=0\r\n"}})
    assert c.expect("signal")["call"] == y
    a.expect_nothing(0.2)
    e.expect_nothing(0.1)

