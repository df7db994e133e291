"""git exp params diff: the params that differ between two experiments or commits."""
from __future__ import annotations

DESCRIPTION = """\
`git exp params diff [A] [B]` is `git exp diff` limited to params, for users
coming from DVC's `dvc params diff`: A defaults to HEAD and B to the
workspace; each is an experiment (name, sha prefix or ref), a Git revision
or `workspace`. Only changed params are listed unless --all is given.
See git-exp-diff(1) for the output formats.
"""

EXAMPLES = ["git exp params diff", "git exp params diff main bold-otter --json"]


def configure(parser):
    from git_exp.commands.diff import add_diff_arguments
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add_diff_arguments(actions.add_parser(
        "diff", help="params that differ between A (default HEAD) and B (default the workspace)",
        description="Params that differ between A and B"))


def run(args, console) -> int:
    from git_exp.commands.diff import run_diff
    return run_diff(args, console, ("params",))
