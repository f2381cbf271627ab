"""Deadlines for programs that run slower than usual.

VCHAT_TIMEOUT_MULTIPLIER (3 under `meson test --setup asan`, see meson.build;
1 when unset) says how many times slower the programs under test are: a
sanitized vchat-signald or vchatd starts, answers and exits several times
slower, and a deadline that is generous for a plain build makes a flaky one.
The helpers scale the waits for something to happen (a start, a state, an
answer, an exit) with scaled(); a wait that checks that nothing happens, or
a timing the program itself is given, stays as it is.
"""
import os


def multiplier():
    """VCHAT_TIMEOUT_MULTIPLIER, at least 1."""
    try:
        return max(1.0, float(os.environ.get("VCHAT_TIMEOUT_MULTIPLIER", "1")))
    except ValueError:
        return 1.0


def scaled(seconds):
    """`seconds`, for a wait for something to happen."""
    return seconds * multiplier()
