"""The function a Dask worker runs for one entry: `git exp exec-entry` in a subprocess.

It runs on the worker, so it imports nothing of git-exp's core: the worker
command does the work in a process of its own, in a process group of its
own (a signal meant for the Dask worker, such as a graceful shutdown, must
not make it publish an interrupted run: Dask will run the entry again
elsewhere), and that process ends itself when this worker dies
(lifeline.py). `queue kill` reaches it through a Dask Event named after
the task: set, it makes this function send SIGTERM to the worker command,
which then publishes the interrupted run.

The function raises when the worker command published nothing, so Dask's
retries apply; a failed experiment is a published result, not an error.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading

KILL_POLL_SECONDS = 0.5
OUTPUT_LIMIT = 4 * 1024 * 1024   # bytes of output kept for the log (the end, if longer)


def kill_event_name(key: str) -> str:
    return f"{key}-kill"


class WorkerCommandFailed(RuntimeError):
    """The worker command published no result; its output is in the message."""


def run_entry(argv: list[str], key: str, python: str | None = None) -> dict:
    """Run `git exp exec-entry ARGV` here; {exit_code, output, host, killed, skipped}."""
    from distributed import Event

    event = Event(kill_event_name(key))
    if event.is_set():
        return {"exit_code": None, "output": "", "host": socket.gethostname(),
                "killed": True, "skipped": True}
    command = [python or sys.executable, "-m", "git_exp", "exec-entry", *argv]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, env=env)
    chunks: list[bytes] = []
    size = [0]

    def read() -> None:
        stdout = proc.stdout
        assert stdout is not None   # stdout=PIPE
        for chunk in iter(lambda: stdout.read1(65536), b""):  # type: ignore[attr-defined]  # PIPE: buffered
            chunks.append(chunk)
            size[0] += len(chunk)
            while size[0] > OUTPUT_LIMIT and len(chunks) > 1:
                size[0] -= len(chunks.pop(0))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    ended = threading.Event()
    killed = threading.Event()

    def watch() -> None:
        # On a thread of its own: event.wait() cannot be woken by the
        # command's end, and waiting for it here cost every task up to
        # KILL_POLL_SECONDS after its command had ended.
        while not ended.is_set():
            if event.wait(KILL_POLL_SECONDS):
                if not ended.is_set():
                    killed.set()
                    _signal_group(proc.pid, signal.SIGTERM)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        proc.wait()
        reader.join()
    finally:
        ended.set()
        if proc.poll() is None:   # this thread is being torn down: take the workload with it
            _signal_group(proc.pid, signal.SIGKILL)
    was_killed = killed.is_set()
    output = b"".join(chunks).decode("utf-8", "replace")
    if proc.returncode != 0 and not was_killed:
        raise WorkerCommandFailed(f"git exp exec-entry exited with status {proc.returncode} "
                                  f"on {socket.gethostname()}:\n{output}")
    return {"exit_code": proc.returncode, "output": output, "host": socket.gethostname(),
            "killed": was_killed, "skipped": False}


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
