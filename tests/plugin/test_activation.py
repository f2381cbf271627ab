"""VChatClient starts vchatd through D-Bus activation, and says why when it
cannot; through GObject Introspection, so the typelib is checked as well."""
import os

import gi

gi.require_version("VChat", "1.0")
from gi.repository import Gio, GLib, VChat  # noqa: E402

from vchatd import PrivateBus  # noqa: E402


def write_service(bus, exec_line):
    with open(os.path.join(bus.services_dir, "io.github.vchat.VChat1.service"), "w") as f:
        f.write(f"[D-BUS Service]\nName=io.github.vchat.VChat1\nExec={exec_line}\n")


def private_bus(tmp_path):
    # The activated daemon inherits the bus's environment.
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    env.update(GSETTINGS_BACKEND="memory", HOME=str(tmp_path), XDG_RUNTIME_DIR=str(tmp_path),
               XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    if os.environ.get("VCHAT_SCHEMAS"):
        env["GSETTINGS_SCHEMA_DIR"] = os.environ["VCHAT_SCHEMAS"]
    bus = PrivateBus(str(tmp_path), env)
    conn = Gio.DBusConnection.new_for_address_sync(
        bus.address,
        Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)
    return bus, conn


def test_construction_starts_the_daemon(tmp_path):
    bus, conn = private_bus(tmp_path)
    try:
        # Port 9 (discard) on loopback: nothing listens, the daemon keeps trying.
        write_service(bus, f"{os.environ['VCHATD']} --server ws://127.0.0.1:9/ws "
                           "--no-pipewire-nodes --audio-sink fakesink")
        client = VChat.Client.new_sync(conn, None)
        assert client.get_connected()
        assert client.props.connected
        ctx = GLib.MainContext.default()
        deadline = GLib.get_monotonic_time() + 10 * 1000000
        while client.get_version() is None and GLib.get_monotonic_time() < deadline:
            ctx.iteration(False)
        assert client.get_version() == os.environ["VCHAT_VERSION"]
        assert client.get_server() == "ws://127.0.0.1:9/ws"
        assert client.get_signaling_state() != VChat.SignalingState.ONLINE
        assert client.get_calls().get_n_items() == 0
        assert client.get_cameras().get_item_type() == VChat.Camera.__gtype__

        # Offline: the daemon's error arrives in the VChat domain, readable.
        loop = GLib.MainLoop()
        out = {}

        def done(c, result):
            try:
                c.start_random_finish(result)
            except GLib.Error as e:
                out["error"] = e
            loop.quit()

        client.start_random_async(["linux"], None, False, None, done)
        loop.run()
        e = out["error"]
        assert e.matches(VChat.Error.quark(), VChat.Error.OFFLINE), e
        assert not e.message.startswith("GDBus.Error"), e.message
    finally:
        # The activated daemon leaves when its bus goes.
        conn.close_sync(None)
        bus.stop()


def test_activation_that_fails_is_no_daemon(tmp_path):
    bus, conn = private_bus(tmp_path)
    try:
        write_service(bus, "/bin/false")
        try:
            VChat.Client.new_sync(conn, None)
            raise AssertionError("no error")
        except GLib.Error as e:
            assert e.matches(VChat.Error.quark(), VChat.Error.NO_DAEMON), e
            assert e.message.startswith("vchatd is not running and D-Bus could not start it"), e.message
    finally:
        conn.close_sync(None)
        bus.stop()


def test_activation_that_fails_is_no_daemon_async(tmp_path):
    bus, conn = private_bus(tmp_path)
    try:
        write_service(bus, "/bin/false")
        loop = GLib.MainLoop()
        out = {}

        def done(source, result):
            try:
                out["client"] = VChat.Client.new_finish(result)
            except GLib.Error as e:
                out["error"] = e
            loop.quit()

        VChat.Client.new_async(conn, None, done)
        loop.run()
        e = out["error"]
        assert e.matches(VChat.Error.quark(), VChat.Error.NO_DAEMON), e
        assert e.message.startswith("vchatd is not running and D-Bus could not start it"), e.message
        assert "systemctl --user start vchatd" in e.message
    finally:
        conn.close_sync(None)
        bus.stop()
