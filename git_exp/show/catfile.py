"""TEMPORARY: removed by the import rewrite at the end of branch gitdoor (issue 15)."""
from git_exp.git.catfile import CatFile, CommitInfo, GitObject, Trees, parse_commit, parse_tree  # noqa: F401
