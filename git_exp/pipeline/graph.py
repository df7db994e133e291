"""The stage graph: which stage needs which, and the order to run them in.

A stage depends on another when one of its deps is one of the other's outs,
lies inside it (dep `data/prepared/train.csv`, out `data/prepared`) or
contains it (dep `data`, out `data/prepared`). Two outs that are the same
path, or one inside the other, are refused: which stage's result would the
work tree hold? Order is topological and stable: among stages free to run,
the one written first in exp.yaml goes first, so runs are reproducible.
"""
from __future__ import annotations

import bisect
import heapq

from git_exp.errors import ExpError
from git_exp.pipeline.paths import where_text

TYPE_CHECKING = False   # typing's, without importing typing on run's path (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Iterator

    from git_exp.pipeline.records import Output, Pipeline, Stage


def _parts(path: str) -> tuple:
    return () if path == "." else tuple(path.split("/"))


def _inside(inner: tuple, outer: tuple) -> bool:
    return inner[:len(outer)] == outer


class _OutIndex:
    """Every stage output, sorted by path components for prefix look-ups."""

    def __init__(self, pipeline: Pipeline) -> None:
        entries = sorted(((_parts(out.path), name, out)
                          for name, stage in pipeline.stages.items() for out in stage.outs),
                         key=lambda e: e[0])
        # Sorted by components, a path is immediately followed by the paths
        # inside it; so if any two outs overlap, two neighbours do.
        for (a, stage_a, out_a), (b, stage_b, out_b) in zip(entries, entries[1:]):
            if _inside(b, a):
                _overlap_error(stage_a, out_a, stage_b, out_b)
        self.keys = [e[0] for e in entries]
        self.entries = entries
        self.exact = {e[0]: e for e in entries}

    def overlapping(self, path: str) -> Iterator[tuple[str, Output]]:
        """(stage name, out) of each out equal to, containing or inside PATH."""
        parts = _parts(path)
        for depth in range(len(parts) + 1):
            found = self.exact.get(parts[:depth])
            if found is not None:
                yield found[1], found[2]
        start = bisect.bisect_right(self.keys, parts)
        for key, name, out in self.entries[start:]:
            if not _inside(key, parts):
                break
            yield name, out


def _overlap_error(stage_a: str, out_a: Output, stage_b: str, out_b: Output) -> None:
    where = where_text(out_b.location)
    prefix = f"{where}: " if where else ""
    if out_a.path == out_b.path:
        what = (f"stage '{stage_a}' lists '{out_a.path}' twice as an output" if stage_a == stage_b
                else f"stages '{stage_a}' and '{stage_b}' both write '{out_a.path}'")
    else:
        owners = (f"stage '{stage_a}'" if stage_a == stage_b
                  else f"stages '{stage_a}' and '{stage_b}'")
        what = (f"outputs of {owners} overlap: '{out_b.path}' ({stage_b}) is inside "
                f"'{out_a.path}' ({stage_a})")
    raise ExpError(prefix + what,
                   hint="each path is written by one stage only; "
                        "make one stage's out a dep of the other instead")


def build_graph(pipeline: Pipeline) -> dict[str, set[str]]:
    """Stage name -> names of the stages it depends on.

    Raises ExpError for overlapping outs and for a stage whose deps overlap
    its own outs (a one-stage cycle).
    """
    index = _OutIndex(pipeline)
    graph: dict[str, set[str]] = {}
    for name, stage in pipeline.stages.items():
        needs: set[str] = set()
        for dep in stage.deps:
            for producer, out in index.overlapping(dep):
                if producer == name:
                    where = where_text(out.location)
                    raise ExpError(f"{where + ': ' if where else ''}stage '{name}' depends on its own "
                                   f"output: dep '{dep}' overlaps out '{out.path}'",
                                   hint="a stage cannot read what it writes; "
                                        "split it into two stages or drop the dep")
                needs.add(producer)
        graph[name] = needs
    return graph


def edges(pipeline: Pipeline) -> dict[tuple[str, str], list[str]]:
    """(producer, consumer) -> the paths that connect them, in file order.

    A path is the dep when it is the out or lies inside it, else the out
    (a dep `data` that contains the out `data/prepared` is fed by that out).
    """
    build_graph(pipeline)   # the same checks: overlapping outs, a stage reading its outs
    index = _OutIndex(pipeline)
    found: dict[tuple[str, str], list[str]] = {}
    for name, stage in pipeline.stages.items():
        for dep in stage.deps:
            for producer, out in index.overlapping(dep):
                path = dep if _inside(_parts(dep), _parts(out.path)) else out.path
                paths = found.setdefault((producer, name), [])
                if path not in paths:
                    paths.append(path)
    return found


def stage_order(pipeline: Pipeline, targets: list[str] | None = None, downstream: bool = False,
                single: bool = False) -> list[Stage]:
    """The stages to run, in a stable topological order.

    TARGETS (stage names, or a foreach/matrix group's name for all its
    stages) limit it to those stages and what they depend on, or with
    DOWNSTREAM to those stages and everything that depends on them, or with
    SINGLE to those stages alone (DVC's --single-item).
    """
    graph = build_graph(pipeline)
    names = list(pipeline.stages)
    if targets:
        chosen = _select(pipeline, graph, targets, downstream, single)
        names = [n for n in names if n in chosen]
    position = {name: i for i, name in enumerate(names)}
    waiting = {name: sum(1 for need in graph[name] if need in position) for name in names}
    dependents: dict[str, list[str]] = {name: [] for name in names}
    for name in names:
        for need in graph[name]:
            if need in position:
                dependents[need].append(name)
    # Kahn's algorithm with a heap of file positions: stable among free stages.
    ready = [position[n] for n in names if waiting[n] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        name = names[heapq.heappop(ready)]
        order.append(pipeline.stages[name])
        for child in dependents[name]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, position[child])
    if len(order) != len(names):
        _cycle_error(pipeline, graph, [n for n in names if waiting[n] > 0])
    return order


def _select(pipeline: Pipeline, graph: dict[str, set[str]], targets: list[str], downstream: bool,
            single: bool = False) -> set[str]:
    start: set[str] = set()
    for target in targets:
        if target in pipeline.stages:
            start.add(target)
            continue
        group = [n for n in pipeline.stages if n.split("@", 1)[0] == target]
        if group:
            start.update(group)
            continue
        known = list(pipeline.stages)
        import difflib   # only for the error's suggestion: not on every run's path
        # foreach/matrix groups by their name too (gen for gen@1, gen@2), as targets take them
        names = list(dict.fromkeys(n.split("@", 1)[0] for n in known)) + [n for n in known if "@" in n]
        close = difflib.get_close_matches(target, names, n=3)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
        raise ExpError(f"unknown stage '{target}'",
                       hint=hint + (f"stages in {pipeline.path}: {shown}" if known
                                    else f"{pipeline.path} has no stages"))
    if single:
        return start
    edges = graph
    if downstream:
        edges = {name: set() for name in graph}
        for name, needs in graph.items():
            for need in needs:
                edges[need].add(name)
    chosen, stack = set(), list(start)
    while stack:
        name = stack.pop()
        if name not in chosen:
            chosen.add(name)
            stack.extend(edges[name])
    return chosen


def _cycle_error(pipeline: Pipeline, graph: dict[str, set[str]], candidates: list[str]) -> None:
    """Find one cycle among CANDIDATES (Kahn's leftovers, in file order) and name it."""
    position = {name: i for i, name in enumerate(candidates)}

    def needs(name: str) -> Iterator[str]:
        return iter(sorted((n for n in graph[name] if n in position), key=position.__getitem__))

    finished: set[str] = set()   # explored without meeting a cycle
    for start in candidates:
        if start in finished:
            continue
        path, on_path, pending = [start], {start: 0}, [needs(start)]
        while pending:
            nxt = next(pending[-1], None)
            if nxt is None:
                pending.pop()
                finished.add(path[-1])
                del on_path[path.pop()]
                continue
            if nxt in on_path:
                # Shown the way data flows: each stage feeds the next.
                cycle = list(reversed(path[on_path[nxt]:] + [nxt]))
                where = where_text(pipeline.stages[cycle[0]].location)
                raise ExpError(f"{where}: stages form a cycle: {' -> '.join(cycle)}",
                               hint="a stage's deps must not be, directly or through other "
                                    "stages, its own outs")
            if nxt in finished:
                continue
            on_path[nxt] = len(path)
            path.append(nxt)
            pending.append(needs(nxt))
    raise ExpError("stages form a cycle")  # pragma: no cover - Kahn's leftovers always hold one
