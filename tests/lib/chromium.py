"""Headless Debian Chromium, driven over the DevTools protocol.

Started as DESIGN.md says works here (as root, no network): a fresh
profile, fake camera and microphone, --remote-debugging-port=0 (the port is
read back from DevToolsActivePort, so there is no race for a free port).
Pages are read with Runtime.evaluate.
"""
import base64
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

from jsonrpc_ws import WebSocketRPC

CHROMIUM = "/usr/bin/chromium"

class JSError(Exception):
    pass


def devtools_error(reply):
    """A DevTools error answer: {"id", "error": {"code", "message"}}."""
    return str(reply["error"]) if "error" in reply else None


class DevTools(WebSocketRPC):
    """A minimal DevTools protocol client for one page target."""

    def __init__(self, ws_url, sock=None):
        # sock: an already connected socket to use (one made inside a
        # network namespace, see Browser's connect).
        super().__init__(ws_url, "DevTools", devtools_error, sock=sock)


class Browser:
    """One headless Chromium with a fresh profile, driven over DevTools."""

    def __init__(self, name, url, wrapper=(), extra_args=(), connect=None, fake_media=True):
        """wrapper: a command prefix (`ip netns exec NS`, tests/lib/netlab.py);
        extra_args: more Chromium switches; connect(port): a connected
        socket to 127.0.0.1:port where Chromium runs (for DevTools, when it
        runs in another network namespace; default: a plain connection);
        fake_media: False starts it without the fake camera and microphone
        (a visitor without any: getUserMedia finds no device)."""
        self.name = name
        self.fake_media = fake_media
        self.wrapper = list(wrapper)
        self.extra_args = list(extra_args)
        self.connect = connect
        self.dir = tempfile.mkdtemp(prefix=f"vchat-chromium-{name}-")
        self.profile = os.path.join(self.dir, "profile")
        self.log_path = os.path.join(self.dir, "chromium.log")
        self.proc = None
        self.devtools = None
        try:
            self._start(url)
        except BaseException:
            self.close()
            raise

    def _start(self, url):
        os.mkdir(self.profile)
        cmd = self.wrapper + [
            CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={self.profile}",
        ] + (["--use-fake-device-for-media-stream"] if self.fake_media else []) + [
            "--use-fake-ui-for-media-stream",
            "--remote-debugging-port=0", "--remote-allow-origins=*",
            "--window-size=1280,860",
        ] + self.extra_args + [url]
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        # With port 0 Chromium picks a free port and writes it to this file.
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + 20
        port = None
        while port is None:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium {self.name} exited: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"chromium {self.name} gave no DevTools port: {self.log_tail()}")
            try:
                with open(port_file) as f:
                    first = f.readline().strip()
                if first:
                    port = int(first)
            except (FileNotFoundError, ValueError):
                pass
            time.sleep(0.1)
        page = None
        while page is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"chromium {self.name} has no page target")
            try:
                targets = self._get_json(port, "/json")
                page = next((t for t in targets if t.get("type") == "page"
                             and t.get("webSocketDebuggerUrl")), None)
            except (OSError, http.client.HTTPException, ValueError):
                pass
            if page is None:
                time.sleep(0.1)
        self.devtools = DevTools(page["webSocketDebuggerUrl"],
                                 sock=self.connect(port) if self.connect else None)

    def _get_json(self, port, path):
        if not self.connect:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                return json.load(r)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.sock = self.connect(port)
        try:
            conn.request("GET", path)
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def eval(self, expression, timeout=15):
        result = self.devtools.call("Runtime.evaluate", timeout=timeout, expression=expression,
                                    returnByValue=True, awaitPromise=True, userGesture=True)
        if "exceptionDetails" in result:
            d = result["exceptionDetails"]
            text = d.get("exception", {}).get("description") or d.get("text")
            raise JSError(f"{self.name}: {text}")
        return result["result"].get("value")

    def navigate(self, url):
        self.devtools.call("Page.navigate", url=url)

    def screenshot(self, path):
        data = self.devtools.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def log_tail(self, n=3000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def close(self):
        if self.devtools:
            # A browser that quits by itself also reaps its helper processes.
            try:
                self.devtools.call("Browser.close", timeout=5)
            except Exception:
                pass
            self.devtools.close()
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if self.proc and self.proc.poll() is None:
            # Chromium runs helper processes; they share its process group.
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if self.proc:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
