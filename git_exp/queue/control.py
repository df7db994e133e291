"""What the user asks of the queue: status, logs, kill, stop, remove.

Readers (status, logs) never lock and never wait for a worker; `status`
does run recovery, which only ever acts on entries whose owner is gone.
"""
from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from git_exp.errors import ExpError
from git_exp.experiments import record as rec
from git_exp.queue import claims, recovery, state
from git_exp.queue import entries as ent
from git_exp.queue.worker import live_workers
from git_exp.repo import Repository


@dataclass
class Row:
    id: str
    name: str
    state: str                    # queued, running, success, failed, interrupted
    created: str                  # ISO 8601, when it was queued
    duration: float | None = None  # seconds: so far for a running entry
    attempt: int = 0
    params: list[str] = field(default_factory=list)
    exp_sha: str | None = None
    error: str | None = None
    batch: str | None = None
    pid: int | None = None
    seq: int = 0


@dataclass
class Status:
    rows: list[Row]
    workers: int
    recovered: list = field(default_factory=list)


def rows(repo: Repository) -> list[Row]:
    live = ent.list_entries(repo)
    states = state.all_states(repo)
    found = []
    now = time.time()
    for e in live:
        info = states.get(e.id) or {}
        mine = info.get("claim") == e.sha
        duration = None
        if e.state == "running" and mine and isinstance(info.get("started"), (int, float)):
            duration = max(0.0, now - info["started"])
        found.append(Row(e.id, e.name, e.state, e.queued_at, duration, e.attempt, e.params,
                         batch=e.batch, pid=e.owner.pid if e.owner else None, seq=e.seq))
    ids = {e.id for e in live}
    for entry_id, info in states.items():
        if entry_id in ids or info.get("state") not in state.DONE_STATES:
            continue
        found.append(Row(entry_id, str(info.get("name", "?")), info["state"],
                         str(info.get("queued_at", "")), info.get("duration"),
                         int(info.get("attempt") or 0), list(info.get("params") or []),
                         info.get("exp_sha"), info.get("error"), info.get("batch"), info.get("pid"),
                         int(info.get("seq") or 0)))
    found.sort(key=lambda r: (r.created, r.seq, r.id))
    return found


def status(repo: Repository) -> Status:
    found = recovery.recover(repo)
    return Status(rows(repo), len(live_workers(repo)), found)


def find_row(repo: Repository, spec: str) -> Row:
    """The entry SPEC names, live or finished: id, id prefix (4+) or name."""
    every = rows(repo)
    hits = [r for r in every if r.id == spec]
    if not hits:
        named = [r for r in every if r.name == spec]
        live = [r for r in named if r.state in ("queued", "running")]
        hits = live or named[-1:]   # the newest entry of that name
    if not hits and len(spec) >= 4:
        hits = [r for r in every if r.id.startswith(spec)]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        listing = "\n".join(f"  {r.id}  {r.name}  {r.state}" for r in hits)
        raise ExpError(f"'{spec}' names {len(hits)} queue entries:\n{listing}", hint="give the full id")
    raise ExpError(f"no queue entry '{spec}'", hint="'git exp queue status' lists the entries")


# -- logs ---------------------------------------------------------------------

def _running_claim(repo: Repository, entry_id: str) -> str | None:
    for e in ent.list_entries(repo, "running"):
        if e.id == entry_id:
            return e.sha
    return None


def read_log(repo: Repository, spec: str, follow: bool = False, poll: float = 0.2) -> Iterator[bytes]:
    """The entry's log as chunks; with FOLLOW, more as the run writes it, until it ends."""
    row = find_row(repo, spec)
    if row.state == "queued":
        raise ExpError(f"'{row.name}' ({row.id}) has not started yet",
                       hint="start workers: git exp queue start")
    fh = None
    while row.state == "running":
        claim = _running_claim(repo, row.id)
        try:
            fh = open(ent.log_file(repo, row.id), "rb")
            break
        except FileNotFoundError:   # not written yet, or ending: its log moves when recorded
            time.sleep(poll)
            row = find_row(repo, row.id)
    if fh is None:
        if row.state == "queued":
            raise ExpError(f"'{row.name}' ({row.id}) went back to the queue: its worker died",
                           hint="start workers: git exp queue start")
        yield from _finished_log(repo, row)
        return
    from git_exp.logtail import tail
    with fh:
        yield from tail(fh, follow, lambda: claim is not None and _running_claim(repo, row.id) == claim,
                        poll, check_every=poll * 2)


def _finished_log(repo: Repository, row: Row) -> Iterator[bytes]:
    if not row.exp_sha:
        raise ExpError(f"no log is kept for '{row.name}' ({row.id})")
    try:
        with open(rec.log_path(repo, row.exp_sha), "rb") as fh:
            yield fh.read()
    except FileNotFoundError:
        raise ExpError(f"the log of '{row.name}' ({row.id}) is gone",
                       hint="it is removed with its experiment ('git exp remove')") from None


# -- kill, stop, remove --------------------------------------------------------

def kill(repo: Repository, specs: list[str], timeout: float = 30.0) -> list[Row]:
    """Interrupt running entries; each is recorded as an interrupted experiment."""
    every = ent.list_entries(repo)
    targets = []
    for spec in specs:
        entry = ent.find(repo, spec, every)
        if entry.state != "running":
            raise ExpError(f"'{entry.name}' ({entry.id}) is not running",
                           hint=f"drop it from the queue instead: git exp queue remove {entry.id}")
        if entry.owner is not None and not entry.owner.here():
            raise ExpError(f"'{entry.name}' runs on {entry.owner.host}, not on this machine",
                           hint="kill it there")
        targets.append(entry)
    for entry in targets:
        if not claims.owner_alive(entry):
            continue   # recovery below records it
        state.request_kill(repo, entry.id)
        try:
            assert entry.owner is not None   # owner_alive: a claim has an owner
            os.kill(entry.owner.pid, signal.SIGTERM)
        except OSError:   # gone meanwhile, or (a pid reused by another user) not ours to signal
            pass
    deadline = time.monotonic() + timeout
    pending = {e.id: e.sha for e in targets}
    while pending and time.monotonic() < deadline:
        running = {e.id: e.sha for e in ent.list_entries(repo, "running")}
        pending = {i: s for i, s in pending.items() if running.get(i) == s}
        if pending:
            recovery.recover(repo)
            time.sleep(0.1)
    if pending:
        raise ExpError(f"{len(pending)} entr{'y' if len(pending) == 1 else 'ies'} did not stop "
                       f"within {timeout:.0f}s: {', '.join(pending)}",
                       hint="its worker may be stuck; 'kill -9' the worker, then "
                            "'git exp queue status' recovers the entry")
    return [find_row(repo, e.id) for e in targets]


def stop(repo: Repository, now: bool = False) -> list[int]:
    """Ask every worker to exit after its current entry (NOW: interrupt that entry too)."""
    pids = []
    for info in live_workers(repo):
        pid = info["pid"]
        state.request_stop(repo, pid)
        if now and info.get("host") in (None, claims.me().host):
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:   # gone meanwhile, or not ours to signal: stop never fails
                continue
        pids.append(pid)
    return pids


def remove(repo: Repository, specs: Sequence[str] = (), everything: bool = False, failed: bool = False) -> list[Row]:
    """Drop queued entries and the records of finished ones; running entries stay.

    The experiments of finished entries are kept: `git exp remove` deletes those.
    """
    every = rows(repo)
    chosen: dict[str, Row] = {}
    for spec in specs:
        row = find_row(repo, spec)
        if row.state == "running":
            raise ExpError(f"'{row.name}' ({row.id}) is running",
                           hint=f"stop it first: git exp queue kill {row.id}")
        chosen[row.id] = row
    if everything:
        chosen.update({r.id: r for r in every if r.state != "running"})
    if failed:
        chosen.update({r.id: r for r in every if r.state in ("failed", "interrupted")})
    if not chosen and not (everything or failed):
        raise ExpError("nothing to remove", hint="name entries, or use --all or --failed")
    queued = {e.id: e for e in ent.list_entries(repo, "queued")}
    removed = []
    for row in chosen.values():
        if row.state == "queued":
            entry = queued.get(row.id)
            if entry is None or not claims.drop(repo, entry):
                continue   # a worker claimed it meanwhile
            state.remove_state(repo, row.id)
        else:
            state.remove_state(repo, row.id)
        removed.append(row)
    return removed
