"""The part of `git exp run` that goes through the queue: --queue, -j N and --temp.

`run` parses the options and hands over here; the queue (queue/) does the
work, this module only says what happened, with the queue's vocabulary
(queue_view.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from git_exp.commands.queue_view import STATE_STYLES, render_summary
from git_exp.commands.run_report import failure_tail, metrics_line, quiet_line
from git_exp.ui.format import format_duration, plural

if TYPE_CHECKING:
    from argparse import Namespace
    from typing import TypedDict

    from git_exp.commands.run import _RunArgs
    from git_exp.pipeline.runner import Events
    from git_exp.queue.control import Row
    from git_exp.queue.entries import Entry
    from git_exp.repo import Repository
    from git_exp.ui.console import Console

    class RunOptions(TypedDict):
        """What every way of running through the queue takes from run's options."""
        name: str | None
        message: str | None
        targets: list[str] | None
        downstream: bool
        run_cache: bool
        force: bool


def run_isolated(repo: Repository, args: Namespace | _RunArgs, console: Console, events: Events) -> int:
    """The part of `git exp run` that goes through the queue."""
    from git_exp.errors import UsageError
    if args.temp and (args.queue or args.jobs):
        raise UsageError("--temp runs one experiment now; it cannot be combined with --queue or -j",
                         hint="--queue and -j already run each experiment in a temporary checkout: drop --temp")
    options: RunOptions = dict(name=args.name, message=args.message, targets=args.stages or None,
                               downstream=args.downstream, run_cache=not args.no_run_cache,
                               force=args.force)
    if args.temp:
        return _run_temp(repo, args, console, events, options)
    if args.queue:
        return _run_queue(repo, args, console, options)
    assert args.jobs   # run() hands over only --queue, -j N (N >= 1) and --temp
    return _run_jobs(repo, args.set_param, args.jobs, console, options)


def _run_temp(repo: Repository, args: Namespace | _RunArgs, console: Console, events: Events,
              options: RunOptions) -> int:
    from git_exp.queue.worker import run_isolated as run_one
    entry, outcome = run_one(repo, args.set_param, events=events, **options)
    status = console.paint(outcome.status, *STATE_STYLES.get(outcome.status, ()))
    sha = f" ({outcome.exp_sha[:7]})" if outcome.exp_sha else ""
    if console.quiet:   # one line, as run -q
        return quiet_line(console, entry.name, (outcome.exp_sha or '-')[:7], outcome.status,
                          outcome.error, outcome.hint)
    console.out(f"Experiment {console.paint(entry.name, 'bold')}{sha} recorded from "
                f"{entry.baseline[:7]} in a temporary checkout: {status}")
    if outcome.metrics:
        console.out(metrics_line(outcome.metrics))
    if outcome.status == "success":
        console.out("Your work tree is as it was. To get the results:")
        console.out(f"  git exp apply {entry.name}")
        return 0
    return failure_tail(console, entry.name, outcome.status, outcome.error, outcome.hint)


def _run_queue(repo: Repository, args: Namespace | _RunArgs, console: Console, options: RunOptions) -> int:
    from git_exp.queue.enqueue import enqueue
    entries = enqueue(repo, args.set_param, **options)
    count = len(entries)
    console.out(f"Queued {plural(count, 'experiment')} from {entries[0].baseline[:7]}"
                + ("." if console.quiet else ":"))
    width = max(len(e.name) for e in entries)
    for e in entries:
        params = "  " + " ".join(e.params) if e.params else ""
        console.detail(f"  {e.id}  {e.name.ljust(width)}{params}")
    if args.jobs:
        from git_exp.queue.worker import start
        pids, running, _ = start(repo, args.jobs)
        console.info(f"Started {plural(len(pids), 'worker')}"
                     + (f" ({running} already running)" if running else "")
                     + "; follow them with: git exp queue status")
    else:
        console.info("Run them in the background with: git exp queue start -j N")
    return 0


def _run_jobs(repo: Repository, overrides: list[str], jobs: int, console: Console, options: RunOptions) -> int:
    from git_exp.queue.parallel import run_parallel

    def queued(entries: list[Entry]) -> None:
        count = len(entries)
        console.info(f"Running {plural(count, 'experiment')} from "
                     f"{entries[0].baseline[:7]} with {plural(min(jobs, count), 'worker')}...")

    def finished(row: Row) -> None:
        sha = f" ({row.exp_sha[:7]})" if row.exp_sha else ""
        console.info(f"  {row.name}{sha}: "
                     + console.paint(row.state, *STATE_STYLES.get(row.state, ()))
                     + f" in {format_duration(row.duration)}")

    rows, interrupted = run_parallel(repo, overrides, jobs, on_queued=queued,
                                     on_finished=finished, **options)
    if console.quiet:   # one line: how the points went
        states: dict[str, int] = {}
        for r in rows:
            states[r.state] = states.get(r.state, 0) + 1
        console.out(", ".join(f"{n} {state}" for state, n in states.items()))
    else:
        console.out(render_summary(repo, rows, console))
    failed = [r for r in rows if r.state in ("failed", "interrupted")]
    left = [r for r in rows if r.state == "queued"]
    if left:
        console.info(f"{plural(len(left), 'entry', 'entries')} stay queued: "
                     "git exp queue start, or git exp queue remove --all")
    if interrupted:
        return 130
    if failed:   # said by cli.py, as every error: exit 1 with what went wrong and where to look
        from git_exp.errors import ExpError
        raise ExpError(f"{len(failed)} of {plural(len(rows), 'experiment')} did not succeed: "
                       + ", ".join(f"{r.name} ({r.state})" for r in failed[:5])
                       + (", ..." if len(failed) > 5 else ""),
                       hint=f"see why in its log: git exp logs {failed[0].name}")
    return 1 if left else 0
