"""Another git-exp repository, read through the user's own `git`: for `git exp get` and `git exp ls`.

`git archive --remote` is refused by most hosts, so one commit is fetched
instead: a shallow (`--depth=1`), blobless (`--filter=blob:none`) fetch into
a bare repository in a temporary directory under the user's cache
($XDG_CACHE_HOME/git-exp, else ~/.cache/git-exp, else TMPDIR), removed
afterwards. Blobs come on demand (the temporary repository is a partial
clone of the URL): the few records git-exp reads - pointer files, exp.lock,
exp.yaml, .expconfig, .lfsconfig - in one batch fetch, and a Git-tracked
file only when `get` asks for it. A server that ignores the filter sends
every blob of that one commit, which works the same.

The data comes from that repository's data remote, found as
remotes/location.py's locate() would pair it for a Git remote with this URL,
reading the repository's own committed settings instead of the user's:
`--data-remote LOCATION` if given, else `remote.origin.expdata` or
`exp.remote` in its .expconfig, else an LFS URL in its .lfsconfig, else -
for a local path or file:// URL - `<its git dir>/exp/cache`, else the
host's Git LFS store.

Everything that arrives is untrusted: paths are checked before anything is
written (records, manifests), records are read with the same size limits
as everywhere (pointer files up to pointer.MAX_SIZE, settings files up to
64 KiB, YAML through bounded.py), and every data object is checked against
its SHA-256 on arrival.
"""
from __future__ import annotations

import os
import shutil
import tempfile

from git_exp.data.hashing import HashInfo
from git_exp.errors import ExpError, UsageError
from git_exp.git import GitCommandError, git, reason
from git_exp.repo import Repository

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Iterable

    from git_exp.git.run import CompletedGit
    from git_exp.remotes.base import DataRemote

MAX_SETTINGS = 64 * 1024
_SETTINGS = (".expconfig", ".lfsconfig")


def temp_base() -> str:
    """Where the temporary clones go: the user's cache directory if writable, else TMPDIR."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "git-exp")
    try:
        os.makedirs(path, exist_ok=True)
        if os.access(path, os.W_OK | os.X_OK):
            return path
    except OSError:
        pass
    return tempfile.gettempdir()


def _git_error(proc: CompletedGit) -> str:
    return reason(proc.stderr, proc.returncode)


class Foreign:
    """One commit of the repository at URL (REV: branch, tag, experiment name or full sha)."""

    def __init__(self, url: str, rev: str | None = None, data_location: str | None = None) -> None:
        for what, value in (("URL", url), ("--rev", rev), ("--data-remote", data_location)):
            if value is not None and (not value or value.startswith("-")):
                raise UsageError(f"{what} '{value}' is not valid", hint="it cannot be empty or start with '-'")
        from git_exp.remotes.location import local_path
        self.local = local_path(url, os.getcwd())
        self.url = url
        # Git runs in the temporary directory: a relative path must not change meaning.
        self.fetch_url = self.local if self.local is not None and not url.startswith("file://") else url
        self.rev = rev
        self.data_location = data_location
        self.sha = ""
        self.tmp = ""
        self.repo: Repository | None = None
        self.tree: dict[str, tuple[str, str]] = {}   # path -> (mode, blob/commit oid)
        self._records: dict[str, HashInfo] | None = None
        self._remote: DataRemote | None = None
        self._missing: set[str] | None = None

    # -- the temporary clone ------------------------------------------------------------

    def __enter__(self) -> "Foreign":
        self.tmp = tempfile.mkdtemp(prefix="foreign-", dir=temp_base())
        try:
            self._clone()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._remote is not None:
            self._remote.cancel()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = ""

    def _git(self, args: list[str], check: bool = True,
             input: bytes | None = None) -> CompletedGit:
        return git(args, cwd=self.tmp, check=check, input=input)

    def _clone(self) -> None:
        git(["init", "-q", "--bare", self.tmp], cwd=self.tmp)
        self.repo = Repository(root=self.tmp, git_dir=self.tmp, common_dir=self.tmp)
        self._git(["remote", "add", "origin", self.fetch_url])
        fetch = ["fetch", "-q", "--no-tags", "--depth=1", "--filter=blob:none", "origin"]
        proc = self._git([*fetch, self.rev or "HEAD"], check=False)
        if proc.returncode != 0 and self.rev:
            sha = self._experiment(self.rev)
            if sha:
                proc = self._git([*fetch, sha], check=False)
        if proc.returncode != 0:
            what = f"'{self.rev}' of" if self.rev else "the HEAD of"
            raise ExpError(f"cannot fetch {what} {self.url}: {_git_error(proc)}",
                           hint="check the URL with 'git ls-remote URL'; --rev takes a branch, tag, "
                                "experiment name or full commit sha")
        self.sha = self._git(["rev-parse", "FETCH_HEAD^{commit}"]).stdout.decode().strip()
        out = self._git(["ls-tree", "-r", "-z", "--full-tree", self.sha]).stdout
        for entry in out.split(b"\0"):
            if entry:
                meta, _, name = entry.partition(b"\t")
                mode, _, oid = meta.decode().split(" ")
                self.tree[name.decode("utf-8", "surrogateescape")] = (mode, oid)

    def _experiment(self, name: str) -> str | None:
        """The commit of experiment NAME on the remote, asked with one ls-remote."""
        proc = self._git(["ls-remote", "origin", "refs/exps/*"], check=False)
        for line in proc.stdout.decode("utf-8", "surrogateescape").splitlines():
            sha, _, ref = line.partition("\t")
            if ref.rpartition("/")[2] == name and ref.count("/") == 3:
                return sha
        return None

    # -- blobs ----------------------------------------------------------------------------

    def missing(self) -> set[str]:
        """Blobs of the commit not fetched yet (listed without fetching them)."""
        if self._missing is None:
            out = self._git(["rev-list", "--objects", "--missing=print", self.sha]).stdout.decode()
            self._missing = {line[1:].split()[0] for line in out.splitlines() if line.startswith("?")}
        return self._missing

    def prefetch(self, oids: Iterable[str]) -> None:
        """Fetch the blobs OIDS lacks in one request (instead of one lazy fetch each)."""
        wanted = sorted(set(oids) & self.missing())
        if not wanted:
            return
        self._git(["-c", "fetch.negotiationAlgorithm=noop", "fetch", "-q", "origin", "--no-tags",
                   "--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none", "--stdin"],
                  check=False, input=("\n".join(wanted) + "\n").encode())
        self._missing = None

    def sizes(self, oids: Iterable[str]) -> dict[str, int]:
        """Sizes of the blobs OIDS that are here (missing ones are left out, not fetched)."""
        present = sorted(set(oids) - self.missing())
        if not present:
            return {}
        from git_exp.git.catfile import check_objects
        found = {}
        for parts in check_objects(self.tmp, present, "%(objectname) %(objectsize)"):
            if len(parts) == 2 and parts[1].isdigit():
                found[parts[0]] = int(parts[1])
        return found

    def blobs_to(self, items: list[tuple[str, str]]) -> None:
        """Write each blob OID to its new file DEST, through one `git cat-file --batch`.

        One process for a folder of thousands of files: a `git cat-file` each
        costs milliseconds apiece. The bytes are streamed, never held whole.
        """
        if not items:
            return
        from git_exp.git.catfile import CatFile
        with CatFile(self.tmp) as objects:
            for oid, dest in items:
                try:
                    copied = objects.copy_blob(oid, dest)
                except ExpError as exc:
                    raise ExpError(f"cannot read a file of {self.url}: {exc}") from None
                if not copied:
                    raise ExpError(f"cannot read a file of {self.url}: object {oid} is missing")

    def blob_to(self, oid: str, dest: str) -> None:
        """Write blob OID to the new file DEST (fetched now if it is not here)."""
        from git_exp.git.catfile import blob_to_file
        with open(dest, "xb") as fh:
            try:
                blob_to_file(self.tmp, oid, fh)
            except GitCommandError as exc:
                raise ExpError(f"cannot read a file of {self.url}: {exc.reason}") from None

    # -- records ---------------------------------------------------------------------------

    def records(self) -> dict[str, HashInfo]:
        """Data path -> HashInfo that the commit records (pointers, exp.lock), as data_at reads them."""
        if self._records is not None:
            return self._records
        from git_exp.data.pointer import MAX_SIZE, is_pointer_name
        from git_exp.worktree.records import LOCK, PIPELINE, commit_records
        blobs = {p: oid for p, (mode, oid) in self.tree.items() if mode in ("100644", "100755")}
        pointers = {p: oid for p, oid in blobs.items() if is_pointer_name(p)}
        special = {p: blobs[p] for p in (LOCK, PIPELINE) if p in blobs}
        settings = {p: blobs[p] for p in _SETTINGS if p in blobs}
        self.prefetch([*pointers.values(), *special.values(), *settings.values()])
        sizes = self.sizes(pointers.values())
        small = {p: oid.encode() for p, oid in pointers.items() if sizes.get(oid, MAX_SIZE + 1) <= MAX_SIZE}
        assert self.repo is not None  # set on entering the clone's context
        try:
            self._records = commit_records(self.repo, self.sha, small,
                                           {p: oid.encode() for p, oid in special.items()})
        except ExpError as err:
            raise ExpError(f"{self.url}: {err.message}", hint=err.hint) from None
        return self._records

    def _settings(self, name: str) -> dict[str, str]:
        """The keys of the committed settings file NAME (Git config syntax), bounded."""
        mode_oid = self.tree.get(name)
        if mode_oid is None or mode_oid[0] not in ("100644", "100755"):
            return {}
        oid = mode_oid[1]
        if self.sizes([oid]).get(oid, MAX_SETTINGS + 1) > MAX_SETTINGS:
            raise ExpError(f"{name} of {self.url} is missing or larger than {MAX_SETTINGS} bytes: not read")
        proc = self._git(["config", "--blob", oid, "-z", "--list"], check=False)
        if proc.returncode != 0:
            raise ExpError(f"cannot read {name} of {self.url}: {_git_error(proc)}")
        from git_exp.config import _normalize
        values = {}
        for entry in proc.stdout.decode("utf-8", "surrogateescape").split("\0"):
            key, _, value = entry.partition("\n")
            if key:
                values[_normalize(key)] = value
        return values

    # -- its data remote ------------------------------------------------------------------------

    def locate(self) -> tuple:
        """(location, why) of the repository's data remote; see the module docstring."""
        from git_exp.remotes.location import common_git_dir
        if self.data_location:
            return self._absolute(self.data_location, "--data-remote"), "--data-remote"
        self.records()   # fetches the settings files too
        shared = self._settings(".expconfig")
        for key in ("remote.origin.expdata", "exp.remote"):
            if shared.get(key):
                return self._absolute(shared[key], f"{key} in its .expconfig"), f"{key} in its .expconfig"
        from git_exp.config import Config
        from git_exp.remotes.lfs.endpoint import configured, derive
        lfs = {k: [v] for k, v in self._settings(".lfsconfig").items()}
        endpoint = configured(Config(lfs), self.tmp, "origin")
        if endpoint is not None:
            return endpoint, f"LFS store {endpoint.href} ({endpoint.source} in its .lfsconfig)"
        if self.local is not None:
            git_dir = common_git_dir(self.local)
            if git_dir is not None:
                return os.path.join(git_dir, "exp", "cache"), "local path"
        else:
            endpoint = derive(self.url)
            if endpoint is not None:
                return endpoint, f"LFS store of {self.url}"
        raise ExpError(f"{self.url} names no data remote for its data",
                       hint="its .expconfig sets none (remote.origin.expdata or exp.remote), and it is "
                            "neither a local repository nor a Git host with an LFS store; "
                            "name it: --data-remote LOCATION")

    def _absolute(self, location: str, where: str) -> str:
        from git_exp.remotes.location import local_path
        if "://" in location or local_path(location, "/") is None:
            return location       # a URL or scp-like ssh location
        path = os.path.expanduser(location)
        if os.path.isabs(path):
            return path
        if where == "--data-remote":
            return os.path.abspath(path)
        if self.local is None:
            raise ExpError(f"{where} of {self.url} is the relative path '{location}', which means "
                           "nothing here", hint="name the data remote: --data-remote LOCATION")
        return os.path.normpath(os.path.join(self.local, path))

    def data_remote(self) -> DataRemote:
        if self._remote is None:
            from git_exp.remotes.location import open_located
            assert self.repo is not None   # set by _clone(), in __enter__
            location, why = self.locate()
            self._remote = open_located(self.repo, location, why)
        return self._remote
