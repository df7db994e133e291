"""git exp logs: the output of an experiment's run."""
from __future__ import annotations

import sys

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import argparse

    from git_exp.ui.console import Console

DESCRIPTION = """\
Prints the combined output (stdout and stderr of every stage, and which
stages ran, were skipped or restored) that the run of experiment NAME
produced, failed and interrupted runs included. Logs are kept under the Git
directory (exp/logs/) of the machine that ran the experiment; `git exp push`
sends them along (refs/exp-logs/) and `git exp pull` brings them back, so
they can be read in every clone that pulled the experiment.

NAME may also be a run in progress: one in this work tree (by the name
`git exp show` lists it under), or a queued one running in a worker of this
repository (by name or queue id). Its output so far is printed; with
--follow, more is printed as it comes, until the run ends.
"""

EXAMPLES = ["git exp logs bold-otter", "git exp logs -f bold-otter"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", metavar="NAME", help="the experiment (name, sha prefix or ref)")
    parser.add_argument("-f", "--follow", action="store_true",
                        help="for a run in progress: keep printing its output until it ends")


def run(args: argparse.Namespace, console: Console) -> int:
    from git_exp.queue.logs import stream_log
    from git_exp.repo import discover
    chunks = stream_log(discover(), args.experiment, follow=args.follow)
    if not args.follow and console.use_pager and console.stdout.isatty():
        console.page(b"".join(chunks).decode("utf-8", "replace"))
        return 0
    for data in chunks:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0
