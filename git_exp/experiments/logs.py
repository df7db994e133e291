"""The output of a run: finished, running in this work tree, or queued and running.

A run in the work tree writes its log under exp/logs/run-<pid>.log until
it is recorded; a queued run writes exp/logs/queue-<id>.log (the queue
follows those itself: queue/control.py; queue/logs.py puts the two
together). Both logs move next to the other experiments' logs once
recorded, so a reader that opened one keeps reading the same file to its end.
"""
from __future__ import annotations

import time
from typing import Iterator

from git_exp.errors import ExpError
from git_exp.experiments import record as rec
from git_exp.experiments.runlock import live_holder
from git_exp.repo import Repository

POLL_SECONDS = 0.2


def runs_here(repo: Repository, spec: str) -> bool:
    """Whether SPEC is the name of the run in progress in this work tree."""
    holder = live_holder(repo.git_dir)
    return holder is not None and holder.get("name") == spec


def stream_log(repo: Repository, spec: str, follow: bool = False,
               poll: float = POLL_SECONDS) -> Iterator[bytes]:
    """The log of SPEC (an experiment, or the run in progress here by its name) as chunks;
    with FOLLOW, more as a run in progress writes it, until it ends. Queued
    runs are the queue's (queue/logs.py asks it first)."""
    holder = live_holder(repo.git_dir)
    if holder is not None and holder.get("name") == spec:
        yield from _follow_run(repo, holder, follow, poll)
        return
    from git_exp.experiments.manage import read_log
    yield read_log(repo, spec)[1]


def _still_running(repo: Repository, pid: int) -> bool:
    holder = live_holder(repo.git_dir)
    return holder is not None and holder.get("pid") == pid


def _follow_run(repo: Repository, holder: dict, follow: bool, poll: float) -> Iterator[bytes]:
    pid, name = holder["pid"], str(holder.get("name"))
    path = rec.running_log_path(repo, pid)
    fh = None
    while fh is None:
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            if not _still_running(repo, pid):    # it ended (and its log moved) meanwhile
                from git_exp.experiments.manage import read_log
                yield read_log(repo, name)[1]
                return
            if not follow:
                raise ExpError(f"'{name}' has not written any output yet",
                               hint=f"follow it as it runs: git exp logs -f {name}") from None
            time.sleep(poll)
    from git_exp.logtail import tail
    with fh:
        yield from tail(fh, follow, lambda: _still_running(repo, pid), poll)
