"""The whole import: worked out first, then carried out, or only shown (--dry-run).

Order matters for safety. Everything is converted and checked before the
first byte of the work tree changes (a file we would overwrite that is not
what the import wrote before stops it there); objects go into our cache as
they are converted (adding to the cache loses nothing); then the work-tree
files, the experiment refs (compare-and-swap, never overwriting) and the
settings are written, and the result is staged for the user to review and
commit. `--remove-dvc` takes out only DVC files whose content Git already
has (unchanged since HEAD): a modified one is kept and named. DVC's cache
folder is never deleted: it is the user's, and the report says where it is.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import os
from dataclasses import dataclass, field

from git_exp.dvcimport import dvcfiles
from git_exp.dvcimport.convert import WorkTree, convert_tree
from git_exp.dvcimport.experiments import ExperimentPlan, list_dvc_experiments, plan_experiment, write_experiment
from git_exp.dvcimport.objects import DvcObjects, ObjectReport, dvc_cache_dir
from git_exp.dvcimport.remotes import plan_remotes
from git_exp.errors import ExpError
from git_exp.git import git

if TYPE_CHECKING:
    from git_exp.repo import Repository

EXPCONFIG = ".expconfig"


@dataclass
class ImportResult:
    dry_run: bool
    files: list[tuple[str, str]] = field(default_factory=list)          # (path, create|update|unchanged)
    ignores: list[tuple[str, str]] = field(default_factory=list)        # (.gitignore, line) added
    objects: ObjectReport = field(default_factory=ObjectReport)
    experiments: list[ExperimentPlan] = field(default_factory=list)
    settings: list[tuple[str, str]] = field(default_factory=list)       # .expconfig key, value written
    notes: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)                       # DVC files with local changes
    staged: list[str] = field(default_factory=list)
    dvc_cache: str = ""

    @property
    def changes_nothing(self) -> bool:
        return (all(action == "unchanged" for _, action in self.files) and not self.ignores
                and not self.objects.imported and not self.settings and not self.removed
                and all(p.action != "import" for p in self.experiments))


def import_dvc(repo: Repository, dry_run: bool = False, remove_dvc: bool = False) -> ImportResult:
    from git_exp.data.cache import Cache
    from git_exp.data.links import parse_link_types
    root = repo.root
    if not os.path.isdir(os.path.join(root, ".dvc")):
        raise ExpError("this is not a DVC repository: there is no .dvc folder at the top of the work tree",
                       hint="run 'git exp import-dvc' at the top of the DVC project")
    result = ImportResult(dry_run, dvc_cache=dvc_cache_dir(root))
    cache = Cache(repo.exp_dir, parse_link_types(repo.config.get("exp.cache.type")))
    objects = DvcObjects(result.dvc_cache, cache, store=not dry_run)
    result.objects = objects.report

    work = convert_tree(WorkTree(root), objects)
    result.notes.extend(work.notes)
    result.files = _file_actions(root, work.files)
    conflicts = [p for p, action in result.files if action == "update"]
    if conflicts:
        raise ExpError("import-dvc would overwrite " + ", ".join(f"'{p}'" for p in conflicts)
                       + ", which the import did not write",
                       hint="move them aside (or delete them) and run 'git exp import-dvc' again")
    result.ignores = _missing_ignores(root, work.cached_paths)
    result.experiments = [plan_experiment(root, exp, objects) for exp in list_dvc_experiments(root)]
    for plan in result.experiments:
        if plan.converted:
            result.notes.extend(f"experiment {plan.source.name}: {n}" for n in plan.converted.notes
                                if n not in work.notes)
    remotes = plan_remotes(root)
    result.notes.extend(remotes.notes)
    result.settings = [(k, v) for k, v in remotes.settings.items() if _expconfig(root, k) != v]
    owned = _dvc_files(root) if remove_dvc else []
    changed = _changed_since_head(root, owned)
    result.removed = [p for p in owned if p not in changed]
    result.kept = [p for p in owned if p in changed]
    if dry_run:
        return result
    _carry_out(repo, result, work.files, remove_dvc)
    return result


def _file_actions(root: str, files: dict[str, bytes]) -> list[tuple[str, str]]:
    actions = []
    for relpath, content in sorted(files.items()):
        path = os.path.join(root, *relpath.split("/"))
        try:
            with open(path, "rb") as fh:
                current = fh.read()
        except FileNotFoundError:
            actions.append((relpath, "create"))
            continue
        actions.append((relpath, "unchanged" if current == content else "update"))
    return actions


def _missing_ignores(root: str, paths: list[str]) -> list[tuple[str, str]]:
    from git_exp.ignore import ignore_entry
    missing = []
    for relpath in dict.fromkeys(paths):
        gitignore, line = ignore_entry(relpath)
        try:
            with open(os.path.join(root, gitignore), encoding="utf-8") as fh:
                listed = {entry.strip() for entry in fh.read().splitlines()}
        except FileNotFoundError:
            listed = set()
        if line not in listed and line + "/" not in listed:
            missing.append((gitignore, line))
    return missing


def _expconfig(root: str, key: str) -> str | None:
    proc = git(["config", "-f", EXPCONFIG, "--get", key], cwd=root, check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def _dvc_files(root: str) -> list[str]:
    out = git(["ls-files", "-z"], cwd=root).stdout.decode("utf-8", "surrogateescape")
    return [p for p in out.split("\0") if p and dvcfiles.dvc_owned(p)]


def _changed_since_head(root: str, paths: list[str]) -> set[str]:
    if not paths:
        return set()
    out = git(["status", "--porcelain", "-z", "--untracked-files=no", "--", *paths], cwd=root).stdout
    return {entry[3:] for entry in out.decode("utf-8", "surrogateescape").split("\0") if len(entry) > 3}


def _carry_out(repo: Repository, result: ImportResult, files: dict[str, bytes], remove_dvc: bool) -> None:
    from git_exp.ignore import ensure_ignored
    from git_exp.worktree_writes import WorkTree
    root = repo.root
    tree = WorkTree(root)  # the work-tree door: paths from DVC files never leave the work tree
    staged = []
    for relpath, action in result.files:
        if action == "create":
            tree.write(relpath, files[relpath])
        staged.append(relpath)
    for gitignore, line in result.ignores:
        ensure_ignored(root, gitignore.rpartition(".gitignore")[0] + line[1:])
        staged.append(gitignore)
    for plan in result.experiments:
        if plan.action == "import":
            plan.new_sha = write_experiment(repo, plan, remove_dvc)
    for key, value in result.settings:
        git(["config", "-f", EXPCONFIG, key, value], cwd=root)
        staged.append(EXPCONFIG)
    if result.removed:
        git(["rm", "-q", "--", *result.removed], cwd=root)
    staged = list(dict.fromkeys(staged))
    if staged:
        git(["add", "--", *staged], cwd=root)
    result.staged = staged
