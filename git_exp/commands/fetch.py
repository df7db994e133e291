"""git exp fetch: download the data HEAD (or every branch and experiment) records into the cache."""
from __future__ import annotations

from git_exp.errors import ExpError

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import argparse

    from git_exp.remotes.fetch import FetchReport
    from git_exp.ui.console import Console

DESCRIPTION = """\
Downloads into the cache the data that HEAD records - the data of its
pointer files (PATH.exp) and the cached outs of its exp.lock, directories
with every file they list - from the data remote paired with REMOTE. Only
the objects the cache lacks are asked for, several at a time, each checked
against its hash before it appears in the cache. The work tree is not
touched: `git exp checkout` puts the data in place.

REMOTE is a Git remote's name, a path or a URL; by default the current
branch's upstream remote (branch.<name>.remote), else origin. -A fetches the
data of every local branch, tag, remote-tracking branch of REMOTE and
experiment tip instead of HEAD's.

Data the data remote lacks is listed by commit and path, and the command
fails after fetching the rest.

You rarely need to run it: `git exp checkout`, the post-checkout and
post-merge hooks and `git exp apply` fetch what they are about to use and
the cache lacks from the data remote of the current branch's upstream (else
origin), as Git LFS does on checkout, unless exp.fetch.auto is false. A hook
that cannot reach the data remote warns and lets the checkout succeed; run
`git exp checkout` once it is back. So a fresh clone gets its data with:

  git clone URL project && cd project && git exp install && git exp checkout
"""

EXAMPLES = [
    "git exp fetch",
    "git exp fetch origin",
    "git exp fetch -A -j 16",
    "git config exp.fetch.auto false",
]


def configure(parser: argparse.ArgumentParser) -> None:
    from git_exp.commands.argtypes import positive_int
    parser.add_argument("remote", nargs="?", metavar="REMOTE",
                        help="the Git remote (default: the branch's upstream, else origin)")
    parser.add_argument("-A", "--all", dest="all_refs", action="store_true",
                        help="the data of every branch, tag and experiment, not only HEAD's")
    parser.add_argument("-j", "--jobs", type=positive_int, metavar="N",
                        help="objects transferred at once (default: 8)")


def _hint(console: Console, text: str) -> None:
    for line in text.splitlines():
        console.stderr.write(console.paint("hint:", "yellow") + " " + line + "\n")
    console.stderr.flush()


def render_auto(report: FetchReport | None, console: Console, hook: bool = False) -> None:
    """What an automatic fetch (checkout, hooks, apply) did, on stderr; never fails the caller."""
    from git_exp.ui.format import format_size, plural
    if report is None:
        return
    prefix = "git-exp: " if hook else ""
    if report.error is not None:
        where = f" of '{report.remote}'" if report.remote else ""
        console.warn(f"{prefix}could not fetch the missing data from the data remote{where}: "
                     f"{report.error.message}")
        _hint(console, (report.error.hint + "\n" if report.error.hint else "")
              + "once it is reachable: git exp checkout (or set exp.fetch.auto false)")
        return
    if report.objects:
        console.info(f"{prefix}fetched {plural(report.objects, 'data object')}, "
                     f"{format_size(report.bytes)}, from {report.location}")
    if report.missing_count:
        missing = plural(report.missing_count, 'data object is', 'data objects are')
        console.warn(f"{prefix}{missing} not on the data remote "
                     f"'{report.location}':\n{report.missing}")


def run(args: argparse.Namespace, console: Console) -> int:
    from git_exp.repo import discover
    from git_exp.remotes.transfer import DEFAULT_JOBS
    from git_exp.sharing.fetch import fetch
    from git_exp.ui.format import format_size, plural
    from git_exp.ui.progress import ProgressLine

    quiet = console.quiet   # -q, which every command takes
    progress = ProgressLine(console.stderr, "Receiving data", enabled=False if quiet else None)
    try:
        report = fetch(discover(), args.remote, all_refs=args.all_refs,
                       jobs=args.jobs or DEFAULT_JOBS, progress=progress)
    finally:
        progress.close()
    for why in report.unreadable:
        console.warn(f"skipped {why}")
    if not quiet:
        if report.objects:
            console.out(f"Received {plural(report.objects, 'data object')}, {format_size(report.bytes)}, "
                        f"from {report.location}.")
        elif not report.wanted:
            console.out("Data is up to date: the cache has everything "
                        + ("they record." if args.all_refs else "HEAD records."))
    if report.missing_count:   # said by cli.py, as every error, after the report above
        raise ExpError(f"{plural(report.missing_count, 'data object is', 'data objects are')} not on the data "
                       f"remote '{report.location}':\n{report.missing}",
                       hint=f"push them from a clone that has them: git push {report.remote} "
                            f"(with the hooks installed), or git exp push {report.remote} <name>")
    return 0
