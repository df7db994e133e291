"""Which bytes in the work tree are the user's own, so must not be replaced without a way back.

Content is safe to replace or remove when a record that gc keeps names
exactly it (the old HEAD's, HEAD's, or any commit's in the history of a
ref) and the cache holds all of it - or, for a folder, when every file in
it is such a recorded file (files were only deleted). Everything else is an
edit: sync.py leaves it in place (hooks), refuses (checkout) or backs it up
(checkout --force), and `describe` tells the user what differs.
"""
from __future__ import annotations


from git_exp.data.hashing import HashInfo
from git_exp.errors import ExpError
from git_exp.plainclass import Mutable
from git_exp.worktree.records import history_roots, objects_in_history

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Callable

    from git_exp.data.cache import Cache
    from git_exp.data.hashing import ManifestEntry
    from git_exp.data.state import StateMemo
    from git_exp.repo import Repository

_SHOW_FILES = 3


class Edited(Mutable):
    __slots__ = ("path", "why", "removal", "now")

    def __init__(self, path: str, why: str, removal: bool, now: HashInfo | None):
        self.path = path
        self.why = why              # what differs, for the user
        self.removal = removal      # nothing records the path any more (else: a new version awaits)
        self.now = now              # its content now (None: unreadable)


class Known:
    """Whether content at a data path may be replaced without a backup.

    It may when a record that gc keeps names exactly that content and the
    cache holds all of it. FIRST gives the records checked first (the old
    HEAD's for the hooks, HEAD's for checkout); unless STRICT, any record in
    the history of any ref counts too (read once, only when needed). The
    hooks are strict for paths that had an old record: content that differs
    from it is an edit, as Git sees it, even if some other commit has it.
    """

    def __init__(self, repo: Repository, first: Callable[[], dict[str, HashInfo]], strict: bool = False,
                 label: str = "its record"):
        self.repo = repo
        self.label = label  # how the user calls FIRST's records
        self._first_reader = first
        self._first: dict[str, HashInfo] | None = None
        self._history: set[str] | None = None
        self.strict = strict

    def first(self) -> dict[str, HashInfo]:
        if self._first is None:
            self._first = self._first_reader()
        return self._first

    def _in_history(self, digest: str) -> bool:
        if self._history is None:
            try:
                infos, _ = objects_in_history(self.repo, history_roots(self.repo), stdin=True)
            except ExpError:
                infos = set()
            self._history = {i.hash for i in infos}
        return digest in self._history

    def safe(self, cache: Cache, path: str, now: HashInfo, entries: list[ManifestEntry] | None = None,
             target: HashInfo | None = None) -> bool:
        """NOW (with its manifest ENTRIES, for a folder) at PATH may go; TARGET is its new record."""
        old = self.first().get(path)
        if old is not None and old.hash == now.hash:
            pass
        elif (old is None or not self.strict) and self._in_history(now.hash):
            pass
        elif entries is not None and _subset(cache, entries, old if self.strict else (old, target)):
            return True  # a recorded folder with files deleted: nothing of the user's in it
        else:
            return False
        try:
            return not cache.missing(now)  # recorded is not enough: the bytes must be here
        except ExpError:
            return False


def _subset(cache: Cache, entries: list[ManifestEntry],
            references: HashInfo | None | tuple[HashInfo | None, ...]) -> bool:
    """Every file in ENTRIES is, byte for byte, a file of one REFERENCES folder the cache holds."""
    if not isinstance(references, tuple):
        references = (references,)
    here = {(e.relpath, e.hash) for e in entries}
    for ref in references:
        if ref is None or not ref.is_dir or not cache.has(ref.hash):
            continue
        try:
            recorded = {(e.relpath, e.hash) for e in cache.load_manifest(ref.hash)}
        except ExpError:
            continue
        if here <= recorded and all(cache.has(h) for _, h in here):
            return True
    return False


def content_of(path: str, memo: StateMemo | None, cache: Cache) -> tuple[HashInfo, list[ManifestEntry] | None]:
    """(HashInfo, manifest entries or None) of what is at PATH; ExpError when unreadable."""
    from git_exp.data.hashing import hash_path
    return hash_path(path, memo, cache_root=cache.root)


def describe(cache: Cache, now_entries: list[ManifestEntry] | None, reference: HashInfo | None, path: str,
             record: str = "its record") -> str:
    """What makes the content at PATH the user's own, in a few words; RECORD names REFERENCE."""
    if now_entries is None or reference is None or not reference.is_dir or not cache.has(reference.hash):
        return f"it differs from {record}" if reference is not None else "nothing records it"
    try:
        recorded = {e.relpath: e.hash for e in cache.load_manifest(reference.hash)}
    except ExpError:
        return f"it differs from {record}"
    here = {e.relpath: e.hash for e in now_entries}
    added = sorted(set(here) - set(recorded))
    changed = sorted(p for p in set(here) & set(recorded) if here[p] != recorded[p])
    deleted = len(set(recorded) - set(here))
    parts = []
    if added:
        shown = ", ".join(f"{path}/{p}" for p in added[:_SHOW_FILES]) + (", ..." if len(added) > _SHOW_FILES else "")
        parts.append(f"{len(added)} file(s) not in {record} ({shown})")
    if changed:
        shown = ", ".join(f"{path}/{p}" for p in changed[:_SHOW_FILES])
        shown += ", ..." if len(changed) > _SHOW_FILES else ""
        parts.append(f"{len(changed)} modified ({shown})")
    if deleted:
        parts.append(f"{deleted} deleted")
    return "; ".join(parts) or f"it differs from {record}"
