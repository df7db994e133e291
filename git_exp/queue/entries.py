"""Reading queue entries from their refs, and the messages that describe them.

An entry's commit message carries everything a worker needs, as trailers
(so `git log refs/exps-queue/<id>` explains it):

    queued: lr-2 (train.lr=0.01)

    Exp-Name: lr-2
    Exp-Queue-Id: 3f9a0c12
    Exp-Queued-At: 2024-05-01T12:00:00.123456+00:00
    Exp-Baseline: <sha of HEAD when queued; also the commit's parent>
    Exp-Queue-Batch: <token shared by the points of one `run --queue`>
    Exp-Queue-Seq: <the point's place in the sweep; entries run in this order>
    Exp-Param: train.lr=0.01
    Exp-Stage / Exp-Downstream / Exp-Run-Cache / Exp-Force: run options

A claim commit repeats those trailers and adds Exp-Entry, Exp-Attempt and
the owner (Exp-Claim-Pid, -Host, -Start, Exp-Claimed-At).
"""
from __future__ import annotations

import os

from git_exp.errors import ExpError
from git_exp.experiments import refs
from git_exp.git import git
from git_exp.plainclass import Frozen, Mutable
from git_exp.repo import Repository

TYPE_CHECKING = False   # typing's, without importing typing on run's path (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Sequence

QUEUE_PREFIX = refs.QUEUE_PREFIX
RUNNING_PREFIX = refs.RUNNING_PREFIX
ID_LENGTH = 8


# plainclass records, not dataclasses: `run` lists entries on every call.

class Owner(Frozen):
    """Who holds a claim: a process, told apart from a later one with its pid. Immutable."""
    __slots__ = ("pid", "host", "start", "claimed_at")
    pid: int
    host: str
    start: str          # the process's start time (see procs.start_time); "" if unknown
    claimed_at: str

    def __init__(self, pid: int, host: str, start: str = "", claimed_at: str = ""):
        self._init(pid=pid, host=host, start=start, claimed_at=claimed_at)

    def here(self) -> bool:
        import socket   # only a claim's owner check needs it: `run` lists entries on every call
        return self.host == socket.gethostname()


class Entry(Mutable):
    __slots__ = ("id", "state", "ref", "sha", "tree", "entry_sha", "baseline", "name", "queued_at",
                 "params", "message", "batch", "targets", "downstream", "run_cache", "force",
                 "attempt", "seq", "owner")

    def __init__(self, id: str, state: str, ref: str, sha: str, tree: str, entry_sha: str,
                 baseline: str, name: str, queued_at: str, params: list[str] | None = None,
                 message: str | None = None, batch: str | None = None,
                 targets: list[str] | None = None, downstream: bool = False,
                 run_cache: bool = True, force: bool = False, attempt: int = 0, seq: int = 0,
                 owner: Owner | None = None):
        self.id = id
        self.state = state                 # "queued" or "running"
        self.ref = ref
        self.sha = sha                     # what the ref points at: the entry, or its latest claim
        self.tree = tree
        self.entry_sha = entry_sha         # the commit holding the work tree with its params set
        self.baseline = baseline
        self.name = name
        self.queued_at = queued_at
        self.params = [] if params is None else params
        self.message = message
        self.batch = batch
        self.targets = [] if targets is None else targets
        self.downstream = downstream
        self.run_cache = run_cache
        self.force = force
        self.attempt = attempt             # claims so far
        self.seq = seq                     # the point's place in its sweep, to run them in order
        self.owner = owner


def now_iso() -> str:
    from datetime import datetime, timezone   # not on `run`'s path, which only lists entries
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def new_id(taken: set[str]) -> str:
    import secrets
    while True:
        token = secrets.token_hex(ID_LENGTH // 2)
        if token not in taken and not token.isdigit():
            return token


def trailers_of(entry: Entry) -> list[tuple[str, str]]:
    """The entry's own trailers, in the order they are written."""
    items = [("Exp-Name", entry.name), ("Exp-Queue-Id", entry.id),
             ("Exp-Queued-At", entry.queued_at), ("Exp-Baseline", entry.baseline)]
    if entry.batch:
        items.append(("Exp-Queue-Batch", entry.batch))
    if entry.seq:
        items.append(("Exp-Queue-Seq", str(entry.seq)))
    items += [("Exp-Param", p) for p in entry.params]
    items += [("Exp-Stage", t) for t in entry.targets]
    if entry.downstream:
        items.append(("Exp-Downstream", "true"))
    if not entry.run_cache:
        items.append(("Exp-Run-Cache", "false"))
    if entry.force:
        items.append(("Exp-Force", "true"))
    return items


def build_message(subject: str, entry: Entry, extra: Sequence[tuple[str, str]] = ()) -> str:
    lines = [subject, ""]
    if entry.message:
        lines += [entry.message.strip(), ""]
    for key, value in list(trailers_of(entry)) + list(extra):
        lines.append(f"{key}: {' '.join(str(value).split())}")
    return "\n".join(lines) + "\n"


def entry_subject(entry: Entry) -> str:
    subject = f"queued: {entry.name}" + (f" ({', '.join(entry.params)})" if entry.params else "")
    return subject if len(subject) <= 120 else subject[:117] + "..."


def _parse(ref: str, sha: str, tree: str, message: str) -> Entry | None:
    paragraphs = message.strip().split("\n\n")
    found: dict[str, list[str]] = {}
    for line in paragraphs[-1].splitlines():
        key, sep, value = line.partition(": ")
        if sep and key.startswith("Exp-"):
            found.setdefault(key, []).append(value)

    def one(key: str, default: str = "") -> str:
        return found.get(key, [default])[-1]

    state = "running" if ref.startswith(RUNNING_PREFIX) else "queued"
    entry_id = ref.rsplit("/", 1)[-1]
    if not one("Exp-Name") or one("Exp-Queue-Id") != entry_id or len(one("Exp-Baseline")) != 40:
        return None  # not one of ours (or damaged): never run what we cannot read
    owner = None
    if one("Exp-Claim-Pid").isdigit():
        owner = Owner(int(one("Exp-Claim-Pid")), one("Exp-Claim-Host"), one("Exp-Claim-Start"),
                      one("Exp-Claimed-At"))
    middle = paragraphs[1:-1]
    attempt, seq = one("Exp-Attempt", "0"), one("Exp-Queue-Seq", "0")
    return Entry(
        id=entry_id, state=state, ref=ref, sha=sha, tree=tree,
        entry_sha=one("Exp-Entry") or sha, baseline=one("Exp-Baseline"), name=one("Exp-Name"),
        queued_at=one("Exp-Queued-At"), params=found.get("Exp-Param", []),
        message="\n\n".join(middle) if middle else None, batch=one("Exp-Queue-Batch") or None,
        targets=found.get("Exp-Stage", []), downstream=one("Exp-Downstream") == "true",
        run_cache=one("Exp-Run-Cache", "true") != "false", force=one("Exp-Force") == "true",
        attempt=int(attempt) if attempt.isdigit() else 0, owner=owner,
        seq=int(seq) if seq.isdigit() else 0)


def list_entries(repo: Repository, state: str | None = None, memo: dict | None = None) -> list[Entry]:
    """Queued and running entries (or those of one STATE), in the order they run.

    MEMO (sha -> (tree, message)), kept by a worker across claims, saves
    reading the messages of entries already seen: with thousands queued, a
    claim then costs one ref listing instead of reading every entry.
    """
    prefixes = {"queued": [QUEUE_PREFIX], "running": [RUNNING_PREFIX]}.get(
        state or "", [QUEUE_PREFIX, RUNNING_PREFIX])
    records: list[tuple[str, str, str, str]] = []   # (ref, sha, tree, message)
    if memo is None:
        out = git(["for-each-ref", "--format=%(objectname) %(tree) %(refname)%00%(contents)%00",
                   *prefixes], cwd=repo.root).stdout.decode("utf-8", "surrogateescape")
        parts = out.split("\0")
        for head, message in zip(parts[0::2], parts[1::2]):
            head = head.lstrip("\n")
            if head.count(" ") >= 2:
                sha, tree, ref = head.split(" ", 2)
                records.append((ref, sha, tree, message))
    else:
        out = git(["for-each-ref", "--format=%(objectname) %(refname)", *prefixes],
                  cwd=repo.root).stdout.decode("utf-8", "surrogateescape")
        return _listed_entries(repo, [line.split(" ", 1) for line in out.splitlines() if " " in line],
                               memo)
    return _parsed(records)


def _listed_entries(repo: Repository, pairs: list[list[str]], memo: dict) -> list[Entry]:
    """The entries of PAIRS ([sha, ref] from a for-each-ref), messages read through MEMO."""
    _read_messages(repo, [sha for sha, _ in pairs if sha not in memo], memo)
    return _parsed([(ref, sha, *memo[sha]) for sha, ref in pairs if sha in memo])


def _parsed(records: list[tuple[str, str, str, str]]) -> list[Entry]:
    entries = []
    for ref, sha, tree, message in records:
        entry = _parse(ref, sha, tree, message)
        if entry is not None:
            entries.append(entry)
    entries.sort(key=lambda e: (e.queued_at, e.seq, e.id))
    return entries


def _read_messages(repo: Repository, shas: list[str], memo: dict) -> None:
    if not shas:
        return
    out = git(["log", "--no-walk=unsorted", "--stdin", "--format=%H %T%x00%B%x00"], cwd=repo.root,
              input="".join(s + "\n" for s in shas).encode()).stdout.decode("utf-8", "surrogateescape")
    parts = out.split("\0")
    for head, message in zip(parts[0::2], parts[1::2]):
        sha, _, tree = head.strip().partition(" ")
        memo[sha] = (tree, message)


def reserved_names(repo: Repository) -> set[str]:
    """Names held by queued and running entries: a new experiment may not take them."""
    return {e.name for e in list_entries(repo)}


NAMES_LISTING = ["for-each-ref", "--format=%(objectname) %(refname)", refs.PREFIX, QUEUE_PREFIX,
                 RUNNING_PREFIX]


def names_in_use(repo: Repository, listing: bytes | None = None) -> tuple[list[refs.ExpRef], set[str]]:
    """Every experiment ref (refs.list_refs) and reserved_names, from one
    `git NAMES_LISTING` over the three namespaces (LISTING: its output, when
    the caller has it): the entries' messages are read (a second call) only
    when there are entries, which a plain `run` rarely has."""
    if listing is None:
        listing = git(NAMES_LISTING, cwd=repo.root).stdout
    out = listing.decode("utf-8", "surrogateescape")
    existing: list[refs.ExpRef] = []
    queued: list[list[str]] = []
    for line in out.splitlines():
        sha, _, ref = line.partition(" ")
        if ref.startswith(refs.PREFIX):
            parsed = refs.parse_ref(ref, sha)
            if parsed:
                existing.append(parsed)
        elif ref.startswith((QUEUE_PREFIX, RUNNING_PREFIX)):
            queued.append([sha, ref])
    reserved = {e.name for e in _listed_entries(repo, queued, {})} if queued else set()
    return existing, reserved


def find(repo: Repository, spec: str, entries: list[Entry] | None = None) -> Entry:
    """The queued or running entry SPEC names: its id, an id prefix, or its name."""
    entries = list_entries(repo) if entries is None else entries
    hits = [e for e in entries if e.id == spec] or [e for e in entries if e.name == spec]
    if not hits and len(spec) >= 4:
        hits = [e for e in entries if e.id.startswith(spec)]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        listing = "\n".join(f"  {e.id}  {e.name}" for e in hits)
        raise ExpError(f"'{spec}' names {len(hits)} queue entries:\n{listing}",
                       hint="give the full id")
    raise ExpError(f"no queued or running entry '{spec}'",
                   hint="'git exp queue status' lists the entries")


def log_file(repo: Repository, entry_id: str) -> str:
    """Where a queued run writes its log while it runs (it then moves to record.log_path)."""
    return os.path.join(repo.exp_dir, "logs", f"queue-{entry_id}.log")
