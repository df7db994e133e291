"""The rows of `git exp show`: the work tree, baseline commits and their experiments.

Selection follows the reference tool: the experiments of HEAD's commit by
default; -n N walks N first-parent ancestors of each starting revision;
--rev picks the starting revisions; -A adds every commit that has
experiments. Rows come back in tree order: the workspace, then each
baseline followed by its experiments, newest first.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from git_exp.errors import ExpError
from git_exp.experiments.manage import head_sha, labels_for
from git_exp.git import git
from git_exp.show.commits import CommitData, CommitReader
from git_exp.show.pending import pending
from git_exp.show.refstate import RefState, read_state

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.repo import Repository


PLAIN_STATES = (None, "success", "saved")
FAILED_STATES = ("failed", "interrupted")


@dataclass
class Row:
    kind: str                   # "workspace", "baseline" or "experiment"
    name: str                   # "workspace", the baseline's label, or the experiment's name
    rev: str | None             # full sha; None for the workspace and runs without a commit yet
    baseline: str | None        # the commit the row belongs to (a baseline's own sha)
    parent: str | None = None   # first parent (HEAD for the workspace)
    created: str | None = None  # ISO 8601
    timestamp: int = 0
    state: str | None = None    # None for workspace and baselines; success, failed, ...
    params: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    message: str | None = None  # run -m (an experiment), the subject (a baseline)
    note: str = ""              # git exp note (experiments/annotations.py)
    tags: tuple = ()            # git exp tag

    @classmethod
    def from_data(cls, kind: str, name: str, baseline: str | None, data: CommitData,
                  state: str | None = None) -> "Row":
        return cls(kind, name, data.sha, baseline, data.parent, data.created, data.timestamp,
                   state, data.params, data.metrics, data.errors, data.message)


@dataclass
class Group:
    baseline: Row
    experiments: list


@dataclass
class Selection:
    workspace: Row | None
    groups: list            # [Group], in display order
    unreadable: list = field(default_factory=list)   # messages: experiments that could not be shown

    def rows(self) -> list:
        out = [self.workspace] if self.workspace is not None else []
        for group in self.groups:
            out.append(group.baseline)
            out.extend(group.experiments)
        return out


def rev_commit(repo: Repository, rev: str) -> str:
    proc = git(["rev-parse", "--verify", "-q", "--end-of-options", rev + "^{commit}"],
               cwd=repo.root, check=False)
    if proc.returncode != 0:
        raise ExpError(f"unknown revision '{rev}'",
                       hint="give a branch, tag or commit, as for 'git log'")
    return proc.stdout.decode().strip()


def ancestors(repo: Repository, start: str, count: int) -> list[str]:
    out = git(["rev-list", "--first-parent", f"--max-count={count}", start], cwd=repo.root)
    return out.stdout.decode().split()


def asked_baselines(repo: Repository, head: str | None, num: int | None, revs: list[str]) -> list[str]:
    """The commits --rev and -n name (HEAD by default), in order."""
    starts = [rev_commit(repo, r) for r in revs] if revs else ([head] if head else [])
    chosen: list[str] = []
    for start in starts:
        chosen.extend(ancestors(repo, start, num) if num and num > 1 else [start])
    return list(dict.fromkeys(chosen))


def tips(repo: Repository, namespace: str) -> list[str]:
    """The commits the branch heads (refs/heads/) or tags (refs/tags/) name, newest first."""
    # A tag's commit (peeled) when it is annotated, else the object itself.
    peeled = "%(if)%(*objectname)%(then)%(*objectname)%(else)%(objectname)%(end)"
    out = git(["for-each-ref", "--sort=-committerdate", f"--format={peeled}", namespace],
              cwd=repo.root, check=False).stdout.decode()
    return list(dict.fromkeys(out.split()))


def collect(repo: Repository, *, all_commits: bool = False, num: int | None = None,
            revs: list[str] | None = None, hide_failed: bool = False,
            hide_workspace: bool = False, reader: CommitReader | None = None,
            hide_queued: bool = False, all_branches: bool = False,
            all_tags: bool = False, listing: RefState | None = None) -> Selection:
    """The rows; LISTING is the refs to read them from (read now when not given)."""
    if num is not None and num < 1:
        raise ExpError(f"-n must be at least 1, not {num}",
                       hint="-n 1 shows HEAD's commit alone, -n 2 its parent too; -A shows every commit")
    reader = reader or CommitReader(repo)
    # Runs in progress before the experiments: a run that ends in between is
    # then seen twice (its ref wins), never missed.
    in_progress = pending(repo)
    if listing is None:
        listing = read_state(repo)
    every = listing.exp_refs()
    head = listing.head_branch_sha() or head_sha(repo)
    asked = asked_baselines(repo, head, num, list(revs or []))
    if all_branches:
        asked = list(dict.fromkeys(asked + tips(repo, "refs/heads/")))
    if all_tags:
        asked = list(dict.fromkeys(asked + tips(repo, "refs/tags/")))
    baselines = list(dict.fromkeys(asked + ([r.baseline for r in every] if all_commits else [])))
    wanted = set(baselines)
    mine = [r for r in every if r.baseline in wanted]
    datas = reader.read(baselines + [r.sha for r in mine])

    by_baseline: dict[str, list] = {b: [] for b in baselines}
    unreadable = []
    for ref in mine:
        data = datas.get(ref.sha)
        if data is None:
            # Its ref names no commit (a blob someone pushed, or a pruned
            # object): say so, and show the others.
            unreadable.append(f"experiment '{ref.name}' ({ref.sha[:7]}): its ref does not name "
                              f"a commit; not shown ('git exp remove {ref.name}' deletes it)")
            continue
        state = data.state or "success"
        if hide_failed and state in FAILED_STATES:
            continue
        by_baseline[ref.baseline].append(Row.from_data("experiment", ref.name, ref.baseline, data, state))
    _annotate(repo, [row for rows in by_baseline.values() for row in rows], listing.notes())
    for row in pending_rows(repo, reader, head, by_baseline, in_progress):
        if row.baseline is not None and not (hide_queued and row.state == "queued"):
            by_baseline[row.baseline].append(row)

    labels = labels_for(repo, set(baselines))
    groups = []
    for base in baselines:
        data = datas.get(base) or CommitData(base)
        experiments = sorted(by_baseline[base], key=_newest_first)
        groups.append(Group(Row.from_data("baseline", labels[base], base, data), experiments))
    if all_commits:
        # HEAD's group and the asked-for revisions first, then the others, newest first.
        first = len(asked)
        groups = groups[:first] + sorted(groups[first:], key=lambda g: -g.baseline.timestamp)

    workspace = None
    if not hide_workspace:
        data = reader.workspace()
        workspace = Row("workspace", "workspace", None, head, head, None, 0, None,
                        data.params, data.metrics, data.errors)
    return Selection(workspace, groups, unreadable)


def _annotate(repo: Repository, rows: list, notes: dict[str, str]) -> None:
    """Notes and tags onto ROWS from the annotation commits NOTES (experiment sha -> commit):
    one cat-file, only when some experiment has any."""
    wanted = {row.rev: notes[row.rev] for row in rows if row.rev in notes}
    if not wanted:
        return
    from git_exp.experiments.annotations import read_commits
    found = {sha: a for sha, (a, _) in read_commits(repo.root, wanted).items() if not a.empty}
    for row in rows:
        annotation = found.get(row.rev)
        if annotation is not None:
            row.note, row.tags = annotation.note, annotation.tags


def pending_rows(repo: Repository, reader: CommitReader, head: str | None, by_baseline: dict,
                 in_progress: list) -> list[Row]:
    """Rows of the runs in progress and the queued entries whose baseline is shown.

    A running row holds the params and metrics its work tree has now (the
    work tree's for a run there, the temporary checkout's for a queued run
    on this machine: show/running.py); a queued row, the params of its entry.
    """
    chosen: list = []
    for entry in in_progress:
        base = entry.baseline or head
        if base in by_baseline and not any(r.name == entry.name for r in by_baseline[base]):
            if not any(p.name == entry.name and p.baseline == base for p in chosen):
                chosen.append(entry)
    queued = reader.read([p.commit for p in chosen if p.commit and p.state == "queued"]) \
        if any(p.commit and p.state == "queued" for p in chosen) else {}
    rows = []
    for entry in chosen:
        base = entry.baseline or head
        params: dict = {}
        metrics: dict = {}
        if entry.state == "running" and entry.root == repo.root:
            data = reader.workspace()
            params, metrics = data.params, data.metrics
        elif entry.state == "running" and entry.root and os.path.isdir(entry.root):
            from git_exp.show.running import read_running
            params, metrics = read_running(entry.root)
        elif entry.state == "running" and entry.entry:
            # Running elsewhere: what its worker last reported (distributed/progress.py).
            from git_exp.distributed.progress import read_progress
            params, metrics = read_progress(repo, entry.entry)
        elif entry.commit in queued:
            params = queued[entry.commit].params   # its metrics are the baseline's: not its own
        rows.append(Row("experiment", entry.name, None, base, base, entry.created, 0,
                        entry.state, params, metrics))
    return rows


def _newest_first(row: Row) -> tuple[bool, int, str]:
    running = row.rev is None   # runs without a commit yet are the newest of all
    return (not running, -row.timestamp, row.name)
