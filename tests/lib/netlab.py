"""A network lab for tests: two call ends and a router in network
namespaces of their own, made and removed by the test itself.

    with NetLab() as lab:                    # raises NetLabUnavailable if not allowed
        server = Signald(listen="0.0.0.0", wrapper=lab.argv("r"))
        a = Vchatd(..., server_url=lab.url("a", server.port), wrapper=lab.argv("a"))
        lab.shape(1000)                      # 1 Mbit/s each way, 150 ms of queue
        lab.loss(5)                          # 5 % of forwarded packets dropped
        print(lab.counters())                # bytes/packets that got through

Topology (the addresses exist only inside the namespaces, so labs of
several test runs at once do not meet):

    A  a0 10.77.1.2/24 ── veth ── ra 10.77.1.1/24  R  rb 10.77.2.1/24 ── veth ── b0 10.77.2.2/24  B
                                       (forwards; runs vchat-signald)

A and B have their default route via R, R forwards IPv4, lo is up in each.
Namespaces are called vchatlab-<pid>-<n>-{a,b,r}; the veths are made
directly inside them (`ip link add a0 netns A type veth peer ra netns R`),
so nothing ever appears in the machine's own namespace. A NetLab removes
everything on close() (also from atexit and on SIGTERM, which it turns into
SystemExit as pwenv does): it ends the processes it started with run_in(),
then any other process still in its namespaces (they can only be ours),
then deletes the namespaces, which takes the veths, qdiscs and nftables
rules with them. At start it sweeps labs of this prefix whose creating
process is gone (a run killed with SIGKILL).

Processes go into a namespace with `ip netns exec NS argv` (argv(ns) is that
prefix, for Vchatd(wrapper=...) or Signald(wrapper=...)). What crosses
namespaces and what does not:
  - Unix sockets on the file system do (a network namespace holds only
    abstract ones): the private dbus-daemons of tests/lib/vchatd.py listen
    on `unix:dir=`, which is always a path (dbus-daemon makes abstract
    sockets only for `unix:tmpdir=` / `unix:abstract=`), and PipeWire's
    socket is $XDG_RUNTIME_DIR/pipewire-0. So dbus-daemon, PipeWire and the
    test stay in the machine's namespace and vchatd in A or B reaches them.
  - TCP and UDP do not: a socket belongs to the namespace it was made in.
    socket(ns) makes one inside a namespace (a thread that setns()es, makes
    it and ends), which is how a test talks to Chromium's DevTools port on
    127.0.0.1 inside A or B.

Bandwidth (shape): `tc qdisc replace dev X root tbf rate R burst B latency L`
on both ends of each access link: an end's own egress (its uplink) and R's
egress toward it (its downlink). A call's packets from A to B go through
A's uplink and then B's downlink, so both ends sit behind a capped line, as
at home. With equal caps the first tbf is the bottleneck and the second
stays empty. A tbf on the sending host itself behaves like one in a router
for UDP: a full queue drops silently (the socket does not block: 150 ms of
queue is ~19 KB at 1 Mbit/s, far below a socket's send buffer, and without
IP_RECVERR the ENOBUFS is not reported).
  - latency (the queue's length in time, tbf's `latency`, so its limit is
    rate * latency + burst bytes): 150 ms by default. A home router's
    bottleneck queue holds some 100-200 ms at its line rate (a bigger one
    is bufferbloat: seconds of delay; a much smaller one drops bursts a
    real line would carry). A sender that overshoots the cap therefore sees
    its RTT grow by at most ~150 ms, then loss.
  - burst: 3028 bytes (two full-size Ethernet frames) by default, or 2 ms
    at the cap if that is more. A real line serialises packet by packet,
    so the bucket is kept just big enough that a packet of 1514 bytes
    always fits (a packet bigger than the bucket would never pass) and a
    back-to-back pair passes at once; a video frame's burst of packets
    is queued and paced out at the cap, as on a line of that rate.
  - tbf counts the Ethernet header (14 bytes a packet), as counters() does.
There is no netem in this kernel, so there is no added delay: without a
cap the RTT is well under a millisecond.

Loss (loss): nftables in R, table `inet netlab`, chain `forward`:
    iifname "ra" numgen random mod 10000 < PCT*100 counter name lost_ab drop
and the same for rb (B to A). Only forwarded packets (A <-> B: the media)
are dropped; the signaling between an end and vchat-signald in R is not
forwarded and never lost. Named counters fwd_ab / fwd_ba count what R
forwards.

Counters (counters): per direction "a->b" / "b->a": bytes and packets the
receiving end's veth got (`ip -s -j link`; includes the few bytes of
signaling R itself sends that end), packets dropped for loss (nft), packets
dropped by the shapers (tbf, `tc -s -j qdisc`), and bytes R forwarded.

Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN for `ip netns`), iproute2, and
nftables for loss(). NetLab() raises NetLabUnavailable, saying why, when
namespaces cannot be made; tests turn that into pytest.skip.
"""
import atexit
import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import socket as socketlib
import subprocess
import sys
import threading
import time

from pwenv import end_group

PREFIX = "vchatlab-"
NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000

# Interface and address plan (per lab; the same in every lab, as the
# addresses live inside the lab's namespaces only).
ADDR = {"a": "10.77.1.2", "b": "10.77.2.2"}
ROUTER = {"a": "10.77.1.1", "b": "10.77.2.1"}   # R's address on each end's link
END_DEV = {"a": "a0", "b": "b0"}
ROUTER_DEV = {"a": "ra", "b": "rb"}              # R's interface toward each end

DEFAULT_LATENCY_MS = 150
MIN_BURST = 2 * 1514

_seq = 0
_seq_lock = threading.Lock()


class NetLabUnavailable(RuntimeError):
    """Network namespaces cannot be made here (not root, no CAP_NET_ADMIN, no
    iproute2): the message says which."""


class NetLabError(RuntimeError):
    pass


def _run(argv, check=True, timeout=15, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise NetLabError(f"{' '.join(argv)} failed ({r.returncode}): "
                          f"{(r.stderr or r.stdout).strip()[-600:]}")
    return r


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _netns_pids(name):
    r = _run(["ip", "netns", "pids", name], check=False)
    return [int(p) for p in r.stdout.split() if p.isdigit()]


def _kill_netns_pids(name, grace=3.0):
    """Ends every process inside namespace `name` (TERM, then KILL)."""
    pids = _netns_pids(name)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pids and time.monotonic() < deadline:
        time.sleep(0.05)
        pids = _netns_pids(name)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def sweep_stale():
    """Removes labs of our prefix whose creating process is gone; returns
    the names removed."""
    removed = []
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return removed
    for name in names:
        m = re.fullmatch(re.escape(PREFIX) + r"(\d+)-\d+-[abr]", name)
        if not m or _pid_alive(int(m.group(1))):
            continue
        _kill_netns_pids(name, grace=1.0)
        if _run(["ip", "netns", "del", name], check=False).returncode == 0:
            removed.append(name)
    return removed


def _exit_on_sigterm():
    """SIGTERM (what meson sends a test that timed out) becomes SystemExit,
    so that with-blocks, finally and atexit remove the lab. Only from the
    main thread, and only if nobody handles SIGTERM already."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


class NetLab:
    """Namespaces A, B (call ends) and R (router); see the module doc.

    start() (or `with`) makes them; close() removes everything."""

    def __init__(self, start=True):
        global _seq
        with _seq_lock:
            _seq += 1
            n = _seq
        self.id = f"{os.getpid()}-{n}"
        self.ns = {k: f"{PREFIX}{self.id}-{k}" for k in ("a", "b", "r")}
        self._made = []
        self._procs = []
        self._nft_ready = False
        self._loss = {"a->b": 0.0, "b->a": 0.0}
        self.shaping = None
        self.closed = False
        if start:
            self.start()

    # -- life cycle ----------------------------------------------------------

    @staticmethod
    def check_available():
        """Raises NetLabUnavailable unless this process may make namespaces."""
        if not shutil.which("ip"):
            raise NetLabUnavailable("no `ip` command (iproute2 is not installed)")
        if os.geteuid() != 0:
            raise NetLabUnavailable("network namespaces need root (CAP_NET_ADMIN and "
                                    "CAP_SYS_ADMIN for `ip netns add`); this runs as uid "
                                    f"{os.geteuid()}")

    def start(self):
        self.check_available()
        sweep_stale()
        atexit.register(self.close)
        _exit_on_sigterm()
        try:
            for key in ("r", "a", "b"):
                r = _run(["ip", "netns", "add", self.ns[key]], check=False)
                if r.returncode != 0:
                    raise NetLabUnavailable(f"`ip netns add` was refused ({r.returncode}): "
                                            f"{r.stderr.strip()[-300:]}")
                self._made.append(self.ns[key])
            for key in ("a", "b", "r"):
                self.ip(key, "link", "set", "lo", "up")
            for end in ("a", "b"):
                _run(["ip", "link", "add", END_DEV[end], "netns", self.ns[end], "type", "veth",
                      "peer", "name", ROUTER_DEV[end], "netns", self.ns["r"]])
                self.ip(end, "addr", "add", f"{ADDR[end]}/24", "dev", END_DEV[end])
                self.ip("r", "addr", "add", f"{ROUTER[end]}/24", "dev", ROUTER_DEV[end])
                self.ip(end, "link", "set", END_DEV[end], "up")
                self.ip("r", "link", "set", ROUTER_DEV[end], "up")
                self.ip(end, "route", "add", "default", "via", ROUTER[end])
            self.exec("r", ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
            if shutil.which("nft"):
                self._ensure_nft()
                self._nft(self._nft_rules())
        except BaseException:
            self.close()
            raise
        return self

    def close(self):
        """Ends our processes and removes the namespaces; idempotent."""
        if self.closed:
            return
        self.closed = True
        for proc in reversed(self._procs):
            self._end(proc)
        self._procs = []
        for name in reversed(self._made):
            _kill_netns_pids(name)
            _run(["ip", "netns", "del", name], check=False)
        self._made = []
        atexit.unregister(self.close)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- running things in it ------------------------------------------------

    def argv(self, ns):
        """The prefix that runs a command inside namespace ns ("a", "b", "r")."""
        return ["ip", "netns", "exec", self.ns[ns]]

    def exec(self, ns, argv, check=True, timeout=15):
        """Runs a short command inside ns; its CompletedProcess (text)."""
        return _run(self.argv(ns) + list(argv), check=check, timeout=timeout)

    def ip(self, ns, *args, check=True):
        return _run(["ip", "-n", self.ns[ns]] + list(args), check=check)

    def run_in(self, ns, argv, **popen_kw):
        """subprocess.Popen of argv inside ns, in a process group of its
        own; ended (TERM, then KILL, with its group) on close()."""
        popen_kw.setdefault("start_new_session", True)
        popen_kw.setdefault("stdin", subprocess.DEVNULL)
        proc = subprocess.Popen(self.argv(ns) + list(argv), **popen_kw)
        self._procs.append(proc)
        return proc

    def _end(self, proc, timeout=5):
        end_group(proc, timeout)

    def socket(self, ns, family=socketlib.AF_INET, type=socketlib.SOCK_STREAM):
        """A socket made inside namespace ns (see the module doc)."""
        result = {}

        def make():
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                fd = os.open(os.path.join(NETNS_DIR, self.ns[ns]), os.O_RDONLY)
                try:
                    if libc.setns(fd, CLONE_NEWNET) != 0:
                        err = ctypes.get_errno()
                        raise OSError(err, f"setns into {self.ns[ns]}: {os.strerror(err)}")
                finally:
                    os.close(fd)
                result["sock"] = socketlib.socket(family, type)
            except BaseException as e:  # handed to the caller's thread
                result["error"] = e

        t = threading.Thread(target=make, name=f"setns {ns}")
        t.start()
        t.join()
        if "error" in result:
            raise result["error"]
        return result["sock"]

    def connect(self, ns, host, port, timeout=10):
        """A TCP connection made from inside namespace ns."""
        s = self.socket(ns)
        s.settimeout(timeout)
        try:
            s.connect((host, port))
        except BaseException:
            s.close()
            raise
        return s

    # -- addresses -----------------------------------------------------------

    @staticmethod
    def addr(ns):
        """An end's address ("a" or "b"), or R's address facing A for "r"."""
        return ROUTER["a"] if ns == "r" else ADDR[ns]

    @staticmethod
    def router_addr(end):
        """R's address on the link of end "a" or "b" (what that end reaches
        R by)."""
        return ROUTER[end]

    def url(self, end, port, scheme="ws", path="/ws"):
        """The URL end "a" or "b" reaches a server in R on `port` by."""
        return f"{scheme}://{ROUTER[end]}:{port}{path}"

    # -- bandwidth -----------------------------------------------------------

    def _shaper_devs(self, direction):
        """(namespace, device) of the two tbfs a direction passes."""
        src, dst = ("a", "b") if direction == "a->b" else ("b", "a")
        return [(src, END_DEV[src]), ("r", ROUTER_DEV[dst])]

    def shape(self, cap_kbit, burst=None, latency_ms=DEFAULT_LATENCY_MS, both_ways=True):
        """Caps A->B (and, with both_ways, B->A) at cap_kbit kbit/s: tbf on
        the sender's uplink and the receiver's downlink (module doc). burst
        in bytes (default: 3028, or 2 ms at the cap if more); latency_ms: the
        queue in milliseconds at the cap. Replaces an earlier shape."""
        cap_kbit = float(cap_kbit)
        if burst is None:
            burst = max(MIN_BURST, int(cap_kbit * 1000 / 8 * 0.002))
        directions = ["a->b", "b->a"] if both_ways else ["a->b"]
        for direction in ("a->b", "b->a"):
            for ns, dev in self._shaper_devs(direction):
                if direction in directions:
                    _run(["tc", "-n", self.ns[ns], "qdisc", "replace", "dev", dev, "root", "tbf",
                          "rate", f"{int(cap_kbit)}kbit", "burst", str(int(burst)),
                          "latency", f"{int(latency_ms)}ms"])
                else:
                    _run(["tc", "-n", self.ns[ns], "qdisc", "del", "dev", dev, "root"],
                         check=False)
        self.shaping = {"cap_kbit": cap_kbit, "burst": int(burst), "latency_ms": latency_ms,
                        "directions": directions}

    def unshape(self):
        """Removes every cap."""
        for direction in ("a->b", "b->a"):
            for ns, dev in self._shaper_devs(direction):
                _run(["tc", "-n", self.ns[ns], "qdisc", "del", "dev", dev, "root"], check=False)
        self.shaping = None

    # -- loss ----------------------------------------------------------------

    def _nft(self, script):
        if not shutil.which("nft"):
            raise NetLabUnavailable("no `nft` command (nftables is not installed; "
                                    "scripts/deps installs it)")
        r = subprocess.run(self.argv("r") + ["nft", "-f", "-"], input=script, text=True,
                           capture_output=True, timeout=15)
        if r.returncode != 0:
            raise NetLabError(f"nft in R failed ({r.returncode}): {r.stderr.strip()[-600:]}\n"
                              f"{script}")

    def _nft_rules(self):
        lines = ["flush chain inet netlab forward"]
        for direction, src, dst, tag in (("a->b", "a", "b", "ab"), ("b->a", "b", "a", "ba")):
            pct = self._loss[direction]
            if pct > 0:
                lines.append(f'add rule inet netlab forward iifname "{ROUTER_DEV[src]}" '
                             f"numgen random mod 10000 < {int(round(pct * 100))} "
                             f"counter name lost_{tag} drop")
            lines.append(f'add rule inet netlab forward iifname "{ROUTER_DEV[src]}" '
                         f'oifname "{ROUTER_DEV[dst]}" counter name fwd_{tag}')
        return "\n".join(lines) + "\n"

    def _ensure_nft(self):
        if self._nft_ready:
            return
        self._nft("table inet netlab {\n"
                  "  counter lost_ab { }\n  counter lost_ba { }\n"
                  "  counter fwd_ab { }\n  counter fwd_ba { }\n"
                  "  chain forward { type filter hook forward priority filter; policy accept; }\n"
                  "}\n")
        self._nft_ready = True

    def loss(self, pct, both_ways=True):
        """Drops pct % (0.01 % steps) of the packets R forwards from A to B
        (and, with both_ways, from B to A), at random."""
        if not 0 <= pct <= 100:
            raise ValueError("pct is 0..100")
        self._ensure_nft()
        self._loss = {"a->b": float(pct), "b->a": float(pct) if both_ways else 0.0}
        self._nft(self._nft_rules())

    def clear_loss(self):
        if not self._nft_ready:
            return
        self._loss = {"a->b": 0.0, "b->a": 0.0}
        self._nft(self._nft_rules())

    def cut(self, end):
        """Cuts `end`'s link at R: every packet from or to it is dropped,
        the signaling server's included (R runs it), as when a Wi-Fi drops.
        The end's own address and routes stay (its kernel sees no change)."""
        dev = ROUTER_DEV[end]
        self._nft(f"table inet netlab_cut_{end} {{\n"
                  "  chain cut_in {\n    type filter hook input priority -10; policy accept;\n"
                  f'    iifname "{dev}" drop\n  }}\n'
                  "  chain cut_fwd {\n    type filter hook forward priority -10; policy accept;\n"
                  f'    iifname "{dev}" drop\n    oifname "{dev}" drop\n  }}\n'
                  "  chain cut_out {\n    type filter hook output priority -10; policy accept;\n"
                  f'    oifname "{dev}" drop\n  }}\n'
                  "}\n")

    def change_address(self, end, new_addr):
        """`end` moves to another network, as a laptop from Wi-Fi to
        Ethernet: its address is deleted, `new_addr` (same /24) added on
        the same link, and the default route (which went with the last
        address of its subnet) put back."""
        self.ip(end, "addr", "del", f"{ADDR[end]}/24", "dev", END_DEV[end])
        self.ip(end, "addr", "add", f"{new_addr}/24", "dev", END_DEV[end])
        self.ip(end, "route", "replace", "default", "via", ROUTER[end])

    def restore(self, end):
        """Ends a cut()."""
        self._nft(f"delete table inet netlab_cut_{end}\n")

    # -- counters ------------------------------------------------------------

    def _rx(self, end):
        out = self.ip(end, "-s", "-j", "link", "show", "dev", END_DEV[end]).stdout
        stats = json.loads(out)[0]["stats64"]["rx"]
        return stats["bytes"], stats["packets"]

    def _tbf_drops(self, ns, dev):
        r = _run(["tc", "-n", self.ns[ns], "-s", "-j", "qdisc", "show", "dev", dev], check=False)
        try:
            return sum(q.get("drops", 0) for q in json.loads(r.stdout or "[]")
                       if q.get("kind") == "tbf")
        except ValueError:
            return 0

    def _nft_counters(self):
        if not self._nft_ready:
            return {}
        r = self.exec("r", ["nft", "-j", "list", "counters", "table", "inet", "netlab"],
                      check=False)
        out = {}
        try:
            for item in json.loads(r.stdout or "{}").get("nftables", []):
                c = item.get("counter")
                if c:
                    out[c["name"]] = (c.get("bytes", 0), c.get("packets", 0))
        except ValueError:
            pass
        return out

    def counters(self):
        """{"a->b": {...}, "b->a": {...}, "time": monotonic}: for each
        direction the receiving end's rx "bytes" and "packets" (Ethernet
        bytes, as tbf counts them) and when they were read ("time"),
        "lost" (packets dropped by loss()),
        "shaper_drops" (packets dropped by the tbfs), "forwarded_bytes" (by
        R). Differences of two calls give goodput over a window."""
        nft = self._nft_counters()
        out = {"time": time.monotonic()}
        for direction, dst, tag in (("a->b", "b", "ab"), ("b->a", "a", "ba")):
            # Stamped around the read itself: `ip` takes tens of ms on a
            # busy machine, which would skew a rate over a short window.
            before = time.monotonic()
            rx_bytes, rx_packets = self._rx(dst)
            stamp = (before + time.monotonic()) / 2
            out[direction] = {
                "time": stamp, "bytes": rx_bytes, "packets": rx_packets,
                "lost": nft.get(f"lost_{tag}", (0, 0))[1],
                "shaper_drops": sum(self._tbf_drops(ns, dev)
                                    for ns, dev in self._shaper_devs(direction)),
                "forwarded_bytes": nft.get(f"fwd_{tag}", (0, 0))[0],
            }
        return out

    @staticmethod
    def rate(c0, c1, direction):
        """kbit/s received in `direction` between two counters() results."""
        dt = c1[direction]["time"] - c0[direction]["time"]
        if dt <= 0:
            return 0.0
        return (c1[direction]["bytes"] - c0[direction]["bytes"]) * 8 / 1000 / dt
