"""`git exp status`: which stages would run and why, which data paths differ from their record.

The records are the work tree's pointers and exp.lock outs (records.py);
a record's path is checked (paths.check_data_path) before it is looked at,
and a refused one is reported, not followed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from git_exp.data.hashing import HashInfo
from git_exp.errors import ExpError
from git_exp.names import PIPELINE_FILE
from git_exp.worktree.paths import abs_path, check_data_path, open_cache, preload
from git_exp.worktree.records import data_at

if TYPE_CHECKING:
    from git_exp.pipeline.records import Stage
    from git_exp.repo import Repository


@dataclass
class DataStatus:
    path: str
    info: HashInfo
    state: str                      # "ok", "modified", "not in work tree", "refused"
    missing_objects: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class StageStatus:
    name: str
    reasons: list[str]              # why it would run; empty when up to date
    frozen: bool = False


@dataclass
class StatusReport:
    stages: list[StageStatus] = field(default_factory=list)
    stages_error: str | None = None  # the pipeline could not be checked
    data: list[DataStatus] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return (self.stages_error is None and not any(s.reasons for s in self.stages)
                and all(d.state == "ok" and not d.missing_objects for d in self.data))


def status(repo: Repository) -> StatusReport:
    """Which stages would run and why; which data paths differ from their
    record; which cached objects are missing."""
    report = StatusReport()
    if os.path.isfile(os.path.join(repo.root, PIPELINE_FILE)):
        try:
            report.stages = _stage_status(repo)
        except ExpError as err:
            report.stages_error = err.message
    records = data_at(repo, None)
    if not records:
        return report
    from git_exp.data.hashing import hash_path
    from git_exp.data.state import StateMemo
    cache = open_cache(repo)
    known_dirs: set[str] = set()
    with StateMemo(repo.exp_dir) as memo:
        preload(memo, repo, records)
        for path, info in sorted(records.items()):
            entry = DataStatus(path, info, "ok")
            try:
                entry.missing_objects = cache.missing(info)
                check_data_path(repo.root, path, cache.root, known_dirs=known_dirs)
                full = abs_path(repo, path)
                if not os.path.lexists(full):
                    entry.state = "not in work tree"
                else:
                    now, _ = hash_path(full, memo, cache_root=cache.root)
                    if now.hash != info.hash:
                        entry.state = "modified"
            except ExpError as err:
                entry.state, entry.error = "refused", err.message
            report.data.append(entry)
    return report


def _stage_status(repo: Repository) -> list[StageStatus]:
    from git_exp.pipeline.runner import PipelineRun
    from git_exp.pipeline.spec import load_pipeline
    plans = PipelineRun(repo, load_pipeline(repo.root)).plan()
    return [StageStatus(cast("Stage", p.stage).name, list(p.reasons), p.skip == "frozen") for p in plans]
