#!/usr/bin/env python3
"""Overhead of `git exp run` around stages that do (almost) nothing.

Prints figures; asserts nothing. Three workloads, each in a fresh repository
under a temp folder:

  1. a repo with 3,000 tracked files and one stage whose command is `true`:
     the first run, then a no-op run (nothing changed), then `run -S`;
  2. the bundled example project: `run -S train.epochs=N` (a real stage);
  3. a pipeline whose dep is a folder of 10,000 files: the no-op check
     (`run --dry`) cold (empty stat memo) and warm.

The goal from the issues: under 0.3 s of overhead around a stage, and a warm
no-op check under 0.3 s for 10,000 dep files.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from source_shim import write_shim  # noqa: E402 - bench/ is on sys.path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def shim(folder: str) -> str:
    return write_shim(os.path.join(folder, "bin"))


def sh(args, cwd, env=None) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def git_repo(path: str) -> None:
    os.makedirs(path)
    subprocess.run(["git", "init", "-q", path], check=True)


def commit(path: str) -> None:
    subprocess.run(["git", "add", "-A"], cwd=path, check=True)
    subprocess.run(["git", "commit", "-qm", "baseline"], cwd=path, check=True)


def git_calls(args, cwd, env) -> int:
    """How many times `git-exp ARGS...` starts `git`: one untimed run with a
    counting `git` first on PATH (git-exp itself, not through `git exp`: Git's
    dispatch puts its own exec-path first)."""
    real = shutil.which("git", path=env["PATH"])
    folder = tempfile.mkdtemp(prefix="git-count-")
    log = os.path.join(folder, "calls")
    with open(os.path.join(folder, "git"), "w") as fh:
        fh.write(f"#!/bin/sh\necho >> '{log}'\nexec '{real}' \"$@\"\n")
    os.chmod(os.path.join(folder, "git"), 0o755)
    try:
        subprocess.run(args, cwd=cwd, env=dict(env, PATH=folder + os.pathsep + env["PATH"]),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(log) as fh:
            return len(fh.readlines())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def median_of(fn, repeat: int) -> tuple[float, float, float]:
    runs = [fn(i) for i in range(repeat)]
    return statistics.median(runs), min(runs), max(runs)


def line(label: str, figures) -> None:
    med, lo, hi = figures
    print(f"{label:<58} median {med:6.3f} s   min {lo:6.3f}   max {hi:6.3f}")


def bench_trivial(folder: str, env: dict, repeat: int, files: int) -> None:
    repo = os.path.join(folder, "trivial")
    git_repo(repo)
    for i in range(files):
        sub = os.path.join(repo, "src", f"d{i // 100}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"f{i}.txt"), "w") as fh:
            fh.write(f"file {i}\n")
    with open(os.path.join(repo, "params.yaml"), "w") as fh:
        fh.write("lr: 0.1\n")
    with open(os.path.join(repo, "exp.yaml"), "w") as fh:
        fh.write("stages:\n  noop:\n    cmd: 'true'\n    deps: [src/d0]\n    params: [lr]\n")
    commit(repo)
    bare = median_of(lambda i: sh(["true"], repo), repeat)
    line("the stage's own command (`true`)", bare)
    line(f"first `git exp run` ({files:,} tracked files)",
         median_of(lambda i: sh(["git", "exp", "run", "-f", "-n", f"first-{i}"], repo, env), repeat))
    line("no-op `git exp run` (nothing changed)",
         median_of(lambda i: sh(["git", "exp", "run", "-n", f"noop-{i}"], repo, env), repeat))
    line("`git exp run -S lr=...` (the stage runs)",
         median_of(lambda i: sh(["git", "exp", "run", "-S", f"lr=0.{i + 2}", "-n", f"set-{i}"],
                                repo, env), repeat))
    print(f"{'  git calls: no-op run, run -S (auto-named)':<58} "
          f"{git_calls(['git-exp', 'run'], repo, env)}, "
          f"{git_calls(['git-exp', 'run', '-S', 'lr=0.95'], repo, env)}")


def bench_example(folder: str, env: dict, repeat: int) -> None:
    repo = os.path.join(folder, "example")
    subprocess.run(["git", "exp", "init", "--example", repo], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sh(["git", "exp", "run", "-n", "warmup"], repo, env)
    stage = median_of(lambda i: sh([sys.executable, "src/train.py"], repo), repeat)
    line("example: `python3 src/train.py` alone", stage)
    run = median_of(lambda i: sh(["git", "exp", "run", "-S", f"train.epochs={30 + i}",
                                  "-n", f"ep-{i}"], repo, env), repeat)
    line("example: `git exp run -S train.epochs=N`", run)
    print(f"{'  overhead (median difference)':<58} {run[0] - stage[0]:6.3f} s")


def bench_big_dep(folder: str, env: dict, repeat: int, files: int) -> None:
    repo = os.path.join(folder, "bigdep")
    git_repo(repo)
    data = os.path.join(repo, "data")
    os.makedirs(data)
    for i in range(files):
        with open(os.path.join(data, f"{i:05d}.bin"), "wb") as fh:
            fh.write(os.urandom(4096))
    with open(os.path.join(repo, ".gitignore"), "w") as fh:
        fh.write("/data\n")
    with open(os.path.join(repo, "exp.yaml"), "w") as fh:
        fh.write("stages:\n  count:\n    cmd: ls data | wc -l > count.txt\n    deps: [data]\n"
                 "    outs: [{count.txt: {cache: false}}]\n")
    commit(repo)
    sh(["git", "exp", "run", "-n", "first"], repo, env)
    state = os.path.join(repo, ".git", "exp", "state.db")
    time.sleep(2.1)  # the memo trusts only files older than its 2 s window

    def cold(i):
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(state + suffix):
                os.unlink(state + suffix)
        return sh(["git", "exp", "run", "--dry"], repo, env)

    line(f"no-op check, dep of {files:,} files, cold memo", median_of(cold, repeat))
    sh(["git", "exp", "run", "--dry"], repo, env)
    line(f"no-op check, dep of {files:,} files, warm memo",
         median_of(lambda i: sh(["git", "exp", "run", "--dry"], repo, env), repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--files", type=int, default=3000, help="tracked files in the trivial repo")
    parser.add_argument("--dep-files", type=int, default=10000, help="files in the big dep")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-run-")
    env = dict(os.environ, PATH=shim(folder) + os.pathsep + os.environ["PATH"])
    # Measure as installed: pip compiles bytecode, so importing must not recompile.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    try:
        bench_trivial(folder, env, args.repeat, args.files)
        bench_example(folder, env, args.repeat)
        bench_big_dep(folder, env, args.repeat, args.dep_files)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
