"""Calls across the network lab (tests/lib/netlab.py), measured as a person
would see them. Shared by tests/net and scripts/bench-media.

    devices = LabDevices(pw, {"a": red_clip, "b": blue_clip})   # once per PipeWire
    world = LabWorld(lab, devices, tmpdir)
    world.start_server()                          # vchat-signald in R
    a, b = world.vchatd("a"), world.vchatd("b")   # in A and B
    call = VchatdCall.random(world, a, b)         # connected, being watched
    t0 = time.monotonic(); time.sleep(20)
    fig = call.figures("a->b", t0, time.monotonic())

What is measured, per direction (figures()):
  - the picture: the receiver's remote video node (RemoteVideoNode, the
    decoded frames vchatd publishes) read by a pwenv.VideoWatch: frames per
    second, the longest gap between two frames, freezes (gaps > 0.5 s),
    the centre colour (the sender's clip colour);
  - from the Call's Stats property, sampled every 0.5 s on both sides:
    rtt-ms (p50, p95, max, from either side), the sender's send-kbps and
    target-kbps, its loss-pct (RTCP fraction lost, as the receiver reports
    it), the receiver's recv-width x recv-height; and, once the rate
    controller gives them, the sender's available-kbps and rung and the
    receiver's freezes;
  - from the lab: what the receiving end's link carried (goodput).
For a Chromium peer (BrowserPeer) the same figures come from the page:
requestVideoFrameCallback on the remote <video> (each frame presented) and
RTCPeerConnection.getStats() (window.vchat.pc) sampled every second.

Across a fault (scripts/bench-media's cuts, address change, server
restart) the picture is followed the same way on both: every frame shown
with its centre colour (vchatd: FollowedVideo, which reads the remote video
node again when a new connection rebuilds it; Chromium:
BrowserPeer.collect_faults() and fault_data()), and picture_back() finds
the first frames of the peer's colour.
"""
import json
import os
import signal
import statistics
import tempfile
import threading
import time

from gi.repository import GLib
from netlab import NetLab
from pwenv import make_clip
from signald import Signald
from vchatd import Vchatd

COLORS = {"a": (255, 0, 0), "b": (0, 0, 255)}
COLOR_NAMES = {"a": "red", "b": "blue"}
TONES = {"a": 440, "b": 660}
FREEZE = 0.5   # a gap between two frames longer than this is a freeze
OTHER = {"a": "b", "b": "a"}


def direction_ends(direction):
    """("a", "b") for "a->b": (sender, receiver)."""
    src, dst = direction.split("->")
    return src, dst


def clip_for(end, clip_dir=None):
    """The moving 1280x720 30 fps clip of an end's colour (made once, cached
    in clip_dir, default $VCHAT_CLIP_DIR or the temporary directory)."""
    clip_dir = clip_dir or os.environ.get("VCHAT_CLIP_DIR") or tempfile.gettempdir()
    name = COLOR_NAMES[end]
    return make_clip(os.path.join(clip_dir, f"vchat-clip-{name}-1280x720-30.y4m"), COLORS[end])


def looks_like(colour, expected):
    """Whether a person would name `colour` as `expected` (a pure colour
    such as (255, 0, 0)): its strong channels at least 150, its weak ones
    at most 120. Wider than callenv.close_to: a picture decoded behind a
    cap, scaled and smeared by VP8 at a low rate, is still plainly blue."""
    if not colour:
        return False
    return all((c >= 150) if e >= 128 else (c <= 120) for c, e in zip(colour, expected))


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def median(values):
    return statistics.median(values) if values else None


class LabDevices:
    """Each end's devices in a PipeWire: its camera playing the clip
    clips[end], and (mics=True) its microphone (a tone: A 440 Hz, B 660 Hz)
    and speaker. Made once for many calls: after a vchatd call has read a
    camera, a camera node made again under the same name gave no frames to
    any later reader (PipeWire 0.3.65, WirePlumber 0.4.13: the clip camera
    at its second making, a videotestsrc one at its third; not seen while
    the nodes stay), so the devices live as long as their PipeWire, as in
    tests/daemon."""

    def __init__(self, pw, clips, mics=True):
        self.pw = pw
        self.mics = mics
        self._made = []
        try:
            for end in ("a", "b"):
                self._made.append(pw.add_clip_camera(self.camera(end), clips[end],
                                                     description=f"Lab camera {end.upper()}"))
                if mics:
                    self._made.append(pw.add_microphone(
                        self.mic(end), TONES[end], description=f"Lab microphone {end.upper()}"))
                    self._made.append(pw.add_speaker(
                        self.speaker(end), description=f"Lab speaker {end.upper()}"))
        except BaseException:
            self.stop()
            raise

    @staticmethod
    def camera(end):
        return f"vchat-lab-cam-{end}"

    @staticmethod
    def mic(end):
        return f"vchat-lab-mic-{end}"

    @staticmethod
    def speaker(end):
        return f"vchat-lab-speaker-{end}"

    def pause(self):
        """Stops (SIGSTOP) the devices' processes, so that they cost no CPU
        while something else is measured (the nodes stay); resume() goes on."""
        for node in self._made:
            proc = getattr(node, "proc", None)
            if proc and proc.poll() is None:
                os.kill(proc.pid, signal.SIGSTOP)

    def resume(self):
        for node in self._made:
            proc = getattr(node, "proc", None)
            if proc and proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)

    def args(self, end):
        """vchatd's options for end's devices."""
        if self.mics:
            return ["--camera", self.camera(end), "--microphone", self.mic(end),
                    "--speaker", self.speaker(end)]
        return ["--camera", self.camera(end),
                "--audio-source", "audiotestsrc is-live=true wave=sine", "--audio-sink", "fakesink"]

    def stop(self):
        for node in reversed(self._made):
            try:
                node.stop()
            except Exception:
                pass
        self._made = []


class LabWorld:
    """One lab (a NetLab), the devices, the server in R and the daemons of a
    test or a benchmark run."""

    def __init__(self, lab, devices, tmpdir):
        self.lab = lab
        self.devices = devices
        self.pw = devices.pw
        self.tmpdir = str(tmpdir)
        self.server = None
        self.daemons = []

    def speaker(self, end):
        return self.devices.speaker(end)

    def start_server(self, *args):
        """vchat-signald in R, on every address of R (both links)."""
        self.server = Signald(*args, listen="0.0.0.0", wrapper=self.lab.argv("r"))
        return self.server

    def web_url(self, end, path="/"):
        return f"http://{self.lab.router_addr(end)}:{self.server.port}{path}"

    def vchatd(self, end, args=(), settings=None):
        """A vchatd in namespace `end`, with that end's camera, microphone
        and speaker, online at the server in R; settings: more GSettings
        (name -> GLib.Variant)."""
        # The lab's addresses (10.77.x) are private and it has no NAT nor
        # STUN: its ends may tell strangers their local addresses.
        d = Vchatd(os.path.join(self.tmpdir, f"vchatd-{end}-{len(self.daemons)}"),
                   self.lab.url(end, self.server.port), name=f"Lab {end.upper()}",
                   env=self.pw.env, args=self.devices.args(end) + list(args),
                   wrapper=self.lab.argv(end),
                   settings={"private-addresses-random": GLib.Variant("b", True),
                             **(settings or {})})
        self.daemons.append(d)
        return d

    def stop(self):
        for d in self.daemons:
            try:
                d.stop()
            except Exception:
                pass
        self.daemons = []
        if self.server:
            self.server.stop()
            self.server = None


class StatsSampler:
    """Samples a call's Stats property every `interval` s in a thread:
    samples = [(time.monotonic(), {stats})]."""

    def __init__(self, daemon, path, interval=0.5):
        self.daemon = daemon
        self.path = path
        self.interval = interval
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"stats {path}")
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                stats = self.daemon.call_prop(self.path, "Stats")
                self.samples.append((time.monotonic(), dict(stats)))
            except Exception:
                pass
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        self._thread.join(5)

    def values(self, key, t0, t1):
        return [s[key] for t, s in list(self.samples) if t0 <= t < t1 and key in s]

    def last(self, key, before=None):
        for t, s in reversed(list(self.samples)):
            if key in s and (before is None or t < before):
                return s[key]
        return None


class RemoteVideo:
    """Waits (in a thread) for a call's RemoteVideoNode, then watches it
    with a pwenv.VideoWatch; until then there are no frames (a picture that
    never came is a window-long gap, not an error)."""

    def __init__(self, pw, daemon, path):
        self.pw = pw
        self.daemon = daemon
        self.path = path
        self.watch = None
        self.node = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"video {path}")
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                node = self.daemon.call_prop(self.path, "RemoteVideoNode")
            except Exception:
                node = None
            if node:
                self.node = node
                try:
                    self.watch = self.pw.watch_video(node)
                except Exception:
                    pass
                return
            self._stop.wait(0.2)

    def wait_frames(self, n=1, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.watch and len(self.watch.frames) >= n:
                return True
            time.sleep(0.05)
        return False

    def summary(self, t0, t1):
        if self.watch:
            return self.watch.summary(t0, t1, freeze=FREEZE)
        return {"frames": 0, "fps": 0.0, "max_gap": t1 - t0, "freezes": 1,
                "freeze_seconds": t1 - t0, "colour": None}

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        if self.watch:
            self.watch.stop()


def _increase(values):
    return values[-1] - values[0] if len(values) >= 2 else None


def _rtt_figures(values):
    return {"rtt_p50": percentile(values, 50), "rtt_p95": percentile(values, 95),
            "rtt_max": max(values) if values else None}


class VchatdCall:
    """A random call between two vchatd of a LabWorld, watched on both
    sides from the moment it is connected."""

    def __init__(self, world, a, b, pa, pb):
        self.world = world
        self.d = {"a": a, "b": b}
        self.path = {"a": pa, "b": pb}
        self.connected_at = time.monotonic()
        self.stats = {e: StatsSampler(self.d[e], self.path[e]) for e in ("a", "b")}
        self.video = {e: RemoteVideo(world.pw, self.d[e], self.path[e]) for e in ("a", "b")}

    @classmethod
    def random(cls, world, a, b, timeout=30):
        pa = a.manager("StartRandom", "(a{sv})", {})
        pb = b.manager("StartRandom", "(a{sv})", {})
        a.wait_call_state(pa, "connected", timeout)
        b.wait_call_state(pb, "connected", timeout)
        return cls(world, a, b, pa, pb)

    def wait_pictures(self, timeout=20):
        """True when both sides have decoded a first frame within timeout."""
        deadline = time.monotonic() + timeout
        return all(self.video[e].wait_frames(1, max(0.1, deadline - time.monotonic()))
                   for e in ("a", "b"))

    def first_frame_at(self, end):
        """When the receiver `end` got its first frame (None: not yet)."""
        w = self.video[end].watch
        return w.frames[0][0] if w and w.frames else None

    def figures(self, direction, t0, t1, c0=None, c1=None):
        """The figures of one direction over [t0, t1) (see the module doc);
        c0/c1: lab.counters() at t0 and t1 for the goodput."""
        src, dst = direction_ends(direction)
        v = self.video[dst].summary(t0, t1)
        send, recv = self.stats[src], self.stats[dst]
        rtts = send.values("rtt-ms", t0, t1) + recv.values("rtt-ms", t0, t1)
        widths = recv.values("recv-width", t0, t1)
        heights = recv.values("recv-height", t0, t1)
        res = list(zip(widths, heights))
        fig = {
            "fps": v["fps"], "max_gap": v["max_gap"], "freezes": v["freezes"],
            "freeze_seconds": v["freeze_seconds"], "colour": v["colour"], "frames": v["frames"],
            "send_kbps": median(send.values("send-kbps", t0, t1)),
            "target_kbps": median(send.values("target-kbps", t0, t1)),
            "loss_pct": (statistics.mean(send.values("loss-pct", t0, t1))
                         if send.values("loss-pct", t0, t1) else None),
            "resolution": res[-1] if res else None,
            "min_height": min(heights) if heights else None,
            "recv_fps_stats": median(recv.values("recv-fps", t0, t1)),
            # From the rate controller, when the daemon has one: its
            # estimate, its last rung, the receiver's count of freezes.
            "available_kbps": median(send.values("available-kbps", t0, t1)),
            "rung": (send.values("rung", t0, t1) or [None])[-1],
            "stats_freezes": _increase(recv.values("freezes", t0, t1)),
        }
        fig.update(_rtt_figures(rtts))
        if c0 and c1:
            fig["goodput_kbps"] = NetLab.rate(c0, c1, direction)
        return fig

    def stop(self):
        for e in ("a", "b"):
            self.stats[e].stop()
            self.video[e].stop()

    def hangup(self):
        self.stop()
        try:
            self.d["a"].call_method(self.path["a"], "Hangup")
        except Exception:
            pass


# -- Faults --------------------------------------------------------------------
# A picture followed across a fault (a cut, an address change, a server
# restart), the same way for vchatd and for the web client: the frames the
# receiver shows, each with its centre colour (the middle of make_clip's
# box), in one list across every connection of the call.


def picture_back(frames, since, colour, n=3):
    """The time of the first of `n` consecutive frames at or after `since`
    whose centre colour looks_like `colour` (the peer's picture, not a
    stray or black frame); None if there is no such run. frames: [(time,
    (r, g, b) or None)], oldest first."""
    frames = [(t, c) for t, c in frames if t >= since]
    for i in range(len(frames) - n + 1):
        if all(looks_like(c, colour) for _, c in frames[i:i + n]):
            return frames[i][0]
    return None


def longest_gap(times, t0, t1):
    """The longest time between two frames in [t0, t1), the window's edges
    counting as frames (no frame at all: t1 - t0): (seconds, its start,
    its end)."""
    inside = [t0] + sorted(t for t in times if t0 <= t < t1) + [t1]
    return max((b - a, a, b) for a, b in zip(inside, inside[1:]))


class FollowedVideo:
    """A vchatd call's remote video node (or another of its nodes: `prop`
    PreviewNode) read as a viewer would across a reconnection: the call's
    property is polled every 0.1 s; when the node goes and comes back
    (same name), it is read again. frames() is every frame seen, [(time,
    colour)], over all the readers."""

    def __init__(self, pw, daemon, path, prop="RemoteVideoNode"):
        self.pw = pw
        self.daemon = daemon
        self.path = path
        self.prop = prop
        self.rebuilt = 0          # how often the node went and came back
        self.vanished = 0         # polls that found no node after one was seen
        self._old = []            # frames of the readers before the current one
        self._watch = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"followed video {path}")
        self._thread.start()

    def _run(self):
        gone = False
        while not self._stop.is_set():
            try:
                node = self.daemon.call_prop(self.path, self.prop)
            except Exception:
                node = ""
            if not node:
                gone = self._watch is not None or gone
                if self._watch is not None:
                    self.vanished += 1
            elif self._watch is None or gone:
                if self._watch:
                    old, self._watch = self._watch, None
                    old.stop()
                    self._old.extend(old.frames)
                    self.rebuilt += 1
                try:
                    self._watch = self.pw.watch_video(node, timeout=5)
                except Exception:
                    self._watch = None
                gone = False
            self._stop.wait(0.1)

    def frames(self):
        w = self._watch
        return list(self._old) + (list(w.frames) if w else [])

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        if self._watch:
            self._watch.stop()


class CallStates:
    """A vchatd call's State and its daemon's SignalingState, polled every
    0.1 s: seen = [(time, state, signaling)] at each change."""

    def __init__(self, daemon, path):
        self.daemon = daemon
        self.path = path
        self.seen = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"states {path}")
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                state = self.daemon.call_prop(self.path, "State")
            except Exception:
                state = None
            signaling = self.daemon.manager_prop("SignalingState")
            if state and (not self.seen or self.seen[-1][1:] != (state, signaling)):
                self.seen.append((time.monotonic(), state, signaling))
            self._stop.wait(0.1)

    def stop(self):
        self._stop.set()
        self._thread.join(5)


# -- Chromium ------------------------------------------------------------------

COLLECTOR_JS = r"""(() => {
  if (window.__lab) return true;
  const lab = window.__lab = { frames: [], stats: [], errors: [] };
  const v = document.getElementById('remote-video');
  const onFrame = (now, meta) => {
    lab.frames.push(performance.now());
    if (lab.frames.length > 50000) lab.frames.splice(0, 25000);
    v.requestVideoFrameCallback(onFrame);
  };
  if (v && v.requestVideoFrameCallback) v.requestVideoFrameCallback(onFrame);
  else lab.errors.push('no requestVideoFrameCallback');
  setInterval(async () => {
    const pc = window.vchat && window.vchat.pc;
    if (!pc) return;
    try {
      const s = { t: performance.now(), bytesSent: 0 };
      (await pc.getStats()).forEach((x) => {
        if (x.type === 'inbound-rtp' && x.kind === 'video') {
          s.framesDecoded = x.framesDecoded; s.width = x.frameWidth; s.height = x.frameHeight;
          s.packetsLost = x.packetsLost; s.packetsReceived = x.packetsReceived;
          s.bytesReceived = x.bytesReceived; s.freezeCount = x.freezeCount;
          s.fps = x.framesPerSecond; s.nackCount = x.nackCount; s.pliCount = x.pliCount;
          s.firCount = x.firCount;
        } else if (x.type === 'outbound-rtp' && x.kind === 'video') {
          s.bytesSent += x.bytesSent || 0; s.targetBitrate = x.targetBitrate;
          s.sendWidth = x.frameWidth; s.sendHeight = x.frameHeight; s.sendFps = x.framesPerSecond;
          s.qualityLimitationReason = x.qualityLimitationReason;
        } else if (x.type === 'remote-inbound-rtp' && x.kind === 'video') {
          s.rtt = x.roundTripTime; s.fractionLost = x.fractionLost;
        } else if (x.type === 'candidate-pair' && x.nominated && x.state === 'succeeded') {
          s.pairRtt = x.currentRoundTripTime; s.availableOutgoingBitrate = x.availableOutgoingBitrate;
        }
      });
      lab.stats.push(s);
      if (lab.stats.length > 5000) lab.stats.splice(0, 2500);
    } catch (e) { lab.errors.push(String(e)); }
  }, 1000);
  return true;
})()"""

CENTRE_RGB_JS = r"""(() => {
  const v = document.getElementById('remote-video');
  if (!v || !v.videoWidth || v.readyState < 2) return null;
  const c = document.createElement('canvas');
  c.width = 64; c.height = 36;
  const g = c.getContext('2d', { willReadFrequently: true });
  g.drawImage(v, 0, 0, c.width, c.height);
  const d = g.getImageData(24, 14, 16, 8).data;
  const m = [0, 0, 0];
  for (let i = 0; i < d.length; i += 4) { m[0] += d[i]; m[1] += d[i + 1]; m[2] += d[i + 2]; }
  return m.map((x) => Math.round(x / (d.length / 4)));
})()"""


FAULT_COLLECTOR_JS = r"""(() => {
  if (window.__labFault) return true;
  const lab = window.__labFault = { frames: [], states: [] };
  // Each frame the remote <video> presents, with its centre colour: the
  // same 16x8 middle of a 64x36 scaling as pwenv.VideoWatch reads.
  const v = document.getElementById('remote-video');
  const c = document.createElement('canvas');
  c.width = 64; c.height = 36;
  const g = c.getContext('2d', { willReadFrequently: true });
  const onFrame = () => {
    let rgb = null;
    try {
      if (v.videoWidth) {
        g.drawImage(v, 0, 0, c.width, c.height);
        const d = g.getImageData(24, 14, 16, 8).data;
        const m = [0, 0, 0];
        for (let i = 0; i < d.length; i += 4) { m[0] += d[i]; m[1] += d[i + 1]; m[2] += d[i + 2]; }
        rgb = m.map((x) => Math.round(x / (d.length / 4)));
      }
    } catch (e) { /* no colour for this frame */ }
    lab.frames.push([performance.now(), rgb]);
    if (lab.frames.length > 20000) lab.frames.splice(0, 10000);
    v.requestVideoFrameCallback(onFrame);
  };
  if (v && v.requestVideoFrameCallback) v.requestVideoFrameCallback(onFrame);
  // The page's call as window.vchat shows it, at each change (every 0.1 s).
  let last = '';
  setInterval(() => {
    const p = window.vchat;
    if (!p) return;
    const now = [p.state, p.call ? p.call.id : null, p.attempt, p.reconnects, p.signaling];
    const key = JSON.stringify(now);
    if (key !== last) { last = key; lab.states.push([performance.now()].concat(now)); }
  }, 100);
  return true;
})()"""


class BrowserPeer:
    """Headless Chromium with the web client, in namespace `end`, its fake
    camera playing `clip` (--use-file-for-fake-video-capture), talking to
    the server in R. Its page is reached over DevTools through a socket made
    in that namespace."""

    def __init__(self, world, end, clip, name=None):
        from chromium import Browser  # noqa: PLC0415 (only where Chromium is used)

        self.world = world
        self.end = end
        lab = world.lab
        origin = world.web_url(end, "")
        self.browser = Browser(
            name or f"lab-{end}", world.web_url(end),
            wrapper=lab.argv(end),
            extra_args=[f"--use-file-for-fake-video-capture={clip}",
                        # http://10.77.x.1 is no secure context: without this
                        # there is no getUserMedia.
                        f"--unsafely-treat-insecure-origin-as-secure={origin}",
                        "--autoplay-policy=no-user-gesture-required",
                        "--disable-features=WebRtcHideLocalIpsWithMdns"],
            connect=lambda port: lab.connect(end, "127.0.0.1", port))
        self.offset = None

    def eval(self, expression, timeout=15):
        return self.browser.eval(expression, timeout)

    def wait(self, expression, what, timeout=30):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.eval(expression)
            except Exception as e:  # the page still loading
                last = e
            if last and not isinstance(last, Exception):
                return last
            time.sleep(0.25)
        raise AssertionError(f"{self.browser.name}: timed out waiting for {what} (last: {last!r})"
                             f"\n{self.browser.log_tail(1500)}")

    def wait_online(self, timeout=30):
        self.wait("window.vchat && window.vchat.signaling === 'online'", "the page online",
                  timeout)

    def start_random(self, interests=("lab",)):
        self.eval(f"window.vchat.start({{interests: {json.dumps(list(interests))}}})")

    def wait_connected(self, timeout=40):
        self.wait("window.vchat.state === 'connected'", "the page's call connected", timeout)
        self.collect()

    def collect(self):
        """Starts the page's collectors and fixes the page-to-monotonic
        clock offset (from the middle of a round trip)."""
        self.eval(COLLECTOR_JS)
        best = None
        for _ in range(5):
            t0 = time.monotonic()
            page_ms = self.eval("performance.now()")
            t1 = time.monotonic()
            if best is None or t1 - t0 < best[0]:
                best = (t1 - t0, (t0 + t1) / 2 - page_ms / 1000)
        self.offset = best[1]

    def _page(self, t):
        return (t - self.offset) * 1000

    def data(self, t0, t1):
        p0, p1 = self._page(t0), self._page(t1)
        return self.eval(
            f"(() => {{ const l = window.__lab; return {{"
            f"frames: l.frames.filter((t) => t >= {p0} && t < {p1}),"
            f"stats: l.stats.filter((s) => s.t >= {p0 - 1500} && s.t < {p1 + 1500}),"
            f"errors: l.errors.slice(-5) }}; }})()", timeout=30)

    def centre_colour(self):
        return self.eval(CENTRE_RGB_JS)

    def receive_figures(self, t0, t1):
        """What this page saw of the peer's picture over [t0, t1), and the
        NACKs, PLIs and FIRs it sent the peer meanwhile."""
        d = self.data(t0, t1)
        times = [t0] + [self.offset + f / 1000 for f in d["frames"]] + [t1]
        gaps = [b - a for a, b in zip(times, times[1:])]
        stats = [s for s in d["stats"] if self._page(t0) <= s["t"] < self._page(t1)]
        res = [(s.get("width"), s.get("height")) for s in stats if s.get("width")]
        heights = [h for _, h in res]
        decoded = [s for s in d["stats"] if s.get("framesDecoded") is not None]
        inside = [s for s in decoded if self._page(t0) <= s["t"] < self._page(t1)]
        decoded_fps = None
        if len(inside) >= 2:
            decoded_fps = ((inside[-1]["framesDecoded"] - inside[0]["framesDecoded"])
                           / ((inside[-1]["t"] - inside[0]["t"]) / 1000))
        def delta(key):
            have = [s for s in inside if s.get(key) is not None]
            return have[-1][key] - have[0][key] if len(have) >= 2 else None

        return {"fps": len(d["frames"]) / (t1 - t0), "max_gap": max(gaps),
                "nacks_sent": delta("nackCount"), "plis_sent": delta("pliCount"),
                "firs_sent": delta("firCount"),
                "freezes": sum(1 for g in gaps if g > FREEZE),
                "freeze_seconds": sum(g for g in gaps if g > FREEZE),
                "frames": len(d["frames"]), "decoded_fps": decoded_fps,
                "resolution": res[-1] if res else None,
                "min_height": min(heights) if heights else None, "errors": d["errors"]}

    def send_figures(self, t0, t1):
        """This page's sending side over [t0, t1): RTT, loss as the peer
        reports it, send rate, its encoder's target."""
        d = self.data(t0, t1)
        stats = [s for s in d["stats"] if self._page(t0) <= s["t"] < self._page(t1)]
        rtts = [s["rtt"] * 1000 for s in stats if s.get("rtt") is not None]
        losses = [s["fractionLost"] * 100 for s in stats if s.get("fractionLost") is not None]
        sent = [s for s in stats if s.get("bytesSent") is not None]
        send_kbps = None
        if len(sent) >= 2:
            send_kbps = ((sent[-1]["bytesSent"] - sent[0]["bytesSent"]) * 8 / 1000
                         / ((sent[-1]["t"] - sent[0]["t"]) / 1000))
        targets = [s["targetBitrate"] / 1000 for s in stats if s.get("targetBitrate")]
        avail = [s["availableOutgoingBitrate"] / 1000 for s in stats
                 if s.get("availableOutgoingBitrate")]
        limits = [s.get("qualityLimitationReason") for s in stats
                  if s.get("qualityLimitationReason")]
        fig = {"send_kbps": send_kbps, "target_kbps": median(targets),
               "available_kbps": median(avail),
               "loss_pct": statistics.mean(losses) if losses else None,
               "limitation": max(set(limits), key=limits.count) if limits else None,
               "send_resolution": next(((s.get("sendWidth"), s.get("sendHeight"))
                                        for s in reversed(stats) if s.get("sendWidth")), None)}
        fig.update(_rtt_figures(rtts))
        return fig

    def collect_faults(self):
        """Starts recording each frame the remote <video> presents with its
        centre colour, and the page's call at each change (after
        wait_connected(), which fixes the clock offset)."""
        self.eval(FAULT_COLLECTOR_JS)

    def fault_data(self, t0):
        """Since t0 (time.monotonic()): frames [(time, (r, g, b) or None)]
        and the page's call at each change, [(time, state, call id, attempt,
        reconnects, signaling)], the one before t0 first."""
        p0 = self._page(t0)
        d = self.eval(
            f"(() => {{ const l = window.__labFault; const s = l.states;"
            f"const i = s.findIndex((x) => x[0] >= {p0});"
            f"return {{ frames: l.frames.filter((f) => f[0] >= {p0}),"
            f"states: i < 0 ? s.slice(-1) : s.slice(Math.max(0, i - 1)) }}; }})()", timeout=30)
        frames = [(self.offset + t / 1000, tuple(c) if c else None) for t, c in d["frames"]]
        states = [(self.offset + x[0] / 1000, *x[1:]) for x in d["states"]]
        return frames, states

    def close(self):
        self.browser.close()
