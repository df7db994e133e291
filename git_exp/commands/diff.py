"""git exp diff: params and metrics that differ between two experiments or commits."""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import argparse

    from git_exp.show.collect import Row
    from git_exp.show.diff import Comparison
    from git_exp.ui.console import Console

DESCRIPTION = """\
Prints the metrics and params that differ between A and B, old value next to
new, with the numeric change (new - old) where both are numbers. A and B are
experiment names, sha prefixes or refs, any Git revision (branch, tag,
commit), or `workspace` for the work tree. Without arguments HEAD is
compared with the workspace; with one, A is compared with the workspace.
When a name is both an experiment and a branch, the experiment is meant.

Metrics come first, then params, each as a table of file, key, the value in
A, the value in B and the change; `-` marks a value that one side does not
have. Nothing is printed when nothing differs. --all also lists the values
that are the same.
"""

SECTIONS = [
    ("JSON output", """\
--json prints one object:

  a, b      {"name": what was asked for, "rev": full sha or null for the
            workspace}
  metrics   {file: {key: {"old": value, "new": value, "diff": number}}}
  params    the same for params

"old" or "new" is left out when that side has no such value; "diff" is
there only when both values are numbers. Fields may be added to this
format, never removed or changed.
"""),
]

EXAMPLES = ["git exp diff", "git exp diff main bold-otter", "git exp diff HEAD~1 HEAD --all --md"]


def configure(parser: argparse.ArgumentParser) -> None:
    add_diff_arguments(parser)


def add_diff_arguments(parser: argparse.ArgumentParser) -> None:
    from git_exp.commands.show import add_format_options
    parser.add_argument("a", nargs="?", metavar="A",
                        help="the old side: an experiment, a revision or 'workspace' (default HEAD)")
    parser.add_argument("b", nargs="?", metavar="B",
                        help="the new side (default: the workspace)")
    parser.add_argument("--all", action="store_true", help="list unchanged values too")
    add_format_options(parser, csv=False)


def run(args: argparse.Namespace, console: Console) -> int:
    return run_diff(args, console, ("metrics", "params"))


def run_diff(args: argparse.Namespace, console: Console, kinds: tuple[str, ...]) -> int:
    from git_exp.commands.show import warn_problems
    from git_exp.repo import discover
    from git_exp.show.diff import diff

    comparison = diff(discover(), args.a, args.b, include_all=args.all, kinds=kinds)
    warn_problems(comparison.warnings, console)
    text = render_comparison(comparison, args, console, kinds)
    if text:
        console.page(text)
    return 0


def render_comparison(comparison: Comparison, args: argparse.Namespace, console: Console,
                      kinds: tuple[str, ...]) -> str:
    if args.json:
        import json
        return json.dumps(comparison_object(comparison, kinds), indent=2, ensure_ascii=False)
    from git_exp.commands.show import KIND_STYLES
    from git_exp.show.columns import MISSING
    from git_exp.show.values import format_delta, format_value, is_number
    from git_exp.ui import table

    parts: list[str] = []
    for kind in kinds:
        changes = [c for c in comparison.changes if c.kind == kind]
        if not changes:
            continue
        numeric = all(is_number(v) for c in changes for v in (c.old, c.new) if v is not MISSING)
        align = "right" if numeric else "left"
        columns = [table.Column("Path"), table.Column("Metric" if kind == "metrics" else "Param",
                                                      style=KIND_STYLES[kind]),
                   table.Column(comparison.a_label, align), table.Column(comparison.b_label, align),
                   table.Column("Change", "right")]
        cells = [[c.file, c.key,
                  "-" if c.old is MISSING else format_value(c.old, args.precision),
                  "-" if c.new is MISSING else format_value(c.new, args.precision),
                  format_delta(c.old, c.new, args.precision) if c.delta is not None else "-"]
                 for c in changes]
        if args.md:
            parts.append(table.render_markdown(cells, columns))
        else:
            from git_exp.commands.show import terminal_width
            parts.append(table.render(cells, columns, color=console.color,
                                      width=terminal_width(console), keep=2))
    return "\n\n".join(parts)


def comparison_object(comparison: Comparison, kinds: tuple[str, ...]) -> dict[str, object]:
    from git_exp.show.columns import MISSING

    def side(row: Row, label: str) -> dict[str, str | None]:
        return {"name": label, "rev": row.rev}

    out: dict[str, object] = {"a": side(comparison.a, comparison.a_label), "b": side(comparison.b, comparison.b_label)}
    for kind in kinds:
        files: dict[str, dict[str, dict[str, object]]] = {}
        for change in comparison.changes:
            if change.kind != kind:
                continue
            entry: dict[str, object] = {}
            if change.old is not MISSING:
                entry["old"] = change.old
            if change.new is not MISSING:
                entry["new"] = change.new
            if change.delta is not None:
                entry["diff"] = change.delta
            files.setdefault(change.file, {})[change.key] = entry
        out[kind] = files
    return out
