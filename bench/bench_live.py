"""What git_exp.live costs a training script: import time and time per step.

    python3 bench/bench_live.py                  # 10 metrics, 2,000 steps, in the temp dir
    python3 bench/bench_live.py --dir /dev/shm --steps 10000

Import time is the best of a few fresh interpreters (`python -X importtime`
would add its own overhead). A step rewrites metrics.json and each metric's
history whole (temp file + rename), so its cost grows with the history:
printed at several history lengths. The rename itself dominates on ext4,
whose auto_da_alloc writes a file's data out when it replaces another by
rename (measured here: about 3 ms per file on a virtual disk, 0.02 ms on
tmpfs), so a step costs about that much per metric logged in it.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def import_seconds(repeat: int = 5) -> float:
    code = ("import time; t = time.perf_counter(); import git_exp.live; "
            "print(time.perf_counter() - t)")
    env = dict(os.environ, PYTHONPATH=ROOT)
    return min(float(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                    capture_output=True, text=True).stdout) for _ in range(repeat))


def main() -> None:
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", help="where to write (default: the system's temp dir)")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--metrics", type=int, default=10)
    args = parser.parse_args()
    sys.path.insert(0, ROOT)
    from git_exp.live import Live
    print(f"import git_exp.live: {import_seconds() * 1000:.2f} ms")
    metrics = args.metrics
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        live = Live(os.path.join(folder, "live"))
        marks = {10, 100, 1000, 10000, 100000, args.steps}
        started = time.perf_counter()
        for step in range(1, args.steps + 1):
            for i in range(metrics):
                live.log_metric(f"metric{i}", step * 0.001 + i)
            t = time.perf_counter()
            live.next_step()
            if step in marks:
                print(f"  step {step:>6,} ({metrics} metrics): {(time.perf_counter() - t) * 1000:7.3f} ms")
        print(f"{args.steps:,} steps of {metrics} metrics: {time.perf_counter() - started:.1f} s in all")


if __name__ == "__main__":
    main()
