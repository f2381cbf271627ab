"""Redis that stops answering while people wait in the shared queue.

The servers give a command up after 2 s without an answer and connect
again; Redis, resumed, still runs the match scripts it had received, which
take people out of the shared queue while their answers are lost. Nobody
may stay waiting for ever because of that, and nobody may be matched
twice (issue 14)."""
import collections
import os
import time

import pytest


def stall(redis, seconds):
    os.kill(redis.proc.pid, 19)  # SIGSTOP
    try:
        time.sleep(seconds)
    finally:
        os.kill(redis.proc.pid, 18)  # SIGCONT


@pytest.mark.parametrize("per_server", [1, 4])
def test_match_whose_answer_is_lost_still_happens(cluster, connect, redis, per_server):
    s1, s2 = cluster(2, "--shared-queue-after", "0", "--max-sessions-per-address", "64",
                     "--max-pending-per-address", "64")
    servers = [s1, s2]
    clients = [connect(servers[i % 2]) for i in range(2 * per_server)]
    # Interests nobody shares: the local matchers wait for a common one,
    # so every pair is made by the script, in Redis.
    os.kill(redis.proc.pid, 19)  # SIGSTOP: the spills and matches wait in Redis
    try:
        for i, c in enumerate(clients):
            c.send({"type": "queue", "interests": [f"topic{i}"]})
        for c in clients:
            c.expect("queued")
        time.sleep(2.5)  # past the servers' command timeout (2 s)
    finally:
        os.kill(redis.proc.pid, 18)  # SIGCONT
    calls = collections.defaultdict(list)
    unmatched = []
    for i, c in enumerate(clients):
        try:
            m = c.expect("matched", timeout=20)
        except (TimeoutError, AssertionError):
            unmatched.append(i)
            continue
        calls[m["call"]].append(i)
    assert not unmatched, f"still waiting after Redis came back: {unmatched}"
    assert len(calls) == per_server and all(len(v) == 2 for v in calls.values()), dict(calls)
    # nobody matched a second time
    for c in clients:
        c.expect_nothing(1.0 if c is clients[0] else 0.1)
    # and the shared queue is empty
    assert redis.cli("ZCARD", "vchat:queue") == "0"


def test_partner_of_a_lost_match_queues_again(cluster, connect, redis):
    """The one whose match answer was lost leaves before the server learns
    it: the partner, taken out of the shared queue, is put back and meets
    someone else."""
    s1, s2 = cluster(2, "--shared-queue-after", "0")
    a = connect(s1)
    b = connect(s2)
    os.kill(redis.proc.pid, 19)  # SIGSTOP
    try:
        a.send({"type": "queue", "interests": ["a"]})
        a.expect("queued")
        b.send({"type": "queue", "interests": ["b"]})
        b.expect("queued")
        time.sleep(2.5)
        a.close()  # gone while its server still waits for Redis
    finally:
        os.kill(redis.proc.pid, 18)  # SIGCONT
    c = connect(s1)
    c.send({"type": "queue", "interests": ["c"]})
    c.expect("queued")
    # b may first hear of the lost match, with a, gone (and then that a
    # left): it queues again
    calls = {}
    deadline = time.monotonic() + 30
    while not (calls.get("b") and calls.get("b") == calls.get("c")):
        assert time.monotonic() < deadline, calls
        for name, client in (("b", b), ("c", c)):
            try:
                m = client.recv(0.2)
            except TimeoutError:
                continue
            assert m["type"] in ("matched", "peer_left", "queued"), m
            if m["type"] == "matched":
                calls[name] = m["call"]
            elif m["type"] == "peer_left":
                assert name == "b" and m["reason"] == "lost", m
                client.send({"type": "queue", "interests": [name]})
    b.expect_nothing(0.5)
    c.expect_nothing(0.1)
