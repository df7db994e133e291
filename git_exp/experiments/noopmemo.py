"""The no-op `git exp run`, remembered by the stat of everything it looked at.

A plain `git exp run` (no -S, -n, -f, stage or flag) that runs no stage and
finds the work tree equal to an existing experiment records nothing: it
prints which stages were up to date and which experiment it matches. Getting
there means importing YAML, the pipeline and the runner, hashing deps and
snapshotting the work tree with Git - most of the command's time. So, as
`show` does for its workspace row (git_exp/show/workmemo.py: same stat key,
same racy-git rule, same file shape), we keep that answer with what it
depended on and replay it while all of that still matches:

- `git status --porcelain=v2 -uall` (one call): HEAD, and every tracked or
  untracked file that differs from HEAD, as the user's Git sees it (ignore
  rules, index, attributes); Git's own racy check covers unchanged tracked
  files. A digest of its output plus the stat of each file it names;
- the stat of each file the pipeline loader read (exp.yaml, templating),
  the params files, exp.lock, and every dep and out - walked through folders
  - since cached outs and data deps are ignored by Git, so status is blind
  to them; and of the Git config files (exp.maxCommitFileSize);
- the experiment's loose ref still holding its commit (a packed or missing
  ref is a miss).

The key is taken after the pipeline is loaded and before any dep is read,
and taken again when the run ends: the answer is stored only if both match.
The racy-git rule (git_exp/data/state.py) is applied as Git applies it to its
index, against the filesystem's own clock: before anything is read, the run
touches a stamp file under <exp_dir>/memo/ and notes its mtime; only files
whose mtime and ctime are strictly older than that stamp are vouched for. A
file rewritten (or re-dated) after we read it gets a ctime at or past the
stamp - never its old one - whatever the filesystem's granularity, so a
same-second rewrite is always seen; yet a no-op run right after a run can already be remembered
(show's workspace memo waits RACY_NS for want of such a stamp). Any doubt is
a miss and the run goes the long way.
"""
from __future__ import annotations

import os

from git_exp import __version__
from git_exp.atomic import write_atomic
from git_exp.git import git
from git_exp.filewatch import Watch, file_key  # one stat key, as show/workmemo.py

TYPE_CHECKING = False   # typing's, without importing typing at start-up (mypy reads the name as True)
if TYPE_CHECKING:
    from threading import Thread
    from typing import Any, Sequence

    from git_exp.experiments.refs import ExpRef
    from git_exp.pipeline.records import Pipeline
    from git_exp.repo import Repository

    FileKey = list[int] | None      # filewatch.file_key's answer, as JSON gives it back
    Status = tuple[str, str, list[str], list[str]]   # _status's answer

VERSION = 2          # 2: the status kept as its text when short (_fingerprint)
MAX_ROOTS = 32          # work trees remembered; the oldest entry goes first
MAX_FILES = 20_000      # files under deps/outs we stat; more is not worth remembering


def plain_run(name: str | None, overrides: Sequence[str], message: str | None, force: bool,
              run_cache: bool, targets: list[str] | None, downstream: bool) -> bool:
    """A run whose no-op answer may be remembered and replayed: no option at all."""
    return (name is None and not overrides and message is None and not force and run_cache
            and not targets and not downstream)


def _memo_path(repo: Repository) -> str:
    return os.path.join(repo.exp_dir, "memo", f"noop-v{VERSION}.json")


def _status(repo: Repository) -> Status | None:
    """(HEAD commit, digest of the status, paths it names, the subset that differs
    in the work tree), or None when unusable.

    The subset - entries whose work-tree column is not '.', unmerged and
    untracked ones - is what `git ls-files --modified --others --exclude-standard`
    lists: run.py checks it for oversized files instead of asking Git again."""
    proc = git(["--no-optional-locks", "status", "--porcelain=v2", "-z", "--branch",
                "--no-ahead-behind", "--untracked-files=all", "--ignore-submodules=none"],
               cwd=repo.root, check=False)
    if proc.returncode != 0:
        return None
    head = None
    paths: list[str] = []
    worktree: list[str] = []
    fields = proc.stdout.split(b"\0")
    i = 0
    while i < len(fields):
        entry = fields[i].decode("utf-8", "surrogateescape")
        i += 1
        if entry.startswith("# branch.oid "):
            head = entry[len("# branch.oid "):]
        elif entry.startswith("1 "):
            paths.append(entry.split(" ", 8)[8])
            if entry[3:4] != ".":
                worktree.append(paths[-1])
        elif entry.startswith("2 "):
            paths.append(entry.split(" ", 9)[9])
            if entry[3:4] != ".":
                worktree.append(paths[-1])
            i += 1          # the original path follows; its absence is in the digest
        elif entry.startswith("u "):
            paths.append(entry.split(" ", 10)[10])
            worktree.append(paths[-1])
        elif entry.startswith("? "):
            paths.append(entry[2:])
            worktree.append(paths[-1])
    if head is None or len(head) < 40:
        return None         # no commit yet ("(initial)"): not a no-op anyway
    return head, _fingerprint(proc.stdout), paths, worktree


# Status output up to this size is kept as it is; longer, as its SHA-256.
_RAW_STATUS = 4096


def _fingerprint(data: bytes) -> str:
    """What a status output is compared by: the text itself when short (a
    work tree with few changes: almost always), else its SHA-256. Equal
    exactly when the outputs are, and a replay with little to compare never
    loads hashlib (OpenSSL: 3 ms of a 25 ms no-op run). '=' cannot begin a
    hex digest, so the two forms never meet."""
    if len(data) <= _RAW_STATUS:
        return "=" + data.decode("utf-8", "surrogateescape")
    import hashlib
    return hashlib.sha256(data).hexdigest()


def _walk(root: str, relpath: str, into: list[str]) -> bool:
    """Add RELPATH and, for a folder, everything under it to INTO; False when too
    many, or when a folder on the way is a symlink."""
    into.append(relpath)
    full = os.path.join(root, *relpath.split("/"))
    if not os.path.isdir(full):
        return True
    if os.path.islink(full):
        return False    # a linked folder: what is in it changes no stat here
    for folder, dirs, files in os.walk(full):
        rel = os.path.relpath(folder, root).replace(os.sep, "/")
        for name in dirs:
            if os.path.islink(os.path.join(folder, name)):
                return False
        for name in dirs + files:
            into.append(f"{rel}/{name}")
        if len(into) > MAX_FILES:
            return False
    return True


def _config_files(repo: Repository) -> list[str]:
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    return [os.path.join(repo.git_dir, "config"), os.path.join(repo.common_dir, "config"),
            os.path.join(home, ".gitconfig"), os.path.join(xdg, "git", "config"),
            "/etc/gitconfig"]


def _stats(repo: Repository, relpaths: list[str], absolute: list[str]) -> dict[str, FileKey] | None:
    out: dict[str, FileKey] = {}
    try:
        for rel in relpaths:
            out[rel] = file_key(os.path.join(repo.root, *rel.split("/")))
        for full in absolute:
            out["//" + full] = file_key(full)
    except OSError:
        return None
    return out


def _ref_file(repo: Repository, ref: str) -> str:
    return os.path.join(repo.common_dir, *ref.split("/"))


def _read_ref(repo: Repository, ref: str) -> str | None:
    try:
        with open(_ref_file(repo, ref), "rb") as fh:
            return fh.read(200).decode("ascii", "replace").strip()
    except OSError:
        return None


def _env_key() -> list[str | None]:
    # What changes Git's view without changing a file here.
    return [os.environ.get(k) for k in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE",
                                         "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM",
                                         "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "HOME",
                                         "XDG_CONFIG_HOME")]


def _load(path: str) -> dict[str, Any]:
    import json   # hashlib and json where used: `run -S` imports this module only to ask plain_run
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def replay(repo: Repository) -> dict[str, Any] | None:
    """The remembered no-op answer {skipped: [[stage, reason]], name, sha}, if still true."""
    from git_exp.experiments.runlock import live_holder
    entry: Any = _load(_memo_path(repo)).get(repo.root)   # any doubt below is a miss
    try:
        if entry["version"] != __version__ or entry["env"] != _env_key():
            return None
        if live_holder(repo.git_dir) is not None:
            return None     # a run is going on: let the long way say so
        if _read_ref(repo, entry["ref"]) != entry["sha"]:
            return None
        status = _status(repo)
        if status is None or [status[0], status[1]] != entry["status"]:
            return None
        for key, stored in entry["files"].items():
            full = key[2:] if key.startswith("//") else os.path.join(repo.root, *key.split("/"))
            if file_key(full) != stored:
                return None
        answer = entry["answer"]
        if not (isinstance(answer["skipped"], list) and isinstance(answer["name"], str)):
            return None
    except (KeyError, TypeError, AttributeError, OSError, IndexError):
        return None
    return answer


def _stamp(repo: Repository) -> int | None:
    """Touch the stamp file and return its mtime: "now" on the filesystem's clock."""
    path = os.path.join(repo.exp_dir, "memo", "noop.stamp")
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(b"stamp\n")
        os.utime(path, None)
        return os.stat(path).st_mtime_ns
    except OSError:
        return None     # a read-only Git dir: no memo


def answer_ahead(repo: Repository) -> tuple[Guard | None, list[str] | None]:
    """After a run that ran stages: what a plain run would answer next, if it
    is a no-op - keyed now, before the experiment's snapshot, and stored by
    Guard.remember once recorded (still only if nothing moved meanwhile).

    Also returns the work-tree changes the status taken on the way lists
    (Guard.worktree_changed: None when none was taken), answer or not."""
    from git_exp.errors import ExpError
    from git_exp.pipeline.lock import LOCK_FILE
    from git_exp.pipeline.runner import PipelineRun
    from git_exp.pipeline.spec import load_pipeline, work_tree_reader
    guard = Guard(repo, Watch(repo.root))
    if guard.stamp is None:
        return None, None
    try:
        pipeline = load_pipeline(repo.root, read=guard.watch.reader(work_tree_reader(repo.root)),
                                 check_links=True, checked=guard.watch.checked)
        guard.start(pipeline, LOCK_FILE)
        if guard.before is None:
            return None, guard.worktree_changed
        plans = PipelineRun(repo, pipeline).plan()
    except (ExpError, OSError):
        return None, guard.worktree_changed
    if any(plan.reasons for plan in plans):
        return None, guard.worktree_changed  # the next run would run something: nothing to remember
    guard.skipped = [(plan.stage.name, plan.skip or "up to date") for plan in plans]
    return guard, guard.worktree_changed


class Guard:
    """Takes the key before a plain run reads anything, and stores its no-op answer after."""
    before: tuple[list[str], list[str], dict[str, FileKey]] | None   # (files, status, stats) once start() took the key

    def __init__(self, repo: Repository, watch: Watch) -> None:
        self.repo = repo
        self.watch = watch
        self.before = None
        self.worktree_changed: list[str] | None = None   # start()'s status, see _status
        self.skipped: list[tuple[str, str]] = []
        self._soon: tuple[Thread, list[Status | None]] | None = None   # status_soon()'s thread and its answer
        self.stamp = _stamp(repo)   # before anything is stat'ed or read

    def start(self, pipeline: Pipeline, lock_file: str) -> None:
        """Call after the pipeline is loaded (through self.watch) and before any stage is looked at."""
        if not self.watch.usable or self.watch.folders() is None:
            return
        rel = list(self.watch.files) + list(pipeline.params_files) + [lock_file]
        for stage in pipeline.stages.values():
            for path in list(stage.deps) + [out.path for out in stage.outs]:
                if not _walk(self.repo.root, path, rel):
                    return
        rel = list(dict.fromkeys(rel))
        status = _status(self.repo)
        if status is None:
            return
        self.worktree_changed = status[3]
        rel = list(dict.fromkeys(rel + status[2]))
        # Stats after status: a file changed in between is either in the status
        # or changes its stat later than this - both seen by the second key.
        stats = _stats(self.repo, rel, _config_files(self.repo))
        if stats is None:
            return
        # The watch's own first stats (before the loader read) must still hold.
        for relpath, key in self.watch.files.items():
            if stats.get(relpath) != key:
                return
        self.before = (rel, [status[0], status[1]], stats)

    def status_soon(self) -> None:
        """Take remember()'s status now, in a thread, while the caller writes the
        experiment's commit and ref (which change nothing `git status` reports).
        Call after the snapshot: the status must see the work tree as the
        snapshot took it or later. remember() still takes its stats after it."""
        if self.before is None or self.stamp is None or self._soon:
            return
        import threading
        answer: list[Status | None] = []

        def ask() -> None:
            try:
                answer.append(_status(self.repo))
            except BaseException:   # noqa: BLE001 - asked again in the caller's thread, where it shows
                pass
        thread = threading.Thread(target=ask, name="git-exp-status", daemon=True)
        thread.start()
        self._soon = (thread, answer)

    def _later_status(self) -> Status | None:
        if self._soon is None:
            return _status(self.repo)
        thread, answer = self._soon
        thread.join()
        # No answer: the thread failed (git missing, say); ask here, where an error shows.
        return answer[0] if answer else _status(self.repo)

    def remember(self, ref: ExpRef, skipped: list[tuple[str, str]]) -> None:
        """The run was a no-op matching REF: store it if nothing moved since start()."""
        if self.before is None or self.stamp is None:
            return
        rel, status_key, stats = self.before
        status = self._later_status()
        if status is None or [status[0], status[1]] != status_key or status[0] != ref.baseline:
            return
        if _stats(self.repo, rel, _config_files(self.repo)) != stats:
            return
        if any(key is not None and max(key[4], key[5]) >= self.stamp for key in stats.values()):
            return      # changed since the stamp (ctime too: utime cannot set it back)
        if _read_ref(self.repo, ref.ref) != ref.sha:
            return
        path = _memo_path(self.repo)
        memo = _load(path)
        memo.pop(self.repo.root, None)
        memo[self.repo.root] = {
            "version": __version__, "env": _env_key(), "ref": ref.ref, "sha": ref.sha,
            "status": status_key, "files": stats,
            "answer": {"skipped": [[s, r] for s, r in skipped], "name": ref.name, "sha": ref.sha}}
        while len(memo) > MAX_ROOTS:
            memo.pop(next(iter(memo)))
        import json
        try:
            write_atomic(path, json.dumps(memo, separators=(",", ":")))
        except (OSError, TypeError, ValueError):
            pass    # a read-only Git dir just means no memo
