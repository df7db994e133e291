"""What every workload shares: its context, the rows it returns, and their goals."""
from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from typing import Callable, Optional

from compare.measure import Figures, Step
from compare.tools import Tool


@dataclass
class Sizes:
    show: list[int]               # experiments, both tools
    show_gitexp_only: list[int]   # experiments, git-exp alone
    files: int                    # small files for add/checkout
    file_kb: int
    big_mb: int                   # the one big file
    push: int                     # experiments pushed
    model_kb: int                 # each pushed experiment's model
    settle: bool = True           # wait out the hash memo's racy window before no-op rows
    s3_files: int = 0             # small files pushed to and pulled from S3 (0: no s3 rows)
    s3_big_mb: int = 0            # the one big file of the s3 rows


@dataclass
class Context:
    work: str
    env: dict[str, str]
    gitexp: Tool
    dvc: Optional[Tool]
    no_dvc: str                   # why DVC is absent, when it is
    sizes: Sizes
    runs: int                     # rounds for quick commands
    heavy_runs: int               # rounds for data-heavy ones
    log: Callable[[str], None]
    warmup: int = 1               # untimed rounds before the quick commands' figures
    load: tuple = ()              # the 1-minute load average at the start and the end
    notes: list[str] = field(default_factory=list)
    profiles: list["Profile"] = field(default_factory=list)

    def folder(self, *parts: str) -> str:
        path = os.path.join(self.work, "runs", *parts)
        os.makedirs(path, exist_ok=True)
        return path

    def tools(self) -> list[Tool]:
        return [self.gitexp] + ([self.dvc] if self.dvc else [])


@dataclass
class Entry:
    kind: str            # "git-exp" or "dvc" (the compared pair), "extra" or "limit"
    command: str         # as shown in the table
    figures: Figures


@dataclass
class Goal:
    text: str                     # as the issue states it
    target: float
    limit: Optional[str] = None   # None: DVC / git-exp >= target; else LIMIT's time / git-exp's


@dataclass
class Row:
    section: str
    workload: str
    entries: list[Entry]
    goal: Optional[Goal] = None

    def entry(self, kind: str) -> Optional[Entry]:
        return next((e for e in self.entries if e.kind == kind), None)

    def ratio(self) -> Optional[float]:
        g, d = self.entry("git-exp"), self.entry("dvc")
        if g and d and g.figures.ok and d.figures.ok and g.figures.median > 0:
            return d.figures.median / g.figures.median
        return None

    def cpu_ratio(self) -> Optional[float]:
        g, d = self.entry("git-exp"), self.entry("dvc")
        if g and d and g.figures.ok and d.figures.ok and g.figures.cpu_median > 0:
            return d.figures.cpu_median / g.figures.cpu_median
        return None

    def goal_value(self) -> Optional[float]:
        if not self.goal:
            return None
        if self.goal.limit is None:
            return self.ratio()
        g = self.entry("git-exp")
        lim = next((e for e in self.entries if e.kind == "limit" and e.command == self.goal.limit), None)
        if g and lim and g.figures.ok and lim.figures.ok:
            return lim.figures.median / g.figures.median
        return None


def absent(reason: str) -> Figures:
    """A row cell for a command that was not run, saying why."""
    return Figures(error=reason)


def step_for(tool: Optional[Tool], ctx: Context, key: str, argv, cwd: str, verb: str = "",
             **kw) -> Optional[Step]:
    """TOOL's step, or one marked n/a when TOOL lacks VERB; None without DVC."""
    if tool is None:
        return None
    missing = None
    if verb and not tool.has(verb):
        missing = f"n/a (git exp {verb} not available)" if tool.name == "git-exp" else \
            f"n/a (dvc {verb} not available)"
    return Step(key, argv, cwd, tool.env, unavailable=missing, **kw)


def dvc_cell(ctx: Context, figures: Optional[Figures]) -> Figures:
    return figures if figures is not None else absent(ctx.no_dvc)


# --- where the import time goes ------------------------------------------------

@dataclass
class Profile:
    label: str
    total_ms: float                                     # imports beyond the interpreter's own
    top: list[tuple[str, float, list[tuple[str, float]]]]  # module, ms, its largest imports


def _importtime(argv: list[str], cwd: str, env: dict[str, str]) -> list[tuple[int, str, float, float]]:
    """(depth, module, own ms, cumulative ms) per import, in Python's post-order."""
    proc = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rows = []
    for line in proc.stderr.decode(errors="replace").splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)", line)
        if m:
            rows.append(((len(m.group(3)) - 1) // 2, m.group(4), int(m.group(1)) / 1000,
                         int(m.group(2)) / 1000))
    return rows


def import_profile(tool: Tool, args: list[str], cwd: str, label: str, ctx: Context) -> None:
    """`python -X importtime` on one command, less what `python -c pass` imports too:
    the command's own import time, its largest top-level imports and theirs."""
    with open(tool.exe) as fh:
        interpreter = fh.readline()[2:].strip()
    bare = {name for _, name, _, _ in _importtime([interpreter, "-c", "pass"], cwd, tool.env)}
    rows = [r for r in _importtime([interpreter, tool.exe, *args], cwd, tool.env) if r[1] not in bare]
    tops, children = [], []
    for depth, name, _, cumulative in rows:
        if depth == 1:
            children.append((name, cumulative))
        elif depth == 0:
            tops.append((name, cumulative, sorted(children, key=lambda c: -c[1])[:3]))
            children = []
    tops.sort(key=lambda t: -t[1])
    ctx.profiles.append(Profile(label, sum(r[2] for r in rows), tops[:3]))
