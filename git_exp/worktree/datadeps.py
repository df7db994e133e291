"""Tracked data a run depends on, stored before the run when it changed.

A stage's dep inside data tracked by `git exp add` (data/ with its pointer
data.exp beside it) is read from the work tree; if the user changed the data
since the pointer was written, a run would record the new content's hash in
exp.lock while the experiment's commit keeps the old pointer, and nothing
would hold the new content: the experiment could not be reproduced, and a
queued copy of the same work tree would check out the old data and train on
something else. So, as the pre-commit hook does for a commit, the new
content goes into the cache and the pointer is rewritten before the run
starts (DVC's `exp run` commits changed data the same way). Only data under
a dep is looked at: what the pipeline does not read cannot make its result
differ, and the no-op memo keys on the deps' stats alone.
"""
from __future__ import annotations

import os

from git_exp.data.pointer import format_pointer, parse_pointer, pointer_path_of
from git_exp.errors import ExpError
from git_exp.worktree.paths import abs_path, check_data_path, open_cache
from git_exp.worktree.precommit import PointerUpdate
from git_exp.worktree.synced import read_synced, write_synced
from git_exp.worktree_writes import WorkTree

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.pipeline.records import Pipeline
    from git_exp.repo import Repository

MAX_POINTER = 64 * 1024   # a pointer is a few lines; a bigger file is not one


def tracked_data(root: str, deps: set[str]) -> dict[str, str]:
    """Data path -> its pointer, for each tracked data path that is a dep or holds one."""
    found: dict[str, str] = {}
    for dep in deps:
        parts = dep.split("/")
        for end in range(1, len(parts) + 1):
            path = "/".join(parts[:end])
            pointer = pointer_path_of(path)
            full = os.path.join(root, *pointer.split("/"))
            if os.path.isfile(full) and not os.path.islink(full):
                found[path] = pointer
                break
    return found


def changed_data(repo: Repository, pipeline: Pipeline, store: bool = False) -> list[PointerUpdate]:
    """The tracked data under the pipeline's deps whose content no longer matches
    its pointer (`new`: the content's hash now). With STORE, that content goes into
    the cache, each pointer is rewritten, and `new` is what the cache recorded."""
    deps = {dep for stage in pipeline.stages.values() for dep in stage.deps}
    tracked = tracked_data(repo.root, deps)
    if not tracked:
        return []
    from git_exp.data.hashing import hash_path
    from git_exp.data.state import StateMemo
    cache = open_cache(repo)
    updates = []
    with StateMemo(repo.exp_dir) as memo:
        for path, pointer in sorted(tracked.items()):
            check_data_path(repo.root, path, cache.root)
            full = abs_path(repo, path)
            if not os.path.lexists(full):
                continue    # not checked out (missing from the cache): the run says so
            with open(abs_path(repo, pointer), "rb") as fh:
                text = fh.read(MAX_POINTER + 1)
            if len(text) > MAX_POINTER:
                raise ExpError(f"{pointer}: too large for a pointer file",
                               hint=f"restore it: git checkout -- {pointer}")
            recorded = parse_pointer(text, pointer)
            now, _ = hash_path(full, memo, cache_root=cache.root)
            if now.hash != recorded.hash:
                updates.append(PointerUpdate(path, pointer, recorded, cache.save(full, memo) if store else now))
    if store and updates:
        tree = WorkTree(repo.root)
        for update in updates:
            tree.write(update.pointer, format_pointer(update.new))
        synced = read_synced(repo)
        synced.update({u.path: u.new.hash for u in updates})
        write_synced(repo, synced)
    return updates
