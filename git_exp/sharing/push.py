"""`git exp push`: the data first, then the refs, through the user's own `git`.

Order matters: a ref must never reach the remote before the data it refers
to, or a teammate could fetch an experiment nobody can reproduce. So the
data is found, checked and uploaded first, and only then does `git push`
send the refs (non-force unless asked, so a diverged experiment is
reported, not overwritten). If some data is neither in the local cache nor
on the data remote, nothing is pushed and the error names it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from git_exp.errors import ExpError
from git_exp.experiments import refs
from git_exp.remotes.transfer import DEFAULT_JOBS, Progress, Stats
from git_exp.repo import Repository
from git_exp.sharing import gitremote

if TYPE_CHECKING:
    from git_exp.remotes.needs import Needs

# Git's porcelain flags -> what we tell the user.
_FLAGS = {"*": "pushed", " ": "pushed", "+": "forced", "=": "up to date", "-": "deleted"}
_DIVERGED = ("non-fast-forward", "fetch first", "stale info", "already exists")


@dataclass
class RefResult:
    exp: refs.ExpRef
    status: str        # pushed, forced, up to date, diverged, rejected, failed
    detail: str = ""   # Git's own words for a rejection or failure


@dataclass
class DataResult:
    location: str | None = None   # the data remote, when it was asked anything
    sent: Stats = field(default_factory=Stats)
    objects: int = 0              # objects the pushed commits refer to
    skipped: bool = False         # --no-data


@dataclass
class PushResult:
    remote: str
    refs: list[RefResult] = field(default_factory=list)
    data: DataResult = field(default_factory=DataResult)
    logs: int = 0                 # run logs sent (refs/exp-logs/, see logs.py)
    notes: int = 0                # annotations sent (refs/exp-notes/, see notes.py)
    notes_diverged: list = field(default_factory=list)   # experiment shas: pull first

    @property
    def failed(self) -> list[RefResult]:
        return [r for r in self.refs if r.status in ("diverged", "rejected", "failed")]


def missing_error(needs: Needs, unavailable: set[str], location: str) -> ExpError:
    from git_exp.remotes.needs import describe_missing
    return ExpError(
        f"{len(unavailable)} data object(s) are neither in the local cache nor in the data "
        f"remote '{location}'; nothing was pushed. Affected:\n"
        + describe_missing(needs, unavailable),
        hint="fetch the data from wherever it is ('git exp pull <remote> <name>'), or run the "
             "experiment again to re-create it;\nto push the refs without their data anyway: "
             "'git exp push --no-data' (or 'git push --no-verify')")


def send_data(repo: Repository, remote: str, url: str | None, tips: dict[str, str], remote_has: list[str],
              jobs: int = DEFAULT_JOBS, progress: Progress | None = None,
              errors: dict | None = None) -> DataResult:
    """Upload what the commits from TIPS (sha -> label) refer to and the data remote lacks.

    Makes no data-remote request when the new commits refer to no data
    (see needed.py). With ERRORS, a tip whose data cannot be read is put
    there (sha -> ExpError) and its data left out, instead of failing all.
    """
    from git_exp.sharing.needed import needed_objects
    return upload(repo, remote, url, needed_objects(repo, tips, remote_has, remote, errors=errors),
                  jobs, progress)


def upload(repo: Repository, remote: str, url: str | None, needs: Needs, jobs: int = DEFAULT_JOBS,
           progress: Progress | None = None) -> DataResult:
    """Send the NEEDS objects the data remote lacks; ExpError, sending nothing, if some are nowhere."""
    result = DataResult(objects=len(needs.objects))
    if not needs.objects:
        return result
    from git_exp.data.cache import Cache
    from git_exp.remotes.location import resolve
    from git_exp.remotes.transfer import plan_upload, send

    cache = Cache(repo.exp_dir)
    data_remote = resolve(repo, remote, url, push=True)
    result.location = str(data_remote)
    plan = plan_upload(cache, data_remote, needs.objects)
    if plan.unavailable:
        raise missing_error(needs, plan.unavailable, result.location)
    result.sent = send(cache, data_remote, plan.send, progress, jobs)
    return result


def _outcome(exp: refs.ExpRef, status: gitremote.RefStatus | None, error: str) -> RefResult:
    if status is None:
        return RefResult(exp, "failed", error or "git push did not report this ref")
    if status.flag in _FLAGS:
        return RefResult(exp, _FLAGS[status.flag])
    diverged = status.flag == "!" and any(word in status.summary for word in _DIVERGED)
    return RefResult(exp, "diverged" if diverged else "rejected", status.summary)


def push(repo: Repository, remote: str, specs: Sequence[str] = (), all_of_head: bool = False,
         all_commits: bool = False, force: bool = False, with_data: bool = True,
         jobs: int = DEFAULT_JOBS, progress: Progress | None = None) -> PushResult:
    from git_exp.experiments.manage import head_sha
    from git_exp.sharing.needed import label_for, object_types
    from git_exp.sharing.selection import choose

    chosen = choose(refs.list_refs(repo.root), list(specs), head_sha(repo), all_of_head,
                    all_commits, default_to_head=True)
    if not chosen:
        raise ExpError("no experiments to push",
                       hint="HEAD's commit has none; name experiments, or use -A for every commit")
    from git_exp.experiments import annotations
    from git_exp.sharing import logs, notes
    remote_exps, listing = gitremote.remote_experiments(
        repo.root, remote, ["refs/heads/*", "refs/tags/*", logs.PATTERN, annotations.PATTERN])
    there = {r.ref: r.sha for r in remote_exps}
    result = PushResult(remote)
    outcomes: dict[str, RefResult] = {}
    to_push = []
    types = object_types(repo.root, [exp.sha for exp in chosen])
    for exp in chosen:
        if types.get(exp.sha) != "commit":
            # Not an experiment (say, a pulled ref that names a blob): report
            # it, push the others.
            outcomes[exp.ref] = RefResult(exp, "failed", f"the ref names a "
                                          f"{types.get(exp.sha, 'missing object')}, not a commit")
        elif there.get(exp.ref) == exp.sha:
            outcomes[exp.ref] = RefResult(exp, "up to date")
        else:
            to_push.append(exp)
    # Experiments named on the command line get their data checked even when
    # their refs are there already: the data remote may be new (expdata set
    # after a first push) or have lost objects, and this is the repair pull's
    # hint names. One question to the data remote; a bare `push` asks none.
    there_already = [e for e in chosen if specs and outcomes.get(e.ref, None) is not None
                     and outcomes[e.ref].status == "up to date"]
    if (to_push or there_already) and with_data:
        tips = {exp.sha: label_for(exp.ref) for exp in to_push + there_already}
        checked = {exp.sha for exp in there_already}
        errors: dict[str, ExpError] = {}
        result.data = send_data(repo, remote, None, tips,
                                [sha for sha in listing.values() if sha not in checked],
                                jobs, progress, errors)
        for exp in [e for e in to_push if e.sha in errors]:
            # Its data was not checked: its ref must not reach the remote.
            outcomes[exp.ref] = RefResult(exp, "failed", "its data cannot be read: "
                                          + errors[exp.sha].message)
            to_push.remove(exp)
    result.data.skipped = not with_data
    log_specs = logs.push_refspecs(repo, [e.sha for e in chosen], listing)
    # Annotations of experiments that are (or are about to be) on the remote.
    failed = {exp.ref for exp, r in ((e, outcomes.get(e.ref)) for e in chosen)
              if r is not None and r.status == "failed"}
    note_specs = notes.push_refspecs(repo, [e.sha for e in chosen if e.ref not in failed], listing)
    log_specs = log_specs + note_specs
    if to_push or log_specs:
        prefix = "+" if force else ""
        statuses, error = gitremote.push(
            repo.root, remote, [f"{prefix}{e.ref}:{e.ref}" for e in to_push] + log_specs,
            env={gitremote.DATA_SENT_ENV: "1"})
        for exp in to_push:
            outcomes[exp.ref] = _outcome(exp, statuses.get(exp.ref), error)
        result.logs = sum(1 for spec in log_specs
                          if statuses.get(spec.rpartition(":")[2], None) is not None
                          and statuses[spec.rpartition(":")[2]].flag in ("*", " ")
                          and spec not in note_specs)
        for spec in note_specs:
            ref = spec.rpartition(":")[2]
            status = statuses.get(ref)
            if status is not None and status.flag in ("*", " ", "+"):
                result.notes += 1
            elif status is not None and status.flag == "!":
                result.notes_diverged.append(ref[len(annotations.PREFIX):])
    result.refs = [outcomes[exp.ref] for exp in chosen]
    return result
