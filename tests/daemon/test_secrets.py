"""Credentials in the keyring: a real gnome-keyring on each daemon's private
bus, `vchatctl secret`, a server that requires an access token, and a real
coturn whose credentials come from the keyring."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
from gi.repository import GLib

import conftest
from keyring import Keyring, files_containing
from signald import Signald, stop_process
from vchatd import Vchatd, dbus_error_message, dbus_error_name

TOKEN = "vchat-test-token:Zq81/x+y=tok"
TURN_USER = "vchat-turn-user-53ab"
TURN_PASSWORD = "turn-p@ss/w%rd+9Zq"

pytestmark = pytest.mark.skipif(not shutil.which("gnome-keyring-daemon"),
                                reason="gnome-keyring-daemon is not installed")


def vchatctl(d, *args, input=None, keyring=None):
    return d.vchatctl(*args, input=input, env=keyring.env if keyring else None)


@pytest.fixture
def stack(tmp_path):
    """make(name, server_url, ...) -> (Vchatd not started, Keyring)."""
    made = []

    def make(name, server_url, color="red", args=(), settings=None, env=None):
        d = Vchatd(str(tmp_path / name), server_url, name=name.title(), start=False, env=env,
                   args=conftest.TEST_SOURCES + conftest.test_source(color) + list(args), settings=settings)
        k = Keyring(d)
        made.append((d, k))
        return d, k

    yield make
    for d, k in made:
        k.stop()
        try:
            d.stop()
        except GLib.Error:
            pass  # the test stopped it already


def assert_nowhere(values, daemons_keyrings, logs):
    for d, k in daemons_keyrings:
        for v in values:
            hits = files_containing(d.xdg["HOME"], v)
            assert not hits, f"{v!r} in plain text in {hits}"
        # the keyring's own files exist, and are encrypted
        assert k.files, "the keyring wrote no file"
    for name, log in logs:
        for v in values:
            assert v not in log, f"{v!r} in the {name} log"


def test_secret_set_clear_list_through_vchatctl(stack):
    server = Signald()
    try:
        d, k = stack("alice", server.ws_url)
        # vchatctl secret never starts a daemon (it only tells a running one)
        marker = os.path.join(d.tmpdir, "activated")
        with open(os.path.join(d.bus.services_dir, "io.github.vchat.VChat1.service"), "w") as f:
            f.write(f"[D-BUS Service]\nName=io.github.vchat.VChat1\nExec=/usr/bin/touch {marker}\n")
        # stdin, one trailing newline dropped
        p = vchatctl(d, "secret", "set", "server-token", input=TOKEN + "\n", keyring=k)
        assert p.returncode == 0, p.stderr
        assert TOKEN not in p.stdout + p.stderr
        assert k.lookup("server-token") == TOKEN
        p = vchatctl(d, "secret", "set", "turn-password", input=TURN_PASSWORD, keyring=k)
        assert p.returncode == 0, p.stderr
        assert k.lookup("turn-password") == TURN_PASSWORD

        p = vchatctl(d, "secret", "list", keyring=k)
        assert p.returncode == 0, p.stderr
        lines = {l.split()[0]: l.split(None, 1)[1].strip() for l in p.stdout.splitlines()[1:]}
        assert lines == {"server-token": "set", "turn-username": "not set",
                         "turn-password": "set"}, p.stdout
        assert TOKEN not in p.stdout and TURN_PASSWORD not in p.stdout
        p = vchatctl(d, "--json", "secret", "list", keyring=k)
        import json
        assert json.loads(p.stdout) == {"server-token": True, "turn-username": False,
                                        "turn-password": True}

        p = vchatctl(d, "secret", "clear", "turn-password", keyring=k)
        assert p.returncode == 0, p.stderr
        assert k.lookup("turn-password") is None
        assert not os.path.exists(marker), "vchatctl secret started a daemon"

        # usage errors: exit 2, naming the valid names
        p = vchatctl(d, "secret", "set", "password", input="x", keyring=k)
        assert p.returncode == 2
        for n in ("server-token", "turn-username", "turn-password"):
            assert n in p.stderr
        p = vchatctl(d, "secret", "set", "server-token", input="", keyring=k)
        assert p.returncode == 2 and "empty" in p.stderr
        assert k.lookup("server-token") == TOKEN
        p = vchatctl(d, "secret", "set", "server-token", TOKEN, keyring=k)
        assert p.returncode == 2  # never a value on the command line
    finally:
        server.stop()


def test_no_keyring_is_a_clear_error(tmp_path):
    server = Signald()
    d = Vchatd(str(tmp_path / "nokeyring"), server.ws_url, start=False)
    try:
        p = vchatctl(d, "secret", "set", "server-token", input=TOKEN)
        assert p.returncode == 1, (p.returncode, p.stderr)
        assert "keyring" in p.stderr and "gnome-keyring-daemon" in p.stderr, p.stderr
        assert "vchatd is not running" not in p.stderr
        # and the daemon runs fine without one
        d.start()
        assert d.manager_prop("SignalingState") == "online"
    finally:
        d.stop()
        server.stop()


def test_server_token_from_the_keyring(stack, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    server = Signald("--token-file", str(token_file), "--verbose")
    try:
        a, ka = stack("alice", server.ws_url, color="red")
        b, kb = stack("bob", server.ws_url, color="blue")
        kb.store("server-token", TOKEN)  # as another tool would store it
        b.start()

        # Without a token: not online, and a clear error that names the fix.
        a.start(wait_online=False)
        a.wait(lambda: "access token" in a.log, 15, "the unauthorized warning")
        time.sleep(3)
        assert a.manager_prop("SignalingState") == "offline"
        with pytest.raises(GLib.Error) as e:
            a.manager("StartRandom", "(a{sv})", {})
        assert dbus_error_name(e.value) == "io.github.vchat.VChat1.Error.Offline"
        message = dbus_error_message(e.value)
        assert "token" in message and "vchatctl secret set server-token" in message, message
        assert "the keyring has none" in message, message
        # It does not hammer the server: one refusal, one warning.
        assert 1 <= server.log.count("hello refused: no access token") <= 2, server.log
        assert a.log.count("refused us") == 1, a.log

        # vchatctl sets it and tells the daemon, which is let in.
        p = vchatctl(a, "secret", "set", "server-token", input=TOKEN + "\n", keyring=ka)
        assert p.returncode == 0, p.stderr
        a.wait(lambda: a.manager_prop("SignalingState") == "online", 15, "online with the token")

        # and a call works
        pa = a.manager("StartRandom", "(a{sv})", {})
        pb = b.manager("StartRandom", "(a{sv})", {})
        a.wait_call_state(pa, "connected", 30)
        b.wait_call_state(pb, "connected", 30)
        a.call_method(pa, "Hangup")

        # A wrong token after a reload: offline again, the message says so.
        p = vchatctl(a, "secret", "set", "server-token", input="wrong-token-0000", keyring=ka)
        assert p.returncode == 0, p.stderr
        a.wait(lambda: a.manager_prop("SignalingState") == "offline", 15, "refused again")
        with pytest.raises(GLib.Error) as e:
            a.manager("CreateInvite", "(a{sv})", {})
        message = dbus_error_message(e.value)
        assert "server-token" in message and "did not accept" in message, message

        a.stop()
        b.stop()
        assert_nowhere([TOKEN], [(a, ka), (b, kb)],
                       [("alice vchatd", a.log), ("bob vchatd", b.log), ("server", server.log)])
    finally:
        server.stop()


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def coturn(tmp_path):
    if not shutil.which("turnserver"):
        pytest.skip("coturn is not installed")
    port = free_udp_port()
    d = tmp_path / "coturn"
    d.mkdir()
    log = d / "turn.log"
    proc = subprocess.Popen(
        ["turnserver", "-n", "--listening-ip=127.0.0.1", f"--listening-port={port}",
         "--relay-ip=127.0.0.1", "--min-port=49160", "--max-port=49200",
         "--lt-cred-mech", f"--user={TURN_USER}:{TURN_PASSWORD}", "--realm=vchat",
         "--no-tls", "--no-dtls", "--allow-loopback-peers", "--no-cli", "--no-tcp-relay",
         f"--db={d / 'turndb'}", f"--pidfile={d / 'pid'}", f"--log-file={log}",
         "--simple-log", "--verbose"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    assert proc.poll() is None, log.read_text() if log.exists() else "coturn exited"
    proc.port = port
    proc.log_path = log
    yield proc
    stop_process(proc)


def test_turn_credentials_reach_webrtcbin(stack, coturn):
    server = Signald("--verbose")  # offers no TURN server of its own
    try:
        turn = f"turn:127.0.0.1:{coturn.port}?transport=udp"
        settings = {"turn-server": GLib.Variant("s", turn)}
        # libnice leaves the loopback out, and coturn is only on loopback
        loopback = ["--ice-address", "127.0.0.1"]
        # GStreamer's debug log on, where webrtcbin prints the TURN URLs it
        # is given: the password must not be there either.
        debug = dict(os.environ, GST_DEBUG="webrtcbin:5,webrtcnice:5")
        a, ka = stack("alice", server.ws_url, color="red", settings=settings, args=loopback,
                      env=debug)
        b, kb = stack("bob", server.ws_url, color="blue", settings=settings, args=loopback)
        for d, k in ((a, ka), (b, kb)):
            for name, value in (("turn-username", TURN_USER), ("turn-password", TURN_PASSWORD)):
                p = vchatctl(d, "secret", "set", name, input=value + "\n", keyring=k)
                assert p.returncode == 0, p.stderr
            d.start()

        relay = {"relay_only": GLib.Variant("b", True)}
        pa = a.manager("StartRandom", "(a{sv})", relay)
        pb = b.manager("StartRandom", "(a{sv})", relay)
        a.wait_call_state(pa, "connected", 40)
        b.wait_call_state(pb, "connected", 40)
        a.wait(lambda: a.call_prop(pa, "Stats").get("local-candidate") == "relay", 15,
               "a relay candidate pair")
        stats = a.call_prop(pa, "Stats")
        assert stats.get("remote-candidate") == "relay", stats
        a.wait(lambda: a.call_prop(pa, "Stats").get("recv-fps", 0) > 5, 15,
               "video through the relay")
        a.call_method(pa, "Hangup")

        turn_log = coturn.log_path.read_text(errors="replace")
        # coturn saw this user allocate relays (the log names the user, not the password)
        assert TURN_USER in turn_log, turn_log[-3000:]

        a.stop()
        b.stop()
        assert_nowhere([TURN_PASSWORD, TURN_USER], [(a, ka), (b, kb)],
                       [("alice vchatd", a.log), ("bob vchatd", b.log), ("server", server.log)])
        # the URL (without credentials) is what the daemon logs
        assert f"127.0.0.1:{coturn.port}" in a.log
        # and what GStreamer's log shows of it
        assert f"Adding turn server: turn://***@127.0.0.1:{coturn.port}" in a.log, \
            [line for line in a.log.splitlines() if "turn server" in line][:5]
    finally:
        server.stop()
        if os.environ.get("VCHAT_TEST_LOGS"):
            print(f"--- alice ---\n{a.log}\n--- bob ---\n{b.log}\n--- coturn ---\n"
                  + coturn.log_path.read_text(errors="replace"))
