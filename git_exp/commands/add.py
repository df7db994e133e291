"""git exp add: track data with a pointer file instead of Git."""
from __future__ import annotations

from git_exp.ui.format import plural

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import argparse

    from git_exp.data.hashing import HashInfo
    from git_exp.ui.console import Console

DESCRIPTION = """\
Stores the content of each PATH (a file or a folder) in the cache under
.git/exp/cache, writes a small pointer file PATH.exp next to it (the content's
hash, size and file count) and adds PATH to the .gitignore in its folder.
Commit the pointer and the .gitignore: the data itself never enters Git's
objects, and `git exp checkout` (or the post-checkout hook) puts it back
from the cache.

Adding a path again after its content changed stores the new content and
updates the pointer; with the hooks installed (git exp install), `git commit`
does this for you. A folder is stored as a manifest of its files' hashes, so
files shared between versions or folders are stored once.

Refused: paths outside the work tree or inside .git, symlinks (add what they
point to), paths Git already tracks (stop tracking them first with
`git rm -r --cached PATH`), outputs of a stage in exp.yaml (exp.lock tracks
those) and paths inside or around another tracked data path.
"""

EXAMPLES = ["git exp add data/raw", "git exp add models/base.pt data/images",
            "git add data/raw.exp data/.gitignore && git commit -m 'Track the raw data'"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to track")


def describe(info: HashInfo) -> str:
    from git_exp.ui.format import format_size as human_size
    # A folder's HashInfo always has its file count (hashing.py checks it).
    files = f"{plural(info.nfiles, 'file')}, " if info.nfiles is not None else ""
    return f"{files}{human_size(info.size)}"


def run(args: argparse.Namespace, console: Console) -> int:
    import os

    from git_exp.worktree.add import add
    from git_exp.repo import discover
    from git_exp.ui.progress import ProgressLine, progress_delay
    progress = ProgressLine(console.stderr, "Adding data", enabled=False if console.quiet else None,
                            delay=progress_delay())
    try:
        added = add(discover(), args.paths, os.getcwd(), progress)
    finally:
        progress.close()
    to_stage: list[str] = []
    for item in added:
        if item.pointer_changed:
            console.detail(f"Added {item.path} ({describe(item.info)}) -> {item.pointer}")
            to_stage.append(item.pointer)
        else:
            console.detail(f"Unchanged {item.path} ({describe(item.info)}): {item.pointer} is up to date")
        if item.gitignore:
            to_stage.append(item.gitignore)
    to_stage = list(dict.fromkeys(to_stage))
    if console.quiet:
        changed = sum(1 for item in added if item.pointer_changed)
        console.out(f"Added {plural(changed, 'path')}"
                    + (f", {len(added) - changed} unchanged." if changed < len(added) else "."))
    if len(to_stage) > 10:
        console.info(f"To record this in Git: git add the {len(to_stage)} pointer and .gitignore files "
                     "listed by 'git status'")
    elif to_stage:
        console.info("To record this in Git: git add " + " ".join(to_stage))
    return 0
