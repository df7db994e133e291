"""`git exp gc`: delete cache objects that nothing references any more.

Referenced means recorded (by a pointer, exp.lock or an Exp-Data trailer)
in any commit reachable from any ref - branches, tags, remote-tracking
branches, experiments (refs/exps/), backups (refs/exp-backups/), queued
entries (refs/exps-queue/), the stash - or from the HEAD of any worktree,
or by the index or work tree of any worktree. Reflogs do not count: a
branch that was deleted frees its data, as `git branch -D` means it to.
The run cache does not count either: it only remembers facts, and a run
whose outs are gone simply runs again.

Safety: gc takes this work tree's run lock, so no `git exp run` saves
objects while it decides, and objects written after it started are kept.
A directory object that is referenced but unreadable stops gc before it
deletes anything: its files would look unreferenced.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from git_exp.data.hashing import HashInfo
from git_exp.data.tracked import data_at, index_pointers, objects_in_history
from git_exp.data.workspace import open_cache
from git_exp.errors import ExpError
from git_exp.gitcmd import git

# File times come from the kernel's coarse clock, a few ms behind time.time().
_CLOCK_SLACK = 0.02


@dataclass
class GcResult:
    removed: list[tuple[str, int]] = field(default_factory=list)   # (hash, bytes) freed or to free
    kept: int = 0
    problems: list[str] = field(default_factory=list)              # malformed records skipped

    @property
    def freed(self) -> int:
        return sum(size for _, size in self.removed)


def _worktrees(repo) -> list:
    from git_exp.repo import discover
    out = git(["worktree", "list", "--porcelain", "-z"], cwd=repo.root, check=False).stdout
    found = []
    for field_ in out.decode("utf-8", "surrogateescape").split("\0"):
        if field_.startswith("worktree "):
            path = field_[len("worktree "):]
            if os.path.isdir(path):
                try:
                    found.append(discover(path))
                except ExpError:
                    continue  # a bare main repository or a worktree being removed
    return found or [repo]


def referenced_infos(repo) -> tuple[set[HashInfo], list[str]]:
    """Every HashInfo something still references, and malformed records met."""
    has_refs = git(["rev-parse", "--verify", "-q", "HEAD"], cwd=repo.root, check=False).returncode == 0 \
        or bool(git(["for-each-ref", "--count=1"], cwd=repo.root).stdout.strip())
    infos, problems = objects_in_history(repo, ["--all"]) if has_refs else (set(), [])
    for tree in _worktrees(repo):
        for source in (lambda: data_at(tree, None), lambda: index_pointers(tree)):
            try:
                infos.update(source().values())
            except ExpError as err:
                problems.append(f"{tree.root}: {err.message}")
    return infos, problems


def referenced_objects(repo, cache) -> tuple[set[str], list[str]]:
    """Object hashes to keep: each referenced file, directory manifest and its files."""
    infos, problems = referenced_infos(repo)
    keep: set[str] = set()
    for info in infos:
        keep.add(info.hash)
        if info.is_dir and cache.has(info.hash):
            try:
                keep.update(e.hash for e in cache.load_manifest(info.hash))
            except ExpError as err:
                raise ExpError(f"cannot collect garbage: referenced {err.message}",
                               hint="run 'git exp fsck', remove the corrupt object and fetch it again") from None
    return keep, problems


def collect_garbage(repo, dry_run: bool = False) -> GcResult:
    from git_exp.experiments.runlock import RunLock
    cache = open_cache(repo)
    started = time.time()
    result = GcResult()
    lock = RunLock(repo.git_dir, "git exp gc")
    try:
        lock.__enter__()
    except ExpError as err:
        raise ExpError(f"cannot collect garbage now: {err.message}",
                       hint="a run saves objects it has not recorded yet; try again when it has finished") \
            from None
    try:
        keep, result.problems = referenced_objects(repo, cache)
        for digest in cache.iter_objects():
            if digest in keep:
                result.kept += 1
                continue
            path = cache.object_path(digest)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            if st.st_mtime >= started - _CLOCK_SLACK:
                result.kept += 1  # written while we looked: someone is about to record it
                continue
            if dry_run:
                result.removed.append((digest, st.st_size))
            else:
                result.removed.append((digest, cache.remove(digest)))
    finally:
        lock.__exit__(None, None, None)
    return result
