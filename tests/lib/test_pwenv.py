"""tests/lib/pwenv.py does what the other tests rely on: a private PipeWire
whose virtual cameras and microphones carry what they should, readable by
other processes, any number of times, with audio output and no hardware."""
import os
import subprocess
import threading
import time

import pytest

from pwenv import NULL_SINK, PipeWireEnv, PipeWireError

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)


def close_to(color, expected, tolerance=40):
    return all(abs(c - e) <= tolerance for c, e in zip(color, expected))


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie no one has reaped yet is gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def our_pids(pw):
    return [p.pid for p in pw._procs]


@pytest.fixture
def pw(tmp_path):
    with PipeWireEnv(tmp_path / "pw") as env:
        yield env


def test_start_stop_three_times_leaves_nothing(tmp_path):
    for i in range(3):
        env = PipeWireEnv(tmp_path / "pw")
        env.start()
        assert env.start_seconds < 10
        cam = env.add_camera("cam", GREEN)
        assert close_to(env.read_color("cam"), GREEN)
        pids = our_pids(env)
        assert len(pids) == 4, pids  # dbus-daemon, pipewire, wireplumber, the camera
        runtime = env.runtime_dir
        env.stop()
        assert not cam.running
        left = [p for p in pids if alive(p)]
        assert not left, f"round {i}: processes left behind: {left}"
        assert not os.path.exists(os.path.join(runtime, "pipewire-0")) or \
            not any(alive(p) for p in pids)
        env.stop()  # idempotent


def test_isolated_from_the_caller_and_each_other(tmp_path):
    """Two sessions at once, each with a camera of the same name: each
    session's reader sees its own."""
    a = PipeWireEnv(tmp_path / "a").start()
    b = PipeWireEnv(tmp_path / "b").start()
    try:
        assert a.env["XDG_RUNTIME_DIR"] != b.env["XDG_RUNTIME_DIR"]
        assert a.env["DBUS_SESSION_BUS_ADDRESS"] != b.env["DBUS_SESSION_BUS_ADDRESS"]
        a.add_camera("cam", RED)
        b.add_camera("cam", BLUE)
        results = {}

        def read(name, env):
            results[name] = env.read_color("cam")

        threads = [threading.Thread(target=read, args=("a", a)),
                   threading.Thread(target=read, args=("b", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert close_to(results["a"], RED), results
        assert close_to(results["b"], BLUE), results
        # No hardware of the machine leaks in: only what the test made.
        assert set(a.nodes("Video/Source")) == {"cam"}
        assert set(a.nodes("Audio/Sink")) == {NULL_SINK}
    finally:
        a.stop()
        b.stop()


def test_long_tmpdir_gets_a_short_runtime_dir(tmp_path):
    deep = tmp_path / ("x" * 60) / ("y" * 60)
    with PipeWireEnv(deep) as env:
        assert len(env.runtime_dir) < 60
        env.add_camera("cam", RED)
        assert close_to(env.read_color("cam"), RED)
        runtime = env.runtime_dir
    assert not os.path.exists(runtime)


def test_two_cameras_each_read_back_with_its_colour(pw):
    pw.add_camera("cam-red", RED, description="Red test camera")
    pw.add_camera("cam-blue", BLUE, description="Blue test camera")
    props = pw.nodes("Video/Source")
    assert props["cam-red"]["node.description"] == "Red test camera"
    assert props["cam-red"]["media.role"] == "Camera"
    assert close_to(pw.read_color("cam-red"), RED)
    assert close_to(pw.read_color("cam-blue"), BLUE)
    assert close_to(pw.read_color("cam-red"), RED)


def test_description_with_spaces_and_quotes(pw):
    pw.add_camera("cam", GREEN, description='The "front" camera, (virtual)')
    assert pw.nodes()["cam"]["node.description"] == 'The "front" camera, (virtual)'


def test_camera_added_then_removed(pw):
    cam = pw.add_camera("cam", GREEN)
    assert "cam" in pw.nodes("Video/Source")
    assert close_to(pw.read_color("cam"), GREEN)
    cam.stop()
    assert "cam" not in pw.nodes()
    with pytest.raises(PipeWireError):
        pw.read_color("cam", timeout=1)
    # The name can be used again at once.
    pw.add_camera("cam", RED)
    assert close_to(pw.read_color("cam"), RED)


def test_consumers_one_after_another_and_after_a_suspend(pw):
    """The WEBRTCBIN doc's "second consumer may get no frames" holds for
    pipewiresink mode=provide; the recipe used here has no such problem:
    later consumers get frames, also after WirePlumber suspended the idle
    node (5 s)."""
    pw.add_camera("cam", BLUE)
    for pause in (0, 0.5, 1.5, 6):
        time.sleep(pause)
        assert close_to(pw.read_color("cam", timeout=8), BLUE), f"after a {pause} s pause"


def test_consumers_at_the_same_time(pw):
    pw.add_camera("cam", RED)
    results = []
    threads = [threading.Thread(target=lambda: results.append(pw.read_color("cam", frames=30)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 3 and all(close_to(c, RED) for c in results), results


def test_video_published_by_one_process_read_by_another(pw):
    """How the daemon publishes the remote video: decoded frames into a
    pipewiresink (sync=false, as behind a decoder); read by another client,
    twice."""
    pw.publish("vchat-remote", [
        "videotestsrc", "is-live=true", "pattern=solid-color", "foreground-color=0xff00ff00",
        "!", "video/x-raw,format=I420,width=320,height=240,framerate=30/1",
        "!", "vp8enc", "deadline=1", "!", "vp8dec", "!", "videoconvert",
        "!", "video/x-raw,format=I420", "!", "queue",
    ], {"media.class": "Video/Source", "node.description": "Remote video"})
    # (publish() appends "! pipewiresink stream-properties=...")
    assert close_to(pw.read_color("vchat-remote"), GREEN)
    time.sleep(1)
    assert close_to(pw.read_color("vchat-remote"), GREEN)


def test_microphone_carries_its_tone(pw):
    pw.add_microphone("mic-a", 440, description="Test microphone A")
    pw.add_microphone("mic-b", 1000)
    assert pw.nodes("Audio/Source")["mic-a"]["node.description"] == "Test microphone A"
    freq, level = pw.read_tone("mic-a")
    assert abs(freq - 440) < 10 and level > 0.1, (freq, level)
    freq, level = pw.read_tone("mic-b")
    assert abs(freq - 1000) < 20 and level > 0.1, (freq, level)
    time.sleep(0.5)
    freq, level = pw.read_tone("mic-a")
    assert abs(freq - 440) < 10, (freq, level)


def test_audio_to_the_default_output_without_hardware(pw):
    assert pw.defaults()["default.audio.sink"] == NULL_SINK
    player = pw.play_tone(660)
    freq, level = pw.read_tone(None)
    assert abs(freq - 660) < 15 and level > 0.1, (freq, level)
    player.stop()
    # Nothing playing: silence (but the output is still there).
    freq, level = pw.read_tone(None)
    assert level < 0.01, (freq, level)


def test_speakers_each_hear_only_what_plays_into_them(pw):
    """add_speaker makes outputs of their own (as vchatd --speaker uses): a
    tone played into one is read back from it at its frequency, the other
    stays silent, and neither takes the default output's place."""
    a = pw.add_speaker("spk-a", description='Speaker "A", (virtual)')
    b = pw.add_speaker("spk-b")
    sinks = pw.nodes("Audio/Sink")
    assert set(sinks) == {NULL_SINK, "spk-a", "spk-b"}
    assert sinks["spk-a"]["node.description"] == 'Speaker "A", (virtual)'
    assert pw.defaults()["default.audio.sink"] == NULL_SINK
    player = pw.play_tone(660, target="spk-a")
    freq, level = pw.read_tone("spk-a")
    assert abs(freq - 660) < 15 and level > 0.1, (freq, level)
    freq, level = pw.read_tone("spk-b")
    assert level < 0.01, ("spk-b", freq, level)
    freq, level = pw.read_tone(None)
    assert level < 0.01, (NULL_SINK, freq, level)
    player.stop()
    # A second player, into the other speaker.
    player = pw.play_tone(440, target="spk-b")
    freq, level = pw.read_tone("spk-b")
    assert abs(freq - 440) < 10 and level > 0.1, (freq, level)
    freq, level = pw.read_tone("spk-a")
    assert level < 0.01, ("spk-a", freq, level)
    player.stop()
    a.stop()
    assert "spk-a" not in pw.nodes()
    with pytest.raises(PipeWireError):
        pw.read_tone("spk-a", timeout=1)
    # The name can be used again; a name in use cannot.
    pw.add_speaker("spk-a")
    with pytest.raises(PipeWireError):
        pw.add_speaker("spk-b")
    b.stop()
    assert set(pw.nodes("Audio/Sink")) == {NULL_SINK, "spk-a"}


def test_speakers_go_with_the_session(tmp_path):
    env = PipeWireEnv(tmp_path / "pw").start()
    try:
        spk = env.add_speaker("spk")
        pids = our_pids(env)
        assert len(pids) == 3, pids  # dbus-daemon, pipewire, wireplumber: no process per speaker
    finally:
        env.stop()
    assert not any(alive(p) for p in pids)
    spk.stop()  # after the session: nothing to do, no error
    # A new session in the same directory starts without it.
    with PipeWireEnv(tmp_path / "pw") as env:
        assert "spk" not in env.nodes()


def test_clients_use_the_private_session(pw):
    """A subprocess given pw.env talks to this PipeWire and this bus."""
    pw.add_camera("only-here", RED)
    out = subprocess.run(["pw-dump"], env=pw.env, capture_output=True, text=True, timeout=10)
    assert '"only-here"' in out.stdout
    out = subprocess.run(["pw-dump"], env=dict(pw.env, XDG_RUNTIME_DIR="/nonexistent",
                                               PIPEWIRE_RUNTIME_DIR="/nonexistent"),
                         capture_output=True, text=True, timeout=10)
    assert '"only-here"' not in out.stdout
    out = subprocess.run(["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
                          "/org/freedesktop/DBus", "org.freedesktop.DBus.ListNames"],
                         env=pw.env, capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
