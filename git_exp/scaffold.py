"""The core of `git exp init`: a stage's YAML text, merged into exp.yaml.

The stage is written as text, the way a person would write it, and added to
an existing exp.yaml by inserting lines, so the user's comments, key order
and layout stay exactly as they were. Every merge is checked by parsing the
result: if anything but the one stage changed, nothing is written.

`create_example` makes the bundled example project (git_exp/example/) into a
new Git repository.
"""
from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import tempfile
from dataclasses import dataclass, field, replace

import yaml

from git_exp.atomic import write_atomic
from git_exp.errors import ExpError, GitCommandError
from git_exp.gitcmd import git
from git_exp.names import PIPELINE_FILE
# The file whose keys a stage may list bare (`- lr`); any other params file
# is named (`- other.yaml: [lr]`), as in DVC's dvc.yaml.
from git_exp.names import PARAMS_FILE as DEFAULT_PARAMS_FILE


# Entry -> the path a stage uses when the user does not say otherwise.
DEFAULTS: dict[str, str] = {
    "code": "src",
    "data": "data",
    "models": "models",
    "params": "params.yaml",
    "metrics": "metrics.json",
    "plots": "plots",
}


_STAGE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")

EXAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "example")
EXAMPLE_MESSAGE = "Example project"


@dataclass
class StageRequest:
    """What the user asked for; None leaves an entry out of the stage."""

    cmd: str
    name: str = "default"
    code: str | None = DEFAULTS["code"]
    data: str | None = DEFAULTS["data"]
    models: str | None = DEFAULTS["models"]
    params: str | None = DEFAULTS["params"]
    metrics: str | None = DEFAULTS["metrics"]
    plots: str | None = DEFAULTS["plots"]


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
        raise ExpError(f"empty path for the {what}")
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


def _safe_load(text: str, shown: str):
    from git_exp.bounded import load_yaml   # size, nesting and alias limits
    try:
        return load_yaml(text, shown)
    except yaml.MarkedYAMLError as exc:
        raise ExpError(_yaml_message(exc, shown)) from None
    except yaml.YAMLError as exc:
        raise ExpError(f"{shown}: {exc}") from None


def _yaml_message(exc: yaml.MarkedYAMLError, shown: str) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown
    return f"{where}: {exc.problem or exc.context}"


def _scalar(text: str, as_key: bool = False) -> str:
    """TEXT as a YAML scalar: plain when that reads back as the same string."""
    plain = f"- {text}:" if as_key else f"- {text}"
    try:
        back = yaml.safe_load(plain)
    except yaml.YAMLError:
        back = None
    expected = [{text: None}] if as_key else [text]
    if back == expected and "\n" not in text and text == text.strip():
        return text
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(text, ensure_ascii=False)


def stage_content(request: StageRequest, keys: list[str] | None) -> dict:
    """The stage as yaml.safe_load must read it back (used to check a merge)."""
    stage: dict = {"cmd": request.cmd}
    deps = [p for p in (request.code, request.data) if p]
    if deps:
        stage["deps"] = deps
    if request.params:
        if keys is None:
            stage["params"] = [{request.params: None}]
        elif request.params == DEFAULT_PARAMS_FILE:
            stage["params"] = list(keys)
        else:
            stage["params"] = [{request.params: list(keys)}]
    if request.models:
        stage["outs"] = [request.models]
    if request.metrics:
        stage["metrics"] = [{request.metrics: {"cache": False}}]
    if request.plots:
        stage["plots"] = [{request.plots: {"cache": False}}]
    return stage


def render_stage(request: StageRequest, keys: list[str] | None, indent: int = 2) -> str:
    """The stage's lines, its name at INDENT columns, as a person would write them."""
    pad = " " * indent
    inner = " " * (2 * indent)
    lines = [f"{pad}{_scalar(request.name, as_key=True)}:", f"{inner}cmd: {_scalar(request.cmd)}"]
    stage = stage_content(request, keys)

    def entries(section: str) -> None:
        if section not in stage:
            return
        lines.append(f"{inner}{section}:")
        for entry in stage[section]:
            if isinstance(entry, str):
                lines.append(f"{inner}- {_scalar(entry)}")
                continue
            (path, value), = entry.items()
            lines.append(f"{inner}- {_scalar(path, as_key=True)}:")
            if isinstance(value, list):      # a named params file's keys
                lines.extend(f"{inner}  - {_scalar(key)}" for key in value)
            elif isinstance(value, dict):    # metrics/plots options
                lines.extend(f"{inner}    {opt}: {str(v).lower() if isinstance(v, bool) else v}"
                             for opt, v in value.items())

    for section in ("deps", "params", "outs", "metrics", "plots"):
        entries(section)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- exp.yaml


def pipeline_path(root: str) -> str:
    return os.path.join(root, PIPELINE_FILE)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise ExpError(f"{PIPELINE_FILE}: not UTF-8 text ({exc.reason})") from None


def _compose(text: str):
    from git_exp.bounded import compose_yaml   # size, nesting and alias limits
    try:
        return compose_yaml(text, PIPELINE_FILE, yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise ExpError(_yaml_message(exc, PIPELINE_FILE),
                       hint=f"fix {PIPELINE_FILE}, then run init again") from None
    except yaml.YAMLError as exc:
        raise ExpError(f"{PIPELINE_FILE}: {exc}") from None


def _stages_node(root_node):
    """(key node, value node) of the top-level `stages`, or (None, None)."""
    if root_node is None:
        return None, None
    if not isinstance(root_node, yaml.MappingNode):
        mark = root_node.start_mark
        raise ExpError(f"{PIPELINE_FILE}:{mark.line + 1}:{mark.column + 1}: the top level "
                       "must be a mapping with a 'stages' key")
    for key, value in root_node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "stages":
            return key, value
    return None, None


def existing_stages(root: str) -> list[str]:
    """The names of the stages exp.yaml declares now (none when it is missing)."""
    text = _read(pipeline_path(root))
    if text is None:
        return []
    _, value = _stages_node(_compose(text))
    if isinstance(value, yaml.MappingNode):
        return [k.value for k, _ in value.value if isinstance(k, yaml.ScalarNode)]
    return []


def check_stage_free(root: str, name: str, force: bool) -> None:
    """Refuse early when NAME exists and FORCE was not given."""
    check_stage_name(name)
    if not force and name in existing_stages(root):
        raise _exists(name)


def _exists(name: str) -> ExpError:
    return ExpError(f"stage '{name}' already exists in {PIPELINE_FILE}",
                    hint="use -f to replace it, or --name to add the stage under another name")


def _terminate(lines: list[str], end: int) -> None:
    """Give the line before index END its newline, so text can follow it."""
    if end > 0 and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"


def _content_end(lines: list[str], start: int, end: int, indent: int) -> int:
    """END moved up past blank lines and comments at INDENT or less.

    Those belong to what follows (the next stage or top-level key), so a new
    or replacing stage goes above them.
    """
    while end > start:
        line = lines[end - 1]
        stripped = line.lstrip(" ")
        if stripped.strip() and not (stripped.startswith("#") and len(line) - len(stripped) <= indent):
            break
        end -= 1
    return end


def merge_stage(text: str | None, request: StageRequest, keys: list[str] | None,
                force: bool) -> tuple[str, str, str]:
    """exp.yaml's new text with the stage in it: (text, action, inserted block)."""
    if text is None:
        block = render_stage(request, keys)
        return "stages:\n" + block, "created", block
    root_node = _compose(text)
    key_node, value = _stages_node(root_node)
    lines = text.splitlines(keepends=True)

    if key_node is None:
        # No stages yet: a new top-level key after whatever else the file holds.
        block = render_stage(request, keys)
        _terminate(lines, len(lines))
        return "".join(lines) + "stages:\n" + block, "added", block

    if isinstance(value, yaml.ScalarNode) and value.tag.endswith(":null") and value.value == "":
        # `stages:` with nothing under it yet: the stage goes right below it.
        block = render_stage(request, keys)
        at = key_node.start_mark.line + 1
        _terminate(lines, at)
        return "".join(lines[:at]) + block + "".join(lines[at:]), "added", block

    if not isinstance(value, yaml.MappingNode) or value.flow_style:
        mark = value.start_mark
        raise ExpError(f"{PIPELINE_FILE}:{mark.line + 1}:{mark.column + 1}: cannot add a stage to "
                       "'stages' written on one line or not as a mapping",
                       hint="write 'stages:' as a block mapping (one stage name per line), "
                            "or add the stage by hand")

    indent = value.value[0][0].start_mark.column
    block = render_stage(request, keys, indent)
    # The stages block ends at the next top-level key, else at the end of the file.
    later = [k.start_mark.line for k, _ in root_node.value if k.start_mark.line > key_node.start_mark.line]
    block_end = min(later) if later else len(lines)
    names = [k.value for k, _ in value.value]

    if request.name in names:
        if not force:
            raise _exists(request.name)
        i = names.index(request.name)
        start = value.value[i][0].start_mark.line
        nxt = value.value[i + 1][0].start_mark.line if i + 1 < len(names) else block_end
        end = _content_end(lines, start, nxt, indent)
        _terminate(lines, end)
        return "".join(lines[:start]) + block + "".join(lines[end:]), "replaced", block

    end = _content_end(lines, key_node.start_mark.line + 1, block_end, 0)
    _terminate(lines, end)
    return "".join(lines[:end]) + block + "".join(lines[end:]), "added", block


def _params_note(request: StageRequest, keys: list[str] | None) -> list[str]:
    if request.params and keys is None:
        return [f"{request.params} does not exist yet or has no keys to list, so the stage "
                "tracks the whole file; to list its keys instead, run init again with -f once it has them"]
    return []


def plan_stage(root: str, request: StageRequest, force: bool = False) -> Plan:
    """Work out exp.yaml's new text with REQUEST's stage in it; write nothing."""
    check_stage_name(request.name)
    if not request.cmd.strip():
        raise ExpError("the stage needs a command to execute")
    request = replace(request, **{
        entry: clean_path(root, getattr(request, entry), f"{entry} path")
        if getattr(request, entry) else None for entry in DEFAULTS})
    keys = params_keys(root, request.params) if request.params else None
    path = pipeline_path(root)
    before = _read(path)
    after, action, block = merge_stage(before, request, keys, force)
    _verify(before, after, request, keys)
    return Plan(path=path, before=before, after=after, preview="stages:\n" + block,
                action=action, notes=_params_note(request, keys))


def _verify(before: str | None, after: str, request: StageRequest, keys: list[str] | None) -> None:
    """Parse the result: the one stage must be new or replaced, all else equal."""
    old = (_safe_load(before, PIPELINE_FILE) if before is not None else None) or {}
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
    if _read(plan.path) != plan.before:
        raise ExpError(f"{PIPELINE_FILE} changed while init was running; nothing written",
                       hint="run init again")
    write_atomic(plan.path, plan.after)


def add_stage(root: str, request: StageRequest, force: bool = False) -> Plan:
    """Plan and write in one go (the non-interactive path)."""
    plan = plan_stage(root, request, force)
    apply_plan(plan)
    return plan


# ---------------------------------------------------------------- the example


def _copy_example(target: str) -> None:
    for folder, dirs, files in os.walk(EXAMPLE_DIR):
        # A __pycache__ appears when someone ran the scripts in place.
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        rel = os.path.relpath(folder, EXAMPLE_DIR)
        os.makedirs(os.path.join(target, rel), exist_ok=True)
        for name in sorted(files):
            if not name.endswith((".pyc", ".pyo")):
                shutil.copyfile(os.path.join(folder, name), os.path.join(target, rel, name))


_IDENTITY_HINT = """\
tell Git who you are, then run this command again:
  git config --global user.email "you@example.com"
  git config --global user.name "Your Name\""""


def _commit(folder: str) -> None:
    # --force: a global excludes file must not leave part of the example out.
    git(["add", "--all", "--force", "--", "."], cwd=folder)
    try:
        git(["commit", "-q", "-m", EXAMPLE_MESSAGE], cwd=folder)
    except GitCommandError as exc:
        # Git's own wording for a missing user.name/user.email.
        if "tell me who you are" in exc.stderr or "empty ident name" in exc.stderr:
            raise ExpError("cannot commit the example project: Git does not know your name and email",
                           hint=_IDENTITY_HINT) from None
        raise


def create_example(dest: str) -> str:
    """Make DEST a new Git repository holding the example project in one commit.

    Everything happens in a hidden folder beside DEST, renamed into place at
    the end, so a failure (no Git identity, Ctrl-C) leaves nothing behind.
    Returns DEST's absolute path.
    """
    target = os.path.abspath(dest)
    if os.path.lexists(target) and not (os.path.isdir(target) and not os.listdir(target)):
        raise ExpError(f"destination path '{dest}' already exists and is not an empty directory",
                       hint="name a new directory, or an empty one")
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.", dir=parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(work, 0o777 & ~umask)  # mkdtemp makes it private
        _copy_example(work)
        git(["init", "-q"], cwd=work)
        _commit(work)
        if os.path.isdir(target):
            os.rmdir(target)
        os.rename(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target
