"""The work tree's data and its records: add, status, the pre-commit hook.

The records are pointers (`PATH.exp`) and cached outs in exp.lock (see
tracked.py). Putting recorded data into the work tree (`git exp checkout`,
the post-checkout and post-merge hooks) is sync.py's job; this module holds
what both share: the paths, the cache, and the memory of synced paths.

Untrusted records never write outside the work tree: every data path is
checked with pointer.check_data_path before anything is touched.

The work tree's synced paths are remembered in `<git dir>/exp-data-synced`
(per worktree), so a later checkout can remove data that a previous HEAD
recorded and the current one does not, even when no hook ran in between.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from git_exp.data.hashing import HashInfo
from git_exp.data.pointer import check_data_path, format_pointer, is_pointer_name, pointer_path_of
from git_exp.data.tracked import data_at, index_pointers, worktree_pointers
from git_exp.errors import ExpError
from git_exp.gitcmd import git
from git_exp.worktree_writes import WorkTree

STATE_FILE = "exp-data-synced"


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
    from git_exp import pathmap
    return pathmap.read(_state_path(repo))


def _write_synced(repo, synced: dict[str, str]) -> None:
    from git_exp import pathmap
    pathmap.write(_state_path(repo), synced, create_empty=False)


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


def add(repo, paths: list[str], cwd: str, progress=None) -> list[Added]:
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
    tally = Tally(progress)
    with StateMemo(repo.exp_dir) as memo:
        for rel in rels:
            info = cache.save(_abs(repo, rel), memo, tally.part())
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


def _preload(memo, repo, paths) -> None:
    """With many data paths, one memo query per folder instead of one per file
    (a tracked folder is preloaded by hash_path itself)."""
    if len(paths) < 32:
        return
    for folder in sorted({os.path.dirname(_abs(repo, p)) for p in paths}):
        memo.preload(folder)


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
