"""DVC's experiments as ours: the same name, the same baseline, its files converted.

DVC keeps an experiment at `refs/exps/<baseline[:2]>/<baseline[2:]>/<name>`
(plus bookkeeping refs such as `refs/exps/exec/EXEC_HEAD`); ours live at
`refs/exps/<baseline>/<name>`, so both can sit side by side. Each becomes a
new commit whose tree is DVC's with exp.yaml, exp.lock and the pointers
added (and DVC's files taken out with --remove-dvc), whose parent is the
same baseline, and whose author and dates are DVC's: the commit is then a
function of its source, so importing twice writes the very same object and
the second run finds nothing to do.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import os
import re
from dataclasses import dataclass

from git_exp.dvcimport import dvcfiles
from git_exp.dvcimport.convert import CommitTree, Converted, convert_tree
from git_exp.errors import ExpError
from git_exp.git import GitCommandError, git
from git_exp.git.commits import commit_tree

if TYPE_CHECKING:
    from git_exp.dvcimport.objects import DvcObjects
    from git_exp.repo import Repository

_DVC_REF = re.compile(r"refs/exps/([0-9a-f]{2})/([0-9a-f]{38})/([^/]+)\Z")
IMPORTED_TRAILER = "Exp-Imported-From"


@dataclass
class DvcExperiment:
    name: str
    baseline: str
    sha: str            # DVC's commit
    ref: str


@dataclass
class ExperimentPlan:
    source: DvcExperiment
    action: str                      # "import", "unchanged", "name taken", "name refused"
    converted: Converted | None = None
    new_sha: str | None = None       # our commit, once written


def list_dvc_experiments(root: str) -> list[DvcExperiment]:
    out = git(["for-each-ref", "--format=%(objectname) %(objecttype) %(refname)", "refs/exps/"],
              cwd=root).stdout.decode("utf-8", "surrogateescape")
    found = []
    for line in out.splitlines():
        sha, kind, ref = line.split(" ", 2)
        match = _DVC_REF.match(ref)
        if match and kind == "commit":
            found.append(DvcExperiment(match[3], match[1] + match[2], sha, ref))
    return found


def _our_ref(baseline: str, name: str) -> str:
    from git_exp.experiments.refs import exp_ref
    return exp_ref(baseline, name)


def _existing(root: str, ref: str) -> str | None:
    proc = git(["log", "-1", "--format=%(trailers:key=" + IMPORTED_TRAILER + ",valueonly)", ref],
               cwd=root, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.decode().strip()


def plan_experiment(root: str, exp: DvcExperiment, objects: DvcObjects) -> ExperimentPlan:
    from git_exp.experiments.names import validate
    ref = _our_ref(exp.baseline, exp.name)
    existing = _existing(root, ref)
    if existing is not None:
        return ExperimentPlan(exp, "unchanged" if existing == f"dvc {exp.sha}" else "name taken")
    try:
        validate(exp.name)
    except ExpError:
        return ExperimentPlan(exp, "name refused")
    return ExperimentPlan(exp, "import", convert_tree(CommitTree(root, exp.sha), objects))


def write_experiment(repo: Repository, plan: ExperimentPlan, remove_dvc: bool) -> str:
    """Write the converted commit and its ref; the new commit's sha."""
    from git_exp.experiments import refs
    from git_exp.experiments.record import Outcome, build_message
    exp = plan.source
    assert plan.converted is not None   # only a plan to import is written
    tree = _tree(repo, exp.sha, plan.converted.files, remove_dvc)
    outcome = Outcome(status="success", changed_params=_changed_params(repo.root, exp),
                      extra={IMPORTED_TRAILER: f"dvc {exp.sha}"})
    sha = _commit(repo.root, exp.sha, tree, exp.baseline, build_message(exp.name, outcome))
    refs.create(repo.root, _our_ref(exp.baseline, exp.name), sha)
    return sha


def _tree(repo: Repository, sha: str, files: dict[str, bytes], remove_dvc: bool) -> str:
    index = os.path.join(repo.git_dir, f"exp-import-index.{os.getpid()}")
    env = {"GIT_INDEX_FILE": index}
    try:
        git(["read-tree", sha], cwd=repo.root, env=env)
        if remove_dvc:
            listed = git(["ls-files", "-z"], cwd=repo.root, env=env).stdout.decode("utf-8", "surrogateescape")
            owned = [p for p in listed.split("\0") if p and dvcfiles.dvc_owned(p)]
            if owned:
                git(["update-index", "--force-remove", "--", *owned], cwd=repo.root, env=env)
        lines = []
        for relpath, content in sorted(files.items()):
            blob = git(["hash-object", "-w", "--stdin"], cwd=repo.root, input=content).stdout.decode().strip()
            lines.append(f"100644 {blob}\t{relpath}")
        if lines:
            git(["update-index", "--index-info"], cwd=repo.root, env=env,
                input=("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
        return git(["write-tree"], cwd=repo.root, env=env).stdout.decode().strip()
    finally:
        for leftover in (index, index + ".lock"):
            if os.path.exists(leftover):
                os.unlink(leftover)


def _commit(root: str, source: str, tree: str, parent: str, message: str) -> str:
    """commit-tree with DVC's author, committer and dates, so the same source gives the same commit."""
    fields = git(["log", "-1", "--format=%an%x00%ae%x00%ad%x00%cn%x00%ce%x00%cd", "--date=raw", source],
                 cwd=root).stdout.decode("utf-8", "surrogateescape").rstrip("\n").split("\0")
    env = dict(GIT_AUTHOR_NAME=fields[0], GIT_AUTHOR_EMAIL=fields[1], GIT_AUTHOR_DATE=fields[2],
               GIT_COMMITTER_NAME=fields[3], GIT_COMMITTER_EMAIL=fields[4], GIT_COMMITTER_DATE=fields[5])
    try:
        return commit_tree(root, tree, [parent], message, env=env)
    except GitCommandError as exc:
        raise ExpError(f"cannot write the imported experiment commit: {exc.reason}") from None


def _changed_params(root: str, exp: DvcExperiment) -> dict[str, str]:
    """The params that differ from the baseline's, for the message (as `run -S` records them)."""
    from git_exp.params.read import flatten, fmt_of, parse
    from git_exp.pipeline.template_vars import scalar_text
    changed = {}
    new, old = CommitTree(root, exp.sha), CommitTree(root, exp.baseline)
    for relpath in ("params.yaml", "params.json", "params.toml"):
        after, before = new.read(relpath), old.read(relpath)
        if after is None or before is None or after == before:
            continue
        try:
            a = flatten(parse(after.decode("utf-8"), fmt_of(relpath), relpath))
            b = flatten(parse(before.decode("utf-8"), fmt_of(relpath), relpath))
        except (ExpError, UnicodeDecodeError):
            continue
        prefix = "" if relpath == "params.yaml" else f"{relpath}:"
        for key, value in a.items():
            if b.get(key, object()) != value:
                changed[prefix + key] = scalar_text(value) if not isinstance(value, (list, dict)) else str(value)
    return changed
