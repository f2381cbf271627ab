"""tests/lib/jsonrpc_ws.py, the request and answer loop DevTools (Chromium)
and WebDriver BiDi (Firefox) share, against a small WebSocket server that
answers as each browser does: events before the answer, answers to other
ids, each protocol's error answer, and no answer at all."""
import asyncio
import json
import threading

import pytest

websockets = pytest.importorskip("websockets",
                                 reason="python3-websockets is not installed (scripts/deps)")

from chromium import DevTools  # noqa: E402
from firefox import BiDi  # noqa: E402


class Server:
    """Answers each request by `handler(request)`: a list of frames to send
    (objects, sent as JSON), in order."""

    def __init__(self, handler):
        self.handler = handler
        self.requests = []
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        async def serve(ws, path=None):
            async for text in ws:
                request = json.loads(text)
                self.requests.append(request)
                for frame in self.handler(request):
                    await ws.send(json.dumps(frame))

        async def main():
            self.server = await websockets.serve(serve, "127.0.0.1", 0)
            self.port = self.server.sockets[0].getsockname()[1]
            started.set()

        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(main(), self.loop)
        assert started.wait(10)
        self.url = f"ws://127.0.0.1:{self.port}/"

    def stop(self):
        async def close():
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def chromium_like(request):
    """DevTools: events have a method and no id; errors are an "error"
    member."""
    if request["method"] == "Fail.please":
        return [{"id": request["id"], "error": {"code": -32601, "message": "'Fail.please' wasn't found"}}]
    if request["method"] == "Silence.please":
        return [{"method": "Page.frameNavigated", "params": {}}]
    return [{"method": "Runtime.consoleAPICalled", "params": {"type": "log"}},
            {"id": request["id"] + 100, "result": {"stray": True}},
            {"id": request["id"], "result": {"echo": request["params"]}}]


def firefox_like(request):
    """BiDi: every message has a type; events "event", errors "error"."""
    if request["method"] == "fail.please":
        return [{"type": "error", "id": request["id"], "error": "unknown command",
                 "message": "fail.please is not a command"}]
    return [{"type": "event", "method": "log.entryAdded", "params": {}},
            {"type": "success", "id": request["id"], "result": {"echo": request["params"]}}]


@pytest.fixture
def server():
    servers = []

    def start(handler):
        s = Server(handler)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


def test_devtools_answers_events_and_errors(server):
    s = server(chromium_like)
    client = DevTools(s.url)
    try:
        assert client.call("Runtime.evaluate", expression="1+1") == {"echo": {"expression": "1+1"}}
        assert client.call("Page.navigate", url="about:blank") == {"echo": {"url": "about:blank"}}
        assert [r["id"] for r in s.requests] == [1, 2]
        with pytest.raises(RuntimeError, match=r"^DevTools Fail.please: .*wasn't found"):
            client.call("Fail.please")
        with pytest.raises(TimeoutError, match=r"^DevTools Silence.please: no answer in 0.5 s"):
            client.call("Silence.please", timeout=0.5)
    finally:
        client.close()


def test_bidi_answers_events_and_errors(server):
    s = server(firefox_like)
    client = BiDi(s.url)
    try:
        assert client.call("session.new", capabilities={}) == {"echo": {"capabilities": {}}}
        with pytest.raises(RuntimeError,
                           match=r"^BiDi fail.please: unknown command: fail.please is not a command$"):
            client.call("fail.please")
        # The connection goes on after an error answer.
        assert client.call("script.evaluate", expression="x")["echo"] == {"expression": "x"}
    finally:
        client.close()
