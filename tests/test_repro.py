"""`git exp repro`: the pipeline run in the work tree, exp.lock updated, no experiment recorded."""
from __future__ import annotations

import subprocess

import pytest

from tests.conftest import Project

PREPARE = """\
import json, os, re
text = open("params.yaml").read()
scale = int(re.search(r"scale: *([0-9]+)", text).group(1))
rows = open("data/raw.csv").read().split()
os.makedirs("prepared", exist_ok=True)
open("prepared/rows.txt", "w").write("\\n".join(str(int(r) * scale) for r in rows) + "\\n")
print("preparing")
"""

TRAIN = """\
import json, re
text = open("params.yaml").read()
lr = float(re.search(r"lr: *([0-9.]+)", text).group(1))
total = sum(int(x) for x in open("prepared/rows.txt").read().split())
open("model.txt", "w").write(f"model {total * lr}\\n")
json.dump({"score": total * lr}, open("metrics.json", "w"))
print(f"training lr={lr}")
"""

PIPELINE = """\
stages:
  prepare:
    cmd: python3 prepare.py
    deps: [prepare.py, data/raw.csv]
    params: [prepare.scale]
    outs: [prepared]
  train:
    cmd: python3 train.py
    deps: [train.py, prepared]
    params: [train.lr]
    outs: [model.txt]
    metrics:
      - metrics.json:
          cache: false
"""

PARAMS = "prepare:\n  scale: 2\ntrain:\n  lr: 0.5\n"


@pytest.fixture
def pipe(committed):
    committed.gen({"prepare.py": PREPARE, "train.py": TRAIN, "exp.yaml": PIPELINE,
                   "params.yaml": PARAMS, "data": {"raw.csv": "1\n2\n3\n"}})
    committed.commit("pipeline")
    return committed


def exp_refs(project) -> list[str]:
    return project.git("for-each-ref", "--format=%(refname)", "refs/exps/").split()


def test_repro_updates_exp_lock_and_records_no_experiment(pipe):
    head = pipe.head()
    index = (pipe.path / ".git" / "index").read_bytes()
    proc = pipe.exp("repro")
    assert "preparing" in proc.stdout and "training lr=0.5" in proc.stdout
    assert "Reproduced: 2 ran." in proc.stdout and "score: 6" in proc.stdout
    assert exp_refs(pipe) == []
    assert pipe.head() == head and (pipe.path / ".git" / "index").read_bytes() == index
    lock = pipe.read("exp.lock")
    assert "prepare:" in lock and "train:" in lock
    assert pipe.read("model.txt") == "model 6.0\n"
    # The results are for the branch: commit them as any change.
    pipe.commit("results")
    pipe.fsck()
    proc = pipe.exp("repro")
    assert "Nothing to reproduce: 2 up to date or frozen." in proc.stdout
    assert "training" not in proc.stdout
    assert pipe.git("status", "--porcelain") == ""


def test_repro_targets_single_item_and_downstream(pipe):
    pipe.exp("repro")
    pipe.gen({"params.yaml": PARAMS.replace("scale: 2", "scale: 3").replace("0.5", "0.25")})
    # -s: the named stage alone, even though its upstream is out of date.
    proc = pipe.exp("repro", "-s", "train")
    assert "preparing" not in proc.stdout and "training lr=0.25" in proc.stdout
    assert pipe.read("prepared/rows.txt") == "2\n4\n6\n"
    # STAGE: it and what it needs, in order.
    proc = pipe.exp("repro", "train")
    assert proc.stdout.index("preparing") < proc.stdout.index("training")
    pipe.gen({"data": {"raw.csv": "5\n"}})
    proc = pipe.exp("repro", "--downstream", "prepare")
    assert "preparing" in proc.stdout and "training" in proc.stdout
    assert exp_refs(pipe) == []
    proc = pipe.exp("repro", "-s", check=False)
    assert proc.returncode == 129 and "needs the stages" in proc.stderr
    proc = pipe.exp("repro", "nope", check=False)
    assert proc.returncode == 1 and "unknown stage 'nope'" in proc.stderr


def test_repro_uses_the_run_cache_and_f_runs_every_stage(pipe):
    pipe.exp("repro")
    pipe.gen({"params.yaml": PARAMS.replace("0.5", "0.1")})
    pipe.exp("repro")
    pipe.gen({"params.yaml": PARAMS})
    proc = pipe.exp("repro")
    assert "Stage 'train' restored from the run cache" in proc.stderr
    assert "training" not in proc.stdout and pipe.read("model.txt") == "model 6.0\n"
    proc = pipe.exp("repro", "-f")
    assert "preparing" in proc.stdout and "training lr=0.5" in proc.stdout
    assert "restored" not in proc.stderr and "Reproduced: 2 ran." in proc.stdout
    proc = pipe.exp("repro", "-f", "--dry")
    assert "prepare: would run\n  - forced" in proc.stdout


def test_repro_quiet_is_one_line_and_dry_changes_nothing(pipe):
    proc = pipe.exp("repro", "--dry")
    assert "prepare: would run" in proc.stdout and "never ran" in proc.stdout
    assert not (pipe.path / "exp.lock").exists() and not (pipe.path / "model.txt").exists()
    proc = pipe.exp("repro", "-q")
    assert proc.stdout == "Reproduced: 2 ran. exp.lock is updated; commit it with your results.\n"
    assert proc.stderr == ""


def test_a_failing_stage_keeps_the_stages_before_it_in_exp_lock(pipe):
    pipe.gen({"train.py": "raise SystemExit(4)\n"})
    proc = pipe.exp("repro", check=False)
    assert proc.returncode == 1
    assert "stage 'train' failed: its command exited with status 4" in proc.stderr
    lock = pipe.read("exp.lock")
    assert "prepare:" in lock and "train:" not in lock
    assert exp_refs(pipe) == []
    assert not list((pipe.path / ".git" / "exp" / "logs").glob("run-*.log"))


def test_repro_pull_fetches_missing_data_and_skips_what_is_up_to_date(pipe, tmp_path):
    pipe.git("rm", "-q", "--cached", "data/raw.csv")
    pipe.exp("add", "data/raw.csv")
    pipe.exp("repro")
    pipe.commit("data and results")
    clone = Project(tmp_path / "clone")
    subprocess.run(["git", "clone", "-q", str(pipe.path), str(clone.path)], check=True)
    assert not (clone.path / "data" / "raw.csv").exists()
    proc = clone.exp("repro", check=False)
    assert proc.returncode == 1 and "'data/raw.csv', which does not exist" in proc.stderr
    # --pull: the origin's cache is the data remote of a Git remote on a local path.
    proc = clone.exp("repro", "--pull")
    assert "Fetched" in proc.stderr
    assert "preparing" not in proc.stdout and "training" not in proc.stdout
    assert "Nothing to reproduce" in proc.stdout
    assert clone.read("data/raw.csv") == "1\n2\n3\n"
    assert clone.read("model.txt") == "model 6.0\n"
    assert clone.git("status", "--porcelain") == ""
    clone.fsck()


def test_repro_pull_names_what_the_data_remote_lacks(pipe, tmp_path):
    pipe.git("rm", "-q", "--cached", "data/raw.csv")
    pipe.exp("add", "data/raw.csv")
    pipe.commit("data")
    clone = Project(tmp_path / "clone")
    subprocess.run(["git", "clone", "-q", str(pipe.path), str(clone.path)], check=True)
    # The origin loses its cache: nothing to fetch the data from.
    subprocess.run(["rm", "-rf", str(pipe.path / ".git" / "exp" / "cache")], check=True)
    proc = clone.exp("repro", "--pull", check=False)
    assert proc.returncode == 1
    assert "neither in the cache nor on the data remote" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (clone.path / "exp.lock").exists()


def test_repro_and_run_share_the_work_trees_run_lock(pipe):
    import json
    import os
    lock = pipe.path / ".git" / "exp-run.lock"
    lock.write_text(json.dumps({"pid": os.getpid(), "name": "busy-bee", "started": "now"}))
    proc = pipe.exp("repro", check=False)
    assert proc.returncode == 1
    assert "another 'git exp run' is running in this work tree (experiment 'busy-bee'" in proc.stderr
    lock.write_text(json.dumps({"pid": os.getpid(), "name": "repro", "started": "now"}))
    proc = pipe.exp("run", check=False)
    assert proc.returncode == 1 and "another 'git exp repro' is running in this work tree (pid " in proc.stderr
    lock.unlink()
    pipe.exp("repro")
    assert not lock.exists()
