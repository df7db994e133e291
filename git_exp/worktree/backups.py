"""Backup commits under refs/exp-backups/: the way back from anything that replaces user bytes.

One format for every writer (`git exp apply`, `git exp checkout --force`):
a commit of the work tree's files (a snapshot, as an experiment is), whose
parent is HEAD, and whose message ends with trailers

    Exp-Data: PATH=HASH:SIZE[:NFILES]     data saved in the cache
    Exp-Backup: true

records.trailer_data reads the Exp-Data trailers back, so gc keeps the data
a backup names (the ref is reachable, its message is walked) and fsck
checks it; `git exp apply REF` restores the files and the data.

Backups expire: `git exp gc` deletes the refs of those written before
exp.backups.expire (a Git date, default 30.days.ago; `never` keeps them),
and then their data is freed like any other unreferenced data.
`git exp list --backups` shows them (list_backups).
"""
from __future__ import annotations

import math
import os
import signal
import threading
import time

from git_exp.data.hashing import HashInfo
from git_exp.errors import ExpError, UsageError
from git_exp.plainclass import Mutable
from git_exp.git import git

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.data.cache import Cache
    from git_exp.data.state import StateMemo
    from git_exp.repo import Repository
    from git_exp.worktree.sync import SyncResult

PREFIX = "refs/exp-backups/"


def data_trailer(path: str, info: HashInfo) -> str:
    return f"Exp-Data: {path}={info.hash}:{info.size}" + (f":{info.nfiles}" if info.is_dir else "")


def write_backup(repo: Repository, data: dict[str, HashInfo], subject: str, kind: str = "",
                 tree: str | None = None) -> tuple[str, str]:
    """Record DATA (already saved in the cache) and the work tree's files; return (ref, sha).

    KIND prefixes the ref's name (`checkout-` gives refs/exp-backups/checkout-...);
    TREE defaults to a snapshot of the work tree.
    """
    from git_exp.worktree.snapshot import commit_tree, snapshot_tree
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


def back_up_edits(repo: Repository, cache: Cache, memo: StateMemo, result: SyncResult) -> None:
    """Save every edited path's content in the cache and name it in a backup ref (checkout --force)."""
    saved = {}
    for edit in result.edited:
        full = repo.root + os.sep + edit.path.replace("/", os.sep)
        try:
            saved[edit.path] = cache.save(full, memo)
        except ExpError as err:
            raise ExpError(f"cannot back up '{edit.path}', so it was left alone: {err.message}",
                           hint="move it out of the way yourself, then run the command again") from None
    if saved:
        with _interrupt_afterwards():  # the ref and our note of it exist together, or neither
            result.backup_ref, _ = write_backup(repo, saved, "exp: data before git exp checkout --force",
                                                kind="checkout")
            result.backed_up = sorted(saved)


class _interrupt_afterwards:  # noqa: N801 - used as a function: `with _interrupt_afterwards():`
    """Hold a Ctrl-C that arrives inside the block until it has finished.

    A class, not contextlib.contextmanager: the post-checkout hook loads this
    module on every checkout, and contextlib costs it 2 ms of imports."""

    def __enter__(self) -> None:
        self.caught: list[bool] = []
        self.held = threading.current_thread() is threading.main_thread()
        if self.held:
            self.previous = signal.signal(signal.SIGINT, lambda *_: self.caught.append(True))

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if not self.held:
            return
        signal.signal(signal.SIGINT, self.previous)
        if self.caught and kind is None:   # (an exception from the block goes on as it is)
            raise KeyboardInterrupt


# -- expiry and listing --------------------------------------------------------------

EXPIRE_KEY = "exp.backups.expire"
DEFAULT_EXPIRE = "30.days.ago"


class Backup(Mutable):
    __slots__ = ("ref", "sha", "time", "subject", "data", "files", "expires")

    def __init__(self, ref: str, sha: str, time: int, subject: str, data: dict | None = None,
                 files: int = 0, expires: float | None = None):
        self.ref = ref
        self.sha = sha
        self.time = time                # when it was written (its commit's time)
        self.subject = subject
        self.data = {} if data is None else data    # path -> HashInfo saved in the cache
        self.files = files              # files that differ from the commit it was taken on
        self.expires = expires          # Unix time; None: never

    @property
    def restore(self) -> str:
        return f"git exp apply {self.ref}"

    def to_dict(self) -> dict:
        return {"ref": self.ref, "sha": self.sha, "date": self.time, "subject": self.subject,
                "data": {p: i.to_dict() for p, i in sorted(self.data.items())},
                "changed_files": self.files,
                # Whole seconds, as "date": the cutoff arithmetic leaves a fraction.
                "expires": None if self.expires is None else int(self.expires), "restore": self.restore}


def parse_expiry(repo: Repository, value: str, where: str) -> float:
    """Git's expiry date VALUE (`2.weeks.ago`, `now`, `never`, `2026-01-01`) as a Unix time.

    Objects older than it may be deleted: `now` is +inf, `never` is 0.
    Git itself parses it (`git config --type=expiry-date`), so every form
    `git gc --prune` takes is accepted here too.
    """
    text = value.strip()
    if text == "now":
        return math.inf
    proc = git(["-c", f"exp.gc.parse={text}", "config", "--type=expiry-date", "exp.gc.parse"],
               cwd=repo.root, check=False)
    if proc.returncode != 0 or not text:
        raise UsageError(f"{where}: '{value}' is not a date Git understands",
                         hint="use e.g. 2.weeks.ago, 3.days.ago, 2026-01-31, now or never")
    stamp = int(proc.stdout.strip() or 0)
    return math.inf if stamp >= 2 ** 63 else float(stamp)


def expiry_cutoff(repo: Repository, expire: str | None = None) -> tuple[str, float]:
    """(the setting's text, the Unix time before which a backup has expired)."""
    text = expire or repo.config.get(EXPIRE_KEY) or DEFAULT_EXPIRE
    return text, parse_expiry(repo, text, f"config {EXPIRE_KEY}")


def list_backups(repo: Repository, details: bool = True) -> list[Backup]:
    """Every backup ref, newest first, with what it holds (DETAILS) and when it expires."""
    from git_exp.worktree.records import trailer_data
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


def expired_backups(repo: Repository, expire: str | None = None) -> tuple[str, list[Backup]]:
    """(the expiry used, the backups written before it), oldest first."""
    text, cutoff = expiry_cutoff(repo, expire)
    old = [b for b in list_backups(repo, details=False) if b.time < cutoff]
    return text, sorted(old, key=lambda b: b.time)


def prune_backups(repo: Repository, backups: list[Backup]) -> list[Backup]:
    """Delete the refs of BACKUPS, each only if it still names the same commit; the ones deleted."""
    done = []
    for backup in backups:
        proc = git(["update-ref", "-m", "git exp gc: backup expired", "-d", backup.ref, backup.sha],
                   cwd=repo.root, check=False)
        if proc.returncode == 0:
            done.append(backup)
    return done
