"""git exp help: the manual page of git-exp or of one command."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import argparse

    from git_exp.ui.console import Console

DESCRIPTION = """\
Opens the manual page of git-exp, or of COMMAND, with man(1), as `git help`
does for Git's own commands. `git exp --help` and `git exp COMMAND --help`
do the same. Where no man program or page is installed, the command's
built-in help is printed instead.

Besides commands, `git exp help api` opens gitexp-api(7): the Python API
(git_exp.api) and the training-script logger (git_exp.live); `git exp help
pipeline` opens gitexp-pipeline(7): the exp.yaml file, every key it accepts,
templating, foreach and matrix. `git help exp-api` and `git help
exp-pipeline` open the same pages.
"""

EXAMPLES = ["git exp help run", "git exp run --help", "git exp help api", "git exp help pipeline"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("command", nargs="?",
                        help="the command (or guide: api, pipeline) whose manual to show")


def run(args: argparse.Namespace, console: Console) -> int:
    return show_manual(args.command, console)


def _source_man_dir() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "man")


def manual_path(page: str, section: str = "1") -> str | None:
    """The installed page (pip puts it under <prefix>/share/man/man1), else the source tree's."""
    for folder in (os.path.join(sys.prefix, "share", "man", "man" + section), _source_man_dir()):
        path = os.path.join(folder, f"{page}.{section}")
        if os.path.isfile(path):
            return path
    return None


def show_manual(verb: str | None, console: Console) -> int:
    from git_exp.commands import COMMANDS, build_parser, overview
    from git_exp.errors import ExpError
    from git_exp.manpage import GUIDES
    import importlib

    if verb in GUIDES and verb not in COMMANDS:
        return _show_guide(verb, console)
    if verb is not None and verb not in COMMANDS:
        raise ExpError(f"no manual for '{verb}': it is not a git exp command",
                       hint="run 'git exp -h' for the list of commands; guides: "
                            + ", ".join(GUIDES))
    page = "git-exp" if verb is None else f"git-exp-{verb}"
    path = manual_path(page)
    man = shutil.which("man")
    if man and console.stdout.isatty():
        # A path with a slash makes man-db and mandoc open that very file.
        target = path if path else page
        if subprocess.call([man, target]) == 0:
            return 0
    if verb is None:
        console.page(overview())
    else:
        module = importlib.import_module(COMMANDS[verb][0])
        text = build_parser(verb, module).format_help()
        description = getattr(module, "DESCRIPTION", "")
        console.page(text + ("\n" + description if description else ""))
    return 0


def _show_guide(name: str, console: Console) -> int:
    """Guide NAME (section 7) with man on a terminal, else as plain text."""
    from git_exp.manpage import guide_text
    page = f"gitexp-{name}"
    path = manual_path(page, "7")
    man = shutil.which("man")
    if man and console.stdout.isatty():
        if subprocess.call([man, path if path else page]) == 0:
            return 0
    console.page(guide_text(name))
    return 0
