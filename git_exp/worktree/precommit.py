"""The pre-commit hook's job: staged pointers whose data changed in the work tree.

With exp.hooks.autoAdd (the default) the new content is stored and the
pointer rewritten and staged, so the commit records what the work tree
holds; otherwise the caller refuses the commit and says why.
"""
from __future__ import annotations

import os

from git_exp.data.hashing import HashInfo
from git_exp.data.pointer import format_pointer, pointer_path_of
from git_exp.git import git
from git_exp.plainclass import Mutable
from git_exp.worktree.paths import abs_path, check_data_path, open_cache, preload
from git_exp.worktree.records import index_pointers
from git_exp.worktree.synced import read_synced, write_synced
from git_exp.worktree_writes import WorkTree

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.data.cache import Cache
    from git_exp.data.state import StateMemo
    from git_exp.repo import Repository


class PointerUpdate(Mutable):
    # Not dataclasses: the pre-commit hook runs on every commit (plainclass.py).
    __slots__ = ("path", "pointer", "old", "new")

    def __init__(self, path: str, pointer: str, old: HashInfo, new: HashInfo):
        self.path = path        # data path
        self.pointer = pointer
        self.old = old
        self.new = new


class PreCommit(Mutable):
    __slots__ = ("updates", "stored", "only_pointers")

    def __init__(self, updates: list[PointerUpdate] | None = None, stored: bool = False,
                 only_pointers: bool = False):
        self.updates = [] if updates is None else updates
        self.stored = stored                # saved and staged (else: a refusal, exp.hooks.autoAdd=false)
        self.only_pointers = only_pointers  # nothing else was staged (see modified_since_pointer)


def modified_since_pointer(repo: Repository, store: bool | None = None) -> PreCommit:
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
    from git_exp.data.state import StateMemo
    cache = open_cache(repo)
    with StateMemo(repo.exp_dir) as memo:
        changed = find_changed(repo, staged, memo, cache)
        if not changed:
            return PreCommit()
        if store is None:
            store = repo.config.get_bool("exp.hooks.autoAdd", True)
        if not store:
            return PreCommit(changed, False)
        store_changed(repo, changed, memo, cache)
    nothing_else = git(["diff-index", "--cached", "--quiet", "HEAD", "--"], cwd=repo.root,
                       check=False).returncode == 0
    git(["add", "--", *[u.pointer for u in changed]], cwd=repo.root)
    return PreCommit(changed, True, nothing_else)


def find_changed(repo: Repository, recorded: dict[str, HashInfo], memo: StateMemo,
                 cache: Cache) -> list[PointerUpdate]:
    """Of RECORDED (data path -> what its pointer records), the data whose content in
    the work tree differs (`new`: its hash now). Data absent from the work tree is
    left alone: it was never checked out (missing from the cache), not deleted on purpose."""
    from git_exp.data.hashing import hash_path
    preload(memo, repo, recorded)
    changed = []
    known_dirs: set[str] = set()
    for path, info in sorted(recorded.items()):
        check_data_path(repo.root, path, cache.root, known_dirs=known_dirs)
        full = abs_path(repo, path)
        if not os.path.lexists(full):
            continue
        if os.path.isdir(full) and not os.path.islink(full):
            memo.preload(full)
        now, _ = hash_path(full, memo, cache_root=cache.root)
        if now.hash != info.hash:
            changed.append(PointerUpdate(path, pointer_path_of(path), info, now))
    return changed


def store_changed(repo: Repository, changed: list[PointerUpdate], memo: StateMemo, cache: Cache) -> None:
    """Store CHANGED's new content in the cache (`new` becomes what the cache recorded),
    rewrite their pointers in the work tree, and note the data as in step with them."""
    tree = WorkTree(repo.root)
    for update in changed:
        update.new = cache.save(abs_path(repo, update.path), memo)
        tree.write(update.pointer, format_pointer(update.new))
    synced = read_synced(repo)
    synced.update({u.path: u.new.hash for u in changed})
    write_synced(repo, synced)
