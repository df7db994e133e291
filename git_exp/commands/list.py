"""git exp list: experiments grouped by the commit they ran from."""
from __future__ import annotations

DESCRIPTION = """\
Lists experiments grouped by their baseline commit (labelled by branch or tag
name, else its short sha). By default only the experiments of HEAD's commit
are listed; --all-commits lists every experiment in the repository.

With REMOTE (a Git remote's name, a path or a URL), lists the experiments on
that remote instead, asking it with one `git ls-remote` and fetching
nothing. A baseline you have no branch or tag for is labelled by the
remote's names for it (such as origin/main).
"""

EXAMPLES = ["git exp list", "git exp list -A --name-only", "git exp list origin -A"]


def configure(parser):
    parser.add_argument("remote", nargs="?", metavar="REMOTE",
                        help="list the experiments on this Git remote, without fetching")
    parser.add_argument("-A", "--all-commits", action="store_true",
                        help="list the experiments of every commit, not only HEAD's")
    parser.add_argument("--name-only", action="store_true", help="print only the names, one a line")


def run(args, console) -> int:
    from git_exp.experiments.manage import list_groups
    from git_exp.repo import discover
    hidden = 0
    if args.remote:
        from git_exp.sharing.listing import list_remote
        listing = list_remote(discover(), args.remote, all_commits=args.all_commits)
        groups, hidden = listing.groups, listing.hidden
    else:
        groups = list_groups(discover(), all_commits=args.all_commits)
    lines = []
    for group in groups:
        if args.name_only:
            lines += [r.name for r in group.experiments]
            continue
        lines.append(console.paint(f"{group.label}:", "bold"))
        lines += [f"\t{r.name} ({r.sha[:7]})" for r in group.experiments]
    if lines:
        console.page("\n".join(lines))
    if hidden:
        from git_exp.ui.format import plural
        console.info(f"{plural(hidden, 'more experiment')} of other commits on {args.remote}; "
                     "-A lists them too.")
    return 0
