"""The one place that reads and writes experiment refs.

Refs are moved with compare-and-swap through `git update-ref <ref> <new> <old>`
(an empty <old> means "must not exist yet"), so two writers can never
silently overwrite each other, and Git keeps packed and loose refs consistent.
"""
from __future__ import annotations

from git_exp.errors import ExpError
from git_exp.git import GitCommandError, git, reason
from git_exp.git.commits import update_refs
from git_exp.plainclass import Frozen

PREFIX = "refs/exps/"
# The queue's namespaces: entries waiting, and entries a worker has claimed.
QUEUE_PREFIX = "refs/exps-queue/"
RUNNING_PREFIX = "refs/exps-running/"
ZERO = "0" * 40


class ExpRef(Frozen):
    """One experiment ref; immutable, compared and hashed by its fields
    (plainclass.Frozen: `run` and `show` import this module on every call)."""
    __slots__ = ("ref", "baseline", "name", "sha")
    ref: str        # refs/exps/<baseline>/<name>
    baseline: str   # full sha of the commit it ran from
    name: str
    sha: str        # the experiment commit

    def __init__(self, ref: str, baseline: str, name: str, sha: str):
        self._init(ref=ref, baseline=baseline, name=name, sha=sha)


def exp_ref(baseline: str, name: str) -> str:
    return f"{PREFIX}{baseline}/{name}"


def parse_ref(ref: str, sha: str) -> ExpRef | None:
    if not ref.startswith(PREFIX):
        return None
    rest = ref[len(PREFIX):]
    baseline, _, name = rest.partition("/")
    if len(baseline) != 40 or not name or "/" in name:
        return None  # not ours: queue entries and other namespaces live elsewhere
    return ExpRef(ref, baseline, name, sha)


def list_refs(root: str, baseline: str | None = None) -> list[ExpRef]:
    """Every experiment ref (of one baseline, if given), in ref-name order."""
    pattern = exp_ref(baseline, "") if baseline else PREFIX
    out = git(["for-each-ref", "--format=%(objectname) %(refname)", pattern], cwd=root).stdout
    found = []
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        sha, _, ref = line.partition(" ")
        parsed = parse_ref(ref, sha)
        if parsed:
            found.append(parsed)
    return found


def create(root: str, ref: str, sha: str, force: bool = False) -> None:
    """Create REF at SHA; refuse if it exists (unless FORCE)."""
    args = ["update-ref", "-m", "git exp", ref, sha]
    if not force:
        args.append("")  # compare-and-swap: only if REF does not exist yet
    proc = git(args, cwd=root, check=False)
    if proc.returncode != 0:
        raise ExpError(f"cannot create {ref}: "
                       + reason(proc.stderr, proc.returncode))


def delete(root: str, ref: str, old_sha: str) -> None:
    """Delete REF only if it still points at OLD_SHA."""
    proc = git(["update-ref", "-d", ref, old_sha], cwd=root, check=False)
    if proc.returncode != 0:
        raise ExpError(f"cannot delete {ref}: "
                       + reason(proc.stderr, proc.returncode))


def move(root: str, old_ref: str, new_ref: str, sha: str) -> None:
    """Rename atomically: one transaction creates the new ref and deletes the old."""
    try:
        update_refs(root, [f"create {new_ref} {sha}", f"delete {old_ref} {sha}"])
    except GitCommandError as exc:
        raise ExpError(f"cannot rename {old_ref}: {exc.reason}") from None
