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
checkout checks every object's size and hashes every copy it makes, and
verify() re-hashes on demand.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from git_exp.data.hashing import (DIR_SUFFIX, HashInfo, ManifestEntry, hash_file,
                                  hash_file_with_memo, hash_path, is_valid_hash,
                                  manifest_bytes, manifest_hash, parse_manifest)
from git_exp.data.links import DEFAULT_LINK_TYPES, LINK_TYPES, ContentMismatch, link_to_temp, temp_name
from git_exp.errors import ExpError

# Into the cache we only ever clone or copy: a hardlink or symlink would make
# the object the user's own file, and (as root) their next edit would change
# the object under its hash. See links.py.
SAVE_KINDS = ("reflink", "copy")
# Kinds that share the object's inode, so cannot give a file its own exec bit.
_SHARED = ("hardlink", "symlink")
_SHOW_MISSING = 10
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

    def verify(self, hash: str) -> bool:
        """Re-hash object HASH; False if it is corrupt or missing."""
        path = self.object_path(hash)
        try:
            if hash.endswith(DIR_SUFFIX):
                with open(path, "rb") as f:
                    return manifest_hash(f.read()) == hash
            return hash_file(path) == hash
        except FileNotFoundError:
            return False

    def remove(self, hash: str) -> int:
        """Delete object HASH; the bytes freed (0 if other links still hold it)."""
        path = self.object_path(hash)
        try:
            st = os.lstat(path)
            os.unlink(path)
        except FileNotFoundError:
            return 0
        return st.st_size if st.st_nlink <= 1 else 0

    # -- saving -----------------------------------------------------------

    def save(self, path: str, memo=None) -> HashInfo:
        """Store the file or directory at PATH in the cache; its HashInfo."""
        info, entries = hash_path(path, memo, cache_root=self.root)
        if entries is None:
            self._store_file(path, info.hash, info.size, memo)
            return info
        for e in entries:
            self._store_file(os.path.join(path, *e.relpath.split("/")), e.hash, e.size, memo)
        self._store_bytes(info.hash, manifest_bytes(entries))
        return info

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
        path = self.object_path(hash)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise _missing_error([hash]) from None
        if manifest_hash(data) != hash:
            raise self._corrupt(hash, "its content does not match its hash")
        try:
            return parse_manifest(data)
        except ExpError as err:
            raise ExpError(f"{err.message} (object {hash})", hint=err.hint) from None

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

    def checkout(self, info: HashInfo, tree, rel: str, memo=None) -> CheckoutResult:
        """Make REL under the work tree TREE (a worktree_writes.WorkTree) hold
        exactly INFO's content, saving anything unsaved first.

        Every write and removal goes through TREE, which refuses a path
        through a symlink, out of the work tree or into .git; a foreign
        symlink at REL itself is refused, never followed or replaced.
        """
        result = CheckoutResult()
        dest = tree.path(rel, "data path")
        if info.is_dir:
            self._checkout_dir(info, tree, rel, dest, memo, result)
        else:
            self._checkout_file(info, tree, rel, dest, memo, result)
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

    def _put(self, digest: str, tree, rel: str, executable: bool, memo, result: CheckoutResult) -> None:
        try:
            kind = tree.link_from_cache(self.object_path(digest), rel, self._kinds_for(executable),
                                        executable=executable, expected_hash=digest)
        except ContentMismatch as err:
            raise self._corrupt(digest, f"its content hashes to {err.actual}") from None
        path = tree.abs(rel)
        result.link_kind = kind
        result.changed.append(path)
        if memo is not None:
            memo.put(path, os.stat(path), digest)

    def _checkout_file(self, info: HashInfo, tree, rel: str, dest: str, memo,
                       result: CheckoutResult) -> None:
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
        self._put(info.hash, tree, rel, executable, memo, result)

    def _save_tree(self, top: str, result: CheckoutResult, memo) -> None:
        """Save every regular file under TOP (no symlinks followed) that the cache lacks."""
        files, _, _ = _scan(top)
        for rel, st in files.items():
            self._save_if_needed(os.path.join(top, *rel.split("/")), st, result, memo)

    def _checkout_dir(self, info: HashInfo, tree, top_rel: str, dest: str, memo,
                      result: CheckoutResult) -> None:
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
        if top is not None and not stat.S_ISDIR(top.st_mode):
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
        for e in entries:
            rel = f"{top_rel}/{e.relpath}"
            if e.relpath in keep:
                st = files.get(e.relpath)
                if st is not None and bool(st.st_mode & stat.S_IXUSR) != e.executable \
                        and not self._is_our_link(tree.abs(rel), st, e.hash):
                    tree.set_executable(rel, e.executable)
                    result.changed.append(tree.abs(rel))
                continue
            self._put(e.hash, tree, rel, e.executable, memo, result)


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
