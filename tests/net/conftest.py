"""Fixtures of the network lab tests: a module-wide private PipeWire with
each end's moving camera, microphone and speaker (tests/lib/labcall.py,
LabDevices: made once, see why there), and per test a lab of network
namespaces (tests/lib/netlab.py) with vchat-signald in its router and the
daemons in its ends. A machine where namespaces cannot be made skips every
test, saying why."""
import os
import shutil
import tempfile

import pytest

from labcall import LabDevices, LabWorld, VchatdCall, clip_for
from netlab import NetLab, NetLabUnavailable
from pwenv import PipeWireEnv


@pytest.fixture(scope="session")
def clips():
    """The red (A) and blue (B) moving clips, made once in VCHAT_CLIP_DIR
    (the build directory under meson)."""
    return {end: clip_for(end) for end in ("a", "b")}


@pytest.fixture(scope="module")
def pipewire():
    tmp = tempfile.mkdtemp(prefix="vchat-pw-")
    env = PipeWireEnv(tmp)
    env.start()
    yield env
    env.stop()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def devices(pipewire, clips):
    made = LabDevices(pipewire, clips)
    yield made
    made.stop()


@pytest.fixture
def lab():
    try:
        NetLab.check_available()
        if not shutil.which("nft"):
            raise NetLabUnavailable("no `nft` command (nftables is not installed; "
                                    "scripts/deps installs it)")
        made = NetLab()
    except NetLabUnavailable as e:
        pytest.skip(f"no network lab here: {e}")
    with made:
        yield made


@pytest.fixture
def world(lab, devices, tmp_path):
    w = LabWorld(lab, devices, tmp_path)
    w.start_server()
    yield w
    if os.environ.get("VCHAT_TEST_LOGS"):
        for d in w.daemons:
            print(f"--- vchatd log ---\n{d.log}")
    w.stop()


@pytest.fixture
def vchatd_call(world):
    """vchatd_call() starts a vchatd in A and one in B and makes a random
    call between them: a labcall.VchatdCall, watched from the moment it is
    connected, with both first pictures there (or not: that is measured)."""
    calls = []

    def start(picture_timeout=20):
        a, b = world.vchatd("a"), world.vchatd("b")
        call = VchatdCall.random(world, a, b)
        calls.append(call)
        call.wait_pictures(picture_timeout)
        return call

    yield start
    for call in calls:
        call.stop()
