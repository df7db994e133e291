"""Backup commits under refs/exp-backups/: the way back from anything that replaces user bytes.

One format for every writer (`git exp apply`, `git exp checkout --force`):
a commit of the work tree's files (a snapshot, as an experiment is), whose
parent is HEAD, and whose message ends with trailers

    Exp-Data: PATH=HASH:SIZE[:NFILES]     data saved in the cache
    Exp-Backup: true

tracked.trailer_data reads the Exp-Data trailers back, so gc keeps the data
a backup names (the ref is reachable, its message is walked) and fsck
checks it; `git exp apply REF` restores the files and the data.

Backups expire: `git exp gc` deletes the refs of those written before
exp.backups.expire (a Git date, default 30.days.ago; `never` keeps them),
and then their data is freed like any other unreferenced data.
`git exp list --backups` shows them (list_backups).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from git_exp.data.hashing import HashInfo
from git_exp.errors import ExpError
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


# -- expiry and listing --------------------------------------------------------------

EXPIRE_KEY = "exp.backups.expire"
DEFAULT_EXPIRE = "30.days.ago"


@dataclass
class Backup:
    ref: str
    sha: str
    time: int                                   # when it was written (its commit's time)
    subject: str
    data: dict = field(default_factory=dict)    # path -> HashInfo saved in the cache
    files: int = 0                              # files that differ from the commit it was taken on
    expires: float | None = None                # Unix time; None: never

    @property
    def restore(self) -> str:
        return f"git exp apply {self.ref}"

    def to_dict(self) -> dict:
        return {"ref": self.ref, "sha": self.sha, "date": self.time, "subject": self.subject,
                "data": {p: i.to_dict() for p, i in sorted(self.data.items())},
                "changed_files": self.files, "expires": self.expires, "restore": self.restore}


def expiry_cutoff(repo, expire: str | None = None) -> tuple[str, float]:
    """(the setting's text, the Unix time before which a backup has expired)."""
    from git_exp.data.gc import parse_expiry
    text = expire or repo.config.get(EXPIRE_KEY) or DEFAULT_EXPIRE
    return text, parse_expiry(repo, text, f"config {EXPIRE_KEY}")


def list_backups(repo, details: bool = True) -> list[Backup]:
    """Every backup ref, newest first, with what it holds (DETAILS) and when it expires."""
    from git_exp.data.tracked import trailer_data
    out = git(["for-each-ref", "--sort=-committerdate",
               "--format=%(refname)%00%(objectname)%00%(committerdate:unix)%00%(subject)%00%(objecttype)",
               PREFIX], cwd=repo.root).stdout.decode("utf-8", "surrogateescape")
    _, cutoff = expiry_cutoff(repo)
    now = time.time()
    found = []
    for line in out.splitlines():
        ref, sha, when, subject, kind = line.split("\0")
        if kind != "commit":
            continue
        backup = Backup(ref, sha, int(when or 0), subject)
        if cutoff == math.inf:
            backup.expires = backup.time   # exp.backups.expire=now: every one has expired
        elif cutoff > 0:
            backup.expires = backup.time + (now - cutoff)
        if details:
            message = git(["cat-file", "commit", sha], cwd=repo.root).stdout.decode("utf-8", "replace")
            try:
                backup.data = trailer_data(message.partition("\n\n")[2])
            except ExpError:
                backup.data = {}
            changed = git(["diff-tree", "-r", "--no-commit-id", "--name-only", "-z", "--root", sha],
                          cwd=repo.root, check=False).stdout
            backup.files = len([n for n in changed.split(b"\0") if n])
        found.append(backup)
    return found


def expired_backups(repo, expire: str | None = None) -> tuple[str, list[Backup]]:
    """(the expiry used, the backups written before it), oldest first."""
    text, cutoff = expiry_cutoff(repo, expire)
    old = [b for b in list_backups(repo, details=False) if b.time < cutoff]
    return text, sorted(old, key=lambda b: b.time)


def prune_backups(repo, backups: list[Backup]) -> list[Backup]:
    """Delete the refs of BACKUPS, each only if it still names the same commit; the ones deleted."""
    done = []
    for backup in backups:
        proc = git(["update-ref", "-m", "git exp gc: backup expired", "-d", backup.ref, backup.sha],
                   cwd=repo.root, check=False)
        if proc.returncode == 0:
            done.append(backup)
    return done
