"""How queue entries look in a terminal: the `queue status` table and `run -j`'s summary.

Shared by `git exp queue` and `git exp run --queue/-j/--temp` (run_queued.py),
so a state is painted and a duration written the same way in both.
"""
from __future__ import annotations

from git_exp.ui.format import format_duration, format_timestamp

TYPE_CHECKING = False   # typing's, without importing typing on run's path (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Sequence

    from git_exp.queue.control import Row
    from git_exp.repo import Repository
    from git_exp.ui.console import Console
    from git_exp.ui.table import CellLike

STATE_STYLES = {"success": ("green",), "failed": ("red",), "interrupted": ("yellow",),
                "running": ("bold",), "queued": ()}


def render_rows(rows: Sequence[Row], console: Console, with_params: bool = True) -> str:
    from git_exp.ui import table
    columns = [table.Column("ID"), table.Column("Name"), table.Column("State"),
               table.Column("Created"), table.Column("Duration", "right"),
               table.Column("Experiment")]
    if with_params:
        columns.append(table.Column("Params"))
    cells = []
    for r in rows:
        line: list[CellLike] = [r.id, r.name, table.Cell(r.state, STATE_STYLES.get(r.state, ())),
                format_timestamp(r.created), format_duration(r.duration),
                r.exp_sha[:7] if r.exp_sha else "-"]
        if with_params:
            line.append(" ".join(r.params) or "-")
        cells.append(line)
    return table.render(cells, columns, color=console.color)


def _metrics_of(repo: Repository, sha: str) -> dict[str, object]:
    """The experiment's metrics, flat; a key in several files keeps its file's name."""
    from git_exp.api import metrics
    from git_exp.errors import ExpError
    try:
        by_file = metrics(sha, repo=repo)
    except ExpError:
        return {}
    counts: dict[str, int] = {}
    for values in by_file.values():
        for key in values:
            counts[key] = counts.get(key, 0) + 1
    return {(key if counts[key] == 1 else f"{file}:{key}"): value
            for file, values in by_file.items() for key, value in values.items()}


MAX_METRICS = 6   # the summary is for a glance; git exp show has them all


def render_summary(repo: Repository, rows: Sequence[Row], console: Console) -> str:
    """run -j's closing table: each point with the params it changed and its metrics."""
    from git_exp.ui import table
    params = [dict(p.partition("=")[::2] for p in r.params) for r in rows]
    param_keys = list(dict.fromkeys(k for p in params for k in p))
    metrics = [_metrics_of(repo, r.exp_sha) if r.exp_sha else {} for r in rows]
    metric_keys = [k for k in dict.fromkeys(k for m in metrics for k in m)
                   if not any(isinstance(m.get(k), (dict, list)) for m in metrics)][:MAX_METRICS]
    columns = ([table.Column("Name"), table.Column("State"), table.Column("Duration", "right"),
                table.Column("Experiment")]
               + [table.Column(k) for k in param_keys]
               + [table.Column(k, "right") for k in metric_keys])
    cells: list[list[CellLike]] = []
    for r, p, m in zip(rows, params, metrics):
        line: list[CellLike] = [r.name, table.Cell(r.state, STATE_STYLES.get(r.state, ())),
                                format_duration(r.duration), r.exp_sha[:7] if r.exp_sha else "-"]
        cells.append(line + [p.get(k, "-") for k in param_keys]
                     + [value_text(m[k]) if k in m else "-" for k in metric_keys])
    width = None
    if hasattr(console.stdout, "isatty") and console.stdout.isatty():
        from git_exp.ui.console import terminal_size
        width = terminal_size().columns
    return table.render(cells, columns, color=console.color, width=width)


def value_text(value: object) -> str:
    """A metric as a table cell: floats to four significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)
