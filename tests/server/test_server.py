"""The server program: --help, --config, TLS, privacy of its log."""
import os
import re
import subprocess
import time

import pytest

from vtest import http_get, pair

OPTIONS = [
    "--listen", "--port", "--web-root", "--public-url", "--stun", "--turn",
    "--turn-secret", "--turn-ttl", "--turn-username", "--turn-password",
    "--max-frame", "--max-rate", "--max-sessions-per-address", "--grace",
    "--invite-ttl", "--invite-max-ttl", "--ring-timeout", "--join-attempts",
    "--interest-wait", "--language-wait", "--rematch-delay", "--ping-interval",
    "--report-threshold", "--report-refuse-time", "--tls-cert", "--tls-key",
    "--config", "--log-addresses", "--verbose", "--max-connections", "--max-pending",
    "--max-pending-per-address", "--handshake-timeout", "--max-sessions", "--max-send-queue",
    "--max-outbox", "--max-invite-tombstones", "--trusted-proxy", "--metrics-from",
]


def binary():
    if not os.environ.get("VCHAT_SIGNALD"):
        pytest.skip("VCHAT_SIGNALD is not set")
    return os.environ["VCHAT_SIGNALD"]


def test_help_lists_every_option():
    r = subprocess.run([binary(), "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    missing = [o for o in OPTIONS if not re.search(r"(?<![\w-])" + re.escape(o) + r"(?![\w-])", out)]
    assert not missing, f"--help does not describe {missing}:\n{out}"


def test_bad_option_fails_cleanly():
    r = subprocess.run([binary(), "--no-such-option"], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert (r.stdout + r.stderr).strip()


def test_missing_config_file_fails(tmp_path):
    r = subprocess.run([binary(), "--listen", "127.0.0.1", "--port", "0",
                        "--config", str(tmp_path / "nope.conf")],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert "nope.conf" in r.stdout + r.stderr


CONFIG = """\
# vchat-signald test configuration
[server]
grace=2
max-frame=2048
max-rate=9
stun=stun:a.example.org:3478;stun:b.example.org:3478
"""


def test_config_file(signald, connect, tmp_path):
    conf = tmp_path / "signald.conf"
    conf.write_text(CONFIG)
    s = signald("--config", str(conf))
    w = connect(s).welcome
    assert w["limits"] == {"max_frame": 2048, "max_rate": 9, "grace": 2}
    urls = [u for srv in w["ice_servers"] for u in srv["urls"]]
    assert "stun:a.example.org:3478" in urls and "stun:b.example.org:3478" in urls
    # the max-frame from the file is enforced, not only announced
    c = connect(s)
    c.send({"type": "ping", "pad": "x" * 3000})
    msgs, code = c.read_until_close()
    assert any(m.get("code") == "too-big" for m in msgs if isinstance(m, dict)), msgs
    assert code == 1009


def test_command_line_overrides_config(signald, connect, tmp_path):
    """Numbers and strings alike (a string the key file set, replaced on the
    command line, is freed: the asan setup's leak check fails otherwise)."""
    conf = tmp_path / "signald.conf"
    conf.write_text(CONFIG)
    s = signald("--config", str(conf), "--grace", "5", "--max-rate", "11",
                "--stun", "stun:c.example.org:3478")
    w = connect(s).welcome
    assert w["limits"] == {"max_frame": 2048, "max_rate": 11, "grace": 5}
    urls = [u for srv in w["ice_servers"] for u in srv["urls"]]
    assert urls == ["stun:c.example.org:3478"], urls


def test_tls(signald, connect, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    s = signald("--tls-cert", str(cert), "--tls-key", str(key))
    assert s.scheme == "https" and s.ws_url.startswith("wss://")
    status, _, body = http_get(s, "/healthz")
    assert status == 200 and body.strip() == b"ok"
    a, b = connect(s, name="A"), connect(s, name="B")
    call, _, _ = pair(a, b)
    a.send({"type": "signal", "call": call, "sdp": {"type": "offer", "sdp": "v=0\r\n"}})
    assert b.expect("signal")["call"] == call


def busy_session(s, connect):
    """Exercise connects, matches, errors, invites, drops and resumes."""
    a = connect(s, name="A")
    b = connect(s, name="B", source="127.0.0.2")
    call, _, _ = pair(a, b)
    a.send({"type": "signal", "call": call, "sdp": {"type": "offer", "sdp": "v=0\r\n"}})
    b.expect("signal")
    a.send_raw("garbage")
    a.expect_error("bad-json")
    idle = connect(s, name="Idle", source="127.0.0.2")
    idle.send({"type": "invite_join", "code": "aaaa-bbbb-cccc-dddd"})
    idle.expect_error("invite-not-found")
    a.send({"type": "report", "call": call, "reason": "testing"})
    a.expect("reported")
    b.drop()
    b2 = connect(s, resume=b.resume, source="127.0.0.2")
    assert b2.welcome["resumed"] is True
    c = connect(s, name="C")
    c.send({"type": "invite_create"})
    c.expect("invite")
    c.close(1000)
    b2.send({"type": "leave", "call": call})
    b2.expect("call_ended")
    a.expect("peer_left")
    a.close(1000)
    b2.drop()


@pytest.mark.parametrize("extra", [(), ("--verbose",)], ids=["default", "verbose"])
def test_log_has_no_addresses(signald, connect, extra):
    s = signald("--grace", "0.2", *extra)
    busy_session(s, connect)
    time.sleep(0.5)  # B's grace runs out and is logged
    s.stop()
    lines = s.log.splitlines()
    assert lines and "listening on" in lines[0]
    leaks = [l for l in lines[1:] if re.search(r"127\.0\.0\.\d+", l)]
    assert not leaks, "the log names client addresses:\n" + "\n".join(leaks)
    if extra:
        assert len(lines) > 1, "--verbose logged nothing about the sessions"


def test_sighup_reloads_the_certificate(signald, connect, tmp_path):
    """A renewed certificate is taken on SIGHUP; sessions go on."""
    import signal
    import socket
    import ssl

    def make(cn):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", f"/CN={cn}", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)

    def served_cert():
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection((s.host, s.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=s.host) as t:
                return t.getpeercert(binary_form=True)

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    make("first")
    s = signald("--tls-cert", str(cert), "--tls-key", str(key))
    first = served_cert()
    a, b = connect(s), connect(s)
    call, _, _ = pair(a, b)
    make("renewed")
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while served_cert() == first and time.monotonic() < deadline:
        time.sleep(0.1)
    assert served_cert() != first
    # the call goes on
    a.send({"type": "signal", "call": call, "ice": {"candidate": "c", "sdpMLineIndex": 0}})
    b.expect("signal")
    # a broken file keeps the old certificate
    cert.write_text("not a certificate")
    s.proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    assert served_cert() != first
    assert "Cannot reload the TLS certificate" in s.log
    a.ping_ok()
