"""Checkout: make a path of the work tree hold exactly a cache object's content.

The other half of the cache (cache.py stores, this writes out). Split off
because its rules are its own: save whatever the work tree holds that the
cache lacks before touching it (nothing the user wrote is lost), check every
object before the first byte is written, write only through the work-tree
door (worktree_writes.WorkTree), build a missing folder aside and rename it
whole. `Cache.checkout` is the entry point; `Checkout` is its helper and reads
the Cache's own object helpers (`_has_intact`, `_present`, `_store_file`, `_corrupt`) as
a friend in the same package.
"""
from __future__ import annotations

import hashlib
import os
import stat

from git_exp.data import cachefiles
from git_exp.data.hashing import HashInfo, ManifestEntry, hash_file_with_memo, same_version
from git_exp.data.links import ContentMismatch, materialize, temp_name
from git_exp.data.parallel import MIN_ITEMS, run_all
from git_exp.errors import ExpError
from git_exp.plainclass import Mutable

TYPE_CHECKING = False   # typing's, without importing typing on run's path (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.data.cache import Cache, Progress, TreeDoor
    from git_exp.data.state import StateMemo

# Kinds that share the object's inode, so cannot give a file its own exec bit.
_SHARED = ("hardlink", "symlink")


class CheckoutResult(Mutable):
    """What a checkout did (plainclass.Mutable: `run` imports this module on every call)."""
    __slots__ = ("changed", "saved_first", "link_kind", "saved_hashes")

    def __init__(self, changed: list[str] | None = None, saved_first: list[str] | None = None,
                 link_kind: str | None = None, saved_hashes: dict[str, str] | None = None):
        self.changed = [] if changed is None else changed               # paths written, removed or chmod'ed
        self.saved_first = [] if saved_first is None else saved_first   # paths whose old content was saved first
        self.link_kind = link_kind                                       # kind of the last file written
        self.saved_hashes = {} if saved_hashes is None else saved_hashes  # saved path -> hash to restore it


class Checkout:
    """Writes objects of CACHE into a work tree; one per Cache.checkout call."""

    def __init__(self, cache: Cache):
        self.cache = cache

    def _check_objects(self, wanted: dict[str, int], dest: str, sizes: bool = True) -> None:
        """Every object present with its recorded size, before anything is touched.
        SIZES=False: present only (a listing, not a stat per object), for a
        folder built aside, where each object's size and hash are checked as
        it is read and a bad one leaves nothing behind (_write_fresh_dir)."""
        if not sizes:
            absent = set(wanted) - self.cache._present(set(wanted), again=True)
            if absent:
                raise cachefiles.missing_error(sorted(absent), dest)
            return
        missing, bad = [], []
        for digest, size in wanted.items():
            try:
                found = os.stat(self.cache.object_path(digest)).st_size
            except FileNotFoundError:
                missing.append(digest)
                continue
            if found != size:
                bad.append((digest, size, found))
        if missing:
            raise cachefiles.missing_error(missing, dest)
        if bad:
            digest, size, found = bad[0]
            more = f" (and {len(bad) - 1} more corrupt objects)" if len(bad) > 1 else ""
            raise self.cache._corrupt(digest, f"expected {size} bytes, found {found}{more}")

    # -- checkout ---------------------------------------------------------

    def checkout(self, info: HashInfo, tree: TreeDoor, rel: str, memo: StateMemo | None = None,
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
        obj = self.cache.object_path(digest)
        if stat.S_ISLNK(st.st_mode):
            try:
                return os.readlink(path) == obj
            except OSError:
                return False
        try:
            return os.path.samestat(st, os.stat(obj))
        except OSError:
            return False

    def _save_if_needed(self, path: str, st: os.stat_result, result: CheckoutResult, memo: StateMemo | None,
                        digest: str | None = None) -> None:
        """Store the regular file PATH unless the cache already has its content."""
        if digest is None:
            digest, _ = hash_file_with_memo(path, memo, st)
        if self.cache._has_intact(digest, st.st_size):
            return
        self.cache._store_file(path, digest, st.st_size, memo)
        result.saved_first.append(path)
        result.saved_hashes[path] = digest

    def _kinds_for(self, executable: bool) -> list[str]:
        if not executable:
            return self.cache.link_types
        return [k for k in self.cache.link_types if k not in _SHARED] or ["copy"]

    @staticmethod
    def _copies_small(kinds: list[str]) -> bool:
        """Whether a small file is copied (_copy_small) when KINDS are the
        link types to try: read once, checked, written once. For small files
        the system calls are the cost, and a clone of a few KiB saves nothing
        over a copy; a link, when asked for first, is made instead."""
        return kinds[0] in cachefiles.SAVE_KINDS and "copy" in kinds

    def _put(self, digest: str, size: int, tree: TreeDoor, rel: str, executable: bool, memo: StateMemo | None,
             result: CheckoutResult, progress: Progress | None = None) -> None:
        result.link_kind = self._put_file(digest, size, tree, rel, executable, memo)
        result.changed.append(tree.abs(rel))
        if progress is not None:
            progress(1, 1, size, size)

    def _put_file(self, digest: str, size: int, tree: TreeDoor, rel: str, executable: bool, memo: StateMemo | None,
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
        obj = self.cache.object_path(digest)
        if size <= cachefiles.SMALL_FILE and self._copies_small(kinds):
            if fresh is not None:
                self._copy_small(obj, fresh, digest, size, executable)
            else:
                temp = temp_name(tree.make_parents(rel, "data path"))
                self._copy_small(obj, temp, digest, size, executable)
                tree.place(temp, rel, "data path")   # which removes TEMP if it fails
            return "copy"
        before = None
        trusted = False
        if memo is not None and size >= cachefiles.STAMPED:
            before = os.stat(obj)
            trusted = memo.is_verified(digest, before)
        expected = None if trusted else digest
        try:
            if fresh is not None:
                kind = materialize(obj, fresh, kinds, executable=executable, expected_hash=expected)
            else:
                kind = tree.link_from_cache(obj, rel, kinds, executable=executable, expected_hash=expected)
        except ContentMismatch as err:
            raise self.cache._corrupt(digest, f"its content hashes to {err.actual}") from None
        # (BEFORE is only taken with a memo: the first test says so to the type checker)
        if memo is not None and before is not None and not trusted and kind == "copy":
            after = os.stat(obj)
            if same_version(before, after) and before.st_ctime_ns == after.st_ctime_ns:
                memo.stamp(digest, after)  # just hashed whole while copied
        if memo is not None and kind in _SHARED:
            # A link keeps the object's (old) mtime, so the memo can vouch for it;
            # a copy's mtime is now, too fresh to record (state.py, RACY_NS).
            path = fresh or tree.abs(rel)
            memo.put(tree.abs(rel), os.stat(path), digest)
        return kind

    def _copy_small(self, obj: str, new: str, digest: str, size: int, executable: bool) -> None:
        """Create NEW (never through a link) holding object DIGEST, at OBJ, of
        SIZE bytes: read whole and hashed before a byte is written, so a
        corrupt object is never copied out. An object gone since it was found
        (another process's gc) is reported missing."""
        try:
            data = cachefiles.read_object(obj, size)
        except FileNotFoundError:
            raise cachefiles.missing_error([digest]) from None
        if len(data) != size:
            raise self.cache._corrupt(digest, f"expected {size} bytes, found {len(data)}")
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise self.cache._corrupt(digest, f"its content hashes to {actual}")
        cachefiles.write_new(new, data, executable)

    def _put_many(self, items: list[tuple[str, ManifestEntry]], tree: TreeDoor, memo: StateMemo | None,
                  result: CheckoutResult, progress: Progress | None) -> None:
        """Write each (work-tree rel, entry) on a few threads (parallel.py)."""
        for rel in {rel.rpartition("/")[0]: rel for rel, _ in items}.values():
            tree.make_parents(rel, "data path")  # checked once per folder, before the threads
        total_bytes = sum(e.size for _, e in items)
        done = [0, 0]

        def put(item: tuple[str, ManifestEntry]) -> str:
            rel, e = item
            return self._put_file(e.hash, e.size, tree, rel, e.executable, memo)

        def finished(item: tuple[str, ManifestEntry], kind: str) -> None:
            result.link_kind = kind
            result.changed.append(tree.abs(item[0]))
            done[0] += 1
            done[1] += item[1].size
            if progress is not None:
                progress(done[0], len(items), done[1], total_bytes)

        run_all(put, items, finished)

    def _fill(self, building: str, entries: list[ManifestEntry], tree: TreeDoor, top_rel: str,
              memo: StateMemo | None, result: CheckoutResult, progress: Progress | None) -> None:
        """Write every entry into BUILDING, a folder of our own that nobody
        sees yet (see _write_fresh_dir), on a few threads (parallel.py).

        Each folder is made once, parents first. A small file takes the
        short way (_copy_small, checked as ever): the names of its object
        and of its new file are made here by joining strings, from the
        manifest's hashes and paths that parse_manifest has already checked,
        and nothing runs per file in this thread unless PROGRESS listens.
        """
        for parent in sorted({e.relpath.rpartition("/")[0] for e in entries} - {""}):
            os.makedirs(os.path.join(building, *parent.split("/")), exist_ok=True)
        short = {x: self._copies_small(self._kinds_for(x)) for x in (False, True)}
        small = cachefiles.SMALL_FILE
        objects = self.cache._objects + os.sep   # + h[:2] + os.sep + h[2:]: Cache.object_path's name
        base = building + os.sep
        native = os.sep != "/"
        kinds: list[str] = []

        copy_small = self._copy_small
        sep = os.sep

        def put_batch(batch: list[ManifestEntry]) -> None:
            for e in batch:
                fresh = base + (e.relpath.replace("/", sep) if native else e.relpath)
                if e.size <= small and short[e.executable]:
                    h = e.hash
                    copy_small(objects + h[:2] + sep + h[2:], fresh, h, e.size, e.executable)
                else:   # (list.append is atomic: the workers share KINDS)
                    kinds.append(self._put_file(e.hash, e.size, tree, f"{top_rel}/{e.relpath}",
                                                e.executable, memo, fresh))

        finished = None
        if progress is not None:
            total_bytes = sum(e.size for e in entries)
            done = [0, 0]

            def finished(batch: list[ManifestEntry], _: None) -> None:
                done[0] += len(batch)
                done[1] += sum(e.size for e in batch)
                progress(done[0], len(entries), done[1], total_bytes)

        batches = _by_folder(entries)
        # Threads once there are MIN_ITEMS files, however few folders hold them.
        run_all(put_batch, batches, finished, min_items=2 if len(entries) >= MIN_ITEMS else len(batches) + 1)
        if entries:
            result.link_kind = kinds[-1] if kinds else "copy"
        top = tree.abs(top_rel) + os.sep
        result.changed += [top + (e.relpath.replace("/", os.sep) if native else e.relpath) for e in entries]

    def _checkout_file(self, info: HashInfo, tree: TreeDoor, rel: str, dest: str, memo: StateMemo | None,
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

    def _save_tree(self, top: str, result: CheckoutResult, memo: StateMemo | None) -> None:
        """Save every regular file under TOP (no symlinks followed) that the cache lacks."""
        files, _, _ = cachefiles.scan(top)
        for rel, st in files.items():
            self._save_if_needed(os.path.join(top, *rel.split("/")), st, result, memo)

    def _checkout_dir(self, info: HashInfo, tree: TreeDoor, top_rel: str, dest: str, memo: StateMemo | None,
                      result: CheckoutResult, progress: Progress | None = None) -> None:
        entries = self.cache.load_manifest(info.hash)
        try:
            top = os.lstat(dest)
        except FileNotFoundError:
            top = None
        self._check_objects({e.hash: e.size for e in entries}, dest, sizes=top is not None)
        wanted = {e.relpath: e for e in entries}
        wanted_dirs = {""}
        for rel in wanted:
            parent = rel.rpartition("/")[0]
            while parent not in wanted_dirs:
                wanted_dirs.add(parent)
                parent = parent.rpartition("/")[0]

        files: dict[str, os.stat_result] = {}
        others: dict[str, os.stat_result] = {}
        dirs: list[str] = []
        keep: set[str] = set()

        # Phase 1: find out what is there and save whatever the cache lacks.
        # Nothing is changed until every save has succeeded.
        if top is not None and stat.S_ISDIR(top.st_mode):
            files, others, dirs = cachefiles.scan(dest)
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
                kept = files.get(e.relpath)
                if kept is not None and bool(kept.st_mode & stat.S_IXUSR) != e.executable \
                        and not self._is_our_link(tree.abs(rel), kept, e.hash):
                    tree.set_executable(rel, e.executable)
                    result.changed.append(tree.abs(rel))
                continue
            to_write.append((rel, e))
        self._put_many(to_write, tree, memo, result, progress)

    def _write_fresh_dir(self, tree: TreeDoor, top_rel: str, dest: str, entries: list[ManifestEntry],
                         memo: StateMemo | None, result: CheckoutResult, progress: Progress | None) -> None:
        """DEST does not exist: build it under a temporary name beside it and
        rename it into place once whole. Its files need no temporary names of
        their own (one rename, not one per file: a third of the file system
        work for small files), and after a crash or Ctrl-C there is no half
        folder at DEST, only a '.*.tmp' one beside it - removed at once when
        we get the chance. The manifest's paths were checked when it was
        read (hashing.parse_manifest, with path_problem's rule), and the
        folder is our own, new, with no link in it: _fill writes into it
        by joining names, without a check per file.

        While it is being built, a folder of many files spreads its
        subfolders over the disk, as the cache's objects folder does (see
        cachefiles.spread_subfolders: on ext4 without a journal, files made
        beside the ones just deleted - the usual case when a folder is
        checked out again - each cost a walk past all of those); the mark
        comes off before the folder becomes the user's."""
        tree.make_parents(top_rel, "data path")
        building = temp_name(dest)
        os.mkdir(building)
        spread = len(entries) >= cachefiles.SPREAD_FROM and any("/" in e.relpath for e in entries)
        if spread:
            cachefiles.spread_subfolders(building)
        try:
            self._fill(building, entries, tree, top_rel, memo, result, progress)
            if spread:
                cachefiles.spread_subfolders(building, spread=False)
            os.rename(building, dest)
        except BaseException:
            import shutil   # only on failure: at the top it loads bz2 and lzma (~2 ms)
            shutil.rmtree(building, ignore_errors=True)
            raise



# The most files of one folder a worker writes in one go (_by_folder).
FOLDER_BATCH = 128


def _by_folder(entries: list[ManifestEntry]) -> list[list[ManifestEntry]]:
    """ENTRIES in batches of one folder's files, at most FOLDER_BATCH each,
    for the workers to take in turn: two workers creating files in one
    folder wait for each other (a creation holds the folder's lock while
    the file system looks for a free inode, which on ext4 without a journal
    can take a walk past every inode freed nearby in the last minute)."""
    folders: dict[str, list[ManifestEntry]] = {}
    for e in entries:
        folders.setdefault(e.relpath.rpartition("/")[0], []).append(e)
    return [files[i:i + FOLDER_BATCH] for files in folders.values() for i in range(0, len(files), FOLDER_BATCH)]
