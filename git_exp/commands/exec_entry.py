"""git exp exec-entry: the worker command every distributed executor runs, once per entry."""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:   # the base class, for the type checker only (no import on start-up)
    import argparse

    from git_exp.distributed.worker import ExecEvents
    from git_exp.ui.console import Console
else:
    ExecEvents = object

DESCRIPTION = """\
Runs one queue entry of a shared Git remote and publishes its result there.
This is the one command that `git exp queue start --executor dask://...`
and `--executor slurm` run on their workers, once per entry; you can run it
by hand on any machine whose git reaches the remote.

It fetches just the entry (refs/exps-queue/<id>) and the commit it was
queued from into a fresh temporary clone, claims the attempt on the remote
(refs/exps-running/<id>: a claim commit naming this process and the
attempt number, pushed without force), checks the entry out, pulls the data
its exp.lock and pointer files record from the data remote, and runs the
pipeline. Then it sends the outputs' data to the data remote and, only
after that, pushes the experiment to refs/exps/<baseline>/<name> with a
plain push. The temporary clone is removed afterwards.

Engines run a task at least once, so running an entry twice is harmless:
the first result pushed wins. If the remote already has this entry's
result, nothing runs and the command reports a duplicate; a push rejected
because another attempt's result got there first is reported the same way,
naming that attempt's commit (this run's own is dropped). The result is
pushed atomically with the run's log, as a blob under refs/exps-logs/<id>,
so the log that comes home with a result is always its own attempt's.
A failed or interrupted run is a result too and is published like a
successful one. The experiment records the attempt (Exp-Attempt) and the
executor (Exp-Executor) in its trailers.

The run's output goes to standard output and the worker's own steps to
standard error. SIGTERM interrupts the run, which is then published as
interrupted; once the run has ended, SIGTERM waits for the push. When the
process that started this command dies (a Dask worker killed, say), the
command ends its pipeline's processes and exits at once without publishing,
since the engine will run the entry again elsewhere.

Exit status: 0 when the entry's result is on the remote (whatever the
experiment's own status: see Exp-Status, or `git exp queue status` on the
machine that queued it); 1 when no result could be published (the engine
may retry); 130 when interrupted before the run started; 137 when its
parent died.
"""

EXAMPLES = [
    "git exp exec-entry --remote /srv/git/project.git --ref refs/exps-queue/3f9a0c12",
    "git exp exec-entry --remote git@host:team/project.git --ref refs/exps-queue/3f9a0c12 "
    "--data-remote /mnt/team/exp-data",
]

SECTIONS = [("Data remote", """\
Without --data-remote the location is found as for git exp push: the
committed .expconfig of the entry (remote.<url>.expdata or exp.remote), or,
for a Git remote that is a local path, that repository's own exp/cache.
`git exp queue start` passes the location it resolved for its remote.
""")]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--remote", required=True, metavar="URL",
                        help="the shared Git remote that holds the entry (a URL or a path)")
    parser.add_argument("--ref", required=True, metavar="REF",
                        help="the entry's ref there: refs/exps-queue/<id>")
    parser.add_argument("--data-remote", metavar="URL",
                        help="where the data is (default: what the remote pairs with)")
    parser.add_argument("--executor", default="", metavar="NAME",
                        help="the executor that runs this, recorded in the experiment")
    parser.add_argument("--workdir", metavar="DIR",
                        help="make the temporary clone inside DIR (default: the temp dir)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary clone, to look at it afterwards")


class _Events(ExecEvents):
    """Stage output to stdout (the run's log), everything else to stderr."""

    def __init__(self, console: Console) -> None:
        from git_exp.commands.run import ConsoleEvents
        self.stages = ConsoleEvents(console)
        self.console = console

    def step(self, text: str) -> None:
        self.console.info(f"exec-entry: {text}")

    def __getattr__(self, name: str) -> object:
        return getattr(self.stages, name)


def run(args: argparse.Namespace, console: Console) -> int:
    from git_exp.distributed.worker import exec_entry
    from git_exp.show.running import read_running
    result = exec_entry(args.remote, args.ref, read_running=read_running, data_remote=args.data_remote,
                        executor=args.executor, workdir=args.workdir, keep=args.keep,
                        events=_Events(console))
    console.out(f"{result.publication}: {result.name} {result.sha[:7]} ({result.status}, "
                f"attempt {result.attempt or '?'})")
    return 0
