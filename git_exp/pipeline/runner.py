"""Running a pipeline's stages in the work tree, skipping what is up to date.

A stage is skipped when its command, the content hash of every dep, and the
values of its tracked params equal exp.lock, and its outs are present with
the recorded hashes. A stage whose fingerprint (cmd, deps, params, out paths)
ran before is restored from the run cache instead of running, unless the
run is forced (-f): then every stage runs, as DVC's -f does, and its result
still goes into the run cache for later runs.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time

from git_exp.data.cache import Cache
from git_exp.data.hashing import HashInfo, hash_path
from git_exp.data.runcache import RunCache
from git_exp.data.state import StateMemo
from git_exp.errors import ExpError
from git_exp.ignore import ensure_ignored
from git_exp.params import read as params_read
from git_exp.pipeline import lock as lockfile
from git_exp.pipeline.graph import stage_order
from git_exp.pipeline.paths import where_text
from git_exp.plainclass import Mutable
from git_exp.procs import guard_group, unguard_group
from git_exp.worktree_writes import WorkTree

TYPE_CHECKING = False   # typing's, without importing typing on run's path (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Any, Callable

    from git_exp.pipeline.records import Output, Pipeline, Stage
    from git_exp.repo import Repository


class Events:
    """What a run reports as it goes; the command decides how to show it."""

    def stage_skipped(self, stage: Stage, reason: str) -> None: ...
    def stage_started(self, stage: Stage, reasons: list[str]) -> None: ...
    def stage_restored(self, stage: Stage, created: str) -> None: ...
    def stage_finished(self, stage: Stage, seconds: float) -> None: ...
    def output(self, data: bytes) -> None: ...


def _at(stage: Stage) -> str:
    """'exp.yaml:3:3: ' where STAGE is defined, for an error about it."""
    return f"{where_text(stage.location)}: " if stage.location else ""


def _guess(word: str, candidates: set[str] | list[str]) -> str:
    import difflib   # only for an error's hint: not on every run's path
    close = difflib.get_close_matches(word, list(candidates), n=1)
    return f"did you mean '{close[0]}'? " if close else ""


def _neighbours(dep: str, path: str) -> list:
    """The names beside a missing DEP (PATH on disk), written as DEP is."""
    folder = os.path.dirname(path)
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return [n if "/" not in dep else dep.rpartition("/")[0] + "/" + n for n in names if n != ".git"]


class StageFailed(ExpError):
    def __init__(self, stage: str, exit_code: int) -> None:
        how = f"was killed by signal {-exit_code}" if exit_code < 0 else f"exited with status {exit_code}"
        # The shell's own codes: its words are above, in the output, easy to miss.
        how += {126: " (the shell could not execute it)", 127: " (the shell did not find the program)"}.get(
            exit_code, "")
        super().__init__(f"stage '{stage}' failed: its command {how}",
                         hint="fix the command and run again; exp.lock keeps the stage's last good run")
        self.stage = stage
        self.exit_code = exit_code


# plainclass records, not dataclasses: `run` imports this module on every call.

class StagePlan(Mutable):
    __slots__ = ("stage", "reasons", "skip")

    def __init__(self, stage: Stage, reasons: list[str], skip: str | None = None) -> None:
        self.stage = stage
        self.reasons = reasons      # why it must run; empty when up to date
        self.skip = skip            # "frozen" when it never runs


class RunSummary(Mutable):
    __slots__ = ("ran", "restored", "skipped")

    def __init__(self, ran: list[str] | None = None, restored: list[str] | None = None,
                 skipped: list[str] | None = None) -> None:
        self.ran = [] if ran is None else ran
        self.restored = [] if restored is None else restored
        self.skipped = [] if skipped is None else skipped


def _fmt(value: object) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


class PipelineRun:
    """One run of (part of) a pipeline in a work tree."""

    def __init__(self, repo: Repository, pipeline: Pipeline, *, force: bool = False,
                 run_cache: bool = True, env: dict[str, str] | None = None,
                 events: Events | None = None, root: str | None = None,
                 params_texts: dict[str, str] | None = None) -> None:
        """PARAMS_TEXTS: repo-relative params file -> text to read instead of the
        file (a --dry preview of -S values, which must not write the file)."""
        from git_exp.data.links import parse_link_types
        self.repo = repo
        self.root = root or repo.root
        self.pipeline = pipeline
        self.force = force
        self.use_run_cache = run_cache
        self.extra_env = env or {}
        self.events = events or Events()
        self.cache = Cache(repo.exp_dir, parse_link_types(repo.config.get("exp.cache.type")))
        self.run_cache = RunCache(repo.exp_dir)
        self.locks = lockfile.read_lock(self.root)
        self._params_cache: dict[str, dict[str, Any]] = {}
        self.params_texts = dict(params_texts or {})
        # Cached outs already found untracked and ignored since the last stage
        # command ran (each check asks Git whether the path is tracked): `run`
        # checks every one just before the first stage, which need not ask again.
        # A command may `git add` anything, so after one runs every out is asked anew.
        self.ignored: set[str] = set()

    # -- inputs --------------------------------------------------------

    def _abs(self, rel: str) -> str:
        return os.path.join(self.root, *rel.split("/"))

    def _flat_params(self, relfile: str) -> dict[str, Any]:
        if relfile not in self._params_cache and relfile in self.params_texts:
            parsed = params_read.parse(self.params_texts[relfile], params_read.fmt_of(relfile), relfile)
            self._params_cache[relfile] = params_read.flatten(parsed)
        if relfile not in self._params_cache:
            path = self._abs(relfile)
            if not os.path.exists(path):
                raise ExpError(f"params file '{relfile}' does not exist",
                               hint="create it, or remove it from the stage's params in exp.yaml")
            self._params_cache[relfile] = params_read.flatten(params_read.load(path, relfile))
        return self._params_cache[relfile]

    def params_of(self, stage: Stage) -> dict[str, dict[str, object]]:
        values: dict[str, dict[str, object]] = {}
        for relfile, keys in stage.params.items():
            flat = self._flat_params(relfile)
            chosen = params_read.select(flat, keys)
            for key in keys or []:
                if not any(k == key or k.startswith(key + ".") for k in chosen):
                    # params.py: a key bound to code is refused with file:line
                    raise params_read.why_missing(self._abs(relfile), relfile, key) or ExpError(
                        f"{_at(stage)}stage '{stage.name}' tracks param '{key}', "
                        f"but {relfile} has no such key",
                        hint=_guess(key, {k.rsplit('.', n)[0] for k in flat for n in range(k.count('.') + 1)})
                        + f"add '{key}' to {relfile}, or remove it from the stage in exp.yaml")
            values[relfile] = chosen
        return values

    def deps_of(self, stage: Stage, memo: StateMemo, allow_missing: bool = False) -> dict[str, HashInfo | None]:
        infos: dict[str, HashInfo | None] = {}
        for dep in stage.deps:
            path = self._abs(dep)
            if not os.path.exists(path):
                if allow_missing:
                    infos[dep] = None
                    continue
                raise ExpError(f"{_at(stage)}stage '{stage.name}' depends on "
                               f"'{dep}', which does not exist",
                               hint=_guess(dep, _neighbours(dep, path))
                               + "create it, or add a stage that has it among its outs")
            infos[dep] = hash_path(path, memo)[0]
        return infos

    def _out_info(self, out: Output, memo: StateMemo) -> HashInfo | None:
        path = self._abs(out.path)
        if not os.path.exists(path):
            return None
        return hash_path(path, memo)[0]

    # -- deciding --------------------------------------------------------

    def reasons(self, stage: Stage, memo: StateMemo, upstream_runs: bool = False) -> list[str]:
        """Why STAGE must run; an empty list means it is up to date."""
        if self.force:
            return ["forced"]
        if stage.always_changed:
            return ["always changed"]
        if upstream_runs:
            return ["an upstream stage runs first"]
        old = self.locks.get(stage.name)
        if old is None:
            return ["never ran"]
        why = []
        if old.cmd != list(stage.cmd):
            why.append("command changed")
        deps = self.deps_of(stage, memo, allow_missing=True)
        for dep in sorted(set(deps) | set(old.deps)):
            if dep not in old.deps:
                why.append(f"dep {dep} added")
            elif dep not in deps:
                why.append(f"dep {dep} removed")
            else:
                info = deps[dep]
                if info is None:
                    why.append(f"dep {dep} missing")
                elif info.hash != old.deps[dep].hash:
                    why.append(f"dep {dep} changed")
        params = self.params_of(stage)
        for relfile in sorted(set(params) | set(old.params)):
            new_values = params.get(relfile, {})
            old_values = old.params.get(relfile, {})
            for key in sorted(set(new_values) | set(old_values)):
                if key not in old_values:
                    why.append(f"param {key} added")
                elif key not in new_values:
                    why.append(f"param {key} removed")
                elif new_values[key] != old_values[key] or type(new_values[key]) is not type(old_values[key]):
                    why.append(f"param {key} {_fmt(old_values[key])} → {_fmt(new_values[key])}")
        for out in stage.outs:
            info = self._out_info(out, memo)
            recorded = old.outs.get(out.path)
            if info is None:
                why.append(f"out {out.path} missing")
            elif recorded is None:
                why.append(f"out {out.path} not in {lockfile.LOCK_FILE}")
            elif info.hash != recorded.hash:
                why.append(f"out {out.path} changed")
        return why

    def plan(self, targets: list[str] | None = None, downstream: bool = False,
             single: bool = False) -> list[StagePlan]:
        plans: list[StagePlan] = []
        will_run: set[str] = set()
        with StateMemo(self.repo.exp_dir) as memo:
            for stage in stage_order(self.pipeline, targets, downstream, single):
                if stage.frozen:
                    plans.append(StagePlan(stage, [], "frozen"))
                    continue
                upstream = self._upstream_runs(stage, will_run)
                why = self.reasons(stage, memo, upstream_runs=upstream)
                if why:
                    will_run.add(stage.name)
                plans.append(StagePlan(stage, why))
        return plans

    def _upstream_runs(self, stage: Stage, will_run: set[str]) -> bool:
        from git_exp.pipeline.graph import build_graph
        graph = getattr(self, "_graph", None)
        if graph is None:
            graph = self._graph = build_graph(self.pipeline)
        return bool(graph.get(stage.name, set()) & will_run)

    # -- running ---------------------------------------------------------

    def run(self, targets: list[str] | None = None, downstream: bool = False,
            single: bool = False) -> RunSummary:
        summary = RunSummary()
        with StateMemo(self.repo.exp_dir) as memo:
            for stage in stage_order(self.pipeline, targets, downstream, single):
                if stage.frozen:
                    self.events.stage_skipped(stage, "frozen")
                    summary.skipped.append(stage.name)
                    continue
                why = self.reasons(stage, memo)
                if not why:
                    self.events.stage_skipped(stage, "up to date")
                    summary.skipped.append(stage.name)
                    continue
                self._run_stage(stage, why, memo, summary)
        return summary

    def _fingerprint(self, stage: Stage, deps: dict[str, HashInfo], params: dict[str, dict[str, object]]) -> str | None:
        if not self.use_run_cache or not stage.deps or stage.always_changed:
            return None
        return RunCache.fingerprint(list(stage.cmd), {p: i.hash for p, i in deps.items()},
                                    params, [o.path for o in stage.outs])

    def _run_stage(self, stage: Stage, why: list[str], memo: StateMemo, summary: RunSummary) -> None:
        # Not allow_missing: a missing dep raised, so every value is a HashInfo.
        deps = {dep: info for dep, info in self.deps_of(stage, memo).items() if info is not None}
        params = self.params_of(stage)
        for out in stage.outs:
            if out.cache and out.path not in self.ignored:
                ensure_ignored(self.root, out.path)
                self.ignored.add(out.path)
        fingerprint = self._fingerprint(stage, deps, params)
        # Forced: run it, do not restore; the fresh result still updates the run cache.
        hit = self.run_cache.lookup(fingerprint) if fingerprint and not self.force else None
        if hit and self._restore(stage, hit, memo):
            outs = {p: HashInfo.from_dict(d) for p, d in hit["outs"].items()}
            self._commit_lock(stage, deps, params, outs)
            self.events.stage_restored(stage, hit.get("created", "earlier"))
            summary.restored.append(stage.name)
            return
        self._move_outs_aside(stage, memo)
        self.events.stage_started(stage, why)
        started = time.monotonic()
        env = self._env(stage)
        cwd = self._abs(stage.wdir) if stage.wdir not in (".", "") else self.root
        self.ignored.clear()
        for command in stage.cmd:
            code = run_command(command, cwd, env, self.events.output)
            if code != 0:
                raise StageFailed(stage.name, code)
        outs = {}
        for out in stage.outs:
            path = self._abs(out.path)
            if not os.path.exists(path):
                raise ExpError(f"stage '{stage.name}' did not create its output '{out.path}'",
                               hint="make the command write it, or remove it from the stage's outs")
            # Every out goes into the cache, metrics and plots too, so the run
            # cache can restore the whole stage; Git still tracks those.
            outs[out.path] = self.cache.save(path, memo)
        self._commit_lock(stage, deps, params, outs)
        if fingerprint:
            self.run_cache.record(fingerprint, outs)
        self.events.stage_finished(stage, time.monotonic() - started)
        summary.ran.append(stage.name)

    def _env(self, stage: Stage) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"GIT_EXP_STAGE": stage.name, "GIT_EXP_ROOT": self.root,
                    "PYTHONUNBUFFERED": "1"})
        env.update(self.extra_env)
        return env

    def _move_outs_aside(self, stage: Stage, memo: StateMemo) -> None:
        """Remove non-persistent outs before a run, after saving them to the cache."""
        for out in stage.outs:
            if out.persist:
                continue
            path = self._abs(out.path)
            if os.path.lexists(path):
                if not os.path.islink(path):
                    self.cache.save(path, memo)
                WorkTree(self.root).remove(out.path, "out")

    def _restore(self, stage: Stage, hit: dict[str, Any], memo: StateMemo) -> bool:
        try:
            outs = {p: HashInfo.from_dict(d) for p, d in hit["outs"].items()}
        except (ExpError, KeyError, TypeError, AttributeError):
            return False
        if set(outs) != {o.path for o in stage.outs}:
            return False
        if any(self.cache.missing(info) for info in outs.values()):
            return False
        tree = WorkTree(self.root, self.cache.root)
        for path, info in outs.items():
            self.cache.checkout(info, tree, path, memo)
        return True

    def _commit_lock(self, stage: Stage, deps: dict[str, HashInfo], params: dict[str, dict[str, object]],
                     outs: dict[str, HashInfo]) -> None:
        self.locks[stage.name] = lockfile.StageLock(list(stage.cmd), deps, params, outs)
        lockfile.write_lock(self.root, self.locks, list(self.pipeline.stages))


def run_command(command: str, cwd: str, env: dict[str, str], sink: Callable[[bytes], object]) -> int:
    """Run COMMAND through the shell in its own process group, streaming output.

    The group dies with us even on SIGKILL (procs.guard_group). On Ctrl-C
    (or SIGTERM turned into KeyboardInterrupt) the whole group is ended -
    SIGINT, then SIGTERM, then SIGKILL - before the interrupt goes on.
    """
    proc = subprocess.Popen(command, shell=True, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    guard_group(proc.pid)
    out = proc.stdout
    assert out is not None   # stdout=PIPE
    try:
        fd = out.fileno()
        while True:
            data = os.read(fd, 65536)
            if not data:
                break
            sink(data)
        return proc.wait()
    except BaseException:
        end_process_group(proc)
        raise
    finally:
        unguard_group()
        out.close()


def end_process_group(proc: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
            # The leader is gone; stragglers in the group still get the next signal.
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
