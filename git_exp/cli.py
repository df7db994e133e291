"""Argument parsing and dispatch; no logic of its own.

The registry of verbs (git_exp/commands/__init__.py) is the one lazy
boundary: `git exp --version` does not even load it, `git exp -h` imports no
command module, and a verb imports only its own module. A verb's module may
define `answer_early(argv, console)`, asked before argparse is imported: a
warm `show` (from its output memo), a plain `run` with nothing changed
(from the no-op memo) and a hook with Git's plain arguments answer there.
Only this file prints errors and picks exit codes.
"""
from __future__ import annotations

import os
import sys

from git_exp import __version__
from git_exp.errors import ExpError, UsageError

TYPE_CHECKING = False   # typing's, without importing typing at start-up (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.ui.console import Console


class GlobalOptions:
    def __init__(self) -> None:
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
                raise UsageError("option '-C' requires a path", hint=_usage())
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
            raise UsageError(f"unknown option '{arg}'", hint=_usage())
        else:
            return opts, argv[i:], None
        i += 1
    return opts, [], None


def _usage() -> str:
    from git_exp.commands import USAGE
    return USAGE


def _console(opts: GlobalOptions) -> Console:
    from git_exp.ui import color
    from git_exp.ui.console import Console

    def color_ui() -> str | None:
        from git_exp.config import Config
        return Config.load().get("color.ui")

    enabled = color.decide(opts.color, sys.stdout, color_ui)
    return Console(color=enabled, quiet=opts.quiet, verbose=opts.verbose, use_pager=opts.pager)


def suggest(verb: str) -> str | None:
    import difflib

    from git_exp.commands import COMMANDS, HIDDEN
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
        # The registry, after --version: that answer loads nothing it does not need.
        from git_exp.commands import COMMANDS, build_parser, overview
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
            # __import__ and sys.modules: importlib.import_module, without importing importlib
            __import__(COMMANDS[verb][0])
            module = sys.modules[COMMANDS[verb][0]]
            _EXIT_WITHOUT_TEARDOWN[:] = [getattr(module, "EXIT_WITHOUT_TEARDOWN", False)]
            # A verb may answer before its arguments are parsed (show, from its
            # output memo): argparse and building the parser cost more than that answer.
            early = getattr(module, "answer_early", None)
            if early is not None:
                status: int | None = early(rest[1:], console)
                if status is not None:
                    return status
            args = build_parser(verb, module).parse_args(rest[1:])
            if getattr(args, "quiet", False):
                console.quiet = True
            if getattr(args, "verbose", False):
                console.verbose = opts.verbose = True
            return module.run(args, console) or 0
    except ExpError as exc:
        for said in (*exc.before, exc):
            (console or _plain_console()).error(said.message, said.hint)
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


# Whether the verb main() ran says it leaves nothing for the interpreter's teardown
# (its module's EXIT_WITHOUT_TEARDOWN); empty before a verb is known.
_EXIT_WITHOUT_TEARDOWN: list[bool] = []


def main_and_exit(argv: list[str] | None = None) -> None:
    """The program: main(), then exit with its status (bin/git-exp, python -m git_exp).

    Tearing the interpreter down (freeing every module and object) costs ~7 ms
    of CPU after a run has imported YAML, SQLite and the runner: a fifth of
    what `run -S` of a trivial stage spends itself. When the verb says nothing
    of its own waits for that teardown, and nothing registered anything that
    does - no atexit callback (weakref.finalize, logging and multiprocessing
    register one), no thread besides this one (threading joins them at exit) -
    the process ends right after flushing stdout and stderr, with the same
    status. Anything else takes the usual sys.exit."""
    status = main(argv)
    if _EXIT_WITHOUT_TEARDOWN == [True] and _nothing_waits_for_teardown():
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            pass        # a closed pipe, say: reported by the usual exit, as before
        else:
            os._exit(status)
    sys.exit(status)


def _nothing_waits_for_teardown() -> bool:
    import atexit   # built in: no file is read
    if atexit._ncallbacks():
        return False
    threading = sys.modules.get("threading")
    return threading is None or (threading.active_count() == 1
                                 and not getattr(threading, "_threading_atexits", None))


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


def _environment_errnos() -> tuple[int, ...]:
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


def _plain_console() -> Console:
    from git_exp.ui.console import Console
    return Console()


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _report_bug(show_traceback: bool, console: Console) -> int:
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
