"""git exp remove: delete experiments."""
from __future__ import annotations

from git_exp.ui.format import plural

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from argparse import ArgumentParser, Namespace

    from git_exp.ui.console import Console

DESCRIPTION = """\
Deletes the refs of the named experiments (names, sha prefixes or refs) and
their logs, notes and tags. --all removes every experiment of HEAD's commit,
--all-commits every experiment in the repository, --failed every failed or
interrupted one.
The commits stay in Git's object store until `git gc` prunes them.

With -g REMOTE, deletes the named experiments (or, with --all or -A, those
of HEAD's commit or all of them) on that Git remote instead of here, with
your own `git push`; your local experiments are not touched. Each deletion
only happens if the remote's ref still points at the commit `git ls-remote`
showed, so an experiment someone re-pushed meanwhile is kept.
"""

EXAMPLES = ["git exp remove bold-otter", "git exp remove --failed",
            "git exp remove -g origin bold-otter"]


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("experiments", nargs="*", metavar="NAME", help="experiments to remove")
    parser.add_argument("--all", action="store_true", help="remove every experiment of HEAD's commit")
    parser.add_argument("-A", "--all-commits", action="store_true",
                        help="remove every experiment of every commit")
    parser.add_argument("--failed", action="store_true", help="remove failed and interrupted experiments")
    parser.add_argument("-g", "--git-remote", metavar="REMOTE",
                        help="remove the experiments on this Git remote instead of the local ones")


def run(args: Namespace, console: Console) -> int:
    if args.git_remote:
        return _run_remote(args, console)
    from git_exp.experiments.manage import remove
    from git_exp.repo import discover
    removed = remove(discover(), args.experiments, all_of_head=args.all,
                     all_commits=args.all_commits, failed=args.failed)
    for r in removed:
        console.detail(f"Removed '{r.name}' ({r.sha[:7]}).")
    if removed and console.quiet:
        console.out(f"Removed {plural(len(removed), 'experiment')}.")
    if not removed:
        console.info("No experiment matched.")
    return 0


def _run_remote(args: Namespace, console: Console) -> int:
    from git_exp.errors import UsageError
    from git_exp.repo import discover
    from git_exp.sharing.listing import remove_remote
    if args.failed:
        raise UsageError("--failed cannot be used with -g",
                         hint="a remote's experiments are not fetched, so their status is unknown; "
                              "name them instead")
    removed = remove_remote(discover(), args.git_remote, args.experiments, all_of_head=args.all,
                            all_commits=args.all_commits)
    for r in removed:
        console.detail(f"Removed '{r.name}' ({r.sha[:7]}) from {args.git_remote}.")
    if removed and console.quiet:
        console.out(f"Removed {plural(len(removed), 'experiment')} "
                    f"from {args.git_remote}.")
    if not removed:
        console.info(f"No experiment matched on {args.git_remote}.")
    return 0
