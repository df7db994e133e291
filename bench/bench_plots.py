"""How fast is `git exp plots diff` with many experiments? Prints seconds and page size.

    python3 bench/bench_plots.py                  # N = 10, 100, 500 experiments x 1,000 points
    python3 bench/bench_plots.py --sizes 100 --points 10000

For each N a repository is generated with `git fast-import` (no pipeline is
run): one baseline commit with exp.yaml declaring logs.csv (x: epoch, y:
loss and acc: two charts), and N experiment commits under refs/exps/, each
with its own logs.csv of POINTS rows. Then:

- page: `git exp plots diff` as a user runs it (a fresh process: reading the
  commits through git cat-file, parsing every CSV, drawing, writing the page);
- render: building the page alone from those charts, in this process;
- json: `git exp plots diff --json` to /dev/null.

The page's size is printed, and it is opened in headless Chromium when one is
installed (the time until its DOM is dumped, start-up included).
"""
from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    plots:
      - logs.csv:
          cache: false
          x: epoch
          y: [loss, acc]
"""

ENV = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
       "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
       "GIT_CONFIG_NOSYSTEM": "1"}


def git(args, cwd, data: bytes | None = None) -> str:
    env = dict(os.environ, **ENV)
    proc = subprocess.run(["git", *args], cwd=cwd, input=data, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    return proc.stdout.decode()


def logs_text(i: int, points: int) -> str:
    rate = 0.002 + (i % 37) * 0.0007
    rows = []
    for e in range(1, points + 1):
        wobble = math.sin(e * 0.37 + i) * 0.01
        rows.append(f"{e},{math.exp(-rate * e) + wobble:.5f},{1 - 0.5 * math.exp(-rate * e) + wobble:.5f}\n")
    return "epoch,loss,acc\n" + "".join(rows)


def blob(text: str) -> bytes:
    data = text.encode()
    return b"data %d\n" % len(data) + data + b"\n"


def make_repo(path: str, n: int, points: int) -> None:
    git(["init", "-q", "-b", "main", path], cwd=None)
    stream = [b"commit refs/heads/main\nmark :1\n",
              b"committer Bench <bench@example.com> 1700000000 +0000\n", blob("baseline"),
              b"M 100644 inline exp.yaml\n", blob(PIPELINE)]
    for i in range(n):
        stream += [b"commit refs/exps/tmp/exp-%05d\n" % i,
                   b"committer Bench <bench@example.com> %d +0000\n" % (1700000001 + i),
                   blob(f"exp-{i:05d}"), b"from :1\n",
                   b"M 100644 inline logs.csv\n", blob(logs_text(i, points))]
    git(["fast-import", "--quiet"], cwd=path, data=b"".join(stream))
    head = git(["rev-parse", "HEAD"], cwd=path).strip()
    # Experiment refs live under the baseline's full sha; fast-import cannot know it in advance.
    lines = []
    for line in git(["for-each-ref", "--format=%(objectname) %(refname)", "refs/exps/tmp/"], cwd=path).splitlines():
        sha, ref = line.split()
        name = ref.rsplit("/", 1)[1]
        lines.append(f"create refs/exps/{head}/{name} {sha}\ndelete {ref} {sha}\n")
    git(["update-ref", "--stdin"], cwd=path, data="".join(lines).encode())
    git(["pack-refs", "--all"], cwd=path)
    git(["checkout", "-q", "main"], cwd=path)
    with open(os.path.join(path, "logs.csv"), "w") as fh:
        fh.write(logs_text(n, points))


def timed(args, cwd) -> float:
    env = dict(os.environ, **ENV, PYTHONPATH=ROOT)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "git_exp", *args], cwd=cwd, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def chromium_seconds(page: str, scratch: str) -> float | None:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        return None
    start = time.perf_counter()
    subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={scratch}", "--dump-dom", "file://" + page],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,500", help="experiment counts (default: 10,100,500)")
    parser.add_argument("--points", type=int, default=1000, help="rows per logs.csv (default: 1000)")
    args = parser.parse_args()

    from git_exp.plots import collect
    from git_exp.plots.page import build_page
    from git_exp.repo import discover

    print(f"{'experiments':>11} {'points':>7} {'page':>7} {'render':>7} {'json':>7} "
          f"{'page size':>10} {'chromium':>9}")
    for n in (int(s) for s in args.sizes.split(",")):
        scratch = tempfile.mkdtemp(prefix="bench-plots-")
        try:
            repo_path = os.path.join(scratch, "repo")
            make_repo(repo_path, n, args.points)
            page_s = timed(["plots", "diff"], repo_path)
            json_s = timed(["plots", "diff", "--json"], repo_path)
            old = os.getcwd()
            os.chdir(repo_path)
            try:
                result = collect.diff(discover())
                start = time.perf_counter()
                html = build_page(result)
                render_s = time.perf_counter() - start
            finally:
                os.chdir(old)
            page = os.path.join(repo_path, ".git-exp", "plots", "index.html")
            size = os.path.getsize(page)
            browser = chromium_seconds(page, os.path.join(scratch, "profile"))
            shown = f"{browser:8.2f}s" if browser is not None else "       -"
            print(f"{n:>11} {args.points:>7} {page_s:6.2f}s {render_s:6.2f}s {json_s:6.2f}s "
                  f"{size / 1e6:8.2f}MB {shown}  ({len(html):,} characters, {len(result.charts)} charts, "
                  f"{sum(len(c.series) for c in result.charts)} series)")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
