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
files are in flight at once (parallel.py); a save of many small files runs
in forked worker processes instead of threads, so its Python runs on every
core without GIL hand-offs (cache_save.py). A save of many files lists each
2-hex folder once rather than look up each object it is about to write
(_ShardListing), and the objects' folder spreads its 2-hex folders over the
disk (cachefiles.spread_subfolders: on ext4 without a journal, a file made
near many just-deleted ones cost up to half a millisecond of kernel time).
"""
from __future__ import annotations

import hashlib
import os
import stat

from git_exp.data import cachefiles
from git_exp.data.cache_checkout import Checkout, CheckoutResult
from git_exp.data.hashing import (DIR_SUFFIX, HashInfo, ManifestEntry, all_valid_hashes, hash_file,
                                  hash_path, is_valid_hash, hash_checked, manifest_hash, parse_manifest,
                                  same_version)
from git_exp.data.links import (DEFAULT_LINK_TYPES, LINK_TYPES, ContentMismatch, current_umask,
                                link_to_temp, temp_name)
from git_exp.errors import ExpError

TYPE_CHECKING = False   # typing's, without importing typing on run's path (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Callable, Iterator, Protocol, Sequence

    from git_exp.data.state import StateMemo

    # The progress callback add and checkout report to:
    # (files done, files in all, bytes done, bytes in all). Drawn by ui/progress.py.
    Progress = Callable[[int, int, int, int], None]

    class TreeDoor(Protocol):
        """What checkout writes a work tree through: worktree_writes.WorkTree
        (a higher rank, so named by its shape rather than imported)."""

        def abs(self, rel: str) -> str: ...
        def path(self, rel: str, what: str = ..., replace_link: bool = ...) -> str: ...
        def make_parents(self, rel: str, what: str = ...) -> str: ...
        def mkdir(self, rel: str) -> str: ...
        def rmdir(self, rel: str) -> bool: ...
        def place(self, temp: str, rel: str, what: str = ...) -> str: ...
        def link_from_cache(self, src: str, rel: str, kinds: Sequence[str], *, executable: bool | None = ...,
                            expected_hash: str | None = ...) -> str: ...
        def set_executable(self, rel: str, executable: bool) -> None: ...
        def remove(self, rel: str, what: str = ...) -> bool: ...


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
        progress = self.progress
        if progress is None:
            return None
        self._base = [self._base[0] + self._last[0], self._base[1] + self._last[1]]
        self._last = [0, 0]
        base_done, base_bytes = self._base

        def report(done: int, total: int, done_bytes: int, total_bytes: int) -> None:
            self._last = [done, done_bytes]
            progress(base_done + done, max(self.total, base_done + total),
                          base_bytes + done_bytes, max(self.total_bytes, base_bytes + total_bytes))
        return report


class Cache:
    """The one owner of writes into a cache: objects are stored, checked, listed and
    removed here, and written out to a work tree by checkout (cache_checkout.py)."""

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
        # Objects _present() has found, for a checkout's second ask (see there).
        self._found: set[str] = set()

    # -- objects ----------------------------------------------------------

    def object_path(self, hash: str) -> str:
        """Where object HASH lives; ExpError for anything but a valid hash."""
        if not is_valid_hash(hash):
            raise ExpError(f"malformed object hash '{hash}'",
                           hint="expected 64 lowercase hex digits, optionally followed by .dir")
        return os.path.join(self._objects, hash[:2], hash[2:])

    def _make_folder(self, folder: str) -> None:
        """Create FOLDER, one of the objects' 2-hex folders, unless it exists. The
        objects' folder, when this makes it, first gets the mark that spreads
        its subfolders over the disk (cachefiles.spread_subfolders says why)."""
        try:
            os.mkdir(folder)
        except FileExistsError:
            pass
        except FileNotFoundError:
            os.makedirs(self._objects, exist_ok=True)
            cachefiles.spread_subfolders(self._objects)
            os.makedirs(folder, exist_ok=True)

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

    def verify(self, hash: str, memo: StateMemo | None = None) -> bool:
        """Re-hash object HASH; False if it is corrupt or missing. With MEMO,
        a big intact object gets a verification stamp (see cachefiles.STAMPED)."""
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
        if memo is not None and before.st_size >= cachefiles.STAMPED:
            after = os.stat(path)
            if same_version(before, after) and before.st_ctime_ns == after.st_ctime_ns:
                memo.stamp(hash, after)
        return True

    def remove_stale_temps(self, older_than: float, dry_run: bool = False) -> tuple[int, int]:
        """Delete what crashed saves and downloads left ('.*.tmp' files last
        written before OLDER_THAN); (how many, bytes)."""
        return cachefiles.remove_stale_temps(self._objects, older_than, dry_run)

    def remove(self, hash: str) -> int:
        """Delete object HASH; the bytes freed (0 if other links still hold it)."""
        path = self.object_path(hash)
        self._manifests.pop(hash, None)
        self._found.discard(hash)
        try:
            st = os.lstat(path)
            os.unlink(path)
        except FileNotFoundError:
            return 0
        return st.st_size if st.st_nlink <= 1 else 0

    # -- saving -----------------------------------------------------------

    def save(self, path: str, memo: StateMemo | None = None, progress: Progress | None = None) -> HashInfo:
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

    def _save_dir(self, path: str, memo: StateMemo | None, progress: Progress | None) -> HashInfo:
        """Hash and store every file of a folder (cache_save.py, loaded only for this)."""
        from git_exp.data.cache_save import FolderSave
        return FolderSave(self, memo, progress).save(path)

    def _save_file(self, full: str, st: os.stat_result, known: str | None,
                   memo: StateMemo | None, listing: _ShardListing | None = None) -> tuple[str, os.stat_result | None]:
        """Store one file of a folder being saved; (its hash, its stat to memoise or None).
        LISTING, if given, says which objects cannot be in the cache (see _ShardListing)."""
        if known is not None and self._has_intact(known, st.st_size):
            cachefiles.freshen(self.object_path(known))
            return known, None
        if st.st_size > cachefiles.SMALL_FILE:
            after = None
            if known is None:
                known, _, after = hash_checked(full, st)
            self._store_file(full, known, st.st_size, memo)
            return known, after
        data, after = cachefiles.read_whole(full, st)
        return self._store_small(data, listing), after

    def _store_small(self, data: bytes, listing: _ShardListing | None) -> str:
        """Hash DATA, a small file's bytes, and store them unless the cache has them; the hash."""
        digest = hashlib.sha256(data).hexdigest()
        if listing is not None and not listing.may_have(digest):
            self._write_object(digest, data)
            listing.wrote(digest)
        elif not self._has_intact(digest, len(data)):
            self._write_object(digest, data)
        else:
            cachefiles.freshen(self.object_path(digest))
        return digest

    def _write_object(self, digest: str, data: bytes) -> None:
        """Write object DIGEST from DATA, which the caller has just hashed."""
        # object_path's check of the name is for hashes from elsewhere; this is
        # hashlib's. Written out by hand: os.path.join costs a microsecond a file.
        dst = self._objects + os.sep + digest[:2] + os.sep + digest[2:]
        tmp = temp_name(dst)
        try:
            fd = os.open(tmp, _NEW_OBJECT, 0o444)
        except FileNotFoundError:
            self._make_folder(os.path.dirname(dst))
            fd = os.open(tmp, _NEW_OBJECT, 0o444)
        try:
            try:
                written = os.write(fd, data)   # all of it, for a small file on a local disk
                if written < len(data):
                    cachefiles.write_all(fd, data[written:])
                if current_umask() & 0o444:
                    os.fchmod(fd, 0o444)  # objects are readable by all who share the cache
            finally:
                os.close(fd)
            os.replace(tmp, dst)
        except BaseException:
            cachefiles.discard(tmp)
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

    def _store_file(self, src: str, digest: str, size: int, memo: StateMemo | None = None) -> bool:
        """Put SRC's content in the cache as DIGEST unless it is there; True if written."""
        dst = self.object_path(digest)
        if self._has_intact(digest, size):
            cachefiles.freshen(dst)
            return False  # dedup (a wrong-sized object, say truncated, is replaced)
        self._make_folder(os.path.dirname(dst))
        try:
            tmp, kind = link_to_temp(src, dst, cachefiles.SAVE_KINDS, expected_hash=digest)
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
            cachefiles.discard(tmp)
            raise
        if memo is not None and size >= cachefiles.STAMPED:
            memo.stamp(digest, os.stat(dst))  # written from bytes just checked
        return True

    @staticmethod
    def _changed_while_saving(src: str, memo: StateMemo | None) -> None:
        if memo is not None:
            memo.forget(src)
        raise ExpError(f"'{src}' changed while it was being saved to the cache",
                       hint="run the command again once whatever writes the file has finished")

    def _store_bytes(self, digest: str, data: bytes) -> None:
        dst = self.object_path(digest)
        if self._has_intact(digest, len(data)):
            cachefiles.freshen(dst)
            return
        self._make_folder(os.path.dirname(dst))
        tmp = temp_name(dst)
        try:
            with open(tmp, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())  # manifests are few and small: make them durable
            os.chmod(tmp, 0o444)
            os.replace(tmp, dst)
        except BaseException:
            cachefiles.discard(tmp)
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
            raise cachefiles.missing_error([hash]) from None
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
        wanted = self.objects_of(info)
        if len(wanted) < LIST_SHARDS_FROM:
            return sorted(h for h in wanted if not self.has(h))
        return sorted(wanted - self._present(wanted))

    def _present(self, hashes: set[str], again: bool = False) -> set[str]:
        """Those of HASHES that are files in the cache (what has() says of each),
        from one listing per 2-hex folder instead of a stat() per object: a
        folder's 10,000 objects are found in at most 256 listings.

        AGAIN: a second ask moments after a first (a checkout asks while it
        plans, then before it writes): objects this Cache found already are
        not looked for again. One removed since by another process shows
        when it is read (cache_checkout.py reports it missing). Without
        AGAIN every object is looked for: a long-lived Cache never answers
        from what it found long ago."""
        found = hashes & self._found if again else set()
        rest = hashes - found
        if not all_valid_hashes(rest):
            for h in rest:
                self.object_path(h)  # refuses the malformed hash, as has() would
        by_shard: dict[str, set[str]] = {}
        for h in rest:
            by_shard.setdefault(h[:2], set()).add(h[2:])
        for shard, names in by_shard.items():
            try:
                with os.scandir(os.path.join(self._objects, shard)) as it:
                    # is_file() follows a symlink, as os.path.isfile does, and
                    # for anything else answers from the listing, no stat().
                    found.update(shard + e.name for e in it if e.name in names and e.is_file())
            except (FileNotFoundError, NotADirectoryError):
                continue
        self._found |= found
        return found

    def _corrupt(self, hash: str, why: str) -> ExpError:
        return ExpError(f"cache object {hash} is corrupt: {why}",
                        hint=f"delete '{self.object_path(hash)}' and run 'git exp pull' to fetch it again")

    # -- checkout ---------------------------------------------------------

    def checkout(self, info: HashInfo, tree: TreeDoor, rel: str, memo: StateMemo | None = None,
                 progress: Progress | None = None) -> CheckoutResult:
        """Make REL under the work tree TREE (a worktree_writes.WorkTree) hold
        exactly INFO's content, saving anything unsaved first (cache_checkout.py).

        Every write and removal goes through TREE, which refuses a path
        through a symlink, out of the work tree or into .git; a foreign
        symlink at REL itself is refused, never followed or replaced.
        PROGRESS hears of every file written.
        """
        return Checkout(self).checkout(info, tree, rel, memo, progress)

    # -- receiving from a data remote (remotes/transfer.py) ----------------

    def incoming(self, hash: str) -> str:
        """A new temporary name beside object HASH, for a transfer to write it to; see adopt()."""
        dst = self.object_path(hash)
        self._make_folder(os.path.dirname(dst))
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
                    actual = manifest_hash(cachefiles.read_object(tmp))
                else:
                    actual = hash_file(tmp)
                if actual != hash:
                    raise ExpError(f"the object received as {hash} hashes to {actual}: not kept",
                                   hint="the copy on the data remote is corrupt; push it again "
                                        "from a clone that has a good copy")
            os.chmod(tmp, 0o444)
            os.replace(tmp, dst)
        except BaseException:
            cachefiles.discard(tmp)
            raise
        self._manifests.pop(hash, None)


_NEW_OBJECT = os.O_WRONLY | os.O_CREAT | os.O_EXCL | cachefiles.O_BINARY

# A save of at least this many files lists the cache's 2-hex folders instead
# of looking each object up (see _ShardListing): from about four objects per
# folder on, 256 listings cost less than one failing stat() per file.
LIST_SHARDS_FROM = 1024


class _ShardListing:
    """Which objects a save of many files may find in the cache already.

    Each 2-hex folder is listed once, when the first object bound for it
    comes by, and created then if it is missing: an object whose name is not
    in the listing is written without a stat() that would only fail (one per
    file: 10,000 in a first add of 10,000 files), and into a folder known to
    exist. A name that is listed is still checked (_has_intact: size, type)
    as before. An object another process adds after the listing is simply
    written again: the same bytes, renamed over it atomically, so the
    invariant (an object under its final name is exactly its bytes) holds.
    Shared by the save's worker threads: dict and set updates are atomic
    under the GIL, and a race only ever costs a second listing or write.
    Forked workers each get their own copy: to each, what the others write
    is "another process", as above.
    """

    def __init__(self, objects: str, make_folder: Callable[[str], None]):
        self._objects = objects
        self._make_folder = make_folder
        self._names: dict[str, set[str] | None] = {}

    def may_have(self, digest: str) -> bool:
        shard = digest[:2]
        names = self._names.get(shard)
        if names is None and shard not in self._names:
            names = self._names.setdefault(shard, self._list(shard))
        return names is None or digest[2:] in names

    def wrote(self, digest: str) -> None:
        names = self._names.get(digest[:2])
        if names is not None:
            names.add(digest[2:])

    def _list(self, shard: str) -> set[str] | None:
        folder = os.path.join(self._objects, shard)
        try:
            return set(os.listdir(folder))
        except FileNotFoundError:
            pass
        except OSError:
            return None  # not a folder, unreadable: look every object up, as without a listing
        self._make_folder(folder)
        return set()


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
