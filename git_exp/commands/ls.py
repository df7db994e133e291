"""git exp ls: list the files and data of another git-exp repository."""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import argparse

    from git_exp.ui.console import Console

DESCRIPTION = """\
Lists PATH (by default the top) of the repository at URL, as `dvc list`
does: a folder's entries, or everything below it with -R, Git-tracked files
and the data its pointer files and exp.lock record together. Each line
shows `data` for recorded data, the size (of data always; of a Git-tracked
file when it is known without downloading it) and the path, a folder's
ending in `/`. A data folder is one entry with its size and file count;
listing inside it, or -R, reads its manifest from the repository's data
remote. --json prints the entries as a list of objects (path, type, data,
size, hash, nfiles, exec).

The repository is read as git exp get reads it (see git-exp-get(1)): one
commit (--rev: a branch, tag, experiment name or full sha; default HEAD),
fetched shallow and blobless by your own `git` into a temporary directory.
"""

EXAMPLES = ["git exp ls https://example.com/team/project.git",
            "git exp ls ../project data -R", "git exp ls ../project --rev bold-otter --json"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", metavar="URL", help="the repository: a URL or path git clone takes")
    parser.add_argument("path", nargs="?", metavar="PATH", help="a folder or file in it (default: the top)")
    parser.add_argument("--rev", metavar="REV",
                        help="a branch, tag, experiment name or full commit sha (default: HEAD)")
    parser.add_argument("-R", "--recursive", action="store_true", help="list everything below PATH")
    parser.add_argument("--json", action="store_true", help="print the entries as JSON")
    parser.add_argument("--data-remote", metavar="LOCATION",
                        help="read data folders' manifests from LOCATION instead of the repository's data remote")


def run(args: argparse.Namespace, console: Console) -> int:
    from git_exp.sharing.foreign_files import ls
    from git_exp.ui.format import format_size as human_size
    listing = ls(args.url, args.path, rev=args.rev, recursive=args.recursive,
                 data_location=args.data_remote)
    for warning in listing.warnings:
        console.warn(f"not expanded: {warning}")
    if args.json:
        import json
        console.out(json.dumps([e.to_dict() for e in listing.entries], indent=2))
        return 0
    lines: list[str] = []
    for e in listing.entries:
        size = human_size(e.size) if e.size is not None else "-"
        name = e.path + ("/" if e.kind == "dir" else "") + (" ->" if e.kind == "link" else "")
        files = f"  ({e.nfiles} files)" if e.nfiles is not None else ""
        lines.append(f"{'data' if e.data else '    '}  {size:>9}  {name}{files}")
    if lines:
        console.page("\n".join(lines))
    return 0
