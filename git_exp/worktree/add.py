"""`git exp add`: store data in the cache, write its pointer `PATH.exp`, ignore PATH in Git.

Every path is checked before any is added (inside the work tree, not a
pointer, not tracked by Git, not a stage's out, not overlapping tracked
data), with a fixed number of `git` calls however many paths there are.
"""
from __future__ import annotations

import os
import stat

from git_exp.data.hashing import HashInfo
from git_exp.data.pointer import format_pointer, is_pointer_name, pointer_path_of
from git_exp.errors import ExpError
from git_exp.git import git
from git_exp.names import PIPELINE_FILE
from git_exp.plainclass import Mutable
from git_exp.worktree.paths import abs_path, check_data_path, first_overlap, open_cache, to_relpath
from git_exp.worktree.records import worktree_pointers
from git_exp.worktree.synced import read_synced, write_synced
from git_exp.worktree_writes import WorkTree

TYPE_CHECKING = False   # typing's, without importing typing (nor dataclasses: 10 ms of add's start)
if TYPE_CHECKING:
    from git_exp.data.cache import Progress
    from git_exp.repo import Repository


class Added(Mutable):
    """What add did for one path (plainclass.Mutable: see TYPE_CHECKING above)."""
    __slots__ = ("path", "pointer", "info", "pointer_changed", "gitignore")

    def __init__(self, path: str, pointer: str, info: HashInfo, pointer_changed: bool,
                 gitignore: str | None):
        self.path = path                        # repo-relative data path
        self.pointer = pointer                  # repo-relative pointer path
        self.info = info
        self.pointer_changed = pointer_changed  # the pointer was written (new, or the data changed)
        self.gitignore = gitignore              # the .gitignore that gained an entry, if any


def _stage_outs(repo: Repository) -> dict[str, str]:
    """Out path -> stage name from exp.yaml, if there is one."""
    if not os.path.isfile(os.path.join(repo.root, PIPELINE_FILE)):
        return {}
    from git_exp.pipeline.spec import load_pipeline
    try:
        pipeline = load_pipeline(repo.root)
    except ExpError:
        return {}
    return {o.path: s.name for s in pipeline.stages.values() for o in s.outs}


def _tracked_by_git(repo: Repository, rels: list[str]) -> dict[str, str]:
    """Path of RELS -> a file Git tracks at or under it. One `ls-files` for all."""
    # Many pathspecs cost Git a match of each against every index entry:
    # past a few, listing the whole index and looking up parents is faster.
    spec = ["--", *rels] if len(rels) <= 50 else []
    out = git(["ls-files", "-z", "--cached", *spec], cwd=repo.root).stdout if rels else b""
    found: dict[str, str] = {}
    wanted = set(rels)
    for name in out.split(b"\0"):
        path = name.decode("utf-8", "surrogateescape")
        probe = path
        while probe:
            if probe in wanted:
                found.setdefault(probe, path)
                break
            probe = probe.rpartition("/")[0]
    return found


def _ignore_all(repo: Repository, rels: list[str]) -> dict[str, str]:
    """Add each of RELS to the .gitignore beside it, one write per file; rel -> .gitignore changed."""
    from git_exp.ignore import add_entries, ignore_entry
    by_file: dict[str, list[tuple[str, str]]] = {}
    for rel in rels:
        gitignore, line = ignore_entry(rel)
        by_file.setdefault(gitignore, []).append((rel, line))
    changed: dict[str, str] = {}
    for gitignore, entries in by_file.items():
        added = add_entries(repo.root, gitignore, [line for _, line in entries])
        changed.update((rel, gitignore) for rel, line in entries if line in added)
    return changed


def add(repo: Repository, paths: list[str], cwd: str, progress: Progress | None = None) -> list[Added]:
    """Store each PATH in the cache, write `PATH.exp`, ignore PATH in Git.

    Every path is checked before any is added, with a fixed number of
    `git` calls however many paths there are. PROGRESS (cache.Progress)
    hears of every file stored.
    """
    from git_exp.data.cache import Tally
    from git_exp.data.state import StateMemo

    if not paths:
        raise ExpError("nothing to add", hint="name the files or folders to track: git exp add data/")
    rels = list(dict.fromkeys(to_relpath(repo, p, cwd) for p in paths))
    existing = worktree_pointers(repo)
    outs = _stage_outs(repo)
    cache = open_cache(repo)
    in_git = _tracked_by_git(repo, rels)
    others = set(existing) | set(outs) | set(rels)
    ordered = sorted(others)
    for rel in rels:
        check_data_path(repo.root, rel)
        full = abs_path(repo, rel)
        if is_pointer_name(rel) and not os.path.isdir(full):
            raise ExpError(f"'{rel}' is a pointer file", hint=f"add the data it points to: git exp add {rel[:-4]}")
        if not os.path.lexists(full):
            raise ExpError(f"'{rel}' does not exist")
        st = os.lstat(full)
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            raise ExpError(f"'{rel}' is neither a regular file nor a folder")
        if rel in in_git:
            raise ExpError(f"'{rel}' is tracked by Git, so its content is already in Git's objects",
                           hint=f"stop tracking it first: git rm -r --cached '{rel}'")
        if rel in outs:
            raise ExpError(f"'{rel}' is an output of stage '{outs[rel]}', which tracks it in exp.lock",
                           hint="stage outputs are cached by 'git exp run'; add only source data")
        other = first_overlap(rel, others, ordered)
        if other is not None:
            raise ExpError(f"'{rel}' overlaps the tracked data path '{other}'",
                           hint="track a folder or the files in it, not both")
    synced = read_synced(repo)
    added = []
    tally = Tally(progress)
    with StateMemo(repo.exp_dir) as memo:
        for rel in rels:
            info = cache.save(abs_path(repo, rel), memo, tally.part())
            pointer = pointer_path_of(rel)
            changed = existing.get(rel) != info
            if changed:
                WorkTree(repo.root).write(pointer, format_pointer(info))
            synced[rel] = info.hash
            added.append(Added(rel, pointer, info, changed, None))
    ignored = _ignore_all(repo, rels)
    for item in added:
        item.gitignore = ignored.get(item.path)
    write_synced(repo, synced)
    return added
