"""Long output through the user's pager, as Git does.

The pager is what `git var GIT_PAGER` names (GIT_PAGER, core.pager, PAGER,
then less); LESS defaults to FRX and LV to -c, as Git sets them.
"""
from __future__ import annotations

import os

from git_exp.git import GitNotFoundError, git
from git_exp.git.run import DEVNULL, spawn_sigdef
from git_exp.ui.console import terminal_size

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import TextIO


def pager_command(cwd: str | None = None) -> str | None:
    try:
        proc = git(["var", "GIT_PAGER"], cwd=cwd, check=False, stderr=DEVNULL)
    except GitNotFoundError:
        return None
    cmd = proc.stdout.decode().strip() if proc.returncode == 0 else "less"
    if not cmd or cmd == "cat":
        return None
    return cmd


def fits(text: str) -> bool:
    size = terminal_size((80, 24))
    lines = text.splitlines()
    return len(lines) < size.lines and all(len(line) <= size.columns for line in lines)


def page(text: str, stream: TextIO, cwd: str | None = None) -> None:
    """Write TEXT to STREAM, through the pager when it is a terminal and TEXT does not fit."""
    if not (hasattr(stream, "isatty") and stream.isatty()) or fits(text):
        stream.write(text)
        stream.flush()
        return
    cmd = pager_command(cwd)
    if cmd is None:
        stream.write(text)
        stream.flush()
        return
    env = dict(os.environ)
    env.setdefault("LESS", "FRX")
    env.setdefault("LV", "-c")
    stream.flush()
    data = text.encode("utf-8", "surrogateescape")
    if not hasattr(os, "posix_spawn"):   # pragma: no cover - Windows
        import subprocess
        proc = subprocess.Popen(cmd, shell=True, stdin=subprocess.PIPE, env=env)
        assert proc.stdin is not None   # stdin=PIPE
        try:
            proc.stdin.write(data)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # the user quit the pager early: nothing wrong
        proc.wait()
        return
    # As subprocess.Popen(cmd, shell=True, stdin=PIPE) does it, without importing
    # subprocess (5 ms before the table appears): /bin/sh -c CMD reading a pipe,
    # SIGPIPE and SIGXFSZ back at their defaults (Python ignores them).
    read, write = os.pipe()
    try:
        pid = os.posix_spawn("/bin/sh", ["/bin/sh", "-c", cmd], env,
                             file_actions=[(os.POSIX_SPAWN_DUP2, read, 0)],
                             setsigdef=spawn_sigdef())
    except BaseException:
        os.close(write)
        raise
    finally:
        os.close(read)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(write, view):]
    except BrokenPipeError:
        pass  # the user quit the pager early: nothing wrong
    finally:
        os.close(write)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass    # SIGCHLD ignored (inherited): the pager was reaped for us
