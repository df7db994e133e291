"""Moving objects between the cache and a data remote: only what is missing, in parallel.

The remote is asked once, in bulk, which of the objects it lacks; only those
move, from a thread pool (the work is waiting on disks and networks, which
releases the GIL). A failed or interrupted transfer leaves no partial object
anywhere: each object is written under a temporary name and published only
once complete and verified (remote.write_verified), and the pool stops
taking new objects at the first failure.

Directory objects keep the cache's invariant on both sides: a manifest is
published only after every file it lists is there, so a manifest present
anywhere means its files are too.
"""
from __future__ import annotations

import os
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable, Iterable

from git_exp.data.hashing import DIR_SUFFIX, parse_manifest
from git_exp.data.links import temp_name
from git_exp.errors import ExpError

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
    def __init__(self, progress: Progress | None):
        self.progress = progress
        self.objects = self.bytes = self.total_objects = self.total_bytes = 0

    def grow(self, objects: int, nbytes: int) -> None:
        self.total_objects += objects
        self.total_bytes += nbytes
        self.tick()

    def done(self, nbytes: int) -> None:
        self.objects += 1
        self.bytes += nbytes
        self.tick()

    def tick(self) -> None:
        if self.progress:
            self.progress(self.objects, self.total_objects, self.bytes, self.total_bytes)


def _run_parallel(items: list[str], work: Callable[[str], int], jobs: int, meter: _Meter,
                  verb: str, remote) -> Stats:
    """work(item) -> bytes for every item; the first failure stops the rest and is raised."""
    stats = Stats()
    if not items:
        return stats
    pool = ThreadPoolExecutor(max(1, min(jobs, len(items))))
    finished_cleanly = False
    try:
        pending = {pool.submit(work, item): item for item in items}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_EXCEPTION)
            for future in finished:
                item = pending.pop(future)
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    if isinstance(error, ExpError):
                        raise error
                    if isinstance(error, OSError):
                        raise ExpError(f"cannot {verb} object {item}: "
                                       f"{error.strerror or error}"
                                       + (f" ('{error.filename}')" if error.filename else "")) from error
                    raise error
                nbytes = future.result()
                stats.objects += 1
                stats.bytes += nbytes
                meter.done(nbytes)
        finished_cleanly = True
    finally:
        if not finished_cleanly:
            # Ctrl-C or a failure: drop what has not started, and make what
            # is running stop at its next chunk and discard its temp file.
            remote.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
    return stats


def plan_upload(cache, remote, objects: Iterable[str]) -> UploadPlan:
    """Ask REMOTE once which OBJECTS it lacks; split them by whether the cache has them."""
    wanted = set(objects)
    if not wanted:
        return UploadPlan()
    lacking = wanted - remote.has_many(wanted)
    local = {h for h in lacking if cache.has(h)}
    return UploadPlan(send=sorted(local), unavailable=lacking - local)


def send(cache, remote, hashes: Iterable[str], progress: Progress | None = None,
         jobs: int = DEFAULT_JOBS) -> Stats:
    """Upload HASHES from the cache: files first, then the manifests that list them."""
    hashes = sorted(set(hashes))
    sizes = {h: os.path.getsize(cache.object_path(h)) for h in hashes if cache.has(h)}
    missing = [h for h in hashes if h not in sizes]
    if missing:
        raise ExpError(f"{len(missing)} object(s) to send are not in the cache: {', '.join(missing[:5])}")
    meter = _Meter(progress)
    meter.grow(len(hashes), sum(sizes.values()))
    stats = Stats()
    for phase in ([h for h in hashes if not h.endswith(DIR_SUFFIX)],
                  [h for h in hashes if h.endswith(DIR_SUFFIX)]):
        stats += _run_parallel(phase, lambda h: remote.put(h, cache.object_path(h)), jobs,
                               meter, "send", remote)
    return stats


def _discard(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def download(cache, remote, hashes: Iterable[str], progress: Progress | None = None,
             jobs: int = DEFAULT_JOBS, sizes: dict[str, int] | None = None) -> tuple[Stats, set[str]]:
    """Fetch the HASHES the cache lacks; (stats, the objects the remote lacks).

    A directory's manifest is fetched to a temporary name first, its files
    after, and the manifest is published last, only if all of them arrived;
    a directory with files the remote lacks is reported as lacking too.
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
    staged: dict[str, str] = {}
    try:
        def get_manifest(h: str) -> int:
            tmp = temp_name(cache.object_path(h))
            staged[h] = tmp  # dict writes are atomic under the GIL
            return remote.get(h, tmp)

        stats += _run_parallel(manifests, get_manifest, jobs, meter, "receive", remote)
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

        def get_file(h: str) -> int:
            dest = cache.object_path(h)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            return remote.get(h, dest)

        stats += _run_parallel(sorted(files), get_file, jobs, meter, "receive", remote)
        for h in manifests:
            if inside[h] & lacking:
                lacking.add(h)  # never a manifest without its files
                continue
            os.replace(staged.pop(h), cache.object_path(h))
    finally:
        for tmp in staged.values():
            _discard(tmp)
    return stats, lacking
