"""Putting a file somewhere else: reflink, hardlink, symlink or copy.

Every kind first makes a temporary name beside the destination and then
os.replace()s it into place, so the destination is either the old file or
the complete new one, never half written, even after Ctrl-C or a crash.

Safety of the kinds: we run as root in many setups (containers, CI), and
root ignores the read-only bits we put on cache objects. A hardlink or a
symlink therefore lets an edit in the work tree write straight through into
the cache object, silently corrupting every other checkout of that data.
That is why the default is reflink (a copy-on-write clone: instant, and
edits never reach the cache) then copy; hardlink and symlink are only used
when the user asks for them in exp.cache.type.
"""
from __future__ import annotations

import errno
import hashlib
import itertools
import os
import sys

from git_exp.errors import ExpError

TYPE_CHECKING = False   # typing's, without importing typing on run's path (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Any, Sequence

LINK_TYPES = ("reflink", "hardlink", "symlink", "copy")
DEFAULT_LINK_TYPES = ("reflink", "copy")
# Linux FICLONE = _IOW(0x94, 9, int): clone all of one file's extents into another.
FICLONE = 0x40049409
_CHUNK = 1 << 20
_umask_cache: int | None = None


class ContentMismatch(ExpError):
    """A copied file's bytes did not hash to what the caller expected."""

    def __init__(self, src: str, expected: str, actual: str):
        super().__init__(f"'{src}' has hash {actual}, expected {expected}")
        self.src = src
        self.expected = expected
        self.actual = actual


def parse_link_types(value: str | None) -> list[str]:
    """The ordered link kinds from config 'exp.cache.type', e.g. "reflink,copy"."""
    if value is None or not value.strip():
        return list(DEFAULT_LINK_TYPES)
    kinds: list[str] = []
    for item in value.split(","):
        kind = item.strip().lower()
        if kind not in LINK_TYPES:
            raise ExpError(f"bad value '{value}' for 'exp.cache.type': unknown link type '{item.strip()}'",
                           hint=f"use a comma-separated list of {', '.join(LINK_TYPES)}, "
                                f"e.g. 'reflink,copy'")
        if kind not in kinds:
            kinds.append(kind)
    return kinds


def current_umask() -> int:
    # There is no way to read the umask without setting it; do it once.
    global _umask_cache
    if _umask_cache is None:
        _umask_cache = os.umask(0o022)
        os.umask(_umask_cache)
    return _umask_cache


# Temporary names are this process's random prefix and a counter: as unique as
# a random name per file (48 random bits tell processes apart, on this host or
# another sharing the folder; the counter, atomic under the GIL, tells threads
# and calls apart) without a getrandom() system call per object. A forked child
# draws a new prefix, or it would repeat its parent's names. Every caller
# creates the name exclusively (O_EXCL, mkdir), so even a collision could only
# fail, never overwrite.
_temp_prefix = os.urandom(6).hex()
_temp_counter = itertools.count()


def _new_temp_prefix() -> None:
    global _temp_prefix, _temp_counter
    _temp_prefix = os.urandom(6).hex()
    _temp_counter = itertools.count()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_temp_prefix)


def temp_name(dst: str) -> str:
    """A fresh name in DST's directory; hidden and recognisably temporary."""
    head, tail = os.path.split(dst)
    return os.path.join(head, f".{tail}.{_temp_prefix}{next(_temp_counter):x}.tmp")


def _create(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)


# (source device, target device) pairs where a reflink failed for want of
# support: on ext4, say, every attempt would create and unlink a temp file for
# nothing, doubling the file creations of an add or checkout of many files.
_NO_REFLINK: set[tuple[int, int]] = set()
_UNSUPPORTED = {errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.ENOSYS}


def _devices(src: str, tmp: str) -> tuple[int, int]:
    return os.stat(src).st_dev, os.stat(os.path.dirname(os.path.abspath(tmp))).st_dev


def _reflink(src: str, tmp: str) -> None:
    devices = _devices(src, tmp)
    if devices in _NO_REFLINK:
        raise OSError(errno.EOPNOTSUPP, "reflinks are not supported here")
    try:
        _clone(src, tmp)
    except OSError as err:
        if err.errno in _UNSUPPORTED:
            _NO_REFLINK.add(devices)
        raise


def _clone(src: str, tmp: str) -> None:
    if sys.platform == "darwin":
        _clonefile(src, tmp)
        return
    try:
        import fcntl
    except ImportError:
        raise OSError(errno.EOPNOTSUPP, "reflinks are not supported on this platform") from None
    with open(src, "rb") as f:
        fd = _create(tmp)
        try:
            fcntl.ioctl(fd, FICLONE, f.fileno())
        finally:
            os.close(fd)


def _clonefile(src: str, tmp: str) -> None:
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.clonefile(os.fsencode(src), os.fsencode(tmp), 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


# Above this size a verified copy runs as two parallel streams: the kernel
# copies (sendfile) while a thread hashes the source, instead of one Python
# loop that reads, hashes and writes in turn. Measured on a 1 GiB object
# (page cache warm): 0.85 s in turn, 0.70 s in parallel. Small files keep
# the single loop: a thread per file would cost more than it saves.
_PARALLEL_VERIFY = 16 << 20


def _copy(src: str, tmp: str, expected_hash: str | None) -> None:
    if expected_hash is None:
        # copyfile uses sendfile() on Linux: the data never passes through Python.
        import shutil   # here: at the top it loads bz2 and lzma on every run (~2 ms)
        shutil.copyfile(src, tmp)
        return
    if os.stat(src).st_size >= _PARALLEL_VERIFY:
        _copy_hashing_alongside(src, tmp, expected_hash)
        return
    digest = hashlib.sha256()
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    with open(src, "rb", buffering=0) as fsrc, os.fdopen(_create(tmp), "wb", buffering=0) as fdst:
        while True:
            n = fsrc.readinto(buf)
            if not n:
                break
            digest.update(view[:n])
            fdst.write(view[:n])
    actual = digest.hexdigest()
    if actual != expected_hash:
        raise ContentMismatch(src, expected_hash, actual)


def _copy_hashing_alongside(src: str, tmp: str, expected_hash: str) -> None:
    """Kernel copy of SRC to TMP while a thread hashes SRC (hashlib releases
    the GIL); the copy counts only if the hash is EXPECTED_HASH. Cache
    objects never change after they are written, so both read the same bytes."""
    import threading
    from git_exp.data.hashing import hash_file

    found: dict[str, Any] = {}

    def hash_source() -> None:
        try:
            found["hash"] = hash_file(src)
        except BaseException as err:  # reported by the caller's thread
            found["error"] = err

    worker = threading.Thread(target=hash_source, name="git-exp-verify", daemon=True)
    worker.start()
    try:
        fd = _create(tmp)
        os.close(fd)
        import shutil
        shutil.copyfile(src, tmp)
    finally:
        worker.join()
    if "error" in found:
        raise found["error"]
    if found["hash"] != expected_hash:
        raise ContentMismatch(src, expected_hash, found["hash"])


def _set_mode(tmp: str, src: str, executable: bool | None) -> None:
    """A new file's mode: the user's umask, plus exec bits if wanted."""
    if executable is None:
        executable = bool(os.stat(src).st_mode & 0o100)
    mode = 0o666 & ~current_umask()
    if executable:
        mode |= 0o111 & ~current_umask()
    os.chmod(tmp, mode)


def _discard(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def link_to_temp(src: str, dst: str, kinds: Sequence[str], *, executable: bool | None = None,
                 expected_hash: str | None = None) -> tuple[str, str]:
    """Make a temporary file beside DST holding SRC's content; (temp path, kind).

    Tries each kind in order and falls back to the next on any OSError
    (EXDEV across filesystems, EOPNOTSUPP without reflinks, EPERM where links
    are forbidden...). With EXPECTED_HASH, a copy is hashed while it is
    written and a mismatch raises ContentMismatch at once, without falling
    back: the source is wrong, not the method. The caller owns the temp file.
    """
    if not kinds:
        raise ExpError("no link types to try", hint=f"set exp.cache.type to some of {', '.join(LINK_TYPES)}")
    failures = []
    for kind in kinds:
        if kind not in LINK_TYPES:
            raise ExpError(f"unknown link type '{kind}'", hint=f"use one of {', '.join(LINK_TYPES)}")
        tmp = temp_name(dst)
        try:
            if kind == "reflink":
                _reflink(src, tmp)
                _set_mode(tmp, src, executable)
            elif kind == "hardlink":
                os.link(src, tmp)
            elif kind == "symlink":
                os.symlink(os.path.abspath(src), tmp)
            else:
                _copy(src, tmp, expected_hash)
                _set_mode(tmp, src, executable)
            return tmp, kind
        except OSError as err:
            _discard(tmp)
            failures.append(f"{kind}: {err.strerror or err}")
        except BaseException:
            _discard(tmp)
            raise
    raise ExpError(f"cannot put '{src}' at '{dst}' ({'; '.join(failures)})",
                   hint="check free space and permissions, or add 'copy' to exp.cache.type")


def materialize(src: str, dst: str, kinds: Sequence[str], *, executable: bool | None = None,
                expected_hash: str | None = None) -> str:
    """Make DST hold SRC's content using the first kind that works; the kind used.

    EXECUTABLE sets the exec bits of a reflink or copy (None: as SRC's). A
    hardlink or symlink shares SRC's inode and mode, so it cannot differ.
    """
    tmp, kind = link_to_temp(src, dst, kinds, executable=executable, expected_hash=expected_hash)
    try:
        os.replace(tmp, dst)
    except BaseException:
        _discard(tmp)
        raise
    return kind
