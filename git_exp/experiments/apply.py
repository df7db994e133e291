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
from dataclasses import dataclass, field

from git_exp.errors import ExpError
from git_exp.experiments import apply_plan as ap
from git_exp.worktree.snapshot import snapshot_tree
from git_exp.git import GitCommandError, git
from git_exp.worktree_writes import WorkTree

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Callable, Collection

    from git_exp.data.cache import Cache, Progress
    from git_exp.data.hashing import HashInfo
    from git_exp.remotes.fetch import FetchReport
    from git_exp.repo import Repository

BACKUP_PREFIX = "refs/exp-backups/"
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
    fetched: FetchReport | None = None   # when missing data was fetched


class ApplyConflict(ExpError):
    """Local untracked or ignored files that apply would overwrite."""

    def __init__(self, name: str, paths: list[str]) -> None:
        shown = "\n".join(f"\t{p}" for p in paths[:_SHOWN])
        more = f"\n\t... and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else ""
        super().__init__(f"applying {name} would overwrite these untracked or ignored files:\n{shown}{more}",
                         hint="move or remove them, or run again with --force "
                              "(the backup then keeps your version of each)")
        self.paths = paths


# -- 2. backup -------------------------------------------------------------------

def _current_data(repo: Repository, cache: Cache, also: Collection[str] = ()) -> dict[str, HashInfo]:
    """The data present in the work tree now (cached outs, pointer-tracked
    paths, and the paths of ALSO), saved into the cache."""
    from git_exp.worktree.records import worktree_pointers
    from git_exp.pipeline.spec import load_pipeline
    wanted = set(worktree_pointers(repo)) | set(also)
    try:
        pipeline = load_pipeline(repo.root)
        wanted |= {o.path for s in pipeline.stages.values() for o in s.outs if o.cache}
    except ExpError:
        pass
    data: dict[str, HashInfo] = {}
    for rel in sorted(wanted):
        path = os.path.join(repo.root, rel)
        if os.path.exists(path) and not os.path.islink(path):
            try:
                data[rel] = cache.save(path)
            except ExpError:
                if rel in also:
                    raise  # data apply would replace must be in the backup
    return data


def backup(repo: Repository, cache: Cache, tree: str | None = None,
           also_data: Collection[str] = ()) -> tuple[str, str]:
    """Record the work tree (files and data) as a restorable commit; return (ref, sha)."""
    from git_exp.worktree.backups import write_backup
    return write_backup(repo, _current_data(repo, cache, also_data), "exp: work tree before git exp apply",
                        tree=tree)


# -- 3. write --------------------------------------------------------------------

def apply_commit(repo: Repository, sha: str, make_backup: bool = True, force: bool = False,
                 name: str | None = None, on_backup: Callable[[str | None], object] | None = None,
                 fetch_progress: Progress | None = None) -> ApplyResult:
    """Make the work tree hold commit SHA's files and data; see the module doc.

    ON_BACKUP(ref) is called once the backup exists, before the first write.
    FETCH_PROGRESS (a transfer Progress callback) hears of data fetched first.
    """
    from git_exp.data.cache import Cache
    from git_exp.data.links import parse_link_types

    cache = Cache(repo.exp_dir, parse_link_types(repo.config.get("exp.cache.type")))
    tree = WorkTree(repo.root, cache.root)
    plan = ap.plan(repo, sha)  # validates everything before anything is touched
    snap = snapshot_tree(repo)
    snapshot = ap.ls_tree(repo, snap)
    ap.find_in_way(repo, plan, snapshot)
    data_in_way, data_present = ap.find_data_in_way(repo, plan, tree)
    in_way = sorted(set(plan.in_way) | set(data_in_way))
    if in_way and not force:
        raise ApplyConflict(name or sha[:7], in_way)
    from git_exp.remotes.fetch import auto_fetch
    fetched = auto_fetch(repo, plan.data, fetch_progress)  # what the cache lacks, from the upstream's data remote
    if plan.ignored_in_way:
        snap = snapshot_tree(repo, also=sorted(plan.ignored_in_way))
    backup_ref = None
    if make_backup:
        backup_ref, _ = backup(repo, cache, snap, data_present)
    if on_backup is not None:
        on_backup(backup_ref)
    result = ApplyResult(sha, backup_ref, forced=in_way, fetched=fetched)

    # Ours to remove: files the index tracks, or an earlier apply wrote and
    # nobody changed since, that the experiment does not have.
    gone = sorted(p for p in set(plan.index) | set(plan.applied)
                  if p not in plan.files and os.path.lexists(os.path.join(repo.root, p))
                  and (p in plan.index or plan.applied[p] == ap.blob_now(repo, p, snapshot)))
    writes = sorted(p for p, entry in plan.files.items()
                    if snapshot.get(p) != entry and plan.local.get(p) != entry[1])
    applied = {p: b for p, (_, b) in plan.files.items()
               if p not in plan.index and (p in writes or p in plan.applied)}
    ap.write_applied(repo, {**plan.applied, **applied})  # before writing: see the module doc
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
    ap.write_applied(repo, applied)
    return result


# Files rendered by one `checkout-index` before they are placed: bounds the
# staging folder's size, and a process per 256 files costs little.
_BATCH = 256


def _write_files(repo: Repository, tree: WorkTree, sha: str, modes: dict[str, str]) -> int:
    """Write the files of commit SHA named in MODES (path -> mode) through TREE."""
    if not modes:
        return 0
    from git_exp.data.links import current_umask
    stage = _staging_folder(repo)
    index = os.path.join(stage, "index")
    # The staging folder as the work tree: Git renders each file (filters,
    # attributes, eol) there, and the door alone puts it in the real one.
    env = dict(os.environ, GIT_INDEX_FILE=index, GIT_WORK_TREE=stage, GIT_DIR=repo.git_dir)
    paths = list(modes)
    # As Git: with core.symlinks=false a link is checked out as a file holding its target.
    symlinks = repo.config.get_bool("core.symlinks", True)
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
                if modes[rel] == ap.LINK and symlinks:
                    with open(staged, "rb") as fh:
                        target = fh.read().decode("utf-8", "surrogateescape")
                    tree.symlink(rel, target)  # as Git does; the door never writes through it
                    os.unlink(staged)
                else:
                    executable = modes[rel] == "100755"
                    os.chmod(staged, (0o777 if executable else 0o666) & ~current_umask())
                    tree.place(staged, rel)
                written += 1
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return written


_STAGE_PREFIX = "exp-apply."


def _staging_folder(repo: Repository) -> str:
    """A fresh <git dir>/exp-apply.<pid>/ (beside the work tree, so a rename
    moves a file into it); those of applies that were killed are removed.
    Not under .git/exp/tmp: queue recovery owns that folder's entries."""
    for name in os.listdir(repo.git_dir):
        pid = name[len(_STAGE_PREFIX):]
        if name.startswith(_STAGE_PREFIX) and pid.isdigit() and int(pid) != os.getpid() \
                and not _alive(int(pid)):
            shutil.rmtree(os.path.join(repo.git_dir, name), ignore_errors=True)
    stage = os.path.join(repo.git_dir, f"{_STAGE_PREFIX}{os.getpid()}")
    shutil.rmtree(stage, ignore_errors=True)
    os.mkdir(stage)
    return stage


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process: leave its folder alone
    return True


def _run(args: list[str], cwd: str, env: dict[str, str], sha: str, stdin: bytes | None = None) -> bytes:
    try:
        return git(args, cwd=cwd, env=env, input=stdin).stdout
    except GitCommandError as exc:
        raise ExpError(f"cannot apply {sha[:7]}: {exc.reason}") from None
