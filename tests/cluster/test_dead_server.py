"""A server that dies (SIGKILL: nothing is handed over) and the sessions it
had: a client that comes back to another server within the grace time,
with its resume token, gets its session back, in its call; the peer is told
`peer_away` false once and frames flow both ways again. A client that does
not come back: its peer is told the call ended (`lost`) once, after the
grace time, and the token then gives a new session."""
import time

import pytest

from test_shared_invites import make_invite


def call_between(a, b):
    """An invited call from a to b, accepted."""
    inv = make_invite(a)
    b.send({"type": "invite_join", "code": inv["code"]})
    b.expect("ringing")
    call = a.expect("incoming")["call"]
    a.send({"type": "accept", "call": call})
    a.expect("matched")
    b.expect("matched")
    return call


def kill(server):
    server.proc.kill()
    server.proc.wait(5)
    server.stopped = True


def resume_on(server, connect, old):
    c = connect(server, hello=False)
    c.send({"type": "hello", "version": 1, "client": "test/1", "resume": old.resume, "id": "h"})
    w = c.expect("welcome", timeout=15)
    assert w["id"] == "h"
    c.session, c.resume = w["session"], w["resume"]
    return c, w


def wait_back(peer, call, timeout=10):
    """Waits for `peer_away` false about `call`; returns every `peer_away`
    the peer got."""
    deadline = time.monotonic() + timeout
    while True:
        if peer.peer_away and peer.peer_away[-1]["away"] is False:
            break
        left = deadline - time.monotonic()
        assert left > 0, f"no peer_away false; got {peer.peer_away}"
        msg = peer.expect("peer_away", timeout=left, call=call)
        peer.peer_away = (peer.peer_away or []) + [msg]
    return peer.peer_away


def relay_both_ways(x, y, call):
    x.send({"type": "signal", "call": call, "sdp": {"type": "offer", "sdp": "v=0\r\no=x\r\n"}})
    assert y.expect("signal", call=call)["sdp"]["sdp"] == "v=0\r\no=x\r\n"
    y.send({"type": "signal", "call": call, "sdp": {"type": "answer", "sdp": "v=0\r\no=y\r\n"}})
    assert x.expect("signal", call=call)["sdp"]["sdp"] == "v=0\r\no=y\r\n"
    y.send({"type": "signal", "call": call, "restart": True, "attempt": 3})
    assert x.expect("signal", call=call)["attempt"] == 3


@pytest.mark.parametrize("where", ["peers_server", "third_server"])
def test_dead_servers_client_resumes_elsewhere_in_its_call(cluster, connect, where):
    s1, s2, s3 = cluster(3, "--grace", "20")
    a, b = connect(s1, name="Alice"), connect(s2, name="Bob")
    call = call_between(a, b)
    kill(s1)
    # at once, while s1's key still says it lives: the store is asked again
    # until it is known dead
    a2, w = resume_on(s2 if where == "peers_server" else s3, connect, a)
    assert w["resumed"] is True and w["session"] == a.session
    assert w["resume"] != a.resume
    events = wait_back(b, call)
    assert [e["away"] for e in events].count(False) == 1
    relay_both_ways(a2, b, call)
    relay_both_ways(b, a2, call)
    # the peer still knows who it talks to, and hanging up reaches each once
    b.send({"type": "leave", "call": call})
    b.expect("call_ended", call=call)
    a2.expect("peer_left", call=call, reason="hangup")
    a2.expect_nothing(0.5)
    b.expect_nothing(0.1)
    # both free: they can call again, across servers
    call2 = call_between(b, a2)
    relay_both_ways(a2, b, call2)
    # the spent token gives a new session
    again = connect(s2, hello=False)
    again.send({"type": "hello", "version": 1, "client": "test/1", "resume": a.resume})
    assert again.expect("welcome", timeout=15)["resumed"] is False


def test_dead_server_both_sides_resume_on_two_servers(cluster, connect):
    """Both people of a call were on the server that died; each comes back
    on a different server, one after the other, and the call goes on."""
    s1, s2, s3 = cluster(3, "--grace", "20")
    a, b = connect(s1), connect(s1)
    call = call_between(a, b)
    kill(s1)
    a2, w = resume_on(s2, connect, a)
    assert w["resumed"] is True and w["session"] == a.session
    b2, w = resume_on(s3, connect, b)
    assert w["resumed"] is True and w["session"] == b.session
    wait_back(a2, call)
    relay_both_ways(a2, b2, call)
    relay_both_ways(b2, a2, call)


def test_dead_servers_session_without_a_call_keeps_its_id(cluster, connect):
    s1, s2 = cluster(2, "--grace", "20")
    a = connect(s1, name="Alice")
    kill(s1)
    a2, w = resume_on(s2, connect, a)
    assert w["resumed"] is True and w["session"] == a.session
    # a session like any other there: it can be invited and called
    b = connect(s2)
    call = call_between(b, a2)
    relay_both_ways(a2, b, call)


def test_two_servers_race_for_a_dead_servers_session(cluster, connect):
    """The same token offered to two servers at once: one takes the session,
    the other gives a new one."""
    s1, s2, s3 = cluster(3, "--grace", "20")
    a = connect(s1)
    kill(s1)
    time.sleep(4)  # s1's key is gone: both go straight to the store
    c2, c3 = connect(s2, hello=False), connect(s3, hello=False)
    for c in (c2, c3):
        c.send({"type": "hello", "version": 1, "client": "test/1", "resume": a.resume})
    w2, w3 = c2.expect("welcome", timeout=15), c3.expect("welcome", timeout=15)
    assert sorted([w2["resumed"], w3["resumed"]]) == [False, True]
    assert [w["session"] for w in (w2, w3) if w["resumed"]] == [a.session]


def test_dead_servers_client_back_after_the_grace_time(cluster, connect):
    s1, s2 = cluster(2, "--grace", "3")
    a, b = connect(s1), connect(s2)
    call = call_between(a, b)
    kill(s1)
    t0 = time.monotonic()
    assert b.expect("peer_away", timeout=10, call=call)["away"] is True
    b.expect("peer_left", timeout=10, call=call, reason="lost")
    assert time.monotonic() - t0 >= 3
    b.expect_nothing(1.0)
    # too late: a new session, and Bob hears nothing more of the old call
    a2, w = resume_on(s2, connect, a)
    assert w["resumed"] is False and w["session"] != a.session
    b.expect_nothing(1.0)
    assert [e["away"] for e in b.peer_away or []] == []


def test_dead_servers_inviter_taken_over_still_gets_rung(cluster, connect):
    """An invite made on the server that died rings its owner where the
    owner's session was taken over."""
    s1, s2, s3 = cluster(3, "--grace", "20")
    a = connect(s1)
    inv = make_invite(a)
    kill(s1)
    a2, w = resume_on(s2, connect, a)
    assert w["resumed"] is True
    b = connect(s3)
    b.send({"type": "invite_join", "code": inv["code"], "id": "j"})
    b.expect("ringing", id="j")
    call = a2.expect("incoming", code=inv["code"])["call"]
    a2.send({"type": "accept", "call": call})
    a2.expect("matched")
    b.expect("matched")
    relay_both_ways(a2, b, call)
