#!/usr/bin/env python3
"""Per-experiment overhead of the Slurm path against the local queue. Prints figures; asserts nothing.

N (default 6) queued experiments of a quick shell stage, run twice with J
(default 2) at a time:

  local  `git exp queue start -j J`: workers on this machine;
  slurm  `git exp queue start --executor slurm -j J`: one `sbatch --array`
         of N tasks (at most J at once), a bare repository as the shared
         remote; each task runs `git exp exec-entry` (fresh shallow clone,
         claim, run, push), and the dispatcher polls squeue and pulls each
         result back.

For each: wall time from `queue start` until the queue is drained, the
stage's median time (Exp-Duration) and the per-experiment overhead
(wall x J / N - stage time). For Slurm, also when each array task started
and ended as Slurm saw it (scontrol, while it still remembers the job):
how long the first task waited for the scheduler, and how long the
dispatcher took after the last task ended (its squeue poll and the pull).

Needs a working Slurm whose node shares this file system (as root:
sh bench/slurm/setup-single-node.sh).

    python3 bench/slurm/bench_slurm.py [-n 6] [-j 2]
"""
from __future__ import annotations

import argparse
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, BENCH)
from bench_dask import report  # noqa: E402
from bench_queue import ROOT, engine_env, exp, experiments, git, live_workers, make_shared_repo  # noqa: E402


def drain(repo: str, env: dict, n: int, jobs: int, name: str, *executor: str) -> tuple[float, float, list[dict]]:
    exp(repo, env, "run", "--queue", "-S", "train.lr=" + ",".join(str(i) for i in range(n)), "-n", name)
    started_wall, started = time.time(), time.monotonic()
    exp(repo, env, "queue", "start", *executor, "-j", str(jobs))
    while git(repo, "for-each-ref", "refs/exps-queue/", "refs/exps-running/") or live_workers(repo):
        time.sleep(0.05)
    wall = time.monotonic() - started
    return wall, started_wall, [e for e in experiments(repo) if e.get("Exp-Name", "").startswith(name + "-")]


def slurm_times(repo: str) -> list[tuple[float, float]]:
    """(start, end) of every array task git-exp submitted from REPO, as epoch seconds."""
    folder = os.path.join(repo, ".git", "exp", "queue", "slurm")
    found = []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".out"):
            continue
        task = name[:-4].rsplit("-", 1)[1]          # <token>-<job>_<index>.out
        out = subprocess.run(["scontrol", "-o", "show", "job", task], capture_output=True,
                             text=True).stdout
        fields = dict(w.split("=", 1) for w in out.split() if "=" in w)
        if "StartTime" in fields and "EndTime" in fields:
            found.append(tuple(datetime.datetime.fromisoformat(fields[k]).timestamp()
                               for k in ("StartTime", "EndTime")))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=6)
    parser.add_argument("-j", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("sbatch") is None or subprocess.run(["sinfo", "-h"], capture_output=True).returncode:
        raise SystemExit("needs a working Slurm (as root: sh bench/slurm/setup-single-node.sh)")
    folder = tempfile.mkdtemp(prefix="bench-slurm-")
    try:
        env = engine_env(folder)
        repo, _ = make_shared_repo(folder)
        print(f"{args.n} quick experiments, {args.j} at a time, git-exp from {ROOT}")
        wall, _, found = drain(repo, env, args.n, args.j, "local")
        local = report("local", wall, found, args.n, args.j)
        wall, began, found = drain(repo, env, args.n, args.j, "slurm", "--executor", "slurm")
        slurm = report("slurm", wall, found, args.n, args.j)
        print(f"  the Slurm path costs {(slurm - local) * 1000:.0f} ms more per experiment "
              f"({slurm / local:.1f}x the local queue's overhead)")
        times = slurm_times(repo)
        if times:
            first = min(s for s, _ in times)
            last = max(e for _, e in times)
            runs = sorted(e - s for s, e in times)
            print(f"  Slurm's view (whole seconds): first task started {first - began:4.0f} s after "
                  f"`queue start`, tasks ran {runs[0]:.0f}-{runs[-1]:.0f} s each, "
                  f"the queue drained {began + wall - last:4.1f} s after the last one ended")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
