"""git exp remove: delete experiments."""
from __future__ import annotations

DESCRIPTION = """\
Deletes the refs of the named experiments (names, sha prefixes or refs) and
their logs. --all removes every experiment of HEAD's commit, --all-commits
every experiment in the repository, --failed every failed or interrupted one.
The commits stay in Git's object store until `git gc` prunes them.
"""

EXAMPLES = ["git exp remove bold-otter", "git exp remove --failed"]


def configure(parser):
    parser.add_argument("experiments", nargs="*", metavar="NAME", help="experiments to remove")
    parser.add_argument("--all", action="store_true", help="remove every experiment of HEAD's commit")
    parser.add_argument("-A", "--all-commits", action="store_true",
                        help="remove every experiment of every commit")
    parser.add_argument("--failed", action="store_true", help="remove failed and interrupted experiments")


def run(args, console) -> int:
    from git_exp.experiments.manage import remove
    from git_exp.repo import discover
    removed = remove(discover(), args.experiments, all_of_head=args.all,
                     all_commits=args.all_commits, failed=args.failed)
    for r in removed:
        console.out(f"Removed '{r.name}' ({r.sha[:7]}).")
    if not removed:
        console.info("No experiment matched.")
    return 0
