"""Revisions, commits and refs through Git's own plumbing.

Each function raises GitCommandError (its `reason` is Git's) when Git
refuses, so the caller can say what it was doing in its own words.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from git_exp.git.run import git


def commit_of(root: str, spec: str) -> str | None:
    """The commit any Git revision SPEC names (a branch, tag, `HEAD~2`, a sha
    prefix...), or None when it names none. SPEC is never read as an option."""
    proc = git(["rev-parse", "--verify", "-q", "--end-of-options", spec + "^{commit}"],
               cwd=root, check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def commit_tree(root: str, tree: str, parents: Sequence[str], message: str,
                env: Mapping[str, str] | None = None) -> str:
    """A new commit object of TREE; no ref moves and no hook runs. ENV may set
    the author and committer (GIT_AUTHOR_NAME, GIT_COMMITTER_DATE, ...)."""
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    return git(args, cwd=root, input=message.encode(), env=env).stdout.decode().strip()


def update_refs(root: str, commands: Sequence[str]) -> None:
    """One `git update-ref --stdin` transaction: every one of COMMANDS
    (`create REF SHA`, `delete REF OLD`, `update REF NEW OLD`) or none."""
    script = "start\n" + "".join(c + "\n" for c in commands) + "prepare\ncommit\n"
    git(["update-ref", "--stdin"], cwd=root, input=script.encode())
