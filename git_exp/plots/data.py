"""One plots file read into a table of columns, and columns read as numbers.

Formats, by extension: CSV and TSV (the first row names the columns), JSON
and YAML (a list of records; a mapping holding such a list under a key; or a
mapping of column names to equal-length lists). Nested record fields are
joined with dots, as params are: {"train": {"loss": 1}} is `train.loss`.

Every error names the file and where in it: `logs.csv:7: column 3 'loss':
'abc' is not a number`, `logs.yaml:12:9: ...`. A CSV row shorter than the
header is accepted (its last cells are missing): a run killed while writing
its log leaves exactly that, and the rows before it are still worth seeing.
A longer row is an error, since its cells no longer line up with the names.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from git_exp.errors import ExpError

if TYPE_CHECKING:
    from git_exp.pipeline.yamlsrc import Mark

DATA_FORMATS = {".csv": "csv", ".tsv": "tsv", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".svg": "image/svg+xml", ".gif": "image/gif", ".webp": "image/webp"}
KINDS_HINT = "plots files are CSV, TSV, JSON or YAML data, or PNG, JPEG, GIF, WebP or SVG images"


def kind_of(path: str) -> str | None:
    """'data', 'image', or None for a file type we cannot plot."""
    ext = os.path.splitext(path)[1].lower()
    if ext in DATA_FORMATS:
        return "data"
    if ext in IMAGE_TYPES:
        return "image"
    return None


def mime_of(path: str) -> str:
    return IMAGE_TYPES.get(os.path.splitext(path)[1].lower(), "application/octet-stream")


@dataclass
class Table:
    """Columns of one file; a missing cell is None. Values are as the file wrote them
    (text for CSV/TSV), converted by `numbers` only for the columns a chart uses."""

    path: str
    fields: list                       # column names, in file order
    columns: dict                      # name -> list of values, all of len(rows)
    rows: int = 0
    locate: Callable = field(default=None, repr=False)  # type: ignore[assignment]  # set by every reader   # (row, field) -> "file:line..." for messages
    _numbers: dict = field(default_factory=dict, repr=False)   # columns already converted

    def where(self, row: int, name: str) -> str:
        if self.locate is not None:
            return self.locate(row, name)
        return f"{self.path}: row {row + 1}, field '{name}'"

    def is_numeric(self, name: str) -> bool:
        """True when the column's first value is a number: the rule for `y`-less plots,
        predictable for the user and cheap (the rest are checked when plotted)."""
        for value in self.columns.get(name, ()):
            if value is None or value == "":
                continue
            return to_number(value) is not None
        return False

    def numbers(self, name: str) -> list:
        """The column as floats (None where a cell is empty); ExpError at the first text."""
        cached = self._numbers.get(name)
        if cached is None:
            cached = self._numbers[name] = self._convert(name)
        return cached

    def _convert(self, name: str) -> list:
        column = self.columns[name]
        try:
            # The common case, a column of plain numbers, at the speed of C.
            values = [float(v) for v in column]
        except (TypeError, ValueError):
            pass
        else:
            if not any(isinstance(v, bool) for v in column) and all(map(math.isfinite, values)):
                return values
        out: list = []
        for row, value in enumerate(self.columns[name]):
            if value is None or value == "":
                out.append(None)
                continue
            number = to_number(value)
            if number is None:
                raise ExpError(f"{self.where(row, name)}: {_show(value)} is not a number",
                               hint="a plotted column holds numbers only; leave a cell empty "
                                    "for a missing value")
            out.append(number if math.isfinite(number) else None)
        return out

    def categories(self, name: str) -> list:
        """The column as text, for a categorical x axis (None where a cell is empty)."""
        return [None if v is None or v == "" else _text(v) for v in self.columns[name]]


def to_number(value: object) -> float | None:
    """VALUE as a float, or None when it is not a number (booleans are not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def parse_table(data: bytes, path: str, wanted: tuple = ()) -> Table:
    """The table in DATA, the contents of the file PATH (named in errors).

    WANTED (field names) picks among several lists of records in a JSON or
    YAML mapping: the first list whose records hold all of them.
    """
    fmt = DATA_FORMATS.get(os.path.splitext(path)[1].lower())
    if fmt is None:
        raise ExpError(f"{path}: cannot read plot data from a '{os.path.splitext(path)[1] or 'extension-less'}' "
                       "file", hint=KINDS_HINT)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ExpError(f"{path}:{line}: not UTF-8 text", hint="save the file as UTF-8") from None
    if fmt in ("csv", "tsv"):
        return parse_delimited(text, path, "," if fmt == "csv" else "\t")
    if fmt == "json":
        return _parse_json(text, path, wanted)
    return _parse_yaml(text, path, wanted)


# ----------------------------------------------------------------- CSV, TSV

def parse_delimited(text: str, path: str, delimiter: str) -> Table:
    import csv
    import io
    # newline="" keeps line ends for the csv module, so quoted cells may span
    # lines and reader.line_num is the line an editor shows.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            return Table(path, [], {}, 0)
        fields = [name.strip() for name in header]
        seen: dict[str, int] = {}
        for col, name in enumerate(fields, 1):
            if not name:
                raise ExpError(f"{path}:1: column {col} has no name",
                               hint="the first row names every column")
            if name in seen:
                raise ExpError(f"{path}:1: column {col}: '{name}' is also the name of column {seen[name]}",
                               hint="give every column its own name")
            seen[name] = col
        width = len(fields)
        lines: list[int] = []
        cells: list[list] = [[] for _ in fields]
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # a blank line
            if len(record) > width:
                raise ExpError(f"{path}:{reader.line_num}: row has {len(record)} cells but the header "
                               f"names {width} columns",
                               hint="every row needs one cell per column; quote cells that contain "
                                    f"'{delimiter if delimiter != chr(9) else 'a tab'}'")
            lines.append(reader.line_num)
            for col in range(width):
                cells[col].append(record[col].strip() if col < len(record) else None)
    except csv.Error as exc:
        raise ExpError(f"{path}:{reader.line_num}: {exc}") from None

    def locate(row: int, name: str) -> str:
        return f"{path}:{lines[row]}: column {seen[name]} '{name}'"

    return Table(path, fields, dict(zip(fields, cells)), len(lines), locate)


# --------------------------------------------------------------- JSON, YAML

def _parse_json(text: str, path: str, wanted: tuple) -> Table:
    # params.read turns JSON syntax errors into `file:line:col: problem`.
    from git_exp.params.read import _parse_json as parse_json_text
    document = parse_json_text(text, path)
    table = _from_document(document, path, wanted)
    # json keeps no positions; on an error only, find the value again in the
    # same text read as YAML (JSON is nearly a subset) to name its line.
    by_record = table.locate

    def locate(row: int, name: str) -> str:
        try:
            marked = _from_document(_yaml_marked(text, path), path, wanted)
            return marked.locate(row, name)
        except Exception:  # noqa: BLE001 - only a nicer message is at stake
            return by_record(row, name)

    table.locate = locate
    return table


def _parse_yaml(text: str, path: str, wanted: tuple) -> Table:
    return _from_document(_yaml_marked(text, path), path, wanted)


def _yaml_marked(text: str, path: str) -> object:
    """The document, its mappings and lists remembering where each value was written."""
    from git_exp.pipeline.yamlsrc import load
    return load(text, path)


def _from_document(doc: object, path: str, wanted: tuple) -> Table:
    if isinstance(doc, list):
        return _records(doc, path, "")
    if isinstance(doc, dict):
        lists = [(k, v) for k, v in doc.items() if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)]
        if lists:
            for key, records in lists:
                if all(any(_flat(r).get(w) is not None for r in records) for w in wanted):
                    return _records(records, path, str(key))
            return _records(lists[0][1], path, str(lists[0][0]))
        if doc and all(isinstance(v, list) for v in doc.values()):
            return _columns(doc, path)
    if doc is None:
        return Table(path, [], {}, 0)
    raise ExpError(f"{path}: expected a list of records (one mapping of fields per row), "
                   f"got {_kind(doc)}",
                   hint='for example [{"epoch": 1, "loss": 0.5}, ...], or {"train": [...]}')


def _records(records: list, path: str, key: str) -> Table:
    under = f" under '{key}'" if key else ""
    fields: dict[str, None] = {}
    flats = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise ExpError(f"{_item_mark(records, index, path)}: record {index + 1}{under} is "
                           f"{_kind(record)}, not a mapping of fields",
                           hint="each record maps field names to values, e.g. {\"epoch\": 1, \"loss\": 0.5}")
        flat = _flat(record)
        flats.append(flat)
        for name in flat:
            fields.setdefault(name, None)
    columns = {name: [f.get(name) for f in flats] for name in fields}

    def locate(row: int, name: str) -> str:
        mark = _value_mark(records[row], name)
        where = str(mark) if mark is not None else path
        return f"{where}: record {row + 1}{under}, field '{name}'"

    return Table(path, list(fields), columns, len(records), locate)


def _columns(doc: dict, path: str) -> Table:
    """{"loss": [...], "acc": [...]}: one list per column, all as long."""
    names = [str(k) for k in doc]
    lengths = {len(v) for v in doc.values()}
    if len(lengths) != 1:
        counts = ", ".join(f"'{k}' {len(v)}" for k, v in doc.items())
        raise ExpError(f"{path}: the columns hold different numbers of values ({counts})",
                       hint="every column list needs one value per row")
    columns = {str(k): list(v) for k, v in doc.items()}

    def locate(row: int, name: str) -> str:
        values = next(v for k, v in doc.items() if str(k) == name)
        return f"{_item_mark(values, row, path)}: '{name}' value {row + 1}"

    return Table(path, names, columns, lengths.pop(), locate)


def _flat(record: dict) -> dict:
    from git_exp.params.read import flatten
    return flatten(record)


def _value_mark(record: dict, name: str) -> Mark | None:
    """Where RECORD's (possibly dotted) field NAME was written, if the parser kept it."""
    node, mark = record, None
    for part in name.split("."):
        if not isinstance(node, dict):
            return mark
        key = next((k for k in node if str(k) == part), None)
        if key is None:
            return mark
        if hasattr(node, "value_mark"):
            mark = node.value_mark(key)
        node = node[key]
    return mark


def _item_mark(items: list, index: int, path: str) -> str:
    if hasattr(items, "item_mark"):
        return str(items.item_mark(index))
    return path


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "null"
    return f"a single value ({_show(value)})"


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _show(value: object) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:37] + "...")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "a mapping"
    return str(value)
