"""A real gnome-keyring (Secret Service) on a daemon's private session bus.

    d = Vchatd(tmpdir, url, start=False)
    keyring = Keyring(d)          # unlocked, on d's bus, files under d's HOME
    keyring.store("server-token", "…")
    d.start()
    …
    keyring.stop()

Runs `gnome-keyring-daemon --unlock --daemonize --components=secrets` with
the daemon's HOME/XDG dirs and bus, and a runtime dir of its own (PipeWire's
XDG_RUNTIME_DIR is left alone). It is stopped by its pid, which the bus
names as the owner of org.freedesktop.secrets.
"""
import os
import signal
import subprocess
import time

from gi.repository import Gio, GLib

SECRETS_NAME = "org.freedesktop.secrets"
PASSWORD = "vchat-test-keyring-password"


def files_containing(root, secret):
    """The regular files under root that hold `secret` in plain text."""
    hits = []
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            try:
                with open(path, "rb") as f:
                    if secret.encode() in f.read():
                        hits.append(path)
            except OSError:
                pass
    return hits


class Keyring:
    def __init__(self, vchatd):
        self.vchatd = vchatd
        self.runtime_dir = os.path.join(vchatd.tmpdir, "keyring-run")
        os.makedirs(self.runtime_dir, mode=0o700, exist_ok=True)
        self.env = dict(vchatd.env, XDG_RUNTIME_DIR=self.runtime_dir)
        p = subprocess.run(["gnome-keyring-daemon", "--unlock", "--daemonize",
                            "--components=secrets"],
                           input=PASSWORD, env=self.env, capture_output=True, text=True,
                           timeout=30)
        if p.returncode != 0:
            raise RuntimeError(f"gnome-keyring-daemon failed ({p.returncode}): {p.stderr}")
        self.pid = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not self.pid:
            self.pid = self._owner_pid()
            if not self.pid:
                time.sleep(0.1)
        if not self.pid:
            raise RuntimeError("gnome-keyring-daemon did not register "
                               f"{SECRETS_NAME} on the private bus: {p.stdout}{p.stderr}")

    def _owner_pid(self):
        conn = self.vchatd.conn
        try:
            owner = conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                   "org.freedesktop.DBus", "GetNameOwner",
                                   GLib.Variant("(s)", (SECRETS_NAME,)), None,
                                   Gio.DBusCallFlags.NO_AUTO_START, 2000, None).unpack()[0]
            return conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                  "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                  GLib.Variant("(s)", (owner,)), None,
                                  Gio.DBusCallFlags.NONE, 2000, None).unpack()[0]
        except GLib.Error:
            return None

    def secret_tool(self, *args, input=None):
        return subprocess.run(["secret-tool"] + list(args), input=input, env=self.env,
                              capture_output=True, text=True, timeout=30)

    def lookup(self, name):
        """The value secret-tool finds for `name`, or None."""
        p = self.secret_tool("lookup", "name", name)
        return p.stdout if p.returncode == 0 and p.stdout else None

    def store(self, name, value):
        """Stores like another tool would: with secret-tool and vchat's schema."""
        p = self.secret_tool("store", "--label", f"test {name}",
                             "xdg:schema", "io.github.vchat.VChat1.Secret", "name", name,
                             input=value)
        assert p.returncode == 0, p.stderr

    @property
    def files(self):
        """The keyring's own files (under the daemon's HOME)."""
        d = os.path.join(self.vchatd.xdg["XDG_DATA_HOME"], "keyrings")
        return [os.path.join(d, f) for f in os.listdir(d)] if os.path.isdir(d) else []

    def stop(self):
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.pid = None
