"""Fixtures for tests of several vchat-signald sharing one Redis.

`redis()` starts a real redis-server for the test, on a unix socket in a
temporary folder (no port to collide with, no file written but its socket);
`signald(*args)` and `connect(server, ...)` are those of tests/server, and
`cluster(n, *args)` starts n servers on that Redis. The tests skip, saying
why, when redis-server is not installed or vchat-signald was built without
Redis support.
"""
import importlib.util
import os
import shutil
import subprocess
import sys
import time

import pytest

_server = os.path.join(os.path.dirname(__file__), "..", "server")
sys.path.insert(0, _server)
_spec = importlib.util.spec_from_file_location("server_conftest",
                                               os.path.join(_server, "conftest.py"))
_server_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_server_conftest)
# the server tests' fixtures and set-up, shared
_stack = _server_conftest._stack
signald = _server_conftest.signald
connect = _server_conftest.connect
pytest_configure = _server_conftest.pytest_configure

from signald import stop_process  # noqa: E402
from timeouts import scaled  # noqa: E402


class Redis:
    """A redis-server on a unix socket; with `password`, one that requires
    it (requirepass); with `port`, listening on 127.0.0.1:port too."""

    def __init__(self, tmp, password=None, port=0):
        self.dir = tmp
        self.path = os.path.join(tmp, "redis.sock")
        self.url = f"unix:{self.path}"
        self.log = os.path.join(tmp, "redis.log")
        self.password = password
        self.port = port
        self.proc = None
        self.start()

    def start(self):
        extra = ["--requirepass", self.password] if self.password else []
        if self.port:
            extra += ["--bind", "127.0.0.1"]
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--unixsocket", self.path,
             "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", self.dir,
             "--logfile", self.log, *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + scaled(10)
        while time.monotonic() < deadline:
            if self.cli("PING") == "PONG":
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start:\n{open(self.log).read()}")

    def cli(self, *args, db=0):
        auth = ["-a", self.password, "--no-auth-warning"] if self.password else []
        r = subprocess.run(["redis-cli", "-s", self.path, "-n", str(db), *auth, *args],
                           capture_output=True, text=True)
        return r.stdout.strip()

    def stop(self):
        if self.proc:
            stop_process(self.proc)
            self.proc = None


def _need_redis():
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        pytest.skip("redis-server is not installed (Debian: apt install redis-server); "
                    "the multi-server tests need a real one")
    binary = os.environ.get("VCHAT_SIGNALD")
    if not binary:
        pytest.skip("VCHAT_SIGNALD is not set")
    probe = subprocess.run([binary, "--redis", "redis://127.0.0.1:1", "--port", "-1"],
                           capture_output=True, text=True)
    if "without Redis support" in probe.stderr:
        pytest.skip("this vchat-signald was built without Redis support (libhiredis-dev)")


@pytest.fixture
def redis(tmp_path):
    _need_redis()
    # a short path: unix socket paths are limited to 107 bytes
    r = Redis(str(tmp_path))
    yield r
    r.stop()


@pytest.fixture
def redis_factory(tmp_path):
    """`redis_factory(password=None, port=0)`: more redis-servers, each in
    a folder of its own."""
    _need_redis()
    started = []

    def start(password=None, port=0):
        d = tmp_path / f"r{len(started)}"
        d.mkdir()
        r = Redis(str(d), password=password, port=port)
        started.append(r)
        return r
    yield start
    for r in started:
        r.stop()


@pytest.fixture
def cluster(redis, signald):
    def start(n, *args):
        return [signald("--redis", redis.url, *args) for _ in range(n)]
    return start
