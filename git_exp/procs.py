"""Process identity: is the owner of a claim still the process that made it?

A pid alone is not enough: after a crash the pid can be reused by an
unrelated process, and an entry would then look "running" forever. On Linux
the kernel's start time of the process (/proc/PID/stat, field 22) tells the
two apart; elsewhere we fall back to the pid.
"""
from __future__ import annotations

import os
import signal
import subprocess


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
    ended = []
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


# -- a lifeline for a process group ------------------------------------------------

# The watchdog: a shell reading the lifeline pipe. "ok" means the group's
# work ended normally; end of file without it means whoever held the write
# end died (SIGKILL, OOM killer), so the group is ended: TERM, then KILL
# after up to two seconds. A shell costs about a millisecond to start.
_WATCHDOG = (
    'read -r word || word=; [ "$word" = ok ] && exit 0; '
    'kill -TERM "-$1" 2>/dev/null || exit 0; n=0; '
    'while [ $n -lt 20 ] && kill -0 "-$1" 2>/dev/null; do sleep 0.1; n=$((n+1)); done; '
    'kill -KILL "-$1" 2>/dev/null; exit 0')


class GroupLifeline:
    """Ends the process group PGID if this process dies before calling release().

    A stage runs in a session of its own, so Ctrl-C at the terminal does not
    reach it twice and `end_process_group` can end all of it; the price is
    that a SIGKILL of `git exp run` would leave it running, orphaned. A
    watchdog process (in a session of its own, so the terminal's signals miss
    it) holds the read end of a pipe whose write end only this process has:
    the kernel closes that end when we die, however we die, and the watchdog
    then ends the group. Linux's PR_SET_PDEATHSIG would only reach the
    stage's shell, not the processes it starts, and fires when the forking
    *thread* ends. Where there is no POSIX shell (Windows) nothing is watched.
    """

    def __init__(self, pgid: int):
        self.proc = None
        self._write = None
        if os.name == "nt":
            return
        read, write = os.pipe()   # both ends non-inheritable: the stage never holds one
        try:
            self.proc = subprocess.Popen(["/bin/sh", "-c", _WATCHDOG, "git-exp-lifeline", str(pgid)],
                                         stdin=read, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, close_fds=True,
                                         start_new_session=True)
        except OSError:
            os.close(write)
            return
        finally:
            os.close(read)
        self._write = write

    def release(self) -> None:
        """The group's work ended (or was ended by us): the watchdog exits quietly."""
        if self._write is None:
            return
        try:
            os.write(self._write, b"ok\n")
        except OSError:
            pass
        os.close(self._write)
        self._write = None
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:   # never expected: it only reads a line
            self.proc.kill()
            self.proc.wait()
