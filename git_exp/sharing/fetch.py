"""`git exp fetch [REMOTE] [-A]`: the data whole revisions record, into the cache.

The data HEAD records (with -A, every branch, remote-tracking branch, tag and
experiment tip) that the cache lacks. Reading the records of those commits
needs worktree/ (pointers, exp.lock) and naming them needs experiments/, so
this lives here; the transfer itself is remotes/fetch.py's download_wanted,
the step checkout, the hooks and apply end in too.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from git_exp.errors import ExpError
from git_exp.remotes.fetch import FetchReport, default_remote, download_wanted, no_remote, wanted
from git_exp.remotes.transfer import DEFAULT_JOBS, Progress

if TYPE_CHECKING:
    from git_exp.data.hashing import HashInfo
    from git_exp.repo import Repository


def _tips(repo: Repository, remote: str, all_refs: bool) -> dict[str, str]:
    """sha -> label of the commits whose data is wanted."""
    from git_exp.git import git, git_text
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


def fetch(repo: Repository, remote: str | None = None, all_refs: bool = False, jobs: int = DEFAULT_JOBS,
          progress: Progress | None = None) -> FetchReport:
    """`git exp fetch`: the data HEAD (or, ALL_REFS, every tip) records, into the cache."""
    from git_exp.data.cache import Cache

    if remote is not None:
        from git_exp.remotes.location import locate
        locate(repo, remote)  # a remote named by mistake fails even when nothing is missing
    remote = remote or default_remote(repo)
    if remote is None:
        raise no_remote()
    tips = _tips(repo, remote, all_refs)
    records, unreadable = _read_records(repo, tips)
    if unreadable and not all_refs:
        raise ExpError(unreadable[0])
    wants = wanted(Cache(repo.exp_dir), records)
    report = download_wanted(repo, remote, wants, jobs, progress)
    report.remote = remote
    report.unreadable = unreadable
    return report


def _read_records(repo: Repository, tips: dict[str, str]) -> tuple[dict[str, dict[str, HashInfo]], list[str]]:
    """(label -> the data each tip records, "<label>: why" for tips whose records are malformed).

    Records come with other people's branches: with -A, one malformed
    pointer on some branch must not stop the data of all the others.
    """
    from concurrent.futures import ThreadPoolExecutor

    from git_exp.sharing.needed import data_at

    def read(sha: str) -> tuple[dict[str, HashInfo] | None, str | None]:
        try:
            return data_at(repo, sha), None
        except ExpError as err:
            return None, f"{tips[sha]}: {err.message}"

    _ = repo.config  # loaded once here, not racily from the threads
    with ThreadPoolExecutor(max(1, min(8, len(tips)))) as pool:
        answers = list(pool.map(read, list(tips)))
    records = {tips[sha]: data for sha, (data, _) in zip(tips, answers) if data is not None}
    return records, [why for _, why in answers if why]
