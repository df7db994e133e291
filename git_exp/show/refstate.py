"""Every ref `show` depends on, from one `git for-each-ref`.

Experiments (refs/exps/), the queue (refs/exps-queue/, refs/exps-running/),
notes and tags (refs/exp-notes/), branches and tags (refs/heads/,
refs/tags/): one listing instead of a call per namespace, and its raw bytes
are the refs' part of the key of the output memo (outmemo.py): any ref
created, moved or deleted changes them. %(HEAD) marks the branch HEAD is on,
so HEAD needs no call of its own unless it is detached.

Only cheap atoms are asked for: %(*objectname) (peeling tags) and
%(refname:short) make Git open every object or test every ref name, ten
times the cost at 10,000 experiments; the labels of baselines (which need
them) are asked only for the few refs under refs/heads/ and refs/tags/.
"""
from __future__ import annotations

import os

from git_exp.git import git

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.repo import Repository


EXPS = "refs/exps/"
QUEUE = ("refs/exps-queue/", "refs/exps-running/")   # as experiments/refs.py names them
NOTES = "refs/exp-notes/"                             # as experiments/annotations.py
BRANCHES = "refs/heads/"
TAGS = "refs/tags/"
FORMAT = "--format=%(objectname) %(HEAD)%(refname)"
MAX_HEAD_FILE = 4096


class RefState:
    """The raw listing, and its parts parsed on demand (the memo's hit needs none of them)."""

    __slots__ = ("raw", "head_file", "_lines")

    def __init__(self, raw: bytes, head_file: bytes):
        self.raw = raw                  # for-each-ref's output, exactly
        self.head_file = head_file      # this worktree's HEAD file ("ref: ..." or a sha)
        self._lines: list | None = None

    def lines(self) -> list[tuple[str, bool, str]]:
        """(object id, HEAD is on it, ref name) of each ref listed."""
        if self._lines is None:
            found = []
            for line in self.raw.decode("utf-8", "surrogateescape").splitlines():
                sha, _, rest = line.partition(" ")
                found.append((sha, rest[:1] == "*", rest[1:]))
            self._lines = found
        return self._lines

    def key(self) -> bytes:
        return self.head_file + b"\0" + self.raw

    @property
    def has_queue(self) -> bool:
        return any(ref.startswith(QUEUE) for _, _, ref in self.lines())

    def exp_refs(self) -> list:
        """The experiment refs, in ref-name order (as experiments.refs.list_refs)."""
        from git_exp.experiments.refs import parse_ref
        found = []
        for sha, _, ref in self.lines():
            if ref.startswith(EXPS):
                parsed = parse_ref(ref, sha)
                if parsed:
                    found.append(parsed)
        return found

    def notes(self) -> dict[str, str]:
        """experiment sha -> annotation commit (as experiments.annotations.list_refs)."""
        return {ref[len(NOTES):]: sha for sha, _, ref in self.lines()
                if ref.startswith(NOTES) and _is_sha(ref[len(NOTES):])}

    def head_branch_sha(self) -> str | None:
        """What the branch HEAD is on points at; None when HEAD is detached or unborn."""
        for sha, on_head, _ in self.lines():
            if on_head:
                return sha
        return None

    @property
    def detached(self) -> bool:
        """HEAD names no branch listed here (detached, unborn, or a backend we cannot read)."""
        return self.head_branch_sha() is None


def read_state(repo: Repository) -> RefState:
    out = git(["for-each-ref", FORMAT, EXPS, *QUEUE, NOTES, BRANCHES, TAGS], cwd=repo.root).stdout
    try:
        with open(os.path.join(repo.git_dir, "HEAD"), "rb") as fh:
            head_file = fh.read(MAX_HEAD_FILE)
    except OSError:
        head_file = b""
    return RefState(out, head_file)


_HEX = frozenset("0123456789abcdef")


def _is_sha(text: str) -> bool:
    return len(text) in (40, 64) and _HEX.issuperset(text)
