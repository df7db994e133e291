"""The stat of the files a reader looked at, to tell later whether any of them changed.

A memo that keeps an answer computed from files (show's workspace row:
show/workmemo.py; the no-op `run`: experiments/noopmemo.py) keeps, with it,
the key of each file read - type, device, inode, size, mtime_ns, ctime_ns,
or its absence - and of each folder a symlink check went through, and
reuses the answer only while every key still matches. Both memos share
this one key and this Watch, so they agree on what "unchanged" means; each
applies the racy-git rule (git_exp/data/state.py) its own way.
"""
from __future__ import annotations

import os
import stat

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Callable, Optional

    Reader = Callable[[str], Optional[str]]   # pipeline/records.Reader (a higher rank: not imported)


def file_key(full: str) -> list[int] | None:
    """What we compare for a file: None when absent; raises OSError when unknown."""
    try:
        st = os.stat(full)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return [stat.S_IFMT(st.st_mode), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
            st.st_ctime_ns]


def folder_kind(full: str) -> int | None:
    """The kind of a folder on a checked path (lstat: a symlink is a symlink), None when absent."""
    try:
        return stat.S_IFMT(os.lstat(full).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return None


class Watch:
    """Records what an answer (a workspace row, a no-op run) depends on while its files are read."""

    def __init__(self, root: str):
        self.root = root
        self.files: dict[str, list | None] = {}
        self.checked: list = []     # paths the pipeline's symlink check looked at
        self.usable = True          # False once something cannot be captured by a stat

    def full(self, relpath: str) -> str:
        return os.path.join(self.root, *relpath.split("/"))

    def note(self, relpath: str) -> None:
        """Stat RELPATH before it is read (once: the first stat is the one before any read)."""
        if relpath in self.files:
            return
        try:
            self.files[relpath] = file_key(self.full(relpath))
        except OSError:
            self.usable = False
            self.files[relpath] = None

    def reader(self, read: Reader) -> Reader:
        """READ with a stat of each file before it is read."""
        def watched(relpath: str) -> str | None:
            self.note(relpath)
            return read(relpath)
        return watched

    def isdir(self, relpath: str) -> bool:
        self.note(relpath)
        return os.path.isdir(self.full(relpath))

    def folders(self) -> dict | None:
        """The kind of each folder the symlink check went through; None when not memoisable."""
        kinds: dict[str, int | None] = {}
        for path in self.checked:
            if path is None:
                return None
            parts = path.split("/")
            for depth in range(1, len(parts)):
                prefix = "/".join(parts[:depth])
                if prefix not in kinds:
                    try:
                        kinds[prefix] = folder_kind(self.full(prefix))
                    except OSError:
                        return None
                if kinds[prefix] is None or kinds[prefix] != stat.S_IFDIR:
                    break   # the check stops where the path stops existing as folders
                # (a symlinked folder is S_IFLNK: refused below)
        if any(kind == stat.S_IFLNK for kind in kinds.values()):
            return None
        return kinds
