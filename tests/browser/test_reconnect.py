"""The web client reconnects a call whose connection broke (docs/protocol.md,
"Reconnecting a call"), in headless Chromium against the real vchat-signald.

- test_restart_reconnects_the_call: two pages in a random call; one is told
  to restart (window.vchat.restart(), as when it sees the path broken) while
  the other's signals are held back for a while. Both show "Reconnecting…"
  with the partner's last picture still up, then come back in the same call
  at attempt 1, with the partner's picture flowing on the new connection,
  chat over its new data channel, and "Reconnected." announced.
- test_old_attempt_is_dropped: a page in a call with a raw protocol client.
  The client restarts; the page follows with a new offer for attempt 1, and
  drops signals of attempt 0 (and a repeated restart of attempt 1) without
  an error, while the same bad answer at attempt 1 is processed. The page's
  WebSocket drops and resumes while its connection is down: it restarts
  (attempt 2). The client then leaves: the page ends the call as one that
  could not be restored.
- test_reconnect_gives_up: the partner stops answering (its connection
  closed, its signals held back) while its session lives on; the page sees
  its path broken, reconnects, then gives up after its deadline
  (#reconnect-timeout=6 instead of 30 s), sends `leave` and says the
  connection could not be restored; the partner, still reconnecting, takes
  the `peer_left` the same way.
- test_vanished_peer_ends_the_call: the partner's browser is killed; the
  server says it is away (`peer_away`), and the page ends the call once its
  media stopped instead of reconnecting to nobody.

Run like test_browser.py (meson sets the environment).
"""
import os
import signal
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chromium import CHROMIUM  # noqa: E402
from signald import Client  # noqa: E402
from test_browser import (  # noqa: E402,F401 (server and browsers are fixtures)
    INBOUND_VIDEO_JS, PICTURE_JS, browsers, check_media_and_chat, describe, no_errors,
    screenshot, server, wait_until)

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")

# Hold back the `signal` frames a page sends (a peer that is slow to answer)
# until window.__release(); other frames (pong) go out.
HOLD_SIGNALS_JS = """(() => {
  if (!window.__hold) {
    const send = WebSocket.prototype.send;
    const hold = window.__hold = { on: false, held: [] };
    WebSocket.prototype.send = function (data) {
      if (hold.on && /^\\{"type":"signal"/.test(data)) {
        hold.held.push([this, data]);
        return;
      }
      return send.call(this, data);
    };
    window.__release = () => {
      hold.on = false;
      for (const [ws, data] of hold.held.splice(0)) send.call(ws, data);
    };
  }
  window.__hold.on = true;
  return true;
})()"""

# Everything the status line (role=status, aria-live) and the overlay said.
WATCH_STATUS_JS = """(() => {
  const said = window.__said = [];
  for (const id of ['status', 'overlay-text']) {
    const el = document.getElementById(id);
    new MutationObserver(() => { if (el.textContent) said.push(id + ': ' + el.textContent); })
      .observe(el, { childList: true, characterData: true, subtree: true });
  }
  return true;
})()"""

# The still that keeps the partner's last picture while reconnecting.
STILL_JS = """(() => {
  const c = document.getElementById('remote-still');
  if (c.hidden || !c.width || !c.height || c.offsetWidth === 0) return null;
  const s = document.createElement('canvas');
  s.width = 64; s.height = 48;
  const g = s.getContext('2d', {willReadFrequently: true});
  g.drawImage(c, 0, 0, s.width, s.height);
  const d = g.getImageData(0, 0, s.width, s.height).data;
  const mean = [0, 0, 0];
  let sum = 0, sum2 = 0, n = 0;
  for (let i = 0; i < d.length; i += 4) {
    const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
    mean[0] += d[i]; mean[1] += d[i + 1]; mean[2] += d[i + 2];
    sum += y; sum2 += y * y; n++;
  }
  return {rgb: mean.map((m) => m / n), stddev: Math.sqrt(Math.max(0, sum2 / n - (sum / n) ** 2))};
})()"""

STATUS_JS = """(() => {
  const s = document.getElementById('status');
  return {text: s.textContent, shown: !s.hidden && s.offsetHeight > 0, error: s.classList.contains('error')};
})()"""

# The remote <video> plays a live video track of the current connection.
SHOWS_CURRENT_PC_JS = """(() => {
  const v = document.getElementById('remote-video');
  const pc = window.vchat.pc;
  if (!pc || !(v.srcObject instanceof MediaStream)) return false;
  const ids = pc.getReceivers().map((r) => r.track && r.track.id);
  return v.srcObject.getVideoTracks().some((t) => ids.includes(t.id) && t.readyState === 'live');
})()"""


def online(server, pages):
    for me in pages:
        wait_until(server, pages, me, "window.vchat && window.vchat.signaling === 'online'",
                   "the page to connect to the server", timeout=15)


def random_call(server, a, b):
    """A queues first (so it is the offerer), then B; both connect."""
    both = (a, b)
    online(server, both)
    assert a.eval("window.vchat.start({interests: 'reconnect'})") is True
    wait_until(server, both, a, "window.vchat.log.some((l) => l.endsWith('< queued'))", "A queued")
    assert b.eval("window.vchat.start({interests: 'reconnect'})") is True
    for me in both:
        wait_until(server, both, me, "window.vchat.state === 'connected'", "the call to connect",
                   timeout=30)
    call = a.eval("window.vchat.call")
    assert call["id"] == b.eval("window.vchat.call.id")
    assert call["role"] == "offerer" and b.eval("window.vchat.call.role") == "answerer"
    assert a.eval("window.vchat.attempt") == b.eval("window.vchat.attempt") == 0
    return call["id"]


def test_restart_reconnects_the_call(server, browsers):
    a = browsers("A", server.url + "/")
    b = browsers("B", server.url + "/")
    both = (a, b)
    call_id = random_call(server, a, b)
    for me in both:
        wait_until(server, both, me, f"{PICTURE_JS}('remote-video')", "the partner's picture",
                   timeout=20, check=lambda p: p["stddev"] > 5)
        assert me.eval(WATCH_STATUS_JS)
    before = {me.name: me.eval(f"{PICTURE_JS}('remote-video')") for me in both}

    # B's answers are held back, so the reconnection takes a while to watch.
    assert b.eval(HOLD_SIGNALS_JS)
    now = a.eval("""(() => {
      const ok = window.vchat.restart();
      return {ok, state: window.vchat.state, attempt: window.vchat.attempt,
              video: !!document.getElementById('remote-video').srcObject};
    })()""")
    assert now == {"ok": True, "state": "reconnecting", "attempt": 1, "video": True}, now
    wait_until(server, both, b, "window.vchat.state === 'reconnecting' && window.vchat.attempt === 1",
               "B to follow A's restart")
    for me in both:
        assert me.eval("window.vchat.reconnecting") is True
        assert me.eval("window.vchat.call.id") == call_id
        # "Reconnecting…" is shown over the partner's last picture.
        ui = me.eval("""(() => ({
          status: document.getElementById('status').textContent,
          statusShown: !document.getElementById('status').hidden,
          overlay: document.getElementById('overlay-text').textContent,
          overlayShown: !document.getElementById('remote-overlay').hidden,
        }))()""")
        assert "Reconnecting" in ui["status"] and ui["statusShown"], ui
        assert ui["overlay"] == "Reconnecting…" and ui["overlayShown"], ui
        still = me.eval(STILL_JS)
        old = before[me.name]
        assert still and still["stddev"] > 5, f"{me.name} shows no picture while reconnecting: {still}"
        assert all(abs(x - y) < 40 for x, y in zip(still["rgb"], old["rgb"])), (still, old)
    screenshot(a, "reconnecting")
    # B followed without a restart of its own.
    assert not any("restart (" in line for line in b.eval("window.vchat.log")), b.eval("window.vchat.log")

    b.eval("window.__release()")
    for me in both:
        wait_until(server, both, me, "window.vchat.state === 'connected'", "the call to reconnect",
                   timeout=20)
    for me in both:
        got = me.eval("""({attempt: window.vchat.attempt, reconnects: window.vchat.reconnects,
                          reconnecting: window.vchat.reconnecting, call: window.vchat.call.id,
                          pc: window.vchat.pc.connectionState})""")
        assert got == {"attempt": 1, "reconnects": 1, "reconnecting": False, "call": call_id,
                       "pc": "connected"}, f"{me.name}: {got}"

    # The new connection carries the partner's picture and the chat.
    check_media_and_chat(server, a, b)
    for me in both:
        assert me.eval(SHOWS_CURRENT_PC_JS), f"{me.name} does not show the new connection's video"
        wait_until(server, both, me, "document.getElementById('remote-still').hidden",
                   "the still to give way to the new picture", timeout=10)
        said = me.eval("window.__said")
        i = next((n for n, s in enumerate(said) if s.startswith("status: ") and "Reconnecting" in s), None)
        assert i is not None, f"{me.name} never said Reconnecting: {said}"
        assert "status: Reconnected." in said[i:], f"{me.name} never said Reconnected: {said}"
    screenshot(a, "reconnected")
    no_errors(server, a, b)

    a.eval("window.vchat.stop()")
    wait_until(server, both, b, "window.vchat.state === 'idle'", "B to see A hang up")
    assert b.eval("window.vchat.lastPeerLeft.reason") == "hangup"
    assert "could not be restored" not in b.eval("document.getElementById('status').textContent")


def signals_until(client, pred, timeout=10):
    """The client's received `signal`s up to and including the first for
    which pred holds."""
    got = []
    deadline = time.monotonic() + timeout
    while True:
        msg = client.recv(max(0.1, deadline - time.monotonic()))
        if msg["type"] == "peer_away":   # news about the page's socket
            continue
        assert msg["type"] == "signal", msg
        got.append(msg)
        if pred(msg):
            return got


def test_old_attempt_is_dropped(server, browsers):
    a = browsers("A", server.url + "/")
    online(server, (a,))
    assert a.eval("window.vchat.start({interests: 'attempts'})") is True
    wait_until(server, (a,), a, "window.vchat.log.some((l) => l.endsWith('< queued'))", "A queued")
    c = Client(server, name="raw")
    try:
        c.send({"type": "queue", "interests": ["attempts"]})
        c.expect("queued")
        matched = c.expect("matched")
        call = matched["call"]
        assert matched["role"] == "answerer"
        wait_until(server, (a,), a, "window.vchat.call && window.vchat.state === 'connecting'",
                   "A in the call")

        # Attempt 0: the page's offer (every signal names its attempt).
        first = signals_until(c, lambda m: "sdp" in m)
        assert first[-1]["sdp"]["type"] == "offer"
        assert all(m.get("attempt") == 0 for m in first), first

        # The raw client restarts: the page follows with an offer for attempt 1.
        c.send({"type": "signal", "call": call, "restart": True, "attempt": 1})
        wait_until(server, (a,), a, "window.vchat.attempt === 1", "A at attempt 1")
        assert a.eval("window.vchat.state") == "reconnecting"
        got = signals_until(c, lambda m: "sdp" in m and m.get("attempt") == 1)
        assert got[-1]["sdp"]["type"] == "offer"
        assert "restart" not in got[-1]
        # Candidates of attempt 0 may still have been on their way; after the
        # new offer everything is attempt 1.
        later = []
        try:
            while True:
                later.append(c.recv(1.5))
        except TimeoutError:
            pass
        assert all(m["type"] == "signal" and "ice" in m and m.get("attempt") == 1
                   for m in later), later
        assert a.eval("window.__pc1 = window.vchat.pc, true")

        # Old signals (attempt 0, or none) and a repeated restart of attempt 1
        # change nothing. The answer is not SDP at all: processed, it would
        # be an error.
        bad_answer = {"type": "answer", "sdp": "v=0 this is no session description"}
        c.send({"type": "signal", "call": call, "attempt": 0, "sdp": bad_answer})
        c.send({"type": "signal", "call": call,
                "ice": {"candidate": "candidate:1 1 udp 1 192.0.2.1 9 typ host", "sdpMLineIndex": 0}})
        c.send({"type": "signal", "call": call, "restart": True, "attempt": 1})
        c.send({"type": "signal", "call": call, "attempt": 0,
                "ice": {"candidate": "candidate:2 1 udp 1 192.0.2.2 9 typ host", "sdpMLineIndex": 0}})
        wait_until(server, (a,), a,
                   "window.vchat.log.filter((l) => / dropped (sdp answer|ice) of attempt 0 /.test(l)).length",
                   "A to drop the old signals", check=lambda n: n >= 3)
        state = a.eval("""({same: window.vchat.pc === window.__pc1, attempt: window.vchat.attempt,
                            state: window.vchat.state, errors: window.vchat.errors})""")
        assert state == {"same": True, "attempt": 1, "state": "reconnecting", "errors": []}, state
        c.expect_nothing(0.5)   # no answer, no restart of its own

        # The same bad answer for the current attempt is processed (and fails).
        c.send({"type": "signal", "call": call, "attempt": 1, "sdp": bad_answer})
        err = wait_until(server, (a,), a, "window.vchat.lastError", "the bad answer's error")
        assert err["code"] == "webrtc", err

        # The page's socket drops and resumes while its connection is down:
        # it restarts (attempt 2) and offers again.
        assert a.eval("window.vchat.dropConnection()") is True
        wait_until(server, (a,), a,
                   "window.vchat.log.some((l) => l.endsWith('< welcome resumed'))", "A to resume")
        got = signals_until(c, lambda m: m.get("restart"))
        assert got[-1]["attempt"] == 2, got
        got = signals_until(c, lambda m: "sdp" in m)
        assert got[-1]["attempt"] == 2 and got[-1]["sdp"]["type"] == "offer", got
        assert a.eval("window.vchat.log.some((l) => l.includes('restart (signaling resumed): attempt 2'))")
        assert a.eval("window.vchat.state") == "reconnecting"

        # The client leaves while the page reconnects: the call could not be
        # restored (not a plain hangup).
        c.send({"type": "leave", "call": call})
        while c.recv()["type"] != "call_ended":   # candidates of attempt 2 before it
            pass
        wait_until(server, (a,), a, "window.vchat.state === 'idle'", "A to end the call")
        assert a.eval("window.vchat.lastPeerLeft.reason") == "hangup"
        err = a.eval("window.vchat.lastError")
        status = a.eval("document.getElementById('status').textContent")
        assert err["code"] == "reconnect" and err["message"] == status, (err, status)
        assert "could not be restored" in status and "Start" in status, status
        assert a.eval("window.vchat.pc") is None and a.eval("window.vchat.reconnecting") is False
    finally:
        c.close()


def test_reconnect_gives_up(server, browsers):
    a = browsers("A", server.url + "/#reconnect-timeout=6")
    b = browsers("B", server.url + "/")
    both = (a, b)
    online(server, both)
    assert a.eval("window.vchat.reconnectTimeout") == 6000
    assert b.eval("window.vchat.reconnectTimeout") == 30000
    call_id = random_call(server, a, b)
    wait_until(server, both, a, INBOUND_VIDEO_JS, "video from B", check=lambda s: s["framesDecoded"] > 0)

    # B stops answering while its session lives on: its connection closes
    # under it and whatever it signals is held back.
    t0 = time.monotonic()
    assert b.eval(HOLD_SIGNALS_JS)
    b.eval("window.vchat.pc.close()")
    # A sees its path broken by itself and restarts; B follows.
    wait_until(server, both, a, "window.vchat.state === 'reconnecting'", "A to reconnect", timeout=20)
    t_reconnecting = time.monotonic() - t0
    assert "Reconnecting" in a.eval("document.getElementById('status').textContent")
    assert any("path broken" in line for line in a.eval("window.vchat.log"))
    wait_until(server, both, b, "window.vchat.state === 'reconnecting'", "B to follow A's restart")
    wait_until(server, both, a, "window.vchat.state === 'idle'", "A to give up", timeout=35)
    t_idle = time.monotonic() - t0

    err = a.eval("window.vchat.lastError")
    status = a.eval(STATUS_JS)
    assert err and err["code"] == "reconnect", f"{err}\n{describe(server, a, b)}"
    assert status["shown"] and status["error"] and status["text"] == err["message"], status
    assert "could not be restored" in status["text"] and "Press Start" in status["text"], status
    assert a.eval("window.vchat.call") is None and a.eval("window.vchat.pc") is None
    assert a.eval("document.getElementById('start-btn').disabled") is False
    # A left the call at the server, which confirmed it.
    log = a.eval("window.vchat.log")
    assert any(line.endswith("> leave") for line in log), log
    wait_until(server, both, a, "window.vchat.log.some((l) => l.endsWith('< call_ended hangup'))",
               "the server to confirm the leave")
    assert a.eval("window.vchat.lastPeerLeft") is None   # A gave up by itself
    # The deadline counts from when the path broke (a few seconds before the
    # page calls it broken); some slack for a loaded machine.
    assert t_idle - t_reconnecting < 6 + 2, (t_reconnecting, t_idle, log[-30:])
    screenshot(a, "not-restored")

    # B, still trying, takes the peer_left as a call that could not be restored.
    wait_until(server, both, b, "window.vchat.state === 'idle'", "B to end the call")
    assert b.eval("window.vchat.lastPeerLeft.reason") == "hangup"
    err = b.eval("window.vchat.lastError")
    assert err["code"] == "reconnect" and "could not be restored" in err["message"], err
    assert b.eval(STATUS_JS)["text"] == err["message"]
    print(f"call {call_id}: reconnecting after {t_reconnecting:.1f} s, gave up after {t_idle:.1f} s")


def test_vanished_peer_ends_the_call(server, browsers):
    """The partner's browser is killed: the server says it is away, and the
    page ends the call once its media stopped, well before its deadline."""
    a = browsers("A", server.url + "/")
    b = browsers("B", server.url + "/")
    both = (a, b)
    call_id = random_call(server, a, b)
    wait_until(server, both, a, INBOUND_VIDEO_JS, "video from B", check=lambda s: s["framesDecoded"] > 0)

    t0 = time.monotonic()
    os.killpg(b.proc.pid, signal.SIGKILL)
    b.proc.wait(10)
    wait_until(server, (a,), a, "window.vchat.log.some((l) => l.endsWith('< peer_away'))",
               "the server to say B is away", timeout=10)
    wait_until(server, (a,), a, "window.vchat.state === 'idle'", "A to end the call", timeout=25)
    t_idle = time.monotonic() - t0
    err = a.eval("window.vchat.lastError")
    assert err and err["code"] == "peer-lost", f"{err}\n{describe(server, a)}"
    status = a.eval(STATUS_JS)
    assert status["shown"] and status["text"] == err["message"], status
    assert "could not be restored" in status["text"] and "Press Start" in status["text"], status
    log = a.eval("window.vchat.log")
    assert any(line.endswith("> leave") for line in log), log
    assert not any("restart (" in line for line in log), log   # no reconnecting to nobody
    assert a.eval("window.vchat.call") is None
    print(f"call {call_id}: ended {t_idle:.1f} s after the kill")
