"""git exp pull: fetch experiments (refs and data) from a Git remote."""
from __future__ import annotations

from git_exp.commands.argtypes import positive_int
from git_exp.commands.push import DATA_REMOTES
from git_exp.errors import ExpError, raise_all

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from argparse import ArgumentParser, Namespace

    from git_exp.ui.console import Console

DESCRIPTION = """\
Fetches experiments from REMOTE (a remote's name, a path or a URL): each
one's ref, under the same name refs/exps/<baseline>/<name>, with your own
`git fetch`, then the cached data it records into your cache, from the data
remote paired with REMOTE. The work tree is not touched: `git exp apply
NAME` puts an experiment's files and data in place.

NAME is an experiment's name, a unique sha prefix or its full ref, as the
remote has it (`git exp list REMOTE -A` lists them). Without NAME (or with
--all) the remote's experiments of HEAD's commit are fetched; -A fetches
every experiment there.

An experiment you have under the same name but with a different commit is
left alone and reported; -f replaces yours with the remote's. Only the
objects your cache lacks are fetched, several at a time, each checked
against its hash before it appears in the cache. Data the remote lacks is
listed by experiment and path, and the command fails (the refs are kept).

The run log of each experiment fetched comes along when the remote has it
(refs/exp-logs/<experiment sha>, sent by `git exp push`), so `git exp logs
NAME` works here too. A log is written only under .git/exp/logs/, only if
this clone has none for that experiment, and only when it is a single text
of at most 8 MiB.

Notes and tags (refs/exp-notes/<experiment sha>, see git exp note) come
too, checked before they are kept: only a note of at most 64 KiB of UTF-8
and at most 64 valid tags; anything else is refused and named. When both
sides changed them, they are merged: tags as sets, a note changed on both
sides kept as both, yours first.

Experiments are untrusted input. A remote ref under refs/exps/ that names
no commit (a blob, say) is reported and not kept, and an experiment whose
exp.lock cannot be read (broken, or past the limits of git-exp(1), LIMITS)
is reported and its data not fetched; the others are fetched, and the
command exits 1.
"""

EXAMPLES = [
    "git exp pull origin",
    "git exp pull origin bold-otter",
    "git exp pull -A origin",
    "git exp pull --no-data origin bold-otter",
]

SECTIONS = [("Data remotes", DATA_REMOTES)]


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("remote", metavar="REMOTE", help="the Git remote: a name, a path or a URL")
    parser.add_argument("experiments", nargs="*", metavar="NAME",
                        help="experiments to fetch (default: those of HEAD's commit)")
    parser.add_argument("--all", action="store_true",
                        help="fetch every experiment of HEAD's commit on the remote")
    parser.add_argument("-A", "--all-commits", action="store_true",
                        help="fetch every experiment on the remote")
    parser.add_argument("-f", "--force", action="store_true",
                        help="replace your experiments of the same name that differ")
    parser.add_argument("--no-data", dest="data", action="store_false",
                        help="fetch only the refs, not the cached data")
    parser.add_argument("-j", "--jobs", type=positive_int, metavar="N",
                        help="objects transferred at once (default: 8)")


def run(args: Namespace, console: Console) -> int:
    from git_exp.commands.push import render_refs
    from git_exp.repo import discover
    from git_exp.ui.format import format_size, plural
    from git_exp.ui.progress import ProgressLine
    from git_exp.sharing.pull import pull
    from git_exp.remotes.transfer import DEFAULT_JOBS

    progress = ProgressLine(console.stderr, "Receiving data", enabled=False if console.quiet else None)
    try:
        result = pull(discover(), args.remote, args.experiments, all_of_head=args.all,
                      all_commits=args.all_commits, force=args.force, with_data=args.data,
                      jobs=args.jobs or DEFAULT_JOBS, progress=progress)
    finally:
        progress.close()
    data_line = None
    if result.skipped_data:
        data_line = "Data not fetched (--no-data)."
    elif result.received.objects:
        data_line = (f"Received {plural(result.received.objects, 'data object')}, "
                     f"{format_size(result.received.bytes)}, from {result.location}.")
    render_refs(result, console, "Fetched", f"from {args.remote}", data_line)
    if result.logs:
        console.detail(f"Received {plural(result.logs, 'run log')}.")
    if result.notes:
        console.detail(f"Received the notes and tags of {plural(result.notes, 'experiment')}.")
    for sha, why in result.notes_refused:
        console.warn(f"the notes and tags of experiment {sha[:7]} on '{args.remote}' were refused: {why}")
    if data_line:
        console.detail(data_line)
    errors = []   # said by cli.py, as every error, after the report above
    diverged = [r for r in result.refs if r.status == "diverged"]
    if diverged:
        names = " ".join(r.exp.name for r in diverged)
        errors.append(ExpError(f"{plural(len(diverged), 'experiment')} not fetched: you have a different "
                               "commit under the same name",
                               hint=f"to replace yours with the remote's: git exp pull -f {args.remote} {names}"))
    if result.failed:
        errors.append(ExpError(f"{plural(len(result.failed), 'experiment')} could not be fetched; "
                               "the others were"))
    if result.missing_count:
        errors.append(ExpError(f"{plural(result.missing_count, 'data object is', 'data objects are')} not on "
                               f"the data remote '{result.location}':\n{result.missing}",
                               hint="push them from a clone that has them: git exp push "
                                    f"{args.remote} <name>"))
    raise_all(errors)
    return 0
