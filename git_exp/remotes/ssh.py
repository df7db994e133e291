"""ssh://[user@]host[:port]/path and [user@]host:path: objects on any machine you can ssh to.

Through the user's own `ssh`, chosen as Git chooses it (GIT_SSH_COMMAND,
core.sshCommand, GIT_SSH, else `ssh`), so ~/.ssh/config, agents,
ProxyJump and known_hosts behave as they do for `git push`. The server
needs a POSIX shell and its usual tools (sh, cat, wc, mkdir, mv, find,
tar), not git-exp. The layout is the cache's: PATH/files/sha256/<2>/<62>.

Round trips are few (scripts in sshscripts.py): has_many is one command for
any number of hashes; a get batch is one command that lists the sizes of
up to a few hundred objects (`wc -c`) and streams them back to back
(`cat`), each hashed on arrival here and published in the cache as it
completes; a put batch is one tar stream unpacked into a private temporary
folder on the server and moved into place only when the stream ended with
its closing COMMIT entry, which is written only after every object in it
hashed right here. An interrupted put leaves that folder behind; the trap
in the script removes it, and a later put removes any older than a day.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import tarfile
import tempfile
import hashlib
import time
from typing import IO, Iterable, Iterator
from urllib.parse import unquote, urlsplit

from git_exp.data.hashing import CHUNK_SIZE, is_valid_hash
from git_exp.errors import ExpError
from git_exp.remotes import sshscripts
from git_exp.remotes.base import (DataRemote, Items, ObjectMismatch, RemoteUnavailable, TransferCancelled,
                                  check_hash, write_verified)

_MAX_LINE = 4096   # a header line from the server longer than this is not ours


def parse_url(url: str) -> tuple[str, str | None, str]:
    """(destination '[user@]host', port or None, path) of an ssh:// or scp-like location.

    A host or user starting with '-' is refused, as Git refuses it: ssh
    would read it as an option (-oProxyCommand=... runs a command), and a
    location can come from a committed .expconfig.
    """
    dest, port, path = _split(url)
    user, _, host = dest.rpartition("@")
    if host.startswith("-") or user.startswith("-") or any(c.isspace() for c in dest):
        raise ExpError(f"refusing the ssh location '{url}': its host or user could be read as "
                       "an ssh option",
                       hint="check remote.<name>.expdata and exp.remote (and .expconfig)")
    return dest, port, path


def _split(url: str) -> tuple[str, str | None, str]:
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme not in ("ssh", "git+ssh", "ssh+git") or not parts.hostname:
            raise ExpError(f"'{url}' is not an ssh location",
                           hint="write it ssh://[user@]host[:port]/path or [user@]host:path")
        host = parts.hostname
        if ":" in host:
            host = f"[{host}]"
        dest = f"{unquote(parts.username)}@{host}" if parts.username else host
        path = unquote(parts.path)
        if path.startswith("/~"):
            path = path[1:]  # ssh://host/~/data and ssh://host/~user/data: from a home
        return dest, str(parts.port) if parts.port else None, path or "."
    host, sep, path = url.partition(":")
    if not sep or not host:
        raise ExpError(f"'{url}' is not an ssh location",
                       hint="write it ssh://[user@]host[:port]/path or [user@]host:path")
    return host, None, path or "."


def ssh_command(cwd: str | None = None) -> list[str]:
    """The ssh program and options, chosen as Git chooses them."""
    command = os.environ.get("GIT_SSH_COMMAND")
    if not command:
        from git_exp.git import git_text
        command = git_text(["config", "--get", "core.sshCommand"], cwd=cwd or os.getcwd(),
                           check=False).strip()
    if command:
        # Git runs it through the shell, so quoting and variables work as there.
        return ["sh", "-c", command + ' "$@"', command]
    program = os.environ.get("GIT_SSH")
    return [program] if program else ["ssh"]


def _shell_path(path: str) -> str:
    """PATH as a shell word on the server; '~/x' and '~user/x' keep their home."""
    if path == "~" or path.startswith("~/"):
        return '"$HOME"' + (shlex.quote(path[1:]) if len(path) > 1 else "")
    if path.startswith("~"):
        user, _, rest = path[1:].partition("/")
        if user.isidentifier():
            return "~" + user + (shlex.quote("/" + rest) if rest else "")
    return shlex.quote(path)


class _Hashing:
    """Reads a local object for tarfile, hashing and reporting it, stopping on cancel."""

    def __init__(self, f: IO[bytes], remote: SSHRemote, hash: str) -> None:
        self.f, self.remote, self.hash = f, remote, hash
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        if self.remote.stop.is_set():
            raise TransferCancelled()
        block = self.f.read(n)
        self.digest.update(block)
        self.remote.report_bytes(self.hash, len(block))
        return block


class SSHRemote(DataRemote):
    batch_size = 256
    batch_bytes = 64 * 1024 * 1024   # a put batch is all-or-nothing: keep a rerun's loss small

    def __init__(self, url: str, cwd: str | None = None):
        super().__init__()
        self.url = url
        self.dest, self.port, self.path = parse_url(url)
        self._ssh = ssh_command(cwd)
        self._root = _shell_path(self.path)

    # -- running scripts -------------------------------------------------------

    def _argv(self, script: str) -> list[str]:
        port = ["-p", self.port] if self.port else []
        # The login shell on the server may not be sh: run the script with sh.
        return self._ssh + port + [self.dest, "sh -c " + shlex.quote(script)]

    def _start(self, script: str,
               stdin: int | IO[bytes] | None = subprocess.PIPE) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
        err = tempfile.TemporaryFile()
        try:
            proc = subprocess.Popen(self._argv(script), stdin=stdin, stdout=subprocess.PIPE,
                                    stderr=err)
        except OSError as error:
            err.close()
            raise RemoteUnavailable(f"cannot run '{self._ssh[-1]}' for the data remote "
                                    f"'{self.url}': {error.strerror}",
                                    hint="install OpenSSH's client, or point GIT_SSH_COMMAND "
                                         "or core.sshCommand at yours") from None
        return proc, err

    def _failure(self, code: int, err: IO[bytes], doing: str) -> ExpError:
        err.seek(0)
        text = err.read(65536).decode("utf-8", "replace").strip()
        last = text.splitlines()[-1] if text else f"exit status {code}"
        ssh = (self._ssh[-1] if len(self._ssh) > 1 else self._ssh[0]) + \
            (f" -p {self.port}" if self.port else "")
        if code == 255:  # ssh's own failures: network, host key, authentication
            auth = any(w in text for w in ("Permission denied", "Host key verification",
                                           "Too many authentication"))
            what = "refused us" if auth else "cannot be reached"
            return RemoteUnavailable(
                f"the data remote '{self.url}' {what} while trying to {doing} it: {last}",
                hint=(f"check that '{ssh} {self.dest}' logs in without a prompt (keys, agent, "
                      "known_hosts, ~/.ssh/config; GIT_SSH_COMMAND or core.sshCommand choose "
                      "ssh options); rerun afterwards: what already arrived is not sent again"))
        return RemoteUnavailable(
            f"the data remote '{self.url}' failed to {doing} ({last})",
            hint=f"check that {self.path} on {self.dest} exists or can be created and is "
                 "writable, and that the server has a POSIX sh, tar, wc and find")

    def _run(self, script: str, data: bytes, doing: str) -> bytes:
        proc, err = self._start(script)
        try:
            out, _ = proc.communicate(data)
            if proc.returncode != 0:
                raise self._failure(proc.returncode, err, doing)
            return out
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            err.close()

    # -- the interface ---------------------------------------------------------

    def has_many(self, hashes: Iterable[str]) -> set[str]:
        wanted = sorted(set(hashes))
        for h in wanted:
            check_hash(h)
        if not wanted:
            return set()
        out = self._run(sshscripts.has_many(self._root), "\n".join(wanted).encode() + b"\n", "ask")
        asked = set(wanted)
        return {line for line in out.decode("ascii", "replace").split() if line in asked}

    def probe(self) -> None:
        self._run("exit 0", b"", "contact")

    def list(self) -> Iterator[str]:
        out = self._run(sshscripts.listing(self._root), b"", "list")
        for line in out.decode("ascii", "replace").splitlines():
            name = line[2:].replace("/", "", 1) if line.startswith("./") else ""
            if is_valid_hash(name):
                yield name

    def put(self, hash: str, path: str) -> int:
        return self.put_batch([(hash, path)])

    def get(self, hash: str, dest: str) -> int:
        return self.get_batch([(hash, dest)])

    def put_batch(self, items: Items) -> int:
        """Send ITEMS as one tar stream; they appear on the server together, or none of them."""
        for h, _ in items:
            check_hash(h)
        token = f"{int(time.time())}-{os.getpid()}-{os.urandom(4).hex()}"
        proc, err = self._start(sshscripts.put(self._root, token))
        stdin = proc.stdin
        assert stdin is not None   # _start opens a pipe to it
        sent = 0
        try:
            try:
                with tarfile.open(fileobj=stdin, mode="w|", format=tarfile.USTAR_FORMAT,
                                  bufsize=CHUNK_SIZE) as tar:
                    for h, path in items:
                        with open(path, "rb") as f:
                            info = tarfile.TarInfo(h)
                            info.size = os.fstat(f.fileno()).st_size
                            info.mode = 0o444
                            info.mtime = int(time.time())
                            reader = _Hashing(f, self, h)
                            tar.addfile(info, reader)
                        actual = reader.digest.hexdigest()
                        if actual != h[:64]:
                            raise ObjectMismatch(h, actual, path)
                        sent += info.size
                    # Only now, every object checked: the entry that lets the server publish.
                    tar.addfile(tarfile.TarInfo(sshscripts.COMMIT))
                stdin.close()
            except BrokenPipeError:
                pass  # the server went away: its exit status says why
            proc.wait()
            if proc.returncode != 0:
                raise self._failure(proc.returncode, err, "send to")
            return sent
        finally:
            if proc.poll() is None:
                proc.kill()  # a mismatch or Ctrl-C: no COMMIT was sent, nothing is published
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
            err.close()

    def get_batch(self, items: Items) -> int:
        """Receive ITEMS over one connection; each is hashed and published as it completes."""
        dests: dict[str, str] = dict(items)
        for h in dests:
            check_hash(h)
        proc, err = self._start(sshscripts.get(self._root))
        stdin, out = proc.stdin, proc.stdout
        assert stdin is not None and out is not None   # _start opens pipes to both
        received = 0
        try:
            try:
                stdin.write("\n".join(dests).encode() + b"\n")
                stdin.close()
            except BrokenPipeError:
                pass
            sizes: list[tuple[str, int]] = []
            while True:
                line = out.readline(_MAX_LINE)
                if not line:
                    break
                text = line.decode("ascii", "replace").strip()
                if text == "--":
                    break
                parts = text.split()
                if len(parts) == 2 and parts[1] != "total":
                    name = parts[1].replace("/", "", 1)
                    if name in dests and parts[0].isdigit():
                        sizes.append((name, int(parts[0])))
            for h, size in sizes:
                received += write_verified(_exactly(out, size, self.url), dests[h], h,
                                           source=f"{self.url} ({h})", replace=True,
                                           stop=self.stop, progress=self.report_bytes)
            proc.wait()
            if proc.returncode != 0:
                raise self._failure(proc.returncode, err, "fetch from")
            missing = [h for h in dests if h not in dict(sizes)]
            if missing:
                raise ExpError(f"object {missing[0]} is not in the data remote '{self.url}'")
            return received
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            out = proc.stdout
            if out:
                out.close()
            err.close()


def _exactly(stream: IO[bytes], size: int, where: str) -> Iterator[bytes]:
    left = size
    while left:
        block = stream.read(min(CHUNK_SIZE, left))
        if not block:
            raise RemoteUnavailable(f"the data remote '{where}' closed the connection mid-object",
                                    hint="rerun: objects that arrived whole are kept")
        left -= len(block)
        yield block
