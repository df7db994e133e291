"""The client side: hand queued entries to an engine and bring their results home.

A dispatcher is a queue worker whose entries run elsewhere. Like a local
worker it claims entries (claims.py: so local workers and other
dispatchers never take the same one), registers itself (so `queue status`
counts it and `queue stop` reaches it) and ends each entry with finish.py.
In between, for each batch of claimed entries it:

1. pushes the entries to the shared Git remote (refs/exps-queue/<id>) in
   one `git push`, and the data they record to the data remote paired
   with it;
2. submits one task per entry, each running `git exp exec-entry` (see
   worker.py), through the engine (Dask, Slurm); the engine says how many
   to claim ahead (Engine.slots) and keeps -j itself;
3. for the tasks that ended since it last looked, all at once: one
   ls-remote, one fetch of their results, one data transfer; checks each
   came from its entry (Exp-Queue-Id), keeps the worker's output as the
   entry's log, finishes the entry, and clears the entries' refs from the
   remote in one push.

A result already on the remote when an entry is claimed (a dispatcher that
died, an engine that ran a task twice) is fetched instead of run again.
An entry that ended without a result is recorded as failed, with the
engine's reason and the worker's output in its log. `queue kill` reaches a
running entry through the engine, and the worker publishes the
interrupted run; `queue stop` submits nothing more and gives entries the
engine never started back to the queue.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from git_exp.errors import ExpError
from git_exp.git import git_text
from git_exp.queue import claims, recovery, state
from git_exp.queue import entries as ent
from git_exp.queue.executor import EntryOutcome
from git_exp.queue.finish import finish, write_running
from git_exp.queue import home, records
from git_exp.queue.home import Target
from git_exp.queue.results import result_ref
from git_exp.queue.worker import WorkerEvents
from git_exp.repo import Repository
from git_exp.sharing import gitremote

from git_exp.distributed import progress

if TYPE_CHECKING:
    from types import FrameType

POLL_SECONDS = 0.5


@dataclass
class Task:
    entry: ent.Entry
    key: str                 # unique per claim: the engine's name for the task
    argv: list[str]          # the arguments of `git exp exec-entry`


@dataclass
class Ended:
    entry_id: str
    output: str = ""         # what the worker command printed, when the engine has it
    error: str | None = None  # why there may be no result
    started: bool = True     # False: the engine cancelled it before it ever ran


class EngineLost(ExpError):
    """The engine cannot be reached any more (its scheduler died, the network is down).

    Its tasks may still run and publish; the dispatcher gives their entries
    back to the queue, uncounted, and the next one finds what they published.
    """


class Engine:
    """What an engine does for the dispatcher (dask_engine.py, slurm.py)."""

    name = ""

    def slots(self, jobs: int | None, running: int) -> int:
        """How many more entries to claim and submit now (more than run at once is fine)."""
        raise NotImplementedError

    def submit(self, tasks: list[Task]) -> dict[str, str]:
        """Start TASKS; entry id -> where it runs (a task key, a Slurm job), for the records."""
        raise NotImplementedError

    def wait(self, timeout: float) -> list[Ended]:
        """Tasks that ended, waiting up to TIMEOUT for one."""
        raise NotImplementedError

    def kill(self, entry_ids: set[str]) -> None:
        """Interrupt these tasks; each ends (wait) once its worker published or gave up."""
        raise NotImplementedError

    def cancel_pending(self) -> list[str]:
        """Cancel the tasks that have not started; their entry ids (they never end in wait)."""
        raise NotImplementedError

    def close(self) -> None: ...


def resolve_target(repo: Repository, remote: str) -> Target:
    from git_exp.remotes.location import local_path, resolve
    url = git_text(["ls-remote", "--get-url", remote], cwd=repo.root, check=False) or remote
    path = local_path(url, repo.root)
    if path is not None:
        url = path   # a path relative to this repository means nothing to a worker
    return Target(remote, url, str(resolve(repo, remote)))


def worker_argv(target: Target, entry: ent.Entry, executor: str) -> list[str]:
    return ["--remote", target.url, "--ref", ent.QUEUE_PREFIX + entry.id,
            "--data-remote", target.data, "--executor", executor]


@dataclass
class Dispatcher:
    repo: Repository
    engine: Engine
    target: Target
    jobs: int | None = None
    events: WorkerEvents = field(default_factory=WorkerEvents)
    batch: str | None = None

    def __post_init__(self) -> None:
        self.owner = claims.me()
        self.running: dict[str, ent.Entry] = {}
        self.killed: set[str] = set()
        self.stopping = False
        self.signalled = False
        self.memo: dict = {}
        self.done: list[tuple[ent.Entry, EntryOutcome]] = []
        self.progress_at = 0.0           # when the workers' reports were last fetched
        self.reported: set[str] = set()  # entries whose reports may be here


    # -- the loop -----------------------------------------------------------------

    def loop(self) -> list[tuple[ent.Entry, EntryOutcome]]:
        repo = self.repo
        state.register_worker(repo, self.owner.pid, {
            "pid": self.owner.pid, "host": self.owner.host, "start": self.owner.start,
            "started": time.time(), "batch": self.batch, "current": None,
            "executor": self.engine.name, "remote": self.target.name})
        main = threading.current_thread() is threading.main_thread()
        previous = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGTERM, signal.SIGINT)} if main else {}
        try:
            found = recovery.recover(repo)
            if found:
                self.events.recovered(found)
            while True:
                self._react()
                claimed: list[ent.Entry] = []
                if not self.stopping:
                    claimed = self._claim(self.engine.slots(self.jobs, len(self.running)))
                    self._submit(claimed)
                if not self.running:
                    if self.stopping or not self._queued():
                        break
                    if not claimed:   # the engine takes none now (away, or full): look again soon
                        self.engine.wait(POLL_SECONDS)
                    continue
                ended = self.engine.wait(POLL_SECONDS)
                if ended:
                    self._collect(ended)
                self._progress()
        except EngineLost as exc:
            self._lost()
            queued = len(ent.list_entries(repo, "queued"))
            exc.message += (f"; its unfinished entries went back to the queue ({queued} queued "
                            "now), none was recorded as failed")
            raise
        finally:
            progress.forget(repo, [e for e in self.reported if e not in self.running])
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            state.unregister_worker(repo, self.owner.pid)
            self.engine.close()
        return self.done

    def _progress(self) -> None:
        """The running entries' latest reports (distributed/progress.py), every INTERVAL."""
        now = time.monotonic()
        if not self.running or now - self.progress_at < progress.INTERVAL:
            return
        self.progress_at = now
        progress.forget(self.repo, sorted(self.reported - set(self.running)))
        progress.receive(self.repo, self.target.url)
        self.reported = set(self.running)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signalled = True   # acted on in the loop: engines' clients are not signal-safe

    def _queued(self) -> bool:
        return any(self.batch is None or e.batch == self.batch
                   for e in ent.list_entries(self.repo, "queued", self.memo))

    def _react(self) -> None:
        """Kill requests, stop requests and signals, between two looks at the engine."""
        repo = self.repo
        if self.signalled:
            self.signalled = False
            kills = state.any_kill_requests(repo)
            mine = kills & set(self.running)
            if mine:
                self.killed |= mine
                self.engine.kill(mine)
            elif not kills:   # Ctrl-C, `queue stop --kill`, or SIGTERM from anyone: stop now
                self.stopping = True
                self._give_back(self.engine.cancel_pending())
                rest = set(self.running) - self.killed
                self.killed |= rest
                if rest:
                    self.engine.kill(rest)
        if not self.stopping and state.stop_requested(repo, self.owner.pid):
            self.stopping = True
            self._give_back(self.engine.cancel_pending())

    def _claim(self, count: int) -> list[ent.Entry]:
        claimed: list[ent.Entry] = []
        while len(claimed) < count:
            entry = claims.claim_next(self.repo, self.owner, self.batch, self.memo)
            if entry is None:
                break
            claimed.append(entry)
        return claimed

    def _give_back(self, entry_ids: list[str]) -> None:
        """Back to the queue, the claim not counted as an attempt: the entry did not fail."""
        for entry_id in entry_ids:
            entry = self.running.pop(entry_id, None)
            if entry is None:
                continue
            if claims.give_back(self.repo, entry, count=False):
                state.remove_state(self.repo, entry.id)
            records.remove(self.repo, entry.id)
            _discard(ent.log_file(self.repo, entry.id))

    def _lost(self) -> None:
        """The engine is gone: keep the results already published, give the rest back.

        Tasks may go on running (and publish) without their scheduler, so
        nothing is recorded as failed; the next dispatcher fetches what
        they published.
        """
        if not self.running:
            return
        try:
            self._collect([Ended(entry_id) for entry_id in list(self.running)], only_results=True)
        except ExpError:
            pass   # the remote is unreachable too: everything goes back
        self._give_back(list(self.running))

    # -- submitting -----------------------------------------------------------------

    def _submit(self, claimed: list[ent.Entry]) -> None:
        if not claimed:
            return
        repo, target = self.repo, self.target
        for entry in claimed:
            write_running(repo, entry)
            _log(repo, entry, f"queue: entry {entry.id} '{entry.name}', attempt {entry.attempt}, "
                              f"from {entry.baseline[:7]}, for {self.engine.name}\n", "wb")
            self.running[entry.id] = entry
            self.events.entry_started(entry)
        try:
            there = gitremote.ls_remote(repo.root, target.url, [result_ref(e) for e in claimed])
            finished = [Ended(e.id, "queue: its result was on the remote already\n")
                        for e in claimed if result_ref(e) in there]
            fresh = [e for e in claimed if result_ref(e) not in there]
            if fresh:
                for entry in fresh:   # before anything can run: recovery then asks the remote
                    records.write(repo, entry.id, {
                        "executor": self.engine.name, "task": None, "remote": target.name,
                        "url": target.url, "data": target.data, "claim": entry.sha,
                        "submitted": None})
                self._push_entries(fresh)
                tasks = [Task(e, f"git-exp-{e.id}-{e.sha[:8]}",
                              worker_argv(target, e, self.engine.name)) for e in fresh]
                where = self.engine.submit(tasks)
                for task in tasks:
                    records.write(repo, task.entry.id, {
                        "executor": self.engine.name, "task": where.get(task.entry.id, task.key),
                        "remote": target.name, "url": target.url, "data": target.data,
                        "claim": task.entry.sha, "submitted": time.time()})
                    _log(repo, task.entry, f"queue: submitted as {where.get(task.entry.id, task.key)}; "
                                           "its output arrives when it ends\n")
        except ExpError:
            self._give_back([e.id for e in claimed])
            raise
        if finished:
            self._collect(finished)

    def _push_entries(self, entries: list[ent.Entry]) -> None:
        """Entries to the shared remote, with the data they record: what workers fetch."""
        from git_exp.sharing.push import send_data
        refs_ = {ent.QUEUE_PREFIX + e.id: e for e in entries}
        statuses, error = gitremote.push(self.repo.root, self.target.url,
                                         [f"{e.entry_sha}:{ref}" for ref, e in refs_.items()],
                                         env={gitremote.DATA_SENT_ENV: "1"})
        refused = [f"  {ref}: {statuses[ref].summary if ref in statuses else error}"
                   for ref in refs_ if ref not in statuses or statuses[ref].flag not in ("*", " ", "=")]
        if refused:
            raise ExpError(f"cannot push queue entries to '{self.target.name}':\n" + "\n".join(refused))
        # An entry is checked in full, like an experiment: a worker needs all of its data.
        send_data(self.repo, self.target.name, None,
                  {e.entry_sha: f"experiment '{e.name}' (queued)" for e in entries}, [])

    # -- results --------------------------------------------------------------------

    def _collect(self, ended: list[Ended], only_results: bool = False) -> None:
        """Finish the entries of tasks that ended; ONLY_RESULTS: those that published only."""
        repo = self.repo
        never = [x.entry_id for x in ended if not x.started and x.entry_id not in self.killed]
        self._give_back(never)
        ended = [x for x in ended if x.entry_id in self.running]
        if not ended:
            return
        entries = {x.entry_id: self.running[x.entry_id] for x in ended}
        fetched = home.fetch_results(repo, self.target, list(entries.values()))
        if only_results:
            ended = [x for x in ended if x.entry_id in fetched.results]
            entries = {x.entry_id: entries[x.entry_id] for x in ended}
        for x in ended:
            entry = entries[x.entry_id]
            found = fetched.results.get(entry.id)
            if found is not None:
                outcome = EntryOutcome(found.status, found.ref, found.sha, found.exit_code,
                                       found.duration)
                home.keep_log(repo, entry, found, x.output, fetched.logs.get(entry.id))
            else:
                killed = entry.id in self.killed
                why = x.error or ("killed before it started" if killed
                                  else "its worker ended without publishing a result")
                hint = None if killed else ("the log holds what the worker printed; queue the entry "
                                            "again once fixed")
                if entry.id in fetched.unconfirmed:   # a result without its data: never a success
                    why, hint = fetched.unconfirmed[entry.id]
                _log(repo, entry, x.output)
                outcome = EntryOutcome("interrupted" if killed else "failed",
                                       exit_code=130 if killed else 1, error=why, hint=hint)
            outcome = finish(repo, entry, outcome)
            self.running.pop(entry.id, None)
            self.killed.discard(entry.id)
            records.remove(repo, entry.id)
            self.done.append((entry, outcome))
            self.events.entry_finished(entry, outcome)
        home.clear_remote(repo, self.target, list(entries.values()), fetched.there)


def _log(repo: Repository, entry: ent.Entry, text: str, mode: str = "ab") -> None:
    path = ent.log_file(repo, entry.id)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as fh:
        fh.write(text.encode("utf-8", "replace"))


def _discard(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def dispatch(repo: Repository, executor: str, remote: str = "origin", *, jobs: int | None = None,
             resources: dict[str, float] | None = None, sbatch_args: Sequence[str] = (),
             events: WorkerEvents | None = None,
             batch: str | None = None) -> list[tuple[ent.Entry, EntryOutcome]]:
    """Run queued entries on EXECUTOR (see executors.py) until none is left; what ended, in order.

    REMOTE is the shared Git remote (a name, path or URL) the workers use.
    """
    from git_exp.distributed.executors import open_engine, parse_executor
    spec = parse_executor(executor)
    target = resolve_target(repo, remote)
    engine = open_engine(repo, spec, resources=resources, sbatch_args=sbatch_args, jobs=jobs)
    return Dispatcher(repo, engine, target, jobs, events or WorkerEvents(), batch).loop()
