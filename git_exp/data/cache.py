"""The content-addressed cache: <exp_dir>/cache/files/sha256/<2 hex>/<62 hex>[.dir].

Invariants:
- an object under its final name holds exactly the bytes its name hashes
  to: it is written to a temporary name beside it, checked, made read-only
  and renamed into place, so a crash leaves at worst a stray '.*.tmp' file;
- a directory's manifest object is written after all of its files, so a
  manifest in the cache means its files were there when it was written;
- nothing the user wrote is ever lost: checkout saves any work-tree content
  the cache lacks before it replaces or deletes it, and save only ever
  copies (or clones) from the work tree, it never moves the user's file;
- checkout writes into a work tree only through worktree_writes.WorkTree,
  so a data path never leads out of it, into .git or through a symlink.

Objects are not fsync'ed one by one (that costs milliseconds per file and
a data directory has thousands). A power loss can leave a truncated object;
checkout checks every object's size and hashes every copy it makes, except
a big object whose verification stamp still holds (see STAMPED), and
verify() re-hashes on demand.

Where the time goes, and so the choices below: for one big file, reading
it (hashing runs at about 2 GiB/s, a kernel copy at 4): so a big object
checked since it was last written is copied without hashing it again. For
many small files, the file system's work per file (create, rename,
directory updates): so a small file is read once and written once, a fresh
folder is built aside and renamed whole (no rename per file), and a few
files are in flight at once (parallel.py).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

from git_exp.data.hashing import (DIR_SUFFIX, HashInfo, ManifestEntry, hash_file,
                                  hash_file_with_memo, hash_path, is_valid_hash,
                                  hash_checked, manifest_bytes, manifest_hash, parse_manifest,
                                  same_version, walk_files)
from git_exp.data.links import (DEFAULT_LINK_TYPES, LINK_TYPES, ContentMismatch, current_umask,
                                link_to_temp, materialize, temp_name)
from git_exp.data.parallel import run_all
from git_exp.errors import ExpError

# The progress callback add and checkout report to:
# (files done, files in all, bytes done, bytes in all). Drawn by ui/progress.py.
Progress = Callable[[int, int, int, int], None]


class Tally:
    """One progress line over several saves or checkouts: each part() is a
    callback for one of them, counted after the parts before it. TOTAL and
    TOTAL_BYTES, when known beforehand, are the whole operation's."""

    def __init__(self, progress: Progress | None, total: int = 0, total_bytes: int = 0):
        self.progress = progress
        self.total, self.total_bytes = total, total_bytes
        self._base = [0, 0]
        self._last = [0, 0]

    def part(self) -> Progress | None:
        if self.progress is None:
            return None
        self._base = [self._base[0] + self._last[0], self._base[1] + self._last[1]]
        self._last = [0, 0]
        base_done, base_bytes = self._base

        def report(done: int, total: int, done_bytes: int, total_bytes: int) -> None:
            self._last = [done, done_bytes]
            self.progress(base_done + done, max(self.total, base_done + total),
                          base_bytes + done_bytes, max(self.total_bytes, base_bytes + total_bytes))
        return report

# Into the cache we only ever clone or copy: a hardlink or symlink would make
# the object the user's own file, and (as root) their next edit would change
# the object under its hash. See links.py.
SAVE_KINDS = ("reflink", "copy")
# Kinds that share the object's inode, so cannot give a file its own exec bit.
_SHARED = ("hardlink", "symlink")
_SHOW_MISSING = 10
# Files up to this size are read whole, once: hashed and written from the same
# bytes (add), or read, checked and written (checkout). Beyond it, streamed.
SMALL_FILE = 1 << 20
# Objects from this size on get a verification stamp (state.py) and, while it
# holds, are copied out without being hashed again. Smaller ones are hashed
# as they are copied: read once anyway, their hash costs next to nothing.
# Measured on one 1 GiB object, page cache warm: a checkout hashing alongside
# the kernel copy took 0.70 s, the copy alone 0.28 s (cp: 0.28 s).
STAMPED = 16 << 20
_O_BINARY = getattr(os, "O_BINARY", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
PULL_HINT = "run 'git exp pull' to fetch them from the data remote"


@dataclass
class CheckoutResult:
    changed: list[str] = field(default_factory=list)      # paths written, removed or chmod'ed
    saved_first: list[str] = field(default_factory=list)  # paths whose old content was saved first
    link_kind: str | None = None                          # kind of the last file written
    saved_hashes: dict[str, str] = field(default_factory=dict)  # saved path -> hash to restore it


def _missing_error(hashes: Sequence[str], dest: str | None = None) -> ExpError:
    hashes = sorted(set(hashes))
    shown = ", ".join(hashes[:_SHOW_MISSING])
    more = f" and {len(hashes) - _SHOW_MISSING} more" if len(hashes) > _SHOW_MISSING else ""
    where = f" for '{dest}'" if dest else ""
    return ExpError(f"{len(hashes)} object(s) missing from the cache{where}: {shown}{more}",
                    hint=PULL_HINT)


def _discard(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class Cache:
    def __init__(self, exp_dir: str, link_types: Sequence[str] = DEFAULT_LINK_TYPES):
        for kind in link_types:
            if kind not in LINK_TYPES:
                raise ExpError(f"unknown link type '{kind}'", hint=f"use some of {', '.join(LINK_TYPES)}")
        self.root = os.path.join(exp_dir, "cache")
        self.link_types = list(link_types) or list(DEFAULT_LINK_TYPES)
        self._objects = os.path.join(self.root, "files", "sha256")
        # Manifests read and checked already: a checkout reads one three times
        # (missing, size check, write), and parsing 10,000 entries is not free.
        self._manifests: dict[str, list[ManifestEntry]] = {}

    # -- objects ----------------------------------------------------------

    def object_path(self, hash: str) -> str:
        """Where object HASH lives; ExpError for anything but a valid hash."""
        if not is_valid_hash(hash):
            raise ExpError(f"malformed object hash '{hash}'",
                           hint="expected 64 lowercase hex digits, optionally followed by .dir")
        return os.path.join(self._objects, hash[:2], hash[2:])

    def has(self, hash: str) -> bool:
        return os.path.isfile(self.object_path(hash))

    def _has_intact(self, hash: str, size: int) -> bool:
        try:
            st = os.stat(self.object_path(hash))
        except FileNotFoundError:
            return False
        return stat.S_ISREG(st.st_mode) and st.st_size == size

    def iter_objects(self) -> Iterator[str]:
        """Every object hash in the cache (temporary files are skipped)."""
        return iter_object_dir(self._objects)

    def verify(self, hash: str, memo=None) -> bool:
        """Re-hash object HASH; False if it is corrupt or missing. With MEMO,
        a big intact object gets a verification stamp (see STAMPED)."""
        path = self.object_path(hash)
        try:
            if hash.endswith(DIR_SUFFIX):
                with open(path, "rb") as f:
                    return manifest_hash(f.read()) == hash
            before = os.stat(path)
            if hash_file(path) != hash:
                return False
        except FileNotFoundError:
            return False
        if memo is not None and before.st_size >= STAMPED:
            after = os.stat(path)
            if same_version(before, after) and before.st_ctime_ns == after.st_ctime_ns:
                memo.stamp(hash, after)
        return True

    def remove(self, hash: str) -> int:
        """Delete object HASH; the bytes freed (0 if other links still hold it)."""
        path = self.object_path(hash)
        self._manifests.pop(hash, None)
        try:
            st = os.lstat(path)
            os.unlink(path)
        except FileNotFoundError:
            return 0
        return st.st_size if st.st_nlink <= 1 else 0

    # -- saving -----------------------------------------------------------

    def save(self, path: str, memo=None, progress: Progress | None = None) -> HashInfo:
        """Store the file or directory at PATH in the cache; its HashInfo."""
        try:
            is_dir = stat.S_ISDIR(os.stat(path).st_mode)
        except OSError:
            is_dir = False  # hash_path says what is wrong
        if is_dir:
            return self._save_dir(path, memo, progress)
        info, _ = hash_path(path, memo, cache_root=self.root)
        self._store_file(path, info.hash, info.size, memo)
        if progress is not None:
            progress(1, 1, info.size, info.size)
        return info

    def _save_dir(self, path: str, memo, progress: Progress | None) -> HashInfo:
        """Hash and store every file of a folder, a few at a time (parallel.py);
        a small file is read once, its object written from the bytes hashed."""
        top = os.path.abspath(path)
        if memo is not None:
            memo.preload(top)
        files = list(walk_files(top, path, self.root))
        total_bytes = sum(st.st_size for _, _, st in files)
        known = {full: memo.get(full, st) for _, full, st in files} if memo is not None else {}
        entries: list[ManifestEntry] = []
        done = [0, 0]

        def save_one(item) -> tuple[str, os.stat_result | None]:
            _, full, st = item
            return self._save_file(full, st, known.get(full), memo)

        def saved(item, result) -> None:
            rel, full, st = item
            digest, after = result
            if memo is not None and after is not None:
                memo.put(full, after, digest)
            entries.append(ManifestEntry(rel, digest, st.st_size, bool(st.st_mode & stat.S_IXUSR)))
            done[0] += 1
            done[1] += st.st_size
            if progress is not None:
                progress(done[0], len(files), done[1], total_bytes)

        run_all(save_one, files, saved)
        data = manifest_bytes(entries)
        info = HashInfo(manifest_hash(data), total_bytes, len(entries))
        self._store_bytes(info.hash, data)
        return info

    def _save_file(self, full: str, st: os.stat_result, known: str | None,
                   memo) -> tuple[str, os.stat_result | None]:
        """Store one file of a folder being saved; (its hash, its stat to memoise or None)."""
        if known is not None and self._has_intact(known, st.st_size):
            _freshen(self.object_path(known))
            return known, None
        if st.st_size > SMALL_FILE:
            after = None
            if known is None:
                known, _, after = hash_checked(full, st)
            self._store_file(full, known, st.st_size, memo)
            return known, after
        data, after = _read_whole(full, st)
        digest = hashlib.sha256(data).hexdigest()
        if not self._has_intact(digest, len(data)):
            self._write_object(digest, data)
        else:
            _freshen(self.object_path(digest))
        return digest, after

    def _write_object(self, digest: str, data: bytes) -> None:
        """Write object DIGEST from DATA, which the caller has just hashed."""
        dst = self.object_path(digest)
        tmp = temp_name(dst)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o444)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o444)
        try:
            try:
                _write_all(fd, data)
                if current_umask() & 0o444:
                    os.fchmod(fd, 0o444)  # objects are readable by all who share the cache
            finally:
                os.close(fd)
            os.replace(tmp, dst)
        except BaseException:
            _discard(tmp)
            raise

    def store_file(self, src: str, digest: str, size: int) -> bool:
        """Put SRC, already hashed to DIGEST by the caller, in the cache (verified as it is
        copied); True if written. For importers that computed the hash themselves."""
        return self._store_file(src, digest, size)

    def store_manifest(self, digest: str, data: bytes) -> None:
        """Store a directory manifest built elsewhere (DATA must hash to DIGEST)."""
        if manifest_hash(data) != digest:
            raise ExpError(f"manifest does not hash to {digest}")
        self._store_bytes(digest, data)

    def _store_file(self, src: str, digest: str, size: int, memo=None) -> bool:
        """Put SRC's content in the cache as DIGEST unless it is there; True if written."""
        dst = self.object_path(digest)
        if self._has_intact(digest, size):
            _freshen(dst)
            return False  # dedup (a wrong-sized object, say truncated, is replaced)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        try:
            tmp, kind = link_to_temp(src, dst, SAVE_KINDS, expected_hash=digest)
        except ContentMismatch:
            self._changed_while_saving(src, memo)
        try:
            # A clone shares the source's extents at the moment of cloning:
            # hash it, since the source may have changed since it was hashed.
            if kind != "copy" and hash_file(tmp) != digest:
                self._changed_while_saving(src, memo)
            os.chmod(tmp, 0o444)
            os.replace(tmp, dst)
        except BaseException:
            _discard(tmp)
            raise
        if memo is not None and size >= STAMPED:
            memo.stamp(digest, os.stat(dst))  # written from bytes just checked
        return True

    @staticmethod
    def _changed_while_saving(src: str, memo) -> None:
        if memo is not None:
            memo.forget(src)
        raise ExpError(f"'{src}' changed while it was being saved to the cache",
                       hint="run the command again once whatever writes the file has finished")

    def _store_bytes(self, digest: str, data: bytes) -> None:
        dst = self.object_path(digest)
        if self._has_intact(digest, len(data)):
            _freshen(dst)
            return
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        tmp = temp_name(dst)
        try:
            with open(tmp, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())  # manifests are few and small: make them durable
            os.chmod(tmp, 0o444)
            os.replace(tmp, dst)
        except BaseException:
            _discard(tmp)
            raise

    # -- reading ----------------------------------------------------------

    def load_manifest(self, hash: str) -> list[ManifestEntry]:
        """The entries of directory object HASH, checked against its name."""
        if not hash.endswith(DIR_SUFFIX):
            raise ExpError(f"{hash} is not a directory hash")
        known = self._manifests.get(hash)
        if known is not None:
            return list(known)
        path = self.object_path(hash)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise _missing_error([hash]) from None
        if manifest_hash(data) != hash:
            raise self._corrupt(hash, "its content does not match its hash")
        try:
            entries = parse_manifest(data)
        except ExpError as err:
            raise ExpError(f"{err.message} (object {hash})", hint=err.hint) from None
        self._manifests[hash] = entries
        return list(entries)

    def objects_of(self, info: HashInfo) -> set[str]:
        """Every object INFO needs; for a directory whose manifest is not
        here, only the manifest (its files are unknown until it arrives)."""
        if not info.is_dir:
            return {info.hash}
        if not self.has(info.hash):
            return {info.hash}
        return {info.hash} | {e.hash for e in self.load_manifest(info.hash)}

    def missing(self, info: HashInfo) -> list[str]:
        return sorted(h for h in self.objects_of(info) if not self.has(h))

    def _corrupt(self, hash: str, why: str) -> ExpError:
        return ExpError(f"cache object {hash} is corrupt: {why}",
                        hint=f"delete '{self.object_path(hash)}' and run 'git exp pull' to fetch it again")

    def _check_objects(self, wanted: dict[str, int], dest: str) -> None:
        """Every object present with its recorded size, before anything is touched."""
        missing, bad = [], []
        for digest, size in wanted.items():
            try:
                found = os.stat(self.object_path(digest)).st_size
            except FileNotFoundError:
                missing.append(digest)
                continue
            if found != size:
                bad.append((digest, size, found))
        if missing:
            raise _missing_error(missing, dest)
        if bad:
            digest, size, found = bad[0]
            more = f" (and {len(bad) - 1} more corrupt objects)" if len(bad) > 1 else ""
            raise self._corrupt(digest, f"expected {size} bytes, found {found}{more}")

    # -- checkout ---------------------------------------------------------

    def checkout(self, info: HashInfo, tree, rel: str, memo=None,
                 progress: Progress | None = None) -> CheckoutResult:
        """Make REL under the work tree TREE (a worktree_writes.WorkTree) hold
        exactly INFO's content, saving anything unsaved first.

        Every write and removal goes through TREE, which refuses a path
        through a symlink, out of the work tree or into .git; a foreign
        symlink at REL itself is refused, never followed or replaced.
        PROGRESS hears of every file written.
        """
        result = CheckoutResult()
        dest = tree.path(rel, "data path")
        if info.is_dir:
            self._checkout_dir(info, tree, rel, dest, memo, result, progress)
        else:
            self._checkout_file(info, tree, rel, dest, memo, result, progress)
        result.changed.sort()
        return result

    def _is_our_link(self, path: str, st: os.stat_result, digest: str) -> bool:
        """PATH already is object DIGEST, as a symlink to it or a hardlink of it."""
        obj = self.object_path(digest)
        if stat.S_ISLNK(st.st_mode):
            try:
                return os.readlink(path) == obj
            except OSError:
                return False
        try:
            return os.path.samestat(st, os.stat(obj))
        except OSError:
            return False

    def _save_if_needed(self, path: str, st: os.stat_result, result: CheckoutResult, memo,
                        digest: str | None = None) -> None:
        """Store the regular file PATH unless the cache already has its content."""
        if digest is None:
            digest, _ = hash_file_with_memo(path, memo, st)
        if self._has_intact(digest, st.st_size):
            return
        self._store_file(path, digest, st.st_size, memo)
        result.saved_first.append(path)
        result.saved_hashes[path] = digest

    def _kinds_for(self, executable: bool) -> list[str]:
        if not executable:
            return self.link_types
        return [k for k in self.link_types if k not in _SHARED] or ["copy"]

    def _put(self, digest: str, size: int, tree, rel: str, executable: bool, memo,
             result: CheckoutResult, progress: Progress | None = None) -> None:
        result.link_kind = self._put_file(digest, size, tree, rel, executable, memo)
        result.changed.append(tree.abs(rel))
        if progress is not None:
            progress(1, 1, size, size)

    def _put_file(self, digest: str, size: int, tree, rel: str, executable: bool, memo,
                  fresh: str | None = None) -> str:
        """Write object DIGEST at REL through TREE; the kind used.

        Never copies out a corrupt object: a small one is read whole and hashed
        before a byte is written; a big one is hashed while the kernel copies it,
        unless its verification stamp (state.py) shows it unchanged since it was
        last checked - then the copy alone (sendfile, or a reflink) is all the
        work, as for `cp`. FRESH: instead, the path inside a folder that nobody
        sees yet (see _write_fresh_dir), written in place without a temporary
        name of its own.
        """
        kinds = self._kinds_for(executable)
        obj = self.object_path(digest)
        if size <= SMALL_FILE and kinds[0] in SAVE_KINDS and "copy" in kinds:
            # Read once, checked, written once: for small files the system calls
            # are the cost, and a clone of a few KiB saves nothing over a copy.
            data = _read_object(obj)
            if len(data) != size:
                raise self._corrupt(digest, f"expected {size} bytes, found {len(data)}")
            actual = hashlib.sha256(data).hexdigest()
            if actual != digest:
                raise self._corrupt(digest, f"its content hashes to {actual}")
            if fresh is not None:
                _write_new(fresh, data, executable)
            else:
                temp = temp_name(tree.make_parents(rel, "data path"))
                _write_new(temp, data, executable)
                try:
                    tree.place(temp, rel, "data path")
                except BaseException:
                    _discard(temp)
                    raise
            return "copy"
        before = None
        trusted = False
        if memo is not None and size >= STAMPED:
            before = os.stat(obj)
            trusted = memo.is_verified(digest, before)
        expected = None if trusted else digest
        try:
            if fresh is not None:
                kind = materialize(obj, fresh, kinds, executable=executable, expected_hash=expected)
            else:
                kind = tree.link_from_cache(obj, rel, kinds, executable=executable, expected_hash=expected)
        except ContentMismatch as err:
            raise self._corrupt(digest, f"its content hashes to {err.actual}") from None
        if before is not None and not trusted and kind == "copy":
            after = os.stat(obj)
            if same_version(before, after) and before.st_ctime_ns == after.st_ctime_ns:
                memo.stamp(digest, after)  # just hashed whole while copied
        if memo is not None and kind in _SHARED:
            # A link keeps the object's (old) mtime, so the memo can vouch for it;
            # a copy's mtime is now, too fresh to record (state.py, RACY_NS).
            path = fresh or tree.abs(rel)
            memo.put(tree.abs(rel), os.stat(path), digest)
        return kind

    def _put_many(self, items: list[tuple[str, ManifestEntry]], tree, memo, result: CheckoutResult,
                  progress: Progress | None, building: str | None = None) -> None:
        """Write each (work-tree rel, entry) on a few threads (parallel.py); with
        BUILDING, into that fresh folder instead, at the entry's relpath."""
        if building is None:
            for rel in {rel.rpartition("/")[0]: rel for rel, _ in items}.values():
                tree.make_parents(rel, "data path")  # checked once per folder, before the threads
        else:
            for parent in sorted({e.relpath.rpartition("/")[0] for _, e in items} - {""}):
                os.makedirs(os.path.join(building, *parent.split("/")), exist_ok=True)
        total_bytes = sum(e.size for _, e in items)
        done = [0, 0]

        def put(item) -> str:
            rel, e = item
            fresh = os.path.join(building, *e.relpath.split("/")) if building is not None else None
            return self._put_file(e.hash, e.size, tree, rel, e.executable, memo, fresh)

        def finished(item, kind: str) -> None:
            result.link_kind = kind
            result.changed.append(tree.abs(item[0]))
            done[0] += 1
            done[1] += item[1].size
            if progress is not None:
                progress(done[0], len(items), done[1], total_bytes)

        run_all(put, items, finished)

    def _checkout_file(self, info: HashInfo, tree, rel: str, dest: str, memo,
                       result: CheckoutResult, progress: Progress | None = None) -> None:
        self._check_objects({info.hash: info.size}, dest)
        try:
            st = os.lstat(dest)
        except FileNotFoundError:
            st = None
        executable = False
        if st is not None:
            if self._is_our_link(dest, st, info.hash):
                return
            if stat.S_ISREG(st.st_mode):
                digest, _ = hash_file_with_memo(dest, memo, st)
                if digest == info.hash:
                    return
                executable = bool(st.st_mode & stat.S_IXUSR)
                self._save_if_needed(dest, st, result, memo, digest)
            elif stat.S_ISDIR(st.st_mode):
                self._save_tree(dest, result, memo)
                tree.remove(rel, "data path")
            # A link into the cache (the only kind tree.path lets through) or
            # a FIFO holds no content of the user's: the rename in _put swaps it.
        self._put(info.hash, info.size, tree, rel, executable, memo, result, progress)

    def _save_tree(self, top: str, result: CheckoutResult, memo) -> None:
        """Save every regular file under TOP (no symlinks followed) that the cache lacks."""
        files, _, _ = _scan(top)
        for rel, st in files.items():
            self._save_if_needed(os.path.join(top, *rel.split("/")), st, result, memo)

    def _checkout_dir(self, info: HashInfo, tree, top_rel: str, dest: str, memo,
                      result: CheckoutResult, progress: Progress | None = None) -> None:
        entries = self.load_manifest(info.hash)
        self._check_objects({e.hash: e.size for e in entries}, dest)
        wanted = {e.relpath: e for e in entries}
        wanted_dirs = {""}
        for rel in wanted:
            parent = rel.rpartition("/")[0]
            while parent not in wanted_dirs:
                wanted_dirs.add(parent)
                parent = parent.rpartition("/")[0]

        try:
            top = os.lstat(dest)
        except FileNotFoundError:
            top = None
        files: dict[str, os.stat_result] = {}
        others: dict[str, os.stat_result] = {}
        dirs: list[str] = []
        keep: set[str] = set()

        # Phase 1: find out what is there and save whatever the cache lacks.
        # Nothing is changed until every save has succeeded.
        if top is not None and stat.S_ISDIR(top.st_mode):
            files, others, dirs = _scan(dest)
        elif top is not None and stat.S_ISREG(top.st_mode):
            self._save_if_needed(dest, top, result, memo)
        for rel, st in files.items():
            path = os.path.join(dest, *rel.split("/"))
            e = wanted.get(rel)
            if e is not None and self._is_our_link(path, st, e.hash):
                # A hardlink of the object: right content, nothing to save, but
                # it shares the object's mode, so an executable is rewritten.
                if not e.executable:
                    keep.add(rel)
                continue
            digest, _ = hash_file_with_memo(path, memo, st)
            if e is not None and digest == e.hash:
                keep.add(rel)
                continue
            self._save_if_needed(path, st, result, memo, digest)
        for rel, st in others.items():
            e = wanted.get(rel)
            if e is not None and not e.executable and stat.S_ISLNK(st.st_mode) \
                    and self._is_our_link(os.path.join(dest, *rel.split("/")), st, e.hash):
                keep.add(rel)

        # Phase 2: remove what does not belong, then write what is missing.
        # Symlinks inside DEST that do not belong are unlinked here, before
        # any file is written under their names, so nothing goes through one.
        if top is None:
            self._write_fresh_dir(tree, top_rel, dest, entries, memo, result, progress)
            return
        if not stat.S_ISDIR(top.st_mode):
            tree.remove(top_rel, "data path")  # a file (saved above), a link into the cache, a FIFO...
            result.changed.append(dest)
        tree.mkdir(top_rel)
        for rel in list(files) + list(others):
            if rel in keep or rel in wanted:
                continue  # kept, or replaced atomically below (a link swapped, never followed)
            tree.remove(f"{top_rel}/{rel}", "data path")
            result.changed.append(os.path.join(dest, *rel.split("/")))
        for rel in sorted(dirs, key=lambda r: r.count("/"), reverse=True):
            if rel not in wanted_dirs and not tree.rmdir(f"{top_rel}/{rel}"):
                raise ExpError(f"cannot remove directory '{os.path.join(dest, *rel.split('/'))}'",
                               hint="something is writing into it; run the command again")
        to_write = []
        for e in entries:
            rel = f"{top_rel}/{e.relpath}"
            if e.relpath in keep:
                st = files.get(e.relpath)
                if st is not None and bool(st.st_mode & stat.S_IXUSR) != e.executable \
                        and not self._is_our_link(tree.abs(rel), st, e.hash):
                    tree.set_executable(rel, e.executable)
                    result.changed.append(tree.abs(rel))
                continue
            to_write.append((rel, e))
        self._put_many(to_write, tree, memo, result, progress)

    def _write_fresh_dir(self, tree, top_rel: str, dest: str, entries: list[ManifestEntry], memo,
                         result: CheckoutResult, progress: Progress | None) -> None:
        """DEST does not exist: build it under a temporary name beside it and
        rename it into place once whole. Its files need no temporary names of
        their own (one rename, not one per file: a third of the file system
        work for small files), and after a crash or Ctrl-C there is no half
        folder at DEST, only a '.*.tmp' one beside it - removed at once when
        we get the chance. The manifest's paths were checked when it was
        read (hashing.check_relpath), and the folder is our own, new, with
        no link in it."""
        tree.make_parents(top_rel, "data path")
        building = temp_name(dest)
        os.mkdir(building)
        try:
            self._put_many([(f"{top_rel}/{e.relpath}", e) for e in entries], tree, memo, result,
                           progress, building=building)
            os.rename(building, dest)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise

    # -- receiving from a data remote (remotes/transfer.py) ----------------

    def incoming(self, hash: str) -> str:
        """A new temporary name beside object HASH, for a transfer to write it to; see adopt()."""
        dst = self.object_path(hash)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        return temp_name(dst)

    def adopt(self, tmp: str, hash: str, verified: bool = False) -> None:
        """Publish the file at TMP (named by incoming()) as object HASH, read-only.

        Its bytes are hashed first, unless VERIFIED says the writer hashed
        them as they arrived (every data remote's get() does, through
        remotes.base.write_verified: hashing again would read each object
        twice). ExpError, and TMP removed, if they are not HASH's bytes.
        """
        dst = self.object_path(hash)
        try:
            if not verified:
                if hash.endswith(DIR_SUFFIX):
                    actual = manifest_hash(_read_object(tmp))
                else:
                    actual = hash_file(tmp)
                if actual != hash:
                    raise ExpError(f"the object received as {hash} hashes to {actual}: not kept",
                                   hint="the copy on the data remote is corrupt; push it again "
                                        "from a clone that has a good copy")
            os.chmod(tmp, 0o444)
            os.replace(tmp, dst)
        except BaseException:
            _discard(tmp)
            raise
        self._manifests.pop(hash, None)


def _freshen(path: str) -> None:
    """Mark an object just saved again as young, as Git freshens a loose object
    it would have written: gc's grace period (gc.py) then protects it until
    whoever saved it has recorded it. A hard-linked object is left alone:
    its time is also a work-tree file's (the stat memo would re-hash it),
    and gc never deletes a linked object anyway."""
    try:
        if os.stat(path).st_nlink == 1:
            os.utime(path)
    except OSError:
        pass  # another user's shared cache: gc's run-lock rule still applies


def _read_object(path: str) -> bytes:
    with open(path, "rb", buffering=0) as f:
        return f.read()


def _write_new(path: str, data: bytes, executable: bool) -> None:
    """A new file at PATH (never through a link) holding DATA, its mode from
    the umask, plus exec bits if EXECUTABLE; removed again if writing fails."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_BINARY,
                 0o777 if executable else 0o666)
    try:
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
    except BaseException:
        _discard(path)
        raise


def _read_whole(path: str, st: os.stat_result) -> tuple[bytes, os.stat_result]:
    """The bytes of a small file, checked to be the version ST describes."""
    try:
        fd = os.open(path, os.O_RDONLY | _O_BINARY)
    except OSError as err:
        raise ExpError(f"cannot read '{path}': {err.strerror or err}") from None
    try:
        chunks = []
        left = st.st_size + 1  # one byte more: a file that grew shows here
        while left > 0:
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if not same_version(st, after) or len(data) != after.st_size:
        raise ExpError(f"'{path}' changed while it was being hashed",
                       hint="run the command again once whatever writes the file has finished")
    return data, after


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _scan(top: str) -> tuple[dict[str, os.stat_result], dict[str, os.stat_result], list[str]]:
    """Everything under TOP without following symlinks: (regular files, other
    non-directories such as symlinks and FIFOs, directories), keyed by posix
    relative path."""
    files: dict[str, os.stat_result] = {}
    others: dict[str, os.stat_result] = {}
    dirs: list[str] = []
    stack = [("", top)]
    while stack:
        prefix, folder = stack.pop()
        with os.scandir(folder) as it:
            for item in it:
                rel = prefix + item.name
                if item.is_dir(follow_symlinks=False):
                    dirs.append(rel)
                    stack.append((rel + "/", item.path))
                elif item.is_file(follow_symlinks=False):
                    files[rel] = item.stat(follow_symlinks=False)
                else:
                    others[rel] = item.stat(follow_symlinks=False)
    return files, others, dirs


def iter_object_dir(objects: str) -> Iterator[str]:
    """Every object hash in a folder laid out as <2 hex>/<rest>, in order.

    The local cache and directory data remotes share this layout; temporary
    files never form a valid hash, so they are skipped."""
    try:
        shards = sorted(os.listdir(objects))
    except FileNotFoundError:
        return
    for shard in shards:
        try:
            names = sorted(os.listdir(os.path.join(objects, shard)))
        except (NotADirectoryError, FileNotFoundError):
            continue
        for name in names:
            if is_valid_hash(shard + name):
                yield shard + name
