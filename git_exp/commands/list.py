"""git exp list: experiments grouped by the commit they ran from."""
from __future__ import annotations

DESCRIPTION = """\
Lists experiments grouped by their baseline commit (labelled by branch or tag
name, else its short sha). By default only the experiments of HEAD's commit
are listed; --all-commits lists every experiment in the repository.
"""

EXAMPLES = ["git exp list", "git exp list -A --name-only"]


def configure(parser):
    parser.add_argument("-A", "--all-commits", action="store_true",
                        help="list the experiments of every commit, not only HEAD's")
    parser.add_argument("--name-only", action="store_true", help="print only the names, one a line")


def run(args, console) -> int:
    from git_exp.experiments.manage import list_groups
    from git_exp.repo import discover
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
    return 0
