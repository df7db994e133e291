"""Run logs that travel with experiments: one ref per log, `refs/exp-logs/<experiment sha>`.

A run's log (`.git/exp/logs/<sha>.log`, failed and interrupted runs
included) is not part of its experiment commit: the commit is written when
the run ends and is immutable, and a log can be megabytes that `git exp
show` should never read. So `git exp push` publishes each log as its own
small ref, and `git exp pull` (and the distributed client) fetch the refs of
the experiments they bring, through the same `git push`/`git fetch`.

Why this shape, of the Git-native ones:

- a ref per experiment, named by the experiment's commit: nothing to merge
  when two clones or a hundred workers publish logs at once (a single
  `refs/notes/exp-logs` notes ref, the other native way to attach text to
  a commit, would reject every concurrent push as non-fast-forward and
  need a fetch, `git notes merge` and a retry), and a pull fetches only the
  logs of the experiments it brings;
- the ref points at a commit with no parent whose tree holds one file,
  `log`: every Git host, mirror and backup tool handles refs to commits,
  fewer handle refs to bare blobs, and `git show refs/exp-logs/<sha>:log`
  reads it with Git alone. The commit is written with fixed author,
  committer and the experiment's own date, so the same log gives the same
  commit in every clone and re-publishing it is a no-op, not a conflict.
- not in the data remote: a log is small text that compresses well in a
  packfile, and a ref needs no second store to be reachable; the data
  remote stays for data.

Logs are untrusted when they arrive: a log ref is fetched only under the
name of an experiment being pulled, its tree must be exactly one blob
named `log` of at most MAX_BYTES (the sender keeps the last MAX_BYTES of a
longer log and says so in its first line), and it is written only to
`.git/exp/logs/<sha>.log`, never over a log this clone already has.
"""
from __future__ import annotations

import os
import re
import tempfile

from git_exp.git import git
from git_exp.repo import Repository

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Iterable

    from git_exp.experiments.refs import ExpRef

PREFIX = "refs/exp-logs/"
PATTERN = PREFIX + "*"
MAX_BYTES = 8 * 1024 * 1024
_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_IDENT = "git-exp <git-exp@localhost>"


def log_ref(sha: str) -> str:
    return PREFIX + sha


def _log_path(repo: Repository, sha: str) -> str:
    from git_exp.experiments.record import log_path
    return log_path(repo, sha)


def _local_refs(repo: Repository, shas: list[str]) -> dict[str, str]:
    """exp sha -> log commit of those SHAS that have a local log ref."""
    if not shas:
        return {}
    out = git(["for-each-ref", "--format=%(refname) %(objectname)", PREFIX], cwd=repo.root).stdout
    wanted = set(shas)
    found = {}
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        ref, _, obj = line.partition(" ")
        sha = ref[len(PREFIX):]
        if sha in wanted:
            found[sha] = obj
    return found


def _readable(path: str) -> bool:
    try:
        return os.path.isfile(path) and not os.path.islink(path)
    except OSError:
        return False


def publish_local(repo: Repository, shas: list[str]) -> dict[str, str]:
    """exp sha -> log commit for each of SHAS that has a log here, its ref created if missing.

    A fixed number of `git` calls for any number of logs: one hash-object
    for the blobs, one mktree --batch, one hash-object for the commits, one
    update-ref transaction.
    """
    shas = [s for s in dict.fromkeys(shas) if _SHA.match(s)]
    have = _local_refs(repo, shas)
    todo = [s for s in shas if s not in have and _readable(_log_path(repo, s))]
    if not todo:
        return have
    with tempfile.TemporaryDirectory(prefix="git-exp-logs-") as tmp:
        paths = [_bounded_copy(_log_path(repo, s), tmp, i) for i, s in enumerate(todo)]
        blobs = _hash_objects(repo, paths, "blob")
        trees = _mktrees(repo, blobs)
        dates = _commit_dates(repo, todo)
        commit_files = []
        for i, (sha, tree) in enumerate(zip(todo, trees)):
            path = os.path.join(tmp, f"commit-{i}")
            stamp = f"{dates.get(sha, 0)} +0000"
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(f"tree {tree}\nauthor {_IDENT} {stamp}\ncommitter {_IDENT} {stamp}\n\n"
                         f"exp log of {sha}\n")
            commit_files.append(path)
        commits = _hash_objects(repo, commit_files, "commit")
    lines = "".join(f"create {log_ref(s)} {c}\n" for s, c in zip(todo, commits))
    proc = git(["update-ref", "--stdin"], cwd=repo.root, input=lines.encode(), check=False)
    if proc.returncode == 0:
        have.update(zip(todo, commits))
    else:  # another process created some meanwhile: take what is there now
        have = _local_refs(repo, shas)
    return have


def _bounded_copy(path: str, tmp: str, i: int) -> str:
    """PATH itself, or a copy of its last MAX_BYTES with a first line saying what was cut."""
    size = os.path.getsize(path)
    if size <= MAX_BYTES:
        return path
    head = (f"[git-exp: this log had {size} bytes; only its last {MAX_BYTES} were shared]\n"
            ).encode()
    out = os.path.join(tmp, f"log-{i}")
    with open(path, "rb") as src, open(out, "wb") as dst:
        src.seek(size - (MAX_BYTES - len(head)))
        dst.write(head)
        dst.write(src.read())
    return out


def _hash_objects(repo: Repository, paths: list[str], kind: str) -> list[str]:
    out = git(["hash-object", "-w", "-t", kind, "--stdin-paths"], cwd=repo.root,
              input=("\n".join(paths) + "\n").encode("utf-8", "surrogateescape")).stdout
    return out.decode().split()


def _mktrees(repo: Repository, blobs: list[str]) -> list[str]:
    text = "".join(f"100644 blob {b}\tlog\n\n" for b in blobs)
    out = git(["mktree", "--batch"], cwd=repo.root, input=text.encode()).stdout
    return out.decode().split()


def _commit_dates(repo: Repository, shas: list[str]) -> dict[str, int]:
    # --stdin: ten thousand shas never reach the command-line length limit.
    out = git(["log", "--no-walk=unsorted", "--format=%H %ct", "--stdin"], cwd=repo.root,
              input=("\n".join(shas) + "\n").encode(), check=False).stdout.decode("utf-8", "replace")
    dates = {}
    for line in out.splitlines():
        sha, _, stamp = line.partition(" ")
        if stamp.isdigit():
            dates[sha] = int(stamp)
    return dates


def push_refspecs(repo: Repository, shas: list[str], remote_refs: dict[str, str]) -> list[str]:
    """Refspecs that send the logs of SHAS the remote (REMOTE_REFS: its ls-remote) lacks."""
    mine = publish_local(repo, shas)
    return [f"{commit}:{log_ref(sha)}" for sha, commit in sorted(mine.items())
            if log_ref(sha) not in remote_refs]


def fetch_refspecs(repo: Repository, shas: list[str], remote_refs: dict[str, str]) -> list[str]:
    """Refspecs that fetch the remote's logs of SHAS that this clone has no log of."""
    return [f"+{log_ref(s)}:{log_ref(s)}" for s in dict.fromkeys(shas)
            if _SHA.match(s) and log_ref(s) in remote_refs and not os.path.exists(_log_path(repo, s))]


def orphaned_logs(removed: Iterable[ExpRef], every: Iterable[ExpRef], listing: dict[str, str]) -> dict[str, str]:
    """Log ref -> its sha in LISTING for the experiments REMOVED, unless one of EVERY that stays
    has the same commit (and so the same log)."""
    gone = {r.ref for r in removed}
    staying = {r.sha for r in every if r.ref not in gone}
    return {log_ref(r.sha): listing[log_ref(r.sha)] for r in removed
            if r.sha not in staying and log_ref(r.sha) in listing}


def fetch_optional_refspecs(shas: list[str]) -> list[str]:
    """Refspecs that fetch the log refs of SHAS if the remote has them, in the same `git fetch`.

    A one-star pattern matching nothing is not an error for Git, where a
    missing exact ref is, so no ls-remote is needed first.
    """
    return [f"+{log_ref(s)}*:{log_ref(s)}*" for s in dict.fromkeys(shas) if _SHA.match(s)]


def _read_checked(repo: Repository, commits: dict[str, str]) -> dict[str, bytes]:
    """exp sha -> log text for each log commit (COMMITS: exp sha -> commit) that passes the checks.

    The commit's `log` entry must be a blob of at most MAX_BYTES; its size
    is asked before a byte of it is read.
    """
    if not commits:
        return {}
    names = [f"{commit}:log" for commit in commits.values()]
    check = git(["cat-file", "--batch-check=%(objecttype) %(objectsize)"], cwd=repo.root,
                input=("\n".join(names) + "\n").encode(), check=False).stdout.decode().splitlines()
    texts = {}
    for sha, line in zip(commits, check):
        if not (line.startswith("blob ") and line[5:].isdigit() and int(line[5:]) <= MAX_BYTES):
            continue
        proc = git(["cat-file", "blob", f"{commits[sha]}:log"], cwd=repo.root, check=False)
        if proc.returncode == 0 and len(proc.stdout) <= MAX_BYTES:
            texts[sha] = proc.stdout
    return texts


def read_fetched(repo: Repository, sha: str) -> bytes | None:
    """The log that arrived as refs/exp-logs/SHA, if there is one that passes the checks."""
    return _read_checked(repo, _local_refs(repo, [sha] if _SHA.match(sha) else [])).get(sha)


def store_fetched(repo: Repository, shas: list[str]) -> list[str]:
    """Write the logs of SHAS that arrived as refs (and that have no log file yet); the shas written.

    Anything but a single blob of at most MAX_BYTES is skipped (_read_checked).
    """
    refs = _local_refs(repo, [s for s in shas if _SHA.match(s)])
    todo = {s: c for s, c in refs.items() if not os.path.exists(_log_path(repo, s))}
    from git_exp.atomic import write_atomic
    written = []
    for sha, text in _read_checked(repo, todo).items():
        write_atomic(_log_path(repo, sha), text)
        written.append(sha)
    return written
