"""`show` and `show --json` at growing numbers of experiments, warm and cold."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

from compare import projects
from compare.measure import Step, alternate
from compare.rows import Context, Entry, Goal, Row, absent, dvc_cell, import_profile

# Where each tool keeps what show learnt about a commit: deleted for cold rows.
MEMO = {"git-exp": os.path.join(".git", "exp", "memo"),
        "dvc": os.path.join(".dvc", "tmp", "exps", "cache")}
GOAL_SIZE = 200


def show_argv(tool, json: bool) -> list[str]:
    if tool.name == "git-exp":
        return tool.argv("--no-pager", "show", *(["--json"] if json else []))
    return tool.argv("exp", "show", *(["--json"] if json else ["--no-pager"]))


def listed(tool, path: str) -> int:
    """How many of the generated experiments (exp-N) the tool's JSON lists."""
    proc = subprocess.run(show_argv(tool, True), cwd=path, env=tool.env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return len(set(re.findall(r'"name": "(exp-\d+)"', proc.stdout.decode(errors="replace"))))


def _steps(tool, path: str, tag: str) -> list[Step]:
    return [Step(f"{tool.name}:{tag}:table", show_argv(tool, False), path, tool.env),
            Step(f"{tool.name}:{tag}:json", show_argv(tool, True), path, tool.env)]


def _rows(ctx: Context, res: dict, what: str, tag: str, n: int, gx_only: bool = False) -> list[Row]:
    rows = []
    for fmt, flag in (("table", ""), ("json", " --json")):
        goal = (Goal("≥ 25×", 25.0) if n == GOAL_SIZE and fmt == "table" and tag == "warm" and not gx_only
                else None)
        dvc = absent("not measured (git-exp only size)") if gx_only else \
            dvc_cell(ctx, res.get(f"dvc:{tag}:{fmt}"))
        entries = [Entry("git-exp", f"git-exp show{flag}", res[f"git-exp:{tag}:{fmt}"]),
                   Entry("dvc", f"dvc exp show{flag}", dvc)]
        if fmt == "table" and f"refs:{tag}" in res:
            entries.append(Entry("limit", "git for-each-ref refs/exps/ (listing the refs alone)",
                                 res[f"refs:{tag}"]))
        rows.append(Row("show", f"`show{flag}` at {n:,} {what}", entries, goal))
    return rows


def show(ctx: Context) -> list[Row]:
    rows = []
    largest = max(ctx.sizes.show)
    for n in ctx.sizes.show + ctx.sizes.show_gitexp_only:
        gx_only = n not in ctx.sizes.show
        ctx.log(f"show at {n} experiments")
        folder = ctx.folder("show", str(n))
        groups, paths = [], {}
        for tool in ctx.tools() if not gx_only else [ctx.gitexp]:
            path = paths[tool.name] = os.path.join(folder, tool.name)
            if tool.name == "git-exp":
                projects.gitexp_show_repo(path, n)
            else:
                projects.dvc_show_repo(path, n, ctx.env, projects.dvc_files(ctx.work, tool.exe, ctx.env))
            groups.append(_steps(tool, path, "warm"))
        groups.append([Step("refs:warm", ["git", "for-each-ref", "refs/exps/"], paths["git-exp"], ctx.env)])
        res = alternate(groups, ctx.runs, warmup=ctx.warmup, log=ctx.log)
        for tool in ctx.tools() if not gx_only else [ctx.gitexp]:
            seen = listed(tool, paths[tool.name])
            if seen != n:  # the workload itself is wrong: say so beside the figure
                for fmt in ("table", "json"):
                    res[f"{tool.name}:warm:{fmt}"].note(f"its JSON listed {seen} of {n} experiments")
        rows += _rows(ctx, res, "experiments (warm)", "warm", n, gx_only)
        if n == largest:
            rows += _cold(ctx, paths, n)
            # The cold rows deleted the memos: one run first, so the profile is of a warm show.
            subprocess.run(show_argv(ctx.gitexp, False), cwd=paths["git-exp"], env=ctx.gitexp.env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            import_profile(ctx.gitexp, ["--no-pager", "show"], paths["git-exp"],
                           f"git-exp show ({n} experiments)", ctx)
        shutil.rmtree(folder, ignore_errors=True)
    return rows


def _cold(ctx: Context, paths: dict, n: int) -> list[Row]:
    """Both tools' per-commit caches deleted before every run."""
    ctx.log(f"show at {n} experiments, cold")
    groups = []
    for tool in ctx.tools():
        memo = os.path.join(paths[tool.name], MEMO[tool.name])
        groups.append([Step(f"{tool.name}:cold:{fmt}", show_argv(tool, fmt == "json"),
                            paths[tool.name], tool.env,
                            prepare=lambda m=memo: shutil.rmtree(m, ignore_errors=True))
                       for fmt in ("table", "json")])
    res = alternate(groups, ctx.runs, log=ctx.log)
    return _rows(ctx, res, "experiments (cold: caches deleted)", "cold", n)


def show_real(ctx: Context, paths: dict, n: int) -> list[Row]:
    """Warm `show` over real experiments (made by `run -S`, with data): a check that
    the generated ones above are representative."""
    ctx.log(f"show at {n} real experiments")
    groups = [_steps(tool, paths[tool.name], "real") for tool in ctx.tools()]
    res = alternate(groups, ctx.runs, warmup=ctx.warmup, log=ctx.log)
    return _rows(ctx, res, "real experiments (made by `run -S`, warm)", "real", n)
