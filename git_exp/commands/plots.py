"""git exp plots show|diff: the plots files of the workspace and of experiments, in one page."""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from argparse import ArgumentParser, Namespace

    from git_exp.plots.charts import PlotResult
    from git_exp.ui.console import Console

DESCRIPTION = """\
`git exp plots show [TARGET...]` draws the plots that exp.yaml declares (the
`plots` of its stages and its top-level `plots`) from the files in the work
tree. `git exp plots diff [EXP_OR_REV...]` overlays each plot across
experiments and revisions, one series per revision, labelled by its name:
by default the workspace, the runs in progress and the experiments of HEAD's
commit (or HEAD itself when it has none). EXP_OR_REV is an experiment's
name, a sha prefix or ref, any Git revision, `workspace`, or the name of a
run in progress, whose curves so far are read from the checkout it runs in
(a queued run on this machine; a run in this work tree is the workspace).

Both write one self-contained HTML page, index.html, and print its path: the
charts are drawn as SVG inside the page, images are embedded, and nothing is
fetched from the network, so the page opens anywhere, offline. Hover a chart
for the values of the nearest point; hover a name in the legend to pick out
its lines, click it to hide or show them. A revision without a plots file,
or without one of its columns, is listed as missing under the plot.

The page goes to .git-exp/plots/ in the work tree unless -o names another
folder. That folder holds a .gitignore of `*`, so Git, and the experiments
git-exp records, never pick it up.

Data files are CSV and TSV (the first row names the columns), JSON and YAML
(a list of records, such as [{"epoch": 1, "loss": 0.5}, ...]; a mapping with
such a list under a key; or a mapping of column names to lists of values).
Images (PNG, JPEG, GIF, WebP, SVG) are shown side by side per revision. A
value that is not a number in a plotted column is an error naming the file,
its line and the column.

With --json, nothing but JSON is printed: the revisions, and per chart its
series, the revisions missing it, and a Vega-Lite specification (v5) with
every point inline (records of experiment, rev, file, field, x and y), ready
for a notebook or an editor; images are written as files under the output
folder and named by path. With --md, a Markdown summary is printed: each
chart as an SVG file written under the output folder, with a table of each
series' last, lowest and highest values, and images side by side.
"""

SECTIONS = [
    ("PLOT OPTIONS", """\
Each entry of `plots` in exp.yaml is a file, a folder (every data file and
image in it), or a name with `y` mapping files to columns. Options:

x: the column for the x axis; without it, the row index is.

y: a column, or a list of them: one chart each. Without y, every column
whose first value is a number (but x) gets its own chart. A mapping of files
to columns ({train.csv: loss, test.csv: loss}) draws them all in one chart.

template: line (the default; also linear, simple, smooth), scatter (also
points) or bar (also bar_horizontal).

title, x_label, y_label: the chart's title and axis titles."""),
]

EXAMPLES = [
    "git exp plots show",
    "git exp plots show logs.csv --open",
    "git exp plots diff",
    "git exp plots diff main bold-otter quick-fox -o /tmp/plots",
    "git exp plots diff --json > plots.json",
    "git exp plots diff --md -t logs.csv",
]


def configure(parser: ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser(
        "show", help="the plots of the work tree",
        description="Draw the plots exp.yaml declares from the files in the work tree")
    show.add_argument("targets", nargs="*", metavar="TARGET",
                      help="a plots file or folder, declared or not (default: every plot)")
    _output_options(show)
    diff = actions.add_parser(
        "diff", help="each plot overlaid across experiments and revisions",
        description="Overlay each plot across experiments and revisions")
    diff.add_argument("revs", nargs="*", metavar="EXP_OR_REV",
                      help="an experiment, a revision or 'workspace' "
                           "(default: the workspace and HEAD's experiments)")
    diff.add_argument("-t", "--target", dest="targets", action="append", default=[], metavar="PATH",
                      help="only this plots file or folder (repeatable)")
    _output_options(diff)


def _output_options(parser: ArgumentParser) -> None:
    parser.add_argument("-o", "--output", metavar="DIR",
                        help="write into DIR (default: .git-exp/plots/ in the work tree)")
    parser.add_argument("--open", action="store_true", help="open the page in the web browser")
    formats = parser.add_mutually_exclusive_group()
    formats.add_argument("--json", action="store_true",
                         help="print the data and a Vega-Lite specification per chart as JSON")
    formats.add_argument("--md", action="store_true",
                         help="print a Markdown summary linking each chart as an SVG file")


def run(args: Namespace, console: Console) -> int:
    from git_exp.errors import UsageError
    from git_exp.plots import collect, output
    from git_exp.repo import discover

    if args.open and (args.json or args.md):
        raise UsageError("--open opens the HTML page: it does not go with --json or --md",
                         hint="drop --open to print, or --json/--md to open the page")
    repo = discover()
    if args.action == "show":
        result = collect.show(repo, args.targets)
        title = "Plots of the workspace"
    else:
        result = collect.diff(repo, args.revs, args.targets)
        title = f"Plots of {len(result.revisions)} revisions"
    for warning in result.warnings:
        console.warn(warning)
    if args.targets and not result.charts and not _has_images(result):
        from git_exp.errors import ExpError   # a mistyped TARGET, not an empty page and exit 0
        raise ExpError(f"no plots data in {', '.join(args.targets)}",
                       hint="name a CSV, TSV, JSON or YAML file or a folder of them, as "
                            + ("the work tree has it" if args.action == "show" else "the revisions have it"))

    if args.json:
        from git_exp.plots import vega
        images = output.write_images(repo, result, args.output) if _has_images(result) else {}
        console.page(vega.dumps(vega.to_json(result, images)))
        return 1 if result.unreadable else 0
    if args.md:
        from git_exp.plots import markdown, svg
        svgs = {chart.id: svg.render(chart, f"c{n}", legend_limit=40).svg
                for n, chart in enumerate(result.charts)}
        charts = output.write_charts(repo, svgs, args.output)
        images = output.write_images(repo, result, args.output) if _has_images(result) else {}
        console.page(markdown.render(result, charts, images))
        return 1 if result.unreadable else 0

    from git_exp.plots.page import build_page
    path = output.write_page(repo, build_page(result, title), args.output)
    missing = sum(len(s.missing) + sum(len(c.missing) for c in s.charts) for s in result.sections)
    from git_exp.ui.format import plural
    console.info(f"{plural(len(result.charts), 'chart')} of {plural(len(result.revisions), 'revision')}"
                 + (f"; {plural(missing, 'missing file or column', 'missing files or columns')}, "
                    "listed on the page" if missing else ""))
    console.out(_shown(path))
    if args.open:
        import pathlib
        import webbrowser
        if not webbrowser.open(pathlib.Path(path).as_uri()):
            console.warn("no web browser found to open the page")
    return 1 if result.unreadable else 0   # the page holds the rest; still report the failure


def _has_images(result: PlotResult) -> bool:
    return any(s.images for s in result.sections)


def _shown(path: str) -> str:
    """PATH relative to the current folder when it is below it, as Git shows paths."""
    import os
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel
