"""The Markdown report: the machine, the versions, the ratios with their goals,
then every figure (median, min, max, peak memory) row by row."""
from __future__ import annotations

import os
import platform
import subprocess
import time
from typing import Optional

from compare.measure import Figures
from compare.rows import Context, Row

SECTIONS = [("start-up", "Start-up"), ("run", "Running the pipeline"),
            ("show", "Comparing experiments"), ("data", "Data"), ("push", "Sharing"), ("s3", "Sharing through S3")]


def machine(path: str) -> list[tuple[str, str]]:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "?")
    except OSError:
        pass
    memory = "?"
    try:
        with open("/proc/meminfo") as fh:
            kib = int(next(ln for ln in fh if ln.startswith("MemTotal")).split()[1])
            memory = f"{kib / 2**20:.1f} GiB"
    except (OSError, StopIteration):
        pass
    fs = "?"
    proc = subprocess.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE,OPTIONS", "--target", path],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    fields = proc.stdout.decode().split()
    if len(fields) == 3:
        fs = f"{fields[0]} on {fields[1]}, mounted {fields[2]}"
    return [("CPU", f"{cpu}, {os.cpu_count()} cores"), ("memory", memory),
            ("filesystem of bench/work", fs), ("OS", f"{platform.system()} {platform.release()}")]


def seconds(value: float) -> str:
    if value >= 10:
        return f"{value:.1f} s"
    if value >= 1:
        return f"{value:.2f} s"
    return f"{value * 1000:.0f} ms" if value >= 0.01 else f"{value * 1000:.1f} ms"


def ratio(value: Optional[float]) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}×" if value >= 1.95 else f"{value:.2f}×"


def _cells(fig: Figures) -> list[str]:
    if not fig.samples:
        return [fig.error or "–", "", "", "", ""]
    return [seconds(fig.median), seconds(fig.low), seconds(fig.high), seconds(fig.cpu_median),
            f"{fig.peak_mib:.0f} MiB"]


def _goal(row: Row) -> str:
    if not row.goal:
        return ""
    value = row.goal_value()
    if value is None:
        return f"{row.goal.text}: not measured"
    if row.goal.limit:
        verdict = "met" if value >= row.goal.target else "missed"
        return f"{row.goal.text}: {value:.2f} — {verdict}"
    return f"{row.goal.text}: {'met' if value >= row.goal.target else 'missed'}"


def _median(fig: Optional[Figures]) -> str:
    if fig is None:
        return "–"
    if fig.ok:
        return seconds(fig.median)
    return fig.error or "–"


def render(rows: list[Row], ctx: Context, versions: list[tuple[str, str]], mode: str,
           command: str, elapsed: float) -> str:
    out = ["# git-exp and DVC side by side", "",
           f"Written by `{command}` on {time.strftime('%Y-%m-%d %H:%M %Z')} ({mode}; "
           f"{_runs(ctx.runs)} per quick command, {ctx.heavy_runs} per data-heavy one, "
           f"alternating the tools; the whole run took {elapsed / 60:.1f} min). "
           "Figures, not tests: nothing here is asserted. Regenerate with `bench/run` "
           "(`bench/run --quick` in under five minutes).", ""]
    out += ["| machine | |", "| --- | --- |"]
    out += [f"| {k} | {v} |" for k, v in machine(ctx.work)]
    if ctx.load:
        out.append(f"| load average (1 min) at the start / end | {ctx.load[0]:.2f} / {ctx.load[1]:.2f} "
                   f"(the bench itself adds about 1; the rest is other work sharing the {os.cpu_count()} cores) |")
    out += ["", "| version | |", "| --- | --- |"]
    out += [f"| {k} | {v} |" for k, v in versions]
    out += ["", "## Ratios", "",
            "Medians of wall time; DVC / git-exp > 1 means git-exp is faster. The CPU column is "
            "the same ratio of CPU time (user + system), which other work on the machine "
            "disturbs far less. Goals are those of issue 20, judged on wall time.", "",
            "| workload | git-exp | DVC | DVC / git-exp | CPU time ratio | goal |",
            "| --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        g, d = row.entry("git-exp"), row.entry("dvc")
        out.append(f"| {row.workload} | {_median(g.figures if g else None)} | "
                   f"{_median(d.figures if d else None)} | {ratio(row.ratio())} | "
                   f"{ratio(row.cpu_ratio())} | {_goal(row)} |")
    out += ["", "## Every figure", "",
            "Wall time of each command in a fresh process (median, fastest, slowest of the "
            "runs), its CPU time (user + system, median) and its peak memory: the largest "
            "resident set of the command or any process "
            "it waited for, across the runs. Rows marked *limit* are what the same work costs "
            "with the plainest tool: the floor no tool can beat.", ""]
    for section, title in SECTIONS:
        mine = [r for r in rows if r.section == section]
        if not mine:
            continue
        out += [f"### {title}", "", "| workload | command | median | min | max | CPU | peak memory |",
                "| --- | --- | --- | --- | --- | --- | --- |"]
        for row in mine:
            for i, e in enumerate(row.entries):
                label = row.workload if i == 0 else ""
                command = f"*limit:* `{e.command}`" if e.kind == "limit" else f"`{e.command}`"
                cells = _cells(e.figures)
                if e.figures.notes:
                    cells[0] += " ⚠ " + "; ".join(e.figures.notes)
                out.append(f"| {label} | {command} | " + " | ".join(cells) + " |")
        out.append("")
    out += ["## How the workloads are made", "", *[f"- {n}" for n in _how(ctx)], ""]
    if ctx.notes:
        out += ["## Notes from this run", "", *[f"- {n}" for n in ctx.notes], ""]
    if ctx.profiles:
        out += ["## Where the import time goes (`python -X importtime`)", "",
                "Import time of each command beyond what `python -c pass` imports too, and its "
                "largest top-level imports (cumulative) with the largest imports inside them.", "",
                "| command | imports | largest |", "| --- | --- | --- |"]
        for p in ctx.profiles:
            top = "; ".join(f"{name} {ms:.0f} ms" + (" (" + ", ".join(
                f"{c} {cms:.0f} ms" for c, cms in kids if cms >= 1) + ")" if any(
                cms >= 1 for _, cms in kids) else "") for name, ms, kids in p.top)
            out.append(f"| `{p.label}` | {p.total_ms:.0f} ms | {top} |")
        out.append("")
    return "\n".join(out)


def _runs(n: int) -> str:
    return "1 run" if n == 1 else f"{n} runs"


def _how(ctx: Context) -> list[str]:
    s = ctx.sizes
    return [
        "Both tools are console scripts made by pip in virtual environments of their own "
        "under bench/work/ (git-exp from this source tree, DVC from PyPI), run with the same "
        "interpreter, a sealed HOME, no system Git config, DVC's analytics and update check off.",
        "Start-up and run: a small repository whose one stage (`python3 train.py`: reads "
        "`train.lr` from params.yaml, writes a model and metrics.json; `python3` is the "
        "interpreter itself, not a version manager's shim) was run once and "
        "committed with its lock file; the pipeline file is the same text for both "
        "(exp.yaml / dvc.yaml). Every `run -S` sets a value not used before, so neither "
        "tool's run cache can answer it; a no-op run checks that the stage did not run.",
        "Show: one baseline commit and N experiments made with `git fast-import` in each "
        "tool's own layout (bench/bench_show.py for git-exp; the same params and metrics "
        "for DVC, in the refs, messages and files `dvc exp run` writes, dvc.lock included). "
        "Each tool's JSON is checked to list all N. Warm rows follow one untimed run that "
        "fills the tools' caches; cold rows delete them (.git/exp/memo, "
        ".dvc/tmp/exps/cache) before every run. The rows over real experiments, made by "
        "`run -S` in the push workload, show whether the generated ones are representative. "
        "DVC's table has a column per dependency hash too (from dvc.lock), git-exp's does not.",
        f"Data: {s.files:,} files of {s.file_kb} KiB in {min(100, s.files)} folders"
        + (f" and one file of {s.big_mb:,} MiB" if s.big_mb else "")
        + ", random bytes, copied into a fresh repository before each `add`; "
        "the pointer is then committed and the data deleted before `checkout`. Both tools use "
        "their default link type (reflink, else copy), so on ext4 both copy into the cache and "
        "out of it. git-exp hashes with SHA-256, DVC with MD5. The data sits in the page cache. "
        "Every measurement starts after a `sync`. The `cp -r` rows show what creating the "
        "files costs on this filesystem: where that dominates (many small files), every "
        "figure varies as much as it does. For the many small files, what a round replaces "
        "(the last repository, the deleted data, the last copy) is moved aside and deleted "
        "after the rows, not just before the timed command: on ext4 without a journal a file "
        "created soon after many were freed nearby costs more, by a different amount each "
        "round.",
        f"Push: {s.push} experiments per tool made by `run -S -n e<k>`, each with its own "
        f"{s.model_kb:,} KiB model in the cache; each round pushes them by name into an empty "
        "bare repository and an empty data folder (configured before the runs) and checks "
        "that every ref and some data arrived.",
    ]
