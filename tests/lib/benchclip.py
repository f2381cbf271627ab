"""The clip, the stamps and the picture arithmetic of scripts/bench-call.

The clip (make_stamp_clip): 1280x720, 30 fps, YUV4MPEG2 4:2:0, LOOP
frames (10 s), made once with GStreamer and cached:

    videotestsrc pattern=circular horizontal-speed=8      the whole frame, moving
    + videotestsrc pattern=zone-plate (animated, kt)       fine moving detail, 320x240
    + videotestsrc pattern=smpte                           sharp static edges, 320x180
    + videotestsrc pattern=ball                            a moving object, 400x300

and then, on every frame, a stamp: STAMP_BLOCKS black (Y 16) or white
(Y 235) blocks of BLOCK x BLOCK pixels in the top-left corner (y 0..15, x
0..511; chroma neutral there) holding the frame's number in the clip (16
bits) and a check (the number XOR CHECK, 16 bits). A picture scaled to
any size still holds it (read_stamp samples the middle of each block, at
the picture's scale); a block misread fails the check and the frame is
counted as unreadable, never as another frame.

The microphones' tone (make_tone_wav) is a sine wave in a 16-bit mono wav.

Capture times (FeedLog, latencies): the clip loops, so the same number
comes back every LOOP frames; a received frame is matched with the
latest time its number was fed at or before it was received. A latency
longer than the loop (10 s) would be folded back into it.

Needs numpy (python3-numpy) and gst-launch-1.0.
"""
import bisect
import contextlib
import os
import subprocess

import numpy as np

WIDTH, HEIGHT, FPS = 1280, 720, 30
LOOP = 300               # frames in the clip: 10 s
BLOCK = 16               # a stamp block is BLOCK x BLOCK at 1280x720
STAMP_BLOCKS = 32
CHECK = 0xA5C3
BLACK, WHITE = 16, 235


def frame_size(w=WIDTH, h=HEIGHT):
    return w * h + 2 * ((w + 1) // 2) * ((h + 1) // 2)


def stamp_bits(number):
    word = (number & 0xFFFF) | (((number ^ CHECK) & 0xFFFF) << 16)
    return [(word >> i) & 1 for i in range(STAMP_BLOCKS)]


def write_stamp(frame, number, w=WIDTH, h=HEIGHT):
    """Draws `number`'s stamp into one I420 frame (a writable numpy uint8
    array of frame_size(w, h) bytes)."""
    y = frame[:w * h].reshape(h, w)
    for i, bit in enumerate(stamp_bits(number)):
        y[0:BLOCK, i * BLOCK:(i + 1) * BLOCK] = WHITE if bit else BLACK
    cw, ch = (w + 1) // 2, (h + 1) // 2
    u = frame[w * h:w * h + cw * ch].reshape(ch, cw)
    v = frame[w * h + cw * ch:].reshape(ch, cw)
    u[0:BLOCK // 2, 0:STAMP_BLOCKS * BLOCK // 2] = 128
    v[0:BLOCK // 2, 0:STAMP_BLOCKS * BLOCK // 2] = 128


def read_stamp(y):
    """The clip frame number stamped into a picture's luma plane `y` (a 2-D
    numpy array at the picture's size, 16..235 levels), or None when the
    stamp does not read (its check fails)."""
    h, w = y.shape
    scale = w / WIDTH
    b = BLOCK * scale
    r = max(1, int(b / 4))
    cy = int(b / 2)
    word = 0
    for i in range(STAMP_BLOCKS):
        cx = int((i + 0.5) * b)
        if cx + r > w or cy + r > h:
            return None
        m = float(y[max(0, cy - r):cy + r, max(0, cx - r):cx + r].mean())
        if m > (BLACK + WHITE) / 2:
            word |= 1 << i
    number, check = word & 0xFFFF, word >> 16
    if number ^ CHECK != check or number >= LOOP:
        return None
    return number


def stamp_rows(h):
    """Rows of a picture of height h that the stamp covers (left out of the
    PSNR)."""
    return int(np.ceil(BLOCK * h / HEIGHT))


def make_stamp_clip(path, timeout=600):
    """Writes the clip (see the module doc) to `path`, unless a complete
    one is there; returns path. Made next to it, then renamed."""
    size = frame_size()
    if os.path.exists(path) and os.path.getsize(path) > LOOP * size:
        return path
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    n = f"num-buffers={LOOP}"
    caps = f"video/x-raw,format=I420,width={WIDTH},height={HEIGHT},framerate={FPS}/1"

    def inset(w, h):
        return f"video/x-raw,format=I420,width={w},height={h},framerate={FPS}/1"

    argv = ["gst-launch-1.0", "-q",
            "videotestsrc", n, "pattern=circular", "horizontal-speed=8", "!", caps, "!", "m.",
            "videotestsrc", n, "pattern=zone-plate", "kx2=20", "ky2=20", "kt=1", "!",
            inset(320, 240), "!", "m.",
            "videotestsrc", n, "pattern=smpte", "!", inset(320, 180), "!", "m.",
            "videotestsrc", n, "pattern=ball", "motion=wavy", "!", inset(400, 300), "!", "m.",
            "compositor", "name=m",
            "sink_1::xpos=880", "sink_1::ypos=400",
            "sink_2::xpos=80", "sink_2::ypos=440",
            "sink_3::xpos=440", "sink_3::ypos=120",
            "!", caps, "!", "y4menc", "!", "filesink", f"location={tmp}"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"making the clip {path} failed ({out.returncode}): "
                               f"{(out.stdout + out.stderr)[-800:]}")
        stamp_clip_file(tmp)
        os.rename(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


def clip_frames(path):
    """(numpy memmap of the file, [offset of each frame's pixels], w, h)."""
    import mmap
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from clipcam import parse_y4m

    with open(path, "rb") as f:
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    w, h, _fps, _size, offsets = parse_y4m(data)
    data.close()
    return np.memmap(path, dtype=np.uint8, mode="r"), offsets, w, h


def stamp_clip_file(path):
    """Stamps every frame of a 1280x720 y4m file in place with its number."""
    import mmap
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from clipcam import parse_y4m

    with open(path, "rb") as f:
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    w, h, _fps, size, offsets = parse_y4m(data)
    data.close()
    if (w, h) != (WIDTH, HEIGHT):
        raise ValueError(f"{path}: {w}x{h}, not {WIDTH}x{HEIGHT}")
    mm = np.memmap(path, dtype=np.uint8, mode="r+")
    for i, off in enumerate(offsets):
        write_stamp(mm[off:off + size], i, w, h)
    mm.flush()
    del mm


def make_tone_wav(path, freq, seconds=10, rate=48000, timeout=60):
    """A mono 16-bit wav of a sine tone (made once)."""
    if os.path.exists(path) and os.path.getsize(path) > 44 + seconds * rate * 2 // 2:
        return path
    tmp = f"{path}.{os.getpid()}.tmp"
    buffers = seconds * rate // 1024
    argv = ["gst-launch-1.0", "-q", "audiotestsrc", f"num-buffers={buffers}",
            "samplesperbuffer=1024", "wave=sine", f"freq={freq}", "volume=0.5", "!",
            f"audio/x-raw,format=S16LE,rate={rate},channels=1", "!", "wavenc", "!",
            "filesink", f"location={tmp}"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"making {path} failed: {(out.stdout + out.stderr)[-500:]}")
    os.rename(tmp, path)
    return path


class ClipReference:
    """The clip's luma planes, for PSNR against received pictures."""

    def __init__(self, path):
        self.mm, self.offsets, self.w, self.h = clip_frames(path)
        self._cache = {}

    def luma(self, number):
        off = self.offsets[number]
        return self.mm[off:off + self.w * self.h].reshape(self.h, self.w)

    def luma_at(self, number, w, h):
        """The clip frame's luma scaled (area average) to w x h."""
        return area_resize(self.luma(number), w, h)

    def psnr(self, number, y, at=None):
        """PSNR (dB) of a received luma plane `y` (h x w) against the clip
        frame `number` scaled to its size, over the picture without the
        stamp's rows. 100 for identical pictures. at=(w, h): compare at
        that size instead (y scaled to it too, area average): a picture
        decoded at that size and shown scaled."""
        y = y.astype(np.float64)
        h, w = y.shape
        if at and tuple(at) != (w, h):
            w, h = at
            y = area_resize(y, w, h)
        ref = self.luma_at(number, w, h)
        top = stamp_rows(h)
        d = ref[top:] - y[top:]
        mse = float(np.mean(d * d))
        if mse <= 1e-10:
            return 100.0
        return 10 * np.log10(255.0 * 255.0 / mse)


    def psnr_full(self, number, y):
        """PSNR (dB) of a received luma plane scaled up (bilinear) to the
        clip's own size, against the clip frame itself, without the stamp's
        rows: what a viewer sees of the picture at 1280x720, resolution lost
        on the way included."""
        y = linear_resize(np.asarray(y, dtype=np.float64), self.w, self.h)
        ref = np.asarray(self.luma(number), dtype=np.float64)
        top = stamp_rows(self.h)
        d = ref[top:] - y[top:]
        mse = float(np.mean(d * d))
        return 100.0 if mse <= 1e-10 else 10 * np.log10(255.0 * 255.0 / mse)


def _linear_axis(a, n_out):
    n_in = a.shape[0]
    if n_out == n_in:
        return a
    x = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
    i0 = np.floor(x).astype(int)
    i1 = np.minimum(i0 + 1, n_in - 1)
    f = (x - i0).reshape((-1,) + (1,) * (a.ndim - 1))
    return a[i0] * (1 - f) + a[i1] * f


def linear_resize(y, w, h):
    """A luma plane (2-D) scaled to w x h by bilinear interpolation."""
    y = np.asarray(y, dtype=np.float64)
    if y.shape == (h, w):
        return y
    return _linear_axis(_linear_axis(y, h).T, w).T


def _area_axis(a, n_out):
    """Resamples axis 0 of `a` to n_out samples, each the mean of the input
    over its span (through the cumulative sum, so in O(n))."""
    n_in = a.shape[0]
    if n_out == n_in:
        return a
    c = np.concatenate([np.zeros((1,) + a.shape[1:]), np.cumsum(a, axis=0)])
    x = np.arange(n_out + 1) * (n_in / n_out)
    i = np.minimum(np.floor(x).astype(int), n_in - 1)
    frac = (x - i).reshape((-1,) + (1,) * (a.ndim - 1))
    cx = c[i] + frac * a[i]
    return (cx[1:] - cx[:-1]) / (n_in / n_out)


def area_resize(y, w, h):
    """A luma plane (2-D) scaled to w x h by area averaging (float64)."""
    y = np.asarray(y, dtype=np.float64)
    if y.shape == (h, w):
        return y
    return _area_axis(_area_axis(y, h).T, w).T


class FeedLog:
    """When each frame of the looping clip was fed to the sending side:
    add(time, number) in time order (numbers as seen, wrapping at LOOP);
    frames not seen in between are interpolated (at the clip's rate)
    between their neighbours. capture_time(number, before) is the latest
    feed of that clip frame at or before `before`."""

    def __init__(self):
        self.abs = []      # absolute frame index (unwrapped)
        self.times = []

    def add(self, t, number, absolute=None):
        if absolute is None:
            if self.abs:
                last = self.abs[-1]
                base = last - last % LOOP
                a = base + number
                if a < last - LOOP // 2:
                    a += LOOP
                elif a > last + LOOP // 2:
                    a -= LOOP
                if a <= last:
                    return   # a frame repeated (or out of order): keep the first
            else:
                a = number
        else:
            a = absolute
            if self.abs and a <= self.abs[-1]:
                return
        self.abs.append(a)
        self.times.append(t)

    def capture_time(self, number, before):
        """(time the clip frame `number` was last fed at or before `before`,
        whether it was seen or interpolated), or None."""
        if not self.times:
            return None
        k = bisect.bisect_right(self.times, before) - 1
        if k < 0:
            return None
        a_last = self.abs[k]
        a = a_last - ((a_last - number) % LOOP)
        j = bisect.bisect_left(self.abs, a)
        if j < len(self.abs) and self.abs[j] == a:
            return self.times[j], True
        if j == 0 or j >= len(self.abs):
            return None
        a0, a1 = self.abs[j - 1], self.abs[j]
        if a1 - a0 > FPS:       # more than a second unseen: no guess
            return None
        t0, t1 = self.times[j - 1], self.times[j]
        return t0 + (t1 - t0) * (a - a0) / (a1 - a0), False
