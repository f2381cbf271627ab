"""Run real vchatd daemons for a test, each on its own private session bus.

    with Vchatd(tmpdir, server_url, name="Ada", env=pw.env, camera="cam-red") as a:
        path = a.manager("StartRandom", "(a{sv})", {})
        a.wait_call_state(path, "connected")

The binary comes from VCHATD (set by meson). Every daemon gets a private
dbus-daemon; PipeWire (XDG_RUNTIME_DIR) is shared through `env`, so two
daemons see the same virtual cameras, as two desktops on one network would
see the same server.

user= (a uid or (uid, gid), as tests/lib/pwenv.py takes it) runs the bus
and the daemon as that user, with their directories given to it, for a
PipeWireEnv of the same user. The test's own connection to the bus is
made as that user too (vchatd answers no one else).
"""
import contextlib
import os
import subprocess
import tempfile
import threading
import time

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

from pwenv import chown_tree, user_popen_args  # noqa: E402
from signald import stop_process  # noqa: E402
from timeouts import scaled  # noqa: E402

BUS_NAME = "io.github.vchat.VChat1"
MANAGER_PATH = "/io/github/vchat/VChat1"
MANAGER_IFACE = "io.github.vchat.VChat1.Manager"
CALL_IFACE = "io.github.vchat.VChat1.Call"


# Every daemon a test started and has not stopped: a wait fails at once when
# any of them dies, not only the one being waited on (a crashed peer looks
# like a hang from the other side).
_alive = []


def unpack(v):
    return v.unpack() if isinstance(v, GLib.Variant) else v


@contextlib.contextmanager
def _effective_user(popen_args):
    """Runs the block with the effective uid and gid of user_popen_args'
    result (nothing to do for {}). A D-Bus connection made inside belongs
    to that user for good: the bus takes the peer's credentials at
    connect() (SO_PEERCRED gives the effective ids), and vchatd answers
    only its own user. Process-wide for the block's short time."""
    if not popen_args:
        yield
        return
    euid, egid = os.geteuid(), os.getegid()
    os.setegid(popen_args["group"])
    try:
        os.seteuid(popen_args["user"])
        try:
            yield
        finally:
            os.seteuid(euid)
    finally:
        os.setegid(egid)


class PrivateBus:
    """A dbus-daemon of our own, gone when stopped."""

    def __init__(self, tmpdir, env=None, other_users=False, user=None):
        conf = os.path.join(tmpdir, "session.conf")
        # other_users: any local user may connect (to test that vchatd itself
        # refuses them); a normal session bus admits only its owner.
        # "socket": its socket is open to every user, but the bus admits only
        # its owner, as a normal session bus does (to test that the bus is
        # the boundary).
        listen = f"unix:dir={tmpdir}"
        policy_users = ""
        if other_users:
            sockdir = tempfile.mkdtemp(prefix="vchat-bus-")
            os.chmod(sockdir, 0o755)
            listen = f"unix:path={sockdir}/bus"
            if other_users is True:
                policy_users = '<allow user="*"/>'
            self.sockdir = sockdir
        with open(conf, "w") as f:
            f.write(f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>{listen}</listen>
  <servicedir>{os.path.join(tmpdir, 'services')}</servicedir>
  <policy context="default">
    {policy_users}
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
""")
        os.makedirs(os.path.join(tmpdir, "services"), exist_ok=True)
        if user is not None:
            # Where it makes its socket.
            chown_tree(tmpdir if not other_users else sockdir, user)
        self.proc = subprocess.Popen(
            ["dbus-daemon", "--config-file", conf, "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE, text=True, env=env, **user_popen_args(user))
        self.address = self.proc.stdout.readline().strip()
        if not self.address:
            raise RuntimeError("dbus-daemon did not start")
        self.services_dir = os.path.join(tmpdir, "services")

    def stop(self):
        stop_process(self.proc)


class Vchatd:
    def __init__(self, tmpdir, server_url, name=None, env=None, args=(), start=True,
                 wait_online=True, other_users=False, settings=None, wrapper=(), user=None):
        os.makedirs(tmpdir, exist_ok=True)
        self.tmpdir = tmpdir
        # user: the daemon, its bus and vchatctl run as this user (see the
        # module doc); None: as the caller.
        self.user = user
        self.popen_args = user_popen_args(user)
        self.binary = os.environ["VCHATD"]
        # A home of its own: settings, state (history) and keyring are this
        # daemon's alone. XDG_RUNTIME_DIR stays shared: PipeWire lives there.
        home = os.path.join(tmpdir, "home")
        self.xdg = {
            "HOME": home,
            "XDG_CONFIG_HOME": os.path.join(home, ".config"),
            "XDG_STATE_HOME": os.path.join(home, ".local", "state"),
            "XDG_DATA_HOME": os.path.join(home, ".local", "share"),
            "XDG_CACHE_HOME": os.path.join(home, ".cache"),
        }
        for d in self.xdg.values():
            os.makedirs(d, exist_ok=True)
        self.base_env = dict(env or os.environ, **self.xdg)
        chown_tree(tmpdir, user)
        self.bus = PrivateBus(tmpdir, self.base_env, other_users=other_users, user=user)
        # The keyfile backend: vchatctl, gsettings and the daemon share it
        # (as they share dconf on a desktop) and the daemon sees changes.
        self.env = dict(self.base_env, DBUS_SESSION_BUS_ADDRESS=self.bus.address,
                        GSETTINGS_BACKEND="keyfile")
        if settings:
            self.write_settings(settings)
        if os.environ.get("VCHAT_SCHEMAS"):
            self.env["GSETTINGS_SCHEMA_DIR"] = os.environ["VCHAT_SCHEMAS"]
        self.args = ["--server", server_url, "--verbose"] + (["--name", name] if name else []) + list(args)
        # wrapper: a command prefix for the daemon alone, e.g. `ip netns exec
        # NS` (tests/lib/netlab.py): its bus and PipeWire stay here, on
        # file-system sockets, which cross network namespaces.
        self.wrapper = list(wrapper)
        self.log_lines = []
        self.proc = None
        with _effective_user(self.popen_args):
            self.conn = Gio.DBusConnection.new_for_address_sync(
                self.bus.address,
                Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
                None, None)
        if start:
            try:
                self.start(wait_online=wait_online)
            except BaseException:
                # The caller never gets this object to stop: the bus goes too.
                self.conn.close_sync(None)
                self.bus.stop()
                raise

    @property
    def settings_file(self):
        return os.path.join(self.xdg["XDG_CONFIG_HOME"], "glib-2.0", "settings", "keyfile")

    def write_settings(self, settings):
        """Sets GSettings keys before the daemon starts: {"key": GLib.Variant}."""
        os.makedirs(os.path.dirname(self.settings_file), exist_ok=True)
        with open(self.settings_file, "w") as f:
            f.write("[io/github/vchat/VChat1]\n")
            for key, value in settings.items():
                f.write(f"{key}={value.print_(False)}\n")
        chown_tree(os.path.dirname(os.path.dirname(self.settings_file)), self.user)

    # process

    def start(self, extra=(), wait_online=True):
        self.proc = subprocess.Popen(self.wrapper + [self.binary] + self.args + list(extra),
                                     env=self.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     **self.popen_args)
        self._reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self._reader.start()
        _alive.append(self)
        try:
            self.wait(lambda: self.name_owner() is not None, 10, "vchatd to own its name",
                      show_log=False)
            if wait_online:
                self.wait(lambda: self.manager_prop("SignalingState") == "online", 15,
                          "vchatd to reach the signaling server", show_log=False)
        except AssertionError as e:
            # Not left running behind the test: stopped, and all it said
            # (a sanitizer's report at exit too) goes into the error.
            running = self.proc.poll() is None
            if self in _alive:
                _alive.remove(self)
            rc = stop_process(self.proc, 10)
            self._reader.join(scaled(5))
            how = "missed its start deadline and was stopped" if running else "ended"
            raise AssertionError(f"{e}\n--- vchatd {how} (exit status {rc}); its log ---\n"
                                 f"{self.log[-6000:]}") from None

    def _read(self, proc):
        # VCHAT_TEST_LOG_DIR: each daemon's output also goes to a file there
        # as it comes (to follow a run, or to look at one that hung).
        log_dir = os.environ.get("VCHAT_TEST_LOG_DIR")
        f = None
        if log_dir:
            os.makedirs(log_dir, exist_ok=True)
            f = open(os.path.join(log_dir, f"vchatd-{proc.pid}.log"), "w", buffering=1)
        for line in proc.stdout:
            self.log_lines.append(line)
            if f:
                f.write(line)
        if f:
            f.close()

    @property
    def log(self):
        return "".join(self.log_lines)

    def kill(self, sig=9):
        if self in _alive:
            _alive.remove(self)
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)

    def stop(self):
        if self in _alive:
            _alive.remove(self)
        rc = stop_process(self.proc, 10) if self.proc else None
        self.conn.close_sync(None)
        self.bus.stop()
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # D-Bus

    def name_owner(self):
        try:
            r = self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                    "org.freedesktop.DBus", "GetNameOwner",
                                    GLib.Variant("(s)", (BUS_NAME,)), None,
                                    Gio.DBusCallFlags.NO_AUTO_START, 2000, None)
            return r.unpack()[0]
        except GLib.Error:
            return None

    def call(self, path, iface, method, signature=None, *args, timeout=10000):
        params = GLib.Variant(signature, args) if signature else None
        r = self.conn.call_sync(BUS_NAME, path, iface, method, params, None,
                                Gio.DBusCallFlags.NONE, timeout, None)
        result = r.unpack() if r is not None else ()
        return result[0] if len(result) == 1 else result

    def manager(self, method, signature=None, *args):
        return self.call(MANAGER_PATH, MANAGER_IFACE, method, signature, *args)

    def call_method(self, path, method, signature=None, *args):
        return self.call(path, CALL_IFACE, method, signature, *args)

    def prop(self, path, iface, name):
        r = self.conn.call_sync(BUS_NAME, path, "org.freedesktop.DBus.Properties", "Get",
                                GLib.Variant("(ss)", (iface, name)), None,
                                Gio.DBusCallFlags.NONE, 5000, None)
        return unpack(r.unpack()[0])

    def manager_prop(self, name):
        try:
            return self.prop(MANAGER_PATH, MANAGER_IFACE, name)
        except GLib.Error:
            return None

    def call_prop(self, path, name):
        return self.prop(path, CALL_IFACE, name)

    def call_props(self, path):
        r = self.conn.call_sync(BUS_NAME, path, "org.freedesktop.DBus.Properties", "GetAll",
                                GLib.Variant("(s)", (CALL_IFACE,)), None,
                                Gio.DBusCallFlags.NONE, 5000, None)
        return {k: unpack(v) for k, v in r.unpack()[0].items()}

    def wait(self, predicate, timeout, what, show_log=True):
        """Until predicate() holds, for `timeout` seconds (scaled); fails at
        once if a daemon exits meanwhile."""
        timeout = scaled(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for d in [self] + _alive:
                if d.proc and d.proc.poll() is not None and (d is self or d in _alive):
                    log = d.log[-3000:] if show_log or d is not self else ""
                    raise AssertionError(f"a vchatd exited ({d.proc.returncode}) while waiting for "
                                         f"{what}:\n{log}")
            try:
                if predicate():
                    return
            except GLib.Error:
                pass
            time.sleep(0.1)
        log = f"\n--- vchatd log ---\n{self.log[-4000:]}" if show_log else ""
        raise AssertionError(f"timed out after {timeout:g}s waiting for {what}{log}")

    def wait_call_state(self, path, state, timeout=20):
        self.wait(lambda: self.call_prop(path, "State") == state, timeout, f"{path} to be {state}")

    def vchatctl(self, *args, input=None, env=None, timeout=60):
        """Runs vchatctl (VCHATCTL) against this daemon's bus, as its user
        would: the CompletedProcess, with text output."""
        return subprocess.run([os.environ["VCHATCTL"]] + list(args), input=input,
                              env=env or self.env, capture_output=True, text=True,
                              timeout=timeout, **self.popen_args)

    def remote_video_node(self, path, timeout=15):
        """The call's RemoteVideoNode, once the first picture has arrived."""
        self.wait(lambda: self.call_prop(path, "RemoteVideoNode"), timeout,
                  f"{path} to name its RemoteVideoNode (the first picture from the peer)")
        return self.call_prop(path, "RemoteVideoNode")

    def calls(self):
        return self.manager_prop("Calls") or []


def dbus_error_name(exc):
    """The D-Bus error name of a GLib.Error from a call."""
    return Gio.DBusError.get_remote_error(exc)


def dbus_error_message(exc):
    return exc.message.split(": ", 1)[-1] if exc.message.startswith("GDBus.Error:") else exc.message
