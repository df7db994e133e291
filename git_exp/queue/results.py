"""Results on the shared remote: which entry an experiment came from.

An entry's result is the experiment refs/exps/<baseline>/<name>. The name
alone does not prove it is this entry's (someone may have pushed another
experiment of that name), so the Exp-Queue-Id trailer decides; the local
queue's recovery tells its own results apart the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

from git_exp.experiments import record as rec
from git_exp.experiments import refs
from git_exp.git import git

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import TypeVar

    from git_exp.queue.entries import Entry

    N = TypeVar("N", int, float)


@dataclass
class Result:
    ref: str
    sha: str
    queue_id: str
    status: str          # the experiment's Exp-Status: success, failed, interrupted
    exit_code: int = 0
    duration: float = 0.0
    attempt: int = 0


LOG_PREFIX = "refs/exps-logs/"
LOG_LIMIT = 4 * 1024 * 1024   # bytes of a published log kept (its end, if longer)


def result_ref(entry: Entry) -> str:
    """Where ENTRY's experiment goes: the name it was queued with, under its baseline."""
    return refs.exp_ref(entry.baseline, entry.name)


def log_ref(entry_id: str) -> str:
    """Where the attempt that published ENTRY's result puts its log (a blob), beside it.

    Pushed in one atomic push with the result, so it is always the winning
    attempt's: an attempt that lost the race publishes neither.
    """
    return LOG_PREFIX + entry_id


def read_result(root: str, ref: str, sha: str) -> Result:
    """What the experiment commit SHA (present locally) says about itself."""
    message = git(["log", "-1", "--format=%B", sha], cwd=root).stdout.decode("utf-8", "replace")
    trailers = rec.parse_trailers(message)

    def one(key: str, default: str = "") -> str:
        return trailers.get(key, [default])[-1]

    def number(key: str, kind: type[N]) -> N:
        try:
            return kind(one(key, "0"))
        except ValueError:
            return kind(0)

    return Result(ref, sha, one("Exp-Queue-Id"), one("Exp-Status", "success"),
                  number("Exp-Exit-Code", int), number("Exp-Duration", float),
                  number("Exp-Attempt", int))
