"""Keeping cached outputs out of Git with .gitignore entries.

The entry goes into the .gitignore beside the path (`/name`), as the reference
tool does, so the rule moves with its folder and touches only that line. The
change is an ordinary work-tree change, so it is part of the experiment.
"""
from __future__ import annotations

import os

from git_exp.errors import ExpError
from git_exp.git import git
from git_exp.worktree_writes import WorkTree


def ignore_entry(relpath: str) -> tuple[str, str]:
    """(the .gitignore file, repo-relative; the line) for RELPATH."""
    parent, _, name = relpath.rstrip("/").rpartition("/")
    gitignore = f"{parent}/.gitignore" if parent else ".gitignore"
    return gitignore, f"/{name}"


def is_tracked(root: str, relpath: str) -> bool:
    out = git(["ls-files", "-z", "--cached", "--", relpath], cwd=root).stdout
    return bool(out.strip(b"\0"))


def ensure_ignored(root: str, relpath: str) -> bool:
    """Add RELPATH to its .gitignore unless listed; True when the file changed."""
    if is_tracked(root, relpath):
        raise ExpError(f"'{relpath}' is tracked by Git, so it cannot also be a cached output",
                       hint=f"stop tracking it: git rm -r --cached '{relpath}' && git commit, "
                            "or mark the output 'cache: false' in exp.yaml")
    gitignore, line = ignore_entry(relpath)
    return bool(add_entries(root, gitignore, [line]))


def add_entries(root: str, gitignore: str, lines: list[str]) -> set[str]:
    """Append the LINES the .gitignore at GITIGNORE (repo-relative) lacks, in one write;
    the lines added. An entry already there with a trailing '/' counts as there."""
    path = os.path.join(root, gitignore)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        text = ""
    present = {entry.strip() for entry in text.splitlines()}
    new = []
    for line in lines:
        if line not in present and line + "/" not in present:
            present.add(line)
            new.append(line)
    if new:
        if text and not text.endswith("\n"):
            text += "\n"
        WorkTree(root).write(gitignore, text + "".join(line + "\n" for line in new))
    return set(new)
