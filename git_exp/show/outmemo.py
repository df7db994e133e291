"""The output of `show`, remembered whole while nothing it came from changed.

A warm `show` repeats itself: the same refs, the same work tree, the same
options. Its text (and its warnings and exit status) is kept under
<exp_dir>/memo/show-v2/, one file per request, with the key it is valid
for; the next `show` with an equal key prints that text without reading a
commit, parsing a value or building a row. The key is, byte for byte:

- the request: the command's arguments as given (or, when they may hold -q
  or -v, the options parsed from them), the terminal width, colour
  (commands/show.py);
- this git-exp: its version and the mtime of the modules that shape the
  text and parse the arguments, the Python version (argparse's), the work
  tree and Git dir, the time zone and the year (Created);
- the refs: one `for-each-ref` of experiments, queue, notes, branches and
  tags (refstate.py) and this worktree's HEAD file - any ref created,
  moved or deleted, any note or tag changed, changes it;
- the workspace row as the workspace memo vouches for it (workmemo.py: the
  stat of every file it was read from, under the racy-git rule). When that
  memo cannot vouch - a file just written, a symlink on a path - there is
  no key, and `show` reads everything as before. A stored key holds those
  stats themselves (the row the text shows is the one the workspace memo
  vouched for by them when it was stored), and a lookup checks them
  against the files: the hit path reads no JSON (json imports re: a fifth
  of a warm show).

No key either while a run holds this work tree's lock or the queue has
entries: running rows change without any ref changing. Commit contents
never change, so nothing else can. A text is stored under the key taken
after it was made, and only when that key vouches for the very workspace
row the text shows (and all refs come from the one listing both share): a
file changed while it was read is never vouched for.

Files are written whole and renamed into place; a file that is too large,
foreign, truncated or corrupt is a miss, never an error. At most MAX_FILES
requests are kept, the least recently written go first.
"""
from __future__ import annotations

import os
import sys
import time
import zlib

from git_exp import __version__

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.repo import Repository
    from git_exp.show.refstate import RefState


VERSION = 2
MAGIC = b"git-exp show output v2\n"
MAX_FILES = 8
MAX_BYTES = 256 << 20       # a memo larger than this is not read (10,000 rows are ~3 MiB)
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Modules whose code decides the text: an edited one (a development tree,
# a reinstall of the same version) must not be answered by an old text.
# commands/__init__.py and the Python version too: a warm show is keyed on its
# argv, and what argparse makes of it is decided by them (commands/show.py).
_SHAPERS = ("show", os.path.join("commands", "show.py"), os.path.join("commands", "show_early.py"),
            os.path.join("commands", "__init__.py"), "ui")


def _code_stamp() -> str:
    stamps: list[str] = []
    for name in _SHAPERS:
        path = os.path.join(_PACKAGE, name)
        try:
            if os.path.isdir(path):
                with os.scandir(path) as entries:
                    stamps.extend(f"{e.name}:{e.stat().st_mtime_ns}" for e in entries
                                  if e.name.endswith(".py"))
            else:
                stamps.append(f"{name}:{os.stat(path).st_mtime_ns}")
        except OSError:
            stamps.append(f"{name}:?")
    return " ".join(sorted(stamps))


def _lock_path(repo: Repository) -> str:
    """experiments.runlock.lock_path, without importing what runlock needs to take a lock
    (socket, json): a test checks the two agree."""
    return os.path.join(repo.git_dir, "exp-run.lock")


class Key:
    """A request's key: HEAD (everything but the work tree), WORK, LISTING (the refs).

    WORK is the stat of every file and folder the workspace row was read
    from (b"" without a workspace row). A key taken to look a text up has
    WORK None: the stats stored with the text are checked against the files
    themselves, so a hit reads neither the workspace memo nor any JSON (whose
    import, with re, cost a warm show a fifth of its time)."""

    __slots__ = ("head", "work", "listing")

    def __init__(self, head: bytes, work: bytes | None, listing: bytes):
        self.head, self.work, self.listing = head, work, listing

    def encode(self) -> bytes:
        assert self.work is not None   # only a key taken to store a text is stored
        return b"%d %d\n" % (len(self.head), len(self.work)) + self.head + self.work + self.listing


def state_key(repo: Repository, request: str, listing: RefState, workspace: bool,
              shown: dict | None = None) -> Key | None:
    """The key of REQUEST now, or None when its output cannot be vouched for.

    SHOWN, given when a text is to be stored, is the workspace row it was made
    with: the key is None unless the workspace memo vouches for that very row
    now, and then holds the stats the memo vouches by. Without SHOWN (a
    lookup) the workspace part is checked against the stored text's stats."""
    if listing.has_queue or os.path.lexists(_lock_path(repo)):
        return None     # running and queued rows change without a ref changing
    if listing.detached and not _is_sha_file(listing.head_file):
        return None     # HEAD is neither on a listed branch nor a sha we can read
    work: bytes | None = b""
    if workspace and shown is None:
        work = None
    elif workspace:
        from git_exp.show.workmemo import WorkspaceMemo
        vouched = WorkspaceMemo(repo.exp_dir, repo.root).vouched()
        if vouched is None or vouched[0] != shown:
            return None
        work = _work_text(*vouched[1:])
    head = "\0".join([str(VERSION), __version__, _code_stamp(), sys.version, repo.root, repo.git_dir,
                      os.environ.get("TZ", ""), str(time.timezone), str(time.altzone),
                      "/".join(time.tzname), time.strftime("%Y"), request])
    return Key(head.encode("utf-8", "surrogatepass"), work, listing.key())


def _stat_text(value: list[int] | int | None) -> bytes:
    """A stat key of filewatch (a list of numbers, a number, or None for absent) as bytes."""
    if value is None:
        return b"-"
    if isinstance(value, list):
        return b" ".join(b"%d" % number for number in value)
    return b"%d" % value


def _work_text(files: dict, folders: dict) -> bytes:
    """The workspace part of a stored key: each file (f) and folder (d) with its stat key."""
    parts = [b"workspace"]
    for kind, entries in ((b"f", files), (b"d", folders)):
        for relpath in sorted(entries):
            parts += [kind, relpath.encode("utf-8", "surrogateescape"), _stat_text(entries[relpath])]
    return b"\0".join(parts)


def _work_holds(work: bytes, root: str) -> bool:
    """Whether every file and folder WORK names still has the stat it records."""
    from git_exp.filewatch import file_key, folder_kind
    fields = work.split(b"\0")
    if fields[0] != b"workspace" or (len(fields) - 1) % 3:
        return False
    for at in range(1, len(fields), 3):
        kind, relpath, recorded = fields[at:at + 3]
        full = os.path.join(root, *relpath.decode("utf-8", "surrogateescape").split("/"))
        now: list[int] | int | None
        try:
            if kind == b"f":
                now = file_key(full)
            elif kind == b"d":
                now = folder_kind(full)
            else:
                return False
        except OSError:
            return False
        if _stat_text(now) != recorded:
            return False
    return True


def _is_sha_file(data: bytes) -> bool:
    text = data.strip()
    return len(text) in (40, 64) and all(c in b"0123456789abcdef" for c in text)


class OutputMemo:
    def __init__(self, exp_dir: str, request: str, root: str):
        self.folder = os.path.join(exp_dir, "memo", f"show-v{VERSION}")
        name = "%08x" % zlib.crc32(f"{root}\0{request}".encode("utf-8", "surrogatepass"))
        self.path = os.path.join(self.folder, name)
        self.root = root

    def get(self, key: Key) -> tuple[str, list[str], int] | None:
        """(text, warnings, exit status) stored under KEY, or None."""
        try:
            with open(self.path, "rb") as fh:
                if os.fstat(fh.fileno()).st_size > MAX_BYTES:
                    return None
                data = fh.read(MAX_BYTES + 1)
        except OSError:
            return None
        return _decode(data, key, self.root)

    def put(self, key: Key, text: str, warnings: list[str], status: int) -> None:
        from git_exp.atomic import write_atomic
        notes = b"".join(b"%d:%s" % (len(w), w) for w in
                         (warning.encode("utf-8", "surrogatepass") for warning in warnings))
        body = text.encode("utf-8", "surrogatepass")
        stored = key.encode()
        data = b"".join([MAGIC, b"%d %d %d\n" % (len(stored), status, len(notes)), stored, notes,
                         body])
        if len(data) > MAX_BYTES:
            return
        try:
            write_atomic(self.path, data)
            self._prune()
        except OSError:
            pass    # a read-only Git dir just means no memo

    def _prune(self) -> None:
        with os.scandir(self.folder) as entries:
            files = [(e.stat().st_mtime_ns, e.path) for e in entries
                     if e.is_file(follow_symlinks=False) and not e.name.startswith(".")]
        for _, path in sorted(files)[:-MAX_FILES]:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def _header(data: bytes, start: int, count: int) -> tuple[list[int], int] | None:
    """COUNT decimal numbers on the line at START, and where the next line starts."""
    end = data.find(b"\n", start, start + 64)
    fields = data[start:end].split(b" ") if end > 0 else []
    if len(fields) != count or not all(f.isdigit() for f in fields):
        return None
    return [int(f) for f in fields], end + 1


def _decode(data: bytes, key: Key, root: str) -> tuple[str, list[str], int] | None:
    """The stored (text, warnings, status) when DATA is a memo we wrote for KEY, else None."""
    if not data.startswith(MAGIC):
        return None
    found = _header(data, len(MAGIC), 3)
    if found is None:
        return None
    (size, status, length), begin = found
    stored = data[begin:begin + size]
    inner = _header(stored, 0, 2)
    if inner is None:
        return None
    (head_size, work_size), at = inner
    if stored[at:at + head_size] != key.head:
        return None
    work = stored[at + head_size:at + head_size + work_size]
    if stored[at + head_size + work_size:] != key.listing:
        return None
    if key.work is not None and work != key.work:
        return None
    if key.work is None and not _work_holds(work, root):
        return None
    notes = data[begin + size:begin + size + length]
    warnings = []
    try:
        while notes:   # each warning as <length>:<UTF-8>
            count, colon, rest = notes.partition(b":")
            if not colon or not count.isdigit() or len(rest) < int(count):
                return None
            warnings.append(rest[:int(count)].decode("utf-8", "surrogatepass"))
            notes = rest[int(count):]
        text = data[begin + size + length:].decode("utf-8", "surrogatepass")
    except ValueError:     # UnicodeDecodeError
        return None
    return text, warnings, status
