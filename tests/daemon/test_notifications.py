"""Desktop notifications: python3-dbusmock's notification daemon on the
daemon's private session bus records what vchatd shows, and presses its
buttons the way a person would (ActionInvoked). An accepted call must then
carry the peer's camera picture, as in test_calls.py."""
import json
import os
import subprocess
import sys
import time

from gi.repository import Gio, GLib

from conftest import BLUE, close_to
from vchatd import Vchatd

NOTIFY_NAME = "org.freedesktop.Notifications"
NOTIFY_PATH = "/org/freedesktop/Notifications"
PLAIN = ["--no-pipewire-nodes", "--audio-source", "audiotestsrc is-live=true",
         "--audio-sink", "fakesink"]
NOTIFY_ARGS = ("app_name", "replaces_id", "app_icon", "summary", "body", "actions", "hints",
               "timeout")


class NotificationServer:
    """The dbusmock notification_daemon template on a daemon's bus."""

    def __init__(self, d, caps="body actions"):
        self.d = d
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=d.bus.address)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dbusmock", "--session", "--template", "notification_daemon",
             "-p", json.dumps({"capabilities": caps})],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        d.wait(self._owned, 10, "the mock notification server on the bus")
        # The owner is on the bus; let the daemon hear of it before a call.
        time.sleep(0.3)

    def _owned(self):
        try:
            self.d.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                  "org.freedesktop.DBus", "GetNameOwner",
                                  GLib.Variant("(s)", (NOTIFY_NAME,)), None,
                                  Gio.DBusCallFlags.NO_AUTO_START, 2000, None)
            return True
        except GLib.Error:
            return False

    def _mock(self, method, signature=None, *args):
        r = self.d.conn.call_sync(NOTIFY_NAME, NOTIFY_PATH, "org.freedesktop.DBus.Mock", method,
                                  GLib.Variant(signature, args) if signature else None, None,
                                  Gio.DBusCallFlags.NO_AUTO_START, 5000, None)
        return r.unpack() if r is not None else ()

    def calls(self, method):
        return [args for _, args in self._mock("GetMethodCalls", "(s)", method)[0]]

    def notifications(self):
        """Every Notify call so far, with its return id worked out as the mock does."""
        out = []
        next_id = 1
        for args in self.calls("Notify"):
            n = dict(zip(NOTIFY_ARGS, args))
            if n["replaces_id"]:
                n["id"] = n["replaces_id"]
            else:
                n["id"] = next_id
                next_id += 1
            out.append(n)
        return out

    def wait_notification(self, predicate, what, timeout=10):
        found = []

        def check():
            found[:] = [n for n in self.notifications() if predicate(n)]
            return bool(found)

        self.d.wait(check, timeout, what)
        return found[-1]

    def invoke(self, nid, action):
        self._mock("EmitSignal", "(sssav)", NOTIFY_NAME, "ActionInvoked", "us",
                   [GLib.Variant("u", nid), GLib.Variant("s", action)])

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def ring(a, b):
    """B joins A's invite; returns both call paths with A's call incoming."""
    pa, code, link = a.manager("CreateInvite", "(a{sv})", {"ttl": GLib.Variant("u", 120)})
    pb = b.manager("JoinInvite", "(sa{sv})", link, {})
    a.wait_call_state(pa, "incoming", 10)
    return pa, pb


def is_incoming(n):
    return n["hints"].get("category") == "call.incoming"


def assert_no_warnings(d):
    bad = [line for line in d.log.splitlines() if "WARNING" in line or "CRITICAL" in line]
    assert not bad, "\n".join(bad)


def test_incoming_call_notification_accept_carries_picture(pipewire, daemons):
    a, b = daemons("red", "blue")
    srv = NotificationServer(a)
    try:
        pa, pb = ring(a, b)
        n = srv.wait_notification(is_incoming, "the incoming-call notification")
        peer = a.call_prop(pa, "Peer")["name"]
        assert peer.startswith("Blue")
        assert peer in n["summary"] and peer in n["body"], n
        assert n["hints"]["urgency"] == 2, n
        assert n["hints"]["desktop-entry"] == "io.github.vchat.VChat", n
        assert n["app_icon"] == "io.github.vchat.VChat1", n
        assert n["actions"] == ["accept", "Accept", "decline", "Decline"], n
        assert "vchatctl accept" not in n["body"]

        srv.invoke(n["id"], "accept")
        a.wait_call_state(pa, "connected", 30)
        b.wait_call_state(pb, "connected", 30)
        node = a.remote_video_node(pa)
        got = pipewire.read_color(node, timeout=15)
        assert close_to(got, BLUE), f"the inviter sees {got}, expected about {BLUE}"

        # A second press, or a late D-Bus Accept, changes nothing.
        srv.invoke(n["id"], "accept")
        try:
            a.call_method(pa, "Accept")
            raise AssertionError("a second Accept succeeded")
        except GLib.Error as e:
            assert "InvalidState" in e.message, e.message
        assert a.call_prop(pa, "State") == "connected"
        assert_no_warnings(a)
    finally:
        srv.stop()


def test_decline_from_notification_rejects(daemons):
    a, b = daemons("red", "blue")
    srv = NotificationServer(a)
    try:
        pa, pb = ring(a, b)
        n = srv.wait_notification(is_incoming, "the incoming-call notification")
        srv.invoke(n["id"], "decline")
        a.wait_call_state(pa, "ended")
        b.wait_call_state(pb, "ended")
        assert a.call_prop(pa, "EndReason") == "rejected"
        assert b.call_prop(pb, "EndReason") == "rejected"
        # Declining is the user's own doing: no missed-call notification.
        time.sleep(0.5)
        assert [x["summary"] for x in srv.notifications()] == [n["summary"]]
    finally:
        srv.stop()


def test_answered_elsewhere_replaces_or_closes(daemons):
    a, b = daemons("red", "blue")
    srv = NotificationServer(a)
    try:
        pa, pb = ring(a, b)
        n = srv.wait_notification(is_incoming, "the incoming-call notification")
        a.call_method(pa, "Accept")
        r = srv.wait_notification(lambda x: x["summary"] == "Call connected",
                                  "the notification to say the call was answered")
        assert r["replaces_id"] == n["id"], r
        assert r["actions"] == [], r
        a.call_method(pa, "Hangup")
        a.wait_call_state(pa, "ended")

        # Rejected with D-Bus: the question is closed.
        pa, pb = ring(a, b)
        n = srv.wait_notification(lambda x: is_incoming(x) and x["replaces_id"] == 0
                                  and x["id"] != r["id"], "the second incoming notification")
        a.call_method(pa, "Reject")
        b.wait_call_state(pb, "ended")
        a.wait(lambda: n["id"] in [c[0] for c in srv.calls("CloseNotification")], 10,
               "the notification to be closed")
    finally:
        srv.stop()


def test_missed_call(daemons):
    a, b = daemons("red", "blue")
    srv = NotificationServer(a)
    try:
        pa, pb = ring(a, b)
        n = srv.wait_notification(is_incoming, "the incoming-call notification")
        b.call_method(pb, "Hangup")
        a.wait_call_state(pa, "ended")
        peer = a.call_prop(pa, "Peer")["name"]
        m = srv.wait_notification(lambda x: x["summary"].startswith("Missed call"),
                                  "the missed-call notification")
        assert m["summary"] == f"Missed call from {peer}", m
        assert m["replaces_id"] == n["id"] and m["actions"] == [], m
        assert m["hints"]["urgency"] == 1, m
    finally:
        srv.stop()


def test_peer_hangup_is_call_ended(daemons):
    a, b = daemons("red", "blue")
    srv = NotificationServer(a)
    try:
        pa, pb = ring(a, b)
        a.call_method(pa, "Accept")
        b.wait_call_state(pb, "connected", 30)
        b.call_method(pb, "Hangup")
        a.wait_call_state(pa, "ended")
        peer = a.call_prop(pa, "Peer")["name"]
        e = srv.wait_notification(lambda x: x["summary"] == "Call ended",
                                  "the call-ended notification")
        assert e["body"] == f"{peer} hung up.", e
    finally:
        srv.stop()


def test_no_action_buttons_says_how_to_answer(daemons):
    a, b = daemons("red", "blue")
    srv = NotificationServer(a, caps="body")
    try:
        pa, pb = ring(a, b)
        n = srv.wait_notification(is_incoming, "the incoming-call notification")
        assert n["actions"] == [], n
        assert "Answer with: vchatctl accept" in n["body"], n
        assert "vchatctl reject" in n["body"], n
        a.call_method(pa, "Accept")
        a.wait_call_state(pa, "connected", 30)
    finally:
        srv.stop()


def test_turned_off_sends_nothing(server, tmp_path):
    a = Vchatd(str(tmp_path / "a"), server.ws_url, name="Ada",
               args=PLAIN + ["--video-source", "videotestsrc is-live=true"],
               settings={"notifications": GLib.Variant("b", False)})
    b = Vchatd(str(tmp_path / "b"), server.ws_url, name="Bob",
               args=PLAIN + ["--video-source", "videotestsrc is-live=true"])
    srv = NotificationServer(a)
    try:
        pa, pb = ring(a, b)
        b.call_method(pb, "Hangup")
        a.wait_call_state(pa, "ended")
        time.sleep(1)
        assert srv.calls("Notify") == []
        assert "notifications are turned off" in a.log

        # The key is read live: turned on, the next call rings on the desktop.
        a.write_settings({"notifications": GLib.Variant("b", True)})
        a.wait(lambda: "notifications turned on" in a.log, 10, "the daemon to see the setting")
        pa, pb = ring(a, b)
        srv.wait_notification(is_incoming, "the incoming-call notification")
    finally:
        srv.stop()
        a.stop()
        b.stop()


def test_no_notification_server_call_works(pipewire, daemons):
    a, b = daemons("red", "blue")
    pa, pb = ring(a, b)
    a.call_method(pa, "Accept")
    a.wait_call_state(pa, "connected", 30)
    b.wait_call_state(pb, "connected", 30)
    b.call_method(pb, "Hangup")
    a.wait_call_state(pa, "ended")
    assert "no notification server on the bus" in a.log
    assert_no_warnings(a)


def test_camera_lost_during_call(server, tmp_path):
    # A camera that gives nothing stands in for one that stopped: the media
    # session's device-failed path, after its source timeout.
    stalled = ("appsrc is-live=true format=time "
               "caps=\"video/x-raw,format=I420,width=320,height=240,framerate=15/1\"")
    a = Vchatd(str(tmp_path / "a"), server.ws_url, name="Ada",
               args=PLAIN + ["--video-source", stalled])
    b = Vchatd(str(tmp_path / "b"), server.ws_url, name="Bob",
               args=PLAIN + ["--video-source", "videotestsrc is-live=true"])
    srv = NotificationServer(a)
    try:
        pa, pb = ring(a, b)
        a.call_method(pa, "Accept")
        a.wait_call_state(pa, "connected", 30)
        c = srv.wait_notification(lambda x: x["summary"] == "Camera lost",
                                  "the camera-lost notification", timeout=20)
        assert "the call with Bob goes on without your picture" in c["body"], c
        assert a.call_prop(pa, "State") == "connected"
    finally:
        srv.stop()
        a.stop()
        b.stop()


def test_reconnecting_and_reconnected(daemons):
    """B's daemon freezes (SIGSTOP) for 9 s mid-call: A's media stops, its
    call goes reconnecting and, after 2 s of it, says so; when B is back the
    same call reconnects and says so. A drop shorter than 2 s says nothing
    (checked by the absence of a notification before the first 2 s)."""
    a, b = daemons("red", "blue")
    srv = NotificationServer(a)
    try:
        pa = a.manager("StartRandom", "(a{sv})", {})
        pb = b.manager("StartRandom", "(a{sv})", {})
        a.wait_call_state(pa, "connected", 30)
        b.wait_call_state(pb, "connected", 30)
        b.proc.send_signal(19)  # SIGSTOP
        try:
            a.wait_call_state(pa, "reconnecting", 10)
            went = time.monotonic()
            assert not [n for n in srv.notifications() if n["summary"] == "Reconnecting…"]
            e = srv.wait_notification(lambda x: x["summary"] == "Reconnecting…",
                                      "the reconnecting notification")
            assert time.monotonic() - went >= 1.8
            peer = a.call_prop(pa, "Peer")["name"]
            assert e["body"] == f"The connection to {peer} dropped; vchat is trying to get it back."
            time.sleep(max(0, went + 4 - time.monotonic()))
        finally:
            b.proc.send_signal(18)  # SIGCONT
        a.wait_call_state(pa, "connected", 30)
        e = srv.wait_notification(lambda x: x["summary"] == "Reconnected",
                                  "the reconnected notification")
        assert e["body"] == f"The call with {peer} is back.", e
        assert a.call_prop(pa, "Stats")["attempt"] >= 1
        b.wait_call_state(pb, "connected", 10)
    finally:
        srv.stop()
