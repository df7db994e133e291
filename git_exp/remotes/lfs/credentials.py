"""Authentication for an LFS store, as the user's Git does it.

https: `git credential fill` asks the user's credential helpers (or the
terminal, as `git push` would), `approve` stores what worked, `reject`
forgets what the server refused. It runs through git_exp.git, with the
repository's own config, so `credential.helper`, `credential.useHttpPath`
and per-URL helpers apply.

ssh: `ssh [user@]host git-lfs-authenticate <path> <upload|download>` over
the user's own ssh (GIT_SSH_COMMAND, core.sshCommand, GIT_SSH, as Git
chooses), which answers the href and headers to use, often with an expiry.

Secrets never appear in a message: errors name where credentials came from
(the helper's name, never its arguments, which may hold a token), not what
they were.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import threading
import time

from git_exp.errors import ExpError
from git_exp.git import git, reason

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.config import Config
    from git_exp.remotes.lfs.endpoint import SshTarget

_MAX_SSH_ANSWER = 1 << 16
_SAFE_PATH = re.compile(r"[A-Za-z0-9._/~+-]*")


class GitCredentials:
    """`git credential fill/approve/reject` for one URL, filled at most once."""

    def __init__(self, url: str, root: str):
        self.url = url
        self.root = root
        self._filled: bytes | None = None   # fill's answer, given back verbatim to approve/reject
        self._approved = False
        self._lock = threading.Lock()

    def header(self) -> str | None:
        """The Authorization header value once filled, else None."""
        if self._filled is None:
            return None
        fields = _parse(self._filled)
        import base64
        pair = f"{fields.get('username', '')}:{fields.get('password', '')}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    @property
    def filled(self) -> bool:
        return self._filled is not None

    def fill(self) -> str:
        with self._lock:
            if self._filled is None:
                proc = git(["credential", "fill"], cwd=self.root, check=False,
                           input=f"url={self.url}\n\n".encode())
                if proc.returncode != 0 or b"password=" not in proc.stdout:
                    why = reason(proc.stderr) if proc.stderr.strip() else "git credential fill gave none"
                    raise ExpError(f"no credentials for the LFS store {self.url}: {why}",
                                   hint="store them with a Git credential helper (see 'git help "
                                        "credentials'), or run the command from a terminal so "
                                        "Git can ask for them")
                self._filled = proc.stdout
            header = self.header()
            assert header is not None  # filled just above
            return header

    def approve(self) -> None:
        with self._lock:
            if self._filled is not None and not self._approved:
                self._approved = True
                git(["credential", "approve"], cwd=self.root, check=False,
                    input=self._filled + b"\n")

    def reject(self) -> None:
        with self._lock:
            if self._filled is not None:
                git(["credential", "reject"], cwd=self.root, check=False,
                    input=self._filled + b"\n")
                self._filled = None

    def source(self) -> str:
        """Where Git took the credentials from, in words without secrets."""
        proc = git(["config", "--get-urlmatch", "credential.helper", self.url],
                   cwd=self.root, check=False)
        helpers = [_helper_name(h) for h in
                   proc.stdout.decode("utf-8", "replace").splitlines() if h.strip()]
        if helpers:
            return "git credential (credential.helper: " + ", ".join(helpers) + ")"
        return "git credential (no credential.helper: the terminal prompt)"

    def hint(self) -> str:
        return ("the refused credentials were removed from your credential helper ('git "
                "credential reject'); run the command again to give new ones (for GitHub and "
                "most hosts: a personal access token as the password)")


def _helper_name(helper: str) -> str:
    helper = helper.strip()
    if helper.startswith("!"):
        return "an inline shell helper"
    first = helper.split()[0] if helper.split() else helper
    return os.path.basename(first)


def _parse(answer: bytes) -> dict[str, str]:
    fields = {}
    for line in answer.decode("utf-8", "surrogateescape").splitlines():
        key, eq, value = line.partition("=")
        if eq:
            fields[key] = value
    return fields


# -- ssh: git-lfs-authenticate ---------------------------------------------

def ssh_command(config: Config) -> tuple[list[str], bool]:
    """argv prefix for the user's ssh, and whether it is PuTTY's plink (-P for the port)."""
    command = os.environ.get("GIT_SSH_COMMAND") or config.get("core.sshCommand")
    if command:
        # Git runs these through the shell; so do we, with our arguments after.
        words = shlex.split(command) if command.strip() else ["ssh"]
        program = words[0] if words else "ssh"
        return ["sh", "-c", command + ' "$@"', "ssh"], _is_plink(program)
    program = os.environ.get("GIT_SSH") or "ssh"
    return [program], _is_plink(program)


def _is_plink(program: str) -> bool:
    base = os.path.splitext(os.path.basename(program))[0].lower()
    return base in ("plink", "tortoiseplink")


def ssh_authenticate(target: SshTarget, operation: str, config: Config) -> dict:
    """Ask the SSH server for LFS access: {"href"?, "header", "expires"} (expires: a time.time())."""
    prefix, plink = ssh_command(config)
    args = list(prefix)
    if plink and os.path.basename(prefix[0]).lower().startswith("tortoiseplink"):
        args.append("-batch")
    if target.port:
        args += ["-P" if plink else "-p", target.port]
    path = target.path if _SAFE_PATH.fullmatch(target.path) else shlex.quote(target.path)
    args += [target.user_host, f"git-lfs-authenticate {path} {operation}"]
    where = f"ssh {target.user_host} git-lfs-authenticate {target.path} {operation}"
    try:
        proc = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ExpError(f"'{where}' could not run: {err}") from None
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ExpError(f"'{where}' failed: {lines[-1] if lines else f'exit status {proc.returncode}'}")
    try:
        answer = json.loads(proc.stdout[:_MAX_SSH_ANSWER].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ExpError(f"'{where}' did not answer JSON") from None
    if not isinstance(answer, dict):
        raise ExpError(f"'{where}' did not answer a JSON object")
    header = answer.get("header") or {}
    if not isinstance(header, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                               for k, v in header.items()):
        raise ExpError(f"'{where}' answered a malformed header")
    href = answer.get("href")
    if href is not None and (not isinstance(href, str)
                             or not href.lower().startswith(("https://", "http://"))):
        raise ExpError(f"'{where}' answered an href that is not an http(s) URL")
    return {"href": href, "header": header, "expires": expiry(answer)}


def expiry(action: dict) -> float | None:
    """When an action (or an ssh answer) expires, as time.time(); None if it does not say.

    expires_in is preferred over expires_at, as the spec says: it does not
    depend on the two clocks agreeing.
    """
    now = time.time()
    expires_in = action.get("expires_in")
    if isinstance(expires_in, int) and not isinstance(expires_in, bool):
        return now + expires_in
    expires_at = action.get("expires_at")
    if isinstance(expires_at, str) and expires_at:
        from datetime import datetime
        text = expires_at.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            when = datetime.fromisoformat(text).timestamp()
        except (ValueError, OverflowError, OSError):
            return None
        return when if when > 0 else None  # git-lfs servers send year 1 for "never"
    return None
