"""vchatd is not dumpable, and a call still works that way (issue 13).

vchatd calls prctl(PR_SET_DUMPABLE, 0) first thing, so that another process
of the same user can neither ptrace it nor read its memory or environment
(TURN credentials from the keyring, a stranger's decoded pictures), and a
crash writes no core file. Its /proc/PID entries then belong to root.

The risk: PipeWire's module-access opens /proc/PID/root of each client to
tell a Flatpak app, and for a PipeWire of the same, unprivileged user that
open fails with EACCES. PipeWire 0.3.65 grants such a client "unrestricted"
(module-access.c, context_check_access: pw_check_flatpak() returns -EACCES
-> access = "unrestricted"; goto granted), and WirePlumber 0.4.13 changes
permissions only of clients marked flatpak, restricted or portal. Root
passes every such check, so here the whole desktop runs as an unprivileged
uid: its session bus, pipewire, wireplumber, the virtual cameras, the
readers and two vchatd (vchat-signald stays root: a server on loopback).
The test checks what a person would: the call's pictures arrive both ways,
a process of that user cannot read the daemon's /proc/PID/environ nor
ptrace it while it can do both to another process of its own, PipeWire
really took the EACCES path for the daemon, and VCHATD_DUMPABLE=1 leaves a
daemon readable.
"""
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import BLUE, RED, close_to
from pwenv import PipeWireEnv, user_popen_args
from signald import Signald
from vchatd import Vchatd

# The unprivileged user the session runs as. It needs an account:
# dbus-daemon refuses to run as a uid without one ("Could not get password
# database information for UID of current process"), so the test makes a
# system user without a home (useradd, once; it stays for the next run).
USER_NAME = "vchat-test"

# Run as the test user: tries each check on each pid and prints
# {"PID check": "ok" | "EACCES" | ...} as JSON.
PROBE = r"""
import ctypes, errno, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_SEIZE = 0x4206
out = {}
for pid in sys.argv[1:]:
    def check(name, fn):
        try:
            fn()
            out[f"{pid} {name}"] = "ok"
        except OSError as e:
            out[f"{pid} {name}"] = errno.errorcode.get(e.errno, str(e.errno))
    def environ():
        with open(f"/proc/{pid}/environ", "rb") as f:
            f.read()
    def root():
        # What PipeWire's module-access does (flatpak-utils.h).
        os.close(os.open(f"/proc/{pid}/root", os.O_RDONLY | os.O_DIRECTORY))
    def mem():
        os.close(os.open(f"/proc/{pid}/mem", os.O_RDONLY))
    def ptrace():
        # Seized, not stopped: detached again when this process exits.
        if libc.ptrace(PTRACE_SEIZE, int(pid), None, None) != 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
    for name, fn in (("environ", environ), ("root", root), ("mem", mem), ("ptrace", ptrace)):
        check(name, fn)
print(json.dumps(out))
"""

CHECKS = ("environ", "root", "mem", "ptrace")


def probe(user, *pids):
    """What a process of `user` may do to each pid: {(pid, check): result}."""
    r = subprocess.run([sys.executable, "-c", PROBE] + [str(p) for p in pids],
                       capture_output=True, text=True, timeout=20, **user_popen_args(user))
    assert r.returncode == 0, f"the probe failed: {r.stderr[-2000:]}"
    got = json.loads(r.stdout)
    return {(int(k.split()[0]), k.split()[1]): v for k, v in got.items()}


def unprivileged_user():
    """(uid, gid) of USER_NAME, made if missing; skips if it cannot be."""
    try:
        entry = pwd.getpwnam(USER_NAME)
    except KeyError:
        if not shutil.which("useradd"):
            pytest.skip(f"no user {USER_NAME} and no useradd to make one")
        r = subprocess.run(["useradd", "--system", "--no-create-home", "--user-group",
                            "--shell", "/usr/sbin/nologin", "--comment", "vchat tests", USER_NAME],
                           capture_output=True, text=True, timeout=30)
        try:
            entry = pwd.getpwnam(USER_NAME)  # made now, or by a run in parallel
        except KeyError:
            pytest.skip(f"useradd could not make the user {USER_NAME}: {r.stderr.strip()}")
    assert entry.pw_uid != 0 and entry.pw_gid != 0, f"{USER_NAME} is privileged: {entry}"
    return entry.pw_uid, entry.pw_gid


def daemon_args(color):
    return ["--camera", f"vchat-dumpable-cam-{color}", "--audio-source",
            "audiotestsrc is-live=true wave=sine freq=440", "--audio-sink", "fakesink"]


@pytest.fixture(scope="module")
def world():
    """A PipeWire session with a red and a blue camera, all as USER_NAME, and
    the signaling server (root)."""
    if os.geteuid() != 0:
        pytest.skip("running a session as another user needs root (setuid)")
    user = unprivileged_user()
    try:
        subprocess.run(["true"], check=True, timeout=10, **user_popen_args(user))
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"cannot start a process as {USER_NAME} ({user}) here: {e}")
    tmp = tempfile.mkdtemp(prefix="vchat-dumpable-")
    os.chmod(tmp, 0o755)  # the user goes through; what is under it is its own
    # PipeWire's access module says what it decided (info level); only
    # pipewire keeps the variable.
    saved = os.environ.get("PIPEWIRE_DEBUG")
    os.environ["PIPEWIRE_DEBUG"] = "mod.access:3,default:3"
    pw = PipeWireEnv(os.path.join(tmp, "pw"), user=user)
    server = None
    try:
        try:
            pw.start()
        finally:
            if saved is None:
                del os.environ["PIPEWIRE_DEBUG"]
            else:
                os.environ["PIPEWIRE_DEBUG"] = saved
        pw.env.pop("PIPEWIRE_DEBUG", None)
        if saved is not None:
            pw.env["PIPEWIRE_DEBUG"] = saved
        for name, rgb in (("red", RED), ("blue", BLUE)):
            pw.add_camera(f"vchat-dumpable-cam-{name}", rgb)
        server = Signald()
        yield pw, server, tmp, user
    finally:
        if server:
            server.stop()
        pw.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def access_decisions(pw, pid):
    """PipeWire's module-access log for the clients of process `pid`:
    ([access granted or waited for, per client], whether opening its
    /proc/PID/root failed with EACCES)."""
    with open(os.path.join(pw.logdir, "pipewire.log"), errors="replace") as f:
        log = f.read()
    clients = set(re.findall(rf"client (0x[0-9a-f]+) has trusted pid {pid}\b", log))
    decisions = []
    for c in clients:
        m = re.search(rf"client {c} '([^']+)' access granted|client {c} wait for '([^']+)'", log)
        decisions.append(m.group(1) or m.group(2) if m else None)
    eacces = f'failed to open "/proc/{pid}/root": Permission denied' in log
    if os.environ.get("VCHAT_TEST_LOGS"):
        print("\n".join(line for line in log.splitlines()
                        if f"/proc/{pid}/" in line or f"pid {pid}" in line
                        or any(c in line for c in clients)))
    return decisions, eacces


def test_a_call_works_when_vchatd_is_not_dumpable(world):
    pw, server, tmp, user = world
    uid = user[0]
    a = Vchatd(os.path.join(tmp, "a"), server.ws_url, name="Red", env=pw.env,
               args=daemon_args("red"), user=user)
    try:
        b = Vchatd(os.path.join(tmp, "b"), server.ws_url, name="Blue", env=pw.env,
                   args=daemon_args("blue"), user=user)
    except BaseException:
        a.stop()
        raise
    control = subprocess.Popen(["sleep", "60"], **user_popen_args(user))
    try:
        # Both daemons, the control and pipewire run as the user.
        for pid in (a.proc.pid, b.proc.pid, control.pid, pw._pipewire.pid):
            assert os.stat(f"/proc/{pid}").st_uid in (uid, 0)
            with open(f"/proc/{pid}/status") as f:
                uids = next(line for line in f if line.startswith("Uid:")).split()[1:]
            assert uids == [str(uid)] * 4, f"{pid} runs as {uids}"

        pa = a.manager("StartRandom", "(a{sv})", {})
        pb = b.manager("StartRandom", "(a{sv})", {})
        a.wait_call_state(pa, "connected", 30)
        b.wait_call_state(pb, "connected", 30)
        seen = {}
        for d, p, colour, who in ((a, pa, BLUE, "Red"), (b, pb, RED, "Blue")):
            seen[who] = pw.read_color(d.remote_video_node(p), timeout=15)
            assert close_to(seen[who], colour), f"{who} sees {seen[who]}, expected about {colour}"
        print(f"pictures as uid {uid}: Red sees {seen['Red']}, Blue sees {seen['Blue']}")

        # A process of the same user may look into its own processes, not
        # into vchatd: the prctl() is there.
        got = probe(user, a.proc.pid, b.proc.pid, control.pid)
        print(f"as uid {uid}: " + ", ".join(f"{pid} {c}: {r}" for (pid, c), r in got.items()))
        for check in CHECKS:
            assert got[(control.pid, check)] == "ok", f"the control: {check} {got}"
            for d in (a, b):
                assert got[(d.proc.pid, check)] in ("EACCES", "EPERM"), \
                    f"vchatd {d.proc.pid} is dumpable: {check} gave {got[(d.proc.pid, check)]}"

        # PipeWire met EACCES on the daemon's /proc/PID/root and still gave
        # it everything (the pictures above went through it).
        for d in (a, b):
            decisions, eacces = access_decisions(pw, d.proc.pid)
            print(f"pipewire on vchatd {d.proc.pid}: {decisions}, EACCES on /proc/PID/root: {eacces}")
            assert decisions and all(x == "unrestricted" for x in decisions), decisions
            assert eacces, "PipeWire did not log the EACCES on the daemon's /proc/PID/root"
        assert "staying dumpable" not in a.log and "non-dumpable" not in a.log, a.log[-2000:]

        a.call_method(pa, "Hangup")
        a.wait_call_state(pa, "ended")
        b.wait_call_state(pb, "ended")
    finally:
        control.kill()
        control.wait()
        b.stop()
        a.stop()


def test_vchatd_dumpable_leaves_it_dumpable(world):
    pw, server, tmp, user = world
    uid = user[0]
    d = Vchatd(os.path.join(tmp, "c"), server.ws_url, name="Debug",
               env=dict(pw.env, VCHATD_DUMPABLE="1"), args=daemon_args("red"), user=user)
    try:
        got = probe(user, d.proc.pid)
        print(f"VCHATD_DUMPABLE=1, as uid {uid}: "
              + ", ".join(f"{c}: {r}" for (_, c), r in got.items()))
        for check in CHECKS:
            assert got[(d.proc.pid, check)] == "ok", f"{check}: {got}"
        assert "VCHATD_DUMPABLE=1: staying dumpable" in d.log, d.log[-2000:]
        decisions, eacces = access_decisions(pw, d.proc.pid)
        assert not eacces and decisions and all(x == "unrestricted" for x in decisions), decisions
    finally:
        d.stop()
