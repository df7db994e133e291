"""Data paths in the work tree: from what the user typed, checked before writing, and their cache.

Data paths are repo-relative and '/'-separated. Those from records are
untrusted (they arrive with other people's commits), so `check_data_path`
refuses any that would leave the work tree before anything is touched.
"""
from __future__ import annotations

import os

from git_exp.errors import ExpError
from git_exp.worktree_writes import WorkTree

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from collections.abc import Iterable

    from git_exp.data.cache import Cache
    from git_exp.data.state import StateMemo
    from git_exp.repo import Repository


def open_cache(repo: Repository) -> Cache:
    """The repository's cache, with the link types exp.cache.type configures."""
    from git_exp.data.cache import Cache
    from git_exp.data.links import parse_link_types
    return Cache(repo.exp_dir, parse_link_types(repo.config.get("exp.cache.type")))


def abs_path(repo: Repository, rel: str) -> str:
    """The absolute path of the data path REL (no check: for reading and messages)."""
    return repo.root + os.sep + (rel if os.sep == "/" else rel.replace("/", os.sep))


def to_relpath(repo: Repository, path: str, cwd: str) -> str:
    """PATH (as the user typed it, relative to CWD) as a repo-relative posix path."""
    absolute = os.path.normpath(os.path.join(cwd, path))
    rel = os.path.relpath(absolute, repo.root)
    if rel == "." or rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel):
        raise ExpError(f"'{path}' is outside the work tree {repo.root}",
                       hint="data must live inside the repository's work tree")
    rel = rel.replace(os.sep, "/")
    if any(part.lower() == ".git" for part in rel.split("/")):
        raise ExpError(f"'{path}' is inside .git", hint="only work-tree data can be tracked")
    return rel


def check_data_path(root: str, relpath: str, cache_root: str | None = None,
                    allow_final_link: bool = True, known_dirs: set[str] | None = None) -> None:
    """Refuse RELPATH unless writing it stays inside the work tree at ROOT.

    The work-tree door's check (worktree_writes.WorkTree.path): RELPATH is
    untrusted (a pointer name, exp.lock, a trailer), so no '..', no absolute
    path, no '.git' part, and no symlink on the way there. The path itself
    may be a symlink only when it points into CACHE_ROOT (how the 'symlink'
    link type checks data out); any other link is refused, never followed
    and never replaced. KNOWN_DIRS, a set the caller keeps for one operation
    over many paths, remembers the folders already found to be real.
    """
    tree = WorkTree(root, cache_root if allow_final_link else None, known_dirs)
    tree.path(relpath, "data path")


def first_overlap(rel: str, others: set[str], ordered: list[str]) -> str | None:
    """A path of OTHERS (sorted as ORDERED) that is REL's folder or inside REL."""
    import bisect
    parent = rel.rpartition("/")[0]
    while parent:
        if parent in others:
            return parent
        parent = parent.rpartition("/")[0]
    i = bisect.bisect_left(ordered, rel + "/")
    if i < len(ordered) and ordered[i].startswith(rel + "/"):
        return ordered[i]
    return None


def preload(memo: StateMemo, repo: Repository, paths: Iterable[str]) -> None:
    """With many data paths, one memo query per folder instead of one per file
    (a tracked folder is preloaded by hash_path itself)."""
    paths = list(paths)
    if len(paths) < 32:
        return
    for folder in sorted({os.path.dirname(abs_path(repo, p)) for p in paths}):
        memo.preload(folder)
