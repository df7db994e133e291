"""git exp note: set, append to, show or remove an experiment's note."""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from argparse import ArgumentParser, Namespace

    from git_exp.ui.console import Console

DESCRIPTION = """\
Attaches a free-text note to experiment NAME, after it ran: what you
learnt, why it is the one to keep. With TEXT the note becomes TEXT (with
--append, TEXT is added to it as a new paragraph); without TEXT your editor
opens on the note, the one Git would start (`git var GIT_EDITOR`:
$GIT_EDITOR, core.editor, $VISUAL, $EDITOR), lines starting with '#'
dropped. Saving an empty note removes it, as --delete does. --show prints
it.

The experiment's commit never changes (its sha is its identity): notes and
tags are kept beside it, one ref per experiment, refs/exp-notes/<sha>,
naming a small commit whose tree holds the files `note` and `tags`. Every
change is a new commit on top of the last, so `git log -p
refs/exp-notes/<sha>` shows who changed what. `git exp push` and `git exp
pull` carry them with the experiments (pull checks them and merges both
sides' changes), and so does a plain
`git push origin 'refs/exps/*:refs/exps/*' 'refs/exp-notes/*:refs/exp-notes/*'`.
A note has at most 64 KiB of UTF-8 text. `git exp remove` leaves an
experiment's notes and tags in place (they are small, and come back into
use if the experiment is pulled again); `git update-ref -d
refs/exp-notes/<sha>` deletes them. `git exp show` shows the first
line of each note; `--json` the whole note.
"""

EXAMPLES = [
    "git exp note bold-otter 'lr too high: loss diverges after epoch 3'",
    "git exp note bold-otter",
    "git exp note --append bold-otter 'rerun with seed 2: same'",
    "git exp note --delete bold-otter",
]


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the experiment (name, sha prefix or ref)")
    parser.add_argument("text", metavar="TEXT", nargs="?",
                        help="the note; without it, your editor opens on the note")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("-a", "--append", action="store_true",
                      help="add TEXT to the note as a new paragraph")
    mode.add_argument("-d", "--delete", action="store_true", help="remove the note")
    mode.add_argument("--show", action="store_true", help="print the note")


def run(args: Namespace, console: Console) -> int:
    import os

    from git_exp.errors import UsageError
    from git_exp.experiments import annotations
    from git_exp.experiments.resolve import resolve
    from git_exp.repo import discover

    repo = discover()
    if (args.delete or args.show) and args.text is not None:
        raise UsageError("TEXT cannot be given with --delete or --show",
                         hint="set a note with: git exp note NAME TEXT")
    if args.show:
        exp = resolve(repo, args.name)
        note = annotations.read_one(repo.root, exp.sha)[0].note
        if note:
            console.out(note)
        return 0
    text = args.text
    if args.delete:
        text = ""
    elif text is None:
        from git_exp.ui.editor import edit_text
        exp = resolve(repo, args.name)
        current = annotations.read_one(repo.root, exp.sha)[0].note
        text = edit_text(os.path.join(repo.exp_dir, "NOTE_EDITMSG"),
                         "" if args.append else current,
                         f"{'Add to' if args.append else 'Write'} the note of experiment "
                         f"'{exp.name}' ({exp.sha[:7]}).\nLines starting with '#' are "
                         "dropped; an empty note " + ("adds nothing." if args.append
                                                       else "removes it."),
                         repo.root)
        args.name = exp.ref
    exp, before, after = annotations.set_note(repo, args.name, text, append=args.append)
    if before.note == after.note:
        console.info(f"The note of '{exp.name}' is unchanged.")
    elif not after.note:
        console.info(f"Removed the note of '{exp.name}'.")
    else:
        console.info(f"{'Added to' if args.append else 'Set'} the note of '{exp.name}'.")
    return 0
