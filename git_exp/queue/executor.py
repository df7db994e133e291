"""The executor: run one claimed entry somewhere, and report how it ended.

This is the seam a distributed engine plugs into (a worker on another
machine needs the entry's commit, the shared cache and a place to run):
it implements `Executor.execute` and the queue does the rest - claiming,
recording outcomes, recovering from dead workers. The local executor runs
the entry in a temporary checkout inside the Git dir (checkout.py) and
records an ordinary experiment whose parent is the commit the entry was
queued from.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from git_exp.errors import ExpError
from git_exp.pipeline.runner import Events
from git_exp.queue import checkout
from git_exp.queue import entries as ent
from git_exp.repo import Repository


@dataclass
class EntryOutcome:
    status: str                      # "success", "failed" or "interrupted"
    exp_ref: str | None = None       # the experiment recorded; None when the executor could not
    exp_sha: str | None = None
    exit_code: int = 0
    duration: float = 0.0
    error: str | None = None         # why it failed or stopped
    hint: str | None = None
    metrics: dict = field(default_factory=dict)


class Executor:
    """Runs one claimed entry and reports the outcome; never raises ExpError.

    MODE names how the entry came ("queue", "temp") and goes into the
    experiment's Exp-Mode trailer. EVENTS receive the run's progress and
    output. KeyboardInterrupt (Ctrl-C, or SIGTERM from `queue kill`) may
    propagate when it arrives before the pipeline started.
    """

    def execute(self, repo: Repository, entry: ent.Entry, mode: str = "queue",
                events: Events | None = None) -> EntryOutcome:
        raise NotImplementedError


def queue_trailers(entry: ent.Entry, mode: str) -> dict[str, str]:
    """What ties an experiment to the queue entry (and claim) it came from."""
    return {"Exp-Mode": mode, "Exp-Queue-Id": entry.id, "Exp-Queue-Claim": entry.sha}


class LocalExecutor(Executor):
    """Run in a temporary worktree of this repository, sharing its cache."""

    def execute(self, repo: Repository, entry: ent.Entry, mode: str = "queue",
                events: Events | None = None) -> EntryOutcome:
        from git_exp.experiments.run import run_experiment
        from git_exp.repo import discover

        log = ent.log_file(repo, entry.id)
        os.makedirs(os.path.dirname(log), exist_ok=True)
        started = time.monotonic()
        with open(log, "wb") as fh:
            fh.write(f"queue: entry {entry.id} '{entry.name}', attempt {entry.attempt}, "
                     f"from {entry.baseline[:7]}\n".encode())
        try:
            with checkout.temp_checkout(repo, entry) as root:
                placed, missing = checkout.materialise(repo, root, entry.sha)
                with open(log, "ab") as fh:
                    if placed:
                        fh.write(f"queue: data from the cache: {', '.join(placed)}\n".encode())
                    if missing:
                        fh.write(f"queue: not in the cache: {', '.join(missing)}\n".encode())
                result = run_experiment(
                    discover(root), name=entry.name, message=entry.message,
                    force_name=entry.force, force=entry.force, run_cache=entry.run_cache,
                    targets=entry.targets or None, downstream=entry.downstream, events=events,
                    baseline=entry.baseline, log_file=log, reserved=set(),
                    trailers=queue_trailers(entry, mode))
        except ExpError as exc:
            return EntryOutcome("failed", exit_code=1, duration=time.monotonic() - started,
                                error=exc.message, hint=exc.hint)
        outcome = result.outcome
        error = result.error
        return EntryOutcome(outcome.status, result.ref.ref, result.ref.sha, outcome.exit_code,
                            outcome.duration, error.message if error else None,
                            error.hint if error else None, result.metrics)
