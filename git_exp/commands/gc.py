"""git exp gc: delete cache objects that nothing references."""
from __future__ import annotations

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
progress in this work tree.

Reflogs do not keep data alive: after deleting a branch, its data is freed
once the grace period has passed. The run cache does not either: a stage
whose outs were freed runs again. A referenced directory object that cannot
be read stops gc before it deletes anything; run git exp fsck.
"""

EXAMPLES = ["git exp gc --dry-run", "git exp gc", "git exp gc --prune=now",
            "git config exp.gc.pruneExpire 3.days.ago"]


def configure(parser):
    parser.add_argument("-n", "--dry-run", action="store_true",
                        help="list what would be deleted, delete nothing")
    parser.add_argument("--prune", metavar="DATE", default=None,
                        help="delete unreferenced objects older than DATE (a Git date such as "
                             "2.weeks.ago, 2026-01-31, now or never; default: exp.gc.pruneExpire)")


def run(args, console) -> int:
    from git_exp.data.gc import collect_garbage
    from git_exp.repo import discover
    from git_exp.ui.sizes import human_size
    from git_exp.ui.progress import ProgressLine, progress_delay
    progress = ProgressLine(console.stderr, "Removing objects" if not args.dry_run else "Looking at objects",
                            enabled=False if console.quiet else None, delay=progress_delay())
    try:
        result = collect_garbage(discover(), dry_run=args.dry_run, prune=args.prune, progress=progress)
    finally:
        progress.close()
    for problem in result.problems:
        console.warn(f"skipped a malformed record: {problem}")
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
    return 0
