"""A save of many small files runs in forked worker processes
(data/parallel_procs.py): every item done once, results and errors back in
the parent, no worker left running after the call returns, a worker killed
mid-add an error that leaves no half-written object, and the stat memo fed
from the workers' stats still misses on a changed file."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time

import pytest

from git_exp.data import cachefiles
from git_exp.data.cache import Cache
from git_exp.data.cache_save import FORK_FROM, save_listed
from git_exp.data.parallel_procs import can_fork, run_forked
from git_exp.data.state import StateMemo
from git_exp.errors import ExpError

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="forked workers need os.fork")


def _gone(pid: int) -> bool:
    """PID is no child of ours any more (reaped), nor a process still running."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    else:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _slow_square(i: int) -> tuple[int, int]:
    time.sleep(0.0005)   # slow enough that every worker gets chunks to do
    return i * i, os.getpid()


def test_every_item_is_done_once_and_reported_in_this_process():
    seen: dict[int, int] = {}
    pids: set[int] = set()

    def done(start: int, results: list) -> None:
        for item, result in enumerate(results, start):
            assert item not in seen
            seen[item] = result[0]
            pids.add(result[1])

    run_forked(_slow_square, list(range(2000)), done, workers=3)
    assert seen == {i: i * i for i in range(2000)}
    assert os.getpid() in pids and len(pids) == 3   # this process and two children did some
    assert all(_gone(pid) for pid in pids - {os.getpid()})


def test_an_error_in_a_child_is_raised_here_with_its_hint_after_every_child_ended(tmp_path):
    parent = os.getpid()
    log = tmp_path / "pids"

    def fn(i: int) -> int:
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(0.0005)
        if os.getpid() != parent and i >= 500:
            raise ExpError(f"item {i} is bad", hint="fix item")
        return i

    with pytest.raises(ExpError) as err:
        run_forked(fn, list(range(2000)), lambda start, results: None, workers=2)
    assert err.value.message.startswith("item ") and err.value.hint == "fix item"
    children = {int(p) for p in log.read_text().split()} - {parent}
    assert children and all(_gone(pid) for pid in children)
    # Every worker stopped after its chunk: far from all 2000 items were done.
    assert len(log.read_text().split()) < 2000


def test_an_error_here_stops_the_children_before_it_goes_up(tmp_path):
    log = tmp_path / "pids"

    def fn(i: int) -> int:
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(0.0005)
        return i

    def done(start: int, results: list) -> None:
        if start <= 100 < start + len(results):
            raise KeyboardInterrupt   # as a Ctrl-C landing in the parent

    with pytest.raises(KeyboardInterrupt):
        run_forked(fn, list(range(4000)), done, workers=2)
    pids = {int(p) for p in log.read_text().split()}
    assert all(_gone(pid) for pid in pids - {os.getpid()})
    assert len(log.read_text().split()) < 4000


def test_a_child_that_dies_is_an_error_naming_how():
    parent = os.getpid()

    def fn(i: int) -> int:
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.0005)
        return i

    with pytest.raises(ExpError, match=r"a worker process ended before its work was done "
                                       r"\(killed by SIGKILL\)") as err:
        run_forked(fn, list(range(2000)), lambda start, results: None, workers=2)
    assert "run the command again" in (err.value.hint or "")


def test_can_fork_only_with_one_thread():
    import threading
    if not can_fork():
        pytest.skip("the test runner itself runs threads")
    assert can_fork()
    release = threading.Event()
    t = threading.Thread(target=release.wait)
    t.start()
    try:
        assert not can_fork()
    finally:
        release.set()
        t.join()
    deadline = time.monotonic() + 5   # the thread's last moments, after join(), in /proc still
    while not can_fork() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert can_fork()


# -- the stat memo, fed from the workers ------------------------------------------------

def _files(folder, count: int) -> None:
    for i in range(count):
        sub = folder / f"d{i % 10}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i}.bin").write_bytes(b"content %04d\n" % i)
    old = time.time() - 3600   # older than the memo's racy window
    for d, _, names in os.walk(folder):
        for n in names:
            os.utime(os.path.join(d, n), (old, old))


def test_the_memo_records_the_workers_stats_and_misses_on_a_changed_file(tmp_path):
    if not can_fork():
        pytest.skip("the test runner itself runs threads: the save would use threads")
    ws = tmp_path / "ws"
    count = FORK_FROM + 44
    _files(ws, count)
    cache = Cache(str(tmp_path / "exp"))
    with StateMemo(str(tmp_path / "exp")) as memo:
        first = cache.save(str(ws), memo)
    changed = ws / "d3" / "f3.bin"
    with StateMemo(str(tmp_path / "exp")) as memo:
        for d, _, names in os.walk(ws):
            for n in names:
                path = os.path.join(d, n)
                with open(path, "rb") as f:
                    assert memo.get(path, os.stat(path)) == hashlib.sha256(f.read()).hexdigest()
    # New bytes of the same size, the old mtime put back, written through a new
    # inode (as editors save): only the inode the worker recorded tells them apart.
    new = ws / "d3" / "new"
    new.write_bytes(b"CONTENT 0003\n")
    st = os.stat(changed)
    os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(new, changed)
    with StateMemo(str(tmp_path / "exp")) as memo:
        second = cache.save(str(ws), memo)
    assert second.hash != first.hash
    entries = {e.relpath: e.hash for e in cache.load_manifest(second.hash)}
    assert entries["d3/f3.bin"] == hashlib.sha256(b"CONTENT 0003\n").hexdigest()
    assert len(entries) == count
    assert all(cache.verify(h) for h in entries.values())


# -- a worker killed mid-add ---------------------------------------------------------

def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _forked_worker(top: int) -> int | None:
    """A git-exp process under TOP running the same command as its parent: a
    forked worker (git's own fork before it runs git-exp has git's command)."""
    stack = [top]
    while stack:
        pid = stack.pop()
        for child in _children(pid):
            command = _cmdline(child)
            if b"git-exp" in command and command == _cmdline(pid):
                return child
            stack.append(child)
    return None


def _many_files(data) -> None:
    """6,000 small files in ten folders: an add long enough to be caught midway."""
    for i in range(6000):
        sub = data / f"d{i % 10}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i}.bin").write_bytes(b"content %d\n" % i)


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="finds the worker through /proc")
def test_a_worker_killed_mid_add_fails_the_add_and_leaves_only_whole_objects(committed):
    _many_files(committed.path / "data")
    proc = subprocess.Popen(["git", "exp", "add", "-q", "data"], cwd=committed.path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    worker = None
    while proc.poll() is None and time.monotonic() < deadline:
        worker = _forked_worker(proc.pid)
        if worker is not None:
            # Still the same command 10 ms on: a worker, not a spawn of git
            # that has not reached its exec() yet.
            time.sleep(0.01)
            command = _cmdline(worker)
            if b"git-exp" in command and command == _cmdline(_parent(worker)):
                try:
                    os.kill(worker, signal.SIGKILL)
                    break
                except ProcessLookupError:
                    pass   # it had finished
            worker = None
        time.sleep(0.001)
    out, err = proc.communicate(timeout=120)
    assert worker is not None, "the add finished before a worker could be killed"
    assert proc.returncode == 1, (out, err)
    assert "error: a worker process ended before its work was done (killed by SIGKILL)" in err
    assert "Traceback" not in err
    assert not (committed.path / "data.exp").exists()

    cache = Cache(str(committed.path / ".git" / "exp"))
    objects = set(cache.iter_objects())
    assert all(cache.verify(h) for h in objects)
    assert not any(h.endswith(".dir") for h in objects)   # no manifest: the add failed
    committed.exp("add", "-q", "data")
    committed.exp("fsck")
    assert (committed.path / "data.exp").exists()


# -- files stat'ed by the workers, not while listing ---------------------------------

def test_a_listed_file_that_is_no_longer_a_regular_file_is_refused_not_followed(tmp_path):
    cache = Cache(str(tmp_path / "exp"))
    secret = tmp_path / "secret"
    secret.write_bytes(b"not data")
    link = tmp_path / "was-a-file"
    link.symlink_to(secret)   # what a file listed a moment ago may have become
    with pytest.raises(ExpError, match="changed while it was being hashed: it is no longer a regular file"):
        save_listed(cache, str(link), None)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ExpError, match="no longer a regular file"):
        save_listed(cache, str(fifo), None)
    assert list(cache.iter_objects()) == []


def test_a_first_add_of_many_files_stats_them_in_the_workers_and_records_the_same(tmp_path, monkeypatch):
    if not can_fork():
        pytest.skip("the test runner itself runs threads: the save would use threads")
    ws = tmp_path / "ws"
    _files(ws, FORK_FROM + 10)
    monkeypatch.setattr(cachefiles, "SMALL_FILE", 1024)   # a worker hands big.bin back to the parent
    (ws / "d1" / "big.bin").write_bytes(os.urandom(1 << 16))
    (ws / "d2" / "tool.sh").write_bytes(b"#!/bin/sh\n")
    os.chmod(ws / "d2" / "tool.sh", 0o755)
    first = Cache(str(tmp_path / "one")).save(str(ws))   # no memo: nothing known, workers stat
    with StateMemo(str(tmp_path / "memo")) as memo:   # a memo that may know: stat'ed while listing
        memo.put(str(ws / "d0" / "f0.bin"), os.stat(ws / "d0" / "f0.bin"),
                 hashlib.sha256((ws / "d0" / "f0.bin").read_bytes()).hexdigest())
    with StateMemo(str(tmp_path / "memo")) as memo:
        assert memo.may_know(str(ws))
        second = Cache(str(tmp_path / "two")).save(str(ws), memo)
    assert first == second
    cache = Cache(str(tmp_path / "one"))
    entries = {e.relpath: e for e in cache.load_manifest(first.hash)}
    assert entries["d2/tool.sh"].executable and not entries["d1/f1.bin"].executable
    assert entries["d1/big.bin"].size == 1 << 16
    assert first.size == sum(e.size for e in entries.values())


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="finds the worker through /proc")
def test_ctrl_c_mid_add_stops_every_worker_and_leaves_no_temporary_file(committed):
    _many_files(committed.path / "data")
    objects_dir = committed.path / ".git" / "exp" / "cache" / "files" / "sha256"
    # git-exp itself, not through git: git would die of the SIGINT at once.
    proc = subprocess.Popen(["git-exp", "add", "-q", "data"], cwd=committed.path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    worker = None
    while proc.poll() is None and time.monotonic() < deadline:
        worker = worker or _forked_worker(proc.pid)
        try:
            if worker and len(os.listdir(objects_dir)) >= 64:
                break
        except FileNotFoundError:
            pass
        time.sleep(0.002)
    os.killpg(proc.pid, signal.SIGINT)   # a Ctrl-C at the terminal reaches the whole group
    out, err = proc.communicate(timeout=120)
    assert worker is not None and proc.returncode == 130, (proc.returncode, out, err)
    assert "Traceback" not in err
    assert not os.path.exists(f"/proc/{worker}") or b"git-exp" not in _cmdline(worker)
    assert not (committed.path / "data.exp").exists()
    cache = Cache(str(committed.path / ".git" / "exp"))
    objects = set(cache.iter_objects())
    assert objects and all(cache.verify(h) for h in objects)
    others = [os.path.join(d, n) for d, _, names in os.walk(cache.root) for n in names
              if os.path.join(d, n) not in {cache.object_path(h) for h in objects}]
    assert others == []   # not even a temporary file: Ctrl-C is taken between files
