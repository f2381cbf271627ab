"""Request ids: a request's `id` comes back on what answers it
(docs/protocol.md, "Request ids"); requests without one are answered as
before."""
import pytest


def test_answers_carry_the_id(signald, connect):
    s = signald()
    a = connect(s, name="Alice")
    b = connect(s, name="Bob")
    a.send({"type": "ping", "id": "p1"})
    assert a.expect("pong")["id"] == "p1"
    a.send({"type": "invite_create", "id": "c-1"})
    inv = a.expect("invite")
    assert inv["id"] == "c-1"
    b.send({"type": "invite_join", "code": inv["code"], "id": 7})
    ringing = b.expect("ringing")
    assert ringing["id"] == 7
    incoming = a.expect("incoming")
    assert "id" not in incoming  # sent unasked: it answers nothing of Alice's
    a.send({"type": "accept", "call": incoming["call"], "id": "acc"})
    assert a.expect("matched")["id"] == "acc"
    assert "id" not in b.expect("matched")
    a.send({"type": "report", "call": incoming["call"], "reason": "test", "id": "r"})
    assert a.expect("reported")["id"] == "r"
    a.send({"type": "leave", "call": incoming["call"], "id": "bye"})
    assert a.expect("call_ended")["id"] == "bye"
    assert "id" not in b.expect("peer_left")


def test_errors_carry_the_id(signald, connect):
    s = signald()
    a = connect(s)
    a.send({"type": "invite_join", "code": "aaaa-bbbb-cccc-dddd", "id": "j"})
    err = a.expect_error("invite-not-found", ref="invite_join")
    assert err["id"] == "j"
    a.send({"type": "invite_create", "ttl": 1, "id": 99})
    assert a.expect_error("bad-value", ref="invite_create")["id"] == 99
    # without an id, no id
    a.send({"type": "invite_create", "ttl": 1})
    assert "id" not in a.expect_error("bad-value", ref="invite_create")


@pytest.mark.parametrize("bad, code", [
    ("", "bad-value"), ("x" * 65, "too-long"), ("tab\there", "bad-value"),
    (-1, "bad-value"), (2 ** 53, "bad-value"), (1.5, "bad-field"), (True, "bad-field"),
    ([1], "bad-field"), ({"a": 1}, "bad-field"), (None, "bad-field"),
])
def test_bad_id_is_refused_and_has_no_effect(signald, connect, bad, code):
    s = signald()
    a = connect(s)
    a.send({"type": "invite_create", "id": bad})
    err = a.expect_error(code, ref="invite_create")
    assert "id" not in err
    a.expect_nothing(0.3)  # no invite was made
    a.ping_ok()


def test_queue_id_on_queued_and_later_matched(signald, connect):
    s = signald()
    a = connect(s)
    b = connect(s)
    a.send({"type": "queue", "id": "qa"})
    assert a.expect("queued")["id"] == "qa"
    b.send({"type": "queue", "id": "qb"})
    assert b.expect("queued")["id"] == "qb"
    ma = a.expect("matched")  # later: answers Alice's queue
    mb = b.expect("matched")  # at once: answers Bob's queue
    assert ma["id"] == "qa" and mb["id"] == "qb"
    # next: its answers, and the match it leads to, carry the next's id
    a.send({"type": "next", "call": ma["call"], "id": "n1"})
    assert a.expect("call_ended")["id"] == "n1"
    assert a.expect("queued")["id"] == "n1"
    assert "id" not in b.expect("peer_left")
    c = connect(s)
    c.send({"type": "queue"})
    c.expect("queued")
    assert a.expect("matched")["id"] == "n1"
    assert "id" not in c.expect("matched")


def test_interleaved_requests_get_their_own_answers(signald, connect):
    s = signald()
    a = connect(s)
    b = connect(s)
    # two invites asked at once, then joined in the other order
    a.send({"type": "invite_create", "id": "first", "ttl": 60})
    a.send({"type": "invite_create", "id": "second", "ttl": 120})
    got = {m["id"]: m for m in (a.expect("invite"), a.expect("invite"))}
    assert set(got) == {"first", "second"}
    assert got["second"]["expires"] - got["first"]["expires"] in range(55, 66)
    b.send({"type": "invite_join", "code": "not-a-code", "id": 1})
    b.send({"type": "invite_join", "code": got["second"]["code"], "id": 2})
    answers = {m["id"]: m for m in (b.recv(), b.recv())}
    assert answers[1]["type"] == "error" and answers[1]["code"] == "invite-not-found"
    assert answers[2]["type"] == "ringing"
    assert a.expect("incoming")["code"] == got["second"]["code"]


def test_rejoin_answer_carries_each_sides_id(signald, connect):
    s = signald()
    a = connect(s)
    b = connect(s)
    secret = "0123456789abcdef0123456789abcdef"
    a.send({"type": "rejoin", "call": "c0ffee", "secret": secret, "id": "ra"})
    a.expect_nothing(0.3)
    b.send({"type": "rejoin", "call": "c0ffee", "secret": secret, "id": "rb"})
    assert a.expect("rejoined")["id"] == "ra"
    assert b.expect("rejoined")["id"] == "rb"
