"""The one object commands print through, so no module prints on its own."""
from __future__ import annotations

import os
import sys

from git_exp.ui import color as _color

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import TextIO


def terminal_size(fallback: tuple[int, int] = (80, 24)) -> os.terminal_size:
    """shutil.get_terminal_size, without importing shutil (bz2, lzma, fnmatch)
    on the way to every table: COLUMNS and LINES when set to a positive number,
    else the size of the terminal on stdout, else FALLBACK."""
    sizes = []
    for name in ("COLUMNS", "LINES"):
        try:
            sizes.append(int(os.environ[name]))
        except (KeyError, ValueError):
            sizes.append(0)
    columns, lines = sizes
    if columns <= 0 or lines <= 0:
        try:
            size = os.get_terminal_size(sys.__stdout__.fileno())  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            size = os.terminal_size(fallback)
        columns = columns if columns > 0 else size.columns or fallback[0]
        lines = lines if lines > 0 else size.lines or fallback[1]
    return os.terminal_size((columns, lines))


class Console:
    def __init__(self, out: TextIO | None = None, err: TextIO | None = None, color: bool = False,
                 quiet: bool = False, verbose: bool = False, use_pager: bool = True,
                 cwd: str | None = None) -> None:
        self.stdout = out or sys.stdout
        self.stderr = err or sys.stderr
        self.color = color
        self.quiet = quiet
        self.verbose = verbose
        self.use_pager = use_pager
        self.cwd = cwd
        # What a verb's answer_early read on the way when it could not answer
        # (the repository, ...), for that verb's run() in the same invocation:
        # cli.py hands both the same console. Each verb knows its own shape.
        self.early: object = None

    def paint(self, text: str, *styles: str) -> str:
        return _color.paint(text, self.color, *styles)

    def out(self, text: str = "") -> None:
        """Results: always printed, to stdout."""
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def detail(self, text: str = "") -> None:
        """One item of a result (each path, each hook), to stdout; -q leaves it
        out, and the command prints its one-line summary instead."""
        if not self.quiet:
            self.out(text)

    def info(self, text: str = "") -> None:
        """Progress and chatter: to stderr as Git does, silenced by -q."""
        if not self.quiet:
            self.stderr.write(text + "\n")
            self.stderr.flush()

    def warn(self, text: str) -> None:
        self.stderr.write(self.paint("warning:", "yellow") + " " + text + "\n")
        self.stderr.flush()

    def error(self, text: str, hint: str | None = None) -> None:
        self.stderr.write(self.paint("error:", "red", "bold") + " " + text + "\n")
        if hint:
            for line in hint.splitlines():
                self.stderr.write(self.paint("hint:", "yellow") + " " + line + "\n")
        self.stderr.flush()

    def page(self, text: str) -> None:
        """Long results through the user's pager when they do not fit the terminal."""
        if not text.endswith("\n"):
            text += "\n"
        if self.use_pager:
            from git_exp.ui.pager import page
            page(text, self.stdout, self.cwd)
        else:
            self.stdout.write(text)
            self.stdout.flush()
