"""Claiming, finishing and giving back queue entries: compare-and-swap on refs.

A claim writes a claim commit (the entry's tree, parent the entry, message
naming the owner) and then, in one `git update-ref --stdin` transaction,
deletes refs/exps-queue/<id> at the sha it was read at and creates
refs/exps-running/<id> at the claim. Git locks both refs for the
transaction, so of two workers racing for one entry exactly one wins; the
other's claim commit is left unreferenced, for `git gc`.

Every claim has its own commit, so the running ref's sha identifies the
claim, not just the entry: a recovery that read an old claim cannot give
back an entry that was re-queued and claimed again since (no ABA).
"""
from __future__ import annotations

import copy
import os
import socket

from git_exp.worktree.snapshot import commit_tree
from git_exp.git import git
from git_exp.queue import entries as ent
from git_exp import procs
from git_exp.repo import Repository


def me() -> ent.Owner:
    pid = os.getpid()
    return ent.Owner(pid, socket.gethostname(), procs.start_time(pid), ent.now_iso())


def claim_commit(repo: Repository, entry: ent.Entry, owner: ent.Owner, new_attempt: bool = True) -> None:
    """Turn ENTRY (in memory) into its next claim by OWNER; no ref moves."""
    attempt = entry.attempt + 1 if new_attempt else entry.attempt
    owner = ent.Owner(owner.pid, owner.host, owner.start, ent.now_iso())
    extra = [("Exp-Entry", entry.entry_sha), ("Exp-Attempt", str(attempt)),
             ("Exp-Claim-Pid", str(owner.pid)), ("Exp-Claim-Host", owner.host),
             ("Exp-Claim-Start", owner.start or "-"), ("Exp-Claimed-At", owner.claimed_at)]
    subject = f"claim: {entry.name} (attempt {attempt}, pid {owner.pid} on {owner.host})"
    entry.sha = commit_tree(repo, entry.tree, [entry.sha], ent.build_message(subject, entry, extra))
    entry.state, entry.ref = "running", ent.RUNNING_PREFIX + entry.id
    entry.attempt, entry.owner = attempt, owner


def _transaction(repo: Repository, lines: list[str]) -> bool:
    script = "start\n" + "".join(l + "\n" for l in lines) + "prepare\ncommit\n"
    proc = git(["update-ref", "-m", "git exp queue", "--stdin"], cwd=repo.root,
               input=script.encode(), check=False)
    return proc.returncode == 0


def claim(repo: Repository, entry: ent.Entry, owner: ent.Owner) -> ent.Entry | None:
    """ENTRY claimed by OWNER, or None when another worker (or a remove) got there first."""
    claimed = copy.copy(entry)
    claim_commit(repo, claimed, owner)
    if _transaction(repo, [f"delete {entry.ref} {entry.sha}", f"create {claimed.ref} {claimed.sha}"]):
        return claimed
    return None


def take_over(repo: Repository, entry: ent.Entry, owner: ent.Owner) -> ent.Entry | None:
    """Replace a running entry's (dead) owner with OWNER; None if its claim changed."""
    mine = copy.copy(entry)
    claim_commit(repo, mine, owner, new_attempt=False)
    if _transaction(repo, [f"update {entry.ref} {mine.sha} {entry.sha}"]):
        return mine
    return None


def claim_next(repo: Repository, owner: ent.Owner, batch: str | None = None,
               memo: dict | None = None) -> ent.Entry | None:
    """The first queued entry (of BATCH, if given) that we manage to claim."""
    for entry in ent.list_entries(repo, "queued", memo):
        if batch is not None and entry.batch != batch:
            continue
        claimed = claim(repo, entry, owner)
        if claimed is not None:
            return claimed
    return None


def release(repo: Repository, entry: ent.Entry) -> bool:
    """Drop a finished claim; False if the running ref no longer is this claim."""
    return _transaction(repo, [f"delete {entry.ref} {entry.sha}"])


def give_back(repo: Repository, entry: ent.Entry, count: bool = True) -> bool:
    """Re-queue a claimed entry (its claim commit keeps the attempt count).

    With COUNT false the claim does not count as an attempt: the entry goes
    back with the count it had before (a commit on top of the claim says so).
    That is for claims that ended through no fault of the entry, such as a
    dispatcher that lost its scheduler or was killed while the engine ran it.
    """
    target = entry.sha
    if not count and entry.attempt > 0:
        uncounted = copy.copy(entry)
        uncounted.attempt -= 1
        claim_commit(repo, uncounted, me(), new_attempt=False)
        target = uncounted.sha
    return _transaction(repo, [f"delete {entry.ref} {entry.sha}",
                               f"create {ent.QUEUE_PREFIX}{entry.id} {target}"])


def drop(repo: Repository, entry: ent.Entry) -> bool:
    """Delete a queued entry; False if it was claimed or changed meanwhile."""
    return _transaction(repo, [f"delete {entry.ref} {entry.sha}"])


def owner_alive(entry: ent.Entry) -> bool:
    """Whether the claim's owner may still be working on it.

    An owner on another host cannot be checked from here and counts as alive.
    """
    owner = entry.owner
    if owner is None:
        return False
    if not owner.here():
        return True
    return procs.is_same(owner.pid, "" if owner.start == "-" else owner.start)
