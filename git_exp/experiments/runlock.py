"""One run per work tree: a lock file holding the runner's pid and start time.

Only writers take it, and only `run` holds it for long; readers (show, list,
logs, diff) never look at it. A lock whose process is gone is stale and is
cleared, so a crash or SIGKILL never blocks the next run. "Gone" includes a
zombie (killed, not yet reaped by its parent) and a pid the kernel has
since given to another process: the lock keeps the holder's start time
(procs.start_time, from /proc on Linux) and a live pid with another start
time is not the holder. Where the start time is unknown, the pid decides.
"""
from __future__ import annotations

import json
import os
import time

from git_exp import procs
from git_exp.errors import ExpError


def _hostname() -> str:
    """This machine's name, as socket.gethostname() gives it, without loading socket."""
    try:
        return os.uname().nodename
    except AttributeError:   # no uname (Windows)
        import socket
        return socket.gethostname()


def lock_path(git_dir: str) -> str:
    return os.path.join(git_dir, "exp-run.lock")


def live_holder(git_dir: str) -> dict | None:
    """The running holder of GIT_DIR's run lock ({pid, host, name, started}), or None.

    For readers (show, logs): reads only, never clears a stale lock. A holder
    on another host (a shared file system) is taken as alive."""
    try:
        with open(lock_path(git_dir)) as fh:
            holder = json.load(fh)
    except (OSError, ValueError):
        return None   # no run, or its writer has not filled the file in yet
    if not isinstance(holder, dict) or not isinstance(holder.get("pid"), int):
        return None
    if holder.get("host") in (None, _hostname()) and not procs.alive(holder["pid"]):
        return None   # stale: the run died without cleaning up
    return holder


class RunLock:
    def __init__(self, git_dir: str, name: str):
        self.path = lock_path(git_dir)
        self.name = name
        self.held = False

    def __enter__(self) -> "RunLock":
        info = {"pid": os.getpid(), "start": procs.start_time(os.getpid()),
                "host": _hostname(), "name": self.name,
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is None:
                    continue  # vanished or stale and cleared: try once more
                name = holder.get("name", "?")   # "repro": experiments/repro.py holds it
                who = "'git exp repro'" if name == "repro" else "'git exp run'"
                what = "" if name == "repro" else f"experiment '{name}', "
                raise ExpError(
                    f"another {who} is running in this work tree "
                    f"({what}pid {holder.get('pid')}, started {holder.get('started', '?')})",
                    hint="wait for it to finish, or queue this run with --queue") from None
            with os.fdopen(fd, "w") as fh:
                json.dump(info, fh)
            self.held = True
            return self
        raise ExpError(f"cannot take the run lock {self.path}")

    def _holder(self) -> dict | None:
        inode = None
        try:
            with open(self.path) as fh:
                inode = os.fstat(fh.fileno()).st_ino
                holder = json.load(fh)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            holder = {}
        if not isinstance(holder, dict):
            holder = {}
        pid = holder.get("pid")
        if not isinstance(pid, int):
            try:
                young = time.time() - os.stat(self.path).st_mtime < 5
            except FileNotFoundError:
                return None
            if young:  # its writer may not have filled it in yet
                return {"pid": "?", "name": "?"}
        same_host = holder.get("host") in (None, _hostname())
        start = holder.get("start")
        start = start if isinstance(start, str) else ""
        if not isinstance(pid, int) or (same_host and not procs.is_same(pid, start)):
            try:
                # Not a lock another process cleared and took meanwhile: the one we read.
                if inode is None or os.stat(self.path).st_ino == inode:
                    os.unlink(self.path)  # stale: its process is gone (or a zombie, or a new one)
            except FileNotFoundError:
                pass
            return None
        return holder

    def __exit__(self, *exc: object) -> None:
        if self.held:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self.held = False
