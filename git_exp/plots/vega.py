"""`--json`: the plot data and a Vega-Lite specification per chart.

Each specification carries its data inline (`data.values`, every point, not
the thinned set the page draws), so a notebook or an editor renders it as it
is (`altair.Chart.from_dict(spec)`, vega-embed). Records are tidy and use
fixed names whatever the columns are called - experiment, rev, file, field,
x, y - so no column name needs Vega's escaping of dots; the axis titles carry
the real names.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from git_exp.plots.svg import PALETTE

if TYPE_CHECKING:
    from git_exp.plots.charts import Chart, Missing, PlotResult

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
_MARKS = {"line": {"type": "line", "tooltip": True},
          "scatter": {"type": "point", "filled": True, "tooltip": True},
          "bar": {"type": "bar", "tooltip": True}}


def records(chart: Chart, revisions: list) -> list:
    """Every point of CHART as a tidy record."""
    out = []
    for s in chart.series:
        rev = revisions[s.revision].rev
        for x, y in zip(s.x, s.y):
            if y is None:
                continue
            out.append({"experiment": s.name, "rev": rev, "file": s.source, "field": s.field,
                        "x": _plain(x), "y": _plain(y)})
    return out


def spec(chart: Chart, revisions: list) -> dict:
    values = records(chart, revisions)
    drawn = {s.revision for s in chart.series}
    order = [r.name for i, r in enumerate(revisions) if i in drawn]
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(revisions)) if i in drawn]
    x_type = "nominal" if chart.categorical else ("ordinal" if chart.template == "bar" else "quantitative")
    encoding: dict[str, Any] = {
        "x": {"field": "x", "type": x_type, "title": chart.x_label},
        "y": {"field": "y", "type": "quantitative", "title": chart.y_label},
        "color": {"field": "experiment", "type": "nominal", "title": "experiment",
                  "sort": order, "scale": {"domain": order, "range": colours}},
        "tooltip": [{"field": "experiment"}, {"field": "x", "title": chart.x_label},
                    {"field": "y", "title": chart.y_label}],
    }
    if chart.template == "line" and not chart.categorical:
        encoding["x"]["scale"] = {"zero": False}
    if chart.template != "bar":
        encoding["y"]["scale"] = {"zero": False}
    sources = list(dict.fromkeys((s.source, s.field) for s in chart.series))
    if len(sources) > 1:
        key = "field" if len({f for _, f in sources}) > 1 and len({p for p, _ in sources}) == 1 else "file"
        if chart.template == "line":
            encoding["strokeDash"] = {"field": key, "type": "nominal", "title": key}
        else:
            encoding["shape"] = {"field": key, "type": "nominal", "title": key}
    if chart.template == "bar":
        encoding["xOffset"] = {"field": "experiment", "type": "nominal", "sort": order}
    return {
        "$schema": SCHEMA,
        "title": chart.title,
        "width": 480,
        "height": 280,
        "data": {"values": values},
        "mark": dict(_MARKS[chart.template]),
        "encoding": encoding,
    }


def to_json(result: PlotResult, image_paths: dict | None = None) -> dict:
    """RESULT (charts.PlotResult) as one JSON-ready document.

    IMAGE_PATHS {(section id, revision index): file} gives where each image
    was written, as JSON would be a poor home for the image bytes.
    """
    image_paths = image_paths or {}
    plots, images = [], []
    for section in result.sections:
        missing = [_missing(m) for m in section.missing]
        if section.kind == "image":
            images.append({"file": section.id,
                           "images": [{"name": i.name, "rev": i.rev, "mime": i.mime,
                                       "path": image_paths.get((section.id, i.revision))}
                                      for i in section.images],
                           "missing": missing})
            continue
        if not section.charts:
            plots.append({"id": section.id, "file": section.id, "series": [], "missing": missing,
                          "vega_lite": None})
        for chart in section.charts:
            plots.append({
                "id": chart.id,
                "file": chart.plot,
                "title": chart.title,
                "template": chart.template,
                "x": chart.x_field,
                "x_label": chart.x_label,
                "y_label": chart.y_label,
                "series": [{"name": s.name, "rev": result.revisions[s.revision].rev,
                            "file": s.source, "field": s.field,
                            "label": s.label, "points": sum(1 for y in s.y if y is not None)}
                           for s in chart.series],
                "missing": missing + [_missing(m) for m in chart.missing],
                "vega_lite": spec(chart, result.revisions),
            })
    return {"revisions": [{"name": r.name, "rev": r.rev, "kind": r.kind} for r in result.revisions],
            "plots": plots, "images": images, "warnings": list(result.warnings)}


def dumps(document: dict) -> str:
    """DOCUMENT as indented JSON, with each data record on one line.

    json's C encoder runs only without `indent`; with it, 500 experiments x
    1,000 points took 14 s. The records, nearly all of the text, are
    encoded compactly (one per line, still readable and diffable) and put
    in place of markers in the indented rest.
    """
    import json
    import re
    chunks = []
    skeleton = dict(document, plots=[])
    for plot in document.get("plots", ()):
        spec = plot.get("vega_lite")
        if spec and spec["data"]["values"]:
            encode = json.JSONEncoder(ensure_ascii=False).encode
            chunks.append("[\n" + ",\n".join(map(encode, spec["data"]["values"])) + "\n]")
            plot = dict(plot, vega_lite=dict(spec, data={"values": f"\0{len(chunks) - 1}\0"}))
        skeleton["plots"].append(plot)
    parts = re.split(r'"\\u0000(\d+)\\u0000"', json.dumps(skeleton, indent=2, ensure_ascii=False))
    # parts: text, marker number, text, marker number, ..., text
    return "".join(chunks[int(p)] if i % 2 else p for i, p in enumerate(parts))


def _missing(m: Missing) -> dict:
    return {"name": m.name, "rev": m.rev, "reason": m.reason}


def _plain(value: object) -> object:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value

