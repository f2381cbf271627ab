"""The random queue shared by servers on one Redis: people who wait on
different servers meet; a Lua script pairs two at a time, so under
concurrency nobody is paired twice."""
import collections
import time


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
    servers = cluster(3, "--shared-queue-after", "0", "--interest-wait", "1",
                      "--max-sessions-per-address", "256", "--max-pending-per-address", "256")
    clients = [connect(servers[i % 3]) for i in range(45)]
    # Interests nobody shares, and everyone in the shared queue at once: the
    # pairs are all made by the script, once the interest wait ran out.
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


def test_shared_queue_keeps_to_interests_for_the_interest_wait(cluster, connect):
    """Across servers as on one (sigd-matcher.c): someone with interests
    waits --interest-wait for a partner sharing one before taking anyone,
    and one who comes meanwhile with a common interest is preferred."""
    s1, s2 = cluster(2, "--shared-queue-after", "0", "--interest-wait", "4")
    a, b, c = connect(s1, name="A"), connect(s2, name="B"), connect(s2, name="C")
    a.send({"type": "queue", "interests": ["chess"]})
    a.expect("queued")
    b.send({"type": "queue", "interests": ["knitting"]})
    b.expect("queued")
    a.expect_nothing(1.5)  # nothing in common, and both still insist
    b.expect_nothing(0.1)
    c.send({"type": "queue", "interests": ["chess", "tea"]})
    c.expect("queued")
    ma = a.expect("matched", timeout=3)
    mc = c.expect("matched", timeout=3)
    assert ma["call"] == mc["call"]
    assert ma["common_interests"] == mc["common_interests"] == ["chess"]
    assert ma["peer"]["name"] == "C"
    # B takes anyone once its wait ran out: D, who has no interests.
    d = connect(s1, name="D")
    d.send({"type": "queue"})
    d.expect("queued")
    mb = b.expect("matched", timeout=8)
    assert mb["peer"]["name"] == "D" and mb["common_interests"] == []
    assert d.expect("matched", timeout=3)["call"] == mb["call"]


def test_shared_queue_keeps_languages_apart_for_the_language_wait(cluster, connect):
    s1, s2 = cluster(2, "--shared-queue-after", "0", "--language-wait", "3")
    a, b = connect(s1), connect(s2)
    a.send({"type": "queue", "language": "de"})
    a.expect("queued")
    b.send({"type": "queue", "language": "fr"})
    b.expect("queued")
    a.expect_nothing(2.0)
    assert a.expect("matched", timeout=6)["call"] == b.expect("matched", timeout=3)["call"]


def test_shared_interest_found_behind_the_longest_waiting(cluster, connect):
    """The script looks at the 200 who waited longest, at everyone who
    shares an interest wherever they wait (vchat:qi:INTEREST), and at the
    first 200 who wait without interests: someone with the interest of the
    205th in the queue meets them at once, and two without interests who
    come after them meet each other."""
    s1, s2 = cluster(2, "--shared-queue-after", "0", "--interest-wait", "60",
                     "--max-sessions-per-address", "512", "--max-pending-per-address", "512")
    waiting = []
    for i in range(205):
        c = connect((s1, s2)[i % 2])
        c.send({"type": "queue", "interests": [f"topic{i}"]})
        c.expect("queued")
        waiting.append(c)
        if i == 199:
            time.sleep(0.3)  # the last five wait less than the first 200, surely
    time.sleep(1.0)  # everyone is in the shared queue (--shared-queue-after 0)
    x = connect(s1, name="X")
    x.send({"type": "queue", "interests": ["topic204", "unshared"]})
    x.expect("queued")
    mx = x.expect("matched", timeout=5)
    mw = waiting[204].expect("matched", timeout=5)
    assert mx["call"] == mw["call"] and mx["common_interests"] == ["topic204"]
    # Two without interests, on two servers, behind 204 who still insist on
    # theirs: they meet (vchat:qn, who waits without interests).
    y, z = connect(s1, name="Y"), connect(s2, name="Z")
    for c in (y, z):
        c.send({"type": "queue"})
        c.expect("queued")
    my = y.expect("matched", timeout=5)
    assert z.expect("matched", timeout=5)["call"] == my["call"] and my["peer"]["name"] == "Z"
    for c in waiting[:204]:
        c.expect_nothing(0.01)
