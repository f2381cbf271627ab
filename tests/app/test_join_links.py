"""vchatctl join takes both forms of an invite link: vchat://join/CODE
and vchat://join/CODE?server=URL; a link of another server is refused with
what to do, before vchatd is asked."""
import urllib.parse


def test_vchatctl_join_link_with_its_server(daemons):
    a, b = daemons("red", "blue")
    call_a, code, link = a.manager("CreateInvite", "(a{sv})", {})
    server = a.manager_prop("Server")
    full = f"vchat://join/{code}?server={urllib.parse.quote(server, safe=':/')}"
    r = b.vchatctl("join", "--json", full)
    assert r.returncode == 0, r.stderr
    a.wait_call_state(call_a, "incoming", 20)


def test_vchatctl_join_old_link_form(daemons):
    a, b = daemons("red", "blue")
    call_a, code, link = a.manager("CreateInvite", "(a{sv})", {})
    assert link == f"vchat://join/{code}"
    r = b.vchatctl("join", link)
    assert r.returncode == 0, r.stderr
    a.wait_call_state(call_a, "incoming", 20)


def test_vchatctl_join_link_of_another_server_says_how(daemons):
    a, b = daemons("red", "blue")
    call_a, code, _ = a.manager("CreateInvite", "(a{sv})", {})
    other = "wss://chat.example.org/ws"
    r = b.vchatctl("join", f"vchat://join/{code}?server={other}")
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert f"vchatctl config set server-url {other}" in r.stderr, r.stderr
    assert b.manager_prop("Server") in r.stderr, r.stderr
    # nothing was joined: A's invite still waits
    assert a.call_prop(call_a, "State") == "searching"
    assert not b.calls()
