"""Charts built from plot definitions and the tables each revision holds.

One chart per y column of a plots file, with one series per revision, so an
experiment keeps its colour everywhere. A plot whose `y` maps several files
to columns (`y: {train.csv: loss, test.csv: loss}`) is one chart with a series
per revision and file. Without `y`, every numeric column (but x) gets a
chart; without `x`, the row index is the x axis.

Revisions missing a file, or a column, are recorded as Missing with the
reason, never silently dropped. A column asked for by name that no revision
has is an error, as it is almost surely a typo.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Callable, Optional

from git_exp.errors import ExpError

# DVC's template names are accepted for the three shapes we draw.
TEMPLATES = {"line": "line", "linear": "line", "simple": "line", "smooth": "line",
             "scatter": "scatter", "points": "scatter",
             "bar": "bar", "bar_horizontal": "bar", "bar_horizontal_sorted": "bar"}
INDEX_LABEL = "row"


@dataclass(frozen=True)
class Revision:
    name: str            # as shown: "workspace", an experiment's name, a branch or the revision typed
    rev: Optional[str]   # full sha; None for the workspace
    kind: str            # "workspace", "experiment", "commit" or "running"
    root: Optional[str] = None   # a run in progress: the work tree it writes its files in

    def describe(self) -> str:
        if self.kind == "workspace":
            return "the workspace"
        if self.kind == "running":
            return f"running experiment {self.name}"
        if self.kind == "experiment":
            return f"experiment {self.name}"
        return f"revision {self.name}"


@dataclass(frozen=True)
class Missing:
    name: str
    rev: Optional[str]
    reason: str


@dataclass
class Series:
    revision: int        # index into the revisions: its colour and legend entry
    name: str            # the revision's name
    label: str           # the legend text: the name, plus file and column in a multi-file chart
    source: str          # the file
    field: str           # the y column
    x: list              # floats, or text on a categorical axis
    y: list              # floats; None where the file had no value


@dataclass
class Chart:
    id: str              # unique on the page: "logs.csv:loss", or the plot's name
    plot: str            # the plot it belongs to
    title: str
    template: str        # line, scatter or bar
    x_field: Optional[str]
    x_label: str
    y_label: str
    categorical: bool    # x holds text
    series: list = field(default_factory=list)
    missing: list = field(default_factory=list)    # Missing: the file is there, the columns are not


@dataclass
class Image:
    revision: int
    name: str
    rev: Optional[str]
    path: str
    mime: str
    data: bytes


@dataclass
class Section:
    id: str                   # the plot's path or name
    kind: str                 # "data" or "image"
    charts: list = field(default_factory=list)
    images: list = field(default_factory=list)
    missing: list = field(default_factory=list)    # Missing: revisions without the file


@dataclass
class PlotSpec:
    """One plot to draw, with its options resolved to files."""

    id: str
    files: tuple                  # the data files (or the one image)
    y: dict                       # file -> tuple of columns; absent: every numeric column
    x: dict                       # file -> column; absent: the row index
    title: Optional[str] = None
    template: str = "line"
    x_label: Optional[str] = None
    y_label: Optional[str] = None
    combined: bool = False        # y mapped files to columns: one chart for all of them
    where: str = ""               # "exp.yaml:31:7", for messages


@dataclass
class PlotResult:
    revisions: list               # Revision, in legend order
    sections: list                # Section, in declaration order
    warnings: list = field(default_factory=list)
    unreadable: list = field(default_factory=list)   # files or revisions left out as unreadable

    @property
    def charts(self) -> list:
        return [c for s in self.sections for c in s.charts]


TableOf = Callable[[int, str, tuple], object]   # (revision index, file, wanted columns) -> Table | None


def template_of(name: Optional[str], where: str, plot: str) -> str:
    if name is None:
        return "line"
    if name not in TEMPLATES:
        close = difflib.get_close_matches(name, list(TEMPLATES), n=1)
        guess = f" (did you mean '{close[0]}'?)" if close else ""
        raise ExpError(f"{where + ': ' if where else ''}unknown plot template '{name}' for {plot}{guess}",
                       hint="use template: line, scatter or bar")
    return TEMPLATES[name]


def build_section(spec: PlotSpec, revisions: list, table_of: TableOf) -> Section:
    section = Section(spec.id, "data")
    tables: dict[tuple, object] = {}
    for index, revision in enumerate(revisions):
        absent = []
        for path in spec.files:
            wanted = tuple(spec.y.get(path, ())) + ((spec.x[path],) if path in spec.x else ())
            try:
                table = table_of(index, path, wanted)
            except ExpError as exc:
                raise _in(exc, revision) from None
            if table is None:
                absent.append(path)
            else:
                tables[(index, path)] = table
        if absent:
            section.missing.append(Missing(revision.name, revision.rev, f"no {', '.join(absent)}"))
    if spec.combined:
        pairs = [(path, column) for path in spec.files for column in spec.y.get(path, ())]
        fields = {c for _, c in pairs}
        chart = _chart(spec, spec.id, spec.title or spec.id,
                       spec.y_label or (next(iter(fields)) if len(fields) == 1 else "value"))
        _fill(chart, spec, revisions, tables, pairs, labelled=True)
        section.charts.append(chart)
        return section
    path = spec.files[0]
    columns = spec.y.get(path) or _numeric_columns(path, spec.x.get(path), revisions, tables)
    for column in columns:
        title = spec.title if spec.title and len(columns) == 1 else (
            f"{spec.title}: {column}" if spec.title else column)
        chart = _chart(spec, f"{spec.id}:{column}", title, spec.y_label or column)
        _fill(chart, spec, revisions, tables, [(path, column)], labelled=False)
        section.charts.append(chart)
    return section


def _chart(spec: PlotSpec, chart_id: str, title: str, y_label: str) -> Chart:
    x_fields = set(spec.x.values())
    x_field = next(iter(x_fields)) if len(x_fields) == 1 else None
    x_label = spec.x_label or x_field or (INDEX_LABEL if not x_fields else "x")
    return Chart(chart_id, spec.id, title, spec.template, x_field, x_label, y_label, False)


def _numeric_columns(path: str, x: Optional[str], revisions: list, tables: dict) -> list:
    columns: dict[str, None] = {}
    for index, _ in enumerate(revisions):
        table = tables.get((index, path))
        if table is not None:
            for name in table.fields:
                if name != x and name not in columns and table.is_numeric(name):
                    columns[name] = None
    return list(columns)


def _fill(chart: Chart, spec: PlotSpec, revisions: list, tables: dict, pairs: list,
          labelled: bool) -> None:
    raw: list[tuple] = []   # (revision index, path, column, xs, ys) before the axis kind is known
    for path, column in pairs:
        x_name = spec.x.get(path)
        present = [(i, tables[(i, path)]) for i in range(len(revisions)) if (i, path) in tables]
        for name, what in ((column, "y"), (x_name, "x")):
            if name is not None and present and not any(name in t.fields for _, t in present):
                columns = sorted({f for _, t in present for f in t.fields})
                close = difflib.get_close_matches(name, columns, n=1)
                guess = f" (did you mean '{close[0]}'?)" if close else ""
                raise ExpError(
                    f"{spec.where + ': ' if spec.where else ''}no column '{name}' in {path}{guess}",
                    hint=f"its columns are: {', '.join(columns) or '(none)'}; fix '{what}' of the "
                         f"plot {spec.id} in exp.yaml")
        for index, table in present:
            revision = revisions[index]
            absent = [n for n in (column, x_name) if n is not None and n not in table.fields]
            if absent:
                chart.missing.append(Missing(revision.name, revision.rev,
                                             f"no column '{absent[0]}' in {path}"))
                continue
            try:
                ys = table.numbers(column)
                if x_name is None:
                    xs: list = [float(i) for i in range(table.rows)]
                elif table.is_numeric(x_name) or not any(v is not None for v in table.columns[x_name]):
                    xs = table.numbers(x_name)
                else:
                    xs = table.categories(x_name)
            except ExpError as exc:
                raise _in(exc, revision) from None
            raw.append((index, path, column, xs, ys))
    raw.sort(key=lambda r: r[0])   # a revision's series together, in the legend too
    chart.categorical = any(isinstance(v, str) for *_, xs, _ in raw for v in xs)
    many_fields = len({c for _, c in pairs}) > 1
    for index, path, column, xs, ys in raw:
        if chart.categorical:
            xs = [None if v is None else (v if isinstance(v, str) else _number_text(v)) for v in xs]
        points = [(x, y) for x, y in zip(xs, ys) if x is not None]
        if chart.template == "line" and not chart.categorical and any(
                points[i][0] > points[i + 1][0] for i in range(len(points) - 1)):
            points.sort(key=lambda p: p[0])   # a line joins points in x order, as Vega-Lite does
        name = revisions[index].name
        label = name
        if labelled:
            label = f"{name}: {path}" + (f":{column}" if many_fields else "")
        chart.series.append(Series(index, name, label, path, column,
                                   [p[0] for p in points], [p[1] for p in points]))


def _number_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _in(exc: ExpError, revision: Revision) -> ExpError:
    return ExpError(f"{exc.message} (in {revision.describe()})", exc.hint)


def image_section(path: str, revisions: list, contents: Callable) -> Section:
    """The image at PATH in each revision; CONTENTS(index, path) -> bytes or None."""
    from git_exp.plots.data import mime_of
    section = Section(path, "image")
    for index, revision in enumerate(revisions):
        data = contents(index, path)
        if data is None:
            section.missing.append(Missing(revision.name, revision.rev, f"no {path}"))
        else:
            section.images.append(Image(index, revision.name, revision.rev, path, mime_of(path), data))
    return section
