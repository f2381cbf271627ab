"""ICE servers: STUN in welcome; TURN (REST or static credentials) only
with a call, in matched and incoming."""
import base64
import hashlib
import hmac
import time

from vtest import invite, pair

TURN = "turn:127.0.0.1:3478?transport=udp"
TURN_TCP = "turn:127.0.0.1:3478?transport=tcp"
STUN1 = "stun:stun.example.org:3478"
STUN2 = "stun:127.0.0.1:3478"


def entries_with(welcome, url):
    return [srv for srv in welcome["ice_servers"] if url in srv["urls"]]


def check_rest(srv, secret, session, ttl):
    user = srv["username"]
    expiry, _, who = user.partition(":")
    assert who == session, user
    assert expiry.isdigit(), user
    assert abs(int(expiry) - (time.time() + ttl)) <= 10, f"expiry {expiry}"
    want = base64.b64encode(
        hmac.new(secret.encode(), user.encode(), hashlib.sha1).digest()).decode()
    assert srv["credential"] == want


def test_turn_rest_credentials(signald, connect):
    secret = "s3cr3t-shared-with-coturn"
    s = signald("--turn-secret", secret, "--turn", TURN, "--turn", TURN_TCP,
                "--turn-ttl", "3600", "--stun", STUN1, "--stun", STUN2)
    a, b = connect(s, name="Alice"), connect(s, name="Bob")
    _, ma, mb = pair(a, b)
    for c, m in ((a, ma), (b, mb)):
        for url in (TURN, TURN_TCP):
            found = entries_with(m, url)
            assert len(found) == 1, f"{url} not (once) in {m['ice_servers']}"
            check_rest(found[0], secret, c.session, 3600)
        for url in (STUN1, STUN2):
            found = entries_with(m, url)
            assert len(found) == 1, f"{url} not (once) in {m['ice_servers']}"
            assert "username" not in found[0] and "credential" not in found[0], found[0]
        assert all(u.startswith(("stun:", "stuns:", "turn:", "turns:"))
                   for srv in m["ice_servers"] for u in srv["urls"])


def test_no_turn_for_a_mere_hello(signald, connect):
    """The reported problem: TURN credentials for anyone who says hello made
    the server an open relay."""
    s = signald("--turn-secret", "x", "--turn", TURN, "--stun", STUN1,
                "--turn-username", "u", "--turn-password", "p")
    w = connect(s).welcome
    assert entries_with(w, STUN1)
    assert not entries_with(w, TURN), w["ice_servers"]
    assert not any("username" in srv for srv in w["ice_servers"])


def test_turn_with_incoming_and_invite_calls(signald, connect):
    s = signald("--turn-secret", "x", "--turn", TURN)
    host, guest = connect(s), connect(s)
    code = invite(host)["code"]
    guest.send({"type": "invite_join", "code": code})
    guest.expect("ringing")
    inc = host.expect("incoming")
    check_rest(entries_with(inc, TURN)[0], "x", host.session, 600)
    host.send({"type": "accept", "call": inc["call"]})
    for c in (host, guest):
        m = c.expect("matched")
        check_rest(entries_with(m, TURN)[0], "x", c.session, 600)


def test_resumed_in_a_call_gets_turn(signald, connect):
    s = signald("--turn-secret", "x", "--turn", TURN, "--grace", "5")
    a, b = connect(s), connect(s)
    pair(a, b)
    b.drop()
    b2 = connect(s, resume=b.resume)
    assert b2.welcome["resumed"] is True
    check_rest(entries_with(b2.welcome, TURN)[0], "x", b.session, 600)


def test_turn_ttl_default_is_ten_minutes(signald, connect):
    s = signald("--turn-secret", "x", "--turn", TURN)
    _, m, _ = pair(connect(s), connect(s))
    srv = entries_with(m, TURN)[0]
    expiry = int(srv["username"].split(":", 1)[0])
    assert abs(expiry - (time.time() + 600)) <= 10


def test_turn_static_credentials(signald, connect):
    s = signald("--turn", TURN, "--turn-username", "vchat", "--turn-password", "pw123",
                "--stun", STUN1)
    _, m, _ = pair(connect(s), connect(s))
    srv = entries_with(m, TURN)[0]
    assert srv["username"] == "vchat" and srv["credential"] == "pw123"
    stun = entries_with(m, STUN1)[0]
    assert "username" not in stun and "credential" not in stun


def test_turn_without_credentials(signald, connect):
    s = signald("--turn", TURN)
    _, m, _ = pair(connect(s), connect(s))
    srv = entries_with(m, TURN)[0]
    assert "username" not in srv and "credential" not in srv


def test_no_ice_servers_configured(signald, connect):
    s = signald()
    _, m, _ = pair(connect(s), connect(s))
    assert m["ice_servers"] == []
