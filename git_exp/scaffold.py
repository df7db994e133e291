"""The core of `git exp init`: plan a stage, check it, write exp.yaml.

The stage's paths are checked and made repo-relative, its params keys read,
and its text merged into exp.yaml (scaffold_text.py). Every merge is checked
by parsing the result: if anything but the one stage changed, nothing is
written. The example project (`init --example`) is scaffold_example.py's.
"""
from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field, replace

import yaml

from git_exp.atomic import write_atomic
from git_exp.errors import ExpError
from git_exp.names import PIPELINE_FILE
from git_exp.scaffold_text import (DEFAULTS, StageRequest,
                                   exists_error, existing_stages, merge_stage, pipeline_path,
                                   read_pipeline, render_stage, safe_load, stage_content)

_STAGE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")


@dataclass
class Plan:
    """What `apply_plan` will write: exp.yaml's text before and after."""

    path: str
    before: str | None          # None: exp.yaml does not exist yet
    after: str
    preview: str                # the stage as it will appear, under `stages:`
    action: str                 # "created", "added" or "replaced"
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- the stage


def check_stage_name(name: str) -> None:
    if not _STAGE_NAME.match(name):
        raise ExpError(f"invalid stage name '{name}'",
                       hint="use letters, digits, '_', '-' and '.', starting with a letter, digit or '_'")


def clean_path(root: str, path: str, what: str) -> str:
    """PATH as exp.yaml spells it: relative to the repository root, with '/'."""
    text = path.strip()
    if not text:
        raise ExpError(f"empty path for the {what}", hint="name a file or directory, or leave it out")
    if os.path.isabs(text):
        rel = os.path.relpath(os.path.abspath(text), root)
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            # The root may have been reached through a symlink (/tmp on macOS).
            rel = os.path.relpath(os.path.realpath(text), os.path.realpath(root))
        text = rel.replace(os.sep, "/")
    text = posixpath.normpath(text.replace(os.sep, "/"))
    if text == ".." or text.startswith("../"):
        raise ExpError(f"the {what} '{path}' is outside the repository",
                       hint=f"paths in {PIPELINE_FILE} are relative to the repository root, {root}")
    if text == ".":
        raise ExpError(f"the {what} cannot be the whole repository",
                       hint="name a file or directory inside it")
    return text


def params_keys(root: str, params_file: str) -> list[str] | None:
    """The top-level keys of PARAMS_FILE, or None when there are none to list.

    None when the file does not exist yet, is empty, or has a format whose
    keys git-exp cannot read: then the stage tracks the whole file.
    """
    from git_exp.params import read

    path = os.path.join(root, params_file)
    if not os.path.isfile(path) or os.path.splitext(params_file)[1].lower() not in read.FORMATS:
        return None
    data = read.parse(read.read_text(path, params_file), read.fmt_of(params_file), params_file)
    return [str(key) for key in data] or None


def check_stage_free(root: str, name: str, force: bool) -> None:
    """Refuse early when NAME exists and FORCE was not given."""
    check_stage_name(name)
    if not force and name in existing_stages(root):
        raise exists_error(name)


def _params_note(request: StageRequest, keys: list[str] | None) -> list[str]:
    if request.params and keys is None:
        return [f"{request.params} does not exist yet or has no keys to list, so the stage "
                "tracks the whole file; to list its keys instead, run init again with -f once it has them"]
    return []


def _deps_note(root: str, request: StageRequest) -> list[str]:
    """A dep that is not there yet stops `git exp run` until it is: say so now."""
    return [f"{path} does not exist yet; 'git exp run' needs it as the stage's {entry} path: create it, "
            f"or run init again with -f and --{entry} PATH or --no-{entry}"
            for entry, path in (("code", request.code), ("data", request.data))
            if path and not os.path.lexists(os.path.join(root, path))]


def plan_stage(root: str, request: StageRequest, force: bool = False) -> Plan:
    """Work out exp.yaml's new text with REQUEST's stage in it; write nothing."""
    check_stage_name(request.name)
    if not request.cmd.strip():
        raise ExpError("the stage needs a command to execute")
    cleaned: dict = {entry: clean_path(root, getattr(request, entry), f"{entry} path")
                     if getattr(request, entry) else None for entry in DEFAULTS}
    request = replace(request, **cleaned)
    keys = params_keys(root, request.params) if request.params else None
    path = pipeline_path(root)
    before = read_pipeline(path)
    after, action, block = merge_stage(before, request, keys, force)
    _verify(before, after, request, keys)
    return Plan(path=path, before=before, after=after, preview="stages:\n" + block,
                action=action, notes=_deps_note(root, request) + _params_note(request, keys))


def _verify(before: str | None, after: str, request: StageRequest, keys: list[str] | None) -> None:
    """Parse the result: the one stage must be new or replaced, all else equal."""
    old = (safe_load(before, PIPELINE_FILE) if before is not None else None) or {}
    expected = dict(old)
    stages = dict(old.get("stages") or {})
    stages[request.name] = stage_content(request, keys)
    expected["stages"] = stages
    try:
        got = yaml.safe_load(after)
    except yaml.YAMLError:
        got = None
    if got != expected:
        raise ExpError(f"cannot add the stage to {PIPELINE_FILE} without disturbing its layout",
                       hint="add these lines under 'stages:' by hand:\n"
                            + render_stage(request, keys).rstrip("\n"))


def apply_plan(plan: Plan) -> None:
    """Write PLAN, unless exp.yaml changed since it was made."""
    if read_pipeline(plan.path) != plan.before:
        raise ExpError(f"{PIPELINE_FILE} changed while init was running; nothing written",
                       hint="run init again")
    write_atomic(plan.path, plan.after)


def add_stage(root: str, request: StageRequest, force: bool = False) -> Plan:
    """Plan and write in one go (the non-interactive path)."""
    plan = plan_stage(root, request, force)
    apply_plan(plan)
    return plan
