"""Running one function over many items in forked worker processes.

Why processes and not parallel.py's threads, for a save of many small
files: each file costs a few system calls and some Python, and with threads
every call hands the GIL over. Measured on 10,000 x 4 KiB files (2 cores,
perf): the futex calls of those hand-offs and the task switches behind
them took a fifth of the CPU, and the Python half of the work still ran on
one core at a time. A forked worker has its own interpreter: no hand-offs,
and the Python runs on every core.

How: the items are cut into chunks whose numbers are written into a pipe
up front; this process and WORKERS - 1 forked children each claim the next
chunk by reading 4 bytes from it (a pipe read takes its bytes whole, so no
two workers get the same chunk, and a slow worker simply claims fewer). A
child sends each chunk's results back over a pipe of its own (marshal: the
same interpreter reads them), then a last DONE record, and leaves with
os._exit (never running the parent's cleanup, flushing its buffers or
touching its SQLite connection). ON_CHUNK runs in this process only, so only
it touches shared state (the stat memo, the manifest, the progress line),
once per chunk: no call per item in the one process that does it all.

Failures, so that no worker is left writing after the call returns:
- an exception in a child is sent back and raised here; an exception here
  (Ctrl-C included) too. Either way the unclaimed chunks are taken out of
  the pipe first, so every worker stops after the chunk it is on, and the
  children are waited for before the error goes up;
- a child that dies without its DONE record (a signal, the OOM killer) is
  an ExpError naming how it ended; what it was writing is whatever FN
  leaves on a crash (the cache: a stray temporary file, never an object);
- this process killed outright: a child's next send fails (EPIPE, nobody
  reads) and it leaves, at most one chunk later.
Children ignore SIGINT: a Ctrl-C at the terminal reaches the whole group,
and the parent alone decides to stop (a child interrupted mid-send would
look like a crash). The parent itself takes a Ctrl-C only between chunks
(_Deferred): one landing inside FN could stop it between creating a file
and the code that removes it again on failure, and leave the file behind.

fork() copies only the calling thread: a lock another thread held would
stay held in the child forever. So this is used only from a process with
one thread, where os.fork exists (can_fork); otherwise parallel.run_all.
"""
from __future__ import annotations

import _signal   # the C module: `signal` builds its enums on import (4 ms)
import marshal
import os
import struct
import threading

from git_exp.data.cachefiles import write_all
from git_exp.data.parallel import WORKERS, _chunk_size
from git_exp.errors import ExpError

TYPE_CHECKING = False   # typing's, without importing typing on run's path (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Any, Callable, Sequence, TypeVar

    T = TypeVar("T")
    R = TypeVar("R")

_ID = struct.Struct("<I")
_HEAD = struct.Struct("<II")   # chunk number (or DONE / FAILED), payload length
DONE = 0xFFFFFFFF
FAILED = 0xFFFFFFFE
# Every chunk number is written before any worker starts, so they must fit a
# pipe's buffer: one page (4 KiB) is what a pipe gets when its user is over
# the pipe-pages limit, so at most 1024 chunks of however many items.
MAX_CHUNKS = 1024


def can_fork() -> bool:
    """Whether run_forked may be used here: fork exists and this process has
    one thread, its main one (which alone may set signal handlers).

    Threads are counted in /proc/self/task, which also shows those Python
    does not know of (a library's native threads, in a program that calls
    git-exp's API): a lock one of them holds would never be released in the
    child. Without /proc, no fork: such threads could not be seen.
    """
    if not hasattr(os, "fork") or threading.current_thread() is not threading.main_thread():
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def run_forked(fn: Callable[[T], R], items: Sequence[T], on_chunk: Callable[[int, list[R]], None],
               workers: int = WORKERS) -> None:
    """Call FN on every item in WORKERS processes (this one and forked children);
    ON_CHUNK(start, results) in this process as each chunk finishes, RESULTS
    being FN's for items[start:start + len(results)]. FN's results must be
    marshal-able (tuples, strings, numbers, None). Call only when can_fork()."""
    count = len(items)
    size = max(_chunk_size(count, workers), -(-count // MAX_CHUNKS))
    chunks = -(-count // size)
    tasks_r, tasks_w = os.pipe()
    try:
        write_all(tasks_w, b"".join(_ID.pack(c) for c in range(chunks)))
    finally:
        os.close(tasks_w)   # a worker that finds the pipe empty reads EOF, never waits
    children: dict[int, int] = {}   # result pipe's read end -> child pid
    ctrl_c = _Deferred()
    try:
        for _ in range(min(workers, chunks) - 1):
            read, write = os.pipe()
            try:
                pid = os.fork()
            except OSError:   # out of processes or memory: fewer workers do it all
                os.close(read)
                os.close(write)
                break
            if pid == 0:
                _child(fn, items, size, tasks_r, write, [read, *children])
            os.close(write)
            children[read] = pid
        reader = _Results(children, size, on_chunk)
        while True:
            claimed = os.read(tasks_r, _ID.size)
            if not claimed:
                break
            (c,) = _ID.unpack(claimed)
            on_chunk(c * size, [fn(items[i]) for i in range(c * size, min((c + 1) * size, count))])
            ctrl_c.deliver()
            reader.read(wait=False)
        while reader.open:
            reader.read(wait=True)
            ctrl_c.deliver()
    finally:
        # Whatever happened: no chunk is left to claim, no child can block
        # on a full pipe, and every child has ended before this returns.
        while os.read(tasks_r, 4096):
            pass
        os.close(tasks_r)
        for fd in children:
            os.close(fd)
        for pid in children.values():
            _reap(pid)
        ctrl_c.restore()   # last: a Ctrl-C held back raises here


class _Deferred:
    """SIGINT held back from the moment it arrives to the next deliver(): then
    the handler that was in place (Python's raises KeyboardInterrupt) runs."""

    def __init__(self) -> None:
        self.pending: list = []
        self.previous = _signal.getsignal(_signal.SIGINT)
        # None: a handler set outside Python, which could not be put back.
        self.active = self.previous is not None
        if self.active:
            _signal.signal(_signal.SIGINT, lambda *args: self.pending.append(args))

    def deliver(self) -> None:
        if self.pending:
            self.restore()

    def restore(self) -> None:
        if not self.active:
            return
        self.active = False
        previous = self.previous
        _signal.signal(_signal.SIGINT, previous)
        if not self.pending:
            return
        if callable(previous):
            previous(*self.pending[0])
        elif previous == _signal.SIG_DFL:
            os.kill(os.getpid(), _signal.SIGINT)


class _Results:
    """What the children send back, read as it arrives; ON_CHUNK for each chunk."""

    # ON_CHUNK takes run_forked's results as marshal gives them back: Any, as
    # run_forked's R is not carried into this class (a Generic would import typing).
    def __init__(self, children: dict[int, int], size: int, on_chunk: Callable[[int, list[Any]], None]):
        import select
        self.children, self.size, self.on_chunk = children, size, on_chunk
        self.open = set(children)
        self.buffers = {fd: bytearray() for fd in children}
        self.poll = select.poll()
        for fd in children:
            self.poll.register(fd, select.POLLIN)

    def read(self, wait: bool) -> None:
        for fd, _ in self.poll.poll(None if wait else 0):
            data = os.read(fd, 1 << 16)
            if not data:
                self.poll.unregister(fd)
                self.open.discard(fd)
                raise _died(self.children[fd])
            buf = self.buffers[fd]
            buf += data
            while len(buf) >= _HEAD.size:
                c, length = _HEAD.unpack_from(buf)
                if len(buf) < _HEAD.size + length:
                    break
                payload = bytes(buf[_HEAD.size:_HEAD.size + length])
                del buf[:_HEAD.size + length]
                self._record(fd, c, payload)

    def _record(self, fd: int, c: int, payload: bytes) -> None:
        if c == DONE:
            self.poll.unregister(fd)
            self.open.discard(fd)
        elif c == FAILED:
            import pickle
            raise pickle.loads(payload)
        else:
            self.on_chunk(c * self.size, marshal.loads(payload))


def _child(fn: Callable[[T], object], items: Sequence[T], size: int, tasks_r: int, out: int,
           inherited: list[int]) -> None:
    """A forked worker's whole life: claim chunks until none is left, send
    their results, leave. Never returns into the parent's code."""
    status = 1
    try:
        _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
        for fd in inherited:   # other pipes' read ends: the parent's death must show as EPIPE
            os.close(fd)
        count = len(items)
        while True:
            claimed = os.read(tasks_r, _ID.size)
            if not claimed:
                break
            (c,) = _ID.unpack(claimed)
            results = [fn(items[i]) for i in range(c * size, min((c + 1) * size, count))]
            _send(out, c, marshal.dumps(results))
        _send(out, DONE, b"")
        status = 0
    except BaseException as err:
        try:
            _send(out, FAILED, _pickled(err))
        except BaseException:
            pass   # the parent is gone: nobody to tell
    finally:
        os._exit(status)


def _pickled(err: BaseException) -> bytes:
    import pickle
    try:
        return pickle.dumps(err)
    except Exception:   # an exception that does not pickle: its text, as an internal error
        return pickle.dumps(RuntimeError(f"in a worker process: {err!r}"))


def _send(fd: int, c: int, payload: bytes) -> None:
    write_all(fd, _HEAD.pack(c, len(payload)) + payload)


def _died(pid: int) -> ExpError:
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        import signal
        sig = os.WTERMSIG(status)
        try:
            how = f"killed by {signal.Signals(sig).name}"
        except ValueError:
            how = f"killed by signal {sig}"
    else:
        how = f"exit status {os.waitstatus_to_exitcode(status)}"
    return ExpError(f"a worker process ended before its work was done ({how})",
                    hint="nothing it was writing was kept; run the command again")


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass   # reaped already (_died)
