"""Running the user's own `git` binary: the one place that starts it.

Every Git operation goes through here: it behaves exactly as the user's own
(credential helpers, includes, safe.directory, attributes), and README's
Architecture says what it cost. A failure is a GitCommandError carrying
Git's reason, so a caller can phrase its own error around it.

`git()` starts git with os.posix_spawn rather than subprocess: importing
subprocess (locale, re, signal, threading, selectors) cost every command,
hook and `show` 5 ms of a 25 ms budget. It keeps subprocess.run's contract:
git found on the PATH of the child's environment, the working directory
(`git -C`, which is Git's own chdir before anything else, after the same
checks subprocess's chdir makes), SIGPIPE and SIGXFSZ back to their
defaults in the child, input written and both outputs drained without
deadlock, and on any exception (Ctrl-C included) the child killed and
reaped. One difference remains: subprocess closed every descriptor above 2
in the child, posix_spawn leaves those marked inheritable open; the ones
Python opens are not (PEP 446), so only what git-exp's parent handed down
inheritable (a jobserver's pipe) reaches git too, as it reaches git-exp. Where
os.posix_spawn is missing (Windows) it is subprocess.run.
`git_process()` (a long-lived reader with pipe file objects) keeps
subprocess, imported when one is started.
"""
from __future__ import annotations

import os

from git_exp.errors import ExpError

TYPE_CHECKING = False   # typing's, without importing typing at start-up (mypy reads the name as True)
if TYPE_CHECKING:   # typing's IO/Union only for the checker: no cost at start-up
    import subprocess
    from collections.abc import Mapping, Sequence
    from typing import IO, Any, Union

    # What `stdout=`/`stderr=` of subprocess accept: PIPE, DEVNULL, a file or a descriptor.
    Stream = Union[int, IO, None]

_NO_GIT_HINT = "install Git, then run this command again"


class GitNotFoundError(ExpError):
    """There is no `git` on PATH."""

    def __init__(self) -> None:
        super().__init__("git is not installed or not on PATH", hint=_NO_GIT_HINT)


def reason(stderr: bytes | str | None, returncode: int = 1) -> str:
    """Why git failed, in one line, from its STDERR: the last `fatal:` or
    `error:` line without that word (the `hint:` lines Git prints after it are
    advice, not the reason), else the last non-empty line, else the exit status."""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else (stderr or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith(("fatal:", "error:")):
            return line.split(":", 1)[1].strip()
    return lines[-1] if lines else f"exit status {returncode}"


class GitCommandError(ExpError):
    """A `git` subprocess we rely on failed; `reason` is Git's own word for why."""

    def __init__(self, args: Sequence[str], returncode: int, stderr: str):
        self.reason = reason(stderr, returncode)
        super().__init__(f"git {' '.join(args)} failed: {self.reason}")
        self.returncode = returncode
        self.stderr = stderr

    @property
    def missing_identity(self) -> bool:
        """Git refused to write a commit because user.name/user.email are not set."""
        return "tell me who you are" in self.stderr or "empty ident" in self.stderr


def _environment(env: Mapping[str, str] | None) -> Mapping[str, str]:
    if not env:
        return os.environ
    full = dict(os.environ)
    full.update(env)
    return full


# What `stdout=`/`stderr=` take: subprocess's own values, so a caller may pass either.
PIPE = -1
STDOUT = -2
DEVNULL = -3


class CompletedGit:
    """What `git()` returns: the attributes of subprocess.CompletedProcess callers use.

    stdout and stderr are bytes when captured (PIPE), else None; typed Any as
    CompletedProcess's are, so a caller that captured need not assert it."""

    __slots__ = ("args", "returncode", "stdout", "stderr")

    def __init__(self, args: list[str], returncode: int, stdout: Any, stderr: Any):
        self.args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def __repr__(self) -> str:
        return f"CompletedGit(args={self.args!r}, returncode={self.returncode})"


def git(args: Sequence[str], cwd: str | None = None, check: bool = True,
        input: bytes | None = None, env: Mapping[str, str] | None = None,
        stdout: Stream = PIPE, stderr: Stream = PIPE) -> CompletedGit:
    """Run `git ARGS` and capture its output as bytes.

    ENV is added to this process's environment. CHECK raises GitCommandError
    on a non-zero exit; STDOUT may be an open file to stream into.
    """
    if _HAS_SPAWN:
        proc = _spawn_git(list(args), cwd, input, _environment(env), stdout, stderr)
    else:   # pragma: no cover - Windows
        import subprocess
        try:
            done = subprocess.run(["git", *args], cwd=cwd, input=input,
                                  env=dict(_environment(env)) if env else None,
                                  stdout=stdout, stderr=stderr)
        except FileNotFoundError:
            if cwd is not None and not os.path.isdir(cwd):
                raise
            raise GitNotFoundError() from None
        proc = CompletedGit(done.args, done.returncode, done.stdout, done.stderr)
    if check and proc.returncode != 0:
        err = proc.stderr.decode(errors="replace") if isinstance(proc.stderr, bytes) else ""
        raise GitCommandError(list(args), proc.returncode, err)
    return proc


def git_text(args: Sequence[str], cwd: str | None = None, check: bool = True,
             input: bytes | None = None, env: Mapping[str, str] | None = None) -> str:
    """Run git and return its stdout decoded, without the trailing newline."""
    out = git(args, cwd=cwd, check=check, input=input, env=env).stdout
    return out.decode("utf-8", errors="surrogateescape").rstrip("\n")


def git_process(args: Sequence[str], cwd: str | None = None,
                stderr: Stream = DEVNULL) -> subprocess.Popen:
    """A long-lived `git ARGS` talking through pipes (stdin, stdout), e.g. `cat-file --batch`.

    Through subprocess, imported here: a long-lived reader wants its pipes as
    buffered file objects, and whoever starts one reads many objects anyway."""
    import subprocess
    try:
        return subprocess.Popen(["git", *args], cwd=cwd, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=stderr)
    except FileNotFoundError:
        if cwd is not None and not os.path.isdir(cwd):
            raise
        raise GitNotFoundError() from None


# -- the spawner ------------------------------------------------------------------------------

_HAS_SPAWN = hasattr(os, "posix_spawn")
_CHUNK = 1 << 16            # a pipe's default capacity on Linux
_GIT_PATHS: dict[str, str] = {}   # PATH -> the git it finds (absolute PATH entries only)


def _which_git(environ: Mapping[str, str], cwd: str | None, fresh: bool = False) -> str:
    """The `git` the child's PATH names, as subprocess finds it: the first
    entry holding an executable file `git` (a relative entry is relative to
    the child's working directory)."""
    path = environ.get("PATH", os.defpath)
    if not fresh and path in _GIT_PATHS:
        return _GIT_PATHS[path]
    cacheable = True
    for folder in path.split(os.pathsep):
        if not os.path.isabs(folder):
            cacheable = False
            folder = os.path.join(cwd or os.curdir, folder)
        candidate = os.path.join(folder, "git")
        if os.access(candidate, os.X_OK) and os.path.isfile(candidate):
            if cacheable:
                _GIT_PATHS[path] = candidate
            return candidate
    raise GitNotFoundError()


def _check_cwd(cwd: str) -> None:
    """The errors subprocess's chdir in the child would raise, raised here:
    `git -C` would instead exit 128 with its own message."""
    import stat
    st = os.stat(cwd)                      # FileNotFoundError, PermissionError as before
    if not stat.S_ISDIR(st.st_mode):
        import errno
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), cwd)
    if not os.access(cwd, os.X_OK):
        import errno
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), cwd)


def _above_stdio(fd: int, spares: list[int]) -> int:
    """FD itself, or a duplicate of it numbered 3 or more: the child's file
    actions move descriptors onto 0, 1 and 2, and a source there would be
    overwritten before it is moved (a process started with stdio closed)."""
    while fd < 3:
        fd = os.dup(fd)
        spares.append(fd)
    return fd


_SIGDEF: list[int] = []       # the signals the child gets back at their defaults


def spawn_sigdef() -> list[int]:
    """What os.posix_spawn's `setsigdef` needs for a child to behave as one
    subprocess starts: Python ignores SIGPIPE (and SIGXFSZ), an ignored signal
    stays ignored across exec, and a child writing to a closed pipe should die
    of it (git, a pager). From _signal, the C module under signal.py: the
    numbers without building signal.py's enum classes."""
    if not _SIGDEF:
        import _signal
        _SIGDEF.extend(getattr(_signal, name) for name in ("SIGPIPE", "SIGXFSZ")
                       if hasattr(_signal, name))
    return _SIGDEF


def _spawn_git(args: list[str], cwd: str | None, input: bytes | None,
               environ: Mapping[str, str], stdout: Stream, stderr: Stream) -> CompletedGit:
    argv = ["git", *args]
    if cwd is not None:
        _check_cwd(cwd)
        argv[1:1] = ["-C", cwd]
    owned: list[int] = []           # descriptors this call opened and has not closed yet
    actions: list[tuple] = []
    writer = out_fd = err_fd = pid = -1
    try:
        if input is not None:
            child_in, writer = os.pipe()
            owned += (child_in, writer)
            actions.append((os.POSIX_SPAWN_DUP2, _above_stdio(child_in, owned), 0))
        for target, stream in ((1, stdout), (2, stderr)):
            if stream is None:
                continue
            if stream == PIPE:
                read_end, child_end = os.pipe()
                owned += (read_end, child_end)
                if target == 1:
                    out_fd = read_end
                else:
                    err_fd = read_end
                actions.append((os.POSIX_SPAWN_DUP2, _above_stdio(child_end, owned), target))
            elif stream == DEVNULL:
                actions.append((os.POSIX_SPAWN_OPEN, target, os.devnull, os.O_RDWR, 0))
            elif stream == STDOUT and target == 2:
                actions.append((os.POSIX_SPAWN_DUP2, 1, 2))
            else:
                fd = stream if isinstance(stream, int) else stream.fileno()
                if fd < 0:
                    raise ValueError(f"not a stream for git's output: {stream!r}")
                if fd != target:
                    fd = _above_stdio(fd, owned)
                actions.append((os.POSIX_SPAWN_DUP2, fd, target))
        try:
            exe = _which_git(environ, cwd)
            try:
                pid = os.posix_spawn(exe, argv, environ, file_actions=actions, setsigdef=spawn_sigdef())
            except FileNotFoundError:
                # The git found before has gone (a reinstall): look again, once.
                exe = _which_git(environ, cwd, fresh=True)
                pid = os.posix_spawn(exe, argv, environ, file_actions=actions, setsigdef=spawn_sigdef())
        except FileNotFoundError:
            raise GitNotFoundError() from None
        # The child has its copies: ours of its ends go, or we would never see EOF.
        for fd in [fd for fd in owned if fd not in (writer, out_fd, err_fd)]:
            owned.remove(fd)
            os.close(fd)
    except BaseException:
        if pid > 0:   # a Ctrl-C just after the spawn: the child goes with it, as below
            _kill_and_reap(pid)
        for fd in owned:
            os.close(fd)
        raise
    outputs: dict[int, list[bytes]] = {fd: [] for fd in (out_fd, err_fd) if fd >= 0}
    try:
        _communicate(input or b"", writer, outputs, owned)
        try:
            returncode = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        except ChildProcessError:
            # SIGCHLD ignored (a setting our parent may hand down): the kernel reaped git and
            # its status is gone. subprocess calls that 0 too; its output is what we have.
            returncode = 0
    except BaseException:
        # As subprocess.run: the child does not outlive an interrupted call, nor stays a zombie.
        _kill_and_reap(pid)
        raise
    finally:
        for fd in owned:
            os.close(fd)
    return CompletedGit(["git", *args], returncode,
                        b"".join(outputs[out_fd]) if out_fd >= 0 else None,
                        b"".join(outputs[err_fd]) if err_fd >= 0 else None)


def _kill_and_reap(pid: int) -> None:
    import _signal
    try:
        os.kill(pid, _signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):   # pragma: no cover - reaped already
        pass


def _communicate(data: bytes, writer: int, outputs: dict[int, list[bytes]],
                 owned: list[int]) -> None:
    """Write DATA into WRITER (then close it) while reading every descriptor of
    OUTPUTS to its end: a child blocked writing one pipe while we wait on
    another, or on its input, would wait forever."""
    def close_writer() -> None:
        owned.remove(writer)
        os.close(writer)

    if writer >= 0 and not outputs:
        # Nothing to read: plain blocking writes.
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(writer, view):]
        except BrokenPipeError:
            pass   # git stopped reading (it exited, or needed no more): as subprocess.run
        close_writer()
        return
    if writer >= 0 and not data:
        close_writer()
        writer = -1
    if writer < 0 and len(outputs) == 1:
        # One pipe to drain: plain blocking reads, no poller.
        ((fd, chunks),) = outputs.items()
        while chunk := os.read(fd, _CHUNK):
            chunks.append(chunk)
        return
    import select
    poller = select.poll()
    for fd in outputs:
        poller.register(fd, select.POLLIN)
    view = memoryview(data)
    if writer >= 0:
        os.set_blocking(writer, False)
        poller.register(writer, select.POLLOUT)
    reading = len(outputs)
    while reading or writer >= 0:
        for fd, _ in poller.poll():
            if fd == writer:
                try:
                    view = view[os.write(writer, view):]
                except BlockingIOError:
                    continue
                except BrokenPipeError:
                    view = view[:0]
                if not view:
                    poller.unregister(writer)
                    close_writer()
                    writer = -1
            elif chunk := os.read(fd, _CHUNK):
                outputs[fd].append(chunk)
            else:
                poller.unregister(fd)
                reading -= 1
