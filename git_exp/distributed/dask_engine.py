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

import queue
import time

from git_exp.errors import ExpError

from git_exp.distributed.dask_task import kill_event_name, run_entry
from git_exp.distributed.dispatch import Ended, Engine, Task

RETRIES = 2              # of a worker command that published nothing (a network hiccup)
CONNECT_TIMEOUT = "15s"
_THREADS_TTL = 5.0


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise ExpError("the Dask executor needs the 'distributed' package, which is not installed",
                       hint="install git-exp with its Dask extra: pip install 'git-exp[dask]'") from None
    return distributed


class DaskEngine(Engine):
    def __init__(self, address: str, name: str, resources: dict[str, float]):
        distributed = _import_distributed()
        self.name = name
        self.address = address
        self.resources = dict(resources)
        try:
            self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ExpError(f"cannot reach the Dask scheduler at {address}: {exc}",
                           hint="start one (dask scheduler) or check the address and port") from None
        self.futures: dict[str, object] = {}     # entry id -> Future
        self.keys: dict[str, str] = {}           # entry id -> task key
        # Entry ids whose futures are done, put by the futures' callbacks:
        # distributed.wait() needs a default client, which this one is not.
        self._done: queue.Queue[str] = queue.Queue()
        self._threads = (0.0, 0)

    def slots(self, jobs: int | None, running: int) -> int:
        if jobs is None:   # as many as the cluster has threads now (it may grow)
            stamp, threads = self._threads
            if time.monotonic() - stamp > _THREADS_TTL:
                threads = sum(self.client.nthreads().values())
                self._threads = (time.monotonic(), threads)
            jobs = max(1, threads)
        return max(0, jobs - running)

    def submit(self, tasks: list[Task]) -> dict[str, str]:
        for task in tasks:
            self.futures[task.entry.id] = self.client.submit(
                run_entry, task.argv, task.key, key=task.key, pure=False, retries=RETRIES,
                resources=self.resources or None)
            self.keys[task.entry.id] = task.key
            self.futures[task.entry.id].add_done_callback(
                lambda _future, entry_id=task.entry.id: self._done.put(entry_id))
        return {task.entry.id: f"task {task.key} on {self.address}" for task in tasks}

    def wait(self, timeout: float) -> list[Ended]:
        if not self.futures:
            time.sleep(timeout)
            return []
        ids = []
        try:
            ids.append(self._done.get(timeout=timeout))
            while True:
                ids.append(self._done.get_nowait())
        except queue.Empty:
            pass
        ended = []
        for entry_id in dict.fromkeys(ids):
            future = self.futures.get(entry_id)
            if future is not None and future.done():   # not one cancel_pending took back
                del self.futures[entry_id]
                ended.append(self._ended(entry_id, future))
        return ended

    def _ended(self, entry_id: str, future) -> Ended:
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
        keys: set[str] = set()
        for worker_keys in self.client.processing().values():
            keys.update(str(k) for k in worker_keys)
        return keys

    def kill(self, entry_ids: set[str]) -> None:
        from distributed import Event
        for entry_id in entry_ids:
            if entry_id in self.keys:
                Event(kill_event_name(self.keys[entry_id]), client=self.client).set()
        processing = self._processing()
        for entry_id in entry_ids:   # not on a worker yet: it never will be
            future = self.futures.get(entry_id)
            if future is not None and self.keys[entry_id] not in processing:
                future.cancel()

    def cancel_pending(self) -> list[str]:
        processing = self._processing()
        cancelled = []
        for entry_id, future in list(self.futures.items()):
            if not future.done() and self.keys[entry_id] not in processing:
                future.cancel()
                del self.futures[entry_id]
                cancelled.append(entry_id)
        return cancelled

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 - closing a client whose scheduler went away
            pass
