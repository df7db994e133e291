"""What `git exp gc` keeps: the scopes (DVC's `gc -w/-a/-T/--all-commits/--all-experiments/--date`).

The default scope keeps every object any ref needs (the whole history of
every ref, as gc always did). A narrower scope keeps less, always on top
of what nothing may lose:

- the workspace: the work tree, index and HEAD commit of every worktree
  (queue workers' checkouts included);
- protected refs: queued and running entries (refs/exps-queue/,
  refs/exps-running/), backups that have not expired (refs/exp-backups/)
  and the stash - the tips only, which is what they hold.

and then the union of what the user chose: -a (the tip of every local
branch), -T (every tag), --all-experiments (every experiment's commit),
--date (every commit, on any ref, made on or after that date) and
--all-commits (every commit reachable from any ref: the default).

Tips are read one commit each (records.data_at); histories by the one
`git log` walk of records.objects_in_history. A date-limited walk misses
what its oldest commits inherited unchanged from older parents, so the
commits at the window's edge are read whole as tips are.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from git_exp.data.hashing import HashInfo
from git_exp.errors import ExpError
from git_exp.git import git
from git_exp.worktree.records import data_at, objects_in_history

if TYPE_CHECKING:
    from git_exp.repo import Repository

BACKUPS = "refs/exp-backups/"
PROTECTED = ("refs/exps-queue/", "refs/exps-running/", "refs/stash")


@dataclass
class Scope:
    """What a gc run keeps besides the workspace and the protected refs; empty: everything."""
    workspace: bool = False
    all_branches: bool = False
    all_tags: bool = False
    all_commits: bool = False
    all_experiments: bool = False
    date: str | None = None          # YYYY-MM-DD (any date Git understands)

    @property
    def narrow(self) -> bool:
        """A scope was asked for and it is not --all-commits (which keeps what refs need)."""
        chosen = (self.workspace or self.all_branches or self.all_tags
                  or self.all_experiments or self.date is not None)
        return chosen and not self.all_commits

    def describe(self) -> str:
        parts = [name for name, on in (("--workspace", self.workspace), ("--all-branches", self.all_branches),
                                       ("--all-tags", self.all_tags), ("--all-experiments", self.all_experiments),
                                       ("--all-commits", self.all_commits)) if on]
        if self.date is not None:
            parts.append(f"--date {self.date}")
        return " ".join(parts) or "the default scope"


@dataclass
class RefTip:
    ref: str
    sha: str          # the commit (tags peeled)
    time: int         # the commit's committer time


@dataclass
class Kept:
    infos: set[HashInfo] = field(default_factory=set)
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)   # hash -> (who, path)
    problems: list[str] = field(default_factory=list)


def ref_tips(repo: Repository) -> list[RefTip]:
    """Every ref naming a commit (annotated tags peeled), with the commit's time."""
    out = git(["for-each-ref", "--format=%(refname)%00%(objecttype)%00%(objectname)%00%(*objectname)"
               "%00%(committerdate:unix)%00%(*committerdate:unix)"], cwd=repo.root).stdout
    tips = []
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        ref, kind, sha, peeled, when, peeled_when = line.split("\0")
        if kind == "tag" and peeled:
            sha, when = peeled, peeled_when
        elif kind != "commit":
            continue
        tips.append(RefTip(ref, sha, int(when or 0)))
    return tips


def label(ref: str) -> str:
    from git_exp.sharing.needed import label_for
    if ref.startswith(BACKUPS):
        return f"backup {ref}"
    if ref.startswith("refs/remotes/"):
        return f"branch '{ref[len('refs/remotes/'):]}'"
    return label_for(ref)


def read_tips(repo: Repository, tips: dict[str, str], kept: Kept) -> None:
    """Add the data each commit of TIPS (sha -> label) records to KEPT; malformed ones are problems."""
    def read(sha: str) -> tuple[dict[str, HashInfo] | None, str | None]:
        try:
            return data_at(repo, sha), None
        except ExpError as err:
            return None, f"{tips[sha]}: {err.message}"

    if not tips:
        return
    _ = repo.config  # loaded once here, not racily from the threads
    with ThreadPoolExecutor(max(1, min(8, len(tips)))) as pool:
        answers = list(pool.map(read, list(tips)))
    for sha, (data, problem) in zip(tips, answers):
        if problem:
            kept.problems.append(problem)
            continue
        assert data is not None   # read() answers data or a problem
        for path, info in data.items():
            kept.infos.add(info)
            kept.labels.setdefault(info.hash, (tips[sha], path))


def _date_window(repo: Repository, date: str, roots: list[str], kept: Kept) -> None:
    """Data of every commit reachable from ROOTS and made on or after DATE."""
    if not roots:
        return
    since = f"--since={date}"
    infos, problems = objects_in_history(repo, roots, stdin=True, options=(since,))
    kept.infos |= infos
    kept.problems += problems
    out = git(["rev-list", "--parents", since, "--stdin"], cwd=repo.root,
              input=("\n".join(roots) + "\n").encode()).stdout.decode()
    rows = [line.split() for line in out.splitlines() if line.strip()]
    inside = {row[0] for row in rows}
    edge = {row[0]: f"commit {row[0][:7]}" for row in rows
            if len(row) == 1 or any(p not in inside for p in row[1:])}
    read_tips(repo, edge, kept)


def scoped_keep(repo: Repository, scope: Scope, tips: list[RefTip], expired: set[str]) -> Kept:
    """What SCOPE keeps of the refs (the workspace is added by the caller)."""
    kept = Kept()
    chosen: dict[str, str] = {}
    for tip in tips:
        ref = tip.ref
        if ref in expired:
            continue
        if (ref.startswith(PROTECTED) or ref.startswith(BACKUPS)
                or (scope.all_branches and ref.startswith("refs/heads/"))
                or (scope.all_tags and ref.startswith("refs/tags/"))
                or (scope.all_experiments and ref.startswith("refs/exps/"))):
            chosen.setdefault(tip.sha, label(ref))
    heads = git(["worktree", "list", "--porcelain", "-z"], cwd=repo.root, check=False).stdout
    for entry in heads.decode("utf-8", "surrogateescape").split("\0"):
        if entry.startswith("HEAD ") and entry[5:].strip("0"):
            chosen.setdefault(entry[5:], "HEAD")
    read_tips(repo, _commits_only(repo, chosen), kept)
    if scope.date is not None:
        _date_window(repo, scope.date, sorted({t.sha for t in tips if t.ref not in expired}), kept)
    return kept


def _commits_only(repo: Repository, tips: dict[str, str]) -> dict[str, str]:
    """TIPS without the shas that are not commits here (a worktree's HEAD being removed)."""
    if not tips:
        return tips
    from git_exp.git.catfile import commits_among
    ok = set(commits_among(repo.root, tips))
    return {sha: who for sha, who in tips.items() if sha in ok}


def label_named(repo: Repository, tips: list[RefTip], expired: set[str],
                hashes: set[str]) -> dict[str, tuple[str, str]]:
    """(who, path) for the objects HASHES that some ref's tip records, to say what a scope drops."""
    kept = Kept()
    read_tips(repo, {t.sha: label(t.ref) for t in reversed(tips) if t.ref not in expired}, kept)
    return {h: kept.labels[h] for h in hashes if h in kept.labels}
