"""`git exp gc`: delete cache objects that nothing references any more.

Referenced means recorded (by a pointer, exp.lock or an Exp-Data trailer)
in any commit reachable from any ref - branches, tags, remote-tracking
branches, experiments (refs/exps/), backups (refs/exp-backups/), queued and
running entries (refs/exps-queue/, refs/exps-running/), the stash - or from
the HEAD of any worktree, or by the index or work tree of any worktree
(queue workers' temporary checkouts included). Reflogs do not count: a
branch that was deleted frees its data, as `git branch -D` means it to.
The run cache does not count either: it only remembers facts, and a run
whose outs are gone simply runs again.

The race with writers is answered as Git answers it for loose objects: a
grace period. An unreferenced object younger than exp.gc.pruneExpire
(default two weeks; `--prune=DATE` overrides it) is kept, because someone
may be about to record it: a worker that saved its outs and has not created
its experiment's ref yet, an apply that has not written its backup ref.
Saving content the cache already has refreshes the object's time
(cache.py), so a reused object counts as young too. On top of that, while
any run holds a run lock in any worktree, every object written since the
oldest such run started is kept, whatever the grace period - so even
`--prune=now` never deletes a running worker's outputs. And gc takes this
work tree's run lock, so no `git exp run` here saves objects while it decides.

Scopes (gcscope.py) keep less than every ref needs, as DVC's `gc -w`
does. Data a ref still names but the scope leaves out is deleted only once
the caller confirms (`confirm`, the command's -f or its question), and the
grace period does not protect it - it is recorded, no one is about to
record it - but a live run and gc's own start still do. Expired backups
(worktree/backups.py) lose their refs first, so their data becomes
unreferenced and ages out under the grace period like any other.

Temporary files a crashed save or download left in the cache ('.*.tmp',
never an object: objects are renamed into place whole) are removed once
they are an hour older than gc's start and any live run.

A directory object that is referenced but unreadable stops gc before it
deletes anything: its files would look unreferenced. A worktree that
disappears while gc looks at it (a worker finishing) is skipped: what it
recorded is either in a ref by now or young.
"""
from __future__ import annotations

import glob
import json
import os
import socket
import time
from dataclasses import dataclass, field
from typing import AbstractSet, TYPE_CHECKING

from git_exp.data.cachefiles import STALE_TEMP_SECONDS
from git_exp.data.hashing import HashInfo
from git_exp.errors import ExpError
from git_exp.git import git
from git_exp.worktree.backups import parse_expiry
from git_exp.worktree.paths import open_cache
from git_exp.worktree.records import data_at, history_roots, index_pointers, objects_in_history

if TYPE_CHECKING:
    from typing import Callable, Iterable

    from git_exp.data.cache import Cache, Progress
    from git_exp.repo import Repository
    from git_exp.upkeep.gcscope import RefTip, Scope

# File times come from the kernel's coarse clock, a few ms behind time.time().
_CLOCK_SLACK = 0.02
DEFAULT_PRUNE_EXPIRE = "2.weeks.ago"
EXPIRE_KEY = "exp.gc.pruneExpire"


@dataclass
class GcResult:
    removed: list[tuple[str, int]] = field(default_factory=list)   # (hash, bytes) freed or to free
    kept: int = 0                                                   # referenced objects
    recent: int = 0             # unreferenced, kept: younger than the grace period or a live run
    linked: int = 0             # unreferenced, kept: hard-linked into a work tree (frees nothing)
    expire: str = DEFAULT_PRUNE_EXPIRE                              # the grace period used
    problems: list[str] = field(default_factory=list)              # malformed records skipped
    scope: str = "the default scope"
    dropped: list[tuple[str, int, str]] = field(default_factory=list)  # (hash, bytes, who names it)
    backups: list = field(default_factory=list)     # backups.Backup whose refs expired (and went)
    backup_expire: str = ""
    temps: tuple[int, int] = (0, 0)   # (files, bytes) crashed saves and downloads left, removed

    @property
    def freed(self) -> int:
        return sum(size for _, size in self.removed)


def _worktrees(repo: Repository) -> list:
    from git_exp.repo import discover
    out = git(["worktree", "list", "--porcelain", "-z"], cwd=repo.root, check=False).stdout
    found = []
    for field_ in out.decode("utf-8", "surrogateescape").split("\0"):
        if field_.startswith("worktree "):
            path = field_[len("worktree "):]
            try:
                if os.path.isdir(path):
                    found.append(discover(path))
            except (ExpError, OSError):
                continue  # a bare main repository, or a worktree being removed right now
    return found or [repo]


def referenced_infos(repo: Repository, exclude: AbstractSet[str] = frozenset()) -> tuple[set[HashInfo], list[str]]:
    """Every HashInfo something still references, and malformed records met.

    EXCLUDE: commits whose refs are about to go (expired backups) and that no
    other ref or HEAD names.
    """
    roots = [r for r in history_roots(repo) if r not in exclude]
    infos, problems = objects_in_history(repo, roots, stdin=True)
    infos |= workspace_infos(repo, problems)
    return infos, problems


def workspace_infos(repo: Repository, problems: list[str]) -> set[HashInfo]:
    """The data the index and work tree of every worktree record."""
    infos: set[HashInfo] = set()
    for tree in _worktrees(repo):
        for source in (lambda tree=tree: data_at(tree, None), lambda tree=tree: index_pointers(tree)):
            try:
                infos.update(source().values())
            except (ExpError, OSError) as err:
                if not os.path.isdir(tree.root):
                    break  # a worker's checkout, removed as we looked: its run is over
                problems.append(f"{tree.root}: {getattr(err, 'message', err)}")
    return infos


def referenced_objects(repo: Repository, cache: Cache,
                       exclude: AbstractSet[str] = frozenset()) -> tuple[set[str], list[str]]:
    """Object hashes to keep: each referenced file, directory manifest and its files."""
    infos, problems = referenced_infos(repo, exclude)
    return expand(cache, infos), problems


def expand(cache: Cache, infos: Iterable[HashInfo]) -> set[str]:
    """The object hashes of INFOS: each file, each directory's manifest and its files."""
    keep: set[str] = set()
    for info in infos:
        keep.add(info.hash)
        if info.is_dir and cache.has(info.hash):
            try:
                keep.update(e.hash for e in cache.load_manifest(info.hash))
            except ExpError as err:
                raise ExpError(f"cannot collect garbage: referenced {err.message}",
                               hint="run 'git exp fsck', remove the corrupt object and fetch it again") from None
    return keep


def _live_run_starts(repo: Repository, own_lock: str) -> list[float]:
    """When each run holding a run lock in any worktree of this repository started."""
    from git_exp import procs
    starts = []
    locks = [os.path.join(repo.common_dir, "exp-run.lock"),
             *glob.glob(os.path.join(glob.escape(repo.common_dir), "worktrees", "*", "exp-run.lock"))]
    for path in locks:
        if os.path.abspath(path) == os.path.abspath(own_lock):
            continue
        try:
            st = os.stat(path)
            with open(path) as fh:
                holder = json.load(fh)
        except FileNotFoundError:
            continue
        except (OSError, ValueError):
            holder = {}  # being written: count it as alive
        pid = holder.get("pid") if isinstance(holder, dict) else None
        here = not isinstance(holder, dict) or holder.get("host") in (None, socket.gethostname())
        if isinstance(pid, int) and here and not procs.alive(pid):
            continue  # stale: its run died
        starts.append(st.st_mtime)
    return starts


def collect_garbage(repo: Repository, dry_run: bool = False, prune: str | None = None,
                    scope: Scope | None = None,
                    confirm: Callable[[list[tuple[str, int, str]]], bool] | None = None,
                    progress: Progress | None = None) -> GcResult:
    """Delete unreferenced objects older than PRUNE (default: exp.gc.pruneExpire, two weeks).

    SCOPE (gcscope.Scope) keeps less than every ref needs; the objects a ref
    still names that it would delete are passed to CONFIRM([(hash, bytes,
    who)]) before anything is deleted, and without CONFIRM or when it
    answers False, gc refuses (ExpError) and deletes nothing. Expired
    backups lose their refs (not with DRY_RUN). PROGRESS (data/cache.Progress)
    hears of every object looked at, and the bytes freed.
    """
    from git_exp.upkeep import gcscope
    from git_exp.worktree.backups import expired_backups, prune_backups
    from git_exp.experiments.runlock import RunLock
    if prune is None:
        expire = repo.config.get(EXPIRE_KEY) or DEFAULT_PRUNE_EXPIRE
        cutoff = parse_expiry(repo, expire, f"config {EXPIRE_KEY}")
    else:
        expire = prune
        cutoff = parse_expiry(repo, prune, "--prune")
    if scope is not None and scope.date is not None:
        parse_expiry(repo, scope.date, "--date")
    narrow = scope if scope is not None and scope.narrow else None   # None: the default scope
    cache = open_cache(repo)
    started = time.time()
    result = GcResult(expire=expire, scope=narrow.describe() if narrow is not None else "the default scope")
    lock = RunLock(repo.git_dir, "git exp gc")
    try:
        lock.__enter__()
    except ExpError as err:
        raise ExpError(f"cannot collect garbage now: {err.message}",
                       hint="a run saves objects it has not recorded yet; try again when it has finished") \
            from None
    try:
        # Looked at before the refs: a run that starts later writes only
        # objects younger than `started`, which are kept anyway.
        hard = min([started, *_live_run_starts(repo, lock.path)]) - _CLOCK_SLACK
        cutoff = min(cutoff, hard)
        result.backup_expire, expired = expired_backups(repo)
        result.backups = expired
        tips = gcscope.ref_tips(repo)
        gone = {b.ref for b in expired}
        # A commit stays a root while any other ref still names it.
        exclude = {b.sha for b in expired} - {t.sha for t in tips if t.ref not in gone}
        keep, result.problems = referenced_objects(repo, cache, exclude)
        scoped = keep
        if narrow is not None:
            kept = gcscope.scoped_keep(repo, narrow, tips, gone)
            kept.infos |= workspace_infos(repo, kept.problems)
            scoped = expand(cache, kept.infos)
            result.problems = list(dict.fromkeys(result.problems + kept.problems))
        named: list[tuple[str, int]] = []
        objects = list(cache.iter_objects())
        for n, digest in enumerate(objects):
            if progress is not None:
                progress(n, len(objects), 0, 0)
            if digest in scoped:
                result.kept += 1
                continue
            path = cache.object_path(digest)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            if st.st_mtime >= (hard if digest in keep else cutoff):
                result.recent += 1  # young: someone may be about to record it
                continue
            if st.st_nlink > 1:
                result.linked += 1  # a work tree's hard link: deleting it would free nothing
                continue
            if digest in keep:
                named.append((digest, st.st_size))
            result.removed.append((digest, st.st_size))
        if named:
            result.dropped = _who_names(repo, cache, tips, gone, named)
            if not dry_run and (confirm is None or not confirm(result.dropped)):
                raise ExpError(f"gc {result.scope} would delete {len(named)} object(s) that refs still "
                               "name (listed above)",
                               hint="delete them with -f (--force); see them with --dry-run; "
                                    "without a scope gc keeps everything refs name")
        if not dry_run:
            # Backup refs are created once and never moved: deleting them
            # (compare-and-swap) after the plan cannot free what another names.
            result.backups = prune_backups(repo, expired)
            removed, freed = [], 0
            for digest, _ in result.removed:
                removed.append((digest, cache.remove(digest)))
                freed += removed[-1][1]
                if progress is not None:
                    progress(len(objects), len(objects), freed, 0)
            result.removed = removed
        # Half-written copies a crash left ('.*.tmp'): never objects, referenced
        # by nothing; only those untouched for an hour before gc and any live run.
        result.temps = cache.remove_stale_temps(hard - STALE_TEMP_SECONDS, dry_run)
        if progress is not None:
            progress(len(objects), len(objects), result.freed, 0)
    finally:
        lock.__exit__(None, None, None)
    return result


def _who_names(repo: Repository, cache: Cache, tips: list[RefTip], gone: set[str],
               named: list[tuple[str, int]]) -> list[tuple[str, int, str]]:
    """(hash, bytes, "branch 'x': path") for each object of NAMED, as well as tips can tell."""
    from git_exp.upkeep import gcscope
    labels = gcscope.label_named(repo, tips, gone, {h for h, _ in named} | {
        h for h in cache.iter_objects() if h.endswith(".dir")})
    inner: dict[str, tuple[str, str]] = {}
    for digest, (who, path) in labels.items():
        if digest.endswith(".dir") and cache.has(digest):
            try:
                for entry in cache.load_manifest(digest):
                    inner.setdefault(entry.hash, (who, f"{path}/{entry.relpath}"))
            except ExpError:
                continue
    out = []
    for digest, size in named:
        who, path = labels.get(digest) or inner.get(digest) or ("older commits", "")
        out.append((digest, size, f"{who}: {path}" if path else who))
    return out
