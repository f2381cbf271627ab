"""Several vchat-signald sharing one real Redis (--redis): invites, their
tombstones and wrong-code counts are shared, so an invite made on one
server is reclaimed and joined on another, also after the first one died;
a Redis that goes away is a clear error, never a hang."""
import os
import subprocess
import time


from vtest import CODE_RE, assert_sentence


def make_invite(client, **fields):
    client.send({"type": "invite_create", **fields})
    inv = client.expect("invite")
    assert CODE_RE.match(inv["code"])
    return inv


def reclaim(client, inv):
    client.send({"type": "invite_reclaim", "code": inv["code"], "claim": inv["claim"], "id": "rc"})
    got = client.expect("invite")
    assert got["code"] == inv["code"] and got["claim"] == inv["claim"]
    assert got["expires"] == inv["expires"] and got["id"] == "rc"
    return got


def ring_and_accept(inviter, joiner, code):
    joiner.send({"type": "invite_join", "code": code, "id": "j"})
    ringing = joiner.expect("ringing", id="j")
    incoming = inviter.expect("incoming", code=code)
    assert ringing["call"] == incoming["call"]
    inviter.send({"type": "accept", "call": incoming["call"]})
    mi = inviter.expect("matched", kind="invite")
    mj = joiner.expect("matched", kind="invite")
    assert mi["call"] == mj["call"] == incoming["call"]
    return incoming["call"]


def test_invite_made_on_one_server_is_reclaimed_and_joined_on_another(cluster, connect):
    s1, s2 = cluster(2)
    a = connect(s1, name="Alice")
    inv = make_invite(a, ttl=300)
    a.close()  # a clean close: the session ends, the invite waits for its owner
    b = connect(s2, name="Bob")
    b.send({"type": "invite_join", "code": inv["code"]})
    b.expect_error("inviter-away", ref="invite_join")  # not used up
    a2 = connect(s2, name="Alice")
    reclaim(a2, inv)
    call = ring_and_accept(a2, b, inv["code"])
    # the call works: offer and answer relayed
    a2.send({"type": "signal", "call": call, "sdp": {"type": "offer", "sdp": "v=0\r\n"}})
    assert b.expect("signal", call=call)["sdp"]["type"] == "offer"
    # used up, everywhere
    c = connect(s1)
    c.send({"type": "invite_join", "code": inv["code"]})
    c.expect_error("invite-expired", ref="invite_join")


def test_invite_outlives_a_killed_server(cluster, connect):
    s1, s2 = cluster(2)
    a = connect(s1)
    inv = make_invite(a)
    s1.proc.kill()  # no goodbye: the store still has the invite
    s1.proc.wait(5)
    s1.stopped = True
    a2 = connect(s2)
    reclaim(a2, inv)
    b = connect(s2)
    ring_and_accept(a2, b, inv["code"])


def test_reclaim_tells_the_old_owner_on_its_server(cluster, connect):
    s1, s2 = cluster(2)
    a = connect(s1)
    inv = make_invite(a)
    a2 = connect(s2)
    reclaim(a2, inv)
    # the old owner, on the other server, is told through its server
    a.expect("invite_cancelled", code=inv["code"])
    a.send({"type": "invite_cancel", "code": inv["code"]})
    a.expect_error("invite-not-found", ref="invite_cancel")
    # the new owner may cancel it
    a2.send({"type": "invite_cancel", "code": inv["code"], "id": 5})
    a2.expect("invite_cancelled", code=inv["code"], id=5)


def test_cancelled_on_one_server_is_expired_on_the_other(cluster, connect):
    s1, s2 = cluster(2)
    a = connect(s1)
    inv = make_invite(a)
    a.send({"type": "invite_cancel", "code": inv["code"]})
    a.expect("invite_cancelled", code=inv["code"])
    b = connect(s2)
    b.send({"type": "invite_join", "code": inv["code"].upper().replace("-", "")})
    b.expect_error("invite-expired", ref="invite_join")
    b.send({"type": "invite_reclaim", "code": inv["code"], "claim": inv["claim"]})
    b.expect_error("invite-expired", ref="invite_reclaim")


def test_wrong_codes_count_across_servers(cluster, connect):
    s1, s2 = cluster(2, "--join-attempts", "3")
    a, b = connect(s1), connect(s2)
    for i, c in enumerate((a, b, a)):
        c.send({"type": "invite_join", "code": f"aaaa-bbbb-cccc-ddd{'abc'[i]}"})
        c.expect_error("invite-not-found", ref="invite_join")
    # The answer waits for the count in Redis: the fourth try, at once, on
    # either server, is refused before looking
    b.send({"type": "invite_join", "code": "aaaa-bbbb-cccc-dddd"})
    b.expect_error("too-many-attempts", ref="invite_join")
    a.send({"type": "invite_reclaim", "code": "aaaa-bbbb-cccc-dddd", "claim": "x" * 32})
    a.expect_error("too-many-attempts", ref="invite_reclaim")


def test_invite_expires_by_its_ttl(cluster, connect, redis):
    s1, s2 = cluster(2)
    a = connect(s1)
    inv = make_invite(a, ttl=10)
    # Redis forgets it by itself (a TTL on the key, no sweep)
    ttl_ms = int(redis.cli("PTTL", f"vchat:inv:{inv['code']}"))
    assert 8000 < ttl_ms <= 10000, ttl_ms
    a.expect("invite_expired", timeout=13, code=inv["code"])
    assert redis.cli("EXISTS", f"vchat:inv:{inv['code']}") == "0"
    b = connect(s2)
    b.send({"type": "invite_join", "code": inv["code"]})
    b.expect_error("invite-expired", ref="invite_join")


def test_many_joiners_at_once_one_rings(cluster, connect):
    """Joins race through the store: exactly one takes the invite."""
    (s1,) = cluster(1)
    a = connect(s1)
    inv = make_invite(a)
    joiners = [connect(s1) for _ in range(8)]
    for j in joiners:
        j.send({"type": "invite_join", "code": inv["code"], "id": "race"})
    answers = [j.recv(10) for j in joiners]
    ringing = [m for m in answers if m["type"] == "ringing"]
    assert len(ringing) == 1, answers
    for m in answers:
        assert m["id"] == "race"
        if m["type"] == "error":
            assert m["code"] in ("invite-expired", "busy"), m
    a.expect("incoming", code=inv["code"])
    a.expect_nothing(0.5)


def test_redis_down_is_a_clear_error_and_comes_back(cluster, connect, redis):
    (s1,) = cluster(1)
    a = connect(s1)
    make_invite(a)
    redis.stop()
    t0 = time.monotonic()
    a.send({"type": "invite_create", "id": "down"})
    err = a.expect("error", timeout=8)
    assert err["code"] == "internal" and err["ref"] == "invite_create" and err["id"] == "down"
    assert_sentence(err["message"])
    assert time.monotonic() - t0 < 5
    a.ping_ok()  # the server goes on
    a.send({"type": "invite_join", "code": "aaaa-bbbb-cccc-dddd"})
    assert a.expect("error", timeout=8)["code"] == "internal"
    redis.start()
    deadline = time.monotonic() + 10
    while True:
        a.send({"type": "invite_create"})
        m = a.recv(8)
        if m["type"] == "invite":
            break
        assert m["type"] == "error" and m["code"] == "internal", m
        assert time.monotonic() < deadline, "the server did not connect to Redis again"
        time.sleep(0.5)
    assert "not reachable" in s1.log


def test_stuck_redis_does_not_block_the_server(cluster, connect, redis):
    """A Redis that takes the connection but never answers (SIGSTOP)."""
    (s1,) = cluster(1)
    a = connect(s1)
    make_invite(a)
    os.kill(redis.proc.pid, 19)  # SIGSTOP
    try:
        t0 = time.monotonic()
        a.send({"type": "invite_create"})
        b = connect(s1)  # new sessions still come in meanwhile
        b.ping_ok()
        err = a.expect("error", timeout=8)
        assert err["code"] == "internal"
        assert time.monotonic() - t0 < 5
    finally:
        os.kill(redis.proc.pid, 18)  # SIGCONT


def test_bad_redis_url_or_unbuilt_support_stops_at_start(redis):
    binary = os.environ["VCHAT_SIGNALD"]
    r = subprocess.run([binary, "--port", "0", "--redis", "http://example.org"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert "--redis needs redis://" in r.stderr


def test_many_clients_race_across_three_servers(cluster, connect):
    """Twelve invites on three servers; each is joined at once by six
    people spread over the three servers: each rings exactly once, and every
    other joiner hears why not."""
    servers = cluster(3, "--max-sessions-per-address", "256", "--max-pending-per-address", "256",
                      "--join-attempts", "1000")
    owners = [connect(servers[i % 3]) for i in range(12)]
    invites = [make_invite(o) for o in owners]
    joiners = [[connect(servers[(i + k) % 3]) for k in range(6)] for i in range(12)]
    for i, group in enumerate(joiners):
        for k, j in enumerate(group):
            j.send({"type": "invite_join", "code": invites[i]["code"], "id": f"{i}-{k}"})
    for i, group in enumerate(joiners):
        answers = [j.recv(15) for j in group]
        rung = [m for m in answers if m["type"] == "ringing"]
        assert len(rung) == 1, (i, answers)
        for k, m in enumerate(answers):
            assert m["id"] == f"{i}-{k}"
            if m["type"] == "error":
                # taken by another joiner, or the owner is being rung already
                assert m["code"] in ("invite-expired", "busy"), m
        incoming = owners[i].expect("incoming", timeout=10, code=invites[i]["code"])
        assert incoming["call"] == rung[0]["call"]
    for o in owners:
        o.expect_nothing(0.2)
