"""`git exp apply`: put an experiment's files and data into the work tree.

Nothing the user wrote is ever lost: before a single file changes, the whole
work tree (tracked and untracked files, and the data of cached outputs, which
is saved into the cache and named in the backup's trailers) is recorded as a
backup commit under refs/exp-backups/, and the one command that restores it
is returned. HEAD and the index never move.
"""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field

from git_exp.data.tracked import data_at
from git_exp.errors import ExpError
from git_exp.experiments.snapshot import commit_tree, snapshot_tree
from git_exp.gitcmd import git

BACKUP_PREFIX = "refs/exp-backups/"


@dataclass
class ApplyResult:
    sha: str
    backup_ref: str | None
    written: int = 0
    removed: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    saved_first: list[str] = field(default_factory=list)
    fetched: object = None   # sharing.fetch.FetchReport when missing data was fetched


def _current_data(repo, cache) -> dict:
    """The data present in the work tree now (cached outs, pointer-tracked
    paths), saved into the cache."""
    from git_exp.data.tracked import worktree_pointers
    from git_exp.pipeline.spec import load_pipeline
    data = {}
    for rel in worktree_pointers(repo):
        path = os.path.join(repo.root, rel)
        if os.path.exists(path) and not os.path.islink(path):
            data[rel] = cache.save(path)
    try:
        pipeline = load_pipeline(repo.root)
    except ExpError:
        return data
    for stage in pipeline.stages.values():
        for out in stage.outs:
            path = os.path.join(repo.root, out.path)
            if out.cache and os.path.exists(path) and not os.path.islink(path):
                data[out.path] = cache.save(path)
    return data


def backup(repo, cache) -> tuple[str, str]:
    """Record the work tree (files and data) as a restorable commit; return (ref, sha)."""
    data = _current_data(repo, cache)
    head = git(["rev-parse", "--verify", "-q", "HEAD^{commit}"], cwd=repo.root, check=False)
    parents = [head.stdout.decode().strip()] if head.returncode == 0 else []
    lines = ["exp: work tree before git exp apply", ""]
    lines += [f"Exp-Data: {p}={info.hash}:{info.size}" + (f":{info.nfiles}" if info.is_dir else "")
              for p, info in sorted(data.items())]
    lines.append("Exp-Backup: true")
    sha = commit_tree(repo, snapshot_tree(repo), parents, "\n".join(lines) + "\n")
    ref = f"{BACKUP_PREFIX}{time.strftime('%Y%m%d-%H%M%S')}-{sha[:7]}"
    # Two applies in one second from the same work tree make the very same
    # backup commit, so its ref may exist already, naming these same bytes.
    existing = git(["rev-parse", "--verify", "-q", ref], cwd=repo.root, check=False).stdout.decode().strip()
    if existing != sha:
        git(["update-ref", ref, sha, ""], cwd=repo.root)
    return ref, sha


def apply_commit(repo, sha: str, make_backup: bool = True) -> ApplyResult:
    from git_exp.data.cache import Cache
    from git_exp.data.links import parse_link_types

    cache = Cache(repo.exp_dir, parse_link_types(repo.config.get("exp.cache.type")))
    target_data = data_at(repo, sha)  # validate before touching anything
    from git_exp.sharing.fetch import auto_fetch
    fetched = auto_fetch(repo, target_data)  # what the cache lacks, from the upstream's data remote
    backup_ref, backup_sha = backup(repo, cache) if make_backup else (None, None)
    result = ApplyResult(sha, backup_ref, fetched=fetched)
    current_tree = (git(["rev-parse", f"{backup_sha}^{{tree}}"], cwd=repo.root).stdout.decode().strip()
                    if backup_sha else snapshot_tree(repo))
    # Files the work tree has and the experiment does not: remove them (they are in the backup).
    gone = git(["diff-tree", "-r", "-z", "--name-only", "--no-renames", "--diff-filter=D",
                current_tree, f"{sha}^{{tree}}"], cwd=repo.root).stdout.decode("utf-8", "surrogateescape")
    for rel in [p for p in gone.split("\0") if p]:
        path = os.path.join(repo.root, rel)
        if os.path.lexists(path) and not os.path.isdir(path):
            os.unlink(path)
            result.removed.append(rel)
    # Write every file of the experiment through a throw-away index, so Git's
    # own path checks (no '..', no .git, nothing through a symlink) apply.
    index = os.path.join(repo.git_dir, f"exp-apply-index.{os.getpid()}")
    env = dict(os.environ, GIT_INDEX_FILE=index)
    try:
        for args in (["read-tree", sha], ["checkout-index", "-a", "-f"]):
            proc = subprocess.run(["git", *args], cwd=repo.root, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if proc.returncode != 0:
                raise ExpError(f"cannot apply {sha[:7]}: "
                               + proc.stderr.decode(errors="replace").strip().splitlines()[-1],
                               hint=f"your work tree was saved: git exp apply {backup_ref}"
                               if backup_ref else None)
        files = git(["ls-files", "-z"], cwd=repo.root, env={"GIT_INDEX_FILE": index}).stdout
        result.written = len([f for f in files.split(b"\0") if f])
    finally:
        for leftover in (index, index + ".lock"):
            if os.path.exists(leftover):
                os.unlink(leftover)
    for rel, info in sorted(target_data.items()):
        missing = cache.missing(info)
        if missing:
            result.missing.append(rel)
            continue
        checkout = cache.checkout(info, os.path.join(repo.root, rel))
        result.data.append(rel)
        result.saved_first.extend(checkout.saved_first)
    return result
