"""`git exp repro`: run the pipeline in the work tree and update exp.lock, recording nothing.

The same runner as `git exp run` (stage skipping, run cache, -f, the run
lock that keeps two runs out of one work tree), but the result is meant for
the branch: the user commits exp.lock and the outputs as they would any
change, and no experiment ref is written. While it runs, its output goes to
the same running log as a run's, so `git exp logs -f repro` follows it; the
log is dropped at the end, as there is no experiment to keep it with.

--pull first brings the data the selected stages' deps and outs record
(pointer files and exp.lock) from the data remote into the cache, and puts
what the work tree lacks in place, so stages whose inputs are all there can
be skipped or restored instead of run.
"""
from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field

from git_exp.errors import ExpError
from git_exp.experiments import record as rec
from git_exp.experiments.run import _Recorder, _sigterm_as_interrupt, read_metrics
from git_exp.experiments.runlock import RunLock
from git_exp.ignore import ensure_ignored
from git_exp.pipeline.graph import stage_order
from git_exp.pipeline.runner import Events, PipelineRun, RunSummary, StageFailed
from git_exp.pipeline.spec import load_pipeline
from git_exp.repo import Repository

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.data.cache import Progress
    from git_exp.pipeline.records import Pipeline

LOCK_NAME = "repro"   # what `show` and `logs` call the run holding the work tree's lock


@dataclass
class Pulled:
    objects: int = 0                                   # objects fetched into the cache
    bytes: int = 0
    location: str | None = None                        # the data remote asked
    checked_out: list[str] = field(default_factory=list)   # data paths put in the work tree


@dataclass
class ReproResult:
    summary: RunSummary
    pulled: Pulled | None = None
    metrics: dict[str, object] = field(default_factory=dict)


def reproduce(repo: Repository, targets: list[str] | None = None, *, single: bool = False,
              downstream: bool = False, force: bool = False, run_cache: bool = True,
              pull: bool = False, events: Events | None = None,
              progress: Progress | None = None) -> ReproResult:
    """Run the selected stages in REPO's work tree; exp.lock is updated stage by stage.

    A failing stage raises ExpError, Ctrl-C (or SIGTERM) KeyboardInterrupt;
    exp.lock then holds every stage that finished before it.
    """
    events = events or Events()
    pipeline = load_pipeline(repo.root)
    if single and not targets:
        raise ExpError("--single-item needs the stages to run",
                       hint="name them: git exp repro -s STAGE")
    with RunLock(repo.git_dir, LOCK_NAME):
        for stage in pipeline.stages.values():
            for out in stage.outs:
                if out.cache:
                    ensure_ignored(repo.root, out.path)
        pulled = (pull_missing(repo, pipeline, targets, downstream, single, progress)
                  if pull else None)
        os.makedirs(os.path.join(repo.exp_dir, "logs"), exist_ok=True)
        log_path = rec.running_log_path(repo, os.getpid())
        previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
        try:
            with open(log_path, "wb") as log:
                runner = PipelineRun(repo, pipeline, force=force, run_cache=run_cache,
                                     events=_Recorder(events, log))
                summary = runner.run(targets, downstream, single)
        except StageFailed as exc:
            # The stage's own status is no exit code of ours (a signal is negative).
            raise ExpError(exc.message, hint=exc.hint) from None
        finally:
            signal.signal(signal.SIGTERM, previous)
            try:
                os.unlink(log_path)
            except FileNotFoundError:
                pass
    return ReproResult(summary, pulled, read_metrics(repo, pipeline))


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")


def pull_missing(repo: Repository, pipeline: Pipeline, targets: list[str] | None, downstream: bool,
                 single: bool, progress: Progress | None = None) -> Pulled:
    """Fetch the recorded data of the selected stages' deps and outs that the cache
    lacks (remotes.fetch.fetch_missing: the data remote of the branch's upstream,
    else origin), and check out those the work tree lacks. ExpError when the data
    remote lacks some of it, naming each path."""
    from git_exp.worktree.sync import checkout
    from git_exp.worktree.records import data_at
    from git_exp.remotes.fetch import fetch_missing

    paths: set[str] = set()
    for stage in stage_order(pipeline, targets, downstream, single):
        paths.update(stage.deps)
        paths.update(out.path for out in stage.outs)
    records = {rel: info for rel, info in data_at(repo).items()
               if any(_overlaps(rel, p) for p in paths)}
    pulled = Pulled()
    if records:
        report = fetch_missing(repo, records, progress=progress, label="exp.lock and pointers")
        if report.missing_count:
            raise ExpError(f"{report.missing_count} data object(s) are neither in the cache nor on "
                           f"the data remote '{report.location}':\n{report.missing}",
                           hint="push them from the clone that has them: git exp push <remote>")
        pulled.objects, pulled.bytes, pulled.location = report.objects, report.bytes, report.location
    absent = sorted(rel for rel in records
                    if not os.path.lexists(os.path.join(repo.root, *rel.split("/"))))
    if absent:
        result = checkout(repo, absent, cwd=repo.root)
        problems = dict(result.errors)
        problems.update({p: f"{len(h)} object(s) missing from the cache"
                         for p, h in result.missing.items()})
        if problems:
            path, message = sorted(problems.items())[0]
            raise ExpError(f"cannot check out {path}: {message}")
        pulled.checked_out = result.checked_out
    return pulled
