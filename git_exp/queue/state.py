"""Small JSON files beside the queue refs: progress, outcomes, workers, requests.

The refs say which entries are queued and running and who owns each claim;
these files add what Git need not keep, all under <exp_dir>/queue/:

    <id>.json          an entry's progress and, once it ended, its outcome
    <id>.kill          `queue kill` asked the owner to stop this entry
    workers/<pid>.json a live worker (removed when it exits)
    workers/<pid>.stop `queue stop` asked this worker to exit after its entry
    workers/<pid>.log  the worker's own output

Every file is written atomically (temp file + rename), and a reader that
finds a damaged one treats it as absent: the refs stay the truth.
"""
from __future__ import annotations

import json
import os

from git_exp.atomic import write_atomic
from git_exp.repo import Repository

DONE_STATES = ("success", "failed", "interrupted")


def queue_dir(repo: Repository) -> str:
    return os.path.join(repo.exp_dir, "queue")


def workers_dir(repo: Repository) -> str:
    return os.path.join(queue_dir(repo), "workers")


def _read_json(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _json_files(folder: str) -> list[tuple[str, dict]]:
    """(name without .json, data) of every readable `NAME.json` mapping in FOLDER, in name
    order; none when FOLDER is missing. Hidden names (a temp file's) are passed over."""
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        if name.endswith(".json") and not name.startswith("."):
            data = _read_json(os.path.join(folder, name))
            if data is not None:
                found.append((name[:-5], data))
    return found


def _unlink(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


# -- entries -------------------------------------------------------------

def state_path(repo: Repository, entry_id: str) -> str:
    return os.path.join(queue_dir(repo), f"{entry_id}.json")


def read_state(repo: Repository, entry_id: str) -> dict | None:
    return _read_json(state_path(repo, entry_id))


def write_state(repo: Repository, entry_id: str, data: dict) -> None:
    write_atomic(state_path(repo, entry_id), json.dumps(data, indent=1, sort_keys=True) + "\n")


def remove_state(repo: Repository, entry_id: str) -> bool:
    return _unlink(state_path(repo, entry_id))


def all_states(repo: Repository) -> dict[str, dict]:
    """id -> state of every entry that has a state file."""
    return {stem: data for stem, data in _json_files(queue_dir(repo)) if data.get("id") == stem}


def request_kill(repo: Repository, entry_id: str) -> None:
    write_atomic(os.path.join(queue_dir(repo), f"{entry_id}.kill"), "")


def kill_requested(repo: Repository, entry_id: str) -> bool:
    return os.path.exists(os.path.join(queue_dir(repo), f"{entry_id}.kill"))


def clear_kill(repo: Repository, entry_id: str) -> None:
    _unlink(os.path.join(queue_dir(repo), f"{entry_id}.kill"))


def any_kill_requests(repo: Repository) -> set[str]:
    try:
        return {n[:-5] for n in os.listdir(queue_dir(repo)) if n.endswith(".kill")}
    except FileNotFoundError:
        return set()


# -- workers -------------------------------------------------------------

def register_worker(repo: Repository, pid: int, info: dict) -> None:
    write_atomic(os.path.join(workers_dir(repo), f"{pid}.json"), json.dumps(info, sort_keys=True) + "\n")


def unregister_worker(repo: Repository, pid: int) -> None:
    _unlink(os.path.join(workers_dir(repo), f"{pid}.json"))
    _unlink(os.path.join(workers_dir(repo), f"{pid}.stop"))


def list_workers(repo: Repository) -> list[dict]:
    """Every registered worker's info (alive or not: the caller checks)."""
    return [data for stem, data in _json_files(workers_dir(repo))
            if stem.isdigit() and isinstance(data.get("pid"), int)]


def request_stop(repo: Repository, pid: int) -> None:
    write_atomic(os.path.join(workers_dir(repo), f"{pid}.stop"), "")


def stop_requested(repo: Repository, pid: int) -> bool:
    return os.path.exists(os.path.join(workers_dir(repo), f"{pid}.stop"))


def worker_log(repo: Repository, pid: int) -> str:
    return os.path.join(workers_dir(repo), f"{pid}.log")
