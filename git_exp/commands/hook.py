"""git exp hook: what the installed Git hooks run (hidden from the command list)."""
from __future__ import annotations

import sys

from git_exp.errors import ExpError, raise_all

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import argparse

    from git_exp.repo import Repository
    from git_exp.ui.console import Console
    from git_exp.worktree.sync import SyncResult

DESCRIPTION = """\
The logic of the hooks that `git exp install` puts in place; Git runs it
through them, with the arguments and input Git gives each hook. It is a
documented command so that what a hook does can be read and tried by hand.

post-checkout OLD NEW FLAG: when FLAG is 1 (a branch checkout, not a file
checkout) and no rebase is in progress, checks out the data recorded by the
new work tree from the cache: data paths whose record changed since OLD, or
that are absent, are checked out; a path whose record did not change keeps
its content, local edits included, as Git keeps edits to tracked files;
data recorded at OLD and not any more is removed.

Only content equal to what OLD recorded is ever replaced or removed. Data
that differs from its OLD record - an edited file, a file added inside a
tracked folder or output directory - is left in place, as Git carries local
edits across a checkout, and the hook names each such path and how to
resolve it: git exp checkout --force PATH takes the new version (yours is
kept under a backup ref), git exp add PATH records yours. Objects the cache
lacks are fetched first from the data remote of the current branch's
upstream (else origin) unless exp.fetch.auto is false; those still missing
are named, and a data remote that cannot be reached is a warning with a
hint: the hook still succeeds.

post-merge SQUASH: the same after a merge or pull, against ORIG_HEAD.

pre-commit: for each staged pointer whose data was modified in the work
tree, stores the new content in the cache, rewrites the pointer and stages
it, printing one line per path, so the commit records the data that is
really there. With exp.hooks.autoAdd=false it refuses the commit instead.

pre-push REMOTE URL: reads `<local ref> <local sha> <remote ref> <remote sha>`
lines on stdin and uploads the data the pushed commits need to the data
remote of REMOTE.

A hook with nothing to do returns at once: no data, no work.
"""

EXAMPLES = ["git exp hook post-checkout $(git rev-parse HEAD@{1}) $(git rev-parse HEAD) 1",
            "git exp hook pre-commit"]

HOOK_NAMES = ("pre-commit", "post-checkout", "post-merge", "pre-push")
_ARITY = {"pre-commit": 0, "post-checkout": 3, "post-merge": 1, "pre-push": 2}
_USAGE = {"pre-commit": "pre-commit", "post-checkout": "post-checkout OLD NEW FLAG",
          "post-merge": "post-merge SQUASH", "pre-push": "pre-push REMOTE URL"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=HOOK_NAMES, metavar="HOOK",
                        help="the hook Git is running: " + ", ".join(HOOK_NAMES))
    parser.add_argument("hook_args", nargs="*", metavar="ARG", help="the arguments Git gave the hook")


class _Given:
    """The options argparse makes of plain hook arguments (see answer_early)."""

    def __init__(self, name: str, hook_args: list[str]) -> None:
        self.name = name
        self.hook_args = hook_args


def answer_early(argv: list[str], console: Console) -> int | None:
    """Run the hook without argparse (gettext, locale and building the parser:
    2-3 ms of every commit and checkout) when its arguments are plain: Git
    passes a hook name and shas, flags, a remote and its URL, none starting
    with `-`. For such an ARGV the parser above yields exactly NAME and
    HOOK_ARGS; anything else (an option, -h, an unknown hook) goes through
    argparse as before (cli.py)."""
    if not argv or argv[0] not in HOOK_NAMES or any(arg.startswith("-") for arg in argv):
        return None
    return run(_Given(argv[0], argv[1:]), console)


def _is_sha(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def _check(name: str, argv: list[str]) -> None:
    from git_exp.errors import UsageError
    bad = None
    if len(argv) != _ARITY[name]:
        from git_exp.ui.format import plural
        bad = f"the {name} hook takes {plural(_ARITY[name], 'argument')}, got {len(argv)}"
    elif name == "post-checkout" and not (_is_sha(argv[0]) and _is_sha(argv[1]) and argv[2] in ("0", "1")):
        bad = "post-checkout needs OLD and NEW commit ids and FLAG 0 or 1"
    elif name == "post-merge" and argv[0] not in ("0", "1"):
        bad = "post-merge needs SQUASH 0 or 1"
    if bad:
        raise UsageError(bad, hint=f"usage: git exp hook {_USAGE[name]} (Git passes these itself)")


def run(args: argparse.Namespace | _Given, console: Console) -> int:
    _check(args.name, args.hook_args)
    from git_exp.repo import discover
    repo = discover()
    if args.name == "post-checkout":
        old, _new, flag = args.hook_args
        return _post_checkout(repo, old, flag, console)
    if args.name == "post-merge":
        return _post_merge(repo, console)
    if args.name == "pre-commit":
        return _pre_commit(repo, console)
    return _pre_push(repo, args.hook_args[0], args.hook_args[1], console)


def _post_checkout(repo: Repository, old: str, flag: str, console: Console) -> int:
    from git_exp.hooks import rebase_in_progress
    if flag != "1" or rebase_in_progress(repo):
        return 0  # a file checkout, or one step of a rebase: not a change of branch
    from git_exp.commands.checkout import render
    return render(_sync(repo, old, console), console, hook=True)


def _post_merge(repo: Repository, console: Console) -> int:
    from git_exp.commands.checkout import render
    from git_exp.git import git
    proc = git(["rev-parse", "-q", "--verify", "ORIG_HEAD^{commit}"], cwd=repo.root, check=False)
    old = proc.stdout.decode().strip() if proc.returncode == 0 else None
    return render(_sync(repo, old, console), console, hook=True)


def _sync(repo: Repository, old: str | None, console: Console) -> SyncResult:
    """sync_after_head_change, with a progress line on a terminal if missing data is fetched."""
    from git_exp.worktree.sync import sync_after_head_change
    from git_exp.ui.progress import ProgressLine
    progress = ProgressLine(console.stderr, "git-exp: fetching data",
                            enabled=False if console.quiet else None)
    try:
        return sync_after_head_change(repo, old, fetch_progress=progress)
    finally:
        progress.close()


def _pre_commit(repo: Repository, console: Console) -> int:
    from git_exp.worktree.precommit import modified_since_pointer
    from git_exp.ui.format import format_size
    found = modified_since_pointer(repo)
    updates = found.updates
    if found.stored:
        for u in updates:
            console.out(f"git-exp: {u.path} changed ({format_size(u.new.size)}): stored it in the cache "
                        f"and staged {u.pointer}")
        if found.only_pointers:
            console.out("git-exp: if Git now says 'nothing to commit', run the same commit again: Git "
                        "looks for changes before this hook runs, and the pointer is ready now")
        return 0
    if not updates:
        return 0
    raise_all([ExpError(f"{u.path} was modified since {u.pointer} recorded it") for u in updates] + [
        ExpError("refusing to commit pointers that do not match their data (exp.hooks.autoAdd is false)",
                 hint="store the data and update the pointers: git exp add "
                      + " ".join(u.path for u in updates) + "\nor put the recorded data back: git exp checkout")])
    return 1


def _pre_push(repo: Repository, remote_name: str, remote_url: str, console: Console) -> int:
    """Upload the data first; an error (printed by cli.py, exit 1) stops Git's push."""
    lines = sys.stdin.read().splitlines()
    from git_exp.errors import ExpError
    from git_exp.sharing.prepush import pre_push
    from git_exp.ui.progress import ProgressLine
    progress = ProgressLine(console.stderr, "git-exp: sending data",
                            enabled=False if console.quiet else None)
    try:
        sent = pre_push(repo, remote_name, remote_url, lines, progress)
    except ExpError as err:
        raise ExpError(f"pre-push: {err.message}", hint=err.hint) from None
    finally:
        progress.close()
    if sent is not None and sent.sent.objects:
        from git_exp.ui.format import format_size
        console.info(f"git-exp: sent {sent.sent.objects} data object(s) "
                     f"({format_size(sent.sent.bytes)}) to {sent.location}")
    return 0
