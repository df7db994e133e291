"""Putting recorded data into the work tree: `git exp checkout` and the checkout/merge hooks.

The rule is Git's, for data: bytes the user wrote are never replaced or
removed unless there is a way back that gc keeps.

- Content that matches a record a ref keeps (and that is whole in the
  cache) is safe to replace or remove: checking that record out again
  brings it back (edits.py decides).
- Anything else is the user's own work - an edited out, a file added
  inside an out directory, data nothing records. The hooks (which run
  after Git has already moved HEAD, so cannot refuse) leave it in place
  and say how to resolve it, as Git carries local edits across a
  checkout. `git exp checkout` refuses to touch it and writes nothing;
  with `force` it first records it in a backup commit under
  refs/exp-backups/ (backups.py, the format apply uses) and
  names that ref - also when Ctrl-C stops it half-way (exit 130).

After a HEAD change the hooks compare with the OLD record (what HEAD
recorded before it moved): only content equal to it is replaced. A path
whose record did not change keeps its content, edits included, exactly
as Git keeps an edited tracked file across `git checkout -b`.

Untrusted records never write outside the work tree: every data path goes
through paths.check_data_path first, and a refused path is reported; every
write and removal goes through the work-tree door (worktree_writes.WorkTree).
A corrupt cache object is never copied out: Cache checks sizes before and
hashes while it copies (a big object re-checked since it was last written
is trusted: cache.STAMPED).
"""
from __future__ import annotations

import os
import stat

from git_exp.data.hashing import HashInfo
from git_exp.data.pointer import is_pointer_name, pointer_path_of
from git_exp.errors import ExpError, Interrupted
from git_exp.plainclass import Mutable
from git_exp.worktree.backups import back_up_edits
from git_exp.worktree.edits import Edited, Known, content_of, describe
from git_exp.worktree.paths import abs_path, check_data_path, first_overlap, open_cache, preload, to_relpath
from git_exp.worktree.records import LOCK, data_at, lock_data_at, pointer_blobs, read_pointers, tree_blobs
from git_exp.worktree.synced import read_synced, write_synced
from git_exp.worktree_writes import WorkTree

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Collection

    from git_exp.data.cache import Cache, Progress
    from git_exp.data.state import StateMemo
    from git_exp.remotes.fetch import FetchReport
    from git_exp.remotes.transfer import Progress as FetchProgress
    from git_exp.repo import Repository

ZERO_SHAS = ("0" * 40, "0" * 64)


class SyncResult(Mutable):
    # Not a dataclass: the hooks build one on every checkout (plainclass.py).
    __slots__ = ("checked_out", "up_to_date", "kept", "removed", "saved_first", "missing", "errors",
                 "edited", "refused", "backup_ref", "backed_up", "fetched")

    def __init__(self) -> None:
        self.checked_out: list[str] = []        # data paths written or changed
        self.up_to_date: list[str] = []         # already matching their record
        self.kept: list[str] = []               # record unchanged: work-tree content kept
        self.removed: list[str] = []            # no longer recorded: removed
        self.saved_first: list[str] = []        # files saved to the cache before change
        self.missing: dict[str, list[str]] = {}     # data path -> missing objects
        self.errors: dict[str, str] = {}            # data path -> what went wrong
        self.edited: list[Edited] = []          # the user's own bytes, left alone...
        self.refused = False                    # ...and so nothing was done (checkout)
        self.backup_ref: str | None = None      # where --force kept what it replaced
        self.backed_up: list[str] = []          # the paths that backup holds
        self.fetched: FetchReport | None = None  # when missing objects were fetched

    @property
    def nothing_done(self) -> bool:
        return not (self.checked_out or self.removed or self.missing or self.errors or self.edited)


# -- entry points ----------------------------------------------------------------

def checkout(repo: Repository, paths: list[str] | None = None, cwd: str | None = None,
             relink: bool = False, force: bool = False, progress: Progress | None = None,
             fetch_progress: FetchProgress | None = None) -> SyncResult:
    """Make the data paths (all, or those under PATHS) match their records.

    With no PATHS, data paths synced earlier that nothing records any more
    are removed. Content no ref keeps (edits) stops everything unless FORCE,
    which first saves it under a backup ref. PROGRESS (cache.Progress) hears
    of every file written, FETCH_PROGRESS of missing data fetched first.
    """
    records = data_at(repo, None)
    synced = read_synced(repo)
    if paths:
        wanted = _select(repo, records, paths, cwd or os.getcwd())
        targets = {p: records[p] for p in wanted}
        removals: list[str] = []
    else:
        targets = records
        removals = sorted(set(synced) - set(records))
    known = Known(repo, lambda: _head_records(repo))
    result = _sync(repo, targets, removals, records, known, relink=relink,
                   hook=False, force=force, progress=progress, fetch_progress=fetch_progress)
    _remember(repo, synced, targets, result, records)
    return result


def sync_after_head_change(repo: Repository, old_rev: str | None,
                           fetch_progress: FetchProgress | None = None) -> SyncResult:
    """What the post-checkout and post-merge hooks do once HEAD has moved.

    OLD_REV is the commit HEAD was at (None or all zeros: unknown, e.g. the
    checkout of a fresh clone). A pointer whose blob is the same at OLD_REV
    and in the work tree is not even read: its data path only has to exist.
    So with nothing to do, the cost is a few `git` calls and an lstat per
    data path, whatever the number of pointers.
    """
    old_blobs: dict[str, bytes | None] = {}
    lock_old: dict[str, HashInfo] = {}
    if old_rev and old_rev not in ZERO_SHAS:
        try:
            found, special = tree_blobs(repo, old_rev)
            old_blobs = dict(found)
            if LOCK in special:
                lock_old = lock_data_at(repo, old_rev)
        except ExpError:
            # The commit we left is unreadable or holds a bad record: it must
            # not block the one we enter. With no old record, any content
            # already in place counts as the user's and is left alone.
            old_rev, old_blobs, lock_old = None, {}, {}
    # Untracked pointers are not Git's to change: their data stays as it is
    # (a removal below is skipped for any path whose pointer file exists).
    new_blobs = pointer_blobs(repo, None, untracked=False)
    synced = read_synced(repo)
    lock_new = lock_data_at(repo, None)
    if not new_blobs and not old_blobs and not synced and not lock_new and not lock_old:
        return SyncResult()

    kept = []
    to_read = {}
    for pointer, blob in new_blobs.items():
        if blob is not None and old_blobs.get(pointer) == blob \
                and os.path.lexists(abs_path(repo, pointer[:-4])):
            kept.append(pointer[:-4])  # as Git does: an unchanged record keeps local edits
        else:
            to_read[pointer] = blob
    targets = read_pointers(repo, to_read)
    for path, info in lock_new.items():
        before = lock_old.get(path)
        if before is not None and before.hash == info.hash and os.path.lexists(abs_path(repo, path)):
            kept.append(path)
        else:
            targets[path] = info
    recorded = {p[:-4] for p in new_blobs} | set(lock_new)
    # The old records of every path that may change: what "unedited" means.
    old_needed = {p: b for p, b in old_blobs.items() if p not in new_blobs or p in to_read}
    try:
        old_records = read_pointers(repo, old_needed, old_rev[:12] if old_rev else None)
    except ExpError:
        old_records = {}
    old_records.update(lock_old)
    removals = sorted(p for p in (set(old_records) | set(synced)) - recorded
                      if not os.path.lexists(abs_path(repo, pointer_path_of(p))))
    known = Known(repo, lambda: old_records, strict=True, label="the previous HEAD's record")
    result = _sync(repo, targets, removals, recorded, known, hook=True, fetch_progress=fetch_progress)
    result.kept = sorted(kept)
    _remember(repo, synced, targets, result, recorded)
    return result


def _select(repo: Repository, records: dict[str, HashInfo], paths: list[str], cwd: str) -> list[str]:
    chosen: list[str] = []
    for path in paths:
        rel = to_relpath(repo, path, cwd)
        if is_pointer_name(rel) and rel[:-4] in records:
            rel = rel[:-4]
        found = [p for p in records if p == rel or p.startswith(rel + "/")]
        if not found:
            raise ExpError(f"'{path}' is not a tracked data path",
                           hint="track it with 'git exp add', or see 'git exp status'")
        chosen.extend(found)
    return sorted(set(chosen))


def _head_records(repo: Repository) -> dict[str, HashInfo]:
    from git_exp.git import git
    head = git(["rev-parse", "-q", "--verify", "HEAD^{commit}"], cwd=repo.root, check=False)
    if head.returncode != 0:
        return {}
    try:
        return data_at(repo, head.stdout.decode().strip())
    except ExpError:
        return {}


def _remember(repo: Repository, synced: dict[str, str], targets: dict[str, HashInfo], result: SyncResult,
              records: Collection[str]) -> None:
    after = dict(synced)
    for path in result.removed:
        after.pop(path, None)
    left = {e.path for e in result.edited} if not result.refused else set(targets)
    for path, info in targets.items():
        if path not in result.errors and path not in result.missing and path not in left:
            after[path] = info.hash
    after = {p: h for p, h in after.items() if p in records or p in synced}
    if after != synced:
        write_synced(repo, after)


# -- doing it ----------------------------------------------------------------------

def _sync(repo: Repository, targets: dict[str, HashInfo], removals: list[str],
          records: Collection[str], known: Known, relink: bool = False, hook: bool = False,
          force: bool = False, progress: Progress | None = None,
          fetch_progress: FetchProgress | None = None) -> SyncResult:
    """Check out TARGETS and remove REMOVALS (except where a path of RECORDS is).

    First every path is looked at and nothing is written; the user's own
    content is then left alone (HOOK), refused (checkout) or backed up
    (FORCE) before anything changes.
    """
    result = SyncResult()
    if not targets and not removals:
        return result
    from git_exp.data.state import StateMemo
    cache = open_cache(repo)
    others = set(records)
    ordered = sorted(others)
    known_dirs: set[str] = set()
    writes: list[tuple[str, HashInfo]] = []
    deletes: list[str] = []
    with StateMemo(repo.exp_dir) as memo:
        preload(memo, repo, targets)
        for path in removals:
            if path in others or first_overlap(path, others, ordered) is not None:
                continue  # its place now belongs to a recorded path
            try:
                if _plan_removal(repo, cache, memo, path, known, result):
                    deletes.append(path)
            except ExpError as err:
                result.errors[path] = err.message
        for path, info in sorted(targets.items()):
            try:
                if _plan_write(repo, cache, memo, path, info, relink, known, result, known_dirs):
                    writes.append((path, info))
            except ExpError as err:
                result.errors[path] = err.message
        if result.missing:  # fetch what the cache lacks (exp.fetch.auto), then plan those again
            from git_exp.remotes.fetch import refill
            for path in refill(repo, targets, result, fetch_progress):
                try:
                    if _plan_write(repo, cache, memo, path, targets[path], relink, known, result, known_dirs):
                        writes.append((path, targets[path]))
                except ExpError as err:
                    result.errors[path] = err.message
            writes.sort()
        if result.edited and not hook and not force:
            result.refused = True
            return result
        try:
            if result.edited and not hook:
                back_up_edits(repo, cache, memo, result)
                deletes += [e.path for e in result.edited if e.removal]
                writes += [(e.path, targets[e.path]) for e in result.edited if not e.removal]
                writes.sort()
            _carry_out(repo, cache, memo, deletes, writes, relink, result, progress)
        except KeyboardInterrupt:
            if result.backup_ref is None:
                raise
            raise Interrupted(f"interrupted; your version of {', '.join(result.backed_up)} is saved",
                              hint=f"to restore it: git exp apply {result.backup_ref}") from None
    return result


def _carry_out(repo: Repository, cache: Cache, memo: StateMemo, deletes: list[str],
               writes: list[tuple[str, HashInfo]], relink: bool, result: SyncResult,
               progress: Progress | None = None) -> None:
    from git_exp.data.cache import Tally
    tally = Tally(progress, sum(info.nfiles or 1 for _, info in writes), sum(info.size for _, info in writes))
    for path in deletes:
        try:
            _remove(repo, path, result)
        except (ExpError, OSError) as err:
            result.errors[path] = getattr(err, "message", None) or str(err)
    for path, info in writes:
        try:
            _write(repo, cache, memo, path, info, relink, result, tally.part())
        except ExpError as err:
            result.errors[path] = err.message


def _plan_removal(repo: Repository, cache: Cache, memo: StateMemo, path: str, known: Known, result: SyncResult) -> bool:
    """True when the data at PATH, which nothing records any more, may simply be removed."""
    from git_exp.ignore import is_tracked
    check_data_path(repo.root, path, cache.root)
    full = abs_path(repo, path)
    if not os.path.lexists(full):
        return False
    if is_tracked(repo.root, path):
        return False  # Git tracks it now: it is Git's to manage
    if stat.S_ISLNK(os.lstat(full).st_mode):
        return True  # check_data_path let it through: a link into our cache, no bytes of the user's
    try:
        now, entries = content_of(full, memo, cache)
    except ExpError as err:
        result.edited.append(Edited(path, err.message, True, None))
        return False
    if known.safe(cache, path, now, entries):
        return True
    old = known.first().get(path)
    why = describe(cache, entries, old, path, known.label) if old is not None else "no commit records this content"
    result.edited.append(Edited(path, why, True, now))
    return False


def _plan_write(repo: Repository, cache: Cache, memo: StateMemo, path: str, info: HashInfo,
                relink: bool, known: Known, result: SyncResult, known_dirs: set[str]) -> bool:
    """True when PATH is to be (re)written from the cache."""
    check_data_path(repo.root, path, cache.root, known_dirs=known_dirs)
    dest = abs_path(repo, path)
    now = entries = None
    link = False
    if os.path.lexists(dest):
        # A symlink holds no bytes of the user's (the 'symlink' link type
        # makes them); it is only followed to see whether it is up to date.
        link = stat.S_ISLNK(os.lstat(dest).st_mode)
        try:
            now, entries = content_of(dest, memo, cache)
        except ExpError as err:
            if os.path.isdir(dest) and not link:  # a folder holding something odd: the user's
                result.edited.append(Edited(path, err.message, False, None))
                return False
    if now is not None and now.hash == info.hash and not relink:
        result.up_to_date.append(path)
        return False
    missing = cache.missing(info)
    if missing:
        result.missing[path] = missing
        return False
    if now is None or link or now.hash == info.hash or known.safe(cache, path, now, entries, info):
        return True
    old = known.first().get(path)
    reference = old if old is not None else info
    label = known.label if old is not None else "its record"
    result.edited.append(Edited(path, describe(cache, entries, reference, path, label), False, now))
    return False


def _write(repo: Repository, cache: Cache, memo: StateMemo, path: str, info: HashInfo, relink: bool,
           result: SyncResult, progress: Progress | None = None) -> None:
    tree = WorkTree(repo.root, cache.root)  # the work-tree door: no link followed, nothing outside
    done = cache.checkout(info, tree, path, memo, progress)
    result.saved_first.extend(os.path.relpath(p, repo.root).replace(os.sep, "/") for p in done.saved_first)
    if relink:
        _relink(tree, cache, info, path)
        result.checked_out.append(path)
    elif done.changed:
        result.checked_out.append(path)
    else:
        result.up_to_date.append(path)


def _relink(tree: WorkTree, cache: Cache, info: HashInfo, rel: str) -> None:
    """Put every file of REL (already matching INFO) back with the configured link type."""
    from git_exp.data.links import ContentMismatch
    if info.is_dir:
        files = [(f"{rel}/{e.relpath}", e.hash, e.executable) for e in cache.load_manifest(info.hash)]
    else:
        files = [(rel, info.hash, bool(os.stat(tree.abs(rel)).st_mode & stat.S_IXUSR))]
    for path, digest, executable in files:
        kinds = cache.link_types
        if executable:  # links share the object's mode, which is never executable
            kinds = [k for k in kinds if k not in ("hardlink", "symlink")] or ["copy"]
        try:
            tree.link_from_cache(cache.object_path(digest), path, kinds, executable=executable,
                                 expected_hash=digest)
        except ContentMismatch as err:
            raise ExpError(f"cache object {digest} is corrupt: its content hashes to {err.actual}",
                           hint=f"delete '{cache.object_path(digest)}' and fetch it again with 'git exp pull'") \
                from None


def _remove(repo: Repository, path: str, result: SyncResult) -> None:
    """Remove the data at PATH: planned as safe (recorded and in the cache) or backed up."""
    tree = WorkTree(repo.root)  # the work-tree door: a link is unlinked, never followed
    if not tree.remove(path, "data path"):
        return
    result.removed.append(path)
    tree.remove_empty_parents(path)
