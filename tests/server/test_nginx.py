"""nginx from Debian in front of the server, with the shipped example
configuration (signaling/server/deploy/nginx.conf) on loopback ports: a
call works through it, and per-address limits see the forwarded addresses.
"""
import os
import shutil
import socket
import subprocess
import time

import pytest

from signald import stop_process
from vtest import http_get, pair

DEPLOY = os.path.join(os.path.dirname(__file__), "..", "..", "signaling", "server", "deploy")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Front:
    """What the test helpers need to know of a server, for nginx."""

    def __init__(self, port):
        self.scheme, self.host, self.port = "https", "127.0.0.1", port
        self.url = f"https://127.0.0.1:{port}"
        self.ws_url = f"wss://127.0.0.1:{port}/ws"


@pytest.fixture
def nginx(tmp_path):
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(binary):
        pytest.skip("nginx is not installed (scripts/deps installs nginx-light)")
    procs = []

    def start(upstream_port):
        cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)
        port, plain = free_port(), free_port()
        with open(os.path.join(DEPLOY, "nginx.conf")) as f:
            site = f.read()
        site = (site.replace("listen 80;", f"listen 127.0.0.1:{plain};")
                    .replace("listen [::]:80;", "")
                    .replace("listen 443 ssl http2;", f"listen 127.0.0.1:{port} ssl http2;")
                    .replace("listen [::]:443 ssl http2;", "")
                    .replace("/etc/letsencrypt/live/chat.example.org/fullchain.pem", str(cert))
                    .replace("/etc/letsencrypt/live/chat.example.org/privkey.pem", str(key))
                    .replace("server 127.0.0.1:8080;", f"server 127.0.0.1:{upstream_port};"))
        assert f"127.0.0.1:{port} ssl" in site and str(upstream_port) in site
        (tmp_path / "site.conf").write_text(site)
        t = tmp_path
        (t / "nginx.conf").write_text(f"""
daemon off;
user root;
worker_processes 1;
pid {t}/nginx.pid;
error_log {t}/error.log info;
events {{ worker_connections 512; }}
http {{
    access_log {t}/access.log;
    client_body_temp_path {t}/body;
    proxy_temp_path {t}/proxy;
    fastcgi_temp_path {t}/fastcgi;
    uwsgi_temp_path {t}/uwsgi;
    scgi_temp_path {t}/scgi;
    include {t}/site.conf;
}}
""")
        test = subprocess.run([binary, "-t", "-p", str(t), "-c", str(t / "nginx.conf")],
                              capture_output=True, text=True)
        assert test.returncode == 0, test.stderr
        proc = subprocess.Popen([binary, "-p", str(t), "-c", str(t / "nginx.conf")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        front = Front(port)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if http_get(front, "/healthz", timeout=1)[0] == 200:
                    return front
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("nginx did not come up: " + (t / "error.log").read_text())

    yield start
    for p in procs:
        stop_process(p)


def refused(c):
    c.send({"type": "hello", "version": 1, "client": "test/1"})
    msgs, code = c.read_until_close()
    errors = [m for m in msgs if isinstance(m, dict) and m.get("type") == "error"]
    return code == 1008 and errors and errors[0]["code"] == "too-many-sessions"


def test_call_through_nginx(signald, connect, nginx):
    s = signald("--trusted-proxy", "127.0.0.1")
    front = nginx(s.port)
    status, _, body = http_get(front, "/healthz")
    assert status == 200 and body.strip() == b"ok"
    a, b = connect(front, name="Alice"), connect(front, name="Bob")
    call, ma, mb = pair(a, b)
    a.send({"type": "signal", "call": call, "sdp": {"type": "offer", "sdp": "v=0\r\n"}})
    assert b.expect("signal", call=call)["sdp"]["type"] == "offer"
    b.send({"type": "signal", "call": call, "sdp": {"type": "answer", "sdp": "v=0\r\n"}})
    a.expect("signal", call=call)
    a.send({"type": "leave", "call": call})
    a.expect("call_ended")
    b.expect("peer_left", reason="hangup")


def test_limits_see_forwarded_addresses(signald, connect, nginx):
    s = signald("--trusted-proxy", "127.0.0.1", "--max-sessions-per-address", "2",
                "--join-attempts", "2")
    front = nginx(s.port)
    first = [connect(front, source="127.0.0.2") for _ in range(2)]
    assert refused(connect(front, source="127.0.0.2", hello=False))
    others = [connect(front, source=f"127.0.0.{i}") for i in range(3, 8)]
    for c in first + others:
        c.ping_ok()
    # wrong invite codes lock out their sender only
    for i in range(3):
        others[0].send({"type": "invite_join", "code": f"aaaa-bbbb-cccc-{i:04d}"})
        err = others[0].expect("error")
    assert err["code"] == "too-many-attempts"
    others[1].send({"type": "invite_join", "code": "aaaa-bbbb-cccc-dddd"})
    assert others[1].expect("error")["code"] == "invite-not-found"
    assert "127.0.0.2" not in s.log  # addresses stay out of the log


def test_nginx_keeps_metrics_and_bodies_out(signald, nginx):
    s = signald("--trusted-proxy", "127.0.0.1")
    front = nginx(s.port)
    assert http_get(front, "/metrics")[0] == 200  # from 127.0.0.1, the monitoring host
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", front.port), source_address=("127.0.0.2", 0))
    with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as t:
        t.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert t.recv(100).startswith(b"HTTP/1.1 403")
    raw = socket.create_connection(("127.0.0.1", front.port))
    with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as t:
        t.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
        assert t.recv(100).startswith(b"HTTP/1.1 413")
