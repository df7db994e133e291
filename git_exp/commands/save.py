"""git exp save: record the work tree as an experiment without running."""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from argparse import ArgumentParser, Namespace

    from git_exp.ui.console import Console

DESCRIPTION = """\
Records the current work tree as an experiment of HEAD's commit, exactly as
`git exp run` would record it but without running any stage: tracked and
untracked files Git does not ignore, and the data of cached outputs, which is
stored in the cache. HEAD and the index do not move.

A save without -n of a work tree that equals an experiment of the same
commit (nothing changed since that run or save) records no twin: it names
that experiment instead. Give -n NAME to record it anyway.
"""

EXAMPLES = ["git exp save -n manual-tweak -m 'hand-tuned thresholds'"]


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("-n", "--name", help="name the experiment (default: a generated one); names Git reads as a "
                             "revision (HEAD, a branch or tag, 4+ hex digits) are refused")
    parser.add_argument("-m", "--message", help="a message to keep with the experiment")
    parser.add_argument("-f", "--force", action="store_true", help="replace an experiment of the same name")


def run(args: Namespace, console: Console) -> int:
    from git_exp.experiments.manage import save
    from git_exp.queue.entries import reserved_names
    from git_exp.repo import discover
    repo = discover()
    ref, existing = save(repo, reserved_names(repo), name=args.name, message=args.message,
                         force=args.force)
    if existing:
        console.out(f"Nothing changed since experiment {console.paint(ref.name, 'bold')} "
                    f"({ref.sha[:7]}): not saved again.")
        console.info("Name it with -n to save it anyway.")
        return 0
    console.out(f"Experiment {console.paint(ref.name, 'bold')} ({ref.sha[:7]}) saved "
                f"from {ref.baseline[:7]}.")
    return 0
