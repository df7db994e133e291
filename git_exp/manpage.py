"""Render the manual pages in man/ from the commands themselves.

Each page is built from the command's parser (synopsis and options), its
DESCRIPTION and EXAMPLES, so `-h`, `git exp help VERB` and `man git-exp-VERB`
cannot drift apart. `python -m git_exp.manpage` rewrites man/; a test fails
when the committed pages differ from what this renders.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from git_exp import __version__

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Callable, Iterator

MAIN_DESCRIPTION = """\
git-exp versions machine-learning experiments inside Git. A pipeline declared
in exp.yaml runs with `git exp run`; every run is recorded as a real Git commit
under refs/exps/, never on your branch, so HEAD and the index do not move and
the results stay in the work tree. Large data and models live in a
content-addressed cache inside the Git directory, kept in step with the work
tree by Git hooks.

Git runs `git exp` as the program git-exp found on PATH. `git exp --help` and
`git help exp` open this page; `git exp COMMAND --help` and
`git help exp-COMMAND` open the page of one command.
"""

GLOBAL_OPTIONS = [
    ("-C <path>", "Run as if git-exp was started in <path>."),
    ("--color[=<when>]", "Color output: auto (the default: only on a terminal, "
     "never with NO_COLOR set or TERM=dumb, and as `color.ui` says), always or never."),
    ("--no-color", "The same as --color=never."),
    ("-P, --no-pager", "Do not pipe long output into the pager."),
    ("-q, --quiet", "Print only results and errors: a command that acts (run, repro, save, "
     "add, checkout, apply, push, pull, install, queue ...) prints one line or none; listings "
     "(show, list, status, dag ...) print their result. Also accepted after the command and "
     "its sub-command (`git exp queue start -q`)."),
    ("-v, --verbose", "Say more; print the traceback of an internal error."),
    ("--version", "Print the version of git-exp."),
    ("-h", "List the commands with a one-line summary each."),
]

EXIT_STATUS = """\
0 on success; 1 when the command failed for an expected reason (its message
starts with `error:` and is often followed by a `hint:`); 128 outside a Git
repository; 129 on a usage error; 130 when interrupted; 141 when the reader of
its output went away; 3 on an internal error, whose traceback is written to a
log file under the Git directory (exp/logs/), or in the temporary directory
when that one cannot be written (the message names the file). A full disk or
a read-only or forbidden folder is no internal error: it exits 1 with an
`error:` naming the path. Commands that handle many experiments (pull -A,
push -A, show -A, plots) go on past one that cannot be handled, report it,
and exit 1 at the end.
"""

CONFIGURATION = """\
Settings are read from Git config (any scope: git config [--global] KEY
VALUE) and, with lower precedence, from a committed .expconfig file in Git's
config syntax, for what a team shares.

exp.maxCommitFileSize: the largest file a run may put into its experiment
commit (bytes, or with k, m, g); default 10m. See git-exp-run(1).

exp.cache.type: link types tried in order to place cached data in the work
tree: reflink, hardlink, symlink, copy; default reflink,copy. See
git-exp-checkout(1).

exp.hooks.autoAdd: whether the pre-commit hook stores modified data and
stages its pointer (true, the default) or refuses the commit. See
git-exp-install(1).

exp.gc.pruneExpire: how long git exp gc keeps a cache object that nothing
references, since someone may be about to record it (a queue worker, an
apply): a Git date such as 2.weeks.ago (the default), 3.days.ago,
2026-01-31, now or never, as for gc.pruneExpire. Objects written by a run
still in progress are kept whatever it says. See git-exp-gc(1).

exp.backups.expire: how long backups (refs/exp-backups/, written by apply
and checkout --force) are kept: git exp gc deletes the refs of backups
written before this Git date (default 30.days.ago; never keeps them, now
deletes them all), and their data is then freed like any unreferenced data.
git exp list --backups shows them. See git-exp-gc(1).

remote.NAME.expdata, exp.remote: the data remote paired with Git remote
NAME, or the default one. See git-exp-push(1).

exp.fetch.auto: whether checkout, the post-checkout and post-merge hooks and
apply fetch the data the cache lacks from the data remote of the current
branch's upstream (else origin), as Git LFS does (true, the default), or
only report it missing. See git-exp-fetch(1); git exp remote shows which
data remote each Git remote uses.

color.ui: as for Git; --color overrides it.
"""

LIMITS = """\
Params, metrics, plots data, exp.yaml and exp.lock may come from someone
else's experiment (git exp pull), so they are read with fixed limits: a file
larger than 64 MiB, data nested more than 100 mappings or lists deep, and
YAML whose anchors and aliases would expand to more than 100,000 extra values
(a "billion laughs") or refer to themselves are refused with an error naming
the file, line and column. Ordinary anchors and merge keys (<<: *defaults)
are unaffected. In show, params diff, metrics and plots such a file is one
warning for the experiment that holds it, and the others are still shown; in
run and save, a file of the work tree that breaks a limit is an error.
"""

ENVIRONMENT = """\
GIT_EXP_DEBUG=1 prints tracebacks of internal errors, like -v.
NO_COLOR, when set to anything, turns color off unless --color=always is given.
GIT_PAGER and PAGER choose the pager, as for Git.
GIT_PROGRESS_DELAY, as for Git: seconds before add, checkout, fsck and gc
draw a progress line on a terminal (default 1; 0 draws it at once).
"""


def _esc(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-")
    lines = []
    for line in text.splitlines():
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def _paragraphs(text: str) -> str:
    # Strip newlines only: a block's leading spaces mark it as preformatted.
    blocks = [b.strip("\n").rstrip() for b in text.strip("\n").split("\n\n") if b.strip()]
    out = []
    for block in blocks:
        if all(line.startswith("  ") for line in block.splitlines()[1:]) and block.startswith("  "):
            out.append(".PP\n.nf\n" + _esc("\n".join(l[2:] for l in block.splitlines())) + "\n.fi")
        else:
            out.append(".PP\n" + _esc(" ".join(block.split())))
    return "\n".join(out)


def _header(name: str, summary: str) -> str:
    return (f'.TH "{name.upper()}" "1" "" "git-exp {__version__}" "git-exp manual"\n'
            f".SH NAME\n{_esc(name)} \\- {_esc(summary)}\n")


def _option_label(action: argparse.Action) -> str:
    if not action.option_strings:
        metavar = action.metavar
        return metavar if isinstance(metavar, str) else action.dest.upper()
    label = ", ".join(action.option_strings)
    if action.nargs != 0:
        metavar = action.metavar or action.dest.upper()
        if isinstance(metavar, tuple):
            metavar = " ".join(metavar)
        label += f" {metavar}"
    return label


def _actions_section(parser: argparse.ArgumentParser) -> list[str]:
    out = []
    for action in parser._actions:  # argparse has no public iterator
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
            continue
        out.append(f".TP\n\\fB{_esc(_option_label(action))}\\fR\n{_esc(action.help or '')}")
    return out


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str | None, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, helps.get(name, ""), sub


def command_page(verb: str) -> str:
    from git_exp.commands import COMMANDS, build_parser
    module_name, summary = COMMANDS[verb]
    module = importlib.import_module(module_name)
    parser = build_parser(verb, module)
    parts = [_header(f"git-exp-{verb}", summary)]
    parts.append(".SH SYNOPSIS\n.nf\n" + _esc(parser.format_usage().replace("usage: ", "").strip()) + "\n.fi")
    subs = list(_subcommands(parser))
    for _name, _, sub in subs:
        parts.append(".nf\n" + _esc(sub.format_usage().replace("usage: ", "").strip()) + "\n.fi")
    parts.append(".SH DESCRIPTION\n" + _paragraphs(getattr(module, "DESCRIPTION", summary)))
    options = _actions_section(parser)
    if options:
        parts.append(".SH OPTIONS\n" + "\n".join(options))
    for name, help_text, sub in subs:
        parts.append(f".SS {_esc(verb + ' ' + name)}\n{_esc(help_text or '')}\n"
                     + "\n".join(_actions_section(sub)))
    for title, text in getattr(module, "SECTIONS", []):
        parts.append(f".SH {title.upper()}\n" + _paragraphs(text))
    examples = getattr(module, "EXAMPLES", [])
    if examples:
        parts.append(".SH EXAMPLES\n" + "\n".join(f".PP\n.nf\n{_esc(e)}\n.fi" for e in examples))
    parts.append(".SH SEE ALSO\n\\fBgit-exp\\fR(1)")
    return "\n".join(parts) + "\n"


def main_page() -> str:
    from git_exp.commands import COMMANDS, HIDDEN, USAGE
    parts = [_header("git-exp", "version machine-learning experiments as Git commits")]
    parts.append(".SH SYNOPSIS\n.nf\n" + _esc(USAGE.replace("usage: ", "")) + "\n.fi")
    parts.append(".SH DESCRIPTION\n" + _paragraphs(MAIN_DESCRIPTION))
    parts.append(".SH OPTIONS\n" + "\n".join(f".TP\n\\fB{_esc(o)}\\fR\n{_esc(h)}" for o, h in GLOBAL_OPTIONS))
    commands = [f".TP\n\\fBgit exp {_esc(v)}\\fR\n{_esc(s)}. See \\fBgit-exp-{_esc(v)}\\fR(1)."
                for v, (_, s) in COMMANDS.items() if v not in HIDDEN]
    parts.append(".SH COMMANDS\n" + "\n".join(commands))
    parts.append(".SH CONFIGURATION\n" + _paragraphs(CONFIGURATION))
    parts.append(".SH LIMITS\n" + _paragraphs(LIMITS))
    parts.append(".SH EXIT STATUS\n" + _paragraphs(EXIT_STATUS))
    parts.append(".SH ENVIRONMENT\n.nf\n" + _esc(ENVIRONMENT.strip()) + "\n.fi")
    see = ", ".join([f"\\fBgit-exp-{_esc(v)}\\fR(1)" for v in COMMANDS]
                    + [f"\\fBgitexp-{_esc(g)}\\fR(7)" for g in GUIDES])
    parts.append(".SH SEE ALSO\n\\fBgit\\fR(1), " + see)
    return "\n".join(parts) + "\n"


# Guides: pages about something other than one command, in section 7 as
# Git's own (gitcli(7)). `git exp help NAME` and `git help exp-NAME` open them.
GUIDES = {"api": "git_exp.api", "pipeline": "git_exp.pipeline.guide"}


def _signature(function: Callable[..., object]) -> str:
    """NAME(arg=default, ...) -> RETURN, annotations as written in the source."""
    import inspect
    sig = inspect.signature(function)
    args = []
    for param in sig.parameters.values():
        text = param.name
        if param.annotation is not inspect.Parameter.empty:
            text += f": {param.annotation}"
        if param.default is not inspect.Parameter.empty:
            text += f" = {param.default!r}"
        args.append(text)
    ret = sig.return_annotation
    tail = "" if ret is inspect.Signature.empty else f" -> {ret}"
    return f"{function.__name__}({', '.join(args)}){tail}"


def _doc(thing: object) -> str:
    """THING's own docstring (never one inherited from object), cleaned."""
    import inspect
    return inspect.cleandoc(thing.__doc__) if thing.__doc__ else ""


def _method_signature(cls: type, name: str, function: Callable[..., object]) -> str:
    """Live(dir: str = 'live') for __init__, Live.log_metric(name, value) for a method."""
    text = _signature(function)
    args = text[text.index("(") + 1:]
    args = args[len("self, "):] if args.startswith("self, ") else args[len("self"):]
    return (cls.__name__ if name == "__init__" else f"{cls.__name__}.{name}") + "(" + args


def guide_blocks(name: str) -> tuple[str, list]:
    """(summary, [(title, text or [(signature, doc)])]) of guide NAME, from its module."""
    import inspect
    module = importlib.import_module(GUIDES[name])
    blocks: list = [("Description", module.DESCRIPTION)]
    functions = [getattr(module, n) for n in module.__all__ if inspect.isfunction(getattr(module, n))]
    if functions:   # a text-only guide (pipeline) documents no function
        blocks.append(("Functions", [(_signature(f), _doc(f)) for f in functions]))
    blocks.extend(getattr(module, "SECTIONS", []))
    for extra in getattr(module, "SEE_ALSO_MODULES", []):
        other = importlib.import_module(extra)
        blocks.append((f"{extra}", _doc(other)))
        for cls in [getattr(other, n) for n in other.__all__ if inspect.isclass(getattr(other, n))]:
            methods = [(_method_signature(cls, n, f), _doc(cls if n == "__init__" else f))
                       for n, f in vars(cls).items()
                       if inspect.isfunction(f) and (not n.startswith("_") or n == "__init__")]
            blocks.append((f"{cls.__name__} methods", methods))
    return module.SUMMARY, blocks


def guide_page(name: str) -> str:
    summary, blocks = guide_blocks(name)
    page = f"gitexp-{name}"
    parts = [f'.TH "{page.upper()}" "7" "" "git-exp {__version__}" "git-exp manual"\n'
             f".SH NAME\n{_esc(page)} \\- {_esc(summary)}"]
    for title, body in blocks:
        if isinstance(body, str):
            parts.append(f".SH {_esc(title.upper())}\n" + _paragraphs(body))
            continue
        # Paragraphs after the first stay indented under their signature.
        items = [f".TP\n\\fB{_esc(sig)}\\fR\n"
                 + _paragraphs(doc).replace(".PP\n", "", 1).replace(".PP\n", ".IP\n")
                 for sig, doc in body]
        parts.append(f".SH {_esc(title.upper())}\n" + "\n".join(items))
    see = getattr(importlib.import_module(GUIDES[name]), "SEE_ALSO", ["git-exp(1)", "git-exp-show(1)"])
    parts.append(".SH SEE ALSO\n" + ", ".join(_see_also(s) for s in see))
    return "\n".join(parts) + "\n"


def _see_also(page: str) -> str:
    """'git-exp-run(1)' in roff: the name bold, the section plain."""
    title, _, section = page.partition("(")
    return f"\\fB{title}\\fR({section}"


def guide_text(name: str) -> str:
    """The guide as plain text, for `git exp help NAME` where man is missing."""
    summary, blocks = guide_blocks(name)
    out = [f"gitexp-{name} - {summary}"]
    for title, body in blocks:
        out.append("\n" + title.upper())
        if isinstance(body, str):
            out.append(_indent(body))
        else:
            for sig, doc in body:
                out.append("  " + sig)
                out.append(_indent(doc, "      "))
    return "\n".join(out) + "\n"


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line.strip() else "" for line in text.strip("\n").splitlines())


def render_all() -> dict[str, str]:
    from git_exp.commands import COMMANDS
    pages = {"git-exp.1": main_page()}
    for name in GUIDES:
        pages[f"gitexp-{name}.7"] = guide_page(name)
    for verb in COMMANDS:
        pages[f"git-exp-{verb}.1"] = command_page(verb)
        # `git help exp-VERB` asks man for "gitexp-VERB": Git only adds the
        # dash for names it finds as programs, and git-exp-VERB is not one.
        pages[f"gitexp-{verb}.1"] = f".so man1/git-exp-{verb}.1\n"
    return pages


def write_all(folder: str) -> list[str]:
    pages = render_all()
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith((".1", ".7")) and name not in pages:
            os.unlink(os.path.join(folder, name))
    for name, text in pages.items():
        with open(os.path.join(folder, name), "w") as fh:
            fh.write(text)
    return sorted(pages)


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "man")
    for name in write_all(target):
        print(name)
