"""Random matching: pairing, interests, language, next, leave."""
import time

from vtest import pair, queue


def test_random_match_without_interests(signald, connect):
    s = signald()
    a = connect(s, name="Alice")
    b = connect(s, name="Bob")
    q = queue(a)
    assert q["interests"] == []
    a.expect_nothing(0.3)  # never paired with itself
    queue(b)
    ma = a.expect("matched")
    mb = b.expect("matched")
    assert isinstance(ma["call"], str) and ma["call"]
    assert ma["call"] == mb["call"]
    assert {ma["role"], mb["role"]} == {"offerer", "answerer"}
    assert ma["role"] == "offerer"  # Alice waited longer
    assert ma["peer"] == {"name": "Bob", "client": "test/1"}
    assert mb["peer"] == {"name": "Alice", "client": "test/1"}
    assert ma["common_interests"] == [] and mb["common_interests"] == []
    assert ma["kind"] == "random" and mb["kind"] == "random"


def test_peer_without_name(signald, connect):
    s = signald()
    a = connect(s, client="web/0.1")
    b = connect(s, name="Bob")
    _, ma, mb = pair(a, b)
    assert ma["peer"]["name"] == "Bob"
    assert mb["peer"]["client"] == "web/0.1"
    assert "name" not in mb["peer"] or mb["peer"]["name"] in (None, "")


def test_daemon_is_offerer(signald, connect):
    s = signald()
    web = connect(s, name="Web", client="web/0.1")
    daemon = connect(s, name="Desk", client="vchatd/0.1")
    _, mw, md = pair(web, daemon)  # the web client waited longer ...
    assert md["role"] == "offerer"  # ... but the daemon offers
    assert mw["role"] == "answerer"
    assert mw["peer"] == {"name": "Desk", "client": "vchatd/0.1"}


def test_interest_matching(signald, connect):
    s = signald("--interest-wait", "2")
    a = connect(s, name="A")
    b = connect(s, name="B")
    c = connect(s, name="C")
    d = connect(s, name="D")
    queue(a, interests=["music"])
    t_b = time.monotonic()
    queue(b, interests=["sports"])
    qc = queue(c, interests=["Music"])
    assert qc["interests"] == ["music"]  # normalised (case-insensitive)
    ma = a.expect("matched")
    mc = c.expect("matched")
    assert ma["call"] == mc["call"]
    assert ma["peer"]["name"] == "C" and mc["peer"]["name"] == "A"
    assert ma["common_interests"] == ["music"] and mc["common_interests"] == ["music"]
    # B (sports) has nobody sharing an interest; D (no interests) comes
    # early, but B only takes anyone once its interest_wait is over.
    queue(d)
    b.expect_nothing(max(0.1, 1.5 - (time.monotonic() - t_b)))
    mb = b.expect("matched", timeout=3)
    md = d.expect("matched")
    waited = time.monotonic() - t_b
    assert waited >= 1.6, f"B was matched after {waited:.2f}s, before interest_wait"
    assert mb["call"] == md["call"]
    assert mb["peer"]["name"] == "D" and md["peer"]["name"] == "B"
    assert mb["common_interests"] == [] and md["common_interests"] == []


def test_prefers_more_common_interests(signald, connect):
    s = signald("--interest-wait", "5")
    b = connect(s, name="B")
    a = connect(s, name="A")
    c = connect(s, name="C")
    queue(b, interests=["chess"])  # waits longest, one interest in common with C
    queue(a, interests=["music", "film"])  # two in common with C
    queue(c, interests=["film", "chess", "music"])
    mc = c.expect("matched")
    assert mc["peer"]["name"] == "A", "C (film, chess, music) should prefer A (2 common) over B (1 common)"
    ma = a.expect("matched")
    assert sorted(mc["common_interests"]) == ["film", "music"]
    assert sorted(ma["common_interests"]) == ["film", "music"]
    b.expect_nothing(0.3)


def test_language_matching(signald, connect):
    s = signald("--language-wait", "2")
    a, b, c, d = (connect(s, name=n) for n in "ABCD")
    queue(a, language="en")
    t_b = time.monotonic()
    queue(b, language="de")
    qc = queue(c, language="en")
    assert qc.get("language") == "en"
    ma = a.expect("matched")
    mc = c.expect("matched")
    assert ma["call"] == mc["call"]
    assert ma["peer"]["name"] == "C" and mc["peer"]["name"] == "A"
    # D speaks another language: B and D pair only after language_wait
    queue(d, language="fr")
    b.expect_nothing(max(0.1, 1.5 - (time.monotonic() - t_b)))
    mb = b.expect("matched", timeout=4)
    md = d.expect("matched")
    waited = time.monotonic() - t_b
    assert waited >= 1.6, f"B was matched after {waited:.2f}s, before language_wait"
    assert mb["call"] == md["call"] and mb["peer"]["name"] == "D"


def test_language_and_no_language_pair_at_once(signald, connect):
    s = signald("--language-wait", "5")
    a, b = connect(s, name="A"), connect(s, name="B")
    queue(a, language="de")
    queue(b)
    assert a.expect("matched", timeout=1)["peer"]["name"] == "B"
    b.expect("matched", timeout=1)


def test_next_ends_call_and_requeues(signald, connect):
    s = signald("--rematch-delay", "5")
    a, b, c = connect(s, name="A"), connect(s, name="B"), connect(s, name="C")
    call, _, _ = pair(a, b, language="en")
    a.send({"type": "next", "call": call})
    a.expect("call_ended", call=call, reason="next")
    qa = a.expect("queued")
    assert qa.get("language") == "en"  # interests/language of the last queue
    b.expect("peer_left", call=call, reason="next")
    queue(b)  # B decides itself to queue again
    # A and B are both waiting, but must not be paired again so soon
    a.expect_nothing(1.5)
    b.expect_nothing(0.1)
    queue(c, language="en")
    mc = c.expect("matched")
    ma = a.expect("matched")  # A waited longest (and speaks en)
    assert mc["call"] == ma["call"] != call
    assert mc["peer"]["name"] == "A"
    b.expect_nothing(0.3)
    # the old call is gone
    a.send({"type": "signal", "call": call, "ice": {"candidate": "c", "sdpMLineIndex": 0}})
    a.expect_error("unknown-call", ref="signal")


def test_next_peer_not_requeued(signald, connect):
    s = signald()
    a, b, c = connect(s, name="A"), connect(s, name="B"), connect(s, name="C")
    call, _, _ = pair(a, b)
    b.send({"type": "next", "call": call})
    b.expect("call_ended", call=call, reason="next")
    b.expect("queued")
    a.expect("peer_left", call=call, reason="next")
    # A was not put back in the queue: C can only pair with B
    queue(c)
    assert c.expect("matched")["peer"]["name"] == "B"
    b.expect("matched")
    a.expect_nothing(0.3)


def test_leave_in_call(signald, connect):
    s = signald()
    a, b = connect(s, name="A"), connect(s, name="B")
    call, _, _ = pair(a, b)
    a.send({"type": "leave", "call": call})
    a.expect("call_ended", call=call, reason="hangup")
    b.expect("peer_left", call=call, reason="hangup")
    # both are idle now; the call id is dead
    b.send({"type": "leave", "call": call})
    b.expect_error("unknown-call", ref="leave")
    a.ping_ok()


def test_leave_while_queued(signald, connect):
    s = signald()
    a, b = connect(s, name="A"), connect(s, name="B")
    queue(a)
    a.send({"type": "leave"})
    a.expect("left_queue")
    queue(b)
    b.expect_nothing(0.7)
    a.expect_nothing(0.1)


def test_close_1000_ends_session_at_once(signald, connect):
    s = signald("--grace", "30")
    a, b = connect(s, name="A"), connect(s, name="B")
    call, _, _ = pair(a, b)
    token = b.resume
    b.close(1000)
    a.expect("peer_left", call=call, reason="hangup", timeout=2)
    # the session is gone, not waiting for a resume
    b2 = connect(s, resume=token)
    assert b2.welcome["resumed"] is False
    assert b2.welcome["session"] != b.session


def test_close_1000_while_queued_leaves_queue(signald, connect):
    s = signald("--grace", "30")
    a, b = connect(s, name="A"), connect(s, name="B")
    queue(a)
    a.close(1000)
    time.sleep(0.2)
    queue(b)
    b.expect_nothing(0.7)
