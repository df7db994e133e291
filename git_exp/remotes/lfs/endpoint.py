"""Where a Git remote's LFS store is: found as git-lfs finds it.

First match wins, each key read from the user's Git config, then from a
committed `.lfsconfig` at the top of the work tree (Git config syntax; only
these keys are read from it, as git-lfs does):

  1. `lfs.url`
  2. `remote.<name>.lfsurl`
  3. derived from the Git remote's URL, as the Git LFS server-discovery spec
     says: `https://host/org/repo(.git)` -> `https://host/org/repo.git/info/lfs`;
     an SSH remote (`ssh://[user@]host[:port]/path`, scp-like `[user@]host:path`)
     -> `https://host/path.git/info/lfs`, and `git-lfs-authenticate` over the
     user's ssh may name another href (see credentials.py).

For an upload, `lfs.pushurl` and `remote.<name>.lfspushurl` come first,
and the URL derived from is the remote's push URL (`remote.<name>.pushurl`,
`url.<base>.pushInsteadOf`), as git-lfs does: a remote fetched over one
host and pushed over another sends its data where its commits go.

The ssh port never carries over to the https form: it is the SSH server's.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from git_exp.errors import ExpError

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.config import Config

LFSCONFIG = ".lfsconfig"


@dataclass(frozen=True)
class SshTarget:
    """What `ssh [-p PORT] USER_HOST git-lfs-authenticate PATH OP` needs."""
    user_host: str
    port: str | None
    path: str


@dataclass(frozen=True)
class Endpoint:
    href: str                    # the LFS server URL; the batch API is href + /objects/batch
    source: str                  # the setting it came from, or "derived from <git url>"
    ssh: SshTarget | None = None  # set for SSH remotes: ask git-lfs-authenticate first


# [user@]host:path, where host has no slash (Git's rule for scp-like syntax),
# and the bracketed [user@host:port]:path, the one scp-like form with a port.
_SCP = re.compile(r"^(?:(?P<user>[^@/:\[\]]+)@)?(?P<host>[^:/\[\]]+):(?P<path>.*)$")
_SCP_PORT = re.compile(r"^\[(?:(?P<user>[^@\]]+)@)?(?P<host>[^:\]]+)(?::(?P<port>\d+))?\]:(?P<path>.*)$")


def _with_info_lfs(url: str) -> str:
    url = url.rstrip("/")
    return url + "/info/lfs" if url.endswith(".git") else url + ".git/info/lfs"


def strip_userinfo(url: str) -> str:
    """URL without user:password@, for messages and for the request line."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _from_ssh(user: str | None, host: str, port: str | None, path: str, url: str) -> Endpoint:
    if not host:
        raise ExpError(f"cannot tell the host of the SSH remote '{url}'")
    ssh_path = path[1:] if path.startswith("/") else path
    https = _with_info_lfs(f"https://{host}/{ssh_path}")
    target = SshTarget(f"{user}@{host}" if user else host, port or None, ssh_path)
    return Endpoint(https, f"derived from {url}", target)


def derive(url: str) -> Endpoint | None:
    """The LFS endpoint the spec derives from Git remote URL, or None if it has none.

    None for local paths, file:// and remote helpers (`transport::address`):
    those have no LFS server to guess.
    """
    url = url.strip()
    if not url or "::" in url.split("/", 1)[0]:
        return None
    if "://" in url:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https"):
            return Endpoint(_with_info_lfs(url), f"derived from {strip_userinfo(url)}")
        if scheme == "git":  # git:// has no auth; git-lfs asks https on the same path
            return Endpoint(_with_info_lfs(urlunsplit(parts._replace(scheme="https"))),
                            f"derived from {url}")
        if scheme in ("ssh", "git+ssh", "ssh+git"):
            path = parts.path
            if path.startswith("/~"):  # ssh://host/~user/repo: a path under a home dir
                path = path[1:]
            return _from_ssh(parts.username, parts.hostname or "", str(parts.port or "") or None,
                             path, url)
        return None
    if url.startswith("/") or url.startswith("."):
        return None
    match = _SCP_PORT.match(url) or _SCP.match(url)
    if match is None:
        return None
    host = match.group("host")
    if os.name == "nt" and len(host) == 1:
        return None  # C:\path is a drive letter, not a host
    port = match.groupdict().get("port")
    return _from_ssh(match.group("user"), host, port or None, match.group("path"), url)


def _lfsconfig(root: str) -> dict[str, str]:
    """lfs.url, lfs.pushurl, remote.*.lfsurl and remote.*.lfspushurl from the
    committed .lfsconfig, if there is one."""
    path = os.path.join(root, LFSCONFIG)
    if not os.path.isfile(path) or os.path.islink(path):
        return {}
    from git_exp.git import git
    proc = git(["config", "-z", "--list", "--file", path], cwd=root, check=False)
    if proc.returncode != 0:
        raise ExpError(f"cannot read {LFSCONFIG}: "
                       f"{proc.stderr.decode('utf-8', 'replace').strip() or 'bad syntax'}",
                       hint="it uses Git's config syntax; check it with "
                            f"'git config -f {LFSCONFIG} --list'")
    found = {}
    for entry in proc.stdout.decode("utf-8", "surrogateescape").split("\0"):
        key, _, value = entry.partition("\n")
        key = _normalize(key)
        if key in ("lfs.url", "lfs.pushurl") or (
                key.startswith("remote.") and key.endswith((".lfsurl", ".lfspushurl"))):
            found[key] = value
    return found


def _normalize(key: str) -> str:
    # Git's rule: section and name ignore case, a subsection (the remote's name) does not.
    section, _, rest = key.partition(".")
    sub, dot, name = rest.rpartition(".")
    return f"{section.lower()}.{sub}{dot}{name.lower()}"


def _explicit(value: str, source: str) -> Endpoint:
    value = value.strip()
    if urlsplit(value).scheme.lower() not in ("http", "https"):
        raise ExpError(f"the LFS URL '{strip_userinfo(value)}' (from {source}) is not an "
                       "http or https URL",
                       hint="an LFS server URL looks like https://host/org/repo.git/info/lfs")
    return Endpoint(value, source)


def configured(config: Config, root: str, remote: str, push: bool = False) -> Endpoint | None:
    """An LFS endpoint set explicitly for REMOTE (Git config or .lfsconfig), else None.
    PUSH: for an upload, where the push-only keys come first."""
    committed = None
    keys: tuple[str, ...] = ("lfs.url", f"remote.{remote}.lfsurl")
    if push:
        keys = ("lfs.pushurl", f"remote.{remote}.lfspushurl") + keys
    for key in keys:
        value = config.get(key)
        if value:
            return _explicit(value, key)
        if committed is None:
            committed = _lfsconfig(root)
        value = committed.get(_normalize(key))
        if value:
            return _explicit(value, f"{key} in {LFSCONFIG}")
    return None
