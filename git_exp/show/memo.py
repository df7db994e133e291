"""What `show` learnt about each commit, kept under <exp_dir>/memo/.

A commit never changes, so what we parse out of it (params, metrics, date,
state) is valid forever: keyed by commit sha, each experiment is read from
Git once, ever. Entries live in 256 shard files by the sha's first two hex
digits: a warm `show` of 10,000 experiments opens 256 small files instead of
10,000, and recording a new experiment rewrites one shard, not everything.

A shard is written whole to a temp file and renamed into place, so readers
(and concurrent `show`s) only ever see a complete file; two writers racing
lose nothing that cannot be read again. A shard that does not parse is
treated as empty and rewritten: the memo is a cache, never a source of truth.
The format version is part of the folder name, so a newer git-exp that
parses differently starts a fresh memo instead of trusting an old one.
"""
from __future__ import annotations

import json
import os

from git_exp.atomic import write_atomic

VERSION = 1


class Memo:
    def __init__(self, exp_dir: str):
        self.folder = os.path.join(exp_dir, "memo", f"commits-v{VERSION}")
        self._shards: dict[str, dict] = {}
        self._new: dict[str, dict] = {}     # shard prefix -> entries added by this process

    def shard_path(self, sha: str) -> str:
        return os.path.join(self.folder, sha[:2] + ".json")

    def _shard(self, prefix: str) -> dict:
        shard = self._shards.get(prefix)
        if shard is None:
            shard = self._load(os.path.join(self.folder, prefix + ".json"))
            self._shards[prefix] = shard
        return shard

    @staticmethod
    def _load(path: str) -> dict:
        try:
            with open(path, "rb") as fh:
                data = json.loads(fh.read())
        except (OSError, ValueError):   # missing, unreadable or corrupt: start over
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, sha: str) -> dict | None:
        entry = self._shard(sha[:2]).get(sha)
        return entry if isinstance(entry, dict) else None

    def put(self, sha: str, entry: dict) -> None:
        self._shard(sha[:2])[sha] = entry
        self._new.setdefault(sha[:2], {})[sha] = entry

    def save(self) -> None:
        """Write the shards that gained entries; a read-only Git dir just means no memo.

        The shard is read again just before it is replaced, so entries
        another `show` added meanwhile are kept rather than overwritten.
        """
        for prefix in sorted(self._new):
            path = os.path.join(self.folder, prefix + ".json")
            shard = self._load(path)
            shard.update(self._new[prefix])
            data = json.dumps(shard, separators=(",", ":"))
            try:
                write_atomic(path, data)
            except OSError:
                break
        self._new.clear()
