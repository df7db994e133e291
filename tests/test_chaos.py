"""bench/chaos --quick: one randomized kill per operation, and every trial healthy.

The campaign itself is bench/chaos (see its help); this runs its short
version with a fixed seed, so a regression in crash safety (a half-made
worktree, an orphaned stage, a lock that blocks, a lost user file) fails
here. The seed can be changed with GIT_EXP_CHAOS_SEED to draw other kills.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="the campaign looks for strays in /proc")
def test_chaos_quick_leaves_every_trial_healthy(tmp_path):
    seed = os.environ.get("GIT_EXP_CHAOS_SEED", "14")
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "chaos"), "--quick", "--seed", seed,
                           "--work", str(tmp_path / "work")],
                          capture_output=True, text=True, timeout=300)
    summary = re.search(r"^(\d+) of (\d+) trials healthy", proc.stdout, re.M)
    assert summary, proc.stdout + proc.stderr[-3000:]
    assert summary.group(2) == "6"
    assert summary.group(1) == summary.group(2), proc.stderr[-4000:]
    assert proc.returncode == 0
