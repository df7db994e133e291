"""`git exp fsck`: is every object that something needs in the cache, intact?

Needed means named by what gc keeps and what a user would reach for: each
experiment (refs/exps/), backup (refs/exp-backups/), queued or running
entry (refs/exps-queue/, refs/exps-running/), HEAD, the index and the work
tree - their pointers, exp.lock outs and Exp-Data trailers, and for a
directory its manifest and every file the manifest lists. A needed object
that is absent is missing; one whose bytes do not hash to its name (a
truncated write after a power loss, a disk error, an edit through a hard
link), or a manifest that does not parse, is corrupt. Both are reported
with the refs that need them, so the user knows what is lost and where to
fetch it from. Every other object in the cache is re-hashed too: a corrupt
object nothing needs is still worth knowing about.

Objects are re-hashed on a few threads: hashlib releases the GIL while it
hashes, so large files hash in parallel at the disk's pace.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Callable

from git_exp.data.hashing import HashInfo
from git_exp.errors import ExpError
from git_exp.git import git
from git_exp.worktree.paths import open_cache
from git_exp.worktree.records import data_at, index_pointers

if TYPE_CHECKING:
    from git_exp.data.cache import Cache, Progress
    from git_exp.data.state import StateMemo
    from git_exp.repo import Repository

    Source = tuple[str, Callable[[], dict[str, HashInfo]]]   # (label, records reader)

# Namespaces whose commits' data must be whole, and how a user calls them.
NEEDING_REFS = (("refs/exps/", "experiment"), ("refs/exp-backups/", "backup"),
                ("refs/exps-queue/", "queued entry"), ("refs/exps-running/", "running entry"))


@dataclass
class FsckResult:
    checked: int = 0
    corrupt: list[str] = field(default_factory=list)              # object hashes
    missing: dict[str, list[str]] = field(default_factory=dict)   # object hash -> who needs it
    needed_by: dict[str, list[str]] = field(default_factory=dict)  # object hash -> who needs it
    problems: list[str] = field(default_factory=list)             # records that cannot be read
    owners: int = 0                                               # refs and trees looked at

    @property
    def ok(self) -> bool:
        return not self.corrupt and not self.missing and not self.problems


def _intact(cache: Cache, digest: str, memo: StateMemo | None = None) -> bool:
    if not cache.verify(digest, memo):
        return False
    if digest.endswith(".dir"):
        try:
            cache.load_manifest(digest)
        except ExpError:
            return False
    return True


def _size(cache: Cache, digest: str) -> int:
    try:
        return os.stat(cache.object_path(digest)).st_size
    except OSError:
        return 0


def _owner_label(ref: str) -> str:
    for prefix, kind in NEEDING_REFS:
        if ref.startswith(prefix):
            rest = ref[len(prefix):]
            if prefix == "refs/exps/":
                rest = rest.rpartition("/")[2] or rest  # refs/exps/<baseline>/<name>
            elif prefix == "refs/exp-backups/":
                rest = ref
            return f"{kind} {rest}"
    return ref


def _needers(repo: Repository) -> list[Source]:
    """(label, records reader) for every ref and tree whose data must be whole."""
    out = git(["for-each-ref", "--format=%(objectname) %(refname)",
               *(p for p, _ in NEEDING_REFS)], cwd=repo.root).stdout
    sources: list[Source] = []
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        sha, _, ref = line.partition(" ")
        sources.append((_owner_label(ref), partial(data_at, repo, sha)))
    head = git(["rev-parse", "-q", "--verify", "HEAD^{commit}"], cwd=repo.root, check=False)
    if head.returncode == 0:
        head_sha = head.stdout.decode().strip()
        sources.append(("HEAD", partial(data_at, repo, head_sha)))
    sources.append(("the index", lambda: index_pointers(repo)))
    sources.append(("the work tree", lambda: data_at(repo, None)))
    return sources


def _read_all(sources: list[Source], workers: int) -> list[tuple[str, dict[str, HashInfo] | ExpError]]:
    def read(source: Source) -> tuple[str, dict[str, HashInfo] | ExpError]:
        label, reader = source
        try:
            return label, reader()
        except ExpError as err:
            return label, err
    with ThreadPoolExecutor(max_workers=workers) as pool:  # each read is a few `git` processes
        return list(pool.map(read, sources))


def check_cache(repo: Repository, jobs: int | None = None, progress: Progress | None = None) -> FsckResult:
    """PROGRESS (data/cache.Progress) hears of every object re-hashed.
    Each intact object gets a verification stamp (state.py), so the next
    checkout copies it without hashing it again."""
    from git_exp.data.state import StateMemo
    cache = open_cache(repo)
    result = FsckResult()
    workers = max(1, jobs or min(8, os.cpu_count() or 1))
    objects = list(cache.iter_objects())
    hashed = 0
    with StateMemo(repo.exp_dir) as memo, ThreadPoolExecutor(max_workers=workers) as pool:
        for digest, intact in zip(objects, pool.map(lambda d: _intact(cache, d, memo), objects)):
            result.checked += 1
            if not intact:
                result.corrupt.append(digest)
            if progress is not None:
                hashed += _size(cache, digest)
                progress(result.checked, len(objects), hashed, 0)
    bad = set(result.corrupt)

    sources = _needers(repo)
    result.owners = len(sources)
    needs: dict[HashInfo, list[str]] = {}
    for label, found in _read_all(sources, min(4, workers)):
        if isinstance(found, ExpError):
            result.problems.append(f"{label}: {found.message}")
            continue
        for path, info in found.items():
            needs.setdefault(info, []).append(f"{path} in {label}")

    for info, who in needs.items():
        wanted = [info.hash]
        if info.is_dir and cache.has(info.hash) and info.hash not in bad:
            wanted += [e.hash for e in cache.load_manifest(info.hash)]
        for digest in wanted:
            result.needed_by.setdefault(digest, []).extend(who)
    for digest, who in result.needed_by.items():
        if not cache.has(digest):
            result.missing[digest] = sorted(set(who))
    return result
