"""A transfer's progress line, Git style, drawn on a stream the caller passes.

Drawn only when that stream is a terminal (a log file or a pipe gets the
final summary from the caller instead), at most ten times a second, and
always from the thread that runs the transfer.
"""
from __future__ import annotations

import time
from contextlib import contextmanager

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
    """A Progress callback: 'Sending data:  40% (2/5), 1.20 MiB'."""

    def __init__(self, stream, label: str, enabled: bool | None = None, interval: float = 0.1):
        self.stream = stream
        self.label = label
        if enabled is None:
            isatty = getattr(stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.interval = interval
        self._last = 0.0
        self._drawn = False
        self._text = ""

    def __call__(self, done: int, total: int, done_bytes: int, total_bytes: int) -> None:
        if not self.enabled:
            return
        percent = 100 * done // total if total else 100
        self._text = f"{self.label}: {percent:3d}% ({done}/{total}), {format_size(done_bytes)}"
        now = time.monotonic()
        if done < total and now - self._last < self.interval:
            return
        self._last = now
        self.stream.write("\r" + self._text)
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
