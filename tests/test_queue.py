"""End to end: the queue, parallel sweeps and isolated runs, with real processes and Git.

Every test checks what the user relies on with Git itself: entries are refs,
results are experiments whose parent is the commit they were queued from,
the user's work tree, index and HEAD never change, temporary checkouts are
gone afterwards and the repository passes `git fsck --strict`.
"""
from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tests.conftest import alive, wait_for

# Fails for lr 0.5; with lr 0.9 it writes its pid where GIT_EXP_TEST_MARKER says
# and waits until the file GIT_EXP_TEST_GATE names is gone (or 60 s). Each run
# appends a line to GIT_EXP_TEST_RUNS, so a test can count runs.
TRAIN = """\
import json, os, re, sys, time
lr = float(re.search(r"lr: *([0-9.e-]+)", open("params.yaml").read()).group(1))
runs = os.environ.get("GIT_EXP_TEST_RUNS")
if runs:
    with open(runs, "a") as fh:
        fh.write(f"{os.environ['GIT_EXP_NAME']} {lr}\\n")
print(f"training lr={lr}", flush=True)
if lr == 0.9:
    open(os.environ["GIT_EXP_TEST_MARKER"], "w").write(str(os.getpid()))
    for _ in range(600):
        if not os.path.exists(os.environ["GIT_EXP_TEST_GATE"]):
            break
        time.sleep(0.1)
if lr == 0.5:
    print("diverged", flush=True)
    sys.exit(4)
open("model.txt", "w").write(f"weights {lr}\\n")
json.dump({"loss": lr}, open("metrics.json", "w"))
"""

PARAMS = """\
# settings
train:
  lr: 0.1      # step size
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
def ml(committed, tmp_path, monkeypatch):
    committed.gen({"train.py": TRAIN, "params.yaml": PARAMS, "exp.yaml": PIPELINE})
    committed.commit("pipeline")
    monkeypatch.setenv("GIT_EXP_TEST_RUNS", str(tmp_path / "runs.txt"))
    monkeypatch.setenv("GIT_EXP_TEST_MARKER", str(tmp_path / "marker"))
    monkeypatch.setenv("GIT_EXP_TEST_GATE", str(tmp_path / "gate"))
    return committed


def refs_under(project, prefix: str) -> dict[str, str]:
    out = project.git("for-each-ref", "--format=%(refname) %(objectname)", prefix)
    return dict(line.split(" ") for line in out.splitlines())


def experiments(project) -> dict[str, str]:
    """name -> sha of every experiment."""
    return {ref.rsplit("/", 1)[1]: sha for ref, sha in refs_under(project, "refs/exps/").items()}


def trailer(project, sha: str, key: str) -> str:
    return project.git("log", "-1", f"--format=%(trailers:key={key},valueonly)", sha).strip()


def user_state(project) -> tuple:
    """What the user owns: HEAD, the index file and what `git status` says."""
    return (project.head(), (project.path / ".git" / "index").read_bytes(),
            project.git("status", "--porcelain", "--untracked-files=all"))


def runs(tmp_path) -> list[str]:
    path = tmp_path / "runs.txt"
    return path.read_text().splitlines() if path.exists() else []


def assert_clean(project) -> None:
    """No temporary checkout is left, and Git finds the repository sound."""
    assert len(project.git("worktree", "list", "--porcelain").split("worktree ")) == 2
    assert not list((project.path / ".git" / "exp" / "tmp").glob("*"))
    assert refs_under(project, "refs/exps-running/") == {}
    project.fsck()


# -- sweeps into entries ------------------------------------------------------------

def test_a_grid_becomes_named_entries_without_touching_the_work_tree(ml):
    (ml.path / "notes.txt").write_text("uncommitted notes\n")
    before = user_state(ml)
    proc = ml.exp("run", "--queue", "-S", "train.lr=0.1,0.2", "-S", "train.epochs=range(1,3)",
                  "-n", "grid")
    assert user_state(ml) == before
    queued = refs_under(ml, "refs/exps-queue/")
    assert len(queued) == 4
    by_name = {}
    for ref, sha in queued.items():
        by_name[trailer(ml, sha, "Exp-Name")] = sha
        assert ref.endswith(trailer(ml, sha, "Exp-Queue-Id")) and ref.split("/")[-1] in proc.stdout
        assert ml.git("rev-list", "--parents", "-n1", sha).split()[1:] == [ml.head()]
    assert sorted(by_name) == ["grid-1", "grid-2", "grid-3", "grid-4"]
    # The first -S varies slowest; each entry holds its own params, edited in place.
    assert ml.git("show", f"{by_name['grid-2']}:params.yaml") == \
        PARAMS.replace("lr: 0.1 ", "lr: 0.1 ").replace("epochs: 3", "epochs: 2")
    assert ml.git("show", f"{by_name['grid-3']}:params.yaml") == \
        PARAMS.replace("lr: 0.1 ", "lr: 0.2 ").replace("epochs: 3", "epochs: 1")
    # Untracked files belong to the run, as in the foreground; cached outs are ignored.
    assert ml.git("show", f"{by_name['grid-1']}:notes.txt") == "uncommitted notes\n"
    assert "/model.txt" in ml.git("show", f"{by_name['grid-1']}:.gitignore")
    assert [e for e in trailer(ml, by_name["grid-4"], "Exp-Param").splitlines()] == \
        ["train.lr=0.2", "train.epochs=2"]
    assert experiments(ml) == {}
    ml.fsck()


def test_generated_names_are_unique_and_reserved(ml):
    ml.exp("run", "--queue", "-S", "train.lr=choice(0.1,0.2,0.3)")
    names = [trailer(ml, sha, "Exp-Name") for sha in refs_under(ml, "refs/exps-queue/").values()]
    assert len(set(names)) == 3 and all(n.count("-") == 1 for n in names)
    # A queued name is taken: neither a foreground run nor another entry may use it.
    proc = ml.exp("run", "-n", names[0], check=False)
    assert proc.returncode == 1 and "queued experiment is already named" in proc.stderr
    proc = ml.exp("run", "--queue", "-n", names[1], check=False)
    assert proc.returncode == 1 and f"queue remove {names[1]}" in proc.stderr
    ml.exp("run", "-n", "done")
    proc = ml.exp("run", "--queue", "-S", "train.lr=0.1,0.2", "-n", "done", check=False)
    assert proc.returncode == 0   # done-1, done-2 are free
    proc = ml.exp("run", "--queue", "-n", "done", check=False)
    assert proc.returncode == 1 and "already exists" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["-S", "train.lr=0.1,0.2"], "is a sweep"),
    (["--queue", "-S", "train.lr=range(3,1)"], "the range is empty"),
    (["--queue", "-S", "train.lr=0.1,,0.2"], "empty value"),
    (["--queue", "-S", "train.nope=1,2"], "no parameter train.nope"),
    (["--queue", "-S", "train.lr=0.1,0.2", "-n", "bad/name"], "invalid experiment name"),
    (["--temp", "-S", "train.lr=0.1,0.2"], "--temp runs one experiment"),
    (["--temp", "--queue"], "cannot be combined"),
    (["--queue", "--dry"], "cannot be combined"),
])
def test_bad_sweeps_queue_nothing(ml, args, message):
    before = user_state(ml)
    proc = ml.exp("run", *args, check=False)
    assert proc.returncode in (1, 129), proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert refs_under(ml, "refs/exps-queue/") == {} and experiments(ml) == {}
    assert user_state(ml) == before


def test_params_files_in_folders_change_alone(ml):
    ml.gen({"conf": {"deep": {"extra.json": '{\n  "seed": 0,\n  "tag": "a"\n}\n'}, "keep.txt": "k\n"}})
    ml.commit("nested params")
    ml.exp("run", "--queue", "-S", "conf/deep/extra.json:seed=5,6", "-S", "train.lr=0.3", "-n", "deep")
    shas = {trailer(ml, sha, "Exp-Name"): sha for sha in refs_under(ml, "refs/exps-queue/").values()}
    diff = ml.git("diff", "--name-only", ml.head(), shas["deep-2"]).split()
    assert sorted(diff) == [".gitignore", "conf/deep/extra.json", "params.yaml"]
    assert ml.git("show", f"{shas['deep-2']}:conf/deep/extra.json") == '{\n  "seed": 6,\n  "tag": "a"\n}\n'
    assert ml.git("show", f"{shas['deep-1']}:conf/deep/extra.json") == '{\n  "seed": 5,\n  "tag": "a"\n}\n'
    ml.fsck()


def test_a_dep_a_fresh_checkout_would_lack_is_refused(ml):
    ml.gen({"exp.yaml": PIPELINE.replace("deps: [train.py]", "deps: [train.py, raw.csv]"),
            ".gitignore": "raw.csv\n", "raw.csv": "1,2\n"})
    ml.commit("needs raw data")
    proc = ml.exp("run", "--queue", check=False)
    assert proc.returncode == 1
    assert "raw.csv (a dep of stage 'train')" in proc.stderr and "git exp add raw.csv" in proc.stderr
    assert refs_under(ml, "refs/exps-queue/") == {}


# -- persistence and draining ------------------------------------------------------------

def test_the_queue_survives_a_restart_and_drains_later(ml, tmp_path):
    ml.exp("run", "--queue", "-S", "train.lr=0.2,0.3", "-n", "later")
    # Nothing runs, and nothing but Git holds the queue: a fresh process sees it.
    queued = refs_under(ml, "refs/exps-queue/")
    assert len(queued) == 2 and runs(tmp_path) == []
    status = ml.exp("queue", "status")
    assert status.stdout.count("queued") == 2 and "No worker is running" in status.stderr
    shown = [l for l in ml.exp("show").stdout.splitlines() if "later-" in l]
    assert len(shown) == 2 and all("queued" in l for l in shown)
    before = user_state(ml)
    work = ml.exp("queue", "work")
    assert work.stdout.count(": success") == 2
    assert sorted(runs(tmp_path)) == ["later-1 0.2", "later-2 0.3"]
    found = experiments(ml)
    assert sorted(found) == ["later-1", "later-2"]
    for sha in found.values():
        assert ml.git("rev-list", "--parents", "-n1", sha).split()[1:] == [ml.head()]
        assert trailer(ml, sha, "Exp-Mode") == "queue"
    assert ml.git("show", f"{found['later-2']}:metrics.json") == '{"loss": 0.3}'
    assert "training lr=0.3" in ml.exp("logs", "later-2").stdout
    assert user_state(ml) == before
    assert not (ml.path / "model.txt").exists()
    assert ml.exp("queue", "status").stdout.count("success") == 2
    assert_clean(ml)


def test_parallel_sweep_with_a_failing_point(ml, tmp_path):
    before = user_state(ml)
    proc = ml.exp("run", "-j", "2", "-S", "train.lr=0.1,0.2,0.5,0.3", "-n", "sweep", check=False)
    assert proc.returncode == 1, proc.stderr
    found = experiments(ml)
    assert sorted(found) == ["sweep-1", "sweep-2", "sweep-3", "sweep-4"]
    states = {name: trailer(ml, sha, "Exp-Status") for name, sha in found.items()}
    assert states == {"sweep-1": "success", "sweep-2": "success", "sweep-3": "failed",
                      "sweep-4": "success"}
    assert sorted(runs(tmp_path)) == ["sweep-1 0.1", "sweep-2 0.2", "sweep-3 0.5", "sweep-4 0.3"]
    table = proc.stdout
    assert "sweep-3" in table and "failed" in table and table.count("success") == 3
    log = ml.exp("logs", "sweep-3").stdout
    assert "diverged" in log and "exited with status 4" in log
    assert ml.exp("queue", "logs", "sweep-3").stdout == log
    for sha in found.values():
        assert ml.git("rev-list", "--parents", "-n1", sha).split()[1:] == [ml.head()]
    assert user_state(ml) == before
    assert_clean(ml)


def test_workers_racing_run_each_entry_once(ml, tmp_path):
    ml.exp("run", "--queue", "-S", "train.lr=range(0.1,0.45,0.05)", "-n", "race")
    assert len(refs_under(ml, "refs/exps-queue/")) == 7
    workers = [subprocess.Popen(["git-exp", "queue", "work"], cwd=ml.path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE) for _ in range(3)]
    for w in workers:
        w.communicate(timeout=60)
    names = [line.split()[0] for line in runs(tmp_path)]
    assert sorted(names) == [f"race-{i}" for i in range(1, 8)]   # each exactly once
    assert len(experiments(ml)) == 7
    assert_clean(ml)


# -- kill, SIGKILL, recovery -------------------------------------------------------

def test_kill_interrupts_the_running_entry_and_the_worker_goes_on(ml, tmp_path):
    (tmp_path / "gate").write_text("")
    ml.exp("run", "--queue", "-S", "train.lr=0.9,0.2", "-n", "k")
    ml.exp("queue", "start")
    pid = int(wait_for(lambda: (tmp_path / "marker").exists() and (tmp_path / "marker").read_text(),
                       "the stage to start"))
    assert "running" in ml.exp("queue", "status").stdout
    assert "training lr=0.9" in ml.exp("queue", "logs", "k-1").stdout
    proc = ml.exp("queue", "kill", "k-1")
    assert "interrupted" in proc.stdout
    wait_for(lambda: not alive(pid), "the stage's process to end")
    found = wait_for(lambda: len(experiments(ml)) == 2 and experiments(ml), "the second entry")
    assert trailer(ml, found["k-1"], "Exp-Status") == "interrupted"
    assert trailer(ml, found["k-2"], "Exp-Status") == "success"
    wait_for(lambda: not list((ml.path / ".git" / "exp" / "queue" / "workers").glob("*.json")),
             "the worker to exit")
    proc = ml.exp("queue", "kill", "k-2", check=False)
    assert proc.returncode == 1 and "no queued or running entry" in proc.stderr
    assert_clean(ml)


def test_a_sigkilled_worker_entry_is_recovered_and_runs_again(ml, tmp_path):
    (tmp_path / "gate").write_text("")
    before = user_state(ml)
    ml.exp("run", "--queue", "-S", "train.lr=0.9", "-n", "victim")
    worker = subprocess.Popen(["git-exp", "queue", "work"], cwd=ml.path, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stage = int(wait_for(lambda: (tmp_path / "marker").exists() and (tmp_path / "marker").read_text(),
                         "the stage to start"))
    (claimed,) = refs_under(ml, "refs/exps-running/").values()
    assert trailer(ml, claimed, "Exp-Claim-Pid") == str(worker.pid)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    # The stage runs in a session of its own, yet dies with its worker (its lifeline).
    wait_for(lambda: not alive(stage), "the orphaned stage to be ended")
    proc = ml.exp("queue", "status")
    assert "Recovered" in proc.stderr and "requeued" in proc.stderr
    assert "queued" in proc.stdout and "running" not in proc.stdout
    assert refs_under(ml, "refs/exps-running/") == {}
    assert not list((ml.path / ".git" / "exp" / "tmp").glob("*"))
    # The claim commit keeps the count: the next claim is attempt 2.
    (requeued,) = refs_under(ml, "refs/exps-queue/").values()
    assert requeued == claimed and trailer(ml, requeued, "Exp-Attempt") == "1"
    (tmp_path / "gate").unlink()
    assert "attempt 2" in ml.exp("queue", "work").stdout
    assert trailer(ml, experiments(ml)["victim"], "Exp-Status") == "success"
    assert runs(tmp_path) == ["victim 0.9", "victim 0.9"]
    assert user_state(ml) == before
    assert_clean(ml)


def test_an_entry_whose_worker_keeps_dying_is_recorded_as_failed(ml, tmp_path):
    from git_exp.queue import claims, entries, recovery
    from git_exp.repo import discover
    ml.exp("run", "--queue", "-n", "doomed")
    repo = discover(str(ml.path))
    dead = subprocess.Popen(["true"])
    dead.wait()
    (entry,) = entries.list_entries(repo)
    owner = entries.Owner(dead.pid, claims.me().host, "", "")
    assert claims.claim(repo, entry, owner) is not None
    (done,) = recovery.recover(repo, max_attempts=1)
    assert done.action == "failed"
    sha = experiments(ml)["doomed"]
    assert trailer(ml, sha, "Exp-Status") == "failed"
    assert ml.git("rev-list", "--parents", "-n1", sha).split()[1:] == [ml.head()]
    assert f"worker died 1 times (last: pid {dead.pid}" in ml.exp("logs", "doomed").stdout
    assert refs_under(ml, "refs/exps-queue/") == {}
    assert_clean(ml)


def test_the_user_keeps_committing_while_an_entry_runs(ml, tmp_path):
    (tmp_path / "gate").write_text("")
    baseline = ml.head()
    ml.exp("run", "--queue", "-S", "train.lr=0.9", "-n", "long")
    ml.exp("queue", "start")
    wait_for(lambda: (tmp_path / "marker").exists(), "the stage to start")
    ml.gen({"README.md": "more\n", "params.yaml": PARAMS.replace("epochs: 3", "epochs: 5")})
    new_head = ml.commit("user work")
    status = ml.git("status", "--porcelain")
    (tmp_path / "gate").unlink()
    sha = wait_for(lambda: experiments(ml).get("long"), "the run to finish")
    assert ml.git("rev-list", "--parents", "-n1", sha).split()[1:] == [baseline]
    assert "epochs: 3" in ml.git("show", f"{sha}:params.yaml")
    assert ml.head() == new_head and ml.git("status", "--porcelain") == status
    assert "epochs: 5" in ml.read("params.yaml")
    wait_for(lambda: not list((ml.path / ".git" / "exp" / "queue" / "workers").glob("*.json")),
             "the worker to exit")
    assert_clean(ml)


# -- temp runs, data, remove ---------------------------------------------------------------

PIPELINE_WITH_DATA = """\
stages:
  prepare:
    cmd: python3 -c "import os; os.makedirs('data', exist_ok=True); open('data/x.txt', 'w').write('prepared\\\\n'); open('prepared.txt', 'a').write('ran\\\\n')"
    outs: [data]
  train:
    cmd: python3 train.py && test -f data/x.txt
    deps: [train.py, data]
    params: [train.lr]
    outs: [model.txt]
    metrics:
      - metrics.json:
          cache: false
"""


def test_temp_runs_isolated_with_data_from_the_cache(ml):
    ml.gen({"exp.yaml": PIPELINE_WITH_DATA})
    ml.commit("two stages")
    ml.exp("run", "-n", "first")    # fills the cache and exp.lock
    ml.commit("lock")
    before = user_state(ml)
    proc = ml.exp("run", "--temp", "-S", "train.lr=0.3", "-n", "isolated")
    assert "training lr=0.3" in proc.stdout and "temporary checkout: success" in proc.stdout
    assert user_state(ml) == before
    assert '"loss": 0.1' in ml.read("metrics.json")   # the work tree keeps its own results
    sha = experiments(ml)["isolated"]
    assert trailer(ml, sha, "Exp-Mode") == "temp"
    log = ml.exp("logs", "isolated").stdout
    assert "data from the cache: data" in log and "stage 'prepare': up to date" in log
    assert ml.git("show", f"{sha}:metrics.json") == '{"loss": 0.3}'
    ml.exp("apply", "isolated")
    assert (ml.path / "data" / "x.txt").read_text() == "prepared\n"
    assert_clean(ml)


def test_remove_drops_queued_entries_and_records_but_not_experiments(ml):
    ml.exp("run", "--queue", "-S", "train.lr=0.5,0.2", "-n", "r")
    ml.exp("run", "--queue", "-n", "keep")
    ml.exp("run", "-j", "1", "-S", "train.lr=0.3", "-n", "done")
    assert len(refs_under(ml, "refs/exps-queue/")) == 3   # -j runs its own points only
    ml.exp("queue", "remove", "keep")
    assert len(refs_under(ml, "refs/exps-queue/")) == 2
    ml.exp("queue", "work")
    assert sorted(experiments(ml)) == ["done", "r-1", "r-2"]
    proc = ml.exp("queue", "remove", "--failed")
    assert "r-1" in proc.stdout and "r-2" not in proc.stdout
    status = ml.exp("queue", "status").stdout
    assert "r-1" not in status and "r-2" in status and "done" in status
    ml.exp("queue", "remove", "--all")
    assert ml.exp("queue", "status").stdout == "The queue is empty.\n"
    assert sorted(experiments(ml)) == ["done", "r-1", "r-2"]
    proc = ml.exp("queue", "remove", "nope", check=False)
    assert proc.returncode == 1 and "no queue entry 'nope'" in proc.stderr
    assert_clean(ml)


def test_stop_lets_the_current_entry_finish(ml, tmp_path):
    (tmp_path / "gate").write_text("")
    ml.exp("run", "--queue", "-S", "train.lr=0.9,0.2", "-n", "s")
    ml.exp("queue", "start")
    wait_for(lambda: (tmp_path / "marker").exists(), "the stage to start")
    assert "Asked 1 worker" in ml.exp("queue", "stop").stdout
    follow = subprocess.Popen(["git-exp", "queue", "logs", "-f", "s-1"], cwd=ml.path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    (tmp_path / "gate").unlink()
    out, err = follow.communicate(timeout=30)   # returns once the entry has ended
    assert follow.returncode == 0, err
    assert out.startswith("queue: entry") and "training lr=0.9" in out
    wait_for(lambda: not list((ml.path / ".git" / "exp" / "queue" / "workers").glob("*.json")),
             "the worker to exit")
    assert list(experiments(ml)) == ["s-1"]
    assert trailer(ml, experiments(ml)["s-1"], "Exp-Status") == "success"
    assert len(refs_under(ml, "refs/exps-queue/")) == 1
    assert "No worker is running" in ml.exp("queue", "stop").stdout
    assert_clean(ml)
