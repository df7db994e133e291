"""TEMPORARY: removed by the import rewrite at the end of branch gitdoor (issue 15)."""
from git_exp.git.run import GitCommandError, git, git_text  # noqa: F401
