"""git exp metrics show|diff: metrics of the workspace, experiments and commits."""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import argparse

    from git_exp.ui.console import Console

DESCRIPTION = """\
For users coming from DVC's `dvc metrics`. `git exp metrics show [REV...]`
prints the metrics of the workspace, or of each experiment or revision named,
one row each. `git exp metrics diff [A] [B]` is `git exp diff` limited to
metrics: A defaults to HEAD and B to the workspace. REV, A and B are
experiment names, sha prefixes or refs, Git revisions, or `workspace`.

`metrics show --json` prints a list of objects with name (as given), rev
(full sha, null for the workspace) and metrics ({file: {key: value}}); see
git-exp-diff(1) for the format of `metrics diff --json`.
"""

EXAMPLES = ["git exp metrics show", "git exp metrics show main bold-otter --md",
            "git exp metrics diff HEAD~1 HEAD"]


def configure(parser: argparse.ArgumentParser) -> None:
    from git_exp.commands.diff import add_diff_arguments
    from git_exp.commands.show import add_format_options
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="metrics of the workspace, or of each REV",
                              description="Metrics of the workspace, or of each REV")
    show.add_argument("revs", nargs="*", metavar="REV",
                      help="an experiment, a revision or 'workspace' (default: the workspace)")
    add_format_options(show)
    add_diff_arguments(actions.add_parser(
        "diff", help="metrics that differ between A (default HEAD) and B (default the workspace)",
        description="Metrics that differ between A and B"))


def run(args: argparse.Namespace, console: Console) -> int:
    if args.action == "diff":
        from git_exp.commands.diff import run_diff
        return run_diff(args, console, ("metrics",))
    return show_metrics(args, console)


def show_metrics(args: argparse.Namespace, console: Console) -> int:
    from git_exp.commands.show import KIND_STYLES, terminal_width, warn_problems
    from git_exp.experiments.refs import list_refs
    from git_exp.repo import discover
    from git_exp.show import columns as cols
    from git_exp.show.commits import CommitReader
    from git_exp.show.diff import target
    from git_exp.show.values import format_value, is_number, plain_text

    repo = discover()
    reader = CommitReader(repo)
    every = list_refs(repo.root)
    found = [target(repo, spec, reader, every) for spec in (args.revs or [None])]
    rows = [row for row, _ in found]
    labels = [label for _, label in found]
    columns = [c for c in cols.discover(rows) if c.kind == "metrics"]
    warn_problems([m for m in dict.fromkeys(e for r in rows for e in r.errors)], console)
    if args.json:
        import json
        objects = []
        for row, label in found:
            metrics: dict[str, dict[str, object]] = {}
            for c in columns:
                if c.has(row):
                    metrics.setdefault(c.file, {})[c.key] = c.get(row)
            objects.append({"name": label, "rev": row.rev, "metrics": metrics})
        console.page(json.dumps(objects, indent=2, ensure_ascii=False))
        return 0
    from git_exp.ui import table
    if args.csv:
        cells = [[label, row.rev or ""] + ["" if not c.has(row) else plain_text(c.get(row))
                                           for c in columns] for row, label in found]
        console.page(table.render_csv(cells, ["name", "rev"] + [c.label for c in columns]))
        return 0
    header = [table.Column("Revision")]
    for c in columns:
        numeric = all(is_number(c.get(r)) for r in rows if c.has(r))
        header.append(table.Column(c.label, "right" if numeric else "left", KIND_STYLES["metrics"]))
    cells = [[label] + [format_value(c.get(row), args.precision) if c.has(row) else "-"
                        for c in columns] for row, label in zip(rows, labels)]
    if args.md:
        console.page(table.render_markdown(cells, header))
    else:
        console.page(table.render(cells, header, color=console.color, width=terminal_width(console)))
    return 0
