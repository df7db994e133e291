"""What the pages read, as JSON-ready data, from the same core calls as the commands.

experiments() is `git exp show --json` (show/records.py builds both); one
experiment, a comparison and logs come from the functions behind `show`,
`diff` and `logs`; the queue from `queue status`; the plots page is the very
page `git exp plots diff` writes. Nothing here has logic a command lacks.
"""
from __future__ import annotations

from typing import Any

from git_exp.errors import ExpError
from git_exp.git import git
from git_exp.repo import Repository

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.show.collect import Row

# A log or a diff larger than this is cut (the page says so): a browser tab
# is no place for a gigabyte of output.
MAX_TEXT = 256 * 1024
MAX_DIFF_FILE = 64 * 1024


def experiments(repo: Repository, all_commits: bool = False, where: str | None = None) -> dict:
    from git_exp.show.records import view_objects
    from git_exp.show.view import show
    view = show(repo, all_commits=all_commits, where=where or None)
    return {"rows": view_objects(view),
            "columns": [{"kind": c.kind, "file": c.file, "key": c.key, "label": c.label}
                        for c in view.columns],
            "warnings": list(view.warnings)}


def _row(repo: Repository, rev: str | None) -> tuple[Row, dict]:
    from git_exp.show.columns import discover
    from git_exp.show.commits import CommitReader
    from git_exp.show.diff import target
    from git_exp.show.records import row_object
    row, _ = target(repo, rev or None, CommitReader(repo))
    return row, row_object(row, discover([row]))


def experiment(repo: Repository, rev: str) -> dict:
    """One experiment (or commit): metadata, message, params, metrics, files, log."""
    row, obj = _row(repo, rev)
    # Any: JSON-ready values of every kind, as compare() builds them.
    result: dict[str, Any] = {"row": obj, "message": "", "files": [], "log": None, "log_cut": False}
    if row.rev:
        result["message"] = git(["log", "-1", "--format=%B", row.rev], cwd=repo.root).stdout.decode(
            "utf-8", "replace")
        if row.parent:
            result["files"] = _changed_files(repo, row.parent, row.rev)
    if row.kind == "experiment" and row.rev:   # an experiment row always has its commit
        try:
            from git_exp.experiments.manage import read_log
            _, data = read_log(repo, row.rev)
            result["log_cut"] = len(data) > MAX_TEXT
            result["log"] = data[-MAX_TEXT:].decode("utf-8", "replace")
        except ExpError as err:
            result["log_missing"] = err.message
    return result


def _changed_files(repo: Repository, a: str, b: str) -> list[dict]:
    out = git(["diff-tree", "-r", "-z", "--no-renames", "--name-status", a, b], cwd=repo.root).stdout
    parts = out.decode("utf-8", "surrogateescape").split("\0")
    return [{"status": parts[i], "path": parts[i + 1]} for i in range(0, len(parts) - 1, 2) if parts[i]]


def compare(repo: Repository, revs: list[str]) -> dict:
    """Two or more experiments side by side: every value, and the change from the first."""
    from git_exp.show.columns import MISSING
    from git_exp.show.diff import compare_rows
    if len(revs) < 2:
        raise ExpError("compare needs two or more experiments", hint="select at least two rows")
    pairs = [_row(repo, rev) for rev in revs]
    first = pairs[0][0]
    keys: dict = {}
    for row, _ in pairs[1:]:
        for change in compare_rows(first, row, include_all=True):
            keys.setdefault((change.kind, change.file, change.key), None)
    table = []
    for kind, file, key in keys:
        values = [getattr(row, kind).get(file, {}).get(key, MISSING) for row, _ in pairs]
        base = values[0]
        table.append({"kind": kind, "file": file, "key": key,
                      "values": [None if v is MISSING else v for v in values],
                      "missing": [v is MISSING for v in values],
                      "deltas": [_delta(base, v) for v in values],
                      "changed": any(type(v) is not type(base) or v != base for v in values)})
    result: dict[str, Any] = {"rows": [obj for _, obj in pairs], "values": table, "files": [], "diffs": {}}
    a, b = pairs[0][0].rev, pairs[1][0].rev
    if a and b:
        result["files"] = _changed_files(repo, a, b)
        result["diffs"], result["diff_cut"] = _text_diffs(repo, a, b, result["files"])
    return result


def _delta(base: object, value: object) -> float | None:
    if isinstance(base, bool) or isinstance(value, bool):
        return None
    if isinstance(base, (int, float)) and isinstance(value, (int, float)):
        return value - base
    return None


def _text_diffs(repo: Repository, a: str, b: str, files: list[dict]) -> tuple[dict, bool]:
    """`git diff` of each small changed text file, up to MAX_TEXT in all."""
    sizes: dict[str, int] = {}
    for rev in (a, b):
        out = git(["ls-tree", "-r", "-l", "-z", rev], cwd=repo.root).stdout.decode("utf-8", "surrogateescape")
        for entry in out.split("\0"):
            meta, _, path = entry.partition("\t")
            fields = meta.split()
            if len(fields) == 4 and fields[3].isdigit():
                sizes[path] = max(sizes.get(path, 0), int(fields[3]))
    diffs: dict[str, str | None] = {}
    total, cut = 0, False
    for item in files:
        path = item["path"]
        if sizes.get(path, 0) > MAX_DIFF_FILE:
            diffs[path] = None
            continue
        text = git(["diff", "--no-color", "--no-ext-diff", a, b, "--", path],
                   cwd=repo.root).stdout.decode("utf-8", "replace")
        if total + len(text) > MAX_TEXT:
            cut = True
            break
        total += len(text)
        diffs[path] = text
    return diffs, cut


def queue(repo: Repository) -> dict:
    from git_exp.queue.control import status
    now = status(repo)
    return {"workers": now.workers,
            "entries": [{"id": r.id, "name": r.name, "state": r.state, "created": r.created,
                         "duration": r.duration, "attempt": r.attempt, "params": list(r.params),
                         "exp_sha": r.exp_sha, "error": r.error} for r in now.rows]}


def queue_log(repo: Repository, entry: str, offset: int = 0) -> dict:
    """A queue entry's output from OFFSET on, for the live tail."""
    from git_exp.queue.control import read_log
    data = b"".join(read_log(repo, entry, follow=False))
    offset = max(0, min(offset, len(data)))
    chunk = data[offset:offset + MAX_TEXT]
    return {"text": chunk.decode("utf-8", "replace"), "offset": offset + len(chunk), "size": len(data)}


def plots_page(repo: Repository, revs: list[str]) -> str:
    from git_exp.plots import collect
    from git_exp.plots.page import build_page
    result = collect.diff(repo, revs or None)
    return build_page(result, f"Plots of {len(result.revisions)} revisions")
