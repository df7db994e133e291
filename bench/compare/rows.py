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
    total_ms: float
    top: list[tuple[str, float]]   # top-level package -> ms of its own imports


def import_profile(tool: Tool, args: list[str], cwd: str, label: str, ctx: Context) -> None:
    """`python -X importtime` on one command: total import time, and by package."""
    with open(tool.exe) as fh:
        interpreter = fh.readline()[2:].strip()
    proc = subprocess.run([interpreter, "-X", "importtime", tool.exe, *args], cwd=cwd,
                          env=tool.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    by_package: dict[str, float] = {}
    for line in proc.stderr.decode(errors="replace").splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            package = m.group(4).split(".")[0]
            by_package[package] = by_package.get(package, 0.0) + int(m.group(1)) / 1000
    top = sorted(by_package.items(), key=lambda kv: -kv[1])[:6]
    ctx.profiles.append(Profile(label, sum(by_package.values()), top))
