"""Running the app under Xvfb and looking at it as a person would: real
X input through xdotool (XTEST), screenshots of the X screen through GDK 3,
the clipboard read back through GTK 3.

Buttons are found by what they look like: the one blue (accent) button of
a page (Start, Copy Link, Accept) is where its colour is on the screen."""
import os
import subprocess
import sys
import time

from callenv import COLORS, close_to

WIDTH, HEIGHT = 1280, 800
# libadwaita 1.2's accent colour, the background of suggested-action buttons
ACCENT = (53, 132, 228)

GRAB = """
import sys
import gi
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk
Gdk.init([])
root = Gdk.get_default_root_window()
pixbuf = Gdk.pixbuf_get_from_window(root, 0, 0, root.get_width(), root.get_height())
pixbuf.savev(sys.argv[1], "png", [], [])
"""

CLIPBOARD = """
import gi
gi.require_version("Gdk", "3.0")
gi.require_version("Gtk", "3.0")
from gi.repository import Gdk, Gtk
Gtk.init([])
text = Gtk.Clipboard.get(Gdk.SELECTION_CLIPBOARD).wait_for_text()
print(text or "")
"""

# A plain green window over the whole screen: covers the app until the app
# raises itself.
COVER = """
import gi
gi.require_version("Gdk", "3.0")
gi.require_version("Gtk", "3.0")
from gi.repository import Gdk, Gtk
Gtk.init([])
w = Gtk.Window(title="cover")
w.set_default_size(%d, %d)
w.move(0, 0)
css = Gtk.CssProvider()
css.load_from_data(b"window { background-color: #00ff00; }")
Gtk.StyleContext.add_provider_for_screen(Gdk.Screen.get_default(), css, 800)
w.show_all()
print("shown", flush=True)
Gtk.main()
""" % (WIDTH, HEIGHT)


def artifact(name):
    return os.path.join(os.environ.get("VCHAT_ARTIFACTS", os.getcwd()), name)


def start_xvfb():
    r, w = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", f"{WIDTH}x{HEIGHT}x24",
                             "-nolisten", "tcp", "-noreset"], pass_fds=(w,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    number = b""
    with os.fdopen(r, "rb") as f:
        while not number.endswith(b"\n"):
            chunk = f.read(1)
            if not chunk:
                break
            number += chunk
    if not number.strip():
        proc.kill()
        raise RuntimeError("Xvfb did not start")
    return proc, f":{number.decode().strip()}"


def load(path):
    import gi
    gi.require_version("GdkPixbuf", "2.0")
    from gi.repository import GdkPixbuf

    pb = GdkPixbuf.Pixbuf.new_from_file(path)
    return (pb.get_width(), pb.get_height(), pb.get_rowstride(), pb.get_n_channels(),
            pb.get_pixels())


def scan(image, rgb, box=None, tolerance=50, step=2):
    """(pixel count, bounding box) of the colour in box (whole screen by
    default), sampling every step pixels."""
    w, h, stride, n, data = image
    box = box or (0, 0, w - 1, h - 1)
    count, x0, y0, x1, y1 = 0, w, h, -1, -1
    for y in range(box[1], box[3] + 1, step):
        row = y * stride
        for x in range(box[0], box[2] + 1, step):
            i = row + x * n
            if close_to((data[i], data[i + 1], data[i + 2]), rgb, tolerance):
                count += 1
                x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
    return count * step * step, (x0, y0, x1, y1)


def call_regions(path, remote, preview):
    """The remote colour's region on the screen, and the preview colour's
    inside it."""
    image = load(path)
    found = {remote: scan(image, COLORS[remote])}
    found[preview] = (scan(image, COLORS[preview], found[remote][1]) if found[remote][0]
                      else (0, None))
    return found


def shows_call(found, remote, preview, min_remote=150_000, min_preview=8_000):
    """The remote picture is large, the preview small in its lower right."""
    remote_count, (bx0, by0, bx1, by1) = found[remote]
    preview_count, box = found[preview]
    if remote_count < min_remote or preview_count < min_preview:
        return False
    rx0, ry0, rx1, ry1 = box
    rcx, rcy = (rx0 + rx1) / 2, (ry0 + ry1) / 2
    return (rcx > (bx0 + bx1) / 2 and rcy > (by0 + by1) / 2
            and rx1 <= bx1 + 20 and ry1 <= by1 + 20 and preview_count * 4 < remote_count)


class App:
    def __init__(self, runner, daemon, args, display, extra_env):
        self.runner = runner
        self.daemon = daemon
        self.display = display
        self.env = dict(daemon.env, DISPLAY=display, GDK_BACKEND="x11", GSK_RENDERER="cairo",
                        GTK_A11Y="none", NO_AT_BRIDGE="1", G_MESSAGES_DEBUG="vchat",
                        LANG="C.UTF-8", LC_ALL="C.UTF-8")
        self.env.update(extra_env)
        # GNOME's window buttons (only close), as on a GNOME desktop; Xvfb
        # has no settings daemon to say so.
        gtk_dir = os.path.join(self.env["XDG_CONFIG_HOME"], "gtk-4.0")
        os.makedirs(gtk_dir, exist_ok=True)
        with open(os.path.join(gtk_dir, "settings.ini"), "w") as f:
            f.write("[Settings]\ngtk-decoration-layout=appmenu:close\n")
        self.log_path = artifact(f"app-{len(runner.apps)}.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([runner.binary] + list(args), env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT, text=True)

    def output(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def alive(self):
        assert self.proc.poll() is None, f"the app exited ({self.proc.returncode}):\n{self.output()[-4000:]}"

    def xdotool(self, *args, check=True):
        r = subprocess.run(["xdotool"] + [str(a) for a in args], env=self.env, capture_output=True,
                           text=True, timeout=20)
        if check:
            assert r.returncode == 0, f"xdotool {args}: {r.stderr}"
        return r.stdout.strip()

    def window(self, timeout=20):
        """The X window of the app's main window (titled vchat)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive()
            out = self.xdotool("search", "--onlyvisible", "--name", "^vchat$", check=False)
            if out:
                return out.split()[0]
            time.sleep(0.3)
        raise AssertionError(f"no vchat window appeared:\n{self.output()[-3000:]}")

    def dialog(self, timeout=20):
        """The X window of a dialog over the main window (any other visible
        window of the app)."""
        main = self.window()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.xdotool("search", "--onlyvisible", "--pid", self.proc.pid, check=False)
            others = [w for w in out.split() if w != main]
            if others:
                return others[-1]
            time.sleep(0.3)
        raise AssertionError(f"no dialog appeared:\n{self.output()[-3000:]}")

    def key(self, *keys, window=None):
        """Keys pressed with the main window focused, as a person types them."""
        wid = window or self.window()
        self.xdotool("windowfocus", "--sync", wid)
        self.xdotool("key", "--clearmodifiers", *keys)

    def type(self, text):
        self.xdotool("type", "--delay", "40", text)

    def click(self, x, y):
        self.xdotool("mousemove", "--sync", x, y)
        time.sleep(0.2)
        self.xdotool("click", "1")

    def screenshot(self, name):
        path = artifact(name)
        subprocess.run([sys.executable, "-c", GRAB, path], check=True, timeout=20,
                       env=dict(self.env, GDK_BACKEND="x11"))
        return path

    def find_accent_button(self, name, timeout=20):
        """Where the page's blue (suggested-action) button is: its centre,
        once it shows (insensitive buttons are paler and do not count)."""
        deadline = time.monotonic() + timeout
        found = None
        while time.monotonic() < deadline:
            self.alive()
            found = scan(load(self.screenshot(name)), ACCENT, tolerance=12, step=1)
            count, (x0, y0, x1, y1) = found
            if count > 400 and x1 - x0 < 400 and y1 - y0 < 80:
                return (x0 + x1) // 2, (y0 + y1) // 2
            time.sleep(0.5)
        raise AssertionError(f"no blue button on the screen (see {name}): {found}\n"
                             f"{self.output()[-3000:]}")

    def click_accent_button(self, name, timeout=20):
        x, y = self.find_accent_button(name, timeout)
        self.click(x, y)
        return x, y

    def wait_picture(self, name, remote, preview, timeout=30, **kw):
        """Screenshots until the call shows remote's picture with preview's
        in its corner; the colour regions found."""
        deadline = time.monotonic() + timeout
        found = None
        while time.monotonic() < deadline:
            self.alive()
            found = call_regions(self.screenshot(name), remote, preview)
            if shows_call(found, remote, preview, **kw):
                break
            time.sleep(1)
        print(f"{name}: colour regions (pixels, bounding box): {found}")
        return found

    def clipboard(self):
        r = subprocess.run([sys.executable, "-c", CLIPBOARD], env=dict(self.env, GDK_BACKEND="x11"),
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def cover(self):
        """A green window over everything on this screen; stopped with the app."""
        proc = subprocess.Popen([sys.executable, "-c", COVER], env=dict(self.env, GDK_BACKEND="x11"),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout.readline().strip() == "shown"
        self.runner.others.append(proc)
        time.sleep(1)
        return proc

    def wait_log(self, text, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive()
            if text in self.output():
                return
            time.sleep(0.2)
        raise AssertionError(f"the app did not log {text!r}:\n{self.output()[-3000:]}")


class PidProcess:
    """The app started by D-Bus activation, through a script that writes
    its pid and, at the end, its exit status: Popen's few methods that App
    and AppRunner use."""

    def __init__(self, pid_path, rc_path, timeout=30):
        self.rc_path = rc_path
        self.returncode = None
        deadline = time.monotonic() + timeout
        while not os.path.exists(pid_path) or not open(pid_path).read().strip():
            if time.monotonic() > deadline:
                raise AssertionError("D-Bus did not start the app")
            time.sleep(0.1)
        self.pid = int(open(pid_path).read())

    def poll(self):
        if self.returncode is None and os.path.exists(self.rc_path):
            text = open(self.rc_path).read().strip()
            if text:
                self.returncode = int(text)
        return self.returncode

    def wait(self, timeout=None):
        deadline = time.monotonic() + (timeout or 3600)
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("vchat", timeout)
            time.sleep(0.1)
        return self.returncode

    def terminate(self):
        if self.poll() is None:
            os.kill(self.pid, 15)

    def kill(self):
        if self.poll() is None:
            os.kill(self.pid, 9)


class ActivatableApp(App):
    """The app as D-Bus starts it: a service file for io.github.vchat.VChat
    in the daemon's private bus, running `vchat --gapplication-service` with
    this screen and the daemon's environment. Nothing runs until something
    activates the name; started() waits for that."""

    def __init__(self, runner, daemon, display, extra_env):
        import shlex
        self.runner = runner
        self.daemon = daemon
        self.display = display
        self.env = dict(daemon.env, DISPLAY=display, GDK_BACKEND="x11", GSK_RENDERER="cairo",
                        GTK_A11Y="none", NO_AT_BRIDGE="1", G_MESSAGES_DEBUG="vchat",
                        LANG="C.UTF-8", LC_ALL="C.UTF-8")
        self.env.update(extra_env)
        gtk_dir = os.path.join(self.env["XDG_CONFIG_HOME"], "gtk-4.0")
        os.makedirs(gtk_dir, exist_ok=True)
        with open(os.path.join(gtk_dir, "settings.ini"), "w") as f:
            f.write("[Settings]\ngtk-decoration-layout=appmenu:close\n")
        n = len(runner.apps)
        self.log_path = artifact(f"app-{n}.log")
        self.log = open(self.log_path, "w")
        self.pid_path = os.path.join(daemon.tmpdir, f"app-{n}.pid")
        self.rc_path = os.path.join(daemon.tmpdir, f"app-{n}.rc")
        script = os.path.join(daemon.tmpdir, f"app-{n}.sh")
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in self.env.items()
                          if k.isidentifier())
        with open(script, "w") as f:
            f.write(f"#!/bin/sh\n{exports}"
                    f"{shlex.quote(runner.binary)} --gapplication-service "
                    f">>{shlex.quote(self.log_path)} 2>&1 &\n"
                    f"echo $! >{shlex.quote(self.pid_path)}\n"
                    f"wait $!\necho $? >{shlex.quote(self.rc_path)}\n")
        os.chmod(script, 0o755)
        with open(os.path.join(daemon.bus.services_dir, "io.github.vchat.VChat.service"), "w") as f:
            f.write(f"[D-BUS Service]\nName=io.github.vchat.VChat\nExec={script}\n")
        self.proc = None

    def started(self, timeout=30):
        """Waits until D-Bus has started the app."""
        self.proc = PidProcess(self.pid_path, self.rc_path, timeout)
        return self

    def alive(self):
        assert self.proc is not None, "D-Bus has not started the app"
        super().alive()


class AppRunner:
    def __init__(self, binary):
        self.binary = binary
        self.apps = []
        self.screens = []
        self.others = []

    def start(self, daemon, *args, display=None, env=None):
        """The app on daemon's bus; on a new X screen unless display is given."""
        if display is None:
            xvfb, display = start_xvfb()
            self.screens.append(xvfb)
        app = App(self, daemon, args, display, env or {})
        self.apps.append(app)
        return app

    def activatable(self, daemon, display=None, env=None):
        """The app installed as D-Bus activatable on the daemon's bus, not
        started (ActivatableApp)."""
        if display is None:
            xvfb, display = start_xvfb()
            self.screens.append(xvfb)
        app = ActivatableApp(self, daemon, display, env or {})
        self.apps.append(app)
        return app

    def stop_all(self):
        failures = []
        for proc in self.others:
            proc.terminate()
            proc.wait(10)
        for app in self.apps:
            if app.proc is None:
                app.log.close()
                continue
            if app.proc.poll() is None:
                # SIGTERM: the app quits as its close button would
                app.proc.terminate()
                try:
                    app.proc.wait(15)
                except subprocess.TimeoutExpired:
                    app.proc.kill()
                    app.proc.wait()
                    failures.append(f"the app did not quit on SIGTERM:\n{app.output()[-3000:]}")
            out = app.output()
            if app.proc.returncode not in (0, None):
                failures.append(f"the app ended with {app.proc.returncode}:\n{out[-3000:]}")
            bad = [line for line in out.splitlines() if "CRITICAL" in line or "-WARNING" in line]
            if bad:
                failures.append("the app warned:\n" + "\n".join(bad[-20:]))
            app.log.close()
        for xvfb in self.screens:
            xvfb.terminate()
            xvfb.wait(10)
        assert not failures, "\n".join(failures)
