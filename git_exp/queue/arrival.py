"""The client's side of a result: its data must be here before it counts as a success.

A worker sends the outputs' data to the data remote before it pushes the
result ref (distributed/worker.py). But a worker whose "data remote" is a
directory
only it can see (a path that exists on every machine yet is not shared, a
mount missing on one node) uploads successfully into nowhere, and an old
worker may not upload at all. So the dispatcher never trusts a result ref
alone: it brings the data every result records into its cache (one
has_many request, then only what is missing), and a result whose data is
still missing afterwards is not recorded as the experiment it claims to be:
its entry fails with a reason that names the data paths and the data
remote, so the user never meets "data not in the local cache" later in
`git exp apply`.
"""
from __future__ import annotations

from git_exp.git import git
from git_exp.repo import Repository

_SHOWN = 5


def receive(repo: Repository, remote: str, results: dict[str, str]) -> tuple[dict[str, list[str]], str | None]:
    """Fetch the data RESULTS (ref -> sha) record into the cache.

    Returns (sha -> the data paths still missing, for the results that lack
    some; the data remote's location, when it was asked).
    """
    from git_exp.data.cache import Cache
    from git_exp.sharing.needed import read_data
    from git_exp.remotes.location import resolve
    from git_exp.remotes.transfer import download

    cache = Cache(repo.exp_dir)
    records = read_data(repo, sorted(set(results.values())))
    wanted: set[str] = set()
    sizes: dict[str, int] = {}
    for data in records.values():
        for _path, info in sorted(data.items()):
            for obj in cache.missing(info):
                wanted.add(obj)
                if not info.is_dir:
                    sizes[obj] = info.size
    location = None
    if wanted:
        data_remote = resolve(repo, remote)
        location = str(data_remote)
        download(cache, data_remote, wanted, sizes=sizes)
    missing: dict[str, list[str]] = {}
    for sha, data in records.items():
        lacking = sorted(path for path, info in data.items() if cache.missing(info))
        if lacking:
            missing[sha] = lacking
    return missing, location


def reason(paths: list[str], location: str | None) -> tuple[str, str]:
    """(error, hint) for an entry whose result's data never reached the data remote."""
    shown = ", ".join(paths[:_SHOWN]) + (f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else "")
    where = f"the data remote '{location}'" if location else "the data remote"
    return (f"its result was published but its data is not on {where}: {shown}",
            "the worker's data remote is not the one this machine reads: give every worker "
            "access to it (git exp remote -v shows it), then queue the entry again")


def forget(repo: Repository, ref: str, sha: str) -> None:
    """Drop the result ref fetched for an entry whose data is missing (only if it is still SHA)."""
    git(["update-ref", "-d", ref, sha], cwd=repo.root, check=False)
