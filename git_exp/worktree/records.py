"""Which data a commit (or the work tree) records: path -> HashInfo.

Three sources, all untrusted input (they arrive with other people's commits):

- pointers: `PATH.exp` files (see pointer.py) record the data at PATH;
- exp.lock: the outs of stages that exp.yaml caches (`cache: false` outs,
  such as metrics, are Git's to track, not ours);
- `Exp-Data: PATH=HASH:SIZE` trailers: data a backup commit saved
  (refs/exp-backups/, written by `git exp apply`).

`data_at(repo, rev)` answers for one commit with a fixed, small number of
`git` processes whatever the number of pointers: one `ls-tree -r -l`, one
`cat-file --batch` for every pointer blob, exp.lock, exp.yaml and the commit
message together, and a `cat-file` per params file exp.yaml templates from.
Without a pipeline, no YAML parser is imported, so hooks stay light.
`objects_in_history(repo, revs)` answers for many commits at once (gc, push).
"""
from __future__ import annotations

import os

from git_exp.data.hashing import HashInfo
from git_exp.data.pointer import (MAX_SIZE, data_path_of, is_pointer_name, looks_like_pointer,
                                  parse_pointer, read_pointer_file)
from git_exp.errors import ExpError
from git_exp.git import git, reason
from git_exp.git.catfile import commits_among, read_objects
from git_exp.names import LOCK_FILE as LOCK
from git_exp.names import PIPELINE_FILE as PIPELINE
from git_exp.worktree_writes import refuse_unsafe

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.pipeline.records import Reader
    from git_exp.repo import Repository
_BLOB_MODES = (b"100644", b"100755")


def data_at(repo: Repository, rev: str | None = None) -> dict[str, HashInfo]:
    """Repo-relative posix data path -> HashInfo, for commit REV or (None) the work tree.

    The work tree's records are its pointer files (tracked, or new and not
    ignored) and its exp.lock/exp.yaml as they are on disk. A malformed
    pointer or lock entry raises ExpError naming the file; a path that would
    leave the work tree is refused. Paths are not checked against the
    filesystem here (see paths.check_data_path, done before writing).
    """
    if rev is None:
        return _worktree_data(repo)
    return _commit_data(repo, rev)


def cached_outs_at(repo: Repository, sha: str) -> dict[str, HashInfo]:
    """The data commit SHA records (the name `git exp apply` first used)."""
    return data_at(repo, sha)


# -- one commit ---------------------------------------------------------------

def pointer_blobs(repo: Repository, rev: str | None, untracked: bool = True) -> dict[str, bytes | None]:
    """Pointer path -> blob sha of the candidate pointer files of REV (None: the work tree).

    For the work tree, a tracked pointer that Git sees unmodified maps to its
    index blob; a modified or (with UNTRACKED) new one maps to None (read the
    file). Comparing blob shas tells which pointers changed without reading
    any. Finding untracked files makes Git walk the work tree, which costs
    far more than the rest when data files are ignored one by one.
    """
    if rev is not None:
        return dict(tree_blobs(repo, rev)[0])
    blobs: dict[str, bytes | None] = {path: sha if merged else None
                                      for path, sha, merged in _indexed_pointers(repo)}
    which = ["--modified", "--others", "--exclude-standard"] if untracked else ["--modified"]
    dirty = git(["ls-files", "-z", *which, "--", "*.exp"], cwd=repo.root).stdout
    for name in dirty.split(b"\0"):
        path = name.decode("utf-8", "surrogateescape")
        if path and is_pointer_name(path):
            blobs[path] = None
    return blobs


def _indexed_pointers(repo: Repository) -> list[tuple[str, bytes, bool]]:
    """(path, blob sha, whether merged: stage 0) of each pointer file in the index."""
    out = git(["ls-files", "-s", "-z", "--", "*.exp"], cwd=repo.root).stdout
    found = []
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        mode, sha, stage = meta.split()
        path = name.decode("utf-8", "surrogateescape")
        if mode in _BLOB_MODES and is_pointer_name(path):
            found.append((path, sha, stage == b"0"))
    return found


def tree_blobs(repo: Repository, rev: str) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(pointer path -> blob sha, {exp.lock, exp.yaml} -> blob sha) of commit REV, one `ls-tree`."""
    proc = git(["ls-tree", "-r", "-l", "-z", "--full-tree", rev], cwd=repo.root, check=False)
    if proc.returncode != 0:
        raise ExpError(f"cannot read the files of '{rev}': {reason(proc.stderr, proc.returncode)}")
    pointers: dict[str, bytes] = {}
    special: dict[str, bytes] = {}
    for entry in proc.stdout.split(b"\0"):
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        mode, kind, sha, size = meta.split()
        path = name.decode("utf-8", "surrogateescape")
        if kind != b"blob" or mode not in _BLOB_MODES:
            continue
        if path in (LOCK, PIPELINE):
            special[path] = sha
        elif is_pointer_name(path) and int(size) <= MAX_SIZE:
            pointers[path] = sha
    return pointers, special


def read_pointers(repo: Repository, blobs: dict[str, bytes | None], label: str | None = None) -> dict[str, HashInfo]:
    """Data path -> HashInfo of the pointers in BLOBS (see pointer_blobs).

    Blobs are read with one `cat-file`; None entries from the work tree.
    Files without the pointer marker are not ours and are skipped.
    """
    contents = read_objects(repo.root, [b for b in blobs.values() if b is not None])
    data: dict[str, HashInfo] = {}
    for path, sha in blobs.items():
        where = f"{label}:{path}" if label else path
        if sha is None:
            info = read_pointer_file(repo.root, path)
        else:
            content = contents.get(sha, b"")
            info = parse_pointer(content, where) if looks_like_pointer(content) else None
        if info is not None:
            data[_safe(data_path_of(path))] = info
    return data


def _commit_data(repo: Repository, rev: str) -> dict[str, HashInfo]:
    pointers, special = tree_blobs(repo, rev)
    return commit_records(repo, rev, pointers, special)


def commit_records(repo: Repository, rev: str, pointers: dict[str, bytes],
                   special: dict[str, bytes]) -> dict[str, HashInfo]:
    """data_at for commit REV from the blobs tree_blobs found (or a caller listed, sizes checked)."""
    commit = f"{rev}^{{commit}}".encode()
    objects = read_objects(repo.root, [commit, *special.values(), *pointers.values()])
    data: dict[str, HashInfo] = {}
    if LOCK in special:
        spec = objects.get(special[PIPELINE]) if PIPELINE in special else None
        data.update(_lock_outs(repo, objects[special[LOCK]], spec,
                               read=lambda rel: _read_at(repo, rev, rel), where=f"commit {rev[:12]}"))
    for path, sha in pointers.items():
        content = objects.get(sha, b"")
        if looks_like_pointer(content):
            data[_safe(data_path_of(path))] = parse_pointer(content, f"{rev}:{path}")
    data.update(trailer_data(objects.get(commit, b"").decode("utf-8", "replace")))
    return data


def lock_data_at(repo: Repository, rev: str | None) -> dict[str, HashInfo]:
    """Only the exp.lock outs (and, for a commit, Exp-Data trailers) of REV or the work tree."""
    if rev is None:
        return _worktree_lock(repo)
    names = [f"{rev}^{{commit}}".encode(), f"{rev}:{LOCK}".encode(), f"{rev}:{PIPELINE}".encode()]
    objects = read_objects(repo.root, names)
    data: dict[str, HashInfo] = {}
    if names[1] in objects:
        data.update(_lock_outs(repo, objects[names[1]], objects.get(names[2]),
                               read=lambda rel: _read_at(repo, rev, rel), where=f"commit {rev[:12]}"))
    data.update(trailer_data(objects.get(names[0], b"").decode("utf-8", "replace")))
    return data


def _read_at(repo: Repository, rev: str, rel: str) -> str | None:
    proc = git(["cat-file", "blob", f"{rev}:{rel}"], cwd=repo.root, check=False)
    return proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else None


def trailer_data(message: str) -> dict[str, HashInfo]:
    """`Exp-Data: PATH=HASH:SIZE[:NFILES]` trailers of a commit message (backups write them)."""
    paragraphs = message.strip().split("\n\n")
    data: dict[str, HashInfo] = {}
    for line in paragraphs[-1].splitlines() if len(paragraphs) > 1 else []:
        key, sep, value = line.partition(": ")
        if not sep or key != "Exp-Data":
            continue
        path, _, encoded = value.partition("=")
        # HASH:SIZE[:NFILES]; a directory written without its file count (by
        # early versions) records 0: the count is informational, its manifest
        # says which files it has.
        digest, _, rest = encoded.partition(":")
        size, _, nfiles = rest.partition(":")
        if not size.isdigit() or (nfiles and not nfiles.isdigit()):
            raise ExpError(f"malformed Exp-Data trailer {value!r}",
                           hint="the commit's message was not written by git-exp; do not apply it")
        d = {"hash": digest, "size": int(size)}
        if digest.endswith(".dir"):
            d["nfiles"] = int(nfiles or 0)
        info = HashInfo.from_dict(d)
        data[_safe(path)] = info
    return data


def _safe(path: str) -> str:
    # The work-tree door's rule, checked as soon as a record is read.
    return refuse_unsafe(path, "data path")


def _lock_outs(repo: Repository, lock: bytes, spec: bytes | None, read: Reader | None,
               where: str | None) -> dict[str, HashInfo]:
    """The cached outs in LOCK, filtered by the pipeline SPEC when it parses."""
    from git_exp.pipeline.lock import parse_lock
    from git_exp.pipeline.spec import parse_pipeline

    try:
        entries = parse_lock(lock.decode("utf-8", "replace"))
    except ExpError as err:
        if where is None:
            raise
        raise ExpError(f"{where}: {err.message}", hint=err.hint) from None
    cached = None
    if spec is not None:
        try:
            pipeline = parse_pipeline(spec.decode("utf-8", "replace"), repo.root, read=read)
            cached = {o.path for s in pipeline.stages.values() for o in s.outs if o.cache}
        except ExpError:
            cached = None  # a broken exp.yaml: every lock out counts as data
    data = {}
    for entry in entries.values():
        for path, info in entry.outs.items():
            if cached is None or path in cached:
                data[_safe(path)] = info
    return data


# -- the work tree ------------------------------------------------------------

def worktree_pointers(repo: Repository) -> dict[str, HashInfo]:
    """Data path -> HashInfo of the pointer files in the work tree (tracked or new)."""
    return read_pointers(repo, pointer_blobs(repo, None))


def index_pointers(repo: Repository) -> dict[str, HashInfo]:
    """Data path -> HashInfo of the pointers staged in the index (what a commit records)."""
    staged = {path: sha for path, sha, merged in _indexed_pointers(repo) if merged}
    blobs = read_objects(repo.root, staged.values())
    data = {}
    for path, sha in staged.items():
        content = blobs.get(sha, b"")
        if looks_like_pointer(content):
            data[_safe(data_path_of(path))] = parse_pointer(content, path)
    return data


def _worktree_lock(repo: Repository) -> dict[str, HashInfo]:
    lock_path = os.path.join(repo.root, LOCK)
    if not os.path.isfile(lock_path):
        return {}
    from git_exp.pipeline.spec import work_tree_reader
    spec = work_tree_reader(repo.root)(PIPELINE)
    with open(lock_path, "rb") as fh:
        lock = fh.read()
    return _lock_outs(repo, lock, spec.encode() if spec is not None else None, None, None)


def _worktree_data(repo: Repository) -> dict[str, HashInfo]:
    data = _worktree_lock(repo)
    data.update(worktree_pointers(repo))
    return data


# -- many commits ---------------------------------------------------------------

def history_roots(repo: Repository) -> list[str]:
    """The commits every ref and every worktree's HEAD point at (tags peeled).

    What `git log --all` starts from, listed so that a worktree being added
    or removed right now (a queue worker's), or a ref naming a blob, is
    skipped instead of failing the walk ("fatal: bad object
    worktrees/X/HEAD"): gc and checkout must not fail because of either.
    """
    refs = git(["for-each-ref", "--format=%(objectname) %(*objectname)"], cwd=repo.root).stdout
    candidates = {line.split()[-1] for line in refs.decode().splitlines() if line.strip()}
    trees = git(["worktree", "list", "--porcelain", "-z"], cwd=repo.root, check=False).stdout
    candidates |= {f[5:] for f in trees.decode("utf-8", "surrogateescape").split("\0") if f.startswith("HEAD ")}
    # Sorted: the same refs give the same answer; all-zero shas are unborn HEADs.
    return commits_among(repo.root, sorted(c for c in candidates if c.strip("0")))


def objects_in_history(repo: Repository, revs: list[str], stdin: bool = False,
                       options: tuple[str, ...] = ()) -> tuple[set[HashInfo], list[str]]:
    """Every HashInfo recorded by any commit `git log REVS` walks, and problems met.

    For gc (REVS = ['--all']) and for push (e.g. [new, '^old']). Instead of
    reading each commit's tree, `git log --raw -m` lists every version of a
    pointer or exp.lock that a walked commit introduced: a blob in a commit's
    tree either came from its parent or shows up in that diff, so walking
    to the roots sees every version. All outs of a lock are returned, even
    `cache: false` ones: the runner caches those too, and keeping an object
    is always safe. Malformed files are skipped and described in the second
    value rather than stopping the walk: they reference nothing we can keep.
    """
    if not revs:
        return set(), []
    # STDIN: many revs (history_roots) go through `--stdin`, not the command line.
    # OPTIONS (such as --since) stay on the command line: `--stdin` takes revisions only.
    given, feed = (["--stdin"], ("\n".join(revs) + "\n").encode()) if stdin else (list(revs), None)
    given = [*options, *given]
    proc = git(["log", "--format=%x01", "--raw", "-z", "--no-abbrev", "-m", "--no-renames",
                "--diff-filter=AMT", *given, "--", "*.exp", LOCK], cwd=repo.root, input=feed)
    candidates: dict[bytes, str] = {}
    fields = proc.stdout.split(b"\0")
    i = 0
    while i < len(fields):
        field = fields[i].lstrip(b"\n\x01")
        if field.startswith(b":"):
            parts = field[1:].split()
            path = fields[i + 1].decode("utf-8", "surrogateescape") if i + 1 < len(fields) else ""
            i += 2
            if len(parts) >= 4 and parts[1] in _BLOB_MODES:
                if path == LOCK or is_pointer_name(path):
                    candidates.setdefault(parts[3], path)
            continue
        i += 1
    infos: set[HashInfo] = set()
    problems: list[str] = []
    blobs = read_objects(repo.root, candidates)
    for sha, content in blobs.items():
        path = candidates[sha]
        where = f"{path} (blob {sha.decode()[:12]})"
        try:
            if path == LOCK:
                from git_exp.pipeline.lock import parse_lock
                for entry in parse_lock(content.decode("utf-8", "replace")).values():
                    infos.update(entry.outs.values())
            elif looks_like_pointer(content):
                infos.add(parse_pointer(content, where))
        except ExpError as err:
            problems.append(f"{where}: {err.message}")
    messages = git(["log", "--format=%B%x00", "--grep=^Exp-Data: ", *given], cwd=repo.root, input=feed).stdout
    for message in messages.decode("utf-8", "replace").split("\0"):
        try:
            infos.update(trailer_data(message).values())
        except ExpError as err:
            problems.append(err.message)
    return infos, problems
