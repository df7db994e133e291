"""The run cache: a stage's inputs fingerprint -> the outs that run produced.

<exp_dir>/runcache/<2 hex>/<62 hex>.json holds {"outs": {path: HashInfo
dict}, "created": ISO 8601}. When a stage is about to run with a command,
deps, params and outs already seen, the runner can check its outs out of
the cache instead of running it. An entry is a cache of a fact, never the
only copy of anything, so a corrupt entry is just a miss.
"""
from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone

from git_exp.data.hashing import HashInfo
from git_exp.errors import ExpError

# Bump when what goes into a fingerprint changes, so old entries stop matching.
_FORMAT = 1


def _canonical(value: object) -> object:
    """VALUE as plain JSON with the same meaning, whatever parser produced it.

    YAML can give non-string keys (1: x) and values JSON lacks (dates, sets);
    they are tagged with their type so {1: x} and {"1": x} never collide.
    """
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            name = key if isinstance(key, str) else f"\0{type(key).__name__}:{key!r}"
            out[name] = _canonical(item)
        return out
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return {"\0set": sorted((_canonical(v) for v in value), key=repr)}
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return {"\0" + type(value).__name__: str(value)}


def _entry_path(root: str, fp: str) -> str:
    if not (isinstance(fp, str) and len(fp) == 64 and all(c in "0123456789abcdef" for c in fp)):
        raise ExpError(f"malformed run fingerprint '{fp}'")
    return os.path.join(root, fp[:2], fp[2:] + ".json")


def _valid_entry(entry: object) -> bool:
    if not isinstance(entry, dict) or not isinstance(entry.get("created"), str):
        return False
    outs = entry.get("outs")
    if not isinstance(outs, dict):
        return False
    try:
        for path, info in outs.items():
            if not isinstance(path, str) or not path:
                return False
            HashInfo.from_dict(info)
    except ExpError:
        return False
    return True


class RunCache:
    def __init__(self, exp_dir: str):
        self.root = os.path.join(exp_dir, "runcache")

    @staticmethod
    def fingerprint(cmd: list[str], deps: dict[str, str], params: dict, outs: list[str]) -> str:
        """sha256 over canonical JSON of everything that decides a run's result.

        cmd keeps its order (argument order matters), deps and params are
        compared as mappings, outs as a set of paths.
        """
        doc = {"format": _FORMAT, "cmd": list(cmd), "deps": _canonical(dict(deps)),
               "params": _canonical(params), "outs": sorted(outs)}
        data = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                          allow_nan=True)
        return hashlib.sha256(data.encode("ascii")).hexdigest()

    def lookup(self, fp: str) -> dict | None:
        """{"outs": {path: HashInfo dict}, "created": ...} or None on a miss."""
        path = _entry_path(self.root, fp)
        try:
            with open(path, "rb") as f:
                entry = json.loads(f.read().decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        return entry if _valid_entry(entry) else None

    def record(self, fp: str, outs: dict[str, HashInfo]) -> None:
        """Remember OUTS for FP. The first writer wins: an entry already there
        stays (both runs had the same inputs), unless it is corrupt."""
        path = _entry_path(self.root, fp)
        entry = {"outs": {p: info.to_dict() for p, info in sorted(outs.items())},
                 "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        data = json.dumps(entry, sort_keys=True, indent=1).encode("utf-8") + b"\n"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.urandom(6).hex()}.tmp")
        try:
            with open(tmp, "xb") as f:
                f.write(data)
            try:
                # link() refuses to replace an existing name: an atomic "create if absent".
                os.link(tmp, path)
            except FileExistsError:
                if self.lookup(fp) is None:
                    os.replace(tmp, path)
            except OSError:
                # A filesystem without hard links: check, then rename (a race here
                # only means the second of two identical runs wins).
                if self.lookup(fp) is None:
                    os.replace(tmp, path)
        finally:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
