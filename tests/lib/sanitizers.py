"""What AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer say.

Under `meson test --setup asan` (meson.build) the programs under test are
built with -fsanitize=address,undefined: an error stops the program with a
report (ASan; UBSan with halt_on_error=1), leaks are reported when it
exits. A program the tests start prints them into its log, where nobody
would look if the test passed: report() finds them, and the fixtures fail
the test on one (tests/server/conftest.py).
"""
import re

_START = re.compile(r"^==\d+==ERROR: (AddressSanitizer|LeakSanitizer)|^.*: runtime error: ", re.M)
_END = re.compile(r"^SUMMARY: \w+Sanitizer: .*$", re.M)


def report(log):
    """The first sanitizer report in `log`, up to its SUMMARY line; None
    if there is none."""
    start = _START.search(log)
    if not start:
        return None
    end = _END.search(log, start.start())
    return log[start.start():end.end() if end else start.start() + 8000]


def sanitized(pid):
    """Whether the running process `pid` carries AddressSanitizer (whose
    redzones and quarantine of freed memory count in its RSS)."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            return "libasan" in f.read()
    except OSError:
        return False
