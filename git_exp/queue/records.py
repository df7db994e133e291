"""Which executor holds which entry: <exp_dir>/queue/remote/<id>.json.

The claim ref says that the entry runs and which local process looks after
it; this adds where (the engine, the task's key or Slurm job, the remote),
for the user and for a client that restarts. Written atomically; a damaged
file reads as absent, since the refs stay the truth.
"""
from __future__ import annotations

import json
import os

from git_exp.atomic import write_atomic
from git_exp.repo import Repository


def folder(repo: Repository) -> str:
    return os.path.join(repo.exp_dir, "queue", "remote")


def write(repo: Repository, entry_id: str, data: dict) -> None:
    write_atomic(os.path.join(folder(repo), f"{entry_id}.json"),
                 json.dumps(dict(data, id=entry_id), indent=1, sort_keys=True) + "\n")


def read(repo: Repository, entry_id: str) -> dict | None:
    try:
        with open(os.path.join(folder(repo), f"{entry_id}.json"), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def remove(repo: Repository, entry_id: str) -> None:
    try:
        os.unlink(os.path.join(folder(repo), f"{entry_id}.json"))
    except FileNotFoundError:
        pass
