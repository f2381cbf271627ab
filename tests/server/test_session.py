"""Sessions: hello / welcome, errors before hello, versions, state errors."""
from vtest import pair


def test_welcome_fields(signald, connect):
    s = signald("--max-frame", "4096", "--max-rate", "7", "--grace", "3")
    a = connect(s, name="Alice")
    b = connect(s, name="Bob")
    w = a.welcome
    assert isinstance(w["session"], str) and w["session"]
    assert isinstance(w["resume"], str) and len(w["resume"]) >= 16
    assert w["resume"] != w["session"]
    assert w["resumed"] is False
    assert isinstance(w["ice_servers"], list)
    for srv in w["ice_servers"]:
        assert isinstance(srv["urls"], list) and srv["urls"]
        assert all(isinstance(u, str) for u in srv["urls"])
    assert w["limits"] == {"max_frame": 4096, "max_rate": 7, "grace": 3}
    # two sessions never share ids or tokens
    assert b.welcome["session"] != w["session"]
    assert b.welcome["resume"] != w["resume"]


def test_default_limits_in_welcome(signald, connect):
    a = connect(signald())
    assert a.welcome["limits"] == {"max_frame": 65536, "max_rate": 20, "grace": 30}


def test_messages_before_hello_are_not_welcomed(signald, connect):
    s = signald()
    c = connect(s, hello=False)
    for msg in ({"type": "queue"}, {"type": "invite_create"},
                {"type": "invite_join", "code": "abcd-efgh-ijkl-mnop"},
                {"type": "leave"}):
        c.send(msg)
        c.expect_error("not-welcomed", ref=msg["type"])
    # ping and pong are allowed before hello
    c.send({"type": "pong"})
    c.ping_ok()
    # and the session can still start
    c.send({"type": "hello", "version": 1, "client": "test/1"})
    w = c.expect("welcome")
    assert w["resumed"] is False and w["session"]


def test_error_ref_names_the_message_type(signald, connect):
    c = connect(signald(), hello=False)
    c.send({"type": "queue"})
    err = c.expect_error("not-welcomed")
    assert err.get("ref") == "queue", f"error for a known type should carry ref: {err}"


def test_bad_version_closes_1002(signald, connect):
    s = signald()
    c = connect(s, hello=False)
    c.send({"type": "hello", "version": 2, "client": "test/1"})
    msgs, code = c.read_until_close()
    errors = [m for m in msgs if m.get("type") == "error"]
    assert errors and errors[0]["code"] == "bad-version", msgs
    assert "welcome" not in [m.get("type") for m in msgs]
    from vtest import assert_sentence
    assert_sentence(errors[0].get("message"))
    assert code == 1002


def test_hello_validation(signald, connect):
    s = signald()
    c = connect(s, hello=False)
    c.send({"type": "hello", "version": 1})
    c.expect_error("missing-field", ref="hello")
    c.send({"type": "hello", "version": 1, "client": "x" * 65})
    c.expect_error("too-long", ref="hello")
    c.send({"type": "hello", "version": 1, "client": "test/1", "name": "n" * 65})
    c.expect_error("too-long", ref="hello")
    c.send({"type": "hello", "version": 1, "client": "test/1", "resume": "r" * 129})
    c.expect_error("too-long", ref="hello")
    c.send({"type": "hello", "version": 1, "client": "test/1", "name": 7})
    c.expect_error("bad-field", ref="hello")
    # none of those had an effect: hello still works
    c.send({"type": "hello", "version": 1, "client": "test/1", "name": "n" * 64})
    c.expect("welcome", resumed=False)


def test_unknown_resume_token_gives_new_session(signald, connect):
    s = signald()
    c = connect(s, resume="no-such-token")
    assert c.welcome["resumed"] is False
    assert c.welcome["session"]


def test_second_hello_is_bad_state(signald, connect):
    c = connect(signald())
    c.send({"type": "hello", "version": 1, "client": "test/1"})
    c.expect_error("bad-state", ref="hello")
    c.ping_ok()


def test_ping_pong(signald, connect):
    c = connect(signald())
    c.ping_ok()
    c.send({"type": "pong"})  # an unsolicited pong is harmless
    c.expect_nothing(0.3)
    c.ping_ok()


def test_bad_state_in_call(signald, connect):
    s = signald()
    a, b, c = connect(s, name="A"), connect(s, name="B"), connect(s, name="C")
    call, _, _ = pair(a, b)
    c.send({"type": "invite_create"})
    code = c.expect("invite")["code"]
    a.send({"type": "queue"})
    a.expect_error("bad-state", ref="queue")
    a.send({"type": "invite_join", "code": code})
    a.expect_error("bad-state", ref="invite_join")
    a.send({"type": "accept", "call": call})
    a.expect_error("bad-state", ref="accept")
    # none of it had an effect: nobody was rung, the call still works
    c.expect_nothing(0.3)
    b.expect_nothing(0.1)
    a.send({"type": "signal", "call": call, "ice": {"candidate": "candidate:1 1 udp 1 10.0.0.1 9 typ host",
                                                    "sdpMLineIndex": 0}})
    assert b.expect("signal")["call"] == call
