"""One module per verb: `configure(parser)` adds its options, `run(args, console)`
turns them into keyword arguments, makes one core call and renders the result.

A module may define DESCRIPTION (the manual's description, plain paragraphs)
and EXAMPLES (lines) for its manual page, rendered by `python -m git_exp.manpage`
(git_exp/manpage.py).

This package's own module is the registry: every verb, the module that runs
it and its one-line summary, and the argparse parser each verb's options go
into. It imports nothing heavy (argparse only when a parser is built): cli.py
loads it for every verb and `git exp -h`, commands/help.py and the man page
renderer read it, and none of them needs cli.py for it.
"""
from __future__ import annotations

from git_exp.errors import UsageError

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import argparse
    from types import ModuleType
    from typing import Any, NoReturn


# verb -> (module, one-line summary). Verbs in HIDDEN work but are not listed
# by `-h` (the hooks' entry point and the queue's remote worker).
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("git_exp.commands.init", "Create exp.yaml with one stage, or the example project"),
    "run": ("git_exp.commands.run", "Run the pipeline and record the result as an experiment"),
    "repro": ("git_exp.commands.repro",
              "Run the pipeline in the work tree and update exp.lock, recording no experiment"),
    "dag": ("git_exp.commands.dag", "Show the stage graph: as text, Graphviz dot, Mermaid or JSON"),
    "save": ("git_exp.commands.save", "Record the work tree as an experiment without running"),
    "list": ("git_exp.commands.list", "List experiments grouped by the commit they ran from"),
    "logs": ("git_exp.commands.logs", "Print the output of an experiment's run"),
    "apply": ("git_exp.commands.apply", "Put an experiment's files and data into the work tree"),
    "branch": ("git_exp.commands.branch", "Create a Git branch from an experiment"),
    "rename": ("git_exp.commands.rename", "Rename an experiment"),
    "remove": ("git_exp.commands.remove", "Delete experiments"),
    "note": ("git_exp.commands.note", "Add, edit or remove an experiment's note"),
    "tag": ("git_exp.commands.tag", "Add, remove or list an experiment's tags"),
    "queue": ("git_exp.commands.queue", "Run queued experiments in the background; status, logs, kill, remove"),
    "push": ("git_exp.commands.push", "Share experiments and their data with a Git remote"),
    "pull": ("git_exp.commands.pull", "Fetch experiments and their data from a Git remote"),
    "fetch": ("git_exp.commands.fetch", "Download the data HEAD (or every branch) records into the cache"),
    "get": ("git_exp.commands.get",
            "Download a file or folder, data included, from another git-exp repository"),
    "ls": ("git_exp.commands.ls", "List the files and data of another git-exp repository"),
    "remote": ("git_exp.commands.remote", "List the Git remotes with the data remote each one uses"),
    "show": ("git_exp.commands.show", "Show experiments with their metrics and params as a table"),
    "diff": ("git_exp.commands.diff", "Compare the params and metrics of two experiments or commits"),
    "params": ("git_exp.commands.params", "Compare params between commits and experiments (params diff)"),
    "metrics": ("git_exp.commands.metrics", "Show and compare metrics (metrics show, metrics diff)"),
    "plots": ("git_exp.commands.plots", "Draw plots of the workspace and experiments in one HTML page"),
    "add": ("git_exp.commands.add", "Track data files or folders with a pointer file instead of Git"),
    "checkout": ("git_exp.commands.checkout", "Put the data the pointers and exp.lock record into the work tree"),
    "status": ("git_exp.commands.status", "Show which stages would run and which data differs from its record"),
    "gc": ("git_exp.commands.gc", "Delete cached data that no commit, ref or work tree references"),
    "fsck": ("git_exp.commands.fsck", "Check the cache for corrupt and missing objects"),
    "import-dvc": ("git_exp.commands.import_dvc", "Convert a DVC project, its cache and experiments to git-exp"),

    "ui": ("git_exp.commands.ui", "Browse, compare and manage experiments in a local web app"),
    "install": ("git_exp.commands.install", "Install the Git hooks that keep data in step with Git"),
    "hook": ("git_exp.commands.hook", "Run the logic of an installed Git hook"),
    "exec-entry": ("git_exp.commands.exec_entry", "Run one queue entry of a shared remote and push its result"),
    "help": ("git_exp.commands.help", "Show the manual page of git-exp or of one of its commands"),
}
HIDDEN: set[str] = {"hook", "exec-entry"}

USAGE = "usage: git exp [-C <path>] [--color[=<when>]] [--no-pager] [-q] [-v] <command> [<args>]"


def _parser_class() -> type[argparse.ArgumentParser]:
    """argparse, but failing the way Git does: `error:` and exit 129.

    Made on first use, so `git exp --version` and the `git exp -h` overview
    never import argparse. Every verb does, `git exp hook NAME` included: the
    hooks parse their arguments like any other command."""
    import argparse

    class Sized(argparse.HelpFormatter):
        """A formatter with the terminal's width found without shutil (bz2, lzma,
        fnmatch: 1.4 ms of every command), the same way shutil finds it."""

        def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                     width: int | None = None) -> None:
            if width is None:
                from git_exp.ui.console import terminal_size
                width = terminal_size().columns - 2
            super().__init__(prog, indent_increment, max_help_position, width)

    class SizedRaw(argparse.RawDescriptionHelpFormatter, Sized):
        """RawDescriptionHelpFormatter's descriptions, Sized's width."""

    formatters: dict[type[argparse.HelpFormatter], type[argparse.HelpFormatter]] = {
        argparse.HelpFormatter: Sized, argparse.RawDescriptionHelpFormatter: SizedRaw}

    class Parser(argparse.ArgumentParser):
        # argparse's own keyword arguments (its callers, add_parser included, pass
        # only keywords), handed on as they are.
        def __init__(self, *, formatter_class: type[argparse.HelpFormatter] = argparse.HelpFormatter,
                     add_help: bool = True, **kwargs: Any) -> None:
            super().__init__(formatter_class=formatters.get(formatter_class, formatter_class),
                             add_help=False, **kwargs)
            if add_help:   # `-h` alone, sub-commands too: `--help` opens the manual (cli.py)
                self.add_argument("-h", action="help", help="show this help and exit")

        def error(self, message: str) -> NoReturn:  # noqa: D401 - argparse's API
            raise UsageError(self._without_optional(message), hint=self.format_usage().strip())

        def _without_optional(self, message: str) -> str:
            # argparse lists a missing REMOTE together with an optional NAME...
            # positional; name only what is really required.
            lead = "the following arguments are required: "
            if not message.startswith(lead):
                return message
            optional = {a.metavar or a.dest for a in self._actions
                        if not a.option_strings and a.nargs in ("*", "?")}
            names = [n for n in message[len(lead):].split(", ") if n not in optional]
            return lead + ", ".join(names) if names else message

    return Parser


def overview() -> str:
    width = max(len(v) for v in COMMANDS)
    lines = [USAGE, "", "Version machine-learning experiments as Git commits.", "", "commands:"]
    for verb, (_, summary) in COMMANDS.items():
        if verb not in HIDDEN:
            lines.append(f"   {verb.ljust(width)}   {summary}")
    lines += ["", "See 'git exp <command> -h' for a command's options and "
              "'git exp help <command>' for its manual page."]
    return "\n".join(lines)


def build_parser(verb: str, module: ModuleType) -> argparse.ArgumentParser:
    import argparse
    parser = _parser_class()(prog=f"git exp {verb}", description=COMMANDS[verb][1],
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_common(parser)
    module.configure(parser)
    _add_common_to_subcommands(parser)
    return parser


def _add_common(parser: argparse.ArgumentParser) -> None:
    import argparse
    parser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="print only results and errors")
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="say more; show tracebacks of internal errors")


def _add_common_to_subcommands(parser: argparse.ArgumentParser) -> None:
    """-q and -v after a sub-command too (`plots diff -q`, `queue start -q`), as
    help shows them; SUPPRESS keeps one given before it from being reset."""
    import argparse
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                if "-q" not in sub._option_string_actions:
                    _add_common(sub)
                _add_common_to_subcommands(sub)
