"""The text of a Slurm batch script, and reading what squeue and scontrol say: pure functions.

One script per batch of entries, submitted once as a job array: array
task i runs the worker command for entry i. The script is POSIX sh with
every value quoted, so any remote URL or path survives, and it `exec`s
`git-exp` itself (not `git exp`, which would leave git as the worker's
parent): the worker is the batch step, so a signal for the batch step
alone (`scancel --batch`, `--signal=B:...`) reaches it and nothing else.
It then stops its stage and publishes the interrupted run; a plain
scancel or a time limit would instead signal every process of the job at
once, git pushes included, and the run would be lost. So the script asks
for SIGTERM SIGNAL_SECONDS before a time limit, for the worker alone.
Tests check the text exactly.
"""
from __future__ import annotations

import shlex
from typing import Sequence

SIGNAL_SECONDS = 60


def array_spec(count: int, jobs: int | None) -> str:
    """sbatch's --array value: every index, at most JOBS running at once."""
    spec = f"0-{count - 1}"
    return spec + (f"%{jobs}" if jobs else "")


def render_script(argvs: list[list[str]], *, job_name: str, output: str, jobs: int | None,
                  command: Sequence[str] = ("git-exp", "exec-entry")) -> str:
    """The batch script: ARGVS[i] are the worker command's arguments for array task i.

    OUTPUT is sbatch's --output pattern (%A the job, %a the array index).
    """
    quoted = " ".join(shlex.quote(word) for word in command)
    lines = [
        "#!/bin/sh",
        "# Written by git-exp (git exp queue start --executor slurm): one array task per",
        "# queue entry, each running the worker command once (see git-exp-exec-entry(1)).",
        f"#SBATCH --job-name={job_name}",
        f"#SBATCH --array={array_spec(len(argvs), jobs)}",
        f"#SBATCH --output={output}",
        "#SBATCH --open-mode=append",
        f"#SBATCH --signal=B:TERM@{SIGNAL_SECONDS}",
        "set -eu",
        'case "${SLURM_ARRAY_TASK_ID:-}" in',
    ]
    for index, argv in enumerate(argvs):
        lines.append(f"{index}) set -- {' '.join(shlex.quote(a) for a in argv)} ;;")
    lines += [
        '*) echo "git-exp: array task \'${SLURM_ARRAY_TASK_ID:-}\' has no queue entry" >&2; exit 2 ;;',
        "esac",
        "# git-exp may be installed in Git's exec-path only (where `git exp` finds it).",
        'command -v git-exp >/dev/null 2>&1 || PATH="$(git --exec-path):$PATH"',
        f'exec {quoted} "$@"',
    ]
    return "\n".join(lines) + "\n"


def parse_job_id(stdout: str) -> str:
    """`sbatch --parsable` prints '<job id>' or '<job id>;<cluster>'."""
    first = stdout.strip().splitlines()[0] if stdout.strip() else ""
    job = first.split(";", 1)[0].strip()
    if not job.isdigit():
        raise ValueError(f"sbatch printed no job id: {stdout.strip()!r}")
    return job


def parse_squeue(stdout: str, job: str) -> dict[int, str]:
    """array index -> state, from `squeue -h -r -j JOB -o '%i %T'` lines like '123_4 RUNNING'.

    A pending range that squeue did not expand ('123_[5-9%2]') counts for
    each index in it.
    """
    found: dict[int, str] = {}
    for line in stdout.splitlines():
        ident, _, status = line.strip().partition(" ")
        head, sep, index = ident.partition("_")
        if head != job or not sep:
            continue
        if index.isdigit():
            found[int(index)] = status.strip()
        elif index.startswith("["):
            for part in index.strip("[]").split("%")[0].split(","):
                low, _, high = part.partition("-")
                if low.isdigit() and (high or low).isdigit():
                    for i in range(int(low), int(high or low) + 1):
                        found[i] = status.strip()
    return found


def parse_scontrol(stdout: str) -> dict[str, str]:
    """The KEY=VALUE fields of `scontrol -o show job TASK` (one line per job, first one)."""
    line = stdout.strip().splitlines()[0] if stdout.strip() else ""
    fields: dict[str, str] = {}
    for word in line.split(" "):
        key, sep, value = word.partition("=")
        if sep and key not in fields:   # later ones may repeat a key (a task's resources)
            fields[key] = value
    return fields


def describe_end(fields: dict[str, str]) -> str:
    """'FAILED (NonZeroExitCode, exit code 1)', 'CANCELLED (signal 15)', or '' if unknown."""
    status = fields.get("JobState", "")
    if not status:
        return ""
    details = []
    reason = fields.get("Reason", "None")
    if reason not in ("None", ""):
        details.append(reason)
    code, _, sig = fields.get("ExitCode", "0:0").partition(":")
    if code not in ("", "0"):
        details.append(f"exit code {code}")
    if sig not in ("", "0"):
        details.append(f"signal {sig}")
    return status + (f" ({', '.join(details)})" if details else "")
