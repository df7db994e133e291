"""Where a bug's traceback goes: the one writer of crash logs, for every front end.

The log goes under <exp_dir>/logs/ of the repository when there is one, and
to the temp dir when that cannot be written (a full disk or a read-only
.git/exp must not leave a hint naming a log that was never written).
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

from git_exp import __version__


def write(text: str, exp_dir: str | None = None, prefix: str = "crash") -> tuple[str | None, str | None]:
    """(the log written, or None; why the first choice was skipped, or None)."""
    name = f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    folders = ([os.path.join(exp_dir, "logs")] if exp_dir else []) + [tempfile.gettempdir()]
    note = None
    for folder in folders:
        try:
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, name)
            with open(path, "w", encoding="utf-8", errors="backslashreplace") as fh:
                fh.write(f"git-exp {__version__}\nargv: {sys.argv!r}\n\n{text}")
            return path, note if folder != folders[0] else None
        except OSError as exc:
            note = f"{folder} is not writable ({exc.strerror})"
            try:
                os.unlink(os.path.join(folder, name))   # a full disk may have left it empty
            except OSError:
                pass
    return None, note
