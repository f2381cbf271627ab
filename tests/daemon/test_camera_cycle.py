"""Camera changes never block vchatd's main loop.

The red desktop's camera node goes away and comes back five times, with
0.2 s gaps: its producer is stopped (the node is gone from PipeWire), 0.2 s
later a new producer publishes a node of the same name, 0.2 s later the
next cycle starts. The last time it comes back it shows yellow instead of
red, so that the peer's picture proves the new node is being sent. A person unplugging and replugging a webcam, or a camera
app restarting. Each desktop has a PipeWire of its own with one camera, so
while the camera is away the red daemon has none (it does not fall back to
another desktop's camera), and when it comes back it is the only choice.

  - during call set-up: the cycling starts as soon as both daemons have
    answered StartRandom (before either is connected);
  - mid-call: once both are connected and the picture is there.

A person checks that the desktop keeps answering (D-Bus answers within a
second throughout, asked every 0.2 s), that the call connects, and that the
other side sees the camera's picture (on the call's RemoteVideoNode, as
`vchatctl view` would show it) once the camera is back; and vchatd is
still running afterwards and stops cleanly.

Run alone:
    PYTHONPATH=tests/lib VCHATD=build/daemon/vchatd ... \
      python3 -m pytest -q -p no:cacheprovider -rs tests/daemon/test_camera_cycle.py
"""
import threading
import time

from stall import close_to, desktops, hang_up, start_call, watching  # noqa: F401

RED = (255, 0, 0)
BLUE = (0, 0, 255)
# What the camera shows when it comes back the last time: a picture the
# peer can only see if the camera's new node is really being sent (a frozen
# pipeline would keep repeating red).
YELLOW = (255, 255, 0)
CAMERA = "vchat-cycle-cam-red"
CYCLES = 5
GAP = 0.2
# Once the camera is back for good, until the peer sees it.
BACK_WITHIN = 15.0


def cycle_camera(a, watch, log, cycles=CYCLES, gap=GAP):
    """Removes the red desktop's camera node and brings it back `cycles`
    times; appends what happened (with times) to log."""
    t0 = time.monotonic()
    for n in range(1, cycles + 1):
        watch.phase(f"camera cycle {n}: removing the node")
        a.remove_camera()  # returns once the node is gone
        log.append(f"{time.monotonic() - t0:5.2f} s: cycle {n}: node gone")
        time.sleep(gap)
        watch.phase(f"camera cycle {n}: the node comes back")
        a.add_camera(YELLOW if n == cycles else None)  # returns once the node is there
        log.append(f"{time.monotonic() - t0:5.2f} s: cycle {n}: node back")
        time.sleep(gap)
    watch.phase("camera cycles done")


class Cycler(threading.Thread):
    """cycle_camera on a thread of its own, its failure kept for the test."""

    def __init__(self, a, watch):
        super().__init__(daemon=True, name="camera-cycler")
        self.a = a
        self.watch = watch
        self.log = []
        self.error = None

    def run(self):
        try:
            cycle_camera(self.a, self.watch, self.log)
        except BaseException as e:  # noqa: B902 — reported by the test
            self.error = e

    def finish(self, timeout=60):
        self.join(timeout)
        assert not self.is_alive(), f"the camera cycles did not finish within {timeout} s"
        if self.error:
            raise AssertionError(f"cycling the camera failed: {self.error}") from self.error
        return self.log


def test_camera_cycles_during_call_set_up(desktops, watching):
    a = desktops("Red", CAMERA, RED)
    b = desktops("Blue", "vchat-cycle-cam-blue", BLUE)
    watch = watching(a, b)
    cycler = Cycler(a, watch)
    view = None
    try:
        pa, pb, seconds = start_call(a, b, watch, "call set up while the camera cycles",
                                     started=cycler.start)
        print(f"the call connected in {seconds:.2f} s, with the camera cycling")
        for line in cycler.finish():
            print("  " + line)
        assert a.daemon.manager_prop("Camera") == CAMERA, "the red daemon's camera after the cycles"
        back = time.monotonic()
        watch.phase("after the cycles: waiting for the yellow picture")
        view = b.reader(pb)
        t, colour = view.wait_for(lambda c: close_to(c, YELLOW), BACK_WITHIN,
                                  "the camera's (now yellow) picture after the cycles", since=back)
        print(f"the peer saw the yellow picture {t - back:.2f} s after the last cycle")
        assert a.daemon.call_prop(pa, "State") == "connected"
        assert b.daemon.call_prop(pb, "State") == "connected"
        hang_up(a, pa, b, pb, watch, "call")
    finally:
        if view:
            view.stop()
        if cycler.is_alive():
            cycler.join(60)
    watch.finish()


def test_camera_cycles_mid_call(desktops, watching):
    a = desktops("Red", CAMERA, RED)
    b = desktops("Blue", "vchat-cycle-cam-blue", BLUE)
    watch = watching(a, b)
    view = None
    try:
        pa, pb, seconds = start_call(a, b, watch, "call")
        view = b.reader(pb)
        view.wait_for(lambda c: close_to(c, RED), 20, "the red picture before the cycles")

        log = []
        cycle_camera(a, watch, log)
        for line in log:
            print("  " + line)
        assert a.daemon.manager_prop("Camera") == CAMERA, "the red daemon's camera after the cycles"
        back = time.monotonic()
        watch.phase("after the cycles: waiting for the yellow picture")
        t, colour = view.wait_for(lambda c: close_to(c, YELLOW), BACK_WITHIN,
                                  "the camera's (now yellow) picture after the cycles", since=back)
        print(f"the peer saw the yellow picture {t - back:.2f} s after the last cycle")
        assert a.daemon.call_prop(pa, "State") == "connected"
        assert b.daemon.call_prop(pb, "State") == "connected"
        hang_up(a, pa, b, pb, watch, "call")
    finally:
        if view:
            view.stop()
    watch.finish()


def test_camera_that_arrives_mid_call_is_sent(desktops, watching):
    """A call set up while the red desktop had no camera negotiated no video
    of its own; when a camera arrives, the call negotiates again (a new
    attempt of the same call) and the blue side sees it."""
    a = desktops("Red", CAMERA, RED, camera_on=False)
    b = desktops("Blue", "vchat-cycle-cam-blue", BLUE)
    watch = watching(a, b)
    view = None
    try:
        assert a.daemon.manager_prop("Camera") == "", "the red desktop should have no camera yet"
        pa, pb, seconds = start_call(a, b, watch, "call without a camera")
        assert a.daemon.call_prop(pa, "HasCamera") is False
        arrived = time.monotonic()
        a.add_camera(YELLOW)
        a.daemon.wait(lambda: a.daemon.manager_prop("Camera") == CAMERA, 15, "the camera chosen")
        watch.phase("the camera arrived: waiting for its picture")
        b.daemon.wait(lambda: b.daemon.call_prop(pb, "RemoteVideoNode"), 20,
                      "a remote video node on the blue side")
        view = b.reader(pb)
        t, colour = view.wait_for(lambda c: close_to(c, YELLOW), BACK_WITHIN,
                                  "the camera's (yellow) picture", since=arrived)
        print(f"the camera's picture arrived {t - arrived:.2f} s after the camera")
        assert a.daemon.call_prop(pa, "State") == "connected"
        assert a.daemon.call_prop(pa, "HasCamera") is True
        assert a.daemon.call_prop(pa, "Stats")["attempt"] >= 1
        hang_up(a, pa, b, pb, watch, "the call")
    finally:
        if view:
            view.stop()
    watch.finish()


def test_slower_camera_mid_call_is_sent(desktops, watching):
    """The camera is replaced mid-call by one of the same name that gives
    10 frames a second where the first gave 30 (another webcam, a camera
    app with other settings). The call's video keeps the format of its
    first picture, so the capture repeats the slower camera's frames up to
    30 fps (a faster camera's are only dropped, which holds nothing): the
    peer sees the new picture and it keeps coming."""
    a = desktops("Red", CAMERA, RED)
    b = desktops("Blue", "vchat-cycle-cam-blue", BLUE)
    watch = watching(a, b)
    view = None
    try:
        pa, pb, seconds = start_call(a, b, watch, "call")
        view = b.reader(pb)
        view.wait_for(lambda c: close_to(c, RED), 20, "the red picture at 30 fps")

        watch.phase("the camera replaced by a 10 fps one")
        a.remove_camera()
        back = time.monotonic()
        a.add_camera(YELLOW, framerate=10)
        t, colour = view.wait_for(lambda c: close_to(c, YELLOW), BACK_WITHIN,
                                  "the 10 fps camera's (yellow) picture", since=back)
        print(f"the peer saw the 10 fps camera's picture {t - back:.2f} s after it appeared")
        assert "the source gives 10/1 fps: its frames are repeated up to the locked rate" \
            in a.daemon.log, "the capture should repeat a camera slower than its first one"
        # Still coming: what the peer's viewer got over 3 s (the camera
        # itself gives 30 frames in that time).
        since = time.monotonic()
        time.sleep(3)
        shown = view.since(since)
        print(f"the peer's viewer got {len(shown)} frames in 3 s from the 10 fps camera")
        assert len(shown) >= 15, (
            f"the peer's viewer got {len(shown)} frames in 3 s after the camera changed to 10 fps; "
            "expected the picture to keep coming")
        assert all(close_to(c, YELLOW) for _, c in shown), "the picture should stay yellow"
        assert a.daemon.call_prop(pa, "State") == "connected"
        hang_up(a, pa, b, pb, watch, "call")
    finally:
        if view:
            view.stop()
    watch.finish()
