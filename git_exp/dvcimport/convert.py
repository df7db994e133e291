"""One tree of a DVC project (the work tree, or a commit) as git-exp's files.

dvc.yaml becomes exp.yaml, dvc.lock becomes exp.lock, and every `.dvc` file
a pointer `PATH.exp`. exp.lock is built the way our runner would write it
(stages in pipeline order, params flattened and selected by the stage's
keys, outs in declaration order), from what dvc.lock recorded, with each
MD5 turned into our SHA-256 by the object importer: so after an import of
an up-to-date DVC project `git exp run` has nothing to run. A dep or out
whose object cannot be had is left out of the stage's entry (the stage
then runs again) and named in the report.
"""
from __future__ import annotations

import os
import posixpath
from typing import TYPE_CHECKING, Callable, cast
from dataclasses import dataclass, field

from git_exp.dvcimport import dvcfiles
from git_exp.dvcimport.objects import DvcObjects
from git_exp.errors import ExpError
from git_exp.git import git
from git_exp.names import PIPELINE_FILE as EXP_YAML

if TYPE_CHECKING:
    from git_exp.pipeline.records import Pipeline


class Tree:
    """The files of what is being converted; READ gives bytes or None."""

    label = ""
    root: str   # the repository the files belong to

    def paths(self) -> list[str]:
        raise NotImplementedError

    def read(self, relpath: str) -> bytes | None:
        raise NotImplementedError

    def fallback(self, relpath: str) -> str | bytes | None:
        """What the tree itself can offer for a data path DVC's cache lacks."""
        return self.read(relpath)

    def text_reader(self) -> Callable[[str], str | None]:
        def read(relpath: str) -> str | None:
            data = self.read(relpath)
            return None if data is None else data.decode("utf-8", "replace")
        return read


class WorkTree(Tree):
    label = "work tree"

    def __init__(self, root: str):
        self.root = root

    def paths(self) -> list[str]:
        out = git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=self.root).stdout
        return sorted({p for p in out.decode("utf-8", "surrogateescape").split("\0") if p})

    def _full(self, relpath: str) -> str:
        return os.path.join(self.root, *relpath.split("/"))

    def read(self, relpath: str) -> bytes | None:
        path = self._full(relpath)
        if os.path.islink(path) or not os.path.isfile(path):
            return None
        if os.path.getsize(path) > dvcfiles.MAX_FILE_SIZE:
            return None
        with open(path, "rb") as fh:
            return fh.read()

    def fallback(self, relpath: str) -> str | None:   # the file's path: imported without reading it whole
        path = self._full(relpath)
        return path if os.path.lexists(path) and not os.path.islink(path) else None


class CommitTree(Tree):
    def __init__(self, root: str, sha: str):
        self.root = root
        self.sha = sha
        self.label = f"commit {sha[:7]}"
        self._paths: list[str] | None = None

    def paths(self) -> list[str]:
        if self._paths is None:
            out = git(["ls-tree", "-r", "-z", "--name-only", self.sha], cwd=self.root).stdout
            self._paths = [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]
        return self._paths

    def read(self, relpath: str) -> bytes | None:
        if relpath not in set(self.paths()):
            return None
        proc = git(["cat-file", "blob", f"{self.sha}:{relpath}"], cwd=self.root, check=False)
        return proc.stdout if proc.returncode == 0 else None


@dataclass
class Converted:
    files: dict[str, bytes] = field(default_factory=dict)     # relpath -> content to write
    cached_paths: list[str] = field(default_factory=list)     # data paths .gitignore must list
    notes: list[str] = field(default_factory=list)
    has_pipeline: bool = False


def convert_tree(tree: Tree, objects: DvcObjects) -> Converted:
    result = Converted()
    paths = tree.paths()
    for relpath in paths:
        if dvcfiles.is_dvc_file(relpath):
            _pointer(tree, relpath, objects, result)
        elif relpath.endswith("/" + dvcfiles.DVC_YAML):
            result.notes.append(f"{relpath}: only the top-level dvc.yaml is converted (git-exp reads "
                                "one exp.yaml); move its stages into dvc.yaml and import again")
    data = tree.read(dvcfiles.DVC_YAML)
    if data is None:
        return result
    result.has_pipeline = True
    pipeline_bytes, dropped = dvcfiles.convert_pipeline(data)
    result.notes.extend(dropped)
    result.files[EXP_YAML] = pipeline_bytes
    pipeline = _parse_ours(tree, pipeline_bytes)
    for stage in pipeline.stages.values():
        result.cached_paths.extend(o.path for o in stage.outs if o.cache)
    lock = tree.read(dvcfiles.DVC_LOCK)
    if lock is not None:
        from git_exp.pipeline.lock import LOCK_FILE
        result.files[LOCK_FILE] = _lock(tree, pipeline, lock, objects, result).encode("utf-8")
    return result


def _parse_ours(tree: Tree, pipeline_bytes: bytes) -> Pipeline:
    from git_exp.pipeline.spec import parse_pipeline
    try:
        return parse_pipeline(pipeline_bytes.decode("utf-8"), tree.root, EXP_YAML, read=tree.text_reader())
    except ExpError as err:
        raise ExpError(f"dvc.yaml of the {tree.label} cannot be converted: "
                       f"{err.message.replace(EXP_YAML, dvcfiles.DVC_YAML, 1)}",
                       hint=err.hint or "fix dvc.yaml (dvc repro checks it too), then import again") from None


def _pointer(tree: Tree, relpath: str, objects: DvcObjects, result: Converted) -> None:
    from git_exp.data.pointer import format_pointer, pointer_path_of
    data = tree.read(relpath)
    if data is None:
        return
    outs, notes = dvcfiles.parse_dvc_file(data, relpath)
    result.notes.extend(notes)
    for out in outs:
        info = objects.resolve(out, tree.fallback)
        if info is None:
            result.notes.append(f"{relpath}: no pointer for '{out.path}': its data is not in DVC's cache")
            continue
        result.files[pointer_path_of(out.path)] = format_pointer(info).encode("utf-8")
        result.cached_paths.append(out.path)


def _lock(tree: Tree, pipeline: Pipeline, data: bytes, objects: DvcObjects, result: Converted) -> str:
    from git_exp.params.read import flatten, select
    from git_exp.pipeline.lock import StageLock, dump_lock
    dvc = dvcfiles.parse_lock(data, {name: stage.wdir for name, stage in pipeline.stages.items()})
    entries = {}
    for name, stage in pipeline.stages.items():
        recorded = dvc.get(name)
        if recorded is None:
            continue
        deps = _infos(stage.deps, recorded.deps, tree, objects, name, result)
        outs = _infos([o.path for o in stage.outs], recorded.outs, tree, objects, name, result)
        params = {}
        for relfile, keys in stage.params.items():
            values = select(flatten(_nested(recorded.params.get(relfile) or {})), keys)
            if values:
                params[relfile] = values
        cmd = recorded.cmd if recorded.cmd is not None else stage.cmd
        entries[name] = StageLock(cmd=[cmd] if isinstance(cmd, str) else list(cast(list, cmd)),
                                  deps=deps, params=params, outs=outs)
    return dump_lock(entries, list(pipeline.stages))


def _nested(values: dict) -> dict:
    """dvc.lock's params as a params file holds them: DVC writes each tracked key as
    its dotted path (`prepare.scale: 2`), which is a path, not a key with a dot."""
    nested: dict = {}
    for key, value in values.items():
        parts = str(key).split(".")
        where = nested
        for part in parts[:-1]:
            child = where.get(part)
            if not isinstance(child, dict):
                child = where[part] = {}
            where = child
        where[parts[-1]] = value
    return nested


def _infos(paths: list[str], recorded: dict, tree: Tree, objects: DvcObjects, stage: str, result: Converted) -> dict:
    infos = {}
    for path in paths:
        out = recorded.get(posixpath.normpath(path))
        if out is None:
            continue
        info = objects.resolve(out, tree.fallback)
        if info is None:
            result.notes.append(f"stage '{stage}': '{path}' is left out of exp.lock ({tree.label}): "
                                "its data cannot be found, so the stage will run again")
            continue
        infos[path] = info
    return infos
