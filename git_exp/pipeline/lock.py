"""exp.lock: what each stage's last successful run used and produced.

Per stage: the command, every dep (path, hash, size, file count), the tracked
param values (file -> key -> value) and every out. Ordering is stable (stages
in pipeline order, deps and params sorted) so `git diff exp.lock` stays small
and readable. Lock entries are untrusted input (they arrive with other
people's commits): hashes and paths are validated on read.
"""
from __future__ import annotations

import os

from git_exp.bounded import load_yaml, read_file
from git_exp.data.hashing import HashInfo
from git_exp.errors import ExpError
from git_exp.plainclass import Mutable
from git_exp.relpaths import path_problem
from git_exp.worktree_writes import WorkTree
from git_exp.names import LOCK_FILE

SCHEMA = "1"


class StageLock(Mutable):
    """One stage's entry (plainclass.Mutable: `run` imports this module on every call)."""
    __slots__ = ("cmd", "deps", "params", "outs")

    def __init__(self, cmd: list[str], deps: dict[str, HashInfo] | None = None,
                 params: dict[str, dict[str, object]] | None = None,
                 outs: dict[str, HashInfo] | None = None):
        self.cmd = cmd
        self.deps = {} if deps is None else deps
        self.params = {} if params is None else params
        self.outs = {} if outs is None else outs

    def to_dict(self) -> dict:
        entry: dict = {"cmd": self.cmd[0] if len(self.cmd) == 1 else list(self.cmd)}
        if self.deps:
            entry["deps"] = [{"path": p, **self.deps[p].to_dict()} for p in sorted(self.deps)]
        if self.params:
            entry["params"] = {f: {k: self.params[f][k] for k in sorted(self.params[f])}
                               for f in sorted(self.params)}
        if self.outs:
            entry["outs"] = [{"path": p, **info.to_dict()} for p, info in self.outs.items()]
        return entry


def _safe_path(path: object, where: str) -> str:
    problem = path_problem(path)  # the work-tree door's rule (which refuses a path that is no str)
    if problem or not isinstance(path, str):
        raise ExpError(f"{LOCK_FILE}: refusing unsafe path {path!r} in {where} ({problem})",
                       hint="exp.lock may come from someone else's commit; fix or delete the entry")
    return path


# exp.lock is written by run and repro, never by hand: the fix is to get a good one back.
_RESTORE = f"restore it with 'git checkout -- {LOCK_FILE}' or delete it to rerun every stage"


def _infos(items: object, where: str) -> dict[str, HashInfo]:
    result = {}
    if not isinstance(items, list):
        raise ExpError(f"{LOCK_FILE}: '{where}' must be a list", hint=_RESTORE)
    for item in items:
        if not isinstance(item, dict) or "path" not in item:
            raise ExpError(f"{LOCK_FILE}: malformed entry in {where}", hint=_RESTORE)
        path = _safe_path(item["path"], where)
        result[path] = HashInfo.from_dict({k: v for k, v in item.items() if k != "path"})
    return result


def parse_lock(text: str) -> dict[str, StageLock]:
    import yaml
    try:
        data = load_yaml(text, LOCK_FILE) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise ExpError(f"{LOCK_FILE}{where}: not valid YAML",
                       hint=_RESTORE) from None
    if not isinstance(data, dict):
        raise ExpError(f"{LOCK_FILE}: expected a mapping at the top", hint=_RESTORE)
    stages = data.get("stages") or {}
    if not isinstance(stages, dict):
        raise ExpError(f"{LOCK_FILE}: 'stages' must be a mapping", hint=_RESTORE)
    result = {}
    for name, entry in stages.items():
        if not isinstance(entry, dict):
            raise ExpError(f"{LOCK_FILE}: stage '{name}' must be a mapping", hint=_RESTORE)
        cmd = entry.get("cmd", [])
        cmd = [cmd] if isinstance(cmd, str) else list(cmd)
        params = entry.get("params") or {}
        if not isinstance(params, dict):
            raise ExpError(f"{LOCK_FILE}: params of stage '{name}' must be a mapping", hint=_RESTORE)
        result[str(name)] = StageLock(
            cmd=cmd,
            deps=_infos(entry.get("deps") or [], f"stage '{name}' deps"),
            params={_safe_path(f, f"stage '{name}' params"): dict(v or {}) for f, v in params.items()},
            outs=_infos(entry.get("outs") or [], f"stage '{name}' outs"),
        )
    return result


def read_lock(root: str) -> dict[str, StageLock]:
    path = os.path.join(root, LOCK_FILE)
    try:
        raw = read_file(path, LOCK_FILE)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ExpError(f"cannot read {LOCK_FILE}: {exc.strerror}") from None
    return parse_lock(raw.decode("utf-8", "replace"))


def dump_lock(entries: dict[str, StageLock], order: list[str]) -> str:
    import yaml
    ordered = [n for n in order if n in entries] + sorted(n for n in entries if n not in order)
    data = {"schema": SCHEMA, "stages": {n: entries[n].to_dict() for n in ordered}}
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def write_lock(root: str, entries: dict[str, StageLock], order: list[str]) -> None:
    WorkTree(root).write(LOCK_FILE, dump_lock(entries, order))
