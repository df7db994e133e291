"""Reading Git objects: every `git cat-file` of git-exp.

- CatFile: one long-lived `cat-file --batch` for many requests over time
  (show, plots), blobs optionally streamed into new files (get);
- read_objects: one `--batch --buffer` call, answers read whole;
- check_objects / commits_among: `--batch-check` (type, size) of many objects;
- blob_to_file: one blob into an open file (fetched on demand in a partial clone).

One long-lived process answers every request, so reading 10,000 commits costs pipe
round trips, not 10,000 process starts. Measured against Dulwich's object
store (bench/bench_show.py has the figures): the same speed for small
objects, and no Dulwich import on the start-up path of `git exp show`.

Requests are written in chunks smaller than a pipe buffer before their
answers are read: Git stops reading requests while its output pipe is full,
so a chunk larger than the pipe could deadlock both processes.
"""
from __future__ import annotations

from git_exp.errors import ExpError
from git_exp.git.run import git, git_process

TYPE_CHECKING = False   # typing's, without importing typing at start-up (mypy reads the name as True)
if TYPE_CHECKING:   # names for the checker only: hooks import this module on every checkout
    import subprocess
    from collections.abc import Iterable
    from typing import IO

_CHUNK_BYTES = 32 * 1024   # well under Linux's 64 KiB pipe buffer


# Plain classes, not dataclasses: hooks import this module (data/tracked reads
# objects through it), and creating a dataclass costs a millisecond at import.

class GitObject:
    """One object CatFile read."""

    __slots__ = ("oid", "type", "data", "size", "too_large")

    def __init__(self, oid: str, type: str, data: bytes, size: int = 0, too_large: bool = False):
        self.oid = oid
        self.type = type            # "blob", "commit", "tree" or "tag"
        self.data = data            # empty when `too_large`
        self.size = size
        self.too_large = too_large  # a blob over CatFile's max_blob: its bytes were skipped

    def __repr__(self) -> str:
        return f"GitObject({self.oid!r}, {self.type!r}, size={self.size}, too_large={self.too_large})"


class CatFile:
    """`with CatFile(root) as objects: objects.read_many([...])`."""

    def __init__(self, root: str, max_blob: int | None = None):
        """MAX_BLOB: blobs larger than this many bytes come back `too_large`,
        their bytes skipped, never held in memory (they may come from a
        hostile experiment)."""
        self.root = root
        self.max_blob = max_blob
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> "CatFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        """(requests, answers) of the `cat-file --batch`, started on first use."""
        if self._proc is None:
            self._proc = git_process(["cat-file", "--batch"], cwd=self.root)
        assert self._proc.stdin is not None and self._proc.stdout is not None   # both are pipes
        return self._proc.stdin, self._proc.stdout

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                if proc.stdin is not None:
                    proc.stdin.close()
            except OSError:
                pass
            if proc.stdout is not None:
                proc.stdout.close()
            proc.wait()

    def read(self, spec: str) -> GitObject | None:
        return self.read_many([spec])[0]

    def read_many(self, specs: list[str]) -> list[GitObject | None]:
        """The object each SPEC (`<sha>`, `<sha>:<path>`) names, or None when missing.

        A spec holding a newline cannot be asked for in this protocol; it
        is answered None, as no path in a commit we wrote contains one.
        """
        requests, answers_out = self._pipes()
        results: list[GitObject | None] = []
        start = 0
        while start < len(specs):
            end, size = start, 0
            while end < len(specs) and (size < _CHUNK_BYTES or end == start):
                size += len(specs[end]) + 1
                end += 1
            chunk = specs[start:end]
            asked = [s for s in chunk if "\n" not in s]
            try:
                requests.write("".join(s + "\n" for s in asked).encode("utf-8", "surrogateescape"))
                requests.flush()
            except BrokenPipeError:
                raise ExpError("git cat-file stopped unexpectedly") from None
            answers = iter([self._answer(answers_out, self.max_blob) for _ in asked])
            results.extend(None if "\n" in s else next(answers) for s in chunk)
            start = end
        return results

    def copy_blob(self, oid: str, dest: str) -> bool:
        """Stream blob OID into the new file DEST (created only once Git has
        answered); False, with no file made, when OID is not a blob here."""
        requests, out = self._pipes()
        try:
            requests.write(oid.encode() + b"\n")
            requests.flush()
        except BrokenPipeError:
            raise ExpError("git cat-file stopped unexpectedly") from None
        header = out.readline().split()
        if not header:
            raise ExpError("git cat-file stopped unexpectedly")
        if len(header) != 3 or header[1] != b"blob":
            if len(header) == 3 and header[2].isdigit():
                _skip(out, int(header[2]) + 1)   # a tree or commit: not ours to write
            return False
        left = int(header[2])
        try:
            fh = open(dest, "xb")
        except OSError:
            _skip(out, left + 1)   # stay in step for the next request
            raise
        with fh:
            while left:
                block = out.read(min(left, 1 << 20))
                if not block:
                    raise ExpError("git cat-file stopped unexpectedly")
                fh.write(block)
                left -= len(block)
        out.read(1)   # the newline after the contents
        return True

    @staticmethod
    def _answer(out: IO[bytes], max_blob: int | None = None) -> GitObject | None:
        header = out.readline()
        if not header:
            raise ExpError("git cat-file stopped unexpectedly")
        parts = header.split()
        if len(parts) != 3 or parts[-1] in (b"missing", b"ambiguous"):
            return None  # "<spec> missing" / "<spec> ambiguous"
        oid, kind, size = parts[0], parts[1], int(parts[2])
        if max_blob is not None and kind == b"blob" and size > max_blob:
            _skip(out, size + 1)   # the contents and the newline
            return GitObject(oid.decode(), kind.decode(), b"", size, True)
        data = out.read(size + 1)[:-1]  # the contents, then a newline
        return GitObject(oid.decode(), kind.decode(), data, size)


def _skip(out: IO[bytes], left: int) -> None:
    """Read and drop LEFT bytes of OUT, a megabyte at a time."""
    while left:
        chunk = out.read(min(left, 1 << 20))
        if not chunk:
            raise ExpError("git cat-file stopped unexpectedly")
        left -= len(chunk)


def read_objects(root: str, names: Iterable[bytes]) -> dict[bytes, bytes]:
    """Contents of Git objects by name (sha or rev:path), through one `cat-file --batch`.

    Missing objects are left out of the answer. For a batch asked at once and
    small enough to hold; CatFile reads many over time, or large ones.
    """
    names = list(dict.fromkeys(names))
    if not names:
        return {}
    # --buffer: one write for all answers instead of a flush per object.
    out = git(["cat-file", "--batch", "--buffer"], cwd=root, input=b"\n".join(names) + b"\n",
              check=False).stdout
    found: dict[bytes, bytes] = {}
    pos = 0
    for name in names:
        end = out.find(b"\n", pos)
        if end < 0:
            break   # git stopped early (not a repository any more): the rest are missing
        header = out[pos:end].split()
        pos = end + 1
        if len(header) != 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        found[name] = out[pos:pos + size]
        pos += size + 1
    return found


def check_objects(root: str, specs: Iterable[str], fields: str = "%(objectname) %(objecttype)"
                  ) -> list[list[str]]:
    """FIELDS (a `--batch-check` format) of each object SPECS names, split into
    words; a missing one answers `[<spec>, "missing"]`. One `cat-file` for all."""
    specs = list(specs)
    if not specs:
        return []
    out = git(["cat-file", f"--batch-check={fields}"], cwd=root, check=False,
              input="\n".join(specs).encode("utf-8", "surrogateescape") + b"\n").stdout
    return [line.split() for line in out.decode("utf-8", "surrogateescape").splitlines()]


def commits_among(root: str, oids: Iterable[str]) -> list[str]:
    """Those of OIDS that are commits here, in order: a ref naming a blob, or
    a worktree's HEAD being removed right now, is left out instead of failing."""
    return [words[0] for words in check_objects(root, oids) if len(words) == 2 and words[1] == "commit"]


def blob_to_file(root: str, oid: str, fh: IO[bytes]) -> None:
    """Write blob OID into FH, straight from `git cat-file blob` (a partial
    clone fetches it on demand). Raises GitCommandError with Git's reason."""
    git(["cat-file", "blob", oid], cwd=root, stdout=fh)


class Trees:
    """Paths to object ids, walking tree objects read (once each) through CatFile.

    Asking for `<commit>:<path>` makes Git walk the trees again for every
    request and re-read the blob, even when a thousand commits share it (a
    loose exp.yaml costs a file open and an inflate each time). Walking the
    trees ourselves gives the blob's id first, so a blob already parsed is
    never read again, and a tree shared by many commits is parsed once.
    """

    def __init__(self, objects: CatFile):
        self.objects = objects
        self._trees: dict[str, dict] = {}    # tree oid -> {name: (mode, oid)}

    def resolve(self, requests: list[tuple]) -> list[tuple | None]:
        """(mode, oid) of each (root tree oid, path), or None where there is none.

        Trees are fetched a level at a time for all requests together, so
        the number of round trips is the depth of the paths, not their count.
        """
        results: list[tuple | None] = [None] * len(requests)
        pending = []   # (index, tree oid, remaining parts)
        for index, (tree, path) in enumerate(requests):
            parts = [p for p in path.split("/") if p not in ("", ".")]
            if tree and parts:
                pending.append((index, tree, parts))
        while pending:
            unknown = list(dict.fromkeys(t for _, t, _ in pending if t not in self._trees))
            for oid, obj in zip(unknown, self.objects.read_many(unknown)):
                is_tree = obj is not None and obj.type == "tree"
                self._trees[oid] = parse_tree(obj.data, len(oid) // 2) if obj and is_tree else {}
            deeper = []
            for index, tree, parts in pending:
                entry = self._trees[tree].get(parts[0])
                if entry is None:
                    continue
                if len(parts) == 1:
                    results[index] = entry
                elif entry[0] == "40000":
                    deeper.append((index, entry[1], parts[1:]))
            pending = deeper
        return results


def parse_tree(data: bytes, id_len: int = 20) -> dict:
    """{name: (mode, oid)} of a raw tree object: "<mode> <name>\\0<id>" entries,
    each id ID_LEN bytes (20 for SHA-1 repositories, 32 for SHA-256)."""
    entries = {}
    pos, end = 0, len(data)
    while pos < end:
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        name = data[space + 1:nul].decode("utf-8", "surrogateescape")
        entries[name] = (data[pos:space].decode(), data[nul + 1:nul + 1 + id_len].hex())
        pos = nul + 1 + id_len
    return entries


class CommitInfo:
    """The fields of a commit that show and plots use."""

    __slots__ = ("tree", "parents", "committer_time", "committer_tz", "message")

    def __init__(self, tree: str, parents: list[str], committer_time: int, committer_tz: str,
                 message: str):
        self.tree = tree
        self.parents = parents
        self.committer_time = committer_time
        self.committer_tz = committer_tz    # "+0100"
        self.message = message

    def __repr__(self) -> str:
        return f"CommitInfo(tree={self.tree!r}, parents={self.parents!r}, time={self.committer_time})"


def parse_commit(data: bytes) -> CommitInfo:
    """The fields of a raw commit object we need (headers, then the message)."""
    head, _, message = data.partition(b"\n\n")
    tree, parents, when, tz = "", [], 0, "+0000"
    for line in head.split(b"\n"):
        if line.startswith(b" "):
            continue  # continuation of a multi-line header (gpgsig)
        key, _, value = line.partition(b" ")
        if key == b"tree":
            tree = value.decode()
        elif key == b"parent":
            parents.append(value.decode())
        elif key == b"committer":
            # "Name <email> 1700000000 +0100"; the name may hold anything but '>'
            fields = value.rsplit(b"> ", 1)[-1].split()
            if len(fields) == 2:
                try:
                    when, tz = int(fields[0]), fields[1].decode()
                except ValueError:
                    pass
    return CommitInfo(tree, parents, when, tz, message.decode("utf-8", "replace"))
