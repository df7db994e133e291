"""Experiments that have no commit yet: running now (and, later, queued).

These rows come from outside refs/exps/, so a half-written experiment is
never shown as if it were finished: an experiment appears with results
only once its ref exists, and its ref is created after its commit is
complete. The run in this work tree is known from its lock file, which
we only read: readers never take, clear or wait for locks.

Each source returns Pending entries; the queue adds its own source here.
"""
from __future__ import annotations

import json
import socket
from dataclasses import dataclass

from git_exp import procs
from git_exp.experiments.runlock import RunLock


@dataclass(frozen=True)
class Pending:
    name: str
    state: str              # "running" or "queued"
    baseline: str | None    # the commit it runs from; None: HEAD of its work tree
    created: str | None     # ISO 8601, when it started or was queued


def running_here(repo) -> list[Pending]:
    """The run holding this work tree's run lock, if its process is still alive."""
    path = RunLock(repo.git_dir, "").path
    try:
        with open(path) as fh:
            holder = json.load(fh)
    except (OSError, ValueError):
        return []   # no run, or its writer has not filled the file in yet
    if not isinstance(holder, dict) or not isinstance(holder.get("pid"), int):
        return []
    if holder.get("host") in (None, socket.gethostname()) and not procs.alive(holder["pid"]):
        return []   # stale: the run died without cleaning up
    started = holder.get("started")
    if isinstance(started, str) and len(started) >= 5 and started[-5] in "+-":
        started = started[:-2] + ":" + started[-2:]   # +0100 -> +01:00, as ISO 8601 writes it
    return [Pending(str(holder.get("name") or "?"), "running", None,
                    started if isinstance(started, str) else None)]


def queue_entries(repo) -> list[Pending]:
    """Entries of the experiment queue (git_exp/queue), queued or running elsewhere."""
    from git_exp.experiments.refs import QUEUE_PREFIX, RUNNING_PREFIX
    from git_exp.gitcmd import git
    # One cheap ref listing first: the queue's modules cost ~20 ms to import,
    # a tenth of a warm `show`, and most of the time the queue is empty.
    if not git(["for-each-ref", "--count=1", "--format=x", QUEUE_PREFIX, RUNNING_PREFIX], cwd=repo.root).stdout:
        return []
    from git_exp.queue.control import pending_entries
    return pending_entries(repo)


SOURCES = [running_here, queue_entries]


def pending(repo) -> list[Pending]:
    found = []
    for source in SOURCES:
        found.extend(source(repo))
    return found
