"""git exp gc: delete cache objects that nothing references."""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import argparse
    from typing import Callable

    from git_exp.ui.console import Console

    Dropped = list[tuple[str, int, str]]   # (hash, bytes, who names it): what a scope leaves out

DESCRIPTION = """\
Deletes the objects in the cache (.git/exp/cache) that no commit, index or
work tree references any more and that are older than the grace period, and
prints what it frees. Kept: the data recorded (by pointer files, exp.lock or
a backup's trailers) in any commit reachable from any ref - branches, tags,
remote-tracking branches, experiments under refs/exps/, backups under
refs/exp-backups/ (what apply and checkout --force replaced), queued and
running entries under refs/exps-queue/ and refs/exps-running/, the stash -
or from the HEAD of any worktree, and the data recorded in the index and
work tree of every worktree, the temporary checkouts of queue workers
included.

The grace period: an unreferenced object younger than exp.gc.pruneExpire
(default 2.weeks.ago) is kept, as Git keeps young loose objects, because a
process may be about to record it - a queue worker that saved its outputs
and has not created its experiment yet, say. --prune=DATE overrides it;
--prune=now deletes every unreferenced object. Whatever the date, objects
written since the oldest run still in progress (in any worktree, queue
workers included) started are kept, and so are objects written while gc
works and objects hard-linked into a work tree (exp.cache.type hardlink:
deleting them would free nothing). gc refuses to start while a run is in
progress in this work tree. Temporary files that a crashed or interrupted
save or download left in the cache are removed too, once they are an hour
old.

Scopes choose what is kept, as DVC's gc does; without one gc keeps
everything refs name (the same as --all-commits). With a scope, gc keeps
the data of the work tree, index and HEAD of every worktree (-w/--workspace
alone keeps only that), of queued and running entries, of backups that have
not expired and of the stash, plus what each scope given adds:
-a/--all-branches the tip of every local branch, -T/--all-tags every tag,
--all-experiments every experiment, --date DATE every commit on any ref
made on or after DATE, --all-commits every commit reachable from any ref.
Before deleting data a ref still names, gc lists it (which ref, which path)
and asks; without a terminal, or to skip the question, it needs -f/--force.
--dry-run shows the list and deletes nothing. The grace period does not
protect data a ref names (no one is about to record it), but objects
written by a run in progress or while gc works are kept whatever the scope.

Backups (refs/exp-backups/, written by apply and checkout --force) expire
after exp.backups.expire (a Git date, default 30.days.ago; never keeps them
forever): gc deletes the refs of expired backups and says which, and their
data is then freed as any unreferenced data is. git exp list --backups
shows the backups, their dates and how to restore each.

Reflogs do not keep data alive: after deleting a branch, its data is freed
once the grace period has passed. The run cache does not either: a stage
whose outs were freed runs again. A referenced directory object that cannot
be read stops gc before it deletes anything; run git exp fsck.
"""

EXAMPLES = ["git exp gc --dry-run", "git exp gc", "git exp gc --prune=now",
            "git exp gc -w --dry-run", "git exp gc -a -T --all-experiments -f",
            "git exp gc --date 2026-06-01 -f",
            "git config exp.gc.pruneExpire 3.days.ago", "git config exp.backups.expire 90.days.ago"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--dry-run", action="store_true",
                        help="list what would be deleted, delete nothing")
    parser.add_argument("--prune", metavar="DATE", default=None,
                        help="delete unreferenced objects older than DATE (a Git date such as "
                             "2.weeks.ago, 2026-01-31, now or never; default: exp.gc.pruneExpire)")
    scope = parser.add_argument_group("scopes (what to keep; default: everything refs name)")
    scope.add_argument("-w", "--workspace", action="store_true",
                       help="keep the data of the work trees, indexes and HEADs (always kept with a scope)")
    scope.add_argument("-a", "--all-branches", action="store_true",
                       help="keep the data of the tip of every local branch")
    scope.add_argument("-T", "--all-tags", action="store_true", help="keep the data of every tag")
    scope.add_argument("--all-commits", action="store_true",
                       help="keep the data of every commit reachable from any ref (the default)")
    scope.add_argument("--all-experiments", action="store_true",
                       help="keep the data of every experiment")
    scope.add_argument("--date", metavar="YYYY-MM-DD",
                       help="keep the data of every commit and experiment made on or after this date")
    parser.add_argument("-f", "--force", action="store_true",
                        help="delete data that refs still name but the scope leaves out, without asking")


def _confirm(args: argparse.Namespace, console: Console) -> Callable[[Dropped], bool]:
    """List what a scope drops; ask on a terminal unless -f."""
    import sys

    from git_exp.ui.format import format_size as human_size

    def confirm(dropped: Dropped) -> bool:
        console.out(f"{len(dropped)} object(s) that refs still name are outside the scope:")
        for digest, size, who in dropped:
            console.out(f"\t{who} ({digest[:12]}, {human_size(size)})")
        if args.force or args.dry_run:
            return True
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            return False
        console.stderr.write("Delete them? [y/N] ")
        console.stderr.flush()
        return sys.stdin.readline().strip().lower() in ("y", "yes")
    return confirm


def run(args: argparse.Namespace, console: Console) -> int:
    from git_exp.upkeep.gc import collect_garbage
    from git_exp.upkeep.gcscope import Scope
    from git_exp.repo import discover
    from git_exp.ui.format import format_size as human_size
    from git_exp.ui.progress import ProgressLine, progress_delay
    scope = Scope(workspace=args.workspace, all_branches=args.all_branches, all_tags=args.all_tags,
                  all_commits=args.all_commits, all_experiments=args.all_experiments, date=args.date)
    confirm = _confirm(args, console)
    progress = ProgressLine(console.stderr, "Removing objects" if not args.dry_run else "Looking at objects",
                            enabled=False if console.quiet else None, delay=progress_delay())
    try:
        result = collect_garbage(discover(), dry_run=args.dry_run, prune=args.prune, scope=scope,
                                 confirm=lambda dropped: _after(progress.close, confirm, dropped),
                                 progress=progress)
    finally:
        progress.close()
    for problem in result.problems:
        console.warn(f"skipped a malformed record: {problem}")
    if args.dry_run and result.dropped:
        confirm(result.dropped)
    for backup in result.backups:
        verb = "Would delete" if args.dry_run else "Deleted"
        console.info(f"{verb} the backup {backup.ref}: written before {result.backup_expire} "
                     "(exp.backups.expire).")
    verb = "Would remove" if args.dry_run else "Removed"
    if args.dry_run or console.verbose:
        for digest, size in result.removed:
            console.out(f"{verb} {digest} ({human_size(size)})")
    console.out(f"{verb} {len(result.removed)} object(s), "
                f"{'freeing' if args.dry_run else 'freed'} {human_size(result.freed)}; "
                f"kept {result.kept} referenced object(s).")
    if result.recent:
        if result.expire.strip() == "now":
            console.info(f"Kept {result.recent} unreferenced object(s) written by a run in progress "
                         "or while gc worked.")
        else:
            console.info(f"Kept {result.recent} unreferenced object(s) younger than {result.expire} "
                         "or written by a run in progress; delete them sooner with --prune=now.")
    if result.linked:
        console.info(f"Kept {result.linked} unreferenced object(s) hard-linked into a work tree.")
    if result.temps[0]:
        from git_exp.ui.format import plural
        console.info(f"{verb} {plural(result.temps[0], 'temporary file')} "
                     f"({human_size(result.temps[1])}) that interrupted saves left in the cache.")
    return 0


def _after(first: Callable[[], object], then: Callable[[Dropped], bool], arg: Dropped) -> bool:
    """FIRST(), then THEN(ARG)'s answer: the progress line is closed before a question."""
    first()
    return then(arg)
