"""Firefox ESR in calls through the web client: Firefox ⇄ Chromium and
Firefox ⇄ Firefox, random and invite (Firefox ⇄ vchatd is in
tests/daemon/test_firefox_interop.py, next to the daemon fixtures).

Firefox is Debian's firefox-esr (153), headless, driven over WebDriver BiDi
straight from Python (tests/lib/firefox.py says why not puppeteer-core);
Chromium is Debian's chromium over DevTools (tests/lib/chromium.py). Both
use their own fake camera and microphone, with fresh profiles; the real
vchat-signald on 127.0.0.1 serves the page and relays the signaling.

Each call is checked as a person would, in both directions:
- connect: both pages say "connected", in the same call;
- video: the receiver decodes frames (inbound-rtp framesDecoded > 0, with a
  size), and its remote <video> shows the sender's camera: Firefox's fake
  camera is one flat colour whose hue turns (the receiver's picture must be
  flat and close to the colour the sender's preview shows), Chromium's a
  pattern of several colours (the receiver's picture must have them, with
  the mean colour of the sender's preview);
- audio: the receiver's inbound-rtp audio packetsReceived grows and its
  audioLevel is above 0 (Firefox's fake microphone is a 1 kHz tone,
  Chromium's a beep);
- chat: a text sent over the data channel shows in the other page's list;
- next / hangup: the other page gets peer_left "next" (random) or "hangup"
  (invite) and says so.

Firefox ⇄ Firefox and mDNS: Firefox hides its host addresses behind
`<uuid>.local` names unless media.peerconnection.ice.obfuscate_host_addresses
is off. test_firefox_firefox_mdns_* record what each pair of settings
gives (both hidden, one hidden, none hidden) and which candidates the
connected pair used.

Run with -s to see the interop matrix, e.g.
  source /tmp/envrc; python3 -m pytest -s -p no:cacheprovider tests/browser/test_firefox.py
"""
import json
import os
import sys
import time
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import chromium  # noqa: E402
import firefox  # noqa: E402
from firefox import (FIREFOX, OBFUSCATE_PREF, Matrix, Waiter, close_rgb,  # noqa: E402
                     describe_pages, is_chromium_fake, is_firefox_fake, picture, preview_history,
                     record_preview, rtp)
from signald import Signald  # noqa: E402

pytestmark = pytest.mark.skipif(
    not os.path.exists(FIREFOX),
    reason="needs /usr/bin/firefox-esr (Debian's firefox-esr; scripts/deps installs it)")

needs_chromium = pytest.mark.skipif(not os.path.exists(chromium.CHROMIUM),
                                    reason="needs /usr/bin/chromium")

# How late a received picture may be, in seconds (generous: on a loaded
# machine a browser decodes and paints late).
LAG = 8

MATRIX = Matrix("interop matrix, tests/browser/test_firefox.py (A is the first, B the second):")


# -------------------------------------------------------------- fixtures

@pytest.fixture(scope="module", autouse=True)
def print_matrix():
    yield
    print("\n" + MATRIX.format())


@pytest.fixture
def server():
    s = Signald()
    try:
        yield s
    finally:
        s.stop()


class Browsers:
    """Browsers kept for the module (a Firefox start costs seconds of CPU),
    keyed by what they are; each test navigates them to its own server."""

    def __init__(self):
        self.open = {}

    def get(self, key, make):
        b = self.open.get(key)
        if b is None or (b.proc and b.proc.poll() is not None):
            b = self.open[key] = make()
        return b

    def drop(self, key):
        b = self.open.pop(key, None)
        if b:
            b.close()

    def close(self):
        for key in list(self.open):
            self.drop(key)


@pytest.fixture(scope="module")
def browsers():
    bs = Browsers()
    try:
        yield bs
    finally:
        bs.close()


def firefox_page(browsers, name, prefs=None):
    key = (name, json.dumps(prefs, sort_keys=True))
    return browsers.get(key, lambda: firefox.Browser(name, "about:blank", prefs=prefs))


def chromium_page(browsers, name="Chromium"):
    return browsers.get((name,), lambda: chromium.Browser(name, "about:blank"))


# ------------------------------------------------------------ the call

def kind_of(page):
    return "firefox" if isinstance(page, firefox.Browser) else "chromium"


class Call:
    """One call between pages a and b on server, checked step by step; each
    step fills its cell of the matrix."""

    def __init__(self, row, server, a, b):
        self.row = MATRIX.row(row)
        self.server = server
        self.a, self.b = a, b
        self.wait = Waiter(self.describe)
        self.hosts = {}

    def describe(self):
        return (describe_pages(self.a, self.b) + "\n--- vchat-signald log (tail):\n"
                + self.server.log[-2500:])

    def open_pages(self):
        for p in (self.a, self.b):
            p.navigate(self.server.url + "/")
        for p in (self.a, self.b):
            self.wait(p, "!!(window.vchat && window.vchat.signaling === 'online')",
                      "the page to connect to the server", timeout=20)
            record_preview(p)

    def connect_random(self, timeout=30):
        with MATRIX.cell(self.row, "connect"):
            a, b = self.a, self.b
            tag = "interop" + uuid.uuid4().hex[:6]
            assert a.eval(f"window.vchat.start({{interests: {json.dumps(tag)}}})") is True
            self.wait(a, "window.vchat.state === 'searching' && "
                      "window.vchat.log.some((l) => l.endsWith('< queued'))", "A to be queued")
            assert b.eval(f"window.vchat.start({{interests: {json.dumps(tag)}}})") is True
            self.connected(timeout)
            # A waited longer: A offers.
            assert self.a.eval("window.vchat.call.role") == "offerer"

    def connect_invite(self, timeout=30):
        with MATRIX.cell(self.row, "connect"):
            a, b = self.a, self.b
            link = a.eval("window.vchat.createInvite()")
            assert link and "/join/" in link, link
            b.navigate(link)
            self.wait(b, "!!(window.vchat && window.vchat.state === 'ringing')",
                      "B to ring A", timeout=20)
            record_preview(b)
            self.wait(a, "window.vchat.state === 'incoming'", "the incoming call on A")
            a.eval("document.getElementById('accept-btn').click()")
            self.connected(timeout)
            assert self.a.eval("window.vchat.call.role") == "offerer"   # the inviter offers

    def connected(self, timeout):
        for p in (self.a, self.b):
            self.wait(p, "window.vchat.state === 'connected'", "the call to connect",
                      timeout=timeout)
        call_a, call_b = self.a.eval("window.vchat.call"), self.b.eval("window.vchat.call")
        assert call_a["id"] == call_b["id"], (call_a, call_b)
        for p in (self.a, self.b):
            try:   # for the matrix only
                pair = self.wait(p, lambda: (rtp(p) or {}).get("pair"), "the candidate pair",
                                 timeout=5)
                MATRIX.note(self.row, f"{p.name}'s candidate pair: {pair['local']} → {pair['remote']}")
            except AssertionError:
                MATRIX.note(self.row, f"{p.name}'s candidate pair: not in its stats")
        for p in (self.a, self.b):
            hosts = p.eval(HOST_CANDIDATES_JS)
            self.hosts[p.name] = hosts
            MATRIX.note(self.row, f"{p.name}'s host candidates: {', '.join(hosts) or 'none'}")

    def video(self, sender, receiver, column):
        with MATRIX.cell(self.row, column):
            self.wait(receiver, lambda: rtp(receiver)["video"],
                      f"decoded video frames from {sender.name}, and their size", timeout=20,
                      check=lambda v: v["framesDecoded"] > 0 and v["width"] > 0)
            # The remote picture must be what the sender's preview showed at
            # most LAG seconds before; Firefox's turning hue must also be
            # seen to move (a live picture, not a frozen one).
            firefox_sender = kind_of(sender) == "firefox"
            fake = is_firefox_fake if firefox_sender else is_chromium_fake
            matched, got, history = [], None, []
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                history = preview_history(sender, LAG)
                got = picture(receiver, "remote-video")
                if got and fake(got) and any(fake(h) and close_rgb(got["rgb"], h["rgb"], 30)
                                             for h in history):
                    matched.append(got["rgb"])
                    if not firefox_sender or any(max(abs(x - y) for x, y in zip(m, got["rgb"])) > 8
                                                 for m in matched):
                        return
                time.sleep(0.3)
            raise AssertionError(
                f"{receiver.name} does not show {sender.name}'s live camera: received {got}; "
                f"matching pictures {matched}; the sender's preview in the last {LAG} s: "
                f"{[(round(h['t'] / 1000 % 100, 1), [round(x) for x in h['rgb']]) for h in history]}"
                f"; {receiver.name}'s inbound video {rtp(receiver)}\n{self.describe()}")

    def audio(self, sender, receiver, column):
        with MATRIX.cell(self.row, column):
            first = self.wait(receiver, lambda: rtp(receiver)["audio"],
                              f"audio packets from {sender.name}", timeout=15,
                              check=lambda a: a["packets"] > 0)
            self.wait(receiver, lambda: rtp(receiver)["audio"],
                      f"more audio packets from {sender.name}, with a level above 0",
                      timeout=15, interval=0.1,
                      check=lambda a: a["packets"] > first["packets"] and (a["level"] or 0) > 0)

    def chat(self):
        with MATRIX.cell(self.row, "chat"):
            for p in (self.a, self.b):
                self.wait(p, "!!(window.vchat.channel && window.vchat.channel.readyState === 'open')",
                          "the chat data channel to open", timeout=10)
            for me, other in ((self.a, self.b), (self.b, self.a)):
                text = f"hello from {me.name} {uuid.uuid4().hex[:8]}"
                assert me.eval(f"window.vchat.sendChat({json.dumps(text)})") is True
                self.wait(other, f"window.vchat.messages.includes({json.dumps(text)})",
                          f"the chat text from {me.name}", timeout=10)
                shown = other.eval(f"""Array.from(document.querySelectorAll('#messages li.them'))
                                       .some((li) => li.textContent === {json.dumps(text)})""")
                assert shown, f"{other.name} received the text but does not show it"

    def media_and_chat(self):
        a, b = self.a, self.b
        self.video(a, b, "video A→B")
        self.video(b, a, "video B→A")
        self.audio(a, b, "audio A→B")
        self.audio(b, a, "audio B→A")
        self.chat()

    def next(self, me, other):
        """me presses Next; other is told "next" and searches again."""
        with MATRIX.cell(self.row, "next/hangup", f"ok: next by {'A' if me is self.a else 'B'}"):
            me.eval("document.getElementById('next-btn').click()")
            self.wait(other, "!!(window.vchat.lastPeerLeft && "
                      "window.vchat.lastPeerLeft.reason === 'next' && window.vchat.pc === null)",
                      f"peer_left next on {other.name}")
            self.wait(me, "window.vchat.state === 'searching' && window.vchat.pc === null",
                      f"{me.name} to search again")
            self.end()

    def hangup(self, me, other):
        """me hangs up with Stop; other is told "hangup" and is idle."""
        with MATRIX.cell(self.row, "next/hangup", f"ok: hangup by {'A' if me is self.a else 'B'}"):
            me.eval("document.getElementById('stop-btn').click()")
            self.wait(other, "!!(window.vchat.lastPeerLeft && "
                      "window.vchat.lastPeerLeft.reason === 'hangup' && window.vchat.state === 'idle')",
                      f"peer_left hangup on {other.name}")
            assert other.eval("window.vchat.pc") is None

    def end(self):
        for p in (self.a, self.b):
            p.eval("window.vchat.stop()")


HOST_CANDIDATES_JS = r"""(() => {
  const pc = window.vchat.pc;
  const sdp = (pc && pc.localDescription && pc.localDescription.sdp) || '';
  return Array.from(new Set(sdp.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:'))
    .map((l) => l.split(' ')).filter((t) => t[7] === 'host').map((t) => t[4])));
})()"""


def full_call(row, server, a, b, kind):
    c = Call(row, server, a, b)
    c.open_pages()
    if kind == "random":
        c.connect_random()
    else:
        c.connect_invite()
    c.media_and_chat()
    for p in (a, b):
        MATRIX.note(c.row, f"{p.name} reconnected the call {p.eval('window.vchat.reconnects')} times")
    if kind == "random":
        c.next(b, a)
    else:
        c.hangup(a, b)
    return c


# ----------------------------------------------------------------- tests

@needs_chromium
def test_firefox_chromium_random(server, browsers):
    """Chromium queues first, so Chromium offers and Firefox answers; Firefox
    presses Next."""
    c = chromium_page(browsers)
    f = firefox_page(browsers, "Firefox")
    full_call("Chromium ⇄ Firefox, random", server, c, f, "random")


@needs_chromium
def test_firefox_chromium_invite(server, browsers):
    """Firefox invites (and offers), Chromium opens the web link; Firefox hangs up."""
    f = firefox_page(browsers, "Firefox")
    c = chromium_page(browsers)
    full_call("Firefox ⇄ Chromium, invite", server, f, c, "invite")


def test_firefox_firefox_random_mdns(server, browsers):
    """Two Firefoxes with Firefox's defaults: each hides its host addresses
    behind mDNS `.local` names. Firefox resolves the other's names itself
    (its own mDNS client, multicast on the LAN), so the call must connect
    and work as any other."""
    browsers.drop(("Chromium",))
    a = firefox_page(browsers, "Firefox")
    b = firefox_page(browsers, "Firefox-2")
    c = full_call("Firefox ⇄ Firefox, random, mDNS", server, a, b, "random")
    for p in (a, b):
        assert c.hosts[p.name] and all(h.endswith(".local") for h in c.hosts[p.name]), c.hosts


def test_firefox_firefox_invite_one_plain(server, browsers):
    """A Firefox with the defaults (mDNS names) invites a Firefox with
    media.peerconnection.ice.obfuscate_host_addresses off (plain host
    addresses; one more Firefox start, not two: the pair of plain ones is
    the case every WebRTC stack handles)."""
    browsers.drop(("Firefox-2", "null"))
    a = firefox_page(browsers, "Firefox")
    b = firefox_page(browsers, "Firefox-plain", {OBFUSCATE_PREF: False})
    c = full_call("Firefox ⇄ Firefox(plain), invite", server, a, b, "invite")
    assert c.hosts[a.name] and all(h.endswith(".local") for h in c.hosts[a.name]), c.hosts
    assert c.hosts[b.name] and not any(h.endswith(".local") for h in c.hosts[b.name]), c.hosts
