"""Sound in real calls between two vchatd daemons, checked where a person
would listen: each daemon takes its own virtual microphone (a 440 Hz or a
660 Hz tone) from PipeWire, and plays the other side's voice into a
PipeWire output of its own (--speaker, a null sink), whose monitor is read
back and measured. No test sources and no fakesink: the real PipeWire path
both ways."""
import os

import pytest
from gi.repository import GLib

from vchatd import Vchatd

# Each side's microphone tone, by camera colour.
TONES = {"red": 440, "blue": 660}
# A heard tone: within 5 % of the expected frequency, and clearly above
# silence (a tone arrives at RMS about 0.5 here; silence is 0).
TOLERANCE = 0.05
AUDIBLE = 0.1
SILENT = 0.01


def mic(color):
    return f"vchat-test-mic-{color}"


def speaker(color):
    return f"vchat-test-speaker-{color}"


@pytest.fixture(scope="module")
def sound(pipewire):
    """The module's PipeWire (red and blue cameras) gets a microphone and a
    speaker per colour."""
    made = []
    for color, freq in TONES.items():
        made.append(pipewire.add_microphone(mic(color), freq,
                                            description=f"{color.title()} test microphone"))
        made.append(pipewire.add_speaker(speaker(color),
                                         description=f"{color.title()} test speaker"))
    yield pipewire
    for node in made:
        node.stop()


@pytest.fixture
def talkers(sound, server, tmp_path):
    """A red and a blue daemon, each with its own camera, microphone and
    speaker."""
    started = []
    for i, color in enumerate(TONES):
        started.append(Vchatd(str(tmp_path / f"d{i}"), server.ws_url, name=f"{color.title()} {i}",
                              env=sound.env,
                              args=["--camera", f"vchat-test-cam-{color}",
                                    "--microphone", mic(color), "--speaker", speaker(color)]))
    yield started
    for d in started:
        d.stop()
        if os.environ.get("VCHAT_TEST_LOGS"):
            print(f"--- vchatd log ---\n{d.log}")


def audio_log(d):
    """The lines of a daemon's log about sound, for a failure message."""
    lines = [line for line in d.log_lines
             if any(w in line.lower() for w in ("speaker", "audio", "microphone", "opus", "warn",
                                                "critical", "failed"))]
    return "".join(lines[-30:]) or d.log[-2000:]


def tone(pipewire, color):
    """(frequency, RMS) of what plays now on the speaker of side `color`."""
    return pipewire.read_tone(speaker(color), timeout=15)


def is_tone(heard, freq):
    return abs(heard[0] - freq) <= TOLERANCE * freq and heard[1] >= AUDIBLE


def wait_hearing(pipewire, d, color, freq, timeout=30, want=True):
    """Waits until the speaker of side `color` plays the `freq` tone (or,
    want=False, until it no longer does); returns the last (frequency, RMS)."""
    deadline = GLib.get_monotonic_time() + timeout * 1_000_000
    heard = (0.0, 0.0)
    while GLib.get_monotonic_time() < deadline:
        heard = tone(pipewire, color)
        if is_tone(heard, freq) == want:
            return heard
    raise AssertionError(
        f"after {timeout} s the {color} side's speaker plays {heard[0]:.0f} Hz at RMS "
        f"{heard[1]:.3f}; expected {'' if want else 'no '}{freq} Hz tone\n"
        f"--- {color} vchatd, sound lines ---\n{audio_log(d)}")


def assert_hear_each_other(pipewire, a, b):
    """Red hears blue's 660 Hz, blue hears red's 440 Hz: the peer's tone, not
    its own."""
    for d, me, other in ((a, "red", "blue"), (b, "blue", "red")):
        heard = wait_hearing(pipewire, d, me, TONES[other])
        assert not is_tone(heard, TONES[me]), f"{me} hears its own tone: {heard}"


def assert_silent(pipewire, colors=TONES):
    for color in colors:
        heard = tone(pipewire, color)
        assert heard[1] < SILENT, f"the {color} speaker plays {heard} with no call"


def random_call(a, b):
    pa = a.manager("StartRandom", "(a{sv})", {})
    pb = b.manager("StartRandom", "(a{sv})", {})
    a.wait_call_state(pa, "connected", 30)
    b.wait_call_state(pb, "connected", 30)
    return pa, pb


def invite_call(a, b):
    pa, code, link = a.manager("CreateInvite", "(a{sv})", {"ttl": GLib.Variant("u", 120)})
    pb = b.manager("JoinInvite", "(sa{sv})", link, {})
    a.wait_call_state(pa, "incoming", 10)
    a.call_method(pa, "Accept")
    a.wait_call_state(pa, "connected", 30)
    b.wait_call_state(pb, "connected", 30)
    return pa, pb


def test_random_call_each_side_hears_the_other(sound, talkers):
    a, b = talkers
    # Nothing plays on the speakers before the call (so what is heard later
    # comes from the call).
    assert_silent(sound)
    pa, pb = random_call(a, b)
    assert a.call_prop(pa, "HasMicrophone") is True
    assert b.call_prop(pb, "HasMicrophone") is True
    assert_hear_each_other(sound, a, b)
    a.call_method(pa, "Hangup")
    b.wait_call_state(pb, "ended")
    # The peer's voice stops with the call.
    for d, color in ((a, "red"), (b, "blue")):
        wait_hearing(sound, d, color, TONES["blue" if color == "red" else "red"], timeout=10,
                     want=False)


def test_invited_call_each_side_hears_the_other(sound, talkers):
    a, b = talkers
    pa, pb = invite_call(a, b)
    assert_hear_each_other(sound, a, b)
    b.call_method(pb, "Hangup")
    a.wait_call_state(pa, "ended")


def test_mute_silences_one_direction_only(sound, talkers):
    a, b = talkers
    pa, pb = random_call(a, b)
    assert_hear_each_other(sound, a, b)

    r = a.vchatctl("mute", "on", "--call", pa)
    assert r.returncode == 0, r.stderr
    assert a.call_prop(pa, "Muted") is True
    # Blue no longer hears red's 440 Hz (silence, as the muted side keeps
    # sending silence) ...
    heard = wait_hearing(sound, b, "blue", TONES["red"], timeout=10, want=False)
    assert heard[1] < SILENT, f"blue still hears something while red is muted: {heard}"
    heard = tone(sound, "blue")
    assert not is_tone(heard, TONES["red"]) and heard[1] < SILENT, \
        f"blue hears {heard} while red is muted"
    # ... while red still hears blue.
    wait_hearing(sound, a, "red", TONES["blue"], timeout=10)

    r = a.vchatctl("mute", "off", "--call", pa)
    assert r.returncode == 0, r.stderr
    assert a.call_prop(pa, "Muted") is False
    wait_hearing(sound, b, "blue", TONES["red"], timeout=15)
    a.call_method(pa, "Hangup")
    b.wait_call_state(pb, "ended")
