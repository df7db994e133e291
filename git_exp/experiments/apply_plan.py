"""What `git exp apply` would change, and what of the user's is in its way.

Read-only: nothing here writes to the work tree. The experiment's files and
data are checked against the work-tree door's rule and against each other
(a data path through a symlink of the experiment's own tree is refused);
local untracked or ignored files the experiment would overwrite with other
bytes are found, except those an earlier apply wrote (<git dir>/exp-applied)
or a recent experiment or backup records at the same path (the results
`git exp run` left in the work tree are not the user's unsaved bytes).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from git_exp.worktree.records import data_at
from git_exp.errors import ExpError
from git_exp.git import git
from git_exp.relpaths import path_problem
from git_exp.repo import Repository
from git_exp.worktree_writes import WorkTree

APPLIED_FILE = "exp-applied"
LINK = "120000"


@dataclass
class Plan:
    files: dict            # path -> (mode, blob) of the experiment's tree
    data: dict             # data path -> HashInfo
    index: dict            # path -> blob of the user's index (what Git tracks)
    applied: dict          # path -> blob an earlier apply wrote (exp-applied)
    in_way: list = field(default_factory=list)       # untracked/ignored paths that differ
    ignored_in_way: list = field(default_factory=list)  # of those, not in the snapshot
    local: dict = field(default_factory=dict)        # untracked target path -> its blob now


def ls_tree(repo: Repository, rev: str) -> dict[str, tuple[str, str]]:
    out = git(["ls-tree", "-r", "-z", "--full-tree", rev], cwd=repo.root).stdout
    files = {}
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        mode, kind, blob = meta.decode().split()
        path = name.decode("utf-8", "surrogateescape")
        if kind == "blob":
            files[path] = (mode, blob)
    return files


def _index(repo: Repository) -> dict[str, str]:
    out = git(["ls-files", "-s", "-z"], cwd=repo.root).stdout
    index = {}
    for entry in out.split(b"\0"):
        if entry:
            meta, _, name = entry.partition(b"\t")
            index[name.decode("utf-8", "surrogateescape")] = meta.split()[1].decode()
    return index


def _applied_path(repo: Repository) -> str:
    return os.path.join(repo.git_dir, APPLIED_FILE)


def read_applied(repo: Repository) -> dict[str, str]:
    from git_exp import pathmap
    return pathmap.read(_applied_path(repo))


def write_applied(repo: Repository, applied: dict[str, str]) -> None:
    from git_exp import pathmap
    pathmap.write(_applied_path(repo), applied)


def hash_local(repo: Repository, paths: list[str]) -> dict[str, str | None]:
    """Blob sha each of PATHS would have in Git now (filters applied); None for a folder."""
    found: dict[str, str | None] = {}
    regular = []
    for rel in paths:
        full = os.path.join(repo.root, rel)
        if os.path.islink(full):
            target = os.readlink(full).encode("utf-8", "surrogateescape")
            found[rel] = git(["hash-object", "--stdin"], cwd=repo.root, input=target).stdout.decode().strip()
        elif os.path.isdir(full):
            found[rel] = None
        else:
            regular.append(rel)
    if regular:
        out = git(["hash-object", "--stdin-paths"], cwd=repo.root,
                  input="".join(p + "\n" for p in regular).encode("utf-8", "surrogateescape")).stdout
        found.update(zip(regular, out.decode().split()))
    return found


def plan(repo: Repository, sha: str) -> Plan:
    files = ls_tree(repo, sha)
    for path in files:
        problem = path_problem(path)
        if problem:
            raise ExpError(f"refusing to apply {sha[:7]}: its tree holds the path {path!r} ({problem})",
                           hint="this commit was not made by Git or git-exp; do not apply it")
    links = {p for p, (mode, _) in files.items() if mode == LINK}
    for path in files:  # a tree Git would not write (fsck: duplicateEntries)
        parent = path.rpartition("/")[0]
        while parent:
            if parent in files:
                raise ExpError(f"refusing to apply {sha[:7]}: its tree holds '{path}' inside "
                               f"'{parent}', which is {'a symlink' if parent in links else 'a file'} too",
                               hint="this commit was not made by Git or git-exp; do not apply it")
            parent = parent.rpartition("/")[0]
    data = data_at(repo, sha)
    for rel in data:
        parts = rel.split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if prefix in links:
                raise ExpError(f"refusing to apply {sha[:7]}: its data path '{rel}' goes through "
                               f"'{prefix}', a symlink in the experiment's own files",
                               hint="data is never written through a symlink; do not apply this experiment")
            if prefix in files:
                raise ExpError(f"refusing to apply {sha[:7]}: its data path '{rel}' is also "
                               f"{'inside ' if depth < len(parts) else ''}a file Git tracks ('{prefix}')",
                               hint="a path is either Git's or data; do not apply this experiment")
    return Plan(files, data, _index(repo), read_applied(repo))


def find_in_way(repo: Repository, plan: Plan, snapshot: dict[str, tuple[str, str]]) -> None:
    """Untracked or ignored local files that the experiment would overwrite with other bytes."""
    candidates = []
    for path, (mode, blob) in plan.files.items():
        if path in plan.index:
            continue  # tracked: replaced, the backup holds it
        now = snapshot.get(path)
        if now is not None:
            plan.local[path] = now[1]
            if now != (mode, blob) and plan.applied.get(path) != now[1]:
                plan.in_way.append(path)
        elif os.path.lexists(os.path.join(repo.root, path)):
            candidates.append(path)  # ignored by Git, or a folder
    # A local file or link where the experiment has a folder.
    folders = {p.rpartition("/")[0] for p in plan.files} | {p.rpartition("/")[0] for p in plan.data}
    for folder in sorted(f for f in folders if f):
        parts = folder.split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            full = os.path.join(repo.root, prefix)
            if os.path.islink(full) or (os.path.lexists(full) and not os.path.isdir(full)):
                if prefix not in plan.index and prefix not in plan.in_way:
                    plan.in_way.append(prefix)
                    if prefix not in snapshot:
                        plan.ignored_in_way.append(prefix)
                break
    for path, blob in hash_local(repo, candidates).items():
        if blob is not None:
            plan.local[path] = blob
        if blob != plan.files[path][1] and (blob is None or plan.applied.get(path) != blob):
            plan.in_way.append(path)
            plan.ignored_in_way.append(path)
    recorded = _recorded_by_experiments(repo, {p: plan.local[p] for p in plan.in_way if p in plan.local})
    plan.in_way = [p for p in plan.in_way if p not in recorded]
    plan.ignored_in_way = [p for p in plan.ignored_in_way if p not in recorded]


# Experiments and backups looked at for a file's bytes: the newest ones;
# more would make apply slow in a repository with thousands.
_RECENT = 200


def _recorded_by_experiments(repo: Repository, blobs: dict[str, str]) -> set[str]:
    """Paths of BLOBS whose bytes a recent experiment or backup records at that path.

    After `git exp run` the work tree holds the run's results (exp.lock,
    metrics), untracked by the branch but recorded by the experiment, so
    replacing them loses nothing: they are not the user's unsaved bytes.
    """
    from git_exp.experiments.refs import PREFIX
    blobs = {p: b for p, b in blobs.items() if "\n" not in p}  # one question per line below
    if not blobs:
        return set()
    refs = git(["for-each-ref", f"--count={_RECENT}", "--sort=-committerdate", "--format=%(objectname)",
                PREFIX, "refs/exp-backups/"], cwd=repo.root).stdout.decode().split()
    if not refs:
        return set()
    asks = [(path, f"{ref}:{path}") for path in blobs for ref in refs]
    out = git(["cat-file", "--batch-check=%(objectname)"], cwd=repo.root,
              input="".join(a + "\n" for _, a in asks).encode("utf-8", "surrogateescape")).stdout
    found = out.decode().splitlines()
    return {path for (path, _), answer in zip(asks, found) if answer.strip() == blobs[path]}


def find_data_in_way(repo: Repository, plan: Plan, tree: WorkTree) -> tuple[list[str], list[str]]:
    """(target data paths present locally that no local record names, with other
    content; target data paths present locally). A symlink at one (which
    checkout would refuse) goes to plan.in_way."""
    from git_exp.data.hashing import hash_path
    records = data_at(repo, None)
    in_way, present = [], []
    for rel, info in sorted(plan.data.items()):
        full = os.path.join(repo.root, rel)
        try:
            tree.path(rel, "data path", replace_link=True)
        except ExpError:
            continue  # a link on the way: _find_in_way named it, nothing is read through it
        if os.path.islink(full) and not tree.into_cache(full):
            plan.in_way.append(rel)
            plan.ignored_in_way.append(rel)  # so `git add -f` puts the link in the backup
            continue
        if not os.path.lexists(full):
            continue
        present.append(rel)
        if rel in records:
            continue
        try:
            now, _ = hash_path(full, None, cache_root=tree.cache_root)
        except ExpError:
            in_way.append(rel)
            continue
        if now.hash != info.hash:
            in_way.append(rel)
    return in_way, present


def blob_now(repo: Repository, rel: str, snapshot: dict) -> str | None:
    if rel in snapshot:
        return snapshot[rel][1]
    return hash_local(repo, [rel]).get(rel)
