"""git exp gc: delete cache objects that nothing references."""
from __future__ import annotations

DESCRIPTION = """\
Deletes the objects in the cache (.git/exp/cache) that no commit, index or
work tree references any more, and prints what it frees. Kept: the data
recorded (by pointer files, exp.lock or a backup's trailers) in any commit
reachable from any ref - branches, tags, remote-tracking branches,
experiments under refs/exps/, backups under refs/exp-backups/, queued runs
under refs/exps-queue/, the stash - or from the HEAD of any worktree, and
the data recorded in the index and work tree of every worktree.

Reflogs do not keep data alive: after deleting a branch, its data is freed.
The run cache does not either: a stage whose outs were freed runs again.
gc waits for no one: it refuses to start while a run is in progress in this
work tree, and keeps objects written while it works.
"""

EXAMPLES = ["git exp gc --dry-run", "git exp gc"]


def configure(parser):
    parser.add_argument("-n", "--dry-run", action="store_true",
                        help="list what would be deleted, delete nothing")


def run(args, console) -> int:
    from git_exp.data.gc import collect_garbage
    from git_exp.repo import discover
    from git_exp.ui.sizes import human_size
    result = collect_garbage(discover(), dry_run=args.dry_run)
    for problem in result.problems:
        console.warn(f"skipped a malformed record: {problem}")
    verb = "Would remove" if args.dry_run else "Removed"
    if args.dry_run or console.verbose:
        for digest, size in result.removed:
            console.out(f"{verb} {digest} ({human_size(size)})")
    console.out(f"{verb} {len(result.removed)} object(s), "
                f"{'freeing' if args.dry_run else 'freed'} {human_size(result.freed)}; "
                f"kept {result.kept} referenced object(s).")
    return 0
