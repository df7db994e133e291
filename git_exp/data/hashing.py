"""The one place data is hashed: SHA-256 of files, and of directory manifests.

A file's hash is the sha256 of its bytes. A directory's hash is the sha256 of
its manifest (every regular file under it: relative path, hash, size,
executable bit, in a canonical JSON form) followed by ".dir", so two
directories sharing files share those files' objects in the cache.

Files are always streamed in CHUNK_SIZE pieces: data files can be far larger
than memory. hashlib releases the GIL for each chunk and uses the CPU's SHA
instructions through OpenSSL, so this runs at about `sha256sum`'s speed.
"""
from __future__ import annotations

import hashlib
import operator
import os
import re
import stat
import threading

from git_exp.errors import ExpError
from git_exp.plainclass import Frozen
from git_exp.relpaths import path_problem

TYPE_CHECKING = False   # typing's, without importing typing: the hooks load this module
if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Iterator
    from io import FileIO

    from git_exp.data.state import StateMemo

CHUNK_SIZE = 1 << 20
DIR_SUFFIX = ".dir"

_HASH_RE = re.compile(r"[0-9a-f]{64}(?:\.dir)?")
_MANIFEST_KEYS = {"path", "hash", "size", "exec"}


def is_valid_hash(text: str) -> bool:
    """64 lowercase hex digits, optionally followed by ".dir"."""
    return isinstance(text, str) and _HASH_RE.fullmatch(text) is not None


_HASHES_RE = re.compile(r"(?:[0-9a-f]{64}(?:\.dir)?\n)*")


def all_valid_hashes(hashes: Collection[str]) -> bool:
    """is_valid_hash of every one of HASHES, in one pass in C over them all:
    one per line (a line break inside a hash would add a line), each line a
    valid hash."""
    if not set(map(type, hashes)) <= {str}:
        return False
    lines = "\n".join(hashes) + "\n" if hashes else ""
    return lines.count("\n") == len(hashes) and _HASHES_RE.fullmatch(lines) is not None


_buffers = threading.local()


def _buffer() -> tuple[bytearray, memoryview]:
    # One buffer per thread, reused: allocating (and zeroing) a fresh MiB for
    # every file made hashing 10,000 small files three times slower.
    pair = getattr(_buffers, "pair", None)
    if pair is None:
        buf = bytearray(CHUNK_SIZE)
        pair = _buffers.pair = (buf, memoryview(buf))
    return pair


def _hash_stream(f: FileIO, expected: int | None = None) -> tuple[str, int]:
    """sha256 hex and byte count of an open binary file, read in chunks.

    With EXPECTED (the size a stat reported), reading stops there instead of
    asking for one more empty read: for small files that read is a third
    of the system calls. Growth past it shows in the caller's after-stat.
    """
    digest = hashlib.sha256()
    buf, view = _buffer()
    total = 0
    while total != expected:
        n = f.readinto(buf)
        if not n:
            break
        digest.update(view[:n])
        total += n
    return digest.hexdigest(), total


def hash_file(path: str) -> str:
    """sha256 hex of the content of the file at PATH."""
    with open(path, "rb", buffering=0) as f:
        return _hash_stream(f)[0]


def same_version(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_ino, a.st_dev, a.st_size, a.st_mtime_ns) == (b.st_ino, b.st_dev, b.st_size, b.st_mtime_ns)


def hash_file_with_memo(path: str, memo: "StateMemo | None" = None,
                        st: os.stat_result | None = None) -> tuple[str, int]:
    """(hash, size) of a regular file, asking MEMO first and telling it after.

    ST is the file's stat if the caller already has it (scandir gives it for
    free), taken before the file is opened.
    """
    if memo is not None:
        if st is None:
            st = os.stat(path)
        known = memo.get(path, st)
        if known is not None:
            return known, st.st_size
    digest, size, after = hash_checked(path, st)
    if memo is not None:
        memo.put(path, after, digest)
    return digest, size


def hash_checked(path: str, st: os.stat_result | None) -> tuple[str, int, os.stat_result]:
    """Hash PATH and make sure it did not change meanwhile: (hash, size, stat).

    The file is stat'ed through the open descriptor after reading and
    compared with ST (or a stat taken on opening): if it was replaced or
    rewritten meanwhile, the hash belongs to no version of the file, so we
    refuse rather than record it.
    """
    try:
        with open(path, "rb", buffering=0) as f:
            before = st if st is not None else os.fstat(f.fileno())
            digest, size = _hash_stream(f, before.st_size)
            after = os.fstat(f.fileno())
    except OSError as err:
        raise ExpError(f"cannot read '{path}': {err.strerror or err}") from None
    if not same_version(before, after) or size != after.st_size:
        raise ExpError(f"'{path}' changed while it was being hashed",
                       hint="run the command again once whatever writes the file has finished")
    return digest, size, after


class HashInfo(Frozen):
    """What a pointer or lock entry records about an out."""
    __slots__ = ("hash", "size", "nfiles")
    hash: str           # "<64hex>" for a file, "<64hex>.dir" for a directory
    size: int           # total bytes
    nfiles: int | None  # None for a file, file count for a directory

    def __init__(self, hash: str, size: int, nfiles: int | None = None):
        _check_info(hash, size, nfiles, None)
        self._init(hash=hash, size=size, nfiles=nfiles)

    @property
    def is_dir(self) -> bool:
        return self.hash.endswith(DIR_SUFFIX)

    def to_dict(self) -> dict:
        d = {"hash": self.hash, "size": self.size}
        if self.is_dir:
            d["nfiles"] = self.nfiles
        return d

    @classmethod
    def from_dict(cls, d: object, where: str | None = None) -> "HashInfo":
        """Read what to_dict wrote; WHERE (a file name) prefixes any error."""
        if not isinstance(d, dict):
            raise _info_error(where, f"expected a mapping with hash and size, got {type(d).__name__}")
        if "hash" not in d or "size" not in d:
            missing = " and ".join(k for k in ("hash", "size") if k not in d)
            raise _info_error(where, f"missing {missing}")
        h, size, nfiles = d["hash"], d["size"], d.get("nfiles")
        _check_info(h, size, nfiles, where)
        return cls(h, size, nfiles)


def _info_error(where: str | None, text: str) -> ExpError:
    prefix = f"{where}: " if where else ""
    return ExpError(f"{prefix}bad hash info: {text}",
                    hint="restore the file from Git (git checkout -- FILE) or re-add the data")


def _check_info(h: object, size: object, nfiles: object, where: str | None) -> None:
    if not isinstance(h, str) or not is_valid_hash(h):
        raise _info_error(where, f"'{h}' is not a sha256 hash (64 lowercase hex digits, optionally .dir)")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _info_error(where, f"size '{size}' is not a non-negative integer")
    if h.endswith(DIR_SUFFIX):
        if not isinstance(nfiles, int) or isinstance(nfiles, bool) or nfiles < 0:
            raise _info_error(where, f"nfiles '{nfiles}' of directory {h} is not a non-negative integer")
    elif nfiles is not None:
        raise _info_error(where, f"nfiles is set but {h} is a file hash")


class ManifestEntry(Frozen):
    __slots__ = ("relpath", "hash", "size", "executable")
    relpath: str        # posix, relative to the directory, no '.' or '..' parts
    hash: str           # file hash (never .dir: manifests are flat)
    size: int
    executable: bool

    def __init__(self, relpath: str, hash: str, size: int, executable: bool):
        # Set directly rather than through _init(**fields): a manifest makes
        # one per file, and the keyword dict was a third of its parse time.
        _set_field(self, "relpath", relpath)
        _set_field(self, "hash", hash)
        _set_field(self, "size", size)
        _set_field(self, "executable", executable)


_set_field = object.__setattr__   # Frozen's own __setattr__ refuses every assignment


def manifest_bytes(entries: Iterable[ManifestEntry]) -> bytes:
    """The canonical form a directory hash is computed over.

    A JSON list sorted by path, compact separators, sorted keys, ASCII only:
    names that are not valid UTF-8 arrive from os.scandir as surrogate
    escapes and come back out of json.loads unchanged, so every name the
    filesystem allows round-trips and the bytes never depend on the locale.
    """
    return manifest_bytes_of([(e.relpath, e.hash, e.size, e.executable) for e in entries])


def manifest_bytes_of(rows: Iterable[tuple[str, str, int, bool]]) -> bytes:
    """manifest_bytes of (relpath, hash, size, executable) rows, no entry object each.

    Written row by row, byte for byte what json.dumps(sort_keys=True,
    separators=(",", ":"), ensure_ascii=True) makes of the rows as dicts
    (the same string quoting; keys in sorted order; sizes are ints): 5 ms
    for 10,000 files where building entries and dicts for json took 20.
    """
    from json.encoder import encode_basestring_ascii as quote
    return ("[" + ",".join(
        '{"exec":%s,"hash":%s,"path":%s,"size":%d}' % ("true" if x else "false", quote(h), quote(p), size)
        for p, h, size, x in sorted(rows, key=_first)) + "]").encode("ascii")


def _first(row: tuple) -> str:
    return row[0]


def manifest_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest() + DIR_SUFFIX


def parse_manifest(data: bytes) -> list[ManifestEntry]:
    """Entries of a manifest, every one validated; ExpError on anything odd."""
    import json
    try:
        rows = json.loads(data.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as err:
        raise ExpError(f"corrupt directory manifest: {err}") from None
    except RecursionError:   # manifests come from remotes: absurd nesting is an error, not a crash
        raise ExpError("corrupt directory manifest: nested too deeply") from None
    if not isinstance(rows, list):
        raise ExpError("corrupt directory manifest: not a JSON list")
    fields = _checked_at_once(rows)
    if fields is None:
        return _checked_one_by_one(rows)
    return [ManifestEntry(*f) for f in fields]


# For _checked_at_once: a path part no manifest may hold ('', '.', '..', or
# '.git' in any case: path_problem's rule) anywhere in the paths joined by
# NUL; and the hex digits, deleted from all hashes run together to find any other.
_BAD_PART_RE = re.compile(r"(?:\A|[/\0])(?:\.{0,2}|\.git)(?=[/\0]|\Z)", re.IGNORECASE | re.ASCII)
_HEX_DIGITS = b"0123456789abcdef"
_ROW_FIELDS = operator.itemgetter("path", "hash", "size", "exec")


def _checked_at_once(rows: list) -> list[tuple[str, str, int, bool]] | None:
    """ROWS as (path, hash, size, exec) tuples sorted by path when every row
    passes _checked_one_by_one's checks; None when any row may not.

    The same rules, each applied to all rows at once by a few passes in C
    (a type set, a join, one regular expression): a manifest of 10,000
    entries is checked in a few milliseconds instead of some twenty. It
    only ever says yes to what the row-by-row check accepts; a None sends
    the manifest there, which then names the problem (or, for a rule this
    pass is stricter about, such as non-ASCII names, accepts it).
    """
    if os.sep != "/" or not set(map(type, rows)) <= {dict} or not set(map(len, rows)) <= {4}:
        return None
    try:
        fields = list(map(_ROW_FIELDS, rows))   # four keys, all of these: exactly _MANIFEST_KEYS
    except KeyError:
        return None
    if not fields:
        return fields
    paths, hashes, sizes, execs = zip(*fields)
    if not (set(map(type, paths)) == {str} and set(map(type, hashes)) == {str}
            and set(map(type, sizes)) == {int} and set(map(type, execs)) <= {bool}) or min(sizes) < 0:
        return None   # (type() is exact: a bool is not taken for a size)
    run = "".join(hashes)
    if set(map(len, hashes)) != {64} or not run.isascii() or run.encode("ascii").translate(None, _HEX_DIGITS):
        return None   # each 64 long, nothing but hex digits left over: 64 hex digits each, no '.dir'
    joined = "\0".join(paths)
    if not joined.isascii() or joined.count("\0") != len(paths) - 1 or _BAD_PART_RE.search(joined):
        return None   # a NUL inside a path; an empty, '.', '..' or '.git' part (a leading '/' too)
    unique = set(paths)
    if len(unique) != len(paths):
        return None   # a duplicate
    folders: set[str] = set()
    for parent in {p.rpartition("/")[0] for p in paths}:
        while parent and parent not in folders:
            folders.add(parent)
            parent = parent.rpartition("/")[0]
    if not folders.isdisjoint(unique):
        return None   # a path both a file and a folder
    fields.sort()     # by path: paths are unique, so nothing after it is compared
    return fields


def _checked_one_by_one(rows: list) -> list[ManifestEntry]:
    """Entries of ROWS (a manifest's JSON list), every one validated; ExpError
    naming the first entry that is not."""
    entries = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        where = f"corrupt directory manifest: entry {i}"
        if not isinstance(row, dict) or set(row) != _MANIFEST_KEYS:
            raise ExpError(f"{where}: expected keys {', '.join(sorted(_MANIFEST_KEYS))}")
        relpath, h, size, ex = row["path"], row["hash"], row["size"], row["exec"]
        # Manifests arrive from remotes: each path must stay inside the directory it is
        # checked out to. The rule is the work-tree door's, '.git' parts included (CVE-2014-9390).
        problem = path_problem(relpath)
        if problem:
            raise ExpError(f"{where}: refusing path {relpath!r}: {problem}")
        if not is_valid_hash(h) or h.endswith(DIR_SUFFIX):
            raise ExpError(f"{where}: {h!r} is not a file hash")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ExpError(f"{where}: bad size {size!r}")
        if not isinstance(ex, bool):
            raise ExpError(f"{where}: bad exec flag {ex!r}")
        if relpath in seen:
            raise ExpError(f"{where}: duplicate path {relpath!r}")
        seen.add(relpath)
        entries.append(ManifestEntry(relpath, h, size, ex))
    # A path that is both a file and the parent of another file cannot exist.
    for e in entries:
        parent = e.relpath.rpartition("/")[0]
        while parent:
            if parent in seen:
                raise ExpError(f"corrupt directory manifest: {parent!r} is both a file and a directory")
            parent = parent.rpartition("/")[0]
    entries.sort(key=lambda e: e.relpath)
    return entries


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def hash_path(path: str, memo: "StateMemo | None" = None, *,
              cache_root: str | None = None) -> tuple[HashInfo, list[ManifestEntry] | None]:
    """Hash a file, or a directory as the manifest of every regular file in it.

    A file gives (info, None); a directory gives (info, entries). PATH itself
    may be a symlink (followed). Inside a directory a symlink is refused, not
    followed: it could point anywhere, and the data recorded would not be the
    data in the directory. The one exception is a symlink into CACHE_ROOT,
    which is how the 'symlink' link type checks data out. Empty directories
    are not recorded (as in Git); sockets, FIFOs and devices are refused.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ExpError(f"'{path}' does not exist") from None
    except OSError as err:
        raise ExpError(f"cannot read '{path}': {err.strerror or err}") from None
    if stat.S_ISREG(st.st_mode):
        digest, size = hash_file_with_memo(os.path.abspath(path), memo, st)
        return HashInfo(digest, size), None
    if not stat.S_ISDIR(st.st_mode):
        raise ExpError(f"'{path}' is neither a regular file nor a directory")
    top = os.path.abspath(path)
    if memo is not None:
        memo.preload(top)
    entries = []
    # Files are read one after another: a thread pool was measured here and,
    # with the GIL, made 10,000 small files 20% slower.
    for rel, full, st in walk_files(top, path, cache_root):
        digest, size = hash_file_with_memo(full, memo, st)
        entries.append(ManifestEntry(rel, digest, size, bool(st.st_mode & stat.S_IXUSR)))
    entries.sort(key=lambda e: e.relpath)
    data = manifest_bytes(entries)
    info = HashInfo(manifest_hash(data), sum(e.size for e in entries), len(entries))
    return info, entries


def walk_files(top: str, shown: str, cache_root: str | None) -> Iterator[tuple[str, str, os.stat_result]]:
    """(relpath, path, stat) of every file to hash under TOP."""
    for rel, item, st in walk_entries(top, shown, cache_root):
        yield rel, item.path, st if st is not None else item.stat(follow_symlinks=False)


def walk_entries(top: str, shown: str,
                 cache_root: str | None) -> Iterator[tuple[str, os.DirEntry[str], os.stat_result | None]]:
    """(relpath, os.DirEntry, stat or None) of every file to hash under TOP:
    None for a regular file, whose stat is left to the caller (a first add
    of many files takes it from the open file, in its workers: cache.py);
    for a symlink into CACHE_ROOT, the stat of the object it points to."""
    cache_real = os.path.realpath(cache_root) if cache_root else None
    stack = [("", top)]
    while stack:
        prefix, folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                items = list(it)
        except OSError as err:
            raise ExpError(f"cannot read directory '{folder}': {err.strerror or err}") from None
        for item in items:
            rel = prefix + item.name
            if item.name.lower() == ".git":
                raise ExpError(f"refusing to hash '{os.path.join(shown, rel)}': Git metadata cannot be data",
                               hint="move the nested repository out of the directory")
            if item.is_symlink():
                target = os.path.realpath(item.path)
                if cache_real and _inside(target, cache_real) and os.path.isfile(target):
                    yield rel, item, os.stat(item.path)
                    continue
                raise ExpError(
                    f"refusing to follow symlink '{os.path.join(shown, rel)}' -> "
                    f"'{os.readlink(item.path)}'",
                    hint="replace the link with the file it points to, or track the target instead")
            elif item.is_dir(follow_symlinks=False):
                stack.append((rel + "/", item.path))
            elif item.is_file(follow_symlinks=False):
                yield rel, item, None
            else:
                raise ExpError(f"refusing to hash '{os.path.join(shown, rel)}': not a regular file")
