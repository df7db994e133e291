"""Which progress callback automatic fetches report to, for the length of a command's core call.

Checkout, the hooks and apply fetch missing data as a side effect of their
own work (sharing/fetch.py), so the command cannot hand the callback down
through every call; it sets it here instead. The drawing itself is the
UI's (git_exp/ui/progress.py): the core only calls what it is given.
"""
from __future__ import annotations

from contextlib import contextmanager

_current = None


@contextmanager
def showing(progress):
    """Within this block, automatic fetches report to PROGRESS (a Progress callback, or None)."""
    global _current
    previous, _current = _current, progress
    try:
        yield
    finally:
        _current = previous


def current():
    return _current
