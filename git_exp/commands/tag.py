"""git exp tag: add, remove or list the tags of an experiment."""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from argparse import ArgumentParser, Namespace

    from git_exp.ui.console import Console

DESCRIPTION = """\
Adds TAG (several may be given) to experiment NAME, or with --delete
removes them; with only NAME, lists its tags. Tags are labels for finding
experiments again: `git exp show --tag best` and
`git exp show --where "tag == 'best'"` select them, and the table shows
them as #best. Unlike a Git tag, an experiment tag names no commit of its
own and many experiments may share one. A tag is 1 to 64 letters, digits,
'_', '.', '+' or '-', not starting with '.', '+' or '-'; an experiment has
at most 64.

Tags are stored with the experiment's note in refs/exp-notes/<sha> and
travel with `git exp push` and `git exp pull` (see git exp note).
"""

EXAMPLES = [
    "git exp tag bold-otter best baseline",
    "git exp tag --delete bold-otter baseline",
    "git exp tag bold-otter",
]


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the experiment (name, sha prefix or ref)")
    parser.add_argument("tags", metavar="TAG", nargs="*", help="the tags to add (or remove)")
    parser.add_argument("-d", "--delete", action="store_true", help="remove the tags instead")


def run(args: Namespace, console: Console) -> int:
    from git_exp.errors import UsageError
    from git_exp.experiments import annotations
    from git_exp.experiments.resolve import resolve
    from git_exp.repo import discover

    repo = discover()
    if not args.tags:
        if args.delete:
            raise UsageError("--delete needs the tags to remove", hint="git exp tag -d NAME TAG...")
        exp = resolve(repo, args.name)
        for tag in annotations.read_one(repo.root, exp.sha)[0].tags:
            console.out(tag)
        return 0
    exp, before, after = annotations.edit_tags(repo, args.name, args.tags, delete=args.delete)
    if before.tags == after.tags:
        console.info(f"Tags of '{exp.name}' unchanged: "
                     + (" ".join("#" + t for t in after.tags) or "none"))
    else:
        console.info(f"Tags of '{exp.name}': " + (" ".join("#" + t for t in after.tags) or "none"))
    return 0
