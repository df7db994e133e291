"""The params, metrics, date and state of commits, and of the work tree.

Which files hold params and metrics is what each commit's own exp.yaml says
(plus the default params.yaml), so an old commit shows what it had then.
Commits are read straight from Git through one `git cat-file --batch`; the
work tree row reads files on disk, remembered while their stat holds
(workmemo.py). Everything read from a commit goes into the memo (memo.py),
so only commits never seen before cost anything. Within
one run each distinct blob - an exp.yaml, a params file - is parsed once,
however many commits share it: most experiments share their exp.yaml and
many share params files.
"""
from __future__ import annotations

import datetime as _dt
import posixpath
from dataclasses import dataclass, field

from git_exp import bounded
from git_exp.errors import ExpError
from git_exp.experiments.record import parse_trailers
from git_exp.params import read as params_read
from git_exp.git.catfile import CatFile, GitObject, Trees, parse_commit
from git_exp.show.memo import Memo
from git_exp.names import PIPELINE_FILE
from git_exp.names import PARAMS_FILE as DEFAULT_PARAMS

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.filewatch import Watch
    from git_exp.pipeline.records import Pipeline, Reader
    from git_exp.repo import Repository



@dataclass
class CommitData:
    sha: str | None                     # None for the work tree
    parent: str | None = None           # first parent
    created: str | None = None          # ISO 8601 committer date, in the committer's zone
    timestamp: int = 0                  # seconds since the epoch, for ordering
    state: str | None = None            # the Exp-Status trailer, if any
    params: dict = field(default_factory=dict)    # file -> {flat key: value}
    metrics: dict = field(default_factory=dict)   # file -> {flat key: value}
    errors: list = field(default_factory=list)    # problems met reading it, as messages
    message: str | None = None          # the user's words: an experiment's -m, a commit's subject

    def to_entry(self) -> dict:
        return {"parent": self.parent, "created": self.created, "timestamp": self.timestamp,
                "state": self.state, "params": self.params, "metrics": self.metrics,
                "errors": self.errors, "message": self.message}

    @classmethod
    def from_entry(cls, sha: str, entry: dict) -> "CommitData | None":
        """A memo entry back as data, or None when it is not one we wrote."""
        try:
            # An entry without "message" was written before messages were
            # shown: KeyError, so the commit is read again once.
            data = cls(sha, entry["parent"], entry["created"], int(entry["timestamp"]),
                       entry["state"], entry["params"], entry["metrics"], entry["errors"],
                       entry["message"])
        except (KeyError, TypeError, ValueError):
            return None
        if not (isinstance(data.params, dict) and isinstance(data.metrics, dict)
                and isinstance(data.errors, list)
                and (data.message is None or isinstance(data.message, str))
                and all(isinstance(v, dict) for v in data.params.values())
                and all(isinstance(v, dict) for v in data.metrics.values())):
            return None
        return data


def user_message(message: str, ours: bool) -> str | None:
    """What the user wrote: for an experiment (OURS: it has our trailers) the
    paragraphs between our subject and the trailers (run -m), else None; for
    any other commit its subject line."""
    paragraphs = [p for p in message.strip().split("\n\n") if p.strip()]
    if not paragraphs:
        return None
    if not ours:
        return paragraphs[0].splitlines()[0].strip()[:200] or None
    middle = "\n\n".join(p.strip() for p in paragraphs[1:-1])
    return middle[:4096] or None


def iso_date(timestamp: int, tz: str) -> str:
    """Git's `+0130` zone as ISO 8601: 2024-05-01T12:00:00+01:30."""
    try:
        sign = -1 if tz.startswith("-") else 1
        offset = _dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])) * sign
        zone = _dt.timezone(offset)
    except (ValueError, IndexError):
        zone = _dt.timezone.utc
    return _dt.datetime.fromtimestamp(timestamp, zone).isoformat()


def plain(value: object) -> object:
    """VALUE as JSON can hold it: YAML and TOML dates become ISO text."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {params_read.key_text(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


def parse_values(text: str, path: str) -> dict:
    """Flat {key: value} of a params or metrics file's TEXT; ExpError when it is not one."""
    flat = params_read.flatten(params_read.parse(text, params_read.fmt_of(path), path))
    return {k: plain(v) for k, v in flat.items()}


@dataclass(frozen=True)
class FileLayout:
    """Where one commit keeps its params and metrics."""
    params_files: tuple
    metrics_files: tuple
    error: str | None = None


def layout_of(pipeline: Pipeline) -> FileLayout:
    base = posixpath.dirname(pipeline.path)
    default = posixpath.normpath(posixpath.join(base or ".", DEFAULT_PARAMS))
    params = list(dict.fromkeys([default, *pipeline.params_files]))
    return FileLayout(tuple(params), tuple(o.path for o in pipeline.metrics))


NO_PIPELINE = FileLayout((DEFAULT_PARAMS,), ())


class CommitReader:
    """Reads commits once (memo) and blobs once per run (by object id)."""

    def __init__(self, repo: Repository):
        self.repo = repo
        self.memo = Memo(repo.exp_dir)
        self._texts: dict[str, bytes | GitObject | None] = {}  # blob oid -> contents, read but not parsed yet
        self._values: dict[str, dict | str] = {}  # blob oid -> flat dict, or an error message
        self._layouts: dict[str, list] = {}      # exp.yaml oid -> [(deps, FileLayout)]
        self.seen_workspace: CommitData | None = None   # the workspace row last read

    # ------------------------------------------------------------- commits

    def read(self, shas: list[str]) -> dict[str, CommitData]:
        found: dict[str, CommitData] = {}
        missing = []
        for sha in dict.fromkeys(shas):
            entry = self.memo.get(sha)
            data = CommitData.from_entry(sha, entry) if entry is not None else None
            if data is None:
                missing.append(sha)
            else:
                found[sha] = data
        if missing:
            with CatFile(self.repo.root, max_blob=bounded.MAX_FILE_SIZE) as objects:
                for sha, data in self._read_from_git(objects, missing).items():
                    found[sha] = data
                    self.memo.put(sha, data.to_entry())
            self.memo.save()
        return found

    def _read_from_git(self, objects: CatFile, shas: list[str]) -> dict[str, CommitData]:
        trees = Trees(objects)
        datas: dict[str, CommitData] = {}
        roots: dict[str, str] = {}
        for sha, obj in zip(shas, objects.read_many(shas)):
            if obj is None or obj.type != "commit":
                continue  # not a commit (a ref to a blob, or pruned): nothing to show
            info = parse_commit(obj.data)
            trailers = parse_trailers(info.message)
            datas[sha] = CommitData(
                sha, info.parents[0] if info.parents else None,
                iso_date(info.committer_time, info.committer_tz), info.committer_time,
                next(iter(trailers.get("Exp-Status") or []), None),
                message=user_message(info.message, bool(trailers)))
            roots[sha] = info.tree

        commits = list(datas)
        pipes = trees.resolve([(roots[sha], PIPELINE_FILE) for sha in commits])
        self._fetch([e[1] for e in pipes if e is not None and _is_blob(e) and e[1] not in self._texts],
                    objects)
        layouts: dict[str, FileLayout] = {}
        for sha, entry in zip(commits, pipes):
            layouts[sha] = self._layout(objects, trees, roots[sha], entry)
            if layouts[sha].error:
                datas[sha].errors.append(layouts[sha].error)

        wanted = [(sha, kind, path) for sha, layout in layouts.items()
                  for kind, paths in (("params", layout.params_files), ("metrics", layout.metrics_files))
                  for path in paths]
        entries = trees.resolve([(roots[sha], path) for sha, _, path in wanted])
        self._fetch([e[1] for e in entries if e is not None and _is_blob(e) and e[1] not in self._values],
                    objects)
        for (sha, kind, path), entry in zip(wanted, entries):
            if entry is None or not _is_blob(entry):
                continue  # not in this commit (or a folder): nothing to show, not an error
            values = self._blob_values(entry[1], path)
            if isinstance(values, str):
                datas[sha].errors.append(values)
            else:
                getattr(datas[sha], kind)[path] = values
        return datas

    def _fetch(self, oids: list[str], objects: CatFile) -> None:
        """Read the blobs not seen yet in one batch; their text waits in _texts."""
        oids = list(dict.fromkeys(o for o in oids if o not in self._texts))
        for oid, obj in zip(oids, objects.read_many(oids)):
            self._texts[oid] = obj if obj is not None and obj.too_large else \
                obj.data if obj is not None else None

    def _blob_values(self, oid: str, path: str) -> dict | str:
        """Flat values of a blob, parsed once per blob id (an error message if it is no data file)."""
        if oid not in self._values:
            data = self._texts.pop(oid, None)
            if data is None:
                return f"{path}: cannot read blob {oid[:7]}"
            if not isinstance(data, bytes):   # a GitObject too large to read
                self._values[oid] = bounded.too_large(path, data.size).message
                return self._values[oid]
            try:
                self._values[oid] = parse_values(data.decode("utf-8"), path)
            except UnicodeDecodeError:
                self._values[oid] = f"{path}: not UTF-8 text"
            except ExpError as exc:
                self._values[oid] = exc.message
        return self._values[oid]

    def _layout(self, objects: CatFile, trees: Trees, root: str, entry: tuple | None) -> FileLayout:
        """The files exp.yaml names, parsed once per distinct exp.yaml (and what it read)."""
        if entry is None or not _is_blob(entry):
            return NO_PIPELINE
        oid = entry[1]
        for known, layout in self._layouts.get(oid, []):
            # A templated exp.yaml also read params.yaml or vars files: reuse
            # the parse only where those files are the same blobs too.
            found = trees.resolve([(root, p) for p in known])
            if [e[1] if e else None for e in found] == list(known.values()):
                return layout
        deps: dict[str, str | None] = {}

        def read(relpath: str) -> str | None:
            (found,) = trees.resolve([(root, relpath)])
            deps[relpath] = found[1] if found else None
            if found is None or not _is_blob(found):
                return None
            self._fetch([found[1]], objects)
            data = self._texts.get(found[1])
            if data is not None and not isinstance(data, bytes):
                raise bounded.too_large(relpath, data.size)
            return data.decode("utf-8", "replace") if data is not None else None

        from git_exp.pipeline.spec import parse_pipeline
        text = self._texts.get(oid)
        try:
            if text is None:
                raise ExpError(f"{PIPELINE_FILE}: cannot read blob {oid[:7]}")
            if not isinstance(text, bytes):
                raise bounded.too_large(PIPELINE_FILE, text.size)
            layout = layout_of(parse_pipeline(text.decode("utf-8", "replace"),
                                              self.repo.root, PIPELINE_FILE, read))
        except ExpError as exc:
            layout = FileLayout(NO_PIPELINE.params_files, (), exc.message)
        self._layouts.setdefault(oid, []).append((deps, layout))
        return layout

    # ----------------------------------------------------------- work tree

    def workspace(self) -> CommitData:
        """The work tree as it is now, remembered only while the files it came from keep their stat."""
        from git_exp.filewatch import Watch
        from git_exp.show.workmemo import WorkspaceMemo
        memo = WorkspaceMemo(self.repo.exp_dir, self.repo.root)
        known = memo.get()
        if known is not None:
            data = CommitData(None, params=known["params"], metrics=known["metrics"],
                              errors=known["errors"])
        else:
            watch = Watch(self.repo.root)
            data = self._read_workspace(watch)
            memo.put(watch, {"params": data.params, "metrics": data.metrics, "errors": data.errors})
        self.seen_workspace = data
        return data

    def _read_workspace(self, watch: Watch) -> CommitData:
        from git_exp.pipeline.spec import load_pipeline, work_tree_reader
        data = CommitData(None)
        read = watch.reader(work_tree_reader(self.repo.root))
        try:
            layout = layout_of(load_pipeline(self.repo.root, PIPELINE_FILE, read,
                                             check_links=True, checked=watch.checked))
        except ExpError as exc:
            has_pipeline = _exists(read, PIPELINE_FILE)
            layout = FileLayout(NO_PIPELINE.params_files, (), exc.message if has_pipeline else None)
        if layout.error:
            data.errors.append(layout.error)
        for kind, paths in (("params", layout.params_files), ("metrics", layout.metrics_files)):
            for path in paths:
                if watch.isdir(path):
                    continue  # a metrics folder: nothing we can tabulate, as for commits
                try:
                    text = read(path)
                    if text is not None:
                        getattr(data, kind)[path] = parse_values(text, path)
                except ExpError as exc:
                    data.errors.append(exc.message)
        return data


def _is_blob(entry: tuple | None) -> bool:
    """A tree entry that is a file's contents (symlinks and submodules are not)."""
    return entry is not None and entry[0] in ("100644", "100755", "100664")


def _exists(read: Reader, path: str) -> bool:
    try:
        return read(path) is not None
    except ExpError:
        return True
