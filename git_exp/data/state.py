"""A memo of file hashes, so an unchanged file is never hashed twice.

<exp_dir>/state.db (SQLite) maps a path to the (inode, mtime_ns, size) it
had when hashed and the hash. A file whose stat still matches is trusted.
ctime is deliberately not part of the key: it changes on chmod and on
hardlinking, which would make the memo useless for linked checkouts.

A second table holds verification stamps of cache objects: object hash ->
the (inode, size, mtime_ns, ctime_ns) it had when its bytes were last
checked against its name (when it was written from bytes just hashed, or
re-hashed on a checkout or by fsck). Objects are read-only and only ever
replaced by a rename (a new inode), and any write or chmod moves ctime,
which no user call can set back; so a stamp that still matches vouches for
the bytes, and checkout copies a big object out without hashing it again
(cache.py). ctime belongs in this key, unlike the one above: a hardlinked
checkout shares the object's inode, and whatever touched it must void the
stamp.

The memo is only an optimisation, so it must never make a command fail:
a corrupt database is deleted and recreated, a locked one behaves as a miss
(reads) or drops the batch (writes), and one that cannot be opened at all
simply turns the memo off for this process.

A memo that does not exist yet is created only when there is something to
write: creating it (the schema, the switch to WAL) waits for the disk, 5-30
ms measured, and the first add into a new repository, of files just
written, records nothing (RACY_NS) - until then it reads as empty.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time

from git_exp.data.hashing import is_valid_hash

DB_NAME = "state.db"
# Seconds we wait for another process's write lock. Readers never wait in
# WAL mode; only our own batched writes can, and they give up after this.
BUSY_TIMEOUT = 0.25
BATCH = 2000
# The "racy git" problem: filesystems record mtime with a granularity (a
# kernel clock tick on Linux ext4, 1 s on HFS+ and some NFS servers, 2 s on
# FAT). A file rewritten within the same tick after we hashed it keeps its
# mtime, and if its size is unchanged too the memo would vouch for stale
# content. We choose not to record a file whose mtime is less than
# RACY_NS old (or in the future): the cost is hashing a file that was
# written in the last two seconds once more next time, which is small and
# needs no second stat. Git solves the same problem by re-verifying entries
# no older than the index file; not storing them is the simpler equivalent.
RACY_NS = 2_000_000_000

_SCHEMA = ("CREATE TABLE IF NOT EXISTS state ("
           "path TEXT PRIMARY KEY, inode INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, "
           "size INTEGER NOT NULL, hash TEXT NOT NULL) WITHOUT ROWID")
_STAMPS = ("CREATE TABLE IF NOT EXISTS verified ("
           "hash TEXT PRIMARY KEY, inode INTEGER NOT NULL, size INTEGER NOT NULL, "
           "mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL) WITHOUT ROWID")


def _stamp_of(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _key(path: str) -> str:
    # Callers walking a tree pass absolute paths already; abspath is the
    # single most expensive step of a warm re-hash when applied to each.
    return path if os.path.isabs(path) and os.sep + "." not in path else os.path.abspath(path)


def _is_corruption(err: sqlite3.Error) -> bool:
    # OperationalError covers locks, I/O errors and permission problems:
    # those are not the file's fault, so we never delete the database for them.
    return isinstance(err, sqlite3.DatabaseError) and not isinstance(err, sqlite3.OperationalError)


class StateMemo:
    """(path, inode, mtime_ns, size) -> sha256 hex, backed by SQLite."""

    def __init__(self, exp_dir: str):
        self.path = os.path.join(exp_dir, DB_NAME)
        self._pending: dict[str, tuple[int, int, int, str]] = {}
        self._stamps: dict[str, tuple[int, int, int, int]] = {}
        self._loaded: dict[str, tuple[int, int, int, str]] = {}
        self._prefixes: list[str] = []
        self._empty: set[str] = set()   # preloaded prefixes that held no entry
        self._db: sqlite3.Connection | None = None
        self._create = False   # no database yet: make one when a flush has rows
        # add and checkout call get/put/stamp from a few threads (parallel.py):
        # one lock around the connection and the pending batches.
        self._lock = threading.RLock()
        try:
            os.makedirs(exp_dir, exist_ok=True)
        except OSError:
            return
        if os.path.exists(self.path):
            self._db = self._open()
        else:
            self._create = True

    # -- connection -------------------------------------------------------

    def _open(self) -> sqlite3.Connection | None:
        for _ in range(2):
            db = None
            try:
                db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None,
                                     check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(_SCHEMA)
                db.execute(_STAMPS)
                db.execute("SELECT hash FROM state LIMIT 1").fetchall()
                return db
            except sqlite3.Error as err:
                if db is not None:
                    db.close()
                if not _is_corruption(err):
                    # Locked while another process creates it, unwritable, ...:
                    # run without a memo rather than fail or wait.
                    return None
                self._delete_files()
        return None

    def _delete_files(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.unlink(self.path + suffix)
            except OSError:
                pass

    def _recover(self, err: Exception) -> None:
        """After an error mid-use: recreate a corrupt database, else carry on."""
        if not isinstance(err, sqlite3.Error) or not _is_corruption(err) or self._db is None:
            return
        self._db.close()
        self._delete_files()
        self._db = self._open()

    # -- the memo ---------------------------------------------------------

    def _preload_unlocked(self, folder: str) -> None:
        """Read every entry under FOLDER in one query, for a directory walk:
        one range scan costs far less than a query per file."""
        prefix = _key(folder).rstrip(os.sep) + os.sep
        if self._db is None:
            if self._create:   # no database yet: nothing is known under FOLDER
                self._prefixes.append(prefix)
                self._empty.add(prefix)
            return
        try:
            rows = self._db.execute(
                "SELECT path, inode, mtime_ns, size, hash FROM state WHERE path >= ? AND path < ?",
                (prefix, prefix[:-1] + chr(ord(os.sep) + 1))).fetchall()
        except (sqlite3.Error, UnicodeEncodeError) as err:
            self._recover(err)
            return
        for path, *values in rows:
            self._loaded[path] = tuple(values)
        self._prefixes.append(prefix)
        if not rows:
            self._empty.add(prefix)

    def _get_unlocked(self, path: str, st: os.stat_result) -> str | None:
        """The recorded hash of PATH if its stat still matches ST, else None."""
        key = _key(path)
        row = self._pending.get(key) or self._loaded.get(key)
        if row is None and self._db is not None \
                and not any(key.startswith(p) for p in self._prefixes):
            try:
                row = self._db.execute("SELECT inode, mtime_ns, size, hash FROM state WHERE path = ?",
                                       (key,)).fetchone()
            except (sqlite3.Error, UnicodeEncodeError) as err:
                # UnicodeEncodeError: a name that is not UTF-8 (see put).
                self._recover(err)
                return None
        if row is None:
            return None
        inode, mtime_ns, size, digest = row
        if (inode, mtime_ns, size) != (st.st_ino, st.st_mtime_ns, st.st_size):
            return None
        if not is_valid_hash(digest) or digest.endswith(".dir"):
            return None
        return digest

    def _put_unlocked(self, path: str, inode: int, mtime_ns: int, size: int, hash: str) -> None:
        """Remember HASH for PATH at (INODE, MTIME_NS, SIZE); written in batches (see flush)."""
        if time.time_ns() - mtime_ns < RACY_NS:
            return  # too fresh to trust later, see RACY_NS
        key = _key(path)
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            return  # SQLite text is UTF-8; such rare names are simply re-hashed
        self._pending[key] = (inode, mtime_ns, size, hash)
        self._loaded.pop(key, None)
        if len(self._pending) >= BATCH:
            self._flush_unlocked()

    def _forget_unlocked(self, path: str) -> None:
        """Drop what we know about PATH (its recorded hash proved wrong)."""
        key = _key(path)
        self._pending.pop(key, None)
        self._loaded.pop(key, None)
        if self._db is None:
            return
        try:
            self._db.execute("DELETE FROM state WHERE path = ?", (key,))
        except (sqlite3.Error, UnicodeEncodeError) as err:
            self._recover(err)

    # -- verification stamps of cache objects (see the module docstring) ---

    def _is_verified_unlocked(self, digest: str, st: os.stat_result) -> bool:
        """Object DIGEST, now at stat ST, has not changed since its bytes were checked."""
        row = self._stamps.get(digest)
        if row is None and self._db is not None:
            try:
                row = self._db.execute("SELECT inode, size, mtime_ns, ctime_ns FROM verified WHERE hash = ?",
                                       (digest,)).fetchone()
            except sqlite3.Error as err:
                self._recover(err)
                return False
        return row is not None and tuple(row) == _stamp_of(st)

    def _stamp_unlocked(self, digest: str, st: os.stat_result) -> None:
        """Object DIGEST at stat ST was just checked (or written from checked bytes)."""
        self._stamps[digest] = _stamp_of(st)

    def _flush_unlocked(self) -> None:
        """Write pending entries, all in one transaction; if the database is busy, drop them."""
        if not self._pending and not self._stamps:
            return
        rows = [(path, *values) for path, values in self._pending.items()]
        stamps = [(digest, *values) for digest, values in self._stamps.items()]
        self._pending.clear()
        self._stamps.clear()
        if self._db is None and self._create:
            self._create = False
            self._db = self._open()
        if self._db is None:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO state (path, inode, mtime_ns, size, hash) VALUES (?, ?, ?, ?, ?)",
                    rows)
                self._db.executemany(
                    "INSERT OR REPLACE INTO verified (hash, inode, size, mtime_ns, ctime_ns) VALUES (?, ?, ?, ?, ?)",
                    stamps)
                self._db.execute("COMMIT")
            except BaseException:
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise
        except sqlite3.Error as err:
            self._recover(err)

    def preload(self, folder: str) -> None:
        """Read every entry under FOLDER in one query, for a directory walk:
        one range scan costs far less than a query per file."""
        with self._lock:
            self._preload_unlocked(folder)

    def may_know(self, folder: str) -> bool:
        """False if no file under FOLDER can have an entry: FOLDER was preloaded,
        held none, and none was put since (a first add of a folder of many
        files then skips asking about each one)."""
        with self._lock:
            prefix = _key(folder).rstrip(os.sep) + os.sep
            return prefix not in self._empty or any(k.startswith(prefix) for k in self._pending)

    def get(self, path: str, st: os.stat_result) -> str | None:
        """The recorded hash of PATH if its stat still matches ST, else None."""
        with self._lock:
            return self._get_unlocked(path, st)

    def put(self, path: str, st: os.stat_result, hash: str) -> None:
        """Remember HASH for PATH at stat ST; written in batches (see flush)."""
        with self._lock:
            self._put_unlocked(path, st.st_ino, st.st_mtime_ns, st.st_size, hash)

    def put_rows(self, rows: list[tuple[str, int, int, int, str]]) -> None:
        """put() of many files, each row (path, inode, mtime_ns, size, hash): a
        stat taken elsewhere (a forked worker's), under one lock."""
        with self._lock:
            for path, inode, mtime_ns, size, hash in rows:
                self._put_unlocked(path, inode, mtime_ns, size, hash)

    def forget(self, path: str) -> None:
        """Drop what we know about PATH (its recorded hash proved wrong)."""
        with self._lock:
            self._forget_unlocked(path)

    def is_verified(self, digest: str, st: os.stat_result) -> bool:
        """Object DIGEST, now at stat ST, has not changed since its bytes were checked."""
        with self._lock:
            return self._is_verified_unlocked(digest, st)

    def stamp(self, digest: str, st: os.stat_result) -> None:
        """Object DIGEST at stat ST was just checked (or written from checked bytes)."""
        with self._lock:
            self._stamp_unlocked(digest, st)

    def flush(self) -> None:
        """Write pending entries, all in one transaction; if the database is busy, drop them."""
        with self._lock:
            self._flush_unlocked()

    commit = flush

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> "StateMemo":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
