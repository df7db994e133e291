"""Process identity: is the owner of a claim still the process that made it?

A pid alone is not enough: after a crash the pid can be reused by an
unrelated process, and an entry would then look "running" forever. On Linux
the kernel's start time of the process (/proc/PID/stat, field 22) tells the
two apart; elsewhere we fall back to the pid.
"""
from __future__ import annotations

import os
import signal
import threading


def alive(pid: int) -> bool:
    """Whether a process with PID exists (a pid we may not signal still exists)."""
    if os.name == "nt":
        # os.kill(pid, 0) on Windows is no probe: signal 0 is CTRL_C_EVENT.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _stat(pid: int) -> list[bytes]:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return []
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return data[data.rfind(b")") + 2:].split()


def start_time(pid: int) -> str:
    """An opaque token that changes when PID is reused; "" where unknown."""
    fields = _stat(pid)
    return fields[19].decode() if len(fields) > 19 else ""


def is_same(pid: int, start: str) -> bool:
    """PID is alive and (where we can tell) is the process that recorded START."""
    if not alive(pid):
        return False
    fields = _stat(pid)
    if fields:
        if fields[0] in (b"Z", b"X"):
            return False  # killed, waiting for its parent to reap it
        if start and len(fields) > 19 and fields[19].decode() != start:
            return False  # the pid was reused
    return True


def end_strays(folder: str) -> list[int]:
    """End the process groups of processes working inside FOLDER (Linux only).

    A worker killed with SIGKILL cannot end its stage's process group (the
    stage runs in a session of its own); this finds such orphans by their
    current directory before their checkout is removed.
    """
    folder = os.path.realpath(folder)
    ended: list[int] = []
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return ended
    me, my_group = os.getpid(), os.getpgrp()
    for pid in pids:
        if pid == me:
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if cwd == folder or cwd.startswith(folder + os.sep):
            try:
                group = os.getpgid(pid)
                if group == my_group:
                    continue
                os.killpg(group, signal.SIGKILL)
                ended.append(pid)
            except (ProcessLookupError, PermissionError):
                continue
    return ended


# -- a lifeline for our stages' process groups ------------------------------------

# The watchdog: a shell reading the lifeline pipe, one line per change: the
# process group of the stage running now, or 0 once it ended. End of file
# means whoever held the write end has exited - normally, or by SIGKILL or
# the OOM killer - and if a stage was running then, its group is ended:
# TERM, then KILL after up to two seconds.
_WATCHDOG = (
    'g=0; while read -r word; do g=$word; done; '
    'case $g in ""|0|*[!0-9]*) exit 0;; esac; '
    'kill -TERM "-$g" 2>/dev/null || exit 0; n=0; '
    'while [ $n -lt 20 ] && kill -0 "-$g" 2>/dev/null; do sleep 0.1; n=$((n+1)); done; '
    'kill -KILL "-$g" 2>/dev/null; exit 0')

_lifeline: tuple[int, int] | None = None    # (our pid, write end of the pipe)
_lifeline_lock = threading.Lock()


def _lifeline_fd() -> int | None:
    """The write end of this process's lifeline; the watchdog is started on first use."""
    global _lifeline
    with _lifeline_lock:
        if _lifeline is not None and _lifeline[0] == os.getpid():
            return _lifeline[1]
        read, write = os.pipe()   # both non-inheritable: no stage ever holds an end
        import subprocess   # here: the no-op run and hooks check claims without starting one
        try:
            subprocess.Popen(["/bin/sh", "-c", _WATCHDOG, "git-exp-lifeline"], stdin=read,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             close_fds=True, start_new_session=True)
        except OSError:
            os.close(write)
            return None
        finally:
            os.close(read)
        _lifeline = (os.getpid(), write)
        return write


def guard_group(pgid: int) -> None:
    """Have the process group PGID ended if this process dies before unguard_group().

    A stage runs in a session of its own, so a Ctrl-C at the terminal does
    not reach it twice and end_process_group can end all of it; the price is
    that a SIGKILL of `git exp run` would leave it running, orphaned. One
    watchdog per process (in a session of its own, so the terminal's signals
    miss it) holds the read end of a pipe whose write end only we hold: the
    kernel closes that end when we die, however we die. Linux's
    PR_SET_PDEATHSIG would reach only the stage's shell, not what it starts,
    and fires when the forking *thread* ends. One shell for the process's
    life costs about 2 ms once; each stage then costs one write. Nothing is
    watched where there is no POSIX shell (Windows).
    """
    _tell(f"{pgid}\n")


def unguard_group() -> None:
    """The guarded group's work ended (or we ended it): nothing to end any more."""
    _tell("0\n")


def _tell(line: str) -> None:
    global _lifeline
    if os.name == "nt":
        return
    for _ in range(2):
        fd = _lifeline_fd()
        if fd is None:
            return
        try:
            os.write(fd, line.encode())
            return
        except OSError:   # the watchdog is gone (someone ended it): start another
            with _lifeline_lock:
                os.close(fd)
                _lifeline = None
