"""Dying with the worker: no orphaned training process finishes a second time.

An engine re-runs an entry whose worker died. If the first run's processes
lived on (the worker was SIGKILLed, its machine's agent restarted), both
would finish and both would try to publish. So the worker command watches
the process that started it: once that parent is gone, it ends every
process working in its checkout (the pipeline's stages run in sessions of
their own, so a signal to our group would miss them) and exits at once,
without publishing anything. The engine's new attempt does the work.

The parent is polled (getppid changes when it dies: the orphan is
re-parented), which works everywhere, unlike Linux's PR_SET_PDEATHSIG that
fires when the *thread* that forked us ends, and a Dask worker forks from
pool threads.
"""
from __future__ import annotations

import os
import shutil
import signal
import threading
import time

from git_exp import procs

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Callable

POLL_SECONDS = 0.5
EXIT_CODE = 137   # as if killed: the attempt produced nothing


def watch_parent(folder_of_work: Callable[[], str | None], poll: float = POLL_SECONDS) -> threading.Thread | None:
    """Start a daemon thread that ends our work and exits when our parent dies.

    FOLDER_OF_WORK is a callable returning the folder we work in (or None
    before there is one), read when the parent is gone; it is removed. Nothing is watched when
    we were started by init (pid 1): there is no parent to follow.
    """
    parent = os.getppid()
    if parent <= 1:
        return None

    def watch() -> None:
        stop = threading.Event()
        while not stop.wait(poll):
            if os.getppid() != parent:
                folder = folder_of_work()
                if folder:
                    procs.end_strays(folder)
                    _remove_after_exit(folder)
                if os.getpgrp() == os.getpid():   # our own group: git and helpers we started
                    os.killpg(os.getpid(), signal.SIGKILL)
                os._exit(EXIT_CODE)

    thread = threading.Thread(target=watch, name="git-exp-lifeline", daemon=True)
    thread.start()
    return thread


def _remove_after_exit(folder: str) -> None:
    """Remove FOLDER once this process has exited: nobody else will.

    Not from here: the main thread may still be writing into it (the stage
    it waited on just ended), so a child waits for us to be gone first.
    """
    me = os.getpid()
    ready_r, ready_w = os.pipe()
    try:
        child = os.fork()
    except OSError:
        return
    if child == 0:
        try:
            os.setsid()   # out of our group, which is killed next
            os.write(ready_w, b"1")
            while os.getppid() == me:
                time.sleep(0.05)
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            os._exit(0)
    os.read(ready_r, 1)   # not before the child has left the group
