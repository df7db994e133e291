"""How fast is `git exp ui` with many experiments? Prints seconds.

    python3 bench/bench_ui.py                  # N = 1,000 and 10,000
    python3 bench/bench_ui.py --sizes 10000 --repeat 5

For each N a repository is generated as bench_show.py does (git fast-import,
N experiments with params and metrics). Then `git exp ui --no-browser` is
started and timed: the first /api/experiments (cold: show's memo deleted),
a warm one after a change of the work tree, the poll of /api/state while
nothing changes (what every open page costs each second) and a cached
answer; and, where Chromium and Playwright are installed, the first paint of
the table in a real headless browser (from navigation to the first rows on
screen). Goal (issue 18): first paint under one second at 10,000.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_show import ENV, ROOT, generate  # noqa: E402


def start(repo: str):
    env = dict(os.environ, **ENV, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "git_exp", "ui", "--no-browser", "--port", "0"], cwd=repo,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=(\S+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"git exp ui did not start: {line}{proc.stderr.read()}")
    return proc, match[1], match[2], match[0]


def get(base: str, token: str, path: str) -> tuple[float, int]:
    request = urllib.request.Request(base + path, headers={"X-Exp-Token": token})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as res:
        size = len(res.read())
    return time.perf_counter() - started, size


def first_paint(url: str) -> float | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not chromium:
        return None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_selector("#table tbody tr:nth-child(20)")
        took = time.perf_counter() - started
        browser.close()
    return took


def bench(n: int, repeat: int, folder: str) -> None:
    repo = os.path.join(folder, f"repo-{n}")
    generate(repo, n)
    shutil.rmtree(os.path.join(repo, ".git", "exp", "memo"), ignore_errors=True)
    proc, base, token, url = start(repo)
    try:
        # The server reads the table as it starts; the first answer waits for that read.
        cold, size = get(base, token, "/api/experiments")
        warm, cached, poll = [], [], []
        for _ in range(repeat):
            with open(os.path.join(repo, "params.yaml"), "a") as fh:
                fh.write("# touched\n")              # the key moves: the table is read again
            warm.append(get(base, token, "/api/experiments")[0])
            cached.append(get(base, token, "/api/experiments")[0])
            poll.append(get(base, token, "/api/state")[0])
        paints = [t for t in (first_paint(url) for _ in range(repeat)) if t is not None]
    finally:
        proc.terminate()
        proc.wait(10)
    med = statistics.median
    print(f"N={n:>6}  table JSON {size / 1e6:.1f} MB  cold {cold:.2f} s  warm {med(warm):.2f} s  "
          f"unchanged (cached) {med(cached) * 1000:.0f} ms  poll {med(poll) * 1000:.0f} ms  "
          + (f"first paint {med(paints):.2f} s (min {min(paints):.2f})" if paints
             else "first paint: no Chromium/Playwright here"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as folder:
        for n in args.sizes:
            bench(n, args.repeat, folder)


if __name__ == "__main__":
    main()
