"""The no-op `run`'s memo: replayed while nothing it depended on changed, never stale."""
from __future__ import annotations

import os
import time

PIPELINE = """\
stages:
  train:
    cmd: python3 -c "import sys; open('out.txt','w').write(open('params.yaml').read())"
    deps: [data.txt]
    params: [lr]
    outs: [out.txt]
"""


def run(project, tmp_path, *args):
    """`git exp run`, and whether it took the long way (snapshotted the work tree with Git)."""
    trace = tmp_path / f"trace-{time.monotonic_ns()}"
    proc = project.exp("run", *args, env={"GIT_TRACE": str(trace)})
    long_way = "write-tree" in trace.read_text()
    return proc, long_way


def remembered(committed, tmp_path):
    """A project whose no-op run is remembered: run, then a no-op right away (it stores)."""
    committed.gen({"exp.yaml": PIPELINE, "params.yaml": "lr: 0.1\n", "data.txt": "x\n"})
    committed.commit("pipeline")
    first, _ = run(committed, tmp_path)
    assert "Running stage 'train'" in first.stderr + first.stdout
    stored, _ = run(committed, tmp_path)   # answered ahead by the first run, or the long way
    assert "Nothing changed since experiment" in stored.stdout
    return stored


def test_a_noop_right_after_a_noop_is_replayed_with_the_same_words(committed, tmp_path):
    stored = remembered(committed, tmp_path)
    replayed, long_way = run(committed, tmp_path)
    assert not long_way
    assert (replayed.stdout, replayed.stderr) == (stored.stdout, stored.stderr)
    assert "Stage 'train' skipped: up to date." in replayed.stderr
    assert len(committed.git("for-each-ref", "refs/exps/").splitlines()) == 1


def test_a_params_rewrite_keeping_size_and_mtime_runs_the_stage(committed, tmp_path):
    remembered(committed, tmp_path)
    before = os.stat(committed.path / "params.yaml")
    (committed.path / "params.yaml").write_text("lr: 0.2\n")   # same size, same second
    os.utime(committed.path / "params.yaml", ns=(before.st_atime_ns, before.st_mtime_ns))
    proc, long_way = run(committed, tmp_path)
    assert long_way and "Running stage 'train'" in proc.stderr + proc.stdout
    assert committed.read("out.txt") == "lr: 0.2\n"
    assert len(committed.git("for-each-ref", "refs/exps/").splitlines()) == 2


def test_a_same_second_rewrite_right_after_the_run_that_stored_is_seen(committed, tmp_path):
    remembered(committed, tmp_path)       # the files are fresh: same second as the memo
    data = committed.path / "data.txt"
    before = os.stat(data)
    data.write_text("z\n")
    os.utime(data, ns=(before.st_atime_ns, before.st_mtime_ns))
    proc, long_way = run(committed, tmp_path)
    assert long_way and "Running stage 'train'" in proc.stderr + proc.stdout


def test_an_edited_lock_is_seen(committed, tmp_path):
    remembered(committed, tmp_path)
    lock = committed.path / "exp.lock"
    before = os.stat(lock)
    lock.write_text(lock.read_text().replace("lr: 0.1", "lr: 0.3"))
    os.utime(lock, ns=(before.st_atime_ns, before.st_mtime_ns))
    proc, long_way = run(committed, tmp_path)
    assert long_way and "skipped" not in proc.stderr   # run, or restored from the run cache
    assert "Nothing changed" not in proc.stdout


def test_an_edited_pipeline_is_seen(committed, tmp_path):
    remembered(committed, tmp_path)
    path = committed.path / "exp.yaml"
    path.write_text(PIPELINE.replace("params.yaml').read())", "params.yaml').read()*2)"))
    proc, long_way = run(committed, tmp_path)
    assert long_way and "Running stage 'train'" in proc.stderr + proc.stdout
    assert committed.read("out.txt") == "lr: 0.1\n" * 2


def test_a_deleted_ignored_out_and_a_changed_data_dep_are_seen(committed, tmp_path):
    remembered(committed, tmp_path)
    os.unlink(committed.path / "out.txt")            # ignored by Git: only our stat sees it
    proc, long_way = run(committed, tmp_path)
    assert long_way and "Nothing changed" not in proc.stdout
    assert committed.read("out.txt") == "lr: 0.1\n"
    run(committed, tmp_path)                          # remembered again
    (committed.path / "data.txt").write_text("y\n")  # a dep
    proc, long_way = run(committed, tmp_path)
    assert long_way and "Running stage 'train'" in proc.stderr + proc.stdout


def test_a_removed_experiment_and_a_new_untracked_file_are_seen(committed, tmp_path):
    remembered(committed, tmp_path)
    (committed.path / "notes.txt").write_text("new\n")
    proc, long_way = run(committed, tmp_path)
    assert long_way and "recorded" in proc.stdout     # a different tree: a new experiment
    run(committed, tmp_path)                          # remembered, matching the new one
    ref = committed.git("for-each-ref", "--sort=-creatordate", "--format=%(refname)",
                        "refs/exps/").splitlines()
    for name in ref:
        committed.git("update-ref", "-d", name)
    proc, long_way = run(committed, tmp_path)
    assert long_way and "recorded" in proc.stdout
    committed.fsck()


def test_the_noop_after_a_run_that_ran_is_answered_ahead_and_right(committed, tmp_path):
    committed.gen({"exp.yaml": PIPELINE, "params.yaml": "lr: 0.1\n", "data.txt": "x\n"})
    committed.commit("pipeline")
    run(committed, tmp_path)
    ran, _ = run(committed, tmp_path, "-S", "lr=0.2")
    recorded = ran.stdout.split("Experiment ", 1)[1].split(" recorded")[0]   # "name (sha7)"
    replayed, long_way = run(committed, tmp_path)
    assert not long_way                         # remembered by the -S run itself
    assert f"Nothing changed since experiment {recorded}: not recorded again" in replayed.stdout
    assert "Stage 'train' skipped: up to date." in replayed.stderr


def test_a_stage_that_changes_its_own_dep_is_never_answered_ahead(committed, tmp_path):
    pipeline = PIPELINE.replace(
        "open('params.yaml').read())", "open('params.yaml').read()); open('data.txt','a').write('+')")
    committed.gen({"exp.yaml": pipeline, "params.yaml": "lr: 0.1\n", "data.txt": "x\n"})
    committed.commit("pipeline")
    for _ in range(3):
        proc, long_way = run(committed, tmp_path)
        assert long_way and "Running stage 'train'" in proc.stderr + proc.stdout

