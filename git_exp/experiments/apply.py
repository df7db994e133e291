"""`git exp apply`: put an experiment's files and data into the work tree.

It behaves as `git checkout` does for what the experiment does not know:
untracked and ignored files it does not contain stay where they are, and a
local untracked or ignored file it would overwrite with different content is
refused (ApplyConflict names them) unless FORCE. Tracked files it changes or
deletes are replaced: the backup holds them.

Three phases, and nothing in the work tree changes before the third:

1. plan: the experiment's files (`ls-tree`) and data (exp.lock, pointers)
   are checked against the work-tree door's rules and against each other (a
   data path through a symlink of the experiment's own tree is refused), and
   the local files in the way are found;
2. backup: the work tree (tracked and untracked files, with FORCE also the
   ignored files in the way) as a commit under refs/exp-backups/, and its
   data saved into the cache and named in Exp-Data trailers. ON_BACKUP gets
   the ref before the first write, so the command can print the restore
   command at once (and again on Ctrl-C);
3. write: every write and removal through worktree_writes.WorkTree. Git
   renders each file (`checkout-index --temp`, so filters and attributes
   apply) into a staging folder, and the door renames it into place: after
   Ctrl-C each file is its old or its new version, never half of one.

HEAD and the index never move. The files apply wrote that the index does
not track are remembered in <git dir>/exp-applied (path -> blob), so the
next apply may replace or remove them as its own: applying one experiment
after another, or restoring a backup, is not refused because of files the
previous apply put there.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field

from git_exp.data.tracked import data_at
from git_exp.errors import ExpError
from git_exp.experiments.snapshot import commit_tree, snapshot_tree
from git_exp.gitcmd import git
from git_exp.worktree_writes import WorkTree, path_problem

BACKUP_PREFIX = "refs/exp-backups/"
APPLIED_FILE = "exp-applied"
_LINK = "120000"
_SHOWN = 10


@dataclass
class ApplyResult:
    sha: str
    backup_ref: str | None
    written: int = 0
    removed: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    saved_first: list[str] = field(default_factory=list)
    forced: list[str] = field(default_factory=list)   # local files overwritten with --force


class ApplyConflict(ExpError):
    """Local untracked or ignored files that apply would overwrite."""

    def __init__(self, name: str, paths: list[str]):
        shown = "\n".join(f"\t{p}" for p in paths[:_SHOWN])
        more = f"\n\t... and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else ""
        super().__init__(f"applying {name} would overwrite these untracked or ignored files:\n{shown}{more}",
                         hint="move or remove them, or run again with --force "
                              "(the backup then keeps your version of each)")
        self.paths = paths


@dataclass
class _Plan:
    files: dict            # path -> (mode, blob) of the experiment's tree
    data: dict             # data path -> HashInfo
    index: dict            # path -> blob of the user's index (what Git tracks)
    applied: dict          # path -> blob an earlier apply wrote (exp-applied)
    in_way: list = field(default_factory=list)       # untracked/ignored paths that differ
    ignored_in_way: list = field(default_factory=list)  # of those, not in the snapshot
    local: dict = field(default_factory=dict)        # untracked target path -> its blob now


# -- reading ---------------------------------------------------------------------

def _ls_tree(repo, rev: str) -> dict[str, tuple[str, str]]:
    out = git(["ls-tree", "-r", "-z", "--full-tree", rev], cwd=repo.root).stdout
    files = {}
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        mode, kind, blob = meta.decode().split()
        path = name.decode("utf-8", "surrogateescape")
        if kind == "blob":
            files[path] = (mode, blob)
    return files


def _index(repo) -> dict[str, str]:
    out = git(["ls-files", "-s", "-z"], cwd=repo.root).stdout
    index = {}
    for entry in out.split(b"\0"):
        if entry:
            meta, _, name = entry.partition(b"\t")
            index[name.decode("utf-8", "surrogateescape")] = meta.split()[1].decode()
    return index


def _applied_path(repo) -> str:
    return os.path.join(repo.git_dir, APPLIED_FILE)


def _read_applied(repo) -> dict[str, str]:
    try:
        with open(_applied_path(repo), encoding="utf-8", errors="surrogateescape") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return {}
    return {p: b for b, _, p in (line.partition("\t") for line in lines) if p}


def _write_applied(repo, applied: dict[str, str]) -> None:
    from git_exp.atomic import write_atomic
    text = "".join(f"{b}\t{p}\n" for p, b in sorted(applied.items()))
    write_atomic(_applied_path(repo), text.encode("utf-8", "surrogateescape"))


def _hash_local(repo, paths: list[str]) -> dict[str, str | None]:
    """Blob sha each of PATHS would have in Git now (filters applied); None for a folder."""
    found: dict[str, str | None] = {}
    regular = []
    for rel in paths:
        full = os.path.join(repo.root, rel)
        if os.path.islink(full):
            target = os.readlink(full).encode("utf-8", "surrogateescape")
            found[rel] = git(["hash-object", "--stdin"], cwd=repo.root, input=target).stdout.decode().strip()
        elif os.path.isdir(full):
            found[rel] = None
        else:
            regular.append(rel)
    if regular:
        out = git(["hash-object", "--stdin-paths"], cwd=repo.root,
                  input="".join(p + "\n" for p in regular).encode("utf-8", "surrogateescape")).stdout
        found.update(zip(regular, out.decode().split()))
    return found


# -- 1. plan ---------------------------------------------------------------------

def _plan(repo, sha: str) -> _Plan:
    files = _ls_tree(repo, sha)
    for path in files:
        problem = path_problem(path)
        if problem:
            raise ExpError(f"refusing to apply {sha[:7]}: its tree holds the path {path!r} ({problem})",
                           hint="this commit was not made by Git or git-exp; do not apply it")
    links = {p for p, (mode, _) in files.items() if mode == _LINK}
    for path in files:  # a tree Git would not write (fsck: duplicateEntries)
        parent = path.rpartition("/")[0]
        while parent:
            if parent in files:
                raise ExpError(f"refusing to apply {sha[:7]}: its tree holds '{path}' inside "
                               f"'{parent}', which is {'a symlink' if parent in links else 'a file'} too",
                               hint="this commit was not made by Git or git-exp; do not apply it")
            parent = parent.rpartition("/")[0]
    data = data_at(repo, sha)
    for rel in data:
        parts = rel.split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if prefix in links:
                raise ExpError(f"refusing to apply {sha[:7]}: its data path '{rel}' goes through "
                               f"'{prefix}', a symlink in the experiment's own files",
                               hint="data is never written through a symlink; do not apply this experiment")
            if prefix in files:
                raise ExpError(f"refusing to apply {sha[:7]}: its data path '{rel}' is also "
                               f"{'inside ' if depth < len(parts) else ''}a file Git tracks ('{prefix}')",
                               hint="a path is either Git's or data; do not apply this experiment")
    return _Plan(files, data, _index(repo), _read_applied(repo))


def _find_in_way(repo, plan: _Plan, snapshot: dict[str, tuple[str, str]]) -> None:
    """Untracked or ignored local files that the experiment would overwrite with other bytes."""
    candidates = []
    for path, (mode, blob) in plan.files.items():
        if path in plan.index:
            continue  # tracked: replaced, the backup holds it
        now = snapshot.get(path)
        if now is not None:
            plan.local[path] = now[1]
            if now != (mode, blob) and plan.applied.get(path) != now[1]:
                plan.in_way.append(path)
        elif os.path.lexists(os.path.join(repo.root, path)):
            candidates.append(path)  # ignored by Git, or a folder
    # A local file or link where the experiment has a folder.
    folders = {p.rpartition("/")[0] for p in plan.files} | {p.rpartition("/")[0] for p in plan.data}
    for folder in sorted(f for f in folders if f):
        parts = folder.split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            full = os.path.join(repo.root, prefix)
            if os.path.islink(full) or (os.path.lexists(full) and not os.path.isdir(full)):
                if prefix not in plan.index and prefix not in plan.in_way:
                    plan.in_way.append(prefix)
                    if prefix not in snapshot:
                        plan.ignored_in_way.append(prefix)
                break
    for path, blob in _hash_local(repo, candidates).items():
        if blob is not None:
            plan.local[path] = blob
        if blob != plan.files[path][1] and (blob is None or plan.applied.get(path) != blob):
            plan.in_way.append(path)
            plan.ignored_in_way.append(path)
    recorded = _recorded_by_experiments(repo, {p: plan.local[p] for p in plan.in_way if p in plan.local})
    plan.in_way = [p for p in plan.in_way if p not in recorded]
    plan.ignored_in_way = [p for p in plan.ignored_in_way if p not in recorded]


# Experiments of the current commit looked at for a file's bytes: the
# newest ones; more would make apply slow in a repository with thousands.
_RECENT = 200


def _recorded_by_experiments(repo, blobs: dict[str, str]) -> set[str]:
    """Paths of BLOBS whose bytes an experiment of HEAD records at that path.

    After `git exp run` the work tree holds the run's results (exp.lock,
    metrics), untracked by the branch but recorded by the experiment, so
    replacing them loses nothing: they are not the user's unsaved bytes.
    """
    if not blobs:
        return set()
    head = git(["rev-parse", "--verify", "-q", "HEAD^{commit}"], cwd=repo.root, check=False)
    if head.returncode != 0:
        return set()
    from git_exp.experiments.refs import PREFIX
    refs = git(["for-each-ref", f"--count={_RECENT}", "--sort=-committerdate", "--format=%(objectname)",
                f"{PREFIX}{head.stdout.decode().strip()}/"], cwd=repo.root).stdout.decode().split()
    if not refs:
        return set()
    asks = [(path, f"{ref}:{path}") for path in blobs for ref in refs]
    out = git(["cat-file", "--batch-check=%(objectname)"], cwd=repo.root,
              input="".join(a + "\n" for _, a in asks).encode("utf-8", "surrogateescape")).stdout
    found = out.decode().splitlines()
    return {path for (path, _), answer in zip(asks, found) if answer.strip() == blobs[path]}


def _find_data_in_way(repo, plan: _Plan, tree: WorkTree) -> tuple[list[str], list[str]]:
    """(target data paths present locally that no local record names, with other
    content; target data paths present locally). A symlink at one (which
    checkout would refuse) goes to plan.in_way."""
    from git_exp.data.hashing import hash_path
    records = data_at(repo, None)
    in_way, present = [], []
    for rel, info in sorted(plan.data.items()):
        full = os.path.join(repo.root, rel)
        try:
            tree.path(rel, "data path", replace_link=True)
        except ExpError:
            continue  # a link on the way: _find_in_way named it, nothing is read through it
        if os.path.islink(full) and not tree.into_cache(full):
            plan.in_way.append(rel)
            plan.ignored_in_way.append(rel)  # so `git add -f` puts the link in the backup
            continue
        if not os.path.lexists(full):
            continue
        present.append(rel)
        if rel in records:
            continue
        try:
            now, _ = hash_path(full, None, cache_root=tree.cache_root)
        except ExpError:
            in_way.append(rel)
            continue
        if now.hash != info.hash:
            in_way.append(rel)
    return in_way, present


# -- 2. backup -------------------------------------------------------------------

def _current_data(repo, cache, also=()) -> dict:
    """The data present in the work tree now (cached outs, pointer-tracked
    paths, and the paths of ALSO), saved into the cache."""
    from git_exp.data.tracked import worktree_pointers
    from git_exp.pipeline.spec import load_pipeline
    wanted = set(worktree_pointers(repo)) | set(also)
    try:
        pipeline = load_pipeline(repo.root)
        wanted |= {o.path for s in pipeline.stages.values() for o in s.outs if o.cache}
    except ExpError:
        pass
    data = {}
    for rel in sorted(wanted):
        path = os.path.join(repo.root, rel)
        if os.path.exists(path) and not os.path.islink(path):
            try:
                data[rel] = cache.save(path)
            except ExpError:
                if rel in also:
                    raise  # data apply would replace must be in the backup
    return data


def backup(repo, cache, tree: str | None = None, also_data=()) -> tuple[str, str]:
    """Record the work tree (files and data) as a restorable commit; return (ref, sha)."""
    data = _current_data(repo, cache, also_data)
    head = git(["rev-parse", "--verify", "-q", "HEAD^{commit}"], cwd=repo.root, check=False)
    parents = [head.stdout.decode().strip()] if head.returncode == 0 else []
    lines = ["exp: work tree before git exp apply", ""]
    lines += [f"Exp-Data: {p}={info.hash}:{info.size}" + (f":{info.nfiles}" if info.is_dir else "")
              for p, info in sorted(data.items())]
    lines.append("Exp-Backup: true")
    sha = commit_tree(repo, tree or snapshot_tree(repo), parents, "\n".join(lines) + "\n")
    ref = f"{BACKUP_PREFIX}{time.strftime('%Y%m%d-%H%M%S')}-{sha[:7]}"
    git(["update-ref", ref, sha, ""], cwd=repo.root)
    return ref, sha


# -- 3. write --------------------------------------------------------------------

def apply_commit(repo, sha: str, make_backup: bool = True, force: bool = False,
                 name: str | None = None, on_backup=None) -> ApplyResult:
    """Make the work tree hold commit SHA's files and data; see the module doc.

    ON_BACKUP(ref) is called once the backup exists, before the first write.
    """
    from git_exp.data.cache import Cache
    from git_exp.data.links import parse_link_types

    cache = Cache(repo.exp_dir, parse_link_types(repo.config.get("exp.cache.type")))
    tree = WorkTree(repo.root, cache.root)
    plan = _plan(repo, sha)
    snap = snapshot_tree(repo)
    snapshot = _ls_tree(repo, snap)
    _find_in_way(repo, plan, snapshot)
    data_in_way, data_present = _find_data_in_way(repo, plan, tree)
    in_way = sorted(set(plan.in_way) | set(data_in_way))
    if in_way and not force:
        raise ApplyConflict(name or sha[:7], in_way)
    if plan.ignored_in_way:
        snap = snapshot_tree(repo, also=sorted(plan.ignored_in_way))
    backup_ref = None
    if make_backup:
        backup_ref, _ = backup(repo, cache, snap, data_present)
    if on_backup is not None:
        on_backup(backup_ref)
    result = ApplyResult(sha, backup_ref, forced=in_way)

    # Ours to remove: files the index tracks, or an earlier apply wrote and
    # nobody changed since, that the experiment does not have.
    gone = sorted(p for p in set(plan.index) | set(plan.applied)
                  if p not in plan.files and os.path.lexists(os.path.join(repo.root, p))
                  and (p in plan.index or plan.applied[p] == _blob_now(repo, p, snapshot)))
    writes = sorted(p for p, entry in plan.files.items()
                    if snapshot.get(p) != entry and plan.local.get(p) != entry[1])
    applied = {p: b for p, (_, b) in plan.files.items()
               if p not in plan.index and (p in writes or p in plan.applied)}
    _write_applied(repo, {**plan.applied, **applied})  # before writing: see the module doc
    for rel in gone:
        if not os.path.isdir(os.path.join(repo.root, rel)) or os.path.islink(os.path.join(repo.root, rel)):
            tree.remove(rel)
            result.removed.append(rel)
            tree.remove_empty_parents(rel)
    for rel in sorted(plan.in_way):  # with --force only; their bytes are in the backup
        if rel not in plan.files or os.path.isdir(os.path.join(repo.root, rel)):
            tree.remove(rel)
    result.written = _write_files(repo, tree, sha, {p: plan.files[p][0] for p in writes})
    from git_exp.data.state import StateMemo
    with StateMemo(repo.exp_dir) as memo:
        for rel, info in sorted(plan.data.items()):
            if cache.missing(info):
                result.missing.append(rel)
                continue
            checkout = cache.checkout(info, tree, rel, memo)
            result.data.append(rel)
            result.saved_first.extend(os.path.relpath(p, repo.root).replace(os.sep, "/")
                                      for p in checkout.saved_first)
    _write_applied(repo, applied)
    return result


def _blob_now(repo, rel: str, snapshot: dict) -> str | None:
    if rel in snapshot:
        return snapshot[rel][1]
    return _hash_local(repo, [rel]).get(rel)


# Files rendered by one `checkout-index` before they are placed: bounds the
# staging folder's size, and a process per 256 files costs little.
_BATCH = 256


def _write_files(repo, tree: WorkTree, sha: str, modes: dict[str, str]) -> int:
    """Write the files of commit SHA named in MODES (path -> mode) through TREE."""
    if not modes:
        return 0
    from git_exp.data.links import current_umask
    stage = os.path.join(repo.exp_dir, "tmp", f"apply-{os.getpid()}")
    os.makedirs(stage, exist_ok=True)
    index = os.path.join(stage, "index")
    # The staging folder as the work tree: Git renders each file (filters,
    # attributes, eol) there, and the door alone puts it in the real one.
    env = dict(os.environ, GIT_INDEX_FILE=index, GIT_WORK_TREE=stage, GIT_DIR=repo.git_dir)
    paths = list(modes)
    written = 0
    try:
        _run(["read-tree", sha], stage, env, sha)
        for start in range(0, len(paths), _BATCH):
            listed = "".join(p + "\0" for p in paths[start:start + _BATCH]).encode("utf-8", "surrogateescape")
            out = _run(["checkout-index", "--temp", "-z", "--stdin"], stage, env, sha, listed)
            for item in out.split(b"\0"):
                if not item:
                    continue
                temp, _, name = item.partition(b"\t")
                rel = name.decode("utf-8", "surrogateescape")
                staged = os.path.join(stage, temp.decode("utf-8", "surrogateescape"))
                if modes[rel] == _LINK:
                    with open(staged, "rb") as fh:
                        target = fh.read().decode("utf-8", "surrogateescape")
                    tree.symlink(rel, target)  # as Git does; the door never writes through it
                    os.unlink(staged)
                else:
                    os.chmod(staged, (0o777 if modes[rel] == "100755" else 0o666) & ~current_umask())
                    tree.place(staged, rel)
                written += 1
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return written


def _run(args: list[str], cwd: str, env: dict, sha: str, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, input=stdin,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines() or ["git failed"]
        raise ExpError(f"cannot apply {sha[:7]}: {lines[-1]}")
    return proc.stdout
