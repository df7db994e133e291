"""Color and pager decisions on a real terminal (a pty made by script(1))."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(shutil.which("script") is None, reason="script(1) is not installed")

ESC = "\x1b["


def on_tty(project, command: str, **env) -> str:
    """Run COMMAND with stdout on a pseudo-terminal; return what it printed."""
    full = {**os.environ, "TERM": "xterm", "COLUMNS": "200", "LINES": "20", **env}
    proc = subprocess.run(["script", "-qec", command, "/dev/null"], cwd=project.path, env=full,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture
def with_experiment(committed):
    committed.gen({"exp.yaml": "stages:\n  talk:\n    cmd: seq 1 100\n"})
    committed.commit("pipeline")
    committed.exp("run", "-n", "chatty")
    return committed


def test_color_follows_the_terminal_and_the_users_wishes(with_experiment):
    p = with_experiment
    assert ESC in on_tty(p, "git exp list")
    assert ESC not in on_tty(p, "git exp list", NO_COLOR="1")
    assert ESC not in on_tty(p, "git exp --color=never list")
    assert ESC not in on_tty(p, "git exp list", TERM="dumb")
    assert ESC not in p.exp("list").stdout                 # not a terminal
    assert ESC in p.exp("--color=always", "list").stdout
    p.git("config", "color.ui", "never")
    assert ESC not in on_tty(p, "git exp list")


def test_long_output_goes_through_the_users_pager(with_experiment):
    p = with_experiment
    pager = shlex.quote("sed -e s/^/PAGED:/")
    paged = on_tty(p, f"GIT_PAGER={pager} git exp logs chatty")
    assert "PAGED:100" in paged
    plain = on_tty(p, f"GIT_PAGER={pager} git exp --no-pager logs chatty")
    assert "PAGED:" not in plain and "100" in plain
    short = on_tty(p, f"GIT_PAGER={pager} git exp list")   # fits the screen: no pager
    assert "PAGED:" not in short and "chatty" in short
