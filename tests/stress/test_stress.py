"""Many calls in a row between two real vchatd daemons, with everything a
desktop has switched on: each daemon on its private session bus, the real
vchat-signald on loopback, one private PipeWire (pwenv) with a red and a
blue virtual camera and two virtual microphones (440 Hz, 660 Hz), each
daemon with `--camera` and `--microphone`, and the PipeWire outputs on: the
remote video node and the speaker (the null sink, PipeWire's default
output). No --no-pipewire-nodes, no --audio-sink fakesink.

Each call, as a person would make it:
  - odd calls by invitation (red invites, blue joins, red accepts), even
    calls at random (both StartRandom); who hangs up alternates every
    second call, so every kind of call ends from both sides;
  - wait until both are connected and each names its RemoteVideoNode (the
    first picture has arrived);
  - attach a viewer to each node as `vchatctl view` would (pipewiresrc !
    videoconvert ! videoscale ! 64x48 RGB, in a process of its own), wait
    until red sees blue and blue sees red, watch about a second of video
    (frames must keep coming), and hang up with the viewers still attached;
  - both calls must reach "ended".
Throughout, a thread per daemon asks it for a Manager property every 0.2 s
over D-Bus and records the slowest answer: any answer slower than 1 s, or
none, fails the test, as does a daemon that exits. Before the first call
(after one warm-up call) and after the last, the daemons' open file
descriptors (/proc/PID/fd) and threads (/proc/PID/task) are counted; after
the last call they must come back to the starting counts within 20 s
(teardown may happen on worker threads), but for the eventfds PipeWire
0.3.65 leaks into its clients (see PIPEWIRE_EVENTFD_BOUND), which are
counted, printed and bounded.

Run it (from the source root, the build in build/):

    meson test -C build --no-rebuild --suite stress --print-errorlogs
    # or directly, with the environment meson would set:
    export PYTHONPATH=tests/lib VCHATD=build/daemon/vchatd \
      VCHATCTL=build/cli/vchatctl VCHAT_SCHEMAS=build/data \
      VCHAT_SIGNALD=build/signaling/server/vchat-signald \
      VCHAT_WEB_ROOT=signaling/web G_DEBUG=fatal-criticals
    VCHAT_STRESS_CALLS=10 python3 -m pytest -q -s -p no:cacheprovider -rs tests/stress

VCHAT_STRESS_CALLS sets the number of calls (default 100), VCHAT_STRESS_WATCH
the seconds of video watched per call (default 1); VCHAT_STRESS_LOGS=DIR
keeps the whole logs of the daemons, the server and PipeWire there. A call
takes about 3.1 s here (0.3 s to connect, 1.1 s more to the first pictures,
0.3 s for the viewers, 1 s of video, the hangup), so 100 calls take about
five and a half minutes. -s shows the
per-call timings and the final counts as they come (meson's log has them
too, with --print-errorlogs or in meson-logs/testlog.txt).

Under AddressSanitizer (with LeakSanitizer): build vchatd with
-Db_sanitize=address in its own build directory and point VCHATD at it:

    meson setup build-asan -Db_sanitize=address -Dbuildtype=debug
    meson compile -C build-asan daemon/vchatd
    VCHATD=build-asan/daemon/vchatd VCHAT_STRESS_CALLS=20 \
      python3 -m pytest -q -s -p no:cacheprovider tests/stress

The test notices an ASan build (libasan in `ldd $VCHATD`, or
VCHAT_STRESS_ASAN=1) and then
  - sets G_SLICE=always-malloc (GLib's slice allocator would hide leaks),
    GIO_USE_PROXY_RESOLVER=dummy (libproxy makes an ASan vchatd abort at
    its first connection: "CHECK failed: asan_interceptors.cpp:320") and
    adds detect_leaks=1 to ASAN_OPTIONS (options given there win);
  - makes the waits of each call VCHAT_STRESS_SLOW (default 3) times
    longer;
  - reads LeakSanitizer's reports, which the daemons print to their
    (captured) stderr when they exit on SIGTERM; fails on any
    AddressSanitizer error (use after free, overflow, ...) and prints each
    daemon's leak summary after the long run;
  - runs test_leaks_do_not_grow_with_calls (skipped without ASan): fresh
    daemons for N and then for 2N calls (N = VCHAT_STRESS_ASAN_CALLS,
    default 5) with the slow unwinder (fast_unwind_on_malloc=0: the only
    way to see past g_malloc into the code that leaked, since Debian's
    GLib and GStreamer have no frame pointers), then compares the reports
    stack by stack: a stack that passes through vchatd's own code and
    leaks more objects after 2N calls than after N fails the test; one
    entirely inside libraries is printed (VCHAT_STRESS_STRICT_LEAKS=1
    fails on those too). Leaks of the same size in both runs (made once
    per process) are only listed.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest
from gi.repository import GLib

from pwenv import PipeWireEnv
from signald import Signald
from stall import (NodeReader, Pinger, close_to, counts, crash_backtrace, describe_exit,
                   dumps_core_in, fd_targets, gdb_stacks, stacks_summary, thread_names)
from vchatd import Vchatd

RED = (255, 0, 0)
BLUE = (0, 0, 255)
CALLS = int(os.environ.get("VCHAT_STRESS_CALLS", "100"))
ASAN_CALLS = int(os.environ.get("VCHAT_STRESS_ASAN_CALLS", "5"))
# Whole-run bound, so that a daemon that gets slower and slower fails
# inside meson's timeout (900 s) rather than being killed by it.
RUN_SECONDS = float(os.environ.get("VCHAT_STRESS_SECONDS", "600"))
DBUS_LIMIT = 1.0
# Of video per call, once both see the right colour (VCHAT_STRESS_WATCH).
WATCH_SECONDS = float(os.environ.get("VCHAT_STRESS_WATCH", "1.0"))
SETTLE_SECONDS = 20.0    # for fds and threads to come back after the last call
MAX_FAILED_CALLS = 3     # then stop: the report says enough
# Frames each viewer must get in that second: the picture keeps coming. Low
# on purpose: on a busy 2-core machine delivery drops to a few fps (the
# per-call lines print the counts); a frozen picture gives 0 or 1.
MIN_FRAMES = 2


def asan_build():
    if os.environ.get("VCHAT_STRESS_ASAN"):
        return os.environ["VCHAT_STRESS_ASAN"] not in ("0", "")
    try:
        out = subprocess.run(["ldd", os.environ["VCHATD"]], capture_output=True, text=True,
                             timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "libasan" in out


ASAN = asan_build()
# See the file descriptor check: eventfds PipeWire leaks, at most this many
# per call (8 in 100 calls measured; the bound is twice that, and never
# less than 2 for a short run).
PIPEWIRE_EVENTFD_BOUND = 0.16
# Waits inside a call are this many times longer under ASan (VCHAT_STRESS_SLOW).
SLOW = float(os.environ.get("VCHAT_STRESS_SLOW", "3" if ASAN else "1"))
# LeakSanitizer's stacks go through GLib and GStreamer, built without frame
# pointers: only the slow unwinder sees past g_malloc to the code that
# leaked. It makes every allocation slower, so the comparison run uses few
# calls and SLOW; the long run keeps the fast unwinder (leak totals only).
ASAN_OPTIONS_LONG = "detect_leaks=1"
ASAN_OPTIONS_COMPARE = "detect_leaks=1:fast_unwind_on_malloc=0:malloc_context_size=30"


def asan_options(ours):
    """ASAN_OPTIONS for a daemon: the caller's, with ours for what it does
    not set."""
    given = os.environ.get("ASAN_OPTIONS", "")
    keys = {o.split("=", 1)[0] for o in given.split(":") if o}
    extra = [o for o in ours.split(":") if o.split("=", 1)[0] not in keys]
    return ":".join([o for o in given.split(":") if o] + extra)


def say(*args):
    print(*args, flush=True)


# -- the two desktops ------------------------------------------------------------

class Pair:
    """One PipeWire with two cameras and two microphones, the server, and
    the red and the blue daemon, all stopped by stop()."""

    def __init__(self, tmpdir, options=None):
        self.tmpdir = tmpdir
        self.pw = PipeWireEnv(os.path.join(tmpdir, "pw"))
        self.server = None
        self.red = self.blue = None
        self.pingers = []
        self.producers = []
        self.exit = {}
        self.stacks_taken = False
        self.pw.start()
        try:
            self.producers = [
                self.pw.add_camera("vchat-stress-cam-red", RED, description="Red camera"),
                self.pw.add_camera("vchat-stress-cam-blue", BLUE, description="Blue camera"),
                self.pw.add_microphone("vchat-stress-mic-440", 440, description="Red microphone"),
                self.pw.add_microphone("vchat-stress-mic-660", 660, description="Blue microphone"),
            ]
            self.server = Signald()
            # Dumpable (vchatd is not, otherwise): a crash leaves its core
            # file for crash_backtrace().
            env = dict(self.pw.env, VCHATD_DUMPABLE="1")
            if ASAN:
                env["G_SLICE"] = "always-malloc"
                env["ASAN_OPTIONS"] = asan_options(options or ASAN_OPTIONS_LONG)
                # libproxy (C++, loaded by GIO for the WebSocket) throws an
                # exception that ASan's __cxa_throw interceptor cannot pass
                # on when libstdc++ comes after libasan: vchatd aborts with
                # "CHECK failed: asan_interceptors.cpp:320". No proxy here.
                env["GIO_USE_PROXY_RESOLVER"] = "dummy"
            # Each in a directory of its own, where a crash leaves its core.
            with dumps_core_in(os.path.join(tmpdir, "red")):
                self.red = Vchatd(os.path.join(tmpdir, "red"), self.server.ws_url, name="Red",
                                  env=env, args=["--camera", "vchat-stress-cam-red",
                                                 "--microphone", "vchat-stress-mic-440"])
            with dumps_core_in(os.path.join(tmpdir, "blue")):
                self.blue = Vchatd(os.path.join(tmpdir, "blue"), self.server.ws_url, name="Blue",
                                   env=env, args=["--camera", "vchat-stress-cam-blue",
                                                  "--microphone", "vchat-stress-mic-660"])
            self.pingers = [Pinger(self.red, "red").start(), Pinger(self.blue, "blue").start()]
        except BaseException:
            self.stop()
            raise

    @property
    def daemons(self):
        return [d for d in (self.red, self.blue) if d is not None]

    def set_phase(self, phase):
        for p in self.pingers:
            p.phase = phase

    def stop(self):
        """Stops everything; {label: exit status} of the daemons."""
        for p in self.pingers:
            p.stop()
        for label, d in (("red", self.red), ("blue", self.blue)):
            if d is None:
                continue
            was_running = d.proc is not None and d.proc.poll() is None
            t0 = time.monotonic()
            rc = d.stop()
            self.exit[label] = (rc, was_running, time.monotonic() - t0)
        if self.server is not None:
            self.server.stop()
        for p in self.producers:
            p.stop()
        self.pw.stop()
        return self.exit


# -- one call ------------------------------------------------------------------

class CallFailed(AssertionError):
    pass


def wait_until(predicate, timeout, what, daemons, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        for d in daemons:
            if d.proc.poll() is not None:
                raise CallFailed(f"vchatd {d.args[d.args.index('--name') + 1]} exited "
                                 f"({d.proc.returncode}) while waiting for {what}")
        try:
            if predicate():
                return
        except GLib.Error:
            pass
        if time.monotonic() > deadline:
            raise CallFailed(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def one_call(pair, i):
    """Call number i; a dict of its timings and what each side saw."""
    red, blue = pair.red, pair.blue
    kind = "invite" if i % 2 else "random"
    hanger = "red" if (i // 2) % 2 == 0 else "blue"
    r = {"i": i, "kind": kind, "hanger": hanger}
    readers = []
    pa = pb = None
    t0 = time.monotonic()
    try:
        pair.set_phase(f"call {i} ({kind}): setting up")
        if kind == "random":
            pa = red.manager("StartRandom", "(a{sv})", {})
            pb = blue.manager("StartRandom", "(a{sv})", {})
        else:
            pa, code, link = red.manager("CreateInvite", "(a{sv})", {"ttl": GLib.Variant("u", 120)})
            pb = blue.manager("JoinInvite", "(sa{sv})", link, {})
            wait_until(lambda: red.call_prop(pa, "State") == "incoming", 15 * SLOW,
                       f"call {i}: the invitation to ring", pair.daemons)
            red.call_method(pa, "Accept")
        wait_until(lambda: red.call_prop(pa, "State") == "connected"
                   and blue.call_prop(pb, "State") == "connected", 30 * SLOW,
                   f"call {i}: both sides connected", pair.daemons)
        r["connected"] = time.monotonic() - t0

        pair.set_phase(f"call {i} ({kind}): waiting for the pictures")
        nodes = {}
        wait_until(lambda: nodes.update(red=red.call_prop(pa, "RemoteVideoNode"),
                                        blue=blue.call_prop(pb, "RemoteVideoNode"))
                   or (nodes["red"] and nodes["blue"]), 20 * SLOW,
                   f"call {i}: both RemoteVideoNodes (the first picture on each side)",
                   pair.daemons)
        r["nodes"] = time.monotonic() - t0

        pair.set_phase(f"call {i} ({kind}): watching")
        red_view = NodeReader(pair.pw.env, nodes["red"], label="red's view").start()
        blue_view = NodeReader(pair.pw.env, nodes["blue"], label="blue's view").start()
        readers = [red_view, blue_view]
        t_red, c_red = red_view.wait_for(lambda c: close_to(c, BLUE), 20 * SLOW,
                                         f"call {i}: red to see the blue camera", since=0)
        t_blue, c_blue = blue_view.wait_for(lambda c: close_to(c, RED), 20 * SLOW,
                                            f"call {i}: blue to see the red camera", since=0)
        seen = max(t_red, t_blue)
        r["colours"] = seen - t0
        # About a second of video, the viewers attached.
        time.sleep(max(0.0, seen + WATCH_SECONDS - time.monotonic()))
        end = time.monotonic()
        for label, view, colour in (("red", red_view, BLUE), ("blue", blue_view, RED)):
            frames = [c for t, c in view.frames if seen <= t <= end]
            r[f"{label}_frames"] = len(frames)
            r[f"{label}_sees"] = frames[-1] if frames else view.last()[1]
            if len(frames) < MIN_FRAMES:
                raise CallFailed(f"call {i}: {label} got {len(frames)} frames in "
                                 f"{end - seen:.1f} s of the call: " + view.describe(seen))
            wrong = [c for c in frames if not close_to(c, colour)]
            if wrong:
                raise CallFailed(f"call {i}: {label} saw {len(wrong)} of {len(frames)} frames in "
                                 f"other colours than {colour}: " + view.describe(seen))

        pair.set_phase(f"call {i} ({kind}): hanging up ({hanger})")
        t_hang = time.monotonic()
        (red if hanger == "red" else blue).call_method(pa if hanger == "red" else pb, "Hangup")
        for v in readers:
            v.close()  # the viewers close as their node goes
        wait_until(lambda: red.call_prop(pa, "State") == "ended"
                   and blue.call_prop(pb, "State") == "ended", 15 * SLOW,
                   f"call {i}: both sides ended after the hangup", pair.daemons)
        r["ended"] = time.monotonic() - t_hang
        r["ok"] = True
    except (AssertionError, GLib.Error) as e:
        r["ok"] = False
        r["error"] = str(e)
        r["states"] = {label: call_state(d, p) for label, d, p in (("red", red, pa), ("blue", blue, pb))}
        if not pair.stacks_taken:
            # Where each daemon is, for the report (only if gdb is there).
            pair.stacks_taken = True
            for label, d in (("red", red), ("blue", blue)):
                if d.proc.poll() is None:
                    path = os.path.join(pair.tmpdir, f"stacks-call-{i}-{label}.txt")
                    stacks = gdb_stacks(d.proc.pid)
                    with open(path, "w") as f:
                        f.write(stacks)
                    r.setdefault("stacks", {})[label] = stacks
        # Leave no call behind for the next one (what a person would do).
        for d, p in ((red, pa), (blue, pb)):
            if p and d.proc.poll() is None:
                try:
                    if d.call_prop(p, "State") != "ended":
                        d.call_method(p, "Hangup")
                except GLib.Error:
                    pass
    finally:
        pair.set_phase(f"after call {i}")
        for v in readers:
            v.stop()
    r["total"] = time.monotonic() - t0
    return r


def call_state(d, path):
    if not path:
        return "-"
    try:
        props = d.call_props(path)
        return (f"{props.get('State')} ({props.get('EndReason') or 'no end reason'}), "
                f"RemoteVideoNode {props.get('RemoteVideoNode')!r}")
    except GLib.Error as e:
        return f"no answer ({e.message})"


def describe_call(r):
    if not r["ok"]:
        return (f"call {r['i']:3d} {r['kind']:6s} FAILED after {r['total']:.1f} s: {r['error']} "
                f"(call states: red {r['states']['red']}; blue {r['states']['blue']})")
    return (f"call {r['i']:3d} {r['kind']:6s} hangup by {r['hanger']:4s}: connected "
            f"{r['connected']:.2f} s, first pictures {r['nodes']:.2f} s, right colours "
            f"{r['colours']:.2f} s, ended {r['ended']:.2f} s after the hangup; red saw "
            f"{r['red_sees']} ({r['red_frames']} frames in {WATCH_SECONDS:.0f} s), blue saw "
            f"{r['blue_sees']} ({r['blue_frames']} frames); total {r['total']:.1f} s")


def settled_counts(d, until, want=None, quiet=1.5):
    """The daemon's (fds, threads) once they stop changing (for `quiet` s),
    or as soon as they are at or below `want`; the last counts at `until`."""
    def now_counts():
        try:
            return counts(d.proc.pid)
        except FileNotFoundError:
            d.proc.wait(5)
            raise CallFailed(f"vchatd {d.args[d.args.index('--name') + 1]} exited "
                             f"({describe_exit(d.proc.returncode)})") from None

    last = now_counts()
    stable_since = time.monotonic()
    while time.monotonic() < until:
        time.sleep(0.25)
        now = now_counts()
        if want is not None and now[0] <= want[0] and now[1] <= want[1]:
            return now
        if now != last:
            last, stable_since = now, time.monotonic()
        elif want is None and time.monotonic() - stable_since >= quiet:
            return now
    return last


def make_calls(pair, n, first=1):
    results = []
    failed = 0
    t_start = time.monotonic()
    for i in range(first, first + n):
        r = one_call(pair, i)
        results.append(r)
        say(describe_call(r))
        for label, stacks in r.get("stacks", {}).items():
            say(f"--- stacks of {label}'s vchatd after call {i} failed ---\n" + stacks_summary(stacks))
        if not r["ok"]:
            failed += 1
            dead = [d for d in pair.daemons if d.proc.poll() is not None]
            frozen = [p for p in pair.pingers if p.unanswered]
            if dead or frozen or failed >= MAX_FAILED_CALLS:
                say(f"stopping after call {i}: " + (
                    "a daemon exited" if dead else
                    "a daemon stopped answering on D-Bus" if frozen else
                    f"{failed} calls failed"))
                break
        if time.monotonic() - t_start > RUN_SECONDS:
            say(f"stopping after call {i}: the run took more than {RUN_SECONDS:.0f} s")
            break
    return results


# -- LeakSanitizer reports -----------------------------------------------------------

_LEAK = re.compile(r"^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\) allocated from:")
_FRAME = re.compile(r"^\s*#(\d+) 0x[0-9a-f]+ in (\S+)(.*)$")
_FRAME_NOSYM = re.compile(r"^\s*#(\d+) 0x[0-9a-f]+ +\((\S+?)\+0x[0-9a-f]+\)()")
# A frame of vchatd's own code: a source file of ours, or the binary itself.
_OURS = re.compile(r"(^|[ /(])(daemon|common|signaling|dbus)/|/vchatd\+0x|\bvchatd_")


def parse_lsan(log):
    """{(kind, frames): [bytes, objects, ours]} from a LeakSanitizer
    report: frames are function names (or library names where there is no
    symbol), the allocator itself left out, at most 12; ours: a frame of
    the stack is in vchatd's own code."""
    leaks = {}
    lines = log.splitlines()
    i = 0
    while i < len(lines):
        m = _LEAK.match(lines[i])
        i += 1
        if not m:
            continue
        frames = []
        ours = False
        while i < len(lines) and lines[i].strip().startswith("#"):
            f = _FRAME.match(lines[i]) or _FRAME_NOSYM.match(lines[i])
            if f and f.group(1) != "0":
                frames.append(f.group(2))
                ours = ours or bool(_OURS.search(f.group(2) + " " + f.group(3)))
            i += 1
        key = (m.group(1), tuple(frames[:12]))
        entry = leaks.setdefault(key, [0, 0, False])
        entry[0] += int(m.group(2))
        entry[1] += int(m.group(3))
        entry[2] = entry[2] or ours
    return leaks


def asan_errors(log):
    """AddressSanitizer's errors (a use after free, an overflow, ...), and
    LeakSanitizer failing to run at all; not the leak report itself."""
    out = []
    for line in log.splitlines():
        if "ERROR: AddressSanitizer" in line:
            out.append(line)
        elif "ERROR: LeakSanitizer" in line and "detected memory leaks" not in line:
            out.append(line)
        elif "LeakSanitizer has encountered a fatal error" in line:
            out.append(line)
    return out


def leaks_only(rc, log):
    """An exit status that only says LeakSanitizer found leaks (ASan's
    exitcode, 1 by default): judged by the report, not as a crash."""
    return (ASAN and rc is not None and rc > 0
            and "ERROR: LeakSanitizer: detected memory leaks" in log and not asan_errors(log))


def leak_summary(log):
    m = re.findall(r"SUMMARY: AddressSanitizer: (\d+) byte\(s\) leaked in (\d+) allocation\(s\)", log)
    return f"{m[-1][0]} bytes leaked in {m[-1][1]} allocations" if m else "no leak reported"


def print_leaks(label, leaks, top=15):
    ranked = sorted(leaks.items(), key=lambda kv: -kv[1][0])
    say(f"{label}: {len(ranked)} leaking stacks")
    for (kind, frames), (nbytes, objects, ours) in ranked[:top]:
        say(f"  {kind} {nbytes} bytes in {objects} objects{' (our code)' if ours else ''}: "
            + " < ".join(frames[:8]))


def keep_logs(pair, label=""):
    """VCHAT_STRESS_LOGS=DIR: the daemons' whole logs (and the PipeWire
    session's) are copied there, for a failure to be read in full."""
    out = os.environ.get("VCHAT_STRESS_LOGS")
    if not out:
        return
    out = os.path.join(out, time.strftime("%Y%m%d-%H%M%S") + label)
    os.makedirs(out, exist_ok=True)
    for label, d in (("red", pair.red), ("blue", pair.blue)):
        if d is not None:
            with open(os.path.join(out, f"vchatd-{label}.log"), "w") as f:
                f.write(d.log)
    if pair.server is not None:
        with open(os.path.join(out, "vchat-signald.log"), "w") as f:
            f.write(pair.server.log)
    shutil.copytree(pair.pw.logdir, os.path.join(out, "pipewire"), dirs_exist_ok=True)
    for name in os.listdir(pair.tmpdir):
        if name.startswith("stacks-"):
            shutil.copy(os.path.join(pair.tmpdir, name), out)
    for p in pair.pingers:
        if p.stacks:
            with open(os.path.join(out, f"stacks-{p.label}-not-answering.txt"), "w") as f:
                f.write(p.stacks)
    say(f"logs kept in {out}")


# -- the tests -------------------------------------------------------------------------

@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="vchat-stress-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_many_calls_in_a_row(workdir):
    pair = Pair(workdir)
    results = []
    base = {}
    after = {}
    lists = {}
    problems = []
    try:
        say(f"{CALLS} calls between two vchatd (pids red {pair.red.proc.pid}, "
            f"blue {pair.blue.proc.pid}){' under ASan' if ASAN else ''}")
        warm = one_call(pair, 0)
        say("warm-up " + describe_call(warm))
        if not warm["ok"]:
            problems.append("the warm-up call failed: " + warm["error"])
        else:
            # GStreamer's and PipeWire's threads and pools start with the
            # first call; the baseline is taken once they have settled.
            until = time.monotonic() + SETTLE_SECONDS
            for label, d in (("red", pair.red), ("blue", pair.blue)):
                base[label] = settled_counts(d, until)
                lists[label] = (fd_targets(d.proc.pid), thread_names(d.proc.pid))
            say(f"baseline after the warm-up call: red {base['red'][0]} fds, "
                f"{base['red'][1]} threads; blue {base['blue'][0]} fds, {base['blue'][1]} threads")

            t_run = time.monotonic()
            results = make_calls(pair, CALLS)
            run_seconds = time.monotonic() - t_run

            until = time.monotonic() + SETTLE_SECONDS
            for label, d in (("red", pair.red), ("blue", pair.blue)):
                if d.proc.poll() is None:
                    after[label] = settled_counts(d, until, want=base[label])
            ok = [r for r in results if r["ok"]]
            say("")
            say(f"=== {len(ok)} of {CALLS} calls showed the right colours on both sides "
                f"({len(results)} made, in {run_seconds:.0f} s; "
                f"{run_seconds / max(1, len(results)):.1f} s per call)")
            if ok:
                for key in ("connected", "nodes", "colours", "ended", "total"):
                    v = sorted(r[key] for r in ok)
                    say(f"    {key:9s} median {v[len(v) // 2]:.2f} s, worst {v[-1]:.2f} s")
            for label in ("red", "blue"):
                if label in after:
                    say(f"    {label}: fds {base[label][0]} -> {after[label][0]}, "
                        f"threads {base[label][1]} -> {after[label][1]} "
                        f"({SETTLE_SECONDS:.0f} s allowed to settle)")
            for p in pair.pingers:
                say("    " + p.summary())

            for r in results:
                if not r["ok"]:
                    problems.append(describe_call(r))
            if len(results) < CALLS:
                problems.append(f"only {len(results)} of {CALLS} calls were made")
            for label, d in (("red", pair.red), ("blue", pair.blue)):
                if label not in after:
                    continue
                (f0, t0), (f1, t1) = base[label], after[label]
                # No slack: a GLib or GStreamer worker thread made lazily is
                # made by the warm-up call, before the baseline.
                # One exception, counted and bounded rather than ignored:
                # eventfds that PipeWire 0.3.65 sends us and never closes.
                # A peer's activation eventfd reaches the client over its
                # socket (never from an eventfd() of ours: a gdb trace of
                # every eventfd2 and close in vchatd shows none left open),
                # and client_node_set_activation() leaks it on its error
                # paths (a peer's memory already gone when a reader is
                # still linked to the remote video node as the call ends).
                # About 8 in 100 calls here; sockets, memfds and every other
                # kind must come back exactly.
                if f1 > f0:
                    old = lists[label][0]
                    new = {fd: t for fd, t in fd_targets(d.proc.pid).items() if old.get(fd) != t}
                    eventfds = [fd for fd, t in new.items() if t == "anon_inode:[eventfd]"]
                    others = {fd: t for fd, t in new.items() if t != "anon_inode:[eventfd]"}
                    say(f"    {label}: {len(eventfds)} eventfds from PipeWire left open after "
                        f"{len(results)} calls")
                    if others or len(eventfds) > max(2, PIPEWIRE_EVENTFD_BOUND * len(results)):
                        problems.append(f"{label}'s vchatd: file descriptors grew from {f0} to "
                                        f"{f1} after {len(results)} calls; new: "
                                        f"{sorted(new.items())[:20]}")
                if t1 > t0:
                    old = lists[label][1]
                    now = thread_names(d.proc.pid)
                    extra = list(now)
                    for name in old:
                        if name in extra:
                            extra.remove(name)
                    problems.append(f"{label}'s vchatd: threads grew from {t0} to {t1} after "
                                    f"{len(results)} calls; new threads: {extra}")
    except Exception as e:  # a daemon that died under the counts, ...: reported below
        problems.append(f"the test stopped early: {type(e).__name__}: {e}")
    finally:
        exits = pair.stop()
        keep_logs(pair)
    for label, (rc, was_running, took) in exits.items():
        d = pair.red if label == "red" else pair.blue
        if rc is not None and rc < 0 and rc != -9:
            trace = crash_backtrace(d.binary, d.tmpdir)
            if trace:
                problems.append(f"--- where {label}'s vchatd crashed ---\n{trace}")
        if not was_running:
            problems.append(f"{label}'s vchatd had died during the test ({describe_exit(rc)})")
        elif rc == -9:
            problems.append(f"{label}'s vchatd ignored SIGTERM: SIGKILLed after {took:.0f} s")
        elif rc != 0 and not leaks_only(rc, d.log):
            problems.append(f"{label}'s vchatd, asked to stop, {describe_exit(rc)}")
        if ASAN:
            errors = asan_errors(d.log)
            if errors:
                start = max(0, d.log.find(errors[0]))
                problems.append(f"{label}'s vchatd: {errors[:3]}\n" + d.log[start:start + 6000])
            say(f"{label} (ASan, {len(results) + 1} calls): {leak_summary(d.log)}")
            print_leaks(f"{label}'s leaks", parse_lsan(d.log))
    for p in pair.pingers:
        try:
            p.check(DBUS_LIMIT)
        except AssertionError as e:
            problems.append(f"D-Bus answers slower than {DBUS_LIMIT:.0f} s:\n{e}")
    if problems:
        tails = "\n".join(f"--- {label}'s vchatd log (end) ---\n{d.log[-5000:]}"
                          for label, d in (("red", pair.red), ("blue", pair.blue)) if d)
        pytest.fail("\n".join(problems) + "\n" + tails, pytrace=False)


@pytest.mark.skipif(not ASAN, reason="needs vchatd built with -Db_sanitize=address (VCHATD)")
def test_leaks_do_not_grow_with_calls(workdir):
    """Fresh daemons for N calls, then fresh daemons for 2N calls: no
    allocation stack that passes through vchatd's own code may leak more
    after 2N calls than after N. Growing leaks entirely inside libraries
    (no frame of ours: say libgstpipewire's own) are printed, not failed,
    unless VCHAT_STRESS_STRICT_LEAKS=1."""
    runs = {}
    problems = []
    for n in (ASAN_CALLS, 2 * ASAN_CALLS):
        pair = Pair(os.path.join(workdir, f"run-{n}"), options=ASAN_OPTIONS_COMPARE)
        try:
            results = make_calls(pair, n)
        finally:
            exits = pair.stop()
            keep_logs(pair, f"-asan-{n}-calls")
        bad = [describe_call(r) for r in results if not r["ok"]]
        if bad or len(results) < n:
            problems.append(f"the {n}-call run: {n - len(bad)} of {n} calls worked:\n" + "\n".join(bad))
        runs[n] = {}
        for label, d in (("red", pair.red), ("blue", pair.blue)):
            rc, was_running, _ = exits[label]
            if not (was_running and (rc == 0 or leaks_only(rc, d.log))):
                problems.append(f"{label}'s vchatd {describe_exit(rc)}\n{d.log[-4000:]}")
            errors = asan_errors(d.log)
            if errors:
                problems.append(d.log[max(0, d.log.find(errors[0])):][:6000])
            runs[n][label] = parse_lsan(d.log)
            say(f"{n} calls, {label}: {leak_summary(d.log)}")
    growing, growing_elsewhere = [], []
    n1, n2 = ASAN_CALLS, 2 * ASAN_CALLS
    for label in ("red", "blue"):
        small, big = runs[n1][label], runs[n2][label]
        for key, (nbytes, objects, ours) in sorted(big.items(), key=lambda kv: -kv[1][0]):
            before = small.get(key, [0, 0, ours])
            if objects > before[1]:
                line = (f"{label}: {key[0]} leak {before[0]} B in {before[1]} objects after {n1} "
                        f"calls, {nbytes} B in {objects} after {n2}: " + " < ".join(key[1][:10]))
                (growing if ours else growing_elsewhere).append(line)
        print_leaks(f"{label}, {n2} calls", big)
    if growing_elsewhere:
        say("leaks that grow with the calls inside libraries (no frame of vchatd's):\n  "
            + "\n  ".join(growing_elsewhere))
    if growing:
        problems.append("leaks through vchatd's code that grow with the number of calls:\n  "
                        + "\n  ".join(growing))
    if growing_elsewhere and os.environ.get("VCHAT_STRESS_STRICT_LEAKS"):
        problems.append("leaks inside libraries that grow with the number of calls "
                        "(VCHAT_STRESS_STRICT_LEAKS):\n  " + "\n  ".join(growing_elsewhere))
    assert not problems, "\n".join(problems)
