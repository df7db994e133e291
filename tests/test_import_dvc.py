"""`git exp import-dvc` against projects built by real DVC.

DVC lives in its own virtual environment, never ours: `.ci/run` installs it
and points GIT_EXP_TEST_DVC at its `dvc`. The project is built the way a DVC
user builds it (dvc init, dvc add, a two-stage dvc.yaml, dvc repro, three
`dvc exp run -S`), then imported, and checked against what DVC itself says
(`dvc exp show --json`) and against the bytes DVC recorded.
"""
from __future__ import annotations

import re
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _dvc_binary() -> str | None:
    for candidate in (os.environ.get("GIT_EXP_TEST_DVC"), str(ROOT / "bench/work/dvc-venv/bin/dvc"),
                      shutil.which("dvc")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


DVC = _dvc_binary()
needs_dvc = pytest.mark.skipif(DVC is None, reason="DVC is not installed (.ci/run installs it into its own "
                                                  "venv and sets GIT_EXP_TEST_DVC)")

PREPARE = """\
import os, yaml
p = yaml.safe_load(open("params.yaml"))["prepare"]
os.makedirs("data/prepared", exist_ok=True)
n = sum(len(open(os.path.join("data/raw", f)).read()) for f in sorted(os.listdir("data/raw")))
open("data/prepared/size.txt", "w").write(str(n * p["scale"]))
"""
TRAIN = """\
import json, os, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
n = int(open("data/prepared/size.txt").read())
os.makedirs("models", exist_ok=True)
open("models/model.bin", "w").write(f"{n} {p['lr']}")
json.dump({"acc": round(1 - p["lr"] / (1 + p["epochs"]), 4)}, open("metrics.json", "w"))
"""
PIPELINE = """\
stages:
  prepare:
    cmd: {python} src/prepare.py
    deps:
      - src/prepare.py
      - data/raw
    params:
      - prepare.scale
    outs:
      - data/prepared
  train:
    cmd: {python} src/train.py   # trains the model
    deps:
      - src/train.py
      - data/prepared
    params:
      - train
    outs:
      - models/model.bin
    metrics:
      - metrics.json:
          cache: false
"""


def dvc(project, *args: str) -> str:
    # No analytics and no update check (DVC skips it under CI): network only to loopback.
    env = dict(os.environ, DVC_NO_ANALYTICS="1", CI="true",
               DVC_SITE_CACHE_DIR=str(project.path.parent / "dvc-site"))
    proc = subprocess.run([DVC, *args], cwd=project.path, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    assert proc.returncode == 0, f"dvc {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def flat(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def refs(project) -> str:
    return project.git("for-each-ref")


@pytest.fixture(scope="module")
def dvc_template(tmp_path_factory):
    """One DVC project with three experiments, built once; each test works on a copy."""
    if DVC is None:
        pytest.skip("DVC is not installed")
    from tests.conftest import Project
    path = tmp_path_factory.mktemp("dvc") / "proj"
    path.mkdir()
    project = Project(path)
    env_keys = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")
    saved = {k: os.environ.get(k) for k in env_keys}
    os.environ.update({k: "A U Thor" if k.endswith("NAME") else "author@example.com" for k in env_keys})
    try:
        project.git("init", "-q", "-b", "main")
        dvc(project, "init", "-q")
        project.gen({"data": {"raw": {f"f{i}.txt": f"row {i}\n" for i in range(3)}},
                     "src": {"prepare.py": PREPARE, "train.py": TRAIN},
                     "params.yaml": "prepare:\n  scale: 2\ntrain:\n  lr: 0.1\n  epochs: 3\n",
                     "dvc.yaml": PIPELINE.format(python=sys.executable)})
        dvc(project, "add", "-q", "data/raw")
        dvc(project, "repro", "-q")
        project.commit("baseline")
        for lr in ("0.01", "0.2", "0.3"):
            dvc(project, "exp", "run", "-q", "-S", f"train.lr={lr}")
        shown = json.loads(dvc(project, "exp", "show", "--json"))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return path, shown


@pytest.fixture
def dvc_project(dvc_template, tmp_path):
    from tests.conftest import Project
    source, shown = dvc_template
    shutil.copytree(source, tmp_path / "proj", symlinks=True)
    return Project(tmp_path / "proj"), shown


def dvc_experiments(shown) -> dict[str, dict]:
    """name -> {"params": flat params of params.yaml, "metrics": metrics.json, "rev": DVC sha}."""
    found = {}
    for baseline in shown:
        for group in baseline.get("experiments") or []:
            for rev in group["revs"]:
                data = rev["data"]
                found[rev["name"]] = {"params": flat(data["params"]["params.yaml"]["data"]),
                                      "metrics": data["metrics"]["metrics.json"]["data"],
                                      "rev": rev["rev"]}
    return found


@needs_dvc
def test_dry_run_prints_the_whole_plan_and_changes_nothing(dvc_project):
    project, shown = dvc_project
    before = (project.git("status", "--porcelain"), refs(project))
    out = project.exp("import-dvc", "--dry-run").stdout
    assert "Would write exp.yaml" in out and "Would write exp.lock" in out and "Would write data/raw.exp" in out
    for name in dvc_experiments(shown):
        assert f"Would import experiment {name}" in out
    assert re.search(r"Would import \d+ objects?, ", out)
    assert (project.git("status", "--porcelain"), refs(project)) == before
    assert not (project.path / ".git" / "exp" / "cache").exists()


@needs_dvc
def test_import_lists_dvc_experiments_with_the_same_params_and_metrics(dvc_project):
    project, shown = dvc_project
    project.exp("import-dvc")
    rows = {r["name"]: r for r in json.loads(project.exp("show", "--json").stdout)}
    expected = dvc_experiments(shown)
    assert len(expected) == 3
    for name, dvc_row in expected.items():
        row = rows[name]
        assert row["kind"] == "experiment" and row["state"] == "success"
        assert row["params"]["params.yaml"] == dvc_row["params"]
        assert row["metrics"]["metrics.json"] == dvc_row["metrics"]
        assert row["parent"] == project.head()   # the same baseline commit
    # The result is staged for review, and git's own checks pass.
    staged = project.git("diff", "--cached", "--name-only").split()
    assert {"exp.yaml", "exp.lock", "data/raw.exp"} <= set(staged)
    assert project.read("exp.yaml") == PIPELINE.format(python=sys.executable)  # unchanged, comment and all
    project.fsck()
    assert "all intact" in project.exp("fsck").stdout


@needs_dvc
def test_nothing_to_run_after_import_and_a_second_import_changes_nothing(dvc_project):
    project, _ = dvc_project
    project.exp("import-dvc")
    lock = project.read("exp.lock")
    status = project.exp("status").stdout
    assert "would run" not in status.lower(), status
    run = project.exp("run")
    said = run.stdout + run.stderr
    assert said.count("skipped: up to date") == 2 and "Running" not in said, said
    assert project.read("exp.lock") == lock
    before = (project.git("status", "--porcelain"), refs(project))
    again = project.exp("import-dvc")
    assert "Nothing to import" in again.stdout
    assert (project.git("status", "--porcelain"), refs(project)) == before


@needs_dvc
def test_apply_restores_each_experiments_outputs_byte_for_byte(dvc_project):
    project, shown = dvc_project
    project.exp("import-dvc")
    for name, row in dvc_experiments(shown).items():
        project.exp("apply", name)
        lock = project.git("show", f"{row['rev']}:dvc.lock")
        import yaml
        outs = {o["path"]: o["md5"] for stage in yaml.safe_load(lock)["stages"].values()
                for o in stage.get("outs", [])}
        assert md5(project.path / "models" / "model.bin") == outs["models/model.bin"]
        assert md5(project.path / "metrics.json") == outs["metrics.json"]
        listing = json.dumps([{"md5": md5(project.path / "data/prepared/size.txt"), "relpath": "size.txt"}])
        assert hashlib.md5(listing.encode()).hexdigest() + ".dir" == outs["data/prepared"]
    project.fsck()


@needs_dvc
def test_remove_dvc_takes_out_what_git_has_and_keeps_modified_files(dvc_project):
    project, _ = dvc_project
    project.exp("import-dvc", "--remove-dvc")
    # dvc.lock was changed by `dvc exp run` (the last experiment is applied): kept, named.
    assert (project.path / "dvc.lock").exists()
    for gone in ("dvc.yaml", "data/raw.dvc", ".dvc/config", ".dvcignore"):
        assert not (project.path / gone).exists(), gone
    assert (project.path / ".dvc" / "cache").is_dir()   # DVC's cache is never deleted
    assert (project.path / "data" / "raw" / "f1.txt").read_text() == "row 1\n"
    project.git("commit", "-q", "-m", "to git-exp")
    run = project.exp("run")
    assert "Stage 'train' skipped" in run.stdout + run.stderr
    project.fsck()


@needs_dvc
def test_corrupt_and_missing_objects_are_reported_not_invented(dvc_project):
    project, shown = dvc_project
    cache = project.path / ".dvc" / "cache" / "files" / "md5"
    model_md5 = md5(project.path / "models" / "model.bin")
    victim = cache / model_md5[:2] / model_md5[2:]
    victim.chmod(0o644)
    victim.write_text("tampered")
    out = project.exp("import-dvc")
    assert f"DVC object {model_md5} is corrupt" in out.stderr
    # The work tree still holds the model: it is taken from there, verified by its MD5.
    assert "models/model.bin" in project.read("exp.lock")
    # The same object is every experiment's that used it: each lock names the model.
    for name in dvc_experiments(shown):
        assert "models/model.bin" in project.git("show", f"refs/exps/{project.head()}/{name}:exp.lock")
    # Gone from both the cache and the work tree: listed as missing, left out of exp.lock.
    victim.unlink()
    (project.path / "models" / "model.bin").unlink()
    project.git("rm", "-q", "--cached", "exp.lock")
    (project.path / "exp.lock").unlink()
    out = project.exp("import-dvc")
    assert f"object {model_md5} is not in DVC's cache" in out.stderr
    assert "models/model.bin" not in project.read("exp.lock")


def test_unsupported_keys_are_listed_with_file_and_line(project):
    project.gen({".dvc": {"config": "[core]\n    remote = store\n['remote \"store\"']\n    url = ../store\n"
                                    "['remote \"gcs\"']\n    url = gs://bucket/x\n"},
                 "dvc.yaml": "artifacts:\n  model:\n    path: m.bin\nstages:\n  train:\n    cmd: echo hi\n"
                             "    outs:\n      - m.bin:\n          remote: store\n"})
    project.commit("dvc project")
    out = project.exp("import-dvc")
    assert "dvc.yaml:1:1: top-level key 'artifacts' is not supported by git-exp; left out" in out.stderr
    assert "dvc.yaml:9:11: output option 'remote' is not supported by git-exp; left out" in out.stderr
    assert "artifacts" not in project.read("exp.yaml") and "remote" not in project.read("exp.yaml")
    assert "echo hi" in project.read("exp.yaml")
    assert project.git("config", "-f", ".expconfig", "exp.remote").strip() == str(project.path / "store")
    assert "gs://bucket/x" in out.stderr and "does not speak" in out.stderr
    project.exp("status")   # the converted pipeline is valid


def test_a_dvc_file_that_leaves_the_work_tree_is_refused(project):
    project.gen({".dvc": {"config": ""},
                 "data.dvc": "outs:\n- md5: d41d8cd98f00b204e9800998ecf8427e\n  size: 0\n  path: ../../escape\n"})
    project.commit("hostile")
    proc = project.exp("import-dvc", check=False)
    assert proc.returncode == 1 and "refusing path" in proc.stderr and "Traceback" not in proc.stderr
    assert not (project.path / "exp.yaml").exists()


def test_outside_a_dvc_project_it_says_so(committed):
    proc = committed.exp("import-dvc", check=False)
    assert proc.returncode == 1
    assert "not a DVC repository" in proc.stderr and "hint:" in proc.stderr
