"""Paths in exp.yaml: turned into repo-relative POSIX paths, kept inside the repo.

A stage's deps and outs are written relative to its `wdir`; everything else
in git-exp (the lock file, the cache, `.gitignore` entries, the graph)
speaks repo-relative POSIX paths, so this is the one place that converts.
It also refuses paths the runner must never write to or read from: above
the repository, absolute, inside `.git` (the rule of worktree_writes, the
door every git-exp write into the work tree goes through), or reached
through a symlink that leaves the repository (an output written there by
the stage would land outside it).
"""
from __future__ import annotations

import os
import posixpath
import re
import stat

from git_exp.errors import ExpError
from git_exp.relpaths import path_problem

_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def where_text(where: tuple | None) -> str:
    """`file:line:col` for a (file, line, col) tuple or a yamlsrc.Mark (a namedtuple)."""
    if not where:
        return ""
    return f"{where[0]}:{where[1]}:{where[2]}"


def normalize(path: str, wdir: str, root: str, what: str, where: tuple,
              check_links: bool = True, owner: str = "") -> str:
    """PATH (relative to the repo-relative WDIR) as a normalised repo-relative path.

    WHAT names the path in errors ("dep"), OWNER what it belongs to
    ("stage 'train'"), WHERE its (file, line, col). With CHECK_LINKS (the default) the existing part of
    the path under ROOT must not pass through a symlink pointing outside the
    repository; callers reading a pipeline from a commit rather than from the
    work tree turn it off, since the work tree says nothing about that commit.
    """
    loc = where_text(where)
    of = f" of {owner}" if owner else ""
    if not isinstance(path, str) or not path.strip():
        raise ExpError(f"{loc}: {what}{of} is empty", hint="write a path relative to the stage's wdir")
    if path.startswith(("/", "\\")) or _DRIVE.match(path):
        raise ExpError(f"{loc}: {what} '{path}'{of} is an absolute path",
                       hint="write paths relative to the stage's wdir, inside the repository")
    if path == "~" or path.startswith("~/"):
        # The shell would expand it; we would not, and a folder named '~' is a trap.
        raise ExpError(f"{loc}: {what} '{path}'{of} points into a home folder",
                       hint="write paths relative to the stage's wdir, inside the repository")
    joined = posixpath.normpath(posixpath.join(wdir or ".", path))
    parts = joined.split("/")
    if parts[0] == "..":
        raise ExpError(f"{loc}: {what} '{path}'{of} is outside the repository",
                       hint="git-exp tracks only files inside the repository")
    # The work-tree door's rule (case-insensitive: on macOS and Windows '.GIT' is the same folder).
    if joined != "." and path_problem(joined) == "'.git' in path":
        raise ExpError(f"{loc}: {what} '{path}'{of} is inside a .git folder",
                       hint="Git's own files cannot be deps or outs of a stage")
    if check_links and joined != ".":
        _check_parents(root, parts, f"{what} '{path}'{of}", loc)
    return joined


def _check_parents(root: str, parts: list[str], label: str, loc: str) -> None:
    """Refuse a path whose existing parent folders go through a symlink leaving ROOT."""
    real_root = None
    current = root
    for depth, part in enumerate(parts[:-1], 1):
        current = os.path.join(current, part)
        try:
            st = os.lstat(current)
        except OSError:
            return  # nothing further exists yet, so nothing further can be a link
        if not stat.S_ISLNK(st.st_mode):
            continue
        if real_root is None:
            real_root = os.path.realpath(root)
        target = os.path.realpath(current)
        if target != real_root and not target.startswith(real_root.rstrip(os.sep) + os.sep):
            rel = "/".join(parts[:depth])
            raise ExpError(
                f"{loc}: {label} goes through the symlink '{rel}', which points "
                f"outside the repository (to {target})",
                hint="keep stage files inside the repository, or use the real path")
