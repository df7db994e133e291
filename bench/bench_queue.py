#!/usr/bin/env python3
"""The queue under load, and under fire. Prints figures; asserts nothing.

  1. drain: N (default 100) queued experiments of a quick shell stage, run by
     `git exp queue start -j J` (default 2). Prints the time to queue them,
     the wall time to drain, the stage's own time and the per-run overhead
     (wall x J / N - stage time), and checks that all N are recorded with an
     outcome, that no temporary checkout is left and that `git fsck --strict`
     is clean. --foreground uses `git exp run -j J -S ...` instead.
  2. --chaos: the same with a slower stage while workers are SIGKILLed at
     random moments (and restarted with `queue start`, which recovers their
     entries). Prints how many kills landed, how many entries were re-run,
     and whether any entry was lost or recorded twice.

    python3 bench/bench_queue.py [-n 100] [-j 2] [--foreground] [--chaos] [--kills 15] [--seed 1]
"""
from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from source_shim import write_shim  # noqa: E402 - bench/ is on sys.path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TRAIN = """\
#!/bin/sh
lr=$(sed -n 's/^ *lr: *//p' params.yaml)
[ -n "$BENCH_RUNS" ] && echo "start $GIT_EXP_NAME" >> "$BENCH_RUNS"
[ -n "$BENCH_SLEEP" ] && sleep "$BENCH_SLEEP"
echo "{\\"loss\\": $lr}" > metrics.json
[ -n "$BENCH_RUNS" ] && echo "done $GIT_EXP_NAME" >> "$BENCH_RUNS"
exit 0
"""

PIPELINE = """\
stages:
  train:
    cmd: sh train.sh
    deps: [train.sh]
    params: [train.lr]
    metrics:
      - metrics.json:
          cache: false
"""


def shim(folder: str) -> str:
    return write_shim(os.path.join(folder, "bin"))


def git(repo: str, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout


def exp(repo: str, env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["git", "exp", *args], cwd=repo, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and proc.returncode != 0:
        sys.exit(f"git exp {' '.join(args)} failed:\n{proc.stderr}")
    return proc


def make_repo(folder: str) -> str:
    repo = os.path.join(folder, "repo")
    os.makedirs(repo)
    git(repo, "init", "-q")
    for name, text in (("train.sh", TRAIN), ("exp.yaml", PIPELINE), ("params.yaml", "train:\n  lr: 0\n")):
        with open(os.path.join(repo, name), "w") as fh:
            fh.write(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")
    return repo


def engine_env(folder: str) -> dict:
    """The environment of the engine benches (Dask, Slurm): a git-exp of this tree on PATH,
    and this tree on PYTHONPATH for the workers' own imports."""
    return dict(os.environ, PATH=shim(folder) + os.pathsep + os.environ["PATH"], PYTHONPATH=ROOT)


def make_shared_repo(folder: str) -> tuple[str, str]:
    """make_repo's repository and a bare `origin` beside it that holds main: the shared
    remote an engine's workers fetch entries from and push results to."""
    repo = make_repo(folder)
    remote = os.path.join(folder, "remote.git")
    git(folder, "init", "-q", "--bare", remote)
    git(repo, "remote", "add", "origin", remote)
    git(repo, "push", "-q", "origin", "HEAD:refs/heads/main")
    return repo, remote


def refs(repo: str, prefix: str) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname)", prefix).split()


def live_workers(repo: str) -> list[int]:
    pids = []
    for path in glob.glob(os.path.join(repo, ".git", "exp", "queue", "workers", "*.json")):
        pid = int(os.path.basename(path)[:-5])
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] in "ZX":
                    continue
        except OSError:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
        pids.append(pid)
    return pids


def drained(repo: str) -> bool:
    return not refs(repo, "refs/exps-queue/") and not refs(repo, "refs/exps-running/")


def experiments(repo: str) -> list[dict]:
    out = git(repo, "for-each-ref", "--format=%(refname)%00%(contents)%01", "refs/exps/")
    found = []
    for record in out.split("\x01"):
        if "\x00" not in record:
            continue
        ref, message = record.strip("\n").split("\x00", 1)
        trailers = {}
        for line in message.strip().split("\n\n")[-1].splitlines():
            key, _, value = line.partition(": ")
            trailers.setdefault(key, value)
        found.append({"ref": ref, **trailers})
    return found


def failures(found: list[dict]) -> None:
    reasons = collections.Counter(e.get("Exp-Error", "(see its log)") for e in found
                                  if e.get("Exp-Status") != "success")
    for reason, count in reasons.most_common():
        print(f"    {count} not successful: {reason}")


def check_clean(repo: str) -> list[str]:
    problems = []
    worktrees = git(repo, "worktree", "list", "--porcelain").count("worktree ")
    if worktrees != 1:
        problems.append(f"{worktrees - 1} temporary worktrees left")
    left = os.listdir(os.path.join(repo, ".git", "exp", "tmp")) if os.path.isdir(
        os.path.join(repo, ".git", "exp", "tmp")) else []
    if left:
        problems.append(f"{len(left)} checkout folders left")
    fsck = subprocess.run(["git", "fsck", "--strict", "--no-dangling", "--no-progress"], cwd=repo,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if fsck.returncode != 0 or fsck.stdout.strip():
        problems.append("git fsck --strict: " + fsck.stdout.strip())
    return problems


def stage_time(repo: str, repeat: int = 20) -> float:
    scratch = tempfile.mkdtemp()
    try:
        for name in ("train.sh", "params.yaml"):
            shutil.copy(os.path.join(repo, name), scratch)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run(["sh", "-c", "sh train.sh"], cwd=scratch, check=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times)
    finally:
        shutil.rmtree(scratch)


def bench_drain(folder: str, env: dict, n: int, jobs: int, foreground: bool) -> None:
    repo = make_repo(folder)
    sweep = f"train.lr=range(0,{n})"
    print(f"drain: {n} experiments of a quick shell stage, -j {jobs}"
          + (" (run -j, foreground)" if foreground else " (run --queue, then queue start)"))
    if foreground:
        start = time.perf_counter()
        exp(repo, env, "run", "-j", str(jobs), "-S", sweep, check=False)
        wall = time.perf_counter() - start
        queued = None
    else:
        start = time.perf_counter()
        exp(repo, env, "run", "--queue", "-S", sweep)
        queued = time.perf_counter() - start
        start = time.perf_counter()
        exp(repo, env, "queue", "start", "-j", str(jobs))
        while not drained(repo) or live_workers(repo):
            time.sleep(0.05)
        wall = time.perf_counter() - start
    found = experiments(repo)
    states = collections.Counter(e.get("Exp-Status", "?") for e in found)
    stage = stage_time(repo)
    pipeline = statistics.median(float(e.get("Exp-Duration", 0)) for e in found) if found else 0.0
    if queued is not None:
        print(f"  queue {n} entries (one commit each)      {queued:7.2f} s   ({queued / n * 1000:.1f} ms each)")
    print(f"  drain wall time                          {wall:7.2f} s   ({n / wall:.1f} runs/s)")
    print(f"  stage alone (sh train.sh), median        {stage * 1000:7.1f} ms")
    print(f"  pipeline inside the run, median          {pipeline * 1000:7.1f} ms   (Exp-Duration)")
    print(f"  per-run overhead (wall x {jobs} / {n} - stage) {(wall * jobs / n - stage) * 1000:7.1f} ms")
    print(f"  recorded: {len(found)} of {n}: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
    failures(found)
    problems = check_clean(repo)
    print("  clean: " + ("yes (one worktree, no checkout left, fsck --strict clean)"
                         if not problems else "; ".join(problems)))


def bench_chaos(folder: str, env: dict, n: int, jobs: int, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    repo = make_repo(folder)
    runs = os.path.join(folder, "runs.txt")
    env = dict(env, BENCH_RUNS=runs, BENCH_SLEEP="0.2")
    print(f"chaos: {n} experiments (0.2 s stage), -j {jobs}, up to {kills} SIGKILLs of a random "
          f"worker at random moments (seed {seed})")
    exp(repo, env, "run", "--queue", "-S", f"train.lr=range(0,{n})")
    ids = {r.rsplit("/", 1)[1] for r in refs(repo, "refs/exps-queue/")}
    start = time.perf_counter()
    exp(repo, env, "queue", "start", "-j", str(jobs))
    landed = restarts = 0
    while True:
        if drained(repo) and not live_workers(repo):
            break
        time.sleep(rng.uniform(0.05, 0.6))
        workers = live_workers(repo)
        if landed < kills and workers:
            os.kill(rng.choice(workers), signal.SIGKILL)
            landed += 1
        # What a user does after a crash: start again (it recovers the dead worker's entry).
        if len(live_workers(repo)) < jobs and not drained(repo):
            exp(repo, env, "queue", "start", "-j", str(jobs))
            restarts += 1
    wall = time.perf_counter() - start
    found = experiments(repo)
    per_id = collections.Counter(e.get("Exp-Queue-Id") for e in found)
    lost = sorted(ids - set(per_id))
    twice = sorted(i for i, c in per_id.items() if c > 1)
    states = collections.Counter(e.get("Exp-Status", "?") for e in found)
    with open(runs) as fh:
        lines = fh.read().split("\n")
    starts = collections.Counter(l[6:] for l in lines if l.startswith("start "))
    completions = collections.Counter(l[5:] for l in lines if l.startswith("done "))
    rerun = sum(1 for c in starts.values() if c > 1)
    stage_twice = sum(1 for c in completions.values() if c > 1)
    status = exp(repo, env, "queue", "status").stdout
    attempts = collections.Counter()
    for path in glob.glob(os.path.join(repo, ".git", "exp", "queue", "*.json")):
        with open(path) as fh:
            attempts[json.load(fh).get("attempt")] += 1
    print(f"  wall time                                {wall:7.2f} s")
    print(f"  SIGKILLs landed                          {landed:7d}   (queue start run {restarts} times)")
    print(f"  entries whose stage started more than once {rerun:5d}   (re-queued after a kill)")
    print(f"  entries whose stage finished twice       {stage_twice:7d}   (the orphaned stage of a "
          "killed worker ran on; never recorded)")
    print("  attempts per entry: " + ", ".join(f"{k}: {v}" for k, v in sorted(attempts.items())))
    print(f"  recorded: {len(found)} experiments for {len(ids)} entries: "
          + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
    failures(found)
    print(f"  lost: {len(lost)}{' ' + str(lost[:5]) if lost else ''}   recorded twice: {len(twice)}"
          f"{' ' + str(twice[:5]) if twice else ''}   still listed as running: "
          f"{status.count(' running ')}")
    problems = check_clean(repo)
    print("  clean: " + ("yes (one worktree, no checkout left, fsck --strict clean)"
                         if not problems else "; ".join(problems)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=100, help="experiments (default 100)")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="workers (default 2)")
    parser.add_argument("--foreground", action="store_true", help="drain with run -j instead of queue start")
    parser.add_argument("--chaos", action="store_true", help="also SIGKILL workers at random")
    parser.add_argument("--chaos-n", type=int, default=40, help="experiments in the chaos run (default 40)")
    parser.add_argument("--kills", type=int, default=15, help="SIGKILLs in the chaos run (default 15)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-queue-")
    home = os.path.join(folder, "home")
    os.makedirs(home)
    env = dict(os.environ, HOME=home, GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="Bench",
               GIT_AUTHOR_EMAIL="bench@example.com", GIT_COMMITTER_NAME="Bench",
               GIT_COMMITTER_EMAIL="bench@example.com",
               PATH=shim(folder) + os.pathsep + os.environ["PATH"])
    os.environ.update({k: env[k] for k in ("HOME", "GIT_CONFIG_NOSYSTEM", "GIT_AUTHOR_NAME",
                                          "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")})
    try:
        bench_drain(os.path.join(folder, "drain"), env, args.n, args.jobs, args.foreground)
        if args.chaos:
            bench_chaos(os.path.join(folder, "chaos"), env, args.chaos_n, args.jobs, args.kills, args.seed)
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
