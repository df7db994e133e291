"""The one exception family the core raises for expected failures.

Only the CLI prints these (as Git does: ``error: ...`` then ``hint: ...``)
and chooses the exit code; the core never prints.
"""
from __future__ import annotations


class ExpError(Exception):
    """An expected failure: a user mistake or a state we refuse to act in."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None,
                 before: tuple[ExpError, ...] = ()):
        super().__init__(message)
        self.message = message
        self.hint = hint
        # Failures of the same command said first, each with its own hint: a push
        # whose experiments were rejected for two reasons names both.
        self.before = before

    def __str__(self) -> str:
        return self.message


def raise_all(errors: list[ExpError]) -> None:
    """Raise the last of ERRORS with the others said before it; nothing when empty."""
    if errors:
        last = errors[-1]
        raise ExpError(last.message, last.hint, before=tuple(errors[:-1]))


class Interrupted(ExpError):
    """Stopped by Ctrl-C (or SIGTERM) after saying what state things are in: exit 130."""

    exit_code = 130


class UsageError(ExpError):
    """Bad command-line usage; Git exits 129 for these."""

    exit_code = 129


class NotARepositoryError(ExpError):
    """Run outside a Git work tree; Git's own exit code for this is 128."""

    exit_code = 128

    def __init__(self, message: str = "not a git repository (or any parent)",
                 hint: str | None = "cd into your project's Git repository, or create one: git init"):
        super().__init__(message, hint)
