"""Reading a log while its run writes it (`git exp logs -f`, `queue logs -f`)."""
from __future__ import annotations

import time
from typing import BinaryIO, Callable, Iterator

CHUNK = 65536


def tail(fh: BinaryIO, follow: bool, still_running: Callable[[], bool], poll: float,
         check_every: float = 0.0) -> Iterator[bytes]:
    """FH's bytes as chunks; with FOLLOW, more as they are written, until STILL_RUNNING()
    says the writer ended (asked at most every CHECK_EVERY seconds while idle).

    The writer moves its log when it records the run: this handle still reads
    the same file, so what it wrote last is read before returning.
    """
    last_check = 0.0
    while True:
        data = fh.read(CHUNK)
        if data:
            yield data
            continue
        if not follow:
            return
        now = time.monotonic()
        if now - last_check >= check_every:
            last_check = now
            if not still_running():
                rest = fh.read()
                if rest:
                    yield rest
                return
        time.sleep(poll)
