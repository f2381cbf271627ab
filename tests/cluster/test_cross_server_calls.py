"""Calls between sessions on two (or three) servers sharing one Redis: an
invite made on one server is joined from another; ringing, accepting,
rejecting, the ring timeout, relay of offers, answers and candidates, a
peer that drops or hangs up all cross through Redis pub/sub, and each
person hears each thing once."""
import time

from test_shared_invites import make_invite


def ring(inviter, joiner, code, jid="j"):
    joiner.send({"type": "invite_join", "code": code, "id": jid})
    ringing = joiner.expect("ringing", id=jid)
    incoming = inviter.expect("incoming", code=code)
    assert ringing["call"] == incoming["call"]
    assert "id" not in incoming
    return ringing, incoming


def test_invite_joined_from_another_server_relays_both_ways(cluster, connect):
    s1, s2 = cluster(2)
    a = connect(s1, name="Alice", client="vchatd/1")
    b = connect(s2, name="Bob", client="web/1")
    inv = make_invite(a)
    ringing, incoming = ring(a, b, inv["code"])
    assert ringing["peer"] == {"name": "Alice", "client": "vchatd/1"}
    assert incoming["peer"] == {"name": "Bob", "client": "web/1"}
    call = incoming["call"]
    a.send({"type": "accept", "call": call, "id": "acc"})
    ma = a.expect("matched", id="acc")
    mb = b.expect("matched")
    assert ma["call"] == mb["call"] == call and ma["secret"] == mb["secret"]
    assert ma["role"] == "offerer" and mb["role"] == "answerer"  # the daemon offers
    assert ma["kind"] == mb["kind"] == "invite"
    assert mb["peer"] == {"name": "Alice", "client": "vchatd/1"}
    a.send({"type": "signal", "call": call, "sdp": {"type": "offer", "sdp": "v=0\r\no=a\r\n"}})
    assert b.expect("signal", call=call)["sdp"] == {"type": "offer", "sdp": "v=0\r\no=a\r\n"}
    b.send({"type": "signal", "call": call, "sdp": {"type": "answer", "sdp": "v=0\r\no=b\r\n"}})
    assert a.expect("signal", call=call)["sdp"]["type"] == "answer"
    for i in range(5):
        cand = {"candidate": f"candidate:{i} 1 udp 2122260223 192.0.2.{i} 5000{i} typ host",
                "sdpMLineIndex": 0, "sdpMid": "0"}
        b.send({"type": "signal", "call": call, "ice": cand, "attempt": 1})
        got = a.expect("signal", call=call)
        assert got["ice"] == cand and got["attempt"] == 1
    b.send({"type": "leave", "call": call, "id": 9})
    b.expect("call_ended", call=call, reason="hangup", id=9)
    a.expect("peer_left", call=call, reason="hangup")
    # both are free again, on their own servers
    a.expect_nothing(0.5)
    b.expect_nothing(0.1)
    a.ping_ok()
    b.ping_ok()
    # the invite was used up
    c = connect(s2)
    c.send({"type": "invite_join", "code": inv["code"]})
    c.expect_error("invite-expired", ref="invite_join")


def test_reject_from_another_server(cluster, connect):
    s1, s2 = cluster(2)
    a, b = connect(s1), connect(s2)
    inv = make_invite(a)
    _, incoming = ring(a, b, inv["code"])
    a.send({"type": "reject", "call": incoming["call"]})
    a.expect("call_ended", reason="rejected")
    b.expect("peer_left", call=incoming["call"], reason="rejected")
    b.expect_nothing(0.5)
    # the joiner is free: it can join another invite, on the first server
    inv2 = make_invite(a)
    ring(a, b, inv2["code"])


def test_ring_timeout_tells_each_once(cluster, connect):
    s1, s2 = cluster(2, "--ring-timeout", "1")
    a, b = connect(s1), connect(s2)
    inv = make_invite(a)
    _, incoming = ring(a, b, inv["code"])
    a.expect("peer_left", timeout=5, call=incoming["call"], reason="timeout")
    b.expect("peer_left", timeout=5, call=incoming["call"], reason="timeout")
    a.expect_nothing(1.0)
    b.expect_nothing(0.1)


def test_joiner_leaving_while_ringing(cluster, connect):
    s1, s2 = cluster(2)
    a, b = connect(s1), connect(s2)
    inv = make_invite(a)
    _, incoming = ring(a, b, inv["code"])
    b.close()  # a clean close: the session ends at once
    a.expect("peer_left", call=incoming["call"], reason="hangup")
    a.send({"type": "accept", "call": incoming["call"]})
    a.expect_error("unknown-call", ref="accept")


def test_busy_inviter_on_another_server(cluster, connect):
    s1, s2 = cluster(2)
    a, other = connect(s1), connect(s1)
    inv = make_invite(a)
    inv_other = make_invite(other)
    ringing, _ = ring(other, a, inv_other["code"])  # Alice is ringing someone on her server
    b = connect(s2)
    b.send({"type": "invite_join", "code": inv["code"], "id": "x"})
    err = b.expect_error("busy", ref="invite_join")
    assert err["id"] == "x"
    # not used up: once Alice is free, Bob's join rings her
    a.send({"type": "leave", "call": ringing["call"]})
    a.expect("call_ended")
    other.expect("peer_left")
    ring(a, b, inv["code"])


def test_peer_drop_and_resume_across_servers(cluster, connect):
    s1, s2 = cluster(2)
    a, b = connect(s1), connect(s2)
    inv = make_invite(a)
    _, incoming = ring(a, b, inv["code"])
    call = incoming["call"]
    a.send({"type": "accept", "call": call})
    a.expect("matched")
    b.expect("matched")
    b.drop()  # vanishes without a close: grace time
    away = a.expect("peer_away", call=call)
    assert away["away"] is True
    # b comes back on its server with its resume token, and the call goes on
    b2 = connect(s2, hello=False)
    b2.send({"type": "hello", "version": 1, "client": "test/1", "resume": b.resume})
    w = b2.expect("welcome")
    assert w["resumed"] is True
    assert a.expect("peer_away", call=call)["away"] is False
    a.send({"type": "signal", "call": call, "restart": True, "attempt": 1})
    assert b2.expect("signal", call=call)["restart"] is True


def test_inviters_server_dead_puts_the_invite_back(cluster, connect):
    s1, s2 = cluster(2)
    a = connect(s1)
    inv = make_invite(a)
    s1.proc.kill()
    s1.proc.wait(5)
    s1.stopped = True
    b = connect(s2)
    t0 = time.monotonic()
    b.send({"type": "invite_join", "code": inv["code"], "id": "dead"})
    err = b.expect_error("inviter-away", ref="invite_join", timeout=10)
    assert err["id"] == "dead"
    assert 3 < time.monotonic() - t0 < 9
    # still open: the owner takes it back where Bob is, and Bob's join rings
    a2 = connect(s2)
    a2.send({"type": "invite_reclaim", "code": inv["code"], "claim": inv["claim"]})
    a2.expect("invite")
    ring(a2, b, inv["code"])


def test_three_servers(cluster, connect):
    s1, s2, s3 = cluster(3)
    a, b, c = connect(s1), connect(s2), connect(s3)
    inv_a = make_invite(a)
    inv_b = make_invite(b)
    _, in_a = ring(a, c, inv_a["code"], jid=1)
    # c is ringing: it cannot join another invite meanwhile
    c.send({"type": "invite_join", "code": inv_b["code"]})
    c.expect_error("bad-state", ref="invite_join")
    a.send({"type": "accept", "call": in_a["call"]})
    a.expect("matched")
    c.expect("matched")
    # b's invite rings b from s1's second session
    d = connect(s1)
    _, in_b = ring(b, d, inv_b["code"], jid=2)
    b.send({"type": "accept", "call": in_b["call"]})
    b.expect("matched")
    d.expect("matched")
    a.send({"type": "signal", "call": in_a["call"], "sdp": {"type": "offer", "sdp": "v=0\r\n"}})
    d.send({"type": "signal", "call": in_b["call"], "sdp": {"type": "offer", "sdp": "v=0\r\n"}})
    assert c.expect("signal")["call"] == in_a["call"]
    assert b.expect("signal")["call"] == in_b["call"]
    c.expect_nothing(0.3)
    b.expect_nothing(0.1)


def test_dead_server_peer_is_told_away_then_lost(cluster, connect):
    s1, s2 = cluster(2, "--grace", "3")
    a, b = connect(s1), connect(s2)
    inv = make_invite(a)
    _, incoming = ring(a, b, inv["code"])
    call = incoming["call"]
    a.send({"type": "accept", "call": call})
    a.expect("matched")
    b.expect("matched")
    s1.proc.kill()  # Alice's server dies: nobody tells Bob's server
    s1.proc.wait(5)
    s1.stopped = True
    t0 = time.monotonic()
    away = b.expect("peer_away", timeout=10, call=call)
    assert away["away"] is True
    assert time.monotonic() - t0 < 8  # its key lasts 3.5 s, checked every 2 s
    b.expect("peer_left", timeout=10, call=call, reason="lost")
    assert time.monotonic() - t0 >= 3  # after the grace time
    # Bob is free again
    b.send({"type": "queue"})
    b.expect("queued")


def resume_on(server, connect, old, **kw):
    c = connect(server, hello=False)
    c.send({"type": "hello", "version": 1, "client": "test/1", "resume": old.resume, "id": "h", **kw})
    w = c.expect("welcome", timeout=10)
    assert w["id"] == "h"
    c.session, c.resume = w["session"], w["resume"]
    return c, w


def test_resume_on_another_server_mid_call(cluster, connect):
    """Bob's server goes away for him (a load balancer sends him elsewhere):
    he resumes on Alice's server, then on a third; the call goes on."""
    s1, s2, s3 = cluster(3)
    a, b = connect(s1), connect(s2)
    inv = make_invite(a)
    _, incoming = ring(a, b, inv["code"])
    call = incoming["call"]
    a.send({"type": "accept", "call": call})
    a.expect("matched")
    b.expect("matched")
    b.drop()
    assert a.expect("peer_away", call=call)["away"] is True
    a.send({"type": "signal", "call": call, "ice": {"candidate": "candidate:1 1 udp 1 192.0.2.1 1 typ host",
                                                   "sdpMLineIndex": 0}})
    # on Alice's server now: same session, the frame sent meanwhile, the call
    b2, w = resume_on(s1, connect, b)
    assert w["resumed"] is True and w["session"] == b.session
    assert b2.expect("signal", call=call)["ice"]["candidate"].startswith("candidate:1")
    assert a.expect("peer_away", call=call)["away"] is False
    a.send({"type": "signal", "call": call, "sdp": {"type": "offer", "sdp": "v=0\r\n"}})
    assert b2.expect("signal", call=call)["sdp"]["type"] == "offer"
    b2.send({"type": "signal", "call": call, "sdp": {"type": "answer", "sdp": "v=0\r\n"}})
    assert a.expect("signal", call=call)["sdp"]["type"] == "answer"
    # and on to a third server, this time without dropping first: the old
    # socket is replaced
    b3, w = resume_on(s3, connect, b2)
    assert w["resumed"] is True and w["session"] == b.session
    b2.expect_error("replaced")
    b3.send({"type": "signal", "call": call, "restart": True, "attempt": 1})
    assert a.expect("signal", call=call)["restart"] is True
    a.send({"type": "signal", "call": call, "restart": True, "attempt": 2})
    assert b3.expect("signal", call=call)["attempt"] == 2
    # hanging up still reaches the other side, once
    a.send({"type": "leave", "call": call})
    a.expect("call_ended")
    b3.expect("peer_left", call=call, reason="hangup")
    b3.expect_nothing(0.5)
    # the old token is spent everywhere
    again = connect(s2, hello=False)
    again.send({"type": "hello", "version": 1, "client": "test/1", "resume": b2.resume})
    assert again.expect("welcome", timeout=10)["resumed"] is False


def test_resume_on_another_server_while_queued(cluster, connect):
    s1, s2 = cluster(2)
    a = connect(s1)
    a.send({"type": "queue", "interests": ["chess"]})
    a.expect("queued")
    a2, w = resume_on(s2, connect, a)
    assert w["resumed"] is True
    assert a2.expect("queued")["interests"] == ["chess"]
    b = connect(s2)
    b.send({"type": "queue", "interests": ["chess"]})
    b.expect("queued")
    ma, mb = a2.expect("matched"), b.expect("matched")
    assert ma["call"] == mb["call"] and ma["common_interests"] == ["chess"]


def test_unknown_token_with_redis_gets_a_new_session(cluster, connect):
    (s1,) = cluster(1)
    c = connect(s1, hello=False)
    c.send({"type": "hello", "version": 1, "client": "test/1", "resume": "f" * 32, "id": 1})
    w = c.expect("welcome", timeout=10)
    assert w["resumed"] is False and w["id"] == 1
