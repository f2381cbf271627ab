"""A peer whose host addresses are mDNS names (`<uuid>.local`, as Firefox
and Chromium hide them): vchatd resolves each with the system's resolver
and gives ICE the address it found, or says in its log that the name does
not resolve, and the call then ends instead of hanging.

The peer is aiortc (Debian's python3-aiortc) as the offerer, its offer's
candidates rewritten to `.local` names. On a desktop nss-mdns asks
avahi-daemon; here vchatd runs in a mount namespace of its own whose
/etc/hosts names the peer's addresses (resolvable case) or does not
(unresolvable case), and whose /etc/resolv.conf is empty, so nothing leaves
the machine. The resolver path in vchatd (GResolver → getaddrinfo → NSS) is
the same; avahi and nss-mdns themselves are not exercised."""
import asyncio
import json
import os
import re
import shutil
import subprocess
import time
import uuid

import pytest

aiortc = pytest.importorskip("aiortc", reason="python3-aiortc is not installed (scripts/deps)")
websockets = pytest.importorskip("websockets",
                                 reason="python3-websockets is not installed (scripts/deps)")

from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack  # noqa: E402
from aiortc.sdp import candidate_from_sdp  # noqa: E402
from conftest import TEST_SOURCES, test_source as source_for  # noqa: E402
from vchatd import Vchatd  # noqa: E402

# `sh -c` in a new mount namespace: the hosts and resolv.conf given replace
# the system's for vchatd alone (private propagation: nothing leaks out).
NAMESPACE_SCRIPT = ('mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/resolv.conf '
                    '&& shift 2 && exec "$@"')


def can_unshare():
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not can_unshare(),
                                reason="needs root and unshare(1) for a mount namespace")

HOST_CANDIDATE = re.compile(r"^(a=candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host.*)$")


def hide_addresses(sdp, names):
    """The description with each host candidate's address replaced by an
    mDNS name (one per address, kept in `names`: address → name)."""
    lines = []
    for line in sdp.splitlines():
        m = HOST_CANDIDATE.match(line)
        if m:
            name = names.setdefault(m.group(2), f"{uuid.uuid4()}.local")
            line = m.group(1) + name + m.group(3)
        lines.append(line)
    return "\r\n".join(lines) + "\r\n"


async def mdns_peer(ws_url, seen, timeout, give_candidates):
    """Queues as a daemon-like client (so that it offers, see test_aiortc.py),
    offers with its host addresses hidden behind mDNS names, and waits until
    it has seen 10 of vchatd's frames or the call ends. give_candidates:
    whether vchatd's own candidates reach aiortc (without them, only vchatd
    can start a path, to the names it must resolve)."""
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    pc.addTrack(VideoStreamTrack())
    frames = asyncio.Event()

    @pc.on("track")
    def on_track(track):
        if track.kind != "video":
            return

        async def read():
            for _ in range(10):
                await track.recv()
            frames.set()

        asyncio.ensure_future(read())

    async with websockets.connect(ws_url) as ws:
        async def send(msg):
            await ws.send(json.dumps(msg))

        async def recv():
            while True:
                msg = json.loads(await ws.recv())
                if msg.get("type") == "ping":
                    await send({"type": "pong"})
                    continue
                return msg

        await send({"type": "hello", "version": 1, "client": "vchatd/aiortc-mdns", "name": "Mdns"})
        assert (await recv())["type"] == "welcome"
        await send({"type": "queue"})
        call = None
        deadline = time.monotonic() + timeout
        while not frames.is_set() and time.monotonic() < deadline:
            try:
                msg = await asyncio.wait_for(recv(), 0.5)
            except asyncio.TimeoutError:
                continue
            kind = msg.get("type")
            if kind == "matched":
                call = msg["call"]
                assert msg["role"] == "offerer", msg
                await pc.setLocalDescription(await pc.createOffer())
                sdp = hide_addresses(pc.localDescription.sdp, seen["names"])
                seen["offer"] = sdp
                await send({"type": "signal", "call": call,
                            "sdp": {"type": "offer", "sdp": sdp}})
            elif kind == "signal" and "sdp" in msg:
                await pc.setRemoteDescription(RTCSessionDescription(**msg["sdp"]))
            elif kind == "signal" and "ice" in msg and msg["ice"]["candidate"] and give_candidates:
                ice = msg["ice"]
                candidate = candidate_from_sdp(ice["candidate"].split(":", 1)[1])
                candidate.sdpMid = ice.get("sdpMid")
                candidate.sdpMLineIndex = ice.get("sdpMLineIndex")
                await pc.addIceCandidate(candidate)
            elif kind in ("peer_left", "error"):
                seen["end"] = msg
                break
        seen["frames"] = frames.is_set()
        if frames.is_set():
            await asyncio.sleep(2)
            seen["vchatd"] = seen["read"]()
            await send({"type": "leave", "call": call})
    await pc.close()


def start_vchatd(server, tmp_path, hosts_lines):
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n::1 localhost\n" + "".join(hosts_lines))
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("")
    return Vchatd(str(tmp_path / "d"), server.ws_url, name="Red",
                  args=TEST_SOURCES + source_for("red"),
                  wrapper=["unshare", "-m", "--", "sh", "-c", NAMESPACE_SCRIPT, "vchatd-mdns",
                           str(hosts), str(resolv)])


def run_call(d, seen, timeout, give_candidates, server):
    def read():
        p = d.calls()[0]
        return {"state": d.call_prop(p, "State"), "stats": d.call_prop(p, "Stats")}

    seen["read"] = read

    async def main():
        peer = asyncio.ensure_future(mdns_peer(server.ws_url, seen, timeout, give_candidates))
        await asyncio.sleep(1.0)
        d.manager("StartRandom", "(a{sv})", {})
        await peer

    asyncio.run(main())


def test_mdns_names_that_resolve(server, tmp_path):
    """The peer's names resolve: the call connects on the candidates vchatd
    resolved (its remote candidate is the peer's host one, not a
    peer-reflexive address learnt from the peer's checks)."""
    # The peer's addresses are known only once it has gathered: every
    # address of this machine gets its name in advance, and the names
    # are handed to the peer to use.
    out = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True).stdout
    addresses = {a.split("/")[0] for a in re.findall(r"inet6? (\S+)", out)}
    names = {a: f"{uuid.uuid4()}.local" for a in addresses}
    d = start_vchatd(server, tmp_path, [f"{a} {n}\n" for a, n in names.items()])
    seen = {"names": dict(names), "end": None}
    try:
        run_call(d, seen, 40, True, server)
        hidden = [n for n in names.values() if n in seen.get("offer", "")]
        print(f"the peer's offer hid {len(hidden)} addresses behind mDNS names; "
              f"vchatd: {seen.get('vchatd')}")
        assert hidden, f"the offer carried no host candidate to hide:\n{seen.get('offer')}"
        assert seen["end"] is None, f"the call ended early: {seen['end']}\n{d.log[-3000:]}"
        assert seen["frames"], f"aiortc got no frames from vchatd\n{d.log[-3000:]}"
        got = seen["vchatd"]
        assert got["state"] == "connected", got
        assert got["stats"].get("frames-decoded", 0) > 0, got
        resolved = re.findall(r"the peer's mDNS name (\S+) resolved", d.log)
        assert set(resolved) <= set(hidden) and resolved, d.log[-3000:]
        assert "does not resolve here" not in d.log, d.log[-3000:]
        assert got["stats"].get("remote-candidate") == "host", got
    finally:
        d.stop()


def test_mdns_names_that_do_not_resolve(server, tmp_path):
    """Nothing resolves the peer's names, and the peer cannot start a path
    itself: vchatd says which name did not resolve and why that matters,
    and the call ends (`network`, the peer told) instead of staying
    `connecting`."""
    d = start_vchatd(server, tmp_path, [])
    seen = {"names": {}, "end": None}
    started = time.monotonic()
    try:
        run_call(d, seen, 75, False, server)
        took = time.monotonic() - started
        path = d.calls()[0] if d.calls() else None
        print(f"the call ended after {took:.0f} s: peer told {seen['end']}; "
              f"vchatd: {path and d.call_prop(path, 'EndReason')}")
        lines = [line for line in d.log.splitlines() if "does not resolve here" in line]
        assert lines, d.log[-3000:]
        print(lines[0])
        assert any(n in lines[0] for n in seen["names"].values()), lines[0]
        assert "avahi-daemon" in lines[0] and "libnss-mdns" in lines[0], lines[0]
        assert not seen["frames"]
        assert seen["end"] and seen["end"]["type"] == "peer_left", seen["end"]
        d.wait(lambda: not d.calls() or d.call_prop(d.calls()[0], "State") == "ended", 10,
               "vchatd's call to end")
        if d.calls():
            assert d.call_prop(d.calls()[0], "EndReason") == "network"
    finally:
        d.stop()
