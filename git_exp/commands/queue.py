"""git exp queue: run queued experiments in the background and look after them."""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from git_exp.commands.argtypes import positive_int
from git_exp.commands.queue_view import render_rows
from git_exp.ui.format import plural

if TYPE_CHECKING:   # the worker's base class, for the type checker only (no queue import on start-up)
    from argparse import ArgumentParser, Namespace

    from git_exp.distributed.executors import ExecutorSpec
    from git_exp.queue.entries import Entry
    from git_exp.queue.executor import EntryOutcome
    from git_exp.queue.recovery import Recovered
    from git_exp.queue.worker import WorkerEvents
    from git_exp.repo import Repository
    from git_exp.ui.console import Console
else:
    WorkerEvents = object

DESCRIPTION = """\
Queued experiments (git exp run --queue) wait under refs/exps-queue/ as Git
commits of your work tree with their params already set, so the queue
survives crashes and restarts and `git log refs/exps-queue/<id>` shows an
entry. Workers take entries one at a time - a claim is an atomic
compare-and-swap on the refs, so no entry ever runs twice - and run each in
its own temporary checkout inside the Git directory, with the data its
exp.lock records put there from the shared cache. Your work tree, index and
HEAD are never touched: keep working and committing meanwhile.

Each finished entry is an ordinary experiment whose parent is the commit it
was queued from, succeeded, failed or interrupted, with its log (git exp
logs NAME). An entry whose run could not even start is recorded as a failed
experiment of its own files, with the reason in its log.

start starts N background workers (counting those already running) that
exit when the queue is empty. work runs one worker in the foreground. status
lists the entries: queued, running, and finished ones until removed. logs
prints an entry's log, following a running one with -f. kill interrupts
running entries. stop asks the workers to exit after their current entry
(--kill: at once, recording it as interrupted). remove drops queued entries
and the records of finished ones; their experiments stay (git exp remove).

A worker killed with SIGKILL (or a machine that lost power) leaves its entry
claimed by a process that is gone. The next queue start, queue work or queue
status notices, ends the stage processes it left, removes its temporary
checkout (also what a killed git worktree add left half-made), and queues
the entry again; after 3 such attempts it is recorded as failed instead.

With --executor, the entries run on other machines instead: dask://HOST:PORT
hands them to a Dask distributed scheduler (pip install 'git-exp[dask]';
dask-jobqueue and dask-kubernetes clusters have one too), slurm submits one
sbatch --array job whose tasks each run one entry. One background process
(counted as a worker) pushes the entries to the shared Git remote (--remote,
default origin) and their data to its data remote, submits one task per
entry, and fetches each result back (ref and data, as git exp pull does) as
it completes. Every task runs the same worker command, git exp exec-entry
(see its manual page), on a machine whose git reaches that remote. The
remote, not the engine, holds the queue's state, so a restarted client or a
lost engine loses nothing. Engines run a task at least once: the first
result pushed wins, a duplicate attempt is reported as such, and a
workload whose worker died is ended with it. status, logs, kill and stop
work as for local workers; logs shows a remote entry's output once it has
ended: the output of the attempt that published its result.

If the scheduler goes away for longer than 15 seconds, the background
process gives its unfinished entries back to the queue (none is recorded
as failed) and exits with an error in its log; its tasks may run on and
publish. When that process dies (killed, a closed laptop), the next queue
start, work or status first asks the shared remote for results its tasks
published and brings them home; the other entries go back to the queue.
Neither counts as one of an entry's 3 attempts.
"""

EXAMPLES = [
    "git exp run --queue -S train.lr=0.1,0.01,0.001 -n lr",
    "git exp queue start -j 2",
    "git exp queue status",
    "git exp queue logs -f lr-2",
    "git exp queue kill lr-3",
    "git exp queue remove --failed",
    "git exp queue start --executor dask://10.0.0.5:8786 -j 32 --resources GPU=1",
    "git exp queue start --executor slurm -j 8 --sbatch-arg=--partition=gpu --sbatch-arg=--gres=gpu:1",
]

SECTIONS = [("Files", """\
<git-common-dir>/exp/queue/ holds a small JSON file per entry (progress and
outcome), the workers' registrations and their logs (workers/<pid>.log).
Temporary checkouts live in <git-common-dir>/exp/tmp/ while they run; runs
write their log to exp/logs/queue-<id>.log until it is recorded.
exp/queue/remote/<id>.json records which executor holds an entry;
exp/queue/slurm/ keeps the generated sbatch scripts and their tasks' output.
"""), ("Slurm", """\
The Slurm executor needs no Python package: it writes a POSIX sh script and
submits it with sbatch --array=0-<n-1>%<N> (N from -j; no limit without
it), your --sbatch-arg arguments added to the sbatch command line. Each
array task runs git-exp exec-entry for its entry, so git-exp and Git must be
on the compute nodes' PATH (or git-exp in Git's exec-path), and the
script's output files are read back when the nodes share the file system
of the machine that submitted. queue kill sends SIGTERM to the worker alone
(scancel --batch --signal=TERM), which stops its stage and publishes the
interrupted run; the script asks Slurm for the same 60 seconds before a
time limit (--signal=B:TERM@60).
queue start first asks sbatch --test-only whether your --sbatch-arg
arguments would be accepted, so a wrong partition is an error there and
then. The dispatcher polls squeue every 2 seconds; while the controller
does not answer (a restart) it waits, up to 10 minutes, as the jobs run
on. For an entry that ended without a result, its log ends with how Slurm
saw the task end (FAILED, exit code 1; CANCELLED).

Its tests run against a real single-node cluster only when asked
(python -m pytest -m slurm). As root on Debian, sh
bench/slurm/setup-single-node.sh installs slurm-wlm and munge, writes a
slurm.conf for this host (unless there is one), starts munged, slurmctld
and slurmd as plain daemons and checks sinfo and srun; with the argument
stop it stops them again.
""")]


def configure(parser: ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    start = actions.add_parser("start", help="start background workers",
                               description="Start background workers that drain the queue")
    start.add_argument("-j", "--jobs", type=positive_int, default=None, metavar="N",
                       help="run up to N entries at a time (default 1; with an executor, "
                            "what it can run at once)")
    work = actions.add_parser("work", help="run a worker in the foreground until the queue is empty",
                              description="Run queued entries here, one at a time")
    work.add_argument("--batch", metavar="TOKEN",
                      help="only entries queued by one 'run --queue' (the token 'run -j' passes)")
    work.add_argument("-j", "--jobs", type=positive_int, default=None, metavar="N",
                      help="with --executor: run up to N entries at a time")
    for each in (start, work):
        each.add_argument("--executor", default="local", metavar="WHERE",
                          help="local (the default), dask://HOST:PORT or slurm")
        each.add_argument("--remote", default="origin", metavar="NAME",
                          help="with --executor: the shared Git remote workers fetch entries "
                               "from and push results to (default origin)")
        each.add_argument("--resources", action="append", default=[], metavar="NAME=AMOUNT",
                          help="with a Dask executor: what each entry needs of a worker, e.g. GPU=1")
        each.add_argument("--sbatch-arg", action="append", default=[], metavar="ARG",
                          help="with the Slurm executor: add ARG to the sbatch command "
                               "(write --sbatch-arg=--partition=gpu)")
    actions.add_parser("status", help="list queued, running and finished entries",
                       description="List the queue's entries")
    logs = actions.add_parser("logs", help="print an entry's log", description="Print an entry's log")
    logs.add_argument("entry", metavar="ID", help="an entry id, id prefix or name")
    logs.add_argument("-f", "--follow", action="store_true",
                      help="keep printing what a running entry writes until it ends")
    kill = actions.add_parser("kill", help="interrupt running entries",
                              description="Interrupt running entries")
    kill.add_argument("entries", nargs="+", metavar="ID", help="entry ids, id prefixes or names")
    stop = actions.add_parser("stop", help="let workers finish their entry and exit",
                              description="Ask every worker to exit")
    stop.add_argument("--kill", action="store_true",
                      help="interrupt their current entries instead of waiting for them")
    remove = actions.add_parser("remove", help="drop queued entries and finished records",
                                description="Drop entries from the queue")
    remove.add_argument("entries", nargs="*", metavar="ID", help="entry ids, id prefixes or names")
    remove.add_argument("--all", action="store_true", help="every entry that is not running")
    remove.add_argument("--failed", action="store_true", help="every failed or interrupted entry")


def run(args: Namespace, console: Console) -> int:
    from git_exp.repo import discover
    repo = discover()
    return {"start": _start, "work": _work, "status": _status, "logs": _logs, "kill": _kill,
            "stop": _stop, "remove": _remove}[args.action](repo, args, console)


def _executor(args: Namespace) -> ExecutorSpec | None:
    """The parsed --executor (None: local), after checking the options that go with it."""
    if args.executor == "local" and not (args.resources or args.sbatch_arg
                                         or args.remote != "origin"):
        return None   # the default: nothing distributed is imported
    from git_exp.distributed.executors import parse_executor, parse_resources
    from git_exp.errors import UsageError
    spec = parse_executor(args.executor)
    if args.resources and spec.kind != "dask":
        raise UsageError("--resources goes with a Dask executor (--executor dask://HOST:PORT)")
    if args.sbatch_arg and spec.kind != "slurm":
        raise UsageError("--sbatch-arg goes with the Slurm executor (--executor slurm)")
    if spec.kind == "local" and args.remote != "origin":
        raise UsageError("--remote goes with --executor: local workers use this repository")
    parse_resources(args.resources)
    return None if spec.kind == "local" else spec


def _start(repo: Repository, args: Namespace, console: Console) -> int:
    from git_exp.queue.worker import start
    spec = _executor(args)
    if spec is not None:
        return _start_dispatcher(repo, args, console, spec)
    pids, running, queued = start(repo, args.jobs or 1)
    if not queued:
        console.out("The queue is empty: nothing to start.")
        return 0
    what = f"Started {plural(len(pids), 'worker')}"
    if running:
        what += f" ({running} already running)"
    console.out(f"{what} for {plural(queued, 'queued entry', 'queued entries')}.")
    console.info("Follow them with: git exp queue status")
    return 0


class _PrintingWorker(WorkerEvents):
    """What a worker does, as lines on the console."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def recovered(self, items: list[Recovered]) -> None:
        for item in items:
            self.console.info(f"Recovered {item.entry.id} '{item.entry.name}': {item.action}.")

    def entry_started(self, entry: Entry) -> None:
        self.console.detail(f"{entry.id} {entry.name}: running (attempt {entry.attempt})")

    def entry_finished(self, entry: Entry, outcome: EntryOutcome) -> None:
        sha = f" ({outcome.exp_sha[:7]})" if outcome.exp_sha else ""
        error = f": {outcome.error.splitlines()[0]}" if outcome.error else ""
        self.console.detail(f"{entry.id} {entry.name}: {outcome.status}{sha} in "
                         f"{outcome.duration:.1f}s{error}")


def _start_dispatcher(repo: Repository, args: Namespace, console: Console, spec: ExecutorSpec) -> int:
    from git_exp.distributed.start import start
    started = start(repo, spec, remote=args.remote, jobs=args.jobs, resources=args.resources,
                    sbatch_args=args.sbatch_arg)
    if started.running:
        console.out(f"A worker for {spec.text} is running already (pid {started.running}); "
                    "it takes entries queued since.")
    elif not started.queued:
        console.out("The queue is empty: nothing to start.")
    else:
        console.out(f"Started a worker for {spec.text} (pid {started.pid}) for "
                    f"{plural(started.queued, 'queued entry', 'queued entries')}, through '{args.remote}'.")
        console.info("Follow them with: git exp queue status")
    return 0


def _work(repo: Repository, args: Namespace, console: Console) -> int:
    from git_exp.queue.worker import work
    spec = _executor(args)
    if spec is not None:
        from git_exp.distributed.dispatch import dispatch
        from git_exp.distributed.executors import parse_resources
        done = dispatch(repo, spec.text, args.remote, jobs=args.jobs,
                        resources=parse_resources(args.resources), sbatch_args=args.sbatch_arg,
                        events=_PrintingWorker(console), batch=args.batch)
    else:
        if args.jobs:
            from git_exp.errors import UsageError
            raise UsageError("-j goes with --executor here",
                             hint="start N local workers with: git exp queue start -j N")
        done = work(repo, batch=args.batch, events=_PrintingWorker(console))
    if not done:
        console.info("The queue is empty.")
    elif console.quiet:
        console.out(f"Ran {plural(len(done), 'entry', 'entries')}.")
    return 0


def _status(repo: Repository, args: Namespace, console: Console) -> int:
    from git_exp.queue.control import status
    found = status(repo)
    for item in found.recovered:
        console.info(f"Recovered {item.entry.id} '{item.entry.name}' from a dead worker: {item.action}.")
    if not found.rows:
        console.out("The queue is empty.")
    else:
        console.page(render_rows(found.rows, console))
    queued = sum(1 for r in found.rows if r.state == "queued")
    if found.workers:
        console.info(f"{plural(found.workers, 'worker')} running.")
    elif queued:
        console.info("No worker is running; start them with: git exp queue start -j N")
    return 0


def _logs(repo: Repository, args: Namespace, console: Console) -> int:
    from git_exp.queue.control import read_log
    out = sys.stdout.buffer
    for chunk in read_log(repo, args.entry, follow=args.follow):
        out.write(chunk)
        out.flush()
    return 0


def _kill(repo: Repository, args: Namespace, console: Console) -> int:
    from git_exp.queue.control import kill
    killed = kill(repo, args.entries)
    for row in killed:
        sha = f" as {row.exp_sha[:7]}" if row.exp_sha else ""
        console.detail(f"Killed {row.id} '{row.name}': recorded{sha} ({row.state}).")
    if console.quiet and killed:
        console.out(f"Killed {plural(len(killed), 'entry', 'entries')}.")
    return 0


def _stop(repo: Repository, args: Namespace, console: Console) -> int:
    from git_exp.queue.control import stop
    pids = stop(repo, now=args.kill)
    if not pids:
        console.out("No worker is running.")
    elif args.kill:
        console.out(f"Interrupted {plural(len(pids), 'worker')}; "
                    "their entries are recorded as interrupted.")
    else:
        console.out(f"Asked {plural(len(pids), 'worker')} to exit "
                    "after their current entry.")
    return 0


def _remove(repo: Repository, args: Namespace, console: Console) -> int:
    from git_exp.queue.control import remove
    removed = remove(repo, args.entries, everything=args.all, failed=args.failed)
    for row in removed:
        console.detail(f"Removed {row.id} '{row.name}' ({row.state}).")
    if console.quiet and removed:
        console.out(f"Removed {plural(len(removed), 'entry', 'entries')}.")
    if not removed:
        console.info("No entry matched.")
    return 0
