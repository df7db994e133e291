"""`git exp show` answered from its output memo before its arguments are parsed.

cli.py asks a verb's module for `answer_early(argv, console)` before building
its argparse parser; for show, the memo's answer costs less than importing
argparse (with re, gettext, locale) and building the parser. What it read
on the way serves run() (commands/show.py) of the same invocation, as an
EarlyRead (repository, ref listing, request or None) in console.early.
"""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.repo import Repository
    from git_exp.show.refstate import RefState
    from git_exp.ui.console import Console


class EarlyRead:
    """What answer_early read when the memo could not answer: the repository, its
    ref listing and the memo's request (None: run() keys on the parsed options)."""
    __slots__ = ("repo", "listing", "request")

    def __init__(self, repo: Repository, listing: RefState, request: str | None) -> None:
        self.repo = repo
        self.listing = listing
        self.request = request


def answer_early(argv: list[str], console: Console) -> int | None:
    """A warm `show` answered from its output memo before argparse is even
    imported (cli.py asks; argparse and the parser cost a warm show a fifth
    of its time). Keyed on ARGV itself: the options argparse would make of it
    are a function of ARGV and the parser's code, which the memo's key stamps
    (show/outmemo.py). None when the memo cannot answer; what was read on the
    way (the repository, the ref listing) is kept for run()."""
    from git_exp.errors import ExpError
    from git_exp.repo import discover
    from git_exp.show.outmemo import OutputMemo, state_key
    from git_exp.show.refstate import read_state

    try:
        repo = discover()
        listing = read_state(repo)
    except ExpError:
        return None     # the same error again in run(), after argparse had its say
    if _may_set_flags(argv):
        # -q/-v change the console, which only parsing tells: run() keys on the parsed options.
        console.early = EarlyRead(repo, listing, None)
        return None
    from git_exp.commands.show import terminal_width
    request = repr(("argv", argv, console.color, terminal_width(console)))
    # No --rev (which can name any ref outside the listing) has a text stored; a
    # --hide-workspace seen wrongly here only makes a key no text was stored under.
    workspace = not any(arg.startswith("--hide-w") for arg in argv)
    key = state_key(repo, request, listing, workspace)
    found = OutputMemo(repo.exp_dir, request, repo.root).get(key) if key is not None else None
    if found is None:
        console.early = EarlyRead(repo, listing, request)
        return None
    from git_exp.commands.show import warn_problems
    text, warnings, status = found
    warn_problems(warnings, console)
    console.page(text)
    return status


def _may_set_flags(argv: list[str]) -> bool:
    """Whether ARGV may hold -q or -v (alone, abbreviated, or among short options)."""
    for arg in argv:
        if arg.startswith("--"):
            name = arg[2:].split("=", 1)[0]
            if "quiet".startswith(name) or "verbose".startswith(name):
                return True
        elif arg.startswith("-") and ("q" in arg or "v" in arg):
            return True
    return False
