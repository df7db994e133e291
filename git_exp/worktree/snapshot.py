"""Turning the work tree into a commit without touching HEAD or the index.

The snapshot is taken by real Git with a throw-away index: a copy of the
user's index (so Git's stat cache makes it fast) to which `git add -A` adds
every change, then `git write-tree`. That gives one rule for every run mode:
tracked files and untracked files Git does not ignore, exactly as the user's
own Git sees them (.gitignore, info/exclude, core.excludesFile, attributes
and clean filters). No hook runs: add, write-tree and commit-tree run none.
"""
from __future__ import annotations

import os

from git_exp.errors import ExpError
from git_exp.git import GitCommandError, commits, git, reason
from git_exp.repo import Repository


def _temp_index(repo: Repository) -> str:
    path = os.path.join(repo.git_dir, f"exp-index.{os.getpid()}")
    real = os.path.join(repo.git_dir, "index")
    if os.path.exists(real):
        # A plain copy, not shutil.copyfile: importing shutil loads bz2 and lzma,
        # ~2 ms of every run. Our own temp file (pid-named, replaced each time).
        with open(real, "rb") as src, open(path, "wb") as dst:
            while True:
                chunk = src.read(1 << 20)
                if not chunk:
                    break
                dst.write(chunk)
    return path


def snapshot_tree(repo: Repository, also: list[str] | None = None) -> str:
    """Write the whole work tree as a Git tree object and return its sha.

    ALSO names paths to take even though Git ignores them (`git add -f`):
    apply's backup holds the ignored files it is told to overwrite.
    """
    index = _temp_index(repo)
    env = {"GIT_INDEX_FILE": index}
    try:
        proc = git(["add", "-A", "--", ":/"], cwd=repo.root, env=env, check=False)
        if proc.returncode == 0 and also:
            proc = git(["add", "-f", "--pathspec-from-file=-", "--pathspec-file-nul"], cwd=repo.root,
                       env=dict(env, GIT_LITERAL_PATHSPECS="1"), check=False,
                       input=b"".join(p.encode("utf-8", "surrogateescape") + b"\0" for p in also))
        if proc.returncode != 0:
            raise ExpError("cannot snapshot the work tree: " + reason(proc.stderr, proc.returncode))
        return git(["write-tree"], cwd=repo.root, env=env).stdout.decode().strip()
    finally:
        for leftover in (index, index + ".lock"):
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass


def changed_files(repo: Repository) -> list[str]:
    """Paths (repo-relative) that a snapshot would take from the work tree
    rather than from HEAD: modified tracked files and untracked, unignored ones."""
    out = git(["ls-files", "-z", "--modified", "--others", "--exclude-standard", "--", ":/"],
              cwd=repo.root).stdout.decode("utf-8", "surrogateescape")
    return sorted({p for p in out.split("\0") if p})


def oversized_files(repo: Repository, limit: int, changed: list[str] | None = None) -> list[tuple[str, int]]:
    """Files over LIMIT bytes that the next snapshot would put into Git.
    CHANGED: changed_files(repo), when the caller has it already."""
    big = []
    for rel in sorted(set(changed)) if changed is not None else changed_files(repo):
        try:
            st = os.lstat(os.path.join(repo.root, rel))
        except FileNotFoundError:
            continue  # deleted: nothing to store
        if st.st_size > limit and not os.path.isdir(os.path.join(repo.root, rel)):
            big.append((rel, st.st_size))
    return big


def commit_tree(repo: Repository, tree: str, parents: list[str], message: str) -> str:
    """A commit object with the user's identity; no ref moves, no hook runs."""
    try:
        return commits.commit_tree(repo.root, tree, parents, message)
    except GitCommandError as exc:
        if exc.missing_identity:
            raise ExpError("Git does not know who you are, so it cannot write the experiment commit",
                           hint='run: git config --global user.name "Your Name"\n'
                                '     git config --global user.email you@example.com') from None
        raise ExpError(f"cannot write the experiment commit: {exc.reason}") from None
