"""Which objects are wanted and by whom, for messages that name what is missing.

A push (sharing/needed.py) and a fetch (remotes/fetch.py) both collect the
objects some records refer to; when the cache or the data remote lacks some,
the error names the paths and the experiments or branches that need them,
not the hashes.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Needs:
    """Objects some records refer to, each with who needs it (for messages)."""

    objects: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # hash -> [(label, path)]
    checked: list[str] = field(default_factory=list)  # commits whose data was read

    def add(self, hash: str, label: str, path: str) -> None:
        users = self.objects.setdefault(hash, [])
        if (label, path) not in users:
            users.append((label, path))


def describe_missing(needs: Needs, hashes: set[str], limit: int = 10) -> str:
    """'  experiment 'x': model.pt' lines for the objects in HASHES."""
    pairs: dict[tuple[str, str], None] = {}
    for h in sorted(hashes):
        for pair in needs.objects.get(h, []):
            pairs[pair] = None
    lines = [f"  {label}: {path}" for label, path in sorted(pairs)]
    if len(lines) > limit:
        lines = lines[:limit] + [f"  ... and {len(lines) - limit} more"]
    return "\n".join(lines)
