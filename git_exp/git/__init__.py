"""The door to Git: the only package that starts `git`.

- run.py: `git`/`git_text` (one command, errors carrying Git's reason),
  `git_process` (a long-lived one talking through pipes);
- catfile.py: reading objects (`cat-file --batch`, `--batch-check`), the
  long-lived reader show keeps open, blobs streamed into files;
- commits.py: revision resolution, `commit-tree`, `update-ref --stdin` transactions.

Importing this package costs only run.py (os, and no subprocess: git is
started with os.posix_spawn): hooks import it on every commit and checkout.
The other modules are imported by name where they are used.
"""
from git_exp.git.run import GitCommandError, GitNotFoundError, git, git_process, git_text, reason

__all__ = ["GitCommandError", "GitNotFoundError", "git", "git_process", "git_text", "reason"]
