"""Which data remote a location names, and which location pairs with a Git remote.

The kinds of data remote live beside this module (directory.py, s3.py,
ssh.py, lfs/), behind the interface in base.py; callers import a kind's
names from its own module and ask this one which remote a name means.

A location is a directory path or file:// URL (DirectoryRemote), or a URL
whose scheme is in _SCHEMES: s3://BUCKET/PREFIX, ssh://[user@]host[:port]/path
and the scp-like [user@]host:path. Each kind's module is imported only when
a location of that kind is opened (boto3 alone costs a quarter second).

Which location pairs with a Git remote (first match wins):
  1. `remote.<name>.expdata` (the user's Git config, then the committed .expconfig)
  2. `exp.remote` (the same two places): the default for every remote
  3. a Git remote that is a local path or file:// URL keeps the data inside
     that repository, in `<its git dir>/exp/cache`, so a shared drive needs
     no setup at all; it is the same layout as every clone's own cache.
An LFS URL set for the remote (`lfs.url`, `remote.<name>.lfsurl`, `.lfsconfig`)
comes before 3; after it, a Git remote over http(s) or ssh pairs with its
host's Git LFS store (remotes/lfs/). Anything else is an error that names
the config command to run.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable
from urllib.parse import unquote, urlsplit

from git_exp.errors import ExpError
from git_exp.remotes.base import DataRemote
from git_exp.remotes.directory import DirectoryRemote
from git_exp.repo import Repository

if TYPE_CHECKING:
    from git_exp.config import Config
    from git_exp.remotes.lfs.endpoint import Endpoint


# -- which location a Git remote pairs with ---------------------------------

def local_path(url: str, base: str) -> str | None:
    """The directory URL names if it is a local path or file:// URL, else None.

    Follows Git's own rule: "scheme://" is a URL, a colon before the first
    slash is scp-like "host:path" (SSH), anything else is a path, relative
    ones taken from BASE (Git runs push and fetch from the top of the work
    tree, and so does the pre-push hook).
    """
    if url.startswith("file://"):
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            return None
        return unquote(parts.path)
    if "://" in url:
        return None
    colon, slash = url.find(":"), url.find("/")
    if colon != -1 and (slash == -1 or colon < slash) and not _drive_letter(url):
        return None
    path = os.path.expanduser(url)
    return os.path.normpath(os.path.join(base, path))


def _drive_letter(url: str) -> bool:
    return os.name == "nt" and len(url) > 1 and url[1] == ":" and url[0].isalpha()


def _read_gitfile(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read().strip()
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    target = text[len("gitdir:"):].strip()
    return os.path.normpath(os.path.join(os.path.dirname(path), target))


def _looks_like_git_dir(path: str) -> bool:
    return (os.path.isfile(os.path.join(path, "HEAD"))
            and os.path.isdir(os.path.join(path, "objects"))
            and os.path.isdir(os.path.join(path, "refs")))


def common_git_dir(path: str) -> str | None:
    """The common Git dir of the repository at PATH (bare or not), else None.

    Read from the files themselves rather than asked of `git rev-parse`: a
    repository on a shared drive is often owned by someone else, and Git
    refuses to look into it ('dubious ownership') although pushing to it
    works. The candidates are the ones Git tries for a local URL.
    """
    for base in (path, path + ".git"):
        dotgit = os.path.join(base, ".git")
        git_dir: str | None
        if os.path.isdir(dotgit) and _looks_like_git_dir(dotgit):
            git_dir = dotgit
        elif os.path.isfile(dotgit):
            git_dir = _read_gitfile(dotgit)
        elif _looks_like_git_dir(base):
            git_dir = base
        else:
            continue
        if not git_dir:
            continue
        common = os.path.join(git_dir, "commondir")
        if os.path.isfile(common):  # a linked worktree: the data lives with the shared refs
            with open(common, encoding="utf-8") as f:
                git_dir = os.path.normpath(os.path.join(git_dir, f.read().strip()))
        return os.path.abspath(git_dir)
    return None


def open_location(location: str, base: str, where: str) -> DataRemote:
    """The data remote at LOCATION (a path or URL from config WHERE)."""
    path = local_path(location, base)
    if path is not None:
        return DirectoryRemote(path)
    scheme = location.split("://", 1)[0] if "://" in location else "ssh"
    opener = _SCHEMES.get(scheme)
    if opener is None:
        raise ExpError(f"data remote '{location}' (from {where}) is not supported: "
                       f"no {scheme} data remotes yet",
                       hint="use a directory (local disk, NFS or a mounted share), a file:// "
                            "URL, s3://BUCKET/PREFIX or ssh://[user@]host[:port]/path")
    return opener(location)


_SCHEMES: dict = {}  # scheme -> factory(url); SSH and S3 remotes register here


def register_scheme(scheme: str, factory: Callable[[str], DataRemote]) -> None:
    """Have open_location call FACTORY(url) for locations 'SCHEME://...'.

    The factory should import its module itself, so a kind costs nothing
    until a location of that kind is used.
    """
    _SCHEMES[scheme] = factory


def _open_s3(url: str) -> DataRemote:
    from git_exp.remotes.s3 import S3Remote
    return S3Remote(url)


def _open_ssh(url: str) -> DataRemote:
    from git_exp.remotes.ssh import SSHRemote
    return SSHRemote(url)


register_scheme("s3", _open_s3)
register_scheme("ssh", _open_ssh)      # also the scp-like host:path, see open_location
register_scheme("git+ssh", _open_ssh)
register_scheme("ssh+git", _open_ssh)


def configured_location(config: Config, remote: str) -> tuple[str, str] | None:
    """(location, the config key it came from) if one is set for REMOTE."""
    for key in (f"remote.{remote}.expdata", "exp.remote"):
        value = config.get(key)
        if value:
            return value, key
    return None


def locate(repo: Repository, remote: str, url: str | None = None,
           push: bool = False) -> tuple[str | Endpoint, str]:
    """(the data location paired with Git remote REMOTE, the setting that chose it).

    The location is a path or URL, or for a Git host's LFS store its
    remotes.lfs.endpoint.Endpoint.

    The second part is what `git exp remote` shows: the config key
    ('remote.origin.expdata', 'exp.remote') or 'local path'. URL is the Git
    remote's URL when the caller knows it (the pre-push hook is told);
    otherwise it is asked of `git ls-remote --get-url`, which applies
    url.<base>.insteadOf as Git would, without network access. PUSH: the
    location an upload goes to - for a Git host's LFS store, the one of the
    remote's push URL (pushurl, pushInsteadOf), as `git push` and its pre-push
    hook see it.
    """
    found = configured_location(repo.config, remote)
    if found:
        return found
    # Git LFS stores (remotes/lfs/): set explicitly, or derived from the URL below.
    from git_exp.remotes.lfs.endpoint import configured, derive
    endpoint = configured(repo.config, repo.root, remote, push)
    if endpoint is not None:
        return endpoint, f"LFS store {endpoint.href} ({endpoint.source})"
    if not url:
        from git_exp.git import git_text
        if push:   # fails for what is not a remote's name (a path, a URL): then as for a fetch
            url = git_text(["remote", "get-url", "--push", remote], cwd=repo.root, check=False)
        url = url or git_text(["ls-remote", "--get-url", remote], cwd=repo.root, check=False) or remote
    path = local_path(url, repo.root)
    if path is not None:
        git_dir = common_git_dir(path)
        if git_dir is None:
            raise ExpError(f"Git remote '{remote}' ({path}) is not a Git repository, "
                           "so it cannot hold the data",
                           hint=f"set the data location: git config remote.{remote}.expdata <dir>")
        return os.path.join(git_dir, "exp", "cache"), "local path"
    endpoint = derive(url)
    if endpoint is not None:
        return endpoint, f"LFS store of {url}"
    name = remote if remote != url else "<name>"
    raise ExpError(f"no data remote is configured for Git remote '{remote}' ({url})",
                   hint=f"tell git-exp where the data goes, for you alone:\n"
                        f"  git config remote.{name}.expdata /shared/drive/exp-data\n"
                        f"or for everyone, committed with the project:\n"
                        f"  git config -f .expconfig remote.{name}.expdata /shared/drive/exp-data")


def resolve(repo: Repository, remote: str, url: str | None = None, push: bool = False) -> DataRemote:
    """The data remote paired with Git remote REMOTE (a name, path or URL); see locate()."""
    location, why = locate(repo, remote, url, push)
    return open_located(repo, location, why)


def open_located(repo: Repository, location: str | Endpoint, why: str) -> DataRemote:
    """The data remote for what locate() returned."""
    if not isinstance(location, str):   # an LFS endpoint
        from git_exp.remotes.lfs import open_store
        return open_store(repo, location)
    return open_location(location, repo.root, why)
