"""What the tools work on: repositories, a small pipeline, experiments and data.

Every repository is made the same way for both tools; only the pipeline
file's name (exp.yaml / dvc.yaml, same schema and text) and DVC's own
`.dvc/` folder differ. Experiments for `show` are generated with
`git fast-import` in each tool's own layout (bench_show.py does it for
git-exp; `dvc_show_repo` does it for DVC, modelled on the commits
`dvc exp run` writes), with the same params and metrics values.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from typing import Optional

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)

import bench_show  # noqa: E402  (the show bench's workload builder, reused)


def sealed_env(work: str) -> dict[str, str]:
    """The environment every measured command gets: a HOME of its own, no system
    Git config, a fixed author, no analytics calls to a network that is not there."""
    home = os.path.join(work, "home")
    os.makedirs(home, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "DVC_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
               XDG_CACHE_HOME=os.path.join(home, ".cache"), GIT_CONFIG_NOSYSTEM="1",
               GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="bench@example.com",
               GIT_COMMITTER_NAME="Bench", GIT_COMMITTER_EMAIL="bench@example.com",
               DVC_NO_ANALYTICS="1", DVC_SITE_CACHE_DIR=os.path.join(work, "dvc-site-cache"),
               TERM="dumb")
    # The stages run `python3`: make that the interpreter itself, first on PATH, so a
    # stage that does trivial work costs what Python costs, not what a version
    # manager's shim costs (a pyenv shim is a bash script: ~80 ms per start here,
    # which would measure pyenv, not the tools).
    interpreters = os.path.join(work, "interpreters")
    os.makedirs(interpreters, exist_ok=True)
    link = os.path.join(interpreters, "python3")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(os.path.realpath(sys.executable), link)
    env["PATH"] = interpreters + os.pathsep + env.get("PATH", "")
    with open(os.path.join(home, ".gitconfig"), "w") as fh:
        fh.write("[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
    return env


def git(args: list[str], cwd: str, env: dict[str, str], data: Optional[bytes] = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, input=data,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    return proc.stdout.decode().strip()


def run(argv: list[str], cwd: str, env: dict[str, str]) -> None:
    """An untimed set-up command that must succeed."""
    subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)


def fresh_dir(path: str) -> str:
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def remove(path: str) -> None:
    """Delete a file or a folder, if it is there."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def write_files(root: str, files: dict[str, "str | bytes"]) -> None:
    for name, content in files.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(content.encode() if isinstance(content, str) else content)


def init_repo(path: str, env: dict[str, str], files: dict[str, "str | bytes"],
              message: str = "baseline") -> str:
    """A fresh repository at PATH with FILES committed on main; the commit's sha."""
    fresh_dir(path)
    git(["init", "-q", "-b", "main"], path, env)
    write_files(path, files)
    git(["add", "-A"], path, env)
    git(["commit", "-q", "-m", message], path, env)
    return git(["rev-parse", "HEAD"], path, env)


def dvc_files(work: str, dvc_exe: str, env: dict[str, str], remote: str = "") -> dict[str, str]:
    """What `dvc init` writes, made once and copied into every DVC repository
    (saves a second of set-up per repository). Analytics and the update check
    are off: both would reach for a network this machine does not have.
    REMOTE, when given, is the path of the default data remote."""
    template = os.path.join(work, "dvc-template")
    if not os.path.exists(os.path.join(template, ".dvc", "config")):
        fresh_dir(template)
        git(["init", "-q"], template, env)
        run([dvc_exe, "init", "-q"], template, env)
    files = {}
    for name in (".dvc/.gitignore", ".dvcignore"):
        with open(os.path.join(template, name)) as fh:
            files[name] = fh.read()
    core = "[core]\n    analytics = false\n    check_update = false\n"
    if remote:  # a default data remote, as `dvc remote add -d store PATH` writes it
        core += f"    remote = store\n['remote \"store\"']\n    url = {remote}\n"
    files[".dvc/config"] = core
    return files


# --- the small project of the run and push rows -----------------------------

PIPELINE = """\
stages:
  train:
    cmd: python3 train.py
    deps: [train.py]
    params: [train.lr]
    outs: [model.bin]
    metrics:
      - metrics.json:
          cache: false
"""

TRAIN = """\
# A stage that does trivial work: read one param, write a model and metrics.
import json
import random

MODEL_BYTES = {model_bytes}
lr = None
for line in open("params.yaml"):
    if line.strip().startswith("lr:"):
        lr = float(line.split(":", 1)[1])
with open("model.bin", "wb") as fh:
    fh.write(random.Random(lr).randbytes(MODEL_BYTES))
with open("metrics.json", "w") as fh:
    json.dump({{"loss": round(1 / (1 + lr), 6), "accuracy": round(lr / (1 + lr), 6)}}, fh)
with open("runs.log", "a") as fh:  # git-ignored: lets the bench see whether the stage ran
    fh.write(f"{{lr}}\\n")
"""


def small_project(model_bytes: int) -> dict[str, str]:
    return {"train.py": TRAIN.format(model_bytes=model_bytes),
            "params.yaml": "train:\n  lr: 0.001\n  epochs: 10\n", ".gitignore": "/runs.log\n"}


def pipeline_files(tool_name: str, pipeline: str, dvc: Optional[dict[str, str]]) -> dict[str, str]:
    """The pipeline under each tool's own file name, and DVC's folder for DVC."""
    if tool_name == "dvc":
        return {"dvc.yaml": pipeline, **(dvc or {})}
    return {"exp.yaml": pipeline}


# --- synthetic experiments for show -------------------------------------------

def _params(i: int) -> tuple[dict[str, str], dict[str, str]]:
    """bench_show's params file for experiment I, read back as (train, model) values."""
    sections: dict[str, dict[str, str]] = {}
    current = None
    for line in bench_show.params_text(i).splitlines():
        if not line.startswith(" "):
            current = sections.setdefault(line.rstrip(":"), {})
        else:
            key, value = line.strip().split(":", 1)
            current[key] = value.strip()
    return sections["train"], sections["model"]


def dvc_lock_text(i: int, train_py: str) -> str:
    """The dvc.lock `dvc exp run` would write for bench_show's pipeline at experiment I."""
    train, model = _params(i)
    metrics = bench_show.metrics_text(i).encode()
    model_md5 = hashlib.md5(b"model-%d" % i).hexdigest()
    model_lines = "".join(f"          {k}: {v}\n" for k, v in sorted(model.items()))
    return ("schema: '2.0'\nstages:\n  train:\n    cmd: python3 train.py\n    deps:\n"
            f"    - path: train.py\n      hash: md5\n      md5: {hashlib.md5(train_py.encode()).hexdigest()}\n"
            f"      size: {len(train_py)}\n    params:\n      params.yaml:\n        model:\n{model_lines}"
            f"        train.epochs: {train['epochs']}\n        train.lr: {train['lr']}\n"
            "    outs:\n    - path: metrics.json\n      hash: md5\n"
            f"      md5: {hashlib.md5(metrics).hexdigest()}\n      size: {len(metrics)}\n"
            f"    - path: model.bin\n      hash: md5\n      md5: {model_md5}\n      size: 1048576\n")


def dvc_show_repo(path: str, n: int, env: dict[str, str], dvc: dict[str, str]) -> str:
    """N DVC experiments of one baseline, as `dvc exp run` lays them out.

    Refs `refs/exps/<sha[:2]>/<sha[2:]>/<name>`, each commit's parent the
    baseline, its message `dvc: commit experiment <hash>`, its tree the
    baseline's with params.yaml, metrics.json and dvc.lock changed: what
    a real run leaves (compare `git show --stat` on one). Same values as
    bench_show.generate gives git-exp's experiments.
    """
    train_py = "print('train')\n"
    files = {"dvc.yaml": bench_show.PIPELINE, "params.yaml": bench_show.params_text(0),
             "metrics.json": bench_show.metrics_text(0), "train.py": train_py,
             ".gitignore": "/model.bin\n", "dvc.lock": dvc_lock_text(0, train_py), **dvc}
    base = init_repo(path, env, files)
    prefix = f"refs/exps/{base[:2]}/{base[2:]}"
    start = int(time.time()) - n
    chunks = []
    for i in range(n):
        p = bench_show.params_text(i + 1).encode()
        m = bench_show.metrics_text(i + 1).encode()
        lock = dvc_lock_text(i + 1, train_py).encode()
        msg = f"dvc: commit experiment {hashlib.sha256(b'%d' % i).hexdigest()}\n".encode()
        chunks.append(b"commit %s/exp-%d\n" % (prefix.encode(), i))
        chunks.append(b"committer Bench <bench@example.com> %d +0000\n" % (start + i))
        chunks.append(b"data %d\n%s\n" % (len(msg), msg))
        chunks.append(b"from %s\n" % base.encode())
        for name, blob in ((b"params.yaml", p), (b"metrics.json", m), (b"dvc.lock", lock)):
            chunks.append(b"M 100644 inline %s\ndata %d\n%s\n" % (name, len(blob), blob))
    git(["fast-import", "--quiet"], path, env, b"".join(chunks))
    git(["pack-refs", "--all"], path, env)
    return base


def gitexp_show_repo(path: str, n: int) -> str:
    """N git-exp experiments: bench_show's generator, unchanged."""
    shutil.rmtree(path, ignore_errors=True)
    return bench_show.generate(path, n)


# --- data for add, checkout and push -------------------------------------------

def data_source(folder: str, files: int, file_kb: int, big_mb: int) -> tuple[str, str]:
    """FILES small files of random bytes in 100 subfolders, and one BIG_MB file.

    Every MiB of the big file differs (a rotated random block), so no
    content-defined trick can shortcut hashing it.
    """
    many = fresh_dir(os.path.join(folder, "many"))
    for d in range(min(100, files)):
        os.makedirs(os.path.join(many, f"{d:02d}"))
    for i in range(files):
        with open(os.path.join(many, f"{i % 100:02d}", f"f{i}.bin"), "wb") as fh:
            fh.write(os.urandom(file_kb * 1024))
    big = os.path.join(folder, "big.bin")
    block = os.urandom(1 << 20)
    with open(big, "wb") as fh:
        for i in range(big_mb):
            r = i % 1021
            fh.write(block[r:] + block[:r])
    return many, big


def count_files(path: str) -> tuple[int, int]:
    """Files and bytes under PATH (a file counts as one)."""
    if os.path.isfile(path):
        return 1, os.path.getsize(path)
    count = size = 0
    for root, _, names in os.walk(path):
        for name in names:
            count += 1
            size += os.path.getsize(os.path.join(root, name))
    return count, size
