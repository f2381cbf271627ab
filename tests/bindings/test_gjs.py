"""Runs tests/bindings/test_gjs.js (libvchat from GJS) against two real
daemons with red and blue cameras."""
import os
import shutil
import subprocess

import pytest

from callenv import COLORS

HERE = os.path.dirname(os.path.abspath(__file__))


def test_gjs_random_call(daemons, pipewire):
    gjs = shutil.which("gjs")
    if not gjs:
        pytest.skip("gjs is not installed")
    a, b = daemons("red", "blue")
    env = dict(os.environ,
               PIPEWIRE_RUNTIME_DIR=pipewire.env["PIPEWIRE_RUNTIME_DIR"],
               XDG_RUNTIME_DIR=pipewire.env["XDG_RUNTIME_DIR"],
               VCHAT_BUS_A=a.bus.address, VCHAT_BUS_B=b.bus.address,
               VCHAT_COLOR_A=",".join(map(str, COLORS["red"])),
               VCHAT_COLOR_B=",".join(map(str, COLORS["blue"])))
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    r = subprocess.run([gjs, "-m", os.path.join(HERE, "test_gjs.js")], env=env,
                       capture_output=True, text=True, timeout=120)
    print(r.stdout)
    assert r.returncode == 0, f"gjs failed:\n{r.stdout}\n{r.stderr[-4000:]}"
    assert "ok: hung up" in r.stdout
