"""Running one function over many files on a few threads.

Adding or checking out 10,000 small files is mostly system calls (open,
read, write, rename), and each one releases the GIL; most of the wait is
the filesystem's (its journal, its directory locks), not the CPU's. A few
threads keep several of those calls in flight, so a many-file add or
checkout waits less than one thread issuing them in turn, the way `cp -r`
does. Results come back to the calling thread, which alone touches shared
state (the stat memo, the result lists, the progress callback).

The first error stops the others (each finishes the file it is on) and is
raised in the caller; so is Ctrl-C, once the threads have stopped - no
thread is left writing after the command has returned.
"""
from __future__ import annotations

import itertools
import os
import queue
import threading
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# More threads than cores: they mostly wait on the filesystem. Measured on
# 10,000 × 4 KiB files (ext4, 2 cores): see bench/bench_data.py.
WORKERS = min(8, 4 * (os.cpu_count() or 1))
# Below this many items a thread costs more than it saves.
MIN_ITEMS = 64


def run_all(fn: Callable[[T], R], items: Sequence[T], on_done: Callable[[T, R], None] | None = None,
            workers: int = WORKERS) -> None:
    """Call FN on every item; ON_DONE(item, result) in this thread as each finishes."""
    if workers <= 1 or len(items) < MIN_ITEMS:
        for item in items:
            result = fn(item)
            if on_done is not None:
                on_done(item, result)
        return
    counter = itertools.count()   # next() on a count is atomic under the GIL
    results: queue.Queue = queue.Queue()
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            i = next(counter)
            if i >= len(items):
                return
            try:
                results.put((i, True, fn(items[i])))
            except BaseException as err:  # handed to the caller's thread
                results.put((i, False, err))
                return

    threads = [threading.Thread(target=work, name=f"git-exp-io-{n}", daemon=True)
               for n in range(min(workers, len(items)))]
    for t in threads:
        t.start()
    try:
        for _ in range(len(items)):
            i, ok, value = results.get()
            if not ok:
                raise value
            if on_done is not None:
                on_done(items[i], value)
    finally:
        stop.set()
        for t in threads:
            t.join()
