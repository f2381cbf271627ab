"""Invites: codes, links, join / accept / reject, expiry, cancel, guessing."""
import time

import pytest

from vtest import CODE_RE, invite

PUBLIC = "https://vchat.example.org"


def ring(inviter, joiner, code):
    """joiner joins code; returns (call, incoming, ringing)."""
    joiner.send({"type": "invite_join", "code": code})
    ringing = joiner.expect("ringing")
    incoming = inviter.expect("incoming")
    assert ringing["call"] == incoming["call"]
    return incoming["call"], incoming, ringing


def test_invite_code_and_links(signald, connect):
    s = signald("--public-url", PUBLIC)
    a = connect(s, name="Alice")
    inv = invite(a)
    code = inv["code"]
    assert CODE_RE.match(code), f"code {code!r} is not 16 base32 letters in 4 groups"
    assert len(code.replace("-", "")) * 5 >= 80
    assert inv["link"] == f"vchat://join/{code}"
    assert inv["link"].startswith("vchat://join/")
    assert "/join/" in inv["web_link"]
    assert inv["web_link"] == f"{PUBLIC}/join/{code}"
    assert isinstance(inv["expires"], int)
    assert abs(inv["expires"] - (time.time() + 600)) <= 5  # default ttl
    # every invite gets a fresh, unrelated code
    codes = {code} | {invite(a)["code"] for _ in range(7)}
    assert len(codes) == 8
    letters = set("".join(codes).replace("-", "").lower())
    assert len(letters) >= 12, f"codes use only {sorted(letters)}"


def test_invite_ttl(signald, connect):
    s = signald()
    a = connect(s)
    inv = invite(a, ttl=30)
    assert abs(inv["expires"] - (time.time() + 30)) <= 3


def test_invite_ttl_limited_by_invite_max_ttl(signald, connect):
    s = signald("--invite-ttl", "60", "--invite-max-ttl", "100")
    a = connect(s)
    assert abs(invite(a, ttl=100)["expires"] - (time.time() + 100)) <= 3
    a.send({"type": "invite_create", "ttl": 101})
    a.expect_error("bad-value", ref="invite_create")
    a.send({"type": "invite_create", "ttl": 9})
    a.expect_error("bad-value", ref="invite_create")


def test_invite_join_and_accept(signald, connect):
    s = signald()
    a = connect(s, name="Alice")
    b = connect(s, name="Bob")
    code = invite(a)["code"]
    call, incoming, ringing = ring(a, b, code)
    assert isinstance(call, str) and call
    assert incoming["peer"] == {"name": "Bob", "client": "test/1"}
    assert incoming["code"] == code
    assert ringing["peer"] == {"name": "Alice", "client": "test/1"}
    a.send({"type": "accept", "call": call})
    ma = a.expect("matched")
    mb = b.expect("matched")
    assert ma["call"] == mb["call"] == call
    assert ma["kind"] == mb["kind"] == "invite"
    assert ma["role"] == "offerer" and mb["role"] == "answerer"  # the inviter offers
    assert ma["peer"]["name"] == "Bob" and mb["peer"]["name"] == "Alice"
    assert ma["common_interests"] == [] and mb["common_interests"] == []
    # the call is active: signals flow
    b.send({"type": "signal", "call": call, "ice": {"candidate": "c", "sdpMLineIndex": 0}})
    assert a.expect("signal")["call"] == call


def test_invite_is_single_use(signald, connect):
    s = signald()
    a, b, c = connect(s, name="A"), connect(s, name="B"), connect(s, name="C")
    code = invite(a)["code"]
    call, _, _ = ring(a, b, code)
    c.send({"type": "invite_join", "code": code})
    err = c.expect("error")
    # the doc does not say which of the two a consumed invite gives
    assert err["code"] in ("invite-expired", "invite-not-found"), err
    a.expect_nothing(0.3)


def test_invite_daemon_joiner_offers(signald, connect):
    s = signald()
    a = connect(s, name="Web", client="web/0.1")
    b = connect(s, name="Desk", client="vchatd/0.1")
    call, _, _ = ring(a, b, invite(a)["code"])
    a.send({"type": "accept", "call": call})
    assert a.expect("matched")["role"] == "answerer"
    assert b.expect("matched")["role"] == "offerer"


def test_invite_reject(signald, connect):
    s = signald()
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    call, _, _ = ring(a, b, invite(a)["code"])
    a.send({"type": "reject", "call": call})
    b.expect("peer_left", call=call, reason="rejected")
    a.expect("call_ended", call=call, reason="rejected")
    # both idle again
    a.send({"type": "accept", "call": call})
    a.expect_error("unknown-call", ref="accept")
    b.ping_ok()


def test_joiner_cannot_accept(signald, connect):
    s = signald()
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    call, _, _ = ring(a, b, invite(a)["code"])
    b.send({"type": "accept", "call": call})
    err = b.expect("error")
    assert err["code"] in ("bad-state", "unknown-call"), err
    a.expect_nothing(0.3)


def test_joiner_leaves_while_ringing(signald, connect):
    s = signald()
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    call, _, _ = ring(a, b, invite(a)["code"])
    b.send({"type": "leave", "call": call})
    b.expect("call_ended", call=call, reason="hangup")
    a.expect("peer_left", call=call, reason="hangup")


def test_invite_expiry(signald, connect):
    # invite_create's own ttl has a minimum of 10 s; the server default is
    # set to 1 s instead.
    s = signald("--invite-ttl", "1")
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    inv = invite(a)
    code = inv["code"]
    assert inv["expires"] <= time.time() + 2
    a.expect("invite_expired", code=code, timeout=4)
    b.send({"type": "invite_join", "code": code})
    b.expect_error("invite-expired", ref="invite_join")
    a.expect_nothing(0.2)


def test_invite_cancel(signald, connect):
    s = signald()
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    code = invite(a)["code"]
    a.send({"type": "invite_cancel", "code": code})
    a.expect("invite_cancelled", code=code)
    b.send({"type": "invite_join", "code": code})
    b.expect_error("invite-expired", ref="invite_join")
    a.expect_nothing(0.3)


def test_cannot_cancel_someone_elses_invite(signald, connect):
    s = signald()
    a, b, c = connect(s, name="Alice"), connect(s, name="Bob"), connect(s, name="Carol")
    code = invite(a)["code"]
    b.send({"type": "invite_cancel", "code": code})
    assert b.expect("error")["code"] == "invite-not-found"
    a.expect_nothing(0.2)
    ring(a, c, code)  # still open


def test_invite_stays_open_when_session_ends(signald, connect):
    """The owner is away: joining says so and does not use the invite up."""
    s = signald()
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    code = invite(a)["code"]
    a.close(1000)
    time.sleep(0.2)
    for _ in range(2):
        b.send({"type": "invite_join", "code": code})
        err = b.expect_error("inviter-away", ref="invite_join")
        assert "not connected" in err["message"]


def test_wrong_code(signald, connect):
    s = signald()
    a, b = connect(s), connect(s)
    invite(a)
    b.send({"type": "invite_join", "code": "aaaa-bbbb-cccc-dddd"})
    b.expect_error("invite-not-found", ref="invite_join")
    b.send({"type": "invite_join", "code": "vchat://join/2222-3333-4444-5555"})
    b.expect_error("invite-not-found", ref="invite_join")
    a.expect_nothing(0.2)
    b.ping_ok()


def test_own_invite(signald, connect):
    s = signald()
    a = connect(s)
    code = invite(a)["code"]
    a.send({"type": "invite_join", "code": code})
    a.expect_error("own-invite", ref="invite_join")
    a.expect_nothing(0.2)  # no incoming


def test_join_attempts_limit(signald, connect):
    s = signald("--join-attempts", "3")
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    code = invite(a)["code"]
    for wrong in ("aaaa-aaaa-aaaa-aaaa", "bbbb-bbbb-bbbb-bbbb", "cccc-cccc-cccc-cccc"):
        b.send({"type": "invite_join", "code": wrong})
        b.expect_error("invite-not-found", ref="invite_join")
    b.send({"type": "invite_join", "code": code})
    b.expect_error("too-many-attempts", ref="invite_join")
    a.expect_nothing(0.3)


def test_join_attempts_are_per_address(signald, connect):
    s = signald("--join-attempts", "3")
    a = connect(s, name="Alice")
    b1, b2 = connect(s, name="B1"), connect(s, name="B2")
    code = invite(a)["code"]
    for c, wrong in ((b1, "aaaa-aaaa-aaaa-aaaa"), (b2, "bbbb-bbbb-bbbb-bbbb"),
                     (b1, "cccc-cccc-cccc-cccc")):
        c.send({"type": "invite_join", "code": wrong})
        c.expect_error("invite-not-found", ref="invite_join")
    # a fresh session from the same address is limited too
    b3 = connect(s, name="B3")
    b3.send({"type": "invite_join", "code": code})
    b3.expect_error("too-many-attempts", ref="invite_join")
    a.expect_nothing(0.2)
    # another address is not, and the invite was not used up
    other = connect(s, name="Other", source="127.0.0.2")
    other.send({"type": "invite_join", "code": code})
    other.expect("ringing")
    assert a.expect("incoming")["peer"]["name"] == "Other"


@pytest.mark.parametrize("form", ["link", "web_link", "upper", "no-dashes", "upper-link"])
def test_join_by_link_or_variant(signald, connect, form):
    s = signald("--public-url", PUBLIC)
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    inv = invite(a)
    code = inv["code"]
    given = {
        "link": inv["link"],
        "web_link": inv["web_link"],
        "upper": code.upper(),
        "no-dashes": code.replace("-", ""),
        "upper-link": "vchat://join/" + code.upper(),
    }[form]
    b.send({"type": "invite_join", "code": given})
    b.expect("ringing")
    incoming = a.expect("incoming")
    assert incoming["peer"]["name"] == "Bob"
    assert incoming["code"].lower() == code.lower()


def test_ring_timeout(signald, connect):
    s = signald("--ring-timeout", "1")
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    code = invite(a)["code"]
    t0 = time.monotonic()
    call, _, _ = ring(a, b, code)
    a.expect("peer_left", call=call, reason="timeout", timeout=4)
    b.expect("peer_left", call=call, reason="timeout", timeout=2)
    assert time.monotonic() - t0 >= 0.8
    a.send({"type": "accept", "call": call})
    a.expect_error("unknown-call", ref="accept")


# Reclaiming: an invite outlives its session, and its claim makes a new
# session its owner.

def reclaim(c, inv):
    c.send({"type": "invite_reclaim", "code": inv["code"], "claim": inv["claim"]})
    got = c.expect("invite")
    for key in ("code", "link", "web_link", "expires", "claim"):
        assert got[key] == inv[key], key
    return got


def test_invite_claim_is_a_fresh_secret(signald, connect):
    s = signald()
    a = connect(s)
    claims = {invite(a)["claim"] for _ in range(4)}
    assert len(claims) == 4
    for claim in claims:
        assert isinstance(claim, str) and len(claim) * 4 >= 128, claim


def test_reclaim_after_socket_closes(signald, connect):
    """A crash: the socket drops, a new process gets a new session and takes
    the invite back while the old session is still in its grace time; the
    friend who joins rings the new session."""
    s = signald("--grace", "30")
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    inv = invite(a, ttl=120)
    a.kill()
    a2 = connect(s, name="Alice again")
    reclaim(a2, inv)
    call, incoming, ringing = ring(a2, b, inv["code"])
    assert ringing["peer"]["name"] == "Alice again"
    assert incoming["code"] == inv["code"]
    a2.send({"type": "accept", "call": call})
    a2.expect("matched", call=call)
    b.expect("matched", call=call)


def test_reclaim_after_grace_and_join_while_away(signald, connect):
    s = signald("--grace", "1")
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    inv = invite(a, ttl=120)
    a.kill()
    time.sleep(1.6)
    b.send({"type": "invite_join", "code": inv["code"]})
    b.expect_error("inviter-away", ref="invite_join")
    a2 = connect(s, name="Alice")
    reclaim(a2, inv)
    # the reclaimed invite is a normal open invite: the owner can cancel it
    ring(a2, b, inv["code"])


def test_reclaim_cancel_and_expiry(signald, connect):
    s = signald("--invite-ttl", "1")
    a = connect(s)
    inv = invite(a)
    a.close(1000)
    a2 = connect(s)
    reclaim(a2, inv)
    a2.expect("invite_expired", code=inv["code"], timeout=4)
    a2.send({"type": "invite_reclaim", "code": inv["code"], "claim": inv["claim"]})
    a2.expect_error("invite-expired", ref="invite_reclaim")
    inv2 = invite(a2, ttl=60)
    a2.send({"type": "invite_cancel", "code": inv2["code"]})
    a2.expect("invite_cancelled", code=inv2["code"])
    a2.send({"type": "invite_reclaim", "code": inv2["code"], "claim": inv2["claim"]})
    a2.expect_error("invite-expired", ref="invite_reclaim")


def test_reclaim_wrong_claim_or_code(signald, connect):
    s = signald("--join-attempts", "3")
    a, b = connect(s, name="Alice"), connect(s, name="Mallory")
    inv = invite(a)
    b.send({"type": "invite_reclaim", "code": inv["code"], "claim": "0" * 32})
    b.expect_error("invite-not-found", ref="invite_reclaim")
    b.send({"type": "invite_reclaim", "code": "aaaa-bbbb-cccc-dddd", "claim": inv["claim"]})
    b.expect_error("invite-not-found", ref="invite_reclaim")
    b.send({"type": "invite_reclaim", "code": inv["code"], "claim": inv["claim"][:-1]})
    b.expect_error("invite-not-found", ref="invite_reclaim")
    # wrong claims count like wrong codes: now even the right one is refused
    b.send({"type": "invite_reclaim", "code": inv["code"], "claim": inv["claim"]})
    b.expect_error("too-many-attempts", ref="invite_reclaim")
    b.send({"type": "invite_join", "code": inv["code"]})
    b.expect_error("too-many-attempts", ref="invite_join")
    # Alice still owns it: the invite rings her
    a.expect_nothing(0.2)
    other = connect(s, name="Other", source="127.0.0.2")
    ring(a, other, inv["code"])


def test_reclaim_while_old_session_connected(signald, connect):
    """The old owner loses the invite and is told so with invite_cancelled;
    it can no longer cancel it, and joiners ring the new owner."""
    s = signald()
    a, a2, b = connect(s, name="Old"), connect(s, name="New"), connect(s, name="Bob")
    inv = invite(a)
    reclaim(a2, inv)
    a.expect("invite_cancelled", code=inv["code"])
    a.send({"type": "invite_cancel", "code": inv["code"]})
    a.expect_error("invite-not-found", ref="invite_cancel")
    # reclaiming one's own invite again just repeats the answer
    reclaim(a2, inv)
    a2.expect_nothing(0.2)
    ring(a2, b, inv["code"])
    a.expect_nothing(0.2)
