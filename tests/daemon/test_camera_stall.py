"""A camera that stalls never crashes vchatd and never delays a call.

Each person here has a desktop of their own: a private PipeWire with one
virtual camera (so a camera that fails leaves nothing to switch to: the
other side must see black), and a vchatd on its own bus with the PipeWire
outputs on. The red desktop's camera stalls in three ways a real camera's
producer can, each before the call and in the middle of it:

  - paused: its gst-launch-1.0 gets SIGSTOP. Its node stays in the graph
    with its formats, and gives no frame until SIGCONT;
  - hung while its node still answers: the producer's process runs and
    its node answers PipeWire (links, formats, goes to PLAYING), but no
    frame comes (stall.HungCamera: a valve in front of its pipewiresink,
    closed and opened by signals): a camera program stuck in its capture
    loop. The closest to the case in which the issue saw vchatd crash in
    libgstpipewire a second after it gave up on the camera ("it gave no
    data"); that crash did not happen here with the daemon of 558a097;
  - killed while its node lingers: the producer is SIGKILLed while
    something still holds its PipeWire socket (the test process holds
    copies of it, taken with pidfd_getfd; see stall.kill_lingering), so
    PipeWire keeps the client and its node, and nothing will ever answer
    for it. Then the copies are closed (the node goes, as when the dead
    process is finally reaped) and a new producer with the same node name
    comes (the camera is back).

What a person would check, each case:
  - the call connects as fast as a call from the same desktop without any
    camera (measured in the same test: at most that + 3 s, and never more
    than 15 s);
  - the other side sees black (the centre of its picture dark) within a
    few seconds, on the call's RemoteVideoNode, read as `vchatctl view`
    would;
  - when the camera comes back (SIGCONT, or the new producer), the other
    side sees its colour again;
  - D-Bus answers within a second throughout, and vchatd is still running
    at the end and stops cleanly on SIGTERM (no crash, no hang).

Run alone:
    meson test -C build --no-rebuild daemon   # the whole daemon suite, or
    PYTHONPATH=tests/lib VCHATD=build/daemon/vchatd ... \
      python3 -m pytest -q -p no:cacheprovider -rs tests/daemon/test_camera_stall.py
"""
import time

import vchatd
from stall import (HungCamera, close_to, desktops, hang_up, is_dark, kill_lingering,  # noqa: F401
                   pause, resume, start_call, watching)

RED = (255, 0, 0)
BLUE = (0, 0, 255)
CAMERA = "vchat-stall-cam-red"
# The call may take this much longer than the same call without a camera...
CONNECT_SLACK = 3.0
# ... and never more than this.
CONNECT_LIMIT = 15.0
# From the moment the camera stalls (or the call connected with a camera
# that gives nothing) until the peer sees black. The issue asks for black
# "within a bounded time (say 2 s)"; the peer's viewer adds up to a second.
BLACK_WITHIN = 4.0
# From the camera's return until the peer sees its colour again.
BACK_WITHIN = 10.0


def reference_call(a, b, watch):
    """A call from the red desktop while it has no camera at all: how long
    a call takes here, now."""
    assert a.daemon.manager_prop("Camera") == "", "the red desktop should have no camera yet"
    pa, pb, seconds = start_call(a, b, watch, "reference call (no camera)")
    hang_up(a, pa, b, pb, watch, "reference call")
    print(f"reference: a call without a camera connected in {seconds:.2f} s")
    return seconds


def camera_arrives(a):
    a.add_camera()
    a.daemon.wait(lambda: a.daemon.manager_prop("Camera") == CAMERA, 15,
                  "the red desktop's camera to be chosen")


def connect_bound(reference):
    return min(reference + CONNECT_SLACK, CONNECT_LIMIT)


def dead_daemons():
    """The daemons of the test that have exited, in words."""
    return [f"{d.args[d.args.index('--name') + 1]}'s vchatd exited ({d.proc.returncode})"
            for d in vchatd._alive if d.proc.poll() is not None]


def sees_black_then(b, pb, watch, what, since):
    """The blue side's viewer on the call, once it sees black; the seconds
    from `since` until the first black frame arrived."""
    watch.phase(f"{what}: waiting for black")
    # The remote video node is named with the first picture; black frames
    # are a picture.
    while not b.daemon.call_prop(pb, "RemoteVideoNode"):
        assert time.monotonic() < since + BLACK_WITHIN, (
            f"{what}: no picture at all (not even black) reached the blue side within "
            f"{BLACK_WITHIN:.0f} s of connecting (no RemoteVideoNode)")
        assert not dead_daemons(), f"{what}: {dead_daemons()}"
        time.sleep(0.05)
    view = b.reader(pb)
    try:
        t, colour = view.wait_for(is_dark, max(1.0, since + BLACK_WITHIN + 1.0 - time.monotonic()),
                                  f"{what}: black on the blue side", since=since)
    except AssertionError:
        view.stop()
        raise
    return view, t - since


def test_paused_camera_before_the_call(desktops, watching):
    """The camera's producer is frozen (SIGSTOP) before the call: the call
    connects as fast as without a camera, the peer sees black, and after
    SIGCONT the peer sees the camera's colour."""
    a = desktops("Red", CAMERA, RED, camera_on=False)
    b = desktops("Blue", "vchat-stall-cam-blue", BLUE)
    watch = watching(a, b)
    view = None
    try:
        reference = reference_call(a, b, watch)
        camera_arrives(a)
        pause(a.camera)
        watch.phase("the red camera paused")
        pa, pb, seconds = start_call(a, b, watch, "call with a paused camera")
        print(f"with the camera paused the call connected in {seconds:.2f} s")
        assert seconds <= connect_bound(reference), (
            f"with a paused camera the call took {seconds:.1f} s to connect; without a camera "
            f"{reference:.1f} s (allowed: {connect_bound(reference):.1f} s)")
        connected = time.monotonic()
        view, black_after = sees_black_then(b, pb, watch, "paused camera", connected)
        print(f"the peer saw black {black_after:.2f} s after connecting")

        resume(a.camera)
        watch.phase("the red camera resumed")
        t_resume = time.monotonic()
        t, colour = view.wait_for(lambda c: close_to(c, RED), BACK_WITHIN,
                                  "the red picture after the camera resumed")
        print(f"the peer saw red {t - t_resume:.2f} s after SIGCONT")
        assert a.daemon.call_prop(pa, "State") == "connected"
        assert b.daemon.call_prop(pb, "State") == "connected"
        hang_up(a, pa, b, pb, watch, "call with a paused camera")
    finally:
        if view:
            view.stop()
    watch.finish()


def test_camera_paused_mid_call(desktops, watching):
    """The camera's producer freezes during a call: the peer sees black
    within a bounded time, and the colour again after SIGCONT."""
    a = desktops("Red", CAMERA, RED)
    b = desktops("Blue", "vchat-stall-cam-blue", BLUE)
    watch = watching(a, b)
    view = None
    try:
        pa, pb, seconds = start_call(a, b, watch, "call")
        view = b.reader(pb)
        view.wait_for(lambda c: close_to(c, RED), 20, "the red picture before the stall")

        pause(a.camera)
        watch.phase("the red camera paused mid-call")
        t_pause = time.monotonic()
        t, colour = view.wait_for(is_dark, BLACK_WITHIN, "black after the camera froze",
                                  since=t_pause)
        print(f"the peer saw black {t - t_pause:.2f} s after SIGSTOP")
        # It stays black (a fallback, not a flicker) while the camera is frozen.
        time.sleep(2)
        assert is_dark(view.last()[1]), "the picture did not stay black: " + view.describe(t)

        resume(a.camera)
        watch.phase("the red camera resumed")
        t_resume = time.monotonic()
        t, colour = view.wait_for(lambda c: close_to(c, RED), BACK_WITHIN,
                                  "the red picture after the camera resumed")
        print(f"the peer saw red {t - t_resume:.2f} s after SIGCONT")
        assert a.daemon.call_prop(pa, "State") == "connected"
        assert b.daemon.call_prop(pb, "State") == "connected"
        hang_up(a, pa, b, pb, watch, "call")
    finally:
        if view:
            view.stop()
    watch.finish()


def camera_replaced(a, lingering, watch):
    """The dead producer's node goes (its socket closes), and a new
    producer makes a node of the same name: the camera is back."""
    watch.phase("the dead camera's node goes")
    lingering.release()
    a.pw.wait_node_gone(CAMERA, 10)
    time.sleep(0.2)
    watch.phase("a new producer for the camera")
    a.add_camera()
    return time.monotonic()


def test_camera_killed_while_its_node_lingers(desktops, watching):
    """The camera's producer is killed (SIGKILL) before the call while its
    node stays registered: the call connects as fast as without a camera,
    the peer sees black; when the camera comes back (the dead node goes, a
    new producer publishes the same node name) the peer sees its colour."""
    a = desktops("Red", CAMERA, RED, camera_on=False)
    b = desktops("Blue", "vchat-stall-cam-blue", BLUE)
    watch = watching(a, b)
    view = None
    lingering = None
    try:
        reference = reference_call(a, b, watch)
        camera_arrives(a)
        lingering = kill_lingering(a.camera)
        a.camera = None
        time.sleep(0.5)
        assert CAMERA in a.pw.nodes(), "the killed camera's node should linger"
        watch.phase("the red camera killed, its node lingering")
        pa, pb, seconds = start_call(a, b, watch, "call with a dead camera")
        print(f"with the camera dead (node lingering) the call connected in {seconds:.2f} s")
        assert seconds <= connect_bound(reference), (
            f"with a dead camera whose node lingers the call took {seconds:.1f} s to connect; "
            f"without a camera {reference:.1f} s (allowed: {connect_bound(reference):.1f} s)")
        view, black_after = sees_black_then(b, pb, watch, "dead camera", time.monotonic())
        print(f"the peer saw black {black_after:.2f} s after connecting")

        back = camera_replaced(a, lingering, watch)
        t, colour = view.wait_for(lambda c: close_to(c, RED), BACK_WITHIN,
                                  "the red picture once the camera was back")
        print(f"the peer saw red {t - back:.2f} s after the new producer's node appeared")
        assert a.daemon.call_prop(pa, "State") == "connected"
        assert b.daemon.call_prop(pb, "State") == "connected"
        hang_up(a, pa, b, pb, watch, "call with a dead camera")
    finally:
        if view:
            view.stop()
        if lingering:
            lingering.release()
    watch.finish()


def test_camera_killed_mid_call_while_its_node_lingers(desktops, watching):
    """The camera's producer is killed during a call and its node lingers:
    the peer sees black within a bounded time, then the colour when the
    camera comes back."""
    a = desktops("Red", CAMERA, RED)
    b = desktops("Blue", "vchat-stall-cam-blue", BLUE)
    watch = watching(a, b)
    view = None
    lingering = None
    try:
        pa, pb, seconds = start_call(a, b, watch, "call")
        view = b.reader(pb)
        view.wait_for(lambda c: close_to(c, RED), 20, "the red picture before the kill")

        lingering = kill_lingering(a.camera)
        a.camera = None
        watch.phase("the red camera killed mid-call, its node lingering")
        t_kill = time.monotonic()
        t, colour = view.wait_for(is_dark, BLACK_WITHIN, "black after the camera died",
                                  since=t_kill)
        print(f"the peer saw black {t - t_kill:.2f} s after SIGKILL")
        assert CAMERA in a.pw.nodes(), "the killed camera's node should still linger"

        back = camera_replaced(a, lingering, watch)
        t, colour = view.wait_for(lambda c: close_to(c, RED), BACK_WITHIN,
                                  "the red picture once the camera was back")
        print(f"the peer saw red {t - back:.2f} s after the new producer's node appeared")
        assert a.daemon.call_prop(pa, "State") == "connected"
        assert b.daemon.call_prop(pb, "State") == "connected"
        hang_up(a, pa, b, pb, watch, "call")
    finally:
        if view:
            view.stop()
        if lingering:
            lingering.release()
    watch.finish()


def test_hung_camera_before_the_call(desktops, watching):
    """The camera's node answers PipeWire but gives no frame (its producer
    hung) before the call: the call connects as fast as without a camera,
    the peer sees black, and when the producer delivers again the peer
    sees its colour."""
    a = desktops("Red", CAMERA, RED, camera_on=False)
    b = desktops("Blue", "vchat-stall-cam-blue", BLUE)
    watch = watching(a, b)
    view = None
    camera = None
    try:
        reference = reference_call(a, b, watch)
        camera = HungCamera(a.pw, CAMERA, RED, hung=True)
        a.daemon.wait(lambda: a.daemon.manager_prop("Camera") == CAMERA, 15,
                      "the red desktop's (hung) camera to be chosen")
        watch.phase("the red camera hung")
        pa, pb, seconds = start_call(a, b, watch, "call with a hung camera")
        print(f"with the camera hung the call connected in {seconds:.2f} s")
        assert seconds <= connect_bound(reference), (
            f"with a hung camera the call took {seconds:.1f} s to connect; without a camera "
            f"{reference:.1f} s (allowed: {connect_bound(reference):.1f} s)")
        view, black_after = sees_black_then(b, pb, watch, "hung camera", time.monotonic())
        print(f"the peer saw black {black_after:.2f} s after connecting")

        camera.resume()
        watch.phase("the red camera delivers again")
        t_resume = time.monotonic()
        t, colour = view.wait_for(lambda c: close_to(c, RED), BACK_WITHIN,
                                  "the red picture once the camera delivered again")
        print(f"the peer saw red {t - t_resume:.2f} s after the camera delivered again")
        assert a.daemon.call_prop(pa, "State") == "connected"
        assert b.daemon.call_prop(pb, "State") == "connected"
        hang_up(a, pa, b, pb, watch, "call with a hung camera")
    finally:
        if view:
            view.stop()
        if camera:
            camera.stop()
    watch.finish()


def test_camera_hangs_mid_call(desktops, watching):
    """The camera's producer hangs during a call (its node still answers):
    the peer sees black within a bounded time, and the colour again when it
    delivers again."""
    a = desktops("Red", CAMERA, RED, camera_on=False)
    b = desktops("Blue", "vchat-stall-cam-blue", BLUE)
    watch = watching(a, b)
    view = None
    camera = HungCamera(a.pw, CAMERA, RED, hung=False)
    try:
        a.daemon.wait(lambda: a.daemon.manager_prop("Camera") == CAMERA, 15,
                      "the red desktop's camera to be chosen")
        pa, pb, seconds = start_call(a, b, watch, "call")
        view = b.reader(pb)
        view.wait_for(lambda c: close_to(c, RED), 20, "the red picture before the camera hangs")

        camera.hang()
        watch.phase("the red camera hung mid-call")
        t_hang = time.monotonic()
        t, colour = view.wait_for(is_dark, BLACK_WITHIN, "black after the camera hung",
                                  since=t_hang)
        print(f"the peer saw black {t - t_hang:.2f} s after the camera hung")
        time.sleep(2)
        assert is_dark(view.last()[1]), "the picture did not stay black: " + view.describe(t)

        camera.resume()
        watch.phase("the red camera delivers again")
        t_resume = time.monotonic()
        t, colour = view.wait_for(lambda c: close_to(c, RED), BACK_WITHIN,
                                  "the red picture once the camera delivered again")
        print(f"the peer saw red {t - t_resume:.2f} s after the camera delivered again")
        assert a.daemon.call_prop(pa, "State") == "connected"
        assert b.daemon.call_prop(pb, "State") == "connected"
        hang_up(a, pa, b, pb, watch, "call")
    finally:
        if view:
            view.stop()
        camera.stop()
    watch.finish()
