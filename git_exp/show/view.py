"""`git exp show` as data: the selected rows, filtered, sorted and cut, and their columns.

Filters (--where, --limit) choose experiments; a baseline row stays as the
head of its experiments, and on its own only when it matches --where
itself. Sorting orders experiments within their baseline, so the tree
stays a tree; --limit keeps the first N experiments across all baselines in
that same order (newest first, or by --sort-by), which makes
`-A --sort-by acc --sort-order desc --limit 5` a leaderboard of the whole
repository.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from git_exp.errors import ExpError
from git_exp.show import columns as cols
from git_exp.show.collect import PLAIN_STATES, Row, Selection, collect
from git_exp.show.values import sort_key

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Callable

    from git_exp.repo import Repository
    from git_exp.show.commits import CommitReader
    from git_exp.show.refstate import RefState


SORT_ORDERS = ("asc", "desc")


@dataclass
class View:
    rows: list                      # Row, in display order (tree order)
    columns: list                   # columns.Column shown, metrics first
    show_created: bool = True
    show_state: bool = False
    show_notes: bool = True         # when some row has tags, a note or a message (--drop Notes hides it)
    warnings: list = field(default_factory=list)   # one message per problem, naming the commits
    unreadable: list = field(default_factory=list)  # experiments that could not be shown at all


def show(repo: Repository, *, all_commits: bool = False, num: int | None = None, revs: list | None = None,
         hide_failed: bool = False, hide_workspace: bool = False, sort_by: str | None = None,
         sort_order: str = "asc", where: str | None = None, limit: int | None = None,
         only_changed: bool = False, drop: list | None = None, keep: list | None = None,
         kinds: tuple = cols.KINDS, tags: list | None = None, hide_queued: bool = False,
         all_branches: bool = False, all_tags: bool = False, listing: RefState | None = None,
         reader: CommitReader | None = None) -> View:
    if sort_order not in SORT_ORDERS:
        raise ExpError(f"unknown sort order '{sort_order}'", hint="use asc or desc")
    if limit is not None and limit < 0:
        raise ExpError(f"--limit must not be negative, not {limit}",
                       hint="--limit N keeps the first N experiments in sort order, across the commits shown")
    selection = collect(repo, all_commits=all_commits, num=num, revs=revs,
                        hide_failed=hide_failed, hide_workspace=hide_workspace,
                        hide_queued=hide_queued, all_branches=all_branches, all_tags=all_tags,
                        listing=listing, reader=reader)
    return arrange(selection, sort_by=sort_by, sort_order=sort_order, where=where, limit=limit,
                   only_changed=only_changed, drop=drop, keep=keep, kinds=kinds, tags=tags)


def arrange(selection: Selection, *, sort_by: str | None = None, sort_order: str = "asc",
            where: str | None = None, limit: int | None = None, only_changed: bool = False,
            drop: list | None = None, keep: list | None = None,
            kinds: tuple = cols.KINDS, tags: list | None = None) -> View:
    """The pure part of `show`: everything after the rows are read."""
    every = [c for c in cols.discover(selection.rows()) if c.kind in kinds]
    test = None
    if where is not None:
        # Only --where needs the expression parser (a regex and a dataclass at import).
        from git_exp.show.where import compile_where, key_resolver
        test = compile_where(where, key_resolver(lambda name: cols.find(every, name).get),
                             cols.MISSING)
    if tags:
        wanted = set(tags)
        where_test = test
        def test(row: Row) -> bool:
            return bool(wanted & set(row.tags)) and (where_test is None or where_test(row))
    order = _ordering(cols.find(every, sort_by, "--sort-by") if sort_by else None, sort_order)

    groups = []
    for group in selection.groups:
        kept = [e for e in group.experiments if test is None or test(e)]
        groups.append((group.baseline, order(kept)))
    if limit is not None:
        ranked = order([e for _, exps in groups for e in exps])
        chosen = {id(e) for e in ranked[:limit]}
        groups = [(base, [e for e in exps if id(e) in chosen]) for base, exps in groups]

    rows: list[Row] = []
    workspace = selection.workspace
    if workspace is not None and (test is None or test(workspace)):
        rows.append(workspace)
    filtered = test is not None or limit is not None
    for base, exps in groups:
        if exps or not filtered or (test is not None and test(base)):
            rows.append(base)
            rows.extend(exps)

    present = [c for c in every if any(c.has(r) for r in rows)]
    shown = cols.choose(present, rows, only_changed, drop, keep)
    dropping = cols.compile_patterns(drop, "--drop")
    keeping = cols.compile_patterns(keep, "--keep")

    def meta(label: str) -> bool:
        return cols.matches(keeping, label) or not cols.matches(dropping, label)

    return View(rows, shown,
                show_created=meta("Created"),
                show_state=any(r.state not in PLAIN_STATES for r in rows) and meta("State"),
                show_notes=meta("Notes"),
                warnings=selection.unreadable + problems(rows), unreadable=selection.unreadable)


def _ordering(column: cols.Column | None, sort_order: str) -> Callable[[list], list]:
    """A function sorting experiments: by COLUMN (rows without it last), else newest first."""
    def order(experiments: list) -> list:
        if column is None:
            return sorted(experiments, key=lambda r: (r.rev is not None, -r.timestamp, _natural(r.name)))
        having = [r for r in experiments if column.has(r)]
        lacking = [r for r in experiments if not column.has(r)]
        having.sort(key=lambda r: sort_key(column.get(r)), reverse=sort_order == "desc")
        return having + lacking
    return order


def problems(rows: list) -> list[str]:
    """Each distinct problem once, with the rows it affects."""
    where: dict[str, list] = {}
    for row in rows:
        for message in row.errors:
            label = "workspace" if row.rev is None else row.rev[:7]
            where.setdefault(message, []).append(label)
    out = []
    for message, labels in where.items():
        listed = ", ".join(labels[:3]) + (f" and {len(labels) - 3} more" if len(labels) > 3 else "")
        out.append(f"{message} (in {listed})")
    return out


def _natural(name: str) -> tuple[tuple[int, int | str], ...]:
    """NAME's sort key with its numbers as numbers: sweep points that end in the
    same second come sw-1, sw-2, ..., sw-10, not sw-1, sw-10, sw-2."""
    import re
    # re.split with a group: the runs of ASCII digits at odd places, the text between at even.
    parts = re.split(r"([0-9]+)", name)
    return tuple((0, int(part)) if i % 2 else (1, part) for i, part in enumerate(parts) if part)
