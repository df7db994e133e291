#!/usr/bin/env python3
"""Pushing and pulling experiment data to a Git LFS server on loopback (giftless).

Prints figures; asserts nothing. DVC has no LFS remote, so git-exp runs
alone. For each workload an experiment is recorded with `git exp run`, then:

  1. `git exp push origin NAME`: refs to a local bare repository, data to
     the LFS server (`remote.origin.lfsurl`), credentials from a `store`
     credential helper, as a user would have them (cold);
  2. the same push again (the refs are there: git-exp asks the LFS server nothing);
  3. `git exp pull origin NAME` into a fresh clone (cold).

Workloads: 2,000 files of 4 KiB in one output directory, and one 256 MiB
file (--small N, --small-kb, --big-mb change them). The server is giftless
0.6.2 on Werkzeug's threaded server (pip install '.[test]').
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
sys.path.insert(0, ROOT)

from source_shim import write_shim  # noqa: E402
from tests import lfs_server  # noqa: E402

SMALL = """\
import os
os.makedirs("data", exist_ok=True)
for i in range({n}):
    with open(f"data/{{i:05d}}.bin", "wb") as f:
        f.write(i.to_bytes(4, "big") * ({kb} * 256))
"""

BIG = """\
import hashlib
with open("model.bin", "wb") as f:
    block = hashlib.sha256(b"seed").digest() * 32768  # 1 MiB
    for i in range({mb}):
        f.write(i.to_bytes(8, "big") + block[8:])
"""

PIPELINE = "stages:\n  make:\n    cmd: python3 make.py\n    deps: [make.py]\n    outs: [{out}]\n"


def environment(folder: Path) -> dict:
    bin_dir = write_shim(str(folder / "bin"))
    home = folder / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="Bench",
               GIT_AUTHOR_EMAIL="bench@example.com", GIT_COMMITTER_NAME="Bench",
               GIT_COMMITTER_EMAIL="bench@example.com", GIT_TERMINAL_PROMPT="0",
               PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_EXP_DATA_SENT"):
        env.pop(name, None)
    return env


def run(args, cwd, env) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def timed(args, cwd, env) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds of git-exp and the git it ran (not the server's), last line said."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = run(args, cwd, env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, proc.stdout.strip().splitlines()[-1]


def workload(folder: Path, env: dict, server, name: str, script: str, out: str,
             total_bytes: int) -> None:
    repo = folder / name
    repo.mkdir()
    run(["git", "init", "-q"], repo, env)
    (repo / "make.py").write_text(script)
    (repo / "exp.yaml").write_text(PIPELINE.format(out=out))
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "pipeline"], repo, env)
    run(["git", "exp", "run", "-n", name], repo, env)
    origin = folder / f"{name}.git"
    run(["git", "init", "-q", "--bare", str(origin)], folder, env)
    run(["git", "remote", "add", "origin", str(origin)], repo, env)
    run(["git", "push", "-q", "origin", "HEAD:refs/heads/main"], repo, env)
    run(["git", "config", "remote.origin.lfsurl", server.lfs_url(f"org/{name}")], repo, env)

    push = timed(["git", "exp", "push", "origin", name], repo, env)
    again = timed(["git", "exp", "push", "origin", name], repo, env)
    clone = folder / f"{name}-clone"
    run(["git", "clone", "-q", str(origin), str(clone)], folder, env)
    run(["git", "config", "remote.origin.lfsurl", server.lfs_url(f"org/{name}")], clone, env)
    pull = timed(["git", "exp", "pull", "origin", name], clone, env)
    mib = total_bytes / (1 << 20)
    print(f"{name}: {mib:.0f} MiB")
    for label, (wall, cpu, said) in (("push (cold)", push), ("push again", again),
                                     ("pull (cold)", pull)):
        rate = f"{mib / wall:7.1f} MiB/s" if label != "push again" else " " * 13
        print(f"  {label:<12} {wall:7.2f} s wall {rate}  {cpu:6.2f} s CPU (client)   {said}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000, help="number of small files")
    parser.add_argument("--small-kb", type=int, default=4)
    parser.add_argument("--big-mb", type=int, default=256)
    args = parser.parse_args()
    if not lfs_server.available():
        raise SystemExit("giftless is not installed: pip install '.[test]'")
    folder = Path(tempfile.mkdtemp(prefix="bench-lfs-"))
    env = environment(folder)
    server = lfs_server.Giftless(folder / "giftless")
    try:
        store = folder / "home" / "git-credentials"
        store.write_text(f"http://_jwt:{lfs_server.token(lifetime=86400)}@127.0.0.1:{server.port}\n")
        run(["git", "config", "--global", "credential.helper", f"store --file {store}"], folder, env)
        run(["git", "config", "--global", "init.defaultBranch", "main"], folder, env)
        print(f"git-exp against giftless 0.6.2 on 127.0.0.1 (Werkzeug threaded server), "
              f"{os.cpu_count()} CPUs")
        workload(folder, env, server, "small", SMALL.format(n=args.small, kb=args.small_kb),
                 "data", args.small * args.small_kb * 1024)
        workload(folder, env, server, "big", BIG.format(mb=args.big_mb), "model.bin",
                 args.big_mb << 20)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
