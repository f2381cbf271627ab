"""Fixtures for the daemon integration tests: a private PipeWire with two
virtual cameras of different colours, the real vchat-signald on loopback,
and real vchatd daemons each on its own private session bus."""
import os
import shutil
import tempfile

import pytest

from signald import Signald
from vchatd import Vchatd

RED = (255, 0, 0)
BLUE = (0, 0, 255)


def close_to(color, expected, tolerance=60):
    return all(abs(c - e) <= tolerance for c, e in zip(color, expected))


@pytest.fixture(scope="module")
def pipewire():
    from pwenv import PipeWireEnv

    tmp = tempfile.mkdtemp(prefix="vchat-pw-")
    env = PipeWireEnv(tmp)
    env.start()
    cams = [env.add_camera("vchat-test-cam-red", RED, description="Red test camera"),
            env.add_camera("vchat-test-cam-blue", BLUE, description="Blue test camera")]
    yield env
    for c in cams:
        c.stop()
    env.stop()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def server():
    # The default grace time (30 s) leaves noticing a vanished peer to the
    # daemon's own media watchdog, which is what the tests check.
    s = Signald("--rematch-delay", "30")
    yield s
    s.stop()


@pytest.fixture
def daemons(pipewire, server, tmp_path):
    """daemons("red", "blue", ...) starts one daemon per camera colour."""
    started = []

    def start(*colors, args=()):
        out = []
        for i, color in enumerate(colors):
            d = Vchatd(str(tmp_path / f"d{len(started)}"), server.ws_url,
                       name=f"{color.title()} {len(started)}", env=pipewire.env,
                       args=["--camera", f"vchat-test-cam-{color}", "--audio-source",
                             "audiotestsrc is-live=true wave=sine freq=440",
                             "--audio-sink", "fakesink"] + list(args))
            started.append(d)
            out.append(d)
        return out if len(out) > 1 else out[0]

    yield start
    for d in started:
        d.stop()
        if os.environ.get("VCHAT_TEST_LOGS"):
            print(f"--- vchatd log ---\n{d.log}")


TEST_SOURCES = ["--no-pipewire-nodes", "--audio-source", "audiotestsrc is-live=true wave=sine",
                "--audio-sink", "fakesink"]


def test_source(color):
    argb = {"red": "0xffff0000", "blue": "0xff0000ff", "green": "0xff00ff00"}[color]
    return ["--video-source", f"videotestsrc is-live=true pattern=solid-color foreground-color={argb}"]


@pytest.fixture
def plain_daemons(server, tmp_path):
    """Daemons without PipeWire: test sources, no published nodes."""
    started = []

    def start(*colors, args=()):
        out = []
        for color in colors:
            d = Vchatd(str(tmp_path / f"p{len(started)}"), server.ws_url,
                       name=f"{color.title()} {len(started)}",
                       args=TEST_SOURCES + test_source(color) + list(args))
            started.append(d)
            out.append(d)
        return out if len(out) > 1 else out[0]

    yield start
    for d in started:
        d.stop()
