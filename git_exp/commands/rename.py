"""git exp rename: give an experiment another name."""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from argparse import ArgumentParser, Namespace

    from git_exp.ui.console import Console

DESCRIPTION = """\
Renames experiment OLD to NEW in one ref transaction. NEW must be unique in
the repository and follow Git's ref-name rules, without '/'.

Names that Git would also read as a revision are refused, here as for
run -n, save -n and queued runs: HEAD, FETCH_HEAD and the other *HEAD refs,
'@', the name of an existing branch, tag or remote, 4 or more hex digits
(an abbreviated commit), and names ending in -g<hex> (git describe's form).
Wherever an experiment name is taken a revision is too (git exp diff A B),
so such a name would have two meanings.
"""

EXAMPLES = ["git exp rename bold-otter best-so-far"]


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("old", metavar="OLD", help="the experiment (name, sha prefix or ref)")
    parser.add_argument("new", metavar="NEW", help="its new name")


def run(args: Namespace, console: Console) -> int:
    from git_exp.experiments.manage import rename
    from git_exp.queue.entries import reserved_names
    from git_exp.repo import discover
    repo = discover()
    found, _ = rename(repo, args.old, args.new, reserved_names(repo))
    console.out(f"Renamed '{found.name}' to '{args.new}'.")
    return 0
