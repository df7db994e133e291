"""Writing an experiment: a commit of the work tree whose parent is the baseline.

The message names the experiment and its changed params; machine-readable
facts ride in trailers (`git log --format=%(trailers)` reads them):

    exp: bold-otter (train.lr=0.05)

    Exp-Name: bold-otter
    Exp-Status: success
    Exp-Exit-Code: 0
    Exp-Duration: 1.234
    Exp-Param: train.lr=0.05
"""
from __future__ import annotations

import os
from git_exp.errors import ExpError
from git_exp.experiments import refs
from git_exp.plainclass import Mutable
from git_exp.worktree.snapshot import commit_tree, snapshot_tree
from git_exp.git import git

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.git.catfile import CatFile
    from git_exp.repo import Repository

STATES = ("success", "failed", "interrupted", "saved")


class Outcome(Mutable):
    """How a run went (plainclass.Mutable: on run's path)."""
    __slots__ = ("status", "exit_code", "duration", "changed_params", "message", "extra")

    def __init__(self, status: str = "success", exit_code: int = 0, duration: float = 0.0,
                 changed_params: dict[str, str] | None = None, message: str | None = None,
                 extra: dict[str, str] | None = None) -> None:
        self.status = status
        self.exit_code = exit_code
        self.duration = duration
        self.changed_params = {} if changed_params is None else changed_params  # key -> value text
        self.message = message                                               # the user's -m
        self.extra = {} if extra is None else extra                          # more trailers


def build_message(name: str, outcome: Outcome) -> str:
    changed = ", ".join(f"{k}={v}" for k, v in outcome.changed_params.items())
    subject = f"exp: {name}" + (f" ({changed})" if changed else "")
    if len(subject) > 120:
        subject = subject[:117] + "..."
    lines = [subject, ""]
    if outcome.message:
        lines += [outcome.message.strip(), ""]
    lines.append(f"Exp-Name: {name}")
    lines.append(f"Exp-Status: {outcome.status}")
    lines.append(f"Exp-Exit-Code: {outcome.exit_code}")
    lines.append(f"Exp-Duration: {outcome.duration:.3f}")
    for key, value in outcome.changed_params.items():
        lines.append(f"Exp-Param: {key}={_one_line(value)}")
    for key, value in outcome.extra.items():
        lines.append(f"{key}: {_one_line(value)}")
    return "\n".join(lines) + "\n"


def _one_line(value: str) -> str:
    return " ".join(str(value).split())


def parse_trailers(message: str) -> dict[str, list[str]]:
    """Our trailers from a commit message (the last paragraph)."""
    paragraphs = message.strip().split("\n\n")
    found: dict[str, list[str]] = {}
    for line in paragraphs[-1].splitlines() if paragraphs else []:
        key, sep, value = line.partition(": ")
        if sep and key.startswith("Exp-"):
            found.setdefault(key, []).append(value)
    return found


_NO_BASELINE = ("this repository has no commits yet, so an experiment has no baseline",
                "commit your project first: git add -A && git commit -m 'baseline'")


def baseline_of(repo: Repository) -> str:
    """The commit HEAD points at; experiments need one to hang from."""
    proc = git(["rev-parse", "--verify", "-q", "HEAD^{commit}"], cwd=repo.root, check=False)
    if proc.returncode != 0:
        raise ExpError(_NO_BASELINE[0], hint=_NO_BASELINE[1])
    return proc.stdout.decode().strip()


def baseline_and_blobs(repo: Repository, relfiles: list[str], baseline: str | None = None,
                       prefetched: tuple[str | None, CatFile] | None = None) -> tuple[str, dict[str, bytes | None]]:
    """A batched Git read: BASELINE (default: HEAD's commit, as baseline_of)
    and the bytes of each of RELFILES in it (None: not in that commit), all
    through one `git cat-file --batch` instead of a rev-parse plus a
    `cat-file blob` per file. HEAD is resolved first and the files are asked
    for by the commit's id, so they always come from the commit returned.

    PREFETCHED: (HEAD's commit or None, the open CatFile that resolved it),
    from prefetch.Prefetch.head(), used when BASELINE is None; its owner closes it.
    """
    from git_exp.git.catfile import CatFile
    if prefetched is not None and baseline is None:
        head, objects = prefetched
        if head is None:
            raise ExpError(_NO_BASELINE[0], hint=_NO_BASELINE[1])
        return head, _blobs(objects, head, relfiles)
    with CatFile(repo.root) as objects:
        if baseline is None:
            found = objects.read("HEAD^{commit}")
            if found is None or found.type != "commit":
                raise ExpError(_NO_BASELINE[0], hint=_NO_BASELINE[1])
            baseline = found.oid
        return baseline, _blobs(objects, baseline, relfiles)


def _blobs(objects: CatFile, commit: str, relfiles: list[str]) -> dict[str, bytes | None]:
    found = objects.read_many([f"{commit}:{rel}" for rel in relfiles]) if relfiles else []
    return {rel: obj.data if obj is not None and obj.type == "blob" else None
            for rel, obj in zip(relfiles, found)}


def taken_names(repo: Repository) -> set[str]:
    return {r.name for r in refs.list_refs(repo.root)}


def record(repo: Repository, baseline: str, name: str, outcome: Outcome, force: bool = False,
           tree: str | None = None) -> refs.ExpRef:
    """Snapshot the work tree (unless TREE is given) and point
    refs/exps/<baseline>/<name> at a commit of it."""
    tree = tree or snapshot_tree(repo)
    sha = commit_tree(repo, tree, [baseline], build_message(name, outcome))
    ref = refs.exp_ref(baseline, name)
    refs.create(repo.root, ref, sha, force=force)
    return refs.ExpRef(ref, baseline, name, sha)


def log_path(repo: Repository, sha: str) -> str:
    return os.path.join(repo.exp_dir, "logs", f"{sha}.log")


def running_log_path(repo: Repository, pid: int) -> str:
    """Where `git exp run` in a work tree (process PID) writes its log while it
    runs; the log moves to log_path once the experiment is recorded."""
    return os.path.join(repo.exp_dir, "logs", f"run-{pid}.log")
