"""Git LFS stores as data remotes: zero configuration on Git hosts.

A Git remote over https or ssh with no data remote configured keeps its
data in that host's Git LFS store (GitHub, GitLab, Gitea/Forgejo,
Bitbucket, any server of the Batch API). endpoint.py finds the store as
git-lfs does, credentials.py authenticates as the user's Git does,
batch.py speaks the Batch API, remote.py maps it onto the data-remote
interface. Only the standard library is used.

Nothing here is imported until a command talks to such a remote.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from git_exp.repo import Repository

if TYPE_CHECKING:
    from git_exp.remotes.lfs.endpoint import Endpoint
    from git_exp.remotes.lfs.remote import LFSRemote


def open_store(repo: Repository, endpoint: Endpoint) -> LFSRemote:
    """The data remote for the LFS store at ENDPOINT; sizes it is not told come from the cache."""
    from git_exp.data.cache import Cache
    from git_exp.remotes.lfs.batch import Session
    from git_exp.remotes.lfs.remote import LFSRemote

    cache = Cache(repo.exp_dir)

    def local_size(hash: str) -> int | None:
        try:
            return os.path.getsize(cache.object_path(hash))
        except (OSError, ValueError):
            return None

    session = Session(endpoint, repo.root, repo.config)
    return LFSRemote(session, local_size, f"LFS store {session.label} ({endpoint.source})")
