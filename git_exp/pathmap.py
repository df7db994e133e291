"""Small state files under the Git dir that map work-tree paths to hashes.

One line per path, `<hash>\\t<path>`, sorted, written whole (atomic.py):
what the last checkout left in the work tree (worktree/add.py) and what
the last apply wrote (experiments/apply_plan.py). Paths keep any bytes the
filesystem allows (surrogate escapes).
"""
from __future__ import annotations

import os

from git_exp.atomic import write_atomic


def read(path: str) -> dict[str, str]:
    """Path -> hash; {} when the file does not exist."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return {}
    found = {}
    for line in lines:
        digest, sep, rel = line.partition("\t")
        if sep and rel:
            found[rel] = digest
    return found


def write(path: str, mapping: dict[str, str], create_empty: bool = True) -> None:
    """Write MAPPING whole; with CREATE_EMPTY false an empty map creates no file."""
    if not mapping and not create_empty and not os.path.exists(path):
        return
    text = "".join(f"{digest}\t{rel}\n" for rel, digest in sorted(mapping.items()))
    write_atomic(path, text.encode("utf-8", "surrogateescape"))
