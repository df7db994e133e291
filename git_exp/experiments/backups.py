"""Backup commits under refs/exp-backups/: the way back from anything that replaces user bytes.

One format for every writer (`git exp apply`, `git exp checkout --force`):
a commit of the work tree's files (a snapshot, as an experiment is), whose
parent is HEAD, and whose message ends with trailers

    Exp-Data: PATH=HASH:SIZE[:NFILES]     data saved in the cache
    Exp-Backup: true

tracked.trailer_data reads the Exp-Data trailers back, so gc keeps the data
a backup names (the ref is reachable, its message is walked) and fsck
checks it; `git exp apply REF` restores the files and the data.
"""
from __future__ import annotations

import time

from git_exp.data.hashing import HashInfo
from git_exp.gitcmd import git

PREFIX = "refs/exp-backups/"


def data_trailer(path: str, info: HashInfo) -> str:
    return f"Exp-Data: {path}={info.hash}:{info.size}" + (f":{info.nfiles}" if info.is_dir else "")


def write_backup(repo, data: dict[str, HashInfo], subject: str, kind: str = "",
                 tree: str | None = None) -> tuple[str, str]:
    """Record DATA (already saved in the cache) and the work tree's files; return (ref, sha).

    KIND prefixes the ref's name (`checkout-` gives refs/exp-backups/checkout-...);
    TREE defaults to a snapshot of the work tree.
    """
    from git_exp.experiments.snapshot import commit_tree, snapshot_tree
    head = git(["rev-parse", "--verify", "-q", "HEAD^{commit}"], cwd=repo.root, check=False)
    parents = [head.stdout.decode().strip()] if head.returncode == 0 else []
    lines = [subject, ""]
    lines += [data_trailer(p, info) for p, info in sorted(data.items())]
    lines.append("Exp-Backup: true")
    sha = commit_tree(repo, tree or snapshot_tree(repo), parents, "\n".join(lines) + "\n")
    ref = f"{PREFIX}{kind + '-' if kind else ''}{time.strftime('%Y%m%d-%H%M%S')}-{sha[:7]}"
    # "" as the old value: create only, never move someone else's backup. Two
    # backups in one second of the same work tree are the very same commit, so
    # the ref may exist already, naming these same bytes.
    existing = git(["rev-parse", "--verify", "-q", ref], cwd=repo.root, check=False).stdout.decode().strip()
    if existing != sha:
        git(["update-ref", "-m", subject, ref, sha, ""], cwd=repo.root)
    return ref, sha
