"""Bringing the objects some records need into the cache from a data remote, on demand.

A fresh clone has the records (pointers, exp.lock) but not the data. As
Git LFS does on checkout, `git exp checkout`, the post-checkout and
post-merge hooks, `git exp apply` and `git exp repro` first try the cache;
only for the objects it lacks do they call `auto_fetch` (or `fetch_missing`
with those records), which asks the data remote of the current branch's
upstream (else `origin`), unless `exp.fetch.auto` is false. A no-op hook
never gets here, so it imports no transfer or network code. `git exp fetch`
(sharing/fetch.py) reads the records of whole revisions and ends in the
same step, download_wanted: one has_many, then parallel, verified transfers
of what the cache lacks.

This module knows records only as `data path -> HashInfo` maps handed to it:
reading them from commits is worktree/'s and sharing/'s job.

The cache is only ever added to: each object arrives under a temporary name
and the cache publishes it once its hash matched (transfer.download and
Cache.adopt), so a fetch that fails half way leaves whole objects and nothing
else. `auto_fetch` never raises for a data remote it cannot reach: a hook
must not fail the user's checkout because the network is down, so the
failure is returned for the caller to show as a warning with a hint.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping, Protocol, TypeVar

from git_exp.errors import ExpError
from git_exp.remotes.needs import Needs
from git_exp.remotes.transfer import DEFAULT_JOBS, Progress

if TYPE_CHECKING:
    from git_exp.data.cache import Cache
    from git_exp.data.hashing import HashInfo
    from git_exp.repo import Repository

AUTO_KEY = "exp.fetch.auto"

T = TypeVar("T")


class Refillable(Protocol):
    """What refill() reads and updates: a checkout's result (worktree.sync.SyncResult)."""

    missing: dict[str, list[str]]   # data path -> objects the cache lacks
    fetched: FetchReport | None     # set to the report of the fetch


@dataclass
class FetchReport:
    remote: str | None = None        # the Git remote whose data remote was asked
    location: str | None = None      # the data remote, once it was asked anything
    wanted: int = 0                  # objects the cache lacked
    objects: int = 0                 # objects received
    bytes: int = 0
    missing_count: int = 0           # objects the data remote lacks
    missing: str = ""                # "  <label>: <path>" lines for them
    error: ExpError | None = None    # auto_fetch only: why nothing could be fetched
    unreadable: list[str] = field(default_factory=list)  # -A: "<label>: why" of tips skipped


@dataclass
class Wants:
    """The objects some records need that the cache lacks, with who needs them."""

    needs: Needs = field(default_factory=Needs)      # hash -> [(label, path)]
    sizes: dict[str, int] = field(default_factory=dict)


class NoRemote(ExpError):
    """There is no Git remote to ask: not an error for an automatic fetch."""


def no_remote() -> NoRemote:
    return NoRemote("this repository has no Git remote to fetch data from",
                    hint="add one (git remote add origin URL), or name it: git exp fetch REMOTE")


def default_remote(repo: Repository) -> str | None:
    """The current branch's upstream remote, else `origin` if there is one, else None."""
    from git_exp.git import git_text
    branch = git_text(["symbolic-ref", "-q", "--short", "HEAD"], cwd=repo.root, check=False)
    if branch:
        upstream = repo.config.get(f"branch.{branch}.remote")
        if upstream and upstream != ".":
            return upstream
    if repo.config.get("remote.origin.url"):
        return "origin"
    return None


def wanted(cache: Cache, records: Mapping[str, Mapping[str, HashInfo]]) -> Wants:
    """The objects RECORDS (label -> {path: HashInfo}) need that the cache lacks (stats only)."""
    wants = Wants()
    for label, data in records.items():
        for path, info in sorted(data.items()):
            for obj in cache.missing(info):
                wants.needs.add(obj, label, path)
                if not info.is_dir:
                    wants.sizes[obj] = info.size
    return wants


def download_wanted(repo: Repository, remote: str, wants: Wants, jobs: int = DEFAULT_JOBS,
                    progress: Progress | None = None) -> FetchReport:
    """Bring WANTS into the cache from the data remote paired with Git remote REMOTE."""
    from git_exp.data.cache import Cache
    from git_exp.remotes.location import resolve
    from git_exp.remotes.needs import describe_missing
    from git_exp.remotes.transfer import download

    report = FetchReport(remote=remote, wanted=len(wants.needs.objects))
    if not wants.needs.objects:
        return report
    data_remote = resolve(repo, remote)
    report.location = str(data_remote)
    stats, lacking = download(Cache(repo.exp_dir), data_remote, wants.needs.objects, progress,
                              jobs, wants.sizes)
    report.objects, report.bytes = stats.objects, stats.bytes
    if lacking:
        # A file inside a directory is named through the directory that lists it.
        known = {h for h in lacking if h in wants.needs.objects}
        report.missing_count = len(lacking)
        report.missing = describe_missing(wants.needs, known or set(wants.needs.objects))
    return report


def fetch_missing(repo: Repository, infos: Mapping[str, HashInfo], remote: str | None = None,
                  progress: Progress | None = None, jobs: int = DEFAULT_JOBS,
                  label: str = "work tree") -> FetchReport:
    """Fetch the objects of INFOS (data path -> HashInfo) that the cache lacks.

    REMOTE is a Git remote (name, path or URL) whose paired data remote is
    asked; by default the current branch's upstream, else `origin`. When
    the cache has everything, nothing is run or asked (a stat per object).
    ExpError when no remote can be found or the data remote fails.
    """
    from git_exp.data.cache import Cache
    wants = wanted(Cache(repo.exp_dir), {label: infos})
    if not wants.needs.objects:
        return FetchReport(remote=remote)
    remote = remote or default_remote(repo)
    if remote is None:
        raise no_remote()
    return download_wanted(repo, remote, wants, jobs, progress)


def auto_fetch(repo: Repository, infos: Mapping[str, HashInfo],
               progress: Progress | None = None) -> FetchReport | None:
    """fetch_missing for checkout, the hooks and apply, about the data they are about to use.

    None when the cache has everything (only stats are made), when
    fetching is off (exp.fetch.auto=false) or when there is no remote to
    ask; otherwise a report, whose `error` says why nothing arrived (never
    raised: a hook must not fail a checkout because the network is down).
    PROGRESS is the command's progress callback (ui/progress.py draws it).
    """
    try:
        if not repo.config.get_bool(AUTO_KEY, True):
            return None
        report = fetch_missing(repo, infos, progress=progress)
        return report if report.wanted else None
    except NoRemote:
        return None
    except ExpError as err:
        return FetchReport(remote=_quietly(default_remote, repo), error=err)
    except OSError as err:  # a remote kind that let a network error through
        remote = _quietly(default_remote, repo)
        return FetchReport(remote=remote, error=ExpError(
            f"cannot fetch data from the data remote of '{remote}': {err.strerror or err}"))


def _quietly(func: Callable[[Repository], T], repo: Repository) -> T | None:
    try:
        return func(repo)
    except Exception:  # noqa: BLE001 - only used to name the remote in a warning
        return None


def refill(repo: Repository, targets: Mapping[str, HashInfo], result: Refillable,
           progress: Progress | None = None) -> list[str]:
    """After a checkout found objects missing (RESULT.missing): fetch them, if allowed.

    The data paths whose objects are all in the cache now are taken off
    RESULT.missing and returned, for the caller to check out; the fetch's
    report goes to RESULT.fetched. PROGRESS hears of the transfer.
    """
    wanted_now = {path: targets[path] for path in result.missing if path in targets}
    if not wanted_now:
        return []
    report = auto_fetch(repo, wanted_now, progress)
    if report is None:
        return []
    result.fetched = report
    from git_exp.data.cache import Cache
    cache = Cache(repo.exp_dir)
    complete = [path for path, info in sorted(wanted_now.items()) if not cache.missing(info)]
    for path in complete:
        del result.missing[path]
    return complete
