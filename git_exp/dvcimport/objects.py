"""DVC's MD5-named cache into our SHA-256 cache, every object verified on the way.

DVC 3 keeps objects under `<cache>/files/md5/XX/REST` (DVC 2 under
`<cache>/XX/REST`); a directory is a `.dir` object, a JSON list of
`{"md5", "relpath"}`. Each object is read once to compute both hashes: the
MD5 must equal its name (a corrupt object is reported, never imported) and
the SHA-256 names it in our cache, where `Cache` stores it (a reflink where
the filesystem has one, else a verified copy). A directory becomes our
manifest of its files. An object DVC's cache lacks is listed as missing,
never invented; the caller may offer the file from the tree being
converted (a Git-tracked dep, or an out present in the work tree), which is
accepted only when its MD5 matches the record.
"""
from __future__ import annotations

import hashlib
import json
import os
import posixpath
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Callable, Optional

from git_exp.data.hashing import CHUNK_SIZE, HashInfo, ManifestEntry, manifest_bytes, manifest_hash
from git_exp.relpaths import path_problem as check_relpath
from git_exp.dvcimport.dvcfiles import DvcOut
from git_exp.errors import ExpError

if TYPE_CHECKING:
    from git_exp.data.cache import Cache

# A .dir object larger than this is not a listing DVC would write; refuse it.
MAX_DIR_OBJECT = 256 << 20

# What the tree being converted can offer for a path: a local file, bytes, or nothing.
Fallback = Callable[[str], "Optional[str | bytes]"]


@dataclass
class ObjectReport:
    imported: int = 0            # objects written into our cache
    imported_bytes: int = 0
    present: int = 0             # already in our cache
    missing: dict[str, str] = field(default_factory=dict)   # md5 -> the path that needs it
    corrupt: dict[str, str] = field(default_factory=dict)   # md5 -> why


def _hash_both(stream: IO[bytes]) -> tuple[str, str, int]:
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    size = 0
    while True:
        chunk = stream.read(CHUNK_SIZE)
        if not chunk:
            return md5.hexdigest(), sha.hexdigest(), size
        md5.update(chunk)
        sha.update(chunk)
        size += len(chunk)


def dvc_cache_dir(root: str) -> str:
    """DVC's cache folder: `cache.dir` of .dvc/config (relative to .dvc/), else .dvc/cache."""
    from git_exp.dvcimport.remotes import read_dvc_config
    configured = read_dvc_config(root).get("cache", {}).get("dir")
    if configured:
        return os.path.normpath(os.path.join(root, ".dvc", os.path.expanduser(configured)))
    return os.path.join(root, ".dvc", "cache")


class DvcObjects:
    """md5 -> our HashInfo, importing into CACHE when STORE (not in a dry run)."""

    def __init__(self, dvc_cache: str, cache: Cache, store: bool) -> None:
        self.roots = [os.path.join(dvc_cache, "files", "md5"), dvc_cache]
        self.cache = cache
        self.store = store
        self.report = ObjectReport()
        self._known: dict[str, HashInfo | None] = {}

    def _dvc_path(self, md5: str) -> str | None:
        for root in self.roots:
            path = os.path.join(root, md5[:2], md5[2:])
            if os.path.isfile(path):
                return path
        return None

    def resolve(self, out: DvcOut, fallback: Fallback) -> HashInfo | None:
        """Our HashInfo for OUT (None when it cannot be had, which the report says)."""
        if out.md5 is None:
            return None
        if out.md5 not in self._known:
            self._known[out.md5] = (self._directory(out, fallback) if out.is_dir
                                    else self._file(out.md5, out.path, fallback))
        return self._known[out.md5]

    # -- files ------------------------------------------------------------------------

    def _file(self, md5: str, path: str, fallback: Fallback | None) -> HashInfo | None:
        source = self._dvc_path(md5)
        if source is not None:
            info = self._take_file(md5, source)
            if info is not None:
                return info
        offered = fallback(path) if fallback is not None else None
        if isinstance(offered, bytes):
            if hashlib.md5(offered, usedforsecurity=False).hexdigest() == md5:
                return HashInfo(hashlib.sha256(offered).hexdigest(), len(offered))
        elif offered and os.path.isfile(offered):
            info = self._take_file(md5, offered, from_dvc=False)
            if info is not None:
                return info
        if md5 not in self.report.corrupt:
            self.report.missing.setdefault(md5, path)
        return None

    def _take_file(self, md5: str, source: str, from_dvc: bool = True) -> HashInfo | None:
        with open(source, "rb") as fh:
            actual, sha, size = _hash_both(fh)
        if actual != md5:
            if from_dvc:
                self.report.corrupt[md5] = f"{source} hashes to {actual}"
            return None
        if self.cache.has(sha):
            self.report.present += 1
        elif self.store:
            self.cache.store_file(source, sha, size)
            self.report.imported += 1
            self.report.imported_bytes += size
        else:
            self.report.imported += 1      # what a real run would import
            self.report.imported_bytes += size
        return HashInfo(sha, size)

    # -- directories --------------------------------------------------------------------

    def _directory(self, out: DvcOut, fallback: Fallback) -> HashInfo | None:
        md5_dir = out.md5
        assert md5_dir is not None   # resolve() checked
        source = self._dvc_path(md5_dir)
        if source is None:
            offered = fallback(out.path)
            if isinstance(offered, str) and os.path.isdir(offered):
                return self._take_tree(out, offered)
            self.report.missing.setdefault(md5_dir, out.path)
            return None
        if os.path.getsize(source) > MAX_DIR_OBJECT:
            self.report.corrupt[md5_dir] = f"{source} is too large for a directory listing"
            return None
        with open(source, "rb") as fh:
            data = fh.read()
        if hashlib.md5(data, usedforsecurity=False).hexdigest() + ".dir" != md5_dir:
            self.report.corrupt[md5_dir] = f"{source} does not hash to its name"
            return None
        try:
            rows = json.loads(data)
        except ValueError:
            rows = None
        if not isinstance(rows, list):
            self.report.corrupt[md5_dir] = f"{source} is not a DVC directory listing"
            return None
        entries = []
        for row in rows:
            rel = row.get("relpath") if isinstance(row, dict) else None
            md5 = row.get("md5") if isinstance(row, dict) else None
            if not isinstance(rel, str) or check_relpath(rel) or not isinstance(md5, str) or len(md5) != 32:
                self.report.corrupt[md5_dir] = f"{source}: refusing entry {row!r}"
                return None
            info = self._known.get(md5) or self._file(md5, posixpath.join(out.path, rel), None)
            self._known[md5] = info
            if info is None:
                return None   # the missing file is in the report
            entries.append(ManifestEntry(rel, info.hash, info.size, bool(row.get("isexec", False))))
        return self._manifest(entries)

    def _manifest(self, entries: list[ManifestEntry]) -> HashInfo:
        data = manifest_bytes(entries)
        digest = manifest_hash(data)
        if self.store:
            self.cache.store_manifest(digest, data)
        return HashInfo(digest, sum(e.size for e in entries), len(entries))

    def _take_tree(self, out: DvcOut, folder: str) -> HashInfo | None:
        """A directory DVC's cache lacks but the work tree has: accepted when DVC's
        own listing hash (md5 of the sorted JSON) matches, so it is the recorded data."""
        md5_dir = out.md5
        assert md5_dir is not None   # resolve() checked
        from git_exp.data.hashing import hash_path
        try:
            info, entries = hash_path(folder, None, cache_root=self.cache.root)
        except ExpError:
            self.report.missing.setdefault(md5_dir, out.path)
            return None
        rows = []
        for e in entries or []:
            with open(os.path.join(folder, *e.relpath.split("/")), "rb") as fh:
                rows.append({"md5": _hash_both(fh)[0], "relpath": e.relpath})
        listing = json.dumps(sorted(rows, key=lambda r: r["relpath"]), separators=(", ", ": "))
        if hashlib.md5(listing.encode(), usedforsecurity=False).hexdigest() + ".dir" != md5_dir:
            self.report.missing.setdefault(md5_dir, out.path)
            return None
        if self.store:
            self.cache.save(folder)
        return info
