"""`show`'s rows as plain objects: what `git exp show --json` prints and
`git_exp.api.experiments()` returns, built in one place so the two can never
differ. The schema is documented in git-exp-show(1), JSON OUTPUT.
"""
from __future__ import annotations

from git_exp.show.columns import MISSING

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.show.collect import Row
    from git_exp.show.columns import Column
    from git_exp.show.view import View


def row_object(row: Row, columns: list[Column]) -> dict:
    """One row: name, kind, rev, baseline, parent, created, state, message, note, tags,
    params, metrics."""
    values: dict = {"params": {}, "metrics": {}}
    for column in columns:
        value = column.get(row, MISSING)
        if value is not MISSING:
            values[column.kind].setdefault(column.file, {})[column.key] = value
    return {"name": row.name, "kind": row.kind, "rev": row.rev, "baseline": row.baseline,
            "parent": row.parent, "created": row.created, "state": row.state,
            "message": row.message, "note": row.note or None, "tags": list(row.tags),
            "params": values["params"], "metrics": values["metrics"]}


def view_objects(view: View) -> list[dict]:
    """Every row of a show.view.View, in table order."""
    return [row_object(r, view.columns) for r in view.rows]
