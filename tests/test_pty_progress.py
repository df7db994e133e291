"""Progress lines: on a terminal only, never on a pipe, never with -q.

`git exp` runs with its stderr on a real pseudo-terminal (pty.openpty), as
a user's shell gives it one, and its stdout on a pipe. GIT_PROGRESS_DELAY=0
(Git's own variable) draws the line at once instead of after a second, so
small data is enough to see it.
"""
from __future__ import annotations

import os
import re
import select
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")


def run_on_terminal(project, *args: str, delay: str = "0") -> tuple[int, str, str]:
    """`git exp ARGS` with stderr on a pty: (exit code, stdout, what the terminal showed)."""
    import pty
    master, slave = pty.openpty()
    env = dict(os.environ, GIT_PROGRESS_DELAY=delay)
    proc = subprocess.Popen(["git", "exp", *args], cwd=project.path, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    shown = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(master)
    out = proc.stdout.read().decode()
    proc.stdout.close()
    return proc.wait(timeout=60), out, shown.decode(errors="replace")


@pytest.fixture
def data_repo(committed):
    committed.gen({"data": {f"f{i:03d}.bin": os.urandom(1024) for i in range(200)}})
    return committed


def test_add_and_checkout_draw_progress_on_a_terminal(data_repo):
    code, out, shown = run_on_terminal(data_repo, "add", "data")
    assert code == 0 and "Added data" in out
    assert re.search(r"Adding data: 100% \(200/200\), 200\.00 KiB( \| [0-9.]+ \w+/s)?, done\.", shown)
    assert "\r" in shown and "Adding data" not in out  # drawn on stderr, in place
    data_repo.commit("track data")
    import shutil
    shutil.rmtree(data_repo.path / "data")
    code, out, shown = run_on_terminal(data_repo, "checkout")
    assert code == 0
    assert re.search(r"Checking out data: 100% \(200/200\), 200\.00 KiB( \| [0-9.]+ \w+/s)?, done\.", shown)
    assert len(os.listdir(data_repo.path / "data")) == 200


def test_no_progress_on_a_pipe(data_repo):
    proc = data_repo.exp("add", "data", env={"GIT_PROGRESS_DELAY": "0"})
    assert "Adding data" not in proc.stderr and "\r" not in proc.stderr
    data_repo.commit("track data")
    import shutil
    shutil.rmtree(data_repo.path / "data")
    proc = data_repo.exp("checkout", env={"GIT_PROGRESS_DELAY": "0"})
    assert "Checking out" not in proc.stderr and "\r" not in proc.stderr
    proc = data_repo.exp("fsck", env={"GIT_PROGRESS_DELAY": "0"})
    assert "Checking objects" not in proc.stderr


def test_quiet_hides_progress_on_a_terminal(data_repo):
    code, _, shown = run_on_terminal(data_repo, "-q", "add", "data")
    assert code == 0 and "Adding data" not in shown


def test_a_quick_operation_draws_nothing_within_the_delay(data_repo):
    code, _, shown = run_on_terminal(data_repo, "add", "data", delay="30")
    assert code == 0 and "Adding data" not in shown


def test_fsck_and_gc_draw_progress_on_a_terminal(data_repo):
    data_repo.exp("add", "data")
    code, _, shown = run_on_terminal(data_repo, "fsck")
    assert "Checking objects: 100% (201/201)" in shown and ", done." in shown
    code, _, shown = run_on_terminal(data_repo, "gc", "--prune=now")
    assert code == 0 and "Removing objects: 100% (201/201)" in shown
