"""`PATH.exp`: the small committed file that records the data at PATH.

The format is a fixed subset of YAML that we read without a YAML parser,
because hooks read pointers on every checkout and must start fast:

    # git-exp data pointer: the data is in the cache (git exp checkout)
    hash: 3c9d...e1.dir
    size: 40960
    nfiles: 10

The first line marks the file as ours: a tracked `*.exp` file without it is
somebody else's (MSVC writes `.exp` export files, for one) and is left
alone. A file with the marker is untrusted input (it arrives with other
people's commits), so everything after it is checked strictly: known keys
only, each once, a sha256 hash, decimal sizes, `nfiles` exactly when the
hash names a directory. Anything else is refused, never guessed at.

The data path is the pointer's own path minus `.exp`, so a pointer cannot
name a path elsewhere; worktree.paths.check_data_path refuses a path that would leave the
work tree, enter `.git`, or pass through a symlink.
"""
from __future__ import annotations

import os
import re
import stat

from git_exp.data.hashing import HashInfo, is_valid_hash
from git_exp.errors import ExpError

SUFFIX = ".exp"
MARKER = "# git-exp data pointer"
HEADER = MARKER + ": the data is in the cache (git exp checkout)"
# A pointer is three short lines; anything much larger is not one of ours.
MAX_SIZE = 4096
_KEYS = ("hash", "size", "nfiles")
_HINT = "restore the pointer from Git (git checkout -- FILE), or re-add the data with 'git exp add'"


def is_pointer_name(relpath: str) -> bool:
    """RELPATH names a pointer file: `<something>.exp` (not a bare `.exp`)."""
    name = relpath.rpartition("/")[2]
    return name.endswith(SUFFIX) and len(name) > len(SUFFIX)


def data_path_of(pointer_relpath: str) -> str:
    return pointer_relpath[:-len(SUFFIX)]


def pointer_path_of(data_relpath: str) -> str:
    return data_relpath + SUFFIX


def looks_like_pointer(data: bytes) -> bool:
    """DATA starts with our marker line (so it is ours to parse, strictly)."""
    return data.startswith(MARKER.encode())


def format_pointer(info: HashInfo) -> str:
    lines = [HEADER, f"hash: {info.hash}", f"size: {info.size}"]
    if info.is_dir:
        lines.append(f"nfiles: {info.nfiles}")
    return "\n".join(lines) + "\n"


def _error(where: str, text: str) -> ExpError:
    return ExpError(f"{where}: {text}", hint=_HINT)


def _number(value: str, key: str, where: str, lineno: int) -> int:
    # Plain decimal only: no sign, no underscores, no leading zeros, no 1e3.
    if not value.isdigit() or not value.isascii() or (len(value) > 1 and value[0] == "0") or len(value) > 20:
        raise _error(f"{where}:{lineno}", f"'{key}' must be a whole number of bytes/files, got {value!r}")
    return int(value)


# Exactly what format_pointer writes: parsed in one match, since hooks read
# thousands of pointers. Anything else goes through the line-by-line checks.
_CANONICAL = re.compile(rb"# git-exp data pointer[^\n]*\nhash: ([0-9a-f]{64})(\.dir)?\n"
                        rb"size: (0|[1-9][0-9]{0,19})\n(?:nfiles: (0|[1-9][0-9]{0,19})\n)?")


def parse_pointer(data: bytes, where: str) -> HashInfo:
    """The HashInfo a pointer's bytes record; ExpError (naming WHERE) if malformed."""
    m = _CANONICAL.fullmatch(data)
    if m and bool(m.group(2)) == (m.group(4) is not None):
        digest = (m.group(1) + (m.group(2) or b"")).decode()
        return HashInfo(digest, int(m.group(3)), int(m.group(4)) if m.group(4) is not None else None)
    if len(data) > MAX_SIZE:
        raise _error(where, f"pointer file is {len(data)} bytes, more than the {MAX_SIZE} a pointer can be")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise _error(where, "pointer file is not ASCII text") from None
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or not lines[0].startswith(MARKER):
        raise _error(where, "not a git-exp pointer (its first line is not the pointer marker)")
    values: dict[str, tuple[str, int]] = {}
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.startswith("#"):
            continue
        key, sep, value = line.partition(": ")
        if not sep or key not in _KEYS or value != value.strip() or not value:
            shown = key if sep else line
            raise _error(f"{where}:{lineno}",
                         f"unexpected line {shown[:40]!r}; a pointer has only hash, size and nfiles")
        if key in values:
            raise _error(f"{where}:{lineno}", f"'{key}' is given twice")
        values[key] = (value, lineno)
    for key in ("hash", "size"):
        if key not in values:
            raise _error(where, f"missing '{key}'")
    digest, lineno = values["hash"]
    if not is_valid_hash(digest):
        raise _error(f"{where}:{lineno}",
                     f"'{digest[:80]}' is not a sha256 hash (64 lowercase hex digits, optionally .dir)")
    size = _number(values["size"][0], "size", where, values["size"][1])
    nfiles = None
    if "nfiles" in values:
        nfiles = _number(values["nfiles"][0], "nfiles", where, values["nfiles"][1])
    if digest.endswith(".dir") and nfiles is None:
        raise _error(where, f"missing 'nfiles' for the directory {digest[:12]}...")
    if not digest.endswith(".dir") and nfiles is not None:
        raise _error(f"{where}:{values['nfiles'][1]}", "'nfiles' is only for directories")
    return HashInfo(digest, size, nfiles)


def read_pointer_file(root: str, pointer_relpath: str) -> HashInfo | None:
    """The work tree's pointer at POINTER_RELPATH; None if it is gone or not ours.

    The pointer itself must be a regular file, never a symlink (O_NOFOLLOW):
    reading through a link would read whatever it points at. Its folders
    are not checked here, for speed: reading is harmless, and the data path
    (in the same folder) is checked with worktree.paths.check_data_path before any write.
    """
    path = os.path.join(root, *pointer_relpath.split("/"))
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise ExpError(f"cannot read pointer '{pointer_relpath}': {err.strerror}", hint=_HINT) from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise ExpError(f"'{pointer_relpath}' is not a regular file", hint=_HINT)
        data = fh.read(MAX_SIZE + 1)
    if not looks_like_pointer(data):
        return None
    return parse_pointer(data, pointer_relpath)
