"""`push` and `pull` of data through an S3 API server on loopback, git-exp beside DVC.

The server is moto in server mode (installed once into <work>/moto-venv),
reached by both tools through the same endpoint: git-exp through
AWS_ENDPOINT_URL (boto3, installed into git-exp's venv as its [s3] extra
would be), DVC through its s3 remote's `endpointurl` (dvc[s3], installed into
DVC's venv). Two workloads per tool: FILES files of 4 KiB in one directory,
and one file of BIG_MB MiB.

git-exp's side: an experiment whose stage copies the data into place (so
`git exp push origin NAME` sends its data, and `git exp pull origin NAME`
in a fresh clone fetches it into the cache, hashing every object on
arrival). DVC's side: `dvc add` of the same data, `dvc push`, and in a fresh
clone `dvc fetch` (into the cache: the compared row) and `dvc pull` (fetch
and checkout: an extra row). Every round pushes to a new, empty prefix, and
the previous round's prefix is deleted so the server's memory stays flat; a
check counts what arrived, so a fast wrong answer never passes.
"""
from __future__ import annotations

import hashlib
import itertools
import os
import socket
import subprocess
import sys
import time

from compare import projects
from compare.measure import Step, alternate
from compare.rows import Context, Entry, Row, dvc_cell

BUCKET = "bench"
CREDS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
         "AWS_DEFAULT_REGION": "us-east-1"}

# Run with moto's interpreter (it has boto3): count or delete the keys under a prefix.
KEYS = """\
import sys, boto3
client = boto3.client("s3", endpoint_url=sys.argv[1])
action, prefix = sys.argv[2], sys.argv[3]
if action == "bucket":
    client.create_bucket(Bucket=prefix)
    raise SystemExit
keys = [o["Key"] for p in client.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix=prefix)
        for o in p.get("Contents", ())]
if action == "count":
    print(len(keys))
else:
    for i in range(0, len(keys), 1000):
        client.delete_objects(Bucket="bench", Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]]})
"""


def _pip(python: str, *args: str) -> None:
    subprocess.run([python, "-m", "pip", "install", "-q", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _has(python: str, module: str) -> bool:
    return subprocess.run([python, "-c", f"import {module}"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def _interpreter(exe: str) -> str:
    with open(exe) as fh:
        return fh.readline()[2:].strip()


class Moto:
    def __init__(self, ctx: Context):
        venv = os.path.join(ctx.work, "moto-venv")
        self.python = os.path.join(venv, "bin", "python")
        if not os.path.exists(self.python):
            ctx.log(f"installing moto[server] into {venv} (once)")
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
            _pip(self.python, "moto[server]")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(ctx.folder("s3"), "moto.log"), "wb")
        self.proc = subprocess.Popen([self.python, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                      str(self.port)], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("moto did not start") from None
                time.sleep(0.1)
        self.keys("bucket", BUCKET)

    def keys(self, action: str, prefix: str) -> str:
        return subprocess.run([self.python, "-c", KEYS, self.endpoint, action, prefix], check=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, **CREDS)
                              ).stdout.decode().strip()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()
        self.log.close()


def _source(ctx: Context, files: int, big_mb: int) -> str:
    src = ctx.folder("s3", "src")
    small = os.path.join(src, "small")
    os.makedirs(small, exist_ok=True)
    for i in range(files):
        with open(os.path.join(small, f"f{i:05d}.bin"), "wb") as fh:
            fh.write(hashlib.shake_256(b"s3 %d" % i).digest(4096))
    with open(os.path.join(src, "big.bin"), "wb") as fh:
        for i in range(big_mb):
            fh.write(hashlib.shake_256(b"big %d" % i).digest(1 << 20))
    return src


PIPELINE = """\
stages:
  copy:
    cmd: cp -r {src} {out}
    outs: [{out}]
"""


class _Side:
    """What both tools' sides share: each round pushes to a new, empty prefix (the last
    round's is deleted), and a check counts the objects that arrived there."""
    moto: Moto
    name: str
    expected: int
    prefix: str
    rounds: itertools.count

    def _new_prefix(self, tool: str) -> None:
        if self.prefix:
            self.moto.keys("delete", self.prefix)
        self.prefix = f"{tool}-{self.name}-{next(self.rounds)}"

    def pushed(self):
        n = int(self.moto.keys("count", self.prefix))
        return None if n == self.expected else f"{n} of {self.expected} objects arrived"


class _GitExp(_Side):
    """A project whose experiment NAME holds the data; push to a fresh bare repo and prefix."""

    def __init__(self, ctx: Context, moto: Moto, src: str, name: str, out: str, expected: int):
        self.ctx, self.moto, self.name, self.expected = ctx, moto, name, expected
        folder = ctx.folder("s3", f"gitexp-{name}")
        self.repo, self.bare, self.clone = (os.path.join(folder, d) for d in ("repo", "bare", "clone"))
        self.env = dict(ctx.gitexp.env, AWS_ENDPOINT_URL=moto.endpoint, **CREDS)
        self.env["PATH"] = ctx.gitexp.bin_dir + os.pathsep + self.env.get("PATH", os.environ["PATH"])
        projects.init_repo(self.repo, self.env, {
            "exp.yaml": PIPELINE.format(src=os.path.join(src, out), out=out)})
        projects.run([ctx.gitexp.exe, "run", "-n", name], self.repo, self.env)
        self.rounds = itertools.count()
        self.prefix = ""

    def location(self) -> str:
        return f"s3://{BUCKET}/{self.prefix}"

    def prepare_push(self) -> None:
        self._new_prefix("gitexp")
        projects.fresh_dir(self.bare)
        projects.git(["init", "-q", "--bare"], self.bare, self.env)
        projects.git(["push", "-q", self.bare, "main"], self.repo, self.env)
        projects.git(["config", "remote.origin.url", self.bare], self.repo, self.env) \
            if _has_remote(self.repo, self.env) else \
            projects.git(["remote", "add", "origin", self.bare], self.repo, self.env)
        projects.git(["config", "remote.origin.expdata", self.location()], self.repo, self.env)

    def prepare_pull(self) -> None:
        projects.remove(self.clone)
        projects.git(["clone", "-q", self.bare, self.clone], os.path.dirname(self.clone), self.env)
        projects.git(["config", "remote.origin.expdata", self.location()], self.clone, self.env)

    def pulled(self):
        n, _ = projects.count_files(os.path.join(self.clone, ".git", "exp", "cache", "files"))
        return None if n >= self.expected else f"{n} of {self.expected} objects arrived"


def _has_remote(repo: str, env) -> bool:
    return "origin" in projects.git(["remote"], repo, env).split()


class _Dvc(_Side):
    def __init__(self, ctx: Context, moto: Moto, src: str, name: str, out: str, expected: int):
        self.ctx, self.moto, self.name, self.expected, self.out = ctx, moto, name, expected, out
        tool = ctx.dvc
        folder = ctx.folder("s3", f"dvc-{name}")
        self.repo, self.clone = os.path.join(folder, "repo"), os.path.join(folder, "clone")
        self.env = dict(tool.env, **CREDS)
        files = projects.dvc_files(ctx.work, tool.exe, self.env, remote=f"s3://{BUCKET}/none")
        files[".dvc/config"] += f"    endpointurl = {moto.endpoint}\n"
        projects.init_repo(self.repo, self.env, files)
        projects.run(["cp", "-r", os.path.join(src, out), out], self.repo, self.env)
        projects.run([tool.exe, "add", "-q", out], self.repo, self.env)
        projects.git(["add", "-A"], self.repo, self.env)
        projects.git(["commit", "-q", "-m", "data"], self.repo, self.env)
        self.rounds = itertools.count()
        self.prefix = ""

    def _local_config(self, repo: str) -> None:
        with open(os.path.join(repo, ".dvc", "config.local"), "w") as fh:
            fh.write(f"['remote \"store\"']\n    url = s3://{BUCKET}/{self.prefix}\n")

    def prepare_push(self) -> None:
        self._new_prefix("dvc")
        self._local_config(self.repo)

    def prepare_clone(self) -> None:
        projects.remove(self.clone)
        projects.git(["clone", "-q", self.repo, self.clone], os.path.dirname(self.clone), self.env)
        self._local_config(self.clone)

    def fetched(self):
        n, _ = projects.count_files(os.path.join(self.clone, ".dvc", "cache", "files"))
        return None if n >= self.expected else f"{n} of {self.expected} objects arrived"


def s3(ctx: Context) -> list[Row]:
    files, big_mb = ctx.sizes.s3_files, ctx.sizes.s3_big_mb
    if not files:
        ctx.notes.append("s3 rows: not run in this mode (they install moto and boto3).")
        return []
    gx_python = _interpreter(ctx.gitexp.exe)
    if not _has(gx_python, "boto3"):
        ctx.log("installing boto3 (git-exp's [s3] extra) into git-exp's venv")
        _pip(gx_python, "boto3")
    if ctx.dvc and not _has(_interpreter(ctx.dvc.exe), "dvc_s3"):
        ctx.log("installing dvc[s3] into DVC's venv")
        _pip(_interpreter(ctx.dvc.exe), f"dvc[s3]=={ctx.dvc.version}")
    moto = Moto(ctx)
    rows = []
    try:
        src = _source(ctx, files, big_mb)
        for name, out, what, expected_gx, expected_dvc in (
                ("small", "small", f"{files:,} files of 4 KiB", files + 1, files + 1),
                ("big", "big.bin", f"one file of {big_mb} MiB", 1, 1)):
            ctx.log(f"s3: {what}")
            gx = _GitExp(ctx, moto, src, name, out, expected_gx)
            groups_push = [[Step("git-exp:push", [ctx.gitexp.exe, "push", "origin", name], gx.repo,
                                 gx.env, prepare=gx.prepare_push, check=gx.pushed),
                            Step("git-exp:pull", [ctx.gitexp.exe, "pull", "origin", name], gx.clone,
                                 gx.env, prepare=gx.prepare_pull, check=gx.pulled)]]
            if ctx.dvc:
                dv = _Dvc(ctx, moto, src, name, out, expected_dvc)
                groups_push.append([
                    Step("dvc:push", [ctx.dvc.exe, "push", "-q"], dv.repo, dv.env,
                         prepare=dv.prepare_push, check=dv.pushed),
                    Step("dvc:fetch", [ctx.dvc.exe, "fetch", "-q"], dv.clone, dv.env,
                         prepare=dv.prepare_clone, check=dv.fetched),
                    Step("dvc:pull", [ctx.dvc.exe, "pull", "-q"], dv.clone, dv.env,
                         prepare=dv.prepare_clone, check=dv.fetched)])
            res = alternate(groups_push, ctx.heavy_runs, log=ctx.log)
            rows.append(Row("s3", f"push of {what} to S3 (moto on loopback)", [
                Entry("git-exp", f"git-exp push origin {name}", res["git-exp:push"]),
                Entry("dvc", "dvc push", dvc_cell(ctx, res.get("dvc:push")))]))
            rows.append(Row("s3", f"pull of {what} from S3 into the cache of a fresh clone", [
                Entry("git-exp", f"git-exp pull origin {name}", res["git-exp:pull"]),
                Entry("dvc", "dvc fetch", dvc_cell(ctx, res.get("dvc:fetch"))),
                Entry("extra", "dvc pull (fetch and checkout)", dvc_cell(ctx, res.get("dvc:pull")))]))
    finally:
        moto.stop()
        subprocess.run(["rm", "-rf", ctx.folder("s3")])
    return rows
