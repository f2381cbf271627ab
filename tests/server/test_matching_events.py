"""Random matching when nobody new arrives: waits running out, rematch
blocks ending, queueing again with other interests (the matcher acts on
these as events, not on a tick)."""
import time

from vtest import pair, queue


def test_waits_run_out_without_newcomers(signald, connect):
    s = signald("--interest-wait", "1", "--language-wait", "2")
    a, b = connect(s, name="A"), connect(s, name="B")
    queue(a, interests=["chess"], language="en")
    queue(b, interests=["film"], language="de")
    # interests give way after 1 s, but both still ask for their language
    a.expect_nothing(1.5)
    ma = a.expect("matched", timeout=2)
    mb = b.expect("matched", timeout=1)
    assert ma["call"] == mb["call"]
    assert ma["common_interests"] == []


def test_rematch_block_ends(signald, connect):
    s = signald("--rematch-delay", "1")
    a, b = connect(s, name="A"), connect(s, name="B")
    call, _, _ = pair(a, b)
    a.send({"type": "next", "call": call})
    a.expect("call_ended", call=call, reason="next")
    a.expect("queued")
    b.expect("peer_left", call=call, reason="next")
    queue(b)
    a.expect_nothing(0.5)
    # nobody else comes: once the block ends they meet again
    ma = a.expect("matched", timeout=2)
    mb = b.expect("matched", timeout=1)
    assert ma["call"] == mb["call"] != call


def test_queue_again_with_other_interests(signald, connect):
    s = signald("--interest-wait", "30")
    a, b, c = connect(s, name="A"), connect(s, name="B"), connect(s, name="C")
    queue(a, interests=["music"])
    queue(a, interests=["chess"])  # changes its mind while waiting
    queue(c, interests=["music"])
    c.expect_nothing(0.5)
    queue(b, interests=["chess"])
    mb = b.expect("matched")
    ma = a.expect("matched")
    assert mb["call"] == ma["call"]
    assert ma["common_interests"] == ["chess"]
    c.expect_nothing(0.3)


def test_queue_again_then_leave_leaves_no_trace(signald, connect):
    """A session that changed its interests while waiting is no longer
    indexed under the old ones once it is gone (the fuzzer found the
    stale entry: the next person queueing with the old interest read the
    freed session; the asan setup runs this test)."""
    s = signald("--interest-wait", "30", "--grace", "0")
    a, c = connect(s, name="A"), connect(s, name="C")
    queue(a, interests=["music"])
    queue(a, interests=["chess"])
    a.close()
    time.sleep(0.3)
    queue(c, interests=["music"])
    c.expect_nothing(0.3)
    d = connect(s, name="D")
    queue(d, interests=["music"])
    md, mc = d.expect("matched"), c.expect("matched")
    assert md["call"] == mc["call"]
