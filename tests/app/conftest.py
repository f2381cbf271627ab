"""The app (build/app/vchat) under Xvfb, driven with xdotool, on real
daemons with red and blue PipeWire cameras (tests/lib/callenv.py)."""
from callenv import daemons, pipewire, server  # noqa: F401 (fixtures)
import os
import shutil

import pytest

from appenv import AppRunner


@pytest.fixture
def apps(daemons):
    """apps(daemon, *args) starts the app on the daemon's bus, on an X
    screen of its own; every app and screen stops after the test."""
    app = os.environ.get("VCHAT_APP")
    if not app or not os.path.exists(app):
        pytest.skip("the app was not built (libadwaita 1.2 or GTK 4 missing)")
    for tool in ("Xvfb", "xdotool"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (scripts/deps installs it)")
    try:
        import gi
        gi.require_version("Gdk", "3.0")
        gi.require_version("Gtk", "3.0")
    except ValueError:
        pytest.skip("GDK 3 (gir1.2-gtk-3.0), which takes the screenshots, is not installed")
    runner = AppRunner(app)

    def start(*args, **kw):
        return runner.start(*args, **kw)

    # apps.activatable(daemon): installed for D-Bus activation, not started
    start.activatable = runner.activatable
    yield start
    runner.stop_all()
