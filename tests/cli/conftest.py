"""Fixtures for the vchatctl tests.

Run (from the top of the tree, after `ninja -C build`):
    VCHATCTL=build/cli/vchatctl VCHATD=build/daemon/vchatd \
    VCHAT_SIGNALD=build/signaling/server/vchat-signald VCHAT_SCHEMAS=build/data \
    PYTHONPATH=tests/lib python3 -m pytest -v tests/cli

`meson test cli` sets all of these. Without VCHATD (and VCHAT_SIGNALD) only
the tests that need no daemon run; the others are skipped, saying why.

- `vchatctl(*args, env=...)` runs the binary and returns the finished process.
- `empty_bus` is a private dbus-daemon on which nothing owns
  io.github.vchat.VChat1 and nothing can be activated.
- `daemon_env` is the environment of a real vchatd (on its own private bus,
  online with a real vchat-signald), for the golden tests of status, list and
  show. When tests/lib provides a `daemon_env` fixture (module daemon_env or
  vchatd) that one is used; otherwise a fallback here starts one plain daemon
  (test sources, no PipeWire nodes). Either may be a mapping of environment
  variables or an object with `.env`.
- `cli_daemons(n)` starts n real daemons on one server, for whole calls made
  with vchatctl.
"""
import importlib
import os
import subprocess
import tempfile
import shutil

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden")

# Every test runs vchatctl in the same locale and time zone, so plain output
# (local times, UTF-8 dashes) is the same on every machine.
BASE_ENV = {"LC_ALL": "C.UTF-8", "TZ": "UTC", "NO_COLOR": "1"}

PLAIN_DAEMON_ARGS = [
    "--no-pipewire-nodes",
    "--audio-source", "audiotestsrc is-live=true wave=sine",
    "--audio-sink", "fakesink",
    "--video-source", "videotestsrc is-live=true pattern=solid-color foreground-color=0xffff0000",
]


def pytest_configure(config):
    for var in ("VCHATCTL", "VCHATD", "VCHAT_SIGNALD", "VCHAT_SCHEMAS"):
        if os.environ.get(var) and not os.path.isabs(os.environ[var]):
            os.environ[var] = os.path.abspath(os.environ[var])
    config.addinivalue_line("markers", "daemon: needs a real vchatd (VCHATD)")


def binary():
    path = os.environ.get("VCHATCTL")
    if not path:
        pytest.skip("VCHATCTL is not set (the path of the vchatctl binary)")
    return path


def clean_env(**extra):
    """The test's environment without any session bus of the machine's."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY")}
    env.update(BASE_ENV)
    env.update(extra)
    return env


@pytest.fixture
def vchatctl():
    path = binary()

    def run(*args, env=None, timeout=60, input=None):
        return subprocess.run([path, *args], env=env if env is not None else clean_env(),
                              capture_output=True, text=True, timeout=timeout, input=input)
    run.path = path
    return run


def need_daemon():
    if not os.environ.get("VCHATD"):
        pytest.skip("VCHATD is not set: these tests need a real vchatd")
    if not os.environ.get("VCHAT_SIGNALD"):
        pytest.skip("VCHAT_SIGNALD is not set: vchatd needs a signaling server")


def private_bus(tmpdir, env=None):
    from vchatd import PrivateBus  # tests/lib
    return PrivateBus(tmpdir, env)


@pytest.fixture
def empty_bus(tmp_path):
    """A private session bus where nothing owns or provides vchatd."""
    try:
        bus = private_bus(str(tmp_path), clean_env())
    except ImportError as e:
        pytest.skip(f"tests/lib is not on PYTHONPATH: {e}")
    bus.env = clean_env(DBUS_SESSION_BUS_ADDRESS=bus.address,
                        XDG_RUNTIME_DIR=str(tmp_path))
    yield bus
    bus.stop()


def daemon_env_of(fixture_value):
    env = getattr(fixture_value, "env", fixture_value)
    return dict(env, **BASE_ENV)


class _FallbackDaemonEnv:
    """One plain vchatd, online with its own vchat-signald."""

    def __init__(self, tmpdir):
        from signald import Signald
        from vchatd import Vchatd
        self.server = Signald()
        try:
            self.daemon = Vchatd(tmpdir, self.server.ws_url, name="Ada", args=PLAIN_DAEMON_ARGS)
        except Exception:
            self.server.stop()
            raise
        self.env = dict(self.daemon.env, **BASE_ENV)

    def stop(self):
        self.daemon.stop()
        self.server.stop()


def _find_lib_daemon_env():
    for module in ("daemon_env", "vchatd"):
        try:
            m = importlib.import_module(module)
        except ImportError:
            continue
        f = getattr(m, "daemon_env", None)
        if f is not None:
            return f
    return None


_lib_daemon_env = _find_lib_daemon_env()
if _lib_daemon_env is not None:
    daemon_env = _lib_daemon_env
else:
    @pytest.fixture
    def daemon_env():
        need_daemon()
        tmp = tempfile.mkdtemp(prefix="vchatctl-daemon-")
        d = _FallbackDaemonEnv(tmp)
        yield d
        d.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def cli_daemons():
    """cli_daemons("Ada", "Bob") starts one plain daemon per name on one
    server and returns their environments, in order."""
    need_daemon()
    from signald import Signald
    from vchatd import Vchatd
    tmp = tempfile.mkdtemp(prefix="vchatctl-daemons-")
    server = Signald()
    started = []

    def start(*names):
        envs = []
        for name in names:
            d = Vchatd(os.path.join(tmp, f"d{len(started)}"), server.ws_url, name=name,
                       args=PLAIN_DAEMON_ARGS)
            started.append(d)
            d.cli_env = dict(d.env, **BASE_ENV)
            envs.append(d)
        return envs

    yield start
    for d in started:
        d.stop()
        if os.environ.get("VCHAT_TEST_LOGS"):
            print(f"--- vchatd log ---\n{d.log}")
    server.stop()
    shutil.rmtree(tmp, ignore_errors=True)
