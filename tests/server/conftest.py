"""Fixtures for the vchat-signald integration tests.

Run (from the top of the tree):
    VCHAT_SIGNALD=build/signaling/server/vchat-signald VCHAT_WEB_ROOT=signaling/web \
    PYTHONPATH=tests/lib python3 -m pytest -v tests/server

`signald(*args)` starts a real server on a loopback port (short timings are
passed as options by each test); `connect(server, ...)` opens a real
WebSocket and says hello. Everything is cleaned up after the test, and a
server that died during a test fails it (with its log), as does a server
whose sanitizers reported an error or leaks (meson test --setup asan).
"""
import os

import pytest

from sanitizers import report
from vtest import TClient, TSignald


def pytest_configure(config):
    if not os.environ.get("VCHAT_SIGNALD"):
        return
    path = os.environ["VCHAT_SIGNALD"]
    if not os.path.isabs(path):
        os.environ["VCHAT_SIGNALD"] = os.path.abspath(path)
    root = os.environ.get("VCHAT_WEB_ROOT")
    if root and not os.path.isabs(root):
        os.environ["VCHAT_WEB_ROOT"] = os.path.abspath(root)


@pytest.fixture
def _stack():
    if not os.environ.get("VCHAT_SIGNALD"):
        pytest.skip("VCHAT_SIGNALD is not set")
    servers, clients = [], []
    yield servers, clients
    for c in clients:
        c.kill()
    died, reports = [], []
    for s in servers:
        if not s.stopped and s.proc.poll() is not None:
            died.append(s)
        s.stop()
        print(f"---- vchat-signald log ({s.url}) ----")
        print(s.log)
        if report(s.log):
            reports.append(report(s.log))
    if died:
        pytest.fail("vchat-signald exited during the test (code %s):\n%s"
                    % (died[0].proc.returncode, died[0].log))
    if reports:
        pytest.fail("vchat-signald's sanitizers reported:\n" + reports[0])


@pytest.fixture
def signald(_stack):
    servers, _ = _stack

    def start(*args, env=None, nofile=None):
        s = TSignald(*args, env=env, nofile=nofile)
        servers.append(s)
        return s
    return start


@pytest.fixture
def connect(_stack):
    _, clients = _stack

    def make(server, **kw):
        c = TClient(server, **kw)
        clients.append(c)
        return c
    return make
