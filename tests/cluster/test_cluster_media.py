"""Calls with real media between sessions on two servers sharing one Redis:
a vchatd (its red PipeWire camera) says hello to server A, headless
Chromium's web client (a blue camera: a solid-colour clip) to server B. A
random call (through the shared queue) and an invited call (the daemon's
invite, joined at B's /join/CODE); each side sees the other's colour."""
import json
import os
import shutil
import subprocess

import pytest
from gi.repository import GLib

from callenv import COLORS, close_to, pipewire  # noqa: F401 (fixture)
from chromium import CHROMIUM, Browser
from vchatd import Vchatd
from webpage import INBOUND_VIDEO_JS, REMOTE_RGB_JS, until

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium"),
    pytest.mark.skipif(not os.environ.get("VCHATD") or not os.environ.get("VCHATCTL"),
                       reason="VCHATD and VCHATCTL are not set"),
    pytest.mark.skipif(not shutil.which("gst-launch-1.0"), reason="needs gst-launch-1.0"),
]

RED, BLUE = COLORS["red"], COLORS["blue"]


@pytest.fixture
def blue_clip(tmp_path):
    """A short solid blue .y4m for Chromium's fake camera (played in a loop)."""
    path = str(tmp_path / "blue.y4m")
    subprocess.run(["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=30",
                    "pattern=solid-color", "foreground-color=0xff0000ff", "!",
                    "video/x-raw,format=I420,width=320,height=240,framerate=30/1", "!",
                    "y4menc", "!", "filesink", f"location={path}"],
                   check=True, timeout=60)
    return path


@pytest.fixture
def two_servers(cluster, pipewire, tmp_path, blue_clip):  # noqa: F811 (fixture)
    """(daemon on server A, open_page(path) on server B, servers)."""
    a, b = cluster(2, "--rematch-delay", "30")
    d = Vchatd(str(tmp_path / "d"), a.ws_url, name="Red daemon", env=pipewire.env,
               args=["--camera", "vchat-test-cam-red", "--audio-source",
                     "audiotestsrc is-live=true wave=sine freq=440", "--audio-sink", "fakesink"])
    pages = []

    def open_page(path="/"):
        page = Browser("web-b", b.url + path,
                       extra_args=[f"--use-file-for-fake-video-capture={blue_clip}",
                                   "--autoplay-policy=no-user-gesture-required"])
        pages.append(page)
        return page

    yield d, open_page, (a, b)
    for page in pages:
        page.close()
    d.stop()


def check_colours(pipewire, d, path, page):  # noqa: F811 (fixture passed in)
    """The page shows the daemon's red; the daemon's remote node carries the
    page's blue."""
    until(lambda: page.eval(INBOUND_VIDEO_JS) > 0, "frames decoded in the browser", 40)
    until(lambda: (lambda c: c and close_to(c, RED))(page.eval(REMOTE_RGB_JS)),
          "the daemon's red picture in the browser", 30)
    node = d.remote_video_node(path, timeout=30)
    got = pipewire.read_color(node, timeout=20)
    assert close_to(got, BLUE), f"the daemon sees {got}, expected about {BLUE} (the page's camera)"


def test_random_call_across_servers_video_both_ways(two_servers, pipewire):  # noqa: F811
    d, open_page, _ = two_servers
    page = open_page("/")
    until(lambda: page.eval("window.vchat && window.vchat.signaling === 'online'"),
          "the page online on server B")
    path = d.manager("StartRandom", "(a{sv})", {"interests": GLib.Variant("as", ["cluster"])})
    page.eval("window.vchat.start({interests: ['cluster']})")
    # Alone on their servers, both wait in the shared queue, which pairs them.
    d.wait_call_state(path, "connected", 60)
    assert d.call_prop(path, "Peer")["client"].startswith("web/")
    assert d.call_prop(path, "Peer")["common-interests"] == ["cluster"]
    check_colours(pipewire, d, path, page)
    d.call_method(path, "Hangup")
    until(lambda: page.eval("window.vchat.lastPeerLeft && window.vchat.lastPeerLeft.reason")
          == "hangup", "the page to hear the hangup from the other server")


def test_invited_call_across_servers_video_both_ways(two_servers, pipewire):  # noqa: F811
    d, open_page, _ = two_servers
    out = subprocess.run([os.environ["VCHATCTL"], "--json", "invite"], env=d.env, check=True,
                         capture_output=True, text=True, timeout=20).stdout
    invite = json.loads(out)
    # The link names server A; the person opens it on server B (behind one
    # address, a load balancer would choose).
    page = open_page(f"/join/{invite['code']}")
    d.wait_call_state(invite["path"], "incoming", 30)
    assert d.call_prop(invite["path"], "Peer")["client"].startswith("web/")
    d.call_method(invite["path"], "Accept")
    d.wait_call_state(invite["path"], "connected", 40)
    check_colours(pipewire, d, invite["path"], page)
