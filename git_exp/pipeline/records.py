"""The records a parsed exp.yaml comes out as: Pipeline, Stage and Output,
and the keys the schema allows.

Plain frozen dataclasses with repo-relative, normalised paths, so everything
downstream (runner, status, show, plots, the DVC importer) reads them without
knowing about `wdir`, templates or YAML marks. spec.py makes them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

Reader = Callable[[str], Optional[str]]

TOP_KEYS = ("stages", "vars", "params", "metrics", "plots")
STAGE_KEYS = ("cmd", "wdir", "deps", "params", "outs", "metrics", "plots",
              "frozen", "always_changed", "desc", "vars", "meta")
OUT_OPTIONS = ("cache", "persist", "desc")
PLOT_PROPS = ("x", "y", "title", "template", "x_label", "y_label")


@dataclass(frozen=True)
class Output:
    path: str            # repo-relative, posix, normalised ("models", not "./models/")
    kind: str            # "out" | "metric" | "plot"
    cache: bool
    persist: bool
    is_dir_hint: bool    # the user wrote a trailing "/"
    plot: dict           # the plot properties given (x, y, title, template, x_label, y_label); {} unless a plot
    desc: Optional[str] = None
    location: Optional[tuple] = field(default=None, compare=False)   # (file, line, col) of the entry


@dataclass(frozen=True)
class Stage:
    name: str
    cmd: list
    wdir: str            # repo-relative posix, "." for root
    deps: list           # repo-relative posix
    params: dict         # repo-relative params file -> keys (None = whole file)
    outs: list           # all kinds, in declaration order
    frozen: bool
    always_changed: bool
    desc: Optional[str]
    location: tuple      # (file, line, col) of the stage's definition

    @property
    def group(self) -> str:
        """The name written in exp.yaml: 'train' for 'train@small'."""
        return self.name.split("@", 1)[0]

    @property
    def metrics(self) -> list:
        return [o for o in self.outs if o.kind == "metric"]

    @property
    def plots(self) -> list:
        return [o for o in self.outs if o.kind == "plot"]


@dataclass(frozen=True)
class Pipeline:
    path: str                 # repo-relative path of exp.yaml
    stages: dict              # name -> Stage, in file order (foreach/matrix expanded in place)
    params_files: list        # top-level params + every stage's params files, de-duplicated
    metrics: list             # top-level and stage metrics (Output), one per path
    plots: list               # top-level and stage plots (Output), one per path
