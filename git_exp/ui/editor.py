"""Asking the user for text in their editor, the one Git would start.

`git var GIT_EDITOR` answers as Git decides: $GIT_EDITOR, core.editor,
$VISUAL, $EDITOR, then vi. The value is a shell command (it may carry
options, `code --wait`), so it runs as Git runs it: `sh -c '<editor> "$@"'`.
Lines starting with '#' are comments, dropped as `git commit` drops them.
"""
from __future__ import annotations

import os
import subprocess

from git_exp.errors import ExpError


def edit_text(path: str, initial: str, instructions: str, cwd: str) -> str:
    """The text the user saved in PATH after editing INITIAL (INSTRUCTIONS as '#' lines below)."""
    from git_exp.atomic import write_atomic
    from git_exp.git import git

    proc = git(["var", "GIT_EDITOR"], cwd=cwd, check=False)
    editor = proc.stdout.decode().strip()
    if proc.returncode != 0 or not editor:
        raise ExpError("no editor is set", hint="set one with 'git config core.editor <command>', "
                                                "or give the text on the command line")
    comments = "".join(f"# {line}".rstrip() + "\n" for line in instructions.splitlines())
    write_atomic(path, (initial.rstrip("\n") + "\n" if initial else "\n") + "\n" + comments)
    try:
        done = subprocess.run(["sh", "-c", editor + ' "$@"', editor, path], cwd=cwd)
        if done.returncode != 0:
            raise ExpError(f"the editor '{editor}' failed (exit code {done.returncode}); "
                           "nothing was changed")
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    kept = [line.rstrip() for line in text.splitlines() if not line.startswith("#")]
    return "\n".join(kept).strip("\n")
