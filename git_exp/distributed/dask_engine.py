"""Dask distributed as an engine: one task per entry on a running scheduler.

Dask brings what we would otherwise write by hand: a scheduler, workers
that come and go (dask-jobqueue starts them as Slurm/PBS jobs,
dask-kubernetes as pods), resources such as GPU=1, and re-running a task
whose worker died (up to `distributed.scheduler.allowed-failures` times;
then the task fails with KilledWorker). Retries of a task that raised are
asked for with `retries=`. The task is dask_task.run_entry; this module
is the only one on the client side that imports Dask.
"""
from __future__ import annotations

import asyncio
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

from git_exp.errors import ExpError

from git_exp.distributed.dask_task import kill_event_name, run_entry
from git_exp.distributed.dispatch import Ended, Engine, EngineLost, Task

if TYPE_CHECKING:
    from types import ModuleType

    from distributed import Future

RETRIES = 2              # of a worker command that published nothing (a network hiccup)
CONNECT_TIMEOUT = "15s"
LOST_SECONDS = 15.0      # without the scheduler this long (the client's own reconnect timeout): lost
_THREADS_TTL = 5.0
# What a call to a scheduler that went away raises: distributed raises many kinds,
# and a call caught while the client gives up reconnecting ends in asyncio's
# CancelledError, which is not an Exception.
_SCHEDULER_GONE = (Exception, asyncio.CancelledError)
AHEAD = 4                # tasks submitted per task that may run at once
MIN_AHEAD = 16


def _import_distributed() -> ModuleType:
    try:
        import distributed
    except ImportError:
        raise ExpError("the Dask executor needs the 'distributed' package, which is not installed",
                       hint="install git-exp with its Dask extra: pip install 'git-exp[dask]'") from None
    return distributed


class DaskEngine(Engine):
    """Entries go to Dask well ahead of the workers; -j N keeps N of them there at a time.

    The dispatcher hands over more tasks than can run (slots()), so a
    worker that finishes one starts the next at once instead of waiting
    for the client to collect results and push more entries. Without -j,
    Dask's scheduler queues them all and runs as many as its workers have
    threads. With -j N, N are given to Dask and the rest held here; each
    task that ends hands the next held one to Dask from its done-callback,
    so "at most N at a time" holds without the client's loop in between.
    """

    def __init__(self, address: str, name: str, resources: dict[str, float],
                 jobs: int | None = None):
        distributed = _import_distributed()
        self.name = name
        self.address = address
        self.resources = dict(resources)
        self.jobs = jobs
        try:
            self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ExpError(f"cannot reach the Dask scheduler at {address}: {exc}",
                           hint="start one (dask scheduler) or check the address and port") from None
        self.futures: dict[str, Any] = {}        # entry id -> Future, until wait() reports it
        self.keys: dict[str, str] = {}           # entry id -> task key
        self.held: list[Task] = []               # submitted to us, not yet to Dask (-j)
        self.active: set[str] = set()            # given to Dask, not done yet
        self.dropped: list[str] = []             # held ones kill() took back: they never ran
        # Callbacks run on a thread of the client's; this guards the above.
        self._lock = threading.RLock()
        # Entry ids whose futures are done, put by the futures' callbacks:
        # distributed.wait() needs a default client, which this one is not.
        self._done: queue.Queue[str] = queue.Queue()
        self._threads = (0.0, 0)
        self._lost_since: float | None = None

    def _connected(self) -> bool:
        """Whether the client talks to its scheduler now; EngineLost once it has not for too long.

        When the scheduler dies the client cancels every future at once and
        tries to reconnect for its timeout, then closes. A cancelled future
        then says nothing about its task (it may still run on a worker and
        publish), so nothing is collected while the client is not running.
        """
        status = getattr(self.client, "status", "closed")
        if status == "running":
            self._lost_since = None
            return True
        now = time.monotonic()
        if self._lost_since is None:
            self._lost_since = now
        if status in ("closing", "closed", "failed") or now - self._lost_since > LOST_SECONDS:
            raise EngineLost(f"lost the Dask scheduler at {self.address}: no answer for "
                             f"{now - self._lost_since:.0f}s",
                             hint="start the scheduler again (or check the network between "
                                  "here and it), then: git exp queue start --executor "
                                  f"{self.name}")
        return False

    def slots(self, jobs: int | None, running: int) -> int:
        if not self._connected():
            return 0   # claim nothing while the scheduler is away
        if jobs is None:   # as many as the cluster has threads now (it may grow)
            stamp, threads = self._threads
            if time.monotonic() - stamp > _THREADS_TTL:
                try:
                    threads = sum(self.client.nthreads().values())
                except _SCHEDULER_GONE:   # it went away since _connected(): claim nothing now
                    return 0
                self._threads = (time.monotonic(), threads)
            jobs = max(1, threads)
        window = max(AHEAD * jobs, MIN_AHEAD)
        # Refilled in batches, half a window at a time: one push of many
        # entries costs about what one push of one entry does.
        return window - running if running <= window // 2 else 0

    def submit(self, tasks: list[Task]) -> dict[str, str]:
        with self._lock:
            for task in tasks:
                self.keys[task.entry.id] = task.key
            self.held.extend(tasks)
            try:
                self._release()
            except _SCHEDULER_GONE as exc:  # noqa: BLE001 - the scheduler went away meanwhile
                self._lost_since = self._lost_since or time.monotonic()
                raise EngineLost(f"lost the Dask scheduler at {self.address} while submitting: "
                                 f"{exc}") from None
        return {task.entry.id: f"task {task.key} on {self.address}" for task in tasks}

    def _release(self) -> None:
        """Hand held tasks to Dask while fewer than -j are there (all of them without -j)."""
        while self.held and (self.jobs is None or len(self.active) < self.jobs):
            task = self.held.pop(0)
            entry_id = task.entry.id
            future = self.client.submit(
                run_entry, task.argv, task.key, key=task.key, pure=False, retries=RETRIES,
                resources=self.resources or None)
            self.futures[entry_id] = future
            self.active.add(entry_id)
            future.add_done_callback(lambda _future, entry_id=entry_id: self._finished(entry_id))

    def _finished(self, entry_id: str) -> None:
        try:
            with self._lock:
                self.active.discard(entry_id)
                self._release()
        finally:
            self._done.put(entry_id)

    def wait(self, timeout: float) -> list[Ended]:
        with self._lock:
            dropped, self.dropped = self.dropped, []
            idle = not self.futures and not self.held
        ended = [Ended(entry_id, started=False) for entry_id in dropped]
        if ended:
            return ended
        if not self._connected():
            time.sleep(timeout)
            return []
        if idle:
            time.sleep(timeout)
            return []
        ids = []
        try:
            ids.append(self._done.get(timeout=timeout))
            while True:
                ids.append(self._done.get_nowait())
        except queue.Empty:
            pass
        with self._lock:
            for entry_id in dict.fromkeys(ids):
                future = self.futures.get(entry_id)
                if future is not None and future.done():   # not one cancel_pending took back
                    del self.futures[entry_id]
                    ended.append(self._ended(entry_id, future))
        return ended

    def _ended(self, entry_id: str, future: Future) -> Ended:
        if future.status == "finished":
            value = future.result()
            return Ended(entry_id, value.get("output", ""), started=not value.get("skipped"))
        if future.status == "cancelled":
            return Ended(entry_id, started=False)
        error = future.exception()
        name = type(error).__name__
        if name == "KilledWorker":
            why = f"its Dask workers died while running it, too often ({error})"
        else:
            why = str(error).split("\n", 1)[0]
        return Ended(entry_id, str(error) if "\n" in str(error) else "", error=why)

    def _processing(self) -> set[str]:
        """The keys of the tasks on a worker now; without the scheduler, all of ours
        (none is taken back as never started: it may be running)."""
        keys: set[str] = set()
        try:
            for worker_keys in self.client.processing().values():
                keys.update(str(k) for k in worker_keys)
        except _SCHEDULER_GONE:  # noqa: BLE001 - the scheduler went away: distributed raises many kinds
            with self._lock:
                return set(self.keys.values())
        return keys

    def kill(self, entry_ids: set[str]) -> None:
        from distributed import Event
        with self._lock:
            kept = [t for t in self.held if t.entry.id not in entry_ids]
            self.dropped += [t.entry.id for t in self.held if t.entry.id in entry_ids]
            self.held = kept
            out = [entry_id for entry_id in entry_ids if entry_id in self.futures]
        for entry_id in out if self.client.status == "running" else ():
            try:
                Event(kill_event_name(self.keys[entry_id]), client=self.client).set()
            except _SCHEDULER_GONE:  # noqa: BLE001 - no scheduler to tell: the entry goes back when lost
                continue
        processing = self._processing()
        for entry_id in out:   # not on a worker yet: it never will be
            future = self.futures.get(entry_id)
            if future is not None and self.keys[entry_id] not in processing:
                future.cancel()

    def cancel_pending(self) -> list[str]:
        with self._lock:   # first, so no cancelled task's callback hands a held one to Dask
            cancelled = [t.entry.id for t in self.held]
            self.held = []
        processing = self._processing()
        with self._lock:
            taken = [(entry_id, self.futures.pop(entry_id))
                     for entry_id, future in list(self.futures.items())
                     if not future.done() and self.keys[entry_id] not in processing]
        for entry_id, future in taken:
            future.cancel()
            cancelled.append(entry_id)
        return cancelled

    def close(self) -> None:
        try:
            self.client.close()
        except _SCHEDULER_GONE:  # noqa: BLE001 - closing a client whose scheduler went away
            pass
