"""The records a parsed exp.yaml comes out as: Pipeline, Stage and Output,
and the keys the schema allows.

Plain immutable records with repo-relative, normalised paths, so everything
downstream (runner, status, show, plots, the DVC importer) reads them without
knowing about `wdir`, templates or YAML marks. spec.py makes them.
"""
from __future__ import annotations

from git_exp.plainclass import Frozen

TYPE_CHECKING = False   # typing's, without importing typing on run's path (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Callable, Optional

    Reader = Callable[[str], Optional[str]]

TOP_KEYS = ("stages", "vars", "params", "metrics", "plots")
STAGE_KEYS = ("cmd", "wdir", "deps", "params", "outs", "metrics", "plots",
              "frozen", "always_changed", "desc", "vars", "meta")
OUT_OPTIONS = ("cache", "persist", "desc")
PLOT_PROPS = ("x", "y", "title", "template", "x_label", "y_label")


class Output(Frozen):
    __slots__ = ("path", "kind", "cache", "persist", "is_dir_hint", "plot", "desc", "location")
    COMPARED = __slots__[:-1]   # not where it was written
    path: str            # repo-relative, posix, normalised ("models", not "./models/")
    kind: str            # "out" | "metric" | "plot"
    cache: bool
    persist: bool
    is_dir_hint: bool    # the user wrote a trailing "/"
    plot: dict           # the plot properties given (x, y, title, template, x_label, y_label); {} unless a plot
    desc: Optional[str]
    location: Optional[tuple]   # (file, line, col) of the entry

    def __init__(self, path: str, kind: str, cache: bool, persist: bool, is_dir_hint: bool,
                 plot: dict, desc: Optional[str] = None, location: Optional[tuple] = None):
        self._init(path=path, kind=kind, cache=cache, persist=persist, is_dir_hint=is_dir_hint,
                   plot=plot, desc=desc, location=location)


class Stage(Frozen):
    __slots__ = ("name", "cmd", "wdir", "deps", "params", "outs", "frozen", "always_changed",
                 "desc", "location")
    COMPARED = __slots__
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

    def __init__(self, name: str, cmd: list, wdir: str, deps: list, params: dict, outs: list,
                 frozen: bool, always_changed: bool, desc: Optional[str], location: tuple):
        self._init(name=name, cmd=cmd, wdir=wdir, deps=deps, params=params, outs=outs,
                   frozen=frozen, always_changed=always_changed, desc=desc, location=location)

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


class Pipeline(Frozen):
    __slots__ = ("path", "stages", "params_files", "metrics", "plots")
    COMPARED = __slots__
    path: str                 # repo-relative path of exp.yaml
    stages: dict              # name -> Stage, in file order (foreach/matrix expanded in place)
    params_files: list        # top-level params + every stage's params files, de-duplicated
    metrics: list             # top-level and stage metrics (Output), one per path
    plots: list               # top-level and stage plots (Output), one per path

    def __init__(self, path: str, stages: dict, params_files: list, metrics: list, plots: list):
        self._init(path=path, stages=stages, params_files=params_files, metrics=metrics, plots=plots)
