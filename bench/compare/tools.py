"""The two tools under test, each a console script in its own virtual environment.

DVC is installed from PyPI into <work>/dvc-venv, never into the project's
environment; git-exp is installed from this source tree into
<work>/gitexp-venv, so both start the same way: a pip-generated script
running a venv's interpreter. With `source=True` (the smoke test) git-exp
runs from the source tree through a shim instead, with no install at all.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field

from source_shim import write_shim  # noqa: E402 - bench/ is on sys.path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass
class Tool:
    name: str                      # "git-exp" or "dvc"
    exe: str                       # the console script
    env: dict[str, str]
    version: str = "?"
    bin_dir: str = ""              # put on PATH to run `git exp` through Git
    _verbs: dict[str, bool] = field(default_factory=dict)

    def argv(self, *args: str) -> list[str]:
        return [self.exe, *args]

    def has(self, verb: str) -> bool:
        """Whether `<tool> VERB -h` works: commands still being written are reported n/a."""
        if verb not in self._verbs:
            proc = subprocess.run([self.exe, *verb.split(), "-h"], env=self.env,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
            self._verbs[verb] = proc.returncode == 0
        return self._verbs[verb]


def _pip(venv: str, *args: str) -> None:
    pip = os.path.join(venv, "bin", "pip")
    proc = subprocess.run([pip, "install", "-q", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    if proc.returncode:
        lines = [ln for ln in proc.stdout.decode(errors="replace").splitlines()
                 if "is ignored" not in ln]  # local index warnings, not errors
        raise RuntimeError(f"pip install {' '.join(args)} failed: " + " | ".join(lines[-5:]))


def _make_venv(venv: str) -> None:
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)


def gitexp(work: str, env: dict[str, str], source: bool, log) -> Tool:
    """git-exp as installed by pip from this tree (re-installed each run: the code moves)."""
    if source:
        folder = write_shim(os.path.join(work, "shim"))
        exe = os.path.join(folder, "git-exp")
    else:
        venv = os.path.join(work, "gitexp-venv")
        exe = os.path.join(venv, "bin", "git-exp")
        if not os.path.exists(exe):
            log(f"installing git-exp and its dependencies into {venv}")
            _make_venv(venv)
            _pip(venv, ROOT)
        else:
            log("re-installing git-exp from the source tree")
            _pip(venv, "--no-deps", "--force-reinstall", ROOT)
        folder = os.path.dirname(exe)
    tool = Tool("git-exp", exe, env, bin_dir=folder)
    tool.version = _output([exe, "--version"], env).replace("git-exp version ", "")
    return tool


def dvc(work: str, env: dict[str, str], spec: str, log) -> Tool:
    """DVC from PyPI in its own venv; installed once, reused by later runs."""
    venv = os.path.join(work, "dvc-venv")
    exe = os.path.join(venv, "bin", "dvc")
    if not os.path.exists(exe):
        log(f"installing {spec} into {venv} (once; about half a minute)")
        _make_venv(venv)
        _pip(venv, spec)
    tool = Tool("dvc", exe, env, bin_dir=os.path.dirname(exe))
    tool.version = _output([exe, "--version"], env)
    return tool


def _output(argv: list[str], env: dict[str, str]) -> str:
    return subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          check=True).stdout.decode().strip()


def git_version() -> str:
    return _output(["git", "--version"], dict(os.environ)).replace("git version ", "")


def python_version() -> str:
    """The interpreter the tools run on (both venvs are made from this one)."""
    return sys.version.split()[0]
