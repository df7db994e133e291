"""Reading many Git objects through one long-lived `git cat-file --batch`.

One process answers every request, so reading 10,000 commits costs pipe
round trips, not 10,000 process starts. Measured against Dulwich's object
store (bench/bench_show.py has the figures): the same speed for small
objects, and no Dulwich import on the start-up path of `git exp show`.

Requests are written in chunks smaller than a pipe buffer before their
answers are read: Git stops reading requests while its output pipe is full,
so a chunk larger than the pipe could deadlock both processes.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass

from git_exp.errors import ExpError

_CHUNK_BYTES = 32 * 1024   # well under Linux's 64 KiB pipe buffer


@dataclass(frozen=True)
class GitObject:
    oid: str
    type: str      # "blob", "commit", "tree" or "tag"
    data: bytes    # empty when `too_large`
    size: int = 0
    too_large: bool = False   # a blob over CatFile's max_blob: its bytes were skipped


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

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> subprocess.Popen:
        if self._proc is None:
            try:
                self._proc = subprocess.Popen(
                    ["git", "cat-file", "--batch"], cwd=self.root,
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            except FileNotFoundError:
                raise ExpError("git is not installed or not on PATH") from None
        return self._proc

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            assert proc.stdin is not None and proc.stdout is not None   # PIPEs (_start)
            try:
                proc.stdin.close()
            except OSError:
                pass
            proc.stdout.close()
            proc.wait()

    def read(self, spec: str) -> GitObject | None:
        return self.read_many([spec])[0]

    def read_many(self, specs: list[str]) -> list[GitObject | None]:
        """The object each SPEC (`<sha>`, `<sha>:<path>`) names, or None when missing.

        A spec holding a newline cannot be asked for in this protocol; it
        is answered None, as no path in a commit we wrote contains one.
        """
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None   # PIPEs (_start)
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
                proc.stdin.write("".join(s + "\n" for s in asked).encode("utf-8", "surrogateescape"))
                proc.stdin.flush()
            except BrokenPipeError:
                raise ExpError("git cat-file stopped unexpectedly") from None
            answers = iter([self._answer(proc.stdout, self.max_blob) for _ in asked])
            results.extend(None if "\n" in s else next(answers) for s in chunk)
            start = end
        return results

    @staticmethod
    def _answer(out, max_blob: int | None = None) -> GitObject | None:
        header = out.readline()
        if not header:
            raise ExpError("git cat-file stopped unexpectedly")
        parts = header.split()
        if len(parts) != 3 or parts[-1] in (b"missing", b"ambiguous"):
            return None  # "<spec> missing" / "<spec> ambiguous"
        oid, kind, size = parts
        size = int(size)
        if max_blob is not None and kind == b"blob" and size > max_blob:
            left = size + 1
            while left:   # skip the contents (and the newline) a megabyte at a time
                chunk = out.read(min(left, 1 << 20))
                if not chunk:
                    raise ExpError("git cat-file stopped unexpectedly")
                left -= len(chunk)
            return GitObject(oid.decode(), kind.decode(), b"", size, True)
        data = out.read(size + 1)[:-1]  # the contents, then a newline
        return GitObject(oid.decode(), kind.decode(), data, size)


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
                self._trees[oid] = parse_tree(obj.data, len(oid) // 2) \
                    if obj is not None and obj.type == "tree" else {}
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


@dataclass(frozen=True)
class CommitInfo:
    tree: str
    parents: list
    committer_time: int
    committer_tz: str      # "+0100"
    message: str


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
