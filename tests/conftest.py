"""The harness: a sealed environment and real Git repositories in tmp_path.

Every test runs with a temporary HOME, no system Git config, a fixed author
and committer, and no inherited GIT_DIR, so nothing a test does can touch the
real user's configuration. `git exp` is run the way users run it: through
Git's own dispatch, finding `git-exp` on PATH.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parent.parent

_SCRUB = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
          "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CEILING_DIRECTORIES", "GIT_PAGER",
          "PAGER", "NO_COLOR", "GIT_EXP_DEBUG", "GIT_CONFIG_GLOBAL", "GIT_CONFIG",
          "GIT_EXP_NAME", "GIT_EXP_STAGE", "GIT_EXP_ROOT", "GIT_EXP_BASELINE")


@pytest.fixture(scope="session")
def shim_dir(tmp_path_factory) -> Path:
    """A `git-exp` on PATH that runs this source tree with this interpreter."""
    folder = tmp_path_factory.mktemp("bin")
    shim = folder / "git-exp"
    shim.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from git_exp.cli import main_and_exit\n"
        "main_and_exit()\n")
    shim.chmod(0o755)
    return folder


@pytest.fixture(autouse=True)
def sealed_env(tmp_path_factory, monkeypatch, shim_dir):
    home = tmp_path_factory.mktemp("home")
    for name in _SCRUB:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "A U Thor")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "C O Mitter")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "committer@example.com")
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("PATH", f"{shim_dir}{os.pathsep}{os.environ['PATH']}")
    # Stages that log with git_exp.live (the example's train.py) import this
    # source tree's, as they would import the installed git-exp's.
    rest = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + (os.pathsep + rest if rest else ""))
    # Written directly: spawning `git config` for every test costs ~12 ms each.
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    yield home


class Project:
    """A real Git repository in a temporary folder, driven as a user would."""

    def __init__(self, path: Path):
        self.path = path

    def gen(self, files: dict, base: Path | None = None) -> None:
        """Write a tree of files: {"src": {"train.py": "..."}, "params.yaml": "..."}."""
        base = base or self.path
        for name, content in files.items():
            target = base / name
            if isinstance(content, dict):
                target.mkdir(parents=True, exist_ok=True)
                self.gen(content, target)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, bytes):
                    target.write_bytes(content)
                else:
                    target.write_text(content)

    def git(self, *args: str, check: bool = True, input: str | None = None) -> str:
        proc = subprocess.run(["git", *args], cwd=self.path, input=input, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc.stdout

    def exp(self, *args: str, check: bool = True, input: str | None = None,
            env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run `git exp ARGS` through Git's dispatch, as a user would."""
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        proc = subprocess.run(["git", "exp", *args], cwd=self.path, input=input, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"git exp {' '.join(args)} exited {proc.returncode}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
        return proc

    def commit(self, message: str = "commit", *paths: str) -> str:
        self.git("add", *(paths or ["-A"]))
        self.git("commit", "-q", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def exp_sha(self, name: str) -> str:
        """The commit of the experiment NAME (under any baseline), read with Git."""
        out = self.git("for-each-ref", "--format=%(objectname) %(refname)", "refs/exps/")
        return next(sha for sha, ref in (line.split(" ") for line in out.splitlines())
                    if ref.endswith("/" + name))

    def add_bare_remote(self, path: Path, name: str = "origin", push: tuple[str, ...] = ()) -> Path:
        """A new bare repository at PATH as this project's remote NAME (by path),
        then `git push -q NAME` of the refspecs in PUSH (none: nothing is pushed)."""
        init_bare(path)
        self.git("remote", "add", name, str(path))
        if push:
            self.git("push", "-q", name, *push)
        return path

    def fsck(self) -> None:
        self.git("fsck", "--strict", "--no-progress")

    def read(self, name: str) -> str:
        return (self.path / name).read_text()


def init_bare(path: Path) -> Path:
    """A new, empty bare repository at PATH (no remote points at it)."""
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    return path


def clone(source: Path, dest: Path) -> Project:
    """`git clone -q SOURCE DEST`, as a Project."""
    subprocess.run(["git", "clone", "-q", str(source), str(dest)], check=True)
    return Project(dest)


def end_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group PROC leads (started with start_new_session) and reap PROC."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 60.0):
    """PREDICATE's first true value, asked every 50 ms; the test fails after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pid: int) -> bool:
    """PID exists and is not a zombie: a process that has ended but is not reaped yet is not alive."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return False
    return data[data.rfind(b")") + 2:].split()[0] not in (b"Z", b"X")


def loaded_modules(cwd, *argv: str) -> set[str]:
    """The modules `git-exp ARGV` in CWD has imported when it ends (it must exit 0)."""
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        f"sys.argv = ['git-exp', *{list(argv)!r}]\n"
        "from git_exp.cli import main\n"
        "code = main()\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
        "sys.exit(code)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


_TEMPLATES: dict[str, Path] = {}


def copy_of_template(name: str, build: Callable[[Project], None], tmp_path_factory,
                     dest: Path) -> Project:
    """A copy at DEST of the repository NAME, built once a session: `git init`, then BUILD.

    Building runs real experiments (seconds); a copy (symlinks kept) costs milliseconds.
    """
    if name not in _TEMPLATES:
        path = tmp_path_factory.mktemp(f"{name}-template") / "repo"
        path.mkdir()
        subprocess.run(["git", "init", "-q", str(path)], check=True)
        build(Project(path))
        _TEMPLATES[name] = path
    shutil.copytree(_TEMPLATES[name], dest, symlinks=True)
    return Project(dest)


def two_experiments(train: str, pipeline: str) -> Callable[[Project], None]:
    """A copy_of_template builder: TRAIN (train.py, reading train.lr) and PIPELINE
    (exp.yaml) committed, then experiments 'first' (lr 0.1) and 'second' (lr 0.2)."""
    def build(p: Project) -> None:
        p.gen({"train.py": train, "params.yaml": "train:\n  lr: 0.1\n", "exp.yaml": pipeline})
        p.commit("pipeline")
        p.exp("run", "-n", "first")
        p.exp("run", "-S", "train.lr=0.2", "-n", "second")
    return build


@pytest.fixture
def project(tmp_path) -> Project:
    """An empty Git repository with no commits."""
    path = tmp_path / "repo"
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return Project(path)


@pytest.fixture
def committed(project) -> Project:
    """A repository with one commit, so experiments have a baseline."""
    project.gen({"README.md": "demo\n"})
    project.commit("initial")
    return project
