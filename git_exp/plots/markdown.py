"""`--md`: a Markdown summary, each chart linked as an SVG file, images side by side.

Per chart, a table gives each series' number of points, last x and y, and
lowest and highest y: what a reviewer reads in a pull request without
opening the page.
"""
from __future__ import annotations

import os

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.plots.charts import PlotResult


def render(result: PlotResult, chart_paths: dict, image_paths: dict, cwd: str | None = None) -> str:
    """RESULT as Markdown; CHART_PATHS {chart id: file} and IMAGE_PATHS
    {(section id, revision index): file} are linked relative to CWD."""
    cwd = cwd or os.getcwd()
    lines = ["# Plots", ""]
    lines += ["| | revision | commit |", "| --- | --- | --- |"]
    for index, revision in enumerate(result.revisions):
        lines.append(f"| {index + 1} | {_cell(revision.name)} | {revision.rev[:7] if revision.rev else '-'} |")
    for warning in result.warnings:
        lines += ["", f"> warning: {warning}"]
    for section in result.sections:
        lines += ["", f"## {section.id}", ""]
        if section.missing:
            lines += [_missing("Missing", section.missing), ""]
        if section.kind == "image":
            if section.images:
                lines.append("| " + " | ".join(_cell(i.name) for i in section.images) + " |")
                lines.append("| " + " | ".join("---" for _ in section.images) + " |")
                lines.append("| " + " | ".join(
                    f"![{_cell(i.name)}]({_link(image_paths.get((section.id, i.revision)), cwd)})"
                    for i in section.images) + " |")
            continue
        for chart in section.charts:
            lines += [f"### {chart.title}", ""]
            if chart.id in chart_paths:
                lines += [f"![{chart.title}]({_link(chart_paths[chart.id], cwd)})", ""]
            if chart.series:
                lines.append(f"| series | points | last {_cell(chart.x_label)} | last {_cell(chart.y_label)} "
                             f"| lowest | highest |")
                lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
                for s in chart.series:
                    points = [(x, y) for x, y in zip(s.x, s.y) if y is not None]
                    ys = [y for _, y in points]
                    if points:
                        last_x, last_y = points[-1]
                        lines.append(f"| {_cell(s.label)} | {len(points)} | {_number(last_x)} | "
                                     f"{_number(last_y)} | {_number(min(ys))} | {_number(max(ys))} |")
                    else:
                        lines.append(f"| {_cell(s.label)} | 0 | - | - | - | - |")
                lines.append("")
            if chart.missing:
                lines += [_missing("Missing", chart.missing), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _link(path: str | None, cwd: str) -> str:
    if not path:
        return ""
    try:
        rel = os.path.relpath(path, cwd)
    except ValueError:   # another drive on Windows
        rel = path
    rel = rel.replace(os.sep, "/")
    return f"<{rel}>" if " " in rel or ")" in rel else rel


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _number(value: float | str) -> str:
    if isinstance(value, str):
        return _cell(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def _missing(prefix: str, missing: list) -> str:
    by_reason: dict = {}
    for m in missing:
        by_reason.setdefault(m.reason, []).append(m.name)
    return "\n\n".join(f"{prefix} ({_cell(reason)}): " + ", ".join(f"**{_cell(n)}**" for n in names)
                     for reason, names in by_reason.items())
