"""A stage written as exp.yaml text, and merged into an existing exp.yaml.

The stage is written as text, the way a person would write it, and added to
an existing exp.yaml by inserting lines, so the user's comments, key order
and layout stay exactly as they were. scaffold.py checks the merge by
parsing the result and writes it; this module only makes text.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

import yaml

from git_exp.errors import ExpError
from git_exp.names import PIPELINE_FILE
# The file whose keys a stage may list bare (`- lr`); any other params file
# is named (`- other.yaml: [lr]`), as in DVC's dvc.yaml.
from git_exp.names import PARAMS_FILE as DEFAULT_PARAMS_FILE

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Any


# Entry -> the path a stage uses when the user does not say otherwise.
DEFAULTS: dict[str, str] = {
    "code": "src",
    "data": "data",
    "models": "models",
    "params": "params.yaml",
    "metrics": "metrics.json",
    "plots": "plots",
}


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


# Any: whatever plain values the file holds (bounded.load_yaml); callers check the shape.
def safe_load(text: str, shown: str) -> Any:
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


def read_pipeline(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise ExpError(f"{PIPELINE_FILE}: not UTF-8 text ({exc.reason})") from None


def _compose(text: str) -> yaml.Node | None:
    from git_exp.bounded import compose_yaml   # size, nesting and alias limits
    try:
        return compose_yaml(text, PIPELINE_FILE, yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise ExpError(_yaml_message(exc, PIPELINE_FILE),
                       hint=f"fix {PIPELINE_FILE}, then run init again") from None
    except yaml.YAMLError as exc:
        raise ExpError(f"{PIPELINE_FILE}: {exc}") from None


def _stages_node(root_node: yaml.Node | None) -> tuple[yaml.Node | None, yaml.Node | None]:
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
    text = read_pipeline(pipeline_path(root))
    if text is None:
        return []
    _, value = _stages_node(_compose(text))
    if isinstance(value, yaml.MappingNode):
        return [k.value for k, _ in value.value if isinstance(k, yaml.ScalarNode)]
    return []


def exists_error(name: str) -> ExpError:
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

    if key_node is None or value is None or root_node is None:   # one is None only when all are
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
            raise exists_error(request.name)
        i = names.index(request.name)
        start = value.value[i][0].start_mark.line
        nxt = value.value[i + 1][0].start_mark.line if i + 1 < len(names) else block_end
        end = _content_end(lines, start, nxt, indent)
        _terminate(lines, end)
        return "".join(lines[:start]) + block + "".join(lines[end:]), "replaced", block

    end = _content_end(lines, key_node.start_mark.line + 1, block_end, 0)
    _terminate(lines, end)
    return "".join(lines[:end]) + block + "".join(lines[end:]), "added", block
