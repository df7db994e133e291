"""A transfer's progress line, Git style, drawn on a stream the caller passes.

The core reports (objects done, objects total, bytes done, bytes total)
through a callback (remotes/transfer.py's Progress), ticking about ten times
a second while bytes move, so the line keeps moving while one large object
streams. It is drawn only when the stream is a terminal (a log file or a
pipe gets the final summary from the caller instead), at most ten times a
second, and always from the thread that runs the transfer.
"""
from __future__ import annotations

import os
import time

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Callable, TextIO

# Operations that are usually quick (add, checkout, fsck, gc) draw their line
# only once they have taken this long, as Git's delayed progress does, and
# with Git's variable to change it (GIT_PROGRESS_DELAY=0 draws at once).
DEFAULT_DELAY = 1.0


def progress_delay() -> float:
    """Seconds before a delayed progress line appears: GIT_PROGRESS_DELAY, else DEFAULT_DELAY."""
    try:
        return max(0.0, float(os.environ.get("GIT_PROGRESS_DELAY", DEFAULT_DELAY)))
    except ValueError:
        return DEFAULT_DELAY


# Re-exported: callers that draw a progress line print the summary's sizes too.
from git_exp.ui.format import format_size  # noqa: E402


class ProgressLine:
    """A Progress callback: 'Sending data:  40% (2/5), 1.20 MiB of 3.00 MiB | 12.00 MiB/s'.

    The percentage follows the bytes when their total is known (one large
    object moves it too), else the objects.
    """

    def __init__(self, stream: TextIO, label: str, enabled: bool | None = None,
                 interval: float = 0.1, clock: Callable[[], float] = time.monotonic,
                 delay: float = 0.0) -> None:
        self.stream = stream
        self.label = label
        if enabled is None:
            isatty = getattr(stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.interval = interval
        self.clock = clock
        self.delay = delay  # nothing is drawn before DELAY seconds from now
        self._start = clock() if delay else None
        self._last = 0.0
        self._drawn = False
        self._text = ""

    def __call__(self, done: int, total: int, done_bytes: int, total_bytes: int) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if self._start is None:
            self._start = now
        if total_bytes:
            percent = min(100, 100 * done_bytes // total_bytes)
        else:
            percent = 100 * done // total if total else 100
        text = f"{self.label}: {percent:3d}% ({done}/{total}), {format_size(done_bytes)}"
        if total_bytes and done_bytes < total_bytes:
            text += f" of {format_size(total_bytes)}"
        elapsed = now - self._start
        if elapsed > 0.5 and done_bytes:
            text += f" | {format_size(int(done_bytes / elapsed))}/s"
        finished = done >= total and done_bytes >= total_bytes
        if not self._drawn and now - self._start < self.delay:
            self._text = text
            return  # not worth a line yet; perhaps done before anyone waits
        if self._drawn and not finished and now - self._last < self.interval:
            self._text = text
            return
        self._last = now
        # Pad over a longer previous line ('of ...' disappears at the end).
        pad = max(0, len(self._text) - len(text))
        self._text = text
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the line (with ', done.' when it was drawn)."""
        if self._drawn:
            self.stream.write("\r" + self._text + ", done.\n")
            self.stream.flush()
            self._drawn = False
