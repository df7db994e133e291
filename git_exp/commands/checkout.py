"""git exp checkout: put the recorded data into the work tree."""
from __future__ import annotations

from git_exp.errors import ExpError, raise_all

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import argparse

    from typing import Iterable

    from git_exp.ui.console import Console
    from git_exp.worktree.sync import SyncResult

DESCRIPTION = """\
Makes every tracked data path - each pointer file's PATH and each cached out
in exp.lock - hold the content its record names, taking it from the cache
(as a reflink or a copy, or as exp.cache.type says). With PATHs, only those
data paths (or the ones inside those folders) are checked out.

Your bytes are never replaced without a way back. Content that a commit
records (HEAD, a branch, an experiment, a backup) and that the cache holds
is replaced or removed freely: checking that record out brings it back.
Anything else is your own work - an edited file, a file you added inside a
tracked folder or an output directory, data that nothing records - and
checkout refuses: it names each such path, says what differs and changes
nothing at all. Then either keep your version (git exp add PATH records
it; a stage's outputs are recorded by git exp run) or take the recorded one
with --force: your version is first saved in the cache and named by a
backup commit under refs/exp-backups/checkout-..., which gc keeps, and the
command that restores it is printed (git exp apply REF).

Data paths that an earlier checkout put into the work tree but that nothing
records any more (the branch you switched to does not have them) are
removed, as Git removes the files a branch does not track - under the same
rule.

Objects missing from the cache are fetched first from the data remote of
the current branch's upstream (else origin), unless exp.fetch.auto is false
(see git-exp-fetch(1)); those still missing are listed. A
cache object whose size or content does not match its hash is never copied
out. A record whose path would leave the work tree, enter .git or pass
through a symlink is refused.

--relink puts every file back with the configured link type even when its
content is right, for example after changing exp.cache.type.
"""

EXAMPLES = ["git exp checkout", "git exp checkout data/raw", "git exp checkout --force models/model.pt",
            "git exp checkout --relink"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", help="only these data paths (default: all)")
    parser.add_argument("-f", "--force", action="store_true",
                        help="replace or remove your own edits too, after saving them under a backup ref")
    parser.add_argument("--relink", action="store_true",
                        help="re-create every file from the cache with the configured link type")


def _quote(paths: Iterable[str]) -> str:
    import shlex
    return " ".join(shlex.quote(p) for p in paths)


def _edits(result: SyncResult, console: Console, hook: bool) -> None:
    """What was left alone (hook) and how to resolve it."""
    for edit in result.edited:
        if edit.removal:
            console.warn(f"left {edit.path} in place: nothing records it at the new HEAD, and it is "
                         f"your own ({edit.why})")
        else:
            console.warn(f"left your version of {edit.path} in place instead of its new record: {edit.why}")
    replace = [e.path for e in result.edited if not e.removal]
    remove = [e.path for e in result.edited if e.removal]
    hints = []
    if replace:
        hints.append(f"take the recorded version, keeping yours in a backup: git exp checkout --force "
                     f"{_quote(replace)}")
    if remove:
        hints.append("remove what nothing records, keeping it in a backup: git exp checkout --force")
    hints.append(f"or keep yours and record it: git exp add {_quote(replace + remove)} "
                 "(for a stage's outputs: git exp run)")
    for line in hints:
        console.info("hint: " + line)


def render(result: SyncResult, console: Console, hook: bool = False) -> int:
    """Print what a sync did; raise what failed (missing data fails only outside hooks)
    for cli.py to say, as every error."""
    if result.refused:
        lines = [f"    {e.path}: {'nothing records it' if e.removal else 'edited'} ({e.why})"
                 for e in result.edited]
        only = "" if any(e.removal for e in result.edited) else " " + _quote(e.path for e in result.edited)
        raise ExpError("your own data would be lost by this checkout; nothing was changed:\n" + "\n".join(lines),
                       hint=f"replace it anyway, keeping your version under a backup ref: git exp checkout "
                            f"--force{only}\nor keep yours and record it: git exp add "
                            f"{_quote(e.path for e in result.edited)} (a stage's outputs: git exp run)")
    if result.backup_ref:
        console.out(f"Saved your version of {', '.join(result.backed_up)} under {result.backup_ref}; "
                    f"to restore it: git exp apply {result.backup_ref}")
    for path in result.saved_first:
        console.detail(f"Saved your version of {path} to the cache first.")
    for path in result.removed:
        console.detail(f"Removed {path}: nothing records it any more.")
    for path in result.checked_out:
        console.detail(f"Checked out {path}.")
    if console.quiet and (result.checked_out or result.removed):
        console.out(f"Checked out {len(result.checked_out)}, removed {len(result.removed)} "
                    f"data path(s)" + (f"; {len(result.saved_first)} of yours saved to the cache first."
                                       if result.saved_first else "."))
    if result.fetched is not None:
        from git_exp.commands.fetch import render_auto
        render_auto(result.fetched, console, hook)
    if hook and result.edited:
        _edits(result, console, hook)
    errors: list[ExpError] = []
    if result.missing:
        total = len({h for hashes in result.missing.values() for h in hashes})
        for path, hashes in sorted(result.missing.items()):
            console.warn(f"{path}: {len(hashes)} object(s) missing from the cache, not checked out")
        message = f"{total} object(s) of {len(result.missing)} data path(s) are not in the cache"
        hint = "fetch them with 'git exp fetch [<remote>]', then run 'git exp checkout'"
        if result.fetched is not None and result.fetched.error is None and result.fetched.missing_count:
            # Fetching was just tried: the data remote lacks them too.
            hint = ("the data remote lacks them too: upload them from the clone that has them (its "
                    "pre-push hook sends the data of the commits it pushes), or pair the data remote "
                    "that has them: git exp remote -v")
        if hook:
            console.warn(message + "; " + hint)
        else:
            errors.append(ExpError(message, hint=hint))
    errors += [ExpError(f"{path}: {message}") for path, message in sorted(result.errors.items())]
    raise_all(errors)
    if not hook and result.nothing_done and not result.saved_first:
        console.info("Data is up to date.")
    return 0


def run(args: argparse.Namespace, console: Console) -> int:
    import os

    from git_exp.worktree.sync import checkout
    from git_exp.repo import discover
    from git_exp.ui.progress import ProgressLine, progress_delay
    enabled = False if console.quiet else None
    progress = ProgressLine(console.stderr, "Fetching data", enabled=enabled)
    writing = ProgressLine(console.stderr, "Checking out data", enabled=enabled, delay=progress_delay())
    try:
        # A line that is never drawn (no terminal, -q) is not called per file written.
        result = checkout(discover(), args.paths, os.getcwd(), relink=args.relink, force=args.force,
                          progress=writing if writing.enabled else None, fetch_progress=progress)
    finally:
        progress.close()
        writing.close()
    return render(result, console)
