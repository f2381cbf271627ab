"""What the tests read from the web client's page in headless Chromium
(tests/lib/chromium.py): frames decoded from the peer, the peer's picture's
mean colour, and a wait for a page condition."""
import time

INBOUND_VIDEO_JS = """(async () => {
  const pc = window.vchat && window.vchat.pc;
  if (!pc) return 0;
  let frames = 0;
  (await pc.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') frames = r.framesDecoded || 0;
  });
  return frames;
})()"""

REMOTE_RGB_JS = """(() => {
  const v = document.getElementById('remote-video');
  if (!v || !v.videoWidth || v.readyState < 2) return null;
  const c = document.createElement('canvas');
  c.width = 32; c.height = 24;
  const g = c.getContext('2d', {willReadFrequently: true});
  g.drawImage(v, 0, 0, c.width, c.height);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  const m = [0, 0, 0];
  for (let i = 0; i < d.length; i += 4) { m[0] += d[i]; m[1] += d[i + 1]; m[2] += d[i + 2]; }
  return m.map((x) => x / (d.length / 4));
})()"""


def until(fn, what, timeout=25):
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        try:
            value = fn()
        except Exception as e:  # a page still loading
            value = e
        if value and not isinstance(value, Exception):
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what} (last: {value!r})")
