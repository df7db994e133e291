"""Distributed faults, for real: a Dask scheduler killed mid-sweep, the client
killed while its tasks run, two attempts of one entry racing.

The same cluster as tests/test_distributed.py (a real `dask scheduler` and
two workers on 127.0.0.1, a bare repository as the shared remote); every
process a test starts is ended in its teardown.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from git_exp.procs import is_same
from tests.conftest import end_group, wait_for
from tests.test_distributed import (  # noqa: F401 - fixtures
    dask_cluster, needs_dask, queue_ids, remote_refs, runs, shared, trailers)


def _dispatcher(project, executor: str) -> subprocess.Popen:
    return subprocess.Popen(["git", "exp", "queue", "work", "--executor", executor],
                            cwd=project.path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _exp_refs(project) -> dict[str, str]:
    out = project.git("for-each-ref", "--format=%(refname:lstrip=3) %(objectname)", "refs/exps/")
    return dict(line.split() for line in out.splitlines())


@needs_dask
def test_a_dead_scheduler_gives_the_entries_back_and_the_dispatcher_says_so(shared, dask_cluster,
                                                                          tmp_path):
    gate, marker = tmp_path / "gate", tmp_path / "marker"
    gate.write_text("")
    shared.exp("run", "--queue", "-S", "train.lr=0.9,0.2", "-n", "sweep")
    dispatcher = _dispatcher(shared, dask_cluster["executor"])
    try:
        wait_for(lambda: marker.exists(), "the first run", timeout=30)
        scheduler = dask_cluster["scheduler"]
        os.killpg(scheduler.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        out, err = dispatcher.communicate(timeout=40)
        took = time.monotonic() - killed_at
    finally:
        gate.unlink(missing_ok=True)
        end_group(dispatcher)
    assert dispatcher.returncode == 1, out + err
    assert "error: lost the Dask scheduler at " in err
    assert "its unfinished entries went back to the queue" in err
    assert "hint: start the scheduler again" in err
    assert took < 30, took   # its timeout is 15 s
    assert "Traceback" not in err
    # Nothing failed: both entries are queued again, no experiment was recorded as failed.
    status = shared.exp("queue", "status").stdout
    assert "failed" not in status
    assert "sweep-1" in queue_ids(shared)   # the one held at the gate is queued again ...
    for name, entry_id in queue_ids(shared).items():   # ... and its claim was not counted
        attempt = shared.git("log", "-1", "--format=%(trailers:key=Exp-Attempt,valueonly)",
                             f"refs/exps-queue/{entry_id}").strip()
        assert attempt in ("", "0"), (name, attempt)
    assert shared.git("for-each-ref", "refs/exps-running/") == ""
    stop = shared.exp("queue", "stop", check=False)
    assert stop.returncode == 0, stop.stderr
    shared.fsck()


@needs_dask
@pytest.mark.parametrize("kill", [False, True])
def test_queue_stop_works_while_the_scheduler_is_gone(shared, dask_cluster, tmp_path, kill):
    gate, marker = tmp_path / "gate", tmp_path / "marker"
    gate.write_text("")
    shared.exp("run", "--queue", "-S", "train.lr=0.9", "-n", "slow")
    shared.exp("queue", "start", "--executor", dask_cluster["executor"])
    dispatcher = None
    try:
        wait_for(lambda: marker.exists(), "the run", timeout=30)
        ((dispatcher, start),) = _workers(shared).items()
        os.killpg(dask_cluster["scheduler"].pid, signal.SIGKILL)
        time.sleep(1)
        stop = shared.exp("queue", "stop", *(["--kill"] if kill else []), check=False)
        assert stop.returncode == 0, stop.stderr
        assert "Asked 1 worker" in stop.stdout or "Interrupted 1 worker" in stop.stdout
        wait_for(lambda: not is_same(dispatcher, start), "the dispatcher to exit", timeout=25)
    finally:
        gate.unlink(missing_ok=True)
        _kill_workers(shared)
    status = shared.exp("queue", "status")
    assert status.returncode == 0
    assert "failed" not in status.stdout, status.stdout
    log = (shared.path / f".git/exp/queue/workers/{dispatcher}.log").read_text()
    assert "Traceback" not in log and "internal error" not in log, log
    shared.fsck()


def test_two_attempts_racing_the_loser_reports_the_winner(shared, tmp_path):
    """No Dask needed: two `exec-entry` of one entry, both past their claim, finish at once."""
    from tests.test_distributed import push_entry
    gate, marker = tmp_path / "gate", tmp_path / "marker"
    gate.write_text("")
    shared.exp("run", "--queue", "-S", "train.lr=0.9", "-n", "raced")
    entry_id = queue_ids(shared)["raced"]
    push_entry(shared, entry_id)
    args = ["git", "exp", "exec-entry", "--remote", str(shared.remote), "--ref",
            f"refs/exps-queue/{entry_id}", "--data-remote", str(shared.data_remote)]
    attempts = []
    try:
        for _ in range(2):
            attempts.append(subprocess.Popen(args, cwd=shared.path, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, text=True))
            wait_for(lambda: marker.exists(), "the attempt's run", timeout=30)
            marker.unlink()
        gate.unlink()
        outputs = [p.communicate(timeout=60) for p in attempts]
    finally:
        gate.unlink(missing_ok=True)
        for p in attempts:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in attempts] == [0, 0], outputs
    results = remote_refs(shared.remote, "refs/exps/")
    (winner_sha,) = results.values()
    lines = sorted(out.splitlines()[-1] for out, _ in outputs)
    assert lines[0].startswith(f"duplicate: raced {winner_sha[:7]} (success, attempt ")
    assert lines[1].startswith(f"pushed: raced {winner_sha[:7]} (success, attempt ")
    loser_err = [err for out, err in outputs if out.splitlines()[-1].startswith("duplicate")][0]
    assert f"published refs/exps/{shared.head()}/raced first ({winner_sha[:7]}" in loser_err
    # The winner's log went with its result, and only the winner's.
    logs = remote_refs(shared.remote, "refs/exps-logs/")
    assert list(logs) == [f"refs/exps-logs/{entry_id}"]
    log = subprocess.run(["git", "-C", str(shared.remote), "cat-file", "blob",
                          logs[f"refs/exps-logs/{entry_id}"]], capture_output=True, text=True,
                         check=True).stdout
    winner_attempt = lines[1].rsplit("attempt ", 1)[1].rstrip(")")
    assert "trained lr=0.9" in log
    assert f"exec-entry: published refs/exps/{shared.head()}/raced ({winner_sha[:7]}, success), " \
           f"attempt {winner_attempt} " in log
    subprocess.run(["git", "-C", str(shared.remote), "fsck", "--strict", "--no-progress"],
                   check=True)


@needs_dask
def test_an_outage_of_the_client_neither_fails_nor_counts_its_entries(shared, dask_cluster,
                                                                       tmp_path):
    """The client killed three times while its tasks run: they publish, it brings them home.

    Every wait is for an event (a record written, a process gone); the bounds
    only stop a hang, and are far above what a loaded machine takes: a fixed
    40 s for both results, and a stage gate that opened by itself after 60 s,
    were timings a full suite beside other loads could overrun."""
    gate = tmp_path / "gate"
    gate.write_text("")
    shared.exp("run", "--queue", "-S", "train.lr=0.9,0.2", "-n", "out")
    ids = queue_ids(shared)
    record = shared.path / f".git/exp/queue/remote/{ids['out-1']}.json"

    def submitted(pid: int, start: str) -> bool:
        """Whether dispatcher PID handed the slow entry's task to Dask (its record names the
        task and PID's claim); fails at once if it died."""
        assert is_same(pid, start), "the dispatcher died:\n" + _worker_log(shared, pid)
        try:
            info = json.loads(record.read_text())
        except (FileNotFoundError, ValueError):   # not written yet
            return False
        return bool(info.get("task")) and shared.git(
            "log", "-1", "--format=%(trailers:key=Exp-Claim-Pid,valueonly)", info["claim"]).strip() == str(pid)

    try:
        for _round in range(3):
            pid, start = _start_dispatcher(shared, dask_cluster["executor"])
            # Its task for the slow entry is with Dask: the client dies, as a laptop closes.
            wait_for(lambda pid=pid, start=start: submitted(pid, start), "the slow entry to be submitted",
                     timeout=HANG)
            time.sleep(0.5)
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda pid=pid, start=start: not is_same(pid, start), "the dispatcher to die",
                     timeout=HANG)
        # The tasks run on without their client and publish; a new client brings them home.
        gate.unlink()
        started = _start_dispatcher(shared, dask_cluster["executor"], may_find_nothing=True)
        if started is not None:   # else `queue start`'s recovery brought both home itself
            # It ends once nothing is queued or running, after it recorded each result and
            # cleared the remote's refs of it: what is checked below.
            wait_for(lambda: not is_same(*started), "the last dispatcher to end", timeout=HANG)
            log = _worker_log(shared, started[0])
            assert "Traceback" not in log and "internal error" not in log, log
    finally:
        gate.unlink(missing_ok=True)
        _kill_workers(shared)
    status = shared.exp("queue", "status").stdout
    assert "failed" not in status, status
    for name in ("out-1", "out-2"):
        info = json.loads((shared.path / f".git/exp/queue/{ids[name]}.json").read_text())
        assert info["state"] == "success" and info["attempt"] == 1, info   # no attempt consumed
    baseline = shared.head()
    remote = remote_refs(shared.remote, "refs/exps/")
    assert sorted(remote) == [f"refs/exps/{baseline}/out-1", f"refs/exps/{baseline}/out-2"]
    assert {f"refs/exps/{baseline}/{k}": v for k, v in _exp_refs(shared).items()} == remote
    assert remote_refs(shared.remote, "refs/exps-running/") == {}
    assert remote_refs(shared.remote, "refs/exps-queue/") == {}
    # `pull` sees the same experiments, not diverged ones.
    pull = shared.exp("pull", "origin", check=False)
    assert pull.returncode == 0 and "diverged" not in pull.stderr, pull.stderr
    # The log is the winning attempt's: it ran the stage and published this very commit.
    sha = remote[f"refs/exps/{baseline}/out-1"]
    log = shared.exp("logs", "out-1").stdout
    assert "trained lr=0.9" in log
    assert f"exec-entry: published refs/exps/{baseline}/out-1 ({sha[:7]}, success), attempt " \
           f"{trailers(shared, sha)['Exp-Attempt']} " in log
    shared.fsck()


HANG = 180   # seconds: a wait longer than this is a hang, not a slow machine


def _workers(project) -> dict[int, str]:
    """pid -> start token of each registered queue worker still alive. A SIGKILLed
    dispatcher's file stays behind, and by now its pid may be anyone's process:
    only the process that registered (same start token) counts."""
    folder = project.path / ".git/exp/queue/workers"
    found = {}
    for path in folder.glob("*.json") if folder.exists() else []:
        try:
            info = json.loads(path.read_text())
            pid, start = info["pid"], info["start"]
        except (OSError, ValueError, KeyError):
            continue
        if is_same(pid, start):
            found[pid] = start
    return found


def _kill_workers(project) -> None:
    for pid in _workers(project):
        os.kill(pid, signal.SIGKILL)


def _worker_log(project, pid: int) -> str:
    try:
        return (project.path / f".git/exp/queue/workers/{pid}.log").read_text()
    except OSError:
        return ""


def _start_dispatcher(project, executor: str, may_find_nothing: bool = False) -> tuple[int, str] | None:
    """`queue start`: the pid and start token of the dispatcher it started (registered before
    it returns); None when MAY_FIND_NOTHING and its recovery left nothing queued."""
    out = project.exp("queue", "start", "--executor", executor).stdout
    if may_find_nothing and "nothing to start" in out:
        return None
    found = re.search(r"\(pid (\d+)\)", out)
    assert found and "Started a worker" in out, out
    pid = int(found.group(1))
    try:
        start = json.loads((project.path / f".git/exp/queue/workers/{pid}.json").read_text())["start"]
    except FileNotFoundError:   # it ended already (and unregistered): nothing left to wait for
        start = ""
    return pid, start


# -- a dispatcher that died: recovery asks the shared remote (no Dask needed) -------------

def _claim_for_a_dead_dispatcher(project, entry_id: str) -> None:
    """What a dispatcher leaves when SIGKILLed after submitting: its claim and its record."""
    from tests.conftest import ROOT
    dead = subprocess.Popen(["true"])
    dead.wait()
    code = f"""
import socket, sys; sys.path.insert(0, {str(ROOT)!r})
from git_exp.repo import discover
from git_exp.queue import claims, entries
from git_exp.queue import records
repo = discover()
(entry,) = [e for e in entries.list_entries(repo, "queued") if e.id == {entry_id!r}]
owner = entries.Owner({dead.pid}, socket.gethostname(), "1")
assert claims.claim(repo, entry, owner) is not None
records.write(repo, entry.id, {{"executor": "dask://gone:1", "task": "t", "remote": "origin",
              "url": sys.argv[1], "data": sys.argv[2], "claim": "x", "submitted": 0}})
"""
    subprocess.run([sys.executable, "-c", code, str(project.remote), str(project.data_remote)],
                   cwd=project.path, check=True)


def _published_without_its_dispatcher(shared, name: str) -> str:
    """An entry NAME handed to a dispatcher now dead, whose task ran on without it
    and published its result to the shared remote; the entry's id."""
    from tests.test_distributed import push_entry
    shared.exp("run", "--queue", "-S", "train.lr=0.4", "-n", name)
    entry_id = queue_ids(shared)[name]
    push_entry(shared, entry_id)
    _claim_for_a_dead_dispatcher(shared, entry_id)
    shared.exp("exec-entry", "--remote", str(shared.remote), "--ref", f"refs/exps-queue/{entry_id}",
               "--data-remote", str(shared.data_remote))
    return entry_id


def test_recovery_brings_home_what_a_dead_dispatchers_task_published(shared, tmp_path):
    entry_id = _published_without_its_dispatcher(shared, "orphan")
    (sha,) = remote_refs(shared.remote, "refs/exps/").values()
    status = shared.exp("queue", "status")
    assert f"Recovered {entry_id} 'orphan' from a dead worker: finished." in status.stderr
    assert "success" in status.stdout and "failed" not in status.stdout
    assert _exp_refs(shared) == {"orphan": sha}
    assert shared.git("for-each-ref", "refs/exps-queue/", "refs/exps-running/",
                      "refs/exps-logs/") == ""
    for prefix in ("refs/exps-queue/", "refs/exps-running/", "refs/exps-logs/"):
        assert remote_refs(shared.remote, prefix) == {}
    log = shared.exp("logs", "orphan").stdout
    assert "trained lr=0.4" in log and f"exec-entry: published refs/exps/{shared.head()}/orphan" in log
    # Its data came home too: apply needs nothing from the remote.
    shared.exp("apply", "orphan")
    assert shared.read("models/model.txt") == "weights 0.4 from 4 rows\n"
    assert shared.exp("pull", "origin").returncode == 0
    shared.fsck()


def test_recovery_clears_the_remote_of_an_entry_its_dead_dispatcher_recorded(shared):
    """A dispatcher SIGKILLed after it recorded a result, before it cleared the remote's refs
    of the entry: the next recovery clears them (the client-outage test hit this now and then)."""
    from tests.conftest import ROOT
    entry_id = _published_without_its_dispatcher(shared, "late")
    # What Dispatcher._collect does up to finish(), and no further: killed there.
    code = f"""
import sys; sys.path.insert(0, {str(ROOT)!r})
from git_exp.repo import discover
from git_exp.queue import entries, home, records
from git_exp.queue.executor import EntryOutcome
from git_exp.queue.finish import finish
repo = discover()
(entry,) = [e for e in entries.list_entries(repo, "running") if e.id == {entry_id!r}]
record = records.read(repo, entry.id)
target = home.Target(record["remote"], record["url"], record["data"])
found = home.fetch_results(repo, target, [entry]).results[entry.id]
finish(repo, entry, EntryOutcome(found.status, found.ref, found.sha, found.exit_code, found.duration))
"""
    subprocess.run([sys.executable, "-c", code], cwd=shared.path, check=True)
    assert "success" in shared.git("show", "-s", "--format=%(trailers:key=Exp-Status)", "refs/exps/" + shared.head()
                                   + "/late")
    assert remote_refs(shared.remote, "refs/exps-running/")   # left behind, with the queue and log refs
    status = shared.exp("queue", "status")
    assert "success" in status.stdout and "failed" not in status.stdout
    for prefix in ("refs/exps-queue/", "refs/exps-running/", "refs/exps-logs/"):
        assert remote_refs(shared.remote, prefix) == {}, prefix
    assert list(remote_refs(shared.remote, "refs/exps/")) == [f"refs/exps/{shared.head()}/late"]
    assert not (shared.path / f".git/exp/queue/remote/{entry_id}.json").exists()
    shared.fsck()


def test_recovery_requeues_a_dead_dispatchers_entry_without_counting_it(shared):
    from tests.test_distributed import push_entry
    shared.exp("run", "--queue", "-S", "train.lr=0.4", "-n", "later")
    entry_id = queue_ids(shared)["later"]
    push_entry(shared, entry_id)
    for _ in range(4):   # more deaths than an entry's attempts: never failed for them
        _claim_for_a_dead_dispatcher(shared, entry_id)
        status = shared.exp("queue", "status")
        assert f"Recovered {entry_id} 'later' from a dead worker: requeued." in status.stderr
        assert "queued" in status.stdout and "failed" not in status.stdout
    attempt = shared.git("log", "-1", "--format=%(trailers:key=Exp-Attempt,valueonly)",
                         f"refs/exps-queue/{entry_id}").strip()
    assert attempt == "0"
    assert not (shared.path / f".git/exp/queue/remote/{entry_id}.json").exists()
    shared.fsck()
