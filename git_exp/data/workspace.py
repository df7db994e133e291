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
import stat
from dataclasses import dataclass, field

from git_exp.atomic import write_atomic
from git_exp.data.hashing import HashInfo
from git_exp.data.pointer import check_data_path, format_pointer, is_pointer_name, pointer_path_of
from git_exp.data.tracked import (LOCK, data_at, index_pointers, lock_data_at, pointer_blobs,
                                  read_pointers, tree_blobs, worktree_pointers)
from git_exp.errors import ExpError
from git_exp.gitcmd import git
from git_exp.worktree_writes import WorkTree

STATE_FILE = "exp-data-synced"
ZERO_SHAS = ("0" * 40, "0" * 64)


def open_cache(repo):
    from git_exp.data.cache import Cache
    from git_exp.data.links import parse_link_types
    return Cache(repo.exp_dir, parse_link_types(repo.config.get("exp.cache.type")))


def _abs(repo, rel: str) -> str:
    return repo.root + os.sep + (rel if os.sep == "/" else rel.replace("/", os.sep))


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


def _tracked_by_git(repo, rels: list[str]) -> dict[str, str]:
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


def _first_overlap(rel: str, others: set[str], ordered: list[str]) -> str | None:
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


def _ignore_all(repo, rels: list[str]) -> dict[str, str]:
    """Add each of RELS to the .gitignore beside it, one write per file; rel -> .gitignore changed."""
    from git_exp.ignore import ignore_entry
    by_file: dict[str, list[tuple[str, str]]] = {}
    for rel in rels:
        gitignore, line = ignore_entry(rel)
        by_file.setdefault(gitignore, []).append((rel, line))
    changed: dict[str, str] = {}
    for gitignore, entries in by_file.items():
        path = _abs(repo, gitignore)
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except FileNotFoundError:
            text = ""
        present = {line.strip() for line in text.splitlines()}
        new = []
        for rel, line in entries:
            if line not in present and line + "/" not in present:
                present.add(line)
                new.append(line)
                changed[rel] = gitignore
        if new:
            if text and not text.endswith("\n"):
                text += "\n"
            WorkTree(repo.root).write(gitignore, text + "".join(line + "\n" for line in new))
    return changed


def add(repo, paths: list[str], cwd: str) -> list[Added]:
    """Store each PATH in the cache, write `PATH.exp`, ignore PATH in Git.

    Every path is checked before any is added, with a fixed number of
    `git` calls however many paths there are.
    """
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
        full = _abs(repo, rel)
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
        other = _first_overlap(rel, others, ordered)
        if other is not None:
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
                WorkTree(repo.root).write(pointer, format_pointer(info))
            synced[rel] = info.hash
            added.append(Added(rel, pointer, info, changed, None))
    ignored = _ignore_all(repo, rels)
    for item in added:
        item.gitignore = ignored.get(item.path)
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
    checkout of a fresh clone). A pointer whose blob is the same at OLD_REV
    and in the work tree is not even read: its data path only has to exist.
    So with nothing to do, the cost is a few `git` calls and an lstat per
    data path, whatever the number of pointers.
    """
    old_blobs: dict[str, bytes | None] = {}
    lock_old: dict[str, HashInfo] = {}
    if old_rev and old_rev not in ZERO_SHAS:
        try:
            old_blobs, special = tree_blobs(repo, old_rev)
            if LOCK in special:
                lock_old = lock_data_at(repo, old_rev)
        except ExpError:
            # The commit we left is unreadable or holds a bad record: it must
            # not block the one we enter, so everything counts as changed.
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
                and os.path.lexists(_abs(repo, pointer[:-4])):
            kept.append(pointer[:-4])  # as Git does: an unchanged record keeps local edits
        else:
            to_read[pointer] = blob
    targets = read_pointers(repo, to_read)
    for path, info in lock_new.items():
        before = lock_old.get(path)
        if before is not None and before.hash == info.hash and os.path.lexists(_abs(repo, path)):
            kept.append(path)
        else:
            targets[path] = info
    recorded = {p[:-4] for p in new_blobs} | set(lock_new)
    gone = {p: b for p, b in old_blobs.items() if p not in new_blobs}
    old_paths = set(read_pointers(repo, gone, old_rev[:12] if old_rev else None)) | set(lock_old)
    removals = sorted(p for p in (old_paths | set(synced)) - recorded
                      if not os.path.lexists(_abs(repo, pointer_path_of(p))))
    result = _sync(repo, targets, removals, recorded)
    result.kept = sorted(kept)
    _remember(repo, synced, targets, result, recorded)
    return result


def _remember(repo, synced: dict[str, str], targets: dict[str, HashInfo], result: SyncResult,
              records) -> None:
    after = dict(synced)
    for path in result.removed:
        after.pop(path, None)
    for path, info in targets.items():
        if path not in result.errors and path not in result.missing:
            after[path] = info.hash
    after = {p: h for p, h in after.items() if p in records or p in synced}
    if after != synced:
        _write_synced(repo, after)


def _sync(repo, targets: dict[str, HashInfo], removals: list[str], records,
          relink: bool = False) -> SyncResult:
    """Check out TARGETS and remove REMOVALS, except where a path of RECORDS is."""
    result = SyncResult()
    if not targets and not removals:
        return result
    from git_exp.data.state import StateMemo
    cache = open_cache(repo)
    others = set(records)
    ordered = sorted(others)
    known_dirs: set[str] = set()
    with StateMemo(repo.exp_dir) as memo:
        _preload(memo, repo, targets)
        for path in removals:
            if path in others or _first_overlap(path, others, ordered) is not None:
                continue  # its place now belongs to a recorded path
            try:
                _remove_if_safe(repo, cache, memo, path, result)
            except ExpError as err:
                result.errors[path] = err.message
        for path, info in sorted(targets.items()):
            try:
                _checkout_one(repo, cache, memo, path, info, relink, result, known_dirs)
            except ExpError as err:
                result.errors[path] = err.message
    return result


def _checkout_one(repo, cache, memo, path: str, info: HashInfo, relink: bool, result: SyncResult,
                  known_dirs: set | None = None) -> None:
    check_data_path(repo.root, path, cache.root, known_dirs=known_dirs)
    dest = _abs(repo, path)
    if not relink and _matches(cache, memo, dest, info):
        result.up_to_date.append(path)
        return
    missing = cache.missing(info)
    if missing:
        result.missing[path] = missing
        return
    done = cache.checkout(info, WorkTree(repo.root, cache.root, known_dirs), path, memo)
    result.saved_first.extend(os.path.relpath(p, repo.root).replace(os.sep, "/") for p in done.saved_first)
    if relink:
        _relink(WorkTree(repo.root, cache.root), cache, info, path)
        result.checked_out.append(path)
    elif done.changed:
        result.checked_out.append(path)
    else:
        result.up_to_date.append(path)


def _preload(memo, repo, paths) -> None:
    """With many data paths, one memo query per folder instead of one per file
    (a tracked folder is preloaded by hash_path itself)."""
    if len(paths) < 32:
        return
    for folder in sorted({os.path.dirname(_abs(repo, p)) for p in paths}):
        memo.preload(folder)


def _matches(cache, memo, dest: str, info: HashInfo) -> bool:
    """DEST already holds INFO's content: the common case, answered from the
    stat memo without reading a file or touching the cache."""
    from git_exp.data.hashing import hash_path
    if not os.path.lexists(dest):
        return False
    try:
        now, _ = hash_path(dest, memo, cache_root=cache.root)
    except ExpError:
        return False  # something odd is there (a socket, a foreign link): checkout deals with it
    return now.hash == info.hash


def _relink(tree, cache, info: HashInfo, rel: str) -> None:
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


def _remove_if_safe(repo, cache, memo, path: str, result: SyncResult) -> None:
    """Remove the data at PATH, which nothing records any more, once it is safe in the cache."""
    from git_exp.data.hashing import hash_path
    from git_exp.ignore import is_tracked
    tree = WorkTree(repo.root, cache.root)
    full = tree.path(path, "data path")
    if not os.path.lexists(full):
        return
    if is_tracked(repo.root, path):
        return  # Git tracks it now: it is Git's to manage
    st = os.lstat(full)
    if not stat.S_ISLNK(st.st_mode):  # a link tree.path let through points into our cache
        info, _ = hash_path(full, memo, cache_root=cache.root)
        if cache.missing(info):
            cache.save(full, memo)
            result.saved_first.append(path)
    tree.remove(path, "data path")  # a folder's symlinks are unlinked, never followed
    result.removed.append(path)
    tree.remove_empty_parents(path)


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
    known_dirs: set[str] = set()
    with StateMemo(repo.exp_dir) as memo:
        _preload(memo, repo, records)
        for path, info in sorted(records.items()):
            entry = DataStatus(path, info, "ok")
            try:
                entry.missing_objects = cache.missing(info)
                check_data_path(repo.root, path, cache.root, known_dirs=known_dirs)
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
    known_dirs: set[str] = set()
    with StateMemo(repo.exp_dir) as memo:
        _preload(memo, repo, staged)
        for path, recorded in sorted(staged.items()):
            check_data_path(repo.root, path, cache.root, known_dirs=known_dirs)
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
            WorkTree(repo.root).write(update.pointer, format_pointer(update.new))
    nothing_else = git(["diff-index", "--cached", "--quiet", "HEAD", "--"], cwd=repo.root,
                       check=False).returncode == 0
    git(["add", "--", *[u.pointer for u in changed]], cwd=repo.root)
    synced = read_synced(repo)
    synced.update({u.path: u.new.hash for u in changed})
    _write_synced(repo, synced)
    return PreCommit(changed, True, nothing_else)
