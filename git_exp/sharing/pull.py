"""`git exp pull`: fetch experiments' refs with the user's `git`, then their data into the cache.

The data goes into the cache only, never the work tree: `git exp apply`
puts an experiment's data in place when the user asks for it. A local
experiment with the same name but a different commit is left alone unless
-f is given (the same rule as `git fetch` without '+').
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from git_exp.errors import ExpError
from git_exp.experiments import refs
from git_exp.remotes.transfer import DEFAULT_JOBS, Progress, Stats
from git_exp.repo import Repository
from git_exp.sharing import gitremote
from git_exp.sharing.push import RefResult


@dataclass
class PullResult:
    remote: str
    refs: list[RefResult] = field(default_factory=list)  # fetched, forced, up to date, diverged
    location: str | None = None        # the data remote, when it was asked anything
    received: Stats = field(default_factory=Stats)
    missing: str = ""                  # "  experiment 'x': path" lines the remote lacked data for
    missing_count: int = 0
    skipped_data: bool = False
    logs: int = 0                      # run logs received (refs/exp-logs/, see logs.py)
    notes: int = 0                     # experiments whose notes and tags changed (notes.py)
    notes_refused: list = field(default_factory=list)   # (experiment sha, why)

    @property
    def failed(self) -> list[RefResult]:
        """Experiments refused or whose data could not be read; the others were fetched."""
        return [r for r in self.refs if r.status == "failed"]


def pull(repo: Repository, remote: str, specs: Sequence[str] = (), all_of_head: bool = False,
         all_commits: bool = False, force: bool = False, with_data: bool = True,
         jobs: int = DEFAULT_JOBS, progress: Progress | None = None) -> PullResult:
    from git_exp.experiments.manage import head_sha
    from git_exp.sharing.selection import choose

    from git_exp.experiments import annotations
    from git_exp.sharing import logs, notes
    remote_exps, listing = gitremote.remote_experiments(repo.root, remote,
                                                        [logs.PATTERN, annotations.PATTERN])
    chosen = choose(remote_exps, list(specs), head_sha(repo), all_of_head, all_commits,
                    default_to_head=True, where=f"on '{remote}'", lister=f"git exp list {remote} -A")
    if not chosen:
        raise ExpError(f"'{remote}' has no experiments of HEAD's commit" if remote_exps
                       else f"'{remote}' has no experiments",
                       hint=f"'git exp list {remote} -A' lists every experiment there; "
                            "name them, or use -A" if remote_exps else None)
    local = {r.ref: r.sha for r in refs.list_refs(repo.root)}
    result = PullResult(remote, skipped_data=not with_data)
    refspecs = []
    for exp in chosen:
        if local.get(exp.ref) == exp.sha:
            result.refs.append(RefResult(exp, "up to date"))
        elif exp.ref in local and not force:
            result.refs.append(RefResult(exp, "diverged", f"yours is {local[exp.ref][:7]}"))
        else:
            forced = exp.ref in local
            refspecs.append(("+" if forced else "") + f"{exp.ref}:{exp.ref}")
            result.refs.append(RefResult(exp, "forced" if forced else "fetched"))
    shas = [r.exp.sha for r in result.refs if r.status != "diverged"]
    note_specs = notes.fetch_refspecs(repo, shas, listing)
    gitremote.fetch(repo.root, remote,
                    refspecs + logs.fetch_refspecs(repo, shas, listing) + note_specs)
    _drop_non_commits(repo, result, local)
    if note_specs:
        arrival = notes.accept_fetched(repo, [r.exp.sha for r in result.refs
                                              if r.status not in ("diverged", "failed")])
        result.notes, result.notes_refused = len(arrival.updated), arrival.refused
    # Logs only of what was kept: a ref dropped as no commit brings no log either.
    result.logs = len(logs.store_fetched(repo, [r.exp.sha for r in result.refs
                                                if r.status not in ("diverged", "failed")]))
    if with_data:
        _receive_data(repo, remote, [r.exp for r in result.refs
                                     if r.status not in ("diverged", "failed")],
                      jobs, progress, result)
    return result


def _drop_non_commits(repo: Repository, result: PullResult, local: dict[str, str]) -> None:
    """Undo the refs just fetched that do not name a commit (a blob, a tree):
    they are no experiments, and reading them would fail every other one."""
    from git_exp.git import git
    from git_exp.sharing.needed import object_types

    fetched = [r for r in result.refs if r.status in ("fetched", "forced")]
    types = object_types(repo.root, [r.exp.sha for r in fetched])
    script = []
    for r in fetched:
        kind = types.get(r.exp.sha, "missing")
        if kind == "commit":
            continue
        if r.exp.ref in local:   # -f replaced ours: put ours back
            script.append(f"update {r.exp.ref} {local[r.exp.ref]} {r.exp.sha}")
        else:
            script.append(f"delete {r.exp.ref} {r.exp.sha}")
        r.status, r.detail = "failed", f"the remote's ref names a {kind}, not a commit; not kept"
    if script:
        git(["update-ref", "--stdin"], cwd=repo.root, input=("\n".join(script) + "\n").encode())


def _receive_data(repo: Repository, remote: str, exps: list[refs.ExpRef], jobs: int,
                  progress: Progress | None, result: PullResult) -> None:
    from git_exp.data.cache import Cache
    from git_exp.remotes.location import resolve
    from git_exp.remotes.needs import Needs, describe_missing
    from git_exp.remotes.transfer import download
    from git_exp.sharing.needed import label_for, read_data

    cache = Cache(repo.exp_dir)
    needs = Needs()
    sizes: dict[str, int] = {}
    labels = {exp.sha: label_for(exp.ref) for exp in exps}
    errors: dict[str, ExpError] = {}
    found = read_data(repo, list(labels), errors)
    for r in result.refs:
        if r.exp.sha in errors and r.status != "failed":
            r.status, r.detail = "failed", f"its data cannot be read: {errors[r.exp.sha].message}"
    for sha, data in found.items():
        for path, info in sorted(data.items()):
            for obj in cache.missing(info):  # stats only: no request when all is here
                needs.add(obj, labels[sha], path)
                if not info.is_dir:
                    sizes[obj] = info.size
    if not needs.objects:
        return
    data_remote = resolve(repo, remote)
    result.location = str(data_remote)
    result.received, lacking = download(cache, data_remote, needs.objects, progress, jobs, sizes)
    if lacking:
        # A file inside a directory is reported through the directory that lists it.
        known = {h for h in lacking if h in needs.objects}
        result.missing_count = len(lacking)
        result.missing = describe_missing(needs, known or set(needs.objects))
