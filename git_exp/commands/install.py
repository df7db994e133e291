"""git exp install: the Git hooks that keep data and work tree in step."""
from __future__ import annotations

from git_exp.ui.format import plural

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import argparse

    from git_exp.ui.console import Console

DESCRIPTION = """\
Installs four Git hooks into the folder Git runs hooks from (core.hooksPath
if set, else the hooks folder of the repository's common Git dir, also when
run from a linked worktree):

  pre-commit     stores data modified since its pointer and stages the pointer
  post-checkout  checks out the data of the new branch from the cache
  post-merge     checks out the data a merge or pull brought
  pre-push       uploads the data the pushed commits need

Each hook is a few lines of sh that run `git-exp hook NAME` (see
git-exp-hook(1)), so plain `git commit`, `git checkout`, `git merge` and
`git push` keep the data in step. Without git-exp on PATH, post-checkout and
post-merge warn and do nothing, while pre-commit and pre-push stop with one
line saying how to remove the hook.

A hook that is already there and is not git-exp's is never overwritten: it
is renamed to NAME.legacy, and git-exp's hook runs it first with the same
arguments and input; if it fails, the commit or push fails. Running install
again changes nothing (or updates hooks of an older git-exp). --uninstall
removes git-exp's hooks and renames each NAME.legacy back, so your own hooks
return exactly as they were.
"""

EXAMPLES = ["git exp install", "git exp install --uninstall"]

SECTIONS = [("Configuration", """\
exp.hooks.autoAdd: when false, the pre-commit hook refuses to commit data
modified since its pointer (and says which) instead of storing it and
staging the pointer; default true.
""")]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--uninstall", action="store_true",
                        help="remove git-exp's hooks and restore the hooks they replaced")
    parser.add_argument("-f", "--force", action="store_true",
                        help="install even into a hooks folder outside this repository (a shared core.hooksPath)")


def run(args: argparse.Namespace, console: Console) -> int:
    from git_exp.hooks import install, uninstall
    from git_exp.repo import discover
    repo = discover()
    if args.uninstall:
        folder, changes = uninstall(repo)
        for c in changes:
            if c.action == "removed":
                console.detail(f"Removed the {c.name} hook" + (f"; restored your own from {c.name}.legacy."
                                                               if c.legacy else "."))
            elif c.action == "not ours":
                console.info(f"Left {c.name} alone: it is not git-exp's.")
        removed = sum(1 for c in changes if c.action == "removed")
        if not removed:
            console.out(f"No git-exp hooks in {folder}.")
        elif console.quiet:
            console.out(f"Removed {plural(removed, 'git-exp hook')} from {folder}.")
        return 0
    folder, changes = install(repo, force=args.force)
    for c in changes:
        if c.legacy:
            console.detail(f"Installed the {c.name} hook; your own hook is now {c.name}.legacy and still runs first.")
        elif c.action != "unchanged":
            console.detail(f"{c.action.capitalize()} the {c.name} hook.")
    if all(c.action == "unchanged" for c in changes):
        console.out(f"The git-exp hooks are already installed in {folder}.")
    elif console.quiet:
        console.out(f"Installed the git-exp hooks in {folder}.")
    else:
        console.info(f"Hooks folder: {folder}")
    return 0
