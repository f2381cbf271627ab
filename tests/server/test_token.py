"""Access token: a server started with --token-file (or the key file's
`token`) welcomes only clients whose hello carries that token."""
import os

from vtest import assert_sentence, pair

TOKEN = "tök:en/with+odd=chars 42"


def token_file(tmp_path, text):
    path = tmp_path / "token"
    path.write_text(text)
    os.chmod(path, 0o600)
    return str(path)


def refused(c, hello):
    c.send(hello)
    msgs, code = c.read_until_close()
    errors = [m for m in msgs if m.get("type") == "error"]
    assert errors and errors[0]["code"] == "unauthorized", msgs
    assert errors[0].get("ref") == "hello"
    assert "welcome" not in [m.get("type") for m in msgs]
    assert_sentence(errors[0]["message"])
    assert code == 4003, code
    return errors[0]["message"]


def hello(**extra):
    return {"type": "hello", "version": 1, "client": "test/1", **extra}


def test_hello_without_token_is_unauthorized(signald, connect, tmp_path):
    s = signald("--token-file", token_file(tmp_path, TOKEN + "\n"))
    message = refused(connect(s, hello=False), hello())
    # it names the fix
    assert "vchatctl secret set server-token" in message
    assert TOKEN not in s.log


def test_hello_with_wrong_token_is_unauthorized(signald, connect, tmp_path):
    s = signald("--token-file", token_file(tmp_path, TOKEN + "\n"))
    for wrong in ("nope", TOKEN[:-1], TOKEN + "x", TOKEN.upper()):
        message = refused(connect(s, hello=False), hello(token=wrong))
        assert "server-token" in message
    # a wrong token never resumes another session either
    good = connect(s, token=TOKEN)
    refused(connect(s, hello=False), hello(token="nope", resume=good.resume))
    good.ping_ok()
    assert TOKEN not in s.log and "nope" not in s.log


def test_hello_with_right_token_is_welcomed(signald, connect, tmp_path):
    s = signald("--token-file", token_file(tmp_path, TOKEN + "\n"))
    a = connect(s, token=TOKEN)
    b = connect(s, token=TOKEN)
    assert a.welcome["resumed"] is False
    pair(a, b)
    # resuming needs the token too, and works with it
    a.kill()
    c = connect(s, token=TOKEN, resume=a.resume)
    assert c.welcome["resumed"] is True
    assert TOKEN not in s.log


def test_token_from_key_file(signald, connect, tmp_path):
    conf = tmp_path / "signald.conf"
    conf.write_text("[server]\ntoken=%s\n" % TOKEN)
    s = signald("--config", str(conf))
    refused(connect(s, hello=False), hello())
    connect(s, token=TOKEN).ping_ok()


def test_no_token_configured_ignores_token(signald, connect):
    s = signald()
    connect(s, token="anything").ping_ok()
    connect(s).ping_ok()


def test_bad_token_files_are_refused_at_start(tmp_path):
    import subprocess
    exe = os.environ.get("VCHAT_SIGNALD")
    if not exe:
        import pytest
        pytest.skip("VCHAT_SIGNALD is not set")
    for path in (str(tmp_path / "missing"), token_file(tmp_path, "\n")):
        p = subprocess.run([exe, "--port", "0", "--token-file", path],
                           capture_output=True, text=True, timeout=10)
        assert p.returncode == 2, (p.returncode, p.stderr)
        assert "token" in p.stderr.lower()
