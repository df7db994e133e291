"""The data-remote interface and the one way every kind writes an arriving object.

A data remote is four operations:

    has_many(hashes) -> the subset it holds, asked in bulk
    put(hash, path)  -> bytes sent (0 when it already had the object)
    get(hash, dest)  -> bytes received; DEST appears whole and verified, or not at all
    list()           -> every object hash it holds

and optional ones, with defaults, so a kind only needs the four:

    put_batch / get_batch  many objects in one exchange, for kinds where a call
                           per object costs a round trip each (SSH); batch_size
                           (and batch_bytes) say how many to hand over at once
    probe()                contact the remote once, RemoteUnavailable if it fails
    clean_temp()           remove what interrupted uploads left (temp files,
                           unfinished multipart uploads); a push calls it first
    cancel() / stop        stop every transfer in flight at its next chunk

Objects are immutable and named by their SHA-256, so a remote never needs
to rewrite one: a put of an object that is there does nothing, and two
people putting the same object at once both succeed with the same bytes.
Every object is hashed as it arrives, in both directions, and published
under its final name only after the hash matched.

Progress: a kind calls self.report_bytes(hash, n) as bytes of an object
move (from any thread), so a progress line keeps moving while one large
object streams; the transfer sets the receiver.
"""
from __future__ import annotations

import errno
import hashlib
import os
import threading
from typing import Callable, Iterable, Iterator

from git_exp.data.hashing import CHUNK_SIZE, is_valid_hash
from git_exp.data.links import current_umask, temp_name
from git_exp.errors import ExpError

# (hash, path) pairs for put_batch/get_batch. Spelled here because inside
# DataRemote the name `list` is the method.
Items = list[tuple[str, str]]


class ObjectMismatch(ExpError):
    """Bytes that arrived do not hash to the name they were sent under."""

    def __init__(self, hash: str, actual: str, source: str):
        super().__init__(f"object {hash} from '{source}' hashes to {actual}: refusing it",
                         hint="the copy at the source is corrupt; delete it and send it again "
                              "from a clone that has a good copy")
        self.hash = hash
        self.actual = actual


class TransferCancelled(ExpError):
    """A transfer was stopped (Ctrl-C, or another object failed) before this object completed."""

    def __init__(self) -> None:
        super().__init__("transfer cancelled")


class RemoteUnavailable(ExpError):
    """The data remote cannot be reached or refuses us; the message names it and what to do."""


class DataRemote:
    """The interface every data remote implements; see the module docstring.

    cancel() is the one shared piece: it asks every transfer in flight to
    stop at its next chunk (pass self.stop to write_verified), so Ctrl-C
    does not wait for a multi-gigabyte object to finish copying.
    """

    url: str = ""
    batch_size: int = 1          # objects a caller hands to put_batch/get_batch at once
    _on_bytes: Callable[[str, int], None] | None = None

    def __init__(self) -> None:
        self.stop = threading.Event()

    def cancel(self) -> None:
        self.stop.set()

    def on_bytes(self, receiver: Callable[[str, int], None] | None) -> None:
        """Have RECEIVER(hash, n) told of every N bytes that move (None: nobody)."""
        self._on_bytes = receiver

    def report_bytes(self, hash: str, n: int) -> None:
        receiver = self._on_bytes
        if receiver is not None and n:
            receiver(hash, n)

    def has_many(self, hashes: Iterable[str]) -> set[str]:
        raise NotImplementedError

    def put(self, hash: str, path: str) -> int:
        raise NotImplementedError

    def get(self, hash: str, dest: str) -> int:
        raise NotImplementedError

    def list(self) -> Iterator[str]:
        raise NotImplementedError

    def put_batch(self, items: Items) -> int:
        """put(hash, path) for each item; the bytes sent."""
        return sum(self.put(h, path) for h, path in items)

    def get_batch(self, items: Items) -> int:
        """get(hash, dest) for each item; the bytes received."""
        return sum(self.get(h, dest) for h, dest in items)

    def probe(self) -> None:
        """Contact the remote once; RemoteUnavailable (naming it, with what to do) if that fails.

        For `git exp remote -v` and the like: cheap, reads nothing. Every kind
        says how (a kind without one must not look reachable for free).
        """
        raise NotImplementedError

    def clean_temp(self) -> int:
        """Remove temporary files interrupted transfers left; how many. Optional."""
        return 0

    def __str__(self) -> str:
        return self.url


def check_hash(hash: str) -> None:
    if not is_valid_hash(hash):
        raise ExpError(f"malformed object hash '{hash}'",
                       hint="expected 64 lowercase hex digits, optionally followed by .dir")


def file_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb", buffering=0) as f:
        while True:
            block = f.read(CHUNK_SIZE)
            if not block:
                return
            yield block


def write_verified(chunks: Iterable[bytes], dest: str, hash: str, source: str,
                   replace: bool = False, stop: threading.Event | None = None,
                   progress: Callable[[str, int], None] | None = None) -> int:
    """Write CHUNKS to DEST if they hash to HASH; the bytes written.

    The bytes go to a hidden temporary name beside DEST and are checked
    before DEST exists, so a crash, Ctrl-C, exception or STOP leaves no object
    under its final name (at worst a stray '.*.tmp' file, which nothing
    mistakes for an object). Without REPLACE an object already at DEST is
    never touched: it is published with link(), which refuses to overwrite.
    Remotes other than directories use this too, so every arrival is checked
    the same way. A directory object's name is the SHA-256 of its manifest
    followed by '.dir', so the first 64 characters are what the bytes hash to.
    PROGRESS(hash, n) is told of each chunk written.
    """
    check_hash(hash)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tmp = temp_name(dest)
    digest = hashlib.sha256()
    size = 0
    try:
        with open(tmp, "xb") as out:
            for block in chunks:
                if stop is not None and stop.is_set():
                    raise TransferCancelled()
                digest.update(block)
                out.write(block)
                size += len(block)
                if progress is not None:
                    progress(hash, len(block))
        actual = digest.hexdigest()
        if actual != hash[:64]:
            raise ObjectMismatch(hash, actual, source)
        os.chmod(tmp, 0o444 & ~current_umask())
        _publish(tmp, dest, replace)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
    return size


def _publish(tmp: str, dest: str, replace: bool) -> None:
    if replace:
        os.replace(tmp, dest)
        return
    try:
        os.link(tmp, dest)  # atomic, and fails rather than overwrite
    except FileExistsError:
        pass  # someone else published the same object: same name, same bytes
    except OSError as err:
        # Some shared filesystems (SMB, FAT, a few NFS setups) have no hard
        # links. Rename instead: if another writer wins the race in between,
        # its object and ours are the same bytes.
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV,
                             errno.EMLINK, errno.ENOSYS):
            raise
        if not os.path.exists(dest):
            os.replace(tmp, dest)
