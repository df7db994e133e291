"""git exp list: experiments grouped by the commit they ran from."""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import argparse

    from git_exp.experiments.annotations import Annotation
    from git_exp.ui.console import Console

DESCRIPTION = """\
Lists experiments grouped by their baseline commit (labelled by branch or tag
name, else its short sha), each with its short sha and its tags (git exp
tag). By default only the experiments of HEAD's commit are listed;
--all-commits lists every experiment in the repository.

With REMOTE (a Git remote's name, a path or a URL), lists the experiments on
that remote instead, asking it with one `git ls-remote` and fetching
nothing. A baseline you have no branch or tag for is labelled by the
remote's names for it (such as origin/main).

--backups lists the backups instead (refs/exp-backups/: what apply and
checkout --force replaced), newest first: the ref, when it was written,
what it holds (the files that differ from the commit it was taken on and
the data it saved), when it expires (exp.backups.expire, default
30.days.ago; git exp gc deletes expired ones) and the command that restores
it. --json prints the same as a list of objects.
"""

EXAMPLES = ["git exp list", "git exp list -A --name-only", "git exp list origin -A",
            "git exp list --backups"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("remote", nargs="?", metavar="REMOTE",
                        help="list the experiments on this Git remote, without fetching")
    parser.add_argument("-A", "--all-commits", action="store_true",
                        help="list the experiments of every commit, not only HEAD's")
    parser.add_argument("--name-only", action="store_true", help="print only the names, one a line")
    parser.add_argument("--backups", action="store_true",
                        help="list the backups (refs/exp-backups/) with their dates, contents and "
                             "restore commands")
    parser.add_argument("--json", action="store_true", help="with --backups: print them as JSON")


def _backups(args: argparse.Namespace, console: Console) -> int:
    import time

    from git_exp.worktree.backups import list_backups
    from git_exp.repo import discover
    from git_exp.ui.format import format_size as human_size
    backups = list_backups(discover())
    if args.json:
        import json
        console.out(json.dumps([b.to_dict() for b in backups], indent=2))
        return 0
    if args.name_only:
        if backups:
            console.page("\n".join(b.ref for b in backups))
        return 0
    if not backups:
        console.info("No backups.")
        return 0
    lines: list[str] = []
    for b in backups:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(b.time))
        lines.append(console.paint(b.ref, "bold") + f"  {when}  {b.subject}")
        size = sum(i.size for i in b.data.values())
        data = (f"; data: {', '.join(sorted(b.data))} ({human_size(size)})" if b.data else "")
        lines.append(f"\tholds {b.files} changed file(s){data}")
        if b.expires is None:
            expiry = "never expires"
        elif b.expires <= time.time():
            expiry = "expired: the next git exp gc deletes it"
        else:
            expiry = "expires " + time.strftime("%Y-%m-%d", time.localtime(b.expires))
        lines.append(f"\t{expiry}; restore: {b.restore}")
    console.page("\n".join(lines))
    return 0


def run(args: argparse.Namespace, console: Console) -> int:
    if args.backups:
        if args.remote or args.all_commits:
            from git_exp.errors import UsageError
            raise UsageError("--backups lists this repository's backups: no REMOTE or -A with it",
                             hint="git exp list --backups")
        return _backups(args, console)
    if args.json:
        from git_exp.errors import UsageError
        raise UsageError("--json goes with --backups", hint="git exp show --json lists experiments")
    from git_exp.experiments.manage import list_groups
    from git_exp.repo import discover
    hidden = 0
    annotations: dict[str, Annotation] = {}   # sha -> its note and tags; a remote's are not fetched by list
    if args.remote:
        from git_exp.sharing.listing import list_remote
        listing = list_remote(discover(), args.remote, all_commits=args.all_commits)
        groups, hidden = listing.groups, listing.hidden
    else:
        repo = discover()
        groups = list_groups(repo, all_commits=args.all_commits)
        if groups and not args.name_only:
            from git_exp.experiments.annotations import read_all
            annotations = read_all(repo.root)
    lines: list[str] = []
    for group in groups:
        if args.name_only:
            lines += [r.name for r in group.experiments]
            continue
        lines.append(console.paint(f"{group.label}:", "bold"))
        for r in group.experiments:
            tags = annotations[r.sha].tags if r.sha in annotations else ()
            shown = "  " + console.paint(", ".join(tags), "yellow") if tags else ""
            lines.append(f"\t{r.name} ({r.sha[:7]}){shown}")
    if lines:
        console.page("\n".join(lines))
    if hidden:
        from git_exp.ui.format import plural
        console.info(f"{plural(hidden, 'more experiment')} of other commits on {args.remote}; "
                     "-A lists them too.")
    return 0
