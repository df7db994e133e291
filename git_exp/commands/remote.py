"""git exp remote: each Git remote, its data remote, and the setting that chose it."""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from argparse import ArgumentParser, Namespace

    from git_exp.ui.console import Console

DESCRIPTION = """\
Lists each Git remote (as `git remote` does), the data remote that push,
pull, fetch, checkout and the hooks use for it, and the setting that chose
it: remote.<name>.expdata or exp.remote with the file it was read from
(your Git config, or the committed .expconfig), or "local path" for a Git
remote that is a directory, whose data lives in <its git dir>/exp/cache.
A Git remote with no data remote says what to configure. When uploads go
elsewhere than downloads come from (a push URL, pushInsteadOf, lfs.pushurl),
a second line names the data remote `git exp push` uploads to.

-v also asks each data remote whether it answers (one request, at most ten
seconds each): "reachable", or what went wrong. --json prints the same as a
JSON list of objects with the keys name, url, data_remote, reason, error,
reachable, probe, push_data_remote, push_reason, push_error,
push_reachable and push_probe (null when uploads go to data_remote); -v
asks the upload store too when it is another one.
"""

EXAMPLES = ["git exp remote", "git exp remote -v", "git exp remote --json"]


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: Namespace, console: Console) -> int:
    from git_exp.repo import discover
    from git_exp.remotes.pairing import pairings

    verbose = bool(getattr(args, "verbose", False))   # the -v every command takes
    found = pairings(discover(), probe=verbose)
    if args.json:
        import json
        console.out(json.dumps([p.to_dict() for p in found], indent=2))
        return 0
    if not found:
        console.info("No Git remotes. Add one: git remote add origin URL")
        return 0
    for p in found:
        if p.location is None:
            console.out(f"{p.name}\t{p.url}\n\tdata: none - {p.error}")
            continue
        console.out(f"{p.name}\t{p.url}\n\tdata: {p.location}\t({p.reason})")
        if verbose:
            console.out(f"\t{p.probe}")
        if p.push_error:
            console.out(f"\tdata (push): none - {p.push_error}")
        elif p.push_location:
            console.out(f"\tdata (push): {p.push_location}\t({p.push_reason})")
            if verbose and p.push_probe:
                console.out(f"\t{p.push_probe}")
    return 0
