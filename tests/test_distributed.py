"""Queue entries on other machines: the worker command, and Dask for real.

A real `dask scheduler` and two `dask worker` processes on loopback, a bare
repository as the shared Git remote and a directory as the data remote: a
sweep runs there and every result comes back as an ordinary experiment; a
worker killed mid-run makes Dask run its entry once more, and exactly one
result is recorded. Every process a test starts is ended in its fixture's
teardown. The Dask tests are skipped where `distributed` is not installed
(pip install '.[test,dask]' installs it).
"""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from git_exp.procs import is_same
from tests.conftest import ROOT, alive, end_group, wait_for

HAS_DASK = importlib.util.find_spec("distributed") is not None
needs_dask = pytest.mark.skipif(not HAS_DASK, reason="distributed is not installed "
                                                     "(pip install '.[test,dask]')")

# Appends "<name> <lr> <pid>" to GIT_EXP_TEST_RUNS; with lr 0.9 writes its pid
# to GIT_EXP_TEST_MARKER and waits while the file GIT_EXP_TEST_GATE exists (at most
# 5 minutes, a guard against a test that never opens it: every test removes the
# gate itself, and a gate that opened on its own after 60 s let a slow machine's
# run finish in the middle of a test that held it).
TRAIN = """\
import json, os, re, time
lr = float(re.search(r"lr: *([0-9.e-]+)", open("params.yaml").read()).group(1))
rows = open("data/rows.txt").read().split()
with open(os.environ["GIT_EXP_TEST_RUNS"], "a") as fh:
    fh.write(f"{os.environ['GIT_EXP_NAME']} {lr} {os.getpid()}\\n")
if lr == 0.9:
    open(os.environ["GIT_EXP_TEST_MARKER"] + ".tmp", "w").write(str(os.getpid()))
    os.replace(os.environ["GIT_EXP_TEST_MARKER"] + ".tmp", os.environ["GIT_EXP_TEST_MARKER"])
    for _ in range(3000):
        if not os.path.exists(os.environ["GIT_EXP_TEST_GATE"]):
            break
        time.sleep(0.1)
os.makedirs("models", exist_ok=True)
open("models/model.txt", "w").write(f"weights {lr} from {len(rows)} rows\\n")
json.dump({"loss": round(1 - lr, 3)}, open("metrics.json", "w"))
print(f"trained lr={lr}", flush=True)
"""

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py, data]
    params: [train.lr]
    outs: [models]
    metrics:
      - metrics.json:
          cache: false
"""


@pytest.fixture
def shared(committed, tmp_path, monkeypatch):
    """A project with tracked input data, a bare `origin` and a directory data remote."""
    p = committed
    p.gen({"train.py": TRAIN, "params.yaml": "train:\n  lr: 0.1\n", "exp.yaml": PIPELINE,
           "data": {"rows.txt": "1 2 3 4\n"}})
    p.exp("add", "data")
    p.commit("pipeline and data")
    remote = p.add_bare_remote(tmp_path / "remote.git", push=("HEAD:refs/heads/main",))
    p.git("config", "remote.origin.expdata", str(tmp_path / "data-remote"))
    monkeypatch.setenv("GIT_EXP_TEST_RUNS", str(tmp_path / "runs.txt"))
    monkeypatch.setenv("GIT_EXP_TEST_MARKER", str(tmp_path / "marker"))
    monkeypatch.setenv("GIT_EXP_TEST_GATE", str(tmp_path / "gate"))
    p.remote = remote
    p.data_remote = tmp_path / "data-remote"
    return p


def remote_refs(remote, prefix: str) -> dict[str, str]:
    out = subprocess.run(["git", "-C", str(remote), "for-each-ref", "--format=%(refname) %(objectname)",
                          prefix], capture_output=True, text=True, check=True).stdout
    return dict(line.split(" ") for line in out.splitlines())


def trailers(project, sha: str) -> dict[str, str]:
    out = project.git("log", "-1", "--format=%(trailers:only,unfold)", sha)
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def runs(tmp_path) -> list[list[str]]:
    path = tmp_path / "runs.txt"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def queue_ids(project) -> dict[str, str]:
    """name -> queue id of every queued entry."""
    out = project.git("for-each-ref", "--format=%(refname:lstrip=2) %(contents:subject)",
                      "refs/exps-queue/")
    return {line.split()[2]: line.split()[0] for line in out.splitlines()}


# -- the worker command alone -------------------------------------------------------

def push_entry(project, entry_id: str) -> None:
    """What the dispatcher does before submitting: the entry, and its data, to the remote."""
    project.git("push", "-q", "origin", f"refs/exps-queue/{entry_id}:refs/exps-queue/{entry_id}")
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from git_exp.repo import discover\n"
            "from git_exp.sharing.push import send_data\n"
            "sha = sys.argv[1]\n"
            "send_data(discover(), 'origin', None, {sha: \"experiment 'entry'\"}, [])\n" % str(ROOT))
    sha = project.git("rev-parse", f"refs/exps-queue/{entry_id}").strip()
    subprocess.run([sys.executable, "-c", code, sha], cwd=project.path, check=True)


def test_exec_entry_runs_once_and_a_second_attempt_is_a_duplicate(shared, tmp_path):
    shared.exp("run", "--queue", "-S", "train.lr=0.3", "-n", "solo")
    entry_id = queue_ids(shared)["solo"]
    push_entry(shared, entry_id)
    args = ["exec-entry", "--remote", str(shared.remote), "--ref", f"refs/exps-queue/{entry_id}",
            "--data-remote", str(shared.data_remote), "--executor", "by-hand"]
    first = shared.exp(*args)
    assert first.stdout.splitlines()[-1].startswith("pushed: solo ")
    assert "trained lr=0.3" in first.stdout
    results = remote_refs(shared.remote, "refs/exps/")
    baseline = shared.head()
    assert list(results) == [f"refs/exps/{baseline}/solo"]
    # The experiment's parent is the commit it was queued from, and it says where it ran.
    sha = results[f"refs/exps/{baseline}/solo"]
    subprocess.run(["git", "-C", str(shared.remote), "fsck", "--strict", "--no-progress"], check=True)
    parent = subprocess.run(["git", "-C", str(shared.remote), "rev-parse", f"{sha}^"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert parent == baseline
    shared.git("fetch", "-q", "origin", f"refs/exps/{baseline}/solo:refs/exps/{baseline}/solo")
    found = trailers(shared, sha)
    assert found["Exp-Queue-Id"] == entry_id
    assert found["Exp-Attempt"] == "1"
    assert found["Exp-Executor"] == "by-hand"
    # The outputs' data reached the data remote before the ref.
    assert any((shared.data_remote / "files").rglob("*"))

    second = shared.exp(*args)
    assert second.stdout.splitlines()[-1].startswith(f"duplicate: solo {sha[:7]}")
    assert remote_refs(shared.remote, "refs/exps/") == results
    assert len([r for r in runs(tmp_path) if r[0] == "solo"]) == 1   # it did not run again


def test_exec_entry_without_the_entry_on_the_remote(shared):
    proc = shared.exp("exec-entry", "--remote", str(shared.remote), "--ref",
                      "refs/exps-queue/0badc0de", check=False)
    assert proc.returncode == 1
    assert "has no queue entry refs/exps-queue/0badc0de" in proc.stderr
    proc = shared.exp("exec-entry", "--remote", str(shared.remote), "--ref", "refs/heads/main",
                      check=False)
    assert proc.returncode == 1
    assert "is not a queue entry's ref" in proc.stderr


def test_executor_options_are_checked(shared):
    shared.exp("run", "--queue", "-S", "train.lr=0.3")
    cases = [(["--executor", "yarn"], "unknown executor 'yarn'"),
             (["--executor", "slurm", "--resources", "GPU=1"], "--resources goes with a Dask"),
             (["--executor", "dask://h:1", "--sbatch-arg=-p"], "--sbatch-arg goes with the Slurm"),
             (["--remote", "elsewhere"], "--remote goes with --executor"),
             (["--executor", "dask://h:x"], "invalid Dask scheduler address"),
             (["--executor", "dask://h:1", "--resources", "GPU"], "invalid resource 'GPU'")]
    for options, message in cases:
        proc = shared.exp("queue", "start", *options, check=False)
        assert proc.returncode == 129, (options, proc.stderr)
        assert message in proc.stderr
    proc = shared.exp("queue", "work", "-j", "2", check=False)
    assert proc.returncode == 129 and "-j goes with --executor" in proc.stderr


def test_a_missing_dask_says_how_to_install_it(shared):
    shared.exp("run", "--queue", "-S", "train.lr=0.3")
    code = ("import sys\n"
            f"sys.path.insert(0, {str(ROOT)!r})\n"
            "sys.modules['distributed'] = None   # as if it were not installed\n"
            "from git_exp.cli import main\n"
            "sys.exit(main(['queue', 'start', '--executor', 'dask://127.0.0.1:1']))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=shared.path, capture_output=True,
                          text=True)
    assert proc.returncode == 1
    assert "the Dask executor needs the 'distributed' package" in proc.stderr
    assert "pip install 'git-exp[dask]'" in proc.stderr


def loaded_modules(cwd, *argv: str) -> set[str]:
    code = ("import sys, io, contextlib, json\n"
            f"sys.path.insert(0, {str(ROOT)!r})\n"
            "from git_exp.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    main({list(argv)!r})\n"
            "sys.stderr.write('MODULES ' + json.dumps(sorted(sys.modules)) + '\\n')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          env=dict(os.environ, MANPAGER="cat", PAGER="cat"), timeout=60)
    line = [l for l in proc.stderr.splitlines() if l.startswith("MODULES ")][-1]
    return set(json.loads(line[len("MODULES "):]))


@pytest.mark.parametrize("argv", [("queue", "status"), ("run", "--help"), ("queue", "start"),
                                  ("exec-entry", "-h")])
def test_no_dask_unless_an_executor_asks_for_it(shared, argv):
    mods = loaded_modules(shared.path, *argv)
    assert not {m for m in mods if m.split(".")[0] in ("dask", "distributed", "tornado")}
    if argv[0] != "exec-entry":
        assert not {m for m in mods if m.startswith("git_exp.distributed")}


# -- Dask for real ----------------------------------------------------------------------

@pytest.fixture
def dask_cluster(tmp_path):
    """A scheduler and two single-thread workers on 127.0.0.1; all ended afterwards."""
    folder = tmp_path / "dask"
    folder.mkdir()
    scratch = tmp_path / "worker-tmp"   # where exec-entry makes its clones
    scratch.mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(scratch),
               DASK_DISTRIBUTED__WORKER__DAEMON="False")
    started: list[subprocess.Popen] = []

    def launch(name: str, *args: str) -> subprocess.Popen:
        log = open(folder / f"{name}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=folder, env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        log.close()
        started.append(proc)
        return proc

    try:
        scheduler = launch("scheduler", "scheduler", "--host", "127.0.0.1", "--port", "0",
                           "--no-dashboard", "--scheduler-file", str(folder / "scheduler.json"))
        deadline = time.monotonic() + 30
        while True:   # the file appears before its contents do
            try:
                address = json.loads((folder / "scheduler.json").read_text())["address"]
                break
            except (OSError, ValueError, KeyError):
                assert time.monotonic() < deadline, (folder / "scheduler.log").read_text()
                time.sleep(0.05)
        workers = [launch(f"worker-{i}", "worker", address, "--nthreads", "1", "--no-nanny",
                          "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{i}",
                          "--local-directory", str(folder))
                   for i in range(2)]
        from distributed import Client
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=30)
        yield {"executor": "dask://" + address[len("tcp://"):], "workers": workers,
               "scheduler": scheduler, "address": address,
               "scratch": scratch, "folder": folder}
    finally:
        for proc in started:
            end_group(proc)


@needs_dask
def test_a_sweep_runs_on_dask_and_every_result_comes_back(shared, dask_cluster, tmp_path):
    shared.exp("run", "--queue", "-S", "train.lr=0.1,0.2,0.3,0.4,0.5,0.6", "-n", "sweep")
    ids = queue_ids(shared)
    before = shared.git("status", "--porcelain")
    proc = shared.exp("queue", "work", "--executor", dask_cluster["executor"], timeout=120)
    assert proc.stdout.count(": success (") == 6, proc.stdout + proc.stderr

    baseline = shared.head()
    local = {ref.rsplit("/", 1)[1]: sha for ref, sha in
             (l.split() for l in shared.git("for-each-ref", "--format=%(refname) %(objectname)",
                                             "refs/exps/").splitlines())}
    assert sorted(local) == [f"sweep-{i}" for i in range(1, 7)]
    assert remote_refs(shared.remote, "refs/exps/") == {
        f"refs/exps/{baseline}/{name}": sha for name, sha in local.items()}
    for name, sha in local.items():
        found = trailers(shared, sha)
        assert found["Exp-Queue-Id"] == ids[name]
        assert found["Exp-Status"] == "success"
        assert found["Exp-Attempt"] == "1"
        assert found["Exp-Executor"] == dask_cluster["executor"]
        assert shared.git("rev-parse", f"{sha}^").strip() == baseline
    # Each ran once; the queue is drained here and on the remote; nothing is left behind.
    assert sorted(r[0] for r in runs(tmp_path)) == sorted(local)
    assert shared.git("for-each-ref", "refs/exps-queue/", "refs/exps-running/") == ""
    assert remote_refs(shared.remote, "refs/exps-queue/") == {}
    assert remote_refs(shared.remote, "refs/exps-running/") == {}
    assert list(dask_cluster["scratch"].glob("git-exp-*")) == []
    assert shared.git("status", "--porcelain") == before
    shared.fsck()
    status = shared.exp("queue", "status").stdout
    assert status.count("success") == 6
    # The worker's output is the entry's log; the result's data is in the local cache.
    log = shared.exp("logs", "sweep-4").stdout
    assert "trained lr=0.4" in log and "exec-entry: pushed" in log
    shared.exp("apply", "sweep-4")
    assert shared.read("models/model.txt") == "weights 0.4 from 4 rows\n"


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        data = fh.read()
    return int(data[data.rfind(b")") + 2:].split()[1])


def _ancestors(pid: int) -> list[int]:
    chain = []
    while pid > 1:
        try:
            pid = _parent(pid)
        except OSError:
            break
        chain.append(pid)
    return chain


@needs_dask
def test_a_killed_worker_reruns_its_entry_once_and_one_result_is_recorded(shared, dask_cluster,
                                                                            tmp_path):
    gate = tmp_path / "gate"
    marker = tmp_path / "marker"
    gate.write_text("")
    shared.exp("run", "--queue", "-S", "train.lr=0.9", "-n", "slow")
    entry_id = queue_ids(shared)["slow"]
    shared.exp("queue", "start", "--executor", dask_cluster["executor"])
    dispatcher = None
    try:
        first = int(wait_for(lambda: marker.exists() and marker.read_text(), "the first run", timeout=30))
        info = json.loads(next((shared.path / ".git/exp/queue/workers").glob("*.json")).read_text())
        dispatcher, start = info["pid"], info["start"]   # the start token: its pid may be reused once it ended
        status = shared.exp("queue", "status").stdout
        assert "slow" in status and "running" in status
        # Kill the Dask worker that runs it, as a lost machine would go: SIGKILL, no goodbye.
        ancestors = _ancestors(first)
        (victim,) = [w for w in dask_cluster["workers"] if w.pid in ancestors]
        marker.unlink()
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        # The workload dies with its worker (its own process group, so not by killpg above) ...
        wait_for(lambda: not alive(first), "the orphaned stage to end", timeout=10)
        # ... and Dask runs the entry again on the other worker.
        second = int(wait_for(lambda: marker.exists() and marker.read_text(), "the second run", timeout=30))
        assert second != first
        gate.unlink()
        wait_for(lambda: "success" in shared.exp("queue", "status").stdout, "the result", timeout=60)
        wait_for(lambda: not is_same(dispatcher, start), "the dispatcher to exit", timeout=20)
    finally:
        if gate.exists():
            gate.unlink()
        if dispatcher and is_same(dispatcher, start):
            os.kill(dispatcher, signal.SIGKILL)
    assert [r[:2] for r in runs(tmp_path)] == [["slow", "0.9"], ["slow", "0.9"]]
    results = remote_refs(shared.remote, "refs/exps/")
    assert list(results) == [f"refs/exps/{shared.head()}/slow"]
    local = shared.git("for-each-ref", "--format=%(objectname)", "refs/exps/").split()
    assert local == list(results.values())
    found = trailers(shared, local[0])
    assert found["Exp-Queue-Id"] == entry_id
    assert found["Exp-Attempt"] == "2"
    assert found["Exp-Status"] == "success"
    assert list(dask_cluster["scratch"].glob("git-exp-*")) == []
