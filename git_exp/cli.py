"""Argument parsing and dispatch; no logic of its own.

The registry below is the one lazy boundary: `git exp -h` and
`git exp --version` import no command module at all, and a verb imports only
its own module. Only this file prints errors and picks exit codes.
"""
from __future__ import annotations

import importlib
import os
import sys

from git_exp import __version__
from git_exp.errors import ExpError, UsageError

# verb -> (module, one-line summary). Hidden verbs start with an underscore
# in the summary slot's place: they work but are not listed by `-h`.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("git_exp.commands.init", "Create exp.yaml with one stage, or the example project"),
    "run": ("git_exp.commands.run", "Run the pipeline and record the result as an experiment"),
    "repro": ("git_exp.commands.repro", "Run the pipeline in the work tree and update exp.lock, recording no experiment"),
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
    "get": ("git_exp.commands.get", "Download a file or folder, data included, from another git-exp repository"),
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


def _parser_class():
    """argparse, but failing the way Git does: `error:` and exit 129.

    Made on first use: `git exp --version` and the hooks' fast paths never
    parse a verb's options, so they never import argparse."""
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message):  # noqa: D401 - argparse's API
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


class GlobalOptions:
    def __init__(self):
        self.color = "auto"
        self.quiet = False
        self.verbose = False
        self.pager = True


def parse_globals(argv: list[str]) -> tuple[GlobalOptions, list[str], str | None]:
    """Options that come before the verb, as in `git -C dir exp ...`.

    Returns the options, the remaining arguments and an early action
    ('version' or 'help') when one was asked for.
    """
    opts = GlobalOptions()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "-C":
            if i + 1 >= len(argv):
                raise UsageError("option '-C' requires a path", hint=USAGE)
            path = argv[i + 1]
            try:
                os.chdir(path)
            except OSError as exc:
                raise ExpError(f"cannot change to '{path}': {exc.strerror}") from None
            i += 2
            continue
        if arg.startswith("-C") and len(arg) > 2:
            argv = argv[:i] + ["-C", arg[2:]] + argv[i + 1:]
            continue
        if arg == "--color":
            opts.color = "always"
        elif arg.startswith("--color="):
            opts.color = arg.split("=", 1)[1]
            if opts.color not in ("auto", "always", "never"):
                raise UsageError(f"invalid --color value '{opts.color}'",
                                 hint="use --color=auto, --color=always or --color=never")
        elif arg == "--no-color":
            opts.color = "never"
        elif arg in ("-q", "--quiet"):
            opts.quiet = True
        elif arg in ("-v", "--verbose"):
            opts.verbose = True
        elif arg in ("-P", "--no-pager"):
            opts.pager = False
        elif arg == "--version":
            return opts, argv[i + 1:], "version"
        elif arg in ("-h", "--help"):
            return opts, argv[i + 1:], "help" if arg == "--help" else "overview"
        elif arg.startswith("-"):
            raise UsageError(f"unknown option '{arg}'", hint=USAGE)
        else:
            return opts, argv[i:], None
        i += 1
    return opts, [], None


def build_parser(verb: str, module):
    import argparse
    parser = _parser_class()(prog=f"git exp {verb}", description=COMMANDS[verb][1],
                    formatter_class=argparse.RawDescriptionHelpFormatter, add_help=False)
    parser.add_argument("-h", action="help", help="show this help and exit")
    _add_common(parser)
    module.configure(parser)
    _add_common_to_subcommands(parser)
    return parser


def _add_common(parser) -> None:
    import argparse
    parser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="print only results and errors")
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="say more; show tracebacks of internal errors")


def _add_common_to_subcommands(parser) -> None:
    """-q and -v after a sub-command too (`plots diff -q`, `queue start -q`), as
    help shows them; SUPPRESS keeps one given before it from being reset."""
    import argparse
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                if "-q" not in sub._option_string_actions:
                    _add_common(sub)
                _add_common_to_subcommands(sub)


def _console(opts: GlobalOptions):
    from git_exp.ui import color
    from git_exp.ui.console import Console

    def color_ui():
        from git_exp.config import Config
        return Config.load().get("color.ui")

    enabled = color.decide(opts.color, sys.stdout, color_ui)
    return Console(color=enabled, quiet=opts.quiet, verbose=opts.verbose, use_pager=opts.pager)


def suggest(verb: str) -> str | None:
    import difflib
    close = difflib.get_close_matches(verb, [v for v in COMMANDS if v not in HIDDEN], n=1)
    return close[0] if close else None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    opts = GlobalOptions()
    console = None
    try:
        opts, rest, action = parse_globals(argv)
        if action == "version":
            sys.stdout.write(f"git-exp version {__version__}\n")
            return 0
        if action == "overview" or (action is None and not rest):
            sys.stdout.write(overview() + "\n")
            return 0 if action else 1
        if action == "help":
            rest = ["help", *rest]
        from git_exp.config import read_once
        with read_once():  # the color decision and the command share one config read
            console = _console(opts)
            verb = rest[0]
            if verb not in COMMANDS:
                guess = suggest(verb)
                raise ExpError(f"'{verb}' is not a git exp command. See 'git exp -h'.",
                               hint=f"the most similar command is '{guess}'" if guess else None)
            if verb not in _RAW_ARGS:
                _refuse_undecodable(rest[1:])
            own_args = rest[1:rest.index("--")] if "--" in rest else rest[1:]
            if "--help" in own_args:  # Git's convention: --help opens the manual
                from git_exp.commands.help import show_manual
                return show_manual(verb, console)
            module = importlib.import_module(COMMANDS[verb][0])
            args = build_parser(verb, module).parse_args(rest[1:])
            if getattr(args, "quiet", False):
                console.quiet = True
            if getattr(args, "verbose", False):
                console.verbose = opts.verbose = True
            return module.run(args, console) or 0
    except ExpError as exc:
        (console or _plain_console()).error(exc.message, exc.hint)
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return 130
    except BrokenPipeError:
        # The reader went away (`git exp show | head`): quietly, as Git does.
        _silence_stdout()
        return 141
    except OSError as exc:
        if exc.errno not in _ENVIRONMENT_ERRNOS:
            return _report_bug(opts.verbose or bool(os.environ.get("GIT_EXP_DEBUG")),
                               console or _plain_console())
        message, hint = _environment_error(exc)
        (console or _plain_console()).error(message, hint)
        return 1
    except SystemExit as exc:  # argparse's -h
        return exc.code if isinstance(exc.code, int) else 0
    except Exception:  # noqa: BLE001 - anything else is a bug in git-exp
        return _report_bug(opts.verbose or bool(os.environ.get("GIT_EXP_DEBUG")),
                           console or _plain_console())


# Verbs whose arguments come from Git itself (paths, refs), not from a user.
_RAW_ARGS = ("hook",)


def _refuse_undecodable(args: list[str]) -> None:
    """A usage error for an argument that is not UTF-8 (Python hands such bytes
    over as lone surrogates, which nothing further on can encode)."""
    for index, arg in enumerate(args, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise UsageError(f"argument {index} is not valid UTF-8: '{shown}'",
                             hint="names, paths and values are taken as UTF-8 text; "
                                  "check the shell's locale or retype the argument") from None


def _environment_errnos() -> tuple:
    import errno
    return tuple(getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM")
                 if hasattr(errno, name))


# Failures of the machine, not of git-exp: a full disk, a read-only or
# forbidden folder. They deserve a clear `error:` naming the path, not exit 3.
_ENVIRONMENT_ERRNOS = _environment_errnos()


def _environment_error(exc: OSError) -> tuple[str, str]:
    import errno
    path = exc.filename
    verb = "write" if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1), errno.EROFS) \
        else "access"
    what = f"cannot {verb} '{path}'" if path is not None else f"cannot {verb} a file"
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        hint = "free some space on that file system (or raise the quota), then run the command again"
    elif exc.errno == errno.EROFS:
        hint = "that file system is mounted read-only; remount it read-write or work in a writable clone"
    else:
        hint = "check the permissions of that path (and of the .git/exp folder), then run the command again"
    return f"{what}: {exc.strerror}", hint


def _plain_console():
    from git_exp.ui.console import Console
    return Console()


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _report_bug(show_traceback: bool, console) -> int:
    """Exit 3 with one line; the traceback goes to a log (and the screen with -v)."""
    import traceback

    from git_exp import crashlog
    text = traceback.format_exc()
    exp_dir = None
    try:
        from git_exp.repo import discover
        exp_dir = discover().exp_dir
    except Exception:  # noqa: BLE001 - no repository: the temp dir only
        pass
    path, note = crashlog.write(text, exp_dir)
    if show_traceback:
        sys.stderr.write(text)
    where = f"; the traceback is in {path}" if path else "; no log could be written"
    if path and note:
        where += f" ({note})"
    console.error(f"internal error in git-exp (a bug){where}",
                  hint="run again with -v to see it, and report it with that file" if path
                  else "run again with -v to see the traceback, and report it")
    return 3
