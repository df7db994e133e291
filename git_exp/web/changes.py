"""A cheap key of everything the pages show, so nothing is recomputed when nothing changed.

The page polls it about once a second; the table and the open views are
fetched again only when the key moves. It covers what `show` reads: every
ref an experiment, queue entry, branch, tag or backup lives in, HEAD, the
queue's state files, and the stat of the pipeline, params and metrics files
in the work tree and in every checkout a run is progressing in (its
metrics so far). Two git calls and a few stats: a few milliseconds.
"""
from __future__ import annotations

import hashlib
import os

from git_exp.git import git
from git_exp.repo import Repository

NAMESPACES = ("refs/exps/", "refs/exps-queue/", "refs/exps-running/", "refs/heads/", "refs/tags/",
              "refs/exp-backups/")
ALWAYS_WATCHED = ("exp.yaml", "exp.lock", "params.yaml")


def _stat(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{st.st_mtime_ns}:{st.st_size}:{st.st_ino}"


def state_key(repo: Repository, watched: list[str]) -> str:
    """WATCHED: repo-relative files the current table came from (its params and metrics files)."""
    digest = hashlib.sha1()
    digest.update(git(["for-each-ref", "--format=%(objectname) %(refname)", *NAMESPACES], cwd=repo.root).stdout)
    digest.update(git(["rev-parse", "-q", "--verify", "HEAD"], cwd=repo.root, check=False).stdout)
    from git_exp.queue.state import queue_dir
    folder = queue_dir(repo)
    if os.path.isdir(folder):
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            digest.update(f"{entry.name}={_stat(entry.path)};".encode())
    from git_exp.show.pending import pending
    roots = [repo.root] + sorted({p.root for p in pending(repo) if p.root})
    files = list(dict.fromkeys([*ALWAYS_WATCHED, *watched]))
    for root in roots:
        for relpath in files:
            digest.update(f"{root}/{relpath}={_stat(os.path.join(root, *relpath.split('/')))};".encode())
    return digest.hexdigest()
