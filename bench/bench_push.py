#!/usr/bin/env python3
"""Sharing 50 experiments with data: `git exp push` beside a plain `git push` of the same refs.

Prints figures; asserts nothing. In a fresh repository under a temp folder,
`git exp run` records N experiments (default 50) whose stage writes a
model file of --size KiB (different bytes in each). Then, each against a
fresh bare repository used by local path (its data remote is then its own
exp/cache), repeated --repeat times:

  1. `git exp push -A origin`: refs plus every experiment's data (cold);
  2. the same again, when everything is up to date;
  3. plain `git push origin 'refs/exps/*:refs/exps/*'` without hooks: refs only;
  4. the same plain push with the pre-push hook installed (`git exp install`,
     when it exists): refs plus data through the hook;
  5. the hook's cost on a code-only push (`git push --dry-run` of one commit
     that changes no data file), hook vs --no-verify;
  6. `git exp pull -A origin` into a fresh clone (refs plus data).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from source_shim import write_shim  # noqa: E402 - bench/ is on sys.path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TRAIN = """\
import os, re, random
lr = float(re.search(r"lr: *([0-9.e-]+)", open("params.yaml").read()).group(1))
rng = random.Random(lr)
open("model.bin", "wb").write(bytes(rng.getrandbits(8) for _ in range({size})))
open("metrics.json", "w").write('{{"loss": %s}}' % lr)
"""

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py]
    params: [train.lr]
    outs: [model.bin]
    metrics:
      - metrics.json:
          cache: false
"""


def environment(folder: str) -> dict:
    bin_dir = write_shim(os.path.join(folder, "bin"))
    home = os.path.join(folder, "home")
    os.makedirs(home)
    env = dict(os.environ, HOME=home, GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="Bench",
               GIT_AUTHOR_EMAIL="bench@example.com", GIT_COMMITTER_NAME="Bench",
               GIT_COMMITTER_EMAIL="bench@example.com", PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_EXP_DATA_SENT"):
        env.pop(name, None)
    subprocess.run(["git", "config", "--global", "init.defaultBranch", "main"], env=env, check=True)
    return env


def run(args, cwd, env, check=True) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, check=check, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def timed(args, cwd, env) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = run(args, cwd, env)
    return time.perf_counter() - start, proc


def fresh_remote(folder: str, name: str, repo: str, env: dict) -> str:
    path = os.path.join(folder, name)
    shutil.rmtree(path, ignore_errors=True)
    run(["git", "init", "-q", "--bare", path], folder, env)
    run(["git", "push", "-q", path, "main"], repo, env)
    return path


def report(label: str, runs: list[float], extra: str = "") -> None:
    print(f"{label:<62} median {statistics.median(runs):7.3f} s   min {min(runs):7.3f}   "
          f"max {max(runs):7.3f}{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--experiments", type=int, default=50)
    parser.add_argument("--size", type=int, default=256, help="KiB of model data per experiment")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    opts = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="bench-push-")
    try:
        env = environment(folder)
        repo = os.path.join(folder, "repo")
        run(["git", "init", "-q", repo], folder, env)
        with open(os.path.join(repo, "train.py"), "w") as fh:
            fh.write(TRAIN.format(size=opts.size * 1024))
        with open(os.path.join(repo, "params.yaml"), "w") as fh:
            fh.write("train:\n  lr: 0.0\n")
        with open(os.path.join(repo, "exp.yaml"), "w") as fh:
            fh.write(PIPELINE)
        run(["git", "add", "-A"], repo, env)
        run(["git", "commit", "-qm", "pipeline"], repo, env)
        start = time.perf_counter()
        for i in range(opts.experiments):
            run(["git", "exp", "run", "-S", f"train.lr={i + 1}", "-n", f"exp-{i:03d}"], repo, env)
        print(f"setup: {opts.experiments} experiments of {opts.size} KiB each recorded in "
              f"{time.perf_counter() - start:.1f} s (git {run(['git', '--version'], repo, env).stdout.split()[-1]})")

        exp_push, again, plain, hooked, pulls = [], [], [], [], []
        sent_line = ""
        for r in range(opts.repeat):
            origin = fresh_remote(folder, "origin.git", repo, env)
            seconds, proc = timed(["git", "exp", "push", "-A", origin], repo, env)
            exp_push.append(seconds)
            sent_line = next((l for l in proc.stdout.splitlines() if l.startswith("Sent")), "")
            again.append(timed(["git", "exp", "push", "-A", origin], repo, env)[0])
            clone = os.path.join(folder, f"clone{r}")
            run(["git", "clone", "-q", origin, clone], folder, env)
            pulls.append(timed(["git", "exp", "pull", "-A", "origin"], clone, env)[0])
            other = fresh_remote(folder, "plain.git", repo, env)
            plain.append(timed(["git", "push", "-q", other, "refs/exps/*:refs/exps/*"], repo, env)[0])
        report(f"1. git exp push -A ({opts.experiments} refs + data, cold)", exp_push, f"   [{sent_line}]")
        report("2. git exp push -A again (up to date)", again)
        report("3. plain git push 'refs/exps/*' (refs only, no hook)", plain)

        installed = run(["git", "exp", "install"], repo, env, check=False)
        if installed.returncode == 0:
            for _ in range(opts.repeat):
                target = fresh_remote(folder, "hooked.git", repo, env)
                hooked.append(timed(["git", "push", "-q", target, "refs/exps/*:refs/exps/*"], repo, env)[0])
            report("4. plain git push 'refs/exps/*' + pre-push hook (refs + data)", hooked)
            target = fresh_remote(folder, "code.git", repo, env)
            with open(os.path.join(repo, "README.md"), "w") as fh:
                fh.write("code only\n")
            run(["git", "add", "README.md"], repo, env)
            run(["git", "commit", "-qm", "docs"], repo, env)
            with_hook = [timed(["git", "push", "--dry-run", "-q", target, "main"], repo, env)[0]
                         for _ in range(opts.repeat * 3)]
            without = [timed(["git", "push", "--dry-run", "--no-verify", "-q", target, "main"], repo, env)[0]
                       for _ in range(opts.repeat * 3)]
            report("5. code-only push --dry-run, with the pre-push hook", with_hook)
            report("   the same with --no-verify (no hook)", without)
        else:
            print("4-5. skipped: `git exp install` is not available "
                  f"({installed.stderr.strip().splitlines()[0] if installed.stderr.strip() else 'failed'})")
        report("6. git exp pull -A into a fresh clone (refs + data)", pulls)
    finally:
        if opts.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
