"""Open invites survive a restart of vchatd: a friend who opens the link
after the daemon crashed (SIGKILL) or was stopped (SIGTERM) and came back
still reaches the user, with the picture arriving both ways."""
import json
import os
import signal
import time

import pytest
from gi.repository import GLib

from conftest import BLUE, RED, close_to
from keyring import Keyring, files_containing
from signald import Signald
from vchatd import Vchatd, dbus_error_message, dbus_error_name

SCHEMA = "io.github.vchat.VChat1.Invite"


def daemon_args(color):
    return ["--camera", f"vchat-test-cam-{color}", "--audio-source",
            "audiotestsrc is-live=true wave=sine freq=440", "--audio-sink", "fakesink"]


def stored_claim(keyring, code):
    """The claim the keyring holds for the invite `code`, or None."""
    r = keyring.secret_tool("lookup", "xdg:schema", SCHEMA, "code", code)
    return r.stdout if r.returncode == 0 and r.stdout else None


@pytest.fixture
def inviter(pipewire, server, tmp_path):
    """Daemon A with a keyring, not started yet."""
    made = []

    def make(url=None):
        d = Vchatd(str(tmp_path / "a"), url or server.ws_url, name="Red A", env=pipewire.env,
                   args=daemon_args("red"), start=False)
        keyring = Keyring(d)
        made.append((d, keyring))
        d.start()
        return d, keyring

    yield make
    for d, keyring in made:
        d.stop()
        keyring.stop()
        if os.environ.get("VCHAT_TEST_LOGS"):
            print(f"--- inviter log ---\n{d.log}")


def store_path(d):
    return os.path.join(d.xdg["XDG_STATE_HOME"], "vchat", "invites.json")


def stored_codes(d):
    try:
        with open(store_path(d)) as f:
            return [i["code"] for i in json.load(f)["invites"]]
    except FileNotFoundError:
        return []


def invite_calls(d, code):
    out = []
    for path in d.calls():
        props = d.call_props(path)
        if props["InviteCode"] == code and props["State"] != "ended":
            out.append((path, props))
    return out


def join_when_back(b, link, timeout=15):
    """Joins, trying again while the inviter is still away (as a person
    would after reading the error)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return b.manager("JoinInvite", "(sa{sv})", link, {})
        except GLib.Error as e:
            away = (dbus_error_name(e) == "io.github.vchat.VChat1.Error.Busy"
                    and "not connected" in dbus_error_message(e))
            if not away or time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def assert_sees(pipewire, d, path, color, what):
    node = d.remote_video_node(path)
    got = pipewire.read_color(node, timeout=15)
    assert close_to(got, color), f"{what}: the remote picture is {got}, expected about {color}"


def vchatctl(d, *args):
    r = d.vchatctl(*args)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("sig", [9, 15], ids=["sigkill", "sigterm"])
def test_invite_survives_restart(pipewire, daemons, inviter, server, sig):
    a, keyring = inviter()
    b = daemons("blue")
    pa, code, link = a.manager("CreateInvite", "(a{sv})", {"ttl": GLib.Variant("u", 300)})
    assert stored_codes(a) == [code]
    claim = stored_claim(keyring, code)
    assert claim and len(claim) >= 32, "the claim is not in the keyring"

    a.kill(sig)
    a.start()
    a.wait(lambda: invite_calls(a, code), 15, "the invite to come back")
    [(path, props)] = invite_calls(a, code)
    assert props["State"] == "searching" and props["Kind"] == "invite"
    listed = vchatctl(a, "list")
    assert "searching  invite" in listed, listed
    assert code in vchatctl(a, "show", path.rsplit("/", 1)[-1])

    pb = join_when_back(b, link)
    a.wait_call_state(path, "incoming", 15)
    assert a.call_prop(path, "Peer")["name"].startswith("Blue")
    a.call_method(path, "Accept")
    a.wait_call_state(path, "connected", 30)
    b.wait_call_state(pb, "connected", 30)
    assert_sees(pipewire, b, pb, RED, "joiner")
    assert_sees(pipewire, a, path, BLUE, "inviter")

    # Used: it leaves the store and the keyring.
    a.wait(lambda: code not in stored_codes(a), 5, "the used invite to leave the store")
    a.wait(lambda: stored_claim(keyring, code) is None, 10, "the claim to leave the keyring")
    b.call_method(pb, "Hangup")

    # The claim is a secret: in no file of the home (the keyring's own file
    # is encrypted) and in no log.
    assert files_containing(a.xdg["HOME"], claim) == []
    assert claim not in a.log
    assert claim not in b.log
    assert claim not in server.log


def test_invite_expired_while_down_is_not_recreated(inviter, server):
    a, keyring = inviter()
    pa, code, link = a.manager("CreateInvite", "(a{sv})", {"ttl": GLib.Variant("u", 10)})
    assert stored_codes(a) == [code]
    a.kill(9)
    time.sleep(11)
    a.start()
    time.sleep(2)
    assert invite_calls(a, code) == []
    assert code not in stored_codes(a)
    a.wait(lambda: stored_claim(keyring, code) is None, 10, "the claim to leave the keyring")


def test_hangup_cancels_and_forgets_the_invite(inviter, daemons):
    a, keyring = inviter()
    b = daemons("blue")
    pa, code, link = a.manager("CreateInvite", "(a{sv})", {})
    a.call_method(pa, "Hangup")
    assert code not in stored_codes(a)
    with pytest.raises(GLib.Error) as e:
        b.manager("JoinInvite", "(sa{sv})", link, {})
    assert dbus_error_name(e.value) == "io.github.vchat.VChat1.Error.InviteExpired"
    a.wait(lambda: stored_claim(keyring, code) is None, 10, "the claim to leave the keyring")
    # A restart brings nothing back.
    a.kill(15)
    a.start()
    time.sleep(1)
    assert invite_calls(a, code) == []


def test_without_keyring_the_invite_still_works(daemons):
    """No keyring: the claim stays in memory, CreateInvite still answers,
    and the invite is forgotten (not wrongly re-created) after a restart."""
    a = daemons("red")
    pa, code, link = a.manager("CreateInvite", "(a{sv})", {})
    assert a.call_prop(pa, "InviteCode") == code
    assert "no keyring to keep invite claims in" in a.log
    a.kill(9)
    a.start()
    a.wait(lambda: code not in stored_codes(a), 10, "the invite without a claim to be forgotten")
    time.sleep(1)
    assert invite_calls(a, code) == []


def test_invite_reclaimed_after_session_lost(pipewire, inviter, tmp_path):
    """vchatd is away longer than the server's grace time without restarting
    (a suspended laptop): the server ends its session, and the new session
    takes the invite back into the same call object."""
    srv = Signald("--grace", "1", "--ping-interval", "1")
    b = None
    try:
        a, keyring = inviter(srv.ws_url)
        b = Vchatd(str(tmp_path / "b"), srv.ws_url, name="Blue B", env=pipewire.env,
                   args=daemon_args("blue"))
        pa, code, link = a.manager("CreateInvite", "(a{sv})", {"ttl": GLib.Variant("u", 300)})
        os.kill(a.proc.pid, signal.SIGSTOP)
        time.sleep(4)
        os.kill(a.proc.pid, signal.SIGCONT)
        a.wait(lambda: "the old session expired" in a.log, 15, "the session to be lost")
        pb = join_when_back(b, link)
        a.wait_call_state(pa, "incoming", 15)
        a.call_method(pa, "Accept")
        a.wait_call_state(pa, "connected", 30)
        b.wait_call_state(pb, "connected", 30)
        assert code not in stored_codes(a)
    finally:
        if b:
            b.stop()
        srv.stop()
