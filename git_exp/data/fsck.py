"""`git exp fsck`: re-hash every cache object; find the objects the work tree lacks.

An object is corrupt when its bytes do not hash to its name (a truncated
write after a power loss, a disk error, an edit through a hard link), or,
for a directory, when its manifest does not parse. Missing objects are the
ones the work tree's records need and the cache does not have.

Objects are re-hashed on a few threads: hashlib releases the GIL while it
hashes, so large files hash in parallel at the disk's pace.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from git_exp.data.tracked import data_at
from git_exp.data.workspace import open_cache
from git_exp.errors import ExpError


@dataclass
class FsckResult:
    checked: int = 0
    corrupt: list[str] = field(default_factory=list)              # object hashes
    missing: dict[str, list[str]] = field(default_factory=dict)   # data path -> object hashes

    @property
    def ok(self) -> bool:
        return not self.corrupt and not self.missing


def _intact(cache, digest: str) -> bool:
    if not cache.verify(digest):
        return False
    if digest.endswith(".dir"):
        try:
            cache.load_manifest(digest)
        except ExpError:
            return False
    return True


def check_cache(repo, jobs: int | None = None) -> FsckResult:
    cache = open_cache(repo)
    result = FsckResult()
    objects = list(cache.iter_objects())
    workers = jobs or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for digest, intact in zip(objects, pool.map(lambda d: _intact(cache, d), objects)):
            result.checked += 1
            if not intact:
                result.corrupt.append(digest)
    bad = set(result.corrupt)
    for path, info in sorted(data_at(repo, None).items()):
        if info.hash in bad:
            continue  # reported as corrupt; its files are unknown
        missing = cache.missing(info)
        if missing:
            result.missing[path] = missing
    return result
