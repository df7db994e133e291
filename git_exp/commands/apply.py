"""git exp apply: put an experiment's files and data into the work tree."""
from __future__ import annotations

from git_exp.errors import ExpError, Interrupted
from git_exp.ui.format import plural

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import argparse

    from git_exp.ui.console import Console

DESCRIPTION = """\
Makes the work tree hold the files of experiment NAME (a name, a unique sha
prefix or a full ref) and the data of its cached outputs. HEAD, the current
branch and the index do not move, so `git status` and `git diff` show what
the experiment changed against your commit.

Like `git checkout`, apply leaves alone what the experiment does not know:
untracked and ignored files that are not in the experiment stay as they
are. Tracked files the experiment changes or deletes are replaced or
removed. A local untracked or ignored file that the experiment would
overwrite with different content is refused, naming it; --force goes ahead
and keeps your version of each in the backup.

Nothing you wrote is lost: before anything changes, the work tree - tracked
and untracked files, the ignored files --force overwrites, and the data of
cached outputs - is recorded as a backup under refs/exp-backups/, and apply
prints the one command that brings it back (itself an apply of that backup)
before it writes the first file, and again if it is interrupted. Each file is
written under a temporary name and renamed into place, so after Ctrl-C
(exit 130) every file is either yours or the experiment's, never half of one.

An experiment is untrusted input: apply refuses one whose files or data
paths would leave the work tree, enter .git, or pass through a symlink
(symlinks in the experiment's files are restored as symlinks, as Git does,
but no data is ever written through one).

Data missing from the cache is fetched first from the data remote of the
current branch's upstream (else origin), unless exp.fetch.auto is false;
what is still missing is listed with a hint to pull it.
"""

EXAMPLES = ["git exp apply bold-otter", "git exp apply --force bold-otter",
            "git exp apply refs/exp-backups/20261126-101500-1a2b3c4"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", metavar="NAME", help="the experiment (name, sha prefix or ref)")
    parser.add_argument("-f", "--force", action="store_true",
                        help="overwrite untracked or ignored files the experiment also has "
                             "(the backup keeps them)")


def run(args: argparse.Namespace, console: Console) -> int:
    from git_exp.experiments.apply import apply_commit
    from git_exp.experiments.resolve import resolve
    from git_exp.repo import discover
    repo = discover()
    found = resolve(repo, args.experiment)
    backup: list[str] = []

    def announce(ref: str | None) -> None:
        # Printed before the first write, so even a crash leaves the way back on screen.
        if ref:
            backup.append(ref)
            console.info(f"Your work tree is saved; to restore it: git exp apply {ref}")

    from git_exp.ui.progress import ProgressLine
    progress = ProgressLine(console.stderr, "Fetching data", enabled=False if console.quiet else None)
    try:
        result = apply_commit(repo, found.sha, force=args.force, name=found.name, on_backup=announce,
                              fetch_progress=progress)   # when missing data is fetched first
    except KeyboardInterrupt:
        if backup:   # said by cli.py, exit 130
            raise Interrupted("interrupted: the work tree is partly applied",
                              hint=f"restore it with: git exp apply {backup[0]}") from None
        raise
    finally:
        progress.close()
    from git_exp.commands.fetch import render_auto
    render_auto(result.fetched, console)
    line = (f"Applied '{found.name}' ({found.sha[:7]}): {plural(result.written, 'file')}"
            + (f", {plural(len(result.data), 'data path')}" if result.data else "")
            + (f", removed {plural(len(result.removed), 'file')}" if result.removed else "") + ".")
    if console.quiet and result.backup_ref:   # -q: one line, still naming the backup
        line += f" Backup: {result.backup_ref}"
    console.out(line)
    for path in result.forced:
        console.info(f"Overwrote your untracked {path} (kept in the backup).")
    for path in result.saved_first:
        console.info(f"Saved your version of {path} to the cache first.")
    if result.backup_ref and not console.quiet:
        console.out(f"Your previous work tree is saved; to restore it: git exp apply {result.backup_ref}")
    if result.missing:
        console.warn("data not in the local cache: " + ", ".join(result.missing))
        # Said by cli.py, as every error: the result above is printed first.
        raise ExpError("some data could not be restored", hint="fetch it: git exp pull <remote> <name>")
    return 0
