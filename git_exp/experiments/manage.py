"""Listing, naming, removing and promoting experiments."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Collection

from git_exp.errors import ExpError
from git_exp.experiments import names as exp_names
from git_exp.experiments import record as rec
from git_exp.experiments import refs
from git_exp.experiments.annotations import notes_ref
from git_exp.experiments.resolve import resolve
from git_exp.git import git
from git_exp.repo import Repository


def head_sha(repo: Repository) -> str | None:
    proc = git(["rev-parse", "--verify", "-q", "HEAD^{commit}"], cwd=repo.root, check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def commit_states(repo: Repository, shas: list[str]) -> dict[str, str]:
    """sha -> Exp-Status, read in one `git log --no-walk` call."""
    if not shas:
        return {}
    out = git(["log", "--no-walk=unsorted", "--format=%H%x00%(trailers:key=Exp-Status,valueonly)%x01",
               *shas], cwd=repo.root).stdout.decode("utf-8", "replace")
    states = {}
    for record in out.split("\x01"):
        sha, _, status = record.strip().partition("\x00")
        if sha:
            states[sha] = status.strip() or "success"
    return states


@dataclass
class Group:
    baseline: str
    label: str            # branch or tag names, else the short sha
    experiments: list[refs.ExpRef]


def labels_for(repo: Repository, shas: set[str]) -> dict[str, str]:
    out = git(["for-each-ref", "--format=%(objectname) %(*objectname) %(refname:short)",
               "refs/heads", "refs/tags"], cwd=repo.root).stdout.decode("utf-8", "replace")
    found: dict[str, list[str]] = {}
    for line in out.splitlines():
        obj, peeled, name = line.split(" ", 2) if line.count(" ") >= 2 else (line, "", "")
        target = peeled or obj
        if target in shas:
            found.setdefault(target, []).append(name)
    return {sha: ", ".join(found.get(sha, [])) or sha[:7] for sha in shas}


def list_groups(repo: Repository, all_commits: bool = False) -> list[Group]:
    every = refs.list_refs(repo.root)
    head = head_sha(repo)
    if not all_commits:
        every = [r for r in every if r.baseline == head]
    baselines = sorted({r.baseline for r in every}, key=lambda b: (b != head, b))
    labels = labels_for(repo, set(baselines))
    return [Group(b, labels[b], [r for r in every if r.baseline == b]) for b in baselines]


def remove(repo: Repository, specs: list[str], all_of_head: bool = False, all_commits: bool = False,
           failed: bool = False) -> list[refs.ExpRef]:
    every = refs.list_refs(repo.root)
    if all_commits:
        chosen = every
    elif all_of_head:
        head = head_sha(repo)
        chosen = [r for r in every if r.baseline == head]
    else:
        chosen = []
    if failed:
        states = commit_states(repo, [r.sha for r in every])
        chosen += [r for r in every if states.get(r.sha) in ("failed", "interrupted")]
    chosen += [resolve(repo, spec, every) for spec in specs]
    if not chosen and not (all_commits or all_of_head or failed):
        raise ExpError("nothing to remove", hint="name experiments, or use --all, -A or --failed")
    unique = {r.ref: r for r in chosen if r.ref.startswith(refs.PREFIX)}
    staying = {r.sha for r in every if r.ref not in unique}
    for r in unique.values():
        refs.delete(repo.root, r.ref, r.sha)
        if r.sha in staying:
            continue  # another name for the same commit keeps its log
        log = rec.log_path(repo, r.sha)
        if os.path.exists(log):
            os.unlink(log)
        # Its log and its annotations (note, tags) go with the last name of the
        # commit; like the commit, they stay in the object store until `git gc`.
        git(["update-ref", "--stdin"], cwd=repo.root, check=False,
            input=f"delete refs/exp-logs/{r.sha}\ndelete {notes_ref(r.sha)}\n".encode())
    return list(unique.values())


def rename(repo: Repository, old: str, new: str, reserved: Collection[str]) -> tuple[refs.ExpRef, str]:
    """Rename experiment OLD to NEW; RESERVED names (the queue's: queue.entries.reserved_names)
    count as taken."""
    exp_names.validate(new, repo.root)
    every = refs.list_refs(repo.root)
    found = resolve(repo, old, every)
    if any(r.name == new for r in every):
        raise ExpError(f"an experiment named '{new}' already exists",
                       hint="remove it first, or pick another name")
    if new in reserved:
        raise ExpError(f"a queued experiment is already named '{new}'",
                       hint="pick another name, or drop the entry: git exp queue remove " + new)
    new_ref = refs.exp_ref(found.baseline, new)
    refs.move(repo.root, found.ref, new_ref, found.sha)
    return found, new_ref


def branch(repo: Repository, spec: str, branch_name: str | None) -> tuple[refs.ExpRef, str]:
    found = resolve(repo, spec)
    name = branch_name or found.name
    proc = git(["check-ref-format", "--branch", name], cwd=repo.root, check=False)
    # --branch expands @{-N} to the branch checked out N switches ago (and prints it):
    # a name that comes back otherwise is a reference to another branch, not a new name.
    if proc.returncode != 0 or proc.stdout.decode("utf-8", "surrogateescape").strip() != name:
        raise ExpError(f"'{name}' is not a valid branch name",
                       hint="pick a plain name such as exp/better-lr (git check-ref-format: no spaces, "
                            "'..', '~', '^', ':', '?', '*', '[', '\\' or '@{')")
    ref = f"refs/heads/{name}"
    if git(["rev-parse", "--verify", "-q", ref], cwd=repo.root, check=False).returncode == 0:
        raise ExpError(f"a branch named '{name}' already exists",
                       hint=f"pick another name: git exp branch {found.name} <new-branch>")
    refs.create(repo.root, ref, found.sha)
    return found, name


def read_log(repo: Repository, spec: str) -> tuple[refs.ExpRef, bytes]:
    found = resolve(repo, spec)
    path = rec.log_path(repo, found.sha)
    try:
        with open(path, "rb") as fh:
            return found, fh.read()
    except FileNotFoundError:
        raise ExpError(f"no log is kept for '{found.name}' ({found.sha[:7]})",
                       hint="a log comes with 'git exp pull' once 'git exp push' sent it from "
                            "the clone that ran the experiment; 'git exp save' records no log") from None


def save(repo: Repository, reserved: Collection[str], name: str | None = None, message: str | None = None,
         force: bool = False) -> tuple[refs.ExpRef, bool]:
    """Record the work tree as it is, without running anything.

    Returns (the experiment, whether it was there already): an unnamed save
    of a work tree that equals an experiment of the same commit records no
    twin and returns that experiment, as `run` does. A named save always records.
    RESERVED names (the queue's: queue.entries.reserved_names) count as taken.
    """
    from git_exp.experiments.run import (DEFAULT_MAX_FILE, _pick_name, _same_tree, changed_params,
                                         check_sizes)
    from git_exp.worktree.snapshot import snapshot_tree
    from git_exp.ignore import ensure_ignored
    from git_exp.pipeline.spec import load_pipeline

    baseline = rec.baseline_of(repo)
    chosen, replaced = _pick_name(repo, name, force, reserved)
    try:
        pipeline = load_pipeline(repo.root)
    except ExpError:
        pipeline = None
    changed = {}
    if pipeline is not None:
        from git_exp.data.cache import Cache
        cache = Cache(repo.exp_dir)
        for stage in pipeline.stages.values():
            for out in stage.outs:
                if out.cache:
                    ensure_ignored(repo.root, out.path)
                    path = os.path.join(repo.root, out.path)
                    if os.path.exists(path):
                        cache.save(path)
        changed = changed_params(repo, pipeline, baseline)
    check_sizes(repo, repo.config.get_int("exp.maxCommitFileSize", DEFAULT_MAX_FILE))
    tree = snapshot_tree(repo)
    if name is None:
        same = _same_tree(repo, baseline, tree)
        if same is not None:
            return same, True
    outcome = rec.Outcome(status="success", changed_params=changed, message=message,
                          extra={"Exp-Mode": "save"})
    ref = rec.record(repo, baseline, chosen, outcome, force=force, tree=tree)
    for old in replaced:
        if old.ref != ref.ref:
            refs.delete(repo.root, old.ref, old.sha)
    return ref, False
