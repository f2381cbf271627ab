"""The web client puts request ids on invite_create, invite_join and queue,
and matches the answers by id (docs/protocol.md, "Request ids"): an answer
to an earlier request that arrives late is not taken for the answer to the
latest one.

The page talks to a real vchat-signald; a spy on WebSocket.send records what
it sends, and answers to earlier requests are handed to its socket as if
the server had sent them late.
"""
import json
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from chromium import CHROMIUM, Browser  # noqa: E402
from signald import Signald  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")

SPY_JS = """(() => {
  if (window.__sent) return true;
  window.__sent = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    window.__ws = this;
    try { window.__sent.push(JSON.parse(data)); } catch (e) { /* not JSON */ }
    return send.call(this, data);
  };
  return true;
})()"""


def late(msg):
    """JS that hands @msg to the page's socket, as if the server sent it."""
    return ("(() => { if (!window.__ws) throw new Error('no socket seen yet'); "
            "window.__ws.dispatchEvent(new MessageEvent('message', {data: "
            f"JSON.stringify({json.dumps(msg)})}})); return true; }})()")


def wait(browser, expression, what, timeout=20):
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = browser.eval(expression)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last {value!r}); "
                         f"log: {browser.eval('window.vchat.log.slice(-20)')}")


@pytest.fixture
def page():
    server = Signald()
    browser = None
    try:
        browser = Browser("A", server.url + "/")
        wait(browser, "window.vchat && window.vchat.signaling === 'online'", "the page to connect")
        browser.eval(SPY_JS)
        yield browser
    finally:
        if browser:
            browser.close()
        server.stop()


def sent(browser, type_):
    return browser.eval(f"window.__sent.filter((m) => m.type === {json.dumps(type_)})")


def test_invite_answer_is_matched_by_id(page):
    link = page.eval("""(async () => {
      const answer = window.vchat.createInvite();
      // the answer to an earlier invite_create comes first
      window.__ws.dispatchEvent(new MessageEvent('message', {data: JSON.stringify({
        type: 'invite', id: 'w0', code: 'zzzz-zzzz-zzzz-zzzz', claim: 'x'.repeat(32),
        link: 'vchat://join/zzzz-zzzz-zzzz-zzzz', expires: 0,
        web_link: 'http://stale.invalid/join/zzzz-zzzz-zzzz-zzzz'})}));
      return await answer;
    })()""")
    (create,) = sent(page, "invite_create")
    assert isinstance(create.get("id"), str) and create["id"] != "w0", create
    assert "stale.invalid" not in link and "/join/" in link, link
    assert page.eval("window.vchat.inviteLink") == link
    assert page.eval("window.vchat.invite.code") != "zzzz-zzzz-zzzz-zzzz"


def test_late_queue_error_does_not_stop_the_new_search(page):
    page.eval("window.vchat.start({interests: [], language: ''})")
    wait(page, "window.__sent.some((m) => m.type === 'queue') && "
               "window.vchat.state === 'searching'", "the first queue")
    page.eval("window.vchat.stop()")
    wait(page, "window.vchat.state === 'idle'", "idle after Stop")
    page.eval("window.vchat.start({interests: [], language: ''})")
    wait(page, "window.__sent.filter((m) => m.type === 'queue').length === 2 && "
               "window.vchat.state === 'searching'", "the second queue")
    first, second = sent(page, "queue")
    assert first.get("id") and second.get("id") and first["id"] != second["id"], (first, second)
    # an error about the first queue arrives late: the second goes on
    page.eval(late({"type": "error", "code": "refused", "ref": "queue", "id": first["id"],
                    "message": "Several people reported this session."}))
    time.sleep(0.3)
    assert page.eval("window.vchat.state") == "searching"
    assert page.eval("window.vchat.lastError") is None
    # the same error about the second one ends the search, and is shown
    page.eval(late({"type": "error", "code": "refused", "ref": "queue", "id": second["id"],
                    "message": "Several people reported this session."}))
    wait(page, "window.vchat.state === 'idle'", "idle after the error")
    assert page.eval("window.vchat.lastError.code") == "refused"


def test_join_carries_an_id_and_a_late_ringing_is_left(page):
    page.eval("window.vchat.join('aaaa-bbbb-cccc-dddd', {now: true})")
    err = wait(page, "window.vchat.lastError", "the server's invite-not-found")
    assert err["code"] == "invite-not-found" and err["ref"] == "invite_join", err
    (j,) = sent(page, "invite_join")
    assert isinstance(j.get("id"), str), j
    assert page.eval("window.vchat.state") == "idle"
    # the ringing of the first invite_join arrives late, while the second
    # one waits for its answer: it is not this join's, and is left
    state = page.eval("""(() => {
      window.vchat.join('bbbb-cccc-dddd-eeee', {now: true});
      const state = window.vchat.state;
      window.__ws.dispatchEvent(new MessageEvent('message', {data: JSON.stringify({
        type: 'ringing', call: 'c-old', id: %s, peer: {client: 'test/1'}})}));
      return [state, window.vchat.state];
    })()""" % json.dumps(j["id"]))
    assert state == ["joining", "joining"], state
    wait(page, "window.__sent.some((m) => m.type === 'leave' && m.call === 'c-old')",
         "the stale ringing left")
    joins = sent(page, "invite_join")
    assert len(joins) == 2 and joins[1]["id"] != j["id"], joins
