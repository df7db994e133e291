"""What the network data-remote tests share: a project with data, and a free loopback port.

The project has one experiment ('small': a file and a directory of small
files) on main, plus a larger file tracked with `git exp add` so a
transfer has one object big enough to stream for a while.
"""
from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import Project, copy_of_template, two_experiments

TRAIN = """\
import os, re
lr = float(re.search(r"lr: *([0-9.e-]+)", open("params.yaml").read()).group(1))
open("model.txt", "w").write(f"weights {lr}\\n")
os.makedirs("models", exist_ok=True)
for i in range(20):
    open(f"models/part{i}.bin", "w").write(f"layer {i} {lr if i < 5 else ''}\\n")
"""

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py]
    params: [train.lr]
    outs: [model.txt, models]
"""


@pytest.fixture
def ml(tmp_path, tmp_path_factory) -> Project:
    return copy_of_template("remote", two_experiments(TRAIN, PIPELINE), tmp_path_factory,
                            tmp_path / "repo")


def cache_objects(project: Project) -> dict[str, bytes]:
    return objects_under(project.path / ".git" / "exp" / "cache")


def objects_under(root: Path) -> dict[str, bytes]:
    """hash -> bytes of every file under a cache-layout directory (temp files included)."""
    found = {}
    base = root / "files" / "sha256"
    if base.exists():
        for f in base.rglob("*"):
            if f.is_file():
                found[f.parent.name + f.name] = f.read_bytes()
    return found


def assert_whole(objects: dict[str, bytes]) -> None:
    for name, data in objects.items():
        assert not name[2:].startswith(".") and not name.endswith(".tmp"), f"stray temp file {name}"
        assert hashlib.sha256(data).hexdigest() == name[:64], f"object {name} is not whole"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds}s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def big_file(path: Path, mib: int) -> bytes:
    """MIB MiB of bytes that do not compress (ssh compresses if asked)."""
    data = hashlib.shake_256(b"big %d" % mib).digest(mib * 1024 * 1024)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def env_without(*names: str) -> dict:
    return {k: v for k, v in os.environ.items() if k not in names}
