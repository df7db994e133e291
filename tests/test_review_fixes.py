"""Fixes from a fresh-eyes review of the user's day: each drives the real git-exp
against a real repository and failed before its fix."""
from __future__ import annotations

import pytest

TRAIN = """\
import json, re
lr = float(re.search(r"lr: *([0-9.]+)", open("params.yaml").read()).group(1))
json.dump({"loss": 1 - lr}, open("metrics.json", "w"))
"""
PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py]
    params: [train]
    metrics:
    - metrics.json: {cache: false}
"""


@pytest.fixture
def ran(committed):
    committed.gen({"train.py": TRAIN, "params.yaml": "train:\n  lr: 0.1\n", "exp.yaml": PIPELINE})
    committed.commit("pipeline")
    committed.exp("run", "-n", "first")
    committed.exp("run", "-S", "train.lr=0.2", "-n", "second")
    return committed


@pytest.mark.parametrize("argv", [("show",), ("diff", "first", "second"), ("metrics", "show")])
def test_a_negative_precision_is_a_usage_error_not_a_crash(ran, argv):
    proc = ran.exp(*argv, "--precision", "-1", check=False)
    assert proc.returncode == 129, proc.stderr
    assert "error: argument --precision: must not be negative" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
