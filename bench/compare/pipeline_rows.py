"""Start-up, a no-op `run`, and `run -S` of a stage that does trivial work."""
from __future__ import annotations

import itertools
import os
import sys

from compare import projects
from compare.measure import Step, alternate
from compare.rows import Context, Entry, Goal, Row, dvc_cell, import_profile


FLOOR_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "floor_run.py")


def _python(ctx: Context) -> str:
    """git-exp's own interpreter, so limits start as it starts."""
    python = os.path.join(ctx.gitexp.bin_dir, "python3")
    return python if os.path.exists(python) else sys.executable  # source mode: the shim runs this one


def startup(ctx: Context) -> list[Row]:
    folder = ctx.folder("startup")
    gx, dvc = ctx.gitexp, ctx.dvc
    via_git = dict(gx.env, PATH=gx.bin_dir + os.pathsep + gx.env.get("PATH", ""))
    python = _python(ctx)
    groups = [[Step("gx", gx.argv("--version"), folder, gx.env)]]
    if dvc:
        groups.append([Step("dvc", dvc.argv("--version"), folder, dvc.env)])
    groups += [[Step("via-git", ["git", "exp", "--version"], folder, via_git)],
               [Step("python", [python, "-c", "pass"], folder, gx.env)],
               [Step("git", ["git", "--version"], folder, gx.env)]]
    ctx.log("start-up")
    res = alternate(groups, ctx.runs, warmup=ctx.warmup, log=ctx.log)
    import_profile(gx, ["--version"], folder, "git-exp --version", ctx)
    if dvc:
        import_profile(dvc, ["--version"], folder, "dvc --version", ctx)
    return [Row("start-up", "start-up (`--version`)", [
        Entry("git-exp", "git-exp --version", res["gx"]),
        Entry("dvc", "dvc --version", dvc_cell(ctx, res.get("dvc"))),
        Entry("extra", "git exp --version (through Git's dispatch)", res["via-git"]),
        Entry("limit", "python3 -c pass (the interpreter alone)", res["python"]),
        Entry("limit", "git --version", res["git"]),
    ], Goal("≥ 8×", 8.0))]


def _verb(tool, verb: str) -> list[str]:
    return [verb] if tool.name == "git-exp" else ["exp", verb]


def run_project(ctx: Context, tool, path: str, model_bytes: int, dvc_remote: str = "") -> None:
    """The small project, run once and committed with its lock: the baseline."""
    dvc = projects.dvc_files(ctx.work, ctx.dvc.exe, ctx.env, dvc_remote) \
        if tool.name == "dvc" else None
    files = {**projects.small_project(model_bytes),
             **projects.pipeline_files(tool.name, projects.PIPELINE, dvc)}
    projects.init_repo(path, ctx.env, files)
    projects.run(tool.argv(*_verb(tool, "run")), path, ctx.env)
    projects.git(["add", "-A"], path, ctx.env)
    projects.git(["commit", "-q", "-m", "lock and metrics of the baseline"], path, ctx.env)


class _Untouched:
    """Checks that a no-op run did not run the stage: the stage appends a line to
    the git-ignored runs.log each time it runs (the tools rewrite metrics.json
    and outs when they restore a workspace, so their mtimes prove nothing)."""

    def __init__(self, path: str):
        self.file = os.path.join(path, "runs.log")
        self.size = 0

    def before(self) -> None:
        self.size = os.path.getsize(self.file)

    def after(self):
        if os.path.getsize(self.file) != self.size:
            return "the stage ran again although nothing changed"
        return None


def pipeline(ctx: Context) -> list[Row]:
    ctx.log("run: no-op and -S")
    groups, paths = [], {}
    for tool in ctx.tools():
        path = paths[tool.name] = ctx.folder("run", tool.name)
        run_project(ctx, tool, path, 1024)
        watch = _Untouched(path)
        values = (f"train.lr={0.01 + k / 1000:.3f}" for k in itertools.count())
        groups.append([
            Step(f"{tool.name}:noop", tool.argv(*_verb(tool, "run")), path, tool.env,
                 prepare=watch.before, check=watch.after),
            Step(f"{tool.name}:set", lambda t=tool, v=values: t.argv(*_verb(t, "run"), "-S", next(v)),
                 path, tool.env),
        ])
    # The stage's own command, in a copy of the project, as the floor of `run -S`.
    limit = ctx.folder("run", "limit")
    projects.write_files(limit, projects.small_project(1024))
    groups.append([Step("stage", ["python3", "train.py"], limit, ctx.env)])
    # The floor of any tool that records the run as a Git commit (floor_run.py says what it
    # leaves out: everything that can be), from git-exp's interpreter, in a repository of its own.
    floor = ctx.folder("run", "floor")
    projects.init_repo(floor, ctx.env, {**projects.small_project(1024), ".gitignore": "/runs.log\n/model.bin\n"})
    floor_values = (f"{0.01 + k / 1000:.3f}" for k in itertools.count())
    groups.append([Step("floor", lambda v=floor_values: [_python(ctx), FLOOR_SCRIPT, next(v)], floor, ctx.env)])
    res = alternate(groups, ctx.runs, warmup=ctx.warmup, log=ctx.log)
    import_profile(ctx.gitexp, ["run"], paths["git-exp"], "git-exp run (no-op)", ctx)
    if ctx.dvc:
        import_profile(ctx.dvc, ["exp", "run"], paths["dvc"], "dvc exp run (no-op)", ctx)
    return [
        Row("run", "no-op `run` (nothing changed)", [
            Entry("git-exp", "git-exp run", res["git-exp:noop"]),
            Entry("dvc", "dvc exp run", dvc_cell(ctx, res.get("dvc:noop"))),
        ], Goal("≥ 20×", 20.0)),
        Row("run", "`run -S` of a stage that does trivial work", [
            Entry("git-exp", "git-exp run -S train.lr=…", res["git-exp:set"]),
            Entry("dvc", "dvc exp run -S train.lr=…", dvc_cell(ctx, res.get("dvc:set"))),
            Entry("limit", "python3 train.py (the stage's command alone)", res["stage"]),
            Entry("limit", "bench/compare/floor_run.py (the stage and the five git calls of a commit, "
                           "from bare Python)", res["floor"]),
        ], Goal("≥ 12×", 12.0)),
    ]
