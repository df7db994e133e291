"""The files of the revisions a plot compares: the work tree, a run in
progress, commits - read the same way, whatever they are.

Files of commits come straight from Git through one `git cat-file --batch`
(git/catfile.py), a level of trees at a time for all commits together, and
each distinct blob is read and parsed once. A plot kept in the data cache
(`cache: true`) is found through the commit's exp.lock. A bad file of one
experiment (maybe hostile) leaves that experiment out of the plot only.
collect.py decides which plots and revisions; this module only reads.
"""
from __future__ import annotations

import os
import posixpath
from typing import Any, Optional, TYPE_CHECKING

from git_exp import bounded
from git_exp.errors import ExpError
from git_exp.plots import data as plot_data
from git_exp.git.catfile import CatFile, GitObject, Trees, parse_commit, parse_tree

if TYPE_CHECKING:
    from typing import Callable, TypeGuard

    from git_exp.plots.data import Table
    from git_exp.repo import Repository

_FILE_MODES = ("100644", "100755", "100664")
_DIR_MODE = "40000"
RUNNING_FILE_LIMIT = 64 << 20    # bytes of one plots file read from a run in progress


class RevisionFiles:
    """Reads the files of REVISIONS (a list of charts.Revision) of REPO by index."""

    def __init__(self, repo: Repository, revisions: list):
        self.repo = repo
        self.revisions = revisions
        self.warnings: list[str] = []
        self.unreadable: list[str] = []   # also in warnings; they make the command fail at the end
        self._objects: Optional[CatFile] = None
        self._trees: Optional[Trees] = None
        self._roots: dict[str, Optional[str]] = {}   # commit sha -> root tree oid
        self._times: dict[str, int] = {}
        self._entries: dict[tuple, Any] = {}      # (index, path) -> (mode, oid) | None
        self._blobs: dict[str, bytes | GitObject | None] = {}   # a GitObject: over the size limit
        self._tables: dict[tuple, Table | None] = {}
        self._locks: dict[str, dict] = {}
        self._cached: dict[str, bool] = {}            # plot path -> kept in the data cache
        self._read_commits()

    # ------------------------------------------------------------ revisions

    def _root(self, index: int) -> str:
        """Where the files of a revision without a commit are: the work tree, or a run's."""
        return self.revisions[index].root or self.repo.root

    def _read_commits(self) -> None:
        shas = [r.rev for r in self.revisions if r.rev]
        if not shas:
            return
        self._objects = CatFile(self.repo.root, max_blob=bounded.MAX_FILE_SIZE)
        self._trees = Trees(self._objects)
        for sha, obj in zip(shas, self._objects.read_many(shas)):
            if obj is None or obj.type != "commit":
                self._roots[sha] = None
                self._unreadable(f"{sha[:7]} does not name a commit; it has no plots")
                continue
            info = parse_commit(obj.data)
            self._roots[sha] = info.tree
            self._times[sha] = info.committer_time


    def _reader(self, index: int) -> Callable[[str], Optional[str]]:
        """READ for parse_pipeline: text of a file of revision INDEX, or None."""
        def read(path: str) -> Optional[str]:
            entry = self._entry(index, path)
            if not is_file_entry(entry):
                return None
            data = self._blob(entry[1], path)
            return data.decode("utf-8", "replace") if data is not None else None
        return read

    def _entry(self, index: int, path: str) -> tuple | None:
        """(mode, oid) of PATH in the commit of revision INDEX, or None."""
        key = (index, path)
        if key not in self._entries:
            self._resolve_paths([key])
        return self._entries[key]

    def _resolve_paths(self, keys: list) -> None:
        """Tree entries of (index, path) KEYS of commits, all in one batch."""
        asked = [(i, p) for i, p in keys if (i, p) not in self._entries]
        if not asked:
            return
        assert self._trees is not None   # only commits have tree entries, and they opened the reader
        found = self._trees.resolve([(self._roots.get(self.revisions[i].rev), p) for i, p in asked])
        for key, entry in zip(asked, found):
            self._entries[key] = entry

    def _resolve_all(self, outputs: list) -> None:
        """Find every plot path in every commit, and read their blobs in one batch."""
        if self._objects is None:
            return
        paths: list[str] = []
        for output in outputs:
            y = output.plot.get("y")
            paths.extend(y if isinstance(y, dict) else [output.path])
        keys = [(i, p) for i, r in enumerate(self.revisions) if r.rev for p in paths]
        self._resolve_paths(keys)
        oids = [e[1] for e in (self._entries[k] for k in keys) if is_file_entry(e)]
        self._fetch(oids)

    def _fetch(self, oids: list) -> None:
        wanted = list(dict.fromkeys(o for o in oids if o not in self._blobs))
        if not wanted:
            return
        assert self._objects is not None   # blobs are of commits, which opened the reader
        for oid, obj in zip(wanted, self._objects.read_many(wanted)):
            self._blobs[oid] = obj if obj is not None and obj.too_large else \
                obj.data if obj is not None and obj.type == "blob" else None

    def _blob(self, oid: str, path: str = "") -> Optional[bytes]:
        if oid not in self._blobs:
            self._fetch([oid])
        data = self._blobs[oid]
        if data is not None and not isinstance(data, bytes):   # skipped: over the size limit
            raise bounded.too_large(path or oid[:7], data.size)
        return data

    def _kind(self, index: int, path: str) -> Optional[str]:
        """'file', 'dir' or None for PATH in revision INDEX."""
        if self.revisions[index].rev is None:
            full = os.path.join(self._root(index), *path.split("/"))
            if os.path.isdir(full):
                return "dir"
            return "file" if os.path.isfile(full) else None
        entry = self._entry(index, path)
        if is_file_entry(entry):
            return "file"
        if entry is not None and entry[0] == _DIR_MODE:
            return "dir"
        return "file" if self._from_cache(index, path) is not None else None

    def _files_under(self, index: int, path: str) -> list:
        if self.revisions[index].rev is None:
            found: list[str] = []
            root = self._root(index)
            top = os.path.join(root, *path.split("/"))
            for folder, dirs, files in os.walk(top):
                dirs.sort()
                rel = os.path.relpath(folder, root).replace(os.sep, "/")
                found.extend(posixpath.join(rel, f) for f in sorted(files))
            return found
        found = []
        assert self._objects is not None   # a commit's folder: its reader is open
        entry = self._entry(index, path)
        assert entry is not None   # the caller found a folder there (_kind)
        pending = [(entry[1], path)]
        while pending:
            oid, prefix = pending.pop(0)
            obj = self._objects.read(oid)
            if obj is None or obj.type != "tree":
                continue
            for name, (mode, child) in sorted(parse_tree(obj.data, len(oid) // 2).items()):
                rel = f"{prefix}/{name}"
                if mode == _DIR_MODE:
                    pending.append((child, rel))
                elif mode in _FILE_MODES:
                    found.append(rel)
                    self._entries[(index, rel)] = (mode, child)
        return found

    def contents(self, index: int, path: str) -> Optional[bytes]:
        """The bytes of PATH in revision INDEX, or None when it has no such file."""
        if self.revisions[index].kind == "running":
            from git_exp.show.running import read_bounded
            return read_bounded(self.revisions[index].root, path, RUNNING_FILE_LIMIT)
        if self.revisions[index].rev is None:
            try:
                return bounded.read_file(self.repo.path(*path.split("/")), path)
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                return None
            except OSError as exc:
                raise ExpError(f"cannot read '{path}': {exc.strerror}") from None
        entry = self._entry(index, path)
        if is_file_entry(entry):
            return self._blob(entry[1], path)
        return self._from_cache(index, path)

    def _from_cache(self, index: int, path: str) -> Optional[bytes]:
        """A plots file the commit keeps in the data cache, through its exp.lock."""
        owner = next((p for p in self._cached if p == path or under(path, p)), None)
        if owner is None or not self._cached[owner]:
            return None
        lock = self._entry(index, "exp.lock")
        if not is_file_entry(lock):
            return None
        if lock[1] not in self._locks:
            from git_exp.pipeline.lock import parse_lock
            try:
                text = self._blob(lock[1], "exp.lock")
                stages = parse_lock(text.decode("utf-8", "replace")) if text else {}
            except ExpError:
                stages = {}
            self._locks[lock[1]] = {p: info for s in stages.values() for p, info in s.outs.items()}
        info = self._locks[lock[1]].get(path)
        if info is None or info.is_dir:
            return None
        from git_exp.data.cache import Cache
        try:
            stored = Cache(self.repo.exp_dir).object_path(info.hash)
        except ExpError:
            return None
        try:
            return bounded.read_file(stored, path)
        except OSError:
            return None

    def table_of(self, index: int, path: str, wanted: tuple) -> Table | None:
        if self.revisions[index].rev is None:
            key: tuple = (("workspace", self._root(index)), path, wanted)
        else:
            entry = self._entry(index, path)
            key = (entry[1] if is_file_entry(entry) else ("cache", index, path), path, wanted)
        if key not in self._tables:
            try:
                data = self.contents(index, path)
                self._tables[key] = None if data is None else plot_data.parse_table(data, path, wanted)
            except ExpError as exc:
                if self.revisions[index].rev is None:
                    raise   # the user's own file: theirs to fix, as before
                # One experiment's bad file (maybe hostile: an alias bomb, a
                # huge blob) leaves that experiment out of this plot only.
                self._unreadable(f"{exc.message} (in {self.revisions[index].describe()}); "
                                 "left out of the plot")
                self._tables[key] = None
        return self._tables[key]

    def _unreadable(self, message: str) -> None:
        self.unreadable.append(message)
        self.warnings.append(message)


def under(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip("/") + "/")


def is_file_entry(entry: tuple | None) -> TypeGuard[tuple]:
    return entry is not None and entry[0] in _FILE_MODES
