"""Plays a YUV4MPEG2 clip (.y4m, 4:2:0) as a live camera, in a loop, into a
PipeWire node: PipeWireEnv.add_clip_camera() runs it as

    python3 clipcam.py CLIP 'stream-properties="props,media.class=Video/Source,..."'

The file is mapped, not read into memory; each frame is pushed at the clip's
frame rate (paced by time.monotonic) into

    appsrc is-live=true do-timestamp=true (leaky, 2 frames) ─┐
    videotestsrc is-live=true pattern=black ─ compositor ────┴─ pipewiresink STREAM_PROPERTIES

so the node behaves like add_camera's videotestsrc one (a live source that
never blocks on a slow or absent reader). The compositor is there for
PipeWire 0.3.65: `appsrc ! pipewiresink` crashes at the first frame
(pipewiresink copies a buffer that is not from its pool into one of its pool
buffers, which has no memory before a reader has linked: gst_buffer_extract
into NULL), and so does `appsrc ! videoconvert ! (another format) !
pipewiresink`; a compositor writes into the sink's own buffers, as
videotestsrc does, and that works (it costs about 9 % of a core at 720p30
here). Exits 1 with a message on a GStreamer error or a clip it cannot read.
Needs python3-gi and GStreamer's app and compositor plugins
(gstreamer1.0-plugins-base).
"""
import mmap
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402


def parse_y4m(data):
    """(width, height, (fps_n, fps_d), frame_size, [offset of each frame's
    pixels]) of a 4:2:0 YUV4MPEG2 file's bytes."""
    end = data.find(b"\n")
    if end < 0 or not data[:10] == b"YUV4MPEG2 ":
        raise ValueError("not a YUV4MPEG2 file")
    width = height = None
    fps = (30, 1)
    colorspace = "420"
    for token in data[10:end].decode("ascii").split():
        tag, value = token[0], token[1:]
        if tag == "W":
            width = int(value)
        elif tag == "H":
            height = int(value)
        elif tag == "F":
            n, d = value.split(":")
            fps = (int(n), int(d))
        elif tag == "C":
            colorspace = value
    if not width or not height:
        raise ValueError("no W or H in the YUV4MPEG2 header")
    if not colorspace.startswith("420"):
        raise ValueError(f"only 4:2:0 clips are played (this one is C{colorspace})")
    size = width * height + 2 * ((width + 1) // 2) * ((height + 1) // 2)
    offsets = []
    pos = end + 1
    while pos < len(data) and data[pos:pos + 5] == b"FRAME":
        nl = data.find(b"\n", pos)
        if nl < 0 or nl + 1 + size > len(data):
            break
        offsets.append(nl + 1)
        pos = nl + 1 + size
    if not offsets:
        raise ValueError("no frame in the clip")
    return width, height, fps, size, offsets


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    path, sink_props = argv[1], argv[2]
    Gst.init(None)
    with open(path, "rb") as f:
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        width, height, (fps_n, fps_d), size, offsets = parse_y4m(data)
    except ValueError as e:
        sys.stderr.write(f"clipcam: {path}: {e}\n")
        return 1
    caps = f"video/x-raw,format=I420,width={width},height={height},framerate={fps_n}/{fps_d}"
    pipeline = Gst.parse_launch(
        f"videotestsrc is-live=true pattern=black ! {caps} ! compositor name=m ! {caps} ! "
        f"pipewiresink {sink_props} "
        f"appsrc name=src is-live=true do-timestamp=true format=time leaky-type=downstream "
        f"max-buffers=2 max-bytes=0 caps={caps} ! m.")
    src = pipeline.get_by_name("src")
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PLAYING)
    period = fps_d / fps_n
    t0 = time.monotonic()
    i = 0
    try:
        while True:
            msg = bus.pop_filtered(Gst.MessageType.ERROR)
            if msg:
                err, debug = msg.parse_error()
                sys.stderr.write(f"clipcam: {err.message} ({debug})\n")
                return 1
            delay = t0 + i * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:
                # Far behind (the machine was busy): go on from now rather
                # than push a burst of late frames.
                t0 = time.monotonic() - i * period
            off = offsets[i % len(offsets)]
            # (Gst.Buffer.new_wrapped of Python bytes crashes PyGObject 3.42's
            # pipelines: the bytes are freed under GStreamer; a copy is safe.)
            buf = Gst.Buffer.new_allocate(None, size, None)
            buf.fill(0, data[off:off + size])
            src.emit("push-buffer", buf)
            i += 1
    except KeyboardInterrupt:
        return 0
    finally:
        pipeline.set_state(Gst.State.NULL)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
