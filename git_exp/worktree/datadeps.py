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

from git_exp.data.pointer import pointer_path_of, read_pointer_file
from git_exp.worktree.paths import open_cache
from git_exp.worktree.precommit import PointerUpdate, find_changed, store_changed

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.data.hashing import HashInfo
    from git_exp.pipeline.records import Pipeline
    from git_exp.repo import Repository


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
    recorded: dict[str, HashInfo] = {}
    for path, pointer in tracked_data(repo.root, deps).items():
        info = read_pointer_file(repo.root, pointer)   # None: a file named so that is no pointer
        if info is not None:
            recorded[path] = info
    if not recorded:
        return []
    from git_exp.data.state import StateMemo
    cache = open_cache(repo)
    with StateMemo(repo.exp_dir) as memo:
        changed = find_changed(repo, recorded, memo, cache)
        if store and changed:
            store_changed(repo, changed, memo, cache)
    return changed
