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
from git_exp.repo import Repository


def configured_store(repo: Repository, remote: str):
    """The LFS store set explicitly for REMOTE (lfs.url, remote.<name>.lfsurl, .lfsconfig), or None."""
    from git_exp.remotes.lfs.endpoint import configured
    endpoint = configured(repo.config, repo.root, remote)
    return open_store(repo, endpoint) if endpoint else None


def derived_store(repo: Repository, url: str):
    """The LFS store the spec derives from Git remote URL (http(s), ssh, scp-like), or None."""
    from git_exp.remotes.lfs.endpoint import derive
    endpoint = derive(url)
    return open_store(repo, endpoint) if endpoint else None


def open_store(repo: Repository, endpoint):
    from git_exp.data.cache import Cache
    from git_exp.remotes.lfs.batch import Session
    from git_exp.remotes.lfs.remote import LFSRemote

    cache = Cache(repo.exp_dir)

    def local_size(hash: str):
        try:
            return os.path.getsize(cache.object_path(hash))
        except (OSError, ValueError):
            return None

    session = Session(endpoint, repo.root, repo.config)
    return LFSRemote(session, local_size, f"LFS store {session.label} ({endpoint.source})")
