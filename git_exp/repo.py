"""Where we are: the work tree, the Git dir and the common dir.

Discovery asks `git rev-parse` once, so GIT_DIR, gitfiles, linked worktrees
and safe.directory behave exactly as they do for the user's own git. Nothing
here is heavy to import: hooks that have nothing to do must start fast.
"""
from __future__ import annotations

import os

from git_exp.errors import ExpError, NotARepositoryError
from git_exp.git import git, reason

TYPE_CHECKING = False   # typing's, without importing typing at start-up (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.config import Config


class Repository:
    # A plain class, not a dataclass: importing dataclasses (and inspect) is a
    # good part of the replayed no-op `run` and of every hook's start-up.
    __slots__ = ("root", "git_dir", "common_dir", "_config")

    def __init__(self, root: str, git_dir: str, common_dir: str, _config: object = None):
        self.root = root                # top of the work tree
        self.git_dir = git_dir          # this worktree's git dir (.git, or .git/worktrees/X)
        self.common_dir = common_dir    # shared by linked worktrees: refs, objects, our cache
        self._config = _config

    def __repr__(self) -> str:
        return (f"Repository(root={self.root!r}, git_dir={self.git_dir!r}, "
                f"common_dir={self.common_dir!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Repository):
            return NotImplemented
        return (self.root, self.git_dir, self.common_dir) == (other.root, other.git_dir,
                                                              other.common_dir)

    __hash__ = None  # type: ignore[assignment]  # as the dataclass: mutable, so unhashable

    @property
    def exp_dir(self) -> str:
        """Our private state under the common dir, shared by worktrees."""
        return os.path.join(self.common_dir, "exp")

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    @property
    def config(self) -> Config:
        if self._config is None:
            from git_exp.config import Config
            self._config = Config.load(self)
        return self._config  # type: ignore[return-value]  # set just above, or given by the caller


def discover(start: str | None = None) -> Repository:
    """Find the repository containing START (default: the current directory)."""
    cwd = start or os.getcwd()
    proc = git(["rev-parse", "--path-format=absolute", "--is-bare-repository",
                "--absolute-git-dir", "--git-common-dir", "--show-toplevel"], cwd=cwd, check=False)
    lines = proc.stdout.decode("utf-8", "surrogateescape").splitlines()
    if proc.returncode != 0 or not lines:
        stderr = proc.stderr.decode("utf-8", "replace")
        if "not a git repository" in stderr or not lines:
            raise NotARepositoryError()
        raise ExpError(reason(stderr, proc.returncode))
    if lines[0] == "true" or len(lines) < 4:
        raise NotARepositoryError("this operation must be run in a work tree",
                                  hint="git-exp needs a repository with a work tree, not a bare one")
    git_dir = lines[1]
    return Repository(root=lines[3], git_dir=git_dir, common_dir=lines[2])
