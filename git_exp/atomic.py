"""Writing files so that a crash or Ctrl-C never leaves half of one."""
from __future__ import annotations

import os

# tempfile.mkstemp's flags: created here or not at all, never through a link,
# not inherited by the programs we start.
_TEMP_FLAGS = (os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


def make_temp(folder: str, prefix: str, suffix: str = "") -> tuple[int, str]:
    """(an open descriptor, its path): a new file FOLDER/PREFIX<random>SUFFIX, mode 0600.

    tempfile.mkstemp without tempfile: importing it loads random, shutil, bz2
    and lzma (~3 ms), on every command that writes a file. Like mkstemp, the
    name is created exclusively (O_EXCL), so a name taken only means another try.
    """
    for _ in range(100):
        path = os.path.join(folder, f"{prefix}{os.urandom(6).hex()}{suffix}")
        try:
            return os.open(path, _TEMP_FLAGS, 0o600), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {folder}")


def write_atomic(path: str, data: bytes | str, mode: int | None = None, fsync: bool = False) -> None:
    """Write DATA to PATH through a temp file in the same folder and os.replace."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = make_temp(folder, ".tmp-" + os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        elif os.path.exists(path):
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
