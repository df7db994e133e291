"""The workspace row of `show`, remembered by the stat of every file it came from.

Reading the work tree's row means parsing exp.yaml (templating included) and
each params and metrics file it names: importing the YAML parser and the
pipeline modules alone costs more than the rest of a warm `show`. So we keep
the row with what it depended on - the stat (type, device, inode, size,
mtime_ns, ctime_ns) of each file read or looked at, or its absence, and the
kind of each folder the symlink check of exp.yaml's paths went through - and
reuse it while every one of those still matches. Any difference is a miss,
and the row is read as before.

The "racy git" problem (see git_exp/data/state.py): a file rewritten within
the filesystem's mtime granularity after we read it can keep its stat. So a
row is only stored when every file it read is at least RACY_NS old; a row
read from files written in the last two seconds is read again next time.
Each stat is taken before the file is read and all are checked again before
the row is stored, so a file that changes while we read it is never vouched
for. Nothing is stored when a path the pipeline names goes through a symlink
(its target could change without any stat here changing).

One small JSON file under <exp_dir>/memo/, keyed by work tree root (linked
worktrees share the common dir), written whole and renamed into place. It
is a cache: unreadable, corrupt or foreign content is a miss.
"""
from __future__ import annotations

import json
import os
import time

from git_exp.filewatch import Watch, file_key, folder_kind
from git_exp import __version__

VERSION = 1
RACY_NS = 2_000_000_000     # as git_exp/data/state.py, for the same reason
MAX_ROOTS = 32              # worktrees remembered; the oldest entry goes first


class WorkspaceMemo:
    def __init__(self, exp_dir: str, root: str):
        self.path = os.path.join(exp_dir, "memo", f"workspace-v{VERSION}.json")
        self.root = root

    def _load(self) -> dict:
        try:
            with open(self.path, "rb") as fh:
                data = json.loads(fh.read())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self) -> dict | None:
        """The remembered {params, metrics, errors} when nothing it came from changed."""
        vouched = self.vouched()
        return None if vouched is None else vouched[0]

    def vouched(self) -> tuple[dict, dict, dict] | None:
        """(the remembered row, the stat key of each file, the kind of each folder it
        came from) when nothing it came from changed: show's output memo keeps the
        stats with its text (outmemo.py)."""
        entry = self._load().get(self.root)
        if not isinstance(entry, dict):
            return None
        try:
            if entry["version"] != __version__:
                return None
            for relpath, key in entry["files"].items():
                if file_key(os.path.join(self.root, *relpath.split("/"))) != key:
                    return None
            for relpath, kind in entry["folders"].items():
                if folder_kind(os.path.join(self.root, *relpath.split("/"))) != kind:
                    return None
            data = entry["data"]
            if not (isinstance(data["params"], dict) and isinstance(data["metrics"], dict)
                    and isinstance(data["errors"], list)):
                return None
        except (KeyError, TypeError, AttributeError, OSError):
            return None
        return data, entry["files"], entry["folders"]

    def put(self, watch: Watch, data: dict) -> None:
        """Remember DATA if everything it came from is captured, settled and unchanged since."""
        if not watch.usable:
            return
        folders = watch.folders()
        if folders is None:
            return
        settled = time.time_ns() - RACY_NS
        for key in watch.files.values():
            if key is not None and key[4] > settled:
                return  # written in the last two seconds: its stat may not tell a rewrite
        try:
            for relpath, key in watch.files.items():
                if file_key(watch.full(relpath)) != key:
                    return  # changed while we read it
        except OSError:
            return
        entry = {"version": __version__, "files": watch.files, "folders": folders, "data": data}
        memo = self._load()
        memo.pop(self.root, None)
        memo[self.root] = entry
        while len(memo) > MAX_ROOTS:
            memo.pop(next(iter(memo)))
        from git_exp.atomic import write_atomic   # (tempfile: only when there is something to write)
        try:
            write_atomic(self.path, json.dumps(memo, separators=(",", ":")))
        except (OSError, TypeError, ValueError):
            pass    # a read-only Git dir (or a value JSON cannot hold) just means no memo
