"""`git exp run -j N`: queue the points, run N workers in the foreground, wait.

The workers are the same `git exp queue work` processes `queue start`
runs, limited to this batch, but attached: in our process group, so a
Ctrl-C in the terminal reaches them and each records its entry as
interrupted. Entries not started by then stay queued for `queue start`.
If we are SIGKILLed, each worker notices its parent is gone and stops the
same way (worker._follow_parent).
"""
from __future__ import annotations

import signal
import time
from typing import TYPE_CHECKING, Callable

from git_exp.queue import control, recovery, worker
from git_exp.queue.enqueue import enqueue
from git_exp.repo import Repository

if TYPE_CHECKING:
    from subprocess import Popen

POLL = 0.2
# Workers that die leave their entries to recovery; we start fresh ones this often at most.
MAX_ROUNDS = 5


def run_parallel(repo: Repository, overrides: list[str], jobs: int, *, name: str | None = None,
                 message: str | None = None, targets: list[str] | None = None,
                 downstream: bool = False, run_cache: bool = True, force: bool = False,
                 on_queued: Callable | None = None,
                 on_finished: Callable[[control.Row], None] | None = None) -> tuple[list[control.Row], bool]:
    """Run every point of OVERRIDES with JOBS workers; (their rows, whether interrupted)."""
    entries = enqueue(repo, overrides, name=name, message=message, targets=targets,
                      downstream=downstream, run_cache=run_cache, force=force)
    if on_queued:
        on_queued(entries)
    ids = {e.id for e in entries}
    batch = entries[0].batch
    reported: set[str] = set()
    interrupted = False

    def poll() -> list[control.Row]:
        mine = [r for r in control.rows(repo) if r.id in ids]
        for row in mine:
            if row.state not in ("queued", "running") and row.id not in reported:
                reported.add(row.id)
                if on_finished:
                    on_finished(row)
        return mine

    for _ in range(MAX_ROUNDS):
        left = [r for r in poll() if r.state == "queued"]
        if not left or interrupted:
            break
        procs = worker.spawn(repo, min(jobs, len(left)), batch=batch, detached=False)
        try:
            while any(p.poll() is None for p in procs):
                poll()
                time.sleep(POLL)
        except KeyboardInterrupt:
            interrupted = True
            # A terminal's Ctrl-C reached the workers too; a SIGINT sent to us alone did
            # not. Workers take one interrupt per entry, so passing it on is safe.
            for p in procs:
                if p.poll() is None:
                    try:
                        p.send_signal(signal.SIGINT)
                    except ProcessLookupError:
                        pass
            for p in procs:
                _wait(p)
        recovery.recover(repo)
    return poll(), interrupted


def _wait(proc: Popen[bytes]) -> None:
    while True:
        try:
            proc.wait()
            return
        except KeyboardInterrupt:   # a second Ctrl-C: the workers are already recording
            continue
