"""Deciding on color once, the way Git does, and painting text with it.

`--color=auto` honours NO_COLOR, TERM=dumb, whether the stream is a terminal
and `git config color.ui`. We never call `colorama.init()` (it wraps the
global streams); on Windows we only ask colorama to enable ANSI handling.
"""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Callable, TextIO

CODES = {
    "bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33",
    "blue": "34", "magenta": "35", "cyan": "36",
}


def decide(mode: str, stream: TextIO,
           config_value: Callable[[], str | None] | None = None) -> bool:
    """Return True when output to STREAM should be colored.

    CONFIG_VALUE is a callable returning `color.ui` (or None); it is only
    called when the answer depends on it, so plain runs read no config.
    """
    if mode == "never":
        return False
    if mode == "always":
        return _enable()
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    isatty = hasattr(stream, "isatty") and stream.isatty()
    if not isatty:
        ui = config_value() if config_value else None
        return bool(ui and ui.lower() == "always") and _enable()
    ui = config_value() if config_value else None
    if ui is not None and ui.lower() in ("false", "never", "no", "off", "0"):
        return False
    return _enable()


def _enable() -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import colorama
        colorama.just_fix_windows_console()
    return True


def paint(text: str, enabled: bool, *styles: str) -> str:
    if not enabled or not styles or not text:
        return text
    codes = ";".join(CODES[s] for s in styles)
    return f"\x1b[{codes}m{text}\x1b[0m"


def visible_len(text: str) -> int:
    """Length on screen, ignoring our escape sequences."""
    n = 0
    i = 0
    while i < len(text):
        if text[i] == "\x1b":
            end = text.find("m", i)
            i = end + 1 if end != -1 else len(text)
            continue
        n += 1
        i += 1
    return n
