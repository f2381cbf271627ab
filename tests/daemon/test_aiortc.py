"""vchatd and a WebRTC stack nobody here wrote: aiortc (Debian's
python3-aiortc 1.4), speaking vchat's signaling protocol to the real
vchat-signald, in a random call with vchatd, each side as the offerer.

aiortc differs from browsers where webrtcbin 1.22 is picky: it writes its
own ICE credentials in every bundled media section, puts all its
candidates in its description instead of trickling them, and matches the
candidates it gets by sdpMid. Each case checks what a person would: the
other's picture arrives (aiortc sees vchatd's red; vchatd decodes aiortc's
frames, at their size) and the call is `connected` on vchatd's side.

An H.264-only peer (some Safari versions, devices with a hardware encoder)
is played by aiortc with its video codecs limited to H.264, as the offerer
(vchatd answers in H.264) and as the answerer (vchatd offers VP8 and H.264
and sends what the answer chose)."""
import asyncio
import json
import logging
import time

import pytest

aiortc = pytest.importorskip("aiortc", reason="python3-aiortc is not installed (scripts/deps)")
websockets = pytest.importorskip("websockets",
                                 reason="python3-websockets is not installed (scripts/deps)")
np = pytest.importorskip("numpy")

from aiortc import (MediaStreamTrack, RTCPeerConnection,  # noqa: E402
                    RTCRtpSender, RTCSessionDescription)
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack  # noqa: E402
from aiortc.sdp import candidate_from_sdp  # noqa: E402
from av import VideoFrame  # noqa: E402

WIDTH, HEIGHT = 320, 240
BLUE = (0, 0, 255)


class BlueCamera(VideoStreamTrack):
    """A camera that shows blue."""

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        picture = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
        picture[:, :] = BLUE
        frame = VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts = pts
        frame.time_base = time_base
        return frame


async def aiortc_peer(ws_url, seen, timeout, client, h264_only=False, linger=3):
    """Queues for a random call, makes or answers the offer as the server
    says, and reads the peer's video: `seen` gets the role, the centre
    colours of the frames received, and the candidates taken. h264_only:
    its video offers H.264 alone (as some Safari versions and devices with
    a hardware encoder do). linger: seconds the call goes on once 30 frames
    came, before `seen` gets vchatd's stats and the call is left."""
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    pc.addTrack(BlueCamera())
    if h264_only:
        codecs = RTCRtpSender.getCapabilities("video").codecs
        for t in pc.getTransceivers():
            if t.kind == "video":
                t.setCodecPreferences([c for c in codecs if c.mimeType in ("video/H264", "video/rtx")])
    frames_done = asyncio.Event()

    @pc.on("track")
    def on_track(track: MediaStreamTrack):
        if track.kind != "video":
            return

        async def read():
            while len(seen["colours"]) < 30:
                frame = await track.recv()
                rgb = frame.to_ndarray(format="rgb24")
                h, w = rgb.shape[:2]
                seen["colours"].append(tuple(int(c) for c in rgb[h // 2, w // 2]))
            frames_done.set()

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

        await send({"type": "hello", "version": 1, "client": client, "name": "Aio"})
        assert (await recv())["type"] == "welcome"
        await send({"type": "queue"})
        call = None
        deadline = time.monotonic() + timeout
        while not frames_done.is_set():
            try:
                msg = await asyncio.wait_for(recv(), max(0.1, min(0.5, deadline - time.monotonic())))
            except asyncio.TimeoutError:
                if time.monotonic() > deadline:
                    break
                continue
            kind = msg.get("type")
            if kind == "matched":
                call = msg["call"]
                seen["role"] = msg["role"]
                if msg["role"] == "offerer":
                    # aiortc gathers before it answers: every candidate is
                    # in the description (none is trickled).
                    await pc.setLocalDescription(await pc.createOffer())
                    seen["description"] = pc.localDescription.sdp
                    await send({"type": "signal", "call": call, "sdp": {
                        "type": "offer", "sdp": pc.localDescription.sdp}})
            elif kind == "signal" and "sdp" in msg:
                if msg["sdp"]["type"] == "offer":
                    seen["offer"] = msg["sdp"]["sdp"]
                await pc.setRemoteDescription(RTCSessionDescription(**msg["sdp"]))
                if msg["sdp"]["type"] == "offer":
                    await pc.setLocalDescription(await pc.createAnswer())
                    seen["description"] = pc.localDescription.sdp
                    await send({"type": "signal", "call": call, "sdp": {
                        "type": "answer", "sdp": pc.localDescription.sdp}})
            elif kind == "signal" and "ice" in msg and msg["ice"]["candidate"]:
                ice = msg["ice"]
                candidate = candidate_from_sdp(ice["candidate"].split(":", 1)[1])
                candidate.sdpMid = ice.get("sdpMid")
                candidate.sdpMLineIndex = ice.get("sdpMLineIndex")
                seen["candidates"].append(ice)
                await pc.addIceCandidate(candidate)
            elif kind in ("peer_left", "error"):
                seen["end"] = msg
                break
        if call and frames_done.is_set():
            # Long enough for vchatd to decode a run of our frames.
            await asyncio.sleep(linger)
            seen["vchatd_stats"] = seen["read_stats"]()
            seen["vchatctl_show"] = seen["show"]()
            await send({"type": "leave", "call": call})
    await pc.close()


def call_with_aiortc(server, a, vchatd_offers, h264_only=False, linger=3):
    """A random call between vchatd `a` and aiortc, vchatd offering or
    answering; returns what aiortc saw (see aiortc_peer())."""
    seen = {"colours": [], "candidates": [], "role": None, "end": None}
    path = None
    if vchatd_offers:
        # The server makes the first in the queue the offerer.
        path = a.manager("StartRandom", "(a{sv})", {})
        a.wait(lambda: a.call_prop(path, "State") == "searching", 10, "vchatd searching")

    def read_stats():
        p = path or a.calls()[0]
        return {"state": a.call_prop(p, "State"), "stats": a.call_prop(p, "Stats")}

    seen["read_stats"] = read_stats
    seen["show"] = lambda: a.vchatctl("show", path or a.calls()[0]).stdout

    # The server makes a desktop daemon the offerer against any other client
    # (docs/protocol.md); between two daemons, the one that waited longer.
    # So for aiortc to offer, it names itself a daemon and queues first.
    client = "aiortc/1.4" if vchatd_offers else "vchatd/aiortc-1.4"

    async def main():
        peer = asyncio.ensure_future(aiortc_peer(server.ws_url, seen, 40, client, h264_only,
                                                 linger))
        if not vchatd_offers:
            await asyncio.sleep(1.0)
            nonlocal path
            path = a.manager("StartRandom", "(a{sv})", {})
        await peer

    asyncio.run(main())
    return seen


@pytest.mark.parametrize("vchatd_offers,h264_only",
                         [(True, False), (False, False), (False, True), (True, True)],
                         ids=["vchatd-offers", "aiortc-offers", "aiortc-offers-h264-only",
                              "aiortc-answers-h264-only"])
def test_vchatd_and_aiortc_see_each_other(server, plain_daemons, vchatd_offers, h264_only):
    a = plain_daemons("red")
    seen = call_with_aiortc(server, a, vchatd_offers, h264_only)
    print(f"aiortc was the {seen['role']}; it got {len(seen['candidates'])} trickled candidates "
          f"and {len(seen['colours'])} frames; vchatd: {seen.get('vchatd_stats')}")
    assert seen["role"] == ("answerer" if vchatd_offers else "offerer"), seen["role"]
    lines = seen.get("description", "").splitlines()
    ufrags = {line for line in lines if line.startswith("a=ice-ufrag:")}
    embedded = sum(line.startswith("a=candidate:") for line in lines)
    print(f"aiortc's {seen['role'][:-2]}: {len(ufrags)} distinct ice-ufrag, "
          f"{embedded} candidates written in")
    assert embedded > 0, "aiortc trickled after all: the test no longer covers that case"
    assert seen["end"] is None, f"the call ended early: {seen['end']}\n{a.log[-3000:]}"
    assert len(seen["colours"]) >= 30, \
        f"aiortc got {len(seen['colours'])} frames of vchatd's picture\n{a.log[-3000:]}"
    red = [c for c in seen["colours"][-10:] if c[0] > 180 and c[1] < 80 and c[2] < 80]
    assert len(red) >= 8, f"aiortc did not see vchatd's red: {seen['colours'][-10:]}"
    assert all(c.get("sdpMid") for c in seen["candidates"]), seen["candidates"]
    got = seen.get("vchatd_stats")
    assert got and got["state"] == "connected", got
    stats = got["stats"]
    assert stats.get("frames-decoded", 0) >= 30, f"vchatd decoded too little of aiortc's video: {stats}"
    assert (stats.get("recv-width"), stats.get("recv-height")) == (WIDTH, HEIGHT), stats
    assert stats.get("video-codec") == ("H264" if h264_only else "VP8"), stats
    codec = "H264" if h264_only else "VP8"
    assert f"video {codec}" in seen["vchatctl_show"], seen["vchatctl_show"]
    if h264_only:
        video = seen["description"].split("m=video", 1)[1].split("m=", 1)[0]
        assert "VP8" not in video and "H264" in video, video
    if vchatd_offers:
        # vchatd offers both, VP8 first: what the answerer takes is its choice.
        # VP9 is for another vchatd only (its client in `matched`).
        offer = seen["offer"].split("m=video", 1)[1].split("m=", 1)[0]
        assert offer.index("VP8/90000") < offer.index("H264/90000"), offer
        assert "VP9" not in offer, offer
        assert "packetization-mode=1" in offer and "profile-level-id=42e01f" in offer, offer


class RembLog(logging.Handler):
    """The REMB messages aiortc's video sender takes (its debug log says
    each one's bitrate)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.bitrates = []

    def emit(self, record):
        message = record.getMessage()
        if "receiver estimated maximum bitrate" in message:
            self.bitrates.append(int(message.rsplit(" ", 2)[-2]))


@pytest.mark.parametrize("vchatd_offers", [True, False], ids=["vchatd-offers", "aiortc-offers"])
def test_remb_both_ways_with_aiortc(server, plain_daemons, vchatd_offers):
    """aiortc knows no transport-wide feedback, only REMB with
    abs-send-time. vchatd offers (or answers with) both, stamps its video
    with abs-send-time, follows aiortc's REMB (Stats: available-kbps, and a
    target above the 300 kbit/s a call starts at, on this open link), and
    sends REMB from its own estimate of what aiortc sends, which aiortc's
    sender takes. (Both pictures are still, so both sides send far less
    than any estimate: how REMB moves the target is unit-tested in
    test-rate-control and test-remb.)"""
    a = plain_daemons("red")
    log = RembLog()
    logger = logging.getLogger("aiortc.rtcrtpsender")
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(log)
    try:
        seen = call_with_aiortc(server, a, vchatd_offers, linger=10)
    finally:
        logger.removeHandler(log)
        logger.setLevel(old_level)
    got = seen.get("vchatd_stats") or {}
    stats = got.get("stats", {})
    print(f"aiortc took {len(log.bitrates)} REMB from vchatd: {log.bitrates[:3]} ... "
          f"{log.bitrates[-3:]}; vchatd: available {stats.get('available-kbps')}, "
          f"target {stats.get('target-kbps')} kbit/s")
    assert seen["end"] is None, f"the call ended early: {seen['end']}\n{a.log[-3000:]}"
    assert got.get("state") == "connected", got
    offer = seen.get("offer") or seen.get("description", "")
    video = offer.split("m=video", 1)[1].split("m=", 1)[0]
    assert "goog-remb" in video and "abs-send-time" in video, video
    # vchatd reads aiortc's REMB (available-kbps is absent without TWCC
    # feedback or REMB).
    assert stats.get("available-kbps"), f"vchatd got no REMB from aiortc: {stats}\n{a.log[-3000:]}"
    # aiortc's REMB follows what arrives (at most 1.5 times it), and a still
    # red picture needs little: such a REMB must not drag the
    # target to the floor and the picture down the ladder.
    assert stats.get("target-kbps", 0) >= 300, f"vchatd's target fell with an idle REMB: {stats}"
    # aiortc takes vchatd's REMB: a few a second at most, one a second at
    # least, each a bitrate its encoder can use.
    assert len(log.bitrates) >= 5, f"aiortc got {len(log.bitrates)} REMB from vchatd\n{a.log[-3000:]}"
    assert all(50_000 <= b <= 4_000_000 for b in log.bitrates), log.bitrates
