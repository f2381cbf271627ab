"""The GTK 4 example (examples/vchat-gtk) under Xvfb: it starts a random
call on daemon A (red camera) with --random, daemon B (blue camera) starts
one over D-Bus, and a screenshot of the screen must show B's blue picture
filling the video area with A's red preview in its lower right corner.

The screenshot is saved as vchat-gtk.png in VCHAT_ARTIFACTS (the build
directory of this test)."""
import os
import shutil
import subprocess
import sys
import time

import pytest

from callenv import COLORS, close_to

VCHAT_GTK = os.environ.get("VCHAT_GTK")
WIDTH, HEIGHT = 1280, 800

# Grabs the X screen with GDK 3 (GTK 4 cannot read other windows): no
# ImageMagick needed.
GRAB = """
import sys
import gi
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk
Gdk.init([])
root = Gdk.get_default_root_window()
pixbuf = Gdk.pixbuf_get_from_window(root, 0, 0, root.get_width(), root.get_height())
pixbuf.savev(sys.argv[1], "png", [], [])
"""


def start_xvfb():
    r, w = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", f"{WIDTH}x{HEIGHT}x24",
                             "-nolisten", "tcp", "-noreset"], pass_fds=(w,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    number = b""
    with os.fdopen(r, "rb") as f:
        while not number.endswith(b"\n"):
            chunk = f.read(1)
            if not chunk:
                break
            number += chunk
    if not number.strip():
        proc.kill()
        raise RuntimeError("Xvfb did not start")
    return proc, f":{number.decode().strip()}"


def screenshot(display, path):
    subprocess.run([sys.executable, "-c", GRAB, path], check=True, timeout=20,
                   env=dict(os.environ, DISPLAY=display, GDK_BACKEND="x11"))


def regions(path):
    """(pixel count, bounding box) of the remote colour (blue) on the whole
    screen, and of the preview colour (red) inside that box (the header
    bar's red Stop button is outside it)."""
    import gi
    gi.require_version("GdkPixbuf", "2.0")
    from gi.repository import GdkPixbuf

    pb = GdkPixbuf.Pixbuf.new_from_file(path)
    w, h, stride, n = pb.get_width(), pb.get_height(), pb.get_rowstride(), pb.get_n_channels()
    data = pb.get_pixels()

    def scan(rgb, box):
        count, x0, y0, x1, y1 = 0, w, h, -1, -1
        for y in range(box[1], box[3] + 1, 2):
            row = y * stride
            for x in range(box[0], box[2] + 1, 2):
                i = row + x * n
                if close_to((data[i], data[i + 1], data[i + 2]), rgb, 50):
                    count += 1
                    x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
        return count * 4, (x0, y0, x1, y1)

    found = {"blue": scan(COLORS["blue"], (0, 0, w - 1, h - 1))}
    found["red"] = scan(COLORS["red"], found["blue"][1]) if found["blue"][0] else (0, None)
    return found


def looks_right(found):
    blue_count, (bx0, by0, bx1, by1) = found["blue"]
    red_count, red_box = found["red"]
    if blue_count < 150_000 or red_count < 8_000:
        return False
    rx0, ry0, rx1, ry1 = red_box
    # the preview sits in the lower right quarter of the remote picture and
    # is much smaller
    rcx, rcy = (rx0 + rx1) / 2, (ry0 + ry1) / 2
    return (rcx > (bx0 + bx1) / 2 and rcy > (by0 + by1) / 2
            and rx1 <= bx1 + 20 and ry1 <= by1 + 20 and red_count * 4 < blue_count)


def wait_for_picture(app, display, shot):
    """Screenshots until the call's picture shows as expected; the regions."""
    deadline = time.monotonic() + 30
    found = None
    while time.monotonic() < deadline:
        assert app.poll() is None, f"vchat-gtk exited: {app.communicate()[0][-3000:]}"
        screenshot(display, shot)
        found = regions(shot)
        if looks_right(found):
            break
        time.sleep(1)
    print(f"screenshot: {shot}; colour regions (pixels, bounding box): {found}")
    return found


@pytest.fixture
def gui(daemons):
    """Starts Xvfb, and vchat-gtk on a daemon's bus: gui(daemon, *args)."""
    if not VCHAT_GTK or not os.path.exists(VCHAT_GTK):
        pytest.skip("vchat-gtk was not built (GTK 4 missing)")
    if not shutil.which("Xvfb"):
        pytest.skip("Xvfb is not installed")
    try:
        import gi
        gi.require_version("Gdk", "3.0")
    except ValueError:
        pytest.skip("GDK 3 (gir1.2-gtk-3.0), which takes the screenshots, is not installed")
    xvfb, display = start_xvfb()
    apps = []

    def start(daemon, *args):
        env = dict(daemon.env, DISPLAY=display, GDK_BACKEND="x11", GSK_RENDERER="cairo",
                   GTK_A11Y="none", NO_AT_BRIDGE="1", G_MESSAGES_DEBUG="vchat-gtk")
        app = subprocess.Popen([VCHAT_GTK] + list(args), env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        apps.append(app)
        return app, display

    yield start
    codes = []
    for app in apps:
        # SIGTERM closes the window: the app shuts down cleanly
        app.terminate()
        try:
            out, _ = app.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            app.kill()
            out, _ = app.communicate()
        codes.append((app.returncode, out))
        if os.environ.get("VCHAT_TEST_LOGS"):
            print(f"--- vchat-gtk ---\n{out}")
    xvfb.terminate()
    xvfb.wait(10)
    for code, out in codes:
        assert code == 0, f"vchat-gtk did not end cleanly ({code}):\n{out[-3000:]}"


def artifact(name):
    return os.path.join(os.environ.get("VCHAT_ARTIFACTS", os.getcwd()), name)


def test_gtk_example_shows_the_call(daemons, gui):
    """--random: the app's own random call meets daemon B's."""
    a, b = daemons("red", "blue")
    app, display = gui(a, "--random")
    # the app's own call appears on A's bus; B then meets it
    a.wait(lambda: len(a.calls()) == 1, 20, "vchat-gtk to start a random call")
    call_a = a.calls()[0]
    b.manager("StartRandom", "(a{sv})", {})
    a.wait_call_state(call_a, "connected", 30)

    found = wait_for_picture(app, display, artifact("vchat-gtk.png"))
    assert looks_right(found), f"the window does not show the call as expected: {found}"
    assert a.call_prop(call_a, "State") == "connected"
    assert app.poll() is None


def test_gtk_example_joins_an_invite(daemons, gui):
    """--join LINK: the app joins B's invite, B accepts, the picture shows."""
    a, b = daemons("red", "blue")
    call_b, code, link = b.manager("CreateInvite", "(a{sv})", {})
    app, display = gui(a, "--join", link)
    b.wait_call_state(call_b, "incoming", 20)
    b.call_method(call_b, "Accept")
    b.wait_call_state(call_b, "connected", 30)

    found = wait_for_picture(app, display, artifact("vchat-gtk-invite.png"))
    assert looks_right(found), f"the window does not show the call as expected: {found}"
    call_a = a.calls()[0]
    assert a.call_prop(call_a, "Kind") == "invite"
    # hanging up from B ends it in the window too: the picture goes
    b.call_method(call_b, "Hangup")
    a.wait_call_state(call_a, "ended", 15)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        screenshot(display, artifact("vchat-gtk-ended.png"))
        if regions(artifact("vchat-gtk-ended.png"))["blue"][0] < 10_000:
            break
        time.sleep(0.5)
    assert regions(artifact("vchat-gtk-ended.png"))["blue"][0] < 10_000
    assert app.poll() is None
