"""git exp save: record the work tree as an experiment without running."""
from __future__ import annotations

DESCRIPTION = """\
Records the current work tree as an experiment of HEAD's commit, exactly as
`git exp run` would record it but without running any stage: tracked and
untracked files Git does not ignore, and the data of cached outputs, which is
stored in the cache. HEAD and the index do not move.
"""

EXAMPLES = ["git exp save -n manual-tweak -m 'hand-tuned thresholds'"]


def configure(parser):
    parser.add_argument("-n", "--name", help="name the experiment (default: a generated one); names Git reads as a "
                             "revision (HEAD, a branch or tag, 4+ hex digits) are refused")
    parser.add_argument("-m", "--message", help="a message to keep with the experiment")
    parser.add_argument("-f", "--force", action="store_true", help="replace an experiment of the same name")


def run(args, console) -> int:
    from git_exp.experiments.manage import save
    from git_exp.repo import discover
    ref = save(discover(), name=args.name, message=args.message, force=args.force)
    console.out(f"Experiment {console.paint(ref.name, 'bold')} ({ref.sha[:7]}) saved "
                f"from {ref.baseline[:7]}.")
    return 0
