"""Distributed workers that share no filesystem with the client: data and logs go through remotes.

A real `dask scheduler` and `dask worker` processes on 127.0.0.1, each
worker with its own HOME and TMPDIR and no Git identity; the data remote is
a directory of its own (neither the client's cache nor the bare Git
remote). Every result must come back usable: `git exp apply` and `git exp
logs` of each work on the client, and the run logs are on the Git remote.

Then the failure that used to be silent: workers whose data remote is a
directory only they can see (each in a private mount namespace with a
tmpfs mounted over the data remote's path, so their uploads succeed into
nowhere the client can read). Every entry must fail, naming the missing
data path, and no experiment may claim a success.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, Project, end_group

HAS_DASK = importlib.util.find_spec("distributed") is not None
pytestmark = pytest.mark.skipif(not HAS_DASK, reason="distributed is not installed "
                                                     "(pip install '.[test,dask]')")

TRAIN = """\
import json, os, re
lr = float(re.search(r"lr: *([0-9.e-]+)", open("params.yaml").read()).group(1))
rows = open("data/rows.txt").read().split() if os.path.exists("data/rows.txt") else []
os.makedirs("models", exist_ok=True)
open("models/model.txt", "w").write(f"weights {lr} from {len(rows)} rows\\n")
json.dump({"loss": round(1 - lr, 3)}, open("metrics.json", "w"))
print(f"trained lr={lr} home={os.environ['HOME']}", flush=True)
"""


def pipeline(with_data: bool) -> str:
    deps = "[train.py, data]" if with_data else "[train.py]"
    return ("stages:\n  train:\n    cmd: python3 train.py\n"
            f"    deps: {deps}\n    params: [train.lr]\n    outs: [models]\n"
            "    metrics:\n      - metrics.json:\n          cache: false\n")


def make_project(committed: Project, tmp_path: Path, with_data: bool) -> Project:
    p = committed
    files = {"train.py": TRAIN, "params.yaml": "train:\n  lr: 0.1\n", "exp.yaml": pipeline(with_data)}
    if with_data:
        files["data"] = {"rows.txt": "1 2 3 4\n"}
    p.gen(files)
    if with_data:
        p.exp("add", "data")
    p.commit("pipeline")
    remote = p.add_bare_remote(tmp_path / "remote.git", push=("HEAD:refs/heads/main",))
    data_remote = tmp_path / "data-remote"
    data_remote.mkdir()
    p.git("config", "remote.origin.expdata", str(data_remote))
    p.remote, p.data_remote = remote, data_remote
    return p


def worker_env(tmp_path: Path) -> dict:
    """The workers' own HOME and TMPDIR, and no Git identity of the client's."""
    home, scratch = tmp_path / "worker-home", tmp_path / "worker-tmp"
    home.mkdir()
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), TMPDIR=str(scratch),
               PYTHONPATH=str(ROOT), DASK_DISTRIBUTED__WORKER__DAEMON="False")
    return env


class Cluster:
    def __init__(self, folder: Path):
        self.folder = folder
        self.started: list[subprocess.Popen] = []
        self.executor = ""

    def launch(self, name: str, argv: list[str], env: dict) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "wb")
        proc = subprocess.Popen(argv, cwd=self.folder, env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.started.append(proc)
        return proc

    def start(self, workers: int, env: dict, wrap=None) -> None:
        self.launch("scheduler", [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1",
                                  "--port", "0", "--no-dashboard", "--scheduler-file",
                                  str(self.folder / "scheduler.json")], env)
        deadline = time.monotonic() + 30
        while not (self.folder / "scheduler.json").exists():
            assert time.monotonic() < deadline, (self.folder / "scheduler.log").read_text()
            time.sleep(0.05)
        address = json.loads((self.folder / "scheduler.json").read_text())["address"]
        for i in range(workers):
            argv = [sys.executable, "-m", "dask", "worker", address, "--nthreads", "1",
                    "--no-nanny", "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{i}",
                    "--local-directory", str(self.folder)]
            self.launch(f"worker-{i}", wrap(argv) if wrap else argv, env)
        from distributed import Client
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(workers, timeout=30)
        self.executor = "dask://" + address[len("tcp://"):]

    def stop(self) -> None:
        for proc in self.started:
            end_group(proc)


@pytest.fixture
def cluster(tmp_path):
    folder = tmp_path / "dask"
    folder.mkdir()
    c = Cluster(folder)
    try:
        yield c
    finally:
        c.stop()


def exps(project: Project) -> dict[str, str]:
    out = project.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/exps/")
    return {ref.rsplit("/", 1)[1]: sha for ref, sha in (l.split() for l in out.splitlines())}


def remote_refs(remote: Path, prefix: str) -> dict[str, str]:
    out = subprocess.run(["git", "-C", str(remote), "for-each-ref",
                          "--format=%(refname) %(objectname)", prefix],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split(" ") for line in out.splitlines())


def test_workers_with_their_own_home_and_tmpdir_bring_back_usable_results(committed, tmp_path, cluster):
    p = make_project(committed, tmp_path, with_data=True)
    env = worker_env(tmp_path)
    cluster.start(2, env)
    p.exp("run", "--queue", "-S", "train.lr=0.2,0.4,0.6", "-n", "sweep")
    proc = p.exp("queue", "work", "--executor", cluster.executor, timeout=180)
    assert proc.stdout.count(": success (") == 3, proc.stdout + proc.stderr
    results = exps(p)
    assert sorted(results) == ["sweep-1", "sweep-2", "sweep-3"]
    # The workers ran in their own HOME, and their clones went to their own TMPDIR and are gone.
    assert list((tmp_path / "worker-tmp").glob("git-exp-*")) == []
    # Each result's run log went to the Git remote with it.
    logs = remote_refs(p.remote, "refs/exp-logs/")
    assert set(logs) == {f"refs/exp-logs/{sha}" for sha in results.values()}
    # ... and came home with it: the client holds the same log refs.
    assert remote_refs(p.path, "refs/exp-logs/") == logs
    for i, lr in enumerate(("0.2", "0.4", "0.6"), start=1):
        name = f"sweep-{i}"
        log = p.exp("logs", name).stdout
        assert f"trained lr={lr} home={tmp_path / 'worker-home'}" in log
        proc = p.exp("apply", name)
        assert p.read("models/model.txt") == f"weights {lr} from 4 rows\n", proc.stdout
    p.fsck()
    # The data came through the data remote: every output object is there.
    model_objects = [f for f in (p.data_remote / "files").rglob("*") if f.is_file()]
    assert len(model_objects) >= 3 + 3   # a file and a manifest per result, plus the input

    # Another clone pulls the results with their data and the workers' logs.
    other = Project(tmp_path / "other")
    subprocess.run(["git", "clone", "-q", str(p.remote), str(other.path)], check=True)
    other.git("config", "remote.origin.expdata", str(p.data_remote))
    proc = other.exp("pull", "-A", "origin")
    assert "Received 3 run logs" in proc.stdout
    assert "trained lr=0.4" in other.exp("logs", "sweep-2").stdout
    other.exp("apply", "sweep-3")
    assert other.read("models/model.txt") == "weights 0.6 from 4 rows\n"


def _private_mount_works(target: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            f"mount -t tmpfs tmpfs '{target}'"], capture_output=True)
    return probe.returncode == 0


def test_a_result_whose_data_never_reached_the_client_fails_naming_the_paths(committed, tmp_path,
                                                                              cluster):
    p = make_project(committed, tmp_path, with_data=False)
    if not _private_mount_works(p.data_remote):
        pytest.skip("needs `unshare --mount` and mount (root, CAP_SYS_ADMIN) to hide the workers' "
                    "data directory from the client")
    env = worker_env(tmp_path)
    hidden = str(p.data_remote)

    def wrap(argv: list[str]) -> list[str]:
        # Each worker writes "the data remote" into its own tmpfs: a path that exists
        # everywhere but is not shared, as on machines without a common filesystem.
        inner = " ".join(f"'{a}'" for a in argv)
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                f"mount -t tmpfs tmpfs '{hidden}' && exec {inner}"]

    cluster.start(2, env, wrap)
    p.exp("run", "--queue", "-S", "train.lr=0.3,0.7", "-n", "lost")
    proc = p.exp("queue", "work", "--executor", cluster.executor, timeout=180, check=False)
    assert ": success (" not in proc.stdout, proc.stdout
    assert proc.stdout.count("its data is not on the data remote") == 2, proc.stdout
    assert list(p.data_remote.iterdir()) == []   # the client's view: nothing arrived
    status = p.exp("queue", "status", check=False).stdout
    assert status.count("failed") >= 2 and "success" not in status
    for name in ("lost-1", "lost-2"):
        sha = exps(p)[name]
        trailers = p.git("log", "-1", "--format=%(trailers:only,unfold)", sha)
        assert "Exp-Status: failed" in trailers
        assert "Exp-Error: its result was published but its data is not on the data remote" \
            in trailers
        assert "models" in trailers
        log = p.exp("logs", name).stdout
        assert "its data is not on the data remote" in log and "models" in log
    p.fsck()
