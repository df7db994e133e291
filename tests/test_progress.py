"""The transfer progress line: bytes move it, it is throttled, and only a terminal gets it."""
from __future__ import annotations

import io


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_bytes_move_the_line_and_a_rate_is_shown():
    from git_exp.ui.progress import ProgressLine
    out, clock = io.StringIO(), Clock()
    line = ProgressLine(out, "Sending data", enabled=True, clock=clock)
    mib = 1024 * 1024
    line(0, 1, 0, 256 * mib)
    clock.now += 1
    line(0, 1, 64 * mib, 256 * mib)      # one large object, a quarter through
    clock.now += 0.01
    line(0, 1, 65 * mib, 256 * mib)      # within the throttle interval: not drawn
    clock.now += 0.99
    line(1, 1, 256 * mib, 256 * mib)     # the end is always drawn
    line.close()
    draws = out.getvalue().split("\r")[1:]
    assert draws[1].startswith("Sending data:  25% (0/1), 64.00 MiB of 256.00 MiB | 64.00 MiB/s")
    assert len(draws) == 4 and "65.00 MiB" not in out.getvalue()
    assert draws[-1] == "Sending data: 100% (1/1), 256.00 MiB | 128.00 MiB/s, done.\n"


def test_nothing_on_a_pipe_or_when_quiet():
    from git_exp.ui.progress import ProgressLine
    pipe = io.StringIO()
    line = ProgressLine(pipe, "Receiving data")
    line(1, 2, 10, 20)
    line.close()
    assert pipe.getvalue() == ""
    quiet = io.StringIO()
    quiet.isatty = lambda: True
    line = ProgressLine(quiet, "Receiving data", enabled=False)
    line(1, 2, 10, 20)
    assert quiet.getvalue() == ""
