"""Experiments that have no commit yet, as `show` lists them (show/pending.py).

Pending is the type of those rows: the run in this work tree (show builds
it from the run lock) and the queue's entries (pending_entries). It lives
here, under the queue, so that show imports it and the queue never imports
show. The queue's other modules are imported only once there are entries:
show asks for them on every call and the queue is mostly empty.
"""
from __future__ import annotations

from dataclasses import dataclass
from git_exp.repo import Repository


@dataclass(frozen=True)
class Pending:
    name: str
    state: str              # "running" or "queued"
    baseline: str | None    # the commit it runs from; None: HEAD of its work tree
    created: str | None     # ISO 8601, when it started or was queued
    root: str | None = None     # the work tree it runs in, when on this machine
    commit: str | None = None   # a commit holding its params (a queue entry's), if any
    entry: str | None = None    # its queue entry's id; None for a run in a work tree
    pid: int | None = None      # the process running it in a work tree


def pending_entries(repo: Repository) -> list[Pending]:
    """Queued and running entries as `show` lists them (show/pending.py); reads only.

    An entry whose worker is gone shows as queued: recovery will queue it again.
    """
    from git_exp.queue import claims
    from git_exp.queue import entries as ent
    from git_exp.queue.checkout import checkout_path
    found = []
    for e in ent.list_entries(repo):
        running = e.state == "running" and claims.owner_alive(e)
        created = e.owner.claimed_at if running and e.owner else e.queued_at
        # A local worker runs it in a temporary checkout named after its claim.
        root = checkout_path(repo, e) if running and e.owner and e.owner.here() else None
        found.append(Pending(e.name, "running" if running else "queued", e.baseline,
                             created or None, root=root, commit=e.entry_sha, entry=e.id))
    return found
