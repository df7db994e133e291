"""Temporary checkouts inside the Git dir, where queued runs happen.

`git worktree add --detach <exp_dir>/tmp/<id>-<claim>` checks out the
entry's commit; it lives under the Git dir so the user's work tree never
sees it, and a linked worktree shares the repository's objects, refs and
our cache. Hooks are off for that one command (core.hooksPath=/dev/null):
`worktree add` would run the user's post-checkout hook in a directory they
never asked for. Data the entry records (exp.lock outs, pointer files) is
materialised from the shared cache with the configured link types
(reflink, then copy, by default), so nothing large is copied where the
filesystem can clone, and the run can never write through into the cache.

A checkout is named after its claim, so the checkout of a dead worker can
be removed while the same entry is already running again elsewhere.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from git_exp.errors import ExpError
from git_exp.git import git, reason
from git_exp import procs
from git_exp.repo import Repository

if TYPE_CHECKING:
    from git_exp.queue.entries import Entry


def tmp_root(repo: Repository) -> str:
    return os.path.join(repo.exp_dir, "tmp")


def checkout_path(repo: Repository, entry: Entry) -> str:
    return os.path.join(tmp_root(repo), f"{entry.id}-{entry.sha[:8]}")


@contextmanager
def temp_checkout(repo: Repository, entry: Entry) -> Iterator[str]:
    """A fresh checkout of ENTRY's commit; removed on the way out, whatever happens."""
    path = checkout_path(repo, entry)
    create(repo, path, entry.sha)
    try:
        yield path
    finally:
        remove(repo, path)


@contextmanager
def _worktrees_locked(repo: Repository) -> Iterator[None]:
    """One `git worktree` command at a time among our processes.

    `git worktree add` reads every registered worktree's admin files, and
    fails ("failed to read .../commondir") when it meets one that another
    `worktree add` is still writing; measured with 4 workers, about 1 run
    in 60 failed that way before this lock.
    """
    import fcntl
    folder = os.path.join(repo.exp_dir, "queue")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "worktrees.lock"), "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def create(repo: Repository, path: str, sha: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        remove(repo, path)
    for attempt in range(3):   # the user's own `git worktree` commands are not under our lock
        with _worktrees_locked(repo):
            proc = git(["-c", "core.hooksPath=/dev/null", "worktree", "add", "--detach", "-q",
                        path, sha], cwd=repo.root, check=False)
        if proc.returncode == 0:
            return
        remove(repo, path)
        time.sleep(0.1 * (attempt + 1))
    raise ExpError("cannot create the temporary checkout: "
                   + reason(proc.stderr, proc.returncode))


def remove(repo: Repository, path: str) -> None:
    """Remove the checkout and Git's record of it; never fails."""
    with _worktrees_locked(repo):
        proc = git(["worktree", "remove", "--force", "--force", path], cwd=repo.root, check=False)
        if proc.returncode != 0 or os.path.lexists(path):
            shutil.rmtree(path, ignore_errors=True)
            # What a killed `git worktree add` leaves is locked ("initializing"),
            # often without HEAD or .git file: `worktree remove` refuses it,
            # `worktree prune` skips it, and `git fsck` fails on it from then
            # on. Under our lock no `worktree add` of ours is half-way, so an
            # admin dir for this path is junk: remove it as prune would.
            name = os.path.basename(path)
            for admin, owner in _admin_dirs(repo):
                if owner == name:
                    shutil.rmtree(admin, ignore_errors=True)
            git(["worktree", "prune"], cwd=repo.root, check=False)


# A checkout's name, "<entry id>-<sha8>"; Git may append a counter to its admin dir's name.
_NAME = re.compile(r"^([0-9a-z]{4,64}-[0-9a-f]{8})[0-9]*$")


def _admin_dirs(repo: Repository) -> list[tuple[str, str]]:
    """(admin dir under <common>/worktrees, checkout name) of the worktrees in tmp_root.

    The gitdir file says where a worktree is; a `worktree add` killed before
    writing it left only the admin dir (empty, holding `locked`, or an empty
    gitdir file), named after the checkout.
    """
    base = os.path.join(repo.common_dir, "worktrees")
    ours = os.path.realpath(tmp_root(repo))
    found: list[tuple[str, str]] = []
    try:
        names = os.listdir(base)
    except OSError:
        return found
    for admin_name in names:
        admin = os.path.join(base, admin_name)
        try:
            with open(os.path.join(admin, "gitdir"), encoding="utf-8", errors="replace") as fh:
                gitdir = fh.read(4096).strip()
        except FileNotFoundError:
            gitdir = ""
        except OSError:
            continue
        if not gitdir:
            # Killed before gitdir was written, or between creating it and
            # writing its one line (an empty file): the admin dir's name is
            # all that says whose it is.
            match = _NAME.match(admin_name)
            if match:
                found.append((admin, match.group(1)))
            continue
        checkout_dir = os.path.dirname(os.path.realpath(gitdir))
        if os.path.dirname(checkout_dir) == ours:
            found.append((admin, os.path.basename(checkout_dir)))
    return found


def list_checkouts(repo: Repository) -> list[str]:
    """The names of our temporary checkouts: folders in tmp_root, and worktrees Git
    still registers there (whose folder may be gone)."""
    try:
        names = set(os.listdir(tmp_root(repo)))
    except FileNotFoundError:
        names = set()
    names.update(owner for _admin, owner in _admin_dirs(repo))
    return sorted(names)


def remove_orphans(repo: Repository, names: list[str], live_claims: set[str]) -> list[str]:
    """Remove the checkouts in NAMES whose claim is not in LIVE_CLAIMS ("<id>-<sha8>").

    NAMES must be listed before LIVE_CLAIMS is read: a checkout is created
    after its claim, so any claim live at that time is in LIVE_CLAIMS.
    Processes still working inside an orphan (a stage of a SIGKILLed
    worker) are ended first.
    """
    removed = []
    for name in names:
        if name in live_claims:
            continue
        path = os.path.join(tmp_root(repo), name)
        procs.end_strays(path)
        remove(repo, path)
        removed.append(name)
    return removed


# -- data ------------------------------------------------------------------

def materialise(repo: Repository, root: str, sha: str) -> tuple[list[str], list[str]]:
    """Put the data SHA records (exp.lock outs, pointer files) into the checkout at ROOT.

    Returns (paths placed, paths whose data is not in the cache: a stage
    that makes them will run, one that needs them will fail and say so)."""
    from git_exp.data.cache import Cache
    from git_exp.data.links import parse_link_types
    from git_exp.data.state import StateMemo
    from git_exp.worktree.records import data_at
    from git_exp.worktree_writes import WorkTree

    data = data_at(repo, sha)
    if not data:
        return [], []
    cache = Cache(repo.exp_dir, parse_link_types(repo.config.get("exp.cache.type")))
    placed, missing = [], []
    tree = WorkTree(root, cache.root)  # refuses '..', '.git' and symlinks on the way
    with StateMemo(repo.exp_dir) as memo:
        for rel, info in sorted(data.items()):
            tree.path(rel, "data path")
            if cache.missing(info):
                missing.append(rel)
                continue
            cache.checkout(info, tree, rel, memo)
            placed.append(rel)
    return placed, missing
