"""git exp get: download a file or folder of another git-exp repository, data included."""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import argparse

    from git_exp.ui.console import Console

DESCRIPTION = """\
Writes PATH of the repository at URL (any URL or path `git clone` takes) to
OUT, by default its name in the current directory (inside OUT when OUT is a
folder), as `dvc get` does. PATH is relative to the top of that repository:
a Git-tracked file or folder, data its pointer files or exp.lock record (a
tracked file or folder, or a stage's cached out), or a file or folder inside
a tracked data folder. --rev takes a branch, tag, experiment name or full
commit sha; by default the repository's HEAD.

Your own `git` fetches that one commit, shallow and without file contents
(blobless), into a temporary directory under your cache directory
($XDG_CACHE_HOME/git-exp, else TMPDIR), and removed afterwards; only the
files needed arrive. Data comes from that repository's data remote: its
committed .expconfig (remote.origin.expdata or exp.remote), else the LFS
URL of its .lfsconfig, else for a local path or file:// URL its own
`<git dir>/exp/cache`, else its host's Git LFS store; --data-remote names
another. Data your current repository's cache already holds is not
downloaded again.

The other repository is untrusted: its paths are checked before anything is
written (symbolic links and submodules are skipped), its records are read
with size limits, and every data object is checked against its SHA-256. OUT
is written whole or not at all (under a hidden name beside it, then renamed),
and an existing OUT is never replaced without --force.
"""

EXAMPLES = ["git exp get https://example.com/team/project.git data/train.csv",
            "git exp get ../project models/model.pt -o model.pt --rev bold-otter",
            "git exp get file:///srv/git/project.git data -o data-v1 --rev v1"]


def configure(parser: argparse.ArgumentParser) -> None:
    from git_exp.commands.argtypes import positive_int
    parser.add_argument("url", metavar="URL", help="the repository: a URL or path git clone takes")
    parser.add_argument("path", metavar="PATH", help="the file or folder, relative to its top")
    parser.add_argument("-o", "--out", metavar="OUT",
                        help="where to write it (default: its name in the current directory)")
    parser.add_argument("--rev", metavar="REV",
                        help="a branch, tag, experiment name or full commit sha (default: HEAD)")
    parser.add_argument("-f", "--force", action="store_true", help="replace OUT if it exists")
    parser.add_argument("-j", "--jobs", type=positive_int, metavar="N",
                        help="data objects downloaded at once (default: 8)")
    parser.add_argument("--data-remote", metavar="LOCATION",
                        help="read the data from LOCATION instead of the repository's own data remote")


def run(args: argparse.Namespace, console: Console) -> int:
    from git_exp.sharing.foreign_files import get
    from git_exp.ui.format import format_size
    from git_exp.ui.progress import ProgressLine
    progress = ProgressLine(console.stderr, "Receiving data", enabled=False if console.quiet else None)
    try:
        result = get(args.url, args.path, out=args.out, rev=args.rev, force=args.force,
                     jobs=args.jobs or 8, progress=progress, data_location=args.data_remote)
    finally:
        progress.close()
    for path in result.skipped:
        console.warn(f"skipped '{path}': a symbolic link or a path that cannot be written")
    console.info(f"Wrote {result.out}: {result.files} file(s), {format_size(result.bytes)} "
                 f"(commit {result.sha[:7]}).")
    return 0
