"""Strings from other people reach the terminal escaped (issue 13, untrusted
strings): a peer's name, client string and interests, chat messages, end
reasons and the call history, in every command that prints them, plain and
--json.

The server refuses such names now (tests/server/test_display_text.py), so a
real call cannot bring one to vchatd any more; vchatd may still hold one from
an older history file or from a server that does not check. The history
test gives a real vchatd such a file; the others run vchatctl against
tests/cli/fake_vchatd.py, a python3-dbusmock stand-in for vchatd whose call
has a hostile peer.
"""
import json
import os
import re
import subprocess
import sys
import time

import pytest
from gi.repository import Gio, GLib

from conftest import BASE_ENV, HERE, PLAIN_DAEMON_ARGS, clean_env, need_daemon

# The joiner of the issue (sets the title, writes the clipboard with OSC 52,
# wipes the line and writes another name over it), then a right-to-left
# override, an isolate, a line separator, a C1 CSI, DEL, tab, newline,
# quotes and a backslash; and ordinary text that must stay as it is.
HOSTILE = ("Bob\x1b]0;title\x07\x1b]52;c;eA==\x07\x1b[2K\rAlice \u202eecilA\u202c "
           "\u2066x\u2069\u2028\x9b2J\x7f\t\n\"q\" \\ Zoë 李 👩\u200d💻")
# As vchatctl prints it.
ESCAPED = (r'Bob\e]0;title\x07\e]52;c;eA==\x07\e[2K\rAlice \u202eecilA\u202c '
           r'\u2066x\u2069\u2028\u009b2J\x7f\t\n"q" \\ ' "Zoë 李 👩\u200d💻")
# The same between double quotes (monitor's values).
QUOTED = '"' + ESCAPED.replace('"', r'\"') + '"'
# What must never reach a terminal raw.
RAW = ["\x1b", "\x07", "\r", "\x9b", "\x7f", "\u202e", "\u202c", "\u2066", "\u2069", "\u2028"]

BUS_NAME = "io.github.vchat.VChat1"
CALL_PATH = "/io/github/vchat/VChat1/calls/1"
CALL_IFACE = "io.github.vchat.VChat1.Call"
MOCK_IFACE = "org.freedesktop.DBus.Mock"


def assert_no_raw(text):
    found = [c for c in RAW if c in text]
    assert not found, f"raw {found!r} in output:\n{text!r}"


def test_hostile_string_is_what_the_test_means():
    assert all(c in HOSTILE for c in RAW)
    assert "\n" in HOSTILE and "\t" in HOSTILE


class FakeVchatd:
    """tests/cli/fake_vchatd.py on a private bus."""

    def __init__(self, bus):
        self.env = dict(bus.env, **BASE_ENV)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dbusmock", "--session", "--is-object-manager", "--template",
             os.path.join(HERE, "fake_vchatd.py"), "-p", json.dumps({"hostile": HOSTILE})],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.conn = Gio.DBusConnection.new_for_address_sync(
            bus.address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        deadline = time.monotonic() + 10
        while not self._owned():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail("the fake vchatd did not start: " + self.proc.stderr.read())
            time.sleep(0.05)

    def _owned(self):
        try:
            self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                "org.freedesktop.DBus", "GetNameOwner",
                                GLib.Variant("(s)", (BUS_NAME,)), None,
                                Gio.DBusCallFlags.NO_AUTO_START, 2000, None)
            return True
        except GLib.Error:
            return False

    def mock(self, path, method, variant):
        self.conn.call_sync(BUS_NAME, path, MOCK_IFACE, method, variant, None,
                            Gio.DBusCallFlags.NO_AUTO_START, 5000, None)

    def emit(self, path, iface, name, signature, *args):
        self.mock(path, "EmitSignal", GLib.Variant(
            "(sssav)", (iface, name, signature,
                        [GLib.Variant(t, a) for t, a in zip(signature_parts(signature), args)])))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.conn.close_sync(None)


def signature_parts(signature):
    """"oa{sv}" -> ["o", "a{sv}"]"""
    parts, i = [], 0
    while i < len(signature):
        j, depth = i, 0
        while True:
            c = signature[j]
            depth += c in "({"
            depth -= c in ")}"
            j += 1
            if depth == 0 and c != "a":
                break
        parts.append(signature[i:j])
        i = j
    return parts


def hostile_peer():
    return {"name": GLib.Variant("s", HOSTILE), "client": GLib.Variant("s", "web/0.1 " + HOSTILE),
            "common-interests": GLib.Variant("as", ["jazz", HOSTILE])}


@pytest.fixture
def fake(empty_bus):
    f = FakeVchatd(empty_bus)
    yield f
    f.stop()


def ok(vchatctl, env, *args):
    r = vchatctl(*args, env=env, timeout=60)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    assert r.stderr == "", r.stderr
    return r.stdout


def check_json_peer(peer):
    assert peer == {"name": HOSTILE, "client": "web/0.1 " + HOSTILE,
                    "common_interests": ["jazz", HOSTILE]}


def test_list(vchatctl, fake):
    out = ok(vchatctl, fake.env, "list")
    assert_no_raw(out)
    lines = out.splitlines()
    assert len(lines) == 2, out
    assert re.match(r"\*\s+1\s+incoming\s+invite\s+incoming\s+" + re.escape(ESCAPED) + "  ",
                    lines[1]), lines[1]

    out = ok(vchatctl, fake.env, "list", "--json")
    assert_no_raw(out)
    calls = json.loads(out)
    check_json_peer(calls[0]["peer"])


def test_show(vchatctl, fake):
    out = ok(vchatctl, fake.env, "show")
    assert_no_raw(out)
    assert (f"Peer:       {ESCAPED} (web/0.1 {ESCAPED}); interests in common: jazz, {ESCAPED}\n"
            in out), out

    out = ok(vchatctl, fake.env, "--json", "show", "1")
    assert_no_raw(out)
    check_json_peer(json.loads(out)["peer"])


def test_monitor(vchatctl, fake):
    """An incoming call, a chat message and the peer changing, each one line."""
    for as_json in (False, True):
        mon = subprocess.Popen(
            [vchatctl.path, "monitor", "-n", "3", "--timeout", "20"]
            + (["--json"] if as_json else []),
            env=fake.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert mon.stderr.readline().startswith("Monitoring vchatd")
            fake.emit("/io/github/vchat/VChat1", "io.github.vchat.VChat1.Manager",
                      "IncomingCall", "oa{sv}", CALL_PATH, hostile_peer())
            fake.emit(CALL_PATH, CALL_IFACE, "MessageReceived", "st", HOSTILE, 1_700_000_001_000_000)
            fake.emit(CALL_PATH, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                      "sa{sv}as", CALL_IFACE, {"Peer": GLib.Variant("a{sv}", hostile_peer())}, [])
            out, err = mon.communicate(timeout=30)
        finally:
            if mon.poll() is None:
                mon.kill()
        assert mon.returncode == 0, err
        assert_no_raw(out)
        lines = out.splitlines()
        assert len(lines) == 3, out
        if as_json:
            incoming, message, changed = (json.loads(line) for line in lines)
            check_json_peer(incoming["peer"])
            assert message["text"] == HOSTILE
            check_json_peer(changed["properties"]["peer"])
        else:
            assert lines[0] == f"manager incoming: call 1 from {QUOTED} (web/0.1 {ESCAPED})"
            assert lines[1] == f"call 1 message: {QUOTED}"
            assert lines[2].startswith("call 1 changed: Peer={"), lines[2]
            for part in (f"name={QUOTED}", f'client="web/0.1 {QUOTED[1:]}',
                         f"common-interests=[jazz, {QUOTED}]"):
                assert part in lines[2], (part, lines[2])


def test_accept_wait_and_the_end_reason(vchatctl, fake):
    """The fake ends the call on Accept with the hostile string as its
    reason: --wait says so, and list and show print it, all escaped."""
    r = vchatctl("accept", "--wait", "--timeout", "20", env=fake.env, timeout=60)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert_no_raw(r.stderr)
    assert r.stderr == f"vchatctl: call 1 ended: {ESCAPED}\n"
    out = ok(vchatctl, fake.env, "show", "1")
    assert_no_raw(out)
    assert f"({ESCAPED}: {ESCAPED})\n" in out, out
    out = ok(vchatctl, fake.env, "list")
    assert_no_raw(out)
    assert out.rstrip("\n").endswith(ESCAPED), out


@pytest.mark.parametrize("args,what", [
    (["invite", "--name", HOSTILE], "“--name” contains a control character (U+001B)"),
    (["join", "--name", "\u202eecilA", "abcd"],
     "“--name” contains a bidirectional formatting character (U+202E)"),
    (["random", "-i", "jazz, a\x9bb"], "“--interest” contains a control character (U+009B)"),
])
def test_names_we_send_follow_the_servers_rule(vchatctl, args, what):
    """What the server would refuse is a usage error here, before any bus,
    and the error shows the character only as its code point."""
    r = vchatctl(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith(f"vchatctl: {what}; names, clients and interests must be plain "
                               "text.\n"), r.stderr
    assert_no_raw(r.stderr)


def test_display_name_setting_follows_the_servers_rule(vchatctl):
    schemas = os.environ.get("VCHAT_SCHEMAS")
    if not schemas:
        pytest.skip("VCHAT_SCHEMAS is not set")
    env = clean_env(GSETTINGS_SCHEMA_DIR=schemas, GSETTINGS_BACKEND="memory")
    r = vchatctl("config", "set", "display-name", "Ada\u2028Bob", env=env)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert ("“display-name” contains a line or paragraph separator (U+2028)" in r.stderr), r.stderr
    r = vchatctl("config", "set", "display-name", "Zoë 李", env=env)
    assert r.returncode == 0, r.stderr


@pytest.mark.daemon
def test_history_from_a_file(vchatctl, tmp_path):
    """A real vchatd with a history file from before the server checked
    names: history prints the name escaped every time, and --json gives it
    back as it is."""
    need_daemon()
    from signald import Signald
    from vchatd import Vchatd

    state = tmp_path / "d" / "home" / ".local" / "state" / "vchat"
    state.mkdir(parents=True)
    (state / "history.json").write_text(json.dumps({"version": 1, "calls": [{
        "kind": "random", "direction": "outgoing", "peer_name": HOSTILE,
        "started_us": 1_700_000_000_000_000, "duration_us": 65_000_000,
        "end_reason": "peer-hangup\x1b]0;x\x07"}]}))
    with Signald() as server, Vchatd(str(tmp_path / "d"), server.ws_url, name="Ada",
                                      args=PLAIN_DAEMON_ARGS) as d:
        env = dict(d.env, **BASE_ENV)
        for _ in range(2):  # and again: nothing about it changes by being shown
            out = ok(vchatctl, env, "history")
            assert_no_raw(out)
            lines = out.splitlines()
            assert len(lines) == 2, out
            assert re.fullmatch(r"2023-11-14 22:13:20\s+random\s+outgoing\s+" + re.escape(ESCAPED)
                                + r"\s+1:05\s+" + re.escape(r"peer-hangup\e]0;x\x07"),
                                lines[1]), lines[1]

            out = ok(vchatctl, env, "history", "--json")
            assert_no_raw(out)
            entry = json.loads(out)[0]
            assert entry["peer_name"] == HOSTILE
            assert entry["end_reason"] == "peer-hangup\x1b]0;x\x07"
