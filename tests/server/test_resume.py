"""Resuming a session after its socket dropped, within the grace time."""
import time

from vtest import assert_sentence, pair, queue

OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"}


def test_resume_keeps_call(signald, connect):
    s = signald("--grace", "3")
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    call, _, _ = pair(a, b)
    b.drop()
    time.sleep(0.3)
    # A signals while B is away: no error, it waits for B
    a.send({"type": "signal", "call": call, "sdp": OFFER})
    a.send({"type": "signal", "call": call, "ice": {"candidate": "c1", "sdpMLineIndex": 0}})
    time.sleep(0.2)
    b2 = connect(s, name="Bob", resume=b.resume)
    assert b2.welcome["resumed"] is True
    assert b2.welcome["session"] == b.session
    assert b2.welcome["resume"]
    assert b2.expect("signal") == {"type": "signal", "call": call, "sdp": OFFER}
    assert b2.expect("signal") == {"type": "signal", "call": call,
                                   "ice": {"candidate": "c1", "sdpMLineIndex": 0}}
    # A was told nothing
    a.expect_nothing(0.5)
    # and the call goes on both ways
    b2.send({"type": "signal", "call": call, "sdp": {"type": "answer", "sdp": "v=0\r\n"}})
    assert a.expect("signal")["sdp"]["type"] == "answer"
    a.send({"type": "leave", "call": call})
    a.expect("call_ended", call=call, reason="hangup")
    b2.expect("peer_left", call=call, reason="hangup")


def test_abnormal_close_code_also_gets_grace(signald, connect):
    """Anything but a close with 1000 keeps the session for the grace time."""
    s = signald("--grace", "3")
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    call, _, _ = pair(a, b)
    b.close(1001)
    a.expect_nothing(0.5)
    b2 = connect(s, resume=b.resume)
    assert b2.welcome["resumed"] is True and b2.welcome["session"] == b.session
    a.send({"type": "signal", "call": call, "sdp": OFFER})
    assert b2.expect("signal")["call"] == call


def test_resume_after_grace_is_a_new_session(signald, connect):
    s = signald("--grace", "1")
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    call, _, _ = pair(a, b)
    t0 = time.monotonic()
    b.drop()
    a.expect("peer_left", call=call, reason="lost", timeout=4)
    waited = time.monotonic() - t0
    assert waited >= 0.8, f"peer_left lost after {waited:.2f}s, before the grace time"
    b2 = connect(s, name="Bob", resume=b.resume)
    assert b2.welcome["resumed"] is False
    assert b2.welcome["session"] != b.session
    b2.send({"type": "signal", "call": call, "sdp": OFFER})
    b2.expect_error("unknown-call", ref="signal")
    a.expect_nothing(0.2)


def test_resume_while_old_socket_open_replaces_it(signald, connect):
    s = signald("--grace", "3")
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    call, _, _ = pair(a, b)
    b2 = connect(s, resume=b.resume)
    assert b2.welcome["resumed"] is True
    assert b2.welcome["session"] == b.session
    msgs, code = b.read_until_close()
    errors = [m for m in msgs if m.get("type") == "error"]
    assert errors and errors[0]["code"] == "replaced", msgs
    assert_sentence(errors[0].get("message"))
    assert code == 4000
    # the replaced socket closing does not end the session
    a.expect_nothing(0.5)
    a.send({"type": "signal", "call": call, "sdp": OFFER})
    assert b2.expect("signal")["call"] == call


def test_resume_keeps_queue_place(signald, connect):
    s = signald("--grace", "3")
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    queue(a, interests=["jazz"])
    a.drop()
    time.sleep(0.2)
    a2 = connect(s, name="Alice", resume=a.resume)
    assert a2.welcome["resumed"] is True and a2.welcome["session"] == a.session
    queue(b, interests=["jazz"])
    mb = b.expect("matched")
    ma = a2.expect("matched")
    assert mb["peer"]["name"] == "Alice" and ma["peer"]["name"] == "Bob"
    assert ma["common_interests"] == ["jazz"]
    assert ma["role"] == "offerer"  # Alice kept her (longer) wait


def test_resume_twice(signald, connect):
    """The token from a resumed welcome resumes the session again."""
    s = signald("--grace", "3")
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    call, _, _ = pair(a, b)
    b.drop()
    b2 = connect(s, resume=b.resume)
    assert b2.welcome["resumed"] is True and b2.welcome["session"] == b.session
    b2.drop()
    b3 = connect(s, resume=b2.resume)
    assert b3.welcome["resumed"] is True and b3.welcome["session"] == b.session
    a.send({"type": "signal", "call": call, "sdp": OFFER})
    assert b3.expect("signal")["call"] == call
    a.expect_nothing(0.3)


def test_grace_expiry_leaves_queue(signald, connect):
    s = signald("--grace", "0.5")
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    queue(a)
    a.drop()
    time.sleep(1.0)
    queue(b)
    b.expect_nothing(0.7)


def test_grace_expiry_leaves_invites_away(signald, connect):
    """After the grace time the invite is not cancelled: its owner is away."""
    s = signald("--grace", "0.5")
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    a.send({"type": "invite_create"})
    code = a.expect("invite")["code"]
    a.drop()
    time.sleep(1.0)
    b.send({"type": "invite_join", "code": code})
    b.expect_error("inviter-away", ref="invite_join")


def test_resume_token_rotates(signald, connect):
    """Each welcome has a new token; a token that was used resumes nothing."""
    s = signald("--grace", "5")
    a = connect(s)
    old = a.resume
    a.drop()
    a2 = connect(s, resume=old)
    assert a2.welcome["resumed"] is True and a2.session == a.session
    assert a2.resume != old
    a2.drop()
    stale = connect(s, resume=old)
    assert stale.welcome["resumed"] is False and stale.session != a.session
    a3 = connect(s, resume=a2.resume)
    assert a3.welcome["resumed"] is True and a3.session == a.session


def test_peer_away_tells_the_other_side(signald, connect):
    """A dropped socket in a call: the peer hears `peer_away` true at once,
    and false when the session resumes; the call goes on."""
    s = signald("--grace", "5")
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    call, _, _ = pair(a, b)
    b.drop()
    assert a.expect("peer_away", 3) == {"type": "peer_away", "call": call, "away": True}
    b2 = connect(s, name="Bob", resume=b.resume)
    assert b2.welcome["resumed"] is True
    assert a.expect("peer_away", 3) == {"type": "peer_away", "call": call, "away": False}
    b2.send({"type": "signal", "call": call, "restart": True, "attempt": 1})
    assert a.expect("signal") == {"type": "signal", "call": call, "restart": True, "attempt": 1}


def test_peer_away_not_sent_for_a_clean_close(signald, connect):
    """A client that closes with 1000 has left: the peer gets peer_left, no
    peer_away."""
    s = signald("--grace", "5")
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    call, _, _ = pair(a, b)
    b.close(1000)
    a.expect("peer_left", call=call, reason="hangup")
    assert not a.peer_away, a.peer_away


def test_rejoin_after_a_server_restart(signald, connect):
    """A call's two sides come back to a server that never knew it (it
    restarted): with the call's id and the secret `matched` gave them both,
    it is paired again under the same id; a wrong secret pairs nothing."""
    s1 = signald()
    a, b = connect(s1, name="Alice"), connect(s1, name="Bob")
    call, ma, mb = pair(a, b)
    assert ma["secret"] == mb["secret"] and len(ma["secret"]) >= 32
    secret = ma["secret"]
    s2 = signald()
    a2, b2, eve = (connect(s2, name="Alice"), connect(s2, name="Bob"),
                   connect(s2, name="Eve"))
    a2.send({"type": "rejoin", "call": call, "secret": secret, "kind": "random"})
    a2.expect_nothing(0.3)
    eve.send({"type": "rejoin", "call": call, "secret": "0" * 32})
    eve.expect_error("unknown-call", ref="rejoin")
    b2.send({"type": "rejoin", "call": call, "secret": secret})
    assert a2.expect("rejoined") == {"type": "rejoined", "call": call}
    assert b2.expect("rejoined") == {"type": "rejoined", "call": call}
    b2.send({"type": "signal", "call": call, "restart": True, "attempt": 1})
    assert a2.expect("signal")["attempt"] == 1
    eve.send({"type": "signal", "call": call, "restart": True, "attempt": 1})
    eve.expect_error("unknown-call")
    # A call it knows cannot be taken over.
    eve.send({"type": "rejoin", "call": call, "secret": secret})
    eve.expect_error("bad-state", ref="rejoin")
    a2.send({"type": "leave", "call": call})
    a2.expect("call_ended", call=call, reason="hangup")
    b2.expect("peer_left", call=call, reason="hangup")
