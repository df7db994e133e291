"""End to end: `git exp run` records experiments as real commits, checked with git."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

TRAIN = """\
import json, re, sys
text = open("params.yaml").read()
lr = float(re.search(r"lr: *([0-9.e-]+)", text).group(1))
epochs = int(re.search(r"epochs: *([0-9]+)", text).group(1))
print(f"training lr={lr} epochs={epochs}")
open("model.txt", "w").write(f"weights {lr * epochs}\\n")
json.dump({"accuracy": round(1 - lr / 2, 4), "loss": lr}, open("metrics.json", "w"))
"""

PARAMS = """\
# learning settings
train:
  lr: 0.1        # step size
  epochs: 3
"""

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py]
    params: [train.lr, train.epochs]
    outs: [model.txt]
    metrics:
      - metrics.json:
          cache: false
"""


@pytest.fixture
def ml(committed):
    committed.gen({"train.py": TRAIN, "params.yaml": PARAMS, "exp.yaml": PIPELINE})
    committed.commit("pipeline")
    return committed


def exp_refs(project) -> dict[str, str]:
    out = project.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/exps/")
    return dict(line.split(" ") for line in out.splitlines())


def trailer(project, sha: str, key: str) -> str:
    return project.git("log", "-1", f"--format=%(trailers:key={key},valueonly)", sha).strip()


def test_run_records_a_commit_without_moving_head_or_index(ml):
    head = ml.head()
    index_before = (ml.path / ".git" / "index").read_bytes()
    proc = ml.exp("run", "-n", "first")
    assert "training lr=0.1 epochs=3" in proc.stdout
    refs = exp_refs(ml)
    ref = f"refs/exps/{head}/first"
    assert list(refs) == [ref]
    sha = refs[ref]
    assert ml.git("rev-list", "--parents", "-n1", sha).split() == [sha, head]
    assert ml.head() == head
    assert ml.git("symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert (ml.path / ".git" / "index").read_bytes() == index_before
    files = set(ml.git("ls-tree", "-r", "--name-only", sha).split())
    assert {"exp.lock", "metrics.json", "params.yaml", ".gitignore", "train.py"} <= files
    assert "model.txt" not in files  # a cached out enters Git only through its hash
    assert "/model.txt" in ml.git("show", f"{sha}:.gitignore")
    lock = ml.git("show", f"{sha}:exp.lock")
    assert "model.txt" in lock and "train.lr: 0.1" in lock
    assert trailer(ml, sha, "Exp-Status") == "success"
    assert (ml.path / "model.txt").read_text() == "weights 0.30000000000000004\n"
    ml.fsck()


def test_set_param_is_a_one_line_diff_named_in_the_message(ml):
    ml.exp("run", "-S", "train.lr=0.05", "-n", "half")
    diff = ml.git("diff", "-U0", "--", "params.yaml")
    changed = [l for l in diff.splitlines() if l.startswith(("+", "-")) and not l.startswith(("+++", "---"))]
    assert changed == ["-  lr: 0.1        # step size", "+  lr: 0.05        # step size"]
    sha = exp_refs(ml)[f"refs/exps/{ml.head()}/half"]
    assert "train.lr=0.05" in ml.git("log", "-1", "--format=%s", sha)
    assert json.loads(ml.read("metrics.json"))["loss"] == 0.05


def test_unknown_param_is_refused_and_nothing_changes(ml):
    before = ml.read("params.yaml")
    proc = ml.exp("run", "-S", "train.lrr=0.05", check=False)
    assert proc.returncode == 1
    assert "train.lrr" in proc.stderr and "hint:" in proc.stderr and "+train.lrr=0.05" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert ml.read("params.yaml") == before
    assert exp_refs(ml) == {}


def test_a_second_run_skips_what_is_up_to_date(ml):
    ml.exp("run", "-n", "one")
    proc = ml.exp("run", "-n", "two")
    assert "Stage 'train' skipped: up to date." in proc.stderr
    assert "training" not in proc.stdout
    assert len(exp_refs(ml)) == 2


def test_an_unnamed_run_that_changes_nothing_is_not_recorded_again(ml):
    ml.exp("run", "-n", "one")
    proc = ml.exp("run")
    assert "Nothing changed since experiment one" in proc.stdout
    assert list(exp_refs(ml)) == [f"refs/exps/{ml.head()}/one"]
    assert not list((ml.path / ".git" / "exp" / "logs").glob("run-*.log"))
    (ml.path / "notes.txt").write_text("a change that is not a dep\n")
    ml.exp("run")
    assert len(exp_refs(ml)) == 2


def test_run_cache_restores_and_no_run_cache_runs(ml):
    ml.exp("run", "-n", "a")
    ml.exp("run", "-S", "train.lr=0.2", "-n", "b")
    proc = ml.exp("run", "-S", "train.lr=0.1", "-n", "c")
    assert "restored from the run cache" in proc.stderr
    assert "training" not in proc.stdout
    assert (ml.path / "model.txt").read_text() == "weights 0.30000000000000004\n"
    ml.exp("run", "-S", "train.lr=0.2", "-n", "d-prep")
    proc = ml.exp("run", "-S", "train.lr=0.1", "-n", "d", "--no-run-cache")
    assert "training lr=0.1" in proc.stdout


def test_dry_run_says_why_and_changes_nothing(ml):
    proc = ml.exp("run", "--dry")
    assert "train: would run" in proc.stdout and "never ran" in proc.stdout
    assert not (ml.path / "exp.lock").exists()
    ml.exp("run", "-n", "x")
    (ml.path / "params.yaml").write_text(PARAMS.replace("0.1 ", "0.3 "))
    proc = ml.exp("run", "--dry")
    assert "param train.lr 0.1 → 0.3" in proc.stdout


def test_failed_stage_is_recorded_with_its_log(ml):
    ml.gen({"exp.yaml": PIPELINE.replace("python3 train.py", "echo boom; exit 3")})
    ml.commit("failing")
    proc = ml.exp("run", "-n", "broken", check=False)
    assert proc.returncode == 1
    assert "error: stage 'train' failed: its command exited with status 3" in proc.stderr
    sha = exp_refs(ml)[f"refs/exps/{ml.head()}/broken"]
    assert trailer(ml, sha, "Exp-Status") == "failed"
    assert trailer(ml, sha, "Exp-Exit-Code") == "3"
    assert "boom" in ml.exp("logs", "broken").stdout
    assert not (ml.path / "exp.lock").exists()  # the lock keeps only good runs
    ml.exp("remove", "--failed")
    assert exp_refs(ml) == {}


def test_ctrl_c_ends_the_stage_group_and_records_the_run(ml, tmp_path):
    marker = tmp_path / "child-pid"
    ml.gen({"exp.yaml": PIPELINE.replace(
        "python3 train.py", f"sleep 60 & echo $! > {marker}; wait")})
    ml.commit("slow")
    # git-exp itself, as Git starts it: Git's own dispatcher dies of the
    # SIGINT like any git command, while git-exp records the run and exits 130.
    proc = subprocess.Popen(["git-exp", "run", "-n", "stopped"], cwd=ml.path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    for _ in range(200):
        if marker.exists() and marker.read_text().strip():
            break
        time.sleep(0.05)
    child = int(marker.read_text())
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "error: interrupted; the run was recorded as experiment 'stopped'" in err
    assert "hint: 'git exp run' runs it again" in err and "'git exp checkout' restores" in err
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the stage's background process outlived the interrupt")
    sha = exp_refs(ml)[f"refs/exps/{ml.head()}/stopped"]
    assert trailer(ml, sha, "Exp-Status") == "interrupted"
    assert not list((ml.path / ".git").glob("exp-index.*"))
    ml.fsck()


def test_names_are_unique_unless_forced(ml):
    ml.exp("run", "-n", "same")
    proc = ml.exp("run", "-n", "same", check=False)
    assert proc.returncode == 1 and "already exists" in proc.stderr and "-f" in proc.stderr
    ml.exp("run", "-n", "same", "-f")
    assert len(exp_refs(ml)) == 1
    proc = ml.exp("run", "-n", "bad/name", check=False)
    assert proc.returncode == 1 and "invalid experiment name" in proc.stderr


def test_generated_names_are_adjective_noun(ml):
    ml.exp("run")
    (name,) = [r.rsplit("/", 1)[1] for r in exp_refs(ml)]
    assert name.count("-") == 1 and all(name.split("-"))


def test_oversized_file_stops_the_run_before_anything_runs(ml):
    (ml.path / "big.bin").write_bytes(b"\0" * (11 * 1024 * 1024))
    proc = ml.exp("run", check=False)
    assert proc.returncode == 1
    assert "big.bin" in proc.stderr and "git exp add" in proc.stderr
    assert not (ml.path / "model.txt").exists()
    ml.git("config", "exp.maxCommitFileSize", "20m")
    ml.exp("run", "-n", "fine")


def test_an_error_before_any_stage_runs_records_nothing_and_leaves_no_log(ml):
    ml.gen({"exp.yaml": PIPELINE.replace("deps: [train.py]", "deps: [missing.py]")})
    ml.commit("broken dep")
    proc = ml.exp("run", check=False)
    assert proc.returncode == 1 and "missing.py" in proc.stderr
    assert exp_refs(ml) == {}
    assert not list((ml.path / ".git" / "exp" / "logs").glob("*.log"))


def test_baseline_needs_a_commit(project):
    project.gen({"exp.yaml": PIPELINE, "train.py": TRAIN, "params.yaml": PARAMS})
    proc = project.exp("run", check=False)
    assert proc.returncode == 1
    assert "no commits yet" in proc.stderr and "git commit" in proc.stderr


def test_outside_a_repository(tmp_path):
    proc = subprocess.run(["git", "exp", "list"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 128
    assert proc.stderr.startswith("error: not a git repository")
    assert "hint: cd into your project's Git repository, or create one: git init" in proc.stderr


def test_apply_brings_back_files_and_data_and_keeps_local_edits(ml):
    ml.exp("run", "-n", "slow-lr")
    ml.exp("run", "-S", "train.lr=0.4", "-n", "fast-lr")
    (ml.path / "notes.txt").write_text("my untracked notes\n")
    (ml.path / "train.py").write_text(TRAIN + "# local edit\n")
    proc = ml.exp("apply", "slow-lr")
    assert "train.lr: 0.1" not in proc.stdout
    assert "lr: 0.1 " in ml.read("params.yaml")
    assert ml.read("train.py") == TRAIN
    assert (ml.path / "model.txt").read_text() == "weights 0.30000000000000004\n"
    assert ml.read("notes.txt") == "my untracked notes\n"  # as git checkout: not the experiment's
    restore = [l for l in proc.stdout.splitlines() if "git exp apply refs/exp-backups/" in l]
    assert restore
    ml.exp("apply", restore[0].split("git exp apply ")[1].strip())
    assert ml.read("notes.txt") == "my untracked notes\n"
    assert ml.read("train.py").endswith("# local edit\n")
    assert "lr: 0.4" in ml.read("params.yaml")
    assert (ml.path / "model.txt").read_text() == "weights 1.2000000000000002\n"
    ml.fsck()


def test_branch_rename_list_remove(ml):
    ml.exp("run", "-n", "keeper")
    sha = exp_refs(ml)[f"refs/exps/{ml.head()}/keeper"]
    ml.exp("branch", "keeper", "good")
    assert ml.git("rev-parse", "good").strip() == sha
    proc = ml.exp("branch", "keeper", "good", check=False)
    assert proc.returncode == 1 and "already exists" in proc.stderr
    ml.exp("rename", "keeper", "kept")
    assert ml.exp("list", "--name-only").stdout == "kept\n"
    assert "main:" in ml.exp("list").stdout
    ml.exp("remove", "kept")
    assert exp_refs(ml) == {}
    proc = ml.exp("remove", "nope", check=False)
    assert proc.returncode == 1 and "no experiment named 'nope'" in proc.stderr


@pytest.mark.parametrize("name", ["@{-1}", "HEAD", "a..b", "x.lock"])
def test_branch_refuses_a_name_git_would_read_as_something_else(ml, name):
    ml.git("checkout", "-q", "-b", "side")
    ml.git("checkout", "-q", "-")   # @{-1} now stands for side
    ml.exp("run", "-n", "keeper")
    heads = ml.git("for-each-ref", "refs/heads/")
    proc = ml.exp("branch", "keeper", name, check=False)
    assert proc.returncode == 1, proc.stderr
    assert f"error: '{name}' is not a valid branch name" in proc.stderr
    assert "hint:" in proc.stderr and "Traceback" not in proc.stderr
    assert ml.git("for-each-ref", "refs/heads/") == heads


def test_resolve_by_sha_prefix_and_ambiguity(ml):
    ml.exp("run", "-n", "one")
    sha = list(exp_refs(ml).values())[0]
    assert "stage 'train': running" in ml.exp("logs", sha[:8]).stdout
    ml.exp("branch", sha[:8], "from-sha")
    assert ml.git("rev-parse", "from-sha").strip() == sha


def test_save_records_without_running(ml):
    (ml.path / "extra.txt").write_text("hand made\n")
    ml.exp("save", "-n", "manual")
    sha = exp_refs(ml)[f"refs/exps/{ml.head()}/manual"]
    assert "extra.txt" in ml.git("ls-tree", "--name-only", sha)
    assert not (ml.path / "model.txt").exists()


def test_malicious_lock_path_is_refused_by_apply(ml):
    ml.exp("run", "-n", "good")
    lock = ml.read("exp.lock").replace("path: model.txt", "path: ../outside.txt")
    (ml.path / "exp.lock").write_text(lock)
    ml.exp("save", "-n", "evil")
    proc = ml.exp("apply", "evil", check=False)
    assert proc.returncode == 1
    assert "unsafe path" in proc.stderr
    assert not (ml.path.parent / "outside.txt").exists()


def test_a_second_run_in_the_same_work_tree_is_refused(ml):
    lock = ml.path / ".git" / "exp-run.lock"
    lock.write_text(json.dumps({"pid": os.getpid(), "name": "busy-bee", "started": "now"}))
    proc = ml.exp("run", check=False)
    assert proc.returncode == 1 and "busy-bee" in proc.stderr
    assert ml.exp("list").returncode == 0  # readers never wait for it
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock.write_text(json.dumps({"pid": dead.pid, "name": "gone"}))
    ml.exp("run", "-n", "after-stale")


def test_gc_keeps_every_experiment(ml):
    ml.exp("run", "-n", "a")
    ml.exp("run", "-S", "train.lr=0.3", "-n", "b")
    before = exp_refs(ml)
    ml.git("gc", "--prune=now", "-q")
    assert exp_refs(ml) == before
    for sha in before.values():
        ml.git("cat-file", "-e", sha)
    ml.fsck()


def test_save_and_rename_respect_names_held_by_queued_entries(ml):
    ml.exp("run", "--queue", "-n", "later")
    proc = ml.exp("save", "-n", "later", check=False)
    assert proc.returncode == 1 and "a queued experiment is already named 'later'" in proc.stderr
    ml.exp("save", "-n", "now")
    proc = ml.exp("rename", "now", "later", check=False)
    assert proc.returncode == 1 and "a queued experiment is already named 'later'" in proc.stderr
    assert list(exp_refs(ml)) == [f"refs/exps/{ml.head()}/now"]


def test_a_stage_writing_an_oversized_file_is_refused_after_it_ran(ml):
    # The check after the stage reads the status the no-op memo takes anyway
    # (noopmemo._status): it must list what `ls-files -m -o` would, no more.
    ml.git("config", "exp.maxCommitFileSize", "1m")
    (ml.path / "staged.bin").write_bytes(b"\1" * (2 * 1024 * 1024))
    ml.git("add", "staged.bin")   # staged, unchanged since: Git has it already, not refused
    ml.exp("run", "-n", "fine")
    ml.gen({"exp.yaml": PIPELINE.replace(
        "cmd: python3 train.py",
        "cmd: python3 train.py && python3 -c \"open('big.out', 'wb').write(bytes(2 << 20))\"")})
    proc = ml.exp("run", check=False)
    assert proc.returncode == 1
    assert "big.out" in proc.stderr and "staged.bin" not in proc.stderr
