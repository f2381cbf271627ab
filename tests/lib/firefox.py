"""Headless Debian Firefox ESR, driven over WebDriver BiDi from Python.

The same small API as chromium.py's Browser: Browser(name, url), eval(js)
(the value comes back as plain JSON-like Python data), navigate(url),
screenshot(path), log_tail(), close().

Why BiDi spoken directly, not puppeteer-core: Firefox ESR 153 has WebDriver
BiDi built in (`--remote-debugging-port`); the protocol needs one WebSocket
and four commands (session.new, browsingContext.getTree, script.evaluate,
browser.close), which python3-websocket already speaks: the request and
answer loop is jsonrpc_ws.py's, shared with chromium.py's DevTools. That keeps the tests in one language and one process model,
with no npm tree to pin and install, no Node in the test path, and nothing
that could fetch a browser of its own.

How it is started (as root works): a throwaway profile whose user.js turns
on Firefox's fake camera and microphone without a permission prompt
(media.navigator.streams.fake, media.navigator.permission.disabled) and
turns off first-run pages, telemetry and updates; `--headless --no-remote
--profile DIR --remote-debugging-port=0`. With port 0 Firefox picks a free
port and writes it to WebDriverBiDiServer.json in the profile (no race for
a port).

Firefox's fake media (ESR 153, measured here): the camera is one flat,
fully saturated colour filling the whole frame (luma spread 0), whose hue
turns once round the colour wheel in about 28 s: green (0,255,0) → cyan →
blue → magenta (255,0,255) → red → yellow → green, each channel moving up
to about 50 levels a second (1280x720 in the web client). So a received
frame is one flat colour, never grey or black, and a live picture changes
colour within a second (is_firefox_fake(), record_preview()). The
microphone is a 1 kHz sine tone (media.navigator.audio.fake_frequency).

mDNS: with Firefox's defaults a page's host candidates are hidden behind
`<uuid>.local` names (media.peerconnection.ice.obfuscate_host_addresses);
pass prefs={OBFUSCATE_PREF: False} to get the plain addresses.
"""
import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from jsonrpc_ws import WebSocketRPC

FIREFOX = "/usr/bin/firefox-esr"
OBFUSCATE_PREF = "media.peerconnection.ice.obfuscate_host_addresses"

PREFS = {
    "media.navigator.permission.disabled": True,
    "media.navigator.streams.fake": True,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.disabledForTesting": True,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "extensions.update.enabled": False,
    # A page in a background tab or an unfocused headless window must not be
    # throttled while it waits for a call.
    "dom.min_background_timeout_value": 4,
    "media.autoplay.default": 0,
    "media.autoplay.blocking_policy": 0,
}


class JSError(Exception):
    pass


def from_remote(v):
    """A WebDriver BiDi RemoteValue as plain Python data (what JSON would give)."""
    t = v.get("type")
    if t in ("undefined", "null"):
        return None
    if t in ("string", "boolean"):
        return v["value"]
    if t == "number":
        x = v["value"]
        if isinstance(x, str):   # NaN, -0, Infinity, -Infinity
            return {"NaN": None, "-0": 0, "Infinity": float("inf"),
                    "-Infinity": float("-inf")}.get(x)
        return x
    if t == "bigint":
        return int(v["value"])
    if t in ("array", "set"):
        return [from_remote(x) for x in v.get("value", [])]
    if t in ("object", "map"):
        out = {}
        for key, value in v.get("value", []):
            k = key if isinstance(key, str) else json.dumps(from_remote(key))
            val = from_remote(value)
            if value.get("type") != "undefined":   # as JSON drops them
                out[k] = val
        return out
    if t == "date":
        return v["value"]
    return None   # functions, nodes, windows...


def bidi_error(reply):
    """A WebDriver BiDi error answer: {"type": "error", "id", "error",
    "message"}."""
    if reply.get("type") != "error":
        return None
    return f"{reply.get('error')}: {reply.get('message')}"


class BiDi(WebSocketRPC):
    """A minimal WebDriver BiDi client."""

    def __init__(self, ws_url):
        super().__init__(ws_url, "BiDi", bidi_error)


class Browser:
    """One headless Firefox ESR with a throwaway profile, driven over BiDi."""

    def __init__(self, name, url, prefs=None, wrapper=()):
        """prefs: more user.js preferences (e.g. {OBFUSCATE_PREF: False});
        wrapper: a command prefix."""
        self.name = name
        self.wrapper = list(wrapper)
        self.prefs = {**PREFS, **(prefs or {})}
        self.dir = tempfile.mkdtemp(prefix=f"vchat-firefox-{name}-")
        self.profile = os.path.join(self.dir, "profile")
        self.log_path = os.path.join(self.dir, "firefox.log")
        self.proc = None
        self.bidi = None
        self.context = None
        try:
            self._start(url)
        except BaseException:
            self.close()
            raise

    def _start(self, url):
        os.mkdir(self.profile)
        with open(os.path.join(self.profile, "user.js"), "w") as f:
            for key, value in self.prefs.items():
                f.write(f"user_pref({json.dumps(key)}, {json.dumps(value)});\n")
        cmd = self.wrapper + [FIREFOX, "--headless", "--no-remote", "--profile", self.profile,
                              "--remote-debugging-port=0", "--width=1280", "--height=860",
                              "about:blank"]
        env = dict(os.environ, MOZ_CRASHREPORTER_DISABLE="1", MOZ_HEADLESS="1")
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         env=env)
        port_file = os.path.join(self.profile, "WebDriverBiDiServer.json")
        deadline = time.monotonic() + 60
        port = None
        while port is None:
            if self.proc.poll() is not None:
                raise RuntimeError(f"firefox {self.name} exited: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"firefox {self.name} gave no BiDi port: {self.log_tail()}")
            try:
                with open(port_file) as f:
                    port = int(json.load(f)["ws_port"])
            except (FileNotFoundError, ValueError, KeyError):
                time.sleep(0.1)
        self.bidi = BiDi(f"ws://127.0.0.1:{port}/session")
        self.bidi.call("session.new", timeout=90, capabilities={})
        tree = self.bidi.call("browsingContext.getTree", maxDepth=0)
        self.context = tree["contexts"][0]["context"]
        if url and url != "about:blank":
            self.navigate(url)

    def navigate(self, url):
        # "interactive": back once the document is parsed (as Page.navigate
        # returns before the page runs); tests wait for the page themselves.
        self.bidi.call("browsingContext.navigate", timeout=30, context=self.context, url=url,
                       wait="interactive")

    def eval(self, expression, timeout=15):
        """Evaluates a script (an expression, or statements: the last one's
        value) in the page, awaits a promise it gives, and returns the value
        as JSON-like data."""
        result = self.bidi.call("script.evaluate", timeout=timeout, expression=expression,
                                target={"context": self.context}, awaitPromise=True,
                                resultOwnership="none", userActivation=True)
        if result.get("type") == "exception":
            d = result.get("exceptionDetails", {})
            text = d.get("text") or json.dumps(d.get("exception"))
            raise JSError(f"{self.name}: {text}")
        return from_remote(result["result"])

    def screenshot(self, path):
        data = self.bidi.call("browsingContext.captureScreenshot", context=self.context)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def log_tail(self, n=3000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def close(self):
        if self.bidi:
            try:
                self.bidi.call("browser.close", timeout=5)
            except Exception:
                pass
            self.bidi.close()
            self.bidi = None
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if self.proc:
            # Firefox's content processes share its process group.
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(5)
                    break
                except subprocess.TimeoutExpired:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------------------
# Checks on a vchat web page (signaling/web), shared by the tests that put
# Firefox in a call: tests/browser/test_firefox.py (with Chromium and
# Firefox) and tests/daemon/test_firefox_interop.py (with vchatd). They work
# on any page driver with eval(js) (this Browser, chromium.Browser).

STATE_JS = """(() => {
  const v = window.vchat;
  if (!v) return {loaded: false, href: location.href};
  return {href: location.href, state: v.state, signaling: v.signaling,
          call: v.call, pc: v.pc && v.pc.connectionState,
          ice: v.pc && v.pc.iceConnectionState,
          channel: v.channel && v.channel.readyState,
          errors: v.errors, lastPeerLeft: v.lastPeerLeft, log: v.log.slice(-30),
          status: document.getElementById('status').textContent};
})()"""

# The peer connection's inbound streams and the candidates in use.
RTP_JS = """(async () => {
  const pc = window.vchat && window.vchat.pc;
  if (!pc) return null;
  const out = {video: null, audio: null, pair: null};
  const stats = await pc.getStats();
  const byId = {};
  stats.forEach((r) => { byId[r.id] = r; });
  // The pair in use: the transport's selectedCandidatePairId (Chromium),
  // or the pair marked selected (Firefox).
  const selected = new Set();
  stats.forEach((r) => {
    if (r.type === 'transport' && r.selectedCandidatePairId) selected.add(r.selectedCandidatePairId);
  });
  stats.forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video')
      out.video = {framesDecoded: r.framesDecoded || 0, width: r.frameWidth || 0,
                   height: r.frameHeight || 0};
    if (r.type === 'inbound-rtp' && r.kind === 'audio')
      out.audio = {packets: r.packetsReceived || 0, level: r.audioLevel,
                   energy: r.totalAudioEnergy};
    if (r.type === 'candidate-pair' && (r.selected || selected.has(r.id))) {
      const l = byId[r.localCandidateId] || {}, p = byId[r.remoteCandidateId] || {};
      out.pair = {local: (l.candidateType || '?') + ' ' + (l.address || l.ipAddress || '?'),
                  remote: (p.candidateType || '?') + ' ' + (p.address || p.ipAddress || '?')};
    }
  });
  return out;
})()"""

# Draws a <video> into a small canvas and summarises its pixels: mean RGB,
# the spread of luma (0 for a flat colour) and the number of coarse colours.
PICTURE_JS = """((id) => {
  const v = document.getElementById(id);
  if (!v || !v.videoWidth || !v.videoHeight || v.readyState < 2) return null;
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


def picture(page, video_id):
    return page.eval(f"{PICTURE_JS}({json.dumps(video_id)})")


# Keeps what the page's own preview (#local-video) showed, every 200 ms for
# the last 20 s, as window.__previewHistory [{t: Date.now(), rgb, stddev,
# colours}], so that a receiver's picture can be compared with what the
# sender's camera showed a moment before (a picture that arrives late, or
# froze, shows an older colour of Firefox's turning hue).
HISTORY_JS = """(() => {
  if (window.__previewHistory) return true;
  window.__previewHistory = [];
  const summarise = %s;
  setInterval(() => {
    const p = summarise('local-video');
    if (!p) return;
    p.t = Date.now();
    window.__previewHistory.push(p);
    while (window.__previewHistory.length > 100) window.__previewHistory.shift();
  }, 200);
  return true;
})()""" % PICTURE_JS


def record_preview(page):
    page.eval(HISTORY_JS)


def preview_history(page, seconds):
    """What the page's preview showed in the last seconds (oldest first)."""
    return page.eval(f"(window.__previewHistory || []).filter((p) => p.t >= Date.now() - "
                     f"{int(seconds * 1000)})")


def rtp(page):
    return page.eval(RTP_JS)


def is_firefox_fake(p):
    """A picture from Firefox's fake camera: one flat, saturated colour (no
    grey, no black: the fake camera keeps its luma and turns its hue)."""
    return (p is not None and p["stddev"] < 4 and p["colours"] <= 2
            and max(p["rgb"]) - min(p["rgb"]) > 100)


def is_chromium_fake(p):
    """A picture from Chromium's fake camera: a pattern of several colours."""
    return p is not None and p["stddev"] > 5 and p["colours"] >= 3


def close_rgb(a, b, tolerance=40):
    return all(abs(x - y) < tolerance for x, y in zip(a, b))


class Waiter:
    """wait(page, js, what): evaluates js in the page until check(value)
    holds; on a timeout fails with what every party shows (describe())."""

    def __init__(self, describe):
        self.describe = describe

    def __call__(self, page, expression, what, timeout=20, check=bool, interval=0.25):
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            try:
                value = page.eval(expression) if isinstance(expression, str) else expression()
            except (RuntimeError, JSError, TimeoutError) as e:  # a page loading
                value = f"<{e}>"
                time.sleep(interval)
                continue
            try:
                if value is not None and check(value):
                    return value
            except (TypeError, KeyError, IndexError):
                pass
            time.sleep(interval)
        raise AssertionError(f"{page.name}: timed out after {timeout} s waiting for {what} "
                             f"(last value {value!r})\n{self.describe()}")


def describe_pages(*pages):
    parts = []
    for p in pages:
        try:
            parts.append(f"--- {p.name}: {json.dumps(p.eval(STATE_JS, timeout=5), indent=1)}")
        except Exception as e:  # the page may be what broke
            parts.append(f"--- {p.name}: cannot read state: {e}\n{p.log_tail(1500)}")
    return "\n".join(parts)


class Matrix:
    """The interop matrix: one row per pair and kind of call, one column per
    thing a person checks. cell() records ok, or FAIL when its block raises
    (and re-raises); cells never reached stay '·'."""

    COLUMNS = ["connect", "video A→B", "video B→A", "audio A→B", "audio B→A", "chat", "next/hangup"]

    def __init__(self, title):
        self.title = title
        self.rows = {}
        self.notes = {}

    def row(self, name):
        self.rows.setdefault(name, {c: "·" for c in self.COLUMNS})
        return name

    def note(self, row, text):
        self.notes.setdefault(row, []).append(text)

    def cell(self, row, column, value="ok"):
        matrix = self

        class Cell:
            def __enter__(self):
                return self

            def __exit__(self, kind, exc, tb):
                if kind is None:
                    matrix.rows[matrix.row(row)][column] = value
                elif issubclass(kind, Exception):
                    matrix.rows[matrix.row(row)][column] = "FAIL"
                return False

        return Cell()

    def skip(self, row, columns, why):
        for c in columns:
            self.rows[self.row(row)][c] = "n/a"
        self.note(row, why)

    def format(self):
        if not self.rows:
            return ""
        width = max(len(r) for r in self.rows)
        lines = [self.title, " " * width + " | " + " | ".join(self.COLUMNS)]
        for name, cells in self.rows.items():
            lines.append(name.ljust(width) + " | " +
                         " | ".join(cells[c].center(len(c)) for c in self.COLUMNS))
            for n in self.notes.get(name, []):
                lines.append(" " * width + "   " + n)
        return "\n".join(lines)
