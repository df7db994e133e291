"""git exp init: write exp.yaml with one stage, or make the example project."""
from __future__ import annotations

import argparse
import shlex
import sys

from git_exp.errors import ExpError, UsageError

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import TextIO

    from git_exp.scaffold_text import StageRequest
    from git_exp.ui.console import Console

DESCRIPTION = """\
Adds one stage to exp.yaml at the root of the current Git repository, creating
the file when it does not exist. The stage runs CMD, depends on a code path and
a data path, tracks the parameters of a params file, caches a models path and
records a metrics file and a plots path:

  stages:
    default:
      cmd: python src/train.py
      deps:
      - src
      - data
      params:
      - train
      outs:
      - models
      metrics:
      - metrics.json:
          cache: false
      plots:
      - plots:
          cache: false

When the params file exists, the stage lists its top-level keys; otherwise it
tracks the whole file (`- params.yaml:`). Every path is relative to the
repository root, wherever in the repository init runs, and defaults to the
name shown above (src, data, models, params.yaml, metrics.json, plots). An
absolute path inside the repository is made relative; a path outside it is
refused.

With -i, init asks for the command and each path in turn, showing the default
in brackets: Enter accepts it, `n` leaves the entry out of the stage, anything
else is the path to use. Options given with -i become the defaults of their
questions. It then shows the stage and asks before writing. When the input
ends before every question is answered (Ctrl-D, or a script that gives too
few lines), init stops and writes nothing.

Without -i, the options decide: --code PATH and the like change a path,
--no-code and the like leave an entry out (an empty value, --code '', does
the same). Options of init come before CMD; everything from CMD on is the
stage's command, quoted as needed, so `git exp init python train.py --lr 1`
gives the stage `cmd: python train.py --lr 1`. Put `--` before a command that
itself contains --help.

An existing exp.yaml is edited, not rewritten: the stage's lines are added at
the end of its `stages:` block, and the rest of the file, comments included,
stays as it was. A stage of the same name is refused unless -f is given, which
replaces that stage's lines only. init writes no .gitignore entries: `git exp
run` adds those for the outputs it caches.

With --example DIR, init creates DIR (which must not exist, or be empty) as a
new Git repository holding a small machine-learning project in plain Python,
two stages (prepare, train) and a commented params.yaml, committed as
"Example project" with your Git identity. It needs no repository around it.
"""

EXAMPLES = [
    "git exp init -i",
    "git exp init python src/train.py",
    "git exp init --no-plots --data data/images --name train python src/train.py",
    "git exp init --example demo && cd demo && git exp run",
]

# (entry, the question -i asks, how messages name it, its option's help)
ENTRIES = [
    ("code", "Path to a code file/directory", "the code path",
     "a dependency of the stage: your code"),
    ("data", "Path to a data file/directory", "the data path",
     "a dependency of the stage: its input data"),
    ("models", "Path to a model file/directory", "the models path",
     "an output of the stage, kept in git-exp's cache"),
    ("params", "Path to a parameters file", "the parameters file",
     "the params file whose top-level keys the stage tracks"),
    ("metrics", "Path to a metrics file", "the metrics file",
     "the metrics file the command writes (kept in Git)"),
    ("plots", "Path to a plots file/directory", "the plots path",
     "the plots data the command writes (kept in Git)"),
]

OMIT = "n"  # the answer that leaves an entry out


def configure(parser: argparse.ArgumentParser) -> None:
    from git_exp.scaffold_text import DEFAULTS

    parser.add_argument("-i", "--interactive", action="store_true",
                        help="ask for the command and each path, then confirm before writing")
    parser.add_argument("-n", "--name", default="default", metavar="STAGE",
                        help="the stage's name (default: default)")
    parser.add_argument("-f", "--force", action="store_true",
                        help="replace a stage of the same name in exp.yaml")
    parser.add_argument("--example", metavar="DIR",
                        help="create DIR as a Git repository holding the example project")
    for entry, _, label, about in ENTRIES:
        metavar = "FILE" if entry in ("params", "metrics") else "PATH"
        parser.add_argument(f"--{entry}", metavar=metavar,
                            help=f"{about} (default: {DEFAULTS[entry]})")
        parser.add_argument(f"--no-{entry}", dest=entry, action="store_const", const="",
                            help=f"leave {label} out of the stage")
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="CMD",
                        help="the command the stage runs, with its arguments")


def _join(words: list[str]) -> str:
    if words[:1] == ["--"]:
        words = words[1:]
    if not words:
        return ""
    # One word is taken as the whole command line, as the user typed it.
    return words[0] if len(words) == 1 else shlex.join(words)


class _Dialogue:
    """Questions on stderr, answers from a stream (stdin; tests pipe it)."""

    def __init__(self, answers: TextIO, console: Console) -> None:
        self.answers = answers
        self.console = console

    def ask(self, question: str, label: str, default: str | None = None,
            shown: str | None = None) -> str:
        """The answer to QUESTION; Enter gives DEFAULT, shown in brackets."""
        shown = shown or default
        self.console.stderr.write(f"{question} [{shown}]: " if shown else f"{question}: ")
        self.console.stderr.flush()
        line = self.answers.readline()
        if not line:
            self.console.stderr.write("\n")
            raise ExpError(f"init aborted: no answer for {label}",
                           hint="nothing was written; answer every question, "
                                "or give the paths as options without -i")
        if not self.answers.isatty():
            self.console.stderr.write(line if line.endswith("\n") else line + "\n")
        answer = line.strip()
        return answer if answer else (default or "")

    def say(self, text: str = "") -> None:
        self.console.stderr.write(text + "\n")
        self.console.stderr.flush()


def ask_stage(dialogue: _Dialogue, cmd: str, paths: dict[str, str | None], name: str) -> StageRequest:
    """The interactive questions; returns a StageRequest."""
    from git_exp.scaffold_text import StageRequest

    dialogue.say("This command adds a stage to exp.yaml. Press Enter to accept the default\n"
                  f"in brackets, or type '{OMIT}' to leave an entry out. Paths are relative to\n"
                  "the repository root.\n")
    while True:
        cmd = dialogue.ask("Command to execute", "the command to execute", cmd or None)
        if cmd:
            break
        dialogue.say("A stage needs a command.")
    chosen: dict[str, str | None] = {}
    for entry, question, label, _ in ENTRIES:
        default = paths[entry] if paths[entry] is not None else OMIT
        answer = dialogue.ask(question, label, default)
        chosen[entry] = None if answer == OMIT else answer
    return StageRequest(cmd=cmd, name=name, **chosen)


def confirm(dialogue: _Dialogue, question: str) -> bool:
    while True:
        answer = dialogue.ask(question, "the confirmation", "y", shown="Y/n").lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
        dialogue.say("Please answer y or n.")


def run(args: argparse.Namespace, console: Console) -> int:
    from git_exp import scaffold, scaffold_example, scaffold_text
    from git_exp.names import PIPELINE_FILE

    if args.example is not None:
        if args.command or args.interactive:
            raise UsageError("--example takes no command and no -i",
                             hint="git exp init --example DIR")
        scaffold_example.create_example(args.example)
        where = shlex.quote(args.example)
        console.info(f"Created the example project in {args.example}: a Git repository with one commit.\n"
                     f"Next:\n  cd {where}\n  git exp run\n  git exp run -S train.lr=0.05\n  git exp show")
        return 0

    from git_exp.repo import discover

    repo = discover()
    cmd = _join(args.command)
    given = {entry: getattr(args, entry) for entry, *_ in ENTRIES}
    # None: not given, so the default; "": left out (--no-X or an empty value).
    paths = {e: (scaffold_text.DEFAULTS[e] if v is None else (v or None)) for e, v in given.items()}

    if args.interactive:
        scaffold.check_stage_free(repo.root, args.name, args.force)
        dialogue = _Dialogue(sys.stdin, console)
        request = ask_stage(dialogue, cmd, paths, args.name)
        plan = scaffold.plan_stage(repo.root, request, args.force)
        dialogue.say("\n" + plan.preview)
        for note in plan.notes:
            dialogue.say(f"note: {note}")
        if not confirm(dialogue, f"Do you want to add the above contents to {PIPELINE_FILE}?"):
            console.info(f"Nothing written: {PIPELINE_FILE} is unchanged.")
            return 1
        scaffold.apply_plan(plan)
    else:
        if not cmd:
            raise UsageError("no command to execute",
                             hint="git exp init [options] CMD..., or git exp init -i to be asked")
        plan = scaffold.add_stage(repo.root, scaffold_text.StageRequest(cmd=cmd, name=args.name, **paths),
                                  args.force)
        for note in plan.notes:
            console.info(f"note: {note}")
    what = {"created": f"Created {PIPELINE_FILE} with stage '{args.name}'",
            "added": f"Added stage '{args.name}' to {PIPELINE_FILE}",
            "replaced": f"Replaced stage '{args.name}' in {PIPELINE_FILE}"}[plan.action]
    console.info(f"{what}. Run it with 'git exp run'.")
    return 0
