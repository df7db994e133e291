"""The metric and param columns of a table, and finding one by name.

Every key of every metrics and params file becomes a column, flattened
(`train.lr`). A column is called by its key alone, unless two files share
that key: then both are called `file:key`, so a name never means two things.
Metrics come before params; files and keys keep the order in which rows
first show them (the pipeline's order, then file order).
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from git_exp.errors import ExpError

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Iterable, Protocol

    class Valued(Protocol):
        """A row of values: collect.Row, or anything else with the same two mappings."""

        @property
        def metrics(self) -> dict[str, dict]: ...   # file -> {key: value}
        @property
        def params(self) -> dict[str, dict]: ...

KINDS = ("metrics", "params")
_MISSING = object()


@dataclass(frozen=True)
class Column:
    kind: str       # "metrics" or "params"
    file: str
    key: str
    label: str      # what the header says: key, or file:key where the key is shared

    @property
    def full(self) -> str:
        return f"{self.file}:{self.key}"

    def get(self, row: Valued, default: object = _MISSING) -> object:
        """This column's value in ROW (anything with .metrics/.params), or DEFAULT."""
        values = getattr(row, self.kind).get(self.file)
        if values is None or self.key not in values:
            return default
        return values[self.key]

    def has(self, row: Valued) -> bool:
        return self.get(row) is not _MISSING


MISSING = _MISSING


def values(columns: list[Column], rows: Iterable[Valued]) -> list[list]:
    """The value (or MISSING) of each column in each row: one pass, for big tables."""
    where = [(c.kind == "metrics", c.file, c.key) for c in columns]
    out = []
    for row in rows:
        metrics, params = row.metrics, row.params
        line = []
        for is_metric, file, key in where:
            found = (metrics if is_metric else params).get(file)
            line.append(_MISSING if found is None else found.get(key, _MISSING))
        out.append(line)
    return out


def discover(rows: Iterable[Valued]) -> list[Column]:
    """Every column any of ROWS has a value for, in display order."""
    seen: dict[tuple, None] = {}
    for kind in KINDS:
        for row in rows:
            for file, values in getattr(row, kind).items():
                for key in values:
                    seen.setdefault((kind, file, key), None)
    files_of: dict[str, set] = {}
    for _, file, key in seen:
        files_of.setdefault(key, set()).add(file)
    return [Column(kind, file, key, key if len(files_of[key]) == 1 else f"{file}:{key}")
            for kind, file, key in seen]


def find(columns: list[Column], name: str, what: str = "column") -> Column:
    """The column NAME means: a label, `file:key`, or a key only one file has.

    Keys are compared in their canonical spelling, so '"train".lr' finds
    train.lr and a key holding a dot is found as server."http.conf".
    """
    name = _canonical(name)
    for column in columns:
        if name == column.label or name == column.full:
            return column
    by_key = [c for c in columns if c.key == name]
    if len(by_key) == 1:
        return by_key[0]
    if by_key:
        raise ExpError(f"{what} '{name}' is ambiguous: it is in "
                       + ", ".join(sorted({c.file for c in by_key})),
                       hint="name the file too: " + " or ".join(c.full for c in by_key))
    labels = [c.label for c in columns]
    close = difflib.get_close_matches(name, labels, n=3)
    raise ExpError(f"no metric or param named '{name}' in the rows shown",
                   hint=f"did you mean {' or '.join(close)}?" if close
                   else ("the columns are: " + ", ".join(labels[:12])
                         + (", ..." if len(labels) > 12 else "")) if labels
                   else "these rows have no metrics or params")


def _canonical(name: str) -> str:
    if '"' not in name:
        return name
    from git_exp.params.keys import find_outside_quotes, join_key, split_key
    colon = find_outside_quotes(name, ":", last=True)
    head, key = (name[:colon + 1], name[colon + 1:]) if colon >= 0 else ("", name)
    try:
        return head + join_key(split_key(key))
    except ExpError:
        return name   # not a key path: the lookup below says what is there


def compile_patterns(patterns: list[str] | None, option: str) -> list:
    compiled = []
    for pattern in patterns or []:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise ExpError(f"{option}: invalid regular expression '{pattern}': {exc}",
                           hint="it is a Python regular expression searched in each column's name; "
                                "put a '\\' before ( ) [ ] . * + ? to mean the character itself") from None
    return compiled


def matches(patterns: list, *names: str) -> bool:
    return any(p.search(name) for p in patterns for name in names)


def choose(columns: list[Column], rows: Iterable[Valued], only_changed: bool = False,
           drop: list[str] | None = None, keep: list[str] | None = None) -> list[Column]:
    """The columns left after --only-changed and --drop; --keep overrides both.

    A pattern is a Python regular expression searched in the column's label
    and in its `file:key` name.
    """
    dropping = compile_patterns(drop, "--drop")
    keeping = compile_patterns(keep, "--keep")
    chosen = []
    for column in columns:
        if matches(keeping, column.label, column.full):
            chosen.append(column)
            continue
        if matches(dropping, column.label, column.full):
            continue
        if only_changed and not changes(column, rows):
            continue
        chosen.append(column)
    return chosen


def changes(column: Column, rows: Iterable[Valued]) -> bool:
    """Whether COLUMN holds more than one value across ROWS (missing counts as a value)."""
    first = _MISSING
    for index, row in enumerate(rows):
        value = column.get(row)
        if index == 0:
            first = value
        elif not _same(value, first):
            return True
    return False


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b or (a is _MISSING and b is _MISSING)
