"""A transfer's progress line, Git style, drawn on a stream the caller passes.

Drawn only when that stream is a terminal (a log file or a pipe gets the
final summary from the caller instead), at most ten times a second, and
always from the thread that runs the transfer.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager

# Operations that are usually quick (add, checkout, gc, fsck) draw their line
# only once they have taken this long, as Git's delayed progress does (and
# with Git's variable to change it: GIT_PROGRESS_DELAY=0 draws at once).
DEFAULT_DELAY = 1.0


def progress_delay() -> float:
    try:
        return max(0.0, float(os.environ.get("GIT_PROGRESS_DELAY", DEFAULT_DELAY)))
    except ValueError:
        return DEFAULT_DELAY

_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB")


def format_size(n: int) -> str:
    """1536 -> '1.50 KiB', as Git prints sizes."""
    value = float(n)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.2f} {unit}"
        value /= 1024
    return f"{n} bytes"  # not reached


class ProgressLine:
    """A Progress callback: 'Sending data:  40% (2/5), 1.20 MiB | 3.10 MiB/s'.

    The callback every long operation reports to (add, checkout, fetch, push,
    pull, gc, apply, fsck): (objects done, objects in all, bytes done, bytes
    in all). The rate appears once there is a second's worth of it to show.
    """

    def __init__(self, stream, label: str, enabled: bool | None = None, interval: float = 0.1,
                 delay: float = 0.0):
        self.stream = stream
        self.delay = delay
        self.label = label
        if enabled is None:
            isatty = getattr(stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.interval = interval
        self._last = 0.0
        self._start: float | None = time.monotonic() if delay else None
        self._drawn = False
        self._text = ""

    def __call__(self, done: int, total: int, done_bytes: int, total_bytes: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self._start is None:
            self._start = now
        if done < total and (now - self._last < self.interval or now - self._start < self.delay):
            return  # at most ten lines a second: drawing is not free either
        if not self._drawn and now - self._start < self.delay:
            return  # finished before anyone waited
        percent = 100 * done // total if total else 100
        text = f"{self.label}: {percent:3d}% ({done}/{total}), {format_size(done_bytes)}"
        elapsed = now - self._start
        if elapsed >= 0.5 and done_bytes:
            text += f" | {format_size(int(done_bytes / elapsed))}/s"
        pad = " " * max(0, len(self._text) - len(text))  # a shorter line over a longer one
        self._text = text
        self._last = now
        self.stream.write("\r" + self._text + pad)
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the line (with ', done.' when it was drawn)."""
        if self._drawn:
            self.stream.write("\r" + self._text + ", done.\n")
            self.stream.flush()
            self._drawn = False


# The progress line automatic fetches (checkout, the hooks, apply) draw on,
# set by the command for the length of its core call; None: none is drawn.
_current = None


@contextmanager
def showing(progress):
    """Within this block, automatic fetches report to PROGRESS (see sharing/fetch.py)."""
    global _current
    previous, _current = _current, progress
    try:
        yield
    finally:
        _current = previous


def current():
    return _current
