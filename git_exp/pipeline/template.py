"""`${...}` templating in exp.yaml, with the rules DVC users know.

Variables come from `params.yaml` next to exp.yaml (when it exists), from
the top-level and stage-level `vars` (inline mappings or data files, with an
optional `file.yaml:key1,key2` selection), and inside foreach/matrix stages
from `item` and `key`.

- A value that is exactly `${x}` takes x's own type (list, mapping, number).
- Embedded in a longer string, a value is written as text: booleans as
  `true`/`false`, null as `null`. In `cmd` only, a mapping becomes command
  line options (`--lr 0.1 --epochs 5`; nested keys dotted, `--flag` for true,
  nothing for false or null, `--k a b` for a list) and a list becomes its
  shell-quoted items joined by spaces. Elsewhere a list or mapping cannot be
  embedded in a string.
- `\\${x}` is the escape: it stays as the literal text `${x}` (the one DVC
  uses), so a command can still say `echo \\${HOME}` to its shell.
- Selection: `${a.b}`, `${a.b[0]}` and `${a.b.0}`.

Keys of params.yaml that a stage's templating reads are recorded (see
`Resolver.used`) so the stage can track them as params, as DVC does.
"""
from __future__ import annotations

import copy
import datetime
import difflib
import re
import shlex

from git_exp.errors import ExpError
from git_exp.params import read as read_params
from git_exp.pipeline.paths import normalize
from git_exp.pipeline.yamlsrc import Mark, YDict, YList

# An optional backslash (the escape), then ${ ... } without nested braces.
_TEMPLATE = re.compile(r"(\\)?\$\{([^{}]*)\}")
_HEAD = re.compile(r"([^.\[\]\s]+)")
_STEP = re.compile(r"\.([^.\[\]\s]+)|\[\s*(\d+)\s*\]")
_DATA_EXTS = tuple(read_params.FORMATS)


def kind_of(value) -> str:
    """The user's word for a value's type, for error messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return f"a {type(value).__name__}"


def scalar_text(value) -> str:
    """How a scalar looks once embedded in a string (DVC's spelling)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)


def parse_data_file(text: str, path: str) -> dict:
    """A params-like file's mapping (YAML, JSON or TOML by extension)."""
    return read_params.parse(text, read_params.fmt_of(path), path)


# ------------------------------------------------------------------ context

class Context:
    """The variables a stage can use, and which file each one came from.

    `sources` mirrors `data`: for every mapping a dict with the same keys,
    holding the source file of each non-mapping value, so the keys a stage
    reads can be traced back to params.yaml.
    """

    def __init__(self):
        self.data: dict = {}
        self.sources: dict = {}
        self.files: set[str] = set()

    def child(self) -> "Context":
        """A copy that stage-level vars can extend without touching this one."""
        other = Context()
        other.data = copy.deepcopy(self.data)
        other.sources = copy.deepcopy(self.sources)
        other.files = set(self.files)
        return other

    def merge(self, data: dict, source: str, mark: Mark) -> None:
        _merge(self.data, self.sources, data, source, mark, "")

    def load_vars(self, entries, base_dir: str, read, mark: Mark) -> None:
        """Add a `vars` value: a mapping, or a list of mappings and file names."""
        if entries is None:
            return
        if isinstance(entries, dict):
            self.merge(entries, "vars", mark)
            return
        if not isinstance(entries, list):
            raise ExpError(f"{mark}: 'vars' must be a list of file names and mappings, "
                           f"got {kind_of(entries)}",
                           hint="for example: vars: [config.yaml, {epochs: 5}]")
        for index, entry in enumerate(entries):
            where = entries.item_mark(index) if isinstance(entries, YList) else mark
            if isinstance(entry, dict):
                self.merge(entry, "vars", where)
            elif isinstance(entry, str):
                self._load_file(entry, base_dir, read, where)
            else:
                raise ExpError(f"{where}: each entry of 'vars' must be a file name or a mapping, "
                               f"got {kind_of(entry)}",
                               hint="for example: vars: [config.yaml, 'params.yaml:train', {epochs: 5}]")

    def _load_file(self, entry: str, base_dir: str, read, mark: Mark) -> None:
        name, keys = entry, None
        if ":" in entry and not entry.lower().endswith(_DATA_EXTS):
            name, _, selection = entry.rpartition(":")
            keys = [k.strip() for k in selection.split(",") if k.strip()]
        # Only read, never written, and read through READ (maybe from a commit): no link check.
        path = normalize(name, base_dir, "", "vars file", mark, check_links=False)
        if path in self.files:
            return  # already loaded whole (params.yaml listed again): every key is there
        text = read(path)
        if text is None:
            raise ExpError(f"{mark}: vars file '{path}' does not exist",
                           hint="vars files are relative to the folder of exp.yaml "
                                "(a stage's own vars: to its wdir)")
        data = parse_data_file(text, path)
        if keys is not None:
            picked: dict = {}
            for key in keys:
                value = _lookup(data, key.split("."))
                if value is _MISSING:
                    raise ExpError(f"{mark}: vars file '{path}' has no key '{key}'",
                                   hint=_keys_hint(data))
                _assign(picked, key.split("."), value)
            data = picked
        else:
            self.files.add(path)
        self.merge(data, path, mark)


_MISSING = object()


def _lookup(data, parts):
    for part in parts:
        key = _find_key(data, part) if isinstance(data, dict) else _MISSING
        if key is _MISSING:
            return _MISSING
        data = data[key]
    return data


def _find_key(mapping: dict, part):
    """The key PART names: `${a.1}` and `${a[1]}` also find an integer key 1."""
    for key in (part, str(part)) + ((int(part),) if str(part).isdigit() else ()):
        if key in mapping:
            return key
    return _MISSING


def _assign(target: dict, parts, value) -> None:
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def _merge(dst: dict, dst_src: dict, new: dict, source: str, mark: Mark, prefix: str) -> None:
    for key, value in new.items():
        path = f"{prefix}{key}"
        if key in dst:
            old = dst[key]
            if isinstance(old, dict) and isinstance(value, dict):
                _merge(old, dst_src[key], value, source, mark, path + ".")
                continue
            other = dst_src[key] if isinstance(dst_src[key], str) else "an earlier source"
            raise ExpError(f"{mark}: variable '{path}' from '{source}' is already defined by '{other}'",
                           hint="vars cannot override each other; rename one of them")
        if isinstance(value, dict):
            dst[key], dst_src[key] = {}, {}
            _merge(dst[key], dst_src[key], value, source, mark, path + ".")
        else:
            dst[key] = value
            dst_src[key] = source


def _keys_hint(data) -> str | None:
    if isinstance(data, dict) and data:
        names = ", ".join(str(k) for k in list(data)[:12])
        return f"available keys: {names}{', ...' if len(data) > 12 else ''}"
    return None


def _leaf_sources(node) -> set:
    if isinstance(node, str):
        return {node}
    found: set = set()
    for child in node.values():
        found |= _leaf_sources(child)
    return found


def _used_keys(node, path: str):
    """(source, key) pairs covering what selecting NODE at PATH read."""
    if isinstance(node, str):
        yield node, path
        return
    sources = _leaf_sources(node)
    if len(sources) == 1:
        yield next(iter(sources)), path
    elif sources:
        for key, child in node.items():
            yield from _used_keys(child, f"{path}.{key}")


# ----------------------------------------------------------------- resolver

class Resolver:
    """Expands `${...}` in a stage's values, remembering which variables it read."""

    def __init__(self, context: Context, local: dict | None = None, track: bool = True):
        self.context = context
        self.local = local or {}
        self.track = track
        self.used: list[tuple[str, str]] = []   # (source file, dotted key), in order

    def resolve(self, value, mark: Mark, cmd: bool = False):
        """VALUE with every string expanded; mappings and lists keep their marks.

        CMD: the value is (part of) a stage's `cmd`, where mappings and lists
        may be embedded as command-line text.
        """
        if isinstance(value, str):
            return self.string(value, mark, cmd)
        if isinstance(value, dict):
            out = YDict(getattr(value, "mark", mark))
            for key, item in value.items():
                key_mark = value.key_mark(key) if isinstance(value, YDict) else mark
                value_mark = value.value_mark(key) if isinstance(value, YDict) else mark
                new_key = key
                if isinstance(key, str) and "${" in key:
                    new_key = self.text(key, key_mark)
                    if new_key in out:
                        raise ExpError(f"{key_mark}: key '{key}' becomes '{new_key}', "
                                       "which this mapping already has")
                out[new_key] = self.resolve(item, value_mark, cmd)
                out.key_marks[new_key] = key_mark
                out.value_marks[new_key] = value_mark
            return out
        if isinstance(value, list):
            marks = [value.item_mark(i) if isinstance(value, YList) else mark
                     for i in range(len(value))]
            return YList(getattr(value, "mark", mark),
                         [self.resolve(item, m, cmd) for item, m in zip(value, marks)], marks)
        return value

    def text(self, template: str, mark: Mark, cmd: bool = False) -> str:
        """TEMPLATE expanded and always a string (for mapping keys and names)."""
        value = self.string(template, mark, cmd)
        if isinstance(value, (dict, list)):
            raise ExpError(f"{mark}: '{template}' must be text, but it is {kind_of(value)}")
        return scalar_text(value) if not isinstance(value, str) else value

    def string(self, template: str, mark: Mark, cmd: bool = False):
        if "${" not in template:
            return template
        matches = list(_TEMPLATE.finditer(template))
        if not matches:
            return template
        first = matches[0]
        if len(matches) == 1 and first.span() == (0, len(template)) and not first.group(1):
            value = self.select(first.group(2), mark.at(first.start()), template)
            if cmd and isinstance(value, dict):
                return options_text(value, mark.at(first.start()), first.group(0))
            return _adopt(value, mark.at(first.start()))
        pieces = []
        position = 0
        for match in matches:
            pieces.append(template[position:match.start()])
            position = match.end()
            if match.group(1):  # \${x}: the literal text ${x}
                pieces.append(match.group(0)[1:])
                continue
            where = mark.at(match.start())
            value = self.select(match.group(2), where, template)
            pieces.append(_embed(value, where, match.group(0), cmd))
        pieces.append(template[position:])
        return "".join(pieces)

    def select(self, expression: str, mark: Mark, template: str):
        """The value of one `${EXPRESSION}`, or an error naming it."""
        parts = _parse_expression(expression, mark)
        head = parts[0]
        if head in self.local:
            value, sources = self.local[head], None
        elif head in self.context.data:
            value, sources = self.context.data[head], self.context.sources.get(head)
        else:
            raise ExpError(f"{mark}: unknown variable '{expression.strip()}' in '{template}'",
                           hint=self._unknown_hint(head))
        path = str(head)
        in_list = False  # params are tracked per key, not per list item: stop at a list
        for part in parts[1:]:
            if isinstance(value, list):
                index = part if isinstance(part, int) else (int(part) if part.isdigit() else None)
                if index is None or index >= len(value):
                    raise ExpError(f"{mark}: unknown variable '{expression.strip()}' in '{template}': "
                                   f"'{path}' is a list of {len(value)} items",
                                   hint=f"select an item with {path}[0] .. {path}[{max(len(value) - 1, 0)}]")
                value = value[index]
                in_list = True
                continue
            if isinstance(value, dict):
                key = _find_key(value, part)
                if key is _MISSING:
                    raise ExpError(f"{mark}: unknown variable '{expression.strip()}' in '{template}': "
                                   f"'{path}' has no key '{part}'", hint=_keys_hint(value))
                value = value[key]
                if not in_list:
                    sources = sources.get(key) if isinstance(sources, dict) else sources
                    path = f"{path}.{key}"
                continue
            raise ExpError(f"{mark}: unknown variable '{expression.strip()}' in '{template}': "
                           f"'{path}' is {kind_of(value)}, not a mapping or list")
        if self.track and sources is not None:
            self.used.extend(_used_keys(sources, path))
        return value

    def _unknown_hint(self, name: str) -> str:
        if name in ("item", "key"):
            return ("'item' exists only in foreach and matrix stages, 'key' only when "
                    "foreach goes over a mapping (or in a matrix)")
        names = sorted({*map(str, self.context.data), *self.local})
        close = difflib.get_close_matches(name, names, n=1)
        lead = f"did you mean '{close[0]}'? " if close else ""
        if not names:
            return (lead + "no variables are defined: add them to params.yaml or to 'vars'; "
                    "write \\${...} for a literal ${...}")
        shown = ", ".join(names[:15]) + (", ..." if len(names) > 15 else "")
        return f"{lead}defined variables: {shown}; write \\${{...}} for a literal ${{...}}"


def _parse_expression(expression: str, mark: Mark) -> list:
    """`a.b[0].c` -> ['a', 'b', 0, 'c']."""
    text = expression.strip()
    head = _HEAD.match(text)
    if not head:
        raise ExpError(f"{mark}: cannot read the variable name '${{{expression}}}'",
                       hint="write ${name}, ${name.key} or ${name[0]}")
    parts: list = [head.group(1)]
    position = head.end()
    while position < len(text):
        match = _STEP.match(text, position)
        if not match:
            raise ExpError(f"{mark}: cannot read the variable name '${{{expression}}}'",
                           hint="write ${name}, ${name.key} or ${name[0]}")
        parts.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    return parts


def _adopt(value, mark: Mark):
    """A copy of a substituted list/mapping whose positions all point at the `${...}`."""
    if isinstance(value, dict):
        out = YDict(mark)
        for key, item in value.items():
            out[key] = _adopt(item, mark)
            out.key_marks[key] = out.value_marks[key] = mark
        return out
    if isinstance(value, list):
        return YList(mark, [_adopt(item, mark) for item in value], [mark] * len(value))
    return value


def _embed(value, mark: Mark, expression: str, cmd: bool) -> str:
    if isinstance(value, dict):
        if cmd:
            return options_text(value, mark, expression)
        raise ExpError(f"{mark}: {expression} is a mapping and cannot be part of a string",
                       hint="only 'cmd' expands a mapping (into --key value options); "
                            "select one value, e.g. ${name.key}")
    if isinstance(value, list):
        if cmd:
            return " ".join(shlex.quote(_item_text(item, mark, expression)) for item in value)
        raise ExpError(f"{mark}: {expression} is a list and cannot be part of a string",
                       hint="select one item, e.g. ${name[0]}, or use the whole value alone")
    return scalar_text(value)


def _item_text(value, mark: Mark, expression: str) -> str:
    if isinstance(value, (dict, list)):
        raise ExpError(f"{mark}: {expression} holds {kind_of(value)} inside a list, "
                       "which cannot be written into a command")
    return scalar_text(value)


def options_text(mapping: dict, mark: Mark, expression: str) -> str:
    """A mapping as command-line options: `--lr 0.1 --layers 2 3 --verbose`."""
    words: list[str] = []
    for key, value in _flatten(mapping, ""):
        if value is True:
            words.append(f"--{key}")
        elif value is False or value is None:
            continue
        elif isinstance(value, list):
            if value:
                words.append(f"--{key}")
                words.extend(shlex.quote(_item_text(item, mark, expression)) for item in value)
        else:
            words.extend((f"--{key}", shlex.quote(scalar_text(value))))
    return " ".join(words)


def _flatten(mapping: dict, prefix: str):
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from _flatten(value, name + ".")
        else:
            yield name, value
