"""The stage graph as text: lanes like `git log --graph`, Graphviz dot, Mermaid, JSON data.

The text drawing puts one stage a line in run order, data flowing down. Each
edge still to arrive is a lane (a `|` two columns wide); a stage is a `*`
on its lane, lanes that end at it join it on the line above (`|-'`), and
lanes to several consumers fork below it (`|-.`). That takes two columns
per lane in flight, not per stage, so wide pipelines still fit 80 columns
where a drawing of boxes side by side would not, and long names never
break the drawing: they come after it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

TYPE_CHECKING = False   # typing's names for the type checker only (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.pipeline.records import Pipeline, Stage

WIDTH = 80


@dataclass
class Dag:
    nodes: list[Stage]   # in run order
    edges: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def consumers(self, name: str) -> list[str]:
        order = {s.name: i for i, s in enumerate(self.nodes)}
        return sorted((c for (p, c) in self.edges if p == name), key=order.__getitem__)


def build(pipeline: Pipeline, targets: list[str] | None = None, downstream: bool = False) -> Dag:
    """The graph of the whole pipeline, or of TARGETS and their upstream (DOWNSTREAM:
    downstream) stages."""
    from git_exp.pipeline.graph import edges, stage_order
    nodes = stage_order(pipeline, targets, downstream)
    chosen = {s.name for s in nodes}
    return Dag(nodes, {k: v for k, v in edges(pipeline).items()
                       if k[0] in chosen and k[1] in chosen})


def _note(stage: Stage, dag: Dag) -> str:
    marks = [m for m, on in (("frozen", stage.frozen), ("always changed", stage.always_changed)) if on]
    paths = [p for (prod, cons), ps in dag.edges.items() if cons == stage.name for p in ps]
    text = f" ({', '.join(marks)})" if marks else ""
    if paths:
        text += "  <- " + ", ".join(dict.fromkeys(paths))
    return text


def _lane_row(lanes: list) -> list[str]:
    return list("".join("| " if t is not None else "  " for t in lanes).rstrip())


def _fit(line: str, width: int) -> str:
    return line if len(line) <= width else line[:width - 3] + "..."


def ascii_art(dag: Dag, width: int = WIDTH) -> str:
    if not dag.nodes:
        return "(no stages)"
    lanes: list = []       # per lane: the stage its edge goes to, or None (free)
    lines: list[str] = []
    connector = False      # whether the last line is only lanes going on
    for n, stage in enumerate(dag.nodes):
        name = stage.name
        cols = [i for i, t in enumerate(lanes) if t == name]
        if not cols:
            col = lanes.index(None) if None in lanes else len(lanes)
            if col == len(lanes):
                lanes.append(None)
            cols = [col]
        col = cols[0]
        if len(cols) > 1:   # lanes ending here join the leftmost one
            if connector:
                lines.pop()   # the join line shows the lanes going on already
            row = _lane_row(lanes)
            for j in range(2 * col + 1, 2 * cols[-1]):
                if row[j] == " ":
                    row[j] = "-"
            for i in cols[1:]:
                row[2 * i] = "'"
                lanes[i] = None
            lines.append("".join(row).rstrip())
            while lanes[-1] is None:
                lanes.pop()
        lanes[col] = name
        row = _lane_row(lanes)
        row[2 * col] = "*"
        pad = "".join(row).ljust(2 * len(lanes) - 1)
        lines.append(_fit(f"{pad} {name}{_note(stage, dag)}".rstrip(), width))
        consumers = dag.consumers(name)
        lanes[col] = consumers[0] if consumers else None
        if len(consumers) > 1:   # one lane more for each further consumer
            new = []
            for consumer in consumers[1:]:
                free = lanes.index(None) if None in lanes else len(lanes)
                if free == len(lanes):
                    lanes.append(None)
                lanes[free] = consumer
                new.append(free)
            row = _lane_row(lanes)
            low, high = min(new + [col]), max(new + [col])
            for j in range(2 * low + 1, 2 * high):
                if row[j] == " ":
                    row[j] = "-"
            for i in new:
                row[2 * i] = "."
            lines.append("".join(row).rstrip())
        while lanes and lanes[-1] is None:
            lanes.pop()
        connector = n + 1 < len(dag.nodes) and bool(lanes) and len(consumers) < 2
        if connector:
            lines.append("".join(_lane_row(lanes)).rstrip())
    return "\n".join(lines)


def _dot_id(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot(dag: Dag) -> str:
    lines = ["strict digraph {"]
    for stage in dag.nodes:
        lines.append(f"\t{_dot_id(stage.name)};")
    for (producer, consumer), paths in dag.edges.items():
        lines.append(f"\t{_dot_id(producer)} -> {_dot_id(consumer)} "
                     f"[label={_dot_id(', '.join(paths))}];")
    lines.append("}")
    return "\n".join(lines)


def _mermaid_text(text: str) -> str:
    # Mermaid's own entity codes keep quotes and brackets from ending the label.
    for ch, code in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("|", "#124;")):
        text = text.replace(ch, code)
    return text


def mermaid(dag: Dag) -> str:
    ids = {stage.name: f"stage{i}" for i, stage in enumerate(dag.nodes)}
    lines = ["flowchart TD"]
    for stage in dag.nodes:
        lines.append(f'\t{ids[stage.name]}["{_mermaid_text(stage.name)}"]')
    for (producer, consumer), paths in dag.edges.items():
        label = _mermaid_text(", ".join(paths))
        lines.append(f'\t{ids[producer]} -->|"{label}"| {ids[consumer]}')
    return "\n".join(lines)


def data(dag: Dag) -> dict:
    return {
        "nodes": [{"name": s.name, "cmd": list(s.cmd), "deps": list(s.deps),
                   "outs": [o.path for o in s.outs], "frozen": bool(s.frozen)}
                  for s in dag.nodes],
        "edges": [{"from": p, "to": c, "paths": list(paths)} for (p, c), paths in dag.edges.items()],
    }
