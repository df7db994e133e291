"""Moving objects between the cache and a data remote: only what is missing, in parallel.

The remote is asked once, in bulk, which of the objects it lacks; only those
move, from a thread pool (the work is waiting on disks and networks, which
releases the GIL), one object per task, or a batch of them for remotes
whose batch_size says a call should carry many (SSH: one connection per
batch). A failed or interrupted transfer leaves no partial object anywhere:
each object is written under a temporary name and published only once
complete and verified (remotes.base.write_verified on a remote, Cache.adopt
in the cache, the one writer of cache objects), and the pool stops taking
new objects at the first failure.

Progress: the remote reports bytes as they stream (report_bytes), and the
calling thread hands the totals to the Progress callback about ten times a
second, so a progress line moves while one large object travels.

Directory objects keep the cache's invariant on both sides: a manifest is
published only after every file it lists is there, so a manifest present
anywhere means its files are too.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

from git_exp.data.hashing import DIR_SUFFIX, parse_manifest
from git_exp.errors import ExpError
from git_exp.remotes.base import DataRemote, RemoteUnavailable

if TYPE_CHECKING:
    from git_exp.data.cache import Cache

DEFAULT_JOBS = 8

# progress(done objects, total objects, done bytes, total bytes); totals may
# grow while a download learns what directories hold. Called from the
# calling thread only.
Progress = Callable[[int, int, int, int], None]


@dataclass
class Stats:
    objects: int = 0
    bytes: int = 0

    def __iadd__(self, other: "Stats") -> "Stats":
        self.objects += other.objects
        self.bytes += other.bytes
        return self


@dataclass
class UploadPlan:
    send: list[str] = field(default_factory=list)       # the remote lacks them, the cache has them
    unavailable: set[str] = field(default_factory=set)  # the remote lacks them and so does the cache


class _Meter:
    """Counts objects and bytes; bytes of objects still in flight come from the remote.

    Worker threads (and a remote's own threads) call partial() and done();
    only the calling thread calls tick(), which hands the progress callback
    the totals at most every TICK seconds while objects are in flight.
    """

    TICK = 0.1

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self.objects = self.bytes = self.total_objects = self.total_bytes = 0
        self._inflight: dict[str, int] = {}
        self._lock = threading.Lock()

    def grow(self, objects: int, nbytes: int) -> None:
        with self._lock:
            self.total_objects += objects
            self.total_bytes += nbytes
        self.tick()

    def partial(self, hash: str, nbytes: int) -> None:
        with self._lock:
            self._inflight[hash] = self._inflight.get(hash, 0) + nbytes

    def done(self, hash: str, nbytes: int) -> None:
        with self._lock:
            self._inflight.pop(hash, None)
            self.objects += 1
            self.bytes += nbytes

    def done_many(self, hashes: list[str], nbytes: int) -> None:
        with self._lock:
            for h in hashes:
                self._inflight.pop(h, None)
            self.objects += len(hashes)
            self.bytes += nbytes

    def tick(self) -> None:
        if self.progress:
            with self._lock:
                moved = self.bytes + sum(self._inflight.values())
                args = (self.objects, self.total_objects, moved, self.total_bytes)
            self.progress(*args)


def _batches(items: list[str], size: int, jobs: int, sizes: dict[str, int] | None = None,
             max_bytes: int | None = None) -> list[list[str]]:
    """ITEMS in groups of at most SIZE objects (and MAX_BYTES, as far as SIZES tell),
    small enough that JOBS threads share the work."""
    if size <= 1:
        return [[item] for item in items]
    per = max(1, min(size, -(-len(items) // max(1, jobs))))
    groups: list[list[str]] = []
    current: list[str] = []
    weight = 0
    for item in items:
        n = (sizes or {}).get(item, 0)
        if current and (len(current) >= per or (max_bytes and weight + n > max_bytes)):
            groups.append(current)
            current, weight = [], 0
        current.append(item)
        weight += n
    if current:
        groups.append(current)
    return groups


def _run_parallel(items: list[str], work: Callable[[list[str]], int], jobs: int, meter: _Meter,
                  verb: str, remote: DataRemote, batch_size: int = 1,
                  sizes: dict[str, int] | None = None) -> Stats:
    """work(batch) -> bytes for batches of ITEMS; the first failure stops the rest and is raised.

    WORK calls meter.done(hash, nbytes) for each object it completes.
    """
    stats = Stats()
    if not items:
        return stats
    batches = _batches(items, batch_size, jobs, sizes, getattr(remote, "batch_bytes", None))
    pool = ThreadPoolExecutor(max(1, min(jobs, len(batches))))
    finished_cleanly = False
    unavailable = None
    before = meter.objects, meter.bytes
    remote.on_bytes(meter.partial)
    try:
        pending = {pool.submit(work, batch): batch for batch in batches}
        while pending:
            finished, _ = wait(pending, timeout=meter.TICK, return_when=FIRST_EXCEPTION)
            meter.tick()  # bytes of large objects move between completions
            for future in finished:
                batch = pending.pop(future)
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    if isinstance(error, RemoteUnavailable):
                        unavailable = error  # told what did not move once the pool is down
                    if isinstance(error, ExpError):
                        raise error
                    if isinstance(error, OSError):
                        item = batch[0] if len(batch) == 1 else f"{batch[0]} (or one of {len(batch)})"
                        raise ExpError(f"cannot {verb} object {item}: "
                                       f"{error.strerror or error}"
                                       + (f" ('{error.filename}')" if error.filename else "")) from error
                    raise error
                future.result()
        finished_cleanly = True
    finally:
        remote.on_bytes(None)
        if not finished_cleanly:
            # Ctrl-C or a failure: drop what has not started, and make what
            # is running stop at its next chunk and discard its temp file.
            remote.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        if unavailable is not None:
            # Say what did not move (batches under way finished or stopped by
            # now): the rerun that resumes moves only that.
            left = meter.total_objects - meter.objects
            unavailable.message += (f"\n{left} of {meter.total_objects} object(s) were not "
                                    f"{'sent' if verb == 'send' else 'received'}")
    stats.objects = meter.objects - before[0]
    stats.bytes = meter.bytes - before[1]
    meter.tick()
    return stats


def _per_object(meter: _Meter, one: Callable[[str], int],
                after: Callable[[list[str]], None] | None = None) -> Callable[[list[str]], int]:
    """WORK for _run_parallel from ONE(hash) -> bytes; AFTER([hash]) once each object moved."""
    def work(batch: list[str]) -> int:
        total = 0
        for h in batch:
            n = one(h)
            if after is not None:
                after([h])
            meter.done(h, n)
            total += n
        return total
    return work


def _batched(meter: _Meter, many: Callable[[list[tuple[str, str]]], int], where: Callable[[str], str],
             after: Callable[[list[str]], None] | None = None) -> Callable[[list[str]], int]:
    """WORK for _run_parallel from a remote's put_batch/get_batch.

    A batch call reports nothing per object, so its objects are counted
    done, with the bytes it moved, when it returns (its bytes moved along
    the way through report_bytes).
    """
    def work(batch: list[str]) -> int:
        n = many([(h, where(h)) for h in batch])
        if after is not None:
            after(batch)
        meter.done_many(batch, n)
        return n
    return work


def _worker(remote: DataRemote, meter: _Meter, direction: str, where: Callable[[str], str],
            after: Callable[[list[str]], None] | None = None) -> Callable[[list[str]], int]:
    """The per-batch work for sending or receiving with REMOTE; AFTER(hashes) once they moved."""
    if getattr(remote, "batch_size", 1) > 1:
        many = remote.put_batch if direction == "put" else remote.get_batch
        return _batched(meter, many, where, after)
    one = remote.put if direction == "put" else remote.get
    return _per_object(meter, lambda h: one(h, where(h)), after)


def plan_upload(cache: Cache, remote: DataRemote, objects: Iterable[str]) -> UploadPlan:
    """Ask REMOTE once which OBJECTS it lacks; split them by whether the cache has them.

    First the remote clears what earlier interrupted uploads left behind
    (temp files, unfinished multipart uploads), so a later push tidies up
    even when it has nothing left to send.
    """
    wanted = set(objects)
    if not wanted:
        return UploadPlan()
    try:
        remote.clean_temp()
    except ExpError:
        pass  # best effort: a store may not let us list uploads; the transfer itself may work
    lacking = wanted - remote.has_many(wanted)
    local = {h for h in lacking if cache.has(h)}
    return UploadPlan(send=sorted(local), unavailable=lacking - local)


def send(cache: Cache, remote: DataRemote, hashes: Iterable[str], progress: Progress | None = None,
         jobs: int = DEFAULT_JOBS) -> Stats:
    """Upload HASHES from the cache: files first, then the manifests that list them."""
    hashes = sorted(set(hashes))
    sizes = {h: os.path.getsize(cache.object_path(h)) for h in hashes if cache.has(h)}
    missing = [h for h in hashes if h not in sizes]
    if missing:
        raise ExpError(f"{len(missing)} object(s) to send are not in the cache: {', '.join(missing[:5])}")
    if not hashes:
        return Stats()
    meter = _Meter(progress)
    meter.grow(len(hashes), sum(sizes.values()))
    stats = Stats()
    work = _worker(remote, meter, "put", cache.object_path)
    batch = getattr(remote, "batch_size", 1)
    for phase in ([h for h in hashes if not h.endswith(DIR_SUFFIX)],
                  [h for h in hashes if h.endswith(DIR_SUFFIX)]):
        stats += _run_parallel(phase, work, jobs, meter, "send", remote, batch, sizes)
    return stats


def _discard(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def download(cache: Cache, remote: DataRemote, hashes: Iterable[str], progress: Progress | None = None,
             jobs: int = DEFAULT_JOBS, sizes: dict[str, int] | None = None) -> tuple[Stats, set[str]]:
    """Fetch the HASHES the cache lacks; (stats, the objects the remote lacks).

    Every object arrives under a temporary name the cache gives
    (Cache.incoming) and the cache publishes it (Cache.adopt): the remote's
    get() hashed it on arrival. A directory's manifest is fetched first, its
    files after, and the manifest is published last, only if all of them
    arrived; a directory with files the remote lacks is reported as lacking too.
    """
    sizes = dict(sizes or {})
    wanted = {h for h in hashes if not cache.has(h)}
    if not wanted:
        return Stats(), set()
    # Remotes that must name an object's size to ask for it (LFS) are told what we know.
    expect_sizes = getattr(remote, "expect_sizes", lambda sizes: None)
    expect_sizes(sizes)
    present = remote.has_many(wanted)
    lacking = wanted - present
    manifests = sorted(h for h in present if h.endswith(DIR_SUFFIX))
    files = {h for h in present if not h.endswith(DIR_SUFFIX)}
    meter = _Meter(progress)
    meter.grow(len(present), sum(sizes.get(h, 0) for h in files))
    stats = Stats()
    staged: dict[str, str] = {}     # manifests, published once their files are in
    arriving: dict[str, str] = {}   # files, published as soon as they are whole

    def stage(into: dict[str, str]) -> Callable[[str], str]:
        def dest(h: str) -> str:
            tmp = cache.incoming(h)
            into[h] = tmp  # dict writes are atomic under the GIL
            return tmp
        return dest

    def adopt_arrived(batch: list[str]) -> None:
        # get() left each object whole and verified at its temporary name, or nothing there.
        for h in batch:
            tmp = arriving.pop(h, None)
            if tmp is not None and os.path.exists(tmp):
                cache.adopt(tmp, h, verified=True)

    try:
        batch = getattr(remote, "batch_size", 1)
        stats += _run_parallel(manifests, _worker(remote, meter, "get", stage(staged)), jobs,
                               meter, "receive", remote, batch)
        inside: dict[str, set[str]] = {}
        for h in manifests:
            with open(staged[h], "rb") as f:
                entries = parse_manifest(f.read())
            inside[h] = {e.hash for e in entries}
            for e in entries:
                sizes.setdefault(e.hash, e.size)
        more = set().union(*inside.values()) - files if inside else set()
        more = {h for h in more if not cache.has(h)}
        expect_sizes(sizes)
        if more:
            found = remote.has_many(more)
            lacking |= more - found
            meter.grow(len(found), sum(sizes.get(h, 0) for h in found))
            files |= found
        stats += _run_parallel(sorted(files), _worker(remote, meter, "get", stage(arriving), adopt_arrived),
                               jobs, meter, "receive", remote, batch, sizes)
        for h in manifests:
            if inside[h] & lacking:
                lacking.add(h)  # never a manifest without its files
                continue
            cache.adopt(staged.pop(h), h, verified=True)
    finally:
        # After a failure or Ctrl-C the pool is down: what arrived whole is kept, the rest dropped.
        adopt_arrived(list(arriving))
        for tmp in staged.values():
            _discard(tmp)
    return stats, lacking
