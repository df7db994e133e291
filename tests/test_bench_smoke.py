"""bench/run still works: its tiny mode end to end, in a few seconds.

Not a benchmark and not about speed: `--tiny` leaves DVC out, runs git-exp
from this source tree on the smallest sizes, once each, and this test only
checks that the report was written with a figure in every git-exp row.
The real comparison is `bench/run` (see README, "Benchmarks").
"""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_bench_run_tiny_writes_a_report(tmp_path):
    output = tmp_path / "RESULTS.md"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run"), "--quick", "--tiny",
                           "--work", str(tmp_path / "work"), "--output", str(output)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = output.read_text()
    assert "## Ratios" in text and "| python |" in text
    assert "stopped" not in text, text  # a workload that died says so in its notes
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in text.splitlines()
             if line.startswith("|")]
    mine = [c for c in cells if len(c) == 7 and c[1].startswith("`git-exp ")]
    assert len(mine) >= 10, text
    for row in mine:
        # A figure, or n/a for a git-exp command that does not exist yet; never a failure.
        assert re.match(r"[\d.]+ m?s$", row[2]) or row[2].startswith("n/a (git exp"), row
    assert not (tmp_path / "work" / "runs").exists()  # the workloads are cleaned up
