"""libvchat from Python through GObject Introspection (the VChat-1.0 typelib
of the build, found through GI_TYPELIB_PATH and LD_LIBRARY_PATH): a random
call between two real daemons driven only through VChat, the peer's camera
picture read from decoded frames, a chat message each way and a hangup."""
import os
import time

import gi
import pytest

from callenv import COLORS, close_to
from pwenv import centre_color

try:
    gi.require_version("VChat", "1.0")
    gi.require_version("Gst", "1.0")
    gi.require_version("GstApp", "1.0")
    from gi.repository import Gio, GLib, Gst, GstApp, VChat  # noqa: F401 (GstApp: the AppSink API)
except (ValueError, ImportError) as e:
    pytest.skip(f"the VChat typelib is not available: {e}", allow_module_level=True)

Gst.init(None)


def iterate_until(predicate, timeout, what):
    """Runs the default main context (the library's signals arrive there)
    until predicate() holds."""
    ctx = GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        if not ctx.iteration(False):
            time.sleep(0.01)


def finish(start, *args):
    """Calls an _async method with a callback and iterates until it finishes;
    the result of the matching _finish."""
    box = {}
    start(*args, None, lambda obj, res, *_: box.setdefault("res", (obj, res)))
    iterate_until(lambda: "res" in box, 20, f"{start.__name__} to finish")
    return box["res"]


def connect_to(daemon):
    return Gio.DBusConnection.new_for_address_sync(
        daemon.bus.address,
        Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)


def decoding(call):
    """Whether the call's stats say the peer's pictures are being decoded."""
    stats = call.dup_stats()
    return stats is not None and stats.recv_width > 0 and stats.recv_fps > 0


def read_color(call, kind, timeout=20, frames=6):
    """The centre colour of a decoded frame of the call's picture; the
    pipeline is built again when no frame comes (the node may be young)."""
    w, h = 64, 48
    deadline = time.monotonic() + timeout
    last_error = "no frame"
    while time.monotonic() < deadline:
        try:
            source = call.create_video_source(kind)
        except GLib.Error as e:
            last_error = e.message
            time.sleep(0.3)
            continue
        pipeline = Gst.Pipeline()
        rest = Gst.parse_bin_from_description(
            f"videoconvert ! videoscale ! video/x-raw,format=RGB,width={w},height={h} "
            "! appsink name=sink sync=false", True)
        pipeline.add(source)
        pipeline.add(rest)
        assert source.link(rest)
        sink = rest.get_by_name("sink")
        pipeline.set_state(Gst.State.PLAYING)
        data = None
        try:
            for _ in range(frames):
                sample = sink.try_pull_sample(3 * Gst.SECOND)
                if sample is None:
                    break
                buf = sample.get_buffer()
                data = buf.extract_dup(0, buf.get_size())
        finally:
            pipeline.set_state(Gst.State.NULL)
        if data is not None and len(data) >= w * h * 3:
            return centre_color(data, w, h)
        last_error = "no frame within 3 s"
    raise AssertionError(f"no picture from the call: {last_error}")


def test_random_call(daemons, pipewire, monkeypatch):
    a, b = daemons("red", "blue")
    # pipewiresrc in this process talks to the private PipeWire
    for key in ("PIPEWIRE_RUNTIME_DIR", "XDG_RUNTIME_DIR"):
        monkeypatch.setenv(key, pipewire.env[key])

    # one client made synchronously, the other asynchronously
    client_a = VChat.Client.new_sync(connect_to(a), None)
    _, res = finish(VChat.Client.new_async, connect_to(b))
    client_b = VChat.Client.new_finish(res)
    for client in (client_a, client_b):
        assert client.get_connected()
        iterate_until(lambda: client.get_signaling_state() == VChat.SignalingState.ONLINE, 10,
                      "the daemon to be online")
        assert client.props.version

    obj, res = finish(client_a.start_random_async, ["chess", "jazz"], None, False)
    call_a = obj.start_random_finish(res)
    obj, res = finish(client_b.start_random_async, ["jazz"], None, False)
    call_b = obj.start_random_finish(res)
    assert call_a.get_kind() == VChat.CallKind.RANDOM

    states = {call_a: [], call_b: []}
    for call in states:
        call.connect("notify::state", lambda c, _p: states[c].append(c.get_state()))
    qualities = []
    call_a.connect("notify::quality", lambda c, _p: qualities.append(c.props.quality))
    assert call_a.get_quality() is None
    iterate_until(lambda: all(c.get_state() == VChat.CallState.CONNECTED for c in states), 30,
                  "both calls to be connected")
    assert VChat.CallState.CONNECTED in states[call_a]
    assert call_a.get_peer_name() in ("", "Blue 1")  # "" when the peer is anonymous
    assert "jazz" in list(call_a.get_common_interests() or [])

    # Quality: a word within seconds, notified, the daemon's own; the stats
    # carry the rate controller's numbers.
    iterate_until(lambda: qualities and qualities[-1] in ("good", "fair", "poor"), 10,
                  "a quality")
    path_a = call_a.get_object_path()
    iterate_until(lambda: call_a.get_quality() == a.call_prop(path_a, "Quality"), 5,
                  "the quality to be the daemon's")
    stats = call_a.dup_stats()
    assert stats.quality in ("good", "fair", "poor") and stats.max_kbps > 0
    assert isinstance(stats.cpu_limited, bool) and stats.freezes >= 0
    iterate_until(lambda: call_a.get_remote_video_node() and call_b.get_remote_video_node(), 15,
                  "the remote video nodes")
    # A reader that comes before the first decoded picture gets nothing (a
    # PipeWire node without a format yet): wait until the stats say pictures arrive.
    iterate_until(lambda: decoding(call_a) and decoding(call_b), 20, "pictures to arrive")

    # the picture: each side sees the other's camera, and its own preview
    assert close_to(read_color(call_a, VChat.VideoKind.REMOTE), COLORS["blue"])
    assert close_to(read_color(call_b, VChat.VideoKind.REMOTE), COLORS["red"])
    assert close_to(read_color(call_a, VChat.VideoKind.PREVIEW), COLORS["red"])

    # chat, both ways
    got = {call_a: [], call_b: []}
    for call in got:
        call.connect("message-received", lambda c, text, t: got[c].append((text, t)))
    obj, res = finish(call_a.send_message_async, "hello from red")
    assert obj.send_message_finish(res)
    iterate_until(lambda: got[call_b], 10, "the message to arrive")
    assert got[call_b][0][0] == "hello from red"
    assert abs(got[call_b][0][1] / 1e6 - time.time()) < 60
    obj, res = finish(call_b.send_message_async, "hi, blue here")
    obj.send_message_finish(res)
    iterate_until(lambda: got[call_a], 10, "the reply to arrive")
    assert got[call_a][0][0] == "hi, blue here"

    # hangup: each side knows why it ended
    obj, res = finish(call_a.hangup_async)
    assert obj.hangup_finish(res)
    iterate_until(lambda: all(c.get_state() == VChat.CallState.ENDED for c in states), 15,
                  "both calls to end")
    assert call_a.get_end_reason() == VChat.EndReason.HANGUP
    assert call_b.get_end_reason() == VChat.EndReason.PEER_HANGUP
    assert call_a.props.end_reason == VChat.EndReason.HANGUP
    iterate_until(lambda: call_a.get_quality() is None, 5, "the quality to be cleared")
    assert qualities[-1] is None and a.call_prop(path_a, "Quality") == ""

    # a finished call refuses more work with a VChat error
    obj, res = finish(call_a.send_message_async, "too late")
    with pytest.raises(GLib.Error) as e:
        obj.send_message_finish(res)
    assert e.value.domain == GLib.quark_to_string(VChat.error_quark())
