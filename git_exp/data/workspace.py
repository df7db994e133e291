"""Keeping the work tree's data and its records in step: add, checkout, status.

The records are pointers (`PATH.exp`) and cached outs in exp.lock (see
tracked.py). Three promises hold throughout:

- nothing the user wrote is lost: content about to be replaced or removed
  is saved to the cache first (Cache.checkout does it for replacements,
  `_remove_if_safe` for removals) and named in the result;
- untrusted records never write outside the work tree: every data path is
  checked with pointer.check_data_path before anything is touched, and a
  refused path is reported, not followed;
- a corrupt cache object is never copied out: Cache checks sizes before and
  hashes while it copies, and the error is reported per path.

`git exp checkout` makes every data path match its record. The hooks use
`sync_after_head_change`, which does what Git does with tracked files: a
path whose record did not change between the old and the new HEAD keeps
its work-tree content (local edits carry over a `git checkout -b`), while
paths whose record changed, or that are absent, are checked out.

The work tree's synced paths are remembered in `<git dir>/exp-data-synced`
(per worktree), so a later checkout can remove data that a previous HEAD
recorded and the current one does not, even when no hook ran in between.
"""
from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, field

from git_exp.atomic import write_atomic
from git_exp.data.hashing import HashInfo
from git_exp.data.pointer import check_data_path, format_pointer, is_pointer_name, pointer_path_of
from git_exp.data.tracked import data_at, index_pointers, worktree_pointers
from git_exp.errors import ExpError
from git_exp.gitcmd import git

STATE_FILE = "exp-data-synced"
ZERO_SHAS = ("0" * 40, "0" * 64)


def open_cache(repo):
    from git_exp.data.cache import Cache
    from git_exp.data.links import parse_link_types
    return Cache(repo.exp_dir, parse_link_types(repo.config.get("exp.cache.type")))


def _abs(repo, rel: str) -> str:
    return os.path.join(repo.root, *rel.split("/"))


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def to_relpath(repo, path: str, cwd: str) -> str:
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


# -- the synced-paths memory ---------------------------------------------------

def _state_path(repo) -> str:
    return os.path.join(repo.git_dir, STATE_FILE)


def read_synced(repo) -> dict[str, str]:
    """Data path -> hash of what the last checkout/add left in this work tree."""
    try:
        with open(_state_path(repo), encoding="utf-8", errors="surrogateescape") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return {}
    synced = {}
    for line in lines:
        digest, sep, path = line.partition("\t")
        if sep and path:
            synced[path] = digest
    return synced


def _write_synced(repo, synced: dict[str, str]) -> None:
    text = "".join(f"{h}\t{p}\n" for p, h in sorted(synced.items()))
    if synced or os.path.exists(_state_path(repo)):
        write_atomic(_state_path(repo), text.encode("utf-8", "surrogateescape"))


# -- add -----------------------------------------------------------------------

@dataclass
class Added:
    path: str               # repo-relative data path
    pointer: str            # repo-relative pointer path
    info: HashInfo
    pointer_changed: bool   # the pointer was written (new, or the data changed)
    gitignore: str | None   # the .gitignore that gained an entry, if any


def _stage_outs(repo) -> dict[str, str]:
    """Out path -> stage name from exp.yaml, if there is one."""
    if not os.path.isfile(os.path.join(repo.root, "exp.yaml")):
        return {}
    from git_exp.pipeline.spec import load_pipeline
    try:
        pipeline = load_pipeline(repo.root)
    except ExpError:
        return {}
    return {o.path: s.name for s in pipeline.stages.values() for o in s.outs}


def add(repo, paths: list[str], cwd: str) -> list[Added]:
    """Store each PATH in the cache, write `PATH.exp`, ignore PATH in Git."""
    from git_exp.data.state import StateMemo
    from git_exp.ignore import ensure_ignored, ignore_entry, is_tracked

    if not paths:
        raise ExpError("nothing to add", hint="name the files or folders to track: git exp add data/")
    rels = list(dict.fromkeys(to_relpath(repo, p, cwd) for p in paths))
    existing = worktree_pointers(repo)
    outs = _stage_outs(repo)
    cache = open_cache(repo)
    for rel in rels:  # every path is checked before any is added
        check_data_path(repo.root, rel)
        full = _abs(repo, rel)
        if is_pointer_name(rel) and not os.path.isdir(full):
            raise ExpError(f"'{rel}' is a pointer file", hint=f"add the data it points to: git exp add {rel[:-4]}")
        if not os.path.lexists(full):
            raise ExpError(f"'{rel}' does not exist")
        st = os.lstat(full)
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            raise ExpError(f"'{rel}' is neither a regular file nor a folder")
        if is_tracked(repo.root, rel):
            raise ExpError(f"'{rel}' is tracked by Git, so its content is already in Git's objects",
                           hint=f"stop tracking it first: git rm -r --cached '{rel}'")
        if rel in outs:
            raise ExpError(f"'{rel}' is an output of stage '{outs[rel]}', which tracks it in exp.lock",
                           hint="stage outputs are cached by 'git exp run'; add only source data")
        for other in list(existing) + list(outs) + [r for r in rels if r != rel]:
            if other != rel and _overlaps(other, rel):
                raise ExpError(f"'{rel}' overlaps the tracked data path '{other}'",
                               hint="track a folder or the files in it, not both")
    synced = read_synced(repo)
    added = []
    with StateMemo(repo.exp_dir) as memo:
        for rel in rels:
            info = cache.save(_abs(repo, rel), memo)
            pointer = pointer_path_of(rel)
            changed = existing.get(rel) != info
            if changed:
                write_atomic(_abs(repo, pointer), format_pointer(info))
            gitignore = ignore_entry(rel)[0] if ensure_ignored(repo.root, rel) else None
            synced[rel] = info.hash
            added.append(Added(rel, pointer, info, changed, gitignore))
    _write_synced(repo, synced)
    return added


# -- checkout and sync -----------------------------------------------------------

@dataclass
class SyncResult:
    checked_out: list[str] = field(default_factory=list)   # data paths written or changed
    up_to_date: list[str] = field(default_factory=list)    # already matching their record
    kept: list[str] = field(default_factory=list)          # record unchanged: work-tree content kept
    removed: list[str] = field(default_factory=list)       # no longer recorded: removed
    saved_first: list[str] = field(default_factory=list)   # files saved to the cache before change
    missing: dict[str, list[str]] = field(default_factory=dict)  # data path -> missing objects
    errors: dict[str, str] = field(default_factory=dict)         # data path -> what went wrong

    @property
    def nothing_done(self) -> bool:
        return not (self.checked_out or self.removed or self.missing or self.errors)


def checkout(repo, paths: list[str] | None = None, cwd: str | None = None,
             relink: bool = False) -> SyncResult:
    """Make the data paths (all, or those under PATHS) match their records.

    With no PATHS, data paths synced earlier that nothing records any more
    are removed (after saving their content to the cache).
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
    result = _sync(repo, targets, removals, records, relink=relink)
    _remember(repo, synced, targets, result, records)
    return result


def _select(repo, records: dict[str, HashInfo], paths: list[str], cwd: str) -> list[str]:
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


def sync_after_head_change(repo, old_rev: str | None) -> SyncResult:
    """What the post-checkout and post-merge hooks do once HEAD has moved.

    OLD_REV is the commit HEAD was at (None or all zeros: unknown, e.g. the
    checkout of a fresh clone). Returns quickly when there is no data.
    """
    records = data_at(repo, None)
    old: dict[str, HashInfo] = {}
    if old_rev and old_rev not in ZERO_SHAS:
        try:
            old = data_at(repo, old_rev)
        except ExpError:
            old = {}  # a bad record in the commit we left must not block the one we enter
    synced = read_synced(repo)
    if not records and not old and not synced:
        return SyncResult()
    targets = {}
    kept = []
    for path, info in records.items():
        before = old.get(path)
        if before is not None and before.hash == info.hash and os.path.lexists(_abs(repo, path)):
            kept.append(path)  # as Git does: an unchanged record keeps local edits
        else:
            targets[path] = info
    removals = sorted((set(old) | set(synced)) - set(records))
    result = _sync(repo, targets, removals, records)
    result.kept = sorted(kept)
    _remember(repo, synced, records, result, records)
    return result


def _remember(repo, synced: dict[str, str], targets: dict[str, HashInfo], result: SyncResult,
              records: dict[str, HashInfo]) -> None:
    after = dict(synced)
    for path in result.removed:
        after.pop(path, None)
    for path, info in targets.items():
        if path not in result.errors and path not in result.missing:
            after[path] = info.hash
    after = {p: h for p, h in after.items() if p in records or p in synced}
    if after != synced:
        _write_synced(repo, after)


def _sync(repo, targets: dict[str, HashInfo], removals: list[str], records: dict[str, HashInfo],
          relink: bool = False) -> SyncResult:
    result = SyncResult()
    if not targets and not removals:
        return result
    from git_exp.data.state import StateMemo
    cache = open_cache(repo)
    with StateMemo(repo.exp_dir) as memo:
        for path in removals:
            if any(_overlaps(path, other) for other in records):
                continue  # its place now belongs to a recorded path
            try:
                _remove_if_safe(repo, cache, memo, path, result)
            except ExpError as err:
                result.errors[path] = err.message
        for path, info in sorted(targets.items()):
            try:
                _checkout_one(repo, cache, memo, path, info, relink, result)
            except ExpError as err:
                result.errors[path] = err.message
    return result


def _checkout_one(repo, cache, memo, path: str, info: HashInfo, relink: bool, result: SyncResult) -> None:
    check_data_path(repo.root, path, cache.root)
    missing = cache.missing(info)
    if missing:
        result.missing[path] = missing
        return
    dest = _abs(repo, path)
    if info.is_dir and os.path.isdir(dest) and not os.path.islink(dest):
        memo.preload(dest)  # one query for the whole folder instead of one per file
    done = cache.checkout(info, dest, memo)
    result.saved_first.extend(os.path.relpath(p, repo.root).replace(os.sep, "/") for p in done.saved_first)
    if relink:
        _relink(cache, info, dest)
        result.checked_out.append(path)
    elif done.changed:
        result.checked_out.append(path)
    else:
        result.up_to_date.append(path)


def _relink(cache, info: HashInfo, dest: str) -> None:
    """Put every file of DEST (already matching INFO) back with the configured link type."""
    from git_exp.data.links import ContentMismatch, materialize
    if info.is_dir:
        files = [(os.path.join(dest, *e.relpath.split("/")), e.hash, e.executable)
                 for e in cache.load_manifest(info.hash)]
    else:
        files = [(dest, info.hash, bool(os.stat(dest).st_mode & stat.S_IXUSR))]
    for path, digest, executable in files:
        kinds = cache.link_types
        if executable:  # links share the object's mode, which is never executable
            kinds = [k for k in kinds if k not in ("hardlink", "symlink")] or ["copy"]
        try:
            materialize(cache.object_path(digest), path, kinds, executable=executable, expected_hash=digest)
        except ContentMismatch as err:
            raise ExpError(f"cache object {digest} is corrupt: its content hashes to {err.actual}",
                           hint=f"delete '{cache.object_path(digest)}' and fetch it again with 'git exp pull'") \
                from None


def _remove_if_safe(repo, cache, memo, path: str, result: SyncResult) -> None:
    """Remove the data at PATH, which nothing records any more, once it is safe in the cache."""
    from git_exp.data.hashing import hash_path
    from git_exp.ignore import is_tracked
    check_data_path(repo.root, path, cache.root)
    full = _abs(repo, path)
    if not os.path.lexists(full):
        return
    if is_tracked(repo.root, path):
        return  # Git tracks it now: it is Git's to manage
    st = os.lstat(full)
    if stat.S_ISLNK(st.st_mode):
        os.unlink(full)  # check_data_path let it through: a link into our cache
    else:
        info, _ = hash_path(full, memo, cache_root=cache.root)
        if cache.missing(info):
            cache.save(full, memo)
            result.saved_first.append(path)
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(full)  # unlinks symlinks, never follows them
        else:
            os.unlink(full)
    result.removed.append(path)
    parent = os.path.dirname(full)
    while parent != repo.root and parent.startswith(repo.root + os.sep):
        try:
            os.rmdir(parent)  # only ever succeeds on an empty folder
        except OSError:
            break
        parent = os.path.dirname(parent)


# -- status ----------------------------------------------------------------------

@dataclass
class DataStatus:
    path: str
    info: HashInfo
    state: str                      # "ok", "modified", "not in work tree", "refused"
    missing_objects: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class StageStatus:
    name: str
    reasons: list[str]              # why it would run; empty when up to date
    frozen: bool = False


@dataclass
class StatusReport:
    stages: list[StageStatus] = field(default_factory=list)
    stages_error: str | None = None  # the pipeline could not be checked
    data: list[DataStatus] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return (self.stages_error is None and not any(s.reasons for s in self.stages)
                and all(d.state == "ok" and not d.missing_objects for d in self.data))


def status(repo) -> StatusReport:
    """Which stages would run and why; which data paths differ from their
    record; which cached objects are missing."""
    report = StatusReport()
    if os.path.isfile(os.path.join(repo.root, "exp.yaml")):
        try:
            report.stages = _stage_status(repo)
        except ExpError as err:
            report.stages_error = err.message
    records = data_at(repo, None)
    if not records:
        return report
    from git_exp.data.hashing import hash_path
    from git_exp.data.state import StateMemo
    cache = open_cache(repo)
    with StateMemo(repo.exp_dir) as memo:
        for path, info in sorted(records.items()):
            entry = DataStatus(path, info, "ok")
            try:
                entry.missing_objects = cache.missing(info)
                check_data_path(repo.root, path, cache.root)
                full = _abs(repo, path)
                if not os.path.lexists(full):
                    entry.state = "not in work tree"
                else:
                    now, _ = hash_path(full, memo, cache_root=cache.root)
                    if now.hash != info.hash:
                        entry.state = "modified"
            except ExpError as err:
                entry.state, entry.error = "refused", err.message
            report.data.append(entry)
    return report


def _stage_status(repo) -> list[StageStatus]:
    from git_exp.pipeline.runner import PipelineRun
    from git_exp.pipeline.spec import load_pipeline
    plans = PipelineRun(repo, load_pipeline(repo.root)).plan()
    return [StageStatus(p.stage.name, list(p.reasons), p.skip == "frozen") for p in plans]


# -- pre-commit ------------------------------------------------------------------

@dataclass
class PointerUpdate:
    path: str           # data path
    pointer: str
    old: HashInfo
    new: HashInfo


@dataclass
class PreCommit:
    updates: list[PointerUpdate] = field(default_factory=list)
    stored: bool = False          # saved and staged (else: a refusal, exp.hooks.autoAdd=false)
    only_pointers: bool = False   # nothing else was staged (see modified_since_pointer)


def modified_since_pointer(repo, store: bool | None = None) -> PreCommit:
    """Staged pointers whose data changed in the work tree, and whether they were stored.

    When storing (STORE, or by default config exp.hooks.autoAdd, true unless
    set), the new content goes to the cache and each pointer is rewritten
    and staged. Data absent from the work tree is left alone: it was never
    checked out (missing from the cache), not deleted on purpose.

    Git decides whether there is anything to commit before it runs the
    pre-commit hook, so a commit in which only data changed stops with
    "nothing to commit" even though the pointer is now staged (`git commit
    -a` even drops what the hook staged). `only_pointers` tells the caller
    to say so: the same commit command run again records the data.
    """
    staged = index_pointers(repo)
    if not staged:
        return PreCommit()
    from git_exp.data.hashing import hash_path
    from git_exp.data.state import StateMemo
    cache = open_cache(repo)
    changed = []
    with StateMemo(repo.exp_dir) as memo:
        for path, recorded in sorted(staged.items()):
            check_data_path(repo.root, path, cache.root)
            full = _abs(repo, path)
            if not os.path.lexists(full):
                continue
            if os.path.isdir(full) and not os.path.islink(full):
                memo.preload(full)
            now, _ = hash_path(full, memo, cache_root=cache.root)
            if now.hash != recorded.hash:
                changed.append(PointerUpdate(path, pointer_path_of(path), recorded, now))
        if not changed:
            return PreCommit()
        if store is None:
            store = repo.config.get_bool("exp.hooks.autoAdd", True)
        if not store:
            return PreCommit(changed, False)
        for update in changed:
            update.new = cache.save(_abs(repo, update.path), memo)
            write_atomic(_abs(repo, update.pointer), format_pointer(update.new))
    nothing_else = git(["diff-index", "--cached", "--quiet", "HEAD", "--"], cwd=repo.root,
                       check=False).returncode == 0
    git(["add", "--", *[u.pointer for u in changed]], cwd=repo.root)
    synced = read_synced(repo)
    synced.update({u.path: u.new.hash for u in changed})
    _write_synced(repo, synced)
    return PreCommit(changed, True, nothing_else)
