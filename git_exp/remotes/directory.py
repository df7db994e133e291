"""A data remote that is a directory: local disk, NFS, a mounted share, another clone's cache."""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Iterator

from git_exp.data.cache import iter_object_dir
from git_exp.data.cachefiles import STALE_TEMP_SECONDS, remove_stale_temps
from git_exp.errors import ExpError
from git_exp.remotes.base import (DataRemote, RemoteUnavailable, check_hash, file_chunks,
                                  write_verified)

# Above this many hashes, has_many stats them from threads: on NFS a stat is
# a round trip, and ten thousand of them one after another take seconds.
_PARALLEL_STAT = 64
_STAT_THREADS = 16


class DirectoryRemote(DataRemote):
    """Objects in a directory (local disk, NFS, a mounted share), laid out like the cache.

    <root>/files/sha256/<2 hex>/<rest>: the same layout as every clone's
    `.git/exp/cache`, so a repository's own cache can serve as the remote of
    others, and a directory remote can be read as a cache.
    """

    def __init__(self, root: str):
        super().__init__()
        self.root = os.path.abspath(root)
        self.url = self.root
        self._objects = os.path.join(self.root, "files", "sha256")

    def object_path(self, hash: str) -> str:
        check_hash(hash)
        return os.path.join(self._objects, hash[:2], hash[2:])

    def has_many(self, hashes: Iterable[str]) -> set[str]:
        wanted = sorted(set(hashes))
        paths = [self.object_path(h) for h in wanted]
        if len(paths) > _PARALLEL_STAT:
            with ThreadPoolExecutor(_STAT_THREADS) as pool:
                present = list(pool.map(os.path.isfile, paths))
        else:
            present = [os.path.isfile(p) for p in paths]
        return {h for h, there in zip(wanted, present) if there}

    def put(self, hash: str, path: str) -> int:
        dest = self.object_path(hash)
        if os.path.isfile(dest):
            return 0  # never rewritten: its name is its content
        return write_verified(file_chunks(path), dest, hash, source=path, stop=self.stop,
                              progress=self.report_bytes)

    def get(self, hash: str, dest: str) -> int:
        src = self.object_path(hash)
        try:
            return write_verified(file_chunks(src), dest, hash, source=src, replace=True,
                                  stop=self.stop, progress=self.report_bytes)
        except FileNotFoundError as err:
            if err.filename == src:
                raise ExpError(f"object {hash} is not in the data remote '{self.url}'") from None
            raise

    def list(self) -> Iterator[str]:
        return iter_object_dir(self._objects)

    def probe(self) -> None:
        parent = self.root
        while not os.path.exists(parent):  # made by the first push, if its parent is there
            parent = os.path.dirname(parent)
        if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
            raise RemoteUnavailable(f"the data remote '{self.url}' cannot be written ({parent})",
                                    hint="check that the drive is mounted and yours to write")

    def clean_temp(self, max_age: float = STALE_TEMP_SECONDS) -> int:
        """Remove the '.*.tmp' files interrupted puts left beside the objects.

        Only files older than MAX_AGE: a put under way in another clone
        writes its temp file right now, and that one is not ours to take.
        """
        return remove_stale_temps(self._objects, time.time() - max_age)[0]
