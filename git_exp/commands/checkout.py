"""git exp checkout: put the recorded data into the work tree."""
from __future__ import annotations

DESCRIPTION = """\
Makes every tracked data path - each pointer file's PATH and each cached out
in exp.lock - hold the content its record names, taking it from the cache
(as a reflink or a copy, or as exp.cache.type says). With PATHs, only those
data paths (or the ones inside those folders) are checked out.

Nothing you wrote is lost: content that is about to be replaced, and that
the cache does not already hold, is saved to the cache first and named.
Data paths that an earlier checkout put into the work tree but that nothing
records any more (the branch you switched to does not have them) are
removed, once their content is safe in the cache - as Git removes the files
a branch does not track.

Objects missing from the cache are listed with a hint to fetch them. A
cache object whose size or content does not match its hash is never copied
out. A record whose path would leave the work tree, enter .git or pass
through a symlink is refused.

--relink puts every file back with the configured link type even when its
content is right, for example after changing exp.cache.type.
"""

EXAMPLES = ["git exp checkout", "git exp checkout data/raw", "git exp checkout --relink"]


def configure(parser):
    parser.add_argument("paths", nargs="*", metavar="PATH", help="only these data paths (default: all)")
    parser.add_argument("--relink", action="store_true",
                        help="re-create every file from the cache with the configured link type")


def render(result, console, hook: bool = False) -> int:
    """Print what a sync did; the exit code (missing data fails only outside hooks)."""
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
    code = 0
    if result.missing:
        total = len({h for hashes in result.missing.values() for h in hashes})
        for path, hashes in sorted(result.missing.items()):
            console.warn(f"{path}: {len(hashes)} object(s) missing from the cache, not checked out")
        message = f"{total} object(s) of {len(result.missing)} data path(s) are not in the cache"
        hint = "fetch them with 'git exp pull <remote>', then run 'git exp checkout'"
        if hook:
            console.warn(message + "; " + hint)
        else:
            console.error(message, hint=hint)
            code = 1
    for path, message in sorted(result.errors.items()):
        console.error(f"{path}: {message}")
        code = 1
    if not hook and result.nothing_done and not result.saved_first:
        console.info("Data is up to date.")
    return code


def run(args, console) -> int:
    import os

    from git_exp.data.workspace import checkout
    from git_exp.repo import discover
    result = checkout(discover(), args.paths, os.getcwd(), relink=args.relink)
    return render(result, console)
