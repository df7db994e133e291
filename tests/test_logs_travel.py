"""Run logs travel: `git exp push` sends them as refs/exp-logs/<sha>, `git exp pull` brings them.

Real runs (a success and a failure) in one clone, a bare repository between
them, `git exp logs` in the other clone; what arrives is untrusted and
checked: only a single bounded blob, only into .git/exp/logs, never over a
log the clone has.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import Project, clone

TRAIN = """\
import re, sys
lr = float(re.search(r"lr: *([0-9.e-]+)", open("params.yaml").read()).group(1))
print(f"training with lr={lr}", flush=True)
if lr > 0.8:
    print("diverged: loss is nan", file=sys.stderr, flush=True)
    sys.exit(3)
open("model.txt", "w").write(f"weights {lr}\\n")
"""

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py]
    params: [train.lr]
    outs: [model.txt]
"""


@pytest.fixture
def ran(committed, tmp_path) -> Project:
    p = committed
    p.gen({"train.py": TRAIN, "params.yaml": "train:\n  lr: 0.1\n", "exp.yaml": PIPELINE})
    p.commit("pipeline")
    p.exp("run", "-n", "good")
    failed = p.exp("run", "-S", "train.lr=0.9", "-n", "bad", check=False)
    assert failed.returncode != 0
    p.remote = p.add_bare_remote(tmp_path / "origin.git", push=("main",))
    return p


def log_file(p: Project, sha: str) -> Path:
    return p.path / ".git" / "exp" / "logs" / f"{sha}.log"


def remote_log_refs(remote: Path) -> dict[str, str]:
    out = subprocess.run(["git", "-C", str(remote), "for-each-ref",
                          "--format=%(refname) %(objectname)", "refs/exp-logs/"],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split() for line in out.splitlines())


def test_logs_of_successful_and_failed_runs_travel(ran, tmp_path):
    good, bad = ran.exp_sha("good"), ran.exp_sha("bad")
    proc = ran.exp("push", "origin", "good", "bad")
    assert "Sent 2 run logs" in proc.stdout
    refs = remote_log_refs(ran.remote)
    assert set(refs) == {f"refs/exp-logs/{good}", f"refs/exp-logs/{bad}"}
    subprocess.run(["git", "-C", str(ran.remote), "fsck", "--strict", "--no-progress"], check=True)
    # Readable with Git alone.
    shown = subprocess.run(["git", "-C", str(ran.remote), "show", f"refs/exp-logs/{bad}:log"],
                           capture_output=True, check=True).stdout
    assert shown == log_file(ran, bad).read_bytes()

    other = clone(ran.remote, tmp_path / "other")
    proc = other.exp("pull", "origin", "good", "bad", check=False)
    assert "Received 2 run logs" in proc.stdout, proc.stdout + proc.stderr
    assert other.exp("logs", "good").stdout.encode() == log_file(ran, good).read_bytes()
    bad_log = other.exp("logs", "bad").stdout
    assert "training with lr=0.9" in bad_log and "diverged: loss is nan" in bad_log
    other.fsck()

    # Again: nothing to send, nothing to receive.
    again = ran.exp("push", "origin", "good", "bad")
    assert "run log" not in again.stdout
    assert remote_log_refs(ran.remote) == refs
    assert "run log" not in other.exp("pull", "origin", "good", "bad").stdout

    # The other clone pushes them on to a third remote: the same log commits (deterministic).
    third = other.add_bare_remote(tmp_path / "third.git", name="third")
    other.exp("push", "third", "good", "bad")
    assert remote_log_refs(third) == refs


def test_an_experiment_pushed_before_its_log_gets_the_log_on_the_next_push(ran, tmp_path):
    ran.git("push", "-q", "origin", "refs/exps/*:refs/exps/*")   # plain git: no logs
    assert remote_log_refs(ran.remote) == {}
    proc = ran.exp("push", "origin", "good")
    assert "Up to date: 'good'" in proc.stdout and "Sent 1 run log" in proc.stdout


def test_a_log_already_here_is_never_replaced(ran, tmp_path):
    ran.exp("push", "origin", "good")
    other = clone(ran.remote, tmp_path / "other")
    sha = ran.exp_sha("good")
    mine = log_file(other, sha)
    mine.parent.mkdir(parents=True, exist_ok=True)
    mine.write_bytes(b"my own notes\n")
    other.exp("pull", "origin", "good")
    assert mine.read_bytes() == b"my own notes\n"


def _forge_log_ref(remote: Path, sha: str, entry: str) -> None:
    """Put refs/exp-logs/SHA on REMOTE, pointing at a commit whose tree is ENTRY (mktree input)."""
    def git(*args, input=None):
        return subprocess.run(["git", "-C", str(remote), *args], input=input, capture_output=True,
                              check=True).stdout.decode().strip()
    tree = git("mktree", input=entry.encode())
    commit = git("commit-tree", tree, "-m", "forged")
    git("update-ref", f"refs/exp-logs/{sha}", commit)


def test_hostile_log_refs_are_refused(ran, tmp_path):
    ran.exp("push", "-q", "origin", "good", "bad")
    good, bad = ran.exp_sha("good"), ran.exp_sha("bad")
    # 'good': the log is a tree, not a text; 'bad': a blob over the limit.
    def git(*args, input=None):
        return subprocess.run(["git", "-C", str(ran.remote), *args], input=input, capture_output=True,
                              check=True).stdout.decode().strip()
    inner = git("mktree", input=b"")
    _forge_log_ref(ran.remote, good, f"040000 tree {inner}\tlog\n")
    big = subprocess.run(["git", "-C", str(ran.remote), "hash-object", "-w", "--stdin"],
                         input=b"x" * (8 * 1024 * 1024 + 1), capture_output=True,
                         check=True).stdout.decode().strip()
    _forge_log_ref(ran.remote, bad, f"100644 blob {big}\tlog\n")
    other = clone(ran.remote, tmp_path / "other")
    proc = other.exp("pull", "origin", "good", "bad")
    assert "Fetched 'good'" in proc.stdout and "Fetched 'bad'" in proc.stdout
    assert "run log" not in proc.stdout
    assert not (other.path / ".git" / "exp" / "logs").exists() or \
        not list((other.path / ".git" / "exp" / "logs").glob("*.log"))
    proc = other.exp("logs", "good", check=False)
    assert proc.returncode == 1 and "no log is kept" in proc.stderr


def test_a_long_log_is_shared_as_its_tail(ran, tmp_path):
    sha = ran.exp_sha("good")
    log = log_file(ran, sha)
    log.write_bytes(b"early line\n" * 100_000 + b"y" * (8 * 1024 * 1024) + b"\nlast line\n")
    ran.exp("push", "origin", "good")
    other = clone(ran.remote, tmp_path / "other")
    other.exp("pull", "origin", "good")
    arrived = log_file(other, sha).read_bytes()
    assert len(arrived) == 8 * 1024 * 1024
    assert arrived.startswith(b"[git-exp: this log had ")
    assert arrived.endswith(b"\nlast line\n") and b"early line" not in arrived


def test_removing_an_experiment_removes_its_log_here_and_on_the_remote(ran, tmp_path):
    good = ran.exp_sha("good")
    ran.exp("push", "origin", "good", "bad")
    ran.exp("remove", "-g", "origin", "good")
    assert set(remote_log_refs(ran.remote)) == {f"refs/exp-logs/{ran.exp_sha('bad')}"}
    ran.exp("remove", "good")
    assert ran.git("for-each-ref", f"refs/exp-logs/{good}") == ""
    assert not log_file(ran, good).exists()
    ran.fsck()
