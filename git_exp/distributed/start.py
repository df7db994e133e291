"""`git exp queue start --executor ...`: one background dispatcher per executor.

The dispatcher is `git exp queue work --executor ...` started detached (a
session of its own, output in <exp_dir>/queue/workers/<pid>.log, as local
workers), so the command returns at once and `queue status`, `logs`,
`kill` and `stop` look after it. What can be checked before it starts is
checked here, in the foreground, so a wrong address or a missing remote
is an error the user sees, not a line in a log.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Sequence

from git_exp.errors import ExpError
from git_exp import procs
from git_exp.queue import claims, recovery, state
from git_exp.queue import entries as ent
from git_exp.queue.worker import live_workers

from git_exp.distributed.executors import ExecutorSpec
from git_exp.repo import Repository


@dataclass
class Started:
    pid: int | None          # the dispatcher started, or None
    running: int | None      # the pid of the one already running for this executor
    queued: int


def check(repo: Repository, spec: ExecutorSpec, remote: str, sbatch_args: Sequence[str] = ()) -> None:
    """Fail now, with a hint, on what would make the dispatcher fail at once."""
    from git_exp.distributed.dispatch import resolve_target
    resolve_target(repo, remote)
    if spec.kind == "dask":
        from git_exp.distributed.dask_engine import DaskEngine
        DaskEngine(spec.address, spec.text, {}).close()
    elif spec.kind == "slurm":
        if shutil.which("sbatch") is None:
            raise ExpError("sbatch is not on PATH: the Slurm executor submits jobs with it",
                           hint="run this on a machine that submits to your Slurm cluster "
                                "(a login node)")
        from git_exp.distributed.slurm import check_arguments
        check_arguments(list(sbatch_args))


def command(spec: ExecutorSpec, remote: str, jobs: int | None, resources: list[str],
            sbatch_args: list[str]) -> list[str]:
    argv = [sys.executable, "-m", "git_exp", "queue", "work", "--executor", spec.text,
            "--remote", remote]
    if jobs is not None:
        argv += ["-j", str(jobs)]
    for item in resources:
        argv += ["--resources", item]
    for arg in sbatch_args:
        argv.append(f"--sbatch-arg={arg}")   # one token: an ARG that starts with '-' stays one
    return argv


def _python_path() -> str:
    # The dispatcher must import this very git_exp, installed or not.
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    rest = os.environ.get("PYTHONPATH")
    return here + (os.pathsep + rest if rest else "")


def start(repo: Repository, spec: ExecutorSpec, *, remote: str = "origin", jobs: int | None = None,
          resources: Sequence[str] = (), sbatch_args: Sequence[str] = ()) -> Started:
    """Start a background dispatcher for SPEC unless one runs already."""
    recovery.recover(repo)
    queued = len(ent.list_entries(repo, "queued"))
    for info in live_workers(repo):
        if info.get("executor") == spec.text:
            return Started(None, info["pid"], queued)
    if not queued:
        return Started(None, None, 0)
    check(repo, spec, remote, sbatch_args)
    folder = state.workers_dir(repo)
    os.makedirs(folder, exist_ok=True)
    temp = os.path.join(folder, f".starting-{os.getpid()}-dispatcher.log")
    env = dict(os.environ, PYTHONPATH=_python_path(), PYTHONUNBUFFERED="1")
    with open(temp, "ab") as log:
        proc = subprocess.Popen(command(spec, remote, jobs, list(resources), list(sbatch_args)),
                                cwd=repo.root, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, close_fds=True, start_new_session=True)
    os.replace(temp, state.worker_log(repo, proc.pid))
    # Registered by us at once, so `queue status` counts it before it has started.
    state.register_worker(repo, proc.pid, {
        "pid": proc.pid, "host": claims.me().host, "start": procs.start_time(proc.pid),
        "started": time.time(), "batch": None, "current": None, "executor": spec.text,
        "remote": remote})
    return Started(proc.pid, None, queued)
