"""Bad input to vchatd: wrong D-Bus arguments, unknown calls, wrong states,
bad invite codes, a hostile signaling peer, no server. Each gets its
documented error with a useful message, and the daemon stays up and the next
call works. Then many calls in a row: no fds or threads leak."""
import os
import time

import pytest
from gi.repository import GLib

from signald import Client
from vchatd import Vchatd, dbus_error_name

ERR = "io.github.vchat.VChat1.Error."


def expect_error(fn, name, *words):
    with pytest.raises(GLib.Error) as e:
        fn()
    assert dbus_error_name(e.value) == name, e.value.message
    for w in words:
        assert w in e.value.message, f"“{w}” not in “{e.value.message}”"
    return e.value.message


def quick_call(a, b):
    pa = a.manager("StartRandom", "(a{sv})", {})
    pb = b.manager("StartRandom", "(a{sv})", {})
    a.wait_call_state(pa, "connected", 30)
    b.wait_call_state(pb, "connected", 30)
    return pa, pb


def test_wrong_dbus_arguments(plain_daemons):
    a, b = plain_daemons("red", "blue")
    # Wrong signature: GDBus refuses it before our code runs.
    expect_error(lambda: a.manager("StartRandom", "(s)", "music"),
                 "org.freedesktop.DBus.Error.InvalidArgs")
    # Right signature, wrong options: our own error, naming the problem.
    expect_error(lambda: a.manager("StartRandom", "(a{sv})", {"interests": GLib.Variant("s", "music")}),
                 ERR + "InvalidArgs", "interests")
    expect_error(lambda: a.manager("StartRandom", "(a{sv})", {"colour": GLib.Variant("s", "red")}),
                 ERR + "InvalidArgs", "Unknown option", "colour")
    expect_error(lambda: a.manager("CreateInvite", "(a{sv})", {"ttl": GLib.Variant("u", 3)}),
                 ERR + "InvalidArgs", "ttl")
    expect_error(lambda: a.manager("SelectCamera", "(s)", "no-such-camera"),
                 ERR + "NoCamera", "vchatctl devices")
    # Still fine.
    quick_call(a, b)


def test_unknown_call_path(plain_daemons):
    a = plain_daemons("red")
    expect_error(lambda: a.call_method("/io/github/vchat/VChat1/calls/999", "Accept"),
                 "org.freedesktop.DBus.Error.UnknownMethod")
    expect_error(lambda: a.call_method("/io/github/vchat/VChat1/calls/nope", "Hangup"),
                 "org.freedesktop.DBus.Error.UnknownMethod")
    assert a.manager_prop("SignalingState") == "online"


def test_methods_in_the_wrong_state(plain_daemons):
    a, b = plain_daemons("red", "blue")
    pa = a.manager("StartRandom", "(a{sv})", {})
    expect_error(lambda: a.call_method(pa, "Accept"), ERR + "InvalidState", "searching")
    expect_error(lambda: a.call_method(pa, "SendMessage", "(s)", "hi"), ERR + "InvalidState", "connected")
    expect_error(lambda: a.call_method(pa, "Next"), ERR + "InvalidState")
    expect_error(lambda: a.manager("StartRandom", "(a{sv})", {}), ERR + "Busy", "hang it up")
    a.call_method(pa, "Hangup")
    assert a.call_prop(pa, "State") == "ended"
    assert a.call_prop(pa, "EndReason") == "hangup"
    expect_error(lambda: a.call_method(pa, "Hangup"), ERR + "InvalidState", "ended")
    # An invited call has no "next".
    pi, code, link = a.manager("CreateInvite", "(a{sv})", {})
    pb = b.manager("JoinInvite", "(sa{sv})", code, {})
    a.wait_call_state(pi, "incoming", 10)
    a.call_method(pi, "Accept")
    a.wait_call_state(pi, "connected", 30)
    expect_error(lambda: a.call_method(pi, "Next"), ERR + "InvalidState", "random")
    expect_error(lambda: a.call_method(pi, "SendMessage", "(s)", ""), ERR + "InvalidArgs")
    b.call_method(pb, "Hangup")


def test_invalid_invite_codes(plain_daemons):
    a, b = plain_daemons("red", "blue")
    expect_error(lambda: b.manager("JoinInvite", "(sa{sv})", "hello there", {}),
                 ERR + "InvalidArgs", "abcd-efgh-ijkl-mnop")
    expect_error(lambda: b.manager("JoinInvite", "(sa{sv})", "aaaa-aaaa-aaaa-aaaa", {}),
                 ERR + "NotFound", "no invite")
    # A cancelled invite (hanging up its call) is expired for whoever comes late.
    pi, code, link = a.manager("CreateInvite", "(a{sv})", {})
    a.call_method(pi, "Hangup")
    time.sleep(0.3)
    expect_error(lambda: b.manager("JoinInvite", "(sa{sv})", link, {}), ERR + "InviteExpired")
    # Own invite.
    pi, code, link = a.manager("CreateInvite", "(a{sv})", {})
    expect_error(lambda: a.manager("JoinInvite", "(sa{sv})", code, {}), ERR + "InvalidArgs", "own")
    # A link to the same code on another server: vchatd keeps one server
    # connection, and that code means nothing (or someone else's invite)
    # here, so it says whose invite it is and what to do, and joins nothing.
    elsewhere = "wss://elsewhere.example:8443/ws"
    message = expect_error(
        lambda: b.manager("JoinInvite", "(sa{sv})", f"vchat://join/{code}?server={elsewhere}", {}),
        ERR + "NotFound", "belongs to the server " + elsewhere, b.manager_prop("Server"),
        "server-url")
    assert not any(b.call_prop(p, "State") != "ended" for p in b.calls()), message
    # And a good one still works, as a link naming this server.
    pb = b.manager("JoinInvite", "(sa{sv})",
                   f"vchat://join/{code}?server={b.manager_prop('Server')}", {})
    a.wait_call_state(pi, "incoming", 10)


def test_hostile_signaling_peer(server, plain_daemons):
    a, b = plain_daemons("red", "blue")
    for bad in ({"sdp": {"type": "answer", "sdp": "v=0\r\nthis is not sdp\r\n"}},
                {"ice": {"candidate": "candidate:garbage", "sdpMLineIndex": 7}},
                {"sdp": {"type": "offer", "sdp": "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"}}):
        evil = Client(server, name="Mallory", client="evil/1")
        pa = a.manager("StartRandom", "(a{sv})", {})
        evil.send({"type": "queue"})
        evil.expect("queued")
        m = evil.expect("matched")
        assert m["role"] == "answerer"  # the daemon offers
        evil.send(dict({"type": "signal", "call": m["call"]}, **bad))
        a.wait(lambda: a.call_prop(pa, "State") in ("ended",), 15, "the hostile call to end")
        assert a.call_prop(pa, "EndReason") in ("error", "peer-lost"), a.call_prop(pa, "EndReason")
        evil.close()
    assert "unusable" in a.log or "rejected" in a.log
    # The daemon is up and the next real call works.
    quick_call(a, b)


def machine_addresses():
    """This machine's addresses by kind: {"public": [...], "private": [...]}
    (vchatd's judgement: tests/daemon/test_calls.py's private()), loopback
    aside."""
    import json
    import subprocess

    from test_calls import private

    out = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=True).stdout
    kinds = {"public": [], "private": []}
    for link in json.loads(out):
        for a in link.get("addr_info", []):
            if a["local"].startswith("127.") or a["local"] == "::1" or a.get("scope") == "link":
                continue
            kinds["private" if private(a["local"]) else "public"].append(a["local"])
    return kinds


def answer_for(offer):
    """A well-formed answer to vchatd's offer, made by hand: credentials and
    a fingerprint of our own, the same media. Enough for vchatd to start its
    connectivity checks (the DTLS that would follow never comes)."""
    out = []
    for line in offer.split("\r\n"):
        if line.startswith("a=setup:"):
            line = "a=setup:active"
        elif line.startswith("a=ice-ufrag:"):
            line = "a=ice-ufrag:evil"
        elif line.startswith("a=ice-pwd:"):
            line = "a=ice-pwd:" + "p" * 24
        elif line.startswith("a=fingerprint:"):
            line = "a=fingerprint:sha-256 " + ":".join(["AB"] * 32)
        elif line.startswith(("a=candidate", "a=end-of-candidates", "a=ssrc", "a=msid")):
            continue
        out.append(line)
    return "\r\n".join(out)


def matched_with(server, daemon, name, client):
    """The daemon searches; a fake peer made by hand (signald.Client) queues
    and is matched as the answerer (the server makes a daemon the offerer).
    Returns the peer, the daemon's call path, `matched`, and vchatd's offer
    (the `sdp` object). The caller closes the peer."""
    peer = Client(server, name=name, client=client)
    path = daemon.manager("StartRandom", "(a{sv})", {})
    peer.send({"type": "queue"})
    peer.expect("queued")
    m = peer.expect("matched")
    assert m["role"] == "answerer", m
    offer = peer.expect("signal", timeout=15)["sdp"]
    assert offer["type"] == "offer", offer
    return peer, path, m, offer


def signals_until_peer_left(peer, timeout=10):
    """What vchatd still sent (signals only) until the server told the peer
    that vchatd left: (the peer_left message, [signals])."""
    deadline = time.monotonic() + timeout
    signals = []
    while time.monotonic() < deadline:
        msg = peer.recv(max(0.1, deadline - time.monotonic()))
        if msg.get("type") == "peer_left":
            return msg, signals
        assert msg.get("type") == "signal", msg
        signals.append(msg)
    raise AssertionError(f"no peer_left within {timeout} s; signals: {signals}")


def test_a_peer_that_cannot_take_vp8_is_a_clear_error_at_once(server, plain_daemons):
    """A peer that rejects our video (an H.264-only answerer) makes webrtcbin
    1.22 move the bundle and never start ICE: both sides used to stay
    `connecting`. vchatd now ends the call at once as `error`, its log
    says why, and the peer is told."""
    a = plain_daemons("red")
    peer, path, m, offer = matched_with(server, a, "H264", "h264only/1")
    try:
        answer = answer_for(offer["sdp"]).replace("m=video 9 ", "m=video 0 ")
        assert "m=video 0 " in answer
        sent = time.monotonic()
        peer.send({"type": "signal", "call": m["call"], "sdp": {"type": "answer", "sdp": answer}})
        a.wait_call_state(path, "ended", 10)
        print(f"ended {time.monotonic() - sent:.2f} s after the answer")
        assert a.call_prop(path, "EndReason") == "error"
        assert "rejected our video (media 0): it cannot take VP8 or H.264 video" in a.log, a.log[-2000:]
        signals_until_peer_left(peer)
    finally:
        peer.close()


@pytest.mark.parametrize("how", ["trickled", "in the answer"])
def test_a_stranger_cannot_aim_ice_at_local_services(server, plain_daemons, how):
    """A random stranger's candidates may point vchatd's connectivity checks
    only at public addresses: not at this computer's loopback, not into its
    local network, not at a port below 1024. UDP listeners wait where a
    hostile peer points; only the one at a public address and high port,
    the control, hears vchatd's STUN checks. The same whether the peer
    trickles its candidates or writes them into its answer (as a client
    that does not trickle does: webrtcbin would take those unchecked)."""
    import socket

    a = plain_daemons("red")
    kinds = machine_addresses()
    if not kinds["public"]:
        pytest.skip(f"no public address on this machine to check against: {kinds}")

    def listen(host, port=0):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.bind((host, port))
        s.setblocking(False)
        return s

    public = kinds["public"][0]
    listeners = {"control (public, high port)": listen(public),
                 "loopback": listen("127.0.0.1"),
                 "port below 1024": listen(public, 999)}
    if kinds["private"]:
        listeners["local network"] = listen(kinds["private"][0])
    evil, _, m, offer = matched_with(server, a, "Mallory", "evil/1")
    try:
        candidates = [f"candidate:{i + 1} 1 UDP {2122252543 - i} {s.getsockname()[0]} "
                      f"{s.getsockname()[1]} typ host" for i, s in enumerate(listeners.values())]
        answer = answer_for(offer["sdp"])
        if how == "in the answer":
            eol = "\r\n" if "\r\n" in answer else "\n"
            first_m = answer.index("m=")
            section_end = answer.index(eol, first_m) + len(eol)
            answer = (answer[:section_end] + "".join(f"a={c}{eol}" for c in candidates) +
                      f"a=end-of-candidates{eol}" + answer[section_end:])
        evil.send({"type": "signal", "call": m["call"], "sdp": {"type": "answer", "sdp": answer}})
        if how == "trickled":
            for c in candidates:
                evil.send({"type": "signal", "call": m["call"],
                           "ice": {"candidate": c, "sdpMLineIndex": 0}})
        heard = {name: 0 for name in listeners}
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            for name, s in listeners.items():
                try:
                    while s.recv(2048):
                        heard[name] += 1
                except BlockingIOError:
                    pass
            time.sleep(0.2)
        print(f"STUN checks heard: {heard}")
        assert heard["control (public, high port)"] > 0, \
            f"vchatd sent no check even to a public address (the test cannot tell): {heard}\n{a.log[-3000:]}"
        for name, n in heard.items():
            if name.startswith("control"):
                continue
            assert n == 0, f"vchatd sent {n} checks to the {name} listener the stranger named"
        assert "ignoring the peer's candidate" in a.log
    finally:
        evil.close()
        for s in listeners.values():
            s.close()


def test_a_peer_that_never_answers_ends_the_call_for_both(server, tmp_path):
    """A stranger who is matched and then never answers the offer (a broken
    client, or one whose network died at that moment) does not leave the
    call `connecting` for ever: once reconnect-timeout has passed without
    media, vchatd ends it with reason `network`, says so in its log, and
    the peer's session is told (`peer_left`); the user can search again at
    once."""
    d = Vchatd(str(tmp_path / "waits"), server.ws_url, start=False,
               args=["--no-pipewire-nodes", "--video-source", "videotestsrc is-live=true",
                     "--audio-source", "audiotestsrc is-live=true wave=silence"])
    d.write_settings({"reconnect-timeout": GLib.Variant("u", 8)})
    d.start()
    silent, path, m, offer = matched_with(server, d, "Silent", "broken/1")
    try:
        mids = [line[len("a=mid:"):] for line in offer["sdp"].split("\r\n")
                if line.startswith("a=mid:")]
        d.wait_call_state(path, "connecting", 10)
        started = time.monotonic()
        d.wait_call_state(path, "ended", 20)
        took = time.monotonic() - started
        print(f"a call whose peer never answered ended after {took:.1f} s")
        assert d.call_prop(path, "EndReason") == "network"
        assert "could not be restored" in d.log
        # The candidates and restarts it sent meanwhile, then its leaving.
        # Each candidate names its media section by index and by mid (peers
        # such as aiortc match them by mid only).
        left, signals = signals_until_peer_left(silent)
        candidates = [msg["ice"] for msg in signals
                      if "ice" in msg and msg.get("attempt", 0) == 0 and msg["ice"]["candidate"]]
        assert left["call"] == m["call"], left
        assert candidates, "vchatd sent no candidate"
        for ice in candidates:
            assert ice.get("sdpMid") == mids[ice["sdpMLineIndex"]], (ice, mids)
        again = d.manager("StartRandom", "(a{sv})", {})
        assert d.call_prop(again, "State") in ("searching", "connecting"), d.call_props(again)
    finally:
        silent.close()
        d.stop()


def test_offline_server_is_a_clear_error(tmp_path):
    # Port 9 (discard) on loopback: nothing listens there.
    d = Vchatd(str(tmp_path / "off"), "ws://127.0.0.1:9/ws", wait_online=False,
               args=["--no-pipewire-nodes", "--video-source", "videotestsrc is-live=true"])
    try:
        d.wait(lambda: d.manager_prop("SignalingState") == "reconnecting", 10, "reconnecting")
        msg = expect_error(lambda: d.manager("StartRandom", "(a{sv})", {}), ERR + "Offline",
                           "ws://127.0.0.1:9/ws")
        assert "retrying" in msg
    finally:
        d.stop()


def test_second_daemon_needs_replace(server, tmp_path):
    import subprocess
    first = Vchatd(str(tmp_path / "one"), server.ws_url,
                   args=["--no-pipewire-nodes", "--video-source", "videotestsrc is-live=true"])
    try:
        second = subprocess.run([first.binary, "--server", server.ws_url, "--no-pipewire-nodes"],
                                env=first.env, capture_output=True, text=True, timeout=20)
        assert second.returncode == 1
        assert "--replace" in second.stderr
        # With --replace, the new one takes over and the old one exits cleanly.
        proc = subprocess.Popen([first.binary, "--server", server.ws_url, "--no-pipewire-nodes",
                                 "--replace"], env=first.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        assert first.proc.wait(10) == 0
        proc.terminate()
        assert proc.wait(10) == 0
    finally:
        first.stop()


def count(pid, what):
    return len(os.listdir(f"/proc/{pid}/{what}"))


def test_twenty_calls_do_not_leak(plain_daemons):
    a, b = plain_daemons("red", "blue")
    pid = a.proc.pid

    def one_call():
        pa, pb = quick_call(a, b)
        a.call_method(pa, "Hangup")
        b.wait_call_state(pb, "ended", 10)

    one_call()  # GStreamer's own threads and pools start with the first call
    time.sleep(1)
    base_fds, base_threads = count(pid, "fd"), count(pid, "task")
    for _ in range(20):
        one_call()
    time.sleep(2)  # teardown happens on the main loop
    fds, threads = count(pid, "fd"), count(pid, "task")
    print(f"after 20 calls: fds {base_fds} → {fds}, threads {base_threads} → {threads}")
    assert fds <= base_fds, f"fds grew from {base_fds} to {fds}"
    assert threads <= base_threads, f"threads grew from {base_threads} to {threads}"


def test_the_session_bus_admits_only_its_owner(server, tmp_path):
    """vchatd refuses other users' method calls itself (next test), but what
    it publishes, properties, the object manager's GetManagedObjects (an open
    invite's code among them) and signals, is guarded by the bus: a session
    bus admits only the user who runs it. Here its socket is open to every
    user, as a badly set up one could be, and another user still gets
    nothing."""
    import subprocess

    d = Vchatd(str(tmp_path / "own"), server.ws_url, other_users="socket",
               args=["--no-pipewire-nodes", "--video-source", "videotestsrc is-live=true"])
    try:
        path, code, _ = d.manager("CreateInvite", "(a{sv})", {})
        base = ["--address", d.bus.address, "--dest", "io.github.vchat.VChat1"]
        asks = {
            "GetManagedObjects": ["gdbus", "call"] + base + [
                "--object-path", "/io/github/vchat/VChat1",
                "--method", "org.freedesktop.DBus.ObjectManager.GetManagedObjects"],
            "the invite's properties": ["gdbus", "call"] + base + [
                "--object-path", path, "--method", "org.freedesktop.DBus.Properties.GetAll",
                "io.github.vchat.VChat1.Call"],
        }
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        for what, argv in asks.items():
            r = subprocess.run(nobody + argv, capture_output=True, text=True, timeout=20)
            assert r.returncode != 0 and code not in r.stdout, f"{what}: another user got {r.stdout}"
            # Refused by the bus, before any message reaches vchatd.
            assert "PermissionDenied" not in r.stderr, r.stderr
            # Its own user reads it on the same bus.
            r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
            assert r.returncode == 0 and code in r.stdout, f"{what}: {r.stderr}"
        # Signals: another user cannot even listen.
        r = subprocess.run(nobody + ["timeout", "5", "dbus-monitor", "--address", d.bus.address],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode not in (0, 124), \
            f"another user could listen to the bus (exit {r.returncode}): {r.stdout[:500]}"
    finally:
        d.stop()


def test_other_users_are_refused(server, tmp_path):
    """On a bus other users can reach, vchatd still answers only its own."""
    import subprocess

    d = Vchatd(str(tmp_path / "shared"), server.ws_url, other_users=True,
               args=["--no-pipewire-nodes", "--video-source", "videotestsrc is-live=true"])
    try:
        call = ["gdbus", "call", "--address", d.bus.address, "--dest", "io.github.vchat.VChat1",
                "--object-path", "/io/github/vchat/VChat1", "--method",
                "io.github.vchat.VChat1.Manager.StartRandom", "{}"]
        # uid 65534 (nobody) is not the user running the daemon.
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + call,
                           capture_output=True, text=True, timeout=20)
        assert r.returncode != 0
        assert "io.github.vchat.VChat1.Error.PermissionDenied" in r.stderr, r.stderr
        assert "Only the user running vchatd" in r.stderr
        assert d.calls() == []
        # Its own user is served on the same bus.
        r = subprocess.run(call, capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, r.stderr
        assert "/io/github/vchat/VChat1/calls/1" in r.stdout
    finally:
        d.stop()
