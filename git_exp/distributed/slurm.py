"""Slurm as an engine: one `sbatch --array` per batch of entries, no Python dependency.

Submitting, cancelling and watching go through Slurm's own commands
(sbatch, scancel, squeue), so whatever the user's cluster needs for them
works as it does in their shell. An array task that left squeue has ended;
its result is on the remote or it has none; for one without, what
`scontrol` still knows of it (FAILED, exit code 1) says why. The scripts
and their tasks' output files stay under <exp_dir>/queue/slurm/ (the
output is read back as the entry's log when the compute node shares this
file system).

A controller that does not answer for a while (it restarts, it is busy)
is waited for: the jobs run on without it, and ending the dispatcher would
leave them unwatched while their entries went back to the queue and ran
again. Only after UNREACHABLE_SECONDS of failures does it give up.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import time

from git_exp.atomic import write_atomic
from git_exp.errors import ExpError

from git_exp.distributed import sbatch
from git_exp.distributed.dispatch import Ended, Engine, Task
from git_exp.repo import Repository

POLL_SECONDS = 2.0
UNREACHABLE_SECONDS = 600.0
ACTIVE = ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED",
          "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED")


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except FileNotFoundError:
        raise ExpError(f"{argv[0]} is not on PATH: the Slurm executor needs Slurm's commands",
                       hint="run this on a machine that submits to your Slurm cluster") from None


def check_arguments(sbatch_args: list[str]) -> None:
    """ExpError now if sbatch would refuse SBATCH_ARGS (an unknown partition, a typo)."""
    # --test-only asks the controller whether the job could be scheduled,
    # without submitting it: the error the dispatcher would otherwise meet
    # in the background, where only its log would show it.
    proc = _run(["sbatch", "--test-only", *sbatch_args, "--wrap=true"])
    if proc.returncode != 0:
        lines = [l for l in (proc.stderr or proc.stdout).splitlines() if l.strip()]
        raise ExpError("sbatch refuses these arguments: " + ("; ".join(lines[:2]) or "no reason given"),
                       hint="check --sbatch-arg (and sinfo for partitions and limits)")


class _Array:
    def __init__(self, job: str, entries: list[str], output: str):
        self.job = job
        self.entries = entries          # array index -> entry id
        self.output = output            # sbatch's --output pattern
        self.left = set(range(len(entries)))

    def output_of(self, index: int) -> str:
        return self.output.replace("%A", self.job).replace("%a", str(index))


class SlurmEngine(Engine):
    name = "slurm"

    def __init__(self, repo: Repository, sbatch_args: list[str], jobs: int | None):
        self.folder = os.path.join(repo.exp_dir, "queue", "slurm")
        self.sbatch_args = list(sbatch_args)
        self.jobs = jobs
        self.arrays: list[_Array] = []
        self.last_poll = 0.0
        self.failing_since: float | None = None   # when squeue started failing

    def slots(self, jobs: int | None, running: int) -> int:
        return 1_000_000 if not running else 0   # one array at a time; -j throttles inside it

    def submit(self, tasks: list[Task]) -> dict[str, str]:
        os.makedirs(self.folder, exist_ok=True)
        token = time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        output = os.path.join(self.folder, f"{token}-%A_%a.out")
        text = sbatch.render_script([t.argv for t in tasks], job_name=f"git-exp-{token}",
                                    output=output, jobs=self.jobs)
        script = os.path.join(self.folder, f"{token}.sh")
        write_atomic(script, text, mode=0o755)
        proc = _run(["sbatch", "--parsable", *self.sbatch_args, script])
        if proc.returncode != 0:
            raise ExpError("sbatch refused the job: " + (proc.stderr.strip() or proc.stdout.strip()),
                           hint=f"the script is {script}")
        try:
            job = sbatch.parse_job_id(proc.stdout)
        except ValueError as exc:
            raise ExpError(str(exc)) from None
        self.arrays.append(_Array(job, [t.entry.id for t in tasks], output))
        return {t.entry.id: f"Slurm job {job}_{i}" for i, t in enumerate(tasks)}

    def _states(self, array: _Array, *extra: str) -> dict[int, str] | None:
        """Array index -> state of the tasks squeue lists, or None while it does not answer."""
        proc = _run(["squeue", "-h", "-r", "-j", array.job, "-o", "%i %T", *extra])
        if proc.returncode != 0:
            if "Invalid job id" in proc.stderr:
                return {}   # the whole job has left the controller's memory
            now = time.monotonic()
            if self.failing_since is None:
                self.failing_since = now
            elif now - self.failing_since > UNREACHABLE_SECONDS:
                raise ExpError(f"squeue has failed for {UNREACHABLE_SECONDS / 60:.0f} minutes: "
                               + (proc.stderr.strip() or f"exit code {proc.returncode}"),
                               hint="the jobs may still run; once Slurm answers, `git exp queue "
                                    "start --executor slurm` fetches their results")
            return None
        self.failing_since = None
        return sbatch.parse_squeue(proc.stdout, array.job)

    def wait(self, timeout: float) -> list[Ended]:
        pause = self.last_poll + POLL_SECONDS - time.monotonic()
        if pause > 0:
            time.sleep(min(pause, max(timeout, POLL_SECONDS)))
        self.last_poll = time.monotonic()
        ended = []
        for array in self.arrays:
            states = self._states(array)
            if states is None:
                continue   # no news is not an end: look again next time
            for index in sorted(array.left):
                if states.get(index) in ACTIVE:
                    continue
                array.left.discard(index)
                ended.append(Ended(array.entries[index], _read(array.output_of(index)),
                                   error=_why_ended(f"{array.job}_{index}")))
        self.arrays = [a for a in self.arrays if a.left]
        return ended

    def _tasks(self, entry_ids: set[str]) -> list[str]:
        return [f"{a.job}_{i}" for a in self.arrays for i in a.left if a.entries[i] in entry_ids]

    def kill(self, entry_ids: set[str]) -> None:
        # A running task: SIGTERM to the batch step alone, which is the
        # worker (see sbatch.py); it stops its stage, publishes the
        # interrupted run and exits. A plain scancel would signal every
        # process of the job, the worker's git pushes too, and lose the run.
        # A pending one has nothing to publish: cancelled outright.
        for array in self.arrays:
            mine = [i for i in sorted(array.left) if array.entries[i] in entry_ids]
            if not mine:
                continue
            states = self._states(array) or {}
            pending = [f"{array.job}_{i}" for i in mine if states.get(i) == "PENDING"]
            running = [f"{array.job}_{i}" for i in mine if states.get(i) != "PENDING"]
            if running:
                _run(["scancel", "--batch", "--signal=TERM", *running])
            if pending:
                _run(["scancel", *pending])

    def cancel_pending(self) -> list[str]:
        cancelled = []
        for array in self.arrays:
            states = self._states(array, "-t", "PENDING") or {}
            pending = [i for i, s in states.items() if i in array.left]
            if pending and _run(["scancel", *[f"{array.job}_{i}" for i in pending]]).returncode == 0:
                for i in pending:
                    array.left.discard(i)
                    cancelled.append(array.entries[i])
        self.arrays = [a for a in self.arrays if a.left]
        return cancelled


def _why_ended(task: str) -> str | None:
    """Why a task ended, as Slurm tells it; None if it no longer knows (MinJobAge passed).

    The dispatcher shows it only for an entry whose worker published nothing.
    """
    proc = _run(["scontrol", "-o", "show", "job", task])
    if proc.returncode != 0:
        return None
    why = sbatch.describe_end(sbatch.parse_scontrol(proc.stdout))
    return f"its worker ended without publishing a result: Slurm job {task} {why}" if why else None


def _read(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return f"(the task's output is not readable here: {path})\n"
