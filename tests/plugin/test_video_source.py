"""What a frontend shows: the peer's camera picture, through the GStreamer
source that libvchat makes for a call (vchat_call_create_video_source), with
a private PipeWire and two virtual cameras of different colours. Also the
cameras list and select_camera. Through GObject Introspection."""
import os

import gi
import pytest

gi.require_version("VChat", "1.0")
gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst, VChat  # noqa: E402

from callenv import COLORS, close_to, pipewire, server  # noqa: E402,F401 (fixtures)
from vchatd import Vchatd  # noqa: E402

RED = COLORS["red"]
BLUE = COLORS["blue"]


def wait(cond, timeout, what):
    ctx = GLib.MainContext.default()
    deadline = GLib.get_monotonic_time() + timeout * 1000000
    while not cond():
        if GLib.get_monotonic_time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        ctx.iteration(False)
        GLib.usleep(10000)


def run(obj, method, *args):
    """obj.method_async(*args) and its _finish, on a main loop."""
    loop = GLib.MainLoop()
    out = {}

    def done(source, result):
        out["result"] = result
        loop.quit()

    getattr(obj, method + "_async")(*args, None, done)
    loop.run()
    return getattr(obj, method + "_finish")(out["result"])


def pull_frames(source, frames, w, h):
    """The last of `frames` RGB frames of `source`, or None."""
    pipeline = Gst.Pipeline()
    scale = Gst.ElementFactory.make("videoscale")
    sink = Gst.ElementFactory.make("appsink")
    sink.set_property("caps", Gst.Caps.from_string(f"video/x-raw,format=RGB,width={w},height={h}"))
    sink.set_property("sync", False)
    for e in (source, scale, sink):
        pipeline.add(e)
    assert source.link(scale) and scale.link(sink)
    pipeline.set_state(Gst.State.PLAYING)
    try:
        sample = None
        for _ in range(frames):
            sample = sink.emit("try-pull-sample", 5 * Gst.SECOND)
            if sample is None:
                return None
        buf = sample.get_buffer()
        ok, info = buf.map(Gst.MapFlags.READ)
        data = bytes(info.data)
        buf.unmap(info)
        return data
    finally:
        pipeline.set_state(Gst.State.NULL)


def read_color(pipewire, call, kind, frames=8, timeout=20):
    """The average (r, g, b) of the centre of a frame of the call's picture,
    through the plugin's video source. Like pwenv's read_color, it waits for
    the node and tries again: a reader started before its node exists is
    never linked to it."""
    w, h = 64, 48
    node = call.get_preview_node() if kind == VChat.VideoKind.PREVIEW else call.get_remote_video_node()
    pipewire.wait_node(node, timeout=timeout)
    deadline = GLib.get_monotonic_time() + timeout * 1000000
    data = None
    while data is None and GLib.get_monotonic_time() < deadline:
        source = call.create_video_source(kind)
        assert source.get_static_pad("src") is not None
        data = pull_frames(source, frames, w, h)
    assert data is not None, f"no picture from the video source of {node}"
    stride = (w * 3 + 3) & ~3
    sums, count = [0, 0, 0], 0
    for y in range(h // 4, h - h // 4):
        for x in range(w // 4, w - w // 4):
            i = y * stride + x * 3
            for c in range(3):
                sums[c] += data[i + c]
            count += 1
    return tuple(round(s / count) for s in sums)


def test_video_source_shows_the_pictures(pipewire, server, tmp_path, monkeypatch):
    # pipewiresrc in this process talks to the private PipeWire.
    for k, v in pipewire.env.items():
        if k != "DBUS_SESSION_BUS_ADDRESS" and os.environ.get(k) != v:
            monkeypatch.setenv(k, v)
    Gst.init(None)
    args = ["--audio-source", "audiotestsrc is-live=true wave=sine freq=440",
            "--audio-sink", "fakesink"]
    a = Vchatd(str(tmp_path / "a"), server.ws_url, name="Red", env=pipewire.env,
               args=["--camera", "vchat-test-cam-red"] + args)
    b = Vchatd(str(tmp_path / "b"), server.ws_url, name="Blue", env=pipewire.env,
               args=["--camera", "vchat-test-cam-blue"] + args)
    try:
        ca = VChat.Client.new_sync(a.conn, None)
        cb = VChat.Client.new_sync(b.conn, None)

        # The cameras, as the daemon sees them.
        wait(lambda: ca.get_cameras().get_n_items() >= 2, 15, "the cameras")
        ids = {c.get_id(): c for c in ca.get_cameras()}
        assert {"vchat-test-cam-red", "vchat-test-cam-blue"} <= set(ids)
        assert ids["vchat-test-cam-red"].get_name() == "Red test camera"
        assert ca.props.camera == "vchat-test-cam-red"

        call_a = run(ca, "start_random", None, None, False)
        call_b = run(cb, "start_random", None, None, False)
        wait(lambda: call_a.get_state() == VChat.CallState.CONNECTED, 30, "A connected")
        wait(lambda: call_b.get_state() == VChat.CallState.CONNECTED, 30, "B connected")
        wait(lambda: call_a.get_remote_video_node() and call_a.get_preview_node(), 15,
             "A's video nodes")

        got = read_color(pipewire, call_a, VChat.VideoKind.REMOTE)
        assert close_to(got, BLUE), f"A sees {got}, expected about {BLUE}"
        got = read_color(pipewire, call_a, VChat.VideoKind.PREVIEW)
        assert close_to(got, RED), f"A's preview is {got}, expected about {RED}"

        # Switching the camera: the client follows, and so does the peer's picture.
        notified = []
        ca.connect("notify::camera", lambda *x: notified.append(ca.props.camera))
        assert run(ca, "select_camera", "vchat-test-cam-blue")
        wait(lambda: ca.get_camera() == "vchat-test-cam-blue", 10, "the camera to change")
        assert notified and notified[-1] == "vchat-test-cam-blue"
        wait(lambda: call_b.get_remote_video_node(), 15, "B's remote node")
        deadline = GLib.get_monotonic_time() + 15 * 1000000
        while True:
            got = read_color(pipewire, call_b, VChat.VideoKind.REMOTE)
            if close_to(got, BLUE) or GLib.get_monotonic_time() > deadline:
                break
        assert close_to(got, BLUE), f"B sees {got} after A switched to blue"

        run(call_a, "hangup")
        wait(lambda: call_b.get_end_reason() == VChat.EndReason.PEER_HANGUP, 10, "B's end")
    finally:
        a.stop()
        b.stop()
