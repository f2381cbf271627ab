"""Fixtures for the daemon integration tests: a private PipeWire with two
virtual cameras of different colours, the real vchat-signald on loopback,
and real vchatd daemons each on its own private session bus."""
import pytest

# The PipeWire with a red and a blue camera, and one daemon per colour, are
# the shared ones of tests/lib/callenv.py; `daemons` uses this file's server.
from callenv import COLORS, close_to, daemons, pipewire  # noqa: F401 (fixtures)
from signald import Signald
from vchatd import Vchatd

RED = COLORS["red"]
BLUE = COLORS["blue"]


@pytest.fixture
def server():
    # The default grace time (30 s) leaves noticing a vanished peer to the
    # daemon's own media watchdog, which is what the tests check.
    s = Signald("--rematch-delay", "30")
    yield s
    s.stop()


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
