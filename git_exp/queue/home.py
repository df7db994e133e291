"""Bringing results home from the shared remote: the result, its data, the winning log.

The dispatcher does this for the tasks that ended (distributed/dispatch.py),
and recovery does it for the running entries of a dispatcher that died
(settle): its tasks may have run on and published while it was gone, and
such an entry must come home as the experiment it is, not be run again or
recorded as failed. It lives in the queue, with results.py, arrival.py and
records.py, because the queue's own recovery (any `queue status`) needs it
and the queue never imports git_exp.distributed.

Per batch: one ls-remote (results, queue, claim and log refs), one fetch,
one data transfer, and one push that clears the finished entries' refs
there, each under a lease.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from git_exp.errors import ExpError
from git_exp.experiments import record as rec
from git_exp.git import git
from git_exp.queue import entries as ent
from git_exp.queue.results import LOG_LIMIT, Result, log_ref, read_result, result_ref
from git_exp.repo import Repository
from git_exp.sharing import gitremote

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.queue.executor import EntryOutcome


@dataclass
class Target:
    """The shared remote as the workers reach it."""
    name: str                # as the user gave it (a remote's name, a path or a URL)
    url: str                 # what workers fetch from and push to
    data: str                # the data remote's location


@dataclass
class Fetched:
    results: dict[str, Result] = field(default_factory=dict)   # entry id -> its result, here now
    logs: dict[str, bytes] = field(default_factory=dict)       # entry id -> the winner's log
    there: dict[str, str] = field(default_factory=dict)        # the remote's refs of the entries
    unconfirmed: dict[str, tuple[str, str]] = field(default_factory=dict)  # entry id -> (why, hint):
    #                                            published, but its data is not on the data remote


def _entry_refs(entries: list[ent.Entry]) -> list[str]:
    return [ref for e in entries
            for ref in (result_ref(e), ent.QUEUE_PREFIX + e.id, ent.RUNNING_PREFIX + e.id,
                        log_ref(e.id))]


def fetch_results(repo: Repository, target: Target, entries: list[ent.Entry]) -> Fetched:
    """The results of ENTRIES on TARGET's remote that came home with their data.

    Like `git exp pull` without -f, a local experiment of the same name but
    another commit is left alone: that entry has no result here.
    """
    names = _entry_refs(entries)
    there = gitremote.ls_remote(repo.root, target.url, names)
    there = {ref: sha for ref, sha in there.items() if ref in names}
    wanted = {result_ref(e): there[result_ref(e)] for e in entries if result_ref(e) in there}
    if not wanted:
        return Fetched(there=there)
    logs = {log_ref(e.id): there[log_ref(e.id)] for e in entries
            if result_ref(e) in wanted and log_ref(e.id) in there}
    local = _local_shas(repo.root, list(wanted))
    from git_exp.sharing.logs import fetch_optional_refspecs
    # The results, and the run logs the workers published with them: the entry's
    # (the winner's, for the queue's log) and the experiment's (for `git exp logs` anywhere).
    results = ([f"{ref}:{ref}" for ref in wanted if ref not in local]
               + fetch_optional_refspecs(list(wanted.values())))
    try:
        gitremote.fetch(repo.root, target.url, results + [f"+{ref}:{ref}" for ref in logs])
    except ExpError:
        if not logs:
            raise
        logs = {}   # a log ref cleared meanwhile must not keep the results away
        gitremote.fetch(repo.root, target.url, results)
    fetched = {ref: sha for ref, sha in wanted.items() if local.get(ref, sha) == sha}
    from git_exp.queue import arrival
    missing, location = arrival.receive(repo, target.name, fetched) if fetched else ({}, None)
    found = Fetched(there=there)
    for entry in entries:
        ref = result_ref(entry)
        if ref in fetched:
            result = read_result(repo.root, ref, fetched[ref])
            if result.queue_id == entry.id:
                if result.sha in missing:   # published, but its data is not there: never a success
                    found.unconfirmed[entry.id] = arrival.reason(missing[result.sha], location)
                    arrival.forget(repo, ref, result.sha)
                    continue
                found.results[entry.id] = result
                blob = logs.get(log_ref(entry.id))
                if blob:
                    found.logs[entry.id] = _read_blob(repo.root, blob)
    for ref in logs:   # read: the local copy of the ref is not kept
        git(["update-ref", "-d", ref], cwd=repo.root, check=False)
    return found


def _read_blob(root: str, sha: str) -> bytes:
    proc = git(["cat-file", "blob", sha], cwd=root, check=False)
    return proc.stdout[-LOG_LIMIT:] if proc.returncode == 0 else b""


def clear_remote(repo: Repository, target: Target, entries: list[ent.Entry], there: dict[str, str]) -> None:
    """The remote's queue, claim and log refs of finished entries: nothing more will run them.

    THERE is what the remote had when the results were fetched; each ref
    is deleted only if it still points there (a lease).
    """
    names = {ref for ref in _entry_refs(entries) if not ref.startswith("refs/exps/")}
    there = {ref: sha for ref, sha in there.items() if ref in names}
    if not there:
        return
    try:
        gitremote.push(repo.root, target.url, [f":{ref}" for ref in there],
                       leases=there, env={gitremote.DATA_SENT_ENV: "1"})
    except ExpError:
        pass   # left for the next dispatcher; a worker finding the result there stops at once


def clear_ended(repo: Repository, entry_id: str, record: dict[str, object]) -> bool:
    """The queue, claim and log refs of ENTRY_ID, which ended here, cleared on the remote
    RECORD names (each only if it still points where it was seen); False when the
    remote did not answer, to try again later."""
    url = record.get("url")
    if not isinstance(url, str):
        return True   # no remote named: nothing to clear
    names = [ent.QUEUE_PREFIX + entry_id, ent.RUNNING_PREFIX + entry_id, log_ref(entry_id)]
    try:
        there = {ref: sha for ref, sha in gitremote.ls_remote(repo.root, url, names).items() if ref in names}
        if there:
            _, error = gitremote.push(repo.root, url, [f":{ref}" for ref in there], leases=there,
                                      env={gitremote.DATA_SENT_ENV: "1"})
            if error:
                return False
    except ExpError:
        return False
    return True


def keep_log(repo: Repository, entry: ent.Entry, result: Result, output: str, log: bytes | None) -> None:
    """The entry's log becomes the result's: what the attempt that published it printed.

    OUTPUT is what the attempt that ended here printed; when it was not the
    one that published (it found another's result), LOG, the winner's own
    log published with the result, is kept instead.
    """
    path = ent.log_file(repo, entry.id)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    won_here = f"pushed: {entry.name} {result.sha[:7]}" in output
    if not output and not log:   # the engine kept no output: the log the worker published
        from git_exp.sharing.logs import read_fetched
        output = (read_fetched(repo, result.sha) or b"").decode("utf-8", "replace")
    with open(path, "ab") as fh:
        if log and not won_here:
            fh.write(f"queue: the log of attempt {result.attempt or '?'}, which published "
                     f"{result.sha[:7]}\n".encode())
            fh.write(log)
        else:
            fh.write(output.encode("utf-8", "replace"))
    os.replace(path, rec.log_path(repo, result.sha))


def settle(repo: Repository, entry: ent.Entry, record: dict[str, object]) -> EntryOutcome | None:
    """ENTRY's published result fetched home from the remote RECORD names, its refs there
    cleared, its log kept: an EntryOutcome, or None when there is none (or no answer)."""
    from git_exp.queue.executor import EntryOutcome
    try:
        target = Target(str(record["remote"]), str(record["url"]), str(record["data"]))
    except KeyError:
        return None
    try:
        fetched = fetch_results(repo, target, [entry])
    except ExpError:
        return None
    found = fetched.results.get(entry.id)
    if found is None:
        if entry.id not in fetched.unconfirmed:
            return None
        why, hint = fetched.unconfirmed[entry.id]   # published without its data: failed, not re-run
        clear_remote(repo, target, [entry], fetched.there)
        return EntryOutcome("failed", exit_code=1, error=why, hint=hint)
    if not os.path.exists(rec.log_path(repo, found.sha)):
        keep_log(repo, entry, found, "queue: its dispatcher died; the result was on the remote\n",
                 fetched.logs.get(entry.id))
    clear_remote(repo, target, [entry], fetched.there)
    return EntryOutcome(found.status, found.ref, found.sha, found.exit_code, found.duration)


def _local_shas(root: str, names: list[str]) -> dict[str, str]:
    """ref -> sha of those of NAMES this repository has."""
    proc = git(["for-each-ref", "--format=%(refname) %(objectname)", *names], cwd=root)
    found = {}
    for line in proc.stdout.decode("utf-8", "surrogateescape").splitlines():
        ref, _, sha = line.partition(" ")
        if ref in names:
            found[ref] = sha
    return found
