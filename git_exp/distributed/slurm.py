"""Slurm as an engine: one `sbatch --array` per batch of entries, no Python dependency.

Submitting, cancelling and watching go through Slurm's own commands
(sbatch, scancel, squeue), so whatever the user's cluster needs for them
works as it does in their shell. An array task that left squeue has ended;
its result is on the remote or it has none. The scripts and their tasks'
output files stay under <exp_dir>/queue/slurm/ (the output is read back as
the entry's log when the compute node shares this file system).
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

POLL_SECONDS = 2.0
ACTIVE = ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED",
          "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED")


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except FileNotFoundError:
        raise ExpError(f"{argv[0]} is not on PATH: the Slurm executor needs Slurm's commands",
                       hint="run this on a machine that submits to your Slurm cluster") from None


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

    def __init__(self, repo, sbatch_args: list[str], jobs: int | None):
        self.folder = os.path.join(repo.exp_dir, "queue", "slurm")
        self.sbatch_args = list(sbatch_args)
        self.jobs = jobs
        self.arrays: list[_Array] = []
        self.last_poll = 0.0

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

    def _states(self, array: _Array, *extra: str) -> dict[int, str]:
        proc = _run(["squeue", "-h", "-r", "-j", array.job, "-o", "%i %T", *extra])
        if proc.returncode != 0:
            if "Invalid job id" in proc.stderr:
                return {}   # the whole job has left the controller's memory
            raise ExpError("squeue failed: " + proc.stderr.strip())
        return sbatch.parse_squeue(proc.stdout, array.job)

    def wait(self, timeout: float) -> list[Ended]:
        pause = self.last_poll + POLL_SECONDS - time.monotonic()
        if pause > 0:
            time.sleep(min(pause, max(timeout, POLL_SECONDS)))
        self.last_poll = time.monotonic()
        ended = []
        for array in self.arrays:
            states = self._states(array)
            for index in sorted(array.left):
                if states.get(index) in ACTIVE:
                    continue
                array.left.discard(index)
                ended.append(Ended(array.entries[index], _read(array.output_of(index))))
        self.arrays = [a for a in self.arrays if a.left]
        return ended

    def _tasks(self, entry_ids: set[str]) -> list[str]:
        return [f"{a.job}_{i}" for a in self.arrays for i in a.left if a.entries[i] in entry_ids]

    def kill(self, entry_ids: set[str]) -> None:
        # SIGTERM first: the worker publishes the interrupted run before
        # Slurm's KillWait ends in SIGKILL.
        targets = self._tasks(entry_ids)
        if targets:
            _run(["scancel", *targets])

    def cancel_pending(self) -> list[str]:
        cancelled = []
        for array in self.arrays:
            pending = [i for i, s in self._states(array, "-t", "PENDING").items() if i in array.left]
            if pending and _run(["scancel", *[f"{array.job}_{i}" for i in pending]]).returncode == 0:
                for i in pending:
                    array.left.discard(i)
                    cancelled.append(array.entries[i])
        self.arrays = [a for a in self.arrays if a.left]
        return cancelled


def _read(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return f"(the task's output is not readable here: {path})\n"
