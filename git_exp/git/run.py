"""Running the user's own `git` binary: the one place that starts it.

Every Git operation goes through here: it behaves exactly as the user's own
(credential helpers, includes, safe.directory, attributes), and README's
Architecture says what it cost. A failure is a GitCommandError carrying
Git's reason, so a caller can phrase its own error around it.
"""
from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence

from git_exp.errors import ExpError

TYPE_CHECKING = False   # typing's, without importing typing at start-up (mypy reads the name as True)
if TYPE_CHECKING:   # typing's IO/Union only for the checker: no cost at start-up
    from typing import IO, Union

    # What `stdout=`/`stderr=` of subprocess accept: PIPE, DEVNULL, a file or a descriptor.
    Stream = Union[int, IO, None]

_NO_GIT_HINT = "install Git, then run this command again"


class GitNotFoundError(ExpError):
    """There is no `git` on PATH."""

    def __init__(self) -> None:
        super().__init__("git is not installed or not on PATH", hint=_NO_GIT_HINT)


def reason(stderr: bytes | str | None, returncode: int = 1) -> str:
    """Why git failed, in one line, from its STDERR: the last `fatal:` or
    `error:` line without that word (the `hint:` lines Git prints after it are
    advice, not the reason), else the last non-empty line, else the exit status."""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else (stderr or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith(("fatal:", "error:")):
            return line.split(":", 1)[1].strip()
    return lines[-1] if lines else f"exit status {returncode}"


class GitCommandError(ExpError):
    """A `git` subprocess we rely on failed; `reason` is Git's own word for why."""

    def __init__(self, args: Sequence[str], returncode: int, stderr: str):
        self.reason = reason(stderr, returncode)
        super().__init__(f"git {' '.join(args)} failed: {self.reason}")
        self.returncode = returncode
        self.stderr = stderr

    @property
    def missing_identity(self) -> bool:
        """Git refused to write a commit because user.name/user.email are not set."""
        return "tell me who you are" in self.stderr or "empty ident" in self.stderr


def _environment(env: Mapping[str, str] | None) -> dict[str, str] | None:
    if not env:
        return None
    full = dict(os.environ)
    full.update(env)
    return full


def git(args: Sequence[str], cwd: str | None = None, check: bool = True,
        input: bytes | None = None, env: Mapping[str, str] | None = None,
        stdout: Stream = subprocess.PIPE, stderr: Stream = subprocess.PIPE
        ) -> subprocess.CompletedProcess:
    """Run `git ARGS` and capture its output as bytes.

    ENV is added to this process's environment. CHECK raises GitCommandError
    on a non-zero exit; STDOUT may be an open file to stream into.
    """
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, input=input, env=_environment(env),
                              stdout=stdout, stderr=stderr)
    except FileNotFoundError:
        if cwd is not None and not os.path.isdir(cwd):
            raise
        raise GitNotFoundError() from None
    if check and proc.returncode != 0:
        err = proc.stderr.decode(errors="replace") if isinstance(proc.stderr, bytes) else ""
        raise GitCommandError(list(args), proc.returncode, err)
    return proc


def git_text(args: Sequence[str], cwd: str | None = None, check: bool = True,
             input: bytes | None = None, env: Mapping[str, str] | None = None) -> str:
    """Run git and return its stdout decoded, without the trailing newline."""
    out = git(args, cwd=cwd, check=check, input=input, env=env).stdout
    return out.decode("utf-8", errors="surrogateescape").rstrip("\n")


def git_process(args: Sequence[str], cwd: str | None = None,
                stderr: Stream = subprocess.DEVNULL) -> subprocess.Popen:
    """A long-lived `git ARGS` talking through pipes (stdin, stdout), e.g. `cat-file --batch`."""
    try:
        return subprocess.Popen(["git", *args], cwd=cwd, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=stderr)
    except FileNotFoundError:
        if cwd is not None and not os.path.isdir(cwd):
            raise
        raise GitNotFoundError() from None
