"""Progress of entries running on other machines, reported back through the shared remote.

A worker (`git exp exec-entry`) reads its run's params and metrics as the
running code writes them (show/running.py, passed in by the command: the
same bounded reads as for a local queue checkout) every INTERVAL seconds and, when they changed, pushes
them as one small JSON blob to `refs/exps-progress/<id>` of the shared
remote, forced: only the latest report matters. The ref points at the blob
itself, so no commit, identity or history is involved, and the worker
deletes it once its run has ended. The dispatcher fetches those refs into
the same names locally as it waits for results (receive), and `git exp
show` reads them for the running rows of entries that run elsewhere
(read_progress). Reports are best effort: a failed push or fetch is tried
again next time and never disturbs the run.

A report is untrusted input (anyone who can push to the remote can write
one): it is read only when small, and only a {file: {key: value}} shape of
plain JSON values is taken from it.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from git_exp.git import git
from git_exp.repo import Repository

PREFIX = "refs/exps-progress/"
INTERVAL = 3.0           # seconds between two looks at a running entry's files
MAX_REPORT = 1 << 20     # bytes of one report we read


def report(repo: Repository, remote: str, entry_id: str, params: dict, metrics: dict, attempt: int) -> bool:
    """Push one report for ENTRY_ID to REMOTE; whether it arrived."""
    from git_exp.sharing import gitremote
    body = json.dumps({"entry": entry_id, "attempt": attempt, "host": socket.gethostname(),
                       "time": time.time(), "params": params, "metrics": metrics},
                      sort_keys=True, ensure_ascii=False).encode("utf-8")
    blob = git(["hash-object", "-w", "--stdin"], cwd=repo.root, input=body).stdout.decode().strip()
    try:
        statuses, _ = gitremote.push(repo.root, remote, [f"+{blob}:{PREFIX}{entry_id}"],
                                     env={gitremote.DATA_SENT_ENV: "1"})
    except Exception:   # noqa: BLE001 - a report must never disturb the run
        return False
    status = statuses.get(PREFIX + entry_id)
    return status is not None and status.flag != "!"


def withdraw(repo: Repository, remote: str, entry_id: str) -> None:
    from git_exp.sharing import gitremote
    try:
        gitremote.push(repo.root, remote, [f":{PREFIX}{entry_id}"], env={gitremote.DATA_SENT_ENV: "1"})
    except Exception:   # noqa: BLE001 - the dispatcher prunes it anyway
        pass


@contextmanager
def reporting(repo: Repository, remote: str, entry_id: str, root: str, attempt: int,
              read_running: Callable[[str], tuple[dict, dict]],
              interval: float = INTERVAL) -> Iterator[None]:
    """While the body runs, report the run's files at ROOT every INTERVAL seconds when they changed
    (READ_RUNNING(root) -> (params, metrics): show/running.read_running)."""
    stop = threading.Event()
    last: list = [None]

    def loop() -> None:
        while not stop.wait(interval):
            try:
                values = read_running(root)
            except Exception:   # noqa: BLE001 - files in flux; look again next time
                continue
            if values[1] and values != last[0] and report(repo, remote, entry_id, *values, attempt):
                last[0] = values

    thread = threading.Thread(target=loop, name="git-exp-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
        if last[0] is not None:
            withdraw(repo, remote, entry_id)


def receive(repo: Repository, remote: str) -> None:
    """Fetch the workers' latest reports from REMOTE (reports of ended runs are pruned)."""
    git(["fetch", "-q", "--no-tags", "--no-write-fetch-head", "--prune", remote,
         f"+{PREFIX}*:{PREFIX}*"], cwd=repo.root, check=False)


def forget(repo: Repository, entry_ids: list[str]) -> None:
    """Drop the local reports of entries that ended."""
    if entry_ids:
        git(["update-ref", "--stdin"], cwd=repo.root, check=False,
            input="".join(f"delete {PREFIX}{i}\n" for i in entry_ids).encode())


def read_progress(repo: Repository, entry_id: str) -> tuple[dict, dict]:
    """(params, metrics) of the latest report received for ENTRY_ID; ({}, {}) if none or odd."""
    ref = PREFIX + entry_id
    size = git(["cat-file", "-s", ref], cwd=repo.root, check=False)
    if size.returncode != 0 or not size.stdout.strip().isdigit() or int(size.stdout) > MAX_REPORT:
        return {}, {}
    data = git(["cat-file", "blob", ref], cwd=repo.root, check=False)
    if data.returncode != 0:
        return {}, {}
    try:
        found = json.loads(data.stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}, {}
    if not isinstance(found, dict) or found.get("entry") != entry_id:
        return {}, {}
    return _values(found.get("params")), _values(found.get("metrics"))


def _values(tree: object) -> dict:
    """{file: {key: scalar}} only; anything else in a report is dropped."""
    if not isinstance(tree, dict):
        return {}
    out = {}
    for file, values in tree.items():
        if isinstance(file, str) and isinstance(values, dict):
            out[file] = {k: v for k, v in values.items() if isinstance(k, str) and _plain(v)}
    return out


def _plain(value: object, depth: int = 0) -> bool:
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if depth < 8 and isinstance(value, list):
        return all(_plain(v, depth + 1) for v in value)
    if depth < 8 and isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False
