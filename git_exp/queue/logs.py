"""The log `git exp logs` names: a run here, a queued or running entry, or an experiment.

The queue's entries are asked after the run in this work tree and before
the recorded experiments, so an entry's name or id finds the entry's log
(queue/control.py) and everything else is experiments/logs.py's.
"""
from __future__ import annotations

from typing import Iterator

from git_exp.experiments import logs as exp_logs
from git_exp.queue import entries as ent
from git_exp.repo import Repository


def stream_log(repo: Repository, spec: str, follow: bool = False,
               poll: float = exp_logs.POLL_SECONDS) -> Iterator[bytes]:
    """The log of SPEC as chunks; with FOLLOW, more as a run in progress writes it."""
    if not exp_logs.runs_here(repo, spec) and any(spec in (e.name, e.id) for e in ent.list_entries(repo)):
        from git_exp.queue.control import read_log
        yield from read_log(repo, spec, follow=follow, poll=poll)
        return
    yield from exp_logs.stream_log(repo, spec, follow=follow, poll=poll)
