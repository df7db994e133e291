"""The params and metrics of a run in progress, read from the work tree it runs in.

A queued run writes into a temporary checkout (queue/checkout.py); its
exp.yaml there names the params and metrics files, and a script logging
with git_exp.live rewrites its metrics.json at every step. We read those
files as they are now - no lock, no waiting - and with care, since the
running code writes them: only regular files (never through a symlink),
at most MAX_BYTES each, parsed by the same parsers as every other row.
A file caught half-written by a writer that does not rename into place,
or gone because the run just ended, is simply left out: the row shows what
could be read, and the experiment's own commit has the final values.
"""
from __future__ import annotations

import os
import stat

from git_exp.errors import ExpError
from git_exp.names import PIPELINE_FILE

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.pipeline.records import Reader

MAX_BYTES = 1 << 20      # a metrics or params file larger than this is not read


def read_bounded(root: str, relpath: str, limit: int = MAX_BYTES) -> bytes | None:
    """The bytes of ROOT/RELPATH if it is a regular file of at most LIMIT bytes
    reached without any symlink; None otherwise (absent, too big, a link...)."""
    parts = relpath.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return None
    folder = root
    for part in parts[:-1]:     # no folder on the way may be a symlink either
        folder = os.path.join(folder, part)
        try:
            if not stat.S_ISDIR(os.lstat(folder).st_mode):
                return None
        except OSError:
            return None
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(os.path.join(root, *parts), flags)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    return data if len(data) <= limit else None


def bounded_reader(root: str, limit: int = MAX_BYTES) -> Reader:
    """READ(relpath) -> UTF-8 text or None for files under ROOT (see read_bounded)."""
    def read(relpath: str) -> str | None:
        data = read_bounded(root, relpath, limit)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return read


def read_running(root: str) -> tuple[dict, dict]:
    """(params, metrics) of the work tree at ROOT as a run is writing it; ({}, {}) if unreadable."""
    from git_exp.pipeline.spec import load_pipeline
    from git_exp.show.commits import NO_PIPELINE, layout_of, parse_values

    read = bounded_reader(root)
    try:
        layout = layout_of(load_pipeline(root, PIPELINE_FILE, read))
    except ExpError:
        layout = NO_PIPELINE
    found: dict = {"params": {}, "metrics": {}}
    for kind, paths in (("params", layout.params_files), ("metrics", layout.metrics_files)):
        for path in paths:
            text = read(path)
            if text is None:
                continue
            try:
                found[kind][path] = parse_values(text, path)
            except ExpError:
                continue    # caught mid-write by a writer that does not rename: next time
    return found["params"], found["metrics"]
