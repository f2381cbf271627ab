"""Reports: enough distinct reporters keep a session out of the random queue.

The reporters connect from their own loopback addresses (127.0.0.2, ...), so
the tests hold whether the server counts distinct reporting sessions or
distinct reporting addresses.
"""
from vtest import pair, queue


def report_and_leave(reporter, target, call, times=1):
    for _ in range(times):
        reporter.send({"type": "report", "call": call, "reason": "was abusive"})
        reporter.expect("reported", call=call)
    target.expect_nothing(0.2)  # the reported one is not told
    reporter.send({"type": "leave", "call": call})
    reporter.expect("call_ended", call=call, reason="hangup")
    target.expect("peer_left", call=call, reason="hangup")


def test_reported_by_two_is_refused(signald, connect):
    s = signald("--report-threshold", "2", "--report-refuse-time", "600")
    t = connect(s, name="Troll")
    p1 = connect(s, name="P1", source="127.0.0.2")
    p2 = connect(s, name="P2", source="127.0.0.3")
    other = connect(s, name="Other", source="127.0.0.4")
    call1, _, _ = pair(t, p1)
    report_and_leave(p1, t, call1)
    # one report is below the threshold: T may still queue
    call2, _, _ = pair(t, p2)
    assert call2 != call1
    report_and_leave(p2, t, call2)
    t.send({"type": "queue"})
    t.expect_error("refused", ref="queue")
    # T is not in the queue
    queue(other)
    other.expect_nothing(0.6)
    t.expect_nothing(0.1)
    # the reporters are not affected
    queue(p1)
    assert other.expect("matched")["peer"]["name"] == "P1"
    p1.expect("matched")


def test_same_reporter_counts_once(signald, connect):
    s = signald("--report-threshold", "2")
    t = connect(s, name="Target")
    p1 = connect(s, name="P1", source="127.0.0.2")
    other = connect(s, name="Other", source="127.0.0.3")
    call1, _, _ = pair(t, p1)
    report_and_leave(p1, t, call1, times=2)
    call2, _, _ = pair(t, p1)
    report_and_leave(p1, t, call2)
    # still only one distinct reporter
    queue(t)
    queue(other)
    assert t.expect("matched")["peer"]["name"] == "Other"
    other.expect("matched")


def test_report_reason_required(signald, connect):
    s = signald()
    a, b = connect(s), connect(s)
    call, _, _ = pair(a, b)
    a.send({"type": "report", "call": call})
    a.expect_error("missing-field", ref="report")
    a.send({"type": "report", "call": call, "reason": ""})
    a.expect_error("bad-value", ref="report")
    a.send({"type": "report", "call": call, "reason": "spam"})
    a.expect("reported", call=call)
    b.expect_nothing(0.2)


def test_refusal_outlives_the_session(signald, connect):
    """The reported problem: a refused session said hello again and started
    fresh. Refusals hold for the address."""
    s = signald("--report-threshold", "2")
    t = connect(s, name="Troll", source="127.0.0.9")
    for i, src in enumerate(("127.0.0.2", "127.0.0.3")):
        p = connect(s, name=f"P{i}", source=src)
        call, _, _ = pair(t, p)
        report_and_leave(p, t, call)
    t.close(1000)
    t2 = connect(s, name="Troll again", source="127.0.0.9")
    assert t2.session != t.session
    t2.send({"type": "queue"})
    t2.expect_error("refused", ref="queue")
    # others are not affected
    a, b = connect(s, source="127.0.0.4"), connect(s, source="127.0.0.5")
    pair(a, b)


def test_reports_of_a_session_add_up_across_its_hellos(signald, connect):
    s = signald("--report-threshold", "2")
    t = connect(s, name="Troll", source="127.0.0.9")
    p1 = connect(s, name="P1", source="127.0.0.2")
    call, _, _ = pair(t, p1)
    report_and_leave(p1, t, call)
    t.close(1000)
    t2 = connect(s, name="Troll again", source="127.0.0.9")
    p2 = connect(s, name="P2", source="127.0.0.3")
    call, _, _ = pair(t2, p2)
    report_and_leave(p2, t2, call)
    t2.send({"type": "queue"})
    t2.expect_error("refused", ref="queue")


def test_many_sessions_of_one_reporter_count_once(signald, connect):
    """Reporters count by address: one person with many sessions cannot
    get someone refused alone."""
    s = signald("--report-threshold", "2")
    t = connect(s, name="Target", source="127.0.0.9")
    for _ in range(3):
        p = connect(s, name="Sybil", source="127.0.0.2")
        call, _, _ = pair(t, p)
        report_and_leave(p, t, call)
        p.close(1000)
    queue(t)
