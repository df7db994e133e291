"""How fast is `git exp show` with many experiments? Prints seconds and peak memory.

    python3 bench/bench_show.py                 # N = 100, 1,000, 10,000
    python3 bench/bench_show.py --sizes 1000 --repeat 5
    python3 bench/bench_show.py --readers       # also: cat-file vs Dulwich

For each N a repository is generated with `git fast-import` (no pipeline is
run): one baseline commit and N experiment commits under refs/exps/, each
with its own params.yaml and metrics.json, refs packed as `git gc` leaves
them. Then `git exp show` and `git exp show --json` are timed cold (memo
deleted), warm (nothing changed: the stored output answers) and warm after
a ref moved (a new ref: each commit read from its memo, the table made
again), each in a fresh process, as a user runs them; output goes
to /dev/null; then `git_exp.api.experiments()` the same way (it returns
the rows of show --json, through the same memo). Peak memory is the largest resident set of that process and
its children (getrusage of children, measured in a wrapper process).

Goals (issue 5): 10,000 warm under 1 s; 1,000 cold under 2 s. Issue 20:
10,000 warm at most 150 ms and 150 MiB.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py]
    params: [train.lr, train.epochs, model]
    outs: [model.bin]
    metrics:
      - metrics.json:
          cache: false
"""

ENV = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
       "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
       "GIT_CONFIG_NOSYSTEM": "1"}


def params_text(i: int) -> str:
    return (f"train:\n  lr: {0.001 * (1 + i % 97):.6g}\n  epochs: {1 + i % 20}\n"
            f"  batch: {2 ** (4 + i % 4)}\nmodel:\n  units: {16 * (1 + i % 8)}\n"
            f"  dropout: {0.05 * (i % 9):.2f}\n  name: net-{i % 5}\n")


def metrics_text(i: int) -> str:
    return (f'{{"accuracy": {0.5 + (i * 7919 % 5000) / 10000:.4f}, '
            f'"loss": {1.0 / (1 + i % 113):.5f}, "epoch_time": {1 + i % 7}.5}}\n')


def git(args, cwd, data: bytes | None = None) -> str:
    env = dict(os.environ, **ENV)
    proc = subprocess.run(["git", *args], cwd=cwd, input=data, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    return proc.stdout.decode().strip()


def generate(path: str, n: int) -> str:
    os.makedirs(path)
    git(["init", "-q", "-b", "main"], path)
    for name, text in (("exp.yaml", PIPELINE), ("params.yaml", params_text(0)),
                       ("metrics.json", metrics_text(0)), ("train.py", "print('train')\n"),
                       (".gitignore", "/model.bin\n")):
        with open(os.path.join(path, name), "w") as fh:
            fh.write(text)
    # Written a while ago, as a user's files are: the workspace memo only vouches for
    # files older than its racy window (show/workmemo.py).
    old = time.time() - 60
    for name in ("exp.yaml", "params.yaml", "metrics.json", "train.py", ".gitignore"):
        os.utime(os.path.join(path, name), (old, old))
    git(["add", "-A"], path)
    git(["commit", "-q", "-m", "baseline"], path)
    base = git(["rev-parse", "HEAD"], path)
    start = int(time.time()) - n
    chunks = []
    for i in range(n):
        p, m = params_text(i + 1).encode(), metrics_text(i + 1).encode()
        msg = (f"exp: exp-{i}\n\nExp-Name: exp-{i}\n"
               f"Exp-Status: {'failed' if i % 50 == 7 else 'success'}\n"
               f"Exp-Exit-Code: 0\nExp-Duration: 1.000\n").encode()
        chunks.append(b"commit refs/exps/%s/exp-%d\n" % (base.encode(), i))
        chunks.append(b"committer Bench <bench@example.com> %d +0000\n" % (start + i))
        chunks.append(b"data %d\n%s\n" % (len(msg), msg))
        chunks.append(b"from %s\n" % base.encode())
        chunks.append(b"M 100644 inline params.yaml\ndata %d\n%s\n" % (len(p), p))
        chunks.append(b"M 100644 inline metrics.json\ndata %d\n%s\n" % (len(m), m))
    git(["fast-import", "--quiet"], path, b"".join(chunks))
    git(["pack-refs", "--all"], path)
    return base


def measure(cmd: list[str], cwd: str) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of CMD, run from a fresh wrapper process."""
    code = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
        "dt = time.perf_counter() - t\n"
        "if p.returncode: sys.stderr.buffer.write(p.stderr); sys.exit(p.returncode)\n"
        "print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    env = dict(os.environ, **ENV, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", code, *cmd], cwd=cwd, env=env, check=True,
                         stdout=subprocess.PIPE).stdout.decode().split()
    return float(out[0]), int(out[1]) / 1024


def _second_call(cmd: list[str], cwd: str) -> float:
    env = dict(os.environ, **ENV, PYTHONPATH=ROOT)
    proc = subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    return float(proc.stderr.decode().strip().splitlines()[-1])


def bench_size(n: int, repeat: int, folder: str) -> None:
    path = os.path.join(folder, f"repo-{n}")
    t = time.perf_counter()
    base = generate(path, n)
    made = time.perf_counter() - t
    first = git(["rev-parse", f"refs/exps/{base}/exp-0"], path)
    memo = os.path.join(path, ".git", "exp", "memo")
    exp = [sys.executable, "-m", "git_exp", "--no-pager"]
    print(f"N = {n:,} experiments (generated in {made:.1f} s)")
    for label, extra in (("show", []), ("show --json", ["--json"])):
        colds, warms, peaks = [], [], []
        for _ in range(repeat):
            shutil.rmtree(memo, ignore_errors=True)
            seconds, peak = measure(exp + ["show", *extra], path)
            colds.append(seconds)
            peaks.append(peak)
            seconds, peak = measure(exp + ["show", *extra], path)
            warms.append(seconds)
            peaks.append(peak)
        # Warm, but a ref moved since: the stored output (show/outmemo.py) does not
        # answer, the per-commit memo does (what the first show after a run costs).
        moved = []
        for k in range(repeat):
            git(["update-ref", f"refs/exps/{base}/moved-{label.replace(' ', '')}-{k}", first], path)
            seconds, peak = measure(exp + ["show", *extra], path)
            moved.append(seconds)
            peaks.append(peak)
        print(f"  {label:<12} cold {min(colds):6.3f} s   warm {min(warms):6.3f} s   "
              f"a ref moved {min(moved):6.3f} s   peak {max(peaks):6.1f} MiB")
    # git_exp.api.experiments() returns the rows of show --json through the same
    # memo: timed the same way (a fresh process), then called again in that
    # process, as a notebook does.
    api = [sys.executable, "-c", "import git_exp.api as api; api.experiments()"]
    twice = [sys.executable, "-c", "import sys, time; import git_exp.api as api; api.experiments(); "
             "t = time.perf_counter(); api.experiments(); "
             "sys.stderr.write(f'{time.perf_counter() - t}')"]
    colds, warms, again, peaks = [], [], [], []
    for _ in range(repeat):
        shutil.rmtree(memo, ignore_errors=True)
        for into in (colds, warms):
            seconds, peak = measure(api, path)
            into.append(seconds)
            peaks.append(peak)
        again.append(_second_call(twice, path))
    print(f"  {'experiments()':<12} cold {min(colds):6.3f} s   warm {min(warms):6.3f} s   "
          f"peak {max(peaks):6.1f} MiB   (git_exp.api; called again in one process: "
          f"{min(again):.3f} s)")
    seconds, _ = measure(["git", "for-each-ref", "refs/exps/"], path)
    print(f"  (git for-each-ref of the refs alone: {seconds:.3f} s)")


def bench_readers(n: int, folder: str) -> None:
    """Reading every experiment's params.yaml: one cat-file --batch vs Dulwich's object store."""
    sys.path.insert(0, ROOT)
    from git_exp.experiments.refs import list_refs
    from git_exp.git.catfile import CatFile
    path = os.path.join(folder, f"repo-{n}")
    if not os.path.isdir(path):
        generate(path, n)
    shas = [r.sha for r in list_refs(path)]
    t = time.perf_counter()
    with CatFile(path) as objects:
        commits = objects.read_many(shas)
        blobs = objects.read_many([f"{s}:params.yaml" for s in shas])
    catfile = time.perf_counter() - t
    assert all(commits) and all(blobs)
    print(f"readers, {len(shas):,} commits + their params.yaml: cat-file --batch {catfile:.3f} s", end="")
    try:
        t = time.perf_counter()
        from dulwich.repo import Repo
        imported = time.perf_counter() - t
    except ImportError:
        print(" (Dulwich not installed)")
        return
    t = time.perf_counter()
    with Repo(path) as repo:
        store = repo.object_store
        for sha in shas:
            commit = store[sha.encode()]
            tree = store[commit.tree]
            _, oid = tree[b"params.yaml"]
            store[oid].as_raw_string()
    print(f", Dulwich {time.perf_counter() - t:.3f} s (+ {imported:.3f} s to import it)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="comma-separated N")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (the best is shown)")
    parser.add_argument("--readers", action="store_true", help="also compare cat-file with Dulwich")
    parser.add_argument("--keep", metavar="DIR", help="generate repositories in DIR and keep them")
    args = parser.parse_args()
    folder = args.keep or tempfile.mkdtemp(prefix="bench-show-")
    os.makedirs(folder, exist_ok=True)
    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    except ValueError:
        parser.error("--sizes takes numbers separated by commas")
    try:
        for n in sizes:
            bench_size(n, args.repeat, folder)
        if args.readers:
            bench_readers(max(sizes), folder)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
