"""Experiments that have no commit yet: running now, and queued.

These rows come from outside refs/exps/, so a half-written experiment is
never shown as if it were finished: an experiment appears as a result only
once its ref exists, and its ref is created after its commit is complete.
The run in this work tree is known from its lock file, which we only read:
readers never take, clear or wait for locks. Queue entries come from the
queue's refs (queue/pending.py); an entry running on this machine names the
temporary checkout it runs in, where its metrics so far can be read
(show/running.py).

Each source returns Pending entries.
"""
from __future__ import annotations

from git_exp.experiments.runlock import live_holder
from git_exp.queue.pending import Pending

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.repo import Repository



def running_here(repo: Repository) -> list[Pending]:
    """The run holding this work tree's run lock, if its process is still alive."""
    holder = live_holder(repo.git_dir)
    if holder is None:
        return []
    started = holder.get("started")
    if isinstance(started, str) and len(started) >= 5 and started[-5] in "+-":
        started = started[:-2] + ":" + started[-2:]   # +0100 -> +01:00, as ISO 8601 writes it
    return [Pending(str(holder.get("name") or "?"), "running", None,
                    started if isinstance(started, str) else None, root=repo.root,
                    pid=holder["pid"])]


def queue_entries(repo: Repository) -> list[Pending]:
    """Entries of the experiment queue (git_exp/queue), queued or running elsewhere."""
    from git_exp.experiments.refs import QUEUE_PREFIX, RUNNING_PREFIX
    from git_exp.git import git
    # One cheap ref listing first: the queue's modules cost ~20 ms to import,
    # a tenth of a warm `show`, and most of the time the queue is empty.
    if not git(["for-each-ref", "--count=1", "--format=x", QUEUE_PREFIX, RUNNING_PREFIX], cwd=repo.root).stdout:
        return []
    from git_exp.queue.pending import pending_entries
    return pending_entries(repo)


SOURCES = [running_here, queue_entries]


def pending(repo: Repository) -> list[Pending]:
    found = []
    for source in SOURCES:
        found.extend(source(repo))
    return found
