"""git exp fsck: check that every object experiments, backups, the queue and HEAD need is intact."""
from __future__ import annotations

from git_exp.errors import ExpError

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import argparse

    from git_exp.ui.console import Console

DESCRIPTION = """\
Checks that the data everything you may reach for is whole: for every
experiment (refs/exps/), backup (refs/exp-backups/), queued or running entry
(refs/exps-queue/, refs/exps-running/), HEAD, the index and the work tree,
each object its pointers, exp.lock outs and backup trailers name - for a
folder, its manifest and every file in it - must be in the cache and hash to
its name. Every other object in the cache is re-hashed too.

Each missing or corrupt object is printed with what needs it (the data path
and the experiment, backup, entry or HEAD), so you know what is lost and
where to look for it. A record that cannot be read (a malformed pointer or
exp.lock in an experiment) is reported as well. Exits with status 1 when it
finds any of these, 0 when all is intact.

A corrupt object is never copied into the work tree by checkout; delete it
and fetch it again from a data remote (git exp pull), or re-add the data if
you still have it. Missing objects come back with git exp pull REMOTE; an
experiment whose data is lost everywhere can be removed (git exp remove).
"""

EXAMPLES = ["git exp fsck", "git exp fsck -j 4"]

_SHOWN = 4


def configure(parser: argparse.ArgumentParser) -> None:
    from git_exp.commands.argtypes import positive_int
    parser.add_argument("-j", "--jobs", type=positive_int, default=None, metavar="N",
                        help="hash N objects at a time (default: the number of CPUs, at most 8)")


def _who(needers: list[str]) -> str:
    if not needers:
        return "needed by nothing"
    more = f", and {len(needers) - _SHOWN} more" if len(needers) > _SHOWN else ""
    return "needed by " + ", ".join(needers[:_SHOWN]) + more


def run(args: argparse.Namespace, console: Console) -> int:
    from git_exp.upkeep.fsck import check_cache
    from git_exp.repo import discover
    from git_exp.ui.progress import ProgressLine, progress_delay
    progress = ProgressLine(console.stderr, "Checking objects", enabled=False if console.quiet else None,
                            delay=progress_delay())
    try:
        result = check_cache(discover(), jobs=args.jobs, progress=progress)
    finally:
        progress.close()
    for digest in result.corrupt:
        console.out(f"corrupt: {digest} ({_who(sorted(set(result.needed_by.get(digest, []))))})")
    for digest, needers in sorted(result.missing.items()):
        console.out(f"missing: {digest} ({_who(needers)})")
    for problem in result.problems:
        console.out(f"unreadable: {problem}")
    if result.ok:
        console.out(f"Checked {result.checked} object(s) and the data of {result.owners} "
                    "ref(s) and trees: all intact, none missing.")
        return 0
    hints: list[str] = []
    if result.corrupt:
        hints.append("delete each corrupt object under .git/exp/cache/files/sha256/ and fetch it "
                     "again with 'git exp pull <remote>' (or re-add the data)")
    if result.missing:
        hints.append("fetch missing objects with 'git exp fetch -A [<remote>]' "
                     "(experiments: 'git exp pull <remote> <name>'); an experiment whose data "
                     "is lost can be removed with 'git exp remove NAME'")
    if result.problems:
        hints.append("an experiment with unreadable records was not written by git-exp: "
                     "remove it with 'git exp remove NAME'")
    # Said by cli.py, as every error, after the findings printed above.
    raise ExpError(f"checked {result.checked} object(s): {len(result.corrupt)} corrupt, "
                   f"{len(result.missing)} missing, {len(result.problems)} unreadable record(s)",
                   hint="\n".join(hints))
