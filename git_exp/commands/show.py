"""git exp show: experiments with their metrics and params, as a table."""
from __future__ import annotations

# A warm show answered before argparse: cli.py asks this module for answer_early.
from git_exp.commands.show_early import EarlyRead, answer_early  # noqa: F401 - cli.py's

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from argparse import ArgumentParser, Namespace
    from typing import Sequence

    from git_exp.show.collect import Row
    from git_exp.show.view import View
    from git_exp.ui.console import Console
    from git_exp.ui.table import CellLike, Column

DESCRIPTION = """\
Prints a table of experiments: the workspace, each baseline commit (named by
its branch or tag, else its short sha) and the experiments run from it as a
tree, each shown as `<short sha> [<name>]`. The columns are Experiment,
Rev (with --sha), Created, State (only when some row is not a plain
success: failed, interrupted, queued or running), then every metric and
every param, flattened to dotted keys (train.lr), then Notes (only when
some experiment has tags, a note or a run -m message: its tags as #best,
then the first line of its note, else of its message). A key is prefixed
with its file (params.yaml:lr) only where two files share it. A missing
value is `-`. Created is the time alone when every row is from the same
day, else the date (Dec 04 in the current year).

The table fits the terminal: when it is wider, the params whose value is
the same in every row are left out, with a line below the table naming
them and their values; then the widest text columns and headers are
narrowed together, cut cells ending in `…` (numbers are never cut). Only
a table that cannot fit even so is split into blocks of columns, one under
the other. --all-columns shows every column in full, in blocks if needed.
Output to a pipe or a file is never narrowed.

Metrics and params are read from each commit's own files, as its exp.yaml
names them (params.yaml is always read), and the workspace row from the work
tree. What is read from a commit is remembered in the Git directory
(exp/memo/), so each experiment is parsed once, ever: a table of thousands of
experiments prints instantly. So is the table itself, until a ref, a note
or tag, HEAD, the work tree's exp.yaml or params and metrics files, or the
options change. Deleting that folder is harmless.

By default the experiments of HEAD's commit are shown. Experiments filtered
out by --where or --limit take their baseline row with them unless it
matches --where itself; the workspace row is shown when it matches --where.
Sorting orders the experiments of each baseline;
--limit keeps the first N experiments across all baselines in that order,
so with -A, --sort-by and --limit the table is a leaderboard of the whole
repository.

`show` never waits for a running experiment and takes no lock: a run in
progress appears as a `running` row, with the params and metrics its files
hold so far - a run in this work tree with the work tree's, a queued run
with those of the temporary checkout it runs in, and a queued run on
another machine (queue start --executor) with what its worker last
reported through the shared remote, every few seconds while it runs. A
training script that logs with git_exp.live rewrites its metrics file at
every step, so the row shows its latest step (see `git exp help api`). A
queued row shows the params it will run with. An experiment appears with
results only once its commit is complete.
"""

SECTIONS = [
    ("Filtering with --where", """\
EXPR compares metrics and params with numbers, quoted text and each other:
`<`, `<=`, `>`, `>=`, `==` (or `=`) and `!=`, joined with `and`, `or`,
`not` and parentheses. A key is named as its column is (acc, train.lr,
metrics.json:acc); put a key with spaces in backticks. Text must be quoted
('adam'): a bare word that names no column is an error, so a typo cannot
silently filter out every row. A row that lacks a value a comparison needs
is never selected by it, not even under `not`: `not acc > 0.9` keeps the
rows whose acc is at most 0.9 (SQL's rule for NULL). A number is never
equal to text and has no order with it. Errors show the expression with a
caret under the offending token.

`tag` names an experiment's tags (git exp tag) unless a metric or param is
called that: `tag == 'best'` keeps the experiments tagged best, `tag !=
'best'` the others; tags have no order. --tag best says the same.

  git exp show --where 'acc > 0.9 and train.lr <= 0.01'
  git exp show --where "tag == 'best' and acc > 0.9"
  git exp show -A --where "optimizer == 'adam' or (loss < 0.2 and not epochs = 3)"
"""),
    ("Values", """\
--precision N rounds floats to N digits after the decimal point in the table
and in --md (5 by default) and drops trailing zeros: 0.1, not 0.10000. A
float that is not zero but would round to zero is shown with N significant
digits instead (3e-05). --json carries values exactly, and so does --csv
unless --precision is given. Booleans print
as true and false, null as null, lists and mappings as JSON.
"""),
    ("JSON output", """\
--json prints a list of row objects in table order, one object a line. This
format is stable: fields may be added, never removed or changed. Each object
has:

  name      "workspace", the baseline's label (branch, tag or short sha),
            or the experiment's name
  kind      "workspace", "baseline" or "experiment"
  rev       the commit's full sha; null for the workspace and for a
            running or queued experiment that has no commit yet
  baseline  full sha of the commit the row belongs to: an experiment's
            baseline, a baseline's own sha, HEAD for the workspace
            (null in a repository without commits)
  parent    full sha of the commit's first parent (HEAD for the
            workspace; null for a root commit)
  created   committer date, ISO 8601 with the committer's UTC offset
            (2024-05-01T12:00:00+02:00); null for the workspace
  state     null for the workspace and baselines; for experiments
            "success", "failed", "interrupted", "running" or "queued"
  message   an experiment's run -m text, a baseline's subject line; null
            when there is none
  note      the experiment's note (git exp note), or null
  tags      the experiment's tags (git exp tag), sorted; [] when none
  params    {file: {flattened key: value}} of the columns shown
  metrics   {file: {flattened key: value}} of the columns shown

--drop, --keep and --only-changed choose the keys present in params and
metrics, as they choose columns. Values are JSON numbers, strings, booleans,
null, lists or objects, exactly as read; dates are ISO 8601 strings.
"""),
    ("CSV output", """\
--csv prints one line per row: name, rev, kind, baseline, created, state,
message, note, tags (space-separated), then one column per metric and
param (headed as in the table), values exact unless --precision is given;
a missing value is empty.
"""),
]

EXAMPLES = [
    "git exp show",
    "git exp show -A --sort-by acc --sort-order desc --limit 10",
    "git exp show --only-changed --drop '^train\\.' --precision 3",
    "git exp show -n 3 --hide-failed --md",
    "git exp show --json > experiments.json",
    "git exp show --tag best -a",
]

STATE_STYLES = {"failed": ("red",), "interrupted": ("yellow",), "running": ("green",),
                "queued": ("blue",)}
KIND_STYLES = {"metrics": ("cyan",), "params": ("magenta",)}
DEFAULT_PRECISION = 5
MAX_PRECISION = 100   # far past a float's 17 digits; N digits are written out for every value


def configure(parser: ArgumentParser) -> None:
    from git_exp.commands.argtypes import non_negative_int, positive_int   # usage errors: 129
    select = parser.add_argument_group("rows")
    select.add_argument("-A", "--all-commits", action="store_true",
                        help="show the experiments of every commit, not only HEAD's")
    select.add_argument("-n", "--num", type=positive_int, metavar="N",
                        help="show N commits: HEAD (or each --rev) and its first-parent ancestors")
    select.add_argument("--rev", action="append", default=[], metavar="REV",
                        help="show the experiments of REV instead of HEAD's (repeatable)")
    select.add_argument("--hide-failed", action="store_true",
                        help="leave out failed and interrupted experiments")
    select.add_argument("--hide-workspace", action="store_true", help="leave out the workspace row")
    select.add_argument("--hide-queued", action="store_true",
                        help="leave out experiments waiting in the queue")
    select.add_argument("-a", "--all-branches", action="store_true",
                        help="show the experiments of every branch head too")
    select.add_argument("-T", "--all-tags", action="store_true",
                        help="show the experiments of every tagged commit too")
    select.add_argument("--tag", action="append", default=[], metavar="TAG",
                        help="keep the experiments tagged TAG (git exp tag; repeatable: any of them)")
    select.add_argument("--where", metavar="EXPR",
                        help="keep the rows whose metrics, params and tags satisfy EXPR "
                             "(see FILTERING WITH --WHERE)")
    select.add_argument("--sort-by", metavar="[FILE:]KEY",
                        help="order each baseline's experiments by this metric or param; "
                             "rows without it come last")
    select.add_argument("--sort-order", choices=("asc", "desc"), default="asc", metavar="asc|desc",
                        help="ascending (the default) or descending")
    select.add_argument("--limit", type=non_negative_int, metavar="N",
                        help="show at most N experiments, the first ones in sort order")
    columns = parser.add_argument_group("columns")
    columns.add_argument("--only-changed", action="store_true",
                         help="leave out metrics and params that are the same in every row")
    columns.add_argument("--drop", action="append", default=[], metavar="REGEX",
                         help="leave out columns whose name matches REGEX (repeatable)")
    columns.add_argument("--keep", action="append", default=[], metavar="REGEX",
                         help="always show columns whose name matches REGEX, "
                              "overriding --drop and --only-changed (repeatable)")
    columns.add_argument("--sha", action="store_true",
                         help="add a Rev column with each row's short commit sha")
    columns.add_argument("--all-columns", action="store_true",
                         help="on a terminal, show every column in full instead of fitting its width")
    add_format_options(parser, csv=True)


def add_format_options(parser: ArgumentParser, csv: bool = True, precision: bool = True) -> None:
    output = parser.add_argument_group("output")
    formats = output.add_mutually_exclusive_group()
    formats.add_argument("--json", action="store_true", help="print JSON (see JSON OUTPUT)")
    if csv:
        formats.add_argument("--csv", action="store_true", help="print comma-separated values")
    formats.add_argument("--md", action="store_true", help="print a Markdown table")
    if precision:
        import argparse

        class Precision(argparse.Action):
            """Stores N and notes that it was given: --csv rounds only then."""

            def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                         values: object, option_string: str | None = None) -> None:
                setattr(namespace, self.dest, values)
                namespace.precision_given = True

        from git_exp.commands.argtypes import whole_number_in
        # A negative N crashed the float formatting; a huge one built N digits per value.
        output.add_argument("--precision", type=whole_number_in(0, MAX_PRECISION), default=DEFAULT_PRECISION,
                            metavar="N", action=Precision,
                            help=f"digits after the decimal point of floats (default {DEFAULT_PRECISION})")


def run(args: Namespace, console: Console) -> int:
    from git_exp.repo import discover
    from git_exp.show.outmemo import OutputMemo, state_key
    from git_exp.show.refstate import read_state

    early, console.early = console.early, None
    if isinstance(early, EarlyRead):   # what answer_early read on the way (show_early.py)
        repo, listing, request = early.repo, early.listing, early.request
    else:
        repo, request = discover(), None
        listing = read_state(repo)
    if request is None:
        # Everything of this invocation that shapes the text (show/outmemo.py keys on it).
        request = repr((sorted(vars(args).items()), console.color, terminal_width(console)))
    memo = OutputMemo(repo.exp_dir, request, repo.root)
    # --rev can name any ref (origin/main, a reflog entry) outside the listing: no memo.
    key = None if args.rev else state_key(repo, request, listing, workspace=not args.hide_workspace)
    found = memo.get(key) if key is not None else None
    if found is not None:
        text, warnings, status = found
    else:
        # This process ends after the table: the cycle collector, run again and
        # again over the rows and the memo's values, would only slow it (a
        # quarter of a 10,000-row show); refcounting still frees what can go.
        import gc
        gc.disable()
        from git_exp.show.commits import CommitReader
        from git_exp.show.view import show
        reader = CommitReader(repo)
        view = show(repo, all_commits=args.all_commits, num=args.num, revs=args.rev,
                    hide_failed=args.hide_failed, hide_workspace=args.hide_workspace,
                    sort_by=args.sort_by, sort_order=args.sort_order, where=args.where,
                    limit=args.limit, only_changed=args.only_changed, drop=args.drop,
                    keep=args.keep, tags=args.tag, hide_queued=args.hide_queued,
                    all_branches=args.all_branches, all_tags=args.all_tags, listing=listing,
                    reader=reader)
        text, warnings = render_view(view, args, console), view.warnings
        status = 1 if view.unreadable else 0   # an experiment left out: shown the rest, still a failure
        # Stored under the key of now, if that key vouches for the workspace row shown.
        seen = reader.seen_workspace
        if not args.rev and (args.hide_workspace or seen is not None):
            shown = None if seen is None else \
                {"params": seen.params, "metrics": seen.metrics, "errors": seen.errors}
            after = state_key(repo, request, listing, not args.hide_workspace, shown)
            if after is not None:
                memo.put(after, text, warnings, status)
    warn_problems(warnings, console)
    console.page(text)
    return status


def warn_problems(warnings: list[str], console: Console, most: int = 5) -> None:
    if console.quiet:
        return
    for message in warnings[:most]:
        console.warn(message)
    if len(warnings) > most:
        console.warn(f"and {len(warnings) - most} more problems reading metrics and params")


def render_view(view: View, args: Namespace, console: Console) -> str:
    if getattr(args, "json", False):
        from git_exp.show.records import view_objects
        return json_rows(view_objects(view))
    if getattr(args, "csv", False):
        return render_csv(view, args.precision if getattr(args, "precision_given", False) else None)
    from git_exp.ui import table
    sha = getattr(args, "sha", False)
    if getattr(args, "md", False):
        columns, cells, _ = table_cells(view, args.precision, sha)
        return table.render_markdown(cells, columns)
    width = terminal_width(console)
    every = getattr(args, "all_columns", False)
    columns, cells, styles = table_cells(view, args.precision, sha)
    footer = ""
    if width is not None and not every and table.natural_width(cells, columns) > width:
        view, footer = hide_constant(view, args.precision, width)
        columns, cells, styles = table_cells(view, args.precision, sha)
    text = table.render(cells, columns, color=console.color, width=width, row_styles=styles,
                        fit=not every)
    return text + ("\n" + footer if footer else "")


def hide_constant(view: View, precision: int, width: int) -> tuple[View, str]:
    """VIEW without the params equal in every row, and the line that says so."""
    import dataclasses

    from git_exp.show.columns import MISSING, changes
    from git_exp.show.values import format_value
    if len(view.rows) < 2:
        return view, ""
    constant = [c for c in view.columns if c.kind == "params" and not changes(c, view.rows)]
    if not constant:
        return view, ""
    shown = [c for c in view.columns if c not in constant]
    values = ", ".join(f"{c.label}={format_value(c.get(view.rows[0]), precision)}"
                       if c.get(view.rows[0]) is not MISSING else f"{c.label}=-" for c in constant)
    from git_exp.ui.format import plural
    line = (f"{plural(len(constant), 'param')} hidden, the same in every "
            f"row (--all-columns shows them): {values}")
    import textwrap
    line = "\n".join(textwrap.wrap(line, width, subsequent_indent="  ", break_on_hyphens=False))
    return dataclasses.replace(view, columns=shown), line


def json_rows(objects: list[dict[str, object]]) -> str:
    """A JSON list with one object a line: readable, greppable, and written by
    json's C encoder (indent= falls back to the pure-Python one, 4x slower)."""
    import json
    if not objects:
        return "[]"
    return "[\n" + ",\n".join(json.dumps(o, ensure_ascii=False) for o in objects) + "\n]"


def terminal_width(console: Console) -> int | None:
    stream = console.stdout
    if not (hasattr(stream, "isatty") and stream.isatty()):
        return None
    from git_exp.ui.console import terminal_size
    return terminal_size((80, 24)).columns


def experiment_labels(rows: Sequence[Row]) -> list[str]:
    """The Experiment column: workspace, baselines, and a tree of experiments under each."""
    labels = []
    for i, row in enumerate(rows):
        if row.kind != "experiment":
            labels.append(row.name)
            continue
        last = i + 1 == len(rows) or rows[i + 1].kind != "experiment"
        sha = row.rev[:7] if row.rev else "-------"
        labels.append(f"{'└──' if last else '├──'} {sha} [{row.name}]")
    return labels


_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def created_texts(rows: Sequence[Row], this_year: str | None = None) -> list[str]:
    """The Created column, in local time (ui/format.py's rule): HH:MM when every
    row is from the same day, else the date (`Dec 04` when every row is from this
    year, else 2024-12-04). A text that is no date (a queue entry's Exp-Queued-At
    is text of its commit message) is shown as it is, cut as a date is, and
    counts as no day."""
    from git_exp.ui.format import local_time
    stamps = []   # each row's moment as local ISO 8601 text; "" when it has none
    for row in rows:
        when = local_time(row.created) if row.created else None
        stamps.append(when.isoformat() if when is not None else "")
    others = [(row.created or "-")[:10] for row in rows]   # what a row without one shows
    dates = {c[:10] for c in stamps if c}
    if len(dates) == 1:
        return [c[11:16] if c else other for c, other in zip(stamps, others)]
    if this_year is None:
        import time
        this_year = time.strftime("%Y")
    if all(d[:4] == this_year for d in dates):
        return [f"{_MONTHS[int(c[5:7]) - 1]} {c[8:10]}" if c else other for c, other in zip(stamps, others)]
    return [c[:10] if c else other for c, other in zip(stamps, others)]


def notes_text(row: Row) -> str:
    """The Notes column: #tags, then the note's first line, else the run -m message's."""
    text = (row.note or (row.message if row.kind == "experiment" else "") or "").strip()
    first = text.splitlines()[0] if text else ""
    return " ".join(["#" + t for t in row.tags] + ([first] if first else []))


def table_cells(view: View, precision: int | None,
                sha: bool = False) -> tuple[list[Column], list[list[CellLike]], list[tuple[str, ...]]]:
    """Columns, cells and row styles of the table (and of --md)."""
    from git_exp.show.columns import MISSING, values
    from git_exp.show.values import format_value, is_number
    from git_exp.ui.table import Cell, Column

    grid = values(view.columns, view.rows)
    columns = [Column("Experiment")]
    if sha:
        columns.append(Column("Rev"))
    if view.show_created:
        columns.append(Column("Created"))
    if view.show_state:
        columns.append(Column("State"))
    for i, col in enumerate(view.columns):
        numeric = all(is_number(line[i]) for line in grid if line[i] is not MISSING)
        columns.append(Column(col.label, "right" if numeric else "left", KIND_STYLES[col.kind]))
    notes = [notes_text(row) for row in view.rows]
    with_notes = view.show_notes and any(notes)
    if with_notes:
        columns.append(Column("Notes"))
    created = created_texts(view.rows) if view.show_created else []
    texts: dict[tuple[type, object], str] = {}   # (type, value) -> text: most values repeat down a column

    def text(value: object) -> str:
        if value is MISSING:
            return "-"
        if isinstance(value, (list, dict)):
            return format_value(value, precision)
        key = (type(value), value)
        found = texts.get(key)
        if found is None:
            found = texts[key] = format_value(value, precision)
        return found

    cells = []
    for i, (row, label, line) in enumerate(zip(view.rows, experiment_labels(view.rows), grid)):
        head: list[CellLike] = [label]
        if sha:
            head.append(row.rev[:7] if row.rev else "-")
        if view.show_created:
            head.append(created[i])
        if view.show_state:
            head.append(Cell(row.state or "-", STATE_STYLES.get(row.state, ())))
        cells.append(head + [text(v) for v in line] + ([notes[i]] if with_notes else []))
    styles: list[tuple[str, ...]] = [("bold",) if row.kind == "baseline" else () for row in view.rows]
    return columns, cells, styles


def render_csv(view: View, precision: int | None = None) -> str:
    """Values exact, unless PRECISION (an explicit --precision) rounds floats as the table does."""
    from git_exp.show.columns import MISSING, values
    from git_exp.show.values import format_value, plain_text
    from git_exp.ui.table import render_csv as csv_text

    def text(v: object) -> str:
        if precision is not None and isinstance(v, float):
            return format_value(v, precision)
        return plain_text(v)

    headers = ["name", "rev", "kind", "baseline", "created", "state", "message", "note", "tags"] \
        + [c.label for c in view.columns]
    cells = []
    for row, line in zip(view.rows, values(view.columns, view.rows)):
        cells.append([row.name, row.rev or "", row.kind, row.baseline or "", row.created or "",
                      row.state or "", row.message or "", row.note, " ".join(row.tags)]
                     + ["" if v is MISSING else text(v) for v in line])
    return csv_text(cells, headers)
