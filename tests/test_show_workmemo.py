"""The workspace row's memo: reused while every file it came from keeps its stat."""
from __future__ import annotations

import json
import os
import time

from git_exp.repo import discover
from git_exp.show.commits import CommitReader
from git_exp.show.workmemo import VERSION

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [data/raw.csv]
    params: [lr]
    metrics:
      - metrics.json:
          cache: false
"""


def settle(project, *names: str) -> None:
    """Date files back, past the racy window (ctime cannot be set: only mtime)."""
    old = time.time_ns() - 10_000_000_000
    for name in names:
        os.utime(project.path / name, ns=(old, old))


def memo_file(project) -> str:
    return os.path.join(discover(str(project.path)).exp_dir, "memo", f"workspace-v{VERSION}.json")


def workspace(project):
    return CommitReader(discover(str(project.path))).workspace()


def remembered(project) -> dict:
    with open(memo_file(project)) as fh:
        return json.load(fh)[str(project.path)]


def plant(project, lr) -> None:
    """Change what the memo says, so reading it back shows whether it was trusted."""
    path = memo_file(project)
    with open(path) as fh:
        memo = json.load(fh)
    memo[str(project.path)]["data"]["params"]["params.yaml"]["lr"] = lr
    with open(path, "w") as fh:
        json.dump(memo, fh)


def make(project) -> None:
    project.gen({"exp.yaml": PIPELINE, "params.yaml": "lr: 0.1\n", "metrics.json": '{"acc": 0.5}',
                 "data": {"raw.csv": "x\n"}})
    settle(project, "exp.yaml", "params.yaml", "metrics.json")


def test_settled_files_are_remembered_and_trusted_while_unchanged(committed):
    make(committed)
    first = workspace(committed)
    assert first.params == {"params.yaml": {"lr": 0.1}}
    assert first.metrics == {"metrics.json": {"acc": 0.5}}
    entry = remembered(committed)
    assert set(entry["files"]) == {"exp.yaml", "params.yaml", "metrics.json"}
    assert entry["folders"] == {"data": 0o040000}
    plant(committed, "from the memo")
    assert workspace(committed).params == {"params.yaml": {"lr": "from the memo"}}


def test_a_rewrite_that_keeps_size_and_mtime_is_still_seen(committed):
    make(committed)
    workspace(committed)
    plant(committed, "stale")
    before = os.stat(committed.path / "params.yaml")
    (committed.path / "params.yaml").write_text("lr: 0.2\n")   # same size, same inode
    os.utime(committed.path / "params.yaml", ns=(before.st_atime_ns, before.st_mtime_ns))
    assert workspace(committed).params == {"params.yaml": {"lr": 0.2}}  # ctime told


def test_files_written_just_now_are_not_remembered(committed):
    committed.gen({"exp.yaml": PIPELINE, "params.yaml": "lr: 0.1\n"})
    assert workspace(committed).params == {"params.yaml": {"lr": 0.1}}
    assert not os.path.exists(memo_file(committed))


def test_a_file_that_appears_or_goes_is_a_miss(committed):
    make(committed)
    os.remove(committed.path / "metrics.json")
    assert workspace(committed).metrics == {}
    assert remembered(committed)["files"]["metrics.json"] is None
    committed.gen({"metrics.json": '{"acc": 0.9}'})
    assert workspace(committed).metrics == {"metrics.json": {"acc": 0.9}}
    os.remove(committed.path / "exp.yaml")
    got = workspace(committed)
    assert got.metrics == {} and got.errors == []


def test_templated_pipeline_follows_the_file_it_interpolates(committed):
    committed.gen({"exp.yaml": PIPELINE.replace("metrics.json", "${out}"),
                   "params.yaml": "lr: 0.1\nout: m1.json\n",
                   "m1.json": '{"acc": 1}', "m2.json": '{"acc": 2}'})
    settle(committed, "exp.yaml", "params.yaml", "m1.json", "m2.json")
    assert workspace(committed).metrics == {"m1.json": {"acc": 1}}
    committed.gen({"params.yaml": "lr: 0.1\nout: m2.json\n"})
    assert workspace(committed).metrics == {"m2.json": {"acc": 2}}


def test_errors_are_remembered_like_values(committed):
    committed.gen({"exp.yaml": PIPELINE, "params.yaml": "lr: [\n"})
    settle(committed, "exp.yaml", "params.yaml")
    first = workspace(committed)
    assert first.errors and first.errors == workspace(committed).errors
    committed.gen({"params.yaml": "lr: 3\n"})
    got = workspace(committed)
    assert got.errors == [] and got.params == {"params.yaml": {"lr": 3}}


def test_a_symlinked_folder_on_a_stage_path_is_never_remembered(committed, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    make(committed)
    os.rename(committed.path / "data", outside / "data")
    os.symlink(outside / "data", committed.path / "data")
    got = workspace(committed)
    assert any("symlink 'data'" in e for e in got.errors)
    assert not os.path.exists(memo_file(committed))
    os.remove(committed.path / "data")
    os.rename(outside / "data", committed.path / "data")
    assert workspace(committed).errors == []


def test_a_corrupt_memo_is_a_miss(committed):
    make(committed)
    workspace(committed)
    with open(memo_file(committed), "w") as fh:
        fh.write("{not json")
    assert workspace(committed).params == {"params.yaml": {"lr": 0.1}}
    assert remembered(committed)["data"]["params"] == {"params.yaml": {"lr": 0.1}}


def test_a_folder_symlinked_inside_the_repository_is_not_remembered_either(committed, tmp_path):
    # Fine today, but retargeting the link outside changes no stat we could key on.
    make(committed)
    os.rename(committed.path / "data", committed.path / "real")
    os.symlink("real", committed.path / "data")
    assert workspace(committed).errors == []
    assert not os.path.exists(memo_file(committed))
