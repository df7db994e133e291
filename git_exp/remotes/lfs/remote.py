"""A Git host's LFS store as a data remote: an object's name is its LFS oid.

Our objects are named by their SHA-256, as LFS objects are, so object H is
LFS oid H[:64] (a directory's manifest is stored under the hash of its
bytes, without the ".dir"). Nothing else is stored beside it, so git-lfs
and the host's web pages see ordinary LFS objects.

The Batch API wants each object's size, and strict servers (giftless, Gitea,
GitHub) answer "size does not match" rather than serve an object asked for
with the wrong one. Sizes come from the caller (expect_sizes: the pointers
and exp.lock record them), from the local cache, and, for a directory's
manifest, whose size nothing records, from SIZE BEACONS: for every 1 bit of
the manifest's size, a tiny object whose bytes name the manifest and the
bit. One download batch of the 40 possible beacons tells the size. They are
uploaded after the manifest, so a manifest counts as present only once all
its beacons are there; an interrupted put is simply sent again.

Batches carry up to 100 objects: has_many asks once per hundred, and keeps
the download actions the answers carry, so get() usually needs no request
of its own; the first put() of many asks for the upload actions of up to
a hundred objects has_many found missing. Actions that expired (or that the
server refuses, as when a token ran out) are asked for again.

list() is not possible: the LFS API has no listing. Nothing calls it today;
a caller that needs every object (a future remote gc) must refuse LFS
stores.
"""
from __future__ import annotations

import functools
import hashlib
import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from git_exp.data.hashing import DIR_SUFFIX
from git_exp.errors import ExpError
from git_exp.remotes.base import DataRemote, check_hash
from git_exp.remotes.lfs.batch import BATCH_SIZE, Action, ActionRefused, Session, VerifyingReader

if TYPE_CHECKING:
    from git_exp.remotes.lfs.connections import Body

SIZE_BITS = 40  # a manifest up to 1 TiB
_BATCH_THREADS = 4


def beacon(oid: str, bit: int) -> bytes:
    return f"git-exp size beacon: bit {bit} of the size of LFS object {oid} is set\n".encode()


def _oid(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LFSRemote(DataRemote):
    def __init__(self, session: Session, local_size: Callable[[str], "int | None"],
                 description: str = ""):
        super().__init__()
        self.session = session
        self.url = session.label
        self.description = description or f"LFS store {session.label}"
        self._local_size = local_size
        self._sizes: dict[str, int] = {}       # hash -> size the caller told us
        self._dir_sizes: dict[str, int] = {}   # manifest hash -> size its beacons tell
        # (operation, oid) -> (Action or None, size, verify Action or None, error or None)
        self._actions: dict[tuple[str, str], tuple] = {}
        self._upload_wanted: dict[str, int] = {}  # oid -> size: missing there, here locally
        self._lock = threading.Lock()

    def expect_sizes(self, sizes: dict[str, int]) -> None:
        """Sizes the caller knows (from pointers, exp.lock, manifests) for objects it will ask for."""
        self._sizes.update(sizes)

    def _size(self, hash: str) -> int | None:
        if hash.endswith(DIR_SUFFIX):
            return self._dir_sizes.get(hash)
        size = self._sizes.get(hash)
        return size if size is not None else self._local_size(hash)

    # -- has_many -------------------------------------------------------------

    def has_many(self, hashes: Iterable[str]) -> set[str]:
        wanted = set(hashes)
        for h in wanted:
            check_hash(h)
        dirs = [h for h in wanted if h.endswith(DIR_SUFFIX)]
        if dirs:
            self._read_beacons(dirs)
        asks: dict[str, int] = {}
        for h in wanted:
            size = self._size(h)
            if size is not None:
                asks.setdefault(h[:64], size)
        found = self._exists(asks, keep_actions=True)
        present = {h for h in wanted if h[:64] in found and self._size(h) is not None}
        with self._lock:
            for h in wanted - present:
                size = self._local_size(h)
                if size is not None:
                    self._upload_wanted[h[:64]] = size
        return present

    def probe(self) -> None:
        """One download batch for a made-up object (ExpError naming the store if
        it fails). Not has_many: it asks only about objects whose size it knows
        (the batch API wants it), so for a made-up one it sends nothing; `git
        exp remote -v` called every LFS store reachable that way."""
        self._exists({"0" * 64: 0}, keep_actions=False)

    def _exists(self, asks: dict[str, int], keep_actions: bool) -> set[str]:
        """The oids of ASKS (oid -> size) the store can serve, one download batch per hundred."""
        found = set()
        items = sorted(asks.items())
        chunks = [items[i:i + BATCH_SIZE] for i in range(0, len(items), BATCH_SIZE)]
        answers = [self.session.batch("download", chunk) for chunk in chunks[:1]]
        if len(chunks) > 1:
            # The first alone (it may ask for credentials), the rest a few at a time:
            # one after another, 100 batches cost 100 round trips.
            with ThreadPoolExecutor(min(_BATCH_THREADS, len(chunks) - 1)) as pool:
                answers += pool.map(lambda chunk: self.session.batch("download", chunk), chunks[1:])
        for chunk, entries in zip(chunks, answers):
            for oid, size in chunk:
                actions = (entries.get(oid) or {}).get("actions")
                action = Action.parse(actions.get("download")) if isinstance(actions, dict) else None
                if action is None:
                    continue
                found.add(oid)
                if keep_actions:
                    with self._lock:
                        self._actions[("download", oid)] = (action, size, None, None)
        return found

    def _read_beacons(self, dirs: list[str]) -> None:
        probes: dict[str, tuple[str, int, int]] = {}
        for h in dirs:
            for bit in range(SIZE_BITS):
                data = beacon(h[:64], bit)
                probes[_oid(data)] = (h, bit, len(data))
        found = self._exists({oid: n for oid, (_, _, n) in probes.items()}, keep_actions=False)
        sizes = dict.fromkeys(dirs, 0)
        for oid in found:
            h, bit, _ = probes[oid]
            sizes[h] |= 1 << bit
        for h, size in sizes.items():
            if size:
                self._dir_sizes[h] = size
            else:
                self._dir_sizes.pop(h, None)

    # -- put --------------------------------------------------------------------

    def put(self, hash: str, path: str) -> int:
        check_hash(hash)
        size = os.path.getsize(path)
        self._sizes.setdefault(hash, size)
        sent = self._send(hash[:64], size, lambda: VerifyingReader(path, hash, size, self.stop),
                          f"upload of {hash[:12]}")
        if hash.endswith(DIR_SUFFIX):
            # After the manifest: its beacons are what make it count as present.
            beacons = [beacon(hash[:64], bit) for bit in range(SIZE_BITS) if size >> bit & 1]
            with self._lock:  # so the first one's upload batch asks for all of them
                self._upload_wanted.update((_oid(data), len(data)) for data in beacons)
            for data in beacons:
                self._send(_oid(data), len(data), functools.partial(io.BytesIO, data),
                           f"upload of a size beacon of {hash[:12]}")
            self._dir_sizes[hash] = size
        return sent

    def _send(self, oid: str, size: int, open_body: Body, what: str) -> int:
        for attempt in (1, 2):
            upload, verify = self._upload_action(oid, size)
            if upload is None:
                return 0  # the store has it: its name is its content
            try:
                self.session.upload(upload, open_body, size, what)
                if verify is not None:
                    self.session.verify(verify, oid, size)
                with self._lock:  # it is there now: a second put sends nothing
                    self._actions[("upload", oid)] = (None, size, None, None)
                    self._upload_wanted.pop(oid, None)
                return size
            except ActionRefused:
                if attempt == 2:
                    raise
                with self._lock:
                    self._actions.pop(("upload", oid), None)
        raise AssertionError("unreachable")

    def _upload_action(self, oid: str, size: int) -> tuple[Action | None, Action | None]:
        """The upload and verify actions for OID, asked along with up to 99 more that will follow."""
        with self._lock:  # held across the request: the other threads' actions arrive with it
            cached = self._actions.get(("upload", oid))
            if cached is None or (cached[0] is not None and not cached[0].fresh()):
                asks = [(oid, size)] + [
                    (o, s) for o, s in self._upload_wanted.items()
                    if o != oid and ("upload", o) not in self._actions][:BATCH_SIZE - 1]
                entries = self.session.batch("upload", asks)
                for o, s in asks:
                    self._actions[("upload", o)] = self._upload_entry(entries.get(o), s)
                cached = self._actions[("upload", oid)]
            upload, _, verify, error = cached
            if error:
                raise ExpError(f"the LFS store {self.url} refused object {oid}: {error}")
            return upload, verify

    def _upload_entry(self, entry: object, size: int) -> tuple[Action | None, int, Action | None, str | None]:
        if not isinstance(entry, dict):
            return None, size, None, "it did not answer for this object"
        error = entry.get("error")
        if isinstance(error, dict):
            return None, size, None, f"{error.get('code')} {error.get('message', '')}".strip()
        actions = entry.get("actions") or {}
        if not isinstance(actions, dict):
            actions = {}
        return Action.parse(actions.get("upload")), size, Action.parse(actions.get("verify")), None

    # -- get ----------------------------------------------------------------------

    def get(self, hash: str, dest: str) -> int:
        check_hash(hash)
        if self._size(hash) is None:
            self.has_many([hash])
        size = self._size(hash)
        for attempt in (1, 2):
            action = self._download_action(hash[:64], size) if size is not None else None
            if action is None or size is None:
                raise ExpError(f"object {hash} is not in the data remote '{self.url}'")
            try:
                return self.session.download(action, dest, hash, size, self.stop)
            except ActionRefused:
                if attempt == 2:
                    raise
                with self._lock:
                    self._actions.pop(("download", hash[:64]), None)
        raise AssertionError("unreachable")

    def _download_action(self, oid: str, size: int) -> Action | None:
        with self._lock:
            cached = self._actions.get(("download", oid))
            if cached is not None and cached[0].fresh():
                return cached[0]
            # Expired actions of other objects are renewed in the same request.
            asks = [(oid, size)] + [(o, c[1]) for (op, o), c in self._actions.items()
                                    if op == "download" and o != oid and not c[0].fresh()
                                    ][:BATCH_SIZE - 1]
        found = self._exists(dict(asks), keep_actions=True)
        if oid not in found:
            return None
        with self._lock:
            return self._actions[("download", oid)][0]

    def list(self) -> Iterator[str]:
        raise ExpError(f"the LFS store {self.url} cannot list its objects: "
                       "the Git LFS API has no listing",
                       hint="set a directory, s3:// or ssh:// data remote "
                            "(remote.<name>.expdata) for operations that need one")
