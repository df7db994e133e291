"""Running one function over many files on a few threads.

Adding or checking out 10,000 small files is mostly system calls (open,
read, write, rename), and each one releases the GIL; most of the wait is
the filesystem's (its journal, its directory locks), not the CPU's. A few
threads keep several of those calls in flight, so a many-file add or
checkout waits less than one thread issuing them in turn, the way `cp -r`
does. Results come back to the calling thread, which alone touches shared
state (the stat memo, the result lists, the progress callback).

Threads cost CPU too: every system call hands the GIL over, and each handover
to a waiting thread is a futex call. With eight threads on two cores, adding
10,000 small files made some 750,000 futex calls - several seconds of system
time, more than the work itself. So there are only as many workers as cores
this process may run on (sched_getaffinity, not the machine's count), and
items go to them in chunks: one queue round trip per chunk, not per file.

The first error stops the others (each finishes the file it is on) and is
raised in the caller; so is Ctrl-C, once the threads have stopped - no
thread is left writing after the command has returned.

A save of many small files uses forked processes instead (parallel_procs.py):
there the Python per file, not the waiting, is what a second core can share.
"""
from __future__ import annotations

import itertools
import os
import threading

TYPE_CHECKING = False   # typing's, without importing typing on run's path (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Callable, Sequence, TypeVar

    T = TypeVar("T")
    R = TypeVar("R")


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):   # not on Linux
        return os.cpu_count() or 1


# One worker per usable core, at most 8 (see the module docstring). Measured on
# 10,000 x 4 KiB files (ext4, 2 cores): see bench/bench_data.py. One worker
# against two, interleaved (Dec 2026): on tmpfs one is ~20% faster (no
# hand-offs); on ext4, two halved add's time (2.2 s against 4.3 s) while the
# kernel spent most of it in inode allocation (cachefiles.spread_subfolders),
# and since that is avoided the two are within noise (0.76 / 0.94 s against
# 0.86 / 0.90 s in two runs): two stay, for file systems that make calls wait.
WORKERS = min(8, _usable_cores())
# Below this many items a thread costs more than it saves.
MIN_ITEMS = 64
# Items per task handed to a worker: enough to make the queue's cost per item
# small, few enough that the workers finish at about the same time.
MAX_CHUNK = 64


def _chunk_size(items: int, workers: int) -> int:
    return max(1, min(MAX_CHUNK, items // (workers * 8)))


def run_all(fn: Callable[[T], R], items: Sequence[T], on_done: Callable[[T, R], None] | None = None,
            workers: int = WORKERS, min_items: int = MIN_ITEMS) -> None:
    """Call FN on every item; ON_DONE(item, result) in this thread as each
    finishes. Fewer than MIN_ITEMS items are done in this thread alone (an
    item that is itself many files may lower it)."""
    if workers <= 1 or len(items) < min_items:
        for item in items:
            result = fn(item)
            if on_done is not None:
                on_done(item, result)
        return
    import queue   # only when threads run: not on every path that imports the cache
    size = _chunk_size(len(items), workers)
    chunks = (len(items) + size - 1) // size
    counter = itertools.count()   # next() on a count is atomic under the GIL
    results: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            c = next(counter)
            if c >= chunks:
                return
            done: list = []
            try:
                for i in range(c * size, min((c + 1) * size, len(items))):
                    if stop.is_set():
                        break
                    done.append(fn(items[i]))
            except BaseException as err:  # handed to the caller's thread
                results.put((c, done, err))
                return
            results.put((c, done, None))

    threads = [threading.Thread(target=work, name=f"git-exp-io-{n}", daemon=True)
               for n in range(min(workers, chunks))]
    for t in threads:
        t.start()
    try:
        for _ in range(chunks):
            c, done, err = results.get()
            if on_done is not None:
                for i, value in enumerate(done, start=c * size):
                    on_done(items[i], value)
            if err is not None:
                raise err
    finally:
        stop.set()
        for t in threads:
            t.join()
