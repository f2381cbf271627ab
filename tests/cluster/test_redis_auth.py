"""--redis with a password and a database number, against a real
redis-server started with requirepass: redis://:PASSWORD@HOST:PORT/DB,
redis://USER:PASSWORD@..., unix:///PATH?password=...&db=N. AUTH and SELECT
are sent on every connection, also after Redis restarts; a wrong or
missing password stops the server at start with a sentence saying what to
do, and never shows the password."""
import os
import socket
import subprocess
import time
import urllib.parse

from test_shared_invites import make_invite, reclaim

PASSWORD = "s3cret pass&word/#?"  # characters a URL must percent-encode


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quoted(pw=PASSWORD):
    return urllib.parse.quote(pw, safe="")


def start_fails(*args):
    binary = os.environ["VCHAT_SIGNALD"]
    r = subprocess.run([binary, "--port", "0", *args], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "listening" not in r.stdout
    return r.stderr


def invite_keys(redis, db, code):
    return redis.cli("EXISTS", f"vchat:inv:{code}", db=db)


def test_password_and_db_in_a_tcp_url(redis_factory, signald, connect):
    port = free_port()
    redis = redis_factory(password=PASSWORD, port=port)
    url = f"redis://:{quoted()}@127.0.0.1:{port}/3"
    s1, s2 = signald("--redis", url), signald("--redis", url)
    a, b = connect(s1), connect(s2)
    inv = make_invite(a)
    # in database 3, not 0
    assert invite_keys(redis, 3, inv["code"]) == "1"
    assert invite_keys(redis, 0, inv["code"]) == "0"
    # shared: reclaimed on the other server
    reclaim(b, inv)
    a.expect("invite_cancelled", code=inv["code"])
    assert PASSWORD not in s1.log and quoted() not in s1.log


def test_user_and_password(redis_factory, signald, connect):
    port = free_port()
    redis = redis_factory(password=PASSWORD, port=port)
    # Redis 6 ACLs: the password of requirepass is the user "default"'s
    s1 = signald("--redis", f"redis://default:{quoted()}@127.0.0.1:{port}")
    inv = make_invite(connect(s1))
    assert invite_keys(redis, 0, inv["code"]) == "1"


def test_password_and_db_in_a_unix_url(redis_factory, signald, connect):
    redis = redis_factory(password=PASSWORD)
    url = f"unix://{redis.path}?password={quoted()}&db=5"
    s1, s2 = signald("--redis", url), signald("--redis", url)
    a, b = connect(s1), connect(s2)
    inv = make_invite(a)
    assert invite_keys(redis, 5, inv["code"]) == "1"
    # a call across the two servers goes through pub/sub on the second,
    # authenticated connection
    b.send({"type": "invite_join", "code": inv["code"], "id": "j"})
    b.expect("ringing", id="j")
    a.expect("incoming", code=inv["code"])


def test_auth_again_after_redis_restarts(redis_factory, signald, connect):
    redis = redis_factory(password=PASSWORD)
    (s1,) = [signald("--redis", f"unix://{redis.path}?password={quoted()}&db=2")]
    a = connect(s1)
    make_invite(a)
    redis.stop()
    redis.start()
    deadline = time.monotonic() + 10
    while True:
        a.send({"type": "invite_create"})
        m = a.recv(8)
        if m["type"] == "invite":
            break
        assert m["type"] == "error" and m["code"] == "internal", m
        assert time.monotonic() < deadline, "no invite after Redis came back"
        time.sleep(0.5)
    assert invite_keys(redis, 2, m["code"]) == "1"
    assert "refused the password" not in s1.log


def test_wrong_password_stops_at_start(redis_factory):
    port = free_port()
    redis = redis_factory(password=PASSWORD, port=port)
    err = start_fails("--redis", f"redis://:wrong-one@127.0.0.1:{port}/1")
    assert "refused the password" in err and "requirepass" in err, err
    assert "wrong-one" not in err
    err = start_fails("--redis", f"unix://{redis.path}?password=wrong-two")
    assert "refused the password" in err, err
    assert "wrong-two" not in err


def test_missing_password_stops_at_start(redis_factory):
    redis = redis_factory(password=PASSWORD)
    err = start_fails("--redis", f"unix://{redis.path}")
    assert "needs a password" in err and "redis://:PASSWORD@" in err, err


def test_database_out_of_range_stops_at_start(redis_factory):
    redis = redis_factory()
    err = start_fails("--redis", f"unix://{redis.path}?db=999")
    assert "no database 999" in err, err


def test_bad_urls_are_refused(redis_factory):
    redis_factory()
    for url in ("redis://h:1/x", "redis://h:1/1/2", "unix:///p?db=-1", "unix://host/p",
                "redis://user@h:1"):
        err = start_fails("--redis", url)
        assert "--redis needs redis://" in err, (url, err)
    err = start_fails("--redis", "redis://:topsecret@h:1/x")
    assert "topsecret" not in err and "--redis needs" in err
