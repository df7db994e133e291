"""The one object commands print through, so no module prints on its own."""
from __future__ import annotations

import sys

from git_exp.ui import color as _color


class Console:
    def __init__(self, out=None, err=None, color: bool = False, quiet: bool = False,
                 verbose: bool = False, use_pager: bool = True, cwd: str | None = None):
        self.stdout = out or sys.stdout
        self.stderr = err or sys.stderr
        self.color = color
        self.quiet = quiet
        self.verbose = verbose
        self.use_pager = use_pager
        self.cwd = cwd

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
