"""Translations: with a German locale, vchatctl speaks German where po/de.po
has the words, and English (the msgid) where it has none. The locale is
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
    # Not translated yet: the English text, not an empty line.
    assert "Global options (before or after the command):" in out, out

    english = dict(german, LC_ALL="C.UTF-8")
    assert "Call a random stranger" in help_text(english)


def test_command_help_in_german(german):
    out = help_text(german, "next")
    assert "Einen zufälligen Anruf beenden und den nächsten Fremden treffen" in out, out
