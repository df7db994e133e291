"""The output of `show`, remembered whole while nothing it came from changed.

A warm `show` repeats itself: the same refs, the same work tree, the same
options. Its text (and its warnings and exit status) is kept under
<exp_dir>/memo/show-v1/, one file per request, with the key it is valid
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
  no key, and `show` reads everything as before.

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

VERSION = 1
MAGIC = b"git-exp show output v1\n"
MAX_FILES = 8
MAX_BYTES = 256 << 20       # a memo larger than this is not read (10,000 rows are ~3 MiB)
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Modules whose code decides the text: an edited one (a development tree,
# a reinstall of the same version) must not be answered by an old text.
# commands/__init__.py and the Python version too: a warm show is keyed on its
# argv, and what argparse makes of it is decided by them (commands/show.py).
_SHAPERS = ("show", os.path.join("commands", "show.py"), os.path.join("commands", "__init__.py"),
            "ui")


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


def _lock_path(repo) -> str:
    """experiments.runlock.lock_path, without importing what runlock needs to take a lock
    (socket, json): a test checks the two agree."""
    return os.path.join(repo.git_dir, "exp-run.lock")


def state_key(repo, request: str, listing, workspace: bool,
              shown: dict | None = None) -> bytes | None:
    """The key of REQUEST now, or None when its output cannot be vouched for.

    SHOWN, when given, is the workspace row a text was made with: the key is
    None unless the workspace memo vouches for that very row now."""
    if listing.has_queue or os.path.lexists(_lock_path(repo)):
        return None     # running and queued rows change without a ref changing
    if listing.detached and not _is_sha_file(listing.head_file):
        return None     # HEAD is neither on a listed branch nor a sha we can read
    work = b""
    if workspace:
        from git_exp.show.workmemo import WorkspaceMemo
        data = WorkspaceMemo(repo.exp_dir, repo.root).get()
        if data is None or (shown is not None and data != shown):
            return None
        import json
        work = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    head = "\0".join([str(VERSION), __version__, _code_stamp(), sys.version, repo.root, repo.git_dir,
                      os.environ.get("TZ", ""), str(time.timezone), str(time.altzone),
                      "/".join(time.tzname), time.strftime("%Y"), request])
    return b"\0\0".join([head.encode("utf-8", "surrogatepass"), work, listing.key()])


def _is_sha_file(data: bytes) -> bool:
    text = data.strip()
    return len(text) in (40, 64) and all(c in b"0123456789abcdef" for c in text)


class OutputMemo:
    def __init__(self, exp_dir: str, request: str, root: str):
        self.folder = os.path.join(exp_dir, "memo", f"show-v{VERSION}")
        name = "%08x" % zlib.crc32(f"{root}\0{request}".encode("utf-8", "surrogatepass"))
        self.path = os.path.join(self.folder, name)

    def get(self, key: bytes) -> tuple[str, list[str], int] | None:
        """(text, warnings, exit status) stored under KEY, or None."""
        try:
            with open(self.path, "rb") as fh:
                if os.fstat(fh.fileno()).st_size > MAX_BYTES:
                    return None
                data = fh.read(MAX_BYTES + 1)
        except OSError:
            return None
        return _decode(data, key)

    def put(self, key: bytes, text: str, warnings: list[str], status: int) -> None:
        import json

        from git_exp.atomic import write_atomic
        notes = json.dumps(warnings).encode()     # ASCII: any surrogate escaped
        body = text.encode("utf-8", "surrogatepass")
        data = b"".join([MAGIC, b"%d %d %d\n" % (len(key), status, len(notes)), key, notes, body])
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


def _decode(data: bytes, key: bytes) -> tuple[str, list[str], int] | None:
    """The stored (text, warnings, status) when DATA is a memo we wrote for KEY, else None."""
    if not data.startswith(MAGIC):
        return None
    start = len(MAGIC)
    end = data.find(b"\n", start, start + 64)
    fields = data[start:end].split(b" ") if end > 0 else []
    if len(fields) != 3 or not all(f.isdigit() for f in fields):
        return None
    size, status, length = (int(f) for f in fields)
    begin = end + 1
    if size != len(key) or data[begin:begin + size] != key:
        return None
    import json
    try:
        warnings = json.loads(data[begin + size:begin + size + length])
        text = data[begin + size + length:].decode("utf-8", "surrogatepass")
    except ValueError:     # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    if not (isinstance(warnings, list) and all(isinstance(w, str) for w in warnings)):
        return None
    return text, warnings, status
