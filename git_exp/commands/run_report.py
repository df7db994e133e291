"""How `run` and `run --temp` end their report: one line with -q, else the log's
place; a failure is raised for cli.py to say, as every error (Ctrl-C: exit 130)."""
from __future__ import annotations

from git_exp.errors import ExpError, Interrupted

TYPE_CHECKING = False   # typing's, without importing typing on run's path (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.ui.console import Console


def metrics_line(metrics: dict[str, object]) -> str:
    """The first six metrics on one line, floats to four significant digits, as the
    queue's tables write them (run, run --temp and repro end their report with it)."""
    from git_exp.commands.queue_view import value_text
    return "  " + "  ".join(f"{k}: {value_text(v)}" for k, v in list(metrics.items())[:6])


def _exit(status: str) -> int:
    return 0 if status == "success" else 130 if status == "interrupted" else 1


def quiet_line(console: Console, name: str, sha: str, status: str, error: str | None, hint: str | None) -> int:
    """-q: what was recorded and how it went; an interruption says no more."""
    console.out(f"{name} {sha} {status}")
    if error and status != "interrupted":
        raise ExpError(error, hint=hint)
    return _exit(status)


def failure_tail(console: Console, name: str, status: str, error: str | None, hint: str | None) -> int:
    """After a failed or interrupted run's report: where its log is, then what went wrong."""
    console.out(f"Its log: git exp logs {name}")
    if error:
        raise (Interrupted if status == "interrupted" else ExpError)(error, hint=hint)
    return _exit(status)
