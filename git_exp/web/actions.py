"""What the pages may change: each action is the core call its command makes.

apply keeps its backup and its refusals (a file in the way is refused unless
`force`), queueing parses `-S` values and sweeps as `run --queue` does, and
every failure is the command's ExpError, which the page shows as the command
would print it. The page asks before anything destructive; the server checks
the token and Origin before any of these runs (security.py).
"""
from __future__ import annotations

from git_exp.errors import ExpError
from git_exp.repo import Repository


def _text(body: dict, key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ExpError(f"'{key}' must be a non-empty string")
    return value


def _texts(body: dict, key: str) -> list[str]:
    values = body.get(key)
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
        raise ExpError(f"'{key}' must be a list of non-empty strings")
    return values


def apply(repo: Repository, body: dict) -> dict:
    from git_exp.experiments.apply import apply_commit
    from git_exp.experiments.resolve import resolve
    found = resolve(repo, _text(body, "rev"))
    result = apply_commit(repo, found.sha, force=bool(body.get("force")), name=found.name)
    return {"message": f"Applied '{found.name}' ({found.sha[:7]}): {result.written} files",
            "backup": result.backup_ref, "missing": list(result.missing), "forced": list(result.forced)}


def branch(repo: Repository, body: dict) -> dict:
    from git_exp.experiments.manage import branch as make_branch
    found, name = make_branch(repo, _text(body, "rev"), body.get("branch") or None)
    return {"message": f"Branch '{name}' created at experiment '{found.name}' ({found.sha[:7]})."}


def rename(repo: Repository, body: dict) -> dict:
    from git_exp.experiments.manage import rename as rename_exp
    from git_exp.queue.entries import reserved_names
    found, _ = rename_exp(repo, _text(body, "rev"), _text(body, "name"), reserved_names(repo))
    return {"message": f"Renamed '{found.name}' to '{body['name']}'."}


def remove(repo: Repository, body: dict) -> dict:
    from git_exp.experiments.manage import remove as remove_exps
    removed = remove_exps(repo, _texts(body, "revs"))
    return {"message": f"Removed {', '.join(r.name for r in removed) or 'nothing'}."}


def queue(repo: Repository, body: dict) -> dict:
    """`git exp run --queue -S ...` (sweeps included), optionally starting workers."""
    from git_exp.queue.enqueue import enqueue
    overrides = body.get("set") or []
    if not isinstance(overrides, list) or not all(isinstance(v, str) and v for v in overrides):
        raise ExpError("'set' must be a list of KEY=VALUE strings")
    entries = enqueue(repo, overrides, name=body.get("name") or None)
    result = {"message": f"Queued {len(entries)} experiment(s): " + ", ".join(e.name for e in entries)}
    jobs = body.get("jobs")
    if jobs:
        result["message"] += "; " + start(repo, {"jobs": jobs})["message"]
    return result


def start(repo: Repository, body: dict) -> dict:
    from git_exp.queue.worker import start as start_workers
    jobs = body.get("jobs", 1)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or not 1 <= jobs <= 64:
        raise ExpError("'jobs' must be a whole number from 1 to 64")
    pids, running, queued = start_workers(repo, jobs)
    if not queued:
        return {"message": "The queue is empty: nothing to start."}
    return {"message": f"Started {len(pids)} worker(s) for {queued} queued entries"
                       + (f" ({running} already running)." if running else ".")}


def stop(repo: Repository, body: dict) -> dict:
    from git_exp.queue.control import stop as stop_workers
    stopped = stop_workers(repo, now=bool(body.get("now")))
    return {"message": f"Asked {len(stopped)} worker(s) to stop."}


def kill(repo: Repository, body: dict) -> dict:
    from git_exp.queue.control import kill as kill_entries
    killed = kill_entries(repo, _texts(body, "ids"))
    return {"message": f"Killed {', '.join(r.name for r in killed) or 'nothing'}."}


ACTIONS = {"apply": apply, "branch": branch, "rename": rename, "remove": remove,
           "queue": queue, "start": start, "stop": stop, "kill": kill}
