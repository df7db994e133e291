"""`git exp diff [A] [B]`: params and metrics that differ between two rows.

A and B are experiments (name, sha prefix or ref), any Git revision, or
`workspace`; A defaults to HEAD and B to the workspace, as in `git diff`.
An experiment's name wins over a branch of the same name, because this is
a command about experiments. Commits are read through the same memo as
`show`, so comparing old experiments costs nothing after the first time.
"""
from __future__ import annotations

from dataclasses import dataclass

from git_exp.errors import ExpError
from git_exp.experiments import refs as exp_refs
from git_exp.experiments.manage import head_sha
from git_exp.experiments.resolve import resolve_revision
from git_exp.show.collect import Row
from git_exp.show.columns import KINDS, MISSING
from git_exp.show.commits import CommitReader
from git_exp.show.values import difference

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.repo import Repository


WORKSPACE = "workspace"


@dataclass(frozen=True)
class Change:
    kind: str      # "metrics" or "params"
    file: str
    key: str
    old: object    # columns.MISSING when A does not have it
    new: object    # columns.MISSING when B does not have it

    @property
    def delta(self) -> int | float | None:
        """new - old for two numbers, else None."""
        if self.old is MISSING or self.new is MISSING:
            return None
        return difference(self.old, self.new)


@dataclass
class Comparison:
    a: Row
    b: Row
    a_label: str
    b_label: str
    changes: list           # Change, metrics first, in file and key order
    warnings: list


def target(repo: Repository, spec: str | None, reader: CommitReader, every: list | None = None) -> tuple[Row, str]:
    """The row SPEC names, and the label to show for it."""
    if spec is None or spec == WORKSPACE:
        work = reader.workspace()
        head = head_sha(repo)
        return Row("workspace", WORKSPACE, None, head, head, None, 0, None,
                   work.params, work.metrics, work.errors), WORKSPACE
    sha, found = resolve_revision(repo, spec, every)
    if found is not None:
        kind, name, baseline = "experiment", found.name, found.baseline or None
    else:
        kind, name, baseline = "baseline", spec, sha
    data = reader.read([sha]).get(sha)
    if data is None:   # a ref someone pointed at a blob, or a pruned commit
        raise ExpError(f"'{spec}' ({sha[:7]}) does not name a commit: nothing to compare",
                       hint="'git exp remove' deletes such a ref")
    state = (data.state or "success") if kind == "experiment" else None
    return Row.from_data(kind, name, baseline, data, state), spec


def compare_rows(a: Row, b: Row, include_all: bool = False, kinds: tuple = KINDS) -> list[Change]:
    changes = []
    for kind in KINDS:
        if kind not in kinds:
            continue
        old_files, new_files = getattr(a, kind), getattr(b, kind)
        for file in dict.fromkeys([*old_files, *new_files]):
            old, new = old_files.get(file, {}), new_files.get(file, {})
            for key in dict.fromkeys([*old, *new]):
                before, after = old.get(key, MISSING), new.get(key, MISSING)
                same = type(before) is type(after) and before == after
                if include_all or not same:
                    changes.append(Change(kind, file, key, before, after))
    return changes


def diff(repo: Repository, a: str | None = None, b: str | None = None, include_all: bool = False,
         kinds: tuple = KINDS) -> Comparison:
    reader = CommitReader(repo)
    every = exp_refs.list_refs(repo.root)
    if a is None and head_sha(repo) is None:
        raise ExpError("this repository has no commits yet: nothing to compare the workspace with",
                       hint="commit your project first, or name two experiments")
    row_a, label_a = target(repo, "HEAD" if a is None else a, reader, every)
    row_b, label_b = target(repo, b, reader, every)
    warnings = [m for m in dict.fromkeys(row_a.errors + row_b.errors)]
    return Comparison(row_a, row_b, label_a, label_b,
                      compare_rows(row_a, row_b, include_all, kinds), warnings)
