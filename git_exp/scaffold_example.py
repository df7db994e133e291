"""`git exp init --example`: the bundled example project (git_exp/example/)
made into a new Git repository of one commit.

Built in a hidden folder beside the destination and renamed into place at
the end, so a failure (no Git identity, Ctrl-C) leaves nothing behind.
"""
from __future__ import annotations

import os
import shutil
import tempfile

from git_exp.errors import ExpError
from git_exp.git import GitCommandError, git

EXAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "example")
EXAMPLE_MESSAGE = "Example project"




def _copy_example(target: str) -> None:
    for folder, dirs, files in os.walk(EXAMPLE_DIR):
        # A __pycache__ appears when someone ran the scripts in place.
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        rel = os.path.relpath(folder, EXAMPLE_DIR)
        os.makedirs(os.path.join(target, rel), exist_ok=True)
        for name in sorted(files):
            if not name.endswith((".pyc", ".pyo")):
                shutil.copyfile(os.path.join(folder, name), os.path.join(target, rel, name))


_IDENTITY_HINT = """\
tell Git who you are, then run this command again:
  git config --global user.email "you@example.com"
  git config --global user.name "Your Name\""""


def _commit(folder: str) -> None:
    # --force: a global excludes file must not leave part of the example out.
    git(["add", "--all", "--force", "--", "."], cwd=folder)
    try:
        git(["commit", "-q", "-m", EXAMPLE_MESSAGE], cwd=folder)
    except GitCommandError as exc:
        # Git's own wording for a missing user.name/user.email.
        if exc.missing_identity:
            raise ExpError("cannot commit the example project: Git does not know your name and email",
                           hint=_IDENTITY_HINT) from None
        raise


def create_example(dest: str) -> str:
    """Make DEST a new Git repository holding the example project in one commit.

    Everything happens in a hidden folder beside DEST, renamed into place at
    the end, so a failure (no Git identity, Ctrl-C) leaves nothing behind.
    Returns DEST's absolute path.
    """
    target = os.path.abspath(dest)
    if os.path.lexists(target) and not (os.path.isdir(target) and not os.listdir(target)):
        raise ExpError(f"destination path '{dest}' already exists and is not an empty directory",
                       hint="name a new directory, or an empty one")
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.", dir=parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(work, 0o777 & ~umask)  # mkdtemp makes it private
        _copy_example(work)
        git(["init", "-q"], cwd=work)
        _commit(work)
        if os.path.isdir(target):
            os.rmdir(target)
        os.rename(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target
