"""The one place that renders tables: plain text (colored or not), Markdown and CSV.

Pure functions from cells to a string, so tests compare exact text without a
terminal. A table wider than WIDTH is first fitted: the widest text columns
(and headers) are narrowed together, their cut cells ending in `…`, down to
a floor per column (a few characters of text; numbers are never cut, a
digit lost would change the value shown). Only a table that cannot fit even
so - or when fitting is turned off - is cut into blocks of columns, each
repeating the first KEEP columns (the row names), one block under the
other: narrow terminals stay readable without wrapping lines.
Widths are counted in characters: box-drawing characters and most text are
one cell wide, and East Asian wide characters in metric names are too rare
to be worth a dependency.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

from git_exp.ui.color import paint

GAP = "  "
RULE = "─"


@dataclass(frozen=True)
class Column:
    header: str
    align: str = "left"     # "left" or "right"
    style: tuple = ()       # color of the header and of every cell of the column


@dataclass(frozen=True)
class Cell:
    """A cell with a style of its own (a red 'failed'); plain str cells are fine too."""
    text: str
    style: tuple = ()


CellLike = Union[str, Cell]


def _text(cell: CellLike) -> str:
    return cell.text if isinstance(cell, Cell) else cell


def render(rows: Sequence[Sequence[CellLike]], columns: list[Column], color: bool = False,
           width: int | None = None, row_styles: list[tuple] | None = None,
           keep: int = 1, fit: bool = True) -> str:
    """ROWS under COLUMNS' headers, a rule below the headers, columns two spaces apart.

    ROW_STYLES gives each row extra styles (bold baselines). With WIDTH, the
    table is narrowed to fit (FIT) and, if it still does not, the columns
    after the first KEEP go into as many blocks as needed.
    """
    texts = [[_text(cell) for cell in row] for row in rows]
    widths = [len(c.header) for c in columns]
    for row in texts:
        for i, text in enumerate(row):
            if len(text) > widths[i]:
                widths[i] = len(text)
    headers = [c.header for c in columns]
    if fit and width is not None and _total(widths) > width:
        fitted = fit_widths(texts, columns, widths, width, keep)
        if fitted is not None:
            widths = fitted
            texts = [[_cut(t, widths[i]) for i, t in enumerate(row)] for row in texts]
            headers = [_cut(h, widths[i]) for i, h in enumerate(headers)]
    if headers != [c.header for c in columns]:
        columns = [Column(h, c.align, c.style) for h, c in zip(headers, columns)]
    blocks = _blocks(widths, width, keep)
    parts = [_render_block(rows, texts, columns, widths, block, color, row_styles or [])
             for block in blocks]
    return "\n\n".join(parts)


ELLIPSIS = "…"
MIN_TEXT = 8        # a text column is never narrowed below this (its header may be)
MIN_KEPT = 26       # nor the row names below this: `└── abc1234 [bold-otter]` whole
MIN_HEADER = 4      # a number column's header is cut to no fewer characters


def natural_width(rows: Sequence[Sequence[CellLike]], columns: list[Column]) -> int:
    """How wide the table is with no column narrowed."""
    widths = [len(c.header) for c in columns]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(_text(cell)))
    return _total(widths)


def _total(widths: list[int]) -> int:
    return sum(widths) + len(GAP) * max(len(widths) - 1, 0)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(width - 1, 0)] + ELLIPSIS


def fit_widths(texts: list[list[str]], columns: list[Column], widths: list[int], width: int,
               keep: int = 1) -> list[int] | None:
    """Column widths that fit WIDTH, the widest narrowed first; None when the floors do not fit.

    Every column is capped at one common width C (but not below its floor),
    with C the largest that fits: the widest columns give up the most.
    """
    floors = []
    for i, column in enumerate(columns):
        if column.align == "right":
            cells = max((len(row[i]) for row in texts), default=0)
            floors.append(min(widths[i], max(cells, MIN_HEADER)))
        else:
            floors.append(min(widths[i], MIN_KEPT if i < keep else MIN_TEXT))
    if _total(floors) > width:
        return None
    low, high = 0, max(widths)
    while low < high:   # the largest cap that fits
        cap = (low + high + 1) // 2
        if _total([max(f, min(w, cap)) for f, w in zip(floors, widths)]) <= width:
            low = cap
        else:
            high = cap - 1
    fitted = [max(f, min(w, low)) for f, w in zip(floors, widths)]
    spare = width - _total(fitted)
    for i in range(min(keep, len(fitted))):   # what the cap left over: the row names first,
        extra = min(spare, widths[i] - fitted[i])
        fitted[i] += extra
        spare -= extra
    growing = [i for i in range(len(fitted)) if fitted[i] < widths[i]]
    while spare and growing:                 # then a character each, left to right
        for i in list(growing):
            if not spare:
                break
            fitted[i] += 1
            spare -= 1
            if fitted[i] == widths[i]:
                growing.remove(i)
    return fitted


def _blocks(widths: list[int], width: int | None, keep: int) -> list[list[int]]:
    everything = list(range(len(widths)))
    total = sum(widths) + len(GAP) * max(len(widths) - 1, 0)
    keep = min(keep, len(widths))
    if width is None or total <= width or len(widths) <= keep:
        return [everything]
    fixed = list(range(keep))
    used = sum(widths[:keep]) + len(GAP) * max(keep - 1, 0)
    blocks: list[list[int]] = []
    current: list[int] = []
    size = used
    for i in range(keep, len(widths)):
        extra = len(GAP) + widths[i]
        if current and size + extra > width:
            blocks.append(fixed + current)
            current, size = [], used
        current.append(i)
        size += extra
    blocks.append(fixed + current)
    return blocks


def _render_block(rows: Sequence[Sequence[CellLike]], texts: list[list[str]],
                  columns: list[Column], widths: list[int], block: list[int], color: bool,
                  row_styles: list[tuple]) -> str:
    header = [_paint_padded(_pad(columns[i].header, widths[i], columns[i].align), color,
                            ("bold", *columns[i].style)) for i in block]
    out = [GAP.join(header).rstrip(), GAP.join(RULE * widths[i] for i in block)]
    # str.ljust/rjust per column: this loop runs for every cell of 10,000 rows.
    pads = [(i, str.rjust if columns[i].align == "right" else str.ljust, widths[i]) for i in block]
    if not color:
        for row in texts:
            out.append(GAP.join([pad(row[i], w) for i, pad, w in pads]).rstrip())
        return "\n".join(out)
    for r, row in enumerate(texts):
        extra = row_styles[r] if r < len(row_styles) and row_styles[r] else ()
        cells = []
        for i, pad, w in pads:
            cell = rows[r][i]
            style = cell.style if isinstance(cell, Cell) and cell.style else columns[i].style
            cells.append(_paint_padded(pad(row[i], w), True, (*extra, *style)))
        out.append(GAP.join(cells).rstrip())
    return "\n".join(out)


def _pad(text: str, width: int, align: str) -> str:
    gap = " " * max(width - len(text), 0)
    return gap + text if align == "right" else text + gap


def _paint_padded(text: str, color: bool, styles: tuple) -> str:
    """Paint only the visible text, so padding carries no escape codes."""
    if not color or not styles or not text.strip():
        return text
    core = text.strip(" ")
    left = len(text) - len(text.lstrip(" "))
    right = len(text) - len(text.rstrip(" "))
    return " " * left + paint(core, True, *styles) + " " * right


def render_markdown(rows: Sequence[Sequence[CellLike]], columns: list[Column]) -> str:
    """A GitHub-flavoured Markdown table ('|' in cells escaped)."""
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
    rule = ["---:" if c.align == "right" else "---" for c in columns]
    out = [line([c.header for c in columns]), "|" + "|".join(rule) + "|"]
    out += [line([_text(cell) for cell in row]) for row in rows]
    return "\n".join(out)


def render_csv(rows: Sequence[Sequence[CellLike]], headers: list[str]) -> str:
    import csv
    import io
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_text(cell) for cell in row])
    return buffer.getvalue()
