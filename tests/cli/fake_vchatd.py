"""A python3-dbusmock template that stands in for vchatd, with one call whose
peer is hostile: a name, client string and interests full of terminal escape
sequences and bidi overrides, as an unchecking server or an old history file
could hand the real daemon.

    python3 -m dbusmock --session --template tests/cli/fake_vchatd.py \\
        -p '{"hostile": "..."}'

The call is /io/github/vchat/VChat1/calls/1, ringing (incoming). Accept on
it ends the call with the hostile string as its end reason, so `accept
--wait` has something to say.
The test emits IncomingCall, MessageReceived and PropertiesChanged itself
through the org.freedesktop.DBus.Mock interface (EmitSignal).
"""
import dbus

BUS_NAME = "io.github.vchat.VChat1"
MAIN_OBJ = "/io/github/vchat/VChat1"
MAIN_IFACE = "io.github.vchat.VChat1.Manager"
CALL_IFACE = "io.github.vchat.VChat1.Call"
CALL_PATH = MAIN_OBJ + "/calls/1"
SYSTEM_BUS = False
IS_OBJECT_MANAGER = True

T0 = 1_700_000_000_000_000  # µs, 2023-11-14 22:13:20 UTC


def peer(hostile):
    return dbus.Dictionary({
        "name": dbus.String(hostile, variant_level=1),
        "client": dbus.String("web/0.1 " + hostile, variant_level=1),
        "common-interests": dbus.Array(["jazz", hostile], signature="s", variant_level=1),
    }, signature="sv")


def load(mock, parameters):
    hostile = parameters["hostile"]
    mock.AddProperties(MAIN_IFACE, {
        "Version": dbus.String("0.0.0-fake"),
        "SignalingState": dbus.String("online"),
        "Server": dbus.String("ws://127.0.0.1:9/ws"),
        "Cameras": dbus.Array([], signature="a{sv}"),
        "Camera": dbus.String(""),
        "Microphone": dbus.String(""),
        "Calls": dbus.Array([dbus.ObjectPath(CALL_PATH)], signature="o"),
    })
    mock.AddObject(CALL_PATH, CALL_IFACE, {
        "State": dbus.String("incoming"),
        "EndReason": dbus.String(""),
        "Kind": dbus.String("invite"),
        "Direction": dbus.String("incoming"),
        "Peer": peer(hostile),
        "InviteCode": dbus.String(""),
        "InviteWebLink": dbus.String(""),
        "CreatedAt": dbus.UInt64(T0),
        "ConnectedAt": dbus.UInt64(0),
        "EndedAt": dbus.UInt64(0),
        "Stats": dbus.Dictionary({}, signature="sv"),
        "Quality": dbus.String(""),
        "Muted": dbus.Boolean(False),
        "CameraEnabled": dbus.Boolean(True),
        "HasCamera": dbus.Boolean(True),
        "HasMicrophone": dbus.Boolean(True),
        "RemoteVideoNode": dbus.String(""),
        "PreviewNode": dbus.String(""),
    }, [
        ("Accept", "", "",
         f"self.UpdateProperties({CALL_IFACE!r}, {{'State': dbus.String('ended'), "
         f"'EndReason': dbus.String({hostile!r}), 'EndedAt': dbus.UInt64({T0 + 9_000_000})}})"),
    ])
