"""Text shown to people (docs/protocol.md, "Text shown to people"): a name,
client string or interest with a terminal control, a bidirectional formatting
character or a line separator is refused with `bad-value`, an error that
names the field and the character; the refused message had no effect and the
session goes on, so the client can say hello again with a clean name."""
import json

import pytest

from vtest import pair

# The joiner of issue 13: sets the terminal's title, writes its clipboard
# (OSC 52), wipes the line and writes another name over it.
HOSTILE = "Bob\x1b]0;title\x07\x1b]52;c;eA==\x07\x1b[2K\rAlice"

# (id, character, how the error names it). Not U+0000: json-glib's strings
# end there, so "a\u0000b" arrives as "a".
REFUSED = [
    ("soh", "\x01", "a control character (U+0001)"),
    ("tab", "\t", "a control character (U+0009)"),
    ("newline", "\n", "a control character (U+000A)"),
    ("esc", "\x1b", "a control character (U+001B)"),
    ("del", "\x7f", "a control character (U+007F)"),
    ("c1-csi", "\x9b", "a control character (U+009B)"),
    ("c1-nel", "\x85", "a control character (U+0085)"),
    ("lre", "\u202a", "a bidirectional formatting character (U+202A)"),
    ("rlo", "\u202e", "a bidirectional formatting character (U+202E)"),
    ("lri", "\u2066", "a bidirectional formatting character (U+2066)"),
    ("pdi", "\u2069", "a bidirectional formatting character (U+2069)"),
    ("lrm", "\u200e", "a bidirectional formatting character (U+200E)"),
    ("rlm", "\u200f", "a bidirectional formatting character (U+200F)"),
    ("alm", "\u061c", "a bidirectional formatting character (U+061C)"),
    ("line-separator", "\u2028", "a line or paragraph separator (U+2028)"),
    ("paragraph-separator", "\u2029", "a line or paragraph separator (U+2029)"),
]


def hello(c, **fields):
    c.send(dict({"type": "hello", "version": 1, "client": "test/1"}, **fields))


def test_hostile_name_is_refused_and_hello_again_works(signald, connect):
    s = signald()
    c = connect(s, hello=False)
    hello(c, name=HOSTILE)
    err = c.expect_error("bad-value", ref="hello")
    assert err["message"].startswith("“name” contains a control character (U+001B)"), err
    # Not echoed: the error is safe to show wherever the client shows errors.
    assert "\x1b" not in err["message"] and "\x07" not in err["message"]
    # No session was made: the client is still to say hello.
    c.send({"type": "queue"})
    c.expect_error("not-welcomed")
    hello(c, name="Bob")
    assert c.expect("welcome")["resumed"] is False
    c.ping_ok()


@pytest.mark.parametrize("char,what", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_each_refused_character_in_each_field(signald, connect, char, what):
    s = signald()
    c = connect(s, hello=False)
    hello(c, name=f"a{char}b")
    assert f"“name” contains {what};" in c.expect_error("bad-value", ref="hello")["message"]
    hello(c, client=f"web/1{char}")
    assert f"“client” contains {what};" in c.expect_error("bad-value", ref="hello")["message"]
    hello(c, name="Ada")
    c.expect("welcome")
    c.send({"type": "queue", "interests": ["jazz", f"{char}x"]})
    assert (f"“interests[1]” contains {what};"
            in c.expect_error("bad-value", ref="queue")["message"])
    c.ping_ok()


def test_refused_queue_had_no_effect(signald, connect):
    s = signald()
    a, b = connect(s, name="A"), connect(s, name="B")
    a.send({"type": "queue", "interests": ["jazz\u202e"]})
    a.expect_error("bad-value", ref="queue")
    b.send({"type": "queue"})
    b.expect("queued")
    b.expect_nothing(0.7)  # A is not in the queue
    a.expect_nothing(0.1)


def test_ordinary_unicode_reaches_the_peer_unchanged(signald, connect):
    """Only controls are refused: scripts, accents, emoji and their joiners
    go through as they were sent, and the peer gets exactly that."""
    s = signald()
    name = "Zoë 李 עדה علي 👩\u200d💻"
    a = connect(s, name=name, client="web/0.1 (Firefox; «test»)")
    b = connect(s, name="Ada")
    _, _, mb = pair(a, b, interests=["café", "jazz"])
    assert mb["peer"] == {"name": name, "client": "web/0.1 (Firefox; «test»)"}


def test_peer_never_sees_a_refused_name(signald, connect):
    """The joiner of the issue gets an error, says hello again as someone
    plain, and that is all the other side ever learns."""
    s = signald()
    a = connect(s, hello=False)
    hello(a, name=HOSTILE, client="evil/1\x1b[2J")
    a.expect_error("bad-value", ref="hello")
    hello(a, name="Bob", client="evil/1")
    a.expect("welcome")
    b = connect(s, name="Ada")
    _, ma, mb = pair(a, b)
    assert mb["peer"] == {"name": "Bob", "client": "evil/1"}
    for m in (ma, mb):
        assert not any(ch in json.dumps(m, ensure_ascii=False) for ch in "\x1b\x07\r")
