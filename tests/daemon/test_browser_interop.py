"""A desktop daemon and a browser in one pool: headless Chromium on the web
client joins an invite the daemon made, and is random-matched with it. Each
side decodes the other's video (the browser sees the daemon's red picture;
the daemon's Stats count decoded frames) and a text crosses each way."""
import json
import os
import subprocess
import time
import uuid

import pytest
from gi.repository import GLib

from chromium import CHROMIUM, Browser
from vchatd import CALL_IFACE
from webpage import INBOUND_VIDEO_JS, REMOTE_RGB_JS, until

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")

@pytest.fixture
def browser():
    opened = []

    def open_browser(url):
        b = Browser("web", url)
        opened.append(b)
        return b

    yield open_browser
    for b in opened:
        b.close()


def check_call(d, path, page):
    # The browser decodes the daemon's video, and it is the daemon's red.
    until(lambda: page.eval(INBOUND_VIDEO_JS) > 0, "frames decoded in the browser")
    rgb = until(lambda: page.eval(REMOTE_RGB_JS), "the remote picture in the browser")
    until(lambda: (lambda c: c[0] > 150 and c[1] < 90 and c[2] < 90)(page.eval(REMOTE_RGB_JS)),
          f"a red picture in the browser (got {rgb})")
    # The daemon decodes the browser's video.
    until(lambda: d.call_prop(path, "Stats").get("frames-decoded", 0) > 0,
          "frames decoded by the daemon")
    # The daemon offers VP8 and H.264, VP8 first: a browser takes VP8.
    assert d.call_prop(path, "Stats").get("video-codec") == "VP8", d.call_prop(path, "Stats")

    # Text both ways over the data channel.
    received = []
    d.conn.signal_subscribe(None, CALL_IFACE, "MessageReceived", path, None, 0,
                            lambda *a: received.append(a[5].unpack()[0]))
    until(lambda: page.eval("window.vchat.channel && window.vchat.channel.readyState === 'open'"),
          "the browser's data channel")
    text = f"from the daemon {uuid.uuid4().hex[:6]}"
    d.call_method(path, "SendMessage", "(s)", text)
    until(lambda: page.eval(f"window.vchat.messages.includes({json.dumps(text)})"),
          "the daemon's text in the browser")
    back = f"from the browser {uuid.uuid4().hex[:6]}"
    assert page.eval(f"window.vchat.sendChat({json.dumps(back)})")
    ctx = GLib.MainContext.default()

    def got_back():
        ctx.iteration(False)
        return back in received

    until(got_back, "the browser's text at the daemon")


def test_browser_joins_daemon_invite(server, plain_daemons, browser):
    d = plain_daemons("red")
    # As a person would: `vchatctl invite`, and send the web link.
    out = subprocess.run([os.environ["VCHATCTL"], "--json", "invite"], env=d.env, check=True,
                         capture_output=True, text=True, timeout=20).stdout
    invite = json.loads(out)
    path, code, web_link = invite["path"], invite["code"], invite["web_link"]
    assert d.call_prop(path, "InviteWebLink") == web_link
    assert web_link.endswith(f"/join/{code}")
    page = browser(web_link)
    d.wait_call_state(path, "incoming", 20)
    assert d.call_prop(path, "Peer")["client"].startswith("web/")
    d.call_method(path, "Accept")
    d.wait_call_state(path, "connected", 30)
    check_call(d, path, page)
    d.call_method(path, "Hangup")
    until(lambda: page.eval("window.vchat.lastPeerLeft && window.vchat.lastPeerLeft.reason") == "hangup",
          "the browser to see the hangup")


def random_call_with_page(d, page):
    """The daemon and the page both ask for a random call with the interest
    "linux"; returns the daemon's call, connected."""
    path = d.manager("StartRandom", "(a{sv})", {"interests": GLib.Variant("as", ["linux"])})
    until(lambda: page.eval("window.vchat && window.vchat.signaling === 'online'"), "the page online")
    page.eval("window.vchat.start({interests: ['linux']})")
    d.wait_call_state(path, "connected", 30)
    return path


def test_browser_random_matched_with_daemon(server, plain_daemons, browser):
    d = plain_daemons("red")
    page = browser(server.url + "/")
    path = random_call_with_page(d, page)
    assert d.call_prop(path, "Peer")["common-interests"] == ["linux"]
    check_call(d, path, page)


def test_browser_restart_with_daemon(server, plain_daemons, browser):
    """The page starts a new attempt of a working call (window.vchat.restart(),
    as when it sees its path broken): the daemon, the offerer, follows with
    an offer for attempt 1, and the same call carries video and text again
    (docs/protocol.md, "Reconnecting a call")."""
    d = plain_daemons("red")
    page = browser(server.url + "/")
    path = random_call_with_page(d, page)
    until(lambda: page.eval(INBOUND_VIDEO_JS) > 0, "frames decoded in the browser")
    call_id = page.eval("window.vchat.call.id")
    assert page.eval("window.vchat.call.role") == "answerer"   # toward a daemon, always

    assert page.eval("window.vchat.restart()") is True
    until(lambda: page.eval("window.vchat.state === 'connected' && window.vchat.attempt === 1"),
          "the page to reconnect at attempt 1", timeout=30)
    assert page.eval("window.vchat.call.id") == call_id
    assert page.eval("window.vchat.reconnects") == 1
    assert d.call_prop(path, "State") == "connected"
    check_call(d, path, page)


def test_browser_and_daemon_tell_mute_camera_and_typing(server, plain_daemons, browser):
    """The control channel both ways (docs/protocol.md, "The data channels"):
    the daemon opens "ctl"; the page shows the daemon muted and its camera
    off, and the daemon's PeerMuted / PeerCameraEnabled follow the page's
    buttons; typing shows on each side."""
    d = plain_daemons("red")
    page = browser(server.url + "/")
    path = random_call_with_page(d, page)
    until(lambda: page.eval("window.vchat.peerMedia !== null"), "the daemon's state on ctl")
    assert page.eval("window.vchat.peerMedia") == {"muted": False, "camera": True}
    assert d.call_prop(path, "PeerMuted") is False
    assert d.call_prop(path, "PeerCameraEnabled") is True

    d.call_method(path, "SetMuted", "(b)", True)
    d.call_method(path, "SetCameraEnabled", "(b)", False)
    until(lambda: page.eval("window.vchat.peerMedia") == {"muted": True, "camera": False},
          "the page to see the daemon muted with its camera off")
    until(lambda: page.eval("document.getElementById('peer-muted').hidden === false"),
          "the page to show that the daemon muted")

    page.eval("window.vchat.setMuted(true); window.vchat.setCamera(false)")
    until(lambda: d.call_prop(path, "PeerMuted") is True and
          d.call_prop(path, "PeerCameraEnabled") is False,
          "the daemon to see the page muted with its camera off")
    page.eval("window.vchat.setMuted(false); window.vchat.setCamera(true)")
    until(lambda: d.call_prop(path, "PeerMuted") is False and
          d.call_prop(path, "PeerCameraEnabled") is True,
          "the daemon to see the page unmuted with its camera on")

    # A peer's bad control messages change nothing and end nothing: not
    # JSON, not an object, a type that is not a string, values that are not
    # booleans (read as the web client reads them), one over 1000 bytes.
    page.eval("""(() => { const ch = window.vchat.ctl;
      for (const m of ['not json', '[1]', '{"type":5}', '{"type":{"state":1}}',
                       '{"type":"state","muted":"yes","camera":0}',
                       '{"type":"state","muted":true,"camera":false,"pad":"' + 'x'.repeat(2000) + '"}',
                       '{"type":"hello","id":"x"}', '{"type":"later-version"}'])
        ch.send(m); })()""")
    page.eval("window.vchat.setMuted(true)")
    until(lambda: d.call_prop(path, "PeerMuted") is True, "the daemon to read a good message after bad ones")
    assert d.call_prop(path, "PeerCameraEnabled") is True
    assert d.call_prop(path, "State") == "connected"
    page.eval("window.vchat.setMuted(false)")

    # Typing, each way: the page's chat box, the daemon's SendTyping.
    typing = []
    d.conn.signal_subscribe(None, CALL_IFACE, "PeerTyping", path, None, 0,
                            lambda *a: typing.append(time.monotonic()))
    ctx = GLib.MainContext.default()
    page.eval("(() => { const i = document.getElementById('chat-input'); i.value = 'hel'; "
              "i.dispatchEvent(new Event('input')); })()")

    def got_typing():
        ctx.iteration(False)
        return typing

    until(got_typing, "PeerTyping at the daemon")
    d.call_method(path, "SendTyping")
    until(lambda: page.eval("window.vchat.peerTyping") is True, "the page to show the daemon typing")
    assert d.call_prop(path, "State") == "connected"
