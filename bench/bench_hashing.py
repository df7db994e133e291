"""Hashing throughput next to sha256sum, and the memo's warm no-op time.

    python3 bench/bench_hashing.py [--size-mb 1024] [--files 10000] [--file-kb 4]

Creates one big file and a directory of small files in a temporary folder
under /tmp (removed afterwards), then prints:
- hash_path on the big file cold (empty memo) and warm (memo hit), and
  `sha256sum` on the same file;
- hash_path on the directory cold, warm (the no-op re-hash a `status`
  pays), and `sha256sum` over the same files.
The data is in the page cache for every measurement (we write it just
before), so these compare hashing, not disks. Figures only: nothing is
asserted. Goals from the issue: cold >= 80% of sha256sum's throughput;
warm no-op under 0.3 s for 10,000 files.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_data import data_options, write_big  # noqa: E402 - bench/ is on sys.path
from git_exp.data.hashing import hash_path  # noqa: E402
from git_exp.data.state import RACY_NS, StateMemo  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def sha256sum(paths: list[str], cwd: str) -> None:
    # xargs keeps the argument list under ARG_MAX whatever --files is.
    subprocess.run(["xargs", "-0", "sha256sum"], input="\0".join(paths).encode(), cwd=cwd,
                   stdout=subprocess.DEVNULL, check=True)


def hash_runs(path: str, exp: str, times: int) -> list:
    """TIMES runs of hash_path on PATH, (seconds, result) each, each with the memo at EXP
    opened afresh: the first is cold (the memo knows none of PATH), the others warm."""
    runs = []
    for _ in range(times):
        with StateMemo(exp) as memo:
            start = time.perf_counter()
            result = hash_path(path, memo)
            runs.append((time.perf_counter() - start, result))
    return runs


def print_against_sha256sum(t_sum: float, t_cold: float, mb: float) -> None:
    print(f"  sha256sum          {t_sum:8.3f} s  {mb / t_sum:8.0f} MiB/s")
    print(f"  hash_path cold     {t_cold:8.3f} s  {mb / t_cold:8.0f} MiB/s  "
          f"({100 * t_sum / t_cold:.0f}% of sha256sum)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_options(parser)
    opts = parser.parse_args()

    work = tempfile.mkdtemp(prefix="git-exp-bench-", dir="/tmp")
    try:
        big = os.path.join(work, "big.bin")
        write_big(big, opts.size_mb)
        small = os.path.join(work, "small")
        names = []
        for i in range(opts.files):
            sub = os.path.join(small, f"{i % 100:02d}")
            if i < 100:
                os.makedirs(sub)
            name = os.path.join(f"{i % 100:02d}", f"f{i}.bin")
            with open(os.path.join(small, name), "wb") as f:
                f.write(os.urandom(opts.file_kb * 1024))
            names.append(name)
        # The memo does not record files written in the last RACY_NS (see
        # state.py); wait that long so the warm runs measure the memo.
        time.sleep(RACY_NS / 1e9 + 0.2)

        exp = os.path.join(work, "exp")
        mb = opts.size_mb
        print(f"big file: {mb} MiB")
        t_sum, _ = timed(lambda: sha256sum([big], work))
        (t_cold, _), (t_warm, _) = hash_runs(big, exp, 2)
        print_against_sha256sum(t_sum, t_cold, mb)
        print(f"  hash_path warm     {t_warm:8.3f} s  (memo hit)")

        total_mb = opts.files * opts.file_kb / 1024
        print(f"directory: {opts.files} files of {opts.file_kb} KiB ({total_mb:.0f} MiB)")
        t_sum, _ = timed(lambda: sha256sum(names, small))
        (t_cold, (info, _)), (t_warm, (again, _)), (t_warm2, _) = hash_runs(small, exp, 3)
        print_against_sha256sum(t_sum, t_cold, total_mb)
        print(f"  hash_path warm     {t_warm:8.3f} s  (no-op re-hash through the memo)")
        print(f"  hash_path warm #2  {t_warm2:8.3f} s")
        if again != info:
            print("  warning: the warm hash differs from the cold one")
    finally:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
