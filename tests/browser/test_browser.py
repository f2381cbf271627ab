"""Two headless Chromium browsers call each other through the web client.

The real vchat-signald serves the web client (signaling/web) and relays the
signaling; each browser uses Chromium's fake camera and microphone. The tests
drive the pages over the DevTools protocol and check what a person would: the
partner's picture arrives (video frames are decoded, and the remote <video>
shows a picture with the colours of the partner's camera preview), chat texts
reach the other side, and server errors are shown on the page.

- test_random_call: Start with a shared interest, call, chat, Next (the peer
  queues again by itself), Stop.
- test_invite_call: Create invite, the second browser opens the web link and
  rings, Accept, call, chat, the WebSocket drops and the session resumes,
  Stop; then an invite joined by typed code is declined.
- test_server_error_is_shown: a wrong invite code shows the server's message.

Run (meson sets the environment):
  VCHAT_SIGNALD=build/signaling/server/vchat-signald VCHAT_WEB_ROOT=signaling/web \
  PYTHONPATH=tests/lib python3 -m pytest -v tests/browser

Set VCHAT_SCREENSHOT_DIR to a folder to keep screenshots of both pages
during each call.
"""
import json
import os
import sys
import time
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from chromium import CHROMIUM, Browser  # noqa: E402
from signald import Signald  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")


# --------------------------------------------------------------- helpers

STATE_JS = """(() => {
  const v = window.vchat;
  if (!v) return {loaded: false, href: location.href};
  return {href: location.href, state: v.state, signaling: v.signaling,
          call: v.call, pc: v.pc && v.pc.connectionState,
          ice: v.pc && v.pc.iceConnectionState,
          channel: v.channel && v.channel.readyState,
          errors: v.errors, messages: v.messages, log: v.log.slice(-40),
          status: document.getElementById('status').textContent};
})()"""


def describe(server, *browsers):
    parts = []
    for b in browsers:
        try:
            parts.append(f"--- browser {b.name}: {json.dumps(b.eval(STATE_JS, timeout=5), indent=1)}")
        except Exception as e:  # the page may be what broke
            parts.append(f"--- browser {b.name}: cannot read state: {e}\n{b.log_tail(1500)}")
    parts.append("--- vchat-signald log (tail):\n" + server.log[-3000:])
    return "\n".join(parts)


def wait_until(server, browsers, browser, expression, what, timeout=20, check=bool):
    """Evaluate expression in browser until check(value) holds; return value."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        try:
            value = browser.eval(expression)
        except RuntimeError as e:  # e.g. the page is navigating
            value = f"<{e}>"
            time.sleep(0.2)
            continue
        if value and check(value):
            return value
        time.sleep(0.2)
    raise AssertionError(f"{browser.name}: timed out after {timeout} s waiting for {what} "
                         f"(last value {value!r})\n{describe(server, *browsers)}")


INBOUND_VIDEO_JS = """(async () => {
  const pc = window.vchat.pc;
  if (!pc) return null;
  const stats = await pc.getStats();
  let out = null;
  stats.forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') {
      out = {framesDecoded: r.framesDecoded || 0, width: r.frameWidth || 0,
             height: r.frameHeight || 0, codec: r.codecId || ''};
    }
  });
  return out;
})()"""

# Draw a <video> into a small canvas and summarise its pixels.
PICTURE_JS = """((id) => {
  const v = document.getElementById(id);
  if (!v.videoWidth || !v.videoHeight || v.readyState < 2) return null;
  const c = document.createElement('canvas');
  c.width = 64; c.height = 48;
  const g = c.getContext('2d', {willReadFrequently: true});
  g.drawImage(v, 0, 0, c.width, c.height);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  const mean = [0, 0, 0];
  let sum = 0, sum2 = 0, n = 0;
  const colours = new Set();
  for (let i = 0; i < d.length; i += 4) {
    const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
    mean[0] += d[i]; mean[1] += d[i + 1]; mean[2] += d[i + 2];
    sum += y; sum2 += y * y; n++;
    colours.add((d[i] >> 5) + ',' + (d[i + 1] >> 5) + ',' + (d[i + 2] >> 5));
  }
  return {width: v.videoWidth, height: v.videoHeight, rgb: mean.map((m) => m / n),
          stddev: Math.sqrt(Math.max(0, sum2 / n - (sum / n) ** 2)), colours: colours.size};
})"""


def picture(browser, video_id):
    return browser.eval(f"{PICTURE_JS}({json.dumps(video_id)})")


def check_media_and_chat(server, a, b, via_ui=False):
    both = (a, b)
    for me, other in ((a, b), (b, a)):
        # Chromium fills in the frame size a stats tick after the first
        # decoded frame: wait for both.
        stats = wait_until(server, both, me, INBOUND_VIDEO_JS,
                           f"decoded video frames from {other.name}, and their size", timeout=20,
                           check=lambda s: s["framesDecoded"] > 0 and s["width"] > 0
                           and s["height"] > 0)
        assert stats["width"] > 0 and stats["height"] > 0, stats

        # What a person checks: the remote video shows the partner's camera.
        # Chromium's fake camera draws a moving coloured pattern; the picture
        # received must look like the one the partner shows in its preview.
        sent = picture(other, "local-video")
        assert sent and sent["stddev"] > 5 and sent["colours"] >= 3, f"{other.name}'s camera: {sent}"
        wait_until(server, both, me, f"{PICTURE_JS}('remote-video')",
                   f"{other.name}'s picture in the remote video", timeout=15,
                   check=lambda p: p["stddev"] > 5 and p["colours"] >= 3 and
                   all(abs(x - y) < 40 for x, y in zip(p["rgb"], sent["rgb"])))

    for me in both:
        wait_until(server, both, me, "window.vchat.channel && window.vchat.channel.readyState === 'open'",
                   "the chat data channel to open", timeout=10)
    for me, other in ((a, b), (b, a)):
        text = f"hello from {me.name} {uuid.uuid4().hex[:8]}"
        if via_ui:
            sent = me.eval(f"""(() => {{
              const input = document.getElementById('chat-input');
              input.value = {json.dumps(text)};
              document.getElementById('chat-form').requestSubmit();
              return input.value === '';
            }})()""")
        else:
            sent = me.eval(f"window.vchat.sendChat({json.dumps(text)})")
        assert sent, f"{me.name} could not send a chat message\n{describe(server, a, b)}"
        wait_until(server, both, other, f"window.vchat.messages.includes({json.dumps(text)})",
                   f"the chat text from {me.name}", timeout=10)
        shown = other.eval(f"""Array.from(document.querySelectorAll('#messages li.them'))
                               .some((li) => li.textContent === {json.dumps(text)})""")
        assert shown, f"{other.name} received the text but does not show it"


def screenshot(browser, label):
    folder = os.environ.get("VCHAT_SCREENSHOT_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        browser.screenshot(os.path.join(folder, f"{label}-{browser.name}.png"))


def no_errors(server, *browsers):
    # Errors the page marks quiet are races it expects (a message about a call
    # that just ended); everything else would have been shown to the user.
    for b in browsers:
        errors = b.eval("window.vchat.errors")
        shown = [e for e in errors if not e.get("quiet")]
        assert shown == [], f"{b.name} saw errors: {errors}\n{describe(server, *browsers)}"


# -------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def server():
    s = Signald()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def browsers(request):
    opened = []

    def open_browser(name, url):
        b = Browser(name, url)
        opened.append(b)
        return b

    try:
        yield open_browser
    finally:
        for b in opened:
            b.close()


# ----------------------------------------------------------------- tests

def test_random_call(server, browsers):
    a = browsers("A", server.url + "/")
    b = browsers("B", server.url + "/")
    both = (a, b)
    for me in both:
        wait_until(server, both, me, "window.vchat && window.vchat.signaling === 'online'",
                   "the page to connect to the server", timeout=15)

    # Shared interest "cats" (compared case-insensitively), same language.
    # A starts through the page's API, B fills in the form and clicks Start.
    assert a.eval("window.vchat.start({interests: 'cats, music', language: 'en'})") is True
    b.eval("""(() => {
      document.getElementById('interests').value = 'Cats, chess';
      document.getElementById('language').value = 'en';
      document.getElementById('start-btn').click();
    })()""")

    for me in both:
        wait_until(server, both, me, "window.vchat.state === 'connected'", "the call to connect", timeout=30)
    call_a, call_b = a.eval("window.vchat.call"), b.eval("window.vchat.call")
    assert call_a["id"] == call_b["id"]
    assert call_a["kind"] == call_b["kind"] == "random"
    assert {call_a["role"], call_b["role"]} == {"offerer", "answerer"}
    for c in (call_a, call_b):
        assert [t.lower() for t in c["commonInterests"]] == ["cats"], c
    assert a.eval("document.getElementById('peer-state').textContent") == "connected"
    assert a.eval("document.getElementById('signal-state').textContent") == "online"

    check_media_and_chat(server, a, b)
    screenshot(a, "random")
    screenshot(b, "random")

    # Next: A goes back to the queue, B is told "next" and queues again by itself.
    assert a.eval("window.vchat.next()") is True
    wait_until(server, both, b,
               "window.vchat.lastPeerLeft && window.vchat.lastPeerLeft.reason === 'next' && window.vchat.state === 'searching'",
               "peer_left next and searching again")
    wait_until(server, both, b, "window.vchat.log.filter((l) => l.endsWith('< queued')).length >= 2",
               "B to be queued again")
    wait_until(server, both, a, "window.vchat.log.filter((l) => l.endsWith('< queued')).length >= 2",
               "A to be queued again")
    assert a.eval("window.vchat.state") == "searching"
    assert a.eval("window.vchat.pc") is None

    for me in both:
        me.eval("window.vchat.stop()")
        wait_until(server, both, me, "window.vchat.log.some((l) => l.endsWith('< left_queue'))",
                   "the queue to be left")
        assert me.eval("window.vchat.state") == "idle"
    no_errors(server, a, b)


def test_invite_call(server, browsers):
    a = browsers("A", server.url + "/")
    b = browsers("B", "about:blank")
    both = (a, b)
    wait_until(server, both, a, "window.vchat && window.vchat.signaling === 'online'",
               "the page to connect to the server", timeout=15)

    # A creates an invite with the button; the page shows the web link.
    a.eval("document.getElementById('invite-btn').click()")
    link = wait_until(server, both, a,
                      "!document.getElementById('invite-box').hidden && document.getElementById('invite-link').value",
                      "the invite link to be shown")
    invite = a.eval("window.vchat.invite")
    assert link == invite["web_link"] == a.eval("window.vchat.inviteLink")
    assert link.rstrip("/").endswith("/join/" + invite["code"]), invite
    assert invite["link"] == "vchat://join/" + invite["code"], invite

    # B opens the link: the page asks for the camera and joins by itself.
    b.navigate(link)
    wait_until(server, both, b, "window.vchat && window.vchat.state === 'ringing'",
               "B to ring the inviter", timeout=15)
    assert b.eval("location.pathname") == "/"   # a reload must not join again
    wait_until(server, both, a,
               "window.vchat.state === 'incoming' && !document.getElementById('incoming-card').hidden",
               "the incoming call on A")
    assert a.eval("window.vchat.incoming.code") == invite["code"]
    assert a.eval("document.getElementById('invite-box').hidden") is True   # single use

    a.eval("document.getElementById('accept-btn').click()")
    for me in both:
        wait_until(server, both, me, "window.vchat.state === 'connected'", "the call to connect", timeout=30)
    call_a, call_b = a.eval("window.vchat.call"), b.eval("window.vchat.call")
    assert call_a["id"] == call_b["id"]
    assert call_a["kind"] == call_b["kind"] == "invite"
    assert call_a["role"] == "offerer" and call_b["role"] == "answerer"   # the inviter offers

    check_media_and_chat(server, a, b, via_ui=True)
    screenshot(a, "invite")
    screenshot(b, "invite")

    # A's WebSocket drops: the page reconnects, resumes its session and keeps
    # the call (the peer is told nothing).
    session = a.eval("window.vchat.session")
    assert a.eval("window.vchat.dropConnection()") is True
    wait_until(server, both, a,
               "window.vchat.signaling === 'online' && window.vchat.log.some((l) => l.endsWith('< welcome resumed'))",
               "A to resume its session", timeout=15)
    assert a.eval("window.vchat.session") == session
    assert a.eval("window.vchat.state") == "connected"
    assert b.eval("window.vchat.lastPeerLeft") is None

    # A hangs up with the Stop button; B learns it and is idle again.
    a.eval("document.getElementById('stop-btn').click()")
    wait_until(server, both, b,
               "window.vchat.lastPeerLeft && window.vchat.lastPeerLeft.reason === 'hangup' && window.vchat.state === 'idle'",
               "peer_left hangup on B")
    assert b.eval("window.vchat.pc") is None
    assert a.eval("window.vchat.state") == "idle"

    # A second invite, joined by typing the code; A declines it.
    code = a.eval("window.vchat.createInvite().then(() => window.vchat.invite.code)")
    b.eval(f"""(() => {{
      document.getElementById('code-input').value = {json.dumps(code.upper())};
      document.getElementById('code-form').requestSubmit();
    }})()""")
    wait_until(server, both, a, "window.vchat.state === 'incoming'", "the second incoming call on A")
    a.eval("document.getElementById('reject-btn').click()")
    wait_until(server, both, b,
               "window.vchat.lastPeerLeft && window.vchat.lastPeerLeft.reason === 'rejected' && window.vchat.state === 'idle'",
               "peer_left rejected on B")
    assert "declined" in b.eval("document.getElementById('status').textContent")
    assert a.eval("window.vchat.state") == "idle"
    assert a.eval("document.getElementById('incoming-card').hidden") is True
    no_errors(server, a, b)


def test_server_error_is_shown(server, browsers):
    a = browsers("A", server.url + "/")
    wait_until(server, (a,), a, "window.vchat && window.vchat.signaling === 'online'",
               "the page to connect to the server", timeout=15)
    a.eval("""(() => {
      document.getElementById('code-input').value = 'aaaa-bbbb-cccc-dddd';
      document.getElementById('code-form').requestSubmit();
    })()""")
    error = wait_until(server, (a,), a, "window.vchat.lastError", "the server's error")
    assert error["code"] == "invite-not-found" and error["ref"] == "invite_join", error
    status = a.eval("""(() => {
      const s = document.getElementById('status');
      return {visible: !s.hidden && s.offsetHeight > 0, error: s.classList.contains('error'),
              text: s.textContent};
    })()""")
    assert status == {"visible": True, "error": True, "text": error["message"]}, status
    assert a.eval("window.vchat.state") == "idle"
