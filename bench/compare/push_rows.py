"""`push` of N experiments with data to a local bare repository and a local
directory data remote, beside `git push` of the same refs and `cp -r` of
the same data.

The experiments are real: `run -S` N times per tool, each writing its own
model of MODEL_KB (those runs are a row too). The data remote is configured
before the experiments are made, as a user would have it; DVC resolves it
from the experiment's own `.dvc/config`, so configuring it afterwards would
make it push nothing. Every round pushes into an empty bare repository and
an empty data folder, and checks that the refs and the data arrived.
"""
from __future__ import annotations

import itertools
import os
import subprocess

from compare import projects
from compare.measure import Step, alternate
from compare.pipeline_rows import _verb, run_project
from compare.rows import Context, Entry, Row, dvc_cell, step_for
from compare.show_rows import show_real


class _Remote:
    """An empty bare repository and data folder before each push; what arrived after."""

    def __init__(self, ctx: Context, folder: str, expected: int):
        self.ctx, self.expected = ctx, expected
        self.bare = os.path.join(folder, "remote.git")
        self.store = os.path.join(folder, "store")

    def empty(self) -> None:
        projects.fresh_dir(self.bare)
        projects.git(["init", "-q", "--bare"], self.bare, self.ctx.env)
        projects.fresh_dir(self.store)

    def arrived(self):
        refs = projects.git(["for-each-ref", "--format=%(refname)", "refs/exps/"], self.bare,
                            self.ctx.env).split()
        files, size = projects.count_files(self.store)
        if len(refs) != self.expected or files == 0:
            return f"the remote got {len(refs)} of {self.expected} refs and {files} data files"
        return None

    def summary(self) -> str:
        files, size = projects.count_files(self.store)
        return f"{files} files, {size / 2**20:.1f} MiB"


def push(ctx: Context) -> list[Row]:
    n, model_bytes = ctx.sizes.push, ctx.sizes.model_kb * 1024
    names = [f"e{k}" for k in range(n)]
    paths, remotes, make, push_steps = {}, {}, [], []
    for tool in ctx.tools():
        folder = ctx.folder("push", tool.name)
        path = paths[tool.name] = os.path.join(folder, "repo")
        remote = remotes[tool.name] = _Remote(ctx, folder, n)
        run_project(ctx, tool, path, model_bytes, dvc_remote=remote.store)
        projects.git(["remote", "add", "origin", remote.bare], path, ctx.env)
        if tool.name == "git-exp":
            projects.git(["config", "remote.origin.expdata", remote.store], path, ctx.env)
        counter = itertools.count()

        def next_run(t=tool, c=counter):
            k = next(c)
            return t.argv(*_verb(t, "run"), "-S", f"train.lr={0.1 + k / 1000:.3f}", "-n", f"e{k}")
        make.append([Step(f"{tool.name}:make", next_run, path, tool.env)])
        verb = ["push", "origin"] if tool.name == "git-exp" else ["exp", "push", "origin"]
        push_steps.append([step_for(tool, ctx, f"{tool.name}:push", tool.argv(*verb, *names), path,
                                    "push", prepare=remote.empty, check=remote.arrived)])
    ctx.log(f"push: making {n} experiments per tool with run -S")
    made = alternate(make, n, log=ctx.log)
    rows = [Row("push", f"`run -S` writing a {_kib(ctx.sizes.model_kb)} model ({n} runs per tool, "
                        "the experiments pushed below)", [
        Entry("git-exp", "git-exp run -S train.lr=… -n e…", made["git-exp:make"]),
        Entry("dvc", "dvc exp run -S train.lr=… -n e…", dvc_cell(ctx, made.get("dvc:make"))),
    ])]
    if all(made[f"{t.name}:make"].ok for t in ctx.tools()):
        rows += show_real(ctx, paths, n)
    # The limits: the same refs with plain git, the same data with cp -r.
    gx_repo = paths["git-exp"]
    floor = ctx.folder("push", "limit")
    bare, copy = os.path.join(floor, "remote.git"), os.path.join(floor, "copy")
    cache = os.path.join(gx_repo, ".git", "exp", "cache")

    def fresh_bare():
        projects.fresh_dir(bare)
        projects.git(["init", "-q", "--bare"], bare, ctx.env)
    limits = [Step("git-push", ["git", "push", "-q", bare, "refs/exps/*:refs/exps/*"], gx_repo,
                   ctx.env, prepare=fresh_bare)]
    if os.path.isdir(cache):
        limits.append(Step("cp", ["cp", "-r", cache, copy], floor, ctx.env,
                           prepare=lambda: projects.remove(copy)))
    ctx.log(f"push of {n} experiments")
    res = alternate(push_steps + [limits], ctx.heavy_runs, log=ctx.log)
    for tool in ctx.tools():
        fig = res[f"{tool.name}:push"]
        if fig.ok:
            ctx.notes.append(f"{tool.name} push of {n} experiments sent {remotes[tool.name].summary()} "
                             "to its data remote.")
    entries = [
        Entry("git-exp", f"git-exp push origin e0 … e{n - 1}", res["git-exp:push"]),
        Entry("dvc", f"dvc exp push origin e0 … e{n - 1}", dvc_cell(ctx, res.get("dvc:push"))),
        Entry("limit", "git push of the same refs (git-exp's repository)", res["git-push"]),
    ]
    if "cp" in res:
        entries.append(Entry("limit", "cp -r of git-exp's cache (the same data)", res["cp"]))
    rows.append(Row("push", f"`push` of {n} experiments with data", entries))
    _cleanup(ctx)
    return rows


def _kib(kb: int) -> str:
    return f"{kb // 1024} MiB" if kb >= 1024 else f"{kb} KiB"


def _cleanup(ctx: Context) -> None:
    subprocess.run(["rm", "-rf", ctx.folder("push")])
