"""Reports and refusals shared through Redis: reports made on two servers
add up to what the same reports on one server do (the reported address is
kept out of the random queue on every server, also one started later), and
reporters still count by address across servers."""
import time

from vtest import pair, queue


def report_and_leave(reporter, target, call):
    reporter.send({"type": "report", "call": call, "reason": "was abusive"})
    reporter.expect("reported", call=call)
    reporter.send({"type": "leave", "call": call})
    reporter.expect("call_ended", call=call)
    target.expect("peer_left", call=call)


def test_reports_on_two_servers_add_up(cluster, connect, signald, redis):
    s1, s2 = cluster(2, "--report-threshold", "2", "--report-refuse-time", "600")
    t1 = connect(s1, name="Troll", source="127.0.0.9")
    p1 = connect(s1, name="P1", source="127.0.0.2")
    call, _, _ = pair(t1, p1)
    report_and_leave(p1, t1, call)
    # one report, below the threshold: the troll still meets people
    t2 = connect(s2, name="Troll on 2", source="127.0.0.9")
    p2 = connect(s2, name="P2", source="127.0.0.3")
    call, _, _ = pair(t2, p2)
    # another session of the troll waits on the first server meanwhile
    t3 = connect(s1, name="Troll waiting", source="127.0.0.9")
    queue(t3)
    report_and_leave(p2, t2, call)
    # the second report, made on the other server, reaches the threshold
    t2.send({"type": "queue", "id": "q2"})
    err = t2.expect_error("refused", ref="queue")
    assert err["id"] == "q2"
    # the first server hears of it: its waiting troll is taken out, and
    # the troll's other session there may not queue
    t3.expect_error("refused")
    t1.send({"type": "queue", "id": "q1"})
    assert t1.expect_error("refused", ref="queue")["id"] == "q1"
    ttl = int(redis.cli("PTTL", "vchat:ref:127.0.0.9"))
    assert 590_000 < ttl <= 600_000, ttl
    # a server started after the refusal asks Redis
    s3 = signald("--redis", redis.url)
    t4 = connect(s3, name="Troll on 3", source="127.0.0.9")
    t4.send({"type": "queue"})
    t4.expect_error("refused", ref="queue")
    # nobody else is refused
    a, b = connect(s1, source="127.0.0.4"), connect(s1, source="127.0.0.5")
    pair(a, b)
    c, d = connect(s3, source="127.0.0.6"), connect(s3, source="127.0.0.7")
    pair(c, d)


def test_one_reporter_on_two_servers_counts_once(cluster, connect, redis):
    s1, s2 = cluster(2, "--report-threshold", "2")
    for s in (s1, s2):
        t = connect(s, name="Target", source="127.0.0.9")
        p = connect(s, name="Same reporter", source="127.0.0.2")
        call, _, _ = pair(t, p)
        report_and_leave(p, t, call)
        t.close(1000)
        p.close(1000)
    time.sleep(0.3)  # a refusal, had there been one, would have gone out
    assert redis.cli("EXISTS", "vchat:ref:127.0.0.9") == "0"
    assert redis.cli("SCARD", "vchat:rep:127.0.0.9") == "1"
    t = connect(s2, name="Target", source="127.0.0.9")
    o = connect(s2, name="Other", source="127.0.0.5")
    queue(t)
    queue(o)
    assert t.expect("matched")["peer"]["name"] == "Other"
