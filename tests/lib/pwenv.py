"""A private, isolated PipeWire session for tests: virtual cameras,
microphones, a null audio output and more outputs (speakers) made at run
time, with helpers that look at what a node actually carries.

    with PipeWireEnv(tmpdir) as pw:
        red = pw.add_camera("cam-red", (255, 0, 0), description="Red camera")
        subprocess.run([...], env=pw.env)        # sees only this PipeWire
        assert close_to(pw.read_color("cam-red"), (255, 0, 0))
        red.stop()                                # the node is gone on return

`PipeWireEnv(tmpdir).start()` / `.stop()` work as well as `with`. Every
instance is self-contained (its own XDG_RUNTIME_DIR, HOME, XDG_CONFIG_HOME,
XDG_STATE_HOME, XDG_DATA_HOME under tmpdir, and its own dbus-daemon,
pipewire and wireplumber), so instances can run in parallel and one after
the other; stop() ends every process it started (each in its own process
group, so nothing they spawned is left either). Runs as root, without audio
or video hardware and without network. Standard library only; needs the
Debian packages pipewire, pipewire-bin (pw-dump), wireplumber, dbus-daemon,
gstreamer1.0-tools, gstreamer1.0-pipewire, gstreamer1.0-plugins-base.

What was found to work here (PipeWire 0.3.65, WirePlumber 0.4.13,
GStreamer 1.22.0, Debian 12), and what does not:

Virtual camera (add_camera):
    gst-launch-1.0 videotestsrc is-live=true pattern=solid-color
        foreground-color=0xFFRRGGBB
      ! video/x-raw,format=I420,width=320,height=240,framerate=30/1
      ! pipewiresink 'stream-properties="props,media.class=Video/Source,
        media.role=Camera,node.name=NAME,node.description=\\"Words\\",
        node.autoconnect=(string)false,node.pause-on-idle=(string)false"'
  pipewiresink's default mode, not mode=provide, and node.pause-on-idle=false.
  - mode=provide makes the sink its own graph driver, and (0.3.65) it stops
    delivering once its first consumer has left and the node was paused
    (pause-on-idle, within ~0.3 s of idleness) or suspended (WirePlumber's
    suspend-node.lua after 5 s idle): the next consumer is linked but gets
    no frame. That is the "second consumer gets no frames" of
    WEBRTCBIN-1.22.md. node.pause-on-idle=false only half helps there (it
    still fails after a suspend).
  - In the default mode PipeWire's Dummy-Driver drives the node while
    someone reads it. Without node.pause-on-idle=false this breaks too:
    after a pause of 0.3-5 s a microphone made this way gives silence
    (until the 5 s suspend resets it), and a camera (sync=false) stopped
    delivering for good after a suspend. With it, every consumer, one
    after another (with or without pauses, across suspends) or several at
    the same time, gets real data, at 30 fps for video.
  - mode=provide with node.pause-on-idle=false AND
    session.suspend-timeout-seconds=0 (WirePlumber then never suspends it)
    also passed the same sequence of readers, for video only.
  - node.autoconnect=false: the default mode asks WirePlumber to link the
    node somewhere; false says there is nothing to link (WirePlumber 0.4.13
    linked nothing either way; this keeps it so).
  - The explicit raw caps are required (no negotiation without them), and a
    description with spaces must be quoted inside the structure as shown.

Virtual microphone (add_microphone): the same with
    audiotestsrc is-live=true wave=sine freq=F volume=0.5
      ! audio/x-raw,format=F32LE,rate=48000,channels=1
      ! pipewiresink stream-properties="props,media.class=Audio/Source,..."
  Here mode=provide never delivers anything at all (the sink waits for a
  process call that never comes).

Reading a node (read_color, read_tone): a reader must be started after its
  target node exists: `pipewiresrc target-object=X` started before X
  appears is never linked to it (and a missing target gives no error, it
  just waits), so both helpers wait for the node first and retry until
  their timeout. pipewiresrc needs a downstream that constrains the format
  (`pipewiresrc ! fakesink` with no caps never prerolls). The frames go
  through a pipe (fdsink) to this module, which averages the centre:
    gst-launch-1.0 -q pipewiresrc target-object=NAME num-buffers=8
      ! videoconvert ! videoscale ! video/x-raw,format=RGB,width=64,height=48
      ! fdsink fd=1

Publishing video from one process and reading it from another (how the
  daemon publishes the remote video) is the virtual camera recipe: the node
  a `pipewiresink` makes is readable with `pipewiresrc target-object=` from
  any other client of the same PipeWire. The same warnings apply: default
  mode (sync=false behind a decoder is fine), node.pause-on-idle=false.

Audio output without hardware: with no ALSA device there is no sink at
  all, so PipeWire is given a null sink by a config fragment
  ($XDG_CONFIG_HOME/pipewire/pipewire.conf.d/50-vchat-null-sink.conf):
    context.objects = [ { factory = adapter args = {
        factory.name = support.null-audio-sink  node.name = "vchat-null-sink"
        media.class = "Audio/Sink"  audio.position = [ FL FR ] } } ]
  WirePlumber makes it the default sink (default.audio.sink), so a plain
  `pipewiresink` (or anything else playing to the default output) plays
  into it, driven by PipeWire's Dummy-Driver in real time. What was played
  can be captured from its monitor:
    pipewiresrc target-object=vchat-null-sink
                stream-properties="props,stream.capture.sink=true"
  (read_tone(None) does this). Note WirePlumber then also reports that
  monitor as default.audio.source while there is no microphone.

More outputs at run time (add_speaker): the same null sink, made by
    pw-cli create-node adapter '{ factory.name=support.null-audio-sink
        node.name=NAME node.description="Words" media.class=Audio/Sink
        object.linger=true audio.position=[FL FR]
        monitor.channel-volumes=true }'
  object.linger=true keeps the node after pw-cli has left (so no process
  stays); `pw-cli destroy ID` removes it, and it goes with the session's
  pipewire in stop(). It is its own driver (node.driver=true) and does not
  become the default sink while vchat-null-sink is there (WirePlumber
  keeps the first of equal priority). A stream plays into it with
  `pipewiresink target-object=NAME` (as vchatd --speaker NAME does), and
  read_tone(NAME) captures its monitor like the null sink's above; a
  monitor that nothing plays into gives silence, not a timeout.

Moving camera content (make_clip, add_clip_camera): a solid colour costs
  the encoder nothing, so a network test on it proves little. make_clip()
  writes a 1280x720 30 fps YUV4MPEG2 clip (cached: made once per path) of
    videotestsrc pattern=circular horizontal-speed=8      (the whole frame)
    + a solid box of one colour over the centre half      (compositor)
  It loops without a seam (the rings scroll by 8 px a frame: 160 frames at
  1280 wide, 221 MB). On it vp8enc with vchatd's settings (deadline 1,
  cpu-used 8, CBR, keyframes every 60 frames) follows its target from about
  500 kbit/s up (at 720p it cannot go lower: 300 gives ~470, 500 ~520,
  1000 ~900, 1500 ~1300, 3000 ~2600 kbit/s), so a 1.5 Mbit/s sender sends
  what a person on a camera would, and a cap below that really bites. The
  centre colour is still what read_color / VideoWatch.colour read (the box
  is exactly the centre half they average). Rejected: smpte scrolling
  (vp8enc cannot go below ~1.8 Mbit/s on it, whatever its target), ball
  (~150 kbit/s at any target), snow (24 Mbit/s), zone-plate (no seamless
  loop); and generating the picture live (circular costs a third of a core
  at 720p30, per camera). Those figures are vp8enc alone on the file; in
  a real call between two vchatd on an open link, Stats send-kbps was
  1.25-1.9 Mbit/s on a quiet machine and 2.0-2.5 Mbit/s on a loaded one,
  against a target of 1.5. add_clip_camera() plays such a clip, or any
  4:2:0 .y4m, in a loop as a live camera node (clipcam.py: appsrc from the
  mapped file, do-timestamp, leaky, into a compositor, ! pipewiresink; a
  plain appsrc ! pipewiresink crashes PipeWire 0.3.65's sink, see there),
  at ~9 % of a core; Chromium's --use-file-for-fake-video-capture plays the
  same file.

Watching what a person sees (watch_video): a VideoWatch reads a video node
  for as long as it runs,
    pipewiresrc target-object=NAME ! videoscale method=nearest-neighbour
      ! video/x-raw,width=64,height=36 ! videoconvert ! RGB ! fdsink fd=1
  and stamps each frame with time.monotonic() as it arrives: frames per
  second, the longest gap between two frames (a freeze), the colour of the
  centre. A reader that gets nothing for 5 s (never linked) is restarted.

As another user (PipeWireEnv(tmpdir, user=UID or (UID, GID))): the caller
  (root) runs the whole session as that unprivileged user, as a desktop
  runs it: dbus-daemon, pipewire, wireplumber, the virtual devices and
  every reader (run(), read_color, watch_video) are started with that uid
  and gid and no supplementary groups, and the session's directories
  (tmpdir, the runtime directory) belong to it. tmpdir's parents must let
  it through (pytest's tmp_path does not: /tmp/pytest-of-root is 0700).
  The caller's GStreamer registry is copied into the session's cache for
  it. Clients the caller starts itself with `env` run as the caller unless
  given user_popen_args(user). What PipeWire does about a client it
  cannot look into (/proc/PID/root of a non-dumpable process) is in
  tests/daemon/test_dumpable.py.

WirePlumber is kept off the machine's hardware (ALSA, V4L2, libcamera and
BlueZ monitors disabled by a config fragment), so a developer's real
cameras and sound cards never show up in a test, and the private session
does not grab them from the real one.
"""
import atexit
import contextlib
import json
import math
import os
import platform
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

NULL_SINK = "vchat-null-sink"

_NULL_SINK_CONF = """\
# Written by tests/lib/pwenv.py: an audio output for a machine without one.
context.objects = [
    { factory = adapter
        args = {
            factory.name     = support.null-audio-sink
            node.name        = "%s"
            node.description = "Null output"
            media.class      = "Audio/Sink"
            audio.position   = [ FL FR ]
            monitor.channel-volumes = true
        }
    }
]
""" % NULL_SINK

_WP_NO_HARDWARE = """\
-- Written by tests/lib/pwenv.py: a test session never touches real devices.
alsa_monitor.enabled = false
v4l2_monitor.enabled = false
libcamera_monitor.enabled = false
"""

_WP_NO_BLUETOOTH = """\
-- Written by tests/lib/pwenv.py
bluez_monitor.enabled = false
"""

_DBUS_CONF = """\
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <!-- no standard service directories: nothing gets activated behind our back -->
  <servicedir>{services}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

# Variables of the caller that would point a client at another PipeWire,
# PulseAudio or configuration.
_DROP = ("PIPEWIRE_REMOTE", "PIPEWIRE_RUNTIME_DIR", "PIPEWIRE_CONFIG_DIR",
         "PIPEWIRE_CONFIG_NAME", "PIPEWIRE_NODE", "PIPEWIRE_PROPS", "PULSE_SERVER",
         "PULSE_RUNTIME_PATH", "WIREPLUMBER_CONFIG_DIR", "WIREPLUMBER_CONFIG_FILE",
         "WIREPLUMBER_DATA_DIR", "DBUS_SESSION_BUS_ADDRESS")


def user_popen_args(user):
    """subprocess.Popen keyword arguments that start a child as `user`:
    None (as the caller: no arguments), a uid (its group from the password
    database, else the same number), or (uid, gid); no supplementary
    groups."""
    if user is None:
        return {}
    if isinstance(user, (tuple, list)):
        uid, gid = user
    else:
        uid = user
        try:
            import pwd
            gid = pwd.getpwuid(uid).pw_gid
        except KeyError:
            gid = uid
    return {"user": uid, "group": gid, "extra_groups": []}


def chown_tree(path, user):
    """Gives `path` and everything under it to `user` (as user_popen_args
    takes it); nothing when user is None."""
    if user is None:
        return
    args = user_popen_args(user)
    uid, gid = args["user"], args["group"]
    os.chown(path, uid, gid, follow_symlinks=False)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def end_group(proc, timeout=5, stopped=False):
    """Ends a process started with start_new_session=True, and whatever it
    spawned into its group: SIGTERM (after SIGCONT when it may be stopped),
    SIGKILL after timeout if it lingers. Returns its exit status."""
    if proc.poll() is None:
        for sig in (signal.SIGCONT, signal.SIGTERM) if stopped else (signal.SIGTERM,):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout)
    return proc.returncode


class PipeWireError(RuntimeError):
    pass


def centre_color(data, w, h):
    """The average (r, g, b) of the centre half of a packed RGB frame."""
    sums = [0, 0, 0]
    count = 0
    for y in range(h // 4, h - h // 4):
        for x in range(w // 4, w - w // 4):
            i = (y * w + x) * 3
            sums[0] += data[i]
            sums[1] += data[i + 1]
            sums[2] += data[i + 2]
            count += 1
    return tuple(round(s / count) for s in sums)


def _exit_on_sigterm():
    """Makes SIGTERM (what meson sends a test that timed out) raise
    SystemExit, so that with-blocks, finally and atexit stop the sessions:
    their processes run in sessions of their own and would outlive a Python
    killed outright. Only if nobody handles SIGTERM already."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def _gst_structure_string(value):
    """Quotes a string for a GstStructure field (gst_value_deserialize)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _spa_string(value):
    """Quotes a string for PipeWire's SPA JSON (pw-cli's properties)."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _stream_properties(props):
    """The value of pipewiresink's stream-properties for gst-launch-1.0.

    Every value is a string field; the whole is quoted once more for the
    gst-launch parser, which unquotes property values."""
    inner = "props," + ",".join(f"{k}=(string){_gst_structure_string(str(v))}"
                                for k, v in props.items())
    return 'stream-properties="' + inner.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Producer:
    """A gst-launch-1.0 process that publishes one PipeWire node."""

    def __init__(self, env, name, proc, log_path):
        self.env = env
        self.name = name
        self.proc = proc
        self.log_path = log_path

    @property
    def running(self):
        return self.proc.poll() is None

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self, timeout=5):
        """Ends the process and waits until its node is gone from PipeWire."""
        self.env._end(self.proc)
        if self.env.running:
            self.env.wait_node_gone(self.name, timeout)


class Speaker:
    """A null Audio/Sink node made at run time by add_speaker()."""

    def __init__(self, env, name, node_id):
        self.env = env
        self.name = name
        self.id = node_id

    def stop(self, timeout=5):
        """Removes the node and waits until it is gone (nothing to do once
        the session has stopped: the node went with its pipewire)."""
        if self in self.env._speakers:
            self.env._speakers.remove(self)
        if not self.env.running:
            return
        self.env.run(["pw-cli", "destroy", str(self.id)], timeout=timeout,
                     capture_output=True)
        self.env.wait_node_gone(self.name, timeout)


class PipeWireEnv:
    """A private session: dbus-daemon, pipewire and wireplumber.

    tmpdir: a directory of this instance's own (created if missing).
    null_sink: give PipeWire a null audio output (the default sink).
    user: None (the session runs as the caller), or a uid or (uid, gid) to
        run every process of the session as (see the module doc; the
        caller must be root).
    env: after start(), the environment for clients of this session.
    """

    def __init__(self, tmpdir, null_sink=True, start_timeout=15, user=None):
        self.tmpdir = os.path.abspath(str(tmpdir))
        self.null_sink = null_sink
        self.user = user
        # Keyword arguments of every Popen of the session ({} as the caller).
        self.popen_args = user_popen_args(user)
        self.start_timeout = start_timeout
        self.env = None
        self.running = False
        self.start_seconds = None
        self._procs = []      # every Popen we started, in start order
        self._runtime_tmp = None
        self._counter = 0
        self._speakers = []   # add_speaker's nodes, gone with pipewire in stop()

    # -- life cycle ---------------------------------------------------------

    def __enter__(self):
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        if self.running:
            return self
        t0 = time.monotonic()
        d = self.tmpdir
        self.logdir = os.path.join(d, "logs")
        home = os.path.join(d, "home")
        config = os.path.join(d, "config")
        for sub in (self.logdir, home, config, os.path.join(d, "state"),
                    os.path.join(d, "data"), os.path.join(d, "cache"),
                    os.path.join(d, "dbus-services")):
            os.makedirs(sub, exist_ok=True)
        runtime = os.path.join(d, "run")
        # A unix socket path has at most 107 bytes; pytest's tmp_path can be
        # long, so the runtime directory moves to a short one when needed.
        if len(runtime) + len("/pipewire-0-manager.lock") > 100:
            self._runtime_tmp = tempfile.mkdtemp(prefix="vchat-pw-")
            runtime = self._runtime_tmp
        os.makedirs(runtime, exist_ok=True)
        os.chmod(runtime, 0o700)
        self.runtime_dir = runtime

        self._write(os.path.join(config, "wireplumber", "main.lua.d",
                                 "60-vchat-no-hardware.lua"), _WP_NO_HARDWARE)
        self._write(os.path.join(config, "wireplumber", "bluetooth.lua.d",
                                 "60-vchat-no-bluetooth.lua"), _WP_NO_BLUETOOTH)
        if self.null_sink:
            self._write(os.path.join(config, "pipewire", "pipewire.conf.d",
                                     "50-vchat-null-sink.conf"), _NULL_SINK_CONF)

        env = {k: v for k, v in os.environ.items() if k not in _DROP}
        # Share the caller's GStreamer registry: a fresh one per instance costs
        # a plugin scan in the first gst process of every session.
        if "GST_REGISTRY" not in env:
            cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(
                os.path.expanduser("~"), ".cache")
            reg = os.path.join(cache, "gstreamer-1.0", f"registry.{platform.machine()}.bin")
            if os.path.exists(reg):
                env["GST_REGISTRY"] = reg
        if self.user is not None and env.get("GST_REGISTRY"):
            # The caller's registry may be out of the user's reach (under
            # /root): a copy of the session's own, so no process rescans.
            copy = os.path.join(d, "cache", "gstreamer-1.0", os.path.basename(env["GST_REGISTRY"]))
            os.makedirs(os.path.dirname(copy), exist_ok=True)
            with contextlib.suppress(OSError):
                shutil.copyfile(env["GST_REGISTRY"], copy)
            env["GST_REGISTRY"] = copy
        env.update({
            "HOME": home,
            "XDG_RUNTIME_DIR": runtime,
            "PIPEWIRE_RUNTIME_DIR": runtime,
            "XDG_CONFIG_HOME": config,
            "XDG_STATE_HOME": os.path.join(d, "state"),
            "XDG_DATA_HOME": os.path.join(d, "data"),
            "XDG_CACHE_HOME": os.path.join(d, "cache"),
            # Tells a test program that it runs in a private session.
            "VCHAT_PWENV": d,
        })
        self.env = env
        if self.user is not None:
            chown_tree(d, self.user)
            if runtime != os.path.join(d, "run"):
                chown_tree(runtime, self.user)
        atexit.register(self.stop)
        _exit_on_sigterm()
        try:
            self._start_dbus()
            self._pipewire = self._spawn("pipewire", ["pipewire"])
            self._wait(lambda: os.path.exists(os.path.join(runtime, "pipewire-0")),
                       "the pipewire socket", procs=[self._pipewire])
            self._wireplumber = self._spawn("wireplumber", ["wireplumber"])
            self._wait(self._session_ready, "WirePlumber's default metadata",
                       procs=[self._pipewire, self._wireplumber], interval=0.05)
        except BaseException:
            self.stop()
            raise
        self.running = True
        self.start_seconds = time.monotonic() - t0
        return self

    def stop(self):
        """Ends every process this instance started; idempotent."""
        for proc in reversed(self._procs):
            self._end(proc)
        self._procs = []
        # The speakers lived in pipewire, which has just ended.
        self._speakers = []
        self._kill_stragglers()
        self.running = False
        if self._runtime_tmp:
            shutil.rmtree(self._runtime_tmp, ignore_errors=True)
            self._runtime_tmp = None
        atexit.unregister(self.stop)

    def _kill_stragglers(self):
        """Ends processes still running with this session's environment that
        escaped their process group (a test's own children, a daemon given
        pw.env): they would outlive the session otherwise. Recognised by
        the unique VCHAT_PWENV=<tmpdir> in their environment."""
        if not self.env:
            return
        marker = f"VCHAT_PWENV={self.tmpdir}".encode() + b"\0"
        me = os.getpid()
        for _ in range(3):
            found = []
            for entry in os.listdir("/proc"):
                if not entry.isdigit() or int(entry) == me:
                    continue
                try:
                    with open(f"/proc/{entry}/environ", "rb") as f:
                        environ = f.read() + b"\0"
                except OSError:
                    continue
                if b"\0" + marker in b"\0" + environ:
                    found.append(int(entry))
            if not found:
                return
            for pid in found:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)

    def _start_dbus(self):
        socket = os.path.join(self.runtime_dir, "bus")
        conf = os.path.join(self.tmpdir, "dbus-session.conf")
        self._write(conf, _DBUS_CONF.format(
            socket=socket, services=os.path.join(self.tmpdir, "dbus-services")))
        proc = subprocess.Popen(
            ["dbus-daemon", "--config-file", conf, "--nofork", "--nopidfile",
             "--print-address=1"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(self.logdir, "dbus.log"), "w"),
            stdin=subprocess.DEVNULL, env=self.env, start_new_session=True,
            **self.popen_args)
        self._procs.append(proc)
        ready, _, _ = select.select([proc.stdout], [], [], self.start_timeout)
        address = proc.stdout.readline().decode().strip() if ready else ""
        if not address:
            raise PipeWireError("dbus-daemon did not start: " + self._tail("dbus.log"))
        proc.stdout.close()
        self.env["DBUS_SESSION_BUS_ADDRESS"] = address

    # -- processes ----------------------------------------------------------

    @staticmethod
    def _write(path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def _spawn(self, logname, argv):
        log_path = os.path.join(self.logdir, logname + ".log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=self.env,
                                    start_new_session=True, **self.popen_args)
        proc.log_path = log_path
        self._procs.append(proc)
        return proc

    def _end(self, proc, timeout=5):
        """SIGTERM to the process group, SIGKILL if it lingers."""
        end_group(proc, timeout)
        if proc in self._procs:
            self._procs.remove(proc)

    def _tail(self, logname, n=3000):
        try:
            with open(os.path.join(self.logdir, logname), errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def _wait(self, cond, what, procs=(), timeout=None, interval=0.02):
        deadline = time.monotonic() + (timeout or self.start_timeout)
        while True:
            if cond():
                return
            for p in procs:
                if p.poll() is not None:
                    raise PipeWireError(f"{p.args[0]} exited ({p.returncode}) while waiting "
                                        f"for {what}:\n{open(p.log_path).read()[-3000:]}")
            if time.monotonic() > deadline:
                raise PipeWireError(f"timed out waiting for {what}")
            time.sleep(interval)

    def run(self, argv, timeout=10, **kw):
        """subprocess.run in this session's environment (as its user)."""
        return subprocess.run(argv, env=self.env, timeout=timeout, **self.popen_args, **kw)

    # -- looking at the graph -----------------------------------------------

    def dump(self):
        """pw-dump's objects (a list of dicts); [] if it fails."""
        try:
            out = self.run(["pw-dump"], timeout=5, capture_output=True)
        except subprocess.TimeoutExpired:
            return []
        if out.returncode != 0:
            return []
        try:
            return json.loads(out.stdout or b"[]")
        except ValueError:
            return []

    def _session_ready(self):
        for o in self.dump():
            if (o.get("type", "").endswith(":Metadata")
                    and o.get("props", {}).get("metadata.name") == "default"):
                if not self.null_sink:
                    return True
                return any(m.get("key") == "default.audio.sink" for m in o.get("metadata") or [])
        return False

    def nodes(self, media_class=None):
        """{node.name: props} of the nodes now in the graph."""
        out = {}
        for o in self.dump():
            if o.get("type", "").endswith(":Node") and o.get("info"):
                props = o["info"].get("props", {})
                if media_class is None or props.get("media.class") == media_class:
                    out[props.get("node.name")] = props
        return out

    def defaults(self):
        """WirePlumber's default nodes: {"default.audio.sink": name, ...}."""
        for o in self.dump():
            if (o.get("type", "").endswith(":Metadata")
                    and o.get("props", {}).get("metadata.name") == "default"):
                res = {}
                for m in o.get("metadata") or []:
                    v = m.get("value")
                    res[m.get("key")] = v.get("name") if isinstance(v, dict) else v
                return res
        return {}

    def wait_node(self, name, timeout=10):
        """Waits until a node called `name` is in the graph; its props."""
        deadline = time.monotonic() + timeout
        while True:
            props = self.nodes().get(name)
            if props is not None:
                return props
            if time.monotonic() > deadline:
                raise PipeWireError(f"no PipeWire node {name!r} after {timeout} s")
            time.sleep(0.05)

    def wait_node_gone(self, name, timeout=10):
        deadline = time.monotonic() + timeout
        while name in self.nodes():
            if time.monotonic() > deadline:
                raise PipeWireError(f"PipeWire node {name!r} still there after {timeout} s")
            time.sleep(0.05)

    # -- virtual devices ----------------------------------------------------

    def _producer(self, name, argv, timeout, program=("gst-launch-1.0",)):
        """Starts a gst-launch-1.0 (or `program`) that makes node `name`;
        returns once the node is in the graph."""
        self._counter += 1
        proc = self._spawn(f"node-{self._counter}-{name}", list(program) + argv)
        producer = Producer(self, name, proc, proc.log_path)
        try:
            self._wait(lambda: name in self.nodes(), f"node {name!r}", procs=[proc],
                       timeout=timeout, interval=0.05)
        except BaseException:
            self._end(proc)
            raise
        return producer

    def publish(self, name, pipeline, props, timeout=10):
        """A node made by `gst-launch-1.0 PIPELINE ! pipewiresink
        stream-properties=props` (pipeline: a list of gst-launch words), with
        node.name=name, node.autoconnect=false and node.pause-on-idle=false
        added to props (see the module doc)."""
        props = dict(props, **{"node.name": name, "node.autoconnect": "false",
                               "node.pause-on-idle": "false"})
        props.setdefault("node.description", name)
        return self._producer(name, list(pipeline) + ["!", "pipewiresink",
                                                      _stream_properties(props)], timeout)

    def add_camera(self, name, color_rgb, description=None, width=320, height=240,
                   framerate=30, timeout=10):
        """A Video/Source node (media.role=Camera) showing one solid colour.

        Returns a Producer once the node is in the graph; .stop() removes it."""
        r, g, b = (max(0, min(255, int(c))) for c in color_rgb)
        pipeline = ["videotestsrc", "is-live=true", "pattern=solid-color",
                    f"foreground-color=0x{0xff:02x}{r:02x}{g:02x}{b:02x}", "!",
                    f"video/x-raw,format=I420,width={width},height={height},"
                    f"framerate={framerate}/1"]
        return self.publish(name, pipeline, {"media.class": "Video/Source",
                                             "media.role": "Camera",
                                             "node.description": description or name}, timeout)

    def add_clip_camera(self, name, path, description=None, timeout=10):
        """A Video/Source node (media.role=Camera) playing a 4:2:0 .y4m clip
        (make_clip's, say) in a loop, live, at the clip's size and rate."""
        props = {"media.class": "Video/Source", "media.role": "Camera",
                 "node.description": description or name, "node.name": name,
                 "node.autoconnect": "false", "node.pause-on-idle": "false"}
        clipcam = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clipcam.py")
        return self._producer(name, [os.path.abspath(path), _stream_properties(props)], timeout,
                              program=(sys.executable, clipcam))

    def watch_video(self, node_name, timeout=15):
        """A VideoWatch of a video node (waits for the node first)."""
        return VideoWatch(self, node_name, timeout)

    def add_microphone(self, name, freq=440, description=None, timeout=10):
        """An Audio/Source node playing a sine tone of `freq` Hz."""
        pipeline = ["audiotestsrc", "is-live=true", "wave=sine", f"freq={freq}", "volume=0.5",
                    "!", "audio/x-raw,format=F32LE,rate=48000,channels=1"]
        return self.publish(name, pipeline, {"media.class": "Audio/Source",
                                             "node.description": description or name}, timeout)

    def play_tone(self, freq=660, name=None, timeout=10, target=None):
        """A stream that plays a tone to the default output, as an application
        (or the daemon playing the remote audio) would; to the output node
        called `target` if given (as vchatd --speaker does)."""
        self._counter += 1
        name = name or f"vchat-test-player-{self._counter}"
        argv = ["audiotestsrc", "is-live=true", "wave=sine", f"freq={freq}", "volume=0.5",
                "!", "audio/x-raw,format=F32LE,rate=48000,channels=1", "!",
                "pipewiresink", f"stream-properties=props,node.name={name}"]
        if target:
            argv.append(f"target-object={target}")
        return self._producer(name, argv, timeout)

    def add_speaker(self, name, description=None, timeout=10):
        """An audio output of its own: a null Audio/Sink node called `name`
        (not the default sink; see the module doc). What plays into it is
        read with read_tone(name).

        Returns a Speaker once the node is in the graph; .stop() removes it,
        and stop() of the session removes it too."""
        if name in self.nodes():
            raise PipeWireError(f"there is already a PipeWire node {name!r}")
        props = " ".join([
            "factory.name=support.null-audio-sink",
            f"node.name={_spa_string(name)}",
            f"node.description={_spa_string(description or name)}",
            "media.class=Audio/Sink", "object.linger=true", "audio.position=[FL FR]",
            "monitor.channel-volumes=true"])
        out = self.run(["pw-cli", "create-node", "adapter", "{ " + props + " }"],
                       timeout=timeout, capture_output=True, text=True)
        try:
            node = self.wait_node(name, timeout=timeout if out.returncode == 0 else 1)
        except PipeWireError:
            raise PipeWireError(f"pw-cli create-node made no node {name!r} ({out.returncode}): "
                                f"{(out.stdout + out.stderr).strip()[-800:]}") from None
        speaker = Speaker(self, name, node["object.id"])
        self._speakers.append(speaker)
        return speaker

    # -- reading nodes ------------------------------------------------------

    def _read(self, name, src_opts, tail, timeout, min_bytes):
        """Runs `pipewiresrc target-object=name src_opts ! tail ! fdsink fd=1`
        until it gives at least min_bytes, retrying until `timeout`; the bytes.

        Each try first waits for the node: a reader started before its
        target exists is never linked to it."""
        deadline = time.monotonic() + timeout
        last_error = "no attempt"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PipeWireError(f"reading {name!r}: {last_error}")
            try:
                self.wait_node(name, timeout=remaining)
            except PipeWireError as e:
                raise PipeWireError(f"reading {name!r}: {e}") from None
            argv = (["gst-launch-1.0", "-q", "pipewiresrc", f"target-object={name}"]
                    + src_opts + ["!"] + tail + ["!", "fdsink", "fd=1"])
            attempt = max(0.5, min(deadline - time.monotonic(), 5.0))
            try:
                out = self.run(argv, timeout=attempt, capture_output=True)
                data = out.stdout
                if out.returncode != 0:
                    last_error = (f"gst-launch-1.0 failed ({out.returncode}): "
                                  f"{out.stderr.decode(errors='replace')[-800:]}")
            except subprocess.TimeoutExpired as e:
                data = e.stdout or b""
                last_error = f"no data within {attempt:.1f} s"
            if len(data) >= min_bytes:
                return data
            if data:
                last_error = f"only {len(data)} bytes within {attempt:.1f} s"

    def read_color(self, node_name, timeout=10, frames=8):
        """The average (r, g, b) of the centre of a frame of a video node
        (the last of `frames` frames, so the picture has settled)."""
        w, h = 64, 48
        frame = w * h * 3
        data = self._read(node_name, [f"num-buffers={frames}"],
                          ["videoconvert", "!", "videoscale", "!",
                           f"video/x-raw,format=RGB,width={w},height={h}"],
                          timeout, frame)
        n = len(data) // frame
        return centre_color(data[(n - 1) * frame:n * frame], w, h)

    def read_tone(self, node_name=None, timeout=10, seconds=0.5):
        """(frequency in Hz, RMS level 0..1) of what an audio node carries.

        node_name: an Audio/Source node (a microphone); an Audio/Sink node (an
        output such as add_speaker's) for what is being played into it (its
        monitor); or None for what is being played to the null output."""
        rate = 48000
        src_opts = []
        if node_name is None:
            if not self.null_sink:
                raise PipeWireError("read_tone(None) needs null_sink=True")
            node_name = NULL_SINK
        deadline = time.monotonic() + timeout
        try:
            props = self.wait_node(node_name, timeout=timeout)
        except PipeWireError as e:
            raise PipeWireError(f"reading {node_name!r}: {e}") from None
        timeout = max(0.5, deadline - time.monotonic())
        if props.get("media.class") == "Audio/Sink":
            src_opts.append("stream-properties=props,stream.capture.sink=true")
        # Buffers are one graph cycle (1024 frames by default); 2 more than
        # needed, as the first may be silence from before the link.
        buffers = math.ceil(seconds * rate / 1024) + 2
        src_opts.append(f"num-buffers={buffers}")
        data = self._read(node_name, src_opts,
                          [f"audio/x-raw,format=S16LE,rate={rate},channels=1"],
                          timeout, int(seconds * rate) * 2)
        samples = memoryview(data[:len(data) // 2 * 2]).cast("h")[-int(seconds * rate):]
        return _tone(samples, rate)


def make_clip(path, color_rgb, width=1280, height=720, framerate=30, frames=None, timeout=120):
    """Writes the moving test clip (see the module doc) to `path` as
    YUV4MPEG2, unless a complete one is there already; returns path.

    color_rgb is the colour of the box over the centre half. frames
    defaults to one seamless loop (width / 8). The file appears complete or
    not at all (written next to it, then renamed)."""
    r, g, b = (max(0, min(255, int(c))) for c in color_rgb)
    frames = frames or width // 8
    frame = width * height + 2 * ((width + 1) // 2) * ((height + 1) // 2)
    header = f"YUV4MPEG2 C420 W{width} H{height} Ip F{framerate}:1 A1:1\n"
    expected = len(header) + frames * (len("FRAME\n") + frame)
    if os.path.exists(path) and os.path.getsize(path) == expected:
        return path
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    caps = f"video/x-raw,format=I420,width={width},height={height},framerate={framerate}/1"
    box = (f"video/x-raw,format=I420,width={width // 2},height={height // 2},"
           f"framerate={framerate}/1")
    argv = ["gst-launch-1.0", "-q",
            "videotestsrc", f"num-buffers={frames}", "pattern=circular", "horizontal-speed=8",
            "!", caps, "!", "m.",
            "videotestsrc", f"num-buffers={frames}", "pattern=solid-color",
            f"foreground-color=0xff{r:02x}{g:02x}{b:02x}", "!", box, "!", "m.",
            "compositor", "name=m", f"sink_1::xpos={width // 4}", f"sink_1::ypos={height // 4}",
            "!", caps, "!", "y4menc", "!", "filesink", f"location={tmp}"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0 or os.path.getsize(tmp) != expected:
            raise PipeWireError(f"making the clip {path} failed ({out.returncode}): "
                                f"{(out.stdout + out.stderr)[-800:]}")
        os.rename(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


class VideoWatch:
    """The frames of a video node as they arrive, as a person would see
    them: each frame's arrival time (time.monotonic()) and the colour of
    its centre, for as long as it runs (see the module doc).

        w = pw.watch_video(node)
        w.wait_frames(1)
        t0 = time.monotonic(); time.sleep(20)
        s = w.summary(t0, time.monotonic())   # fps, max_gap, freezes, colour
        w.stop()
    """

    W, H = 64, 36
    # A reader that gets no frame for this long was not linked: restart it.
    RELINK_SECONDS = 5.0

    def __init__(self, env, node_name, timeout=15):
        self.env = env
        self.node = node_name
        self.frames = []        # [(time, (r, g, b))]
        self.restarts = 0
        self.error = None
        self._stop = threading.Event()
        self._proc = None
        env.wait_node(node_name, timeout)
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"watch {node_name}")
        self._thread.start()

    def _argv(self):
        return ["gst-launch-1.0", "-q", "pipewiresrc", f"target-object={self.node}", "!",
                "videoscale", "method=nearest-neighbour", "!",
                f"video/x-raw,width={self.W},height={self.H}", "!", "videoconvert", "!",
                "video/x-raw,format=RGB", "!", "fdsink", "fd=1"]

    def _colour(self, data):
        # The middle of the centre half (where make_clip's box is), away
        # from its edges: columns W*3/8..W*5/8, rows H*3/8..H*5/8.
        sums = [0, 0, 0]
        n = 0
        w = self.W
        for y in range(self.H * 3 // 8, self.H * 5 // 8):
            row = y * w * 3
            for x in range(w * 3 // 8, w * 5 // 8):
                i = row + x * 3
                sums[0] += data[i]
                sums[1] += data[i + 1]
                sums[2] += data[i + 2]
                n += 1
        return tuple(round(v / n) for v in sums)

    def _run(self):
        size = self.W * self.H * 3
        env = self.env
        while not self._stop.is_set() and env.running:
            env._counter += 1
            log_path = os.path.join(env.logdir, f"watch-{env._counter}.log")
            with open(log_path, "w") as log:
                proc = subprocess.Popen(self._argv(), stdout=subprocess.PIPE, stderr=log,
                                        stdin=subprocess.DEVNULL, env=env.env,
                                        start_new_session=True, **env.popen_args)
            proc.log_path = log_path
            env._procs.append(proc)
            self._proc = proc
            fd = proc.stdout.fileno()
            buf = b""
            last = time.monotonic()
            try:
                while not self._stop.is_set():
                    ready, _, _ = select.select([fd], [], [], 0.2)
                    if not ready:
                        if time.monotonic() - last > self.RELINK_SECONDS:
                            break
                        continue
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break
                    buf += chunk
                    while len(buf) >= size:
                        now = time.monotonic()
                        self.frames.append((now, self._colour(buf[:size])))
                        buf = buf[size:]
                        last = now
            finally:
                proc.stdout.close()
                env._end(proc)
            if self._stop.is_set():
                return
            self.restarts += 1
            time.sleep(0.2)

    def stop(self):
        self._stop.set()
        self._thread.join(10)

    def wait_frames(self, n=1, timeout=15):
        deadline = time.monotonic() + timeout
        while len(self.frames) < n:
            if time.monotonic() > deadline:
                raise PipeWireError(f"{len(self.frames)} frames from {self.node!r} in "
                                    f"{timeout} s, expected {n} ({self.restarts} restarts)")
            time.sleep(0.05)

    def times(self, t0, t1):
        return [t for t, _ in list(self.frames) if t0 <= t < t1]

    def summary(self, t0, t1, freeze=0.5):
        """Figures of [t0, t1): frames, fps, max_gap (seconds, the window's
        edges count: a picture frozen at the end is a gap), freezes (gaps
        longer than `freeze` s) and freeze_seconds, colour (the median of
        each channel over the window's frames; None without frames)."""
        frames = [(t, c) for t, c in list(self.frames) if t0 <= t < t1]
        times = [t0] + [t for t, _ in frames] + [t1]
        gaps = [b - a for a, b in zip(times, times[1:])]
        long_gaps = [g for g in gaps if g > freeze]
        colour = None
        if frames:
            colour = tuple(sorted(c[i] for _, c in frames)[len(frames) // 2] for i in range(3))
        return {"frames": len(frames), "fps": len(frames) / (t1 - t0) if t1 > t0 else 0.0,
                "max_gap": max(gaps), "freezes": len(long_gaps),
                "freeze_seconds": sum(long_gaps), "colour": colour}


def _tone(samples, rate):
    """(frequency, RMS): the frequency from the median time between rising
    zero crossings (interpolated, with hysteresis against noise), so that a
    glitch in the stream does not move it."""
    n = len(samples)
    if n == 0:
        return 0.0, 0.0
    rms = math.sqrt(sum(s * s for s in samples) / n) / 32768
    threshold = max(64, int(rms * 32768 * 0.1))
    crossings = []
    armed = False
    for i in range(1, n):
        s = samples[i]
        if s < -threshold:
            armed = True
        elif armed and s >= 0 > samples[i - 1]:
            prev = samples[i - 1]
            crossings.append(i - 1 + (-prev) / (s - prev))
            armed = False
    periods = sorted(b - a for a, b in zip(crossings, crossings[1:]))
    if not periods:
        return 0.0, rms
    return rate / periods[len(periods) // 2], rms


def main(argv=None):
    """`python3 pwenv.py [--keep] -- PROGRAM ARGS...`: runs PROGRAM in a new
    private session (a temporary directory, removed afterwards unless
    --keep) and exits with its status. Its stdout and stderr are passed
    through, so a TAP test can be run this way from meson."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the session's directory")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no program to run")
    tmpdir = tempfile.mkdtemp(prefix="vchat-pwenv-")
    try:
        with PipeWireEnv(tmpdir) as pw:
            # In a process group of its own, so that whatever it started and
            # left behind (say, a publisher of a test that failed) is ended
            # with it.
            proc = subprocess.Popen(command, env=pw.env, start_new_session=True)
            try:
                status = proc.wait()
            except KeyboardInterrupt:
                status = -signal.SIGINT
            finally:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            if status != 0:
                sys.stderr.write(f"pwenv: {command[0]} exited with {status}; session logs in "
                                 f"{pw.logdir}\n" if args.keep else
                                 f"pwenv: {command[0]} exited with {status}\n")
    finally:
        if not args.keep:
            shutil.rmtree(tmpdir, ignore_errors=True)
    return 128 - status if status < 0 else status


if __name__ == "__main__":
    raise SystemExit(main())
