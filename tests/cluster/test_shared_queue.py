"""The random queue shared by servers on one Redis: people who wait on
different servers meet; a Lua script pairs two at a time, so under
concurrency nobody is paired twice."""
import collections


def test_two_people_on_two_servers_meet(cluster, connect):
    s1, s2 = cluster(2, "--shared-queue-after", "0.5")
    a = connect(s1, name="Alice", client="web/1")
    b = connect(s2, name="Bob", client="vchatd/1")
    a.send({"type": "queue", "interests": ["chess", "cats"], "id": "qa"})
    a.expect("queued", id="qa")
    b.send({"type": "queue", "interests": ["cats"], "id": "qb"})
    b.expect("queued", id="qb")
    ma = a.expect("matched", timeout=10)
    mb = b.expect("matched", timeout=10)
    assert ma["call"] == mb["call"] and ma["secret"] == mb["secret"]
    assert ma["kind"] == mb["kind"] == "random"
    assert ma["common_interests"] == mb["common_interests"] == ["cats"]
    assert ma["peer"] == {"name": "Bob", "client": "vchatd/1"}
    assert mb["role"] == "offerer" and ma["role"] == "answerer"  # the daemon offers
    call = ma["call"]
    b.send({"type": "signal", "call": call, "sdp": {"type": "offer", "sdp": "v=0\r\n"}})
    assert a.expect("signal", call=call)["sdp"]["type"] == "offer"
    # next: both free; not paired again straight away
    a.send({"type": "next", "call": call})
    a.expect("call_ended", reason="next")
    a.expect("queued")
    b.expect("peer_left", reason="next")
    b.send({"type": "queue"})
    b.expect("queued")
    a.expect_nothing(2.0)
    b.expect_nothing(0.1)


def test_local_partner_first(cluster, connect):
    s1, s2 = cluster(2, "--shared-queue-after", "2")
    a, c = connect(s1), connect(s1)
    b = connect(s2)
    b.send({"type": "queue"})
    b.expect("queued")
    a.send({"type": "queue"})
    a.expect("queued")
    c.send({"type": "queue"})
    c.expect("queued")
    # a and c share a server: they meet at once, before b is in the shared queue
    assert a.expect("matched", timeout=2)["call"] == c.expect("matched", timeout=2)["call"]
    b.expect_nothing(0.5)


def test_many_queue_at_once_across_three_servers(cluster, connect):
    servers = cluster(3, "--shared-queue-after", "0", "--max-sessions-per-address", "256",
                      "--max-pending-per-address", "256")
    clients = [connect(servers[i % 3]) for i in range(45)]
    # Interests nobody shares: the local matchers wait for a common one
    # (--interest-wait), so the pairs are all made by the script.
    for i, c in enumerate(clients):
        c.send({"type": "queue", "interests": [f"topic{i}"]})
    for c in clients:
        c.expect("queued")
    calls = collections.defaultdict(list)
    unmatched = []
    for i, c in enumerate(clients):
        try:
            m = c.expect("matched", timeout=15)
        except (TimeoutError, AssertionError):
            unmatched.append(i)
            continue
        calls[m["call"]].append(i)
    # 45 people: 22 pairs, one left waiting; nobody in two calls
    assert len(unmatched) == 1, unmatched
    assert len(calls) == 22 and all(len(v) == 2 for v in calls.values()), dict(calls)
    for c in clients:
        c.expect_nothing(0.1)
    # some pairs span servers
    assert any(len({servers[i % 3].port for i in v}) == 2 for v in calls.values())
