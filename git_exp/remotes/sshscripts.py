"""The POSIX sh scripts an SSH data remote runs on the server, one per operation.

Each is one `sh -c` argument; ROOT is already a shell word (quoted). Hashes
reach them on stdin, already checked to be hex (and '.dir'), so no name
from the network is ever spliced into a command. `${h#??}` and
`${h%"$r"}` split a hash into its shard and file name without a process.
"""
from __future__ import annotations

COMMIT = "COMMIT"  # the last tar entry of a put: the stream ended on purpose


def has_many(root: str) -> str:
    return (f'cd {root}/files/sha256 2>/dev/null || exit 0; '
            'while read h; do r=${h#??}; [ -f "${h%"$r"}/$r" ] && echo "$h"; done; exit 0')


def listing(root: str) -> str:
    return f'cd {root}/files/sha256 2>/dev/null || exit 0; find . -type f ! -name ".*"'


def get(root: str) -> str:
    """Sizes of the objects that exist (`wc -c` lines, then '--'), then their bytes back to back."""
    return (f'cd {root}/files/sha256 2>/dev/null || {{ echo --; exit 0; }}; set --; '
            'while read h; do r=${h#??}; f=${h%"$r"}/$r; [ -f "$f" ] && set -- "$@" "$f"; done; '
            'if [ $# -gt 0 ]; then wc -c "$@" || exit 3; fi; echo --; '
            'if [ $# -gt 0 ]; then exec cat "$@"; fi')


def put(root: str, token: str) -> str:
    """Unpack a tar stream into tmp/put-TOKEN, then move each object into place if it ended in COMMIT.

    The trap removes the folder on any exit; folders older than a day (a
    SIGKILLed or rebooted earlier put) are removed first.
    """
    return (f'o={root}/files/sha256; t={root}/tmp/put-{token}; '
            f'for d in {root}/tmp/put-*; do '
            '[ -d "$d" ] && [ -n "$(find "$d" -prune -mtime +0)" ] && rm -rf "$d"; done; '
            'mkdir -p "$o" "$t" || exit 3; '
            'trap \'rm -rf "$t"\' EXIT; trap \'exit 1\' HUP INT TERM PIPE; '
            'cd "$t" || exit 3; tar -xf - || exit 4; '
            f'[ -f {COMMIT} ] || exit 5; rm -f {COMMIT}; '
            'for f in *; do [ -f "$f" ] || continue; r=${f#??}; d=${f%"$r"}; '
            'mkdir -p "$o/$d" && mv -f "$f" "$o/$d/$r" || exit 6; done; echo ok')
