"""Helpers for the tests that push vchatd hard (tests/stress, and the camera
stall and camera cycle tests of tests/daemon): things a person notices, made
measurable.

    pinger = Pinger(daemon, "red").start()   # D-Bus answers, every 0.2 s
    reader = NodeReader(pw.env, lambda: daemon.call_prop(path, "RemoteVideoNode")).start()
    reader.wait_for(lambda c: close_to(c, BLUE), 10, "the blue picture")
    pause(camera); resume(camera)             # a producer that stalls
    lingering = kill_lingering(camera)        # killed, its node stays
    lingering.release()                       # ... until its socket closes
    reader.stop(); pinger.stop(); pinger.check(limit=1.0)

Every wait here has a timeout; every process started here is ended by
stop() (SIGTERM to its process group, SIGKILL if it lingers).

gdb is not needed; when it is installed (apt-get install gdb) and a daemon
stops answering on D-Bus, the Pinger attaches it once and keeps the stacks
of all its threads (Pinger.stacks) for the failure message. Set
VCHAT_TEST_NO_GDB=1 to skip that.
"""
import contextlib
import ctypes
import glob
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import threading
import time

import gi
import pytest

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

from pwenv import PipeWireEnv, centre_color, end_group  # noqa: E402
from vchatd import BUS_NAME, MANAGER_IFACE, MANAGER_PATH, Vchatd  # noqa: E402

WIDTH, HEIGHT = 64, 48
FRAME_BYTES = WIDTH * HEIGHT * 3


def close_to(color, expected, tolerance=60):
    return color is not None and all(abs(c - e) <= tolerance for c, e in zip(color, expected))


def is_dark(color, limit=50):
    """Black or nearly: what a person calls a black picture."""
    return color is not None and max(color) <= limit


# -- processes ---------------------------------------------------------------

def end_process(proc, timeout=3):
    """SIGTERM to the process group of a process started with
    start_new_session=True, SIGKILL if it is still there after timeout.
    A stopped (SIGSTOP) process is continued first, so that it can exit."""
    if proc is None:
        return None
    return end_group(proc, timeout, stopped=True)


def counts(pid):
    """(open file descriptors, threads) of a process."""
    return len(os.listdir(f"/proc/{pid}/fd")), len(os.listdir(f"/proc/{pid}/task"))


def fd_targets(pid):
    """What each fd of a process points at (for a leak's message)."""
    out = {}
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
    return out


def thread_names(pid):
    names = []
    with contextlib.suppress(OSError):
        for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/comm") as f:
                names.append(f.read().strip())
    return names


def gdb_stacks(pid, timeout=120):
    """The backtraces of every thread of a running process, if gdb is
    installed (diagnosis only: no test needs it); else a line saying why not."""
    if os.environ.get("VCHAT_TEST_NO_GDB"):
        return "(stacks not taken: VCHAT_TEST_NO_GDB is set)"
    gdb = shutil.which("gdb")
    if not gdb:
        return "(stacks not taken: gdb is not installed; `apt-get install gdb` to get them)"
    try:
        r = subprocess.run([gdb, "-p", str(pid), "-batch", "-nx", "-ex", "set pagination off",
                            "-ex", "thread apply all bt"], capture_output=True, text=True,
                           timeout=timeout)
        return r.stdout + (r.stderr[-2000:] if r.returncode else "")
    except subprocess.TimeoutExpired:
        return f"(gdb did not finish within {timeout} s)"


_GDB_FRAME = re.compile(r"^#(\d+)\s+(?:0x[0-9a-f]+ in )?(\S*)\s*\(.*?\)(?: at (\S+))?(?: from (\S+))?")


def stacks_summary(stacks, limit=40000):
    """gdb's backtraces, compact: the main thread first, one frame a line as
    `function [library or file:line]`, runs of frames without a name (no
    debug symbols) folded into one line."""
    threads = []
    current = None
    for line in stacks.splitlines():
        if line.startswith("Thread "):
            current = [line, []]
            threads.append(current)
        elif line.startswith("#") and current is not None:
            m = _GDB_FRAME.match(line)
            if not m:
                current[1].append(line.strip())
                continue
            func = m.group(2) or "??"
            where = m.group(3) or m.group(4) or ""
            where = os.path.basename(where) if "/" in where and ":" not in where else where
            if "/" in where:
                where = where.rsplit("/", 1)[-1]
            text = f"{func} [{where}]" if where else func
            frames = current[1]
            if func in ("", "??") and frames and frames[-1].startswith(f"?? [{where}]"):
                frames[-1] = re.sub(r"( ×(\d+))?$", lambda mm: f" ×{int(mm.group(2) or 1) + 1}",
                                    frames[-1], count=1)
            else:
                frames.append(text if func not in ("", "??") else f"?? [{where}]")
    if not threads:
        return stacks[:limit]
    threads.sort(key=lambda t: 0 if re.match(r"Thread 1 ", t[0]) else 1)
    out = []
    for header, frames in threads:
        out.append(header)
        out.extend("    " + f for f in frames)
    text = "\n".join(out)
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text) - limit} more characters)"


# -- crashes -------------------------------------------------------------------------

def absolute_paths():
    """Makes the paths meson or a developer gave (VCHATD, ...) absolute, so
    that a daemon can be started from another working directory."""
    for key in ("VCHATD", "VCHATCTL", "VCHAT_SIGNALD", "VCHAT_SCHEMAS", "VCHAT_WEB_ROOT"):
        value = os.environ.get(key)
        if value and not os.path.isabs(value) and os.path.exists(value):
            os.environ[key] = os.path.abspath(value)


@contextlib.contextmanager
def dumps_core_in(directory):
    """Processes started inside the block write a core file into
    `directory` if they crash (the kernel's core_pattern here is a plain
    "core" in the working directory): the block runs with that working
    directory and RLIMIT_CORE raised to its hard limit. vchatd writes one
    only when started with VCHATD_DUMPABLE=1 (it is not dumpable else)."""
    absolute_paths()
    os.makedirs(directory, exist_ok=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    old = os.getcwd()
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
    except (ValueError, OSError):
        pass
    os.chdir(directory)
    try:
        yield directory
    finally:
        os.chdir(old)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))


def crash_backtrace(binary, directory, remove=True):
    """The backtrace of the crashed thread, then of every thread, from a core
    file in `directory` (with gdb, if installed); None if there is no core.
    The core file is removed afterwards (it is large), unless
    VCHAT_TEST_KEEP_CORES is set (to read it again with other symbols)."""
    cores = sorted(glob.glob(os.path.join(directory, "core*")), key=os.path.getmtime)
    if not cores:
        return None
    core = cores[-1]
    try:
        gdb = shutil.which("gdb")
        if not gdb or os.environ.get("VCHAT_TEST_NO_GDB"):
            return f"(a core file was written, {core}; install gdb to see where it crashed)"
        try:
            r = subprocess.run([gdb, "-batch", "-nx", "-ex", "set pagination off",
                                "-ex", "echo --- the thread that crashed ---\\n", "-ex", "bt",
                                "-ex", "echo --- all threads ---\\n", "-ex", "thread apply all bt",
                                binary, core], capture_output=True, text=True, timeout=180)
        except subprocess.TimeoutExpired:
            return "(gdb did not read the core file within 180 s)"
        out = r.stdout
        crashed, _, rest = out.partition("--- all threads ---")
        head = [line for line in crashed.splitlines()
                if line.startswith(("#", "Program terminated", "---"))]
        return "\n".join(head) + "\n--- all threads ---\n" + stacks_summary(rest)
    finally:
        if remove and not os.environ.get("VCHAT_TEST_KEEP_CORES"):
            for c in cores:
                with contextlib.suppress(OSError):
                    os.remove(c)


# -- D-Bus latency -------------------------------------------------------------

def main_thread_state(pid):
    """The main thread's scheduler state and kernel wait channel, e.g.
    "S futex_do_wait" (waiting for a lock or a condition), "S
    do_sys_poll" (idle in its main loop), "R" (running or waiting for a CPU)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/wchan") as f:
            wchan = f.read().strip()
    except (OSError, IndexError):
        return "gone"
    return state if state == "R" or wchan in ("", "0") else f"{state} {wchan}"


class Slow:
    """One answer slower than 0.5 s (or none)."""

    def __init__(self, phase, seconds, error, bus_seconds, main_thread):
        self.phase = phase
        self.seconds = seconds
        self.error = error
        self.bus_seconds = bus_seconds   # the bus daemon's own answer just before
        self.main_thread = main_thread   # {state: samples} while it was awaited

    def describe(self):
        text = (f"{self.phase}: {'no answer' if self.error else 'answer'} after "
                f"{self.seconds:.2f} s" + (f" ({self.error})" if self.error else ""))
        text += f"; the bus daemon itself answered in {self.bus_seconds * 1000:.0f} ms"
        if self.main_thread:
            text += "; vchatd's main thread meanwhile: " + ", ".join(
                f"{state} ×{n}" for state, n in sorted(self.main_thread.items(), key=lambda kv: -kv[1]))
        return text


class Pinger:
    """Asks a daemon for its Manager's SignalingState every `interval`
    seconds, on a D-Bus connection of its own (so the test's own calls do
    not queue in front of it), and records how long each answer took: what
    a person feels as a desktop that does or does not answer.

    phase: set by the test ("call 16: connecting"); each slow answer keeps
    the phase it happened in. For each slow answer it also keeps how fast
    the bus daemon itself answered just before (a machine too busy to
    answer anything, rather than vchatd), and what vchatd's main thread was
    doing while the answer was awaited, sampled every 0.1 s from /proc
    (state and kernel wait channel: "S futex_do_wait" is a main loop
    blocked on a lock or a condition, "S do_sys_poll" an idle one, "R" a
    busy or starved one)."""

    def __init__(self, daemon, label, interval=0.2, timeout=5.0):
        self.daemon = daemon
        self.label = label
        self.interval = interval
        self.timeout = timeout
        self.phase = "start"
        self.worst = 0.0
        self.worst_phase = None
        self.answers = 0
        self.slow = []        # Slow, for answers slower than 0.5 s or none
        self.died = None      # the daemon's exit status, if it exited
        self.stacks = None    # gdb's output, once the daemon stopped answering
        self._pending = None  # when the awaited answer was asked
        self._samples = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"pinger-{label}")
        self._sampler = threading.Thread(target=self._sample, daemon=True,
                                         name=f"pinger-{label}-sampler")
        self._conn = Gio.DBusConnection.new_for_address_sync(
            daemon.bus.address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

    def start(self):
        self._thread.start()
        self._sampler.start()
        return self

    def _ping(self):
        self._conn.call_sync(BUS_NAME, MANAGER_PATH, "org.freedesktop.DBus.Properties", "Get",
                             GLib.Variant("(ss)", (MANAGER_IFACE, "SignalingState")), None,
                             Gio.DBusCallFlags.NO_AUTO_START, int(self.timeout * 1000), None)

    def _ping_bus(self):
        t0 = time.monotonic()
        with contextlib.suppress(GLib.Error):
            self._conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                 "org.freedesktop.DBus", "GetId", None, None,
                                 Gio.DBusCallFlags.NONE, int(self.timeout * 1000), None)
        return time.monotonic() - t0

    def _sample(self):
        while not self._stop.wait(0.1):
            since = self._pending
            proc = self.daemon.proc
            if since is None or proc is None or time.monotonic() - since < 0.4:
                continue
            state = main_thread_state(proc.pid)
            self._samples[state] = self._samples.get(state, 0) + 1

    def _run(self):
        while not self._stop.wait(self.interval):
            proc = self.daemon.proc
            if proc is not None and proc.poll() is not None:
                self.died = proc.returncode
                return
            phase = self.phase
            bus = self._ping_bus()
            self._samples = {}
            error = None
            t0 = time.monotonic()
            self._pending = t0
            try:
                self._ping()
            except GLib.Error as e:
                error = e.message
            dt = time.monotonic() - t0
            self._pending = None
            if self._stop.is_set() and error:
                return  # the test is stopping the daemon
            self.answers += 1
            if dt > self.worst:
                self.worst, self.worst_phase = dt, phase
            if dt > 0.5 or error:
                self.slow.append(Slow(phase, dt, error, bus, dict(self._samples)))
            if (dt >= self.timeout * 0.9 or error) and self.stacks is None and proc is not None \
                    and proc.poll() is None:
                self.stacks = gdb_stacks(proc.pid)

    def stop(self):
        self._stop.set()
        self._thread.join(self.timeout + 2)
        self._sampler.join(2)
        with contextlib.suppress(GLib.Error):
            self._conn.close_sync(None)
        return self

    @property
    def unanswered(self):
        return [s for s in self.slow if s.error]

    def summary(self):
        s = (f"{self.label}: {self.answers} D-Bus answers, worst {self.worst * 1000:.0f} ms"
             + (f" ({self.worst_phase})" if self.worst_phase else ""))
        if self.died is not None:
            s += f"; the daemon EXITED ({self.died})"
        return s

    def check(self, limit=1.0):
        """Fails if any answer took longer than `limit` seconds (or never
        came), or the daemon died."""
        problems = [s for s in self.slow if s.seconds > limit or s.error]
        if not problems and self.died is None:
            return
        lines = [self.summary()]
        for slow in problems[:15]:
            lines.append("  " + slow.describe())
        if len(problems) > 15:
            lines.append(f"  ... {len(problems) - 15} more")
        if self.stacks:
            lines.append(f"--- stacks of {self.label}'s vchatd when it stopped answering ---")
            lines.append(stacks_summary(self.stacks))
        raise AssertionError("\n".join(lines))


# -- what a viewer sees ----------------------------------------------------------

class NodeReader:
    """Watches a video node as `vchatctl view` would, in a process of its own:

        gst-launch-1.0 -q pipewiresrc target-object=NODE ! videoconvert
          ! videoscale ! video/x-raw,format=RGB,width=64,height=48 ! fdsink fd=1

    and records the centre colour of every frame with the time it arrived.
    node: a name, or a callable giving the current name (say, the call's
    RemoteVideoNode): the reader follows it when it changes. Like vchatctl
    view it starts over when no first frame came within
    `first_frame_timeout` s (a pipewiresrc started just before its node
    exists is never linked) or when its process ends."""

    def __init__(self, env, node, first_frame_timeout=3.0, label="reader"):
        self.env = env
        self.node_fn = node if callable(node) else (lambda: node)
        self.first_frame_timeout = first_frame_timeout
        self.label = label
        self.frames = []      # (monotonic time, (r, g, b))
        self.starts = []      # (monotonic time, node name)
        self.node = None
        self.errors = []
        self._proc = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=label)

    def start(self):
        self._thread.start()
        return self

    def _current_node(self):
        try:
            return self.node_fn() or None
        except Exception as e:  # a daemon that is gone or not answering
            self.errors.append(str(e)[:200])
            return None

    def _run(self):
        while not self._stop.is_set():
            node = self._current_node()
            if not node:
                self._stop.wait(0.2)
                continue
            self.node = node
            self.starts.append((time.monotonic(), node))
            self._proc = subprocess.Popen(
                ["gst-launch-1.0", "-q", "pipewiresrc", f"target-object={node}", "!",
                 "videoconvert", "!", "videoscale", "!",
                 f"video/x-raw,format=RGB,width={WIDTH},height={HEIGHT}", "!", "fdsink", "fd=1"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                env=self.env, start_new_session=True)
            try:
                self._pump(node)
            finally:
                end_process(self._proc, 2)
            self._stop.wait(0.2)

    def _pump(self, node):
        fd = self._proc.stdout.fileno()
        started = time.monotonic()
        got = False
        buf = b""
        checked = started
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.2)
            now = time.monotonic()
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return  # the reader ended (its node went away)
                buf += chunk
                while len(buf) >= FRAME_BYTES:
                    frame, buf = buf[:FRAME_BYTES], buf[FRAME_BYTES:]
                    self.frames.append((time.monotonic(), centre_color(frame, WIDTH, HEIGHT)))
                    got = True
            elif not got and now - started > self.first_frame_timeout:
                return  # never linked: start over
            if now - checked > 1.0:
                checked = now
                current = self._current_node()
                if current and current != node:
                    return  # the node was renamed: follow it

    def close(self):
        """Starts closing the viewer (SIGTERM to its process) without
        waiting; stop() waits."""
        self._stop.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
        return self

    def stop(self):
        self.close()
        self._thread.join(10)
        end_process(self._proc, 2)
        return self

    def last(self):
        return self.frames[-1] if self.frames else None

    def since(self, t):
        return [f for f in self.frames if f[0] >= t]

    def describe(self, since=None, n=8):
        frames = self.frames if since is None else self.since(since)
        seen = []
        for _, c in frames:
            if not seen or seen[-1][0] != c:
                seen.append([c, 1])
            else:
                seen[-1][1] += 1
        tail = ", ".join(f"{c}×{k}" for c, k in seen[-n:])
        return (f"{self.label}: {len(frames)} frames{' (since the mark)' if since else ''}; "
                f"colours in order: {tail or 'none'}; node {self.node!r}, "
                f"{len(self.starts)} reader start(s)")

    def wait_for(self, predicate, timeout, what, since=None):
        """The first frame (time, colour) after `since` (default: now)
        whose colour satisfies predicate; AssertionError after timeout."""
        since = time.monotonic() if since is None else since
        deadline = time.monotonic() + timeout
        i = 0
        while True:
            frames = self.frames
            while i < len(frames):
                t, c = frames[i]
                i += 1
                if t >= since and predicate(c):
                    return t, c
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}: "
                                     + self.describe(since))
            time.sleep(0.05)


# -- cameras that stall ----------------------------------------------------------

def pause(producer):
    """Freezes a pwenv producer (gst-launch-1.0 in a process group of its
    own): its node stays in the graph, with its formats, but no frame comes."""
    os.killpg(producer.proc.pid, signal.SIGSTOP)


def resume(producer):
    os.killpg(producer.proc.pid, signal.SIGCONT)


_HUNG_CAMERA = r"""
import signal, sys
import gi
gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst
Gst.init(None)
name, argb = sys.argv[1], sys.argv[2]
props = ("props,media.class=(string)Video/Source,media.role=(string)Camera,"
         f"node.name=(string){name},node.description=(string){name},"
         "node.autoconnect=(string)false,node.pause-on-idle=(string)false")
pipeline = Gst.parse_launch(
    f"videotestsrc is-live=true pattern=solid-color foreground-color={argb} "
    "! video/x-raw,format=I420,width=320,height=240,framerate=30/1 "
    "! valve name=valve drop-mode=forward-sticky-events "
    f"! pipewiresink stream-properties=\"{props}\"")
valve = pipeline.get_by_name("valve")
loop = GLib.MainLoop()

def set_drop(drop):
    valve.set_property("drop", drop)
    return GLib.SOURCE_CONTINUE

GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGUSR1, set_drop, True)
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGUSR2, set_drop, False)
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
pipeline.set_state(Gst.State.PLAYING)
loop.run()
pipeline.set_state(Gst.State.NULL)
"""


class HungCamera:
    """A camera whose producer hangs while its node stays and keeps
    answering PipeWire: the node is there, with its format, links and goes
    to PLAYING like any other, but no frame comes (a camera program stuck in
    its capture loop, a device that stopped streaming). Unlike pause() (the
    whole process frozen, so the node answers nothing), this is what a
    consumer sees when only the frames stop.

    A small GStreamer program (python3-gi, Gst): videotestsrc of one colour
    ! valve ! pipewiresink; SIGUSR1 closes the valve (hang), SIGUSR2 opens
    it (resume). The valve forwards the caps while closed, so the node's
    format is settled. hung=True: the valve closes 1 s after the node
    appeared (closed from the start, pipewiresink 0.3.65 never streams,
    even after it opens), before the constructor returns."""

    def __init__(self, pw, name, color, hung=True, timeout=15):
        import sys
        r, g, b = color
        self.pw = pw
        self.name = name
        self.log_path = os.path.join(pw.logdir, f"hung-camera-{name}.log")
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _HUNG_CAMERA, name, f"0xff{r:02x}{g:02x}{b:02x}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=pw.env,
                start_new_session=True)
        try:
            pw.wait_node(name, timeout)
        except BaseException:
            end_process(self.proc)
            raise
        if hung:
            # Not sooner: a valve closed before pipewiresink (0.3.65) has
            # settled its stream leaves it never streaming, even once the
            # valve opens.
            time.sleep(1.0)
            self.hang()

    def hang(self):
        os.killpg(self.proc.pid, signal.SIGUSR1)

    def resume(self):
        os.killpg(self.proc.pid, signal.SIGUSR2)

    def stop(self, timeout=5):
        end_process(self.proc)
        if self.pw.running:
            self.pw.wait_node_gone(self.name, timeout)


_libc = ctypes.CDLL(None, use_errno=True)
_SYS_PIDFD_GETFD = 438  # the same number on every architecture (since Linux 5.6)


class Lingering:
    """Copies of a dead producer's sockets: while they are open, PipeWire
    does not know its client is gone."""

    def __init__(self, name, fds):
        self.name = name
        self.fds = fds

    def release(self):
        """Closes the copies: PipeWire sees the connection close and removes
        the node, as when a crashed process is finally reaped."""
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds = []


def kill_lingering(producer):
    """SIGKILLs a producer so that its node stays registered: a producer
    "killed while its node lingers".

    Killing a PipeWire client normally removes its node at once: the kernel
    closes the client's socket and PipeWire destroys what the client owned.
    The node lingers only while something else still holds that socket
    (a process that inherited or was passed the fd, a crashed process whose
    core dump is still being written). This reproduces that: before the
    SIGKILL, the test process takes copies of each of the producer's sockets
    with pidfd_getfd(2) (Linux 5.6; root or ptrace rights over the
    producer). After the kill, PipeWire still has the client, its node and
    the node's formats, but nothing answers the graph's wake-ups: a
    consumer is linked and gets no frame. Lingering.release() closes the
    copies, and the node goes."""
    pid = producer.proc.pid
    pidfd = os.pidfd_open(pid)
    fds = []
    try:
        for entry in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{entry}")
            except OSError:
                continue
            if not target.startswith("socket:"):
                continue
            fd = _libc.syscall(_SYS_PIDFD_GETFD, pidfd, int(entry), 0)
            if fd < 0:
                err = ctypes.get_errno()
                raise OSError(err, f"pidfd_getfd of the producer's fd {entry}: {os.strerror(err)}")
            fds.append(fd)
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    finally:
        os.close(pidfd)
    os.killpg(pid, signal.SIGKILL)
    producer.proc.wait(5)
    return Lingering(producer.name, fds)


# -- a desktop of its own ----------------------------------------------------

class Desktop:
    """One person's desktop: a private PipeWire of its own (so a camera that
    goes away leaves no other camera to fall back to), one virtual camera of
    one colour, and a vchatd on its own bus. The PipeWire outputs are on
    (the remote video node); the sound goes to a fakesink, the microphone is
    a test tone: these tests are about the camera."""

    def __init__(self, tmpdir, server_url, name, camera, color, args=(), camera_on=True):
        self.tmpdir = tmpdir
        self.camera_name = camera
        self.color = color
        self.name = name
        self.pw = PipeWireEnv(os.path.join(tmpdir, "pw"))
        self.pw.start()
        self.camera = None
        self.daemon = None
        try:
            if camera_on:
                self.add_camera()
            # VCHATD_DUMPABLE=1: vchatd is otherwise not dumpable, and a
            # crash would leave no core file for crash_backtrace().
            with dumps_core_in(os.path.join(tmpdir, "d")):
                self.daemon = Vchatd(os.path.join(tmpdir, "d"), server_url, name=name,
                                     env=dict(self.pw.env, VCHATD_DUMPABLE="1"),
                                     args=["--camera", camera, "--audio-source",
                                           "audiotestsrc is-live=true wave=sine freq=440",
                                           "--audio-sink", "fakesink"] + list(args))
        except BaseException:
            self.stop()
            raise

    def add_camera(self, color=None, framerate=30):
        """(Re)publishes the camera node; color: what it shows from now on."""
        if color is not None:
            self.color = color
        self.camera = self.pw.add_camera(self.camera_name, self.color,
                                         description=f"{self.name}'s camera",
                                         framerate=framerate)
        return self.camera

    def remove_camera(self):
        if self.camera is not None:
            with contextlib.suppress(ProcessLookupError):
                resume(self.camera)
            self.camera.stop()
            self.camera = None

    def reader(self, path, label=None):
        """A NodeReader on this desktop's view of a call's remote video."""
        d = self.daemon
        return NodeReader(self.pw.env, lambda: d.call_prop(path, "RemoteVideoNode"),
                          label=label or f"{self.name}'s view").start()

    def stop(self):
        """Stops the daemon (SIGTERM; SIGKILL after 10 s), then the session
        (idempotent). None when the daemon was running and exited cleanly,
        else what went wrong, in words."""
        if getattr(self, "_stopped", False):
            return self._problem
        self._stopped = True
        self._problem = None
        if self.daemon is not None:
            self._problem = stop_daemon(self.daemon, self.name)
            rc = self.daemon.proc.returncode if self.daemon.proc else None
            if self._problem and rc is not None and rc < 0:
                trace = crash_backtrace(self.daemon.binary, self.daemon.tmpdir)
                if trace:
                    self._problem += f"\n--- where {self.name}'s vchatd crashed ---\n{trace}"
        if self.camera is not None:
            with contextlib.suppress(ProcessLookupError):
                resume(self.camera)
        self.pw.stop()
        return self._problem


def stop_daemon(d, label="vchatd"):
    """Stops a Vchatd: None if it was running and exited cleanly on SIGTERM,
    else what went wrong, in words (it had crashed, it ignored SIGTERM)."""
    was_running = d.proc is not None and d.proc.poll() is None
    t0 = time.monotonic()
    rc = d.stop()
    took = time.monotonic() - t0
    if not was_running:
        return f"{label}'s vchatd had died during the test ({describe_exit(rc)})"
    if rc == -signal.SIGKILL:
        return f"{label}'s vchatd ignored SIGTERM: SIGKILLed after {took:.0f} s"
    if rc != 0:
        return f"{label}'s vchatd, asked to stop, {describe_exit(rc)}"
    return None


def daemon_alive(d):
    return d.proc is not None and d.proc.poll() is None


def describe_exit(rc):
    if rc is None:
        return "was never started"
    if rc < 0:
        with contextlib.suppress(ValueError):
            return f"was ended by {signal.Signals(-rc).name}"
    return f"exited with status {rc}"


# -- pytest fixtures and steps for the camera tests ---------------------------------

@pytest.fixture
def desktops(server, tmp_path):
    """desktops(name, camera node name, colour, camera_on=True): a Desktop
    on the test's server (the `server` fixture), stopped after the test."""
    made = []

    def make(name, camera, color, camera_on=True):
        d = Desktop(str(tmp_path / f"desk{len(made)}"), server.ws_url, name, camera, color,
                    camera_on=camera_on)
        made.append(d)
        return d

    yield make
    for d in made:
        problem = d.stop()
        if problem:
            print(problem)
        print(f"--- {d.name}'s vchatd log (end) ---\n{d.daemon.log[-6000:]}")


class Watch:
    """A pinger per daemon, and the checks at the end of each test: every
    D-Bus answer within `limit` seconds, the daemons alive and stopping
    cleanly."""

    def __init__(self, *desktops, limit=1.0):
        self.desktops = desktops
        self.limit = limit
        self.pingers = [Pinger(d.daemon, d.name).start() for d in desktops]
        self.finished = False

    def phase(self, text):
        for p in self.pingers:
            p.phase = text

    def stop_pingers(self):
        """Stops the pingers; the problems they saw (slow or missing
        answers, with the stacks of a daemon that stopped answering)."""
        problems = []
        for p in self.pingers:
            p.stop()
            try:
                p.check(self.limit)
            except AssertionError as e:
                problems.append(str(e))
        return problems

    def finish(self):
        """Stops the pingers and the daemons; fails on a slow D-Bus answer,
        a daemon that died or that did not stop cleanly."""
        self.finished = True
        problems = self.stop_pingers()
        for d in self.desktops:
            problem = d.stop()
            if problem:
                problems.append(problem)
        assert not problems, "\n".join(problems)

    def summary(self):
        return "; ".join(p.summary() for p in self.pingers)


@pytest.fixture
def watching():
    """watching(a, b): a Watch; after a test that failed before its
    finish(), what the pingers saw is printed with the failure."""
    made = []

    def make(*desktops):
        w = Watch(*desktops)
        made.append(w)
        return w

    yield make
    for w in made:
        if not w.finished:
            print("\n".join([w.summary()] + w.stop_pingers()))


def start_call(a, b, watch, what, started=None, timeout=40):
    """StartRandom on both desktops; the paths and the seconds until both
    are connected (polled every 50 ms). started(): called as soon as both
    StartRandom have answered."""
    watch.phase(f"{what}: setting up")
    t0 = time.monotonic()
    try:
        pa = a.daemon.manager("StartRandom", "(a{sv})", {})
        pb = b.daemon.manager("StartRandom", "(a{sv})", {})
    except GLib.Error as e:
        raise AssertionError(f"{what}: StartRandom failed after {time.monotonic() - t0:.1f} s: "
                             f"{e.message} ({watch.summary()})") from None
    if started:
        started()
    deadline = t0 + timeout
    while True:
        for d in (a, b):
            assert d.daemon.proc.poll() is None, \
                f"{what}: {d.name}'s vchatd exited ({d.daemon.proc.returncode}) while connecting"
        try:
            if (a.daemon.call_prop(pa, "State") == "connected"
                    and b.daemon.call_prop(pb, "State") == "connected"):
                break
        except GLib.Error:
            pass
        assert time.monotonic() < deadline, (
            f"{what}: not connected after {timeout} s ({a.name}: {safe_state(a, pa)}, "
            f"{b.name}: {safe_state(b, pb)}; "
            f"{watch.summary()})")
        time.sleep(0.05)
    watch.phase(f"{what}: connected")
    return pa, pb, time.monotonic() - t0


def safe_state(d, path):
    try:
        return d.daemon.call_prop(path, "State")
    except GLib.Error as e:
        return f"no answer: {e.message}"


def hang_up(a, pa, b, pb, watch, what):
    watch.phase(f"{what}: hanging up")
    a.daemon.call_method(pa, "Hangup")
    a.daemon.wait_call_state(pa, "ended", 15)
    b.daemon.wait_call_state(pb, "ended", 15)
