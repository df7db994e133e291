"""Processes dying at the worst moment: SIGKILL of `git exp run`, of a queue worker
inside `git worktree add`, and run locks left by a pid that now belongs to
someone else or to a zombie.

Real processes, really killed; the repository is checked with `git fsck
--strict` afterwards and the next command must work without any cleanup.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import alive, end_group, wait_for

# Writes its pid to GIT_EXP_TEST_MARKER, then waits while GIT_EXP_TEST_GATE exists.
STAGE = """\
import os, sys, time
marker, gate = os.environ["GIT_EXP_TEST_MARKER"], os.environ["GIT_EXP_TEST_GATE"]
open(marker + ".tmp", "w").write(str(os.getpid()))
os.replace(marker + ".tmp", marker)
for _ in range(600):
    if not os.path.exists(gate):
        break
    time.sleep(0.1)
open("out.txt", "w").write(open("params.yaml").read())
print("stage done", flush=True)
"""

# A compound command: the shell stays between us and the stage, as it does
# for `a && b`, so ending only the shell would leave the stage running.
PIPELINE = """\
stages:
  work:
    cmd: python3 stage.py && echo after
    deps: [stage.py]
    params: [n]
    outs: [out.txt]
"""


@pytest.fixture
def slow(committed, tmp_path, monkeypatch):
    committed.gen({"stage.py": STAGE, "exp.yaml": PIPELINE, "params.yaml": "n: 1\n"})
    committed.commit("pipeline")
    monkeypatch.setenv("GIT_EXP_TEST_MARKER", str(tmp_path / "marker"))
    monkeypatch.setenv("GIT_EXP_TEST_GATE", str(tmp_path / "gate"))
    committed.marker = tmp_path / "marker"
    committed.gate = tmp_path / "gate"
    return committed


def start_time(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        data = fh.read()
    return data[data.rfind(b")") + 2:].split()[19].decode()


def start_exp(project, *args: str) -> subprocess.Popen:
    return subprocess.Popen(["git", "exp", *args], cwd=project.path, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/stat"),
                                reason="needs /proc to see processes (Linux)")


# -- SIGKILL of `git exp run` ----------------------------------------------------

@needs_proc
def test_a_sigkilled_run_takes_its_stage_with_it(slow):
    slow.gate.write_text("")
    proc = start_exp(slow, "run", "-n", "doomed")
    stage = None
    try:
        stage = int(wait_for(lambda: slow.marker.exists() and slow.marker.read_text(),
                             "the stage to start", timeout=30))
        lock = json.loads((slow.path / ".git/exp-run.lock").read_text())
        runner = lock["pid"]
        assert lock["start"] == start_time(runner)
        # SIGKILL the process that runs the pipeline: no handler, no goodbye.
        os.kill(runner, signal.SIGKILL)
        started = time.monotonic()
        wait_for(lambda: not alive(stage), "the orphaned stage to end", timeout=5)
        assert time.monotonic() - started < 2.5
    finally:
        if stage and alive(stage):
            os.kill(stage, signal.SIGKILL)
        slow.gate.unlink(missing_ok=True)
        end_group(proc)
    # Its lock is stale (its process is gone): the next run needs no cleanup.
    slow.marker.unlink()
    slow.exp("run", "-n", "again", timeout=60)
    assert slow.read("out.txt") == "n: 1\n"
    assert not (slow.path / ".git/exp-run.lock").exists()
    slow.fsck()


@needs_proc
def test_a_normal_run_leaves_no_watchdog_and_no_straggler_killed(slow):
    # A stage that leaves a background process behind on purpose: it is not
    # ended when the stage succeeds (only a dying run ends its group).
    slow.gen({"exp.yaml": PIPELINE.replace("python3 stage.py && echo after",
                                           "(sleep 30 >/dev/null 2>&1 &) ; python3 stage.py")})
    slow.commit("background")
    before = set(_watchdogs(slow.path))
    slow.exp("run", "-n", "fine", timeout=60)
    assert set(_watchdogs(slow.path)) - before == set()   # each watchdog was waited for
    sleeper = [pid for pid in _pids() if _cmdline(pid) == ["sleep", "30"]
               and os.readlink(f"/proc/{pid}/cwd") == str(slow.path)]
    assert sleeper, "the stage's own background process was ended"
    for pid in sleeper:
        os.kill(pid, signal.SIGKILL)


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def _watchdogs(root=None) -> list[int]:
    """The lifeline watchdogs alive now (of runs in ROOT only, when given: other
    suites may be running on the same machine)."""
    found = []
    for pid in _pids():
        if "git-exp-lifeline" not in _cmdline(pid):
            continue
        if root is not None:
            try:
                cwd = os.readlink(f"/proc/{pid}/cwd")
            except OSError:
                continue
            real = os.path.realpath(root)
            if not (cwd == real or cwd.startswith(real + os.sep)):
                continue
        found.append(pid)
    return found


# -- SIGKILL inside `git worktree add` ----------------------------------------------

def _admin_dirs(project) -> list[str]:
    base = project.path / ".git/worktrees"
    return sorted(os.listdir(base)) if base.exists() else []


def test_recovery_prunes_what_a_killed_worktree_add_left(slow):
    """The exact leftovers: registered, locked 'initializing', no HEAD, no .git file."""
    slow.exp("run", "--queue", "-S", "n=2", "-n", "queued")
    sha8 = slow.head()[:8]
    name = f"0bad1dea-{sha8}"
    path = slow.path / ".git/exp/tmp" / name
    slow.git("worktree", "add", "--detach", "-q", str(path), "HEAD")
    admin = slow.path / ".git/worktrees" / name
    (admin / "locked").write_text("initializing")
    (admin / "HEAD").unlink()
    (path / ".git").unlink()
    assert subprocess.run(["git", "fsck", "--strict", "--no-progress"], cwd=slow.path,
                          capture_output=True).returncode != 0
    # Git's own prune keeps it (it is locked): that is why it stayed for ever.
    slow.git("worktree", "prune")
    assert _admin_dirs(slow) == [name]

    slow.exp("queue", "status")
    assert _admin_dirs(slow) == []
    assert not path.exists()
    slow.fsck()
    # And one killed before the gitdir file was written: only the admin dir, locked.
    admin.mkdir(parents=True)
    (admin / "locked").write_text("initializing")
    slow.exp("queue", "status")
    assert _admin_dirs(slow) == []
    slow.fsck()
    # And one killed between creating the gitdir file and writing its line.
    admin.mkdir(parents=True)
    (admin / "locked").write_text("initializing")
    (admin / "gitdir").write_text("")
    slow.exp("queue", "status")
    assert _admin_dirs(slow) == []
    slow.fsck()
    # The queued entry itself was never touched and still runs.
    slow.exp("queue", "work", timeout=60)
    status = slow.git("log", "-1", "--format=%(trailers:key=Exp-Status,valueonly)",
                      f"refs/exps/{slow.head()}/queued")
    assert status.strip() == "success"


@needs_proc
def test_workers_killed_at_random_points_of_worktree_add_leave_a_healthy_repository(slow):
    # Enough files that `git worktree add` takes a while, so the kills land inside it.
    slow.gen({"bulk": {f"f{i:04d}.txt": f"{i}\n" * 20 for i in range(1500)}})
    slow.commit("bulk")
    rng = random.Random(int(os.environ.get("GIT_EXP_TEST_SEED", "14")))
    hit = 0
    for trial in range(4):
        slow.exp("run", "--queue", "-S", f"n={10 + trial}", "-n", f"t{trial}")
        worker = start_exp(slow, "queue", "work")
        try:
            deadline = time.monotonic() + 30
            while not (slow.path / ".git/worktrees").exists():   # polled closely: adds are quick
                assert time.monotonic() < deadline, "the worker never ran `git worktree add`"
                time.sleep(0.0005)
            time.sleep(rng.choice([0, 0, rng.uniform(0, 0.003), rng.uniform(0, 0.05)]))
            # The whole group: the worker and the `git worktree add` it runs.
            os.killpg(worker.pid, signal.SIGKILL)
        finally:
            end_group(worker)
        leftover = _admin_dirs(slow)
        if leftover and not (slow.path / ".git/worktrees" / leftover[0] / "HEAD").exists():
            hit += 1
        slow.exp("queue", "status")
        assert _admin_dirs(slow) == [], trial
        assert list((slow.path / ".git/exp/tmp").iterdir()) == [], trial
        slow.fsck()
    # The next worker runs every entry, with nothing cleaned by hand.
    slow.exp("queue", "work", timeout=120)
    baseline = slow.head()
    names = slow.git("for-each-ref", "--format=%(refname:lstrip=3)", f"refs/exps/{baseline}/").split()
    assert sorted(names) == [f"t{i}" for i in range(4)]
    assert slow.git("for-each-ref", "refs/exps-queue/", "refs/exps-running/") == ""
    slow.fsck()
    print(f"{hit} of 4 kills left a worktree without HEAD behind")


# -- the run lock ----------------------------------------------------------------------

def _write_lock(project, pid: int, start: str | None) -> None:
    info = {"pid": pid, "host": os.uname().nodename, "name": "ghost", "started": "earlier"}
    if start is not None:
        info["start"] = start
    (project.path / ".git/exp-run.lock").write_text(json.dumps(info))


@needs_proc
def test_the_run_lock_is_not_fooled_by_a_recycled_pid(slow):
    other = subprocess.Popen(["sleep", "60"])
    try:
        # The lock's pid is alive, but it is a process started at another time.
        _write_lock(slow, other.pid, str(int(start_time(other.pid)) + 1))
        slow.exp("run", "-n", "mine", timeout=60)
        assert slow.read("out.txt") == "n: 1\n"
        # The same pid and start time: that process holds the lock.
        _write_lock(slow, other.pid, start_time(other.pid))
        proc = slow.exp("run", "-n", "blocked", "--force", check=False)
        assert proc.returncode == 1
        assert "another 'git exp run' is running in this work tree" in proc.stderr
        assert f"pid {other.pid}" in proc.stderr
        # A lock from before start times were kept: the pid alone decides.
        _write_lock(slow, other.pid, None)
        assert slow.exp("run", "--force", check=False).returncode == 1
    finally:
        other.kill()
        other.wait()


@needs_proc
def test_the_run_lock_is_not_fooled_by_a_zombie(slow):
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    wait_for(lambda: not alive(zombie.pid), "the child to exit", timeout=10)
    try:
        assert os.path.exists(f"/proc/{zombie.pid}")   # not reaped: a zombie
        _write_lock(slow, zombie.pid, start_time(zombie.pid))
        slow.exp("run", "-n", "after-zombie", timeout=60)
        assert slow.read("out.txt") == "n: 1\n"
        assert not (slow.path / ".git/exp-run.lock").exists()
    finally:
        zombie.wait()


@needs_proc
def test_a_sigkilled_parallel_run_stops_its_workers_and_their_stages(slow):
    slow.gate.write_text("")
    # `git-exp` itself (not `git exp`), so the pid we kill is the one that started the workers.
    proc = subprocess.Popen(["git-exp", "run", "-j", "2", "-S", "n=3,4"], cwd=slow.path,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        stage = int(wait_for(lambda: slow.marker.exists() and slow.marker.read_text(),
                             "a stage to start", timeout=30))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        root = os.path.realpath(slow.path)

        def working_here() -> list[int]:
            found = []
            for pid in _pids():
                try:
                    cwd = os.readlink(f"/proc/{pid}/cwd")
                except OSError:
                    continue
                if alive(pid) and (cwd == root or cwd.startswith(root + os.sep)):
                    found.append(pid)
            return found

        # Returns as soon as they are gone; the margin is for a loaded machine.
        wait_for(lambda: not working_here(), "the workers and their stages to end", timeout=60)
        assert not alive(stage)
    finally:
        slow.gate.unlink(missing_ok=True)
        end_group(proc)
    status = slow.exp("queue", "status").stdout
    assert "interrupted" in status and "running" not in status, status
    assert not list((slow.path / ".git/exp/tmp").iterdir())
    slow.fsck()
