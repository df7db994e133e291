"""git exp fsck: check the cache for corrupt and missing objects."""
from __future__ import annotations

DESCRIPTION = """\
Re-hashes every object in the cache and reports the ones whose content does
not match their hash (or, for a folder, whose manifest cannot be read), then
lists the objects that the work tree's data records need and the cache does
not have. Exits with status 1 when it finds either.

A corrupt object is never copied into the work tree by checkout; delete it
and fetch it again from a data remote (git exp pull), or re-add the data if
you still have it.
"""

EXAMPLES = ["git exp fsck", "git exp fsck -j 4"]


def configure(parser):
    parser.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                        help="hash N objects at a time (default: the number of CPUs, at most 8)")


def run(args, console) -> int:
    from git_exp.data.fsck import check_cache
    from git_exp.repo import discover
    result = check_cache(discover(), jobs=args.jobs)
    for digest in result.corrupt:
        console.out(f"corrupt: {digest}")
    for path, hashes in sorted(result.missing.items()):
        console.out(f"missing: {path} ({len(hashes)} object(s): {', '.join(h[:12] for h in hashes[:3])}"
                    f"{', ...' if len(hashes) > 3 else ''})")
    if result.ok:
        console.out(f"Checked {result.checked} object(s): all intact, none missing.")
        return 0
    hints = []
    if result.corrupt:
        hints.append("delete each corrupt object under .git/exp/cache/files/sha256/ and fetch it "
                     "again with 'git exp pull <remote>' (or re-add the data)")
    if result.missing:
        hints.append("fetch missing objects with 'git exp fetch -A [<remote>]' "
                     "(experiments: 'git exp pull <remote> <name>')")
    console.error(f"checked {result.checked} object(s): {len(result.corrupt)} corrupt, "
                  f"{len(result.missing)} data path(s) with missing objects", hint="\n".join(hints))
    return 1
