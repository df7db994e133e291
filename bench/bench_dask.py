#!/usr/bin/env python3
"""Per-experiment overhead of the Dask path against the local queue. Prints figures; asserts nothing.

N (default 50) queued experiments of a quick shell stage, run twice with J
(default 2) workers:

  local  `git exp queue start -j J`: workers on this machine, each entry in a
         temporary worktree of the repository, sharing its cache;
  dask   `git exp queue work --executor dask://...`: a real `dask scheduler`
         and J single-thread `dask worker` processes on 127.0.0.1, a bare
         repository as the shared remote; each entry is pushed, fetched into
         a fresh shallow clone by `git exp exec-entry`, claimed on the remote,
         checked out, run, and its result pushed and pulled back.

For each: wall time, the stage's own median time (Exp-Duration) and the
per-experiment overhead (wall x J / N - stage time). Then the Git steps of
one Dask attempt timed alone on this repository (shallow fetch, checkout,
claim push, result push), the parts the local queue does not have.
Needs `distributed` (pip install '.[dask]').

    python3 bench/bench_dask.py [-n 50] [-j 2]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_queue import ROOT, engine_env, exp, experiments, git, live_workers, make_shared_repo  # noqa: E402


def median_stage(found: list[dict]) -> float:
    return statistics.median(float(e.get("Exp-Duration", 0)) for e in found)


def report(label: str, wall: float, found: list[dict], n: int, jobs: int) -> float:
    ok = sum(1 for e in found if e.get("Exp-Status") == "success")
    stage = median_stage(found) if found else 0.0
    overhead = wall * jobs / n - stage
    print(f"  {label:<6} {wall:7.2f} s wall   {ok}/{n} succeeded   stage {stage * 1000:6.1f} ms   "
          f"overhead {overhead * 1000:7.1f} ms per experiment")
    return overhead


def run_local(repo: str, env: dict, n: int, jobs: int) -> tuple[float, list[dict]]:
    exp(repo, env, "run", "--queue", "-S", "train.lr=" + ",".join(str(i) for i in range(n)),
        "-n", "local")
    started = time.monotonic()
    exp(repo, env, "queue", "start", "-j", str(jobs))
    while git(repo, "for-each-ref", "refs/exps-queue/", "refs/exps-running/") or live_workers(repo):
        time.sleep(0.05)
    wall = time.monotonic() - started
    return wall, [e for e in experiments(repo) if e.get("Exp-Name", "").startswith("local-")]


def start_cluster(folder: str, jobs: int, env: dict) -> tuple[str, list[subprocess.Popen]]:
    procs = []

    def launch(*args: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=folder, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        procs.append(proc)
        return proc

    scheduler_file = os.path.join(folder, "scheduler.json")
    launch("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
           "--scheduler-file", scheduler_file)
    deadline = time.monotonic() + 30
    while not os.path.exists(scheduler_file):
        if time.monotonic() > deadline:
            raise SystemExit("the Dask scheduler did not start")
        time.sleep(0.05)
    with open(scheduler_file) as fh:
        address = json.load(fh)["address"]
    for _i in range(jobs):
        launch("worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
               "--host", "127.0.0.1", "--local-directory", folder)
    from distributed import Client
    with Client(address, timeout="30s") as client:
        client.wait_for_workers(jobs, timeout=30)
    return address, procs


def run_dask(repo: str, env: dict, n: int, jobs: int, address: str) -> tuple[float, list[dict]]:
    exp(repo, env, "run", "--queue", "-S", "train.lr=" + ",".join(str(i) for i in range(n)),
        "-n", "dask")
    started = time.monotonic()
    exp(repo, env, "queue", "work", "--executor", "dask://" + address[len("tcp://"):],
        "-j", str(jobs))
    wall = time.monotonic() - started
    return wall, [e for e in experiments(repo) if e.get("Exp-Name", "").startswith("dask-")]


def timed(argv: list[str], cwd: str, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def git_steps(repo: str, remote: str, folder: str) -> None:
    """The Git side of one Dask attempt, each step alone (median of 5)."""
    exp(repo, dict(os.environ), "run", "--queue", "-S", "train.lr=7", "-n", "steps")
    entry = git(repo, "for-each-ref", "--format=%(refname:lstrip=2)", "refs/exps-queue/").split()[0]
    ref = f"refs/exps-queue/{entry}"
    git(repo, "push", "-q", remote, f"{ref}:{ref}")
    sha = git(repo, "rev-parse", ref).strip()
    clones = []

    def fresh() -> str:
        path = tempfile.mkdtemp(dir=folder)
        git(path, "init", "-q")
        clones.append(path)
        return path

    fetch = []
    for _ in range(5):
        clone = fresh()
        started = time.perf_counter()
        git(clone, "fetch", "-q", "--no-tags", "--depth=2", remote, f"+{ref}:{ref}")
        fetch.append(time.perf_counter() - started)
    clone = clones[-1]
    checkout = timed(["git", "-c", "core.hooksPath=/dev/null", "checkout", "-q", "--detach", sha], clone)
    pushes = []
    for i in range(5):
        started = time.perf_counter()
        git(clone, "push", "-q", remote, f"{sha}:refs/bench-push/{i}")
        pushes.append(time.perf_counter() - started)
    for i in range(5):
        git(remote, "update-ref", "-d", f"refs/bench-push/{i}")
    print("  one Dask attempt's Git steps, each alone (median of 5):")
    print(f"    shallow fetch of the entry    {statistics.median(fetch) * 1000:6.1f} ms")
    print(f"    checkout                      {checkout * 1000:6.1f} ms")
    print(f"    push (claim, then result)     {statistics.median(pushes) * 1000:6.1f} ms each")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50)
    parser.add_argument("-j", type=int, default=2)
    args = parser.parse_args()
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise SystemExit("needs distributed: pip install '.[dask]'") from None
    folder = tempfile.mkdtemp(prefix="bench-dask-")
    procs: list[subprocess.Popen] = []
    try:
        env = engine_env(folder)
        os.environ.update(PATH=env["PATH"], PYTHONPATH=ROOT)
        repo, remote = make_shared_repo(folder)
        print(f"{args.n} quick experiments, {args.j} workers, git-exp from {ROOT}")
        wall, found = run_local(repo, env, args.n, args.j)
        local = report("local", wall, found, args.n, args.j)
        address, procs = start_cluster(folder, args.j, env)
        wall, found = run_dask(repo, env, args.n, args.j, address)
        dask = report("dask", wall, found, args.n, args.j)
        print(f"  the Dask path costs {(dask - local) * 1000:.0f} ms more per experiment "
              f"({dask / local:.1f}x the local queue's overhead)")
        git_steps(repo, remote, folder)
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
