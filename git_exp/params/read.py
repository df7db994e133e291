"""Reading parameter files (YAML, JSON, TOML, Python) into nested dicts and flat keys.

Every syntax error becomes an ExpError that says `file:line:col: problem`,
never a traceback. Parsers are imported inside the functions that need one:
a JSON-only project never pays for importing YAML.

Flat keys join nested mapping keys with dots: {"model": {"units": 32}} is
{"model.units": 32}. Lists and scalars are leaves. An empty mapping is a leaf
too, with the value {}, so `train: {}` still shows up (and diffs) as a key
instead of silently vanishing. A key that itself contains a dot (or a quote,
'=' or ':') is written in double quotes: {"server": {"http.conf": 1}} is
{'server."http.conf"': 1}, the spelling -S, --where and --sort-by accept
(git_exp.params.keys). Python params files are read by read_python, with
the ast module, never run.
"""
from __future__ import annotations

import os
import re

from git_exp import bounded
from git_exp.errors import ExpError

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from types import ModuleType

    import yaml

FORMATS = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".toml": "toml"}
# Python files hold parameters but are no data format (template vars, plots).
PARAMS_FORMATS = {**FORMATS, ".py": "python"}

# The TOML parsers put the position at the end of the message.
_TOML_POS = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_END = re.compile(r"\s*\(at end of document\)\s*$")


def fmt_of(path: str) -> str:
    """The format of a params file, from its extension: yaml, json, toml or python."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in PARAMS_FORMATS:
        raise ExpError(f"{path}: unsupported params file type '{ext or '(none)'}'",
                       hint="params files must end in .yaml, .yml, .json, .toml or .py")
    return PARAMS_FORMATS[ext]


def parse(text: str, fmt: str, source: str = "<params>") -> dict:
    """The nested dict in TEXT; syntax errors name SOURCE:line:col."""
    if text.startswith("\ufeff"):   # a BOM is no content; json.loads rejects it
        text = text[1:]
    if fmt == "yaml":
        data = _parse_yaml(text, source)
    elif fmt == "json":
        data = _parse_json(text, source)
    elif fmt == "toml":
        data = _parse_toml(text, source)
    elif fmt == "python":
        from git_exp.params import read_python
        return read_python.parse(text, source)
    else:
        raise ExpError(f"unknown params format '{fmt}'", hint="use yaml, json, toml or python")
    if data is None and fmt == "yaml":   # empty file, or only comments
        return {}
    if not isinstance(data, dict):
        raise ExpError(f"{source}: the top level is {_kind(data)}, not a mapping of parameters",
                       hint="a params file holds keys and values, such as 'lr: 0.01'")
    return data


def load(path: str, name: str | None = None) -> dict:
    """Read and parse the params file at PATH; errors call it NAME (say, repo-relative)."""
    return parse(read_text(path, name), fmt_of(path), name or path)


def read_text(path: str, name: str | None = None) -> str:
    """The file's text exactly as stored (CRLF kept), or an ExpError naming NAME (or PATH)."""
    shown = name or path
    try:
        raw = bounded.read_file(path, shown)
    except FileNotFoundError:
        raise ExpError(f"params file {shown} does not exist",
                       hint="create it, or fix the file name in exp.yaml") from None
    except IsADirectoryError:
        raise ExpError(f"params file {shown} is a directory") from None
    except OSError as e:
        raise ExpError(f"cannot read params file {shown}: {e.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise ExpError(f"{shown}:{line}: not UTF-8 text",
                       hint="save the file as UTF-8") from None


def flatten(data: dict, prefix: str = "") -> dict[str, object]:
    """Dot-joined keys to leaf values, in file order; {} stays a leaf."""
    from git_exp.params.keys import quote_part
    flat: dict[str, object] = {}
    for key, value in data.items():
        name = f"{prefix}{quote_part(key_text(key))}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def select(flat: dict[str, object], keys: list[str] | None) -> dict[str, object]:
    """The entries named by KEYS (a key naming a subtree selects its leaves).

    File order is kept. Keys that match nothing are simply absent: the
    caller knows which file and stage to name in the message.
    """
    if keys is None:
        return dict(flat)
    wanted = set(keys)
    prefixes = tuple(k + "." for k in keys)
    return {k: v for k, v in flat.items() if k in wanted or k.startswith(prefixes)}


def why_missing(path: str, name: str, key: str) -> ExpError | None:
    """For a Python params file, the error naming file:line when a non-literal hides KEY."""
    if fmt_of(path) != "python":
        return None
    from git_exp.params import read_python
    from git_exp.params.keys import split_key
    try:
        return read_python.unreadable(read_text(path, name), name, split_key(key))
    except ExpError as e:
        return e


def key_text(key: object) -> str:
    """A mapping key as it appears in a dot path (YAML allows non-string keys)."""
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    return str(key)


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return f"a single value ({type(value).__name__})"


def yaml_loader() -> type[yaml.SafeLoader]:
    """The fastest safe loader available (libyaml's when PyYAML was built with it)."""
    return bounded.yaml_loader()


def yaml_error(e: Exception, source: str, text: str | None = None) -> ExpError:
    """A PyYAML error as `source:line:col: problem`; TEXT, when given, sharpens the hint."""
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    problem = getattr(e, "problem", None) or str(e)
    context = getattr(e, "context", None)
    hint = None
    if context == "expected a single document in the stream":
        problem = "a second YAML document ('---'); a params file holds a single mapping"
        hint = "remove the extra '---' line, or split the documents into separate files"
    elif context and context not in problem:
        problem = f"{problem} ({context})"
    if "'\\t'" in problem or _tab_at(text, mark):
        hint = "YAML indents with spaces, never tabs"
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
    return ExpError(f"{where}: {problem}", hint=hint)


def _tab_at(text: str | None, mark: yaml.Mark | None) -> bool:
    # libyaml's message does not name the tab; the line it points at does
    if text is None or mark is None:
        return False
    lines = text.splitlines()
    return mark.line < len(lines) and "\t" in lines[mark.line][:mark.column + 1]


# Params and metrics files come with other people's experiments: every parse
# goes through git_exp.bounded (size, nesting and YAML alias limits).

def _parse_yaml(text: str, source: str) -> object:
    import yaml
    try:
        return bounded.load_yaml(text, source)
    except yaml.YAMLError as e:
        error = yaml_error(e, source, text)
        error.hint = error.hint or "fix the YAML syntax at that position"
        raise error from None
    except RecursionError:
        raise ExpError(f"{source}: nested too deeply") from None


def _parse_json(text: str, source: str) -> object:
    import json
    try:
        return bounded.load_json(text, source)
    except json.JSONDecodeError as e:
        msg = e.msg[:1].lower() + e.msg[1:]
        raise ExpError(f"{source}:{e.lineno}:{e.colno}: {msg}",
                       hint="fix the JSON syntax at that position") from None
    except RecursionError:
        raise ExpError(f"{source}: nested too deeply") from None


def toml_module() -> ModuleType:
    try:
        import tomllib
    except ImportError:   # Python < 3.11
        import tomli as tomllib
    return tomllib


def _parse_toml(text: str, source: str) -> object:
    tomllib = toml_module()
    try:
        return bounded.load_toml(text, source, tomllib)
    except tomllib.TOMLDecodeError as e:
        raise toml_error(e, text, source) from None
    except RecursionError:
        raise ExpError(f"{source}: nested too deeply") from None


def toml_error(e: ValueError, text: str, source: str) -> ExpError:
    msg = str(e)
    m = _TOML_POS.search(msg)
    if m:
        where = f"{source}:{m.group(1)}:{m.group(2)}"
        msg = msg[:m.start()]
    elif (end := _TOML_END.search(msg)) is not None:
        lines = text.split("\n")
        where = f"{source}:{len(lines)}:{len(lines[-1]) + 1}"
        msg = msg[:end.start()]
    else:
        where = source
    msg = msg[:1].lower() + msg[1:]
    return ExpError(f"{where}: {msg}", hint="fix the TOML syntax at that position")
