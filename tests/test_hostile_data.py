"""Hostile and careless use of the data commands: no user byte is ever lost.

Rows 5 and 6 of issue 14, each driven the way a user does it: hooks installed
with `git exp install`, real `git checkout`/`git merge`, the real CLI, real
queue workers, and Git's own `git fsck --strict` at the end.

- Edited data (an edited out, a file added inside an out directory or a
  tracked folder) survives a branch switch, a merge and any number of gc
  runs; `git exp checkout` refuses it, and `--force` keeps it in a backup
  ref that gc keeps.
- gc never deletes what an experiment, a backup, a queue entry or a running
  worker names, and never fails while workers come and go.
- fsck names every missing or corrupt object with the experiments that need it.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time

import pytest

TRAIN = """\
import os, re
lr = re.search(r"lr: *([0-9.]+)", open("params.yaml").read()).group(1)
open("model.txt", "w").write(f"model {lr}\\n")
os.makedirs("outdir", exist_ok=True)
for name in ("a.txt", "b.txt"):
    open(os.path.join("outdir", name), "w").write(f"{name} {lr}\\n")
"""

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py]
    params: [train.lr]
    outs: [model.txt, outdir]
"""


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def obj(project, digest: str):
    return project.path / ".git" / "exp" / "cache" / "files" / "sha256" / digest[:2] / digest[2:]


def run_git(project, *args):
    return subprocess.run(["git", *args], cwd=project.path, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def lock_out(project, rev: str, path: str) -> str:
    """The hash exp.lock at REV records for out PATH."""
    lock = project.git("show", f"{rev}:exp.lock")
    found = re.search(rf"- path: {re.escape(path)}\n\s+hash: (\S+)", lock)
    assert found, lock
    return found.group(1)


def backup_ref(text: str) -> str:
    found = re.search(r"git exp apply (refs/exp-backups/checkout-\S+)", text)
    assert found, text
    return found.group(1)


def manifest(project, digest: str) -> dict:
    """relpath -> hash of a directory object in the cache."""
    return {e["path"]: e["hash"] for e in json.loads(obj(project, digest).read_bytes())}


@pytest.fixture
def branches(committed):
    """Hooks installed; main ran train with lr 0.1, branch `other` with lr 0.2, both committed."""
    committed.exp("install")
    committed.gen({"train.py": TRAIN, "params.yaml": "train:\n  lr: 0.1\n", "exp.yaml": PIPELINE})
    committed.commit("pipeline")
    committed.exp("run", "-n", "first")
    committed.commit("lr 0.1")
    committed.git("checkout", "-q", "-b", "other")
    committed.exp("run", "-S", "train.lr=0.2", "-n", "second")
    committed.commit("lr 0.2")
    proc = run_git(committed, "checkout", "main")
    assert proc.returncode == 0, proc.stderr
    assert committed.read("model.txt") == "model 0.1\n"
    return committed


def test_checkout_and_gc_keep_an_edited_out_and_a_file_added_in_an_out_dir(branches):
    p = branches
    (p.path / "model.txt").write_text("my hand-tuned model\n")
    (p.path / "outdir" / "notes.txt").write_text("my notes\n")
    proc = run_git(p, "checkout", "other")
    assert proc.returncode == 0, proc.stderr
    assert "left your version of model.txt in place" in proc.stderr
    assert "left your version of outdir in place" in proc.stderr
    assert "1 file(s) not in the previous HEAD's record (outdir/notes.txt)" in proc.stderr
    assert "git exp checkout --force model.txt outdir" in proc.stderr
    assert "git exp add model.txt outdir" in proc.stderr
    for _ in range(2):
        p.exp("gc")
        p.exp("gc", "--prune=now")
    assert p.read("model.txt") == "my hand-tuned model\n"
    assert p.read("outdir/notes.txt") == "my notes\n" and p.read("outdir/a.txt") == "a.txt 0.1\n"

    # git exp checkout refuses, changing nothing; --force takes the new version, keeping ours.
    proc = p.exp("checkout", check=False)
    assert proc.returncode == 1 and "nothing was changed" in proc.stderr
    assert p.read("model.txt") == "my hand-tuned model\n"
    proc = p.exp("checkout", "--force", "model.txt", "outdir")
    ref = backup_ref(proc.stdout)
    assert "model.txt, outdir" in proc.stdout
    assert p.read("model.txt") == "model 0.2\n" and p.read("outdir/a.txt") == "a.txt 0.2\n"
    assert not (p.path / "outdir" / "notes.txt").exists()
    p.exp("gc", "--prune=now")
    trailers = dict(re.findall(r"Exp-Data: (\S+?)=(\S+?):", p.git("log", "-1", "--format=%B", ref)))
    assert set(trailers) == {"model.txt", "outdir"}
    assert obj(p, trailers["model.txt"]).read_bytes() == b"my hand-tuned model\n"
    saved = manifest(p, trailers["outdir"])
    assert obj(p, saved["notes.txt"]).read_bytes() == b"my notes\n"
    assert "all intact" in p.exp("fsck").stdout
    p.fsck()


def test_merge_keeps_an_edited_out(branches):
    p = branches
    (p.path / "model.txt").write_text("my edit\n")
    proc = run_git(p, "merge", "other")   # a fast-forward that changes model.txt's record
    assert proc.returncode == 0, proc.stderr
    assert "left your version of model.txt in place" in proc.stderr
    assert p.read("model.txt") == "my edit\n"
    assert p.read("outdir/a.txt") == "a.txt 0.2\n"   # unedited: brought up to date
    # Keeping ours: `git exp run` records it again (an out), nothing is lost on the way.
    p.exp("gc", "--prune=now")
    assert p.read("model.txt") == "my edit\n"
    p.fsck()


def test_tracked_folder_with_a_new_file_and_edited_data_nothing_records(committed):
    p = committed
    p.exp("install")
    p.gen({"data": {"x.csv": "1\n"}, "extra.bin": "v1\n"})
    p.exp("add", "data", "extra.bin")
    p.commit("data v1")
    p.git("checkout", "-q", "-b", "v2")
    p.gen({"data": {"x.csv": "2\n"}})
    p.exp("add", "data")
    p.git("rm", "-q", "extra.bin.exp")
    p.commit("data v2, no extra")
    assert run_git(p, "checkout", "main").returncode == 0
    assert p.read("extra.bin") == "v1\n" and p.read("data/x.csv") == "1\n"

    p.gen({"data": {"mine.csv": "my rows\n"}})
    (p.path / "extra.bin").write_text("edited\n")
    proc = run_git(p, "checkout", "v2")
    assert proc.returncode == 0, proc.stderr
    assert "1 file(s) not in the previous HEAD's record (data/mine.csv)" in proc.stderr
    assert "left extra.bin in place: nothing records it at the new HEAD" in proc.stderr
    p.exp("gc", "--prune=now")
    assert p.read("data/mine.csv") == "my rows\n" and p.read("data/x.csv") == "1\n"
    assert p.read("extra.bin") == "edited\n"
    # Keep ours: record it.
    p.exp("add", "data")
    assert sorted(os.listdir(p.path / "data")) == ["mine.csv", "x.csv"]
    # Unedited data still follows the branch: back on main, data's record is main's.
    (p.path / "extra.bin").unlink()
    p.commit("data with my rows")
    assert run_git(p, "checkout", "main").returncode == 0
    assert p.read("data/x.csv") == "1\n" and not (p.path / "data" / "mine.csv").exists()
    assert p.read("extra.bin") == "v1\n"
    p.fsck()


def test_checkout_refuses_a_file_added_inside_an_out_dir_and_force_backs_it_up(branches):
    p = branches
    (p.path / "outdir" / "a.txt").unlink()            # a deletion is not an edit worth keeping...
    assert "Checked out outdir." in p.exp("checkout").stdout   # ...the record has it
    (p.path / "outdir" / "untracked.txt").write_text("precious\n")
    proc = p.exp("checkout", check=False)
    assert proc.returncode == 1
    assert "outdir: edited (1 file(s) not in its record (outdir/untracked.txt))" in proc.stderr
    (p.path / "model.txt").unlink()
    assert p.exp("checkout", check=False).returncode == 1
    assert not (p.path / "model.txt").exists()        # refused as a whole: nothing written
    proc = p.exp("checkout", "--force")
    ref = backup_ref(proc.stdout)
    assert not (p.path / "outdir" / "untracked.txt").exists() and p.read("model.txt") == "model 0.1\n"
    p.exp("gc", "--prune=now")
    saved = dict(re.findall(r"Exp-Data: (\S+?)=(\S+?):", p.git("log", "-1", "--format=%B", ref)))
    assert list(saved) == ["outdir"]
    assert obj(p, manifest(p, saved["outdir"])["untracked.txt"]).read_bytes() == b"precious\n"
    assert "Data is up to date." in p.exp("checkout").stderr
    p.fsck()


# -- gc: the grace period, live runs, racing workers --------------------------------

def _orphan(project, content: bytes, age: float = 0) -> str:
    """An object nothing references (added, then its pointer dropped), AGE seconds old."""
    (project.path / "tmp.bin").write_bytes(content)
    project.exp("add", "tmp.bin")
    (project.path / "tmp.bin.exp").unlink()
    (project.path / "tmp.bin").unlink()
    digest = sha(content)
    if age:
        then = time.time() - age
        os.utime(obj(project, digest), (then, then))
    return digest


def test_gc_grace_period_follows_git_dates(committed):
    p = committed
    young = _orphan(p, b"young")
    old = _orphan(p, b"old", age=20 * 86400)
    proc = p.exp("gc")
    assert "Removed 1 object(s)" in proc.stdout and "younger than 2.weeks.ago" in proc.stderr
    assert obj(p, young).exists() and not obj(p, old).exists()
    assert "Removed 0 object(s)" in p.exp("gc", "--prune=never").stdout
    p.git("config", "exp.gc.pruneExpire", "1.hour.ago")
    assert "Removed 0 object(s)" in p.exp("gc").stdout
    os.utime(obj(p, young), (time.time() - 7200,) * 2)
    assert "Removed 1 object(s)" in p.exp("gc").stdout
    p.git("config", "exp.gc.pruneExpire", "soonish")
    proc = p.exp("gc", check=False)
    assert proc.returncode == 129 and "exp.gc.pruneExpire: 'soonish' is not a date" in proc.stderr
    assert "hint: use e.g. 2.weeks.ago" in proc.stderr and "Traceback" not in proc.stderr
    proc = p.exp("gc", "--prune=later", check=False)
    assert proc.returncode == 129 and "--prune: 'later'" in proc.stderr


def test_saving_content_again_makes_its_object_young(committed):
    p = committed
    digest = _orphan(p, b"reused", age=30 * 86400)
    p.gen({"again.bin": "reused"})
    p.exp("add", "again.bin")                 # the same content, recorded only in the work tree...
    (p.path / "again.bin.exp").unlink()       # ...and forgotten before a commit: young, so kept
    assert "Removed 0 object(s)" in p.exp("gc").stdout
    assert obj(p, digest).exists()


def test_gc_prune_now_keeps_what_a_run_in_another_worktree_is_writing(committed, tmp_path):
    p = committed
    gate = tmp_path / "gate"
    gate.write_text("")
    p.gen({"exp.yaml": "stages:\n  wait:\n    cmd: python3 wait.py\n    outs: [w.txt]\n",
           "wait.py": "import os, time\nopen('w.txt', 'w').write('w')\n"
                      f"while os.path.exists({str(gate)!r}): time.sleep(0.05)\n"})
    p.commit("a slow stage")
    other = tmp_path / "other"
    p.git("worktree", "add", "-q", "--detach", str(other))
    run = subprocess.Popen(["git", "exp", "run", "-n", "slow"], cwd=other,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (p.path / ".git" / "worktrees" / "other" / "exp-run.lock").exists():
            assert time.monotonic() < deadline and run.poll() is None, run.stderr.read()
            time.sleep(0.05)
        time.sleep(0.05)
        fresh = _orphan(p, b"written while the run runs")
        proc = p.exp("gc", "--prune=now")
        assert "written by a run in progress" in proc.stderr
        assert obj(p, fresh).exists()
    finally:
        gate.unlink()
        run.communicate(timeout=60)
    assert run.returncode == 0
    assert "Removed 1 object(s)" in p.exp("gc", "--prune=now").stdout
    assert not obj(p, fresh).exists()
    assert "all intact" in p.exp("fsck").stdout


RACE_TRAIN = """\
import json, re
lr = re.search(r"lr: *([0-9.]+)", open("params.yaml").read()).group(1)
open("model.txt", "w").write(f"weights {lr}\\n")
json.dump({"loss": float(lr)}, open("metrics.json", "w"))
"""


@pytest.mark.slow
def test_gc_in_a_loop_while_two_workers_drain_the_queue(committed):
    p = committed
    p.gen({"train.py": RACE_TRAIN, "params.yaml": "train:\n  lr: 0.1\n",
           "exp.yaml": "stages:\n  train:\n    cmd: python3 train.py\n    deps: [train.py]\n"
                       "    params: [train.lr]\n    outs: [model.txt]\n"
                       "    metrics:\n      - metrics.json:\n          cache: false\n"})
    p.commit("pipeline")
    lrs = ["0.11", "0.12", "0.13", "0.14", "0.15", "0.16"]
    p.exp("run", "--queue", "-S", "train.lr=" + ",".join(lrs), "-n", "race")
    p.exp("queue", "start", "-j", "2")
    workers = p.path / ".git" / "exp" / "queue" / "workers"
    calls, failures = 0, []
    deadline = time.monotonic() + 90
    while True:
        busy = p.git("for-each-ref", "refs/exps-queue/", "refs/exps-running/").strip() \
            or list(workers.glob("*.json"))
        proc = p.exp("gc", *(["--prune=now"] if calls % 2 else []), check=False)
        calls += 1
        if proc.returncode != 0:
            failures.append(proc.stderr)
        if not busy or time.monotonic() > deadline:
            break
    assert not failures, failures
    assert calls >= 3
    found = {line.split()[1].rsplit("/", 1)[1]: line.split()[0]
             for line in p.git("for-each-ref", "--format=%(objectname) %(refname)", "refs/exps/").splitlines()}
    assert sorted(found) == [f"race-{i}" for i in range(1, 7)]
    for name, commit in found.items():
        digest = lock_out(p, commit, "model.txt")
        lr = re.search(r"lr: ([0-9.]+)", p.git("show", f"{commit}:params.yaml")).group(1)
        assert obj(p, digest).exists(), f"gc deleted the model of experiment {name}"
        assert obj(p, digest).read_bytes() == f"weights {lr}\n".encode(), name
    assert "all intact" in p.exp("fsck").stdout
    p.fsck()


# -- fsck names what refs need ---------------------------------------------------------

def test_fsck_names_the_experiments_and_backups_that_lose_data(branches):
    p = branches
    first = p.git("for-each-ref", "--format=%(objectname)", "refs/exps/*/first").strip()
    second_model = lock_out(p, "other", "model.txt")
    assert "all intact" in p.exp("fsck").stdout
    # gc as it used to be: the object of a recorded experiment deleted behind our back.
    os.chmod(obj(p, second_model), 0o644)
    os.unlink(obj(p, second_model))
    proc = p.exp("fsck", check=False)
    assert proc.returncode == 1
    assert f"missing: {second_model} (needed by model.txt in experiment second)" in proc.stdout
    assert "1 missing" in proc.stderr and "git exp pull" in proc.stderr
    # A corrupt object of an experiment's folder: the folder's files are named by the manifest.
    a_txt = manifest(p, lock_out(p, first, "outdir"))["a.txt"]
    os.chmod(obj(p, a_txt), 0o644)
    obj(p, a_txt).write_bytes(b"a.txt 0.9\n")
    proc = p.exp("fsck", check=False)
    assert re.search(rf"corrupt: {a_txt} \(needed by outdir in HEAD, outdir in experiment first", proc.stdout)
    # A backup's data is needed too.
    (p.path / "model.txt").write_text("edited\n")
    ref = backup_ref(p.exp("checkout", "--force", "model.txt").stdout)
    os.unlink(obj(p, sha(b"edited\n")))
    proc = p.exp("fsck", check=False)
    assert f"missing: {sha(b'edited' + bytes([10]))} (needed by model.txt in backup {ref})" in proc.stdout


def test_fsck_names_a_queued_entry_and_an_unreadable_experiment(branches):
    p = branches
    (p.path / "params.yaml").write_text("train:\n  lr: 0.3\n")
    p.exp("run", "--queue", "-n", "later")
    entry = p.git("for-each-ref", "--format=%(refname)", "refs/exps-queue/").strip()
    model = lock_out(p, "main", "model.txt")
    os.unlink(obj(p, model))
    proc = p.exp("fsck", check=False)
    assert f"model.txt in queued entry {entry.rsplit('/', 1)[1]}" in proc.stdout
    # A pulled experiment whose records are hostile: reported, never a traceback.
    blob = p.git("hash-object", "-w", "--stdin", input="oops: [").strip()
    tree = p.git("mktree", input=f"100644 blob {blob}\texp.lock\n").strip()
    bad = p.git("commit-tree", tree, "-m", "bad", "-p", "HEAD").strip()
    p.git("update-ref", f"refs/exps/{p.head()}/bad", bad)
    proc = p.exp("fsck", check=False)
    assert proc.returncode == 1 and "unreadable: experiment bad:" in proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_ctrl_c_after_the_backup_names_the_way_back(committed):
    p = committed
    p.git("config", "exp.cache.type", "copy")
    p.gen({"data": {f"f{i:04}.txt": f"recorded {i}\n" * 50 for i in range(1500)}})
    p.exp("add", "data")
    p.commit("data")
    for i in range(1500):
        (p.path / "data" / f"f{i:04}.txt").write_text(f"mine {i}\n" * 50)
    proc = subprocess.Popen(["git-exp", "checkout", "--force"], cwd=p.path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while not p.git("for-each-ref", "refs/exp-backups/").strip():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.005)
    os.killpg(proc.pid, 2)   # Ctrl-C, as a terminal sends it to the whole process group
    out, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the checkout finished before Ctrl-C arrived")
    ref = p.git("for-each-ref", "--format=%(refname)", "refs/exp-backups/").strip()
    assert proc.returncode == 130, err
    assert f"hint: to restore it: git exp apply {ref}" in err and "Traceback" not in err
    saved = dict(re.findall(r"Exp-Data: (\S+?)=(\S+?):", p.git("log", "-1", "--format=%B", ref)))
    files = manifest(p, saved["data"])
    assert obj(p, files["f1499.txt"]).read_bytes() == b"mine 1499\n" * 50
