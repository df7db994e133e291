"""The worker command's core (`git exp exec-entry`): run one entry of a shared remote.

Every engine runs this, once per entry, on any machine whose `git` reaches
the shared remote and which can open the data remote:

1. fetch just that entry (and its parent, the baseline it was queued from:
   the experiment's parent) into a fresh `git init` in a temporary folder;
2. if the remote already has this entry's result, stop: an earlier attempt
   finished it ("duplicate");
3. claim the attempt on the remote: a claim commit naming this process and
   the attempt number, pushed to refs/exps-running/<id> without force, so
   two attempts racing for the same number cannot both win it;
4. check the entry out, pull the data its exp.lock and pointers record from
   the data remote, run the pipeline (experiments/run.py, as every run);
5. push the outputs' data first, then the result ref with a plain push
   (atomic with its log, refs/exps-logs/<id>, a blob): the first result
   pushed wins, and a rejected push of this entry's own result (another
   attempt got there first) is a duplicate, not an error; the duplicate
   reports the winner's commit, never its own (which exists only here).

Failures of the entry itself (a stage fails, exp.yaml does not load) are
results: a failed experiment is published like a successful one. Failures
around it (the remote is unreachable, a push is refused) raise ExpError so
the engine can retry. SIGTERM interrupts the run, which is then published
as interrupted; once the run has ended, SIGTERM is ignored until the result
is out, so a kill never loses a finished run.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from git_exp.errors import ExpError
from git_exp.git import git, reason
from git_exp.pipeline.runner import Events
from git_exp.queue import entries as ent
from git_exp.queue.results import read_result, result_ref
from git_exp.repo import Repository
from git_exp.sharing import gitremote

from git_exp.distributed import lifeline, progress

if TYPE_CHECKING:
    from types import FrameType

    from git_exp.queue.results import Result
    from git_exp.remotes.base import DataRemote

CLAIM_TRIES = 5
_ID = re.compile(r"^[0-9a-z]{4,64}$")


class ExecEvents(Events):
    """A run's events, plus the worker's own steps (one line each)."""

    def step(self, text: str) -> None: ...


@dataclass
class ExecResult:
    entry_id: str
    name: str
    publication: str     # "pushed", or "duplicate" when another attempt's result was there first
    status: str          # the experiment's: success, failed or interrupted
    ref: str
    sha: str
    attempt: int


def entry_id_of(ref: str) -> str:
    """The id in refs/exps-queue/<id>; ExpError for anything else."""
    entry_id = ref[len(ent.QUEUE_PREFIX):] if ref.startswith(ent.QUEUE_PREFIX) else ""
    if not _ID.match(entry_id):
        raise ExpError(f"'{ref}' is not a queue entry's ref",
                       hint=f"give the entry's ref on the remote, {ent.QUEUE_PREFIX}<id>")
    return entry_id


def exec_entry(remote: str, ref: str, *, read_running: Callable[[str], tuple[dict, dict]],
               data_remote: str | None = None, executor: str = "",
               workdir: str | None = None, keep: bool = False,
               events: ExecEvents | None = None) -> ExecResult:
    """Run the entry REF of the Git remote REMOTE (a URL or path) and publish its result there.

    DATA_REMOTE is where the data lives (default: what the remote pairs
    with, see remotes/location.py). EXECUTOR is recorded in the experiment.
    The temporary clone goes in WORKDIR (default: the system's temp dir)
    and is removed afterwards unless KEEP. READ_RUNNING(root) reads the
    run's (params, metrics) as it writes them, for the progress reports
    (show/running.read_running, which the caller passes: show is above us).
    """
    events = events or ExecEvents()
    entry_id = entry_id_of(ref)
    root = tempfile.mkdtemp(prefix=f"git-exp-{entry_id}-", dir=workdir)
    lifeline.watch_parent(lambda: root)
    try:
        with _interruptible() as publishing:
            return _exec(remote, entry_id, root, data_remote, executor, events, publishing,
                         read_running)
    finally:
        if keep:
            events.step(f"kept the temporary clone: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def _exec(remote: str, entry_id: str, root: str, data_location: str | None, executor: str,
          events: ExecEvents, publishing: threading.Event,
          read_running: Callable[[str], tuple[dict, dict]]) -> ExecResult:
    from git_exp.experiments.run import run_experiment
    from git_exp.queue.checkout import materialise
    from git_exp.queue.executor import queue_trailers
    from git_exp.repo import discover

    git(["init", "-q", root])
    repo = discover(root)
    entry = _fetch_entry(repo, remote, entry_id)
    events.step(f"entry {entry.id} '{entry.name}' from {entry.baseline[:7]}, "
                f"on {socket.gethostname()}")
    _ensure_identity(repo, entry.entry_sha)
    done = _remote_result(repo, remote, entry)
    if done is not None:
        events.step(f"already done: {done.ref} ({done.sha[:7]}, {done.status}, "
                    f"attempt {done.attempt or '?'})")
        return ExecResult(entry.id, entry.name, "duplicate", done.status, done.ref, done.sha,
                          done.attempt)
    entry = _claim(repo, remote, entry)
    events.step(f"attempt {entry.attempt}")
    git(["-c", "core.hooksPath=/dev/null", "checkout", "-q", "--detach", entry.entry_sha], cwd=root)
    data_remote = _open_data_remote(repo, remote, data_location)
    _pull_inputs(repo, entry, data_remote, events)
    log = ent.log_file(repo, entry.id)
    os.makedirs(os.path.dirname(log), exist_ok=True)
    with open(log, "wb") as fh:
        fh.write(f"queue: entry {entry.id} '{entry.name}', attempt {entry.attempt}, "
                 f"from {entry.baseline[:7]} on {socket.gethostname()}\n".encode())
    placed, missing = materialise(repo, root, entry.entry_sha)
    if placed:
        events.step(f"data in place: {', '.join(placed)}")
    if missing:
        events.step(f"data nowhere to be found: {', '.join(missing)}")
    trailers = dict(queue_trailers(entry, "queue"))
    trailers["Exp-Attempt"] = str(entry.attempt)
    if executor:
        trailers["Exp-Executor"] = executor
    try:
        # Its metrics so far go to the remote while it runs, for `git exp show` at home.
        with progress.reporting(repo, remote, entry.id, root, entry.attempt, read_running):
            result = run_experiment(
                repo, name=entry.name, message=entry.message, force=entry.force,
                run_cache=entry.run_cache, targets=entry.targets or None,
                downstream=entry.downstream, events=events, baseline=entry.baseline,
                log_file=log, reserved=set(), trailers=trailers)
        exp_ref, exp_sha, status = result.ref.ref, result.ref.sha, result.outcome.status
    except ExpError as exc:
        # The entry cannot run (exp.yaml does not load, a params file is
        # missing): that is its result, recorded as the local queue does.
        from git_exp.queue.executor import EntryOutcome
        from git_exp.queue.finish import record_unrun
        outcome = record_unrun(repo, entry, EntryOutcome("failed", exit_code=1, error=exc.message,
                                                         hint=exc.hint), "queue")
        assert outcome.exp_ref and outcome.exp_sha   # record_unrun records a failed experiment
        exp_ref, exp_sha, status = outcome.exp_ref, outcome.exp_sha, "failed"
        events.step(f"error: {exc.message}")
    publishing.set()
    events.step(f"recorded {exp_ref} ({exp_sha[:7]}, {status})")
    sent = _push_data(repo, data_remote, exp_sha, entry)
    if sent:
        events.step(f"sent {sent} data object{'s' if sent != 1 else ''} to {data_remote}")
    log_blob = _log_blob(repo, exp_sha, f"exec-entry: published {exp_ref} ({exp_sha[:7]}, {status}), "
                                        f"attempt {entry.attempt} on {socket.gethostname()}\n")
    from git_exp.sharing.logs import push_refspecs
    public_log = push_refspecs(repo, [exp_sha], {})   # the run's log travels with its result (git exp pull)
    winner = _publish(repo, remote, entry, exp_ref, exp_sha, log_blob, public_log)
    if winner is None:
        events.step(f"pushed: {exp_ref}")
        return ExecResult(entry.id, entry.name, "pushed", status, exp_ref, exp_sha, entry.attempt)
    # Another attempt's result got there first: that one is the entry's result,
    # and this run's commit (which exists only here) is not mentioned as one.
    events.step(f"duplicate: attempt {winner.attempt or '?'} published {exp_ref} first "
                f"({winner.sha[:7]}, {winner.status}); this attempt's run is dropped")
    return ExecResult(entry.id, entry.name, "duplicate", winner.status, winner.ref, winner.sha,
                      winner.attempt)


@contextmanager
def _interruptible() -> Iterator[threading.Event]:
    """SIGTERM interrupts (like Ctrl-C) until the run ended; then it waits for the push.

    The event it yields is set once the result is recorded and only
    publishing remains.
    """
    publishing = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield publishing
        return

    def on_term(signum: int, frame: FrameType | None) -> None:
        if not publishing.is_set():
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield publishing
    finally:
        signal.signal(signal.SIGTERM, previous)


def _fetch(repo: Repository, remote: str, refspecs: list[str], depth: int) -> None:
    # A shallow fetch: the entry and its baseline are all a run needs, and a
    # repository's whole history can be large.
    proc = git(["fetch", "-q", "--no-tags", "--no-write-fetch-head", f"--depth={depth}", remote,
                *refspecs], cwd=repo.root, check=False)
    if proc.returncode != 0:
        raise ExpError(f"git fetch from '{remote}' failed: "
                       + reason(proc.stderr, proc.returncode), hint="check that this machine's git reaches it")


def _fetch_entry(repo: Repository, remote: str, entry_id: str) -> ent.Entry:
    queue_ref, running_ref = ent.QUEUE_PREFIX + entry_id, ent.RUNNING_PREFIX + entry_id
    there = gitremote.ls_remote(repo.root, remote, [queue_ref, running_ref])
    if queue_ref not in there:
        raise ExpError(f"'{remote}' has no queue entry {queue_ref}",
                       hint="it was removed, or its result was fetched and the entry cleared")
    specs = [f"+{queue_ref}:{queue_ref}"]
    if running_ref in there:
        specs.append(f"+{running_ref}:{running_ref}")
    _fetch(repo, remote, specs, depth=2)
    found = {e.state: e for e in ent.list_entries(repo) if e.id == entry_id}
    entry = found.get("running") or found.get("queued")
    if entry is None:
        raise ExpError(f"{queue_ref} on '{remote}' is not a queue entry git-exp can read")
    return entry


def _ensure_identity(repo: Repository, sha: str) -> None:
    """A worker with no Git identity of its own writes commits as the entry's author."""
    for which in ("AUTHOR", "COMMITTER"):
        if git(["var", f"GIT_{which}_IDENT"], cwd=repo.root, check=False).returncode != 0:
            name, email = git(["log", "-1", "--format=%an%n%ae", sha],
                              cwd=repo.root).stdout.decode("utf-8", "replace").splitlines()[:2]
            git(["config", "user.name", name], cwd=repo.root)
            git(["config", "user.email", email], cwd=repo.root)
            return


def _remote_result(repo: Repository, remote: str, entry: ent.Entry) -> Result | None:
    """The result of ENTRY already on the remote, or None."""
    ref = result_ref(entry)
    sha = gitremote.ls_remote(repo.root, remote, [ref]).get(ref)
    if sha is None:
        return None
    _fetch(repo, remote, [f"+{ref}:{ref}"], depth=1)
    found = read_result(repo.root, ref, sha)
    if found.queue_id != entry.id:
        raise ExpError(f"'{remote}' already has an experiment '{entry.name}' of "
                       f"{entry.baseline[:7]} that did not come from this entry",
                       hint=f"rename or remove it there (git exp remove -g REMOTE {entry.name}), "
                            "or queue the entry again under another name")
    return found


def _claim(repo: Repository, remote: str, entry: ent.Entry) -> ent.Entry:
    """Take the next attempt number on the remote; a fast-forward push is the compare-and-swap."""
    import copy

    from git_exp.queue.claims import claim_commit, me

    running_ref = ent.RUNNING_PREFIX + entry.id
    for _ in range(CLAIM_TRIES):
        mine = copy.copy(entry)
        claim_commit(repo, mine, me())
        statuses, error = gitremote.push(repo.root, remote, [f"{mine.sha}:{running_ref}"],
                                         env={gitremote.DATA_SENT_ENV: "1"})
        status = statuses.get(running_ref)
        if status is not None and status.flag in ("*", " "):
            return mine
        if status is None or status.flag != "!":
            raise ExpError(f"cannot claim {running_ref} on '{remote}': "
                           + (status.summary if status else error or "git push said nothing"))
        # Another attempt claimed it meanwhile: count on from its claim.
        entry = _fetch_entry(repo, remote, entry.id)
    raise ExpError(f"cannot claim {running_ref} on '{remote}': {CLAIM_TRIES} other attempts "
                   "claimed it at the same time")


def _open_data_remote(repo: Repository, remote: str, location: str | None) -> DataRemote:
    from git_exp.remotes.location import open_location, resolve
    if location:
        return open_location(location, repo.root, "--data-remote")
    return resolve(repo, remote, remote)


def _pull_inputs(repo: Repository, entry: ent.Entry, data_remote: DataRemote, events: ExecEvents) -> None:
    """Bring the data the entry records into the clone's cache (materialise places it)."""
    from git_exp.data.cache import Cache
    from git_exp.worktree.records import data_at
    from git_exp.remotes.transfer import download

    cache = Cache(repo.exp_dir)
    wanted: set[str] = set()
    sizes: dict[str, int] = {}
    for _path, info in sorted(data_at(repo, entry.entry_sha).items()):
        for obj in cache.missing(info):
            wanted.add(obj)
            if not info.is_dir:
                sizes[obj] = info.size
    if not wanted:
        return
    stats, lacking = download(cache, data_remote, wanted, sizes=sizes)
    events.step(f"received {stats.objects} data object{'s' if stats.objects != 1 else ''} "
                f"from {data_remote}" + (f"; {len(lacking)} missing there" if lacking else ""))


def _push_data(repo: Repository, data_remote: DataRemote, sha: str, entry: ent.Entry) -> int:
    """Send the data the result refers to, before its ref: never a ref without its data."""
    from git_exp.data.cache import Cache
    from git_exp.sharing.needed import needed_objects
    from git_exp.sharing.push import missing_error
    from git_exp.remotes.transfer import plan_upload, send

    needs = needed_objects(repo, {sha: f"experiment '{entry.name}'"}, [entry.baseline], None)
    if not needs.objects:
        return 0
    cache = Cache(repo.exp_dir)
    plan = plan_upload(cache, data_remote, needs.objects)
    if plan.unavailable:
        raise missing_error(needs, plan.unavailable, str(data_remote))
    return send(cache, data_remote, plan.send).objects


def _log_blob(repo: Repository, sha: str, last_line: str) -> str | None:
    """The run's log (its end, if long) as a blob, to publish with the result."""
    from git_exp.experiments import record as rec
    from git_exp.queue.results import LOG_LIMIT
    path = rec.log_path(repo, sha)
    try:
        with open(path, "ab") as fh:
            fh.write(last_line.encode("utf-8", "replace"))
        with open(path, "rb") as fh:
            fh.seek(max(0, os.path.getsize(path) - LOG_LIMIT))
            data = fh.read()
    except OSError:
        return None
    proc = git(["hash-object", "-w", "--stdin"], cwd=repo.root, input=data, check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def _publish(repo: Repository, remote: str, entry: ent.Entry, ref: str, sha: str, log_blob: str | None,
             extra: Sequence[str] = ()) -> Result | None:
    """Push the result (and its log) without force; None, or the winning Result if
    another attempt's result for this entry is there already.

    One atomic push: the log refs (the entry's, and EXTRA: the experiment's
    refs/exp-logs/ ref) never name a run whose result lost.
    """
    from git_exp.queue.results import log_ref
    specs = ([f"{sha}:{ref}"] + ([f"{log_blob}:{log_ref(entry.id)}"] if log_blob else [])
             + list(extra))
    statuses, error = gitremote.push(repo.root, remote, specs, env={gitremote.DATA_SENT_ENV: "1"},
                                     atomic=True)
    status = statuses.get(ref)
    if status is not None and status.flag in ("*", " ", "="):
        return None
    if status is not None and status.flag == "!":
        winner = _remote_result(repo, remote, entry)
        if winner is not None:
            return winner
        if log_blob:   # refused for a stale log ref alone (a result removed since): the result first
            statuses, error = gitremote.push(repo.root, remote, [f"{sha}:{ref}"],
                                             env={gitremote.DATA_SENT_ENV: "1"})
            status = statuses.get(ref)
            if status is not None and status.flag in ("*", " ", "="):
                gitremote.push(repo.root, remote, [f"+{log_blob}:{log_ref(entry.id)}", *extra],
                               env={gitremote.DATA_SENT_ENV: "1"})
                return None
            winner = _remote_result(repo, remote, entry)
            if winner is not None:
                return winner
    raise ExpError(f"cannot push {ref} to '{remote}': "
                   + (status.summary if status else error or "git push said nothing"))
