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

from git_exp.errors import ExpError
from git_exp.experiments import record as rec
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


def _lock_text(repo, sha: str) -> str | None:
    proc = git(["cat-file", "blob", f"{sha}:exp.lock"], cwd=repo.root, check=False)
    return proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else None


def cached_outs_at(repo, sha: str) -> dict:
    """path -> HashInfo of the cached outputs commit SHA records.

    From exp.lock (the outs of stages whose exp.yaml says cache: true) and
    from Exp-Data trailers (data a backup saved)."""
    from git_exp.data.hashing import HashInfo
    from git_exp.pipeline.lock import parse_lock
    from git_exp.pipeline.spec import parse_pipeline

    data: dict = {}
    lock_text = _lock_text(repo, sha)
    if lock_text:
        spec = git(["cat-file", "blob", f"{sha}:exp.yaml"], cwd=repo.root, check=False)
        cached_paths = None
        if spec.returncode == 0:
            try:
                pipeline = parse_pipeline(spec.stdout.decode("utf-8", "replace"), repo.root,
                                          read=lambda rel: _read_at(repo, sha, rel))
                cached_paths = {o.path for s in pipeline.stages.values() for o in s.outs if o.cache}
            except ExpError:
                cached_paths = None
        for entry in parse_lock(lock_text).values():
            for path, info in entry.outs.items():
                if cached_paths is None or path in cached_paths:
                    data[path] = info
    message = git(["cat-file", "commit", sha], cwd=repo.root).stdout.decode("utf-8", "replace")
    body = message.split("\n\n", 1)[1] if "\n\n" in message else ""
    for item in rec.parse_trailers(body).get("Exp-Data", []):
        path, _, encoded = item.partition("=")
        hash_, _, size = encoded.partition(":")
        info = HashInfo.from_dict({"hash": hash_, "size": int(size or 0)})
        data[_safe(path)] = info
    return data


def _safe(path: str) -> str:
    if not path or path.startswith("/") or any(p in ("..", ".git", "") for p in path.split("/")):
        raise ExpError(f"refusing the unsafe data path {path!r} recorded in the experiment",
                       hint="an experiment can never write outside the work tree")
    return path


def _read_at(repo, sha: str, rel: str) -> str | None:
    proc = git(["cat-file", "blob", f"{sha}:{rel}"], cwd=repo.root, check=False)
    return proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else None


def _current_data(repo, cache) -> dict:
    """The cached outs present in the work tree now, saved into the cache."""
    from git_exp.pipeline.spec import load_pipeline
    try:
        pipeline = load_pipeline(repo.root)
    except ExpError:
        return {}
    data = {}
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
    lines += [f"Exp-Data: {p}={info.hash}:{info.size}" for p, info in sorted(data.items())]
    lines.append("Exp-Backup: true")
    sha = commit_tree(repo, snapshot_tree(repo), parents, "\n".join(lines) + "\n")
    ref = f"{BACKUP_PREFIX}{time.strftime('%Y%m%d-%H%M%S')}-{sha[:7]}"
    git(["update-ref", ref, sha, ""], cwd=repo.root)
    return ref, sha


def apply_commit(repo, sha: str, make_backup: bool = True) -> ApplyResult:
    from git_exp.data.cache import Cache
    from git_exp.data.links import parse_link_types

    cache = Cache(repo.exp_dir, parse_link_types(repo.config.get("exp.cache.type")))
    target_data = cached_outs_at(repo, sha)  # validate before touching anything
    backup_ref, backup_sha = backup(repo, cache) if make_backup else (None, None)
    result = ApplyResult(sha, backup_ref)
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
