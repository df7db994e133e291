"""git exp params diff: the params that differ between two experiments or commits."""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from argparse import ArgumentParser, Namespace

    from git_exp.ui.console import Console

DESCRIPTION = """\
`git exp params diff [A] [B]` is `git exp diff` limited to params, for users
coming from DVC's `dvc params diff`: A defaults to HEAD and B to the
workspace; each is an experiment (name, sha prefix or ref), a Git revision
or `workspace`. Only changed params are listed unless --all is given.
See git-exp-diff(1) for the output formats.

Params files. A stage's `params:` names keys of params.yaml or of other
files: YAML (.yaml, .yml), JSON, TOML, or Python (.py). A Python params file
is parsed, never imported or run. Its parameters are, as DVC reads them,
module-level constants (LR = 0.1, EPOCHS: int = 10), dict literals and each
of their entries (TRAIN = {"lr": 0.1} gives TRAIN.lr) and class attributes
(class Train: lr = 0.1 gives Train.lr). Values must be literals: numbers,
strings, True/False/None, lists, tuples and dicts of them. Any other value
(a call, a name, an f-string, arithmetic) is left out when the file is read,
so the file may hold helper code; a stage that tracks such a key, or a -S
that sets it, stops with an error naming file:line. `-S params.py:LR=0.02`
changes only the value's text; +KEY and ~KEY are refused for Python files
(adding or removing code is yours to do).

Keys. One spelling serves -S, a stage's params list, show's column labels,
--where and --sort-by, in every format:

  train.lr              nested keys, joined by dots
  layers.0              an element of a list, counted from 0 (set only)
  server."http.conf"    a key that holds a dot, in double quotes

Quotes are needed for a key that holds a dot, a double quote, '=' or ':'
(inside them, a backslash escapes a quote or a backslash). show prints such
a key quoted, so a column label can be pasted into -S, --where or --sort-by
as it is. -S adds and deletes whole keys, never list elements; lists are
single values in show.
"""

EXAMPLES = ["git exp params diff", "git exp params diff main bold-otter --json"]


def configure(parser: ArgumentParser) -> None:
    from git_exp.commands.diff import add_diff_arguments
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add_diff_arguments(actions.add_parser(
        "diff", help="params that differ between A (default HEAD) and B (default the workspace)",
        description="Params that differ between A and B"))


def run(args: Namespace, console: Console) -> int:
    from git_exp.commands.diff import run_diff
    return run_diff(args, console, ("params",))
