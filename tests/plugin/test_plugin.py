"""libvchat against real daemons: runs the C test program test-plugin with
daemon A on its session bus and daemon B's bus in VCHAT_TEST_BUS_B, both
with test sources (no PipeWire), and restarts A when the program asks."""
import os
import subprocess
import threading

import pytest

from signald import Signald
from vchatd import Vchatd

TEST_SOURCES = ["--no-pipewire-nodes", "--audio-source", "audiotestsrc is-live=true wave=sine",
                "--audio-sink", "fakesink"]


def video(argb):
    return ["--video-source", f"videotestsrc is-live=true pattern=solid-color foreground-color={argb}"]


@pytest.fixture
def server():
    s = Signald()
    yield s
    s.stop()


def test_plugin(server, tmp_path):
    binary = os.environ["VCHAT_TEST_PLUGIN"]
    a = Vchatd(str(tmp_path / "a"), server.ws_url, name="Ada",
               args=TEST_SOURCES + video("0xffff0000"))
    b = Vchatd(str(tmp_path / "b"), server.ws_url, name="Bob",
               args=TEST_SOURCES + video("0xff0000ff"))
    try:
        env = dict(a.env, VCHAT_TEST_BUS_B=b.bus.address, VCHAT_TEST_NAME_A="Ada",
                   VCHAT_TEST_NAME_B="Bob", VCHAT_TEST_VERSION=os.environ["VCHAT_VERSION"])
        proc = subprocess.Popen([binary, "--tap"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        killer = threading.Timer(240, proc.kill)
        killer.start()
        out = []
        for line in proc.stdout:
            out.append(line)
            print(line, end="")
            if line.strip() == "# RESTART-DAEMON-A":
                a.kill(9)
                a.start()
        rc = proc.wait()
        killer.cancel()
        if rc != 0:
            print(f"--- daemon A log ---\n{a.log[-6000:]}\n--- daemon B log ---\n{b.log[-4000:]}")
        assert rc == 0, "test-plugin failed:\n" + "".join(out[-60:])
        assert any(line.startswith("ok 7 /plugin/restart") for line in out)
    finally:
        a.stop()
        b.stop()
