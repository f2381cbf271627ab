"""Translations: with a German locale, vchatctl, the app (its --help) and
vchatd (its D-Bus errors and notifications) speak German, with C.UTF-8
English. The locale is
compiled by the test itself (localedef into a temporary LOCPATH), so it
needs no locale installed system-wide; the catalogue is the build's
(<build>/po/de/LC_MESSAGES/vchat.mo, found through VCHAT_LOCALEDIR)."""
import os
import shutil
import subprocess

import pytest

LOCALEDIR = os.environ.get("VCHAT_LOCALEDIR", "")


@pytest.fixture(scope="module")
def german(tmp_path_factory):
    if not shutil.which("localedef") or not os.path.exists("/usr/share/i18n/locales/de_DE"):
        pytest.skip("needs localedef and Debian's locales package (scripts/deps installs it)")
    if not os.path.exists(os.path.join(LOCALEDIR, "de", "LC_MESSAGES", "vchat.mo")):
        pytest.fail(f"no German catalogue built under VCHAT_LOCALEDIR={LOCALEDIR!r}")
    locpath = tmp_path_factory.mktemp("locales")
    subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8", str(locpath / "de_DE.UTF-8")],
                   check=True, capture_output=True, timeout=120)
    env = dict(os.environ)
    for k in ("LANGUAGE", "LANG", "LC_MESSAGES"):
        env.pop(k, None)
    env.update(LOCPATH=str(locpath), LC_ALL="de_DE.UTF-8")
    return env


def help_text(env, *args):
    return subprocess.run([os.environ["VCHATCTL"], *args, "--help"], env=env, check=True,
                          capture_output=True, text=True, timeout=20).stdout


def test_vchatctl_help_in_german(german):
    out = help_text(german)
    assert out.startswith("Aufruf: vchatctl [--json] BEFEHL"), out
    assert "Befehle:" in out, out
    assert "Einen zufälligen Fremden anrufen" in out, out
    assert "Globale Optionen (vor oder nach dem Befehl):" in out, out
    assert "Global options" not in out, out

    english = dict(german, LC_ALL="C.UTF-8")
    assert "Call a random stranger" in help_text(english)


def test_command_help_in_german(german):
    out = help_text(german, "next")
    assert "Einen zufälligen Anruf beenden und den nächsten Fremden treffen" in out, out


def run_vchatctl(env, *args):
    return subprocess.run([os.environ["VCHATCTL"], *args], env=env, capture_output=True,
                          text=True, timeout=20)


def test_vchatctl_usage_error_in_german(german):
    """vchatctl's own messages, not the daemon's: a bad argument is refused
    before any D-Bus, in German, with the exit status of wrong usage."""
    r = run_vchatctl(german, "history", "--limit=-1")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr == ("vchatctl: history: --limit muss 0 oder mehr sein\n"
                        "Versuchen Sie „vchatctl history --help“.\n"), r.stderr

    r = run_vchatctl(german, "frobnicate")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "vchatctl: unbekannter Befehl „frobnicate“" in r.stderr, r.stderr

    english = run_vchatctl(dict(german, LC_ALL="C.UTF-8"), "history", "--limit=-1")
    assert english.returncode == 2
    assert english.stderr == ("vchatctl: history: --limit must be 0 or more\n"
                              "Try 'vchatctl history --help'.\n"), english.stderr

# The app: its own options and summary in `vchat --help` (no display needed:
# GApplication answers --help before GTK starts).

def app_binary():
    app = os.environ.get("VCHAT_APP") or os.path.join(
        os.path.dirname(os.path.dirname(os.environ["VCHATCTL"])), "app", "vchat")
    if not os.path.exists(app):
        pytest.skip("the app was not built (libadwaita 1.2 or GTK 4 missing)")
    return app


def test_app_help_in_german(german):
    app = app_binary()
    env = dict(german, VCHAT_LOCALEDIR=LOCALEDIR)
    out = subprocess.run([app, "--help"], env=env, check=True, capture_output=True, text=True,
                         timeout=20).stdout
    assert "vchat [OPTION …] [LINK …]" in out, out
    assert "Sprechen Sie von Angesicht zu Angesicht mit Fremden" in out, out
    assert "Die Version ausgeben und beenden" in out, out
    english = subprocess.run([app, "--help"], env=dict(env, LC_ALL="C.UTF-8"), check=True,
                             capture_output=True, text=True, timeout=20).stdout
    assert "Print the version and exit" in english, english


# The daemon: its D-Bus error messages (read through vchatctl) and its
# notifications (captured by python3-dbusmock's notification server) in
# German when it runs in German.

DAEMON_ARGS = [
    "--no-pipewire-nodes",
    "--audio-source", "audiotestsrc is-live=true wave=sine",
    "--audio-sink", "fakesink",
    "--video-source", "videotestsrc is-live=true pattern=solid-color foreground-color=0xffff0000",
]
NOTIFY_NAME = "org.freedesktop.Notifications"
NOTIFY_PATH = "/org/freedesktop/Notifications"


@pytest.fixture
def german_daemons(german, tmp_path):
    """Two daemons on one server: Ada in German (LC_ALL=de_DE.UTF-8 from the
    test's own locale), Bob in English."""
    if not os.environ.get("VCHATD") or not os.path.exists(os.environ["VCHATD"]):
        pytest.skip("vchatd was not built")
    from signald import Signald
    from vchatd import Vchatd
    server = Signald()
    started = []
    try:
        ada_env = dict(os.environ, LOCPATH=german["LOCPATH"], LC_ALL="de_DE.UTF-8",
                       VCHAT_LOCALEDIR=LOCALEDIR)
        ada_env.pop("LANGUAGE", None)
        started.append(Vchatd(str(tmp_path / "ada"), server.ws_url, name="Ada", env=ada_env,
                              args=DAEMON_ARGS))
        bob_env = dict(os.environ, LC_ALL="C.UTF-8")
        started.append(Vchatd(str(tmp_path / "bob"), server.ws_url, name="Bob", env=bob_env,
                              args=DAEMON_ARGS))
        yield started
    finally:
        for d in started:
            d.stop()
        server.stop()


def test_daemon_error_in_german(german_daemons):
    ada, _ = german_daemons
    r = ada.vchatctl("invite")
    assert r.returncode == 0, r.stderr
    # Next is for random calls: the daemon refuses, in German; vchatctl
    # prints its message.
    r = ada.vchatctl("next")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "„Next“ gilt für zufällige Anrufe" in r.stderr, r.stderr


def test_notification_in_german(german_daemons):
    import json
    import sys
    import time
    from gi.repository import GLib

    ada, bob = german_daemons
    try:
        import dbusmock  # noqa: F401
    except ImportError:
        pytest.skip("python3-dbusmock is not installed")
    mock = subprocess.Popen(
        [sys.executable, "-m", "dbusmock", "--session", "--template", "notification_daemon",
         "-p", json.dumps({"capabilities": "body actions"})],
        env=dict(os.environ, DBUS_SESSION_BUS_ADDRESS=ada.bus.address),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def mock_call(method, signature=None, *args):
            r = ada.conn.call_sync(NOTIFY_NAME, NOTIFY_PATH, "org.freedesktop.DBus.Mock", method,
                                   GLib.Variant(signature, args) if signature else None, None,
                                   0, 5000, None)
            return r.unpack()

        ada.wait(lambda: ada.conn.call_sync(
            "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
            "NameHasOwner", GLib.Variant("(s)", (NOTIFY_NAME,)), None, 0, 2000,
            None).unpack()[0], 10, "the mock notification server")
        time.sleep(0.3)
        call, code, _ = ada.manager("CreateInvite", "(a{sv})", {})
        bob.manager("JoinInvite", "(sa{sv})", code, {})
        ada.wait_call_state(call, "incoming", 20)

        def incoming():
            for _, args in mock_call("GetMethodCalls", "(s)", "Notify")[0]:
                if args[6].get("category") == "call.incoming":
                    return args
            return None

        ada.wait(lambda: incoming() is not None, 10, "the incoming call's notification")
        _, _, _, summary, body, actions, _, _ = incoming()
        assert summary == "Bob ruft an", summary
        assert body == "Bob ist Ihrer Einladung gefolgt und möchte reden.", body
        assert actions == ["accept", "Annehmen", "decline", "Ablehnen"], actions
    finally:
        mock.terminate()
        mock.wait(10)
