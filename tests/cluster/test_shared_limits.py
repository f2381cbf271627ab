"""The per-address connection limit (--max-sessions-per-address) holds
across servers sharing one Redis: an address cannot open the limit on each
server. Connections that close give their place back, and a dead server's
count goes with it."""
import time


def open_ok(server, connect):
    c = connect(server)
    assert c.session
    return c


def refused(server, connect):
    """A connection past the limit: an error, then the server closes it."""
    c = connect(server, hello=False)
    err = c.expect("error", timeout=10)
    assert err["code"] == "too-many-sessions"
    assert "at most" in err["message"]
    return c


def test_limit_holds_across_two_servers(cluster, connect):
    s1, s2 = cluster(2, "--max-sessions-per-address", "3")
    a = [open_ok(s1, connect), open_ok(s1, connect)]
    b = [open_ok(s2, connect)]
    refused(s2, connect)
    refused(s1, connect)
    # one closes: its place is free again, on either server
    a[0].close()
    deadline = time.monotonic() + 10
    while True:
        c = connect(s2, hello=False)
        c.send({"type": "hello", "version": 1, "client": "test/1"})
        msg = c.recv(10)
        if msg["type"] == "welcome":
            break
        assert msg["code"] == "too-many-sessions"
        assert time.monotonic() < deadline, "the closed connection's place did not come back"
        time.sleep(0.2)
    refused(s1, connect)
    b[0].ping_ok()


def test_dead_servers_connections_stop_counting(cluster, connect):
    s1, s2 = cluster(2, "--max-sessions-per-address", "2")
    open_ok(s1, connect)
    open_ok(s1, connect)
    refused(s2, connect)
    s1.proc.kill()
    s1.proc.wait(5)
    s1.stopped = True
    # once s1's key runs out (3.5 s), its two connections count no more
    deadline = time.monotonic() + 15
    while True:
        c = connect(s2, hello=False)
        c.send({"type": "hello", "version": 1, "client": "test/1"})
        msg = c.recv(10)
        if msg["type"] == "welcome":
            break
        assert time.monotonic() < deadline, "the dead server's connections still count"
        c.close()
        time.sleep(0.5)
    open_ok(s2, connect)
    refused(s2, connect)


def test_without_redis_each_server_counts_its_own(signald, connect):
    s1 = signald("--max-sessions-per-address", "2")
    s2 = signald("--max-sessions-per-address", "2")
    for s in (s1, s2):
        open_ok(s, connect)
        open_ok(s, connect)
    refused(s1, connect)
    refused(s2, connect)


def test_sessions_away_count_across_servers(cluster, connect):
    """Sessions in their grace time count too (they hold no connection):
    two dropped on one server leave room for one more on the other."""
    s1, s2 = cluster(2, "--max-sessions-per-address", "3", "--grace", "60")
    for c in (open_ok(s1, connect), open_ok(s1, connect)):
        c.drop()
    b = open_ok(s2, connect)
    c = connect(s2, hello=False)
    c.send({"type": "hello", "version": 1, "client": "test/1", "id": 7})
    err = c.expect("error", timeout=10)
    assert err["code"] == "too-many-sessions" and err["ref"] == "hello" and err["id"] == 7
    b.ping_ok()
    # on the first server, the oldest session away makes room, as on one server
    open_ok(s1, connect)
