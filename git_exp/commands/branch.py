"""git exp branch: a Git branch from an experiment."""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import argparse

    from git_exp.ui.console import Console

DESCRIPTION = """\
Creates branch BRANCH (default: the experiment's name) at the commit of
experiment NAME, so it can be checked out, merged and pushed like any branch.
An existing branch is never moved. HEAD does not change.
"""

EXAMPLES = ["git exp branch bold-otter better-lr", "git merge better-lr"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", metavar="NAME", help="the experiment (name, sha prefix or ref)")
    parser.add_argument("branch", metavar="BRANCH", nargs="?", help="the new branch's name")


def run(args: argparse.Namespace, console: Console) -> int:
    from git_exp.experiments.manage import branch
    from git_exp.repo import discover
    found, name = branch(discover(), args.experiment, args.branch)
    console.out(f"Branch '{name}' created at experiment '{found.name}' ({found.sha[:7]}).")
    console.info(f"To merge it: git merge {name}")
    return 0
