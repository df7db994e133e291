"""Which repo-relative paths may ever be written: the text-only rule.

The work-tree door (worktree_writes.WorkTree) applies it before it looks at
the filesystem, and the data layer applies it to the paths inside directory
manifests, which arrive from remotes. Kept here, import-free, so the data
layer need not import the door above it.
"""
from __future__ import annotations

import os


def path_problem(relpath: object) -> str | None:
    """Why RELPATH (repo-relative, '/'-separated) may never be written, or None.

    Only the text is looked at; WorkTree.path also looks at the filesystem.
    """
    if not isinstance(relpath, str) or not relpath:
        return "empty path"
    if "\0" in relpath:
        return "NUL byte in path"
    if relpath.startswith("/") or (os.sep != "/" and (os.sep in relpath or ":" in relpath)):
        return "absolute path"
    for part in relpath.split("/"):
        if part in ("", ".", ".."):
            return f"'{part or '//'}' in path"
        if part.lower() == ".git":
            return "'.git' in path"
    return None
