"""The file-level primitives the cache reads and writes objects with.

Kept apart from cache.py (the cache's rules: names, dedup, what is saved
when) and cache_checkout.py (writing objects into a work tree): these are the
system calls both of them share - a small file read whole and checked, a new
file written without following a link, a freshened object, a folder walked
without following symlinks - and the sizes that pick between reading a file
whole and streaming it.

The size limits are read as `cachefiles.SMALL_FILE` / `cachefiles.STAMPED`
at call time, not imported by name, so a test can lower them in one place.
"""
from __future__ import annotations

import os
import sys

from git_exp.data.hashing import same_version
from git_exp.errors import ExpError

TYPE_CHECKING = False   # typing's, without importing typing on run's path (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Sequence

# Into the cache we only ever clone or copy: a hardlink or symlink would make
# the object the user's own file, and (as root) their next edit would change
# the object under its hash. See links.py.
SAVE_KINDS = ("reflink", "copy")
# Files up to this size are read whole, once: hashed and written from the same
# bytes (add), or read, checked and written (checkout). Beyond it, streamed.
SMALL_FILE = 1 << 20
# Objects from this size on get a verification stamp (state.py) and, while it
# holds, are copied out without being hashed again. Smaller ones are hashed
# as they are copied: read once anyway, their hash costs next to nothing.
# Measured on one 1 GiB object, page cache warm: a checkout hashing alongside
# the kernel copy took 0.70 s, the copy alone 0.28 s (cp: 0.28 s).
STAMPED = 16 << 20
O_BINARY = getattr(os, "O_BINARY", 0)
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
SHOW_MISSING = 10  # missing objects named in an error; the rest are counted
# A '.*.tmp' file older than this was left by a crash or an interrupted
# transfer (a live one is written to every chunk): the cache's gc and a
# directory remote's next push remove it.
STALE_TEMP_SECONDS = 3600
PULL_HINT = "run 'git exp pull' to fetch them from the data remote"


def missing_error(hashes: Sequence[str], dest: str | None = None) -> ExpError:
    hashes = sorted(set(hashes))
    shown = ", ".join(hashes[:SHOW_MISSING])
    more = f" and {len(hashes) - SHOW_MISSING} more" if len(hashes) > SHOW_MISSING else ""
    where = f" for '{dest}'" if dest else ""
    return ExpError(f"{len(hashes)} object(s) missing from the cache{where}: {shown}{more}",
                    hint=PULL_HINT)


def discard(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def freshen(path: str) -> None:
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


# The inode flag FS_TOPDIR_FL ('chattr +T') and the ioctls that read and set a
# file's flags (linux/fs.h: _IOR/_IOW('f', 1/2, long)); the value is an int.
_FS_TOPDIR_FL = 0x00020000
_LONG = 8 if sys.maxsize > 2**32 else 4
_FS_IOC_GETFLAGS = (2 << 30) | (_LONG << 16) | (ord("f") << 8) | 1
_FS_IOC_SETFLAGS = (1 << 30) | (_LONG << 16) | (ord("f") << 8) | 2


# A checkout writing at least this many files into a new folder spreads its
# subfolders too (cache_checkout.py); below, the placement is left alone.
SPREAD_FROM = 1024


def spread_subfolders(folder: str, spread: bool = True) -> None:
    """Ask the file system to spread FOLDER's future subfolders out over the
    disk instead of packing them beside FOLDER - what 'chattr +T' means to
    ext2/3/4's Orlov allocator - for the cache's 256 unrelated 2-hex folders.

    Why: ext4 puts a new file's inode in its folder's block group, and
    without a journal it then steps over every inode freed there in the
    last minute, one by one, on each file it creates. When the folders of a
    first add all sit in the group where the previous copy of the same data
    was just deleted, each object cost 0.1-0.5 ms of kernel time; spread,
    each folder's group holds a few dozen objects at most (measured on 10,000
    files: 0.6 s instead of 0.7-3.8 s). Best effort: other file systems, or
    a folder we may not change, keep their own placement. SPREAD=False
    takes the mark off again.
    """
    if not sys.platform.startswith("linux"):
        return
    import fcntl
    import struct
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | O_NOFOLLOW)
    except OSError:
        return
    try:
        flags = struct.unpack("i", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, b"\0" * 4))[0]
        if bool(flags & _FS_TOPDIR_FL) != spread:
            fcntl.ioctl(fd, _FS_IOC_SETFLAGS, struct.pack("i", flags ^ _FS_TOPDIR_FL))
    except OSError:
        pass
    finally:
        os.close(fd)


def read_object(path: str, size: int | None = None) -> bytes:
    """The bytes of the object at PATH. With SIZE, what it should hold: one
    read of a byte more (Python's f.read() adds two fstat()s, an lseek() and
    an EOF read per file); the caller checks what came back is SIZE bytes."""
    if size is None:
        with open(path, "rb", buffering=0) as f:
            return f.read()
    fd = os.open(path, os.O_RDONLY | O_BINARY)
    try:
        data = os.read(fd, size + 1)
        if len(data) < size:  # short of SIZE: at its end, or a partial read - read on
            data = _read_on(fd, data, size + 1)
        return data
    finally:
        os.close(fd)


def _read_on(fd: int, data: bytes, limit: int) -> bytes:
    """DATA, the first read of FD, completed to LIMIT bytes or the end of the file."""
    chunks = [data]
    left = limit - len(data)
    while left > 0 and chunks[-1]:
        chunks.append(os.read(fd, left))
        left -= len(chunks[-1])
    return b"".join(chunks)


def write_new(path: str, data: bytes, executable: bool) -> None:
    """A new file at PATH (never through a link) holding DATA, its mode from
    the umask, plus exec bits if EXECUTABLE; removed again if writing fails."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW | O_BINARY,
                 0o777 if executable else 0o666)
    try:
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
    except BaseException:
        discard(path)
        raise


def read_whole(path: str, st: os.stat_result) -> tuple[bytes, os.stat_result]:
    """The bytes of a small file, checked to be the version ST describes."""
    try:
        fd = os.open(path, os.O_RDONLY | O_BINARY)
    except OSError as err:
        raise ExpError(f"cannot read '{path}': {err.strerror or err}") from None
    try:
        # One byte more than ST's size: a file that grew shows here. A read
        # that comes back short of what was asked has met the end of the
        # file, so when it holds as many bytes as fstat() then reports, no
        # second read (which would only return b"") is needed; anything
        # else - a slow file system's partial read, a file that grew -
        # reads on (to at most that one byte more) and is checked as before.
        data = os.read(fd, st.st_size + 1)
        after = os.fstat(fd)
        if len(data) != after.st_size:
            data = _read_on(fd, data, st.st_size + 1)
            after = os.fstat(fd)
    finally:
        os.close(fd)
    if not same_version(st, after) or len(data) != after.st_size:
        raise ExpError(f"'{path}' changed while it was being hashed",
                       hint="run the command again once whatever writes the file has finished")
    return data, after


def write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)   # all of it, nearly always: no view made per file
    if written < len(data):
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(fd, view):]


def scan(top: str) -> tuple[dict[str, os.stat_result], dict[str, os.stat_result], list[str]]:
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


def remove_stale_temps(objects: str, older_than: float, dry_run: bool = False) -> tuple[int, int]:
    """Delete the '.*.tmp' files in the <2 hex>/ folders of OBJECTS last written
    before OLDER_THAN (a time.time()); (how many, their bytes). They are never
    objects - an object is only ever renamed into place whole - so nothing
    refers to them; a younger one may be a save or transfer under way."""
    removed = size = 0
    try:
        shards = os.listdir(objects)
    except OSError:
        return 0, 0
    for shard in shards:
        try:
            entries = list(os.scandir(os.path.join(objects, shard)))
        except OSError:
            continue
        for entry in entries:
            if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
                if st.st_mtime >= older_than:
                    continue
                if not dry_run:
                    os.unlink(entry.path)
            except FileNotFoundError:
                continue
            removed += 1
            size += st.st_size
    return removed, size
