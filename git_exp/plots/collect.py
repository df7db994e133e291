"""Which plots, from which revisions: the core of `plots show` and `plots diff`.

The plots are those the revisions' own exp.yaml files declare (stage and
top-level `plots`), the union by path, the first declaration winning (the
workspace's when it is compared). The files of the revisions are read by
revfiles.py; the charts are built by charts.py.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import os
import posixpath

from git_exp.errors import ExpError
from git_exp.experiments import refs as exp_refs
from git_exp.experiments.manage import head_sha, labels_for
from git_exp.experiments.resolve import resolve_revision
from git_exp.names import PIPELINE_FILE
from git_exp.pipeline.records import Output, Pipeline
from git_exp.plots import data as plot_data
from git_exp.plots.charts import (PlotResult, PlotSpec, Revision, Section, build_section,
                                  image_section, template_of)
from git_exp.plots.revfiles import RevisionFiles, is_file_entry, under

if TYPE_CHECKING:
    from git_exp.plots.charts import Missing
    from git_exp.repo import Repository

WORKSPACE = "workspace"


def show(repo: Repository, targets: list | None = None) -> PlotResult:
    """The plots of the work tree (only those under TARGETS, when given)."""
    revisions = [Revision(WORKSPACE, None, "workspace")]
    return _Collector(repo, revisions).run(_targets(repo, targets or []), strict=True)


def diff(repo: Repository, specs: list | None = None, targets: list | None = None) -> PlotResult:
    """The plots of each revision SPECS names, overlaid.

    SPECS are experiments (name, sha prefix, ref), Git revisions or
    `workspace`. By default: the workspace and HEAD's experiments, newest
    first, or the workspace and HEAD when HEAD has none.
    """
    every = exp_refs.list_refs(repo.root)
    if specs:
        revisions = _unique([revision_of(repo, s, every) for s in specs])
        return _Collector(repo, revisions).run(_targets(repo, targets or []), strict=False)
    head = head_sha(repo)
    revisions = [Revision(WORKSPACE, None, "workspace")]
    revisions += [r for base, r in running_revisions(repo) if base in (None, head)]
    mine = [r for r in every if r.baseline == head] if head else []
    if mine:
        revisions += [Revision(r.name, r.sha, "experiment") for r in mine]
    elif head:
        revisions.append(Revision(labels_for(repo, {head})[head], head, "commit"))
    collector = _Collector(repo, _unique(revisions))
    collector.newest_first()
    return collector.run(_targets(repo, targets or []), strict=False)


def running_revisions(repo: Repository) -> list:
    """(baseline or None, Revision) of each run in progress whose files are on this
    machine: its curves so far are drawn from the work tree it writes them in."""
    from git_exp.show.pending import pending
    found = []
    for entry in pending(repo):
        if entry.state == "running" and entry.root and os.path.isdir(entry.root):
            found.append((entry.baseline, Revision(entry.name, None, "running", entry.root)))
    return found


def revision_of(repo: Repository, spec: str, every: list) -> Revision:
    """What SPEC names: the workspace, an experiment (its name wins over a
    branch of the same name, as this is about experiments), a run in
    progress, or a commit."""
    if spec == WORKSPACE:
        return Revision(WORKSPACE, None, "workspace")
    if not any(r.name == spec for r in every):
        running = [r for _, r in running_revisions(repo) if r.name == spec]
        if running:
            return running[0]
    sha, found = resolve_revision(repo, spec, every)
    if found is not None:
        return Revision(found.name, sha, "experiment")
    return Revision(spec, sha, "commit")


def _unique(revisions: list) -> list:
    """Each revision once; two experiments of one name get their short sha added."""
    seen: dict = {}
    for revision in revisions:
        seen.setdefault((revision.kind == "workspace", revision.rev, revision.root), revision)
    kept = list(seen.values())
    names = [r.name for r in kept]
    return [Revision(f"{r.name} ({r.rev[:7]})", r.rev, r.kind, r.root)
            if r.rev and names.count(r.name) > 1 else r for r in kept]


def _targets(repo: Repository, targets: list) -> list:
    """TARGETS, given relative to the current directory, as repo-relative paths."""
    out = []
    for target in targets:
        full = os.path.abspath(target)
        rel = os.path.relpath(full, repo.root).replace(os.sep, "/")
        if rel == ".." or rel.startswith("../"):
            raise ExpError(f"'{target}' is outside the repository at {repo.root}")
        out.append(posixpath.normpath(rel))
    return out


class _Collector(RevisionFiles):
    """Which plots the revisions declare, and their sections (charts.py builds them)."""

    def __init__(self, repo: Repository, revisions: list):
        super().__init__(repo, revisions)
        self._declared: set = set()   # paths declared on their own, keeping their own options

    def newest_first(self) -> None:
        """Experiments newest first, as `git exp show` lists them; the workspace stays first."""
        head = [r for r in self.revisions if r.kind != "experiment"]
        exps = [r for r in self.revisions if r.kind == "experiment"]
        exps.sort(key=lambda r: (-self._times.get(r.rev, 0), r.name))
        self.revisions = head + exps

    def run(self, targets: list, strict: bool) -> PlotResult:
        try:
            outputs = self._outputs(strict, need_pipeline=strict and not targets)
            outputs = self._select(outputs, targets)
            if not outputs:
                raise ExpError("no plots to show: exp.yaml declares none",
                               hint="list plots files under 'plots:' of a stage or at the top level "
                                    "of exp.yaml, or name a file: git exp plots show logs.csv")
            self._resolve_all(outputs)
            # A file declared on its own keeps its own options, not its folder's.
            self._declared = {o.path for o in outputs}
            sections = []
            for output in outputs:
                sections.extend(self._sections(output))
            _unique_ids(sections)
            return PlotResult(self.revisions, sections, self.warnings, self.unreadable)
        finally:
            if self._objects is not None:
                self._objects.close()

    # ------------------------------------------------------ plot definitions

    def _outputs(self, strict: bool, need_pipeline: bool) -> list:
        from git_exp.pipeline.spec import load_pipeline, parse_pipeline
        found: dict = {}
        parsed: dict[str, Pipeline] = {}   # exp.yaml blob -> Pipeline, when it reads no other file
        for index, revision in enumerate(self.revisions):
            try:
                if revision.kind == "running":
                    from git_exp.show.running import bounded_reader
                    # Written by code that is running now: read with limits, no symlinks.
                    pipeline = load_pipeline(revision.root, PIPELINE_FILE, bounded_reader(revision.root))
                elif revision.rev is None:
                    if not os.path.exists(self.repo.path(PIPELINE_FILE)):
                        if need_pipeline:
                            raise ExpError(f"no {PIPELINE_FILE} in {self.repo.root}",
                                           hint="run 'git exp init' to create one")
                        continue
                    pipeline = load_pipeline(self.repo.root, PIPELINE_FILE)
                else:
                    entry = self._entry(index, PIPELINE_FILE)
                    if not is_file_entry(entry):
                        continue
                    blob = self._blob(entry[1], PIPELINE_FILE)
                    if blob is None:
                        continue
                    text = blob.decode("utf-8", "replace")
                    # A templated exp.yaml reads params files of its own commit.
                    templated = "${" in text or "vars" in text
                    known = None if templated else parsed.get(entry[1])
                    if known is not None:
                        pipeline = known
                    else:
                        pipeline = parse_pipeline(text, self.repo.root, PIPELINE_FILE,
                                                  self._reader(index))
                        if not templated:
                            parsed[entry[1]] = pipeline
            except ExpError as exc:
                if strict:
                    raise
                self.warnings.append(f"{exc.message} (in {revision.describe()}); its plots are not "
                                     "declared there")
                continue
            for output in pipeline.plots:
                if output.path not in found:
                    found[output.path] = output
                    self._cached[output.path] = bool(output.cache)
        return list(found.values())

    def _select(self, outputs: list, targets: list) -> list:
        """The plots TARGETS name; a target declared nowhere is plotted with default options."""
        if not targets:
            return outputs
        chosen: list[Output] = []
        for target in targets:
            hits = []
            for output in outputs:
                files = list(output.plot["y"]) if isinstance(output.plot.get("y"), dict) else []
                if output.path == target or target in files or under(output.path, target):
                    hits.append(output)
                elif under(target, output.path):   # one file of a plots folder
                    hits.append(Output(target, "plot", output.cache, False, False, output.plot,
                                       None, output.location))
            if not hits:
                hits = [Output(target, "plot", False, False, False, {}, None, None)]
            chosen.extend(h for h in hits if h not in chosen)
        return chosen
    # -------------------------------------------------------------- sections

    def _sections(self, output: Output) -> list:
        where = _where(output.location)
        options = output.plot
        template = template_of(options.get("template"), where, output.path)
        common: dict[str, Any] = dict(title=options.get("title"), template=template, x_label=options.get("x_label"),
                      y_label=options.get("y_label"), where=where)
        y, x = options.get("y"), options.get("x")
        if isinstance(y, dict):
            files = tuple(y)
            for f in files:
                if plot_data.kind_of(f) != "data":
                    raise ExpError(f"{where + ': ' if where else ''}{f} in 'y' of the plot "
                                   f"{output.path} is not a data file", hint=plot_data.KINDS_HINT)
            spec = PlotSpec(output.path, files, {f: _fields(v) for f, v in y.items()},
                            _x_for(x, files), combined=True, **common)
            return [build_section(spec, self.revisions, self.table_of)]

        kinds = {i: self._kind(i, output.path) for i in range(len(self.revisions))}
        if "dir" in kinds.values():
            in_folders: dict[str, None] = {}
            for i, kind in kinds.items():
                if kind == "dir":
                    in_folders.update(dict.fromkeys(self._files_under(i, output.path)))
            plottable = [f for f in sorted(in_folders)
                         if plot_data.kind_of(f) is not None and f not in self._declared]
            if self._objects is not None:
                self._fetch([self._entries[(i, f)][1] for i in kinds for f in plottable
                             if is_file_entry(self._entries.get((i, f)))])
        else:
            plottable = [output.path]
            if plot_data.kind_of(output.path) is None and "file" in kinds.values():
                raise ExpError(f"{where + ': ' if where else ''}cannot plot {output.path}: "
                               f"unknown file type", hint=plot_data.KINDS_HINT)
        sections = []
        for path in plottable:
            if plot_data.kind_of(path) == "image":
                sections.append(image_section(path, self.revisions, self.contents))
            elif plot_data.kind_of(path) == "data":
                spec = PlotSpec(path, (path,), {path: _fields(y)} if y is not None else {},
                                _x_for(x, (path,)), **common)
                sections.append(build_section(spec, self.revisions, self.table_of))
            else:   # declared, found nowhere, and not a file name we know: missing everywhere
                section = Section(path, "data")
                section.missing = [_missing(r, f"no {path}") for r in self.revisions]
                sections.append(section)
        return sections


def _unique_ids(sections: list) -> None:
    """Chart ids name files and DOM elements: make the rare repeat unique."""
    seen: set = set()
    for chart in (c for s in sections for c in s.charts):
        base, number = chart.id, 1
        while chart.id in seen:
            number += 1
            chart.id = f"{base}#{number}"
        seen.add(chart.id)


def _missing(revision: Revision, reason: str) -> Missing:
    from git_exp.plots.charts import Missing
    return Missing(revision.name, revision.rev, reason)


def _fields(value: str | list) -> tuple:   # a plot's y: one column, or a list of them
    return (value,) if isinstance(value, str) else tuple(value)


def _x_for(x: str | dict | None, files: tuple) -> dict:
    """x per file: one column for all, or a {file: column} mapping (its only
    column when a file is not listed: x keys are written relative to wdir)."""
    if x is None:
        return {}
    if isinstance(x, str):
        return {f: x for f in files}
    values = list(x.values())
    out = {}
    for f in files:
        column = x.get(f) or next((v for k, v in x.items() if posixpath.normpath(k) == f
                                   or f.endswith("/" + posixpath.normpath(k))), None)
        if column is None and len(set(values)) == 1:
            column = values[0]
        if column is not None:
            out[f] = column
    return out

def _where(location: tuple | None) -> str:
    if not location:
        return ""
    file, line, col = location
    return f"{file}:{line}:{col}"

