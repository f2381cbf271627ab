#!/usr/bin/python3
"""Runs a command under the hardening of a systemd unit, without systemd.

    hardened.py UNIT-FILE -- ARGV...

The tests cannot start a systemd user manager, so the sandboxing directives
of the unit's [Service] section are imposed here the way systemd imposes
them (a mount namespace, no_new_privs, a seccomp filter), and ARGV is
executed under them. Every directive of the unit that looks like sandboxing
must be one this knows: an unknown one is an error (exit 2), so a directive
added to the unit is never left untested. Before it executes ARGV, it checks
that each restriction holds and says so on stderr ("hardened: ...").

Needs root (the mount namespace) and python3-seccomp.
"""
import ctypes
import errno
import os
import socket
import subprocess
import sys

import seccomp

# What systemd calls sandboxing (systemd.exec(5)), by name or prefix: the
# unit may use only those this file emulates (EMULATED).
SANDBOXING_PREFIXES = ("Protect", "Restrict", "Private", "SystemCall", "Capability",
                       "MemoryDeny", "LockPersonality", "NoNewPrivileges", "ReadOnly",
                       "ReadWrite", "Inaccessible", "IPAddress", "Lock", "Dynamic", "Remove")
EMULATED = {"NoNewPrivileges", "LockPersonality", "RestrictNamespaces",
            "SystemCallArchitectures", "RestrictAddressFamilies", "ProtectSystem",
            "RestrictRealtime"}

CLONE_NEWNS = 0x00020000
NAMESPACE_FLAGS = {
    "CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000, "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000, "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000, "CLONE_NEWTIME": 0x00000080,
}
PR_SET_NO_NEW_PRIVS = 38
# Address families by name (Linux).
FAMILIES = {"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16, "AF_PACKET": 17}
AF_MAX = 46
SCHED_RR = 2

libc = ctypes.CDLL(None, use_errno=True)


def fail(message):
    print(f"hardened: {message}", file=sys.stderr)
    sys.exit(2)


def read_service(path):
    """The [Service] section's key=value lines (the last value of a key)."""
    out, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]" and "=" in line:
                key, value = line.split("=", 1)
                out[key.strip()] = value.strip()
    return out


def yes(value):
    return value.lower() in ("yes", "true", "1", "on")


def protect_system(level):
    """ProtectSystem=: /usr and /boot read-only (yes), /etc too (full)."""
    paths = {"yes": ["/usr", "/boot", "/efi"], "true": ["/usr", "/boot", "/efi"],
             "full": ["/usr", "/boot", "/efi", "/etc"]}.get(level.lower())
    if paths is None:
        fail(f"ProtectSystem={level} is not emulated (only yes and full)")
    if libc.unshare(CLONE_NEWNS) != 0:
        fail(f"unshare(CLONE_NEWNS): {os.strerror(ctypes.get_errno())} (needs root)")
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    for p in paths:
        if os.path.isdir(p):
            subprocess.run(["mount", "--bind", p, p], check=True)
            subprocess.run(["mount", "-o", "remount,bind,ro", p], check=True)
    return paths


def build_filter(service):
    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    # SystemCallArchitectures=native: the filter holds only the native
    # architecture, and a call made through another one kills the process.
    if service.get("SystemCallArchitectures", "native") != "native":
        fail("only SystemCallArchitectures=native is emulated")
    f.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
    if "RestrictAddressFamilies" in service:
        allowed = set()
        for name in service["RestrictAddressFamilies"].split():
            if name.startswith("~") or name not in FAMILIES:
                fail(f"RestrictAddressFamilies: {name} is not emulated")
            allowed.add(FAMILIES[name])
        for af in range(AF_MAX):
            if af not in allowed:
                f.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.EQ, af))
        f.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.GE, AF_MAX))
    if yes(service.get("RestrictNamespaces", "no")):
        for call in ("unshare", "clone"):
            for flag in NAMESPACE_FLAGS.values():
                f.add_rule(seccomp.ERRNO(errno.EPERM), call, seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
        f.add_rule(seccomp.ERRNO(errno.EPERM), "setns")
        # As systemd does: clone3's flags are out of a filter's reach, so it
        # is refused and glibc falls back to clone.
        f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    if yes(service.get("LockPersonality", "no")):
        # Only the default personality, as systemd allows (one comparison:
        # libseccomp takes no two on the same argument).
        f.add_rule(seccomp.ERRNO(errno.EPERM), "personality", seccomp.Arg(0, seccomp.NE, 0))
    if yes(service.get("RestrictRealtime", "no")):
        for policy in (1, SCHED_RR, 6):  # SCHED_FIFO, SCHED_RR, SCHED_DEADLINE
            f.add_rule(seccomp.ERRNO(errno.EPERM), "sched_setscheduler",
                       seccomp.Arg(1, seccomp.EQ, policy))
    return f


def check(service, read_only):
    """Each restriction, tried on ourselves after it is in place."""
    said = []
    if yes(service.get("NoNewPrivileges", "no")):
        with open("/proc/self/status") as f:
            if "NoNewPrivs:\t1" not in f.read():
                fail("no_new_privs is not set")
        said.append("no new privileges")
    if "RestrictAddressFamilies" in service:
        try:
            socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()
            fail("an AF_PACKET socket could be made")
        except OSError as e:
            if e.errno != errno.EAFNOSUPPORT:
                fail(f"AF_PACKET refused with {e}, not EAFNOSUPPORT")
        first = service["RestrictAddressFamilies"].split()[0]
        socket.socket(FAMILIES[first], socket.SOCK_DGRAM).close()
        said.append("address families " + service["RestrictAddressFamilies"])
    if yes(service.get("RestrictNamespaces", "no")):
        if libc.unshare(NAMESPACE_FLAGS["CLONE_NEWUTS"]) == 0:
            fail("unshare(CLONE_NEWUTS) worked")
        said.append("no namespaces")
    if yes(service.get("LockPersonality", "no")):
        if libc.personality(0x0008) != -1:  # READ_IMPLIES_EXEC... and the like
            fail("personality() could be changed")
        said.append("personality locked")
    for p in read_only:
        if os.path.isdir(p):
            try:
                open(os.path.join(p, ".vchat-hardened-probe"), "w").close()
                fail(f"{p} is writable")
            except OSError as e:
                if e.errno != errno.EROFS:
                    fail(f"writing in {p} failed with {e}, not EROFS")
    if read_only:
        said.append("read-only " + " ".join(p for p in read_only if os.path.isdir(p)))
    print("hardened: " + "; ".join(said), file=sys.stderr, flush=True)


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        fail("usage: hardened.py UNIT-FILE -- ARGV...")
    service = read_service(sys.argv[1])
    argv = sys.argv[3:]
    for key in service:
        if key.startswith(SANDBOXING_PREFIXES) and key not in EMULATED:
            fail(f"the unit's {key}= is not emulated here: teach tests/lib/hardened.py")
    read_only = protect_system(service["ProtectSystem"]) if "ProtectSystem" in service else []
    # Set whatever NoNewPrivileges says: systemd sets it too whenever one of
    # the directives below installs a seccomp filter.
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        fail("prctl(PR_SET_NO_NEW_PRIVS) failed")
    build_filter(service).load()
    check(service, read_only)
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main()
