"""HTTP endpoints: /healthz and /metrics."""
import time

from vtest import http_get, metric, metrics, pair, wait_metric

GAUGES = ("vchat_sessions", "vchat_queue_length", "vchat_calls_active", "vchat_invites_open")
COUNTERS = ("vchat_matches_total", "vchat_messages_relayed_total", "vchat_errors_total")


def test_healthz(signald):
    s = signald()
    status, headers, body = http_get(s, "/healthz")
    assert status == 200
    assert body.strip() == b"ok"


def test_unknown_path_is_404(signald):
    status, _, _ = http_get(signald(), "/no-such-page-here")
    assert status == 404


def test_metrics_format(signald):
    s = signald()
    status, headers, body = http_get(s, "/metrics")
    assert status == 200
    assert headers.get("Content-Type", "").startswith("text/plain")
    values, types = metrics(s)
    names = {name for name, _ in values}
    for g in GAUGES:
        assert g in names, f"{g} missing from /metrics"
        assert types.get(g) == "gauge", f"# TYPE {g} is {types.get(g)}"
    for c in COUNTERS:
        assert types.get(c) == "counter", f"# TYPE {c} is {types.get(c)}"
    for c in COUNTERS[:2]:
        assert c in names, f"{c} missing from /metrics"
    for g in GAUGES + COUNTERS[:2]:
        assert values[(g, "")] == 0, f"{g} is {values[(g, '')]} on a fresh server"


def test_metrics_move(signald, connect):
    s = signald()
    wait_metric(s, "vchat_sessions", 0)
    a, b, c = connect(s, name="A"), connect(s, name="B"), connect(s, name="C")
    wait_metric(s, "vchat_sessions", 3)
    a.send({"type": "queue"})
    a.expect("queued")
    wait_metric(s, "vchat_queue_length", 1)
    b.send({"type": "queue"})
    b.expect("queued")
    call = a.expect("matched")["call"]
    b.expect("matched")
    wait_metric(s, "vchat_matches_total", 1)
    wait_metric(s, "vchat_calls_active", 1)
    wait_metric(s, "vchat_queue_length", 0)
    for i in range(3):
        a.send({"type": "signal", "call": call, "ice": {"candidate": f"c{i}", "sdpMLineIndex": 0}})
        b.expect("signal")
    wait_metric(s, "vchat_messages_relayed_total", 3)
    c.send({"type": "invite_create"})
    code = c.expect("invite")["code"]
    wait_metric(s, "vchat_invites_open", 1)
    c.send({"type": "invite_cancel", "code": code})
    c.expect("invite_cancelled")
    wait_metric(s, "vchat_invites_open", 0)
    label = '{code="bad-json"}'
    before = metric(s, "vchat_errors_total", label)
    c.send_raw("not json at all")
    c.expect_error("bad-json")
    c.send_raw("[]")
    c.expect_error("bad-json")
    wait_metric(s, "vchat_errors_total", before + 2, labels=label)
    c.send({"type": "dance"})
    c.expect_error("unknown-type")
    wait_metric(s, "vchat_errors_total", 1, labels='{code="unknown-type"}')
    a.send({"type": "leave", "call": call})
    a.expect("call_ended")
    b.expect("peer_left")
    wait_metric(s, "vchat_calls_active", 0)
    wait_metric(s, "vchat_matches_total", 1)
    c.close(1000)
    wait_metric(s, "vchat_sessions", 2)
    # a second match counts
    pair(a, b)
    wait_metric(s, "vchat_matches_total", 2)


def test_metrics_do_not_leak_addresses(signald, connect):
    s = signald()
    connect(s)
    connect(s, source="127.0.0.2")
    time.sleep(0.1)
    _, _, body = http_get(s, "/metrics")
    assert b"127.0.0." not in body


def test_join_link_opens_browser_client(signald):
    """PUBLIC_URL/join/CODE opens the browser client (needs the web root)."""
    s = signald()
    status, headers, body = http_get(s, "/")
    assert status == 200 and headers.get("Content-Type", "").startswith("text/html")
    status, headers, join_page = http_get(s, "/join/abcd-efgh-ijkl-mnop")
    assert status == 200
    assert headers.get("Content-Type", "").startswith("text/html")
    assert b"<html" in join_page.lower() or b"<!doctype html" in join_page.lower()


def test_metrics_only_for_monitoring_hosts(signald):
    """The reported problem: /metrics was public. By default only loopback
    reads it; behind a trusted proxy the forwarded address counts."""
    import socket

    def get(s, source, headers=""):
        c = socket.create_connection((s.host, s.port), source_address=(source, 0), timeout=5)
        c.sendall(f"GET /metrics HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
        status = int(c.recv(100).split(b" ")[1])
        c.close()
        return status

    s = signald("--metrics-from", "127.0.0.1", "--trusted-proxy", "127.0.0.5")
    assert get(s, "127.0.0.1") == 200
    assert get(s, "127.0.0.2") == 403
    assert get(s, "127.0.0.5", "X-Forwarded-For: 198.51.100.1\r\n") == 403
    assert get(s, "127.0.0.5", "X-Forwarded-For: 127.0.0.1\r\n") == 200
    assert get(s, "127.0.0.3", "X-Forwarded-For: 127.0.0.1\r\n") == 403
    d = signald()
    assert get(d, "127.0.0.9") == 200  # the default: all of loopback
