"""Bringing recorded data into the cache from a data remote: `git exp fetch`, and on demand.

A fresh clone has the records (pointers, exp.lock) but not the data. Two
ways bring it, both ending in the same step (_download: one has_many, then
parallel, verified transfers of what the cache lacks):

- `git exp fetch [REMOTE] [-A]`: the data HEAD records (with -A, every
  branch, remote-tracking branch, tag and experiment tip) that the cache
  lacks;
- on demand, as Git LFS does on checkout: `git exp checkout`, the
  post-checkout and post-merge hooks and `git exp apply` first try the
  cache; only for the objects it lacks do they call `auto_fetch`
  (`fetch_missing` with those objects), which asks the data remote of the
  current branch's upstream (else `origin`), unless `exp.fetch.auto` is
  false. A no-op hook never gets here, so it imports no transfer or
  network code.

The cache is only ever added to: each object arrives under a temporary name
and is published once its hash matched (transfer.download), so a fetch that
fails half way leaves whole objects and nothing else. `auto_fetch` never
raises for a data remote it cannot reach: a hook must not fail the user's
checkout because the network is down, so the failure is returned for the
caller to show as a warning with a hint.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from git_exp.errors import ExpError

AUTO_KEY = "exp.fetch.auto"
DEFAULT_JOBS = 8


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
class _Wants:
    needs: object                            # sharing.needed.Needs: hash -> [(label, path)]
    sizes: dict[str, int] = field(default_factory=dict)


def default_remote(repo) -> str | None:
    """The current branch's upstream remote, else `origin` if there is one, else None."""
    from git_exp.gitcmd import git_text
    branch = git_text(["symbolic-ref", "-q", "--short", "HEAD"], cwd=repo.root, check=False)
    if branch:
        upstream = repo.config.get(f"branch.{branch}.remote")
        if upstream and upstream != ".":
            return upstream
    if repo.config.get("remote.origin.url"):
        return "origin"
    return None


def _wants(repo, cache, records: dict[str, dict]) -> _Wants:
    """The objects RECORDS (label -> {path: HashInfo}) need that the cache lacks (stats only)."""
    from git_exp.sharing.needed import Needs
    wants = _Wants(Needs())
    for label, data in records.items():
        for path, info in sorted(data.items()):
            for obj in cache.missing(info):
                wants.needs.add(obj, label, path)
                if not info.is_dir:
                    wants.sizes[obj] = info.size
    return wants


def _download(repo, remote: str, wants: _Wants, jobs: int, progress) -> FetchReport:
    from git_exp.data.cache import Cache
    from git_exp.sharing.needed import describe_missing
    from git_exp.sharing.remote import resolve
    from git_exp.sharing.transfer import download

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


def fetch_missing(repo, infos: dict, remote: str | None = None, progress=None,
                  jobs: int = DEFAULT_JOBS, label: str = "work tree") -> FetchReport:
    """Fetch the objects of INFOS (data path -> HashInfo) that the cache lacks.

    REMOTE is a Git remote (name, path or URL) whose paired data remote is
    asked; by default the current branch's upstream, else `origin`. When
    the cache has everything, nothing is run or asked (a stat per object).
    ExpError when no remote can be found or the data remote fails.
    """
    from git_exp.data.cache import Cache
    wants = _wants(repo, Cache(repo.exp_dir), {label: infos})
    if not wants.needs.objects:
        return FetchReport(remote=remote)
    remote = remote or default_remote(repo)
    if remote is None:
        raise _no_remote()
    return _download(repo, remote, wants, jobs, progress)


class NoRemote(ExpError):
    """There is no Git remote to ask: not an error for an automatic fetch."""


def _no_remote() -> ExpError:
    return NoRemote("this repository has no Git remote to fetch data from",
                    hint="add one (git remote add origin URL), or name it: git exp fetch REMOTE")


def auto_fetch(repo, infos: dict, progress=None) -> FetchReport | None:
    """fetch_missing for checkout, the hooks and apply, about the data they are about to use.

    None when the cache has everything (only stats are made), when
    fetching is off (exp.fetch.auto=false) or when there is no remote to
    ask; otherwise a report, whose `error` says why nothing arrived (never
    raised: a hook must not fail a checkout because the network is down).
    """
    try:
        if not repo.config.get_bool(AUTO_KEY, True):
            return None
        from git_exp.sharing.progress import current
        report = fetch_missing(repo, infos, progress=progress or current())
        return report if report.wanted else None
    except NoRemote:
        return None
    except ExpError as err:
        return FetchReport(remote=_quietly(default_remote, repo), error=err)
    except OSError as err:  # a remote kind that let a network error through
        remote = _quietly(default_remote, repo)
        return FetchReport(remote=remote, error=ExpError(
            f"cannot fetch data from the data remote of '{remote}': {err.strerror or err}"))


def _quietly(func, *args):
    try:
        return func(*args)
    except Exception:  # noqa: BLE001 - only used to name the remote in a warning
        return None


def refill(repo, targets: dict, result) -> list[str]:
    """After a checkout found objects missing (RESULT.missing): fetch them, if allowed.

    The data paths whose objects are all in the cache now are taken off
    RESULT.missing and returned, for the caller to check out; the fetch's
    report goes to RESULT.fetched.
    """
    wanted = {path: targets[path] for path in result.missing if path in targets}
    if not wanted:
        return []
    report = auto_fetch(repo, wanted)
    if report is None:
        return []
    result.fetched = report
    from git_exp.data.cache import Cache
    cache = Cache(repo.exp_dir)
    complete = [path for path, info in sorted(wanted.items()) if not cache.missing(info)]
    for path in complete:
        del result.missing[path]
    return complete


# -- git exp fetch -----------------------------------------------------------------

def _tips(repo, remote: str, all_refs: bool) -> dict[str, str]:
    """sha -> label of the commits whose data is wanted."""
    from git_exp.gitcmd import git, git_text
    if not all_refs:
        head = git_text(["rev-parse", "-q", "--verify", "HEAD^{commit}"], cwd=repo.root, check=False)
        if not head:
            raise ExpError("HEAD has no commit yet, so it records no data",
                           hint="commit first, or use -A for every branch and experiment")
        return {head: "HEAD"}
    from git_exp.sharing.needed import label_for
    patterns = ["refs/heads/", "refs/tags/", f"refs/remotes/{remote}/", "refs/exps/"]
    out = git(["for-each-ref", "--format=%(objectname) %(*objectname) %(objecttype) %(refname)",
               *patterns], cwd=repo.root).stdout.decode("utf-8", "surrogateescape")
    tips: dict[str, str] = {}
    for line in out.splitlines():
        sha, peeled, kind, ref = line.split(" ", 3)
        if kind == "tag":
            sha = peeled  # an annotated tag: the commit it names
        elif kind != "commit":
            continue
        if ref.endswith("/HEAD") and ref.startswith("refs/remotes/"):
            continue  # a symbolic ref to one of the others
        tips.setdefault(sha, label_for(ref) if not ref.startswith("refs/remotes/")
                        else f"branch '{ref[len('refs/remotes/'):]}'")
    return tips


def fetch(repo, remote: str | None = None, all_refs: bool = False, jobs: int = DEFAULT_JOBS,
          progress=None) -> FetchReport:
    """`git exp fetch`: the data HEAD (or, ALL_REFS, every tip) records, into the cache."""
    from git_exp.data.cache import Cache

    if remote is not None:
        from git_exp.sharing.remote import locate
        locate(repo, remote)  # a remote named by mistake fails even when nothing is missing
    remote = remote or default_remote(repo)
    if remote is None:
        raise _no_remote()
    tips = _tips(repo, remote, all_refs)
    records, unreadable = _read_records(repo, tips)
    if unreadable and not all_refs:
        raise ExpError(unreadable[0])
    wants = _wants(repo, Cache(repo.exp_dir), records)
    report = _download(repo, remote, wants, jobs, progress)
    report.remote = remote
    report.unreadable = unreadable
    return report


def _read_records(repo, tips: dict[str, str]) -> tuple[dict[str, dict], list[str]]:
    """(label -> the data each tip records, "<label>: why" for tips whose records are malformed).

    Records come with other people's branches: with -A, one malformed
    pointer on some branch must not stop the data of all the others.
    """
    from concurrent.futures import ThreadPoolExecutor

    from git_exp.sharing.needed import data_at

    def read(sha: str):
        try:
            return data_at(repo, sha), None
        except ExpError as err:
            return None, f"{tips[sha]}: {err.message}"

    _ = repo.config  # loaded once here, not racily from the threads
    with ThreadPoolExecutor(max(1, min(8, len(tips)))) as pool:
        answers = list(pool.map(read, list(tips)))
    records = {tips[sha]: data for sha, (data, _) in zip(tips, answers) if data is not None}
    return records, [why for _, why in answers if why]
