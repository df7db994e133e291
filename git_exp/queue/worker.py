"""Workers: claim the oldest entry, run it, record it; repeat until none is left.

A worker is an ordinary process (`git exp queue work`); `queue start`
starts them detached (a session of their own, output to
<exp_dir>/queue/workers/<pid>.log), `run -j` starts them attached and
waits. There is no broker and nothing to keep alive: a worker that finds
the queue empty exits, and one that dies leaves a claim that recovery
hands back.

Signals: SIGTERM and SIGINT interrupt the current entry, which is then
recorded as interrupted (`queue kill` sends SIGTERM after leaving a
request file, and the worker then goes on with the next entry; otherwise
it exits). A stop request (`queue stop`) lets the current entry finish.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any, Sequence

from git_exp import procs
from git_exp.queue import claims, recovery, state
from git_exp.queue import entries as ent
from git_exp.queue.executor import EntryOutcome, Executor, LocalExecutor
from git_exp.queue.finish import finish, write_running
from git_exp.repo import Repository

if TYPE_CHECKING:
    from types import FrameType

    from git_exp.pipeline.runner import Events

KEEP_WORKER_LOGS = 20


class WorkerEvents:
    """What a worker reports; the command decides how to show it."""

    def recovered(self, items: list) -> None: ...
    def entry_started(self, entry: ent.Entry) -> None: ...
    def entry_finished(self, entry: ent.Entry, outcome: EntryOutcome) -> None: ...


class _Worker:
    def __init__(self, repo: Repository, batch: str | None, executor: Executor, events: WorkerEvents, mode: str):
        self.repo = repo
        self.batch = batch
        self.executor = executor
        self.events = events
        self.mode = mode
        self.owner = claims.me()
        self.current: ent.Entry | None = None
        self.interrupting = False
        self.memo: dict = {}   # entry messages already read, across claims

    def _register(self) -> None:
        state.register_worker(self.repo, self.owner.pid, {
            "pid": self.owner.pid, "host": self.owner.host, "start": self.owner.start,
            "started": time.time(), "batch": self.batch,
            "current": self.current.id if self.current else None})

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.interrupting:
            return  # one interrupt per entry: a second one must not cut its recording short
        if signum == signal.SIGTERM and not state.stop_requested(self.repo, self.owner.pid):
            kills = state.any_kill_requests(self.repo)
            if kills and (self.current is None or self.current.id not in kills):
                return  # a `queue kill` meant for an entry this worker has already finished
        self.interrupting = True
        raise KeyboardInterrupt

    def loop(self) -> list[tuple[ent.Entry, EntryOutcome]]:
        done: list[tuple[ent.Entry, EntryOutcome]] = []
        self._register()
        main = threading.current_thread() is threading.main_thread()
        previous = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGTERM, signal.SIGINT)} if main else {}
        if main:
            _follow_parent()
        try:
            found = recovery.recover(self.repo)
            if found:
                self.events.recovered(found)
            while not state.stop_requested(self.repo, self.owner.pid):
                entry = claims.claim_next(self.repo, self.owner, self.batch, self.memo)
                if entry is None:
                    break
                self.current, self.interrupting = entry, False
                self._register()
                outcome, keep_going = self.run_one(entry)
                done.append((entry, outcome))
                self.current = None
                if not keep_going:
                    break
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            state.unregister_worker(self.repo, self.owner.pid)
        return done

    def run_one(self, entry: ent.Entry) -> tuple[EntryOutcome, bool]:
        write_running(self.repo, entry)
        self.events.entry_started(entry)
        try:
            outcome = self.executor.execute(self.repo, entry, self.mode)
        except KeyboardInterrupt:
            outcome = EntryOutcome("interrupted", exit_code=130,
                                   error="interrupted before its pipeline started")
        except Exception:  # noqa: BLE001 - a bug must not take the queue down with it
            outcome = EntryOutcome("failed", exit_code=1,
                                   error="internal error in git-exp (a bug):\n" + traceback.format_exc(),
                                   hint="report it with this log")
        killed = state.kill_requested(self.repo, entry.id)
        outcome = finish(self.repo, entry, outcome, self.mode)
        self.events.entry_finished(entry, outcome)
        # Interrupted by anything but `queue kill` of this entry: the signal was for us.
        return outcome, outcome.status != "interrupted" or killed


def work(repo: Repository, *, batch: str | None = None, executor: Executor | None = None,
         events: WorkerEvents | None = None, mode: str = "queue") -> list[tuple[ent.Entry, EntryOutcome]]:
    """Run queued entries (of BATCH only, if given) until none is left; what ran, in order."""
    return _Worker(repo, batch, executor or LocalExecutor(), events or WorkerEvents(), mode).loop()


def run_claimed(repo: Repository, entry: ent.Entry, *, executor: Executor | None = None,
                events: Events | None = None,
                mode: str = "temp") -> EntryOutcome:
    """Run one entry this process claimed already (`run --temp`), in the foreground."""
    write_running(repo, entry)
    try:
        outcome = (executor or LocalExecutor()).execute(repo, entry, mode, events)
    except KeyboardInterrupt:
        outcome = EntryOutcome("interrupted", exit_code=130,
                               error="interrupted before its pipeline started")
    return finish(repo, entry, outcome, mode)


def run_isolated(repo: Repository, overrides: Sequence[str] = (), *, events: Events | None = None,
                 **options: Any) -> tuple[ent.Entry, EntryOutcome]:
    """`run --temp`: one run in a temporary checkout, in the foreground.

    The entry is created already claimed by this process, so no background
    worker can take it; if this process dies, recovery queues it again.
    """
    from git_exp.errors import ExpError
    from git_exp.params.sweeps import is_sweep
    from git_exp.queue.enqueue import enqueue
    for arg in overrides:
        if is_sweep(arg):
            raise ExpError(f"'{arg}' is a sweep: --temp runs one experiment",
                           hint="run the sweep in parallel with -j N, or queue it with --queue")
    (entry,) = enqueue(repo, overrides, claim_for=claims.me(), **options)
    return entry, run_claimed(repo, entry, events=events, mode="temp")


# -- worker processes ----------------------------------------------------------

def live_workers(repo: Repository) -> list[dict]:
    """Registered workers that are still alive; the registrations of dead ones are dropped."""
    alive = []
    for info in state.list_workers(repo):
        owner = ent.Owner(info["pid"], str(info.get("host", "")), str(info.get("start") or ""))
        if not owner.here() or procs.is_same(owner.pid, owner.start):
            alive.append(info)
        else:
            state.unregister_worker(repo, owner.pid)
    return alive


PARENT_ENV = "GIT_EXP_WORKER_PARENT"


def _follow_parent(poll: float = 0.5) -> None:
    """An attached worker (`run -j`) is interrupted, as by Ctrl-C, when its parent dies.

    Whoever SIGKILLs `git exp run -j` means the sweep to stop: the worker
    records its entry as interrupted and exits, instead of draining the
    batch unseen. Detached workers (`queue start`) have no parent to follow.
    """
    parent = os.environ.pop(PARENT_ENV, "")
    if not parent.isdigit() or int(parent) != os.getppid():
        return

    def watch() -> None:
        while os.getppid() == int(parent):
            time.sleep(poll)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, name="git-exp-parent", daemon=True).start()


def _python_path() -> str:
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    rest = os.environ.get("PYTHONPATH")
    return here + (os.pathsep + rest if rest else "")


def spawn(repo: Repository, count: int, *, batch: str | None = None, detached: bool = True) -> list[subprocess.Popen]:
    """Start COUNT `git exp queue work` processes; detached ones outlive us."""
    folder = state.workers_dir(repo)
    os.makedirs(folder, exist_ok=True)
    command = [sys.executable, "-m", "git_exp", "queue", "work"]
    if batch:
        command += ["--batch", batch]
    env = dict(os.environ, PYTHONPATH=_python_path(), PYTHONUNBUFFERED="1")
    if not detached:
        env[PARENT_ENV] = str(os.getpid())
    started: list[subprocess.Popen] = []
    for _ in range(count):
        temp = os.path.join(folder, f".starting-{os.getpid()}-{len(started)}.log")
        with open(temp, "ab") as log:
            proc = subprocess.Popen(command, cwd=repo.root, env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, close_fds=True,
                                    start_new_session=detached)
        os.replace(temp, state.worker_log(repo, proc.pid))
        # Registered by us at once, so a second `queue start` counts it before it runs.
        state.register_worker(repo, proc.pid, {
            "pid": proc.pid, "host": claims.me().host, "start": procs.start_time(proc.pid),
            "started": time.time(), "batch": batch, "current": None})
        started.append(proc)
    _prune_worker_logs(repo)
    return started


def _prune_worker_logs(repo: Repository) -> None:
    folder = state.workers_dir(repo)
    alive = {str(w["pid"]) for w in state.list_workers(repo)}
    logs = []
    for name in os.listdir(folder):
        if name.endswith(".log") and name[:-4].isdigit() and name[:-4] not in alive:
            path = os.path.join(folder, name)
            try:
                logs.append((os.stat(path).st_mtime, path))
            except FileNotFoundError:
                continue
    for _, path in sorted(logs, reverse=True)[KEEP_WORKER_LOGS:]:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def start(repo: Repository, jobs: int = 1) -> tuple[list[int], int, int]:
    """Bring the number of background workers up to JOBS (no more than there are entries).

    Returns (pids started, workers already running, entries queued).
    """
    recovery.recover(repo)
    alive = live_workers(repo)
    queued = len(ent.list_entries(repo, "queued"))
    need = max(0, min(jobs - len(alive), queued))
    procs_started = spawn(repo, need) if need else []
    return [p.pid for p in procs_started], len(alive), queued
