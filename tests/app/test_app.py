"""The app (app/, build/app/vchat) as a person uses it: under Xvfb, with
real clicks and keys (xdotool), on two or three real daemons with red and
blue cameras and the real server. What is checked is what a person sees:
the other person's colour filling the video area with their own in the
corner, the link in the clipboard, the window on top; and what the daemon
reads (its settings, its calls).

Screenshots (app-*.png) and the apps' logs (app-N.log) are saved in
VCHAT_ARTIFACTS, this test's build directory."""
import os
import shutil
import subprocess
import time
import urllib.parse

from gi.repository import GLib

from appenv import artifact, load, scan, shows_call
from callenv import wait_for
from signald import Signald

NOTIFY_NAME = "org.freedesktop.Notifications"
NOTIFY_PATH = "/org/freedesktop/Notifications"


def active_call(d):
    calls = [p for p in d.calls() if d.call_prop(p, "State") != "ended"]
    return calls[-1] if calls else None


def test_start_click_shows_the_stranger_and_next_finds_another(daemons, apps):
    """Start is clicked; the stranger's blue picture fills the video area
    with the red preview in the corner; Escape (Next) meets a new stranger;
    the window still works 360 px wide."""
    a, b = daemons("red", "blue")
    app = apps(a)
    app.window()
    app.screenshot("app-start.png")
    app.click_accent_button("app-start.png")
    a.wait(lambda: active_call(a) is not None, 20, "the app's click to start a random call")
    first = active_call(a)
    assert a.call_prop(first, "Kind") == "random"
    b.manager("StartRandom", "(a{sv})", {})
    a.wait_call_state(first, "connected", 30)

    found = app.wait_picture("app-random.png", "blue", "red")
    assert shows_call(found, "blue", "red"), f"the call does not show as expected: {found}"

    # Next, from the keyboard: the call ends as "next", a new search starts;
    # a third desktop (also blue) meets it: the server keeps A and B apart
    # for a while after a Next.
    app.key("Escape")
    a.wait_call_state(first, "ended", 15)
    assert a.call_prop(first, "EndReason") == "next"
    a.wait(lambda: active_call(a) not in (None, first), 15, "Next to search again")
    second = active_call(a)
    c = daemons("blue")
    c.manager("StartRandom", "(a{sv})", {})
    a.wait_call_state(second, "connected", 30)
    assert a.call_prop(second, "Peer")["name"] == c.args[c.args.index("--name") + 1]
    found = app.wait_picture("app-next.png", "blue", "red")
    assert shows_call(found, "blue", "red"), f"after Next, no picture of the new stranger: {found}"

    # Ctrl+M mutes: the daemon's call says so
    app.key("ctrl+m")
    a.wait(lambda: a.call_prop(second, "Muted") is True, 10, "Ctrl+M to mute the call")
    app.key("ctrl+m")
    a.wait(lambda: a.call_prop(second, "Muted") is False, 10, "Ctrl+M to unmute the call")

    # a phone-sized window: the picture is still there, the window as narrow
    wid = app.window()
    app.xdotool("windowsize", "--sync", wid, 360, 720)
    time.sleep(2)
    geometry = app.xdotool("getwindowgeometry", wid)
    width = int(geometry.split("Geometry:")[1].split("x")[0])
    assert width <= 370, f"the window does not shrink to 360 px: {geometry}"
    # the picture keeps its shape, so in a tall window the preview sits in
    # the lower right corner of the video area, below the picture
    deadline = time.monotonic() + 20
    while True:
        image = load(app.screenshot("app-narrow.png"))
        # below the header bar (its Stop button is red too)
        blue, red = scan(image, (0, 0, 255)), scan(image, (255, 0, 0), (0, 60, 400, 799))
        if blue[0] > 40_000 and red[0] > 8_000 or time.monotonic() > deadline:
            break
        time.sleep(1)
    print(f"app-narrow.png: blue {blue}, red {red}")
    assert blue[0] > 40_000 and blue[1][2] <= 370, f"no picture in the narrow window: {blue}"
    assert red[0] > 8_000, f"no preview in the narrow window: {red}"
    rx0, ry0, rx1, ry1 = red[1]
    assert (rx0 + rx1) / 2 > 180 and (ry0 + ry1) / 2 > 360 and rx1 <= 370, \
        f"the preview is not in the lower right corner: {red}"
    assert red[0] * 4 < blue[0], (blue, red)


def desktop_env(tmp_path, app_binary):
    """XDG data dirs where the app's desktop file (Exec pointing at the
    build) handles vchat:// links, as `meson install` makes them."""
    apps_dir = tmp_path / "xdg-data" / "applications"
    apps_dir.mkdir(parents=True)
    with open(os.environ["VCHAT_APP_DESKTOP"]) as f:
        desktop = f.read()
    desktop = desktop.replace("Exec=vchat %U", f"Exec={app_binary} %U")
    (apps_dir / "io.github.vchat.VChat.desktop").write_text(desktop)
    subprocess.run(["update-desktop-database", str(apps_dir)], check=True, timeout=30)
    return {"XDG_DATA_DIRS": f"{tmp_path / 'xdg-data'}:/usr/share"}


def test_invite_link_opened_in_a_second_app_connects(daemons, apps, tmp_path):
    """A's app makes an invite (Ctrl+I), its Copy Link button puts the link
    with its server in the clipboard; on B's desktop `gio open LINK` reaches
    B's running app (single instance, x-scheme-handler/vchat), which joins;
    Accept is clicked in A's app; each sees the other's colour."""
    if not shutil.which("gio") or not shutil.which("update-desktop-database"):
        import pytest
        pytest.skip("gio or update-desktop-database is missing")
    a, b = daemons("red", "blue")
    app_a = apps(a)
    app_a.window()
    app_a.find_accent_button("app-invite-start.png")  # online: Start is blue
    app_a.key("ctrl+i")
    a.wait(lambda: active_call(a) is not None, 20, "Ctrl+I to create an invite")
    invite_call = active_call(a)
    app_a.click_accent_button("app-invite.png")  # Copy Link
    app_a.wait_log("toast: Link copied")
    link = app_a.clipboard()
    print(f"link in the clipboard: {link}")
    server = a.manager_prop("Server")
    code = a.call_prop(invite_call, "InviteCode")
    assert link == f"vchat://join/{code}?server={server}", (link, server, code)
    # a QR code on the invite page: black and white modules in a square,
    # which a reader decodes to the same link
    image = load(artifact("app-invite.png"))
    black = scan(image, (0, 0, 0), tolerance=10)
    assert black[0] > 5_000, f"no QR code on the invite page: {black}"
    if shutil.which("zbarimg"):
        qr = subprocess.run(["zbarimg", "--raw", "-q", artifact("app-invite.png")],
                            capture_output=True, text=True, timeout=30)
        assert qr.stdout.strip() == link, (qr.stdout, qr.stderr)
    else:
        print("zbarimg (zbar-tools) is not installed: the QR code is not decoded")

    env = desktop_env(tmp_path, os.environ["VCHAT_APP"])
    app_b = apps(b, env=env)
    app_b.window()
    opened = subprocess.run(["gio", "open", link], env=app_b.env, capture_output=True, text=True,
                            timeout=30)
    assert opened.returncode == 0, opened.stderr
    b.wait(lambda: active_call(b) is not None, 20, "the opened link to join the invite")
    joined = active_call(b)
    assert b.call_prop(joined, "Kind") == "invite"
    a.wait_call_state(invite_call, "incoming", 20)

    app_a.click_accent_button("app-incoming.png")  # Accept
    a.wait_call_state(invite_call, "connected", 30)
    found = app_a.wait_picture("app-invite-call-a.png", "blue", "red")
    assert shows_call(found, "blue", "red"), f"A's window: {found}"
    found = app_b.wait_picture("app-invite-call-b.png", "red", "blue")
    assert shows_call(found, "red", "blue"), f"B's window: {found}"
    # gio open started no second app: B's first one joined
    assert len([x for x in app_b.output().splitlines() if "open vchat://join/" in x]) == 1


def test_invite_of_another_server_asks_to_switch(daemons, apps, pipewire, tmp_path):
    """A link that names another server: the app says so and offers to
    switch the server setting (the blue default answer); after the switch,
    it joins there."""
    from vchatd import Vchatd

    a = daemons("red")
    other = Signald()
    b = None
    try:
        b = Vchatd(str(tmp_path / "other"), other.ws_url, name="Blue elsewhere", env=pipewire.env,
                   args=["--camera", "vchat-test-cam-blue", "--audio-source",
                         "audiotestsrc is-live=true wave=sine freq=660", "--audio-sink", "fakesink"])
        call_b, code, _ = b.manager("CreateInvite", "(a{sv})", {})
        link = f"vchat://join/{code}?server={urllib.parse.quote(other.ws_url, safe=':/')}"
        app = apps(a, link)
        app.window()
        dialog = app.dialog()
        app.screenshot("app-other-server.png")
        # its default answer: Switch Server and Join
        app.key("Return", window=dialog)
        a.wait(lambda: a.manager_prop("Server") == other.ws_url, 20,
               "the daemon to switch to the invite's server")
        b.wait_call_state(call_b, "incoming", 30)
        b.call_method(call_b, "Accept")
        b.wait_call_state(call_b, "connected", 30)
        found = app.wait_picture("app-other-server-call.png", "blue", "red")
        assert shows_call(found, "blue", "red"), found
    finally:
        if b:
            b.stop()
        other.stop()


class NotificationServer:
    """python3-dbusmock's notification daemon on a daemon's bus."""

    def __init__(self, d):
        import json
        import sys
        self.d = d
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=d.bus.address)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dbusmock", "--session", "--template", "notification_daemon",
             "-p", json.dumps({"capabilities": "body actions"})],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        d.wait(lambda: d.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "NameHasOwner",
                                        GLib.Variant("(s)", (NOTIFY_NAME,)), None, 0, 2000,
                                        None).unpack()[0], 10, "the mock notification server")
        time.sleep(0.3)

    def _mock(self, method, signature=None, *args):
        r = self.d.conn.call_sync(NOTIFY_NAME, NOTIFY_PATH, "org.freedesktop.DBus.Mock", method,
                                  GLib.Variant(signature, args) if signature else None, None,
                                  0, 5000, None)
        return r.unpack() if r is not None else ()

    def incoming_id(self):
        """The id of the newest "is calling" notification, as the mock
        numbers them; None before one."""
        next_id, found = 1, None
        for _, args in self._mock("GetMethodCalls", "(s)", "Notify")[0]:
            nid = args[1] or next_id
            if not args[1]:
                next_id += 1
            if args[6].get("category") == "call.incoming":
                found = nid
        return found

    def invoke(self, nid, action):
        self._mock("EmitSignal", "(sssav)", NOTIFY_NAME, "ActionInvoked", "us",
                   [GLib.Variant("u", nid), GLib.Variant("s", action)])

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def test_notification_accept_raises_the_app_in_the_call(daemons, apps):
    """A's app made an invite and was covered by another window; B joins;
    Accept on vchatd's notification brings A's window on top, in the call."""
    a, b = daemons("red", "blue")
    notifications = NotificationServer(a)
    try:
        app = apps(a)
        app.window()
        app.find_accent_button("app-notify-start.png")
        app.key("ctrl+i")
        a.wait(lambda: active_call(a) is not None, 20, "Ctrl+I to create an invite")
        invite_call = active_call(a)
        app.wait_log("invite link: ")
        link = [x for x in app.output().splitlines() if "invite link: " in x][-1].split("invite link: ")[1]

        app.cover()
        covered = load(app.screenshot("app-notify-covered.png"))
        assert scan(covered, (0, 255, 0))[0] > 800_000, "the green window does not cover the app"

        b.manager("JoinInvite", "(sa{sv})", link.split("?")[0], {})
        a.wait_call_state(invite_call, "incoming", 20)
        wait_for(lambda: notifications.incoming_id() is not None, 10, "the incoming notification")
        notifications.invoke(notifications.incoming_id(), "accept")
        a.wait_call_state(invite_call, "connected", 30)
        found = app.wait_picture("app-notify-accepted.png", "blue", "red")
        assert shows_call(found, "blue", "red"), f"the app did not come forward in the call: {found}"
        green = scan(load(artifact("app-notify-accepted.png")), (0, 255, 0))[0]
        assert green < 400_000, f"the green window is still on top ({green} green pixels)"
    finally:
        notifications.stop()


def test_notification_accept_starts_the_app_by_dbus_activation(daemons, apps):
    """The app is installed (its D-Bus service file on A's bus) but not
    running. A made an invite with vchatctl's API; B joins; Accept on
    vchatd's notification answers the call and activates app.show-call,
    so D-Bus starts the app, whose window shows the call: B's blue, A's red
    in its corner."""
    a, b = daemons("red", "blue")
    notifications = NotificationServer(a)
    try:
        app = apps.activatable(a)
        invite_call, code, _ = a.manager("CreateInvite", "(a{sv})", {})
        b.manager("JoinInvite", "(sa{sv})", code, {})
        a.wait_call_state(invite_call, "incoming", 20)
        wait_for(lambda: notifications.incoming_id() is not None, 10, "the incoming notification")
        assert not os.path.exists(app.pid_path), "the app ran before anything activated it"
        notifications.invoke(notifications.incoming_id(), "accept")
        a.wait_call_state(invite_call, "connected", 30)
        app.started(30)
        app.window(30)
        app.wait_log(f"show call {invite_call}", 20)
        found = app.wait_picture("app-activated-call.png", "blue", "red", timeout=40)
        assert shows_call(found, "blue", "red"), f"the activated app does not show the call: {found}"
    finally:
        notifications.stop()


def test_preferences_write_the_settings_the_daemon_reads(daemons, apps):
    """Ctrl+comma opens the preferences; a display name typed there is what
    vchatctl (the same GSettings as vchatd) reads; a new server typed there
    makes the running daemon connect to it."""
    a = daemons("red")
    app = apps(a)
    app.window()
    app.key("ctrl+comma")
    time.sleep(1.5)
    app.type("Ada Lovelace")
    app.xdotool("key", "Return")
    app.screenshot("app-preferences.png")
    wait_for(lambda: a.vchatctl("config", "get", "display-name").stdout.strip() == "Ada Lovelace",
             10, "the display name to reach the settings")
    other = Signald()
    try:
        app.xdotool("key", "Tab")
        time.sleep(0.3)
        app.type(other.ws_url)
        app.xdotool("key", "Return")
        app.screenshot("app-preferences-server.png")
        a.wait(lambda: a.manager_prop("Server") == other.ws_url, 15,
               "vchatd to follow the server typed in the preferences")
        a.wait(lambda: a.manager_prop("SignalingState") == "online", 15, "vchatd online there")
        assert a.vchatctl("config", "get", "server-url").stdout.strip() == other.ws_url
    finally:
        # back to the test's server before the fixtures stop it
        a.vchatctl("config", "reset", "server-url")
        other.stop()


def test_menu_about_shortcuts_and_history(daemons, apps):
    """The main menu (F10), About (through org.freedesktop.Application, as
    the shell would ask), the shortcuts window (Ctrl+?) and the history of a
    call that ended (Ctrl+H) each open a window; screenshots of each."""
    a, b = daemons("red", "blue")
    pa = a.manager("StartRandom", "(a{sv})", {})
    b.manager("StartRandom", "(a{sv})", {})
    a.wait_call_state(pa, "connected", 30)
    a.call_method(pa, "Hangup")
    a.wait_call_state(pa, "ended", 10)
    a.wait(lambda: len(a.manager("GetHistory", "(u)", 10)) == 1, 10, "the call in the history")

    app = apps(a)
    main = app.window()
    app.find_accent_button("app-menu-start.png")
    app.key("F10")
    time.sleep(1)
    app.screenshot("app-menu.png")
    app.xdotool("key", "Escape")

    r = subprocess.run(["gapplication", "action", "io.github.vchat.VChat", "about"], env=app.env,
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    about = app.dialog()
    time.sleep(1)
    app.screenshot("app-about.png")
    app.key("Escape", window=about)
    wait_for(lambda: app.xdotool("search", "--onlyvisible", "--pid", app.proc.pid,
                                 check=False).split() == [main], 10, "About to close")

    app.key("ctrl+question")
    shortcuts = app.dialog()
    time.sleep(1)
    app.screenshot("app-shortcuts.png")
    app.key("Escape", window=shortcuts)
    wait_for(lambda: app.xdotool("search", "--onlyvisible", "--pid", app.proc.pid,
                                 check=False).split() == [main], 10, "the shortcuts to close")

    app.key("ctrl+h")
    app.dialog()
    time.sleep(1.5)
    app.screenshot("app-history.png")
    app.wait_log("history: 1 call")


def test_call_controls_chat_and_block(daemons, apps):
    """A call another program started (over D-Bus) shows in the app; Ctrl+E
    turns the camera off and on; Ctrl+T opens the chat, where a typed
    message reaches the stranger and theirs shows; Block (the window's
    exported action, as its button does) remembers the stranger's name and
    moves on."""
    a, b = daemons("red", "blue")
    app = apps(a)
    app.window()
    app.find_accent_button("app-controls-start.png")
    pa = a.manager("StartRandom", "(a{sv})", {})
    pb = b.manager("StartRandom", "(a{sv})", {})
    a.wait_call_state(pa, "connected", 30)
    found = app.wait_picture("app-controls-call.png", "blue", "red")
    assert shows_call(found, "blue", "red"), found

    app.key("ctrl+e")
    a.wait(lambda: a.call_prop(pa, "CameraEnabled") is False, 10, "Ctrl+E to turn the camera off")
    app.key("ctrl+e")
    a.wait(lambda: a.call_prop(pa, "CameraEnabled") is True, 10, "Ctrl+E to turn it on again")

    received = []
    b.conn.signal_subscribe(None, "io.github.vchat.VChat1.Call", "MessageReceived", None, None, 0,
                            lambda *args: received.append(args[5].unpack()[0]))
    app.key("ctrl+t")
    time.sleep(1)
    app.type("hello from the app")
    app.xdotool("key", "Return")
    ctx = GLib.MainContext.default()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not received:
        ctx.iteration(False)
        time.sleep(0.05)
    assert received == ["hello from the app"]
    b.call_method(pb, "SendMessage", "(s)", "hi from blue")
    app.wait_log("chat from the peer: hi from blue")
    time.sleep(0.5)
    app.screenshot("app-chat.png")

    r = subprocess.run(["gdbus", "call", "--session", "--dest", "io.github.vchat.VChat",
                        "--object-path", "/io/github/vchat/VChat/window/1",
                        "--method", "org.gtk.Actions.Activate", "block", "[]", "{}"],
                       env=app.env, capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    a.wait_call_state(pa, "ended", 10)
    assert a.call_prop(pa, "EndReason") == "next"
    name = a.call_prop(pa, "Peer")["name"]
    app.wait_log(f"toast: Blocked {name}")
    with open(os.path.join(a.xdg["XDG_CONFIG_HOME"], "vchat", "blocked-names")) as f:
        assert f.read().splitlines() == [name]
    # met again (once the server lets the two meet again after a Next), the
    # blocked stranger is skipped at once
    b.wait_call_state(pb, "ended", 10)
    pb2 = b.manager("StartRandom", "(a{sv})", {})
    app.wait_log(f"toast: Skipped {name}", timeout=45)
    b.wait_call_state(pb2, "ended", 15)
    assert b.call_prop(pb2, "EndReason") == "peer-next"


def test_phone_sized_start_page(daemons, apps):
    """360 px wide, the start page still shows Start whole, and the
    empty state explains the first step above it."""
    a = daemons("red")
    app = apps(a)
    wid = app.window()
    app.xdotool("windowsize", "--sync", wid, 360, 640)
    time.sleep(1.5)
    geometry = app.xdotool("getwindowgeometry", wid)
    assert int(geometry.split("Geometry:")[1].split("x")[0]) <= 370, geometry
    x, y = app.find_accent_button("app-narrow-start.png")
    assert x < 360, (x, y)
    app.click(x, y)
    a.wait(lambda: active_call(a) is not None, 20, "Start, clicked in the narrow window")
    time.sleep(1)
    app.screenshot("app-narrow-searching.png")


def test_join_dialog_takes_a_code(daemons, apps):
    """Ctrl+J asks for a link or a code; a code typed there joins the
    friend's invite on this server."""
    a, b = daemons("red", "blue")
    call_b, code, _ = b.manager("CreateInvite", "(a{sv})", {})
    app = apps(a)
    app.window()
    app.find_accent_button("app-join-start.png")
    app.key("ctrl+j")
    dialog = app.dialog()
    time.sleep(0.5)
    app.xdotool("windowfocus", "--sync", dialog)
    app.type(code)
    app.screenshot("app-join-dialog.png")
    app.xdotool("key", "Return")
    a.wait(lambda: active_call(a) is not None, 15, "the typed code to join the invite")
    b.wait_call_state(call_b, "incoming", 20)
    assert a.call_prop(active_call(a), "Kind") == "invite"


def test_escape_in_the_chat_clears_then_asks_before_next(daemons, apps):
    """Escape is Next, but not while typing: in the chat entry it first
    clears the message being written; in the empty entry it asks for a
    second Escape (a toast), which moves on only if it comes within 3 s."""
    a, b = daemons("red", "blue")
    app = apps(a)
    app.window()
    app.find_accent_button("app-escape-start.png")
    pa = a.manager("StartRandom", "(a{sv})", {})
    pb = b.manager("StartRandom", "(a{sv})", {})
    a.wait_call_state(pa, "connected", 30)
    found = app.wait_picture("app-escape-call.png", "blue", "red")
    assert shows_call(found, "blue", "red"), found

    received = []
    b.conn.signal_subscribe(None, "io.github.vchat.VChat1.Call", "MessageReceived", pb, None, 0,
                            lambda *args: received.append(args[5].unpack()[0]))
    app.key("ctrl+t")
    time.sleep(1)
    app.type("half a message")
    app.xdotool("key", "Escape")
    app.wait_log("Next in the chat: the message is cleared")
    # what is typed next is a message of its own: the draft is gone
    app.type("ok")
    app.xdotool("key", "Return")
    ctx = GLib.MainContext.default()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not received:
        ctx.iteration(False)
        time.sleep(0.05)
    assert received == ["ok"], received
    assert a.call_prop(pa, "State") == "connected"

    # the entry is empty: Escape asks, and an answer that comes too late
    # asks again
    app.xdotool("key", "Escape")
    app.wait_log("Next in the chat: asking for a second one")
    app.screenshot("app-escape-confirm.png")
    time.sleep(3.5)
    assert a.call_prop(pa, "State") == "connected", "the first Escape in the chat ended the call"
    app.xdotool("key", "Escape")
    wait_for(lambda: app.output().count("asking for a second one") == 2, 5,
             "a late second Escape to ask again")
    assert a.call_prop(pa, "State") == "connected", "a late second Escape ended the call"
    # a second Escape in time: Next
    app.xdotool("key", "Escape")
    a.wait_call_state(pa, "ended", 15)
    assert a.call_prop(pa, "EndReason") == "next"


def test_app_speaks_german(daemons, apps, tmp_path):
    """With a German locale (compiled by the test) and the build's
    catalogue, the app's windows are German: the History window's title,
    as X has it, is "Verlauf"; screenshots of the start page and History."""
    localedir = os.environ.get("VCHAT_LOCALEDIR", "")
    if not shutil.which("localedef") or not os.path.exists("/usr/share/i18n/locales/de_DE"):
        import pytest
        pytest.skip("needs localedef and Debian's locales package")
    assert os.path.exists(os.path.join(localedir, "de", "LC_MESSAGES", "vchat.mo")), \
        f"no German catalogue under VCHAT_LOCALEDIR={localedir!r}"
    locpath = tmp_path / "locales"
    locpath.mkdir()
    subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8", str(locpath / "de_DE.UTF-8")],
                   check=True, capture_output=True, timeout=120)
    a = daemons("red")
    app = apps(a, env={"LOCPATH": str(locpath), "LANG": "de_DE.UTF-8", "LC_ALL": "de_DE.UTF-8",
                       "VCHAT_LOCALEDIR": localedir})
    main = app.window()
    app.find_accent_button("app-german-start.png")
    app.key("ctrl+h")
    history = app.dialog()
    time.sleep(1)
    app.screenshot("app-german-history.png")
    assert app.xdotool("getwindowname", history) == "Verlauf"
    assert app.xdotool("getwindowname", main) == "vchat"
