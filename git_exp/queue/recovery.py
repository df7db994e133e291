"""Recovering entries whose worker died (SIGKILL, power loss, OOM killer).

A running entry whose owner process is gone is, in this order:
- finished, if its experiment was recorded before the worker died (so it
  never runs twice);
- re-queued, with its claim commit kept as the attempt count;
- after MAX_ATTEMPTS claims, recorded as a failed experiment: an entry
  that kills its worker every time must not cycle forever.
An entry a dispatcher handed to an engine (Dask, Slurm) is different: its
task may run on without the dispatcher and publish. The shared remote is
asked first, and a published result comes home; otherwise it is re-queued
without counting the claim, since a dead client is no fault of the entry.
A dispatcher killed after it recorded an outcome, before it cleared the
remote's refs of that entry, left them and its record: they are cleared here.
Every step is a compare-and-swap on the running ref, so two processes
recovering at once (say `queue status` and a starting worker) never both
act. Checkouts no live claim owns are removed, with any stage processes a
killed worker left behind in them.

`queue start`, `queue work`, `queue status` and `run -j` call recover().
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from git_exp.experiments import record as rec

from git_exp.queue import checkout, claims, state
from git_exp.queue import entries as ent
from git_exp.queue.executor import EntryOutcome
from git_exp.queue.finish import finish, recorded_experiment, write_done
from git_exp.repo import Repository

MAX_ATTEMPTS = 3


@dataclass
class Recovered:
    entry: ent.Entry
    action: str      # "finished", "requeued" or "failed"


def recover(repo: Repository, max_attempts: int = MAX_ATTEMPTS) -> list[Recovered]:
    folders = checkout.list_checkouts(repo)   # before reading the refs: see remove_orphans
    done: list[Recovered] = []
    for entry in ent.list_entries(repo, "running"):
        if claims.owner_alive(entry):
            continue
        found = recorded_experiment(repo, entry)
        if found is not None:
            ref, sha, status = found
            _keep_log(repo, entry, sha)
            write_done(repo, entry, EntryOutcome(status, ref, sha))
            if claims.release(repo, entry):
                state.clear_kill(repo, entry.id)
                done.append(Recovered(entry, "finished"))
        elif _dispatched(repo, entry):
            done.extend(_recover_dispatched(repo, entry))
        elif entry.attempt >= max_attempts or state.kill_requested(repo, entry.id):
            # Take the claim over first, so that only one recovering process records it.
            mine = claims.take_over(repo, entry, claims.me())
            if mine is not None:
                finish(repo, mine, _gave_up(entry, state.kill_requested(repo, entry.id)))
                done.append(Recovered(mine, "failed"))
        elif claims.give_back(repo, entry):
            old = state.read_state(repo, entry.id) or {}
            if old.get("claim") == entry.sha:
                state.remove_state(repo, entry.id)   # its progress is void: it starts over
            done.append(Recovered(entry, "requeued"))
    live = {f"{e.id}-{e.sha[:8]}" for e in ent.list_entries(repo, "running")}
    checkout.remove_orphans(repo, folders, live)
    _clear_ended_dispatched(repo)
    return done


def _dispatched(repo: Repository, entry: ent.Entry) -> bool:
    """Whether a dispatcher handed ENTRY to an engine (queue/records.py).

    Looked up by file: most entries are not, and records/home are imported only for those.
    """
    return os.path.exists(os.path.join(repo.exp_dir, "queue", "remote", f"{entry.id}.json"))


def _recover_dispatched(repo: Repository, entry: ent.Entry) -> list[Recovered]:
    """An entry whose dispatcher died: its task may have run on and published.

    The shared remote is asked first: a published result comes home as the
    experiment it is (and the entry's refs there are cleared). Otherwise the
    entry goes back to the queue without counting the claim: the dispatcher
    dying (a client killed, a laptop closed) is no fault of the entry, so an
    outage never makes it fail.
    """
    from git_exp.queue import home, records
    record = records.read(repo, entry.id) or {}
    outcome = home.settle(repo, entry, record)
    if outcome is not None:
        write_done(repo, entry, outcome)
        if claims.release(repo, entry):
            state.clear_kill(repo, entry.id)
            records.remove(repo, entry.id)
            return [Recovered(entry, "finished")]
        return []
    if state.kill_requested(repo, entry.id):   # `queue kill` asked for it: recorded as interrupted
        mine = claims.take_over(repo, entry, claims.me())
        if mine is None:
            return []
        finish(repo, mine, _gave_up(entry, True))
        records.remove(repo, entry.id)
        return [Recovered(mine, "failed")]
    if claims.give_back(repo, entry, count=False):
        old = state.read_state(repo, entry.id) or {}
        if old.get("claim") == entry.sha:
            state.remove_state(repo, entry.id)
        records.remove(repo, entry.id)
        return [Recovered(entry, "requeued")]
    return []


def _clear_ended_dispatched(repo: Repository) -> None:
    """A dispatcher SIGKILLed after it recorded an entry's outcome, before it cleared
    the shared remote's refs of it and dropped its record (queue/records.py), left
    both: nothing else would ever clear them, since the entry runs no more. They
    are cleared now, as the dispatcher would have; the record goes once done."""
    folder = os.path.join(repo.exp_dir, "queue", "remote")
    try:
        ids = [name[:-5] for name in os.listdir(folder) if name.endswith(".json")]
    except FileNotFoundError:
        return
    if not ids:
        return
    pending = {e.id for e in ent.list_entries(repo)}   # queued or running: their records are live
    ended = [i for i in ids if i not in pending and (state.read_state(repo, i) or {}).get("finished")]
    if not ended:
        return
    from git_exp.queue import home, records
    for entry_id in ended:
        if home.clear_ended(repo, entry_id, records.read(repo, entry_id) or {}):
            records.remove(repo, entry_id)


def _gave_up(entry: ent.Entry, killed: bool) -> EntryOutcome:
    owner = entry.owner
    who = f"pid {owner.pid} on {owner.host}" if owner else "unknown"
    if killed:   # `queue kill` asked for it; its worker died before recording that
        return EntryOutcome("interrupted", exit_code=130, error=f"killed (its worker, {who}, died)")
    return EntryOutcome("failed", exit_code=1,
                        error=f"its worker died {entry.attempt} times (last: {who})",
                        hint="look at its log for where it stopped; queue it again once fixed")


def _keep_log(repo: Repository, entry: ent.Entry, sha: str) -> None:
    """The worker died between recording and moving the log: move it now."""
    target = rec.log_path(repo, sha)
    if not os.path.exists(target):
        try:
            os.replace(ent.log_file(repo, entry.id), target)
        except FileNotFoundError:
            pass
