"""Run flags as DVC users know them: -f re-runs, --dry with -S, save without a twin, -j's summary."""
from __future__ import annotations

import os

import pytest

PREPARE = """\
import re
scale = int(re.search(r"scale: *([0-9]+)", open("params.yaml").read()).group(1))
open("prepared.txt", "w").write(f"{scale}\\n")
print("preparing")
"""

TRAIN = """\
import json, re
lr = float(re.search(r"lr: *([0-9.]+)", open("params.yaml").read()).group(1))
scale = int(open("prepared.txt").read())
open("model.txt", "w").write(f"model {lr * scale}\\n")
json.dump({"score": lr * scale, "loss": 1 - lr}, open("metrics.json", "w"))
print(f"training lr={lr}")
"""

PIPELINE = """\
stages:
  prepare:
    cmd: python3 prepare.py
    deps: [prepare.py]
    params: [prepare.scale]
    outs: [prepared.txt]
  train:
    cmd: python3 train.py
    deps: [train.py, prepared.txt]
    params: [train.lr]
    outs: [model.txt]
    metrics:
      - metrics.json:
          cache: false
"""

PARAMS = "# tuned by hand\nprepare:\n  scale: 2\ntrain:\n  lr: 0.5   # step\n"


@pytest.fixture
def two(committed):
    committed.gen({"prepare.py": PREPARE, "train.py": TRAIN, "exp.yaml": PIPELINE,
                   "params.yaml": PARAMS})
    committed.commit("pipeline")
    return committed


def exp_refs(project) -> list[str]:
    return project.git("for-each-ref", "--format=%(refname)", "refs/exps/").split()


def test_f_reruns_every_stage_instead_of_restoring_from_the_run_cache(two):
    two.exp("run", "-n", "a")
    two.exp("run", "-n", "b", "-S", "train.lr=0.1")
    proc = two.exp("run", "-n", "c", "-S", "train.lr=0.5")
    assert "Stage 'train' restored from the run cache" in proc.stderr
    two.exp("run", "-n", "d", "-S", "train.lr=0.1")
    proc = two.exp("run", "-f", "-S", "train.lr=0.5")
    assert "preparing" in proc.stdout and "training lr=0.5" in proc.stdout
    assert "restored" not in proc.stderr
    assert "Running stage 'prepare' (forced)" in proc.stderr
    # What -f ran still went into the run cache for later runs.
    two.exp("run", "-n", "e", "-S", "train.lr=0.1")
    proc = two.exp("run", "-n", "f", "-S", "train.lr=0.5")
    assert "Stage 'train' restored from the run cache" in proc.stderr


def test_f_reruns_in_a_temporary_checkout_too(two):
    two.exp("run", "-n", "a")
    two.exp("run", "-n", "b", "-S", "train.lr=0.1")
    proc = two.exp("run", "--temp", "-f", "-S", "train.lr=0.5")
    assert "training lr=0.5" in proc.stdout and "restored" not in proc.stderr


def test_dry_with_set_param_says_what_would_run_and_writes_nothing(two):
    two.exp("run", "-n", "a")
    before = {name: ((two.path / name).read_bytes(), os.stat(two.path / name).st_mtime_ns)
              for name in ("params.yaml", "exp.lock", "model.txt", "metrics.json")}
    refs = exp_refs(two)
    status = two.git("status", "--porcelain", "--ignored", "--untracked-files=all")
    proc = two.exp("run", "--dry", "-S", "train.lr=0.25")
    assert proc.stdout == ("prepare: up to date\n"
                           "train: would run\n"
                           "  - param train.lr 0.5 → 0.25\n")
    proc = two.exp("run", "--dry", "-S", "prepare.scale=3", "train")
    assert "prepare: would run\n  - param prepare.scale 2 → 3\n" in proc.stdout
    assert "train: would run\n  - an upstream stage runs first\n" in proc.stdout
    # Nothing was written, not even for a moment: same bytes, same mtimes.
    after = {name: ((two.path / name).read_bytes(), os.stat(two.path / name).st_mtime_ns)
             for name in before}
    assert after == before and exp_refs(two) == refs
    assert two.git("status", "--porcelain", "--ignored", "--untracked-files=all") == status
    # The same refusals as a real run, before anything.
    proc = two.exp("run", "--dry", "-S", "train.lrr=1", check=False)
    assert proc.returncode == 1 and "train.lrr" in proc.stderr and "Traceback" not in proc.stderr
    proc = two.exp("run", "--dry", "-S", "train.lr=0.1,0.2", check=False)
    assert proc.returncode == 1 and "is a sweep" in proc.stderr
    proc = two.exp("run", "--dry", "-S", "../outside.yaml:a=1", check=False)
    assert proc.returncode == 1 and "outside the repository" in proc.stderr
    assert (two.path / "params.yaml").read_bytes() == before["params.yaml"][0]


def test_dry_with_set_param_in_another_file_and_templated_values(committed):
    committed.gen({"exp.yaml": "stages:\n  fit:\n    cmd: echo ${model.units} > out.txt\n"
                               "    params:\n      - other.json: [seed]\n    outs: [out.txt]\n",
                   "params.yaml": "model:\n  units: 4\n",
                   "other.json": '{"seed": 1}\n'})
    committed.commit("templated")
    committed.exp("run", "-n", "a")
    proc = committed.exp("run", "--dry", "-S", "other.json:seed=2")
    assert "param seed 1 → 2" in proc.stdout
    proc = committed.exp("run", "--dry", "-S", "model.units=8")
    assert "fit: would run\n  - command changed\n" in proc.stdout
    assert committed.read("other.json") == '{"seed": 1}\n'
    assert committed.read("params.yaml") == "model:\n  units: 4\n"


def test_save_with_nothing_changed_names_the_experiment_it_equals(two):
    two.exp("run", "-n", "first")
    proc = two.exp("save")
    assert proc.stdout.startswith("Nothing changed since experiment first (")
    assert "not saved again" in proc.stdout
    assert exp_refs(two) == [f"refs/exps/{two.head()}/first"]
    two.exp("save", "-n", "named-twin")   # a name asks for it explicitly
    assert len(exp_refs(two)) == 2
    (two.path / "notes.txt").write_text("changed\n")
    proc = two.exp("save")
    assert "saved from" in proc.stdout and len(exp_refs(two)) == 3
    proc = two.exp("save")
    assert "Nothing changed since experiment" in proc.stdout and len(exp_refs(two)) == 3
    two.fsck()


def test_the_jobs_summary_shows_each_points_params_and_metrics(two):
    proc = two.exp("run", "-j", "2", "-S", "train.lr=0.1,0.3", "-n", "grid")
    lines = proc.stdout.splitlines()
    header = lines[0].split()
    assert header[:4] == ["Name", "State", "Duration", "Experiment"]
    assert header[4:] == ["train.lr", "score", "loss"]
    rows = {line.split()[0]: line.split() for line in lines[2:4]}
    assert rows["grid-1"][1] == "success" and rows["grid-1"][4:] == ["0.1", "0.2", "0.9"]
    assert rows["grid-2"][4:] == ["0.3", "0.6", "0.7"]
    assert len(lines) == 4
