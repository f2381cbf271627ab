"""The rest of the web client of issue 15 (item 1, and item 3's page side),
in headless Chromium pages through the real vchat-signald. Each test drives
a page the way a person would (mouse clicks, keys) and checks what the
OTHER side sees, or what a person sees on the page.

- test_camera_choice: A has three cameras (Chromium's fake devices; the
  first and the last draw in two different greens). A picks the last in
  the camera list with the keyboard: B's picture of A turns to the other
  green, the same as A's preview, while neither side's session description
  changed (the track was replaced, nothing renegotiated). The choice is
  kept: A opened again takes that camera.
- test_quality_and_reconnecting: in a call on loopback both pages show
  "Call: WORD" with round trip, loss and frames a second, figures that
  agree with getStats, and the word is vchatd's rule applied to them.
  A's sender stops sending pictures (replaceTrack(null), without telling
  B over "ctl"): B's indicator drops to "poor" (fewer than 8 pictures a
  second, vchatd's rule), and B's rate comes back when A sends again.
  A restarts the connection: both pages showed "Reconnecting…" in the
  indicator, then a word again. The page's rule is checked at the
  boundaries of the Call XML's.
- test_offline_controls: a page whose server goes away: the search
  spinner stops, a line next to Start and Create invite says why they are
  disabled (also their tooltip and aria-describedby); when the server is
  back the line goes and Start works.
- test_incoming_invite_alert: B joins A's invite: A's page plays a sound
  (WebAudio: the level that reached the output is measured), the title
  says who is calling, a live region announces it, Accept has the focus;
  Accept brings the title back and the call connects (pictures both ways).
  A second invite that B gives up on: the title comes back too.
- test_phone_layout: in a call, at 360x740 and 390x844 (phones) and
  1280x800: the partner's video, the buttons and the chat (its input and a
  message from the partner) are all on the screen without scrolling and
  nothing sticks out sideways. Screenshots are saved (VCHAT_ARTIFACTS, or
  a temporary folder; the paths are printed).
- test_camera_required: Chromium without any camera: Start does not queue
  the page (a page with a camera waiting in the queue is not matched with
  it) and says why and what to do; it can still join an invite and sees
  its friend. Unticking "Only with my camera on" lets it queue. A page
  whose getUserMedia is refused (NotAllowedError, made to fail in the
  page) is not queued either and is told to allow the camera
  (test_camera_denied).
- test_connect_timeout: each page gets the other's ICE candidates as mDNS
  .local names that nobody answers for (the pages' addIceCandidate and
  setRemoteDescription rewrite them), as between two browsers that hide
  their addresses, with no STUN or TURN: there is no path, and neither
  side sends a check the other could learn an address from. The call
  never connects: after the connecting
  timeout (#connect-timeout=6) both pages say they could not reach the
  partner's network and to press Next, Next is enabled, and A's Next (a
  click) puts A back in the queue.
- test_contrast_everywhere: every piece of text on the page (the parts
  that show only sometimes are shown for the check: the status, error and
  offline lines, the incoming card, the report form, chat bubbles, the
  peer's tags, the quality badge), light and dark, has a contrast of at
  least 4.5:1 (text over the video also over a white picture); disabled
  controls are exempt, as in WCAG.

Run like test_browser.py (meson sets the environment).
"""
import json
import os
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chromium import CHROMIUM, Browser  # noqa: E402
from signald import Signald  # noqa: E402
from test_browser import (  # noqa: E402
    PICTURE_JS, check_media_and_chat, picture, wait_until)
from test_features import click, press, shown, type_text  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")


@pytest.fixture(scope="module")
def server():
    s = Signald("--rematch-delay", "1")
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def pages():
    opened = []

    def open_page(name, url, **kwargs):
        p = Browser(name, url, **kwargs)
        opened.append(p)
        return p

    try:
        yield open_page
    finally:
        for p in opened:
            p.close()


@pytest.fixture(scope="module")
def artifacts():
    folder = os.environ.get("VCHAT_ARTIFACTS") or tempfile.mkdtemp(prefix="vchat-page-")
    folder = os.path.join(folder, "web-page")
    os.makedirs(folder, exist_ok=True)
    return folder


def online(server, pages):
    # Two Chromiums starting on a busy machine can take more than 15 s.
    for me in pages:
        wait_until(server, pages, me, "window.vchat && window.vchat.signaling === 'online'",
                   "the page to connect to the server", timeout=45)


def random_call(server, a, b, interest):
    both = (a, b)
    online(server, both)
    a.eval(f"window.vchat.start({{interests: {json.dumps(interest)}}})")
    wait_until(server, both, a, "window.vchat.log.some((l) => l.endsWith('< queued'))", "A queued")
    b.eval(f"window.vchat.start({{interests: {json.dumps(interest)}}})")
    for me in both:
        wait_until(server, both, me, "window.vchat.state === 'connected'", "the call to connect",
                   timeout=45)
    for me in both:
        wait_until(server, both, me, "window.vchat.channel && window.vchat.channel.readyState === 'open'",
                   "the chat channel to open", timeout=15)


def stop_all(*pages):
    for p in pages:
        try:
            p.eval("window.vchat.stop()")
        except Exception:
            pass


def log_count(page, suffix):
    return page.eval(f"window.vchat.log.filter((l) => l.endsWith({json.dumps(suffix)})).length")


# ------------------------------------------------------------- camera choice

def without_candidates(sdp):
    """An SDP without its ICE candidate lines."""
    return "".join(line for line in sdp.splitlines(keepends=True)
                   if not line.startswith(("a=candidate:", "a=end-of-candidates")))


def test_camera_choice(server, pages):
    # Chromium's fake cameras: 0 and 2 draw the same moving pattern in two
    # greens (about 148 and 127 in the middle of the picture); 1 sends a
    # 16-bit depth format the encoder cannot take.
    a = pages("A", server.url + "/",
              extra_args=["--use-fake-device-for-media-stream=device-count=3"])
    b = pages("B", server.url + "/")
    both = (a, b)
    random_call(server, a, b, "cameras")
    cams = wait_until(server, both, a, "window.vchat.cameras", "A's cameras",
                      check=lambda c: len(c) == 3)
    names = ["fake_device_0", "fake_device_1", "fake_device_2"]
    assert [c["label"] for c in cams] == names, cams
    # The list is on the page, with the names, the first chosen.
    assert shown(a, "camera-pick") is not None
    opts = a.eval("Array.from(document.querySelectorAll('#camera-select option')).map((o) => o.textContent)")
    assert opts == names
    assert a.eval("document.getElementById('camera-select').value") == cams[0]["id"]
    # B has one camera: no list.
    assert shown(b, "camera-pick") is None

    before = wait_until(server, both, b, f"{PICTURE_JS}('remote-video')", "A's first camera on B",
                        timeout=15, check=lambda p: p["rgb"][1] > 134 and p["stddev"] > 5)
    # A's candidates may still trickle (they are in both descriptions, and
    # are signals): the baseline is taken once A gathered them all, and
    # B's copy is compared without them, as the last may still be on its way.
    wait_until(server, both, a, "window.vchat.pc.iceGatheringState === 'complete'",
               "A's candidates all gathered", timeout=10)
    b_sdp = without_candidates(b.eval("window.vchat.pc.remoteDescription.sdp"))
    a_sdp = a.eval("window.vchat.pc.localDescription.sdp")
    signals = log_count(a, "> signal")

    # The last camera, chosen with the keyboard (End in the closed list).
    a.eval("document.getElementById('camera-select').focus()")
    a.devtools.call("Input.dispatchKeyEvent", type="keyDown", key="End", code="End",
                    windowsVirtualKeyCode=35, nativeVirtualKeyCode=35)
    a.devtools.call("Input.dispatchKeyEvent", type="keyUp", key="End", code="End",
                    windowsVirtualKeyCode=35, nativeVirtualKeyCode=35)
    wait_until(server, both, a, "window.vchat.cameraSwitches", "A to switch cameras", timeout=10)
    assert a.eval("window.vchat.localStream.getVideoTracks().map((t) => t.label)") == ["fake_device_2"]
    assert a.eval("window.vchat.pc.getSenders().filter((s) => s.track && s.track.kind === 'video')"
                  ".map((s) => s.track.label)") == ["fake_device_2"]
    assert a.eval("localStorage.getItem('vchat.camera')") == cams[2]["id"]
    # B sees what A's preview shows now: the darker green.
    mine = wait_until(server, both, a, f"{PICTURE_JS}('local-video')", "A's new preview",
                      check=lambda p: p["rgb"][1] < 133)
    after = wait_until(server, both, b, f"{PICTURE_JS}('remote-video')", "A's new camera on B",
                       timeout=20, check=lambda p: abs(p["rgb"][1] - mine["rgb"][1]) < 6
                       and p["rgb"][1] < 133 and p["stddev"] > 3)
    print(f"B's picture of A: green {before['rgb'][1]:.0f} -> {after['rgb'][1]:.0f} "
          f"(A's preview {mine['rgb'][1]:.0f})")
    # Nothing was renegotiated: the same descriptions, no new signals, the
    # same attempt, the call never left "connected".
    assert without_candidates(b.eval("window.vchat.pc.remoteDescription.sdp")) == b_sdp
    assert a.eval("window.vchat.pc.localDescription.sdp") == a_sdp
    assert log_count(a, "> signal") == signals
    assert a.eval("window.vchat.attempt") == 0 and b.eval("window.vchat.state") == "connected"
    assert not b.eval("window.vchat.log.some((l) => l.includes('state connected -> '))")
    stop_all(a, b)

    # Remembered: the page opened again takes the grey camera.
    a.navigate(server.url + "/")
    wait_until(server, both, a, "window.vchat && window.vchat.signaling === 'online'", "A again")
    a.eval("window.vchat.allowCamera().then(() => true)")
    assert a.eval("window.vchat.localStream.getVideoTracks().map((t) => t.label)") == ["fake_device_2"]
    wait_until(server, both, a, "document.getElementById('camera-select').value", "the list again",
               check=lambda v: v == cams[2]["id"])


# ---------------------------------------------------- quality, reconnecting

QUALITY_SEEN_JS = """(() => {
  window.__seen = [];
  const q = document.getElementById('quality');
  const note = () => { if (!document.getElementById('quality-badge').hidden) window.__seen.push(q.textContent); };
  new MutationObserver(note).observe(q, {childList: true, characterData: true, subtree: true});
  new MutationObserver(note).observe(document.getElementById('quality-badge'), {attributes: true});
  return true;
})()"""

# The round trip of the connection's selected candidate pair, as getStats says.
RTT_JS = """(async () => {
  const s = await window.vchat.pc.getStats();
  let id = null;
  s.forEach((r) => { if (r.type === 'transport' && r.selectedCandidatePairId) id = r.selectedCandidatePairId; });
  const pair = id && s.get(id);
  return pair && typeof pair.currentRoundTripTime === 'number' ? pair.currentRoundTripTime * 1000 : null;
})()"""


def test_quality_and_reconnecting(server, pages):
    a = pages("A", server.url + "/")
    b = pages("B", server.url + "/")
    both = (a, b)
    # The rule, at the Call XML's boundaries (loss %, RTT ms, fps, freeze ms, target kbit/s).
    cases = [
        ({"lossPct": 0, "rttMs": 10, "fps": 30, "freezeMs": 0, "targetKbps": 1000}, "good"),
        ({"lossPct": 1.9, "rttMs": 299, "fps": 20, "freezeMs": 0, "targetKbps": 250}, "good"),
        ({"lossPct": 2, "rttMs": 10, "fps": 30, "freezeMs": 0, "targetKbps": 1000}, "fair"),
        ({"lossPct": 0, "rttMs": 300, "fps": 30, "freezeMs": 0, "targetKbps": 1000}, "fair"),
        ({"lossPct": 0, "rttMs": 10, "fps": 19, "freezeMs": 0, "targetKbps": 1000}, "fair"),
        ({"lossPct": 0, "rttMs": 10, "fps": 30, "freezeMs": 600, "targetKbps": 1000}, "fair"),
        ({"lossPct": 0, "rttMs": 10, "fps": 30, "freezeMs": 0, "targetKbps": 249}, "fair"),
        ({"lossPct": 10, "rttMs": 1000, "fps": 8, "freezeMs": 999, "targetKbps": 100}, "fair"),
        ({"lossPct": 10.1, "rttMs": 10, "fps": 30, "freezeMs": 0, "targetKbps": 1000}, "poor"),
        ({"lossPct": 0, "rttMs": 1001, "fps": 30, "freezeMs": 0, "targetKbps": 1000}, "poor"),
        ({"lossPct": 0, "rttMs": 10, "fps": 7.9, "freezeMs": 0, "targetKbps": 1000}, "poor"),
        ({"lossPct": 0, "rttMs": 10, "fps": 30, "freezeMs": 1000, "targetKbps": 1000}, "poor"),
        ({"lossPct": 0, "rttMs": 10, "fps": 30, "freezeMs": 0, "targetKbps": 99}, "poor"),
        # No video from the peer (fps -1), no estimate (target 0): not counted.
        ({"lossPct": 0, "rttMs": 10, "fps": -1, "freezeMs": 0, "targetKbps": 0}, "good"),
    ]
    online(server, both)
    for q, word in cases:
        assert a.eval(f"window.vchat.qualityOf({json.dumps(q)})") == word, (q, word)

    random_call(server, a, b, "quality")
    # The word on the page is the rule applied to figures that agree with
    # getStats. (On loopback it is "good" on an idle machine; a loaded one
    # decodes fewer than 20 pictures a second: "fair".)
    for me in both:
        wait_until(server, both, me, "window.vchat.quality && window.vchat.quality.fps",
                   "the pictures a second received", timeout=20, check=lambda f: f > 0)
        seen = me.eval("""({q: window.vchat.quality, badge: document.getElementById('quality-badge').innerText,
                            detail: document.getElementById('quality-detail').textContent})""")
        q, detail = seen["q"], seen["detail"]
        print(f"{me.name}: {seen['badge']} {q}")
        assert seen["badge"].strip().startswith("Call: " + q["word"]), seen
        assert me.eval(f"window.vchat.qualityOf({json.dumps(q)})") == q["word"]
        assert f"{q['rttMs']} ms" in detail and f"{q['lossPct']} % loss" in detail, (q, detail)
        assert f"{int(q['fps'] + 0.5)} fps" in detail, (q, detail)   # JS Math.round
        assert q["lossPct"] < 2 and q["rttMs"] < 1000 and q["fps"] > 0, q
        # The page's round trip is getStats' (read at nearly the same time:
        # it changes with each connectivity check).
        pairs = []
        for _ in range(10):
            pair = me.eval(f"(async () => [window.vchat.quality.rttMs, await {RTT_JS}])()")
            pairs.append(pair)
            if pair[1] is not None and abs(pair[0] - pair[1]) <= 50:
                break
            time.sleep(0.3)
        assert pairs[-1][1] is not None and abs(pairs[-1][0] - pairs[-1][1]) <= 50, pairs

    wait_until(server, both, b, "window.vchat.quality && window.vchat.quality.fps",
               "B to get 8 pictures a second or more", timeout=20, check=lambda f: f >= 8)
    # A's pictures stop (its sender has no track), and B is not told over
    # "ctl": B gets no pictures: poor (fewer than 8 a second, a freeze).
    a.eval("""(async () => { window.__track = window.vchat.localStream.getVideoTracks()[0];
      for (const s of window.vchat.pc.getSenders()) if (s.track && s.track.kind === 'video') await s.replaceTrack(null);
      return true; })()""")
    wait_until(server, both, b, "window.vchat.quality", "B's quality to be poor for the picture rate",
               timeout=15, check=lambda q: q["word"] == "poor" and 0 <= q["fps"] < 8)
    wait_until(server, both, b, "document.getElementById('quality').textContent",
               "B to show it", timeout=3, check=lambda t: t == "poor")
    assert b.eval("document.getElementById('quality-badge').dataset.state") == "poor"
    a.eval("""(async () => {
      for (const t of window.vchat.pc.getTransceivers())
        if (t.sender && !t.sender.track && t.receiver.track.kind === 'video') await t.sender.replaceTrack(window.__track);
      return true; })()""")
    # (None at all while they were stopped; a loaded machine needs a while
    # for the full rate.)
    wait_until(server, both, b, "window.vchat.quality && window.vchat.quality.fps",
               "the pictures to come back", timeout=25, check=lambda f: f >= 3)

    # A restarts the connection: both pages say "Reconnecting…", then a word.
    for me in both:
        me.eval(QUALITY_SEEN_JS)
    assert a.eval("window.vchat.restart()") is True
    for me in both:
        wait_until(server, both, me, "window.vchat.state === 'connected' && window.vchat.attempt === 1",
                   "the call to be back", timeout=20)
        seen = wait_until(server, both, me, "window.__seen", "a word after reconnecting",
                          timeout=10, check=lambda s: "Reconnecting\u2026" in s
                          and s[-1] in ("good", "fair", "poor"))
        assert "Reconnecting\u2026" in seen, seen
    stop_all(a, b)


# --------------------------------------------------------- the server away

def test_offline_controls(pages):
    s = Signald()
    try:
        page = pages("A", s.url + "/")
        online(s, (page,))
        assert shown(page, "controls-why") is None
        click(page, "start-btn")
        wait_until(s, (page,), page, "window.vchat.log.some((l) => l.endsWith('< queued'))", "queued")
        assert shown(page, "spinner") is not None
        assert "Looking for someone" in shown(page, "overlay-text")
        # The server stays away until the checks are done, however long a
        # loaded machine takes over them.
        s.kill()
        try:
            why = wait_until(s, (page,), page, "(() => { const e = document.getElementById('controls-why');"
                             " return !e.hidden && e.offsetHeight > 0 && e.textContent; })()",
                             "the reason next to the buttons", timeout=5)
            assert "Start and Create invite" in why and "server" in why, why
            for bid in ("start-btn", "invite-btn"):
                el = page.eval(f"""(() => {{ const b = document.getElementById('{bid}');
                  return {{disabled: b.disabled, title: b.title, described: b.getAttribute('aria-describedby')}}; }})()""")
                assert el == {"disabled": True, "title": why, "described": "controls-why"}, (bid, el)
            # The search does not spin on as if it went on.
            assert shown(page, "spinner") is None
            assert "Looking for someone" not in (shown(page, "overlay-text") or "")
            time.sleep(1.5)
            assert shown(page, "spinner") is None
        finally:
            s.restart()
        online(s, (page,))
        assert shown(page, "controls-why") is None
        assert page.eval("document.getElementById('invite-btn').hasAttribute('title')") is False
        click(page, "stop-btn")
        wait_until(s, (page,), page, "window.vchat.state === 'idle'", "idle")
        click(page, "invite-btn")
        wait_until(s, (page,), page, "document.getElementById('invite-link').value", "an invite")
    finally:
        s.stop()


# ---------------------------------------------------- an incoming invite call

def test_incoming_invite_alert(server, pages):
    a = pages("A", server.url + "/")
    b = pages("B", "about:blank")
    both = (a, b)
    online(server, (a,))
    assert a.eval("document.title") == "vchat"
    click(a, "invite-btn")
    link = wait_until(server, both, a, "document.getElementById('invite-link').value", "the invite link")
    assert a.eval("window.vchat.chime.count") == 0
    b.navigate(link)
    wait_until(server, both, a, "window.vchat.state === 'incoming'", "the call to ring A")
    title = wait_until(server, both, a, "document.title", "the title to change",
                       check=lambda t: "is calling" in t)
    assert title == "\u260e Someone is calling \u2014 vchat", title
    said = wait_until(server, both, a, "document.getElementById('announce').textContent",
                      "the announcement", timeout=5)
    assert said == "Someone joined your invite and is calling. Accept or Decline.", said
    assert a.eval("document.getElementById('announce').getAttribute('aria-live')") == "assertive"
    assert a.eval("document.activeElement.id") == "accept-btn"
    # The sound: generated, and it reached the output (a running context).
    chime = wait_until(server, both, a, "window.vchat.chime", "the sound to play", timeout=5,
                       check=lambda c: c["count"] >= 1 and c["peak"] > 0.05)
    assert chime["state"] == "running", chime

    click(a, "accept-btn")
    assert a.eval("document.title") == "vchat"
    assert a.eval("document.getElementById('announce').textContent") == ""
    for me in both:
        wait_until(server, both, me, "window.vchat.state === 'connected'", "the call", timeout=30)
    check_media_and_chat(server, a, b)
    rings = a.eval("window.vchat.chime.count")
    time.sleep(1)
    assert a.eval("window.vchat.chime.count") == rings   # no more ringing in the call
    assert a.eval("document.title") == "vchat"
    stop_all(a, b)

    # A second invite: B joins, then gives up before A answers.
    wait_until(server, both, a, "window.vchat.state === 'idle'", "A idle")
    click(a, "invite-btn")
    code = wait_until(server, both, a, "window.vchat.invite && window.vchat.invite.code", "a new invite")
    b.eval(f"window.vchat.join({json.dumps(code)}, {{now: true}})")
    wait_until(server, both, a, "document.title", "the title again", check=lambda t: "is calling" in t)
    wait_until(server, both, b, "window.vchat.state === 'ringing'", "B ringing")
    b.eval("window.vchat.stop()")
    wait_until(server, both, a, "document.title", "the title back", check=lambda t: t == "vchat")
    assert "missed a call" in shown(a, "status")
    assert a.eval("document.getElementById('announce').textContent") == ""


# ------------------------------------------------------------ phone layout

LAYOUT_JS = """(() => {
  const r = (sel) => { const e = document.querySelector(sel); const b = e.getBoundingClientRect();
                       return {top: b.top, bottom: b.bottom, left: b.left, right: b.right, h: b.height}; };
  const them = Array.from(document.querySelectorAll('#messages li.them'));
  return {W: innerWidth, H: innerHeight, scrollY: scrollY, sw: document.documentElement.scrollWidth,
          video: r('.remote-wrap'), start: r('#start-btn'), next: r('#next-btn'), stop: r('#stop-btn'),
          mute: r('#mute-btn'), chat: r('.chat'), input: r('#chat-input'), send: r('#send-btn'),
          lastMessage: them.length ? (() => { const b = them[them.length - 1].getBoundingClientRect();
                                              return {top: b.top, bottom: b.bottom}; })() : null};
})()"""


def test_phone_layout(server, pages, artifacts):
    a = pages("A", server.url + "/")
    b = pages("B", server.url + "/")
    both = (a, b)
    random_call(server, a, b, "layout")
    for (w, h, mobile) in ((360, 740, True), (390, 844, True), (1280, 800, False)):
        a.devtools.call("Emulation.setDeviceMetricsOverride", width=w, height=h,
                        deviceScaleFactor=1, mobile=mobile)
        a.eval("window.scrollTo(0, 0)")
        text = f"hello at {w}x{h}"
        assert b.eval(f"window.vchat.sendChat({json.dumps(text)})")
        wait_until(server, both, a, f"window.vchat.messages.includes({json.dumps(text)})", "B's message")
        wait_until(server, both, a, f"{PICTURE_JS}('remote-video')", "B's picture on A", timeout=10,
                   check=lambda p: p["stddev"] > 5)
        time.sleep(0.5)
        L = a.eval(LAYOUT_JS)
        path = os.path.join(artifacts, f"call-{w}x{h}.png")
        a.screenshot(path)
        print(f"screenshot {w}x{h}: {path}")
        assert L["W"] == w and L["H"] == h, L
        assert L["sw"] <= w, f"{w}x{h}: the page is {L['sw']} px wide"
        assert L["scrollY"] == 0
        # The partner's video: on the screen and a good part of it.
        assert L["video"]["top"] >= 0 and L["video"]["bottom"] <= h, L["video"]
        assert L["video"]["h"] >= 0.35 * h, L["video"]
        # The buttons and the whole chat box under (or beside) it, on the screen.
        for k in ("next", "stop", "mute", "input", "send"):
            assert 0 <= L[k]["top"] and L[k]["bottom"] <= h and L[k]["right"] <= w, (w, h, k, L[k])
        assert L["chat"]["top"] < h
        assert L["lastMessage"] and 0 <= L["lastMessage"]["top"] and L["lastMessage"]["bottom"] <= h, L
        if w < 600:
            # Stacked: the chat right under the video's buttons.
            assert L["chat"]["top"] > L["video"]["bottom"]
            assert L["chat"]["top"] - L["mute"]["bottom"] < 40, L
        else:
            assert L["chat"]["left"] >= L["video"]["right"], L   # side by side
    stop_all(a, b)


# -------------------------------------------------------- camera required

def test_camera_required(server, pages):
    a = pages("A", server.url + "/", fake_media=False)   # no camera, no microphone
    b = pages("B", server.url + "/")
    both = (a, b)
    online(server, both)
    assert a.eval("document.getElementById('require-camera').checked") is True
    click(b, "start-btn")
    wait_until(server, both, b, "window.vchat.log.some((l) => l.endsWith('< queued'))", "B queued")
    click(a, "start-btn")
    err = wait_until(server, both, a, "window.vchat.lastError", "A to be refused",
                     check=lambda e: e["code"] == "camera-required")
    status = shown(a, "status")
    assert status == err["message"], (status, err)
    assert "No camera was found" in status and "not put in the queue" in status
    assert "Start again" in status and "invite" in status
    assert a.eval("window.vchat.state") == "idle"
    time.sleep(3)
    # Not queued: nothing went to the server, and B (waiting) met nobody.
    assert not a.eval("window.vchat.log.some((l) => l.endsWith('> queue'))")
    assert b.eval("window.vchat.state") == "searching" and b.eval("window.vchat.call") is None

    # An invite works without a camera: A joins B's invite and sees B.
    click(b, "stop-btn")
    wait_until(server, both, b, "window.vchat.state === 'idle'", "B idle")
    link = b.eval("window.vchat.createInvite()")
    type_text(a, "code-input", link)
    press(a, "Enter")
    wait_until(server, both, b, "window.vchat.state === 'incoming'", "B to ring")
    click(b, "accept-btn")
    for me in both:
        wait_until(server, both, me, "window.vchat.state === 'connected'", "the invite call", timeout=30)
    sent = picture(b, "local-video")
    wait_until(server, both, a, f"{PICTURE_JS}('remote-video')", "B's picture on A", timeout=15,
               check=lambda p: p["stddev"] > 5 and all(abs(x - y) < 40 for x, y in zip(p["rgb"], sent["rgb"])))
    click(a, "stop-btn")
    wait_until(server, both, b, "window.vchat.state === 'idle'", "B told")

    # The setting off: A may queue without a camera (and meets B).
    click(a, "require-camera")
    assert a.eval("localStorage.getItem('vchat.requireCamera')") == "0"
    assert a.eval("window.vchat.requireCamera") is False
    click(a, "start-btn")
    wait_until(server, both, a, "window.vchat.log.some((l) => l.endsWith('< queued'))", "A queued")
    click(b, "start-btn")
    for me in both:
        wait_until(server, both, me, "window.vchat.state === 'connected'", "a random call", timeout=30)
    stop_all(a, b)



def test_camera_denied(server, pages):
    # A camera denied: a page whose getUserMedia is refused, as when the
    # person says no to the browser's question.
    c = pages("C", server.url + "/")
    online(server, (c,))
    c.eval("navigator.mediaDevices.getUserMedia = () => "
           "Promise.reject(new DOMException('Permission denied', 'NotAllowedError')); true")
    click(c, "start-btn")
    err = wait_until(server, (c,), c, "window.vchat.lastError", "C to be refused",
                     check=lambda e: e["code"] == "camera-required")
    assert "Your camera is blocked" in err["message"] and "Allow it" in err["message"], err
    assert shown(c, "status") == err["message"]
    assert not c.eval("window.vchat.log.some((l) => l.endsWith('> queue'))")


# ---------------------------------------------- a call that never connects

# Every candidate a page is given becomes an mDNS name nobody answers for
# (as from a browser that hides its addresses, with no STUN or TURN): no
# side can reach the other, nor learn it from a check it receives.
MDNS_ONLY_JS = """(() => {
  const name = () => crypto.randomUUID() + '.local';
  const hide = (line) => line.replace(/^((?:a=)?candidate:\\S+ \\d+ \\S+ \\d+ )(\\S+)/, (m, pre) => pre + name());
  const add = RTCPeerConnection.prototype.addIceCandidate;
  RTCPeerConnection.prototype.addIceCandidate = function (c) {
    if (c && c.candidate) {
      c = Object.assign({}, c, {candidate: hide(c.candidate)});
      window.__hidden = (window.__hidden || []).concat([c.candidate]);
    }
    return add.call(this, c);
  };
  const setRemote = RTCPeerConnection.prototype.setRemoteDescription;
  RTCPeerConnection.prototype.setRemoteDescription = function (d) {
    if (d && d.sdp) d = {type: d.type, sdp: d.sdp.split('\\r\\n').map(hide).join('\\r\\n')};
    return setRemote.call(this, d);
  };
  return true;
})()"""


def test_connect_timeout(server, pages):
    a = pages("A", server.url + "/#connect-timeout=6")
    b = pages("B", server.url + "/#connect-timeout=6")
    both = (a, b)
    online(server, both)
    for me in both:
        assert me.eval(MDNS_ONLY_JS)
    assert a.eval("window.vchat.connectTimeout") == 6000
    a.eval("window.vchat.start({interests: 'nopath'})")
    wait_until(server, both, a, "window.vchat.log.some((l) => l.endsWith('< queued'))", "A queued")
    b.eval("window.vchat.start({interests: 'nopath'})")
    for me in both:
        wait_until(server, both, me, "window.vchat.call && window.vchat.state", "the match",
                   check=lambda s: s == "connecting")
    t0 = time.monotonic()
    for me in both:
        err = wait_until(server, both, me, "window.vchat.lastError", "the call to give up",
                         timeout=20, check=lambda e: e["code"] == "no-path")
        msg = shown(me, "status")
        assert msg == err["message"], msg
        assert msg.startswith("Could not reach your partner\u2019s network"), msg
        assert "Press Next" in msg, msg
        assert me.eval("window.vchat.state") == "idle" and me.eval("window.vchat.call") is None
        assert me.eval("document.getElementById('next-btn').disabled") is False
    assert time.monotonic() - t0 < 15
    # It never connected: no "connected" on either side; what each was
    # given were .local names.
    given = []
    for me in both:
        assert not me.eval("window.vchat.log.some((l) => l.endsWith('pc connected'))")
        hidden = me.eval("window.__hidden || []")
        assert all(".local " in c for c in hidden), hidden
        given += hidden
    assert given, "no candidates reached either page"
    # One side gave up and told the other (a `leave`, seen as peer_left).
    left = [me.eval("window.vchat.lastPeerLeft") for me in both]
    assert any(l and l["reason"] == "hangup" for l in left) or \
        all(log_count(me, "> leave") for me in both), left

    # Next: A looks for someone else.
    queued = log_count(a, "< queued")
    click(a, "next-btn")
    wait_until(server, both, a, "window.vchat.log.filter((l) => l.endsWith('< queued')).length",
               "A queued again", check=lambda n: n > queued)
    assert a.eval("window.vchat.offerNext") is None
    stop_all(a, b)


# ---------------------------------------------------------------- contrast

# Every element with its own text: WCAG contrast of its colour on the
# background drawn under it (translucent backgrounds composited up the tree;
# inside the video area also over a white picture, the worst case).
CONTRAST_ALL_JS = """(() => {
  const parse = (c) => { const m = c.match(/[\\d.]+/g) || [0, 0, 0, 0]; return m.length === 3 ? [...m.map(Number), 1] : m.map(Number); };
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                               return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3]));
  const ratio = (a, b) => { const [h, l] = [lum(a), lum(b)].sort((x, y) => y - x); return (h + 0.05) / (l + 0.05); };
  const page = parse(getComputedStyle(document.body).backgroundColor)[3] ? parse(getComputedStyle(document.body).backgroundColor)
             : parse(getComputedStyle(document.documentElement).backgroundColor);
  const background = (el, base) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
      if (base && e.classList.contains('remote-wrap')) { layers.push(base); break; }
    }
    let bg = layers.length && layers[layers.length - 1][3] >= 1 ? layers.pop().slice(0, 3) : page.slice(0, 3);
    while (layers.length) bg = over(layers.pop(), bg);
    return bg;
  };
  const out = [];
  const check = (el, what, colour, opacity) => {
    const inVideo = !!el.closest('.remote-wrap');
    for (const base of inVideo ? [null, [255, 255, 255, 1]] : [null]) {
      const bg = background(el, base);
      const fg = parse(colour);
      const r = ratio(over([fg[0], fg[1], fg[2], fg[3] * opacity], bg), bg);
      out.push({what, text: (el.value || el.placeholder || el.textContent || '').trim().slice(0, 40),
                ratio: Math.round(r * 100) / 100, base: base ? 'white picture' : 'page'});
    }
  };
  for (const el of document.querySelectorAll('body *')) {
    if (!el.getClientRects().length || el.closest('[hidden]') || el.closest('.sr-only')) continue;
    if (el.closest('button:disabled, select:disabled, input:disabled')) continue;   // WCAG: exempt
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden') continue;
    let opacity = 1;
    for (let e = el; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity);
    const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    if (own) check(el, el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : ''), cs.color, opacity);
    if ((el.tagName === 'INPUT' && el.type === 'text' && !el.value && el.placeholder)) {
      check(el, 'placeholder of #' + el.id, getComputedStyle(el, '::placeholder').color, opacity);
    }
    if (el.tagName === 'INPUT' && el.type === 'text' && el.value) check(el, 'input#' + el.id, cs.color, opacity);
  }
  return out;
})()"""

# What shows only sometimes, shown for the check.
SHOW_ALL_JS = """(() => {
  const $ = (id) => document.getElementById(id);
  for (const id of ['offline-line', 'controls-why', 'status', 'incoming-card', 'report-form', 'typing',
                    'peer-muted', 'peer-camera', 'peer-info', 'unmute-btn', 'quality-badge', 'invite-box'])
    $(id).hidden = false;
  $('controls-why').textContent = 'Start and Create invite work again once the server is back.';
  $('typing').textContent = 'Stranger is typing\u2026';
  $('peer-muted').textContent = 'Stranger muted';
  $('peer-camera').textContent = 'Stranger: camera off';
  $('peer-info').textContent = 'Stranger · music';
  $('invite-link').value = 'http://127.0.0.1/join/abcd-efgh-ijkl-mnop';
  for (const [cls, text] of [['me', 'hello'], ['them', 'hi there'], ['sys', 'The call ended.']]) {
    const li = document.createElement('li'); li.className = cls; li.textContent = text; $('messages').appendChild(li);
  }
  $('chat-input').disabled = false; $('send-btn').disabled = false;
  $('stop-btn').disabled = false; $('next-btn').disabled = false; $('report-btn').disabled = false;
  return true;
})()"""


def test_contrast_everywhere(server, pages):
    page = pages("A", server.url + "/")
    online(server, (page,))
    page.eval("window.vchat.allowCamera().then(() => true)")
    failures = {}
    for scheme in ("light", "dark"):
        page.devtools.call("Emulation.setEmulatedMedia",
                           features=[{"name": "prefers-color-scheme", "value": scheme}])
        for state in ("idle", "everything"):
            if state == "everything":
                page.eval(SHOW_ALL_JS)
            time.sleep(0.6)   # the buttons' colour and opacity transitions (.15 s)
            for status in ("info", "error"):
                page.eval(f"document.getElementById('status').className = 'status{' error' if status == 'error' else ''}';"
                          "document.getElementById('status').textContent = 'A status line'")
                for q in ("good", "fair", "poor", "reconnecting"):
                    page.eval(f"document.getElementById('quality-badge').dataset.state = '{q}'")
                    results = page.eval(CONTRAST_ALL_JS)
                    assert len(results) > 20, results
                    for r in results:
                        if r["ratio"] < 4.5:
                            failures[(scheme, r["what"], r["text"], r["base"])] = r["ratio"]
        page.navigate(server.url + "/")
        online(server, (page,))
    assert not failures, "\n".join(f"{k}: {v}:1" for k, v in sorted(failures.items()))
