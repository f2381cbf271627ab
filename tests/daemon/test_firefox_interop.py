"""Firefox ESR ⇄ vchatd: headless Debian firefox-esr on the web client in
calls with a real vchatd (test sources, no PipeWire), random and invite.

Firefox is driven over WebDriver BiDi (tests/lib/firefox.py); the daemon
fixtures are tests/daemon/conftest.py's. Checked both ways, as a person
would:
- connect: the daemon's call and the page say "connected";
- video daemon → Firefox: the page decodes frames and its remote <video>
  shows the daemon's camera, a solid red;
- video Firefox → daemon: the daemon decodes frames (Stats frames-decoded
  and recv-width; without PipeWire nodes the daemon's picture itself is
  not looked at);
- audio daemon → Firefox: inbound-rtp audio packets grow, with a level;
- audio Firefox → daemon: the daemon plays the peer's sound into a file
  (--audio-sink ... ! filesink), and it is Firefox's fake microphone, a
  1 kHz tone (dominant frequency, and loud enough);
- chat both ways over the data channel (SendMessage / MessageReceived);
- next / hangup: Firefox presses Next in a random call and the daemon's
  call ends "peer-next"; the daemon hangs up an invite call and the page
  gets peer_left "hangup".

Run with -s to see the interop matrix.
"""
import json
import os
import uuid

import numpy
import pytest
from gi.repository import GLib

import firefox
from firefox import FIREFOX, Matrix, Waiter, describe_pages, picture, rtp
from vchatd import CALL_IFACE

pytestmark = pytest.mark.skipif(
    not os.path.exists(FIREFOX),
    reason="needs /usr/bin/firefox-esr (Debian's firefox-esr; scripts/deps installs it)")

MATRIX = Matrix("interop matrix, tests/daemon/test_firefox_interop.py (A is vchatd, B Firefox):")
RATE = 16000
TONE = 1000   # Firefox's fake microphone (media.navigator.audio.fake_frequency)


@pytest.fixture(scope="module", autouse=True)
def print_matrix():
    yield
    print("\n" + MATRIX.format())


@pytest.fixture(scope="module")
def page():
    # One Firefox for the module: a start costs seconds of CPU.
    b = firefox.Browser("Firefox", "about:blank")
    try:
        yield b
    finally:
        b.close()


def sink_args(path):
    return ["--audio-sink",
            f"audioconvert ! audioresample ! audio/x-raw,format=S16LE,channels=1,rate={RATE} ! "
            f"filesink location={path} buffer-mode=unbuffered sync=false async=false"]


def tone(path, seconds=1.0):
    """(dominant frequency, RMS 0..1) of the last seconds of sound in the file."""
    try:
        data = numpy.fromfile(path, dtype="<i2")
    except (FileNotFoundError, ValueError):
        return None, 0.0
    n = int(RATE * seconds)
    if len(data) < n:
        return None, 0.0
    x = data[-n:].astype(numpy.float64) / 32768.0
    rms = float(numpy.sqrt(numpy.mean(x * x)))
    spectrum = numpy.abs(numpy.fft.rfft(x * numpy.hanning(n)))
    return float(numpy.argmax(spectrum[1:]) + 1) * RATE / n, rms


class DaemonCall:
    def __init__(self, row, server, d, page, sound):
        self.row = MATRIX.row(row)
        self.server, self.d, self.page, self.sound = server, d, page, sound
        self.path = None
        self.wait = Waiter(self.describe)

    def describe(self):
        return (describe_pages(self.page) + "\n--- vchatd log (tail):\n" + self.d.log[-3000:]
                + "\n--- vchat-signald log (tail):\n" + self.server.log[-1500:])

    def until(self, fn, what, timeout=25):
        return self.wait(self.page, fn, what, timeout=timeout)

    def open_page(self, url):
        self.page.navigate(url)

    def connected(self):
        self.d.wait_call_state(self.path, "connected", 40)
        self.wait(self.page, "window.vchat.state === 'connected'", "the page to connect", timeout=30)
        assert self.page.eval("window.vchat.call.role") == "answerer"   # toward a daemon
        pair = self.wait(self.page, lambda: (rtp(self.page) or {}).get("pair"),
                         "the selected candidate pair", timeout=10)
        MATRIX.note(self.row, f"Firefox's candidate pair: {pair['local']} → {pair['remote']}")

    def checks(self):
        d, page, path = self.d, self.page, self.path
        with MATRIX.cell(self.row, "video A→B"):
            self.wait(page, lambda: rtp(page)["video"], "decoded frames in Firefox",
                      check=lambda v: v["framesDecoded"] > 0 and v["width"] > 0)
            self.wait(page, lambda: picture(page, "remote-video"),
                      "the daemon's red picture in Firefox",
                      check=lambda p: p["rgb"][0] > 150 and p["rgb"][1] < 90 and p["rgb"][2] < 90)
        with MATRIX.cell(self.row, "video B→A"):
            self.until(lambda: d.call_prop(path, "Stats").get("frames-decoded", 0) > 0 and
                       d.call_prop(path, "Stats").get("recv-width", 0) > 0,
                       "frames of Firefox's camera decoded by the daemon")
        with MATRIX.cell(self.row, "audio A→B"):
            first = self.wait(page, lambda: rtp(page)["audio"], "audio packets in Firefox",
                              check=lambda a: a["packets"] > 0)
            self.wait(page, lambda: rtp(page)["audio"], "more audio packets, with a level",
                      check=lambda a: a["packets"] > first["packets"] and (a["level"] or 0) > 0)
        with MATRIX.cell(self.row, "audio B→A"):
            heard = []

            def hears_tone():
                heard[:] = [tone(self.sound)]
                freq, rms = heard[0]
                return freq is not None and abs(freq - TONE) < 50 and rms > 0.01

            try:
                self.until(hears_tone, f"the daemon to play Firefox's {TONE} Hz tone")
            except AssertionError as e:
                raise AssertionError(f"heard (Hz, RMS): {heard}\n{e}") from None
            stats = d.call_prop(path, "Stats")
            MATRIX.note(self.row, f"vchatd heard {heard[0][0]:.0f} Hz at RMS {heard[0][1]:.2f}; "
                        f"its candidates: {stats.get('local-candidate')} → "
                        f"{stats.get('remote-candidate')}; codecs {stats.get('video-codec')}, "
                        f"{stats.get('audio-codec')}")
            # vchatd offers VP8 and H.264 (VP8 first) or answers Firefox's
            # offer: either way Firefox gets VP8.
            assert stats.get("video-codec") == "VP8", stats
        with MATRIX.cell(self.row, "chat"):
            received = []
            d.conn.signal_subscribe(None, CALL_IFACE, "MessageReceived", path, None, 0,
                                    lambda *a: received.append(a[5].unpack()[0]))
            self.wait(page, "!!(window.vchat.channel && window.vchat.channel.readyState === 'open')",
                      "the page's data channel")
            text = f"from the daemon {uuid.uuid4().hex[:6]}"
            d.call_method(path, "SendMessage", "(s)", text)
            self.wait(page, f"window.vchat.messages.includes({json.dumps(text)})",
                      "the daemon's text in Firefox")
            back = f"from Firefox {uuid.uuid4().hex[:6]}"
            assert page.eval(f"window.vchat.sendChat({json.dumps(back)})") is True
            ctx = GLib.MainContext.default()

            def got_back():
                while ctx.iteration(False):
                    pass
                return back in received

            self.until(got_back, "Firefox's text at the daemon", timeout=10)


def test_firefox_random_with_daemon(server, plain_daemons, page, tmp_path):
    sound = str(tmp_path / "heard.raw")
    d = plain_daemons("red", args=sink_args(sound))
    c = DaemonCall("vchatd ⇄ Firefox, random", server, d, page, sound)
    c.open_page(server.url + "/")
    with MATRIX.cell(c.row, "connect"):
        c.wait(page, "!!(window.vchat && window.vchat.signaling === 'online')", "the page online")
        tag = "ff" + uuid.uuid4().hex[:6]
        c.path = d.manager("StartRandom", "(a{sv})", {"interests": GLib.Variant("as", [tag])})
        assert page.eval(f"window.vchat.start({{interests: [{json.dumps(tag)}]}})") is True
        c.connected()
    c.checks()
    with MATRIX.cell(c.row, "next/hangup", "ok: next by B"):
        page.eval("document.getElementById('next-btn').click()")
        d.wait(lambda: d.call_prop(c.path, "State") == "ended", 15, "the daemon's call to end")
        assert d.call_prop(c.path, "EndReason") == "peer-next"
        page.eval("window.vchat.stop()")


def test_firefox_joins_daemon_invite(server, plain_daemons, page, tmp_path):
    sound = str(tmp_path / "heard.raw")
    d = plain_daemons("red", args=sink_args(sound))
    c = DaemonCall("vchatd ⇄ Firefox, invite", server, d, page, sound)
    with MATRIX.cell(c.row, "connect"):
        out = d.vchatctl("--json", "invite")
        assert out.returncode == 0, out.stderr
        invite = json.loads(out.stdout)
        c.path = invite["path"]
        c.open_page(invite["web_link"])
        d.wait_call_state(c.path, "incoming", 30)
        assert d.call_prop(c.path, "Peer")["client"].startswith("web/")
        d.call_method(c.path, "Accept")
        c.connected()
    c.checks()
    with MATRIX.cell(c.row, "next/hangup", "ok: hangup by A"):
        d.call_method(c.path, "Hangup")
        c.wait(page, "!!(window.vchat.lastPeerLeft && window.vchat.lastPeerLeft.reason === 'hangup' "
               "&& window.vchat.state === 'idle')", "the page to see the hangup")
