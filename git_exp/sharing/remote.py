"""Data remotes: where cached objects are shared, and which one a Git remote pairs with.

A data remote is four operations, so SSH or S3-compatible remotes can be
added beside DirectoryRemote (one entry in _SCHEMES) without a caller
changing:

    has_many(hashes) -> the subset it holds, asked in bulk
    put(hash, path)  -> bytes sent (0 when it already had the object)
    get(hash, dest)  -> bytes received; DEST appears whole and verified, or not at all
    list()           -> every object hash it holds

Objects are immutable and named by their SHA-256, so a remote never needs
to rewrite one: a put of an object that is there does nothing, and two
people putting the same object at once both succeed with the same bytes.
Every object is hashed as it arrives, in both directions, and published
under its final name only after the hash matched.

Which location pairs with a Git remote (first match wins):
  1. `remote.<name>.expdata` (the user's Git config, then the committed .expconfig)
  2. `exp.remote` (the same two places): the default for every remote
  3. a Git remote that is a local path or file:// URL keeps the data inside
     that repository, in `<its git dir>/exp/cache`, so a shared drive needs
     no setup at all; it is the same layout as every clone's own cache.
An LFS URL set for the remote (`lfs.url`, `remote.<name>.lfsurl`, `.lfsconfig`)
comes before 3; after it, a Git remote over http(s) or ssh pairs with its
host's Git LFS store (sharing/lfs/). Anything else is an error that names
the config command to run.
"""
from __future__ import annotations

import errno
import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Iterator
from urllib.parse import unquote, urlsplit

from git_exp.data.cache import iter_object_dir
from git_exp.data.hashing import CHUNK_SIZE, is_valid_hash
from git_exp.data.links import current_umask, temp_name
from git_exp.errors import ExpError

# Above this many hashes, has_many stats them from threads: on NFS a stat is
# a round trip, and ten thousand of them one after another take seconds.
_PARALLEL_STAT = 64
_STAT_THREADS = 16


class ObjectMismatch(ExpError):
    """Bytes that arrived do not hash to the name they were sent under."""

    def __init__(self, hash: str, actual: str, source: str):
        super().__init__(f"object {hash} from '{source}' hashes to {actual}: refusing it",
                         hint="the copy at the source is corrupt; delete it and send it again "
                              "from a clone that has a good copy")
        self.hash = hash
        self.actual = actual


class TransferCancelled(ExpError):
    """A transfer was stopped (Ctrl-C, or another object failed) before this object completed."""

    def __init__(self):
        super().__init__("transfer cancelled")


class DataRemote:
    """The interface every data remote implements; see the module docstring.

    cancel() is the one shared piece: it asks every transfer in flight to
    stop at its next chunk (pass self.stop to write_verified), so Ctrl-C
    does not wait for a multi-gigabyte object to finish copying.
    """

    url: str = ""

    def __init__(self):
        self.stop = threading.Event()

    def cancel(self) -> None:
        self.stop.set()

    def has_many(self, hashes: Iterable[str]) -> set[str]:
        raise NotImplementedError

    def put(self, hash: str, path: str) -> int:
        raise NotImplementedError

    def get(self, hash: str, dest: str) -> int:
        raise NotImplementedError

    def list(self) -> Iterator[str]:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.url


def _check_hash(hash: str) -> None:
    if not is_valid_hash(hash):
        raise ExpError(f"malformed object hash '{hash}'",
                       hint="expected 64 lowercase hex digits, optionally followed by .dir")


def _chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb", buffering=0) as f:
        while True:
            block = f.read(CHUNK_SIZE)
            if not block:
                return
            yield block


def write_verified(chunks: Iterable[bytes], dest: str, hash: str, source: str,
                   replace: bool = False, stop: threading.Event | None = None) -> int:
    """Write CHUNKS to DEST if they hash to HASH; the bytes written.

    The bytes go to a hidden temporary name beside DEST and are checked
    before DEST exists, so a crash, Ctrl-C, exception or STOP leaves no object
    under its final name (at worst a stray '.*.tmp' file, which nothing
    mistakes for an object). Without REPLACE an object already at DEST is
    never touched: it is published with link(), which refuses to overwrite.
    Remotes other than directories use this too, so every arrival is checked
    the same way. A directory object's name is the SHA-256 of its manifest
    followed by '.dir', so the first 64 characters are what the bytes hash to.
    """
    _check_hash(hash)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tmp = temp_name(dest)
    digest = hashlib.sha256()
    size = 0
    try:
        with open(tmp, "xb") as out:
            for block in chunks:
                if stop is not None and stop.is_set():
                    raise TransferCancelled()
                digest.update(block)
                out.write(block)
                size += len(block)
        actual = digest.hexdigest()
        if actual != hash[:64]:
            raise ObjectMismatch(hash, actual, source)
        os.chmod(tmp, 0o444 & ~current_umask())
        _publish(tmp, dest, replace)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
    return size


def _publish(tmp: str, dest: str, replace: bool) -> None:
    if replace:
        os.replace(tmp, dest)
        return
    try:
        os.link(tmp, dest)  # atomic, and fails rather than overwrite
    except FileExistsError:
        pass  # someone else published the same object: same name, same bytes
    except OSError as err:
        # Some shared filesystems (SMB, FAT, a few NFS setups) have no hard
        # links. Rename instead: if another writer wins the race in between,
        # its object and ours are the same bytes.
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV,
                             errno.EMLINK, errno.ENOSYS):
            raise
        if not os.path.exists(dest):
            os.replace(tmp, dest)


class DirectoryRemote(DataRemote):
    """Objects in a directory (local disk, NFS, a mounted share), laid out like the cache.

    <root>/files/sha256/<2 hex>/<rest>: the same layout as every clone's
    `.git/exp/cache`, so a repository's own cache can serve as the remote of
    others, and a directory remote can be read as a cache.
    """

    def __init__(self, root: str):
        super().__init__()
        self.root = os.path.abspath(root)
        self.url = self.root
        self._objects = os.path.join(self.root, "files", "sha256")

    def object_path(self, hash: str) -> str:
        _check_hash(hash)
        return os.path.join(self._objects, hash[:2], hash[2:])

    def has_many(self, hashes: Iterable[str]) -> set[str]:
        wanted = sorted(set(hashes))
        paths = [self.object_path(h) for h in wanted]
        if len(paths) > _PARALLEL_STAT:
            with ThreadPoolExecutor(_STAT_THREADS) as pool:
                present = list(pool.map(os.path.isfile, paths))
        else:
            present = [os.path.isfile(p) for p in paths]
        return {h for h, there in zip(wanted, present) if there}

    def put(self, hash: str, path: str) -> int:
        dest = self.object_path(hash)
        if os.path.isfile(dest):
            return 0  # never rewritten: its name is its content
        return write_verified(_chunks(path), dest, hash, source=path, stop=self.stop)

    def get(self, hash: str, dest: str) -> int:
        src = self.object_path(hash)
        try:
            return write_verified(_chunks(src), dest, hash, source=src, replace=True,
                                  stop=self.stop)
        except FileNotFoundError as err:
            if err.filename == src:
                raise ExpError(f"object {hash} is not in the data remote '{self.url}'") from None
            raise

    def list(self) -> Iterator[str]:
        return iter_object_dir(self._objects)


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
                       hint="use a directory (local disk, NFS or a mounted share) "
                            "or a file:// URL")
    return opener(location)


_SCHEMES: dict = {}  # scheme -> factory(url); SSH and S3 remotes register here


def configured_location(config, remote: str) -> tuple[str, str] | None:
    """(location, the config key it came from) if one is set for REMOTE."""
    for key in (f"remote.{remote}.expdata", "exp.remote"):
        value = config.get(key)
        if value:
            return value, key
    return None


def locate(repo, remote: str, url: str | None = None) -> tuple:
    """(the data location paired with Git remote REMOTE, the setting that chose it).

    The location is a path or URL, or for a Git host's LFS store its
    sharing.lfs.endpoint.Endpoint.

    The second part is what `git exp remote` shows: the config key
    ('remote.origin.expdata', 'exp.remote') or 'local path'. URL is the Git
    remote's URL when the caller knows it (the pre-push hook is told);
    otherwise it is asked of `git ls-remote --get-url`, which applies
    url.<base>.insteadOf as Git would, without network access.
    """
    found = configured_location(repo.config, remote)
    if found:
        return found
    # Git LFS stores (sharing/lfs/): set explicitly, or derived from the URL below.
    from git_exp.sharing.lfs.endpoint import configured, derive
    endpoint = configured(repo.config, repo.root, remote)
    if endpoint is not None:
        return endpoint, f"LFS store {endpoint.href} ({endpoint.source})"
    if not url:
        from git_exp.gitcmd import git_text
        url = git_text(["ls-remote", "--get-url", remote], cwd=repo.root, check=False) or remote
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


def resolve(repo, remote: str, url: str | None = None) -> DataRemote:
    """The data remote paired with Git remote REMOTE (a name, path or URL); see locate()."""
    location, why = locate(repo, remote, url)
    return open_located(repo, location, why)


def open_located(repo, location, why: str) -> DataRemote:
    """The data remote for what locate() returned."""
    if not isinstance(location, str):   # an LFS endpoint
        from git_exp.sharing.lfs import open_store
        return open_store(repo, location)
    return open_location(location, repo.root, why)
