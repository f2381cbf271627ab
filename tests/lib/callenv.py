"""Shared pytest fixtures for tests that need two real daemons with PipeWire
cameras of their own colours (the bindings and the GTK example):

    from callenv import pipewire, server, daemons  # noqa: F401 (fixtures)

    def test_x(daemons):
        a, b = daemons("red", "blue")

The same shape as tests/daemon/conftest.py: a module-wide private PipeWire
with a red and a blue virtual camera, the real vchat-signald per test, and
one vchatd per colour, each on its own private session bus.
"""
import os
import shutil
import tempfile
import time

import pytest

from signald import Signald
from vchatd import Vchatd

COLORS = {"red": (255, 0, 0), "blue": (0, 0, 255)}


def close_to(color, expected, tolerance=60):
    return all(abs(c - e) <= tolerance for c, e in zip(color, expected))


@pytest.fixture(scope="module")
def pipewire():
    from pwenv import PipeWireEnv

    tmp = tempfile.mkdtemp(prefix="vchat-pw-")
    env = PipeWireEnv(tmp)
    env.start()
    cams = [env.add_camera(f"vchat-test-cam-{name}", rgb, description=f"{name.title()} test camera")
            for name, rgb in COLORS.items()]
    yield env
    for c in cams:
        c.stop()
    env.stop()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def server():
    s = Signald()
    yield s
    s.stop()


@pytest.fixture
def daemons(pipewire, server, tmp_path):
    """daemons("red", "blue") starts one daemon per camera colour (env: more
    environment for them)."""
    started = []

    def start(*colors, args=(), wrapper=(), env=None):
        out = []
        for color in colors:
            d = Vchatd(str(tmp_path / f"d{len(started)}"), server.ws_url,
                       name=f"{color.title()} {len(started)}", env=dict(pipewire.env, **(env or {})),
                       args=["--camera", f"vchat-test-cam-{color}", "--audio-source",
                             "audiotestsrc is-live=true wave=sine freq=440",
                             "--audio-sink", "fakesink"] + list(args), wrapper=wrapper)
            started.append(d)
            out.append(d)
        return out if len(out) > 1 else out[0]

    yield start
    for d in started:
        d.stop()
        if os.environ.get("VCHAT_TEST_LOGS"):
            print(f"--- vchatd log ---\n{d.log}")


def wait_for(predicate, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
