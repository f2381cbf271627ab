"""Behind a reverse proxy: --trusted-proxy and the forwarded client address.

A "proxy" here is a client connecting from 127.0.0.5 that sends the
headers a proxy would; tests/server/test_nginx.py does the same with a real
nginx.
"""
import time

from vtest import closed_by_server, metric, raw_connect

PROXY = "127.0.0.5"


def via(connect, s, client, header="X-Forwarded-For", **kw):
    value = client if header == "X-Forwarded-For" else f'for="{client}"'
    return connect(s, source=PROXY, headers=[f"{header}: {value}"], **kw)


def refused(c):
    c.send({"type": "hello", "version": 1, "client": "test/1"})
    msgs, code = c.read_until_close()
    errors = [m for m in msgs if isinstance(m, dict) and m.get("type") == "error"]
    return code == 1008 and errors and errors[0]["code"] == "too-many-sessions"


def test_forwarded_addresses_have_their_own_limits(signald, connect):
    """The reported problem: behind a proxy every user shared one address,
    and the 17th was refused."""
    s = signald("--trusted-proxy", PROXY, "--max-sessions-per-address", "2")
    users = [via(connect, s, f"198.51.100.{i}") for i in range(1, 21)]
    for u in users:
        u.ping_ok()
    # ... while one forwarded address is held to its own limit
    via(connect, s, "198.51.100.1")
    assert refused(via(connect, s, "198.51.100.1", hello=False))


def test_ipv6_clients_count_per_64(signald, connect):
    s = signald("--trusted-proxy", PROXY, "--max-sessions-per-address", "2")
    via(connect, s, "2001:db8:0:1::1")
    via(connect, s, "2001:db8:0:1::2", header="Forwarded")
    # a third address in the same /64 is the same client
    assert refused(via(connect, s, "[2001:db8:0:1::3]:4711", header="Forwarded", hello=False))
    # another /64 is another client
    via(connect, s, "2001:db8:0:2::1").ping_ok()


def test_forwarded_headers_ignored_from_others(signald, connect):
    """Anyone may send X-Forwarded-For; only a trusted proxy is believed."""
    s = signald("--trusted-proxy", PROXY, "--max-sessions-per-address", "2")
    for i in range(2):
        connect(s, headers=[f"X-Forwarded-For: 198.51.100.{i}"])
    assert refused(connect(s, hello=False, headers=["X-Forwarded-For: 198.51.100.9"]))
    # without --trusted-proxy, the proxy is just one more address
    s2 = signald("--max-sessions-per-address", "2")
    for i in range(2):
        via(connect, s2, f"198.51.100.{i}")
    assert refused(via(connect, s2, "198.51.100.9", hello=False))


def test_spoofed_hops_before_the_proxy_are_ignored(signald, connect):
    """A client can put anything in front of what the proxy appends: the
    nearest hop that is not a trusted proxy counts."""
    s = signald("--trusted-proxy", PROXY, "--trusted-proxy", "10.0.0.0/8",
                "--max-sessions-per-address", "1")
    via(connect, s, "203.0.113.1, 198.51.100.7")
    assert refused(via(connect, s, "203.0.113.2, 198.51.100.7", hello=False))
    # a chain of our own proxies is seen through
    via(connect, s, "198.51.100.8, 10.1.2.3").ping_ok()
    assert refused(via(connect, s, "198.51.100.8", hello=False))


def test_wrong_invite_codes_lock_out_only_their_sender(signald, connect):
    """The reported problem: behind a proxy six wrong codes from a stranger
    locked everyone out for a minute."""
    s = signald("--trusted-proxy", PROXY, "--join-attempts", "3")
    stranger = via(connect, s, "198.51.100.66")
    friend = via(connect, s, "198.51.100.1")
    host = via(connect, s, "198.51.100.2")
    host.send({"type": "invite_create"})
    code = host.expect("invite")["code"]
    for i in range(4):
        stranger.send({"type": "invite_join", "code": f"aaaa-bbbb-cccc-{i:04d}"})
        err = stranger.expect("error")
    assert err["code"] == "too-many-attempts"
    friend.send({"type": "invite_join", "code": code})
    friend.expect("ringing")


def test_proxy_is_not_limited_per_address(signald):
    """Pending connections from the proxy are many users, not one."""
    s = signald("--trusted-proxy", PROXY, "--max-pending-per-address", "4")
    socks = [raw_connect(s, source=PROXY) for _ in range(12)]
    for x in socks:
        assert not closed_by_server(x, 0.05)
    assert metric(s, "vchat_tcp_refused_total", '{reason="address"}') == 0
    for x in socks:
        x.close()
