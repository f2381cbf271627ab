"""A live camera for scripts/bench-call: plays a YUV4MPEG2 clip in a loop at
its frame rate (paced like clipcam.py) and writes down when each frame was
pushed, into one of two outputs:

    python3 stampcam.py CLIP LOG pipewire 'stream-properties="props,..."'
        clipcam.py's pipeline: appsrc (leaky, 2 frames) and a live black
        videotestsrc into a compositor ! pipewiresink: a PipeWire camera node
    python3 stampcam.py CLIP LOG shm SOCKET
        appsrc (leaky, 2 frames) ! shmsink socket-path=SOCKET: a camera read
        with `shmsrc socket-path=SOCKET is-live=true do-timestamp=true !
        video/x-raw,format=I420,width=...,height=...,framerate=...` (vchatd
        --video-source)

LOG gets one line per frame, "N T": N the frame's count since the start
(the clip's frame N % frames), T time.monotonic() (CLOCK_MONOTONIC, the
same clock in every process) just before the frame is pushed into the
appsrc: the frame's capture time for the glass-to-glass latency
(benchclip.FeedLog). Exits 1 on a GStreamer error or a clip it cannot read.
"""
import mmap
import os
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clipcam import parse_y4m  # noqa: E402


def caps_of(width, height, fps_n, fps_d):
    return f"video/x-raw,format=I420,width={width},height={height},framerate={fps_n}/{fps_d}"


def main(argv):
    if len(argv) != 5 or argv[3] not in ("pipewire", "shm"):
        sys.stderr.write(__doc__)
        return 2
    path, log_path, output, target = argv[1:]
    Gst.init(None)
    with open(path, "rb") as f:
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        width, height, (fps_n, fps_d), size, offsets = parse_y4m(data)
    except ValueError as e:
        sys.stderr.write(f"stampcam: {path}: {e}\n")
        return 1
    caps = caps_of(width, height, fps_n, fps_d)
    appsrc = (f"appsrc name=src is-live=true do-timestamp=true format=time "
              f"leaky-type=downstream max-buffers=2 max-bytes=0 caps={caps}")
    if output == "pipewire":
        desc = (f"videotestsrc is-live=true pattern=black ! {caps} ! compositor name=m ! {caps} ! "
                f"pipewiresink {target} {appsrc} ! m.")
    else:
        desc = (f"{appsrc} ! shmsink socket-path={target} wait-for-connection=false sync=false "
                f"shm-size={size * 12}")
    log = open(log_path, "w", buffering=1 << 16)
    pipeline = Gst.parse_launch(desc)
    src = pipeline.get_by_name("src")
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PLAYING)
    period = fps_d / fps_n
    t0 = time.monotonic()
    i = 0
    last_flush = t0
    try:
        while True:
            msg = bus.pop_filtered(Gst.MessageType.ERROR)
            if msg:
                err, debug = msg.parse_error()
                sys.stderr.write(f"stampcam: {err.message} ({debug})\n")
                return 1
            delay = t0 + i * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:
                t0 = time.monotonic() - i * period
            off = offsets[i % len(offsets)]
            buf = Gst.Buffer.new_allocate(None, size, None)
            buf.fill(0, data[off:off + size])
            now = time.monotonic()
            src.emit("push-buffer", buf)
            log.write(f"{i} {now:.6f}\n")
            if now - last_flush > 0.5:
                log.flush()
                last_flush = now
            i += 1
    except KeyboardInterrupt:
        return 0
    finally:
        log.close()
        pipeline.set_state(Gst.State.NULL)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
