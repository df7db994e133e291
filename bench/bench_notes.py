"""What do notes and tags cost `git exp show`? Prints seconds, warm, best of --repeat.

    python3 bench/bench_notes.py                      # 10,000 experiments, 0 / 100 / 1,000 annotated
    python3 bench/bench_notes.py --size 1000 --annotated 0,1000

Experiments are generated as bench_show.py does; K of them get a note and
two tags (refs/exp-notes/<sha>, written with plumbing as `git exp note`
writes them), then the objects are packed as `git gc` leaves them. For each
K: `git exp show` warm (memo filled), and the one call that reads every
annotation (experiments/annotations.py: for-each-ref + one cat-file).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_show import ENV, generate, git  # noqa: E402


def annotate(path: str, k: int) -> None:
    shas = git(["for-each-ref", "--format=%(objectname)", "refs/exps/"], path).split()[:k]
    tags = git(["hash-object", "-w", "--stdin"], path, b"baseline\nbest\n")
    lines = []
    for i, sha in enumerate(shas):
        note = git(["hash-object", "-w", "--stdin"], path, f"note {i}: lr too high\n".encode())
        tree = git(["mktree"], path, f"100644 blob {note}\tnote\n100644 blob {tags}\ttags\n".encode())
        commit = git(["commit-tree", tree, "-m", "note: set"], path)
        lines.append(f"update refs/exp-notes/{sha} {commit}\n")
    git(["update-ref", "--stdin"], path, "".join(lines).encode())
    git(["repack", "-adq"], path)


def best(cmd: list[str], cwd: str, repeat: int) -> float:
    env = dict(os.environ, **ENV, PYTHONPATH=ROOT)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10000, help="experiments (default 10,000)")
    parser.add_argument("--annotated", default="0,100,1000", help="comma-separated K")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from git_exp.experiments.annotations import read_all
    with tempfile.TemporaryDirectory(prefix="bench-notes-") as folder:
        path = os.path.join(folder, "repo")
        generate(path, args.size)
        show = [sys.executable, "-m", "git_exp", "--no-pager", "show"]
        best(show, path, 1)   # fill the memo
        print(f"N = {args.size:,} experiments")
        for k in [int(x) for x in args.annotated.split(",")]:
            annotate(path, k)
            start = time.perf_counter()
            read_all(path)
            reading = time.perf_counter() - start
            print(f"  {k:>6,} annotated: show warm {best(show, path, args.repeat):.3f} s, "
                  f"reading the annotations {reading * 1000:.0f} ms")


if __name__ == "__main__":
    main()
