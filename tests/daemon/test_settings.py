"""Settings, history and activation, as a person meets them: `vchatctl config`
changes a running daemon, the history on disk survives the daemon being
killed at any moment and stays bounded, and a vchatctl command with no daemon
running starts one through D-Bus activation."""
import json
import os
import random
import re
import shlex
import time

from gi.repository import GLib

from conftest import TEST_SOURCES
from conftest import test_source as source_of
from signald import Signald
from vchatd import Vchatd

def vchatctl(d, *args, check=True, input=None):
    p = d.vchatctl(*args, input=input)
    if check:
        assert p.returncode == 0, f"vchatctl {' '.join(args)}: {p.returncode}\n{p.stderr}"
    return p


def history_file(d):
    return os.path.join(d.xdg["XDG_STATE_HOME"], "vchat", "history.json")


def quick_call(a, b):
    """A random call that is matched, then hung up by a."""
    pa = a.manager("StartRandom", "(a{sv})", {})
    pb = b.manager("StartRandom", "(a{sv})", {})
    a.wait(lambda: a.call_prop(pa, "State") in ("connecting", "connected"), 20, "a match")
    a.call_method(pa, "Hangup")
    b.wait_call_state(pb, "ended", 20)
    return pa, pb


def test_history_on_disk(plain_daemons):
    a, b = plain_daemons("red", "blue")
    pa, code, link = a.manager("CreateInvite", "(a{sv})", {"ttl": GLib.Variant("u", 120)})
    pb = b.manager("JoinInvite", "(sa{sv})", link, {})
    a.wait_call_state(pa, "incoming", 10)
    a.call_method(pa, "Accept")
    a.wait_call_state(pa, "connected", 30)
    time.sleep(1)
    b.call_method(pb, "Hangup")
    a.wait_call_state(pa, "ended", 10)
    # A search that nobody answered is no call to remember.
    ps = a.manager("StartRandom", "(a{sv})", {})
    a.call_method(ps, "Hangup")

    with open(history_file(a)) as f:
        text = f.read()
    calls = json.loads(text)["calls"]
    assert len(calls) == 1, calls
    entry = calls[0]
    assert entry["peer_name"] == "Blue 1" and entry["kind"] == "invite"
    assert entry["direction"] == "incoming" and entry["end_reason"] == "peer-hangup"
    assert entry["duration_us"] >= 1_000_000
    # Never an address, never the invite's code.
    assert code not in text and "127.0.0.1" not in text
    assert not re.search(r"\d+\.\d+\.\d+\.\d+", text)
    assert oct(os.stat(history_file(a)).st_mode & 0o777) == "0o600"

    # The daemon comes back with it, and vchatctl shows it.
    a.kill(15)
    a.start()
    assert [h["peer-name"] for h in a.manager("GetHistory", "(u)", 0)] == ["Blue 1"]
    out = vchatctl(a, "history").stdout
    assert "Blue 1" in out and "invite" in out, out
    assert json.loads(vchatctl(a, "--json", "history").stdout)[0]["peer_name"] == "Blue 1"
    assert "Red 0" in vchatctl(b, "history").stdout

    vchatctl(b, "history", "clear")
    assert "No calls in the history." in vchatctl(b, "history").stdout
    assert not os.path.exists(history_file(b))


def test_history_survives_kills_and_stays_bounded(server, tmp_path):
    """SIGKILL at random moments while calls end and the history is saved:
    the file always parses, and never holds more than history-size calls."""
    size = 300
    settings = {"history-size": GLib.Variant("u", size)}
    a = Vchatd(str(tmp_path / "a"), server.ws_url, name="Ada", settings=settings,
               args=TEST_SOURCES + source_of("red"), start=False)
    b = Vchatd(str(tmp_path / "b"), server.ws_url, name="Bob",
               args=TEST_SOURCES + source_of("blue"))
    # A full history to start with, so that every save rewrites a big file.
    os.makedirs(os.path.dirname(history_file(a)))
    old = [{"kind": "random", "direction": "outgoing", "peer_name": f"Old {i}",
            "started_us": 1_600_000_000_000_000 + i, "duration_us": 1, "end_reason": "hangup"}
           for i in range(size)]
    with open(history_file(a), "w") as f:
        json.dump({"version": 1, "calls": old}, f)
    try:
        a.start()
        for round_ in range(6):
            pa = a.manager("StartRandom", "(a{sv})", {})
            pb = b.manager("StartRandom", "(a{sv})", {})
            a.wait(lambda: a.call_prop(pa, "State") in ("connecting", "connected"), 20,
                   "a match")
            # Hang up and kill a moment later: before, during or after the
            # save (0-20 ms: the save of a full history takes about that;
            # on a busy disk longer, so every other round waits 0.5 s and
            # lets one through).
            a.conn.call(
                "io.github.vchat.VChat1", pa, "io.github.vchat.VChat1.Call", "Hangup", None,
                None, 0, 5000, None, None, None)
            time.sleep(random.uniform(0, 0.02) if round_ % 2 else 0.5)
            a.kill()
            with open(history_file(a)) as f:
                calls = json.load(f)["calls"]
            assert len(calls) <= size
            # The server keeps a killed daemon's session for its grace time:
            # b does not wait for that.
            try:
                b.call_method(pb, "Hangup")
            except GLib.Error:
                pass  # it had ended already
            a.start()
        history = a.manager("GetHistory", "(u)", 0)
        assert len(history) == size
        # Some of the calls made it, pushing the oldest out.
        assert any(h["peer-name"] == "Bob" for h in history)
        assert not [n for n in os.listdir(os.path.dirname(history_file(a)))
                    if n != "history.json"]
    finally:
        a.stop()
        b.stop()


def test_config_applies_live(server, tmp_path):
    a = Vchatd(str(tmp_path / "a"), server.ws_url, name="Ada",
               args=TEST_SOURCES + source_of("red"))
    other = Signald()
    b = None
    try:
        # A new display name goes out with the next hello; a new server: the
        # daemon leaves the old one and goes online there, under that name.
        vchatctl(a, "config", "set", "display-name", "Ada Lovelace")
        vchatctl(a, "config", "set", "server-url", other.ws_url)
        a.wait(lambda: a.manager_prop("Server") == other.ws_url
               and a.manager_prop("SignalingState") == "online", 15, "the move to the new server")
        assert vchatctl(a, "config", "get", "server-url").stdout.strip() == other.ws_url
        b = Vchatd(str(tmp_path / "b"), other.ws_url, name="Bob",
                   args=TEST_SOURCES + source_of("blue"))
        pb, pa = quick_call(b, a)
        assert a.call_prop(pa, "Peer")["name"] == "Bob"
        assert b.call_prop(pb, "Peer")["name"] == "Ada Lovelace"

        # Bad values are refused with the reason, and change nothing.
        p = vchatctl(a, "config", "set", "server-url", "ftp://example.org", check=False)
        assert p.returncode == 2 and "ws://, wss://" in p.stderr, p.stderr
        p = vchatctl(a, "config", "set", "max-bitrate", "5", check=False)
        assert p.returncode == 2 and "from 100 to 10000" in p.stderr, p.stderr
        p = vchatctl(a, "config", "set", "no-such-key", "1", check=False)
        assert p.returncode == 5 and "server-url" in p.stderr, p.stderr
        assert a.manager_prop("Server") == other.ws_url
        listed = json.loads(vchatctl(a, "--json", "config", "list").stdout)
        assert listed["server-url"] == other.ws_url and listed["max-bitrate"] == 1500

        # History off: what was kept is forgotten at once.
        assert os.path.exists(history_file(a))
        vchatctl(a, "config", "set", "history", "false")
        a.wait(lambda: not os.path.exists(history_file(a)), 10, "the history to be forgotten")
        quick_call(b, a)
        assert a.manager("GetHistory", "(u)", 0) == []
        assert not os.path.exists(history_file(a))
        vchatctl(a, "config", "reset", "history")
        assert vchatctl(a, "config", "get", "history").stdout.strip() == "true"
    finally:
        if b:
            b.stop()
        a.stop()
        other.stop()


def test_config_max_bitrate_applies_to_the_call_in_progress(plain_daemons):
    a, b = plain_daemons("red", "blue")
    pa = a.manager("StartRandom", "(a{sv})", {})
    b.manager("StartRandom", "(a{sv})", {})
    a.wait_call_state(pa, "connected", 30)
    # max-bitrate is the video's ceiling; the controller's target (audio
    # and video) starts at 300 kbit/s and grows with what the path carries.
    a.wait(lambda: a.call_prop(pa, "Stats").get("max-kbps") == 1500, 10,
           "the default ceiling of 1500 kbit/s")
    assert a.call_prop(pa, "Stats")["target-kbps"] >= 100
    vchatctl(a, "config", "set", "max-bitrate", "100")
    # Below where the call started: the ceiling must pull it down at once
    # (100 kbit/s of video, and at most 40 of audio on top).
    a.wait(lambda: a.call_prop(pa, "Stats").get("max-kbps") == 100
           and a.call_prop(pa, "Stats").get("target-kbps", 1e9) <= 140, 10,
           "the call in progress to aim at 100 kbit/s of video")
    assert "100" in vchatctl(a, "show").stdout


def test_config_camera_switches_mid_call_and_stays(daemons, pipewire):
    from conftest import BLUE, RED, close_to

    a, b = daemons("red", "blue")
    assert a.manager_prop("Camera") == "vchat-test-cam-red"
    pa = a.manager("StartRandom", "(a{sv})", {})
    pb = b.manager("StartRandom", "(a{sv})", {})
    b.wait_call_state(pb, "connected", 30)
    node = b.remote_video_node(pb)
    got = pipewire.read_color(node, timeout=15)
    assert close_to(got, RED), f"b sees {got} before the switch"

    # Mid-call: the picture b gets changes, the call goes on.
    vchatctl(a, "config", "set", "camera", "vchat-test-cam-blue")
    a.wait(lambda: a.manager_prop("Camera") == "vchat-test-cam-blue", 10, "the camera to switch")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        got = pipewire.read_color(node, timeout=15)
        if close_to(got, BLUE):
            break
        time.sleep(0.5)
    assert close_to(got, BLUE), f"b sees {got} after a switched to its blue camera"
    assert a.call_prop(pa, "State") == "connected"
    a.call_method(pa, "Hangup")

    # The choice is a setting: vchatctl shows it, and it outlives the daemon.
    assert vchatctl(a, "config", "get", "camera").stdout.strip() == "vchat-test-cam-blue"
    a.kill(15)
    a.args = [x for x in a.args if x not in ("--camera", "vchat-test-cam-red")]
    a.start()
    assert a.manager_prop("Camera") == "vchat-test-cam-blue"


def test_activation_starts_the_daemon(server, tmp_path):
    """Only the service file on the bus's search path, no daemon: `vchatctl
    status` has D-Bus start vchatd, and works."""
    d = Vchatd(str(tmp_path / "act"), server.ws_url, name="Ada", start=False,
               args=TEST_SOURCES + source_of("red"))
    try:
        # The service file the build installs, with the Exec line pointed at
        # this build (and this test's settings).
        with open(os.path.join(os.environ["VCHAT_SCHEMAS"], "io.github.vchat.VChat1.service")) as f:
            service = f.read()
        exec_line = " ".join(shlex.quote(a) for a in [
            "/usr/bin/env", f"GSETTINGS_SCHEMA_DIR={os.environ['VCHAT_SCHEMAS']}",
            "GSETTINGS_BACKEND=keyfile", d.binary] + d.args)
        service = re.sub(r"(?m)^Exec=.*$", lambda _: f"Exec={exec_line}", service)
        with open(os.path.join(d.bus.services_dir, "io.github.vchat.VChat1.service"), "w") as f:
            f.write(service)
        assert d.name_owner() is None

        p = vchatctl(d, "status")
        assert d.name_owner() is not None
        assert "vchatd" in p.stdout, p.stdout
        d.wait(lambda: d.manager_prop("SignalingState") == "online", 15, "online")
        assert "online" in vchatctl(d, "status").stdout
    finally:
        owner = d.name_owner()
        if owner:
            pid = d.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                   "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                   GLib.Variant("(s)", (owner,)), None, 0, 2000, None).unpack()[0]
            os.kill(pid, 15)
        d.stop()


def test_unplugged_camera_mid_call_switches_to_another(daemons, pipewire):
    """The camera in use goes away during a call: the call goes on with the
    next camera rather than black frames. The next camera has another size
    and shape: the other side's picture changes size mid-call."""
    from conftest import close_to

    green = pipewire.add_camera("vchat-test-cam-green", (0, 255, 0), description="Green camera",
                                width=640, height=360)
    try:
        a, b = daemons("green", "blue")
        pa = a.manager("StartRandom", "(a{sv})", {})
        pb = b.manager("StartRandom", "(a{sv})", {})
        b.wait_call_state(pb, "connected", 30)
        node = b.remote_video_node(pb)
        got = pipewire.read_color(node, timeout=15)
        assert close_to(got, (0, 255, 0)), f"b sees {got} from a's green camera"

        green.stop()
        a.wait(lambda: a.manager_prop("Camera") not in ("", "vchat-test-cam-green"), 15,
               "another camera to be chosen")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = pipewire.read_color(node, timeout=15)
            if close_to(got, (255, 0, 0)) or close_to(got, (0, 0, 255)):
                break
            time.sleep(0.5)
        assert close_to(got, (255, 0, 0)) or close_to(got, (0, 0, 255)), \
            f"b sees {got} after a's camera went away"
        assert a.call_prop(pa, "State") == "connected"
        assert a.call_prop(pa, "HasCamera") is True
        a.call_method(pa, "Hangup")
    finally:
        green.stop()
