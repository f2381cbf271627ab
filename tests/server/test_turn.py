"""ICE servers in welcome: STUN URLs, TURN REST credentials, static TURN."""
import base64
import hashlib
import hmac
import time

TURN = "turn:127.0.0.1:3478?transport=udp"
TURN_TCP = "turn:127.0.0.1:3478?transport=tcp"
STUN1 = "stun:stun.example.org:3478"
STUN2 = "stun:127.0.0.1:3478"


def entries_with(welcome, url):
    return [srv for srv in welcome["ice_servers"] if url in srv["urls"]]


def test_turn_rest_credentials(signald, connect):
    secret = "s3cr3t-shared-with-coturn"
    s = signald("--turn-secret", secret, "--turn", TURN, "--turn", TURN_TCP,
                "--turn-ttl", "3600", "--stun", STUN1, "--stun", STUN2)
    for name in ("Alice", "Bob"):
        c = connect(s, name=name)
        w = c.welcome
        now = time.time()
        for url in (TURN, TURN_TCP):
            found = entries_with(w, url)
            assert len(found) == 1, f"{url} not (once) in {w['ice_servers']}"
            srv = found[0]
            user = srv["username"]
            expiry, _, session = user.partition(":")
            assert session == w["session"], user
            assert expiry.isdigit(), user
            assert abs(int(expiry) - (now + 3600)) <= 10, f"expiry {expiry} vs now {now:.0f}"
            want = base64.b64encode(
                hmac.new(secret.encode(), user.encode(), hashlib.sha1).digest()).decode()
            assert srv["credential"] == want
        for url in (STUN1, STUN2):
            found = entries_with(w, url)
            assert len(found) == 1, f"{url} not (once) in {w['ice_servers']}"
            assert "username" not in found[0] and "credential" not in found[0], found[0]
        assert all(u.startswith(("stun:", "stuns:", "turn:", "turns:"))
                   for srv in w["ice_servers"] for u in srv["urls"])


def test_turn_ttl_default_is_a_day(signald, connect):
    s = signald("--turn-secret", "x", "--turn", TURN)
    w = connect(s).welcome
    srv = entries_with(w, TURN)[0]
    expiry = int(srv["username"].split(":", 1)[0])
    assert abs(expiry - (time.time() + 86400)) <= 10


def test_turn_static_credentials(signald, connect):
    s = signald("--turn", TURN, "--turn-username", "vchat", "--turn-password", "pw123",
                "--stun", STUN1)
    w = connect(s).welcome
    srv = entries_with(w, TURN)[0]
    assert srv["username"] == "vchat" and srv["credential"] == "pw123"
    stun = entries_with(w, STUN1)[0]
    assert "username" not in stun and "credential" not in stun


def test_turn_without_credentials(signald, connect):
    s = signald("--turn", TURN)
    w = connect(s).welcome
    srv = entries_with(w, TURN)[0]
    assert "username" not in srv and "credential" not in srv


def test_no_ice_servers_configured(signald, connect):
    w = connect(signald()).welcome
    assert w["ice_servers"] == [] or all(
        not u.startswith("turn") for srv in w["ice_servers"] for u in srv["urls"])
