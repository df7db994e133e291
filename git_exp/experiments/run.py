"""`git exp run`: edit params, run the pipeline, record the experiment.

Every run that started a stage is recorded - succeeded, failed or
interrupted - with its log, so nothing is lost and `show` can mark it.
"""
from __future__ import annotations

import json
import os
import signal
import time

from git_exp.errors import ExpError
from git_exp.experiments import names as exp_names
from git_exp.experiments import record as rec
from git_exp.experiments import refs
from git_exp.experiments.runlock import RunLock
from git_exp.worktree.snapshot import oversized_files, snapshot_tree
from git_exp.git import git
from git_exp.ignore import ensure_ignored
from git_exp.pipeline.runner import Events, PipelineRun, RunSummary, StageFailed
from git_exp.pipeline.spec import load_pipeline

TYPE_CHECKING = False   # typing's, without importing typing on run's path (mypy reads the name as True)
if TYPE_CHECKING:
    from types import FrameType
    from typing import BinaryIO, Collection, NoReturn, Sequence

    from git_exp.experiments.prefetch import Prefetch
    from git_exp.pipeline.records import Pipeline, Stage
    from git_exp.repo import Repository

DEFAULT_MAX_FILE = 10 * 1024 * 1024


# Plain classes, not dataclasses, on run's path (plainclass.py says why).

class ExperimentResult:
    __slots__ = ("ref", "outcome", "summary", "metrics", "error", "duplicate_of")

    def __init__(self, ref: refs.ExpRef, outcome: rec.Outcome, summary: RunSummary,
                 metrics: dict[str, object] | None = None, error: ExpError | None = None,
                 duplicate_of: refs.ExpRef | None = None) -> None:
        self.ref = ref
        self.outcome = outcome
        self.summary = summary
        self.metrics = {} if metrics is None else metrics
        self.error = error
        self.duplicate_of = duplicate_of   # set when nothing changed since that experiment

    def __repr__(self) -> str:
        return (f"ExperimentResult({self.ref!r}, {self.outcome!r}, {self.summary!r}, "
                f"metrics={self.metrics!r}, error={self.error!r}, duplicate_of={self.duplicate_of!r})")


def _same_tree(repo: Repository, baseline: str, tree: str) -> refs.ExpRef | None:
    """An experiment of BASELINE whose commit holds exactly TREE, if any."""
    out = git(["for-each-ref", "--format=%(tree) %(objectname) %(refname)",
               refs.exp_ref(baseline, "")], cwd=repo.root).stdout.decode("utf-8", "replace")
    for line in out.splitlines():
        found_tree, sha, ref = line.split(" ", 2)
        if found_tree == tree:
            return refs.parse_ref(ref, sha)
    return None


class _Recorder(Events):
    """Passes events on, keeps the log, and notes whether anything ran."""

    def __init__(self, inner: Events, log: BinaryIO) -> None:
        self.inner = inner
        self.log = log
        self.started = False
        self.log_error: OSError | None = None   # the log stopped: a full disk, say
        self.skipped: list[tuple[str, str]] = []  # (stage, reason), for the no-op memo

    def _write(self, data: bytes, flush: bool = False) -> None:
        # A log that cannot be written (ENOSPC in .git/exp) must not kill a
        # running stage: the output still reaches the terminal, and the run
        # reports the lost log at the end.
        if self.log_error is not None:
            return
        try:
            self.log.write(data)
            if flush:
                self.log.flush()
        except OSError as exc:
            if exc.filename is None:
                exc.filename = getattr(self.log, "name", None)
            self.log_error = exc

    def stage_skipped(self, stage: Stage, reason: str) -> None:
        self._write(f"stage '{stage.name}': {reason}\n".encode())
        self.skipped.append((stage.name, reason))
        self.inner.stage_skipped(stage, reason)

    def stage_started(self, stage: Stage, reasons: list[str]) -> None:
        self.started = True
        self._write(f"stage '{stage.name}': running ({'; '.join(reasons)})\n".encode())
        self.inner.stage_started(stage, reasons)

    def stage_restored(self, stage: Stage, created: str) -> None:
        self.started = True
        self._write(f"stage '{stage.name}': restored from the run cache\n".encode())
        self.inner.stage_restored(stage, created)

    def stage_finished(self, stage: Stage, seconds: float) -> None:
        self.inner.stage_finished(stage, seconds)

    def output(self, data: bytes) -> None:
        self._write(data, flush=True)
        self.inner.output(data)


def check_sizes(repo: Repository, limit: int, skip: tuple[str, ...] = (),
                changed: list[str] | None = None) -> None:
    """Refuse files over LIMIT that would enter Git; SKIP: paths (and folders) left out.
    CHANGED: snapshot.changed_files(repo), when the caller has it already."""
    big = [(p, size) for p, size in oversized_files(repo, limit, changed)
           if not any(p == s or p.startswith(s.rstrip("/") + "/") for s in skip)]
    if big:
        listing = "\n".join(f"  {p} ({size / 1048576:.1f} MiB)" for p, size in big[:10])
        raise ExpError(f"these files are over exp.maxCommitFileSize ({limit / 1048576:.0f} MiB) "
                       f"and would go into the experiment's Git commit:\n{listing}",
                       hint="track them as data with 'git exp add PATH', list them in .gitignore, "
                            "or raise the limit: git config exp.maxCommitFileSize 100m")


def changed_params(repo: Repository, pipeline: Pipeline, baseline: str,
                   at_baseline: dict[str, bytes | None] | None = None) -> dict[str, str]:
    """Tracked params whose values differ from the baseline commit.

    AT_BASELINE: params file -> its bytes in BASELINE (None: not there), as
    record.baseline_and_blobs read them; a file it lacks is read here."""
    from git_exp.params import read as params_read
    changed: dict[str, str] = {}
    for relfile in pipeline.params_files:
        path = os.path.join(repo.root, relfile)
        if not os.path.exists(path):
            continue
        new = params_read.flatten(params_read.load(path, relfile))
        if at_baseline is not None and relfile in at_baseline:
            blob = at_baseline[relfile]
        else:
            proc = git(["cat-file", "blob", f"{baseline}:{relfile}"], cwd=repo.root, check=False)
            blob = proc.stdout if proc.returncode == 0 else None
        old = {}
        if blob is not None:
            try:
                old = params_read.flatten(params_read.parse(
                    blob.decode("utf-8", "replace"), params_read.fmt_of(relfile), relfile))
            except ExpError:
                old = {}
        prefix = "" if os.path.basename(relfile) == "params.yaml" and "/" not in relfile else f"{relfile}:"
        for key, value in new.items():
            if key not in old or old[key] != value:
                changed[prefix + key] = value if isinstance(value, str) else json.dumps(value)
    return changed


def read_metrics(repo: Repository, pipeline: Pipeline) -> dict[str, object]:
    from git_exp.params import read as params_read
    values: dict[str, object] = {}
    for out in pipeline.metrics:
        path = os.path.join(repo.root, out.path)
        if os.path.isfile(path):
            try:
                values.update(params_read.flatten(params_read.load(path, out.path)))
            except ExpError:
                continue
    return values


def _pick_name(repo: Repository, name: str | None, force: bool, reserved: Collection[str] = (),
               existing: list[refs.ExpRef] | None = None) -> tuple[str, list[refs.ExpRef]]:
    """EXISTING: refs.list_refs(repo.root), when the caller has it already."""
    existing = refs.list_refs(repo.root) if existing is None else existing
    if name is None:
        return exp_names.generate({r.name for r in existing} | set(reserved)), []
    exp_names.validate(name, repo.root)
    if name in reserved:
        raise ExpError(f"a queued experiment is already named '{name}'",
                       hint="pick another name with -n, or drop the entry: git exp queue remove " + name)
    same = [r for r in existing if r.name == name]
    if same and not force:
        raise ExpError(f"an experiment named '{name}' already exists",
                       hint="pick another name with -n, or replace it with -f")
    return name, same


def _undo_before_start(log: BinaryIO, temp_log: str, log_file: str | None, edited: dict[str, str]) -> None:
    """A run that failed before any stage started leaves nothing behind:
    its own log file goes, and the params files -S edited get their text back."""
    log.close()
    if not log_file:
        try:
            os.unlink(temp_log)
        except OSError:
            pass
    if edited:
        from git_exp.params.edit import restore_texts
        restore_texts(edited)


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt


def run_experiment(repo: Repository, *, overrides: Sequence[str] = (), name: str | None = None,
                   message: str | None = None, force_name: bool = False, force: bool = False,
                   run_cache: bool = True, targets: list[str] | None = None,
                   downstream: bool = False, events: Events | None = None,
                   baseline: str | None = None, log_file: str | None = None,
                   reserved: Collection[str],
                   trailers: dict[str, str] | None = None,
                   prefetch: Prefetch | None = None) -> ExperimentResult:
    """Run the pipeline in REPO's work tree and record the result.

    BASELINE is the experiment's parent (default: HEAD); a queued run passes
    the commit it was queued from, since its temporary checkout's HEAD is the
    queue entry. LOG_FILE is where the log is written while the run goes on
    (it moves next to the other logs once recorded). RESERVED names count as
    taken: the caller passes the names of queued entries (queue.entries.
    reserved_names), or none for a queued run itself. TRAILERS go into the
    experiment's message as they are. PREFETCH: a prefetch.Prefetch of REPO
    started before this run, whose answers it takes instead of asking Git
    (its caller closes it).
    """
    from git_exp.params import overrides as ov
    from git_exp.params import sweeps
    from git_exp.params.edit import apply_overrides

    events = events or Events()
    from git_exp.experiments.noopmemo import plain_run
    guard = None
    if plain_run(name, overrides, message, force, run_cache, targets, downstream) \
            and baseline is None and log_file is None and not trailers:
        # The answer of a plain run that turns out a no-op is remembered (noopmemo.py).
        from git_exp.experiments.noopmemo import Guard, Watch
        from git_exp.pipeline.spec import work_tree_reader
        guard = Guard(repo, Watch(repo.root))
        pipeline = load_pipeline(repo.root, read=guard.watch.reader(work_tree_reader(repo.root)),
                                 check_links=True, checked=guard.watch.checked)
    else:
        pipeline = load_pipeline(repo.root)
    own_tree = baseline is None and log_file is None and not trailers  # not a queued checkout
    # The baseline and its params files in one Git call; its objects never change,
    # so reading them now equals reading them when the run is recorded.
    baseline, at_baseline = rec.baseline_and_blobs(
        repo, list(pipeline.params_files), baseline,
        prefetched=prefetch.head() if prefetch is not None and baseline is None else None)
    for arg in overrides:
        if sweeps.is_sweep(arg):
            sweeps.expand([arg])   # a malformed sweep says what is wrong with it first
            raise ExpError(f"'{arg}' is a sweep: it describes several experiments",
                           hint="queue them with 'git exp run --queue -S ...', "
                                "or run them in parallel with -j N")
    parsed = [ov.parse_override(arg) for arg in overrides]
    auto_named = name is None
    name, replaced = _pick_name(repo, name, force_name, reserved,
                                prefetch.names()[0] if prefetch is not None else None)
    limit = repo.config.get_int("exp.maxCommitFileSize", DEFAULT_MAX_FILE)

    with RunLock(repo.git_dir, name):
        # Cached outs must be ignored before sizes are checked: they never enter Git.
        ignored: set[str] = set()
        new_ignores = False
        for stage in pipeline.stages.values():
            for out in stage.outs:
                if out.cache and out.path not in ignored:
                    new_ignores |= ensure_ignored(repo.root, out.path)
                    ignored.add(out.path)
        # The prefetched listing holds while no .gitignore changed since it was taken.
        check_sizes(repo, limit, changed=None if new_ignores or prefetch is None else prefetch.changed())
        # Everything that can fail before a stage starts is done before the
        # -S edit, or undone with it: the log must be writable (a full disk or
        # a read-only .git/exp fails here), and an error after the edit puts
        # the params files back as they were.
        log_dir = os.path.join(repo.exp_dir, "logs")
        os.makedirs(log_dir, exist_ok=True)
        temp_log = log_file or rec.running_log_path(repo, os.getpid())
        # A caller's own log file may already hold its lines (a queued run's setup): append.
        log = open(temp_log, "ab" if log_file else "wb", buffering=0)   # nothing left to flush on close
        edited: dict[str, str] = {}   # params file -> its text before -S
        recorder = _Recorder(events, log)
        if guard is not None:
            from git_exp.pipeline.lock import LOCK_FILE
            guard.start(pipeline, LOCK_FILE)
        try:
            if parsed:
                apply_overrides(repo.root, "params.yaml", parsed, saved=edited)
                pipeline = load_pipeline(repo.root)  # templating may read the new values
            runner = PipelineRun(repo, pipeline, force=force, run_cache=run_cache,
                                 env={"GIT_EXP_NAME": name, "GIT_EXP_BASELINE": baseline},
                                 events=recorder)
            runner.ignored |= ignored   # by path: an out -S templated anew is checked there
        except BaseException:
            _undo_before_start(log, temp_log, log_file, edited)
            raise
        outcome = rec.Outcome(message=message, extra=dict(trailers or {}))
        error: ExpError | None = None
        interrupted = False
        started = time.monotonic()
        previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
        with log:
            summary = RunSummary()
            try:
                summary = runner.run(targets, downstream)
            except StageFailed as exc:
                outcome.status, outcome.exit_code, error = "failed", exc.exit_code or 1, exc
            except KeyboardInterrupt:
                outcome.status, outcome.exit_code, interrupted = "interrupted", 130, True
            except ExpError as exc:
                if not recorder.started:
                    # Nothing ran: no experiment, so no log either, and no -S edit.
                    _undo_before_start(log, temp_log, log_file, edited)
                    raise  # a plain error, nothing to record
                outcome.status, outcome.exit_code, error = "failed", 1, exc
            except BaseException:
                if not recorder.started:
                    _undo_before_start(log, temp_log, log_file, edited)
                raise
            finally:
                signal.signal(signal.SIGTERM, previous)
        outcome.duration = time.monotonic() - started
        ahead, changed = None, None
        if own_tree and recorder.started and outcome.status == "success" and not targets:
            # Keyed before the snapshot: the next plain run, if nothing changes, replays this.
            from git_exp.experiments.noopmemo import answer_ahead
            ahead, changed = answer_ahead(repo)
        if recorder.started:
            # The run may have written big files of its own. The status answer_ahead
            # took just now lists the files Git would take (else Git is asked).
            check_sizes(repo, limit, changed=changed)
        tree = snapshot_tree(repo)
        if auto_named and outcome.status == "success" and not recorder.started:
            # Nothing ran and nothing changed: a second identical experiment
            # would only be noise in `show`. A named run is always recorded.
            same = _same_tree(repo, baseline, tree)
            if same is not None:
                if not log_file:
                    os.unlink(temp_log)
                if guard is not None:
                    guard.remember(same, recorder.skipped)
                return ExperimentResult(same, outcome, summary, read_metrics(repo, pipeline),
                                        duplicate_of=same)
        if ahead is not None:
            ahead.status_soon()   # Git answers it while the commit and the ref are written
        outcome.changed_params = changed_params(repo, pipeline, baseline, at_baseline)
        ref = rec.record(repo, baseline, name, outcome, force=force_name, tree=tree)
        os.replace(temp_log, rec.log_path(repo, ref.sha))
        if ahead is not None:
            ahead.remember(ref, ahead.skipped)
        for old in replaced:
            if old.ref != ref.ref:
                refs.delete(repo.root, old.ref, old.sha)
    result = ExperimentResult(ref, outcome, summary, read_metrics(repo, pipeline), error)
    if recorder.log_error is not None:
        note = (f"its log could not be written to {rec.log_path(repo, ref.sha)}: "
                f"{recorder.log_error.strerror}")
        if result.error is None:
            result.error = ExpError(f"the run was recorded as experiment '{name}', but {note}",
                                    hint="free some space there (or make it writable); "
                                         f"'git exp logs {name}' shows what was kept")
        else:
            result.error = ExpError(f"{result.error.message}\n(and {note})", result.error.hint)
    if interrupted:
        result.error = ExpError(f"interrupted; the run was recorded as experiment '{name}'",
                                hint="'git exp run' runs it again with the params it left in your work tree; "
                                     "'git exp checkout' restores the cached outputs it removed, "
                                     "'git checkout -- PATH' those kept in Git")
    return result
