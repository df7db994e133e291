"""Notes and tags travelling with experiments: `refs/exp-notes/<sha>` (experiments/annotations.py).

`git exp push` sends the annotation ref of each experiment it pushes when
the remote's differs, as a fast-forward (never forced: a remote that has
changes we lack rejects it, and `git exp pull` merges them first). `git exp
pull` fetches the remote's annotation of each experiment it brings into
`refs/exp-notes-incoming/`, checks it there (it is untrusted: only `note`
and `tags` files, a note of at most MAX_NOTE bytes of UTF-8, tags by
TAG_RULE, at most MAX_TAGS) and only then moves `refs/exp-notes/<sha>`:
a fast-forward when ours is older, nothing when theirs is, a merge commit
of both when both changed. What fails the checks is dropped and named.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from git_exp.errors import ExpError
from git_exp.experiments import annotations as notes
from git_exp.git import git
from git_exp.repo import Repository


@dataclass
class Arrival:
    updated: list = field(default_factory=list)    # experiment shas whose annotations changed
    refused: list = field(default_factory=list)    # (sha, reason) that failed the checks


def push_refspecs(repo: Repository, shas: list[str], remote_refs: dict[str, str]) -> list[str]:
    """Refspecs sending the annotations of SHAS that differ from the remote's (REMOTE_REFS)."""
    mine = notes.list_refs(repo.root)
    return [f"{mine[s]}:{notes.notes_ref(s)}" for s in dict.fromkeys(shas)
            if s in mine and remote_refs.get(notes.notes_ref(s)) != mine[s]]


def fetch_refspecs(repo: Repository, shas: list[str], remote_refs: dict[str, str]) -> list[str]:
    """Refspecs fetching into INCOMING the remote's annotations of SHAS that differ from ours."""
    mine = notes.list_refs(repo.root)
    out = []
    for sha in dict.fromkeys(shas):
        theirs = remote_refs.get(notes.notes_ref(sha))
        if theirs and mine.get(sha) != theirs:
            out.append(f"+{notes.notes_ref(sha)}:{notes.INCOMING}{sha}")
    return out


def _is_ancestor(root: str, a: str, b: str) -> bool:
    return git(["merge-base", "--is-ancestor", a, b], cwd=root, check=False).returncode == 0


def accept_fetched(repo: Repository, shas: list[str]) -> Arrival:
    """Check what arrived in INCOMING for SHAS and take it into refs/exp-notes/; drop INCOMING."""
    root = repo.root
    incoming = {s: c for s, c in notes.list_refs(root, notes.INCOMING).items()}
    arrival = Arrival()
    if not incoming:
        return arrival
    wanted = set(shas)
    try:
        checked = notes.read_commits(root, {s: c for s, c in incoming.items() if s in wanted})
        mine = notes.list_refs(root)
        for sha, (theirs, problems) in checked.items():
            commit = incoming[sha]
            if problems:
                arrival.refused.append((sha, "; ".join(problems[:3])))
                continue
            ours = mine.get(sha)
            if ours == commit or (ours and _is_ancestor(root, commit, ours)):
                continue   # nothing new
            if ours is None or _is_ancestor(root, ours, commit):
                new = commit
            else:
                new = _merge(root, sha, ours, commit, theirs)
            try:
                notes.move(root, notes.notes_ref(sha), new, ours)
            except ExpError:   # annotated here meanwhile: theirs waits for the next pull
                arrival.refused.append((sha, "changed here meanwhile; pull again"))
                continue
            arrival.updated.append(sha)
    finally:
        script = "".join(f"delete {notes.INCOMING}{s} {c}\n" for s, c in incoming.items())
        git(["update-ref", "--stdin"], cwd=root, input=script.encode(), check=False)
    return arrival


def _merge(root: str, sha: str, ours: str, theirs_commit: str, theirs: notes.Annotation) -> str:
    base_proc = git(["merge-base", ours, theirs_commit], cwd=root, check=False)
    base_commit = base_proc.stdout.decode().strip() if base_proc.returncode == 0 else ""
    read = notes.read_commits(root, {k: v for k, v in (("ours", ours), ("base", base_commit)) if v})
    base = read["base"][0] if "base" in read else notes.Annotation()
    result = notes.merged(base, read["ours"][0], theirs)
    return notes.make_commit(root, result, [ours, theirs_commit],
                             f"merge annotations\n\nexperiment {sha}")
