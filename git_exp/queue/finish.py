"""Making an entry's outcome permanent: an experiment, a state file, the claim dropped.

Every entry that leaves the queue ends as an experiment - the run's own, or,
when no run could be recorded (the checkout failed, exp.yaml of the entry
does not load, the worker died too often), a failed or interrupted one made
from the entry's commit with the reason in its log. So nothing queued is
ever lost (the entry's files stay reachable) and `show` lists every failure.

The order matters for crashes: experiment first, then the state file, then
the claim is dropped. A crash in between leaves a claim whose owner is dead
and whose experiment exists; recovery sees the experiment and only
finishes the bookkeeping, so the entry never runs twice.
"""
from __future__ import annotations

import os
import time

from git_exp.experiments import record as rec
from git_exp.experiments import refs
from git_exp.worktree.snapshot import commit_tree
from git_exp.git import git
from git_exp.queue import claims, state
from git_exp.queue import entries as ent
from git_exp.queue.executor import EntryOutcome, queue_trailers
from git_exp.repo import Repository


def finish(repo: Repository, entry: ent.Entry, outcome: EntryOutcome, mode: str = "queue") -> EntryOutcome:
    if outcome.exp_sha is None:
        outcome = record_unrun(repo, entry, outcome, mode)
    elif outcome.error:
        _append(rec.log_path(repo, outcome.exp_sha), outcome)  # nobody watched it fail
    write_done(repo, entry, outcome)
    state.clear_kill(repo, entry.id)
    claims.release(repo, entry)
    return outcome


def write_running(repo: Repository, entry: ent.Entry) -> None:
    owner = entry.owner
    state.write_state(repo, entry.id, {
        "id": entry.id, "name": entry.name, "state": "running", "claim": entry.sha,
        "attempt": entry.attempt, "baseline": entry.baseline, "queued_at": entry.queued_at,
        "batch": entry.batch, "seq": entry.seq, "params": entry.params, "started": time.time(),
        "pid": owner.pid if owner else None, "host": owner.host if owner else None})


def write_done(repo: Repository, entry: ent.Entry, outcome: EntryOutcome) -> None:
    old = state.read_state(repo, entry.id) or {}
    started = old.get("started") if old.get("claim") == entry.sha else None
    state.write_state(repo, entry.id, {
        "id": entry.id, "name": entry.name, "state": outcome.status, "claim": entry.sha,
        "attempt": entry.attempt, "baseline": entry.baseline, "queued_at": entry.queued_at,
        "batch": entry.batch, "seq": entry.seq, "params": entry.params,
        "started": started, "finished": time.time(), "duration": round(outcome.duration, 3),
        "exp_ref": outcome.exp_ref, "exp_sha": outcome.exp_sha, "exit_code": outcome.exit_code,
        "error": outcome.error, "hint": outcome.hint,
        "pid": entry.owner.pid if entry.owner else None,
        "host": entry.owner.host if entry.owner else None})


def _free_name(repo: Repository, name: str) -> str:
    taken = {r.name for r in refs.list_refs(repo.root)}
    if name not in taken:
        return name
    n = 2
    while f"{name}-{n}" in taken:
        n += 1
    return f"{name}-{n}"


def _changed(params: list[str]) -> dict[str, str]:
    changed = {}
    for item in params:
        key, _, value = item.partition("=")
        changed[key.lstrip("+~")] = value
    return changed


def record_unrun(repo: Repository, entry: ent.Entry, outcome: EntryOutcome, mode: str) -> EntryOutcome:
    """Record ENTRY's own files as a failed (or interrupted) experiment, with the reason."""
    status = outcome.status if outcome.status in ("failed", "interrupted") else "failed"
    exit_code = outcome.exit_code or (130 if status == "interrupted" else 1)
    reason = outcome.error or f"the run was {status}"
    extra = dict(queue_trailers(entry, mode))
    extra["Exp-Error"] = reason
    record = rec.Outcome(status=status, exit_code=exit_code, duration=outcome.duration,
                         changed_params=_changed(entry.params), message=entry.message, extra=extra)
    name = _free_name(repo, entry.name)
    sha = commit_tree(repo, entry.tree, [entry.baseline], rec.build_message(name, record))
    ref = refs.exp_ref(entry.baseline, name)
    refs.create(repo.root, ref, sha)
    temp_log = ent.log_file(repo, entry.id)
    _append(temp_log, EntryOutcome(status, error=reason, hint=outcome.hint))
    os.replace(temp_log, rec.log_path(repo, sha))
    return EntryOutcome(status, ref, sha, exit_code, outcome.duration, reason, outcome.hint,
                        outcome.metrics)


def _append(path: str, outcome: EntryOutcome) -> None:
    lines = f"error: {outcome.error}\n" + (f"hint: {outcome.hint}\n" if outcome.hint else "")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "ab") as fh:
        fh.write(lines.encode())


def recorded_experiment(repo: Repository, entry: ent.Entry) -> tuple[str, str, str] | None:
    """(ref, sha, status) of the experiment already recorded for ENTRY, if any."""
    out = git(["for-each-ref", "--format=%(objectname) %(refname)%00%(contents)%00",
               refs.exp_ref(entry.baseline, "")], cwd=repo.root).stdout.decode("utf-8", "replace")
    parts = out.split("\0")
    for head, message in zip(parts[0::2], parts[1::2]):
        sha, _, ref = head.strip().partition(" ")
        trailers = rec.parse_trailers(message)
        if trailers.get("Exp-Queue-Id", [""])[-1] == entry.id:
            return ref, sha, trailers.get("Exp-Status", ["success"])[-1]
    return None
