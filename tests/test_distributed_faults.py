"""Distributed faults, for real: a Dask scheduler killed mid-sweep, the client
killed while its tasks run, two attempts of one entry racing.

The same cluster as tests/test_distributed.py (a real `dask scheduler` and
two workers on 127.0.0.1, a bare repository as the shared remote); every
process a test starts is ended in its teardown.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.test_distributed import (  # noqa: F401 - fixtures
    _alive, dask_cluster, needs_dask, queue_ids, remote_refs, runs, shared, trailers, wait_for)


def _dispatcher(project, executor: str) -> subprocess.Popen:
    return subprocess.Popen(["git", "exp", "queue", "work", "--executor", executor],
                            cwd=project.path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _end(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


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
        wait_for(lambda: marker.exists(), 30, "the first run")
        scheduler = dask_cluster["scheduler"]
        os.killpg(scheduler.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        out, err = dispatcher.communicate(timeout=40)
        took = time.monotonic() - killed_at
    finally:
        gate.unlink(missing_ok=True)
        _end(dispatcher)
    print(out, err, took)
    assert dispatcher.returncode == 1, out + err
    assert "lost the Dask scheduler" in err
    assert "Traceback" not in err
    # Nothing failed: both entries are queued again, no experiment was recorded as failed.
    status = shared.exp("queue", "status").stdout
    assert "failed" not in status
    assert sorted(queue_ids(shared)) == ["sweep-1", "sweep-2"] or "success" in status
    assert shared.git("for-each-ref", "refs/exps-running/") == ""
    stop = shared.exp("queue", "stop", check=False)
    assert stop.returncode == 0, stop.stderr
    shared.fsck()
