"""What people on random-chat sites take for granted (issue 15, item 1), in
two headless Chromium pages through the real vchat-signald. Every test
drives one page with clicks and key presses and checks what the OTHER page
shows.

- test_mute_and_camera_off: A clicks Mute and Camera off; B shows
  "Stranger muted" and "Stranger: camera off" (told over the "ctl" data
  channel, which only web peers get), B's picture of A goes black and the
  audio energy B receives from A drops to silence. Chat text still goes
  over the plain-text "chat" channel. Unmute / Camera on clear B's tags.
- test_report_and_block: A picks a reason and clicks "Report and next": the
  server takes the `report` (its `reported` answer, and its log with
  --verbose) and A is back in the queue, B told `next`. Then B blocks A:
  when the server pairs them again (--rematch-delay 1) B skips A by itself.
- test_keys_typing_and_name: A types a display name (kept in localStorage,
  sent in `hello`): B shows it. A types in the chat box: B shows "… is
  typing…", which goes when the Enter-sent message arrives, and by itself
  3 s after typing stops. Esc once shows "Press Esc again for next" and does
  nothing else; Esc twice within 2 s is Next (B is told).
- test_offline_line: the server goes away: Start and Create invite are
  disabled and "Connection to the server lost — reconnecting…" shows instead
  of a spinner; when it is back, the line goes and Start works again.
- test_stop_contrast: the Stop button's text has a contrast of at least
  4.5:1 on its background, and the page fits a 360 px wide phone.

Run like test_browser.py (meson sets the environment).
"""
import json
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chromium import CHROMIUM, Browser  # noqa: E402
from signald import Signald  # noqa: E402
from test_browser import (  # noqa: E402,F401 (browsers is a fixture)
    PICTURE_JS, browsers, check_media_and_chat, describe, picture, wait_until)

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")


@pytest.fixture(scope="module")
def server():
    # --verbose: the server logs the reports it takes; --rematch-delay 1:
    # two pages that just parted can be paired again soon (for Block).
    s = Signald("--verbose", "--rematch-delay", "1")
    try:
        yield s
    finally:
        s.stop()


def online(server, pages):
    for me in pages:
        wait_until(server, pages, me, "window.vchat && window.vchat.signaling === 'online'",
                   "the page to connect to the server", timeout=15)


def click(page, element_id):
    """A real mouse click in the middle of the element (it must be visible)."""
    box = page.eval(f"""(() => {{
      const el = document.getElementById({json.dumps(element_id)});
      el.scrollIntoView({{block: 'center'}});
      const r = el.getBoundingClientRect();
      return {{x: r.left + r.width / 2, y: r.top + r.height / 2, w: r.width, h: r.height,
               disabled: !!el.disabled}};
    }})()""")
    assert box["w"] > 0 and box["h"] > 0, f"{page.name}: #{element_id} is not visible: {box}"
    assert not box["disabled"], f"{page.name}: #{element_id} is disabled"
    for kind in ("mousePressed", "mouseReleased"):
        page.devtools.call("Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"],
                           button="left", clickCount=1)


KEYS = {"Escape": ("Escape", 27, None), "Enter": ("Enter", 13, "\r")}


def press(page, key):
    code, vk, text = KEYS[key]
    down = dict(type="keyDown", key=key, code=code, windowsVirtualKeyCode=vk,
                nativeVirtualKeyCode=vk)
    if text:
        down["text"] = text
    page.devtools.call("Input.dispatchKeyEvent", **down)
    page.devtools.call("Input.dispatchKeyEvent", type="keyUp", key=key, code=code,
                       windowsVirtualKeyCode=vk, nativeVirtualKeyCode=vk)


def type_text(page, element_id, text):
    page.eval(f"document.getElementById({json.dumps(element_id)}).focus()")
    page.devtools.call("Input.insertText", text=text)


def random_call(server, a, b, interest):
    both = (a, b)
    online(server, both)
    a.eval(f"window.vchat.start({{interests: {json.dumps(interest)}}})")
    wait_until(server, both, a, "window.vchat.log.some((l) => l.endsWith('< queued'))", "A queued")
    b.eval(f"window.vchat.start({{interests: {json.dumps(interest)}}})")
    for me in both:
        wait_until(server, both, me, "window.vchat.state === 'connected'", "the call to connect",
                   timeout=30)
    for me in both:
        wait_until(server, both, me, "window.vchat.channel && window.vchat.channel.readyState === 'open'",
                   "the chat channel to open", timeout=10)


def shown(page, element_id):
    return page.eval(f"""(() => {{
      const el = document.getElementById({json.dumps(element_id)});
      return !el.hidden && el.offsetHeight > 0 ? el.textContent : null;
    }})()""")


# Energy per second of the audio received from the peer, over `ms`.
AUDIO_RATE_JS = """(async (ms) => {
  const read = async () => {
    let out = null;
    (await window.vchat.pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio')
        out = {e: r.totalAudioEnergy || 0, d: r.totalSamplesDuration || 0};
    });
    return out;
  };
  const a = await read();
  await new Promise((r) => setTimeout(r, ms));
  const b = await read();
  if (!a || !b || b.d <= a.d) return null;
  return (b.e - a.e) / (b.d - a.d);
})"""


def audio_rate(page, ms=1500):
    return page.eval(f"{AUDIO_RATE_JS}({ms})")


# ----------------------------------------------------------------- tests

def test_mute_and_camera_off(server, browsers):
    a = browsers("A", server.url + "/")
    b = browsers("B", server.url + "/")
    both = (a, b)
    random_call(server, a, b, "mute")
    # Pictures both ways, and chat text on the "chat" channel next to "ctl".
    check_media_and_chat(server, a, b, via_ui=True)
    for me in both:
        wait_until(server, both, me, "window.vchat.peerMedia !== null", "the peer's state on ctl",
                   timeout=10)
    assert b.eval("window.vchat.peerMedia") == {"muted": False, "camera": True}
    assert shown(b, "peer-muted") is None and shown(b, "peer-camera") is None

    before = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        before = audio_rate(b)
        if before and before > 1e-4:
            break
    assert before and before > 1e-4, f"B hears nothing from A before the mute: {before}"

    click(a, "mute-btn")
    click(a, "video-btn")
    assert a.eval("document.getElementById('mute-btn').getAttribute('aria-pressed')") == "true"
    assert a.eval("document.getElementById('video-btn').getAttribute('aria-pressed')") == "true"
    assert a.eval("window.vchat.localStream.getAudioTracks().every((t) => !t.enabled)")
    assert a.eval("window.vchat.localStream.getVideoTracks().every((t) => !t.enabled)")

    wait_until(server, both, b, "document.getElementById('peer-muted').textContent",
               "B to show that A muted", timeout=10, check=lambda t: t == "Stranger muted")
    wait_until(server, both, b, "document.getElementById('peer-camera').textContent",
               "B to show that A's camera is off", timeout=10,
               check=lambda t: t == "Stranger: camera off")
    assert shown(b, "peer-muted") == "Stranger muted"
    assert shown(b, "peer-camera") == "Stranger: camera off"
    # A's own page shows none of this about B.
    assert shown(a, "peer-muted") is None and shown(a, "peer-camera") is None

    # B's picture of A goes black.
    wait_until(server, both, b, f"{PICTURE_JS}('remote-video')", "A's picture to go black on B",
               timeout=10, check=lambda p: max(p["rgb"]) < 16 and p["stddev"] < 3)
    # And the audio B gets from A is silence.
    after = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        after = audio_rate(b)
        if after is not None and after < before / 100:
            break
    assert after is not None and after < before / 100, f"audio energy {before} -> {after}"

    # Chat still works both ways (plain text).
    assert a.eval("window.vchat.sendChat('still here')")
    wait_until(server, both, b, "window.vchat.messages.includes('still here')", "chat after mute")

    click(a, "mute-btn")
    click(a, "video-btn")
    wait_until(server, both, b, "window.vchat.peerMedia",
               "B to see A unmuted with the camera on", timeout=10,
               check=lambda m: m == {"muted": False, "camera": True})
    assert shown(b, "peer-muted") is None and shown(b, "peer-camera") is None
    wait_until(server, both, b, f"{PICTURE_JS}('remote-video')", "A's picture back on B",
               timeout=10, check=lambda p: p["stddev"] > 5 and p["colours"] >= 3)
    for me in both:
        me.eval("window.vchat.stop()")


def test_report_and_block(server, browsers):
    a = browsers("A", server.url + "/")
    b = browsers("B", server.url + "/")
    both = (a, b)
    random_call(server, a, b, "report")
    call = a.eval("window.vchat.call.id")

    click(a, "report-btn")
    assert shown(a, "report-form") is not None
    assert a.eval("document.activeElement.id") == "report-reason"
    a.eval("""(() => {
      const s = document.getElementById('report-reason');
      s.value = 'spam or advertising';
      s.dispatchEvent(new Event('change', {bubbles: true}));
    })()""")
    click(a, "report-send")
    # The server took the report, for this call and with this reason.
    wait_until(server, both, a, "window.vchat.log.some((l) => l.endsWith('< reported'))",
               "the server's `reported`", timeout=10)
    deadline = time.monotonic() + 5
    while f"call {call}: a peer reported" not in server.log and time.monotonic() < deadline:
        time.sleep(0.1)
    assert f"call {call}: a peer reported" in server.log, server.log[-2000:]
    # A moved on (Next), B was told.
    assert a.eval("window.vchat.state") in ("searching", "connecting", "connected")
    assert a.eval("window.vchat.call === null || window.vchat.call.id !== " + json.dumps(call))
    wait_until(server, both, b, "window.vchat.lastPeerLeft && window.vchat.lastPeerLeft.reason",
               "B to be told `next`", check=lambda r: r == "next")
    assert shown(a, "report-form") is None
    assert [e for e in a.eval("window.vchat.errors") if not e.get("quiet")] == []

    # They meet again (the only two in the queue, --rematch-delay 1).
    for me in both:
        wait_until(server, both, me, "window.vchat.state === 'connected'", "a second call",
                   timeout=30)
        wait_until(server, both, me, "window.vchat.channel && window.vchat.channel.readyState === 'open'",
                   "the chat channel to open", timeout=10)
    wait_until(server, both, b, "window.vchat.peerMedia !== null", "A's hello on ctl", timeout=10)
    a_id = a.eval("localStorage.getItem('vchat.id')")
    second = b.eval("window.vchat.call.id")
    click(b, "block-btn")
    assert b.eval("window.vchat.blocked") == ["id:" + a_id]
    assert b.eval("JSON.parse(localStorage.getItem('vchat.blocked'))") == ["id:" + a_id]
    wait_until(server, both, a, "window.vchat.lastPeerLeft && window.vchat.lastPeerLeft.call",
               "A to be left by B", check=lambda c: c == second)
    # The server pairs them again: B skips A by itself, as soon as A says who
    # it is on the control channel.
    wait_until(server, both, b, "window.vchat.log.filter((l) => l.endsWith('a blocked peer: skipping')).length",
               "B to skip A", timeout=30)
    wait_until(server, both, a, "window.vchat.lastPeerLeft && window.vchat.lastPeerLeft.call",
               "A to be skipped", check=lambda c: c != second)
    for me in both:
        me.eval("window.vchat.stop()")


def test_keys_typing_and_name(server, browsers):
    a = browsers("A", server.url + "/")
    b = browsers("B", server.url + "/")
    both = (a, b)
    online(server, both)
    # A display name, typed into the field, kept, and sent in a new hello.
    type_text(a, "name", "Zoë \u2728")
    a.eval("document.getElementById('name').dispatchEvent(new Event('change'))")
    assert a.eval("localStorage.getItem('vchat.name')") == "Zoë \u2728"
    wait_until(server, both, a, "window.vchat.log.filter((l) => l.endsWith('< welcome')).length",
               "a new session with the name", check=lambda n: n >= 2)
    online(server, both)
    random_call(server, a, b, "keys")
    assert b.eval("window.vchat.call.peer.name") == "Zoë \u2728"
    assert shown(b, "peer-info").startswith("Zoë \u2728")
    assert "Zoë" in b.eval("Array.from(document.querySelectorAll('#messages li.sys')).map((l) => l.textContent).join()")
    wait_until(server, both, b, "window.vchat.peerMedia !== null", "A's hello on ctl", timeout=10)

    # Typing shows on B; Enter sends; the message hides it.
    type_text(a, "chat-input", "hi the")
    wait_until(server, both, b, "document.getElementById('typing').hidden ? '' : document.getElementById('typing').textContent",
               "B to show that A is typing", timeout=5, check=lambda t: t == "Zoë \u2728 is typing\u2026")
    type_text(a, "chat-input", "re")
    press(a, "Enter")
    wait_until(server, both, b, "window.vchat.messages.includes('hi there')", "the message sent with Enter")
    assert a.eval("document.getElementById('chat-input').value") == ""
    assert shown(b, "typing") is None
    # Typing without sending: gone 3 s later.
    type_text(a, "chat-input", "hm")
    wait_until(server, both, b, "window.vchat.peerTyping", "typing again", timeout=5)
    t0 = time.monotonic()
    wait_until(server, both, b, "!window.vchat.peerTyping", "typing to go by itself", timeout=6)
    assert time.monotonic() - t0 > 1.5
    assert shown(b, "typing") is None

    # The hint line is on the page.
    assert "Esc" in shown(a, "key-hint") and "Enter" in shown(a, "key-hint")
    # Esc once: a prompt, the call goes on; after 2 s it is forgotten.
    call = a.eval("window.vchat.call.id")
    press(a, "Escape")
    assert shown(a, "status") == "Press Esc again for next"
    time.sleep(2.5)
    press(a, "Escape")
    time.sleep(0.3)
    assert a.eval("window.vchat.call && window.vchat.call.id") == call
    assert b.eval("window.vchat.state") == "connected"
    # Twice within 2 s: Next; B is told.
    press(a, "Escape")
    wait_until(server, both, b, "window.vchat.lastPeerLeft && window.vchat.lastPeerLeft.reason",
               "B to be told `next`", check=lambda r: r == "next")
    assert a.eval("window.vchat.call === null || window.vchat.call.id !== " + json.dumps(call))
    for me in both:
        me.eval("window.vchat.stop()")


def test_offline_line():
    s = Signald()
    page = None
    try:
        page = Browser("A", s.url + "/")
        online(s, (page,))
        assert page.eval("document.getElementById('start-btn').disabled") is False
        assert page.eval("document.getElementById('invite-btn').disabled") is False
        assert shown(page, "offline-line") is None
        click(page, "start-btn")
        wait_until(s, (page,), page, "window.vchat.log.some((l) => l.endsWith('< queued'))", "queued")
        assert shown(page, "spinner") is not None
        # The server stays away until the checks are done, however long a
        # loaded machine takes over them.
        s.kill()
        try:
            wait_until(s, (page,), page, "(() => { const e = document.getElementById('offline-line');"
                       " return !e.hidden && e.offsetHeight > 0; })()", "the offline line", timeout=5)
            assert shown(page, "offline-line") == "Connection to the server lost \u2014 reconnecting\u2026"
            assert page.eval("document.getElementById('offline-line').getAttribute('role')") == "alert"
            for bid in ("start-btn", "next-btn", "invite-btn"):
                assert page.eval(f"document.getElementById('{bid}').disabled") is True, bid
            assert shown(page, "spinner") is None
            assert shown(page, "overlay-text") == "Connection to the server lost \u2014 reconnecting\u2026"
        finally:
            s.restart()
        online(s, (page,))
        assert shown(page, "offline-line") is None
        # The new server forgot the page's session: it queues again.
        wait_until(s, (page,), page, "window.vchat.log.filter((l) => l.endsWith('< queued')).length",
                   "queued again", check=lambda n: n >= 2)
        click(page, "stop-btn")
        wait_until(s, (page,), page, "window.vchat.state === 'idle'", "idle")
        assert page.eval("document.getElementById('start-btn').disabled") is False
        assert page.eval("document.getElementById('invite-btn').disabled") is False
    finally:
        if page:
            page.close()
        s.stop()


# WCAG contrast of an element's text colour on its (opaque) background.
CONTRAST_JS = """((id) => {
  const el = document.getElementById(id);
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => {
    const [r, g, b] = rgb(c).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const cs = getComputedStyle(el);
  const [l1, l2] = [lum(cs.color), lum(cs.backgroundColor)].sort((x, y) => y - x);
  return (l1 + 0.05) / (l2 + 0.05);
})"""


def test_stop_contrast(server):
    page = Browser("phone", server.url + "/")
    try:
        # A headless window is at least 500 px wide: emulate the phone.
        page.devtools.call("Emulation.setDeviceMetricsOverride", width=360, height=740,
                           deviceScaleFactor=1, mobile=True)
        online(server, (page,))
        assert page.eval("window.innerWidth") == 360
        page.eval("window.vchat.start()")
        wait_until(server, (page,), page, "!document.getElementById('stop-btn').disabled",
                   "Stop to be enabled")
        ratio = page.eval(f"{CONTRAST_JS}('stop-btn')")
        assert ratio >= 4.5, f"Stop: {ratio:.2f}:1"
        # Nothing sticks out of a 360 px wide page.
        width = page.eval("document.documentElement.scrollWidth")
        assert width <= 360, width
        for bid in ("mute-btn", "video-btn", "report-btn", "block-btn", "stop-btn"):
            r = page.eval(f"document.getElementById('{bid}').getBoundingClientRect().right")
            assert r <= 360, (bid, r)
        page.eval("window.vchat.stop()")
    finally:
        page.close()
