"""`git exp ls` and `git exp get`: the files and data of another repository's commit.

A path of that commit is a Git-tracked file or folder, a data path its
pointers or exp.lock record (a file or a folder), a file or folder inside a
data folder (found through the folder's manifest, fetched alone and
verified), or a folder that only holds data (a stage's outs under
`models/`). `get` writes OUT whole or not at all: everything goes to a
hidden name beside OUT first and is renamed into place once complete, and
without `force` an existing OUT is never replaced (a file is published
with link(), which refuses to overwrite). Data objects come from the
user's own cache when the current directory is in a git-exp repository
that has them, else from the foreign data remote into the temporary clone's
cache, verified as every transfer is.
"""
from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from git_exp.relpaths import path_problem as check_relpath
from git_exp.errors import ExpError

if TYPE_CHECKING:
    from git_exp.data.cache import Cache
    from git_exp.remotes.transfer import Progress
    from git_exp.sharing.foreign import Foreign

MAX_MANIFEST = 256 * 1024 * 1024
_FILE_MODES = ("100644", "100755")


@dataclass
class Entry:
    path: str
    kind: str                     # "file", "dir" or "link" (a Git symlink: listed, never written)
    data: bool = False            # recorded data rather than a Git-tracked file
    size: int | None = None
    hash: str | None = None       # a data object's hash, or a Git blob's id
    nfiles: int | None = None
    exec: bool = False

    @property
    def oid(self) -> str:
        """The hash of a file or data folder (only the folders a listing implies have none)."""
        assert self.hash is not None, self.path
        return self.hash

    def to_dict(self) -> dict:
        return {"path": self.path, "type": self.kind, "data": self.data, "size": self.size,
                "hash": self.hash, "nfiles": self.nfiles, "exec": self.exec}


@dataclass
class Listing:
    url: str
    sha: str
    entries: list[Entry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class GetResult:
    url: str
    sha: str
    out: str
    files: int = 0
    bytes: int = 0
    fetched: int = 0              # data objects downloaded
    skipped: list[str] = field(default_factory=list)   # symlinks and submodules not written


def _clean(path: str | None) -> str:
    if path in (None, "", ".", "/"):
        return ""
    from git_exp.worktree.access import clean_path
    return clean_path(path.rstrip("/"))


class _Index:
    """Every path of the commit: Git files, data records, and the folders they imply."""

    def __init__(self, foreign: Foreign):
        self.foreign = foreign
        self.entries: dict[str, Entry] = {}
        for path, (mode, oid) in foreign.tree.items():
            if mode in _FILE_MODES:
                self.entries[path] = Entry(path, "file", hash=oid, exec=mode == "100755")
            elif mode == "120000":
                self.entries[path] = Entry(path, "link", hash=oid)
        for path, info in foreign.records().items():
            if path not in self.entries:
                self.entries[path] = Entry(path, "dir" if info.is_dir else "file", data=True,
                                           size=info.size, hash=info.hash,
                                           nfiles=info.nfiles if info.is_dir else None)
        self.dirs: set[str] = {""}
        for path in self.entries:
            parent = path.rpartition("/")[0]
            while parent not in self.dirs:
                self.dirs.add(parent)
                parent = parent.rpartition("/")[0]
        sizes = foreign.sizes(e.oid for e in self.entries.values() if not e.data and e.kind == "file")
        for entry in self.entries.values():
            if not entry.data and entry.kind == "file":
                entry.size = sizes.get(entry.oid)

    def data_folder_of(self, path: str) -> Entry | None:
        parent = path.rpartition("/")[0]
        while parent:
            entry = self.entries.get(parent)
            if entry is not None and entry.data and entry.kind == "dir":
                return entry
            parent = parent.rpartition("/")[0]
        return None

    def under(self, top: str) -> list[Entry]:
        prefix = top + "/" if top else ""
        return [e for p, e in sorted(self.entries.items()) if p.startswith(prefix)]


def manifest(foreign: Foreign, digest: str) -> list:
    """The entries of directory object DIGEST: from the local cache, else its data remote (verified)."""
    from git_exp.data.hashing import parse_manifest
    local = _local_cache()
    if local is not None and local.has(digest):
        return local.load_manifest(digest)
    remote = foreign.data_remote()
    dest = os.path.join(foreign.tmp, "manifests", digest)
    if not os.path.exists(dest):
        if digest not in remote.has_many([digest]):
            raise ExpError(f"the folder's manifest {digest[:12]} is not on the data remote {remote}",
                           hint="it was never pushed there; ask the repository's owner to push it")
        remote.get(digest, dest)   # checked against its hash on arrival
    if os.path.getsize(dest) > MAX_MANIFEST:
        raise ExpError(f"the folder's manifest {digest[:12]} is larger than {MAX_MANIFEST >> 20} MiB: not read")
    with open(dest, "rb") as fh:
        return parse_manifest(fh.read())


def _inside(foreign: Foreign, folder: Entry) -> list[Entry]:
    """The files of data folder FOLDER, as entries under its path."""
    return [Entry(f"{folder.path}/{m.relpath}", "file", data=True, size=m.size, hash=m.hash, exec=m.executable)
            for m in manifest(foreign, folder.oid)]


def _local_cache() -> Cache | None:
    """The cache of the git-exp repository around the current directory, if there is one."""
    from git_exp.data.cache import Cache
    from git_exp.repo import discover
    try:
        repo = discover()
    except ExpError:
        return None
    path = os.path.join(repo.exp_dir, "cache")
    return Cache(repo.exp_dir) if os.path.isdir(path) else None


def resolve(foreign: Foreign, index: _Index, path: str) -> tuple[str, list[Entry]]:
    """(kind of PATH: 'file' or 'dir', the file entries under it, paths relative to the commit)."""
    where = f"{foreign.url} at {foreign.sha[:7]}"
    entry = index.entries.get(path)
    if entry is not None:
        if entry.kind == "link":
            raise ExpError(f"'{path}' is a symbolic link in {where}, not a file")
        if entry.kind == "file":
            return "file", [entry]
        return "dir", _inside(foreign, entry)
    if path in index.dirs:
        files = []
        for e in index.under(path):
            files += _inside(foreign, e) if e.kind == "dir" else [e]
        return "dir", files
    folder = index.data_folder_of(path)
    if folder is not None:
        inner = [e for e in _inside(foreign, folder)]
        exact = [e for e in inner if e.path == path]
        if exact:
            return "file", exact
        below = [e for e in inner if e.path.startswith(path + "/")]
        if below:
            return "dir", below
    raise ExpError(f"'{path or '.'}' does not exist in {where}",
                   hint=f"see what it holds: git exp ls {foreign.url} -R")


def ls(url: str, path: str | None = None, rev: str | None = None, recursive: bool = False,
       data_location: str | None = None) -> Listing:
    """The entries of PATH (a folder: its children; -R: everything below) in URL's commit REV."""
    from git_exp.sharing.foreign import Foreign
    rel = _clean(path)
    with Foreign(url, rev, data_location) as foreign:
        index = _Index(foreign)
        listing = Listing(url, foreign.sha)
        entry = index.entries.get(rel) if rel else None
        if entry is not None and not (entry.data and entry.kind == "dir"):
            listing.entries = [entry]
            return listing
        if entry is not None or (rel and rel not in index.dirs):
            kind, files = resolve(foreign, index, rel)
            if kind == "file":
                listing.entries = files
                return listing
            listing.entries = files if recursive else _children(rel, files)
            return listing
        below = index.under(rel)
        if recursive:
            out = []
            for e in below:
                out.append(e)
                if e.data and e.kind == "dir":
                    try:
                        out += _inside(foreign, e)
                    except ExpError as err:
                        listing.warnings.append(f"{e.path}: {err.message}")
            listing.entries = out
        else:
            listing.entries = _children(rel, below)
        return listing


def _children(top: str, entries: list[Entry]) -> list[Entry]:
    """The direct children of TOP among ENTRIES (deeper paths become their folder)."""
    prefix = top + "/" if top else ""
    seen: dict[str, Entry] = {}
    for e in entries:
        rest = e.path[len(prefix):]
        name, slash, _ = rest.partition("/")
        child = prefix + name
        if slash:
            seen.setdefault(child, Entry(child, "dir"))
        else:
            seen[child] = e
    return [seen[k] for k in sorted(seen)]


# -- get ---------------------------------------------------------------------------------------

def _target(path: str, out: str | None) -> str:
    name = path.rpartition("/")[2] if path else "repository"
    target = out or name
    if os.path.isdir(target) and not os.path.islink(target):
        target = os.path.join(target, name)
    return os.path.abspath(target)


def get(url: str, path: str, out: str | None = None, rev: str | None = None, force: bool = False,
        jobs: int = 8, progress: Progress | None = None, data_location: str | None = None) -> GetResult:
    """Write PATH of URL's commit REV to OUT (default: its name here); see the module docstring."""
    from git_exp.sharing.foreign import Foreign
    rel = _clean(path)
    if not rel:
        raise ExpError("give the path of a file or folder to get", hint=f"see them: git exp ls {url}")
    target = _target(rel, out)
    if os.path.lexists(target) and not force:
        raise ExpError(f"'{target}' exists already: not overwritten",
                       hint="use --force to replace it, or -o to write elsewhere")
    with Foreign(url, rev, data_location) as foreign:
        index = _Index(foreign)
        kind, files = resolve(foreign, index, rel)
        result = GetResult(url, foreign.sha, target)
        sources = _fetch_data(foreign, [f for f in files if f.data], jobs, progress, result)
        foreign.prefetch(f.oid for f in files if not f.data and f.kind == "file")  # one request
        base = rel if kind == "dir" else rel.rpartition("/")[0]
        stage = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.git-exp-get.{os.getpid()}")
        try:
            if kind == "file":
                _write(foreign, files[0], stage, sources, result)
            else:
                os.mkdir(stage)
                blobs: list[tuple[Entry, str]] = []
                for entry in files:
                    inner = entry.path[len(base) + 1:] if base else entry.path
                    if entry.kind == "link" or check_relpath(inner):
                        result.skipped.append(entry.path)
                        continue
                    dest = os.path.join(stage, *inner.split("/"))
                    os.makedirs(os.path.dirname(dest), exist_ok=True)
                    if entry.data:
                        _write(foreign, entry, dest, sources, result)
                    else:
                        blobs.append((entry, dest))
                foreign.blobs_to([(entry.oid, dest) for entry, dest in blobs])
                for entry, dest in blobs:
                    _finish(entry, dest, os.path.getsize(dest), result)
            _publish(stage, target, force)
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as err:
            # Two paths of the commit collide (a file where a folder should go).
            raise ExpError(f"cannot write '{rel}' of {url}: a file and a folder of the same name "
                           f"({err.filename})", hint="get the paths inside it one by one") from None
        finally:
            _remove(stage)
    return result


def _fetch_data(foreign: Foreign, files: list[Entry], jobs: int, progress: Progress | None,
                result: GetResult) -> dict[str, str]:
    """hash -> a verified file holding it: the local cache's, else downloaded into the clone's."""
    from git_exp.data.cache import Cache
    from git_exp.remotes.transfer import download
    local = _local_cache()
    sources: dict[str, str] = {}
    wanted: dict[str, int] = {}
    for f in files:
        if local is not None and local.has(f.oid):
            sources[f.oid] = local.object_path(f.oid)
        else:
            wanted[f.oid] = f.size or 0
    if not wanted:
        return sources
    assert foreign.repo is not None  # set on entering the clone's context
    cache = Cache(foreign.repo.exp_dir)
    remote = foreign.data_remote()
    stats, lacking = download(cache, remote, set(wanted), progress, jobs, wanted)
    result.fetched = stats.objects
    if lacking:
        shown = ", ".join(h[:12] for h in sorted(lacking)[:3]) + (" ..." if len(lacking) > 3 else "")
        raise ExpError(f"{len(lacking)} data object(s) are not on the data remote {remote} ({shown})",
                       hint="they were never pushed there; ask the repository's owner to push them")
    for digest in wanted:
        sources[digest] = cache.object_path(digest)
    return sources


def _write(foreign: Foreign, entry: Entry, dest: str, sources: dict[str, str], result: GetResult) -> None:
    if entry.data:
        shutil.copyfile(sources[entry.oid], dest)
        size = os.path.getsize(dest)
        if entry.size is not None and size != entry.size:
            raise ExpError(f"'{entry.path}' of {foreign.url} is recorded as {entry.size} bytes "
                           f"but its object holds {size}: not written")
    else:
        foreign.blob_to(entry.oid, dest)
        size = os.path.getsize(dest)
    _finish(entry, dest, size, result)


def _finish(entry: Entry, dest: str, size: int, result: GetResult) -> None:
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(dest, (0o777 if entry.exec else 0o666) & ~mask)
    result.files += 1
    result.bytes += size


def _publish(stage: str, target: str, force: bool) -> None:
    if os.path.isdir(stage) and not os.path.islink(stage):
        if os.path.lexists(target):
            if not force:
                raise ExpError(f"'{target}' appeared while writing it: not overwritten")
            old = stage + ".old"
            os.rename(target, old)
            os.rename(stage, target)
            _remove(old)
        else:
            os.rename(stage, target)
        return
    if force:
        if os.path.isdir(target) and not os.path.islink(target):
            raise ExpError(f"'{target}' is a folder: not replaced by a file",
                           hint="remove it first, or -o to write elsewhere")
        os.replace(stage, target)
        return
    try:
        os.link(stage, target)   # atomic, and refuses to overwrite
    except FileExistsError:
        raise ExpError(f"'{target}' appeared while writing it: not overwritten") from None


def _remove(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path, ignore_errors=True)
    else:
        os.unlink(path)
