"""Runs in progress are visible: show, the API, logs -f and plots see their steps so far.

The training script logs with git_exp.live and stops at a barrier (it waits
for a file to appear) after its second step, so the test reads everything
while the run is really in progress, then lets it finish.
"""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

import git_exp.api as api
from git_exp.show.running import read_running
from tests.conftest import wait_for

TRAIN = """\
import os, time
from git_exp.live import Live
barrier = os.environ["BARRIER_DIR"]
with Live() as live:
    for step in range(3):
        live.log_metric("loss", 1.0 / (step + 1))
        live.next_step()
        print(f"trained step {step}", flush=True)
        if step == 1:
            open(os.path.join(barrier, "reached"), "w").close()
            deadline = time.time() + 60
            while not os.path.exists(os.path.join(barrier, "go")) and time.time() < deadline:
                time.sleep(0.05)
"""

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py]
    params: [lr]
    metrics:
      - live/metrics.json:
          cache: false
    plots:
      - live/plots/metrics:
          cache: false
          x: step
"""

AT_BARRIER = {"live/metrics.json": {"loss": 0.5, "step": 1}}


@pytest.fixture
def ml(committed, tmp_path, monkeypatch):
    committed.gen({"train.py": TRAIN, "params.yaml": "lr: 0.1\n", "exp.yaml": PIPELINE})
    committed.commit("pipeline")
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    monkeypatch.setenv("BARRIER_DIR", str(barrier))   # inherited by runs and queue workers
    committed.barrier = barrier
    return committed


def show_json(project) -> list:
    return json.loads(project.exp("show", "--json").stdout)


def row(rows: list, name: str) -> dict:
    return next(r for r in rows if r["name"] == name)


def follow(project, name: str) -> subprocess.Popen:
    return subprocess.Popen(["git", "exp", "logs", "-f", name], cwd=project.path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_run_in_the_work_tree_shows_its_steps_so_far(ml):
    run = subprocess.Popen(["git", "exp", "run", "-n", "slow", "-S", "lr=0.2"], cwd=ml.path,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (ml.barrier / "reached").exists(), "the run to reach its barrier")
        rows = show_json(ml)
        slow = row(rows, "slow")
        assert (slow["state"], slow["rev"], slow["kind"]) == ("running", None, "experiment")
        assert slow["metrics"] == AT_BARRIER
        assert slow["params"] == {"params.yaml": {"lr": 0.2}}
        assert api.experiments(repo=ml.path) == rows
        assert api.metrics("slow", repo=ml.path) == AT_BARRIER
        table = ml.exp("show").stdout
        line = next(t for t in table.splitlines() if "[slow]" in t)
        assert "running" in line and "0.5" in line

        assert "trained step 1\n" in ml.exp("logs", "slow").stdout   # the output so far
        follower = follow(ml, "slow")
        time.sleep(0.3)
        assert follower.poll() is None       # it waits for more while the run goes on
    finally:
        (ml.barrier / "go").touch()
        out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    logged, _ = follower.communicate(timeout=30)
    assert follower.returncode == 0
    assert [line for line in logged.splitlines() if line.startswith("trained")] == [
        "trained step 0", "trained step 1", "trained step 2"]

    done = row(show_json(ml), "slow")
    assert done["state"] == "success" and done["rev"] is not None
    assert done["metrics"] == {"live/metrics.json": {"loss": 1 / 3, "step": 2}}
    ml.fsck()


def test_a_queued_run_in_a_worker_checkout_shows_its_steps_plots_and_logs(ml):
    ml.exp("run", "--queue", "-n", "queued-one", "-S", "lr=0.3")
    ml.exp("run", "--queue", "-n", "queued-two", "-S", "lr=0.4")
    rows = show_json(ml)
    assert (row(rows, "queued-one")["state"], row(rows, "queued-one")["metrics"]) == ("queued", {})
    assert row(rows, "queued-two")["params"] == {"params.yaml": {"lr": 0.4}}

    ml.exp("queue", "start", "-j", "1")
    try:
        wait_for(lambda: (ml.barrier / "reached").exists(), "the queued run to reach its barrier")
        rows = show_json(ml)
        one = row(rows, "queued-one")
        assert (one["state"], one["rev"]) == ("running", None)
        assert one["metrics"] == AT_BARRIER
        assert one["params"] == {"params.yaml": {"lr": 0.3}}
        assert row(rows, "queued-two")["state"] == "queued"
        assert api.experiments(repo=ml.path) == rows
        assert api.metrics("queued-one", repo=ml.path) == AT_BARRIER
        assert api.params("queued-two", repo=ml.path) == {"params.yaml": {"lr": 0.4}}

        plots = json.loads(ml.exp("plots", "diff", "queued-one", "--json").stdout)
        assert plots["revisions"] == [{"name": "queued-one", "rev": None, "kind": "running"}]
        series = [s for p in plots["plots"] for s in p["series"]]
        assert [(s["name"], s["field"], s["points"]) for s in series] == [("queued-one", "loss", 2)]

        follower = follow(ml, "queued-one")
        time.sleep(0.3)
        assert follower.poll() is None
    finally:
        (ml.barrier / "go").touch()
    logged, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    assert "trained step 2" in logged

    def finished():
        rows = show_json(ml)
        states = {r["name"]: r["state"] for r in rows}
        return rows if [states.get(n) for n in ("queued-one", "queued-two")] == ["success"] * 2 else None
    rows = wait_for(finished, "both queued runs to be recorded")
    assert row(rows, "queued-one")["metrics"] == {"live/metrics.json": {"loss": 1 / 3, "step": 2}}
    ml.fsck()


def test_a_running_checkout_is_read_with_limits(tmp_path):
    """What a run writes is read as regular files only, size-bounded, never through a symlink."""
    root = tmp_path / "checkout"
    (root / "live").mkdir(parents=True)
    (root / "exp.yaml").write_text(PIPELINE)
    (root / "params.yaml").write_text("lr: 0.5\n")
    (root / "live" / "metrics.json").write_text('{"loss": 0.25, "step": 4}')
    assert read_running(str(root)) == ({"params.yaml": {"lr": 0.5}},
                                       {"live/metrics.json": {"loss": 0.25, "step": 4}})

    secret = tmp_path / "secret.json"
    secret.write_text('{"password": 1}')
    (root / "live" / "metrics.json").unlink()
    (root / "live" / "metrics.json").symlink_to(secret)
    assert read_running(str(root))[1] == {}
    (root / "live" / "metrics.json").unlink()
    (root / "live" / "metrics.json").write_text('{"loss": 1, "pad": "' + "x" * (2 << 20) + '"}')
    assert read_running(str(root))[1] == {}
    (root / "live" / "metrics.json").write_text('{"loss": 0.2, "st')     # caught mid-write
    assert read_running(str(root))[1] == {}
    os.rename(root / "live", tmp_path / "elsewhere")
    (root / "live").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere" / "metrics.json").write_text('{"loss": 0.1}')
    assert read_running(str(root))[1] == {}


# -- on other machines: a Dask worker reports back through the shared remote -----------

from tests.test_distributed import dask_cluster, needs_dask, shared  # noqa: E402,F401 (fixtures)


@pytest.fixture
def remote_ml(shared, tmp_path, monkeypatch):
    """The shared project (bare origin, data remote) training with git_exp.live."""
    shared.gen({"train.py": TRAIN, "params.yaml": "lr: 0.1\n", "exp.yaml": PIPELINE})
    shared.commit("train with live")
    shared.git("push", "-q", "origin", "HEAD:refs/heads/main")
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    monkeypatch.setenv("BARRIER_DIR", str(barrier))   # set before the Dask workers start
    shared.barrier = barrier
    return shared


@needs_dask
def test_a_run_on_a_dask_worker_reports_its_steps_back(remote_ml, dask_cluster):
    ml = remote_ml
    ml.exp("run", "--queue", "-n", "far-away", "-S", "lr=0.3")
    dispatcher = subprocess.Popen(["git", "exp", "queue", "work", "--executor",
                                   dask_cluster["executor"]], cwd=ml.path, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: (ml.barrier / "reached").exists(), "the remote run to reach its barrier")

        def reported():
            rows = show_json(ml)
            far = row(rows, "far-away")
            return rows if far["metrics"] == AT_BARRIER else None
        rows = wait_for(reported, "the worker's report to reach show")
        far = row(rows, "far-away")
        assert (far["state"], far["rev"], far["params"]) == ("running", None, {"params.yaml": {"lr": 0.3}})
        assert api.experiments(repo=ml.path) == rows
        assert ml.git("for-each-ref", "--format=%(objecttype)", "refs/exps-progress/") == "blob\n"
    finally:
        (ml.barrier / "go").touch()
        out, err = dispatcher.communicate(timeout=120)
    assert dispatcher.returncode == 0, out + err
    done = row(show_json(ml), "far-away")
    assert done["state"] == "success" and done["metrics"] == {"live/metrics.json": {"loss": 1 / 3, "step": 2}}
    # Reports are gone once the run ended, here and on the remote.
    assert ml.git("for-each-ref", "refs/exps-progress/") == ""
    assert subprocess.run(["git", "-C", str(ml.remote), "for-each-ref", "refs/exps-progress/"],
                          capture_output=True, text=True, check=True).stdout == ""
    ml.fsck()
