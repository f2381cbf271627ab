"""Reads a video node for scripts/bench-call as a viewer would, and tells
what each frame is:

    python3 stampwatch.py NODE OUTDIR

    pipewiresrc target-object=NODE always-copy=true ! video/x-raw,format=I420
      ! appsink sync=false (the newest 2 frames)

(NODE "shm:SOCKET:WxH" reads a stampcam.py shm camera instead; NODE "-"
prints "ready" once started and reads the node's name from standard
input.) The copy
(always-copy) gives the node's buffer back to its producer at once.

For each frame, one line on standard output, "T STAMP W H": T the
time.monotonic() at which appsink handed it over (the frame reached the
viewer), STAMP the clip frame number its stamp holds (benchclip.read_stamp;
-1 when it does not read), W x H the picture's size. While the file
OUTDIR/capture exists, one luma plane a second (of a frame whose stamp
reads) is saved as OUTDIR/y-T-STAMP.npy for the PSNR. A reader that gets
no frame for 5 s (never linked) starts again.
"""
import os
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import Gst, GstVideo  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
from benchclip import read_stamp  # noqa: E402

RELINK = 5.0


def run_once(node, outdir, out, state):
    if node.startswith("shm:"):
        _, path, size = node.split(":")
        w, h = size.split("x")
        src = (f"shmsrc socket-path={path} is-live=true do-timestamp=true ! "
               f"video/x-raw,format=I420,width={w},height={h},framerate=30/1")
    else:
        src = f"pipewiresrc target-object={node} always-copy=true ! video/x-raw,format=I420"
    pipeline = Gst.parse_launch(f"{src} ! appsink name=sink sync=false max-buffers=2 drop=true")
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    last = time.monotonic()
    try:
        while True:
            sample = sink.emit("try-pull-sample", 200 * Gst.MSECOND)
            now = time.monotonic()
            if sample is None:
                if sink.get_property("eos") or now - last > RELINK:
                    return
                continue
            last = now
            info = GstVideo.VideoInfo.new_from_caps(sample.get_caps())
            buf = sample.get_buffer()
            ok, mapinfo = buf.map(Gst.MapFlags.READ)
            if not ok:
                continue
            try:
                w, h = info.width, info.height
                stride = info.stride[0]
                y = np.frombuffer(mapinfo.data, dtype=np.uint8, count=stride * h,
                                  offset=info.offset[0]).reshape(h, stride)[:, :w]
                stamp = read_stamp(y)
                out.write(f"{now:.6f} {-1 if stamp is None else stamp} {w} {h}\n")
                out.flush()
                if (stamp is not None and now - state["saved"] >= 1.0
                        and os.path.exists(os.path.join(outdir, "capture"))):
                    np.save(os.path.join(outdir, f"y-{now:.6f}-{stamp}.npy"), np.array(y))
                    state["saved"] = now
            finally:
                buf.unmap(mapinfo)
    finally:
        pipeline.set_state(Gst.State.NULL)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    node, outdir = argv[1:]
    Gst.init(None)
    if node == "-":
        # Started ahead, told the node when it exists: the first frame
        # then costs only the link, not this program's start.
        print("ready", flush=True)
        node = sys.stdin.readline().strip()
        if not node:
            return 0
    state = {"saved": 0.0}
    try:
        while True:
            run_once(node, outdir, sys.stdout, state)
            time.sleep(0.2)
    except (KeyboardInterrupt, BrokenPipeError):
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
