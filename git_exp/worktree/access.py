"""Reading one file of any revision: from Git, or from the data cache.

`git_exp.api.open()` is the front end. A path is what the commit (or the
work tree) holds: a Git blob, else data its pointer files or exp.lock
record - a tracked file, or a file inside a tracked folder, found through
the folder's manifest. Data missing from the cache is fetched from the data
remote first (fetch_objects), verified by its SHA-256 as every transfer is.
Reading a file inside a folder fetches that folder's manifest to a
temporary file and then that one file only: the cache never holds a
manifest without its files (see remotes/transfer.py).

Paths come from the caller and records from commits, possibly other
people's: a path is refused if it is absolute or climbs out with '..', and
a work-tree path that leads outside the work tree through a symlink is not
followed.
"""
from __future__ import annotations

import io
import os
import posixpath

from git_exp.errors import ExpError
from git_exp.git import git
from git_exp.relpaths import path_problem

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import IO

    from git_exp.data.cache import Cache
    from git_exp.data.hashing import ManifestEntry
    from git_exp.remotes.base import DataRemote
    from git_exp.repo import Repository

_BLOB_MODES = ("100644", "100755", "100664")


def clean_path(path: str) -> str:
    """PATH as a repo-relative posix path; ExpError when it leaves the repository."""
    rel = posixpath.normpath(path.replace(os.sep, "/")) if path else ""
    why = path_problem(rel) if rel not in ("", ".") else "empty path"
    if why:
        raise ExpError(f"cannot open '{path}': {why}",
                       hint="give a path relative to the top of the repository")
    return rel


def open_file(repo: Repository, path: str, sha: str | None,
              not_found: type[ExpError] = ExpError) -> IO[bytes]:
    """A binary file object with PATH's content at commit SHA (None: the work tree).

    NOT_FOUND is the ExpError subclass raised when there is no such file.
    """
    rel = clean_path(path)
    where = "the workspace" if sha is None else f"commit {sha[:7]}"
    if sha is None:
        handle = _work_tree_file(repo, rel)
        if handle is not None:
            return handle
    else:
        blob = _git_blob(repo, sha, rel, where)
        if blob is not None:
            return io.BytesIO(blob)
    digest = _data_object(repo, sha, rel, where)
    if digest is None:
        raise not_found(f"'{rel}' does not exist in {where}",
                        hint="paths are relative to the top of the repository; "
                             "data must be tracked (git exp add) or a stage's out to be found")
    return _cache_file(repo, digest)


def _work_tree_file(repo: Repository, rel: str) -> IO[bytes] | None:
    full = os.path.join(repo.root, *rel.split("/"))
    if not os.path.lexists(full):
        return None
    real, top = os.path.realpath(full), os.path.realpath(repo.root)
    if os.path.commonpath([real, top]) != top:
        raise ExpError(f"'{rel}' leads outside the work tree through a symbolic link: not read")
    if os.path.isdir(real):
        raise ExpError(f"'{rel}' is a folder in the workspace, not a file")
    if not os.path.isfile(real):
        return None   # a dangling link: perhaps data not checked out, look at the records
    return open(real, "rb")


def _git_blob(repo: Repository, sha: str, rel: str, where: str) -> bytes | None:
    out = git(["--literal-pathspecs", "ls-tree", "-z", sha, "--", rel], cwd=repo.root).stdout
    for record in out.split(b"\0"):
        head, _, name = record.partition(b"\t")
        if name.decode("utf-8", "surrogateescape") != rel:
            continue
        mode, kind, oid = head.decode().split(" ")
        if kind == "tree":
            raise ExpError(f"'{rel}' is a folder in {where}, not a file")
        if mode not in _BLOB_MODES:
            raise ExpError(f"'{rel}' is a symbolic link or a submodule in {where}, not a file")
        return git(["cat-file", "blob", oid], cwd=repo.root).stdout
    return None


def _data_object(repo: Repository, sha: str | None, rel: str, where: str) -> str | None:
    """The cache object holding REL at SHA, or None when nothing records it."""
    from git_exp.data.cache import Cache
    from git_exp.worktree.records import data_at
    records = data_at(repo, sha)
    info = records.get(rel)
    if info is not None:
        if info.is_dir:
            raise ExpError(f"'{rel}' is a folder of data in {where}, not a file",
                           hint=f"open a file inside it: '{rel}/<name>'")
        return info.hash
    cache = Cache(repo.exp_dir)
    for top, info in sorted(records.items()):
        if not (info.is_dir and rel.startswith(top + "/")):
            continue
        inner = rel[len(top) + 1:]
        for entry in _manifest(repo, cache, info.hash):
            if entry.relpath == inner:
                return entry.hash
            if entry.relpath.startswith(inner + "/"):
                raise ExpError(f"'{rel}' is a folder in {where}, not a file")
    return None


def _manifest(repo: Repository, cache: Cache, digest: str) -> list[ManifestEntry]:
    if cache.has(digest):
        return cache.load_manifest(digest)
    from git_exp.data.hashing import parse_manifest
    from git_exp.data.links import temp_name
    remote = data_remote(repo)
    tmp = temp_name(cache.object_path(digest))
    os.makedirs(os.path.dirname(tmp), exist_ok=True)
    try:
        if digest not in remote.has_many([digest]):
            raise _lacking(remote, [digest])
        remote.get(digest, tmp)   # verified against its hash on arrival
        with open(tmp, "rb") as fh:
            return parse_manifest(fh.read())
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def _cache_file(repo: Repository, digest: str) -> IO[bytes]:
    from git_exp.data.cache import Cache
    cache = Cache(repo.exp_dir)
    if not cache.has(digest):
        fetch_objects(repo, {digest})
    return open(cache.object_path(digest), "rb")


# -- the data remote ---------------------------------------------------------------

def default_remote(repo: Repository) -> str:
    """The Git remote whose data remote we read: the current branch's upstream, else origin,
    else the only remote there is."""
    branch = git(["symbolic-ref", "-q", "--short", "HEAD"], cwd=repo.root, check=False)
    if branch.returncode == 0:
        name = branch.stdout.decode().strip()
        upstream = git(["config", "--get", f"branch.{name}.remote"], cwd=repo.root, check=False)
        if upstream.returncode == 0 and upstream.stdout.strip() not in (b"", b"."):
            return upstream.stdout.decode().strip()
    remotes = git(["remote"], cwd=repo.root).stdout.decode().split()
    if "origin" in remotes or len(remotes) != 1:
        if not remotes:
            raise ExpError("the data is not in the cache and this repository has no remote to fetch it from",
                           hint="add the remote that has it: git remote add origin <url>")
        return "origin" if "origin" in remotes else remotes[0]
    return remotes[0]


def data_remote(repo: Repository) -> DataRemote:
    from git_exp.remotes.location import resolve
    return resolve(repo, default_remote(repo))


def fetch_objects(repo: Repository, hashes: set[str]) -> None:
    """Bring the objects HASHES into the cache from the data remote, or raise ExpError.

    Kept to this one function so it can hand over to remotes/fetch.py's
    fetch_missing (fetching what a command needs, with progress) once that exists.
    """
    from git_exp.data.cache import Cache
    from git_exp.remotes.transfer import download
    remote = data_remote(repo)
    _, lacking = download(Cache(repo.exp_dir), remote, hashes)
    if lacking:
        raise _lacking(remote, sorted(lacking))


def _lacking(remote: DataRemote, hashes: list[str]) -> ExpError:
    shown = ", ".join(h[:12] for h in hashes[:3]) + (" ..." if len(hashes) > 3 else "")
    return ExpError(f"the data is neither in the cache nor on the data remote {remote} ({shown})",
                    hint="push it from the clone that has it: git exp push <remote>")
