"""Running the user's own `git` binary.

Every Git operation goes through here or another call of the real `git`:
it behaves exactly as the user's own (credential helpers, includes,
safe.directory, attributes), and README's Architecture says what it cost.
"""
from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

from git_exp.errors import GitCommandError


def git(args: Sequence[str], cwd: str | None = None, check: bool = True,
        input: bytes | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `git ARGS` and capture its output as bytes."""
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, env=full_env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and proc.returncode != 0:
        raise GitCommandError(list(args), proc.returncode, proc.stderr.decode(errors="replace"))
    return proc


def git_text(args: Sequence[str], cwd: str | None = None, **kw) -> str:
    """Run git and return its stdout decoded, without the trailing newline."""
    return git(args, cwd=cwd, **kw).stdout.decode("utf-8", errors="surrogateescape").rstrip("\n")
