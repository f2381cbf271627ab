"""vchatctl as a person or a script uses it.

- help: golden files for `vchatctl --help` and every verb's --help, and the
  man page and bash completion kept in step with them (no daemon needed);
- usage errors (exit 2) and no daemon (exit 4), on a private empty bus or
  with no bus at all; D-Bus activation, failing and succeeding;
- test_daemon_golden_*: status, list and show, plain and --json, against a
  real vchatd (the `daemon_env` fixture), with ports, invite codes, call
  numbers and times normalised;
- test_daemon_*: whole calls between two real daemons made with vchatctl:
  invite, join, accept --wait, say, mute, video, monitor, hangup, history,
  and the exit status of each way a command can fail.

Golden files live in tests/cli/golden/; tests/cli/update-golden rewrites
them from the current output (then read the diff before committing it).
"""
import difflib
import json
import os
import re
import queue
import subprocess
import threading
import time

import pytest

from conftest import GOLDEN, binary, clean_env, daemon_env_of, need_daemon

VERBS = ["status", "devices", "camera", "random", "invite", "join", "accept", "reject",
         "hangup", "next", "mute", "video", "say", "report", "list", "show", "history",
         "monitor", "view", "config", "secret"]

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MAN_PAGE = os.path.join(ROOT, "data", "vchatctl.1")
COMPLETION = os.path.join(ROOT, "data", "vchatctl.bash-completion")
START_HINT = "systemctl --user start vchatd"


def check_golden(name, actual):
    path = os.path.join(GOLDEN, name)
    if os.environ.get("VCHAT_UPDATE_GOLDEN"):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(actual)
        return
    if not os.path.exists(path):
        pytest.fail(f"no golden file {name}; write it with tests/cli/update-golden")
    with open(path) as f:
        expected = f.read()
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                            f"golden/{name}", "actual"))
        pytest.fail(f"output differs from golden/{name} "
                    f"(if the change is meant, run tests/cli/update-golden):\n{diff}")


# ---------------------------------------------------------------- help


def test_help_golden_top_level(vchatctl):
    r = vchatctl("--help")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    check_golden("help/vchatctl.txt", r.stdout)


def test_help_lists_every_verb_once_with_a_summary(vchatctl):
    out = vchatctl("--help").stdout
    section = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    listed = [line.split()[0] for line in section.splitlines() if line.startswith("  ")
              and not line.startswith("    ")]
    assert listed == VERBS
    for line in section.splitlines():
        assert len(line) <= 79, f"help line too long: {line!r}"


@pytest.mark.parametrize("verb", VERBS)
def test_help_golden_verb(vchatctl, verb):
    r = vchatctl(verb, "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"Usage: vchatctl {verb}")
    for line in r.stdout.splitlines():
        assert len(line) <= 79, f"help line too long: {line!r}"
    check_golden(f"help/{verb}.txt", r.stdout)
    # The same help, however it is asked for.
    assert vchatctl("help", verb).stdout == r.stdout
    assert vchatctl("--help", verb).stdout == r.stdout
    assert vchatctl(verb, "-h").stdout == r.stdout


def test_help_summary_in_top_level_matches_verb_help(vchatctl):
    top = vchatctl("--help").stdout
    for verb in VERBS:
        summary = vchatctl(verb, "--help").stdout.split("\n\n")[1].strip()
        assert re.search(rf"^  {verb}\b.*  {re.escape(summary)}$", top, re.M), verb


def test_help_documents_exit_codes(vchatctl):
    out = vchatctl("--help").stdout
    for code in range(6):
        assert re.search(rf"^  {code}  \S", out, re.M), f"exit status {code} undocumented"


def test_version(vchatctl):
    r = vchatctl("--version")
    assert r.returncode == 0
    assert re.fullmatch(r"vchatctl \d+\.\d+\.\d+\n", r.stdout)


def verb_options(vchatctl, verb):
    out = vchatctl(verb, "--help").stdout
    section = out.split("\nOptions:\n", 1)[1].split("\n\n", 1)[0] if "\nOptions:\n" in out else ""
    return re.findall(r"--([a-z-]+)", section)


def test_man_page_documents_every_verb_option_and_exit_code(vchatctl):
    with open(MAN_PAGE) as f:
        man = f.read()
    # troff escapes dashes: \- in the source
    plain = man.replace("\\-", "-")
    for verb in VERBS:
        assert re.search(rf'^\.SS "{verb}\b', plain, re.M), f"man page lacks verb {verb}"
        for opt in verb_options(vchatctl, verb):
            assert f"--{opt}" in plain, f"man page lacks {verb} --{opt}"
    for opt in ("--json", "--help", "--version"):
        assert opt in plain
    exit_section = plain.split(".SH EXIT STATUS", 1)[1].split(".SH ", 1)[0]
    for code in range(6):
        assert f".B {code}\n" in exit_section, f"man page lacks exit status {code}"
    assert ".SH EXAMPLES" in man
    assert START_HINT in plain


def test_man_page_renders_without_warnings():
    if not shutil_which("man"):
        pytest.skip("man is not installed")
    r = subprocess.run(["man", "--warnings", "-l", MAN_PAGE], capture_output=True, text=True,
                       env=clean_env(MANWIDTH="80", MANPAGER="cat", PAGER="cat"), timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "", r.stderr
    assert "vchatctl - control vchatd" in r.stdout


def shutil_which(name):
    import shutil
    return shutil.which(name)


def complete(*words):
    """What the bash completion offers for the command line `words` (the last
    word is the one being completed)."""
    script = (f'source "{COMPLETION}"\n'
              'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()\n'
              '_vchatctl\nprintf "%s\\n" "${COMPREPLY[@]}"\n')
    env = clean_env(PATH=os.path.dirname(binary()) + ":" + os.environ.get("PATH", ""))
    r = subprocess.run(["bash", "-c", script, "bash", *words], capture_output=True,
                       text=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    return [w for w in r.stdout.split("\n") if w]


def test_completion_offers_every_verb_and_its_options(vchatctl):
    assert set(VERBS) <= set(complete("vchatctl", ""))
    assert complete("vchatctl", "mo") == ["monitor"]
    assert complete("vchatctl", "--json", "sh") == ["show"]
    assert complete("vchatctl", "mute", "") == ["on", "off"]
    for verb in VERBS:
        offered = complete("vchatctl", verb, "--")
        for opt in verb_options(vchatctl, verb) + ["json", "help"]:
            assert f"--{opt}" in offered, f"completion lacks {verb} --{opt}"


# ---------------------------------------------------------------- usage errors


def assert_usage_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith("vchatctl: "), r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr
    assert "--help" in r.stderr, "a usage error should say where help is"


def test_unknown_verb(vchatctl):
    assert_usage_error(vchatctl("frobnicate"), "unknown command 'frobnicate'")


def test_unknown_global_option(vchatctl):
    assert_usage_error(vchatctl("--frobnicate", "status"), "unknown option '--frobnicate'")


def test_unknown_verb_option(vchatctl):
    assert_usage_error(vchatctl("status", "--frobnicate"), "status:", "--frobnicate")


@pytest.mark.parametrize("verb", ["mute", "video"])
def test_on_off_takes_only_on_or_off(vchatctl, verb):
    assert_usage_error(vchatctl(verb, "maybe"), "expected 'on' or 'off'", "'maybe'")
    assert_usage_error(vchatctl(verb), "missing on|off")
    assert_usage_error(vchatctl(verb, "on", "off"), "unexpected argument 'off'")


@pytest.mark.parametrize("args,needle", [
    (["camera"], "missing ID"),
    (["join"], "missing CODE|LINK"),
    (["say"], "missing TEXT"),
    (["say", "  "], "the text is empty"),
    (["report"], "missing REASON"),
    (["show", "1", "2"], "unexpected argument '2'"),
    (["list", "extra"], "unexpected argument 'extra'"),
    (["show", "three"], "'three' is not a call"),
    (["hangup", "calls/3"], "'calls/3' is not a call"),
    (["say", "--call", "x", "hi"], "'x' is not a call"),
    (["random", "--timeout", "-1"], "--timeout must be"),
    (["random", "--timeout", "soon"], "soon"),
    (["invite", "--ttl", "-5"], "--ttl must be"),
    (["history", "--limit", "-1"], "--limit must be"),
    (["history", "forget"], "the only one is clear"),
    (["config", "frobnicate"], "use list, get KEY"),
    (["config", "set", "camera"], "takes a KEY and a VALUE"),
    (["monitor", "-n", "-3"], "must be above 0"),
])
def test_bad_arguments(vchatctl, args, needle):
    assert_usage_error(vchatctl(*args), needle)


def test_bad_arguments_fail_before_touching_the_bus(vchatctl):
    # No bus at all: still a usage error, not "daemon not running".
    env = clean_env(XDG_RUNTIME_DIR="/nonexistent")
    assert_usage_error(vchatctl("mute", "maybe", env=env))
    assert_usage_error(vchatctl("show", "three", env=env))


def test_text_must_be_utf8(vchatctl):
    r = subprocess.run([binary(), "say", b"caf\xe9"], env=clean_env(), capture_output=True,
                       timeout=30)
    assert r.returncode == 2
    assert b"not valid UTF-8" in r.stderr


# ---------------------------------------------------------------- no daemon

NO_DAEMON_COMMANDS = [
    ["status"], ["--json", "status"], ["status", "--json"], ["devices"], ["list"], ["show"],
    ["show", "3"], ["history"], ["camera", "x"], ["random"], ["invite"], ["join", "abcd"],
    ["accept"], ["reject", "2"], ["hangup"], ["next"], ["mute", "on"], ["video", "off"],
    ["say", "hi"], ["report", "rude"], ["monitor", "-n", "1"], ["view"], [],
]


@pytest.mark.parametrize("args", NO_DAEMON_COMMANDS, ids=lambda a: " ".join(a) or "(none)")
def test_no_daemon_on_empty_bus_exits_4(vchatctl, empty_bus, args):
    r = vchatctl(*args, env=empty_bus.env, timeout=30)
    assert r.returncode == 4, (r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith("vchatctl: vchatd is not running"), r.stderr
    assert "io.github.vchat.VChat1" in r.stderr  # the bus's reason
    assert START_HINT in r.stderr
    assert "GDBus.Error" not in r.stderr


def test_no_session_bus_exits_4(vchatctl, tmp_path):
    env = clean_env(XDG_RUNTIME_DIR=str(tmp_path))
    r = vchatctl("status", env=env, timeout=30)
    assert r.returncode == 4, (r.stdout, r.stderr)
    assert r.stderr.startswith("vchatctl: cannot connect to the session bus"), r.stderr


def write_service(bus, exec_line):
    with open(os.path.join(bus.services_dir, "io.github.vchat.VChat1.service"), "w") as f:
        f.write(f"[D-BUS Service]\nName=io.github.vchat.VChat1\nExec={exec_line}\n")


def test_activation_that_fails_exits_4_with_the_reason(vchatctl, empty_bus):
    write_service(empty_bus, "/bin/false")
    r = vchatctl("status", env=empty_bus.env, timeout=30)
    assert r.returncode == 4, (r.stdout, r.stderr)
    assert r.stderr.startswith("vchatctl: vchatd is not running and D-Bus could not start it")
    assert "exited" in r.stderr.lower() or "failed" in r.stderr.lower(), r.stderr
    assert START_HINT in r.stderr


@pytest.mark.daemon
def test_activation_starts_the_daemon(vchatctl, tmp_path):
    """With a D-Bus service file, the first read starts vchatd."""
    need_daemon()
    from vchatd import PrivateBus

    # The activated daemon inherits the bus's environment.
    bus_env = clean_env(GSETTINGS_BACKEND="memory", XDG_RUNTIME_DIR=str(tmp_path),
                        XDG_STATE_HOME=str(tmp_path / "state"))
    if os.environ.get("VCHAT_SCHEMAS"):
        bus_env["GSETTINGS_SCHEMA_DIR"] = os.environ["VCHAT_SCHEMAS"]
    bus = PrivateBus(str(tmp_path), bus_env)
    try:
        # Port 9 (discard) on loopback: nothing listens, the daemon keeps trying.
        write_service(bus, f"{os.environ['VCHATD']} --server ws://127.0.0.1:9/ws "
                           "--no-pipewire-nodes --audio-sink fakesink")
        env = dict(bus_env, DBUS_SESSION_BUS_ADDRESS=bus.address)
        r = vchatctl("status", env=env, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("Daemon:     vchatd ")
        assert "ws://127.0.0.1:9/ws" in r.stdout
    finally:
        # Stop the activated daemon with the bus: it leaves when its bus goes.
        bus.stop()


# ---------------------------------------------------------------- real daemon: golden


def normalise(text, ids=()):
    """Replaces what changes from run to run: ports, invite codes, times,
    durations, and the numbers of the calls in `ids`."""
    text = re.sub(r"(wss?|https?)://127\.0\.0\.1:\d+", r"\1://127.0.0.1:<PORT>", text)
    text = re.sub(r"\b[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}\b", "<CODE>", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", "<ISO-TIME>", text)
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "<TIME>", text)
    text = re.sub(r"\b\d\d:\d\d:\d\d\b", "<CLOCK>", text)
    text = re.sub(r"\bfor \d+:\d\d(:\d\d)?", "for <DURATION>", text)
    for n in ids:
        # "N", padded to the number's width so that tables stay aligned.
        N = "N".ljust(len(str(n)))
        text = re.sub(rf"/calls/{n}\b", "/calls/N", text)
        text = re.sub(rf'"id":{n}\b', '"id":"N"', text)
        text = re.sub(rf"\bcurrent: {n},", "current: N,", text)
        text = re.sub(rf"^Call {n} ", "Call N ", text, flags=re.M)
        text = re.sub(rf"^(\*?\s+){n}(\s)", rf"\g<1>{N}\g<2>", text, flags=re.M)
    return text


def run_ok(vchatctl, env, *args):
    r = vchatctl(*args, env=env, timeout=60)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    assert r.stderr == "", r.stderr
    return r.stdout


def json_lines_ok(text):
    for line in text.splitlines():
        json.loads(line)
    return text


@pytest.mark.daemon
def test_daemon_golden_idle(vchatctl, daemon_env):
    """A daemon that is online and has no call."""
    env = daemon_env_of(daemon_env)
    check_golden("daemon/idle-status.txt", normalise(run_ok(vchatctl, env, "status")))
    check_golden("daemon/idle-status.json",
                 normalise(json_lines_ok(run_ok(vchatctl, env, "--json", "status"))))
    check_golden("daemon/idle-list.txt", normalise(run_ok(vchatctl, env, "list")))
    check_golden("daemon/idle-list.json",
                 normalise(json_lines_ok(run_ok(vchatctl, env, "list", "--json"))))
    r = vchatctl("show", env=env)
    assert r.returncode == 5, r.stderr
    assert r.stderr == "vchatctl: there is no call in progress (see 'vchatctl list')\n"


@pytest.mark.daemon
def test_daemon_golden_invite(vchatctl, daemon_env):
    """A daemon with an open invite: one call, searching."""
    env = daemon_env_of(daemon_env)
    out = run_ok(vchatctl, env, "invite", "--name", "Ada", "--ttl", "300")
    path = re.search(r"^Call: (/io/github/vchat/VChat1/calls/(\d+))$", out, re.M)
    assert path, out
    n = int(path.group(2))
    check_golden("daemon/invite.txt", normalise(out, [n]))
    for name, args in [("status.txt", ["status"]), ("status.json", ["--json", "status"]),
                       ("list.txt", ["list"]), ("list.json", ["list", "--json"]),
                       ("show.txt", ["show"]), ("show.json", ["show", "--json"])]:
        text = run_ok(vchatctl, env, *args)
        if name.endswith(".json"):
            json_lines_ok(text)
        check_golden(f"daemon/invite-{name}", normalise(text, [n]))
    # A call named by number or by path shows the same.
    assert run_ok(vchatctl, env, "show", str(n)) == run_ok(vchatctl, env, "show")
    assert run_ok(vchatctl, env, "show", path.group(1)) == run_ok(vchatctl, env, "show")
    run_ok(vchatctl, env, "hangup")
    shown = json.loads(run_ok(vchatctl, env, "show", "--json", str(n)))
    assert shown["state"] == "ended" and shown["end_reason"] == "hangup"


# ---------------------------------------------------------------- real daemon: calls


class Monitor:
    """`vchatctl monitor --json` in the background, read line by line (plain
    lines, without their newline, with json=False)."""

    def __init__(self, env, *args, json=True):
        self.json = json
        self.proc = subprocess.Popen([binary(), "monitor", *(["--json"] if json else []), *args],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        ready = self.proc.stderr.readline()
        assert ready.startswith("Monitoring vchatd"), ready + self.proc.stderr.read()
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next(self, timeout=30):
        try:
            line = self.lines.get(timeout=max(timeout, 0.01))
        except queue.Empty:
            raise AssertionError("no event from vchatctl monitor")
        assert line is not None, "vchatctl monitor ended: " + self.proc.stderr.read()
        return json.loads(line) if self.json else line.rstrip("\n")

    def until(self, predicate, timeout=30):
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            event = self.next(deadline - time.monotonic())
            seen.append(event)
            if predicate(event):
                return event
        raise AssertionError(f"no such event among {seen}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        return self.proc.returncode


def start_invite(vchatctl, env):
    info = json.loads(run_ok(vchatctl, env, "--json", "invite"))
    assert info["link"] == f"vchat://join/{info['code']}"
    assert info["path"].endswith(f"/calls/{info['id']}")
    return info


def wait_state(vchatctl, env, call, state, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = json.loads(run_ok(vchatctl, env, "--json", "show", str(call)))
        if shown["state"] == state:
            return shown
        time.sleep(0.2)
    raise AssertionError(f"call {call} is {shown['state']}, not {state}")


QUALITIES = ("good", "fair", "poor")


@pytest.mark.daemon
def test_daemon_invite_accept_talk_hangup(vchatctl, cli_daemons):
    ada, bob = cli_daemons("Ada", "Bob")
    a, b = ada.cli_env, bob.cli_env
    mon_a = Monitor(a)
    plain_a = Monitor(a, json=False)
    try:
        invite = start_invite(vchatctl, a)
        added = mon_a.until(lambda e: e["event"] == "added")
        assert added["id"] == invite["id"] and added["properties"]["state"] == "searching"

        joined = json.loads(run_ok(vchatctl, b, "join", "--json", invite["code"]))
        assert joined["path"].startswith("/io/github/vchat/VChat1/calls/")
        incoming = mon_a.until(lambda e: e["event"] == "incoming_call")
        assert incoming["call"]["id"] == invite["id"]
        assert incoming["peer"]["name"] == "Bob"

        listed = run_ok(vchatctl, a, "list")
        assert re.search(rf"^\*\s+{invite['id']}\s+incoming\s+invite\s+incoming\s+Bob\s", listed,
                         re.M), listed

        # The newest incoming call is the default for accept.
        r = vchatctl("accept", "--wait", "--timeout", "30", env=a, timeout=60)
        assert r.returncode == 0, r.stderr
        mon_a.until(lambda e: e["event"] == "changed"
                    and e["properties"].get("state") == "connected")
        wait_state(vchatctl, b, joined["id"], "connected")

        # Quality comes within seconds of connecting, and monitor shows it
        # without --stats, although it changes in the same signal as Stats.
        quality = mon_a.until(lambda e: e["event"] == "changed"
                              and e["properties"].get("quality"), timeout=10)
        assert quality["id"] == invite["id"]
        assert quality["properties"]["quality"] in QUALITIES, quality
        assert "stats" not in quality["properties"], quality
        plain_a.until(lambda line: re.match(
            rf"call {invite['id']} changed: (.* )?Quality=(good|fair|poor)( |$)", line), timeout=10)

        mon_b = Monitor(b)
        try:
            run_ok(vchatctl, a, "say", "hello", "from", "vchatctl")
            msg = mon_b.until(lambda e: e["event"] == "message")
            assert msg["text"] == "hello from vchatctl" and msg["id"] == joined["id"]
        finally:
            mon_b.stop()

        run_ok(vchatctl, a, "mute", "on")
        run_ok(vchatctl, a, "video", "off", "--call", str(invite["id"]))
        shown = json.loads(run_ok(vchatctl, a, "show", "--json"))
        assert shown["muted"] is True and shown["camera_enabled"] is False
        assert shown["current"] is True and shown["connected_at"]
        text = run_ok(vchatctl, a, "show")
        assert re.search(r"^Sound:\s+muted$", text, re.M), text
        assert re.search(r"^Picture:\s+off$", text, re.M), text
        assert re.search(r"^Peer:\s+Bob \(vchatd/", text, re.M), text
        assert re.search(r"^Quality:\s+(good|fair|poor)$", text, re.M), text
        assert re.search(r"^  Video sent:\s+\d+x\d+@\d+( \(CPU-limited\))?$", text, re.M), text
        # The send rate when known, then the target: nothing of another line.
        assert re.search(r"^  Sending:\s+(\d+ kbit/s, )?target \d+ kbit/s \(video max \d+ kbit/s\)$",
                         text, re.M), text
        assert re.search(r"^  Jitter:\s+([\d.]+ ms(, )?)?(a lost packet waited for up to \d+ ms)?$",
                         text, re.M), text
        # Each way once it is known (the peer's first report takes a moment).
        assert re.search(r"^  Loss:\s+([\d.]+ % to the peer(, )?)?([\d.]+ % from the peer)?$",
                         text, re.M), text
        assert re.search(r"^  Receiving:\s+.*, \d+ freezes?$", text, re.M), text
        assert shown["quality"] in QUALITIES and shown["stats"]["quality"] in QUALITIES
        assert re.fullmatch(r"\d+x\d+@\d+", shown["stats"]["rung"]), shown["stats"]
        assert shown["stats"]["max_kbps"] > 0 and "cpu_limited" in shown["stats"]
        status = run_ok(vchatctl, a, "status")
        assert re.search(rf"^Calls:\s+1 \(current: {invite['id']}, connected\)$", status, re.M)

        run_ok(vchatctl, b, "hangup")
        ended = mon_a.until(lambda e: e["event"] == "changed"
                            and e["properties"].get("state") == "ended")
        assert ended["properties"]["end_reason"] == "peer-hangup"
        assert json.loads(run_ok(vchatctl, a, "show", "--json", str(invite["id"])))["quality"] == ""
        assert "Quality:" not in run_ok(vchatctl, a, "show", str(invite["id"]))
        plain_a.until(lambda line: line.startswith(f"call {invite['id']} changed: ")
                      and 'Quality=""' in line)
        listed = run_ok(vchatctl, a, "list")
        assert re.search(rf"^\s+{invite['id']}\s+ended\s.*\speer-hangup$", listed, re.M), listed
        history = json.loads(run_ok(vchatctl, a, "history", "--json"))
        assert history[0]["peer_name"] == "Bob" and history[0]["end_reason"] == "peer-hangup"
        assert "Bob" in run_ok(vchatctl, a, "history")
        # Nothing is current any more.
        r = vchatctl("hangup", env=a)
        assert r.returncode == 5 and "no call in progress" in r.stderr
    finally:
        mon_a.stop()
        plain_a.stop()


@pytest.mark.daemon
def test_daemon_join_wait_exits_1_when_rejected(vchatctl, cli_daemons):
    ada, bob = cli_daemons("Ada", "Bob")
    invite = start_invite(vchatctl, ada.cli_env)
    join = subprocess.Popen([binary(), "join", "--wait", "--timeout", "30", invite["link"]],
                            env=bob.cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_state(vchatctl, ada.cli_env, invite["id"], "incoming")
        run_ok(vchatctl, ada.cli_env, "reject")
        out, err = join.communicate(timeout=30)
    finally:
        if join.poll() is None:
            join.kill()
    assert join.returncode == 1, err
    assert re.fullmatch(r"/io/github/vchat/VChat1/calls/\d+\n", out)
    assert re.search(r"^vchatctl: call \d+ ended: rejected$", err, re.M), err


@pytest.mark.daemon
def test_daemon_wait_timeout_exits_3_and_the_call_goes_on(vchatctl, cli_daemons):
    (ada,) = cli_daemons("Ada")
    env = ada.cli_env
    r = vchatctl("random", "-i", "music,linux", "--lang", "en", "--timeout", "1", env=env)
    assert r.returncode == 3, r.stderr
    n = int(r.stdout.strip().rsplit("/", 1)[1])
    assert f"call {n} is still searching after 1 s" in r.stderr
    assert json.loads(run_ok(vchatctl, env, "show", "--json"))["state"] == "searching"
    # One search at a time: the daemon's own message, without GDBus noise.
    r = vchatctl("random", env=env)
    assert r.returncode == 1
    assert r.stderr.startswith("vchatctl: ") and "GDBus.Error" not in r.stderr
    run_ok(vchatctl, env, "hangup", str(n))
    shown = json.loads(run_ok(vchatctl, env, "show", "--json", str(n)))
    assert shown["end_reason"] == "hangup"


@pytest.mark.daemon
def test_daemon_errors_map_to_exit_status(vchatctl, cli_daemons):
    (ada,) = cli_daemons("Ada")
    env = ada.cli_env

    def fails(code, *args):
        r = vchatctl(*args, env=env)
        assert r.returncode == code, (args, r.returncode, r.stderr)
        assert r.stderr.startswith("vchatctl: ") and "GDBus.Error" not in r.stderr, r.stderr
        return r.stderr

    assert "no call 99" in fails(5, "show", "99")
    assert "no call" in fails(5, "hangup", "/io/github/vchat/VChat1/calls/42")
    fails(5, "camera", "no-such-camera")
    assert "no call in progress" in fails(5, "accept")
    fails(5, "join", "zzzz-zzzz-zzzz-zzzz")
    fails(1, "join", "not a code at all")
    invite = start_invite(vchatctl, env)
    # Accepting one's own open invite is not possible in its state.
    fails(1, "accept", str(invite["id"]))
    fails(1, "say", "nobody is listening yet")
    fails(1, "next")
    run_ok(vchatctl, env, "hangup")


@pytest.mark.daemon
def test_daemon_monitor_counts_and_times_out(vchatctl, cli_daemons):
    (ada,) = cli_daemons("Ada")
    env = ada.cli_env
    proc = subprocess.Popen([binary(), "monitor", "-n", "2"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr.readline().startswith("Monitoring vchatd")
    invite = start_invite(vchatctl, env)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 2, out
    assert f"call {invite['id']} added: invite, " in out, out
    assert re.search(rf"^manager changed: Calls=\[{invite['id']}\]$", out, re.M), out
    r = vchatctl("monitor", "-n", "5", "--timeout", "0.5", env=env)
    assert r.returncode == 3
    assert "0 of 5 events" in r.stderr
    r = vchatctl("monitor", "--timeout", "0.3", env=env)
    assert r.returncode == 0 and r.stdout == ""


@pytest.mark.daemon
def test_daemon_view_waits_for_video_and_ends_with_the_call(vchatctl, cli_daemons):
    """Without PipeWire nodes (the plain daemon publishes none) view waits for
    the video, and closes when the call ends. The pipelines themselves need a
    PipeWire and a display: see the daemon's media tests for the nodes."""
    (ada,) = cli_daemons("Ada")
    env = ada.cli_env
    r = vchatctl("view", "7", env=env)
    assert r.returncode == 5 and "no call 7" in r.stderr
    invite = start_invite(vchatctl, env)
    view = subprocess.Popen([binary(), "view"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = view.stderr.readline()
        assert line == (f"vchatctl: call {invite['id']} is searching; "
                        "its video shows when it arrives\n"), line
        run_ok(vchatctl, env, "hangup")
        out, err = view.communicate(timeout=30)
    finally:
        if view.poll() is None:
            view.kill()
    assert view.returncode == 0, err
    assert err == f"vchatctl: call {invite['id']} ended: hung up\n"
    r = vchatctl("view", str(invite["id"]), env=env)
    assert r.returncode == 1 and f"call {invite['id']} has ended" in r.stderr


@pytest.mark.daemon
def test_daemon_view_shows_the_remote_video_and_the_preview(vchatctl, tmp_path):
    """A real call between two daemons that publish their video on a private
    PipeWire: view renders its frames (into fakevideosink, as there is no
    display) until the call ends."""
    need_daemon()
    try:
        from pwenv import PipeWireEnv  # tests/lib, with the daemon's media tests
    except ImportError:
        pytest.skip("tests/lib/pwenv.py (a private PipeWire) is not there yet")
    from signald import Signald
    from vchatd import Vchatd
    from conftest import BASE_ENV, PLAIN_DAEMON_ARGS

    pw = PipeWireEnv(str(tmp_path / "pw"))
    pw.start()
    server = Signald()
    args = [a for a in PLAIN_DAEMON_ARGS if a != "--no-pipewire-nodes"]
    daemons = []
    try:
        for name in ("Ada", "Bob"):
            daemons.append(Vchatd(str(tmp_path / name), server.ws_url, name=name, env=pw.env,
                                  args=args))
        a, b = (dict(d.env, **BASE_ENV) for d in daemons)
        invite = start_invite(vchatctl, a)
        run_ok(vchatctl, b, "join", invite["code"])
        wait_state(vchatctl, a, invite["id"], "incoming")
        run_ok(vchatctl, a, "accept", "--wait", "--timeout", "30")
        shown = wait_state(vchatctl, a, invite["id"], "connected")
        # The remote node is named once the first picture has arrived.
        deadline = time.monotonic() + 15
        while not shown["remote_video_node"] and time.monotonic() < deadline:
            time.sleep(0.2)
            shown = json.loads(run_ok(vchatctl, a, "--json", "show", str(invite["id"])))
        assert shown["remote_video_node"] and shown["preview_node"], shown
        # No display: a clear failure, not a window that never opens.
        r = vchatctl("view", env=dict(a, DISPLAY="", WAYLAND_DISPLAY=""), timeout=60)
        assert r.returncode == 1, r.stderr
        assert "no video output; view needs a graphical session" in r.stderr, r.stderr
        sinks = "fakevideosink:MAX," + ",".join(
            f"{s}:NONE" for s in ("xvimagesink", "ximagesink", "glimagesink", "waylandsink",
                                  "kmssink", "autovideosink"))
        env = dict(a, GST_PLUGIN_FEATURE_RANK=sinks, GST_DEBUG="basesink:5", GST_DEBUG_NO_COLOR="1")
        view = subprocess.Popen([binary(), "view"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(4)
        run_ok(vchatctl, b, "hangup")
        out, err = view.communicate(timeout=30)
        assert view.returncode == 0, err[-3000:]
        rendered = re.findall(r"<sink>.*rendering object", err)
        assert len(rendered) > 20, f"view rendered {len(rendered)} frames\n{err[-2000:]}"
        assert f"vchatctl: call {invite['id']} ended: the other person hung up\n" in err
    finally:
        for d in daemons:
            d.stop()
        server.stop()
        pw.stop()
