"""cli.main_and_exit: a verb that says so ends without the interpreter's teardown,
but only when nothing registered anything that waits for it."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

# A verb whose run() prints a lot (the flush must deliver all of it), keeps an
# object whose __del__ says when the teardown ran, and returns status 5.
COMMAND = '''
import sys
sys.path.insert(0, {root!r})
import types
module = types.ModuleType("probe")
module.configure = lambda parser: None
module.EXIT_WITHOUT_TEARDOWN = {flag}

class Witness:
    def __del__(self):
        sys.stderr.write("torn down\\n")

def run(args, console):
    module.witness = Witness()
    {extra}
    for _ in range(20000):
        sys.stdout.write("x" * 99 + "\\n")
    return 5
module.run = run
sys.modules["probe"] = module
from git_exp.commands import COMMANDS
COMMANDS["probe"] = ("probe", "a verb for this test")
from git_exp.cli import main_and_exit
main_and_exit(["probe"])
'''

EXTRAS = {
    "nothing": "",
    "atexit": "import atexit; atexit.register(lambda: sys.stderr.write('atexit ran\\\\n'))",
    "thread": "import threading, time; threading.Thread(target=time.sleep, args=(0.2,)).start()",
}


def _probe(tmp_path, flag: bool, extra: str) -> subprocess.CompletedProcess:
    code = COMMAND.format(root=str(ROOT), flag=flag, extra=EXTRAS[extra])
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL)


def test_a_verb_that_says_so_skips_the_teardown_and_keeps_output_and_status(tmp_path):
    proc = _probe(tmp_path, True, "nothing")
    assert proc.returncode == 5
    assert proc.stdout == ("x" * 99 + "\n") * 20000     # flushed before the end, all of it
    assert "torn down" not in proc.stderr


@pytest.mark.parametrize("flag,extra,said", [
    (False, "nothing", "torn down"),          # the verb did not say so
    (True, "atexit", "atexit ran"),           # a callback waits for the exit
    (True, "thread", "torn down"),            # a thread is still running: threading joins it
])
def test_the_usual_exit_otherwise(tmp_path, flag, extra, said):
    proc = _probe(tmp_path, flag, extra)
    assert proc.returncode == 5
    assert proc.stdout == ("x" * 99 + "\n") * 20000
    assert said in proc.stderr


def test_run_says_so():
    from git_exp.commands import run
    assert run.EXIT_WITHOUT_TEARDOWN is True
