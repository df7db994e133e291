"""Saving a folder into the cache: every file hashed and stored, then its manifest.

Split off from cache.py (the cache's objects and their rules), as checkout
is (cache_checkout.py): this is how a folder's files get there, a few at a
time. `Cache.save` is the entry point; `FolderSave` reads the Cache's own
object helpers (`_save_file`, `_store_small`, `_store_bytes`, `_objects`,
`_make_folder`) as a friend in the same package. Each file's object is
still written by the Cache: a temporary name, checked bytes, a rename.

Where the time goes for 10,000 small files: mostly the kernel's work per
file (creating the object's inode, renaming it into place), then Python's
per file. Both scale with cores only if the Python does: so many small
files go to forked worker processes (parallel_procs.py), not threads, and
when the memo cannot know any of them (a first add) they are not even
stat'ed while listing - each worker stats the files it takes, so those
10,000 stat() calls run on every core instead of before the work starts
(33 ms of one core, measured). Otherwise every file is stat'ed here, for
the memo; small ones go to forked workers when there are many, big ones
(and all of a save from a process with threads) to threads, which may
touch the memo (parallel.py). The memo, the manifest rows and the progress
line are only ever touched in this process, between chunks.
"""
from __future__ import annotations

import os
import stat

from git_exp.data import cachefiles
from git_exp.data.hashing import HashInfo, manifest_bytes_of, manifest_hash, walk_entries
from git_exp.data.parallel import WORKERS, run_all
from git_exp.data.parallel_procs import can_fork, run_forked
from git_exp.errors import ExpError

TYPE_CHECKING = False   # typing's, without importing typing on run's path (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Sequence

    from git_exp.data.cache import Cache, Progress, _ShardListing
    from git_exp.data.state import StateMemo

    Stated = tuple[str, str, os.stat_result]   # a file to save: (relpath, path, its stat)

# A save of at least this many small files forks workers for them
# (parallel_procs.py). A fork and its pipes cost 1-3 ms (measured); a second
# core saves some 25 us a file: it pays from about a hundred files on.
FORK_FROM = 256


def fork_for(count: int) -> bool:
    """Whether COUNT small files are saved by forked workers: enough of them, more than one core."""
    return count >= FORK_FROM and WORKERS > 1 and can_fork()


class FolderSave:
    """One save of a folder: its files' objects, then its manifest."""

    def __init__(self, cache: Cache, memo: StateMemo | None, progress: Progress | None):
        self.cache, self.memo, self.progress = cache, memo, progress
        self.rows: list[tuple[str, str, int, bool]] = []   # the manifest's: (relpath, hash, size, executable)
        self.done = [0, 0]
        self.total = self.total_bytes = 0

    def save(self, path: str) -> HashInfo:
        """Hash and store every file of the folder at PATH; its HashInfo."""
        from git_exp.data.cache import LIST_SHARDS_FROM, _ShardListing
        cache, memo = self.cache, self.memo
        top = os.path.abspath(path)
        if memo is not None:
            memo.preload(top)
        entries = list(walk_entries(top, path, cache.root))
        self.total = len(entries)
        may_know = memo is not None and memo.may_know(top)
        listing = _ShardListing(cache._objects, cache._make_folder) if len(entries) >= LIST_SHARDS_FROM else None
        unstated = not may_know and fork_for(len(entries))
        listed = [(rel, item.path) for rel, item, st in entries if st is None] if unstated else []
        files = [(rel, item.path, st if st is not None else item.stat(follow_symlinks=False))
                 for rel, item, st in entries if st is not None or not unstated]
        # With files not stat'ed yet the progress line counts files, not bytes.
        self.total_bytes = 0 if listed else sum(st.st_size for _, _, st in files)
        if listed:
            self._save_listed(listed, files, listing)
        known = {full: memo.get(full, st) for _, full, st in files} if may_know and memo is not None else {}
        self._save_stated(files, known, listing)
        data = manifest_bytes_of(self.rows)
        info = HashInfo(manifest_hash(data), sum(row[2] for row in self.rows), len(self.rows))
        cache._store_bytes(info.hash, data)
        return info

    def _save_listed(self, listed: list[tuple[str, str]], files: list[Stated],
                     listing: _ShardListing | None) -> None:
        """Save LISTED's (relpath, path) files in forked workers, each stat'ed
        there; one too large to read whole is added to FILES, for later."""
        cache = self.cache

        def saved(start: int, results: list[tuple]) -> None:
            items = listed[start:start + len(results)]
            size = 0
            for (rel, full), result in zip(items, results):
                if result[0] is None:   # larger than a small file: saved later, here
                    files.append((rel, full, stat_listed(full)))
                    continue
                self.rows.append((rel, result[0], result[3], result[4]))
                size += result[3]
            self._memoise(items, results)
            self._advance(len(results), size)

        run_forked(lambda item: save_listed(cache, item[1], listing), listed, saved)

    def _save_stated(self, files: list[Stated], known: dict[str, str | None],
                     listing: _ShardListing | None) -> None:
        """Save FILES' (relpath, path, stat) files: small ones in forked workers
        when there are many (else threads), big ones in threads."""
        cache, memo = self.cache, self.memo
        small_limit = cachefiles.SMALL_FILE
        small = [item for item in files if item[2].st_size <= small_limit]
        big = [item for item in files if item[2].st_size > small_limit] if len(small) < len(files) else []

        def save_small(item: Stated) -> tuple:
            # No memo here: in a forked worker it is the parent's, not this process's.
            _, full, st = item
            digest, after = cache._save_file(full, st, known.get(full), None, listing)
            return (digest,) if after is None else (digest, after.st_ino, after.st_mtime_ns, after.st_size)

        def saved_small(items: Sequence[Stated], results: Sequence[tuple]) -> None:
            size = 0
            for (rel, _, st), result in zip(items, results):
                self.rows.append((rel, result[0], st.st_size, bool(st.st_mode & stat.S_IXUSR)))
                size += st.st_size
            self._memoise(items, results)
            self._advance(len(results), size)

        def save_big(item: Stated) -> tuple[str, os.stat_result | None]:
            _, full, st = item
            return cache._save_file(full, st, known.get(full), memo, listing)

        def saved_big(item: Stated, result: tuple[str, os.stat_result | None]) -> None:
            rel, full, st = item
            digest, after = result
            if memo is not None and after is not None:
                memo.put(full, after, digest)
            self.rows.append((rel, digest, st.st_size, bool(st.st_mode & stat.S_IXUSR)))
            self._advance(1, st.st_size)

        if fork_for(len(small)):
            run_forked(save_small, small,
                       lambda start, results: saved_small(small[start:start + len(results)], results))
        else:
            run_all(save_small, small, lambda item, result: saved_small((item,), (result,)))
        run_all(save_big, big, saved_big)

    def _memoise(self, items: Sequence, results: Sequence[tuple]) -> None:
        """Tell the memo the hash of each of ITEMS (path second) whose result
        holds the stat of the version read: (hash, inode, mtime_ns, size, ...)."""
        if self.memo is not None:
            self.memo.put_rows([(item[1], result[1], result[2], result[3], result[0])
                                for item, result in zip(items, results) if len(result) >= 4])

    def _advance(self, count: int, size: int) -> None:
        self.done[0] += count
        self.done[1] += size
        if self.progress is not None:
            self.progress(self.done[0], self.total, self.done[1], self.total_bytes)


def save_listed(cache: Cache, full: str, listing: _ShardListing | None) -> tuple:
    """Store one file a folder listing showed as a regular file, stat'ed here
    (in a forked worker) rather than while listing: (hash, inode, mtime_ns,
    size, executable) of the version read, or (None,) if it is too large to
    read whole (the parent saves it). Checked as a listed file always is:
    still a regular file (a symlink now is not followed), unchanged from that
    stat to the end of the read (cachefiles.read_whole)."""
    st = stat_listed(full)
    if st.st_size > cachefiles.SMALL_FILE:
        return (None,)
    data, after = cachefiles.read_whole(full, st)
    return (cache._store_small(data, listing), after.st_ino, after.st_mtime_ns, after.st_size,
            bool(after.st_mode & stat.S_IXUSR))


def stat_listed(full: str) -> os.stat_result:
    """The stat of FULL, listed as a regular file: ExpError if it no longer is one."""
    try:
        st = os.stat(full, follow_symlinks=False)
    except OSError as err:
        raise ExpError(f"cannot read '{full}': {err.strerror or err}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ExpError(f"'{full}' changed while it was being hashed: it is no longer a regular file",
                       hint="run the command again once whatever writes the file has finished")
    return st
