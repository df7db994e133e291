"""The memory of synced paths: data path -> hash of what checkout/add last left in this work tree.

Kept in `<git dir>/exp-data-synced` (per worktree), so a later checkout can
remove data that a previous HEAD recorded and the current one does not,
even when no hook ran in between.
"""
from __future__ import annotations

import os

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.repo import Repository

STATE_FILE = "exp-data-synced"


def _state_path(repo: Repository) -> str:
    return os.path.join(repo.git_dir, STATE_FILE)


def read_synced(repo: Repository) -> dict[str, str]:
    """Data path -> hash of what the last checkout/add left in this work tree."""
    from git_exp import pathmap
    return pathmap.read(_state_path(repo))


def write_synced(repo: Repository, synced: dict[str, str]) -> None:
    from git_exp import pathmap
    pathmap.write(_state_path(repo), synced, create_empty=False)
