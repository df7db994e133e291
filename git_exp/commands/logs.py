"""git exp logs: the output of an experiment's run."""
from __future__ import annotations

import sys

DESCRIPTION = """\
Prints the combined output (stdout and stderr of every stage, and which
stages ran, were skipped or restored) that the run of experiment NAME
produced, failed and interrupted runs included. Logs are kept under the Git
directory (exp/logs/) of the machine that ran the experiment; `git exp push`
sends them along (refs/exp-logs/) and `git exp pull` brings them back, so
they can be read in every clone that pulled the experiment.
"""

EXAMPLES = ["git exp logs bold-otter"]


def configure(parser):
    parser.add_argument("experiment", metavar="NAME", help="the experiment (name, sha prefix or ref)")


def run(args, console) -> int:
    from git_exp.experiments.manage import read_log
    from git_exp.repo import discover
    _, data = read_log(discover(), args.experiment)
    if console.use_pager and console.stdout.isatty():
        console.page(data.decode("utf-8", "replace"))
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0
